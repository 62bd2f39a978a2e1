/// FNV-1a 64-bit: a hash that is the same on every machine and run (Swift's `Hasher` is seeded
/// per process), for sharding and hash splits. Not for security.
public enum StableHash {
    public static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}

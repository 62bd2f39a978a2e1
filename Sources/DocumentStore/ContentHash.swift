import Crypto

extension BSONDocument {
    /// SHA-256 of the document's BSON bytes, hex: equal documents (same fields, order and types)
    /// have equal hashes, so a load can skip what the collection already holds.
    public var contentHash: String {
        withRawBytes { SHA256.hash(data: $0) }.hexString
    }
}

extension Collection where Element == UInt8 {
    /// Two lower-case hex digits per byte.
    var hexString: String {
        String(unsafeUninitializedCapacity: count * 2) { text in
            var index = 0
            for byte in self {
                text[index] = hexDigit(byte >> 4)
                text[index + 1] = hexDigit(byte & 0x0F)
                index += 2
            }
            return index
        }
    }
}

private func hexDigit(_ nibble: UInt8) -> UInt8 {
    nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
}

extension SHA256.Digest {
    public var hexString: String { withUnsafeBytes { $0.hexString } }
}

extension Array where Element == UInt8 {
    /// SHA-256 of the bytes, hex (digests of hash manifests).
    public var sha256Hex: String {
        SHA256.hash(data: self).hexString
    }
}

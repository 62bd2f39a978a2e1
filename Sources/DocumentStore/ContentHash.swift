import Crypto

extension BSONDocument {
    /// SHA-256 of the document's BSON bytes, hex: equal documents (same fields, order and types)
    /// have equal hashes, so a load can skip what the collection already holds.
    public var contentHash: String {
        withRawBytes { SHA256.hash(data: $0) }.hexString
    }
}

extension Sequence where Element == UInt8 {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

extension SHA256.Digest {
    public var hexString: String { Array(self).hexString }
}

extension String {
    /// SHA-256 of the text's UTF-8 bytes, hex (digests of hash manifests).
    public var sha256Hex: String {
        SHA256.hash(data: Array(utf8)).hexString
    }
}

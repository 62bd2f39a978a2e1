extension UnsafeBufferPointer where Element == UInt8 {
    /// Offset of the first byte that does not start a valid UTF-8 sequence; nil if all is valid.
    /// Allocates nothing (`String(validating:)` would build a string to throw away).
    public var firstInvalidUTF8Offset: Int? {
        // ASCII is the common case in FMA cells; only decode from the first non-ASCII byte on.
        guard let firstNonASCII = firstIndex(where: { $0 >= 0x80 }) else { return nil }
        var iterator = UnsafeBufferPointer(rebasing: self[firstNonASCII...]).makeIterator()
        var decoder = Unicode.UTF8.ForwardParser()
        var offset = firstNonASCII
        while true {
            switch decoder.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .error: return offset
            case .emptyInput: return nil
            }
        }
    }
}

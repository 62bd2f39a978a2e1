/// Writes RFC 4180 CSV: a field is quoted only when it must be (delimiter, quote, CR or LF inside,
/// or leading/trailing spaces that readers might trim); quotes are doubled; records end with LF.
public final class CSVWriter {
    private let output: AtomicFileWriter
    private var line: [UInt8] = []
    public private(set) var recordsWritten = 0

    public var path: String { output.path }

    public init(path: String) throws(FileWriteError) {
        output = try AtomicFileWriter(path: path)
    }

    public func writeRecord<Fields: Sequence>(_ fields: Fields) throws(FileWriteError) where Fields.Element == String {
        line.removeAll(keepingCapacity: true)
        var first = true
        for field in fields {
            if !first { line.append(UInt8(ascii: ",")) }
            first = false
            Self.appendField(field, to: &line)
        }
        line.append(UInt8(ascii: "\n"))
        try output.write(line)
        recordsWritten += 1
    }

    /// Writes the record's fields as they were read (bytes, not re-decoded text), so a quarantined
    /// row keeps even its invalid UTF-8 byte for byte, followed by extra fields.
    public func writeRecord(_ record: CSVRecord, appending extra: [String]) throws(FileWriteError) {
        try writeRecord(record, fieldCount: record.count, appending: extra)
    }

    /// Writes the first `fieldCount` fields of the record as read, then `extra`. A long field is
    /// passed on a mebibyte at a time, so a quarantined 200 MiB cell is not copied whole again.
    public func writeRecord(_ record: CSVRecord, fieldCount: Int, appending extra: [String]) throws(FileWriteError) {
        line.removeAll(keepingCapacity: true)
        try record.bytes.withUnsafeBufferPointer { bytes in
            Result { () throws(FileWriteError) in
                for index in 0..<min(fieldCount, record.count) {
                    if index > 0 { line.append(UInt8(ascii: ",")) }
                    try appendFieldInPieces(UnsafeBufferPointer(rebasing: bytes[record.byteRange(index)]))
                }
            }
        }.get()
        for field in extra {
            if !line.isEmpty || record.count > 0 { line.append(UInt8(ascii: ",")) }
            Self.appendField(field, to: &line)
        }
        line.append(UInt8(ascii: "\n"))
        try output.write(line)
        recordsWritten += 1
    }

    /// `appendField`, handing `line` to the output whenever it holds a mebibyte.
    private func appendFieldInPieces(_ field: UnsafeBufferPointer<UInt8>) throws(FileWriteError) {
        let piece = 1 << 20
        guard field.count > piece else { return Self.appendField(field, to: &line) }
        let quote = UInt8(ascii: "\"")
        let needsQuotes = field.contains { $0 == UInt8(ascii: ",") || $0 == quote || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
            || field.first == UInt8(ascii: " ") || field.last == UInt8(ascii: " ")
        if needsQuotes { line.append(quote) }
        var start = 0
        while start < field.count {
            let end = min(field.count, start + piece)
            let part = UnsafeBufferPointer(rebasing: field[start..<end])
            if needsQuotes {
                for byte in part {
                    if byte == quote { line.append(byte) }
                    line.append(byte)
                }
            } else {
                line.append(contentsOf: part)
            }
            start = end
            try output.write(line)
            line.removeAll(keepingCapacity: true)
        }
        if needsQuotes { line.append(quote) }
    }

    public func commit() throws(FileWriteError) {
        try output.commit()
    }

    static func appendField(_ field: String, to line: inout [UInt8]) {
        appendField(field.utf8, to: &line)
    }

    /// Appends one field with the quoting rule above (inlinable: the export calls it per cell).
    @inlinable
    public static func appendField<Bytes: BidirectionalCollection>(_ field: Bytes, to line: inout [UInt8]) where Bytes.Element == UInt8 {
        let needsQuotes = field.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"")
            || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
            || field.first == UInt8(ascii: " ") || field.last == UInt8(ascii: " ")
        guard needsQuotes else {
            line.append(contentsOf: field)
            return
        }
        line.append(UInt8(ascii: "\""))
        for byte in field {
            if byte == UInt8(ascii: "\"") { line.append(byte) }
            line.append(byte)
        }
        line.append(UInt8(ascii: "\""))
    }
}

import CMongoC
#if canImport(Glibc)
import Glibc
#endif

/// The staging codec's writer: a BSON document as one line of MongoDB's relaxed Extended JSON,
/// which `ExtendedJSONParser` (`JSONLinesReader`) reads back to the same BSON, and `jq`, pandas
/// or any JSON reader reads as plain JSON:
/// - integers as plain numbers (read back as the narrowest integer type, as `BSONBuilder` writes
///   them); doubles as Swift's `description`, the shortest text that reads back to the same bits
///   (always with a `.` or an exponent, so it stays a double); NaN and the infinities as
///   `{"$numberDouble":"NaN"}`, `"Infinity"`, `"-Infinity"`;
/// - dates as `{"$date":"2008-11-26T01:48:00Z"}` (milliseconds when there are any), outside years
///   1970–9999 as `{"$date":{"$numberLong":"<ms>"}}`;
/// - strings with `"`, `\` and control bytes escaped, everything else as its UTF-8 (libbson's
///   builders hold valid UTF-8: `BSONBuilder` repairs text, Swift strings are valid);
/// - no spaces.
/// Staged documents hold no other BSON types: a document with one is refused.
public final class JSONLineEncoder {
    private let reader = BSONFieldReader()

    public init() {}

    /// Appends `document`'s line (without a newline) to `output`.
    public func append(_ document: BorrowedBSON, to output: inout [UInt8]) throws(BSONBuilderError) {
        guard reader.start(document) else { throw Self.refusal("", "corrupt BSON") }
        try appendMembers(array: false, to: &output)
    }

    private func appendMembers(array: Bool, to output: inout [UInt8]) throws(BSONBuilderError) {
        output.append(array ? UInt8(ascii: "[") : UInt8(ascii: "{"))
        var first = true
        while reader.next() {
            if !first { output.append(UInt8(ascii: ",")) }
            first = false
            if !array {
                let key = reader.key, length = strlen(key)
                key.withMemoryRebound(to: UInt8.self, capacity: length) {
                    Self.appendString(UnsafeBufferPointer(start: $0, count: length), to: &output)
                }
                output.append(UInt8(ascii: ":"))
            }
            try appendValue(to: &output)
        }
        output.append(array ? UInt8(ascii: "]") : UInt8(ascii: "}"))
    }

    private func appendValue(to output: inout [UInt8]) throws(BSONBuilderError) {
        switch reader.type {
        case .double:
            let value = reader.double
            if value.isFinite {
                output.append(contentsOf: value.description.utf8)
            } else {
                let name = value.isNaN ? "NaN" : value < 0 ? "-Infinity" : "Infinity"
                output.append(contentsOf: "{\"$numberDouble\":\"\(name)\"}".utf8)
            }
        case .string:
            Self.appendString(reader.utf8, to: &output)
        case .document, .array:
            let array = reader.type == .array
            guard reader.enter() else { throw Self.refusal(reader.keyString, "corrupt BSON") }
            try appendMembers(array: array, to: &output)
            reader.leave()
        case .bool:
            output.append(contentsOf: (reader.bool ? "true" : "false").utf8)
        case .null:
            output.append(contentsOf: "null".utf8)
        case .int32:
            Self.appendInteger(Int64(reader.int32), to: &output)
        case .int64:
            Self.appendInteger(reader.int64, to: &output)
        case .dateTime:
            Self.appendDate(milliseconds: reader.dateTime, to: &output)
        case .other:
            throw Self.refusal(reader.keyString, "a BSON type staging does not hold (ObjectId, binary, decimal128, …)")
        }
    }

    /// `text` as a staging line prints a string value, for a writer that prints a line's members
    /// itself (a document of strings, integers and nulls needs no BSON in between).
    public static func appendString(_ text: String, to output: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendString($0, to: &output) }
    }

    /// `value` as a staging line prints an integer.
    public static func appendInteger(_ value: Int64, to output: inout [UInt8]) {
        output.append(contentsOf: String(value).utf8)
    }

    /// `text` as a JSON string: `"` and `\` escaped, bytes below 0x20 as `\n`, `\t`, … or `\u00XX`.
    static func appendString(_ text: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var plainStart = 0
        for index in text.indices {
            let byte = text[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: text[plainStart..<index]))
            plainStart = index + 1
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): output.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): output.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): output.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): output.append(contentsOf: #"\t"#.utf8)
            default:
                let low = byte & 0xF
                output.append(contentsOf: #"\u00"#.utf8)
                output.append(UInt8(ascii: "0") + byte >> 4)  // 0 or 1: control bytes are below 0x20
                output.append(low < 10 ? UInt8(ascii: "0") + low : UInt8(ascii: "a") + low - 10)
            }
        }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: text[plainStart...]))
        output.append(UInt8(ascii: "\""))
    }

    /// Relaxed Extended JSON's date: ISO 8601 in UTC for years 1970–9999, else the milliseconds.
    static func appendDate(milliseconds: Int64, to output: inout [UInt8]) {
        guard milliseconds >= 0, milliseconds < 253_402_300_800_000 else {
            output.append(contentsOf: "{\"$date\":{\"$numberLong\":\"\(milliseconds)\"}}".utf8)
            return
        }
        let days = milliseconds / 86_400_000, inDay = milliseconds % 86_400_000
        // Days since 1970-01-01 to a civil date (the proleptic Gregorian calendar, 400-year eras).
        let shifted = days + 719_468
        let era = shifted / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func digits(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                output.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        output.append(contentsOf: #"{"$date":""#.utf8)
        digits(year, 4)
        output.append(UInt8(ascii: "-"))
        digits(month, 2)
        output.append(UInt8(ascii: "-"))
        digits(day, 2)
        output.append(UInt8(ascii: "T"))
        digits(inDay / 3_600_000, 2)
        output.append(UInt8(ascii: ":"))
        digits(inDay / 60_000 % 60, 2)
        output.append(UInt8(ascii: ":"))
        digits(inDay / 1000 % 60, 2)
        if inDay % 1000 != 0 {
            output.append(UInt8(ascii: "."))
            digits(inDay % 1000, 3)
        }
        output.append(contentsOf: #"Z"}"#.utf8)
    }

    static func refusal(_ key: String, _ what: String) -> BSONBuilderError {
        BSONBuilderError(key: key, message: "the document holds \(what): it cannot be staged as a JSON line")
    }
}

/// Prints BSON documents as JSON Lines (`JSONLineEncoder`, a newline after each), delivered to
/// `sink` in the order the documents were added, in chunks of about `batchBytes`; everything is
/// delivered by `finish()`.
public final class JSONLinePrinter {
    /// Takes one or more complete lines (each ending in "\n").
    public typealias Sink = (UnsafeBufferPointer<UInt8>) throws -> Void

    private let batchBytes: Int
    private let sink: Sink
    /// The lines printed and not yet delivered.
    private var pending: [UInt8] = []
    public private(set) var count = 0

    /// - Parameter batchBytes: the text delivered to `sink` at a time.
    public init(batchBytes: Int = 1 << 19, sink: @escaping Sink) {
        self.batchBytes = max(batchBytes, 1)
        self.sink = sink
    }

    /// Prints the builder's (complete) document.
    public func add(_ builder: BSONBuilder) throws {
        count += 1
        try builder.appendJSONLine(to: &pending)
        pending.append(UInt8(ascii: "\n"))
        if pending.count >= batchBytes { try deliverPending() }
    }

    /// Delivers everything added so far.
    public func finish() throws {
        if !pending.isEmpty { try deliverPending() }
    }

    private func deliverPending() throws {
        defer { pending.removeAll(keepingCapacity: true) }
        try pending.withUnsafeBufferPointer { try sink($0) }
    }
}

extension BSONDocument {
    /// The document as a staging line (`JSONLineEncoder`), without a newline.
    public func jsonLine() throws(BSONBuilderError) -> String {
        var bytes: [UInt8] = []
        try withExtendedLifetime(self) { () throws(BSONBuilderError) in
            try JSONLineEncoder().append(BorrowedBSON(pointer), to: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

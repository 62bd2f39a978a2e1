/// Builds JSON Lines in MongoDB's relaxed Extended JSON, byte by byte, for staging files.
///
/// The output is what libbson's `bson_as_relaxed_extended_json` would write for the same values and
/// what `bson_new_from_json` reads back to the same BSON: integers plain (int32 when they fit,
/// else int64), doubles always with a `.` or an exponent (non-finite ones as `{"$numberDouble":…}`),
/// dates as `{"$date":"2008-11-26T01:44:45Z"}` between 1970 and 9999 and
/// `{"$date":{"$numberLong":"…"}}` otherwise. Text is written from the cell's bytes: invalid
/// UTF-8 becomes U+FFFD (and is reported), control characters are escaped.
public struct JSONLineEncoder: Sendable {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 1 << 16) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// `"key":` as bytes, computed once per schema property.
    public static func encodedKey(_ key: String) -> [UInt8] {
        var encoder = JSONLineEncoder(capacity: key.utf8.count + 4)
        encoder.appendString(key)
        encoder.bytes.append(UInt8(ascii: ":"))
        return encoder.bytes
    }

    @inline(__always) public mutating func append(byte: UInt8) { bytes.append(byte) }

    public mutating func append<Bytes: Sequence>(raw: Bytes) where Bytes.Element == UInt8 {
        bytes.append(contentsOf: raw)
    }

    public mutating func appendNull() { bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C]) }

    public mutating func appendInteger(_ value: Int64) {
        if value >= 0 && value < 10 {
            bytes.append(0x30 + UInt8(value))
            return
        }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes of scratch
        let count = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var index = 32
            repeat {
                index -= 1
                scratch[index] = 0x30 + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                index -= 1
                scratch[index] = UInt8(ascii: "-")
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[index..<32]))
            return 32 - index
        }
        _ = count
    }

    public mutating func appendDouble(_ value: Double) {
        guard value.isFinite else {
            let text = value.isNaN ? "NaN" : value > 0 ? "Infinity" : "-Infinity"
            bytes.append(contentsOf: #"{"$numberDouble":""#.utf8)
            bytes.append(contentsOf: text.utf8)
            bytes.append(contentsOf: #""}"#.utf8)
            return
        }
        // Swift prints the shortest text that reads back to the same double ("168.0", "1e-05").
        let text = value.description
        bytes.append(contentsOf: text.utf8)
        if !text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            bytes.append(contentsOf: ".0".utf8)
        }
    }

    public mutating func appendDate(millisecondsSinceEpoch milliseconds: Int64) {
        // 1970-01-01 ... 9999-12-31T23:59:59.999Z
        guard milliseconds >= 0 && milliseconds <= 253_402_300_799_999 else {
            bytes.append(contentsOf: #"{"$date":{"$numberLong":""#.utf8)
            appendInteger(milliseconds)
            bytes.append(contentsOf: #""}}"#.utf8)
            return
        }
        let days = milliseconds / 86_400_000
        var rest = milliseconds % 86_400_000
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        let hour = rest / 3_600_000; rest %= 3_600_000
        let minute = rest / 60_000; rest %= 60_000
        let second = rest / 1000
        let millisecond = rest % 1000
        bytes.append(contentsOf: #"{"$date":""#.utf8)
        appendDigits(year, count: 4); bytes.append(UInt8(ascii: "-"))
        appendDigits(month, count: 2); bytes.append(UInt8(ascii: "-"))
        appendDigits(day, count: 2); bytes.append(UInt8(ascii: "T"))
        appendDigits(hour, count: 2); bytes.append(UInt8(ascii: ":"))
        appendDigits(minute, count: 2); bytes.append(UInt8(ascii: ":"))
        appendDigits(second, count: 2)
        if millisecond != 0 {
            bytes.append(UInt8(ascii: "."))
            appendDigits(millisecond, count: 3)
        }
        bytes.append(contentsOf: #"Z"}"#.utf8)
    }

    private mutating func appendDigits(_ value: Int64, count: Int) {
        var divisor: Int64 = 1
        for _ in 1..<count { divisor *= 10 }
        var value = value
        while divisor > 0 {
            bytes.append(0x30 + UInt8(value / divisor))
            value %= divisor
            divisor /= 10
        }
    }

    /// Days since 1970-01-01 → proleptic Gregorian (year, month, day).
    static func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    public mutating func appendString(_ text: String) {
        var text = text
        text.withUTF8 { _ = appendString(utf8: $0) }
    }

    /// Appends a JSON string from raw bytes; returns false when invalid UTF-8 had to be replaced.
    @discardableResult
    public mutating func appendString(utf8 input: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.append(UInt8(ascii: "\""))
        var valid = true
        var index = 0
        let count = input.count
        var runStart = 0
        while index < count {
            let byte = input[index]
            if byte >= 0x20 && byte < 0x80 && byte != 0x22 && byte != 0x5C {
                index += 1
                continue
            }
            if index > runStart {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: input[runStart..<index]))
            }
            if byte < 0x80 {
                appendEscaped(byte)
                index += 1
            } else {
                let length = Self.validSequenceLength(input, at: index)
                if length > 0 {
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: input[index..<(index + length)]))
                    index += length
                } else {
                    bytes.append(contentsOf: [0xEF, 0xBF, 0xBD])  // U+FFFD
                    valid = false
                    index += Self.invalidSequenceLength(input, at: index)
                }
            }
            runStart = index
        }
        if count > runStart {
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: input[runStart..<count]))
        }
        bytes.append(UInt8(ascii: "\""))
        return valid
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        switch byte {
        case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
        case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        default:
            let hex = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
        }
    }

    /// Length of the well-formed UTF-8 sequence starting at a non-ASCII byte, or 0.
    @inline(__always)
    static func validSequenceLength(_ input: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        let lead = input[index]
        let count = input.count
        func continuation(_ offset: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            index + offset < count && input[index + offset] >= low && input[index + offset] <= high
        }
        switch lead {
        case 0xC2...0xDF: return continuation(1) ? 2 : 0
        case 0xE0: return continuation(1, 0xA0) && continuation(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return continuation(1) && continuation(2) ? 3 : 0
        case 0xED: return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : 0
        case 0xF0: return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF1...0xF3: return continuation(1) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF4: return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : 0
        default: return 0
        }
    }

    /// How many bytes one U+FFFD replaces (the maximal invalid subpart, as Swift's decoder does).
    static func invalidSequenceLength(_ input: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        let lead = input[index]
        let expected: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: expected = 2
        case 0xE0: expected = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: expected = 3
        case 0xED: expected = 3; high = 0x9F
        case 0xF0: expected = 4; low = 0x90
        case 0xF1...0xF3: expected = 4
        case 0xF4: expected = 4; high = 0x8F
        default: return 1
        }
        var length = 1
        while length < expected, index + length < input.count {
            let byte = input[index + length]
            let (lo, hi) = length == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard byte >= lo && byte <= hi else { break }
            length += 1
        }
        return length
    }

    /// Whether bytes are valid UTF-8 (ASCII fast path).
    public static func isValidUTF8(_ input: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        while index < input.count {
            if input[index] < 0x80 { index += 1; continue }
            let length = validSequenceLength(input, at: index)
            if length == 0 { return false }
            index += length
        }
        return true
    }

    public mutating func append(_ value: FieldValue) {
        switch value {
        case .null: appendNull()
        case .bool(let flag): bytes.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let number): appendInteger(number)
        case .double(let number): appendDouble(number)
        case .string(let text): appendString(text)
        case .dateTime(let milliseconds): appendDate(millisecondsSinceEpoch: milliseconds)
        case .list(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                append(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .dictionary(let entries):
            bytes.append(UInt8(ascii: "{"))
            for (index, entry) in entries.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                appendString(entry.key)
                bytes.append(UInt8(ascii: ":"))
                append(entry.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }
}

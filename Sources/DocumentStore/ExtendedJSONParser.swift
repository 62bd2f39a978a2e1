import CMongoC
#if canImport(Glibc)
import Glibc
#endif

/// Why a line is not a document: the reason, and the 1-based byte column where reading stopped.
public struct ExtendedJSONError: Error, Sendable, CustomStringConvertible {
    public let column: Int
    public let reason: String
    public var description: String { "column \(column): \(reason)" }
}

/// Reads one JSON object of MongoDB Extended JSON (relaxed or canonical) straight into BSON bytes:
/// the staging lines `JSONLineEncoder` writes and the lines libbson's printer writes (the run
/// ledger). It gives the same BSON as libbson's JSON parser (`bson_new_from_json`) for all of
/// that, at a fraction of its cost:
/// - integers as int32 when they fit, else int64 (out of int64's range: an error); numbers with a
///   fraction or an exponent as doubles, read by `strtod` as libbson does (an overflow to
///   infinity is an error, an underflow is not);
/// - `{"$date": "ISO 8601"}` (`yyyy-mm-ddThh:mm[:ss[.fff]]` then `Z` or `±hhmm`),
///   `{"$date": {"$numberLong": "…"}}`, `{"$date": <integer>}`; `{"$numberLong": "…"}`,
///   `{"$numberInt": "…"}`, `{"$numberDouble": "…"}` (a number, `NaN`, `Infinity`,
///   `-Infinity`), `{"$oid": "<24 hex digits>"}`;
/// - strings with every JSON escape (surrogate pairs joined; `\u0000` kept in values).
///
/// Where libbson is lax it is stricter, since no writer of ours produces these: the line must be
/// one object followed by nothing but whitespace (libbson ignores a second object, or takes a
/// top-level array); text must be valid UTF-8 by RFC 3629 (libbson also takes `C0 80`); no bare
/// `NaN`/`Infinity`; integers beyond 64 bits are errors (libbson wraps them around); `$numberLong`
/// and `$numberInt` take only an optional `-` and digits, `$numberDouble` nothing after the
/// number, `$oid` only hex digits; the other Extended JSON types (`$binary`, `$regularExpression`,
/// `$timestamp`, `$numberDecimal`, …) are refused by name; a wrapper takes exactly one key, and
/// its key may not be spelled with escapes (neither printer escapes it). Like libbson it keeps a
/// repeated key (both fields, in order) and nests at most 99 levels.
///
/// Owns the buffer the bytes are built in (`deinit` frees it); reused line after line. Not
/// thread-safe: one parser per reader.
public final class ExtendedJSONParser {
    private var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int

    public init() {
        capacity = 4096
        storage = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }

    /// The BSON bytes of `line`, valid during `body`.
    public func withBSON<T>(of line: UnsafeBufferPointer<UInt8>,
                            _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        let length = try parse(line)
        return try body(UnsafeRawBufferPointer(start: storage, count: length))
    }

    /// The document of `line`, owned by libbson (one copy of the bytes).
    public func document(_ line: UnsafeBufferPointer<UInt8>) throws(ExtendedJSONError) -> BSONDocument {
        let length = try parse(line)
        guard let document = bson_new_from_data(storage, length) else {
            throw ExtendedJSONError(column: 1, reason: "libbson refused the BSON it was handed (out of memory?)")
        }
        return BSONDocument(owning: document)
    }

    /// The BSON size of the document `line` stands for.
    public func bsonSize(of line: UnsafeBufferPointer<UInt8>) throws(ExtendedJSONError) -> Int {
        try parse(line)
    }

    /// Parses `line` into `storage`; returns the document's length in bytes.
    private func parse(_ line: UnsafeBufferPointer<UInt8>) throws(ExtendedJSONError) -> Int {
        guard let base = line.baseAddress, !line.isEmpty else {
            throw ExtendedJSONError(column: 1, reason: "empty line: a staged line holds one JSON object")
        }
        var builder = BSONBytes(storage: storage, capacity: capacity)
        var scanner = Scanner(start: base, end: base + line.count)
        defer {
            storage = builder.storage
            capacity = builder.capacity
        }
        scanner.skipWhitespace()
        guard scanner.peek == UInt8(ascii: "{") else {
            throw scanner.failure(scanner.atEnd ? "empty line: a staged line holds one JSON object"
                                                : "a staged line must be a JSON object (it starts with \(scanner.describeCurrent))")
        }
        try scanner.readObjectBody(into: &builder, depth: 1)
        scanner.skipWhitespace()
        if !scanner.atEnd {
            throw scanner.failure("\(scanner.describeCurrent) after the end of the document")
        }
        guard builder.count <= Int(Int32.max) else {
            throw ExtendedJSONError(column: 1, reason: "the document is over BSON's 2 GiB limit")
        }
        return builder.count
    }
}

/// BSON element types the parser writes.
private enum BSONTypeByte {
    static let double: UInt8 = 0x01, string: UInt8 = 0x02, document: UInt8 = 0x03, array: UInt8 = 0x04
    static let objectID: UInt8 = 0x07, bool: UInt8 = 0x08, dateTime: UInt8 = 0x09, null: UInt8 = 0x0A
    static let int32: UInt8 = 0x10, int64: UInt8 = 0x12
}

/// The growing BSON bytes, little-endian as BSON is. The parser owns the storage; this struct
/// grows it (a struct, so the hot loop pays no exclusivity checks on class properties).
private struct BSONBytes {
    var storage: UnsafeMutablePointer<UInt8>
    var capacity: Int
    var count = 0

    init(storage: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.storage = storage
        self.capacity = capacity
    }

    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    private mutating func grow(_ needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        larger.update(from: storage, count: count)
        storage.deallocate()
        storage = larger
        capacity = newCapacity
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        reserve(1)
        storage[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafePointer<UInt8>, count length: Int) {
        reserve(length)
        if length <= 16 {
            // Most keys and many values: cheaper than a call to memmove.
            for offset in 0..<length { storage[count + offset] = bytes[offset] }
        } else {
            (storage + count).update(from: bytes, count: length)
        }
        count += length
    }

    @inline(__always)
    mutating func appendInt32(_ value: Int32) {
        reserve(4)
        UnsafeMutableRawPointer(storage + count).storeBytes(of: value.littleEndian, as: Int32.self)
        count += 4
    }

    @inline(__always)
    mutating func appendInt64(_ value: Int64) {
        reserve(8)
        UnsafeMutableRawPointer(storage + count).storeBytes(of: value.littleEndian, as: Int64.self)
        count += 8
    }

    mutating func appendDouble(_ value: Double) { appendInt64(Int64(bitPattern: value.bitPattern)) }

    /// Writes the length of the document or string that started at `start` (where 4 bytes were
    /// reserved) and ends here.
    mutating func patchLength(at start: Int, _ length: Int) {
        UnsafeMutableRawPointer(storage + start).storeBytes(of: Int32(truncatingIfNeeded: length).littleEndian, as: Int32.self)
    }

    /// An array index key ("0", "1", …) with its NUL.
    mutating func appendIndexKey(_ index: Int) {
        reserve(21)
        if index < 10 {
            storage[count] = UInt8(ascii: "0") + UInt8(index)
            storage[count + 1] = 0
            count += 2
            return
        }
        var digits = 0, rest = index
        while rest > 0 { digits += 1; rest /= 10 }
        rest = index
        for position in stride(from: count + digits - 1, through: count, by: -1) {
            storage[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        storage[count + digits] = 0
        count += digits + 1
    }
}

/// libbson's JSON reader (jsonsl) holds at most 100 levels, a key or scalar taking one beyond its
/// container's: containers nest at most 99 deep, and one at depth 99 must be empty.
private let deepestLevel = 99

/// The input as it is read, with everything that reads JSON.
private struct Scanner {
    let start: UnsafePointer<UInt8>
    let end: UnsafePointer<UInt8>
    var position: UnsafePointer<UInt8>

    init(start: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>) {
        self.start = start
        self.end = end
        position = start
    }

    var atEnd: Bool { position >= end }
    var peek: UInt8? { position < end ? position.pointee : nil }

    func failure(_ reason: String, at place: UnsafePointer<UInt8>? = nil) -> ExtendedJSONError {
        ExtendedJSONError(column: (place ?? position) - start + 1, reason: reason)
    }

    /// The byte at the current position, for messages.
    var describeCurrent: String {
        guard let byte = peek else { return "the end of the line" }
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while position < end {
            switch position.pointee {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(ExtendedJSONError) {
        skipWhitespace()
        guard peek == byte else { throw failure("expected \(what), found \(describeCurrent)") }
        position += 1
    }

    // MARK: Objects and arrays

    /// The members of an object whose `{` is at the current position, as a BSON document (its
    /// length, elements and terminating NUL).
    mutating func readObjectBody(into out: inout BSONBytes, depth: Int) throws(ExtendedJSONError) {
        if depth > deepestLevel { throw failure("nested deeper than \(deepestLevel) levels") }
        position += 1  // {
        let documentStart = out.count
        out.appendInt32(0)
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            position += 1
        } else {
            if depth + 1 > deepestLevel { throw failure("nested deeper than \(deepestLevel) levels") }
            while true {
                skipWhitespace()
                guard peek == UInt8(ascii: "\"") else {
                    throw failure("expected a key in quotes, found \(describeCurrent)")
                }
                let typeAt = out.count
                out.append(0)
                try readString(into: &out, isKey: true)
                out.append(0)
                try expect(UInt8(ascii: ":"), "':' after the key")
                // The value first: it may move the storage.
                let type = try readValue(into: &out, depth: depth)
                out.storage[typeAt] = type
                skipWhitespace()
                guard let separator = peek else { throw failure("the line ends inside an object") }
                position += 1
                if separator == UInt8(ascii: "}") { break }
                guard separator == UInt8(ascii: ",") else {
                    position -= 1
                    throw failure("expected ',' or '}' after a value, found \(describeCurrent)")
                }
            }
        }
        out.append(0)
        out.patchLength(at: documentStart, out.count - documentStart)
    }

    /// An array whose `[` is at the current position, as a BSON document keyed "0", "1", …
    mutating func readArrayBody(into out: inout BSONBytes, depth: Int) throws(ExtendedJSONError) {
        if depth > deepestLevel { throw failure("nested deeper than \(deepestLevel) levels") }
        position += 1  // [
        let documentStart = out.count
        out.appendInt32(0)
        skipWhitespace()
        if peek == UInt8(ascii: "]") {
            position += 1
        } else {
            if depth + 1 > deepestLevel { throw failure("nested deeper than \(deepestLevel) levels") }
            var index = 0
            while true {
                skipWhitespace()
                let typeAt = out.count
                out.append(0)
                out.appendIndexKey(index)
                index += 1
                // The value first: it may move the storage.
                let type = try readValue(into: &out, depth: depth)
                out.storage[typeAt] = type
                skipWhitespace()
                guard let separator = peek else { throw failure("the line ends inside an array") }
                position += 1
                if separator == UInt8(ascii: "]") { break }
                guard separator == UInt8(ascii: ",") else {
                    position -= 1
                    throw failure("expected ',' or ']' after a value, found \(describeCurrent)")
                }
            }
        }
        out.append(0)
        out.patchLength(at: documentStart, out.count - documentStart)
    }

    /// One value (after its key was written), returning its BSON type.
    mutating func readValue(into out: inout BSONBytes, depth: Int) throws(ExtendedJSONError) -> UInt8 {
        skipWhitespace()
        guard let byte = peek else { throw failure("the line ends where a value was expected") }
        switch byte {
        case UInt8(ascii: "\""):
            let lengthAt = out.count
            out.appendInt32(0)
            try readString(into: &out, isKey: false)
            out.append(0)
            out.patchLength(at: lengthAt, out.count - lengthAt - 4)
            return BSONTypeByte.string
        case UInt8(ascii: "{"):
            if let wrapper = try wrapperKey(&out) {
                return try readWrapper(wrapper, into: &out)
            }
            try readObjectBody(into: &out, depth: depth + 1)
            return BSONTypeByte.document
        case UInt8(ascii: "["):
            try readArrayBody(into: &out, depth: depth + 1)
            return BSONTypeByte.array
        case UInt8(ascii: "t"):
            try readLiteral("true")
            out.append(1)
            return BSONTypeByte.bool
        case UInt8(ascii: "f"):
            try readLiteral("false")
            out.append(0)
            return BSONTypeByte.bool
        case UInt8(ascii: "n"):
            try readLiteral("null")
            return BSONTypeByte.null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            switch try readNumber() {
            case .integer(let value):
                if let narrow = Int32(exactly: value) {
                    out.appendInt32(narrow)
                    return BSONTypeByte.int32
                }
                out.appendInt64(value)
                return BSONTypeByte.int64
            case .double(let value):
                out.appendDouble(value)
                return BSONTypeByte.double
            }
        default:
            throw failure("expected a value, found \(describeCurrent)")
        }
    }

    mutating func readLiteral(_ literal: StaticString) throws(ExtendedJSONError) {
        let length = literal.utf8CodeUnitCount
        guard end - position >= length, memcmp(position, literal.utf8Start, length) == 0 else {
            throw failure("expected a value, found \(describeCurrent)")
        }
        position += length
    }

    // MARK: Numbers

    enum Number { case integer(Int64), double(Double) }

    /// A JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    mutating func readNumber() throws(ExtendedJSONError) -> Number {
        let numberStart = position
        var negative = false
        if position.pointee == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        guard let first = peek, isDigit(first) else { throw failure("a number without digits", at: numberStart) }
        // Magnitude of the integer part, while it fits 64 bits.
        var magnitude: UInt64 = 0
        var overflow = false
        if first == UInt8(ascii: "0") {
            position += 1
            if let next = peek, isDigit(next) { throw failure("a number with a leading zero", at: numberStart) }
        } else {
            while let digit = peek, isDigit(digit) {
                let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
                overflow = overflow || o1 || o2
                magnitude = sum
                position += 1
            }
        }
        var isInteger = true
        if peek == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard let digit = peek, isDigit(digit) else { throw failure("a number with no digit after its '.'", at: numberStart) }
            while let digit = peek, isDigit(digit) { position += 1 }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { position += 1 }
            guard let digit = peek, isDigit(digit) else { throw failure("a number with no digit in its exponent", at: numberStart) }
            while let digit = peek, isDigit(digit) { position += 1 }
        }
        if isInteger {
            guard !overflow, magnitude <= (negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)) else {
                let text = String(decoding: UnsafeBufferPointer(start: numberStart, count: position - numberStart), as: UTF8.self)
                throw failure("the integer \(text) is out of range (64 bits)", at: numberStart)
            }
            return .integer(negative ? Int64(truncatingIfNeeded: 0 &- magnitude) : Int64(magnitude))
        }
        // A JSON number is followed by a delimiter before the line ends (else the object is
        // unclosed), so strtod stops where the grammar did.
        guard position < end else { throw failure("the line ends inside an object") }
        return .double(try decimalToDouble(numberStart, length: position - numberStart))
    }

    /// `strtod` of a checked decimal number (libbson reads doubles with it: same bits); an
    /// overflow to infinity is an error as in libbson.
    func decimalToDouble(_ text: UnsafePointer<UInt8>, length: Int) throws(ExtendedJSONError) -> Double {
        errno = 0
        let value = text.withMemoryRebound(to: CChar.self, capacity: length) { strtod($0, nil) }
        if value.isInfinite && errno == ERANGE {
            let number = String(decoding: UnsafeBufferPointer(start: text, count: length), as: UTF8.self)
            throw failure("the number \(number) is out of range (double)", at: text)
        }
        return value
    }

    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    // MARK: Strings

    /// A string whose `"` is at the current position: its bytes, unescaped, appended to `out`
    /// (without length or NUL). Keys may not hold NUL (BSON keys are C strings).
    mutating func readString(into out: inout BSONBytes, isKey: Bool) throws(ExtendedJSONError) {
        let quote = position
        position += 1
        while true {
            // A run of bytes that need no unescaping, checked as UTF-8 as it goes.
            let runStart = position
            // A local cursor, which the loop keeps in a register (`position` lives in memory).
            var cursor = position
            let limit = end
            while cursor < limit {
                // Eight bytes at a time while none is special (most text is plain ASCII).
                if limit - cursor >= 8, !Self.holdsSpecialByte(UnsafeRawPointer(cursor).loadUnaligned(as: UInt64.self)) {
                    cursor += 8
                    continue
                }
                let byte = cursor.pointee
                if byte >= 0x80 {
                    position = cursor
                    try skipUTF8Sequence()
                    cursor = position
                    continue
                }
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                cursor += 1
            }
            position = cursor
            if position > runStart { out.append(runStart, count: position - runStart) }
            guard let byte = peek else { throw failure("the line ends inside a string", at: quote) }
            if byte == UInt8(ascii: "\"") {
                position += 1
                return
            }
            if byte < 0x20 {
                throw failure("a control character (byte 0x\(String(byte, radix: 16, uppercase: true))) inside a string: JSON needs it escaped")
            }
            try readEscape(into: &out, isKey: isKey)
        }
    }

    /// Whether any of the 8 bytes of `word` is one a string's run stops at: `"`, `\`, a control
    /// byte (below 0x20) or a non-ASCII byte (checked as UTF-8 one sequence at a time).
    @inline(__always)
    static func holdsSpecialByte(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        // A byte of `v` is zero ⟺ its high bit is set in (v − 1…) & ~v & 0x80… (the lowest such
        // byte exactly; enough to know whether there is one).
        func holdsZero(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
        let belowSpace = (word &- ones &* 0x20) & ~word & highs != 0
        return word & highs != 0 || belowSpace || holdsZero(word ^ (ones &* 0x22)) || holdsZero(word ^ (ones &* 0x5C))
    }

    /// One multi-byte UTF-8 sequence (RFC 3629: shortest form, no surrogates, at most U+10FFFF).
    mutating func skipUTF8Sequence() throws(ExtendedJSONError) {
        let lead = position.pointee
        let available = end - position
        func continuation(_ offset: Int) -> Bool { offset < available && position[offset] & 0xC0 == 0x80 }
        let valid: Bool
        let length: Int
        switch lead {
        case 0xC2...0xDF:
            length = 2
            valid = continuation(1)
        case 0xE0...0xEF:
            length = 3
            if available < 3 { valid = false; break }
            let second = position[1]
            let secondOK = lead == 0xE0 ? (0xA0...0xBF).contains(second)
                : lead == 0xED ? (0x80...0x9F).contains(second) : second & 0xC0 == 0x80
            valid = secondOK && continuation(2)
        case 0xF0...0xF4:
            length = 4
            if available < 4 { valid = false; break }
            let second = position[1]
            let secondOK = lead == 0xF0 ? (0x90...0xBF).contains(second)
                : lead == 0xF4 ? (0x80...0x8F).contains(second) : second & 0xC0 == 0x80
            valid = secondOK && continuation(2) && continuation(3)
        default:
            length = 1
            valid = false
        }
        guard valid else { throw failure("invalid UTF-8 in a string") }
        position += length
    }

    /// The escape whose `\` is at the current position (out of line: rare, and it keeps the
    /// string loop small).
    @inline(never)
    mutating func readEscape(into out: inout BSONBytes, isKey: Bool) throws(ExtendedJSONError) {
        let escape = position
        position += 1
        guard let letter = peek else { throw failure("the line ends inside a string", at: escape) }
        position += 1
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(letter)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try readHex4(escape)
            if (0xDC00...0xDFFF).contains(scalar) {
                throw failure("a low surrogate \\u\(String(scalar, radix: 16)) without its high surrogate", at: escape)
            }
            if (0xD800...0xDBFF).contains(scalar) {
                guard end - position >= 2, position[0] == UInt8(ascii: "\\"), position[1] == UInt8(ascii: "u") else {
                    throw failure("a high surrogate \\u\(String(scalar, radix: 16)) without its low surrogate", at: escape)
                }
                position += 2
                let low = try readHex4(escape)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw failure("a high surrogate \\u\(String(scalar, radix: 16)) without its low surrogate", at: escape)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            if scalar == 0 && isKey { throw failure("a key holds \\u0000 (BSON keys cannot hold NUL)", at: escape) }
            appendUTF8(scalar, to: &out)
        default:
            throw failure("an invalid escape '\\\(Character(Unicode.Scalar(letter)))' in a string", at: escape)
        }
    }

    mutating func readHex4(_ escape: UnsafePointer<UInt8>) throws(ExtendedJSONError) -> UInt32 {
        guard end - position >= 4 else { throw failure("a \\u escape with fewer than 4 hex digits", at: escape) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = position.pointee
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            default: throw failure("a \\u escape with a non-hex digit", at: escape)
            }
            value = value << 4 | UInt32(nibble)
            position += 1
        }
        return value
    }

    func appendUTF8(_ scalar: UInt32, to out: inout BSONBytes) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(0xC0 | UInt8(scalar >> 6))
            out.append(0x80 | UInt8(scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(0xE0 | UInt8(scalar >> 12))
            out.append(0x80 | UInt8(scalar >> 6 & 0x3F))
            out.append(0x80 | UInt8(scalar & 0x3F))
        default:
            out.append(0xF0 | UInt8(scalar >> 18))
            out.append(0x80 | UInt8(scalar >> 12 & 0x3F))
            out.append(0x80 | UInt8(scalar >> 6 & 0x3F))
            out.append(0x80 | UInt8(scalar & 0x3F))
        }
    }

    /// A string value read for an Extended JSON wrapper (a date, a number in text): unescaped into
    /// the free space past the end of `out`, followed by a NUL, and not kept (`out.count` is
    /// unchanged). Valid until `out` is next written.
    mutating func readScratchString(_ out: inout BSONBytes) throws(ExtendedJSONError) -> UnsafeBufferPointer<UInt8> {
        skipWhitespace()
        guard peek == UInt8(ascii: "\"") else { throw failure("expected a string, found \(describeCurrent)") }
        let start = out.count
        try readString(into: &out, isKey: false)
        out.append(0)
        let text = UnsafeBufferPointer(start: out.storage + start, count: out.count - start - 1)
        out.count = start
        return text
    }

    // MARK: Extended JSON

    enum Wrapper { case date, numberLong, numberInt, numberDouble, objectID }

    /// Keys libbson reads as an Extended JSON type when they open a sub-document, and the ones
    /// staged data holds (nil: a type this reader refuses).
    static let wrapperKeys: [(key: [UInt8], wrapper: Wrapper?)] = [
        ("$date", .date), ("$numberLong", .numberLong), ("$numberInt", .numberInt),
        ("$numberDouble", .numberDouble), ("$oid", .objectID),
        ("$regularExpression", nil), ("$regex", nil), ("$options", nil), ("$code", nil), ("$scope", nil),
        ("$binary", nil), ("$type", nil), ("$undefined", nil), ("$maxKey", nil), ("$minKey", nil),
        ("$timestamp", nil), ("$numberDecimal", nil), ("$dbPointer", nil), ("$symbol", nil), ("$uuid", nil),
    ].map { (Array($0.0.utf8), $0.1) }

    /// When the object at the current position opens with a key libbson reads as an Extended
    /// JSON type: that type, the position after its `:`. Else nil, the position unchanged.
    /// A type key spelled with escapes (`"\u0024date"`, `"$da\u0074e"`) is refused: libbson reads
    /// it unescaped, and the two must never read one line to different bytes (no writer escapes
    /// a type key).
    mutating func wrapperKey(_ out: inout BSONBytes) throws(ExtendedJSONError) -> Wrapper?? {
        var cursor = position + 1
        while cursor < end, cursor.pointee == 0x20 || cursor.pointee == 0x0A || cursor.pointee == 0x0D || cursor.pointee == 0x09 {
            cursor += 1
        }
        guard end - cursor > 2, cursor[0] == UInt8(ascii: "\""),
              cursor[1] == UInt8(ascii: "$") || cursor[1] == UInt8(ascii: "\\") else { return nil }
        let keyStart = cursor + 1
        var keyEnd = keyStart
        while keyEnd < end, keyEnd.pointee != UInt8(ascii: "\""), keyEnd.pointee != UInt8(ascii: "\\") { keyEnd += 1 }
        if keyEnd < end, keyEnd.pointee == UInt8(ascii: "\\") {
            var probe = self
            probe.position = cursor
            let key = try probe.readScratchString(&out)
            if Self.wrapperKeys.contains(where: { $0.key.elementsEqual(key) }) {
                throw failure("the Extended JSON type key \(String(decoding: key, as: UTF8.self)) spelled with escapes", at: cursor)
            }
            return nil
        }
        guard keyEnd < end, keyEnd.pointee == UInt8(ascii: "\"") else { return nil }
        let key = UnsafeBufferPointer(start: keyStart, count: keyEnd - keyStart)
        guard let known = Self.wrapperKeys.first(where: { $0.key.elementsEqual(key) }) else { return nil }
        position = keyEnd + 1
        return .some(known.wrapper)
    }

    /// The rest of `{"$…": …}` after its key; returns the BSON type written.
    mutating func readWrapper(_ wrapper: Wrapper?, into out: inout BSONBytes) throws(ExtendedJSONError) -> UInt8 {
        let keyAt = position
        guard let wrapper else {
            throw failure("an Extended JSON type staging does not hold (only $date, $numberLong, $numberInt, $numberDouble, $oid)", at: keyAt)
        }
        try expect(UInt8(ascii: ":"), "':' after the key")
        let type: UInt8
        switch wrapper {
        case .date:
            skipWhitespace()
            let valueAt = position
            switch peek {
            case UInt8(ascii: "\"")?:
                let text = try readScratchString(&out)
                guard let milliseconds = ISODate.milliseconds(text) else {
                    throw failure("\"\(String(decoding: text, as: UTF8.self))\" is not a date (yyyy-mm-ddThh:mm[:ss[.fff]] then Z or ±hhmm)", at: valueAt)
                }
                out.appendInt64(milliseconds)
            case UInt8(ascii: "{")?:
                position += 1
                try expect(UInt8(ascii: "\""), "{\"$numberLong\": \"…\"} in a $date")
                position -= 1
                let key = try readScratchString(&out)
                guard key.elementsEqual("$numberLong".utf8) else {
                    throw failure("expected {\"$numberLong\": \"…\"} in a $date", at: valueAt)
                }
                try expect(UInt8(ascii: ":"), "':' after the key")
                let milliseconds = try readQuotedInteger("$numberLong", &out)
                out.appendInt64(milliseconds)
                try expect(UInt8(ascii: "}"), "'}' closing the $numberLong")
            case UInt8(ascii: "-")?, UInt8(ascii: "0")?, UInt8(ascii: "1")?, UInt8(ascii: "2")?, UInt8(ascii: "3")?,
                 UInt8(ascii: "4")?, UInt8(ascii: "5")?, UInt8(ascii: "6")?, UInt8(ascii: "7")?, UInt8(ascii: "8")?,
                 UInt8(ascii: "9")?:
                guard case .integer(let milliseconds) = try readNumber() else {
                    throw failure("a $date in milliseconds must be an integer", at: valueAt)
                }
                out.appendInt64(milliseconds)
            default:
                throw failure("expected a $date as an ISO 8601 text, {\"$numberLong\": \"…\"} or milliseconds, found \(describeCurrent)")
            }
            type = BSONTypeByte.dateTime
        case .numberLong:
            let value = try readQuotedInteger("$numberLong", &out)
            out.appendInt64(value)
            type = BSONTypeByte.int64
        case .numberInt:
            let valueAt = position
            guard let value = Int32(exactly: try readQuotedInteger("$numberInt", &out)) else {
                throw failure("a $numberInt out of int32's range", at: valueAt)
            }
            out.appendInt32(value)
            type = BSONTypeByte.int32
        case .numberDouble:
            skipWhitespace()
            let valueAt = position
            let text = try readScratchString(&out)
            let value: Double
            if text.elementsEqual("NaN".utf8) {
                value = .nan
            } else if text.elementsEqual("Infinity".utf8) {
                value = .infinity
            } else if text.elementsEqual("-Infinity".utf8) {
                value = -.infinity
            } else {
                // The NUL after the text ends the number for the scanner and strtod.
                guard let base = text.baseAddress, !text.isEmpty else {
                    throw failure("\"\" is not a $numberDouble", at: valueAt)
                }
                var number = Scanner(start: base, end: base + text.count + 1)
                guard case .double(let parsed)? = try? number.readNumberAsDouble(), number.position == base + text.count else {
                    throw failure("\"\(String(decoding: text, as: UTF8.self))\" is not a $numberDouble", at: valueAt)
                }
                value = parsed
            }
            out.appendDouble(value)
            type = BSONTypeByte.double
        case .objectID:
            skipWhitespace()
            let valueAt = position
            let text = try readScratchString(&out)
            guard text.count == 24, let bytes = Self.hexBytes(text) else {
                throw failure("an $oid must be 24 hex digits", at: valueAt)
            }
            for byte in bytes { out.append(byte) }
            type = BSONTypeByte.objectID
        }
        try expect(UInt8(ascii: "}"), "'}' closing the Extended JSON value (it takes one key)")
        return type
    }

    /// A number (any JSON number) as a double, as `$numberDouble` spells it.
    mutating func readNumberAsDouble() throws(ExtendedJSONError) -> Number {
        let numberStart = position
        switch try readNumber() {
        case .double(let value): return .double(value)
        case .integer: return .double(try decimalToDouble(numberStart, length: position - numberStart))
        }
    }

    /// `"-?[0-9]+"`, within int64, as `$numberLong` and `$numberInt` spell integers.
    mutating func readQuotedInteger(_ name: String, _ out: inout BSONBytes) throws(ExtendedJSONError) -> Int64 {
        skipWhitespace()
        let valueAt = position
        let text = try readScratchString(&out)
        var digits = text[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        var magnitude: UInt64 = 0
        var valid = !digits.isEmpty
        for digit in digits {
            guard isDigit(digit) else { valid = false; break }
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
            if o1 || o2 { valid = false; break }
            magnitude = sum
        }
        let limit = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
        guard valid, magnitude <= limit else {
            throw failure("\"\(String(decoding: text, as: UTF8.self))\" is not a \(name) (an optional '-' and digits, within 64 bits)", at: valueAt)
        }
        return negative ? Int64(truncatingIfNeeded: 0 &- magnitude) : Int64(magnitude)
    }

    static func hexBytes(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 2)
        for index in stride(from: 0, to: text.count, by: 2) {
            guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Extended JSON's ISO 8601 dates as libbson reads them: `yyyy-mm-ddThh:mm`, optional `:ss`
/// (00–60) and `.f`, `.ff` or `.fff`, then `Z` or `±hhmm`. Days 1–31 in any month and second 60
/// run on into the next day or minute (as `timegm` normalises them), like libbson.
enum ISODate {
    static func milliseconds(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        var index = 0
        func number(_ digits: Int, _ range: ClosedRange<Int64>) -> Int64? {
            guard index + digits <= text.count else { return nil }
            var value: Int64 = 0
            for offset in 0..<digits {
                let digit = text[index + offset] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                value = value * 10 + Int64(digit)
            }
            index += digits
            return range.contains(value) ? value : nil
        }
        func take(_ byte: UInt8) -> Bool {
            guard index < text.count, text[index] == byte else { return false }
            index += 1
            return true
        }
        guard let year = number(4, 0...9999), take(UInt8(ascii: "-")), let month = number(2, 1...12), take(UInt8(ascii: "-")),
              let day = number(2, 1...31), take(UInt8(ascii: "T")), let hour = number(2, 0...23), take(UInt8(ascii: ":")),
              let minute = number(2, 0...59) else { return nil }
        var second: Int64 = 0, millisecond: Int64 = 0
        if take(UInt8(ascii: ":")) {
            guard let value = number(2, 0...60) else { return nil }
            second = value
            if take(UInt8(ascii: ".")) {
                var digits = 0
                while digits < 3, index < text.count, text[index] &- UInt8(ascii: "0") < 10 {
                    millisecond = millisecond * 10 + Int64(text[index] - UInt8(ascii: "0"))
                    digits += 1
                    index += 1
                }
                guard digits > 0 else { return nil }
                for _ in digits..<3 { millisecond *= 10 }
            }
        }
        var offsetSeconds: Int64 = 0
        if take(UInt8(ascii: "Z")) {
        } else if index < text.count, text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-") {
            let sign: Int64 = text[index] == UInt8(ascii: "+") ? 1 : -1
            index += 1
            guard let offsetHours = number(2, 0...23), let offsetMinutes = number(2, 0...59) else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        } else {
            return nil
        }
        guard index == text.count else { return nil }
        let days = daysSinceEpoch(year: year, month: month) + day - 1
        let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second - offsetSeconds
        return seconds * 1000 + millisecond
    }

    /// Days from 1970-01-01 to the first of `month` in `year` (proleptic Gregorian; the inverse of
    /// `CivilDate.from`), counting 400-year eras from 0000-03-01 so leap days fall at a year's end.
    static func daysSinceEpoch(year: Int64, month: Int64) -> Int64 {
        let marchYear = month <= 2 ? year - 1 : year
        let era = (marchYear >= 0 ? marchYear : marchYear - 399) / 400
        let yearOfEra = marchYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

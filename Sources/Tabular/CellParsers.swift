/// Typed parsers for single CSV cells: integers, doubles, booleans, date-times and durations.
///
/// Pure functions over UTF-8 bytes: no Foundation, no DateFormatter, no locale. Every failure is a
/// `CellParseError` whose `reason` is a full sentence quoting the cell, written for the quarantine
/// file. Policies shared by all parsers:
/// - leading and trailing spaces and tabs are ignored (`" 42 "` is 42);
/// - an empty cell is an error: whether empty means null is the schema's decision, taken before a
///   parser is called;
/// - cells are quoted in reasons with control characters escaped and cut at 60 characters, so a
///   10 MB cell does not end up in the quarantine file.
public enum CellParsers {

    // MARK: Integers

    /// A 64-bit integer.
    ///
    /// Accepts an optional `+` or `-` sign and decimal digits (leading zeros allowed: `007` is 7).
    /// Also accepts an integral value written as a decimal with a zero fraction (`2.0`, `-3.00`),
    /// because pandas writes integer columns that contain missing values as floats, and thousands
    /// separators as spreadsheets write them (`1,234`; `withoutThousandsSeparators`). Rejects a
    /// non-zero fraction (`1.5`), exponents (`1e3`), `_` separators, hex and anything out of range.
    public static func integer(_ cell: String) throws(CellParseError) -> Int64 {
        try withBytes(cell) { bytes throws(CellParseError) in try integer(utf8: bytes) }
    }

    public static func integer(utf8 cell: UnsafeBufferPointer<UInt8>) throws(CellParseError) -> Int64 {
        var scanner = CellScanner(cell)
        guard !scanner.isAtEnd else {
            throw CellParseError(.invalidInteger, "expected an integer, got an empty cell")
        }
        var isNegative = false
        if let sign = scanner.peek, sign == plusSign || sign == minusSign {
            isNegative = sign == minusSign
            scanner.advance()
        }
        let digitsStart = scanner.position
        scanner.skipDigits()
        let digitsEnd = scanner.position
        guard digitsEnd > digitsStart else {
            throw CellParseError(.invalidInteger,
                                 "expected an integer like 42 or -7, got \(quoted(cell))")
        }
        if scanner.peek == comma, let plain = withoutThousandsSeparators(cell) {
            return try plain.withUnsafeBufferPointer { (plain) throws(CellParseError) in try integer(utf8: plain) }
        }
        if scanner.peek == dot {
            scanner.advance()
            let fractionStart = scanner.position
            scanner.skipDigits()
            let fraction = scanner.bytes[fractionStart..<scanner.position]
            guard scanner.isAtEnd, !fraction.isEmpty else {
                throw CellParseError(.invalidInteger,
                                     "expected an integer like 42 or -7, got \(quoted(cell))")
            }
            guard fraction.allSatisfy({ $0 == zeroDigit }) else {
                throw CellParseError(.invalidInteger,
                                     "expected an integer, got \(quoted(cell)) which has a fractional part")
            }
        }
        guard scanner.isAtEnd else {
            throw CellParseError(.invalidInteger,
                                 "expected an integer like 42 or -7, got \(quoted(cell))")
        }
        // Accumulate negatively so that Int64.min is representable.
        var value: Int64 = 0
        for byte in scanner.bytes[digitsStart..<digitsEnd] {
            let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowB) = shifted.subtractingReportingOverflow(Int64(byte &- zeroDigit))
            if overflowA || overflowB { throw integerOutOfRange(cell) }
            value = next
        }
        if isNegative { return value }
        guard value != .min else { throw integerOutOfRange(cell) }
        return -value
    }

    /// The cell without its thousands separators when it is a number written with them as
    /// spreadsheets do: an optional sign, one to three digits, then groups of `,` and exactly
    /// three digits, then an optional fraction (`1,234`, `-12,345,678.5`). nil for anything else,
    /// so `1,23` or `1,2345` stay errors (a list or a decimal comma, not a thousands separator).
    static func withoutThousandsSeparators(_ cell: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var scanner = CellScanner(cell)
        var plain: [UInt8] = []
        if let sign = scanner.peek, sign == plusSign || sign == minusSign {
            plain.append(sign)
            scanner.advance()
        }
        var leading = 0
        while let byte = scanner.peek, isDigit(byte) {
            plain.append(byte)
            leading += 1
            scanner.advance()
        }
        guard (1...3).contains(leading), scanner.peek == comma else { return nil }
        while scanner.consume(comma) {
            for _ in 0..<3 {
                guard let byte = scanner.peek, isDigit(byte) else { return nil }
                plain.append(byte)
                scanner.advance()
            }
        }
        if let byte = scanner.peek, isDigit(byte) { return nil }
        if scanner.consume(dot) {
            plain.append(dot)
            while let byte = scanner.peek, isDigit(byte) {
                plain.append(byte)
                scanner.advance()
            }
        }
        return scanner.isAtEnd ? plain : nil
    }

    private static func integerOutOfRange(_ cell: UnsafeBufferPointer<UInt8>) -> CellParseError {
        CellParseError(.integerOutOfRange,
                       "integer \(quoted(cell)) is outside the 64-bit range "
                       + "-9223372036854775808...9223372036854775807")
    }

    // MARK: Doubles

    /// A finite 64-bit floating-point number.
    ///
    /// Accepts decimal notation with optional sign, fraction and exponent (`3`, `-0.5`, `.5`, `5.`,
    /// `1.2e-3`). Rejects `nan`, `inf`, `infinity` (any case) and values too large to be finite
    /// (`1e400`): pandas writes a missing float as an empty cell, so non-finite text means a
    /// broken source, and NaN would silently poison downstream statistics. Hex floats are rejected.
    public static func double(_ cell: String) throws(CellParseError) -> Double {
        try withBytes(cell) { bytes throws(CellParseError) in try double(utf8: bytes) }
    }

    public static func double(utf8 cell: UnsafeBufferPointer<UInt8>) throws(CellParseError) -> Double {
        var scanner = CellScanner(cell)
        guard !scanner.isAtEnd else {
            throw CellParseError(.invalidDouble, "expected a number, got an empty cell")
        }
        let start = scanner.position
        guard scanner.skipDecimalNumber(allowSign: true, allowExponent: true), scanner.isAtEnd else {
            if let plain = withoutThousandsSeparators(cell) {
                return try plain.withUnsafeBufferPointer { (plain) throws(CellParseError) in try double(utf8: plain) }
            }
            if isNonFiniteName(scanner.bytes[scanner.start..<scanner.end]) {
                throw CellParseError(.nonFiniteDouble,
                                     "expected a finite number, got \(quoted(cell)): "
                                     + "NaN and infinity are not accepted")
            }
            throw CellParseError(.invalidDouble,
                                 "expected a number like 3.14, -2 or 1.5e-3, got \(quoted(cell))")
        }
        let tokenBytes = UnsafeBufferPointer(rebasing: scanner.bytes[start..<scanner.position])
        let token = String(decoding: tokenBytes, as: UTF8.self)
        guard let value = Double(token) else {
            throw CellParseError(.invalidDouble,
                                 "expected a number like 3.14, -2 or 1.5e-3, got \(quoted(cell))")
        }
        guard value.isFinite else {
            throw CellParseError(.nonFiniteDouble,
                                 "number \(quoted(cell)) is too large for a 64-bit floating-point value")
        }
        return value
    }

    private static func isNonFiniteName(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        var body = bytes[...]
        if let first = body.first, first == plusSign || first == minusSign { body = body.dropFirst() }
        let lowered = asciiLowercased(body)
        return lowered.elementsEqual("nan".utf8) || lowered.elementsEqual("inf".utf8)
            || lowered.elementsEqual("infinity".utf8)
    }

    // MARK: Booleans

    /// A boolean: `1`/`0`, `true`/`false` or `yes`/`no` in any case (`True`/`False` as Python
    /// writes them, `TRUE`/`FALSE` as spreadsheets do). FMA's `Radio-Safe`-style labels are not
    /// booleans and are rejected.
    public static func boolean(_ cell: String) throws(CellParseError) -> Bool {
        try withBytes(cell) { bytes throws(CellParseError) in try boolean(utf8: bytes) }
    }

    public static func boolean(utf8 cell: UnsafeBufferPointer<UInt8>) throws(CellParseError) -> Bool {
        let scanner = CellScanner(cell)
        let lowered = asciiLowercased(scanner.bytes[scanner.start..<scanner.end])
        if lowered.elementsEqual("1".utf8) || lowered.elementsEqual("true".utf8) || lowered.elementsEqual("yes".utf8) { return true }
        if lowered.elementsEqual("0".utf8) || lowered.elementsEqual("false".utf8) || lowered.elementsEqual("no".utf8) { return false }
        throw CellParseError(.invalidBoolean, "expected a boolean (1, 0, true, false, yes or no), got \(quoted(cell))")
    }

    // MARK: Date-times

    /// A UTC instant in milliseconds since the Unix epoch, from any of:
    /// - `MM/DD/YYYY hh:mm:ss AM` (12-hour clock: `12 AM` is 00, `12 PM` is 12), `MM/DD/YYYY`,
    ///   `MM/DD/YYYY HH:mm:ss` (24-hour when there is no AM/PM); month, day and hour may have one
    ///   digit (`1/01/2008`, `1/22/2011 9:04:27 AM`) as in the FMA files; seconds are optional;
    /// - `YYYY-MM-DD`, `YYYY-MM-DD HH:mm[:ss]`, ISO 8601 `YYYY-MM-DDTHH:mm[:ss][.fff…]` with an
    ///   optional `Z` or offset `±HH:MM`, `±HHMM`, `±HH` (fractions beyond milliseconds are truncated);
    /// - `YYYY` alone, meaning January 1st of that year at 00:00 UTC;
    /// - the slash layouts with a two-digit year, as spreadsheets write them (`1/01/08`,
    ///   `1/22/11 9:04 AM`): 00–68 are 2000–2068, 69–99 are 1969–1999 (the pivot of `%y`).
    /// Times without an offset are taken as UTC: the FMA files do not record their time zone.
    /// Impossible dates (month 13, February 30, hour 24, second 60) are errors of kind
    /// `.impossibleDateTime`; MySQL's zero date `0000-00-00` has kind `.zeroDate`, so a schema
    /// can choose to read it as null.
    public static func dateTimeMilliseconds(_ cell: String) throws(CellParseError) -> Int64 {
        try withBytes(cell) { bytes throws(CellParseError) in try dateTimeMilliseconds(utf8: bytes) }
    }

    public static func dateTimeMilliseconds(
        utf8 cell: UnsafeBufferPointer<UInt8>
    ) throws(CellParseError) -> Int64 {
        var scanner = CellScanner(cell)
        guard !scanner.isAtEnd else {
            throw CellParseError(.invalidDateTime, "expected a date, got an empty cell")
        }
        let length = scanner.end - scanner.start
        let fields: DateTimeFields
        if length == 4, scanner.bytes[scanner.start..<scanner.end].allSatisfy(isDigit) {
            fields = DateTimeFields(year: scanner.readNumber(digits: 4)!, month: 1, day: 1,
                                    layout: "YYYY")
        } else if scanner.bytes[scanner.start..<scanner.end].contains(slash) {
            fields = try parseSlashDate(&scanner, cell: cell)
        } else if length >= 5, scanner.bytes[scanner.start..<(scanner.start + 4)].allSatisfy(isDigit),
                  scanner.bytes[scanner.start + 4] == minusSign {
            fields = try parseDashDate(&scanner, cell: cell)
        } else {
            throw CellParseError(.invalidDateTime,
                                 "expected a date like MM/DD/YYYY hh:mm:ss AM, YYYY-MM-DD hh:mm:ss, "
                                 + "YYYY-MM-DDThh:mm:ssZ or YYYY, got \(quoted(cell))")
        }
        return try fields.millisecondsSinceEpoch(cell: cell)
    }

    private static let slashLayoutHint = "MM/DD/YYYY, MM/DD/YYYY hh:mm:ss AM, MM/DD/YYYY HH:mm:ss or MM/DD/YY"
    private static let dashLayoutHint =
        "YYYY-MM-DD, YYYY-MM-DD HH:mm:ss or YYYY-MM-DDTHH:mm:ss[.sss][Z|±HH:MM]"

    private static func parseSlashDate(
        _ scanner: inout CellScanner, cell: UnsafeBufferPointer<UInt8>
    ) throws(CellParseError) -> DateTimeFields {
        // Built only on failure: quoting the cell allocates.
        func mismatch() -> CellParseError {
            CellParseError(.invalidDateTime, "expected a date like \(slashLayoutHint), got \(quoted(cell))")
        }
        let yearStart: Int
        guard let month = scanner.readNumber(minDigits: 1, maxDigits: 2), scanner.consume(slash),
              let day = scanner.readNumber(minDigits: 1, maxDigits: 2), scanner.consume(slash)
        else { throw mismatch() }
        yearStart = scanner.position
        guard let written = scanner.readNumber(minDigits: 2, maxDigits: 4), scanner.position - yearStart != 3 else {
            throw mismatch()
        }
        // Spreadsheets write two-digit years (`1/01/08`): the pivot of C's and Python's `%y`.
        let twoDigitYear = scanner.position - yearStart == 2
        let year = twoDigitYear ? (written <= 68 ? 2000 + written : 1900 + written) : written
        let yearLayout = twoDigitYear ? "YY" : "YYYY"
        var fields = DateTimeFields(year: year, month: month, day: day, layout: "MM/DD/\(yearLayout)")
        if scanner.isAtEnd { return fields }
        guard scanner.skipSpaces() > 0,
              let hour = scanner.readNumber(minDigits: 1, maxDigits: 2), scanner.consume(colon),
              let minute = scanner.readNumber(digits: 2)
        else { throw mismatch() }
        fields.hour = hour
        fields.minute = minute
        if scanner.consume(colon) {
            guard let second = scanner.readNumber(digits: 2) else { throw mismatch() }
            fields.second = second
        }
        scanner.skipSpaces()
        if scanner.isAtEnd {
            fields.layout = "MM/DD/\(yearLayout) HH:mm:ss"
            return fields
        }
        guard let marker = scanner.peek.map({ $0 | 0x20 }), marker == 0x61 || marker == 0x70 else {
            throw mismatch()
        }
        scanner.advance()
        guard let m = scanner.peek, m | 0x20 == 0x6D else { throw mismatch() }  // "m"
        scanner.advance()
        guard scanner.isAtEnd else { throw mismatch() }
        fields.meridiem = marker == 0x61 ? .am : .pm
        fields.layout = "MM/DD/\(yearLayout) hh:mm:ss AM"
        return fields
    }

    private static func parseDashDate(
        _ scanner: inout CellScanner, cell: UnsafeBufferPointer<UInt8>
    ) throws(CellParseError) -> DateTimeFields {
        func mismatch() -> CellParseError {
            CellParseError(.invalidDateTime, "expected a date like \(dashLayoutHint), got \(quoted(cell))")
        }
        guard let year = scanner.readNumber(digits: 4), scanner.consume(minusSign),
              let month = scanner.readNumber(digits: 2), scanner.consume(minusSign),
              let day = scanner.readNumber(digits: 2)
        else { throw mismatch() }
        var fields = DateTimeFields(year: year, month: month, day: day, layout: "YYYY-MM-DD")
        if scanner.isAtEnd { return fields }
        // ISO uses `T`; pandas and SQL dumps use one space.
        guard scanner.consume(0x54) || scanner.consume(0x74) || scanner.consume(space),
              let hour = scanner.readNumber(digits: 2), scanner.consume(colon),
              let minute = scanner.readNumber(digits: 2)
        else { throw mismatch() }
        fields.hour = hour
        fields.minute = minute
        fields.layout = "YYYY-MM-DD HH:mm:ss"
        if scanner.consume(colon) {
            guard let second = scanner.readNumber(digits: 2) else { throw mismatch() }
            fields.second = second
            if scanner.consume(dot) {
                let fractionStart = scanner.position
                scanner.skipDigits()
                let fraction = scanner.bytes[fractionStart..<scanner.position]
                guard !fraction.isEmpty else { throw mismatch() }
                // Keep milliseconds, truncating: 59.9999 stays within the same second.
                var milliseconds = 0
                for index in 0..<3 {
                    milliseconds *= 10
                    if index < fraction.count {
                        milliseconds += Int(fraction[fractionStart + index] - zeroDigit)
                    }
                }
                fields.millisecond = milliseconds
            }
        }
        if scanner.isAtEnd { return fields }
        if scanner.consume(0x5A) || scanner.consume(0x7A) {  // Z
            guard scanner.isAtEnd else { throw mismatch() }
            return fields
        }
        guard let signByte = scanner.peek, signByte == plusSign || signByte == minusSign else {
            throw mismatch()
        }
        scanner.advance()
        // `+0100` has no separator, so read exactly two digits whatever follows.
        guard let offsetHours = scanner.readExactly(digits: 2) else { throw mismatch() }
        var offsetMinutes = 0
        if scanner.consume(colon) {
            guard let minutes = scanner.readNumber(digits: 2) else { throw mismatch() }
            offsetMinutes = minutes
        } else if let minutes = scanner.readNumber(digits: 2) {
            offsetMinutes = minutes
        }
        guard scanner.isAtEnd else { throw mismatch() }
        guard offsetHours <= 23, offsetMinutes <= 59 else {
            throw CellParseError(.impossibleDateTime,
                                 "impossible date \(quoted(cell)): UTC offset "
                                 + "\(signByte == minusSign ? "-" : "+")\(twoDigits(offsetHours)):"
                                 + "\(twoDigits(offsetMinutes)) is not in -23:59...+23:59")
        }
        let sign = signByte == minusSign ? -1 : 1
        fields.offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        return fields
    }

    // MARK: Durations

    /// A duration in seconds, as a Double so that `168.5` survives; `mm:ss` and `hh:mm:ss` give
    /// whole numbers unless the seconds have a fraction.
    ///
    /// Accepts `mm:ss` (minutes unbounded, so `75:30` is 75 minutes 30 seconds), `hh:mm:ss`
    /// (minutes 00–59), each with exactly two digits of seconds (00–59, optional fraction `05.5`),
    /// and plain non-negative seconds (`168`, `168.5`). Rejects `1:75`, `1:5`, negative values,
    /// exponents, and more than three `:`-separated parts.
    public static func durationSeconds(_ cell: String) throws(CellParseError) -> Double {
        try withBytes(cell) { bytes throws(CellParseError) in try durationSeconds(utf8: bytes) }
    }

    public static func durationSeconds(
        utf8 cell: UnsafeBufferPointer<UInt8>
    ) throws(CellParseError) -> Double {
        var scanner = CellScanner(cell)
        func mismatch() -> CellParseError {
            CellParseError(.invalidDuration,
                           "expected a duration like mm:ss, hh:mm:ss or seconds (168, 168.5), got \(quoted(cell))")
        }
        guard !scanner.isAtEnd else {
            throw CellParseError(.invalidDuration, "expected a duration, got an empty cell")
        }
        if scanner.peek == minusSign {
            throw CellParseError(.invalidDuration, "invalid duration \(quoted(cell)): a duration cannot be negative")
        }
        guard scanner.bytes[scanner.start..<scanner.end].contains(colon) else {
            let start = scanner.position
            guard scanner.skipDecimalNumber(allowSign: false, allowExponent: false), scanner.isAtEnd,
                  let seconds = Double(String(decoding: UnsafeBufferPointer(
                      rebasing: scanner.bytes[start..<scanner.position]), as: UTF8.self)),
                  seconds.isFinite
            else { throw mismatch() }
            return seconds
        }
        // Leading part (hours or minutes): up to 9 digits keeps the arithmetic far from overflow.
        guard let first = scanner.readNumber(minDigits: 1, maxDigits: 9), scanner.consume(colon),
              let second = scanner.readNumber(digits: 2)
        else { throw mismatch() }
        var hours = 0
        var minutes = first
        var wholeSeconds = second
        var minutesFieldChecked = false
        if scanner.consume(colon) {
            guard let third = scanner.readNumber(digits: 2) else { throw mismatch() }
            hours = first
            minutes = second
            wholeSeconds = third
            minutesFieldChecked = true
        }
        var fraction = 0.0
        if scanner.consume(dot) {
            let fractionStart = scanner.position
            scanner.skipDigits()
            guard scanner.position > fractionStart,
                  let value = Double("0." + String(decoding: UnsafeBufferPointer(
                      rebasing: scanner.bytes[fractionStart..<scanner.position]), as: UTF8.self))
            else { throw mismatch() }
            fraction = value
        }
        guard scanner.isAtEnd else { throw mismatch() }
        if minutesFieldChecked, minutes > 59 {
            throw CellParseError(.invalidDuration,
                                 "invalid duration \(quoted(cell)) (read as hh:mm:ss): "
                                 + "minutes \(minutes) is not in 0...59")
        }
        if wholeSeconds > 59 {
            let layout = minutesFieldChecked ? "hh:mm:ss" : "mm:ss"
            throw CellParseError(.invalidDuration,
                                 "invalid duration \(quoted(cell)) (read as \(layout)): "
                                 + "seconds \(wholeSeconds) is not in 0...59")
        }
        return Double(hours * 3600 + minutes * 60 + wholeSeconds) + fraction
    }

    // MARK: Shared helpers

    /// Runs `body` on the cell's UTF-8 bytes without copying when the string is contiguous.
    private static func withBytes<Value>(
        _ cell: String, _ body: (UnsafeBufferPointer<UInt8>) throws(CellParseError) -> Value
    ) throws(CellParseError) -> Value {
        // `withContiguousStorageIfAvailable` is `rethrows`, which would erase the typed error.
        let result = cell.utf8.withContiguousStorageIfAvailable { bytes in
            Result { () throws(CellParseError) -> Value in try body(bytes) }
        }
        if let result { return try result.get() }
        var contiguous = cell
        return try contiguous.withUTF8 { bytes in
            Result { () throws(CellParseError) -> Value in try body(bytes) }
        }.get()
    }

    /// The cell as it should appear in a reason: single-quoted, control characters escaped,
    /// invalid UTF-8 shown as U+FFFD, at most 60 characters.
    static func quoted(_ cell: UnsafeBufferPointer<UInt8>) -> String {
        let limit = 60
        var shown = ""
        var count = 0
        for scalar in String(decoding: cell, as: UTF8.self).unicodeScalars {
            if count == limit {
                shown += "…"
                break
            }
            switch scalar {
            case "\n": shown += "\\n"
            case "\r": shown += "\\r"
            case "\t": shown += "\\t"
            case "'": shown += "\\'"
            case "\\": shown += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                shown += "\\x" + twoHexDigits(UInt8(scalar.value))
            default: shown.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return "'" + shown + "'"
    }
}

/// Why a cell could not be parsed. `reason` is a complete sentence that quotes the cell.
public struct CellParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case invalidInteger
        case integerOutOfRange
        case invalidDouble
        case nonFiniteDouble
        case invalidBoolean
        /// The text does not have the shape of any accepted date layout.
        case invalidDateTime
        /// The shape is right but the date or time does not exist (month 13, February 30, 25:00).
        case impossibleDateTime
        /// MySQL's `0000-00-00` placeholder for "no date".
        case zeroDate
        case invalidDuration
    }

    public let kind: Kind
    public let reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { reason }
}

// MARK: - Internals

private let plusSign: UInt8 = 0x2B
private let minusSign: UInt8 = 0x2D
private let dot: UInt8 = 0x2E
private let comma: UInt8 = 0x2C
private let slash: UInt8 = 0x2F
private let colon: UInt8 = 0x3A
private let space: UInt8 = 0x20
private let tab: UInt8 = 0x09
private let zeroDigit: UInt8 = 0x30

private func asciiLowercased(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> [UInt8] {
    bytes.map { $0 &- 0x41 < 26 ? $0 | 0x20 : $0 }
}

@inline(__always) private func isDigit(_ byte: UInt8) -> Bool { byte &- zeroDigit < 10 }

private func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

private func twoHexDigits(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}

/// A cursor over one cell with surrounding spaces and tabs already excluded.
private struct CellScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    let start: Int
    let end: Int
    var position: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == space || bytes[start] == tab { start += 1 }
        while end > start, bytes[end - 1] == space || bytes[end - 1] == tab { end -= 1 }
        self.start = start
        self.end = end
        self.position = start
    }

    var isAtEnd: Bool { position >= end }
    var peek: UInt8? { position < end ? bytes[position] : nil }

    mutating func advance() { position += 1 }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard position < end, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    mutating func skipDigits() {
        while position < end, isDigit(bytes[position]) { position += 1 }
    }

    @discardableResult
    mutating func skipSpaces() -> Int {
        let before = position
        while position < end, bytes[position] == space { position += 1 }
        return position - before
    }

    mutating func readNumber(digits: Int) -> Int? {
        readNumber(minDigits: digits, maxDigits: digits)
    }

    /// Reads exactly `digits` decimal digits, even if more digits follow.
    mutating func readExactly(digits: Int) -> Int? {
        guard end - position >= digits else { return nil }
        var value = 0
        for index in position..<(position + digits) {
            guard isDigit(bytes[index]) else { return nil }
            value = value * 10 + Int(bytes[index] - zeroDigit)
        }
        position += digits
        return value
    }

    /// Reads between `minDigits` and `maxDigits` decimal digits; fails (without moving) if the
    /// count is outside that range, so `2008` is not read as a 2-digit month.
    mutating func readNumber(minDigits: Int, maxDigits: Int) -> Int? {
        var cursor = position
        var value = 0
        while cursor < end, isDigit(bytes[cursor]) {
            guard cursor - position < maxDigits else { return nil }
            value = value * 10 + Int(bytes[cursor] - zeroDigit)
            cursor += 1
        }
        guard cursor - position >= minDigits else { return nil }
        position = cursor
        return value
    }

    /// Skips `[+-]? (digits [. digits*] | . digits) ([eE] [+-]? digits)?`; false if no number.
    mutating func skipDecimalNumber(allowSign: Bool, allowExponent: Bool) -> Bool {
        let saved = position
        if allowSign, let byte = peek, byte == plusSign || byte == minusSign { advance() }
        let integerStart = position
        skipDigits()
        var digitCount = position - integerStart
        if consume(dot) {
            let fractionStart = position
            skipDigits()
            digitCount += position - fractionStart
        }
        guard digitCount > 0 else {
            position = saved
            return false
        }
        if allowExponent, let byte = peek, byte | 0x20 == 0x65 {
            let exponentMark = position
            advance()
            if let sign = peek, sign == plusSign || sign == minusSign { advance() }
            let exponentStart = position
            skipDigits()
            if position == exponentStart {
                position = exponentMark
                return true  // the caller sees the stray `e` because it is not at the end
            }
        }
        return true
    }
}

private struct DateTimeFields {
    enum Meridiem { case am, pm }

    var year: Int
    var month: Int
    var day: Int
    var hour = 0
    var minute = 0
    var second = 0
    var millisecond = 0
    var meridiem: Meridiem?
    var offsetSeconds = 0
    /// The layout the cell was read as, named in reasons so a DD/MM mix-up is easy to spot.
    var layout: String

    init(year: Int, month: Int, day: Int, layout: String) {
        self.year = year
        self.month = month
        self.day = day
        self.layout = layout
    }

    static let monthNames = ["January", "February", "March", "April", "May", "June", "July",
                             "August", "September", "October", "November", "December"]

    func millisecondsSinceEpoch(cell: UnsafeBufferPointer<UInt8>) throws(CellParseError) -> Int64 {
        func impossible(_ why: String) -> CellParseError {
            CellParseError(.impossibleDateTime,
                           "impossible date \(CellParsers.quoted(cell)) (read as \(layout)): \(why)")
        }
        if year == 0, month == 0, day == 0 {
            throw CellParseError(.zeroDate,
                                 "zero date \(CellParsers.quoted(cell)): 0000-00-00 is a placeholder "
                                 + "for a missing date, not a date")
        }
        guard (1...12).contains(month) else { throw impossible("month \(month) is not in 1...12") }
        let daysInMonth = Self.daysIn(month: month, year: year)
        guard (1...daysInMonth).contains(day) else {
            throw impossible("day \(day) does not exist in \(Self.monthNames[month - 1]) \(year), "
                             + "which has \(daysInMonth) days")
        }
        var hour24 = hour
        if let meridiem {
            guard (1...12).contains(hour) else {
                throw impossible("hour \(hour) is not in 1...12 on a 12-hour clock")
            }
            // 12 AM is midnight, 12 PM is noon.
            hour24 = (hour % 12) + (meridiem == .pm ? 12 : 0)
        } else {
            guard (0...23).contains(hour) else { throw impossible("hour \(hour) is not in 0...23") }
        }
        guard (0...59).contains(minute) else { throw impossible("minute \(minute) is not in 0...59") }
        guard (0...59).contains(second) else { throw impossible("second \(second) is not in 0...59") }
        let days = Int64(Self.daysSinceEpoch(year: year, month: month, day: day))
        let seconds = days * 86_400 + Int64(hour24 * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return seconds * 1000 + Int64(millisecond)
    }

    static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 in the proleptic Gregorian calendar. Counting years from March makes
    /// the leap day the last day of the counted year, so every month before it has a fixed start.
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let marchBasedYear = month <= 2 ? year - 1 : year
        let era = (marchBasedYear >= 0 ? marchBasedYear : marchBasedYear - 399) / 400
        let yearOfEra = marchBasedYear - era * 400                       // 0...399
        let monthFromMarch = (month + 9) % 12                            // March = 0
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1          // 0...365
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468                         // 719468: 0000-03-01 → 1970-01-01
    }
}

/// Parser for the Python `repr` literals that FMA metadata stores inside CSV cells, e.g.
/// `[{'genre_id': '21', 'genre_title': 'Hip-Hop', 'genre_url': 'http://…'}]`, `['megatone']`,
/// `[15, 42, 184]`, `[]`.
///
/// Accepted grammar (a superset of what `repr` writes for these types):
/// - lists `[…]`, dictionaries `{key: value, …}` (keys must be strings), tuples `(…)`
///   (returned as lists; `(x)` without a comma is just `x`, as in Python); trailing commas allowed;
/// - strings in single or double quotes with an optional `u` prefix and Python escapes:
///   `\\ \' \" \n \t \r \a \b \f \v \0`, octal `\NNN`, `\xNN`, `\uNNNN` (surrogate pairs combined),
///   `\UNNNNNNNN`, backslash-newline; unknown escapes keep the backslash, as Python does;
/// - `None`, `True`, `False`, integers (64-bit), floats (`1.5`, `-2e-3`, `.5`, `5.`), and `nan`,
///   `inf`, `-inf` because that is how `repr` writes non-finite floats;
/// - ASCII whitespace (space, tab, CR, LF, FF, VT) anywhere between tokens.
///
/// Not accepted: sets, raw/byte/triple-quoted strings, implicit string concatenation, `_` in numbers.
/// Works on UTF-8 bytes; nesting deeper than `maximumDepth` is an error rather than a deep recursion.
public enum PythonLiteral {
    public static let defaultMaximumDepth = 64

    /// What to do with bytes that are not valid UTF-8 inside a string literal.
    public enum InvalidUTF8Handling: Sendable {
        /// Throw `PythonLiteralError` with reason `.invalidUTF8` and the offending offset.
        case reject
        /// Replace each invalid sequence with U+FFFD, like `String(decoding:as:)`.
        case replace
    }

    public static func parse(
        _ text: String, maximumDepth: Int = defaultMaximumDepth
    ) throws(PythonLiteralError) -> FieldValue {
        // A Swift String is valid UTF-8 already, so no validation policy applies.
        if let result = text.utf8.withContiguousStorageIfAvailable({ buffer in
            parseResult(buffer, maximumDepth: maximumDepth, invalidUTF8: .replace)
        }) {
            return try result.get()
        }
        var contiguous = text
        return try contiguous.withUTF8 { buffer in
            parseResult(buffer, maximumDepth: maximumDepth, invalidUTF8: .replace)
        }.get()
    }

    public static func parse(
        utf8 bytes: some Collection<UInt8>,
        maximumDepth: Int = defaultMaximumDepth,
        invalidUTF8: InvalidUTF8Handling = .reject
    ) throws(PythonLiteralError) -> FieldValue {
        if let result = bytes.withContiguousStorageIfAvailable({ buffer in
            parseResult(buffer, maximumDepth: maximumDepth, invalidUTF8: invalidUTF8)
        }) {
            return try result.get()
        }
        let copy = Array(bytes)
        return try copy.withUnsafeBufferPointer { buffer in
            parseResult(buffer, maximumDepth: maximumDepth, invalidUTF8: invalidUTF8)
        }.get()
    }

    // `withContiguousStorageIfAvailable` is `rethrows`, which would erase the typed error.
    private static func parseResult(
        _ buffer: UnsafeBufferPointer<UInt8>, maximumDepth: Int, invalidUTF8: InvalidUTF8Handling
    ) -> Result<FieldValue, PythonLiteralError> {
        Result { () throws(PythonLiteralError) -> FieldValue in
            var parser = PythonLiteralParser(
                bytes: buffer, maximumDepth: maximumDepth, invalidUTF8: invalidUTF8)
            return try parser.parseWholeInput()
        }
    }
}

public struct PythonLiteralError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The cell is empty or only whitespace.
        case emptyInput
        /// Input ended where `expected` was needed (the offset is the end of the input).
        case unexpectedEnd(expected: String)
        case unexpectedCharacter(found: String, expected: String)
        /// A string, list, tuple or dictionary was opened and never closed (offset: where it opened).
        case unterminated(construct: String)
        case invalidEscape(sequence: String)
        case invalidNumber(text: String)
        case integerOutOfRange(text: String)
        /// A bare word other than None/True/False/nan/inf.
        case unknownName(String)
        case nonStringKey
        case nestingTooDeep(limit: Int)
        case trailingCharacters(text: String)
        case invalidUTF8(byte: UInt8)
        /// A `\uD800`-style escape that is not half of a surrogate pair.
        case loneSurrogate(sequence: String)
    }

    public let reason: Reason
    /// Position of the problem in Unicode code points from the start of the cell: the index a data
    /// engineer would use in Python (`cell[offset]`).
    public let offset: Int
    /// The same position in UTF-8 bytes.
    public let byteOffset: Int

    public init(reason: Reason, offset: Int, byteOffset: Int) {
        self.reason = reason
        self.offset = offset
        self.byteOffset = byteOffset
    }

    public var message: String {
        switch reason {
        case .emptyInput:
            return "empty input: expected a Python literal such as [], {...}, 'text' or None"
        case .unexpectedEnd(let expected):
            return "unexpected end of input at offset \(offset): expected \(expected)"
        case .unexpectedCharacter(let found, let expected):
            return "unexpected character \(found) at offset \(offset): expected \(expected)"
        case .unterminated(let construct):
            return "unterminated \(construct) starting at offset \(offset)"
        case .invalidEscape(let sequence):
            return "invalid escape sequence '\(sequence)' at offset \(offset)"
        case .invalidNumber(let text):
            return "invalid number '\(text)' at offset \(offset)"
        case .integerOutOfRange(let text):
            return "integer \(text) at offset \(offset) does not fit in 64 bits"
                + " (range -9223372036854775808...9223372036854775807)"
        case .unknownName(let name):
            return "unknown name '\(name)' at offset \(offset): expected None, True, False,"
                + " a number or a quoted string"
        case .nonStringKey:
            return "dictionary key at offset \(offset) is not a string"
        case .nestingTooDeep(let limit):
            return "nesting deeper than \(limit) levels at offset \(offset)"
        case .trailingCharacters(let text):
            return "unexpected trailing characters '\(text)' at offset \(offset) after a complete literal"
        case .invalidUTF8(let byte):
            return "invalid UTF-8 byte 0x\(hexByte(byte)) at offset \(offset)"
        case .loneSurrogate(let sequence):
            return "escape '\(sequence)' at offset \(offset) is a lone UTF-16 surrogate, not a character"
        }
    }

    public var description: String { message }
}

private func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}

// MARK: - Parser

private enum ASCII {
    static let quote: UInt8 = 0x27            // '
    static let doubleQuote: UInt8 = 0x22      // "
    static let backslash: UInt8 = 0x5C
    static let openBracket: UInt8 = 0x5B      // [
    static let closeBracket: UInt8 = 0x5D     // ]
    static let openBrace: UInt8 = 0x7B        // {
    static let closeBrace: UInt8 = 0x7D       // }
    static let openParen: UInt8 = 0x28        // (
    static let closeParen: UInt8 = 0x29       // )
    static let comma: UInt8 = 0x2C
    static let colon: UInt8 = 0x3A
    static let minus: UInt8 = 0x2D
    static let plus: UInt8 = 0x2B
    static let dot: UInt8 = 0x2E
    static let zero: UInt8 = 0x30
    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D

    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }
    @inline(__always) static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- 0x61 < 26 }
    @inline(__always) static func isIdentifierByte(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte) || byte == 0x5F
    }
    @inline(__always) static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }
    static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 0x30...0x39: return UInt32(byte - 0x30)
        case 0x41...0x46: return UInt32(byte - 0x41 + 10)
        case 0x61...0x66: return UInt32(byte - 0x61 + 10)
        default: return nil
        }
    }
}

private struct PythonLiteralParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maximumDepth: Int
    let invalidUTF8: PythonLiteral.InvalidUTF8Handling
    var position = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int,
         invalidUTF8: PythonLiteral.InvalidUTF8Handling) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
        self.invalidUTF8 = invalidUTF8
    }

    mutating func parseWholeInput() throws(PythonLiteralError) -> FieldValue {
        skipWhitespace()
        guard position < bytes.count else { throw failure(.emptyInput, at: 0) }
        let value = try parseValue()
        skipWhitespace()
        if position < bytes.count {
            throw failure(.trailingCharacters(text: excerpt(from: position)), at: position)
        }
        return value
    }

    // MARK: Values

    mutating func parseValue() throws(PythonLiteralError) -> FieldValue {
        guard position < bytes.count else {
            throw failure(.unexpectedEnd(expected: "a value"), at: position)
        }
        let byte = bytes[position]
        switch byte {
        case ASCII.openBracket:
            return .list(try parseList())
        case ASCII.openBrace:
            return try parseDictionary()
        case ASCII.openParen:
            return try parseTuple()
        case ASCII.quote, ASCII.doubleQuote:
            return .string(try parseString())
        case ASCII.minus, ASCII.plus, ASCII.dot, 0x30...0x39:
            return try parseNumber()
        default:
            if ASCII.isLetter(byte) || byte == 0x5F {
                return try parseName()
            }
            throw unexpectedCharacter(expected: "a value")
        }
    }

    mutating func parseList() throws(PythonLiteralError) -> [FieldValue] {
        let start = position
        try enterContainer(at: start)
        defer { depth -= 1 }
        position += 1
        var items: [FieldValue] = []
        skipWhitespace()
        if try closes(ASCII.closeBracket, construct: "list", openedAt: start) { return items }
        while true {
            items.append(try parseValue())
            skipWhitespace()
            if try afterElement(closing: ASCII.closeBracket, construct: "list", openedAt: start) {
                return items
            }
        }
    }

    mutating func parseTuple() throws(PythonLiteralError) -> FieldValue {
        let start = position
        try enterContainer(at: start)
        defer { depth -= 1 }
        position += 1
        var items: [FieldValue] = []
        var sawComma = false
        skipWhitespace()
        if try closes(ASCII.closeParen, construct: "tuple", openedAt: start) { return .list(items) }
        while true {
            items.append(try parseValue())
            skipWhitespace()
            if position < bytes.count, bytes[position] == ASCII.comma { sawComma = true }
            if try afterElement(closing: ASCII.closeParen, construct: "tuple", openedAt: start) {
                // Python: `(x)` is a parenthesised value, `(x,)` a one-element tuple.
                return (items.count == 1 && !sawComma) ? items[0] : .list(items)
            }
        }
    }

    mutating func parseDictionary() throws(PythonLiteralError) -> FieldValue {
        let start = position
        try enterContainer(at: start)
        defer { depth -= 1 }
        position += 1
        var entries: [FieldValue.Entry] = []
        skipWhitespace()
        if try closes(ASCII.closeBrace, construct: "dictionary", openedAt: start) {
            return .dictionary(entries)
        }
        while true {
            guard position < bytes.count else {
                throw failure(.unterminated(construct: "dictionary"), at: start)
            }
            let keyStart = position
            let keyByte = bytes[position]
            let isStringKey = keyByte == ASCII.quote || keyByte == ASCII.doubleQuote
                || ((keyByte == 0x75 || keyByte == 0x55) && position + 1 < bytes.count
                    && (bytes[position + 1] == ASCII.quote || bytes[position + 1] == ASCII.doubleQuote))
            guard isStringKey else {
                // Parse it anyway so a malformed key reports its own problem first.
                _ = try parseValue()
                throw failure(.nonStringKey, at: keyStart)
            }
            guard case .string(let key) = try parseValue() else {
                throw failure(.nonStringKey, at: keyStart)
            }
            skipWhitespace()
            guard position < bytes.count else {
                throw failure(.unterminated(construct: "dictionary"), at: start)
            }
            guard bytes[position] == ASCII.colon else {
                throw unexpectedCharacter(expected: "':' after dictionary key")
            }
            position += 1
            skipWhitespace()
            guard position < bytes.count else {
                throw failure(.unterminated(construct: "dictionary"), at: start)
            }
            let value = try parseValue()
            entries.append(FieldValue.Entry(key: key, value: value))
            skipWhitespace()
            if try afterElement(closing: ASCII.closeBrace, construct: "dictionary", openedAt: start) {
                return .dictionary(entries)
            }
        }
    }

    /// Consumes `closing` if it is next; reports an unterminated container at the end of input.
    mutating func closes(
        _ closing: UInt8, construct: String, openedAt start: Int
    ) throws(PythonLiteralError) -> Bool {
        guard position < bytes.count else {
            throw failure(.unterminated(construct: construct), at: start)
        }
        if bytes[position] == closing {
            position += 1
            return true
        }
        return false
    }

    /// After an element: `,` (then maybe the closing bracket: trailing comma) or the closing bracket.
    /// Returns true when the container is closed.
    mutating func afterElement(
        closing: UInt8, construct: String, openedAt start: Int
    ) throws(PythonLiteralError) -> Bool {
        guard position < bytes.count else {
            throw failure(.unterminated(construct: construct), at: start)
        }
        switch bytes[position] {
        case closing:
            position += 1
            return true
        case ASCII.comma:
            position += 1
            skipWhitespace()
            return try closes(closing, construct: construct, openedAt: start)
        default:
            let closingText = String(UnicodeScalar(closing))
            throw unexpectedCharacter(expected: "',' or '\(closingText)' in \(construct)")
        }
    }

    mutating func enterContainer(at start: Int) throws(PythonLiteralError) {
        depth += 1
        if depth > maximumDepth {
            depth -= 1
            throw failure(.nestingTooDeep(limit: maximumDepth), at: start)
        }
    }

    // MARK: Names and numbers

    mutating func parseName() throws(PythonLiteralError) -> FieldValue {
        let start = position
        while position < bytes.count, ASCII.isIdentifierByte(bytes[position]) { position += 1 }
        let name = UnsafeBufferPointer(rebasing: bytes[start..<position])
        if name.elementsEqual("None".utf8) { return .null }
        if name.elementsEqual("True".utf8) { return .bool(true) }
        if name.elementsEqual("False".utf8) { return .bool(false) }
        if name.elementsEqual("nan".utf8) { return .double(.nan) }
        if name.elementsEqual("inf".utf8) { return .double(.infinity) }
        // A string prefix: u'…' (Python 2 repr) is the same text.
        if name.count == 1, name[0] | 0x20 == 0x75, position < bytes.count,
           bytes[position] == ASCII.quote || bytes[position] == ASCII.doubleQuote {
            return .string(try parseString())
        }
        throw failure(.unknownName(String(decoding: name, as: UTF8.self)), at: start)
    }

    mutating func parseNumber() throws(PythonLiteralError) -> FieldValue {
        let start = position
        var isNegative = false
        if bytes[position] == ASCII.minus || bytes[position] == ASCII.plus {
            isNegative = bytes[position] == ASCII.minus
            position += 1
            // `-inf`, `+inf`, `-nan` as written by repr.
            if position < bytes.count, ASCII.isLetter(bytes[position]) {
                let nameStart = position
                while position < bytes.count, ASCII.isIdentifierByte(bytes[position]) { position += 1 }
                let name = UnsafeBufferPointer(rebasing: bytes[nameStart..<position])
                if name.elementsEqual("inf".utf8) { return .double(isNegative ? -.infinity : .infinity) }
                if name.elementsEqual("nan".utf8) { return .double(.nan) }
                throw failure(.invalidNumber(text: text(start..<position)), at: start)
            }
        }
        let integerDigitsStart = position
        while position < bytes.count, ASCII.isDigit(bytes[position]) { position += 1 }
        var digitCount = position - integerDigitsStart
        var isFloat = false
        if position < bytes.count, bytes[position] == ASCII.dot {
            isFloat = true
            position += 1
            let fractionStart = position
            while position < bytes.count, ASCII.isDigit(bytes[position]) { position += 1 }
            digitCount += position - fractionStart
        }
        if digitCount > 0, position < bytes.count, bytes[position] | 0x20 == 0x65 {  // e / E
            isFloat = true
            position += 1
            if position < bytes.count, bytes[position] == ASCII.minus || bytes[position] == ASCII.plus {
                position += 1
            }
            let exponentStart = position
            while position < bytes.count, ASCII.isDigit(bytes[position]) { position += 1 }
            if position == exponentStart { return try invalidNumber(from: start) }
        }
        // `12abc`, `1.2.3`, a lone `-`: report the whole token, not just its first bad byte.
        if digitCount == 0 { return try invalidNumber(from: start) }
        if position < bytes.count, ASCII.isIdentifierByte(bytes[position]) || bytes[position] == ASCII.dot {
            return try invalidNumber(from: start)
        }
        let token = UnsafeBufferPointer(rebasing: bytes[start..<position])
        if isFloat {
            guard let value = Double(String(decoding: token, as: UTF8.self)) else {
                return try invalidNumber(from: start)
            }
            return .double(value)
        }
        // Accumulate negatively so Int64.min is representable.
        var value: Int64 = 0
        for byte in UnsafeBufferPointer(rebasing: bytes[integerDigitsStart..<position]) {
            let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowB) = shifted.subtractingReportingOverflow(Int64(byte - ASCII.zero))
            if overflowA || overflowB {
                throw failure(.integerOutOfRange(text: text(start..<position)), at: start)
            }
            value = next
        }
        if isNegative { return .int(value) }
        guard value != .min else {
            throw failure(.integerOutOfRange(text: text(start..<position)), at: start)
        }
        return .int(-value)
    }

    mutating func invalidNumber(from start: Int) throws(PythonLiteralError) -> FieldValue {
        while position < bytes.count,
              ASCII.isIdentifierByte(bytes[position]) || bytes[position] == ASCII.dot
                || bytes[position] == ASCII.minus || bytes[position] == ASCII.plus {
            position += 1
        }
        throw failure(.invalidNumber(text: text(start..<max(position, start + 1))), at: start)
    }

    // MARK: Strings

    mutating func parseString() throws(PythonLiteralError) -> String {
        let start = position
        let quote = bytes[position]
        position += 1
        let contentStart = position
        // Fast path: no escapes, the content is a slice of the input.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == quote {
                let content = try makeString(contentStart..<position)
                position += 1
                return content
            }
            if byte == ASCII.backslash {
                return try parseEscapedString(openedAt: start, contentStart: contentStart, quote: quote)
            }
            position += 1
        }
        throw failure(.unterminated(construct: "string"), at: start)
    }

    mutating func parseEscapedString(
        openedAt start: Int, contentStart: Int, quote: UInt8
    ) throws(PythonLiteralError) -> String {
        var utf8: [UInt8] = []
        utf8.reserveCapacity(position - contentStart + 32)
        var runStart = contentStart
        while position < bytes.count {
            let byte = bytes[position]
            if byte == quote {
                try appendRun(runStart..<position, to: &utf8)
                position += 1
                return String(decoding: utf8, as: UTF8.self)
            }
            guard byte == ASCII.backslash else {
                position += 1
                continue
            }
            try appendRun(runStart..<position, to: &utf8)
            let escapeStart = position
            position += 1
            guard position < bytes.count else { break }
            let code = bytes[position]
            position += 1
            switch code {
            case ASCII.backslash, ASCII.quote, ASCII.doubleQuote: utf8.append(code)
            case 0x6E: utf8.append(0x0A)  // \n
            case 0x74: utf8.append(0x09)  // \t
            case 0x72: utf8.append(0x0D)  // \r
            case 0x61: utf8.append(0x07)  // \a
            case 0x62: utf8.append(0x08)  // \b
            case 0x66: utf8.append(0x0C)  // \f
            case 0x76: utf8.append(0x0B)  // \v
            case ASCII.newline: break     // line continuation
            case ASCII.carriageReturn:
                if position < bytes.count, bytes[position] == ASCII.newline { position += 1 }
            case 0x30...0x37:             // octal, up to three digits
                var value = UInt32(code - ASCII.zero)
                var digits = 1
                while digits < 3, position < bytes.count, bytes[position] &- 0x30 < 8 {
                    value = value * 8 + UInt32(bytes[position] - ASCII.zero)
                    position += 1
                    digits += 1
                }
                appendScalar(value, to: &utf8)
            case 0x78:                    // \xNN
                appendScalar(try hexEscape(digits: 2, escapeStart: escapeStart), to: &utf8)
            case 0x75:                    // \uNNNN, combining surrogate pairs
                let unit = try hexEscape(digits: 4, escapeStart: escapeStart)
                appendScalar(try completeSurrogate(unit, escapeStart: escapeStart), to: &utf8)
            case 0x55:                    // \UNNNNNNNN
                let value = try hexEscape(digits: 8, escapeStart: escapeStart)
                guard value <= 0x10FFFF else {
                    throw failure(.invalidEscape(sequence: text(escapeStart..<position)), at: escapeStart)
                }
                if (0xD800...0xDFFF).contains(value) {
                    throw failure(.loneSurrogate(sequence: text(escapeStart..<position)), at: escapeStart)
                }
                appendScalar(value, to: &utf8)
            default:
                // Python keeps unknown escapes verbatim (`'\d'` is backslash + d).
                position = escapeStart + 1
                utf8.append(ASCII.backslash)
            }
            runStart = position
        }
        throw failure(.unterminated(construct: "string"), at: start)
    }

    /// Reads exactly `digits` hex digits after `\x`, `\u` or `\U`.
    mutating func hexEscape(digits: Int, escapeStart: Int) throws(PythonLiteralError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard position < bytes.count, let digit = ASCII.hexValue(bytes[position]) else {
                let end = min(position + 1, bytes.count)
                throw failure(.invalidEscape(sequence: text(escapeStart..<end)), at: escapeStart)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    mutating func completeSurrogate(_ unit: UInt32, escapeStart: Int) throws(PythonLiteralError) -> UInt32 {
        switch unit {
        case 0xD800...0xDBFF:
            // A high surrogate must be followed by `\u` + a low surrogate.
            let afterHigh = position
            if position + 1 < bytes.count, bytes[position] == ASCII.backslash, bytes[position + 1] == 0x75 {
                position += 2
                if let low = try? hexEscape(digits: 4, escapeStart: afterHigh), (0xDC00...0xDFFF).contains(low) {
                    return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                }
            }
            position = afterHigh
            throw failure(.loneSurrogate(sequence: text(escapeStart..<afterHigh)), at: escapeStart)
        case 0xDC00...0xDFFF:
            throw failure(.loneSurrogate(sequence: text(escapeStart..<position)), at: escapeStart)
        default:
            return unit
        }
    }

    func appendScalar(_ value: UInt32, to utf8: inout [UInt8]) {
        // Callers only pass values ≤ 0x10FFFF that are not surrogates (octal tops out at 0o777).
        guard let scalar = Unicode.Scalar(value) else { return }
        utf8.append(contentsOf: UTF8.encode(scalar)!)
    }

    func appendRun(_ range: Range<Int>, to utf8: inout [UInt8]) throws(PythonLiteralError) {
        guard !range.isEmpty else { return }
        let run = UnsafeBufferPointer(rebasing: bytes[range])
        if invalidUTF8 == .reject, let bad = run.firstInvalidUTF8Offset {
            throw failure(.invalidUTF8(byte: bytes[range.lowerBound + bad]), at: range.lowerBound + bad)
        }
        utf8.append(contentsOf: run)
    }

    func makeString(_ range: Range<Int>) throws(PythonLiteralError) -> String {
        let slice = UnsafeBufferPointer(rebasing: bytes[range])
        if invalidUTF8 == .reject, let bad = slice.firstInvalidUTF8Offset {
            throw failure(.invalidUTF8(byte: bytes[range.lowerBound + bad]), at: range.lowerBound + bad)
        }
        return String(decoding: slice, as: UTF8.self)
    }

    // MARK: Helpers

    mutating func skipWhitespace() {
        while position < bytes.count, ASCII.isWhitespace(bytes[position]) { position += 1 }
    }

    func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Up to 20 bytes from `start`, for messages about trailing garbage.
    func excerpt(from start: Int) -> String {
        let end = min(bytes.count, start + 20)
        return text(start..<end) + (end < bytes.count ? "…" : "")
    }

    func unexpectedCharacter(expected: String) -> PythonLiteralError {
        guard position < bytes.count else {
            return failure(.unexpectedEnd(expected: expected), at: position)
        }
        let byte = bytes[position]
        if byte < 0x80 {
            let shown: String
            switch byte {
            case 0x00: shown = "NUL (0x00)"
            case 0x0A: shown = "'\\n'"
            case 0x0D: shown = "'\\r'"
            case 0x09: shown = "'\\t'"
            case 0x00..<0x20, 0x7F: shown = "0x\(hexByte(byte))"
            case ASCII.quote: shown = #""'""#
            default: shown = "'\(String(UnicodeScalar(byte)))'"
            }
            return failure(.unexpectedCharacter(found: shown, expected: expected), at: position)
        }
        let rest = UnsafeBufferPointer(rebasing: bytes[position...])
        let bad = rest.firstInvalidUTF8Offset
        if bad == 0 {
            return failure(.invalidUTF8(byte: byte), at: position)
        }
        var iterator = rest.makeIterator()
        var decoder = Unicode.UTF8.ForwardParser()
        var shown = "0x\(hexByte(byte))"
        if case .valid(let encoded) = decoder.parseScalar(from: &iterator) {
            shown = "'\(String(Unicode.UTF8.decode(encoded)))'"
        }
        return failure(.unexpectedCharacter(found: shown, expected: expected), at: position)
    }

    func failure(_ reason: PythonLiteralError.Reason, at byteOffset: Int) -> PythonLiteralError {
        PythonLiteralError(
            reason: reason,
            offset: codePointCount(UnsafeBufferPointer(rebasing: bytes[0..<byteOffset])),
            byteOffset: byteOffset)
    }
}

/// Number of Unicode code points (invalid sequences count one each, as U+FFFD would).
private func codePointCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    var iterator = bytes.makeIterator()
    var decoder = Unicode.UTF8.ForwardParser()
    var count = 0
    while true {
        switch decoder.parseScalar(from: &iterator) {
        case .valid, .error: count += 1
        case .emptyInput: return count
        }
    }
}

import Foundation

/// The type of a CSV cell as a schema names it (`x-type`), and how its bytes become a `FieldValue`.
///
/// Every type parses straight from the cell's UTF-8 bytes (`CellParsers`, `PythonLiteral`), so a
/// row is coerced without building intermediate `String`s. Reasons are the parsers' own sentences.
public enum CellType: String, Sendable, CaseIterable {
    case int
    case double
    case string
    case bool
    /// A UTC instant (`MM/DD/YYYY hh:mm:ss AM`, `YYYY-MM-DD hh:mm:ss`, ISO 8601, `YYYY`).
    case dateTime = "date-time"
    /// Seconds, from `mm:ss`, `hh:mm:ss` or a number of seconds.
    case duration
    /// A Python-repr literal (list, dict, …) as FMA writes them.
    case pythonLiteral = "python-literal"
    /// A list of integers: `[15, 42, 184]`, `['21']`, or a list of dictionaries from which one key
    /// is taken (`[{'genre_id': '21', …}]` with item key `genre_id`).
    case intList = "int-list"

    public struct Failure: Error, Sendable, Equatable {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
    }

    /// Coerces non-empty cell text; empty cells are the caller's business (null or a default).
    public func coerce(_ text: String, itemKey: String? = nil) -> Result<FieldValue, Failure> {
        var text = text
        return text.withUTF8 { coerce(utf8: $0, itemKey: itemKey) }
    }

    /// Coerces a cell's bytes. Text (`string`) is decoded with invalid UTF-8 replaced by U+FFFD;
    /// Python literals likewise (the caller flags the row by checking validity itself).
    public func coerce(utf8 cell: UnsafeBufferPointer<UInt8>, itemKey: String? = nil) -> Result<FieldValue, Failure> {
        do throws(CellParseError) {
            switch self {
            case .string:
                return .success(.string(String(decoding: cell, as: UTF8.self)))
            case .int:
                return .success(.int(try CellParsers.integer(utf8: cell)))
            case .double:
                return .success(.double(try CellParsers.double(utf8: cell)))
            case .bool:
                return .success(.bool(try CellParsers.boolean(utf8: cell)))
            case .dateTime:
                return .success(.dateTime(millisecondsSinceEpoch: try CellParsers.dateTimeMilliseconds(utf8: cell)))
            case .duration:
                return .success(.double(try CellParsers.durationSeconds(utf8: cell)))
            case .pythonLiteral:
                return parseLiteral(cell)
            case .intList:
                if let integers = Self.plainIntegers(cell, itemKey: itemKey) { return .success(integers) }
                return parseLiteral(cell).flatMap { Self.integers(in: $0, itemKey: itemKey) }
            }
        } catch {
            return .failure(Failure(error.reason))
        }
    }

    private func parseLiteral(_ cell: UnsafeBufferPointer<UInt8>) -> Result<FieldValue, Failure> {
        do throws(PythonLiteralError) {
            return .success(try PythonLiteral.parse(utf8: cell, invalidUTF8: .replace))
        } catch {
            return .failure(Failure(error.message))
        }
    }

    /// The common shapes of an `int-list` cell read without building the literal: `[]`, `[21, 76]`,
    /// `[{'genre_id': '21', 'genre_title': 'Hip-Hop', …}, …]` (FMA's track_genres; the other
    /// values are skipped, not decoded). nil for anything else (escapes in keys, leading zeros,
    /// other spacing, nesting, a missing key …): the general parser then decides, with its error
    /// messages. Where this returns a value it is the one the general path returns
    /// (`CellTypeTests` checks the two on random cells).
    static func plainIntegers(_ cell: UnsafeBufferPointer<UInt8>, itemKey: String?) -> FieldValue? {
        var scanner = LiteralScanner(bytes: cell)
        guard scanner.take(UInt8(ascii: "[")) else { return nil }
        var result: [FieldValue] = []
        if scanner.take(UInt8(ascii: "]")) { return scanner.isAtEnd ? .list(result) : nil }
        while true {
            if scanner.peek == UInt8(ascii: "{") {
                guard let itemKey, let value = scanner.itemValue(key: itemKey) else { return nil }
                result.append(.int(value))
            } else {
                guard let value = scanner.integer(quoted: false) else { return nil }
                result.append(.int(value))
            }
            if scanner.take(UInt8(ascii: "]")) { return scanner.isAtEnd ? .list(result) : nil }
            guard scanner.take(UInt8(ascii: ",")), scanner.take(UInt8(ascii: " ")) else { return nil }
        }
    }

    static func integers(in value: FieldValue, itemKey: String?) -> Result<FieldValue, Failure> {
        guard case .list(let elements) = value else {
            return .failure(Failure("expected a list of integers like [15, 42], got a \(value.kindName)"))
        }
        var result: [FieldValue] = []
        result.reserveCapacity(elements.count)
        for (position, element) in elements.enumerated() {
            var item = element
            if case .dictionary(let entries) = element {
                guard let itemKey else {
                    return .failure(Failure("item \(position) of the list is a dictionary; the schema names no x-item-key to take from it"))
                }
                guard let entry = entries.first(where: { $0.key == itemKey }) else {
                    return .failure(Failure("item \(position) of the list has no key '\(itemKey)'"))
                }
                item = entry.value
            }
            switch item {
            case .int:
                result.append(item)
            case .string(let text):
                do throws(CellParseError) {
                    result.append(.int(try CellParsers.integer(text)))
                } catch {
                    return .failure(Failure("item \(position) of the list: \(error.reason)"))
                }
            default:
                return .failure(Failure("item \(position) of the list is a \(item.kindName), expected an integer"))
            }
        }
        return .success(.list(result))
    }
}

extension FieldValue {
    /// The kind of value, for messages (`list`, `dictionary`, …).
    public var kindName: String {
        switch self {
        case .null: "None"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .dateTime: "date"
        case .list: "list"
        case .dictionary: "dictionary"
        }
    }
}

extension String {
    var trimmingSpaces: Substring {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return slice
    }

    /// At most 60 characters of a value, for error messages.
    public var excerpt: String {
        count <= 60 ? self : String(prefix(57)) + "..."
    }
}

/// The byte scanner of `CellType.plainIntegers`.
private struct LiteralScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    var isAtEnd: Bool { position == bytes.count }
    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        position += 1
        return true
    }

    /// A decimal integer without sign, leading zeros or more than 18 digits, bare or in single
    /// quotes.
    mutating func integer(quoted: Bool) -> Int64? {
        if quoted { guard take(UInt8(ascii: "'")) else { return nil } }
        let start = position
        var value: Int64 = 0
        while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
            guard position - start < 18 else { return nil }  // could overflow: the general parser decides
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            position += 1
        }
        let digits = position - start
        guard digits > 0, digits <= 18, digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        if quoted { guard take(UInt8(ascii: "'")) else { return nil } }
        return value
    }

    /// `{'key': value, …}` of plain single-quoted keys; returns the integer under `key` (its first
    /// occurrence), skipping the other values when they are plain strings, numbers or None.
    mutating func itemValue(key: String) -> Int64? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var found: Int64?
        var first = true
        while !take(UInt8(ascii: "}")) {
            if !first { guard take(UInt8(ascii: ",")), take(UInt8(ascii: " ")) else { return nil } }
            first = false
            guard let name = plainString() else { return nil }
            guard take(UInt8(ascii: ":")), take(UInt8(ascii: " ")) else { return nil }
            if found == nil && name.elementsEqual(key.utf8) {
                guard let value = peek == UInt8(ascii: "'") ? integer(quoted: true) : integer(quoted: false) else { return nil }
                found = value
            } else {
                guard skipValue() else { return nil }
            }
        }
        return found
    }

    /// A single-quoted string without backslashes (its bytes).
    mutating func plainString() -> UnsafeBufferPointer<UInt8>.SubSequence? {
        guard take(UInt8(ascii: "'")) else { return nil }
        let start = position
        while let byte = peek, byte != UInt8(ascii: "'") {
            guard byte != UInt8(ascii: "\\") else { return nil }
            position += 1
        }
        guard take(UInt8(ascii: "'")) else { return nil }
        return bytes[start..<(position - 1)]
    }

    /// A value the general parser reads as a plain string, a decimal number or None.
    mutating func skipValue() -> Bool {
        switch peek {
        case UInt8(ascii: "'"):
            return plainString() != nil
        case UInt8(ascii: "N"):
            guard bytes.count - position >= 4, bytes[position + 1] == UInt8(ascii: "o"), bytes[position + 2] == UInt8(ascii: "n"),
                  bytes[position + 3] == UInt8(ascii: "e") else { return false }
            position += 4
            return true
        default:
            return integer(quoted: false) != nil
        }
    }
}

/// The common shapes of `python-literal` cells in FMA's files, as Python's `repr` prints them:
/// a list of strings (`['rock', "it's"]`, the tags) or of dictionaries of strings and `None` (the
/// images: `[{'image_id': '24612', 'image_caption': None}]`), nested up to `maximumDepth`, with
/// repr's own spacing, strings without escapes or control bytes. Such a cell is written out from
/// its bytes as it is walked, with nothing parsed into values or allocated; every string's text is
/// the bytes between its quotes, which is what the literal parser returns for it
/// (`PlainLiteralTests` checks the two on random cells). Anything else is left to the parser.
public enum PlainLiteral {
    public enum Event {
        case beginList, endList, beginDictionary, endDictionary
        /// A dictionary key; its value's events follow.
        case key(UnsafeBufferPointer<UInt8>)
        case string(UnsafeBufferPointer<UInt8>)
        case null
    }

    public static let maximumDepth = 8

    /// Whether `cell` is a list of the plain shape.
    public static func matches(_ cell: UnsafeBufferPointer<UInt8>) -> Bool {
        walk(cell) { _ in }
    }

    /// Calls `body` with the events of `cell`, a list, in order; false when the cell does not
    /// have the plain shape (`body` may have seen some events by then).
    @inlinable
    public static func walk<E: Error>(_ cell: UnsafeBufferPointer<UInt8>, _ body: (Event) throws(E) -> Void) throws(E) -> Bool {
        guard let base = cell.baseAddress, cell.count >= 2, base[0] == UInt8(ascii: "[") else { return false }
        var position = 0
        guard try value(base, cell.count, &position, depth: 0, body) else { return false }
        return position == cell.count
    }

    @inlinable
    static func value<E: Error>(_ base: UnsafePointer<UInt8>, _ end: Int, _ position: inout Int, depth: Int,
                                        _ body: (Event) throws(E) -> Void) throws(E) -> Bool {
        guard position < end else { return false }
        switch base[position] {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            guard let text = string(base, end, &position) else { return false }
            try body(.string(text))
            return true
        case UInt8(ascii: "N"):
            guard position + 4 <= end, base[position + 1] == UInt8(ascii: "o"), base[position + 2] == UInt8(ascii: "n"),
                  base[position + 3] == UInt8(ascii: "e") else { return false }
            position += 4
            try body(.null)
            return true
        case UInt8(ascii: "["):
            guard depth < maximumDepth else { return false }
            position += 1
            try body(.beginList)
            if position < end, base[position] == UInt8(ascii: "]") {
                position += 1
                try body(.endList)
                return true
            }
            while true {
                guard try value(base, end, &position, depth: depth + 1, body) else { return false }
                guard position < end else { return false }
                if base[position] == UInt8(ascii: "]") {
                    position += 1
                    try body(.endList)
                    return true
                }
                guard separator(base, end, &position, UInt8(ascii: ",")) else { return false }
            }
        case UInt8(ascii: "{"):
            guard depth < maximumDepth else { return false }
            position += 1
            try body(.beginDictionary)
            if position < end, base[position] == UInt8(ascii: "}") {
                position += 1
                try body(.endDictionary)
                return true
            }
            while true {
                guard position < end, base[position] == UInt8(ascii: "'") || base[position] == UInt8(ascii: "\""),
                      let key = string(base, end, &position) else { return false }
                try body(.key(key))
                guard separator(base, end, &position, UInt8(ascii: ":")),
                      try value(base, end, &position, depth: depth + 1, body) else { return false }
                guard position < end else { return false }
                if base[position] == UInt8(ascii: "}") {
                    position += 1
                    try body(.endDictionary)
                    return true
                }
                guard separator(base, end, &position, UInt8(ascii: ",")) else { return false }
            }
        default:
            return false
        }
    }

    /// `, ` or `: `, as repr separates.
    @inlinable @inline(__always)
    static func separator(_ base: UnsafePointer<UInt8>, _ end: Int, _ position: inout Int, _ mark: UInt8) -> Bool {
        guard position + 2 < end, base[position] == mark, base[position + 1] == UInt8(ascii: " ") else { return false }
        position += 2
        return true
    }

    /// A quoted string without escapes or control bytes; its text.
    @inlinable @inline(__always)
    static func string(_ base: UnsafePointer<UInt8>, _ end: Int, _ position: inout Int) -> UnsafeBufferPointer<UInt8>? {
        let quote = base[position]
        let start = position + 1
        guard start < end, let found = memchr(base + start, Int32(quote), end - start) else { return nil }
        let close = UnsafeRawPointer(found).assumingMemoryBound(to: UInt8.self) - base
        let text = UnsafeBufferPointer(start: base + start, count: close - start)
        guard !text.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\\") }) else { return nil }
        position = close + 1
        return text
    }
}

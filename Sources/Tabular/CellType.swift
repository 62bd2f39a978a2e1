import CTextKernels
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
        var integers: [Int64] = []
        guard plainIntegers(cell, itemKey: itemKey, into: &integers) else { return nil }
        return .list(integers.map { .int($0) })
    }

    /// `plainIntegers(_:itemKey:)` appending the integers to `integers` (a row's store of them:
    /// no list allocated per cell); false, and `integers` as it was, where that returns nil.
    public static func plainIntegers(_ cell: UnsafeBufferPointer<UInt8>, itemKey: String?, into integers: inout [Int64]) -> Bool {
        let start = integers.count
        var scanner = LiteralScanner(bytes: cell)
        var key = itemKey ?? ""
        let answered = key.withUTF8 { key -> Bool in
            guard scanner.take(UInt8(ascii: "[")) else { return false }
            if scanner.take(UInt8(ascii: "]")) { return scanner.isAtEnd }
            while true {
                if scanner.peek == UInt8(ascii: "{") {
                    guard itemKey != nil, let value = scanner.itemValue(key: key) else { return false }
                    integers.append(value)
                } else {
                    guard let value = scanner.integer(quoted: false) else { return false }
                    integers.append(value)
                }
                if scanner.take(UInt8(ascii: "]")) { return scanner.isAtEnd }
                guard scanner.take(UInt8(ascii: ",")), scanner.take(UInt8(ascii: " ")) else { return false }
            }
        }
        if !answered { integers.removeSubrange(start...) }
        return answered
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
    public var trimmingSpaces: Substring {
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
    mutating func itemValue(key: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var found: Int64?
        var first = true
        while !take(UInt8(ascii: "}")) {
            if !first { guard take(UInt8(ascii: ",")), take(UInt8(ascii: " ")) else { return nil } }
            first = false
            guard let name = plainString() else { return nil }
            guard take(UInt8(ascii: ":")), take(UInt8(ascii: " ")) else { return nil }
            // The bytes compared at once (`elementsEqual` walked them one by one).
            if found == nil && name.count == key.count
                && Self.sameBytes(name, key) {
                guard let value = peek == UInt8(ascii: "'") ? integer(quoted: true) : integer(quoted: false) else { return nil }
                found = value
            } else {
                guard skipValue() else { return nil }
            }
        }
        return found
    }

    static func sameBytes(_ name: UnsafeBufferPointer<UInt8>.SubSequence, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let nameBase = name.base.baseAddress, let keyBase = key.baseAddress else { return name.isEmpty && key.isEmpty }
        return name.count == key.count && memcmp(nameBase + name.startIndex, keyBase, key.count) == 0
    }

    /// A single-quoted string without backslashes (its bytes).
    mutating func plainString() -> UnsafeBufferPointer<UInt8>.SubSequence? {
        guard take(UInt8(ascii: "'")) else { return nil }
        let start = position
        // Up to the word holding the closing quote or a backslash (the titles and URLs skipped
        // beside each genre id were a loop per byte).
        if let base = bytes.baseAddress {
            position = PlainLiteral.plainWordsEnd(base, from: position, end: bytes.count, quote: UInt8(ascii: "'"), controls: false)
        }
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

    public static let maximumDepth = Int(PLAIN_LITERAL_MAXIMUM_DEPTH)  // the C printer's limit too

    /// Whether `cell` is a list of the plain shape.
    public static func matches(_ cell: UnsafeBufferPointer<UInt8>) -> Bool {
        var walker = Walker(cell)
        while walker.next() != nil {}
        return walker.finished
    }

    /// The room `printJSON` needs for a cell of `length` bytes.
    public static func jsonCapacity(_ length: Int) -> Int { musicetl_plain_literal_capacity(length) }

    /// A cell of the plain shape printed at `out` (room for `jsonCapacity(cell.count)` bytes) as
    /// libbson prints its value in relaxed JSON, in one pass (`CTextKernels`); the bytes written.
    /// nil when the cell has another shape or a string in it is not valid UTF-8: the walk tells
    /// the two apart.
    public static func printJSON(_ cell: UnsafeBufferPointer<UInt8>, to out: UnsafeMutablePointer<UInt8>) -> Int? {
        guard let base = cell.baseAddress else { return nil }
        let written = musicetl_plain_literal_json(base, cell.count, out)
        return written >= 0 ? written : nil
    }

    /// The events of a cell, one `next()` at a time (no closure, no recursion: the jobs call it
    /// for every tag list and image list). `next()` returns nil at the end, or where the cell turns
    /// out not to have the plain shape; `finished` tells the two apart.
    public struct Walker {
        @usableFromInline let base: UnsafePointer<UInt8>?
        @usableFromInline let end: Int
        @usableFromInline var position = 0
        @usableFromInline var depth = 0
        /// Bit d: open level d is a dictionary.
        @usableFromInline var dictionaries: UInt64 = 0
        @usableFromInline enum State { case value, afterValue, key, closeEmpty, finished, failed }
        @usableFromInline var state = State.value

        @inlinable
        public init(_ cell: UnsafeBufferPointer<UInt8>) {
            base = cell.baseAddress
            end = cell.count
            if cell.count < 2 || cell[0] != UInt8(ascii: "[") { state = .failed }
        }

        /// The whole cell was walked and has the plain shape.
        @inlinable
        public var finished: Bool { state == .finished }

        @inlinable
        public mutating func next() -> Event? {
            guard let base else { return nil }
            while true {
                switch state {
                case .finished, .failed:
                    return nil
                case .closeEmpty:
                    depth -= 1
                    state = .afterValue
                    return dictionaries & (1 << UInt64(depth)) != 0 ? .endDictionary : .endList
                case .key:
                    guard position < end, base[position] == UInt8(ascii: "'") || base[position] == UInt8(ascii: "\""),
                          let key = PlainLiteral.string(base, end, &position),
                          PlainLiteral.separator(base, end, &position, UInt8(ascii: ":")) else { return fail() }
                    state = .value
                    return .key(key)
                case .value:
                    guard position < end else { return fail() }
                    switch base[position] {
                    case UInt8(ascii: "'"), UInt8(ascii: "\""):
                        guard let text = PlainLiteral.string(base, end, &position) else { return fail() }
                        state = .afterValue
                        return .string(text)
                    case UInt8(ascii: "N"):
                        guard position + 4 <= end, base[position + 1] == UInt8(ascii: "o"),
                              base[position + 2] == UInt8(ascii: "n"), base[position + 3] == UInt8(ascii: "e") else { return fail() }
                        position += 4
                        state = .afterValue
                        return .null
                    case UInt8(ascii: "["), UInt8(ascii: "{"):
                        guard depth < PlainLiteral.maximumDepth else { return fail() }
                        let dictionary = base[position] == UInt8(ascii: "{")
                        dictionaries = dictionary ? dictionaries | (1 << UInt64(depth)) : dictionaries & ~(1 << UInt64(depth))
                        depth += 1
                        position += 1
                        if position < end, base[position] == (dictionary ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                            position += 1
                            state = .closeEmpty
                        } else {
                            state = dictionary ? .key : .value
                        }
                        return dictionary ? .beginDictionary : .beginList
                    default:
                        return fail()
                    }
                case .afterValue:
                    if depth == 0 {
                        state = position == end ? .finished : .failed
                        return nil
                    }
                    let dictionary = dictionaries & (1 << UInt64(depth - 1)) != 0
                    guard position < end else { return fail() }
                    if base[position] == (dictionary ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        position += 1
                        depth -= 1
                        return dictionary ? .endDictionary : .endList
                    }
                    guard PlainLiteral.separator(base, end, &position, UInt8(ascii: ",")) else { return fail() }
                    state = dictionary ? .key : .value
                }
            }
        }

        @inlinable
        mutating func fail() -> Event? {
            state = .failed
            return nil
        }
    }

    /// `, ` or `: `, as repr separates.
    @inlinable @inline(__always)
    static func separator(_ base: UnsafePointer<UInt8>, _ end: Int, _ position: inout Int, _ mark: UInt8) -> Bool {
        guard position + 2 < end, base[position] == mark, base[position + 1] == UInt8(ascii: " ") else { return false }
        position += 2
        return true
    }

    /// Where the whole 8-byte words from `index` stop holding only plain text: the start of the
    /// first word with `quote`, a backslash or (with `controls`) a byte below 0x20, else of the
    /// last part shorter than a word. The caller's byte loop finds which byte. The tests are exact
    /// for "some byte is zero" and "some byte is below 0x20" (a high bit only in such a lane, or
    /// above one).
    @inlinable @inline(__always)
    static func plainWordsEnd(_ base: UnsafePointer<UInt8>, from index: Int, end: Int, quote: UInt8, controls: Bool) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let quotes = ones &* UInt64(quote), backslashes = ones &* UInt64(UInt8(ascii: "\\"))
        func hasZero(_ x: UInt64) -> Bool { (x &- ones) & ~x & highs != 0 }
        var index = index
        while index + 8 <= end {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            if controls && (word &- ones &* 0x20) & ~word & highs != 0 { break }
            if hasZero(word ^ quotes) || hasZero(word ^ backslashes) { break }
            index += 8
        }
        return index
    }

    /// A quoted string without escapes or control bytes; its text.
    @inlinable @inline(__always)
    static func string(_ base: UnsafePointer<UInt8>, _ end: Int, _ position: inout Int) -> UnsafeBufferPointer<UInt8>? {
        let quote = base[position]
        let start = position + 1
        // The first byte that is the closing quote, a backslash or a control byte (image lists
        // are mostly long URLs; a byte at a time, this was half the walk).
        var index = plainWordsEnd(base, from: start, end: end, quote: quote, controls: true)
        while index < end, base[index] != quote {
            if base[index] < 0x20 || base[index] == UInt8(ascii: "\\") { return nil }
            index += 1
        }
        guard index < end else { return nil }
        position = index + 1
        return UnsafeBufferPointer(start: base + start, count: index - start)
    }
}

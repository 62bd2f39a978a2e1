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

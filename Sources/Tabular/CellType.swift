/// The type of a CSV cell as a schema names it (`x-type`), and how text becomes a `FieldValue`.
public enum CellType: String, Sendable, CaseIterable {
    case int
    case double
    case string
    case dateTime = "date-time"
    case duration
    /// A Python-repr literal (list, dict, …) as FMA writes them.
    case pythonLiteral = "python-literal"
    /// A list of integers, written as a Python list (`[15, 42, 184]`, `['21']`).
    case intList = "int-list"

    public struct Failure: Error, Sendable, Equatable {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
    }

    /// Coerces non-empty cell text; empty cells are the caller's business (null or a default).
    public func coerce(_ text: String) -> Result<FieldValue, Failure> {
        switch self {
        case .string:
            return .success(.string(text))
        case .int:
            guard let value = Int64(text.trimmingSpaces) else {
                return .failure(Failure("expected an integer, got '\(text.excerpt)'"))
            }
            return .success(.int(value))
        case .double:
            guard let value = Double(text.trimmingSpaces), value.isFinite else {
                return .failure(Failure("expected a finite number, got '\(text.excerpt)'"))
            }
            return .success(.double(value))
        case .dateTime, .duration, .pythonLiteral, .intList:
            return .failure(Failure("cell type \(rawValue) is not supported by this build"))
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

/// A typed value coerced from a CSV cell (or from a Python-repr literal inside one).
///
/// Tabular knows nothing about BSON; the jobs map these values to documents.
public enum FieldValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    /// A UTC instant, in milliseconds since the Unix epoch (BSON's date resolution).
    case dateTime(millisecondsSinceEpoch: Int64)
    case list([FieldValue])
    /// Key order is kept as written in the source, so output is deterministic.
    case dictionary([Entry])

    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: FieldValue
        public init(key: String, value: FieldValue) {
            self.key = key
            self.value = value
        }
    }
}

extension FieldValue {
    /// Whether a string or dictionary key in the value holds U+FFFD, the mark of repaired UTF-8.
    public var containsReplacementCharacter: Bool {
        switch self {
        case .string(let text): text.unicodeScalars.contains("\u{FFFD}")
        case .list(let items): items.contains { $0.containsReplacementCharacter }
        case .dictionary(let entries):
            entries.contains { $0.key.unicodeScalars.contains("\u{FFFD}") || $0.value.containsReplacementCharacter }
        default: false
        }
    }
}

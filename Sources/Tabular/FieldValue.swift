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

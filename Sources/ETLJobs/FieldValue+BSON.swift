import DocumentStore
import Tabular

extension FieldValue {
    /// The BSON form of a coerced cell (integers as the narrowest BSON integer).
    var bsonValue: BSONValue {
        switch self {
        case .null: .null
        case .bool(let value): .bool(value)
        case .int(let value): .integer(value)
        case .double(let value): .double(value)
        case .string(let value): .string(value)
        case .dateTime(let milliseconds): .dateTime(milliseconds)
        case .list(let elements): .array(elements.map(\.bsonValue))
        case .dictionary(let entries): .document(Document(entries.map { Document.Field($0.key, $0.value.bsonValue) }))
        }
    }
}

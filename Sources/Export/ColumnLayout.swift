import DocumentStore

/// The export's columns, in schema property order. The natural key `_id` is written under its
/// source column name (e.g. `genre_id`). Properties that hold arrays or sub-documents are not
/// scalar columns and are left out here rather than dumped as JSON in a cell.
public struct ColumnLayout: Sendable {
    public struct Column: Sendable {
        public var header: String
        public var field: String
    }

    public let columns: [Column]

    public init(schema: EntitySchema) {
        columns = schema.properties.compactMap { property in
            let types = Self.bsonTypes(property.definition["bsonType"])
            guard types.isDisjoint(with: ["array", "object"]) else { return nil }
            let header = property.name == "_id" ? property.columns[0] : property.name
            return Column(header: header, field: property.name)
        }
    }

    static func bsonTypes(_ value: BSONValue?) -> Set<String> {
        switch value {
        case .string(let name)?: [name]
        case .array(let names)?: Set(names.compactMap(\.stringValue))
        default: []
        }
    }
}

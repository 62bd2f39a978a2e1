import DocumentStore

/// The export's columns, in schema property order, with sub-documents flattened
/// (`album.title` → `album_title`). The natural key `_id` is written under its source column name
/// (`track_id`). Arrays are not columns: they are listed in `omitted` (and in the manifest)
/// rather than dumped as JSON into a cell.
public struct ColumnLayout: Sendable {
    public struct Column: Sendable {
        public var header: String
        /// Dotted path in the document.
        public var path: String
        /// The schema's bsonType(s), for the manifest.
        public var types: [String]
    }

    public let columns: [Column]
    public let omitted: [String]
    private let indexByPath: [String: Int]

    public init(schema: EntitySchema) {
        var columns: [Column] = []
        var omitted: [String] = []
        func walk(_ properties: [(String, Document)], prefix: String, headerPrefix: String) {
            for (name, definition) in properties {
                let types = Self.bsonTypes(definition["bsonType"])
                let path = prefix + name
                if types.contains("object"), let nested = definition["properties"]?.documentValue {
                    walk(nested.fields.compactMap { field in field.value.documentValue.map { (field.key, $0) } },
                         prefix: path + ".", headerPrefix: headerPrefix + name + "_")
                } else if types.contains("array") || types.contains("object") {
                    omitted.append(path)
                } else {
                    columns.append(Column(header: headerPrefix + name, path: path, types: types))
                }
            }
        }
        let top = schema.properties.map { property -> (String, Document) in (property.name, property.definition) }
        walk(top, prefix: "", headerPrefix: "")
        if let key = columns.firstIndex(where: { $0.path == "_id" }) {
            columns[key].header = schema.property("_id")?.columns.first ?? "id"
        }
        self.columns = columns
        self.omitted = omitted
        indexByPath = Dictionary(columns.enumerated().map { ($0.element.path, $0.offset) }, uniquingKeysWith: { a, _ in a })
    }

    public func index(ofHeader header: String) -> Int? { columns.firstIndex { $0.header == header } }

    /// The document's values in column order (nil where absent), in one pass over its fields.
    public func row(_ document: Document) -> [BSONValue?] {
        var row = [BSONValue?](repeating: nil, count: columns.count)
        fill(&row, document, prefix: "")
        return row
    }

    private func fill(_ row: inout [BSONValue?], _ document: Document, prefix: String) {
        for field in document {
            let path = prefix.isEmpty ? field.key : prefix + field.key
            if let index = indexByPath[path] {
                row[index] = field.value
            } else if case .document(let nested) = field.value {
                fill(&row, nested, prefix: path + ".")
            }
        }
    }

    static func bsonTypes(_ value: BSONValue?) -> [String] {
        switch value {
        case .string(let name)?: [name]
        case .array(let names)?: names.compactMap(\.stringValue)
        default: []
        }
    }
}

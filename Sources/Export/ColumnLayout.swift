import DocumentStore

/// The export's columns, in schema property order, with sub-documents flattened
/// (`album.title` → `album_title`). The natural key `_id` is written under its source column name
/// (`track_id`). Arrays become columns where a reader can take them as they are:
/// - an array of a fixed length N (`minItems` = `maxItems`) of scalars is N columns numbered from
///   01 (`mfcc.mean` → `mfcc_mean_01 … mfcc_mean_20`);
/// - an array of integers of any length (`genres`, `genres_all`: multi-label id lists) is one
///   list column, `|`-joined ids in CSV (`12|25`) and a real list in JSON Lines.
/// Any other array (strings that may hold `|`, per-frame arrays of arrays) or free-form object is
/// listed in `omitted` (and in the manifest, and named in the job's log) rather than dumped as
/// JSON into a CSV cell; JSON Lines (`keepingNestedValues`) keeps it as it is, as a list or object.
public struct ColumnLayout: Sendable {
    public struct Column: Sendable {
        public var header: String
        /// Dotted path in the document (array elements by index: `mfcc.mean.0`).
        public var path: String
        /// The schema's bsonType(s), for the manifest.
        public var types: [String]
        /// A multi-label list of integers: one cell of `|`-joined values.
        public var isList = false
        /// JSON Lines only: an array or object written as it is.
        public var isNested = false

        /// The type a reader sees, for the manifest: float64, int64, string, bool, datetime,
        /// `int64 list` (`|`-joined in CSV), or mixed (more than one of these).
        public var readerType: String {
            if isList { return "int64 list" }
            if isNested { return types.contains("array") ? "list" : "object" }
            let kinds = Set(types.compactMap { type -> String? in
                switch type {
                case "double", "decimal": "float64"
                case "int", "long": "int64"
                case "string", "objectId": "string"
                case "bool": "bool"
                case "date": "datetime"
                case "null": nil
                default: type
                }
            })
            if kinds == ["float64", "int64"] { return "float64" }
            if kinds.count == 1, let kind = kinds.first { return kind }
            return "mixed"
        }
    }

    public let columns: [Column]
    public let omitted: [String]
    private let indexByPath: [String: Int]

    public init(schema: EntitySchema, keepingNestedValues: Bool = false) {
        var columns: [Column] = []
        var omitted: [String] = []
        func walk(_ properties: [(String, Document)], prefix: String, headerPrefix: String) {
            for (name, definition) in properties {
                let types = Self.bsonTypes(definition["bsonType"])
                let path = prefix + name
                if types.contains("object"), let nested = definition["properties"]?.documentValue {
                    walk(nested.fields.compactMap { field in field.value.documentValue.map { (field.key, $0) } },
                         prefix: path + ".", headerPrefix: headerPrefix + name + "_")
                } else if types.contains("array") {
                    let items = definition["items"]?.documentValue
                    let itemTypes = Self.bsonTypes(items?["bsonType"])
                    let scalar = !itemTypes.isEmpty && !itemTypes.contains { ["array", "object"].contains($0) }
                    if scalar, let length = Self.fixedLength(definition) {
                        let digits = max(2, String(length).count)
                        for index in 0..<length {
                            let number = String(index + 1)
                            columns.append(Column(header: headerPrefix + name + "_" + String(repeating: "0", count: digits - number.count) + number,
                                                  path: path + "." + String(index), types: itemTypes))
                        }
                    } else if scalar, itemTypes.allSatisfy({ ["int", "long"].contains($0) }) {
                        columns.append(Column(header: headerPrefix + name, path: path, types: types, isList: true))
                    } else if keepingNestedValues {
                        columns.append(Column(header: headerPrefix + name, path: path, types: types, isNested: true))
                    } else {
                        omitted.append(path)
                    }
                } else if types.contains("object") {
                    if keepingNestedValues {
                        columns.append(Column(header: headerPrefix + name, path: path, types: types, isNested: true))
                    } else {
                        omitted.append(path)
                    }
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
        self.init(columns: columns, omitted: omitted)
    }

    private init(columns: [Column], omitted: [String]) {
        self.columns = columns
        self.omitted = omitted
        indexByPath = Dictionary(columns.enumerated().map { ($0.element.path, $0.offset) }, uniquingKeysWith: { a, _ in a })
    }

    /// Only the named columns (headers, or dotted source paths), in the order given
    /// (mongoexport's `--fields`). Throws naming an unknown field and the closest columns.
    public func selecting(_ fields: [String]) throws(ExportError) -> ColumnLayout {
        var selected: [Column] = []
        for field in fields {
            guard let column = columns.first(where: { $0.header == field || $0.path == field }) else {
                throw ExportError("--fields: \(field) is not a column\(Self.suggestion(for: field, among: columns.map(\.header)))")
            }
            if !selected.contains(where: { $0.path == column.path }) { selected.append(column) }
        }
        let dropped = Set(columns.map(\.path)).subtracting(selected.map(\.path))
        return ColumnLayout(columns: selected, omitted: omitted + columns.map(\.path).filter { dropped.contains($0) })
    }

    public func index(ofHeader header: String) -> Int? { columns.firstIndex { $0.header == header } }

    /// The column of a header or a source path.
    public func column(named name: String) -> Column? { columns.first { $0.header == name || $0.path == name } }

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
            } else if case .array(let items) = field.value {
                // Elements of a flattened fixed-length array are addressed by index.
                fill(&row, Document(items.enumerated().map { Document.Field(String($0.offset), $0.element) }), prefix: path + ".")
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

    private static func fixedLength(_ definition: Document) -> Int? {
        guard let minimum = definition["minItems"]?.int64Value, let maximum = definition["maxItems"]?.int64Value,
              minimum == maximum, minimum > 0, minimum <= 1000 else { return nil }
        return Int(minimum)
    }

    /// "; did you mean a, b or c?" with the names closest to `name` by edit distance (at most
    /// three: those within half its length, or that it begins or that begin with it), or "".
    public static func suggestion(for name: String, among names: [String]) -> String {
        let scored = names.map { (name: $0, distance: EditDistance.between(name.lowercased(), $0.lowercased())) }
        let limit = max(2, name.count / 2)
        let lowered = name.lowercased()
        let close = scored.filter { $0.distance <= limit || $0.name.lowercased().hasPrefix(lowered) || lowered.hasPrefix($0.name.lowercased()) }
            .sorted { ($0.distance, $0.name) < ($1.distance, $1.name) }
            .prefix(3).map(\.name)
        guard let last = close.last else { return "" }
        if close.count == 1 { return "; did you mean \(last)?" }
        return "; did you mean \(close.dropLast().joined(separator: ", ")) or \(last)?"
    }
}

/// Levenshtein distance (insertions, deletions, substitutions), over Unicode scalars.
enum EditDistance {
    static func between(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

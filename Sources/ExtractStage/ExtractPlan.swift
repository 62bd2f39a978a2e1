import DocumentStore
import Pipeline
import Tabular

/// How one schema turns CSV columns into a document, compiled once from the schema file (no column
/// list lives in Swift): one `Leaf` per typed property (nested object properties included, one
/// level deep), and the top-level `Node`s in schema order, which is the document's field order.
///
/// Schema keywords read here (all stripped from the MongoDB validator):
/// - `x-columns`: header names the property is read from, in order of preference (aliases);
/// - `x-type`: `int`, `double`, `string`, `bool`, `date-time`, `duration`, `python-literal`, `int-list`;
/// - `x-empty-as`: the value an empty cell stands for (default null);
/// - `x-item-key`: for `int-list`, the key taken from a list of dictionaries (`genre_id`);
/// - `x-lookup` on an object: the entity whose documents complete it by id; `x-lookup-field` on a
///   child: the field of that entity it is completed from (default: the child's own name);
/// - `x-derive`: a derivation applied when the input has no value (`genre-root`, `genre-top`,
///   `genre-ancestors`; see `GenreHierarchy`);
/// - `x-compose` on `_id`: `{"properties": [...], "separator": ":"}`, the id is those properties'
///   coerced values (an integer as its digits: position `01` → `1`) joined by the separator, and
///   is read from no column of its own (MSSD's play: `<session_id>:<session_position>`); the rows
///   must come grouped by the id's parts but the last, in ascending order, each group in one
///   file (`GroupedIDCheck`: the duplicate check then holds one group);
/// - `x-on-invalid`: what a value that fails to parse or check does to its row, on the schema
///   (every optional property) or on one property (overrides the schema's): `null` (the default
///   for optional properties) keeps the row with the value null and reports it in the repairs
///   file; `reject` quarantines the row. The id and required properties always reject.
/// Validator keywords also checked during extraction: `required`, `minimum`, `maximum`, `enum`,
/// and `bsonType` array/object for Python literals.
struct ExtractPlan: Sendable {
    struct Leaf {
        var name: String
        /// `album.title` for a nested property.
        var path: String
        var key: BSONKey
        var columns: [String]
        var cellType: CellType?
        var itemKey: String?
        var emptyValue: FieldValue?
        var isRequired: Bool
        var minimum: Double?
        var maximum: Double?
        var allowed: Set<String>?
        var expectsArray = false
        var expectsObject = false
        var derive: String?
        var lookupField: String?
        /// `x-on-invalid: null`: a value that fails to parse or check becomes null (the row is kept).
        var nullsInvalid = false
        /// A child of an object completed from another entity (`x-lookup`): not reported missing.
        var fromLookup = false
        /// Bound to a header by `bind`.
        var columnIndex: Int?
        var columnName: String?
    }

    struct Object {
        var name: String
        var key: BSONKey
        var lookup: String?
        var children: Range<Int>
    }

    enum Node {
        case leaf(Int)
        case object(Object)
    }

    struct Extra {
        var index: Int
        /// The header name as written, and the key it is kept under in `extra` (`extraKey`).
        var name: String
        var keyName: String
        var key: BSONKey
    }

    /// The sub-document that holds a row's columns no property claims: header names are data,
    /// so they never become top-level keys (an empty, `$`-prefixed or dotted name, or one such
    /// as `_id`, would make a document the server refuses or one that clashes with the load's).
    static let extraField = "extra"
    let extraKey = BSONKey(Self.extraField)

    let schema: EntitySchema
    var leaves: [Leaf] = []
    var nodes: [Node] = []
    var extras: [Extra] = []
    var idLeaf: Int

    /// `x-compose` of the id: the leaves whose coerced values, joined by `separator`, make it.
    struct Composition: Sendable {
        var leaves: [Int]
        var separator: String
    }
    var idComposition: Composition?

    /// The id's column for messages: its header name, the composed properties (`session_id+session_position`), or `_id`.
    var idColumnDescription: String {
        if let name = leaves[idLeaf].columnName { return name }
        if let idComposition { return idComposition.leaves.map { leaves[$0].columnName ?? leaves[$0].name }.joined(separator: "+") }
        return "_id"
    }

    init(schema: EntitySchema) throws {
        self.schema = schema
        var idLeaf: Int?
        let schemaPolicy = try Self.onInvalid(schema.document, at: "the schema", schema: schema) ?? .null
        for property in schema.properties {
            let definition = property.definition
            if let children = definition["properties"]?.documentValue {
                let start = leaves.count
                for child in children {
                    guard let childDefinition = child.value.documentValue else {
                        throw JobError(.usage, "schema \(schema.path): property \(property.name).\(child.key) is not an object")
                    }
                    var leaf = try Self.leaf(name: child.key, path: property.name + "." + child.key,
                                             definition: childDefinition, isRequired: false, schema: schema)
                    leaf.fromLookup = definition["x-lookup"] != nil
                    let policy = try Self.onInvalid(childDefinition, at: leaf.path, schema: schema)
                        ?? Self.onInvalid(definition, at: property.name, schema: schema) ?? schemaPolicy
                    leaf.nullsInvalid = policy == .null
                    leaves.append(leaf)
                }
                nodes.append(.object(Object(name: property.name, key: BSONKey(property.name),
                                            lookup: definition["x-lookup"]?.stringValue, children: start..<leaves.count)))
            } else {
                if property.name == "_id" { idLeaf = leaves.count }
                var leaf = try Self.leaf(name: property.name, path: property.name, definition: definition,
                                         isRequired: property.isRequired, schema: schema)
                let own = try Self.onInvalid(definition, at: property.name, schema: schema)
                if leaf.isRequired || property.name == "_id" {
                    if own == .null {
                        throw JobError(.usage, "schema \(schema.path): property \(property.name) is required (or the id): x-on-invalid null cannot apply to it")
                    }
                } else {
                    leaf.nullsInvalid = (own ?? schemaPolicy) == .null
                }
                leaves.append(leaf)
                nodes.append(.leaf(leaves.count - 1))
            }
        }
        guard let idLeaf else { throw JobError(.usage, "schema \(schema.path): no _id property") }
        if schema.properties.contains(where: { $0.name == Self.extraField }) {
            throw JobError(.usage, "schema \(schema.path): property \(Self.extraField) is reserved for the columns no property claims")
        }
        self.idLeaf = idLeaf
        if let compose = schema.properties.first(where: { $0.name == "_id" })?.definition["x-compose"] {
            idComposition = try Self.composition(compose, leaves: leaves, schema: schema)
            // Read from no column: a column called `_id` stays an extra.
            leaves[idLeaf].columns = []
        }
    }

    /// Parses `x-compose`: top-level typed properties other than the id, and a separator.
    private static func composition(_ value: BSONValue, leaves: [Leaf], schema: EntitySchema) throws -> Composition {
        let problem = "schema \(schema.path): x-compose of _id must be {\"properties\": [names of typed top-level properties], \"separator\": \"text\"}"
        guard let definition = value.documentValue, let names = definition["properties"]?.arrayValue, !names.isEmpty,
              let separator = definition["separator"]?.stringValue else { throw JobError(.usage, problem) }
        var parts: [Int] = []
        for name in names {
            guard let name = name.stringValue, name != "_id",
                  let leaf = leaves.firstIndex(where: { $0.path == name && $0.cellType != nil }) else {
                throw JobError(.usage, problem + "; \(names.map { $0.stringValue ?? "?" }) names no such property")
            }
            parts.append(leaf)
        }
        // The duplicate check splits an id at its last separator into a group (the session) and
        // a member (the position): that split is only unambiguous for a non-empty separator, two
        // parts or more, and an integer last part (which cannot hold the separator).
        guard parts.count >= 2, !separator.isEmpty, leaves[parts[parts.count - 1]].cellType == .int else {
            throw JobError(.usage, problem + "; at least two properties, a non-empty separator, and an integer last property (the member within its group)")
        }
        return Composition(leaves: parts, separator: separator)
    }

    enum InvalidValuePolicy: String { case null, reject }

    /// The `x-on-invalid` keyword of `definition`, if it has one.
    private static func onInvalid(_ definition: Document, at place: String, schema: EntitySchema) throws -> InvalidValuePolicy? {
        guard let value = definition["x-on-invalid"] else { return nil }
        guard let text = value.stringValue, let policy = InvalidValuePolicy(rawValue: text) else {
            throw JobError(.usage, "schema \(schema.path): x-on-invalid of \(place) must be \"null\" or \"reject\"")
        }
        return policy
    }

    private static func leaf(name: String, path: String, definition: Document, isRequired: Bool,
                             schema: EntitySchema) throws -> Leaf {
        var cellType: CellType?
        if let typeName = definition["x-type"]?.stringValue {
            guard let type = CellType(rawValue: typeName) else {
                throw JobError(.usage, "schema \(schema.path): property \(path) has unknown x-type \(typeName) (known: \(CellType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            cellType = type
        }
        let columns = (definition["x-columns"]?.arrayValue ?? []).compactMap(\.stringValue)
        let bsonTypes: [String] = definition["bsonType"].map { value in
            value.arrayValue?.compactMap(\.stringValue) ?? value.stringValue.map { [$0] } ?? []
        } ?? []
        let allowed = definition["enum"]?.arrayValue.map { Set($0.compactMap(\.stringValue)) }
        return Leaf(name: name, path: path, key: BSONKey(name),
                    columns: columns.isEmpty && cellType != nil ? [name] : columns,
                    cellType: cellType, itemKey: definition["x-item-key"]?.stringValue,
                    emptyValue: definition["x-empty-as"].flatMap(FieldValue.init(bson:)),
                    isRequired: isRequired, minimum: definition["minimum"]?.doubleValue,
                    maximum: definition["maximum"]?.doubleValue, allowed: allowed,
                    expectsArray: cellType == .pythonLiteral && bsonTypes.contains("array") && !bsonTypes.contains("object"),
                    expectsObject: cellType == .pythonLiteral && bsonTypes.contains("object") && !bsonTypes.contains("array"),
                    derive: definition["x-derive"]?.stringValue,
                    lookupField: definition["x-lookup-field"]?.stringValue)
    }

    struct Binding {
        var missingRequired: [Leaf] = []
        var missingOptional: [String] = []
        /// (alias used, the property's first column name, property path)
        var aliases: [(String, String, String)] = []
        var unknown: [String] = []
    }

    /// Maps header columns to leaves; columns no leaf claims become `extras`, carried as text.
    mutating func bind(header: [String]) -> Binding {
        var binding = Binding()
        var claimed = Set<Int>()
        var firstIndex: [String: Int] = [:]
        for (index, name) in header.enumerated() where firstIndex[name] == nil { firstIndex[name] = index }
        for leafIndex in leaves.indices {
            leaves[leafIndex].columnIndex = nil
            leaves[leafIndex].columnName = nil
            guard leaves[leafIndex].cellType != nil, !(leafIndex == idLeaf && idComposition != nil) else { continue }
            let leaf = leaves[leafIndex]
            if let column = leaf.columns.first(where: { firstIndex[$0] != nil && !claimed.contains(firstIndex[$0]!) }) {
                let index = firstIndex[column]!
                claimed.insert(index)
                leaves[leafIndex].columnIndex = index
                leaves[leafIndex].columnName = column
                if column != leaf.columns[0] && !column.contains(".") && leaf.columns[0].contains("_") {
                    // A raw-file alias (album_year_released for album_date_released) is worth a note;
                    // the tracks.csv spelling (album.title) is simply the other layout.
                    binding.aliases.append((column, leaf.columns[0], leaf.path))
                }
            } else if leaf.isRequired {
                binding.missingRequired.append(leaf)
            } else if leaf.derive == nil && !leaf.fromLookup {
                binding.missingOptional.append(leaf.path)
            }
        }
        var used = Set<String>()
        extras = header.indices.filter { !claimed.contains($0) }.map { index in
            var name = Self.safeKey(header[index], position: index + 1)
            if used.contains(name) {
                var suffix = 2
                while used.contains(name + "_\(suffix)") { suffix += 1 }
                name += "_\(suffix)"
            }
            used.insert(name)
            return Extra(index: index, name: header[index], keyName: name, key: BSONKey(name))
        }
        binding.unknown = extras.map(\.name)
        return binding
    }

    /// A header name as a key of `extra`: an empty name is `column_<position>` (1-based); a
    /// leading `$` becomes `_`, and every `.` and NUL `_`, the characters MongoDB refuses or
    /// reads as paths. Two names that end up equal are told apart by the caller (`_2`, …).
    static func safeKey(_ name: String, position: Int) -> String {
        let trimmed = name.trimmingSpaces
        if trimmed.isEmpty { return "column_\(position)" }
        var key = String(trimmed.map { $0 == "." || $0 == "\0" ? "_" : $0 })
        if key.hasPrefix("$") { key = "_" + key.dropFirst() }
        return key
    }

    /// Leaves other than the id that read a column: what a header is expected to offer.
    var columnLeavesBesideID: [Leaf] {
        leaves.indices.filter { $0 != idLeaf && leaves[$0].cellType != nil && !leaves[$0].columns.isEmpty }.map { leaves[$0] }
    }

    /// True when some leaf of `object` is bound to a column of the current file.
    func hasColumns(_ object: Object) -> Bool {
        object.children.contains { leaves[$0].columnIndex != nil }
    }
}

extension FieldValue {
    init?(bson: BSONValue) {
        switch bson {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .int32(let value): self = .int(Int64(value))
        case .int64(let value): self = .int(value)
        case .double(let value): self = .double(value)
        case .string(let value): self = .string(value)
        default: return nil
        }
    }
}

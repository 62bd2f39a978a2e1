import Foundation

/// One file of `Schemas/`: the single source of truth for an entity's CSV typing (the `x-`
/// keywords) and its MongoDB `$jsonSchema` validator (everything else).
///
/// Parsed with libbson so that property order — which is the export's column order — is kept.
public struct EntitySchema: Sendable {
    public struct Property: Sendable {
        public var name: String
        /// CSV header names this property is read from, in order of preference.
        public var columns: [String]
        /// The CSV cell type (`int`, `double`, `string`, `date-time`, …); nil for computed fields.
        public var cellType: String?
        /// The value an empty cell stands for (e.g. parent 0 for a root genre); nil means null.
        public var emptyValue: BSONValue?
        public var isRequired: Bool
        public var definition: Document
    }

    public let name: String
    public let path: String
    public let collection: String
    public let stagingFile: String
    /// Index specifications for `createIndexes` (`x-indexes`).
    public let indexes: [Document]
    public let properties: [Property]
    public let document: Document

    public init(path: String) throws(SchemaError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SchemaError(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        let document: Document
        do {
            document = try BSONDocument(json: text).document()
        } catch {
            throw SchemaError(path: path, message: "not valid JSON: \(error.message)")
        }
        try self.init(document: document, path: path)
    }

    public init(document: Document, path: String) throws(SchemaError) {
        guard let name = document["title"]?.stringValue else { throw SchemaError(path: path, message: "no \"title\"") }
        guard let properties = document["properties"]?.documentValue else {
            throw SchemaError(path: path, message: "no \"properties\" object")
        }
        let required = Set((document["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        self.name = name
        self.path = path
        self.document = document
        collection = document["x-collection"]?.stringValue ?? name + "s"
        stagingFile = document["x-staging-file"]?.stringValue ?? collection + ".jsonl"
        indexes = (document["x-indexes"]?.arrayValue ?? []).compactMap(\.documentValue)
        var parsed: [Property] = []
        for field in properties {
            guard let definition = field.value.documentValue else {
                throw SchemaError(path: path, message: "property \"\(field.key)\" is not an object")
            }
            let columns = (definition["x-columns"]?.arrayValue ?? []).compactMap(\.stringValue)
            parsed.append(Property(name: field.key, columns: columns.isEmpty ? [field.key] : columns,
                                   cellType: definition["x-type"]?.stringValue,
                                   emptyValue: definition["x-empty-as"],
                                   isRequired: required.contains(field.key), definition: definition))
        }
        let unknownRequired = required.subtracting(parsed.map(\.name))
        guard unknownRequired.isEmpty else {
            throw SchemaError(path: path, message: "required names unknown properties: \(unknownRequired.sorted())")
        }
        self.properties = parsed
    }

    public func property(_ name: String) -> Property? { properties.first { $0.name == name } }

    /// The MongoDB `$jsonSchema`: the file without the annotations MongoDB does not accept
    /// (`$schema`, `$id` and every `x-` keyword, at any depth).
    public var validator: Document { Self.strippingAnnotations(document) }

    static func strippingAnnotations(_ document: Document) -> Document {
        Document(document.fields.compactMap { field in
            if field.key.hasPrefix("x-") || field.key == "$schema" || field.key == "$id" { return nil }
            return Document.Field(field.key, strippingAnnotations(field.value))
        })
    }

    static func strippingAnnotations(_ value: BSONValue) -> BSONValue {
        switch value {
        case .document(let sub): .document(strippingAnnotations(sub))
        case .array(let elements): .array(elements.map(strippingAnnotations))
        default: value
        }
    }
}

public struct SchemaError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "schema \(path): \(message)" }
}

/// The `Schemas/` directory, found once per process.
public struct SchemaCatalog: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func schema(_ name: String) throws(SchemaError) -> EntitySchema {
        try EntitySchema(path: directory + "/" + name + ".schema.json")
    }

    /// Every `*.schema.json` in the directory, sorted by file name.
    public func all() throws(SchemaError) -> [EntitySchema] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw SchemaError(path: directory, message: "cannot list: \(error.localizedDescription)")
        }
        var schemas: [EntitySchema] = []
        for name in names.sorted() where name.hasSuffix(".schema.json") {
            schemas.append(try EntitySchema(path: directory + "/" + name))
        }
        return schemas
    }

    /// The schema whose `x-collection` is `collection`.
    public func schema(forCollection collection: String) throws(SchemaError) -> EntitySchema {
        guard let schema = try all().first(where: { $0.collection == collection }) else {
            throw SchemaError(path: directory, message: "no schema declares x-collection \"\(collection)\"")
        }
        return schema
    }

    /// Where a package installs the schemas; searched when nothing nearer has them.
    public static let systemDirectory = "/usr/share/musicetl/schemas"

    /// Looks for the schemas in this order: an explicit directory (`--schemas` or
    /// `MUSICETL_SCHEMAS`); then beside or above the running executable, as `Schemas/` (a build
    /// keeps it at the package root) or `share/musicetl/schemas/` (an install under a prefix keeps
    /// it beside `bin/`); then `systemDirectory` (the Debian package, whatever the executable's
    /// path); then above the current directory.
    public static func locate(explicit: String? = nil) throws(SchemaError) -> SchemaCatalog {
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        let executableDirectory = URL(fileURLWithPath: Bundle.main.executablePath ?? executable.path)
            .resolvingSymlinksInPath().deletingLastPathComponent()
        return try locate(explicit: explicit ?? ProcessInfo.processInfo.environment["MUSICETL_SCHEMAS"],
                          executableDirectory: executableDirectory.path,
                          systemDirectory: systemDirectory,
                          currentDirectory: FileManager.default.currentDirectoryPath)
    }

    /// `locate(explicit:)` with the places it looks given, for tests.
    public static func locate(explicit: String?, executableDirectory: String, systemDirectory: String,
                              currentDirectory: String) throws(SchemaError) -> SchemaCatalog {
        let marker = "genre.schema.json"
        func holdsSchemas(_ path: String) -> Bool {
            FileManager.default.fileExists(atPath: path + "/" + marker)
        }
        if let explicit, !explicit.isEmpty {
            guard holdsSchemas(explicit) else {
                throw SchemaError(path: explicit, message: "not a Schemas directory (no \(marker))")
            }
            return SchemaCatalog(directory: explicit)
        }
        func searchUpwards(from start: String) -> String? {
            var directory = URL(fileURLWithPath: start).standardizedFileURL
            for _ in 0..<8 {
                for candidate in ["Schemas", "share/musicetl/schemas"] {
                    let path = directory.appendingPathComponent(candidate).path
                    if holdsSchemas(path) { return path }
                }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
            return nil
        }
        if let found = searchUpwards(from: executableDirectory) { return SchemaCatalog(directory: found) }
        if holdsSchemas(systemDirectory) { return SchemaCatalog(directory: systemDirectory) }
        if let found = searchUpwards(from: currentDirectory) { return SchemaCatalog(directory: found) }
        throw SchemaError(path: "Schemas/",
                          message: "not found beside the executable, in \(systemDirectory) or above the current directory; "
                              + "set MUSICETL_SCHEMAS or pass --schemas")
    }
}

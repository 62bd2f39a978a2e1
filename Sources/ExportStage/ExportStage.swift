import DocumentStore
import Export
import Foundation
import Pipeline
import Staging

/// What `etl-export` is asked to do; each default is the command's.
public struct ExportOptions: Sendable {
    public var mongo: MongoTarget
    /// Collection to export.
    public var collection = "training"
    /// Export name (one folder under WORK/exports); nil: the collection's default export.
    public var name: String?
    /// `--where`: a MongoDB filter as a JSON object.
    public var filter: String?
    /// The label column; nil: the schema's `x-label` when the export has that column; "none": no label.
    public var label: String?
    /// Only these columns, in this order (comma-separated headers or dotted paths).
    public var fields: String?
    public var limit: Int?
    /// Row order as a JSON object; nil: `{"_id": 1}`.
    public var sort: String?
    /// "-": the rows to standard output instead of WORK/exports.
    public var out: String?
    public var partitionBy: String?
    public var shards = 0
    public var rowsPerPart = 100_000
    public var maxPartitions = 1000
    /// csv or jsonl.
    public var format = "csv"
    /// Threads formatting CSV rows; nil: all CPUs.
    public var jobs: Int?
    /// `--only`: these ids, as given.
    public var only: Set<String>?

    public init(mongo: MongoTarget = .fromEnvironment) {
        self.mongo = mongo
    }

    /// The options' own defaults, for the command's flags.
    public static let defaults = ExportOptions(mongo: MongoTarget(uri: MongoTarget.defaultURI, database: MongoTarget.defaultDatabase))

    /// Why these options cannot run, in the flags' words; nil when they can.
    public var problem: String? {
        guard ["csv", "jsonl"].contains(format) else { return "--format must be csv or jsonl" }
        guard shards >= 0 else { return "--shards must be 0 or more" }
        guard rowsPerPart > 0 else { return "--rows-per-part must be positive" }
        if let jobs, jobs < 1 { return "--jobs must be at least 1" }
        guard maxPartitions > 0 else { return "--max-partitions must be positive" }
        if let limit, limit < 1 { return "--limit must be at least 1" }
        if let name, let problem = WorkDirectory.exportNameProblem(name) {
            return "--name \"\(name)\" \(problem): an export name is one folder name under WORK/exports"
        }
        if let out {
            guard out == "-" else { return "--out takes '-' (standard output); exports to files go to WORK/exports/<--name>" }
            if partitionBy != nil || shards > 0 { return "--out - writes one stream: leave out --partition-by and --shards" }
        }
        return nil
    }
}

/// `etl-export`: a MongoDB collection (default `training`) → `WORK/exports/<name>/`:
/// `output.csv` (or `.jsonl`), Hive-style partitions, stratified shards, `manifest.json` (every
/// column's type and role), `class_map.json` and, for scaled training rows, `scaler.json`.
public struct ExportStage: Sendable {
    public static let jobName = "etl-export"

    public static func run(_ options: ExportOptions, context: JobContext) async throws -> JobSummary {
        try ExportStage(options: options, common: context.options, catalog: try context.schemaCatalog()).execute(context)
    }

    let options: ExportOptions
    /// The run's common flags (`--dry-run`, `--schemas`).
    let common: CommonOptions
    /// The run's dataset's schemas.
    let catalog: SchemaCatalog

    var mongo: MongoTarget { options.mongo }
    var collection: String { options.collection }
    var name: String? { options.name }
    var filter: String? { options.filter }
    var label: String? { options.label }
    var fields: String? { options.fields }
    var limit: Int? { options.limit }
    var sort: String? { options.sort }
    var out: String? { options.out }
    var partitionBy: String? { options.partitionBy }
    var shards: Int { options.shards }
    var rowsPerPart: Int { options.rowsPerPart }
    var maxPartitions: Int { options.maxPartitions }
    var format: String { options.format }
    var jobs: Int? { options.jobs }

    private var toStandardOutput: Bool { out == "-" }

    /// The default export's name: the collection; a JSON Lines export gets its own folder so
    /// it never replaces the CSV export (and its output.csv) that readers expect there.
    private static func defaultName(collection: String, format: String) -> String {
        format == "csv" ? collection : "\(collection)-jsonl"
    }

    /// Refuses (64) a narrowed export without a name of its own, and a `--name` that is the
    /// default export of some catalog collection unless this is that full default export.
    private func checkName(narrowing: [String]) throws {
        guard !toStandardOutput else { return }
        let ownDefault = Self.defaultName(collection: collection, format: format)
        if name == nil || name == ownDefault, let first = narrowing.first {
            throw JobError(.usage, "\(first) narrows the export: give it its own --name (the default export WORK/exports/\(ownDefault) is replaced only by a full export)")
        }
        guard let name, name != ownDefault else { return }
        let collections = try catalog.all().map(\.collection)
        for other in collections {
            for otherFormat in ["csv", "jsonl"] where Self.defaultName(collection: other, format: otherFormat) == name {
                let kind = otherFormat == "csv" ? "CSV" : "JSON Lines"
                throw JobError(.usage, "--name \(name) is the default export of collection \(other) (WORK/exports/\(name)), replaced only by the full \(kind) export of \(other): choose another name")
            }
        }
    }

    func execute(_ context: JobContext) throws -> JobSummary {
        let schema = try catalog.schema(forCollection: collection)
        var layout = ColumnLayout(schema: schema, keepingNestedValues: format == "jsonl")
        let defaultLabel = try schemaLabel(schema, layout: layout)
        if let fields {
            do {
                layout = try layout.selecting(fields.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
            } catch {
                throw JobError(.usage, error.description)
            }
        }
        var query: Document = [:]
        if let filter { query = try QueryText.filter(filter, flag: "--where", layout: layout) }
        if let ids = options.only {
            // Sorted, so the manifest's query is the same for the same ids.
            let only: Document = ["_id": .document(["$in": .array(ids.sorted().map(OnlyIDs.idValue))])]
            // Both conditions hold: --where may itself name _id.
            query = query.fields.isEmpty ? only : ["$and": .array([.document(query), .document(only)])]
        }
        let order: Document = try sort.map { try QueryText.sortOrder($0, layout: layout) } ?? ["_id": 1]
        let narrowing = [filter.map { _ in "--where" }, options.only.map { _ in "--only" }, fields.map { _ in "--fields" },
                         limit.map { _ in "--limit" }].compactMap { $0 }
        try checkName(narrowing: narrowing)
        let labelColumn = try resolveLabel(layout, schemaLabel: defaultLabel)
        let codedColumns = try classMapColumns(schema, layout: layout, label: labelColumn)
        if let field = partitionBy, layout.index(ofHeader: field) == nil {
            throw JobError(.usage, "--partition-by \(field) is not a column of this export\(ColumnLayout.suggestion(for: field, among: layout.columns.map(\.header)))")
        }

        let connection = try mongo.connect(job: Self.jobName, logger: context.logger)
        let client = try connection.client()
        // Before anything reads or writes: a typo'd --db or --collection must not create them
        // (the run ledger would create the database).
        try requireCollection(client)
        context.recorder.useMongo(connection, database: mongo.database)

        var findOptions: Document = ["sort": .document(order)]
        if let limit { findOptions["limit"] = .integer(limit) }
        let cursor = try client.collection(collection, database: mongo.database).find(query, options: findOptions)
        var options = ExportWriter.Options()
        options.format = format
        options.partitionBy = partitionBy
        options.shards = shards
        options.rowsPerPart = rowsPerPart
        if let jobs { options.workers = jobs }
        options.maxPartitions = maxPartitions
        options.labelColumn = labelColumn
        options.roles = try roles(layout, label: labelColumn, categorical: Set(codedColumns.map(\.header)),
                                  numbersAreFeatures: schema.document["x-scaler-collection"] != nil, schema: schema)
        options.standardOutput = toStandardOutput
        let exportName = name ?? Self.defaultName(collection: collection, format: format)
        let directory = context.work.export(named: exportName)
        if let labelColumn {
            options.previousClassMap = previousClassMap(label: labelColumn, in: [directory, context.work.export(named: collection)])
        }
        var summary = JobSummary()
        if context.options.dryRun {
            var rows = 0
            while try nextDocument(cursor) != nil { rows += 1 }
            if rows == 0 { throw nothingMatches(query) }
            summary.count("rows would export", rows)
            return summary
        }
        let previousCodes = [directory, context.work.export(named: collection)].lazy
            .compactMap { ClassCodes.read(path: $0.appendingPathComponent(ClassCodes.fileName).path) }.first ?? [:]
        options.classCodes = try classCodes(codedColumns, previous: previousCodes, client: client, query: query)
        if toStandardOutput, !options.classCodes.isEmpty {
            // No folder, so no class_maps.json: the codes go to the log, so nothing is lost.
            let text = try ClassCodes.text(options.classCodes, columns: codedColumns.map(\.header))
            context.logger.info("--out - writes no class_maps.json; the class codes of this stream: \(text.replacingOccurrences(of: "\n", with: " "))")
        }
        let writer: ExportWriter
        do {
            writer = try ExportWriter(directory: directory, layout: layout, options: options)
        } catch let error as ExportError {
            throw JobError(.usage, error.description)
        }
        let progress = ProgressBar(label: Self.jobName, unit: "rows", logger: context.logger)
        defer { progress.finish() }
        if progress.isEnabled && !toStandardOutput {
            let total = try? client.collection(collection, database: mongo.database).countDocuments(query)
            progress.update(done: 0, total: total.map { Int(min($0, Int64(limit ?? Int.max))) })
        }
        do {
            while let document = try nextDocument(cursor) {
                try writer.write(document)
                if writer.rows % 1000 == 0 { progress.update(done: writer.rows) }
            }
            progress.update(done: writer.rows)
            if writer.rows == 0 { throw nothingMatches(query) }
            try writer.finishRows()
            if let labelColumn, writer.unlabelledRows == writer.rows {
                throw noLabelledRow(unlabelled: writer.unlabelledRows, label: labelColumn, schema: schema,
                                    isSchemaLabel: labelColumn == defaultLabel, query: query)
            }
            var manifest: Document = [
                "collection": .string(collection), "database": .string(mongo.database),
                "query": .document(query), "sort": .document(order), "limit": limit.map { .integer($0) } ?? .null,
                "run_id": .string(context.runID), "musicetl_version": .string(MusicETL.version),
            ]
            var attachments: [(name: String, text: String)] = []
            // A training-row schema names the collection its scalers are loaded into.
            let scalers = schema.document["x-scaler-collection"]?.stringValue
            let scaled = scalers != nil && options.roles.values.contains("feature")
            if scaled, let scalers, !toStandardOutput,
               let scaler = try scalerFile(client: client, scalers: scalers, query: query, layout: layout, context: context) {
                attachments.append(("scaler.json", scaler.text))
                manifest["scaler"] = .document(["file": "scaler.json", "versions": .array(scaler.versions)])
                manifest["scaler_versions"] = .array(scaler.versions)
            } else {
                manifest["scaler"] = .null
                manifest["features_scaled"] = .bool(scaled)
            }
            let files = try writer.commit(manifest: manifest, attachments: attachments)
            summary.outputs = files
        } catch let error as ExportError {
            writer.abandon()
            throw JobError(error.isDataError ? .dataError : .usage, error.description)
        } catch {
            writer.abandon()
            throw error
        }
        let written = writer.rows - writer.unlabelledRows
        let nonFinite = writer.nonFiniteCounts.reduce(0, +)
        summary.count("rows", written)
        if let labelColumn {
            summary.count("rows without \(labelColumn)", writer.unlabelledRows)
            summary.count("classes", writer.classMap.count)
        }
        summary.count("columns", layout.columns.count)
        summary.count("non-finite cells left empty", nonFinite)
        if !layout.omitted.isEmpty {
            context.logger.warning("not exported (arrays of text or of arrays, or left out by --fields): \(layout.omitted.joined(separator: ", ")); see manifest.json \"omitted\"")
        }
        if let labelColumn, writer.unlabelledRows > 0 {
            context.logger.warning("\(writer.unlabelledRows) rows have no \(labelColumn): \(toStandardOutput ? "left out of the stream" : "written to \(directory.path)/unlabelled.\(format), not to output, partitions or shards")")
        }
        if nonFinite > 0 {
            context.logger.warning("\(nonFinite) non-finite numbers (NaN, ±inf) written as empty cells (missing); per column in manifest.json \"non_finite\"")
        }
        let destination = toStandardOutput ? "standard output" : "\(directory.path)/output.\(format)"
        context.logger.info("wrote \(written) rows × \(layout.columns.count) columns to \(destination)")
        return summary
    }

    /// The cursor's next document; a query the server refuses is a usage error in its words.
    private func nextDocument(_ cursor: MongoCursor) throws -> BorrowedBSON? {
        let result = Result { () throws(MongoError) -> BorrowedBSON? in try cursor.nextBorrowed() }
        if case .failure(let error) = result, error.kind == .server {
            throw JobError(.usage, "the server refused the query (--where/--sort): \(error.message)")
        }
        return try result.get()
    }

    private func nothingMatches(_ query: Document) -> JobError {
        let what = query.fields.isEmpty ? "collection \(mongo.database).\(collection) is empty"
            : "no document of \(mongo.database).\(collection) matches \((try? BSONDocument(query).relaxedExtendedJSON) ?? "the query")"
        return JobError(.dataError, "\(what): nothing exported, the previous export is untouched")
    }

    /// A labelled export whose every row lacks the label would train nothing: it is a broken input
    /// (a renamed or empty label source column), not a night's data, so the previous export stays.
    /// The schema's `x-label-source` says where its label comes from; that is the advice only for
    /// the schema's label over the whole collection. Another label, or a narrowed export
    /// (--where, --only, --limit), may just have picked rows without one: the query is named.
    private func noLabelledRow(unlabelled: Int, label: String, schema: EntitySchema, isSchemaLabel: Bool,
                               query: Document) -> JobError {
        let advice: String
        if isSchemaLabel, query.fields.isEmpty, limit == nil {
            advice = "check " + (schema.document["x-label-source"]?.stringValue ?? "the input \(label) is derived from")
        } else {
            let narrowing = query.fields.isEmpty ? "" : " matching \((try? BSONDocument(query).relaxedExtendedJSON) ?? "the query")"
            let limited = limit.map { " (--limit \($0))" } ?? ""
            advice = "the rows\(narrowing)\(limited) have no \(label): choose other rows or another --label, or export them unlabelled with --label none"
        }
        return JobError(.dataError, "\(unlabelled) rows without \(label) and none with one in \(mongo.database).\(collection): \(advice); nothing exported, the previous export is untouched")
    }

    /// The schema's default label (`"x-label": "<column>"` at its top), checked against the
    /// collection's full column layout: a name that is no single-valued column is a mistake in
    /// the schema (exit 64), not a reason to export without a label.
    private func schemaLabel(_ schema: EntitySchema, layout: ColumnLayout) throws -> String? {
        guard let value = schema.document["x-label"] else { return nil }
        guard let name = value.stringValue else {
            throw JobError(.usage, "schema \(schema.path): x-label must be the name of a column")
        }
        guard let column = layout.column(named: name), !column.isList, !column.isNested else {
            throw JobError(.usage, "schema \(schema.path): x-label \(name) is not a single-valued column of collection \(schema.collection)\(ColumnLayout.suggestion(for: name, among: layout.columns.map(\.header)))")
        }
        return column.header
    }

    /// The label column: `--label` (must be a column; `none` for no label), else the schema's
    /// `x-label` when the export has that column (`--fields` may leave it out: then no label).
    /// A collection whose schema names no label is exported without one unless `--label` asks.
    private func resolveLabel(_ layout: ColumnLayout, schemaLabel: String?) throws -> String? {
        guard let label else { return schemaLabel.flatMap { layout.index(ofHeader: $0) == nil ? nil : $0 } }
        if label == "none" { return nil }
        guard let column = layout.column(named: label) else {
            throw JobError(.usage, "--label \(label) is not a column of this export\(ColumnLayout.suggestion(for: label, among: layout.columns.filter { !$0.isList }.map(\.header)))")
        }
        guard !column.isList else {
            throw JobError(.usage, "--label \(label) is a multi-label list: choose a single-valued column")
        }
        return column.header
    }

    /// The columns a schema marks `"x-encode": "class-map"` (string properties, written as
    /// integer codes with class_maps.json), in export order; never the label, which
    /// class_map.json numbers. A misspelt keyword value or a non-string property exits 64.
    private func classMapColumns(_ schema: EntitySchema, layout: ColumnLayout, label: String?) throws -> [ColumnLayout.Column] {
        var coded: [ColumnLayout.Column] = []
        for column in layout.columns where column.header != label {
            guard let definition = Self.definition(in: schema, path: column.path), let encoding = definition["x-encode"] else { continue }
            guard encoding.stringValue == "class-map" else {
                throw JobError(.usage, "schema \(schema.path): \(column.path) has x-encode \(encoding.stringValue ?? "that is not text"); the one encoding is \"class-map\"")
            }
            guard column.types.contains("string"), !column.isList, !column.isNested else {
                throw JobError(.usage, "schema \(schema.path): \(column.path) is marked x-encode class-map but is not a text property")
            }
            coded.append(column)
        }
        return coded
    }

    /// A property's schema definition by its dotted path (through nested `properties`).
    private static func definition(in schema: EntitySchema, path: String) -> Document? {
        let parts = path.split(separator: ".").map(String.init)
        guard let first = parts.first, var definition = schema.property(first)?.definition else { return nil }
        for part in parts.dropFirst() {
            guard let next = definition["properties"]?.documentValue?[part]?.documentValue else { return nil }
            definition = next
        }
        return definition
    }

    /// Each class-map column's codes: the previous export's (`previous`, from its
    /// class_maps.json) extended with every class the query's rows hold (`distinct`, before any
    /// row is written, so a first export codes the classes in sorted order). A value that is not
    /// text is bad data (65).
    private func classCodes(_ columns: [ColumnLayout.Column], previous: [String: [String: Int]], client: MongoClient,
                            query: Document) throws -> [String: [String: Int]] {
        var maps: [String: [String: Int]] = [:]
        for column in columns {
            let reply = try client.runCommand(["distinct": .string(collection), "key": .string(column.path), "query": .document(query)],
                                              database: mongo.database, idempotent: true)
            var classes: [String] = []
            for value in reply["values"]?.arrayValue ?? [] {
                switch value {
                case .null: continue
                case .string(let text): classes.append(text)
                default:
                    throw JobError(.dataError, "\(mongo.database).\(collection): \(column.path) holds \(CellText.of(value)), not text, but the schema marks it x-encode class-map: nothing exported, the previous export is untouched")
                }
            }
            let extended = ClassMap.extended(previous[column.header] ?? [:], with: classes)
            maps[column.header] = Dictionary(uniqueKeysWithValues: extended.map { ($0.label, $0.index) })
        }
        return maps
    }

    /// Each column's role: id (the key), label (the label column and multi-label lists), split,
    /// categorical (class-map columns, written as codes), feature (the audio feature statistics:
    /// mfcc_*, spectral_centroid_*, zcr_*; and with `numbersAreFeatures` — a training-row schema,
    /// one that names its label — every other number or boolean), partition_key (--partition-by,
    /// when none of these), other (metadata such as subset or scaler_version, text, dates).
    /// A property the schema marks `"x-role": "outcome"` (observed during or after the event the
    /// label is about, such as MSSD's seek counts: a model that reads it learns the label from
    /// itself) or `"other"` has that role, unless it is the id, the label or the split.
    private func roles(_ layout: ColumnLayout, label: String?, categorical: Set<String>,
                       numbersAreFeatures: Bool, schema: EntitySchema) throws -> [String: String] {
        let features = Set(FeatureVector.names)
        var roles: [String: String] = [:]
        for column in layout.columns {
            let declared = Self.definition(in: schema, path: column.path)?["x-role"]
            if let declared, !["outcome", "other"].contains(declared.stringValue ?? "") {
                throw JobError(.usage, "schema \(schema.path): \(column.path) has x-role \(declared.stringValue ?? "that is not text"); the roles a schema may declare are \"outcome\" and \"other\"")
            }
            roles[column.header] =
                if column.path == "_id" { "id" }
                else if column.header == label || column.isList { "label" }
                else if column.header == "split" || column.path == "set.split" { "split" }
                else if let role = declared?.stringValue { role }
                else if categorical.contains(column.header) { "categorical" }
                else if features.contains(column.header) && column.readerType == "float64" { "feature" }
                else if numbersAreFeatures && ["float64", "int64", "bool"].contains(column.readerType) { "feature" }
                else if column.header == partitionBy { "partition_key" }
                else { "other" }
        }
        return roles
    }

    /// Exit 65 naming what is missing when the database or the collection does not exist, found
    /// with listCollections (which creates nothing), with the closest names.
    private func requireCollection(_ client: MongoClient) throws {
        let collections = try collectionNames(client, database: mongo.database)
        if collections.isEmpty {
            let databases = (try? client.runCommand(["listDatabases": 1, "nameOnly": true], database: "admin", idempotent: true))?["databases"]?
                .arrayValue?.compactMap { $0.documentValue?["name"]?.stringValue } ?? []
            throw JobError(.dataError, "database \(mongo.database) does not exist (or holds no collection) on \(client.serverDescription)\(ColumnLayout.suggestion(for: mongo.database, among: databases)): nothing exported, created or changed")
        }
        if !collections.contains(collection) {
            throw JobError(.dataError, "collection \(collection) does not exist in database \(mongo.database)\(ColumnLayout.suggestion(for: collection, among: collections)) (collections: \(collections.sorted().joined(separator: ", "))): nothing exported")
        }
    }

    private func collectionNames(_ client: MongoClient, database: String) throws -> [String] {
        let reply = try client.runCommand(["listCollections": 1, "nameOnly": true], database: database, idempotent: true)
        let batch = reply["cursor"]?.documentValue?["firstBatch"]?.arrayValue ?? []
        return batch.compactMap { $0.documentValue?["name"]?.stringValue }
    }

    /// The class map of the last export of this label: this export's own, else the default export's
    /// (so a named export numbers classes as the default one does).
    private func previousClassMap(label: String, in directories: [URL]) -> [String: Int] {
        for directory in directories {
            let path = directory.appendingPathComponent("class_map.json").path
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let document = try? BSONDocument(json: text).document(),
                  document["label"]?.stringValue == label,
                  let classes = document["classes"]?.documentValue else { continue }
            var map: [String: Int] = [:]
            for field in classes.fields { if let index = field.value.int64Value { map[field.key] = Int(index) } }
            return map
        }
        return [:]
    }

    /// `scaler.json`: the scaler(s) the exported rows were scaled with, from the collection
    /// etl-load fills (`scalers`, the schema's `x-scaler-collection`): the versions the rows name (`scaler_version`) if they do, else
    /// every scaler in the database (normally one). Nil when there is none. A version the rows
    /// name that `scalers` lacks is bad data (exit 65): the rows could not be scaled back.
    private func scalerFile(client: MongoClient, scalers collectionName: String, query: Document, layout: ColumnLayout,
                            context: JobContext) throws -> (text: String, versions: [BSONValue])? {
        let reply = try client.runCommand(["distinct": .string(collection), "key": "scaler_version", "query": .document(query)],
                                          database: mongo.database, idempotent: true)
        let named = (reply["values"]?.arrayValue ?? []).filter { $0 != .null }
        var filter: Document = [:]
        if !named.isEmpty { filter["_id"] = .document(["$in": .array(named)]) }
        let cursor = try client.collection(collectionName, database: mongo.database).find(filter, options: ["sort": .document(["_id": 1])])
        var scalers: [Document] = []
        while let document = try cursor.next() { scalers.append(ScalerFile.describe(document, columns: layout.columns.map(\.header))) }
        let found = scalers.compactMap { $0["version"] }
        let missing = named.filter { !found.contains($0) }
        if !missing.isEmpty {
            let versions = missing.map { $0.stringValue ?? "\($0)" }.joined(separator: ", ")
            throw JobError(.dataError, "the exported rows name scaler_version \(versions), which \(mongo.database).\(collectionName) does not hold (re-run etl-normalize and etl-load): nothing exported, the previous export is untouched")
        }
        guard !scalers.isEmpty else {
            context.logger.warning("no scaler in \(mongo.database).\(collectionName): the export has no scaler.json (run etl-normalize and etl-load)")
            return nil
        }
        if scalers.count > 1 {
            context.logger.warning("the rows were scaled with \(scalers.count) scalers (or the database holds several): scaler.json lists them all under \"scalers\"")
        }
        let body: Document = scalers.count == 1 ? scalers[0] : ["scalers": .array(scalers.map { .document($0) })]
        return (try BSONDocument(body).relaxedExtendedJSON + "\n", scalers.compactMap { $0["version"] })
    }
}

/// `scaler.json`'s shape: what a model needs to scale new audio the way the training rows were.
enum ScalerFile {
    static func describe(_ stored: Document, columns: [String]) -> Document {
        let method = stored["method"]?.stringValue ?? ""
        let parameters = stored["features"]?.documentValue ?? [:]
        let exported = Set(columns)
        let scaledColumns = parameters.fields.map(\.key).filter { exported.contains($0) || exported.isEmpty }
        let formula: String = switch method {
        case "zscore": "scaled = (raw - mean) / std (std is 1 for a feature constant on the training split)"
        case "minmax": "scaled = (raw - min) / range (range is 1 for a feature constant on the training split)"
        default: "see method"
        }
        let fittedOn = stored["fitted_on"]?.documentValue
        // The etl-normalize run that fitted the scaler, when the scaler records it.
        let run = fittedOn?["run_id"]?.stringValue.map(BSONValue.string) ?? .null
        return [
            "version": stored["_id"] ?? .null, "method": .string(method), "formula": .string(formula),
            "columns": .array(scaledColumns.map { .string($0) }),
            "parameters": .document(Document(parameters.fields.filter { scaledColumns.contains($0.key) })),
            "fitted_on": fittedOn.map { .document($0) } ?? .null, "fitting_run": run,
            "musicetl_version": stored["musicetl_version"] ?? .null,
        ]
    }
}

/// `--where` and `--sort` as a user types them: JSON objects, errors in plain words, query
/// operators checked by name, column headers accepted for their dotted paths (`album_title` →
/// `album.title`, `track_id` → `_id`).
enum QueryText {
    /// MongoDB's query operators that work through the export's find.
    static let operators: Set = [
        "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$and", "$or", "$nor", "$not", "$exists", "$type",
        "$regex", "$options", "$elemMatch", "$size", "$all", "$mod", "$expr", "$jsonSchema",
        "$bitsAllSet", "$bitsAnySet", "$bitsAllClear", "$bitsAnyClear",
        // Extended JSON type wrappers a value may use.
        "$date", "$numberLong", "$numberInt", "$numberDouble", "$numberDecimal", "$oid", "$regularExpression",
    ]
    /// Operators refused by name, with the reason.
    static let refused: [String: String] = [
        "$where": "runs JavaScript on the server (often disabled); use $expr or $regex",
        "$text": "needs a text index, which the export's collections do not have; use $regex",
        "$near": "is a geospatial operator; the export's collections hold no coordinates",
        "$nearSphere": "is a geospatial operator; the export's collections hold no coordinates",
        "$geoWithin": "is a geospatial operator; the export's collections hold no coordinates",
        "$geoIntersects": "is a geospatial operator; the export's collections hold no coordinates",
        "$comment": "is a comment, not a filter; leave it out",
    ]

    static func filter(_ text: String, flag: String, layout: ColumnLayout) throws -> Document {
        let document = try object(text, flag: flag, example: "'{\"split\": \"test\"}'")
        try checkOperators(document, flag: flag)
        return renamingHeaders(document, layout: layout)
    }

    static func sortOrder(_ text: String, layout: ColumnLayout) throws -> Document {
        let document = renamingHeaders(try object(text, flag: "--sort", example: "'{\"genre_top\": 1, \"_id\": 1}'"), layout: layout)
        for field in document.fields {
            guard let direction = field.value.int64Value, direction == 1 || direction == -1 else {
                throw JobError(.usage, "--sort: \(field.key) must be 1 (ascending) or -1 (descending)")
            }
        }
        return document
    }

    /// Parses a JSON object, or says in plain words why `text` is not one.
    static func object(_ text: String, flag: String, example: String) throws -> Document {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let first = trimmed.first else { throw JobError(.usage, "\(flag) is empty: give a JSON object such as \(example)") }
        guard first == "{" else {
            let kind = first == "[" ? "a list" : first == "\"" ? "a string" : "not JSON"
            throw JobError(.usage, "\(flag) must be a JSON object such as \(example); this is \(kind)")
        }
        if let problem = JSONProblem.find(in: trimmed) {
            throw JobError(.usage, "\(flag) is not valid JSON: \(problem); for example \(example)")
        }
        do {
            // libbson reads {"$regex": …, "$options": …} as the legacy Extended JSON of a regular
            // expression value (and refuses it without $options); a user means the query operator.
            var text = trimmed
            for (name, placeholder) in operatorPlaceholders {
                text = text.replacingOccurrences(of: "\"\(name)\"", with: "\"\(placeholder)\"")
            }
            return restoringOperators(try BSONDocument(json: text).document())
        } catch {
            if let problem = JSONProblem.describe(trimmed) {
                throw JobError(.usage, "\(flag) is not valid JSON: \(problem); for example \(example)")
            }
            // Valid JSON that is not valid Extended JSON (a "$date" of the wrong shape, …).
            throw JobError(.usage, "\(flag) is not valid MongoDB Extended JSON (a $-key with a value of the wrong shape, e.g. \"$date\" needs an ISO 8601 text)")
        }
    }

    private static let operatorPlaceholders = [("$regex", "musicetl-operator-regex"), ("$options", "musicetl-operator-options")]

    private static func restoringOperators(_ document: Document) -> Document {
        func restore(_ value: BSONValue) -> BSONValue {
            switch value {
            case .document(let nested): .document(restoringOperators(nested))
            case .array(let items): .array(items.map(restore))
            default: value
            }
        }
        return Document(document.fields.map { field in
            let key = operatorPlaceholders.first { $0.1 == field.key }?.0 ?? field.key
            return Document.Field(key, restore(field.value))
        })
    }

    /// Refuses an unknown or unsupported `$` operator by name.
    static func checkOperators(_ document: Document, flag: String) throws {
        try checkOperators(in: .document(document), flag: flag)
    }

    private static func checkOperators(in value: BSONValue, flag: String) throws {
        switch value {
        case .document(let nested):
            for field in nested.fields {
                if field.key.hasPrefix("$") {
                    if let reason = refused[field.key] {
                        throw JobError(.usage, "\(flag): \(field.key) is not supported: it \(reason)")
                    }
                    if !operators.contains(field.key) {
                        throw JobError(.usage, "\(flag): \(field.key) is not a MongoDB query operator\(ColumnLayout.suggestion(for: field.key, among: operators.sorted()))")
                    }
                    // $expr holds an aggregation expression, with its own operators.
                    if field.key == "$expr" || field.key == "$jsonSchema" { continue }
                }
                try checkOperators(in: field.value, flag: flag)
            }
        case .array(let items):
            for item in items { try checkOperators(in: item, flag: flag) }
        default:
            break
        }
    }

    /// Top-level (and $and/$or/$nor) keys that are column headers become their document paths.
    static func renamingHeaders(_ document: Document, layout: ColumnLayout) -> Document {
        Document(document.fields.map { field in
            if ["$and", "$or", "$nor"].contains(field.key), case .array(let items) = field.value {
                return Document.Field(field.key, .array(items.map { item in
                    item.documentValue.map { .document(renamingHeaders($0, layout: layout)) } ?? item
                }))
            }
            if let column = layout.columns.first(where: { $0.header == field.key }), !field.key.hasPrefix("$") {
                return Document.Field(column.path, field.value)
            }
            return field
        })
    }
}

/// Finds why a text is not JSON, in words ("line 1, character 2: keys need double quotes").
enum JSONProblem {
    static func find(in text: String) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            return nil
        } catch {
            return describe(text) ?? "it does not parse (check commas between fields and ':' between key and value)"
        }
    }

    /// A small scan for the mistakes people make when typing JSON in a shell; nil when it finds none.
    static func describe(_ text: String) -> String? {
        let characters = Array(text)
        var index = 0
        var depth = 0
        var expectKey = false
        while index < characters.count {
            let character = characters[index]
            let position = "at character \(index + 1)"
            switch character {
            case "{":
                depth += 1
                expectKey = true
            case "}":
                depth -= 1
                if depth < 0 { return "\(position): a '}' closes nothing" }
                expectKey = false
            case "\"":
                // Skip a string.
                index += 1
                while index < characters.count, characters[index] != "\"" {
                    if characters[index] == "\\" { index += 1 }
                    index += 1
                }
                if index >= characters.count { return "a text in double quotes is not closed" }
                expectKey = false
            case "'":
                return "\(position): use double quotes (\"), not single quotes (put the whole value in single quotes for the shell instead)"
            case ",":
                expectKey = depth > 0
                var next = index + 1
                while next < characters.count, characters[next].isWhitespace { next += 1 }
                if next < characters.count, characters[next] == "}" || characters[next] == "]" {
                    return "\(position): a comma before '\(characters[next])' (JSON allows no trailing comma)"
                }
            case _ where character.isLetter || character == "$" || character == "_":
                var end = index
                while end < characters.count, characters[end].isLetter || characters[end].isNumber || "_$.".contains(characters[end]) { end += 1 }
                let word = String(characters[index..<end])
                if expectKey { return "\(position): the key \(word) needs double quotes (\"\(word)\")" }
                if !["true", "false", "null"].contains(word) {
                    return "\(position): \(word) is not a JSON value (text needs double quotes: \"\(word)\")"
                }
                index = end - 1
            case ":":
                expectKey = false
            default:
                break
            }
            index += 1
        }
        if depth > 0 { return "a '{' is not closed (\(depth) missing '}')" }
        return nil
    }
}

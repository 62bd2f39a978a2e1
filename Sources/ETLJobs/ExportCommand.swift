import ArgumentParser
import DocumentStore
import Export
import Foundation
import Pipeline

/// `etl-export`: a MongoDB collection (default `training`) → `WORK/exports/<name>/`:
/// `output.csv` (or `.jsonl`), Hive-style partitions, hash shards and `manifest.json`.
public struct ExportCommand: JobCommand {
    public static let jobName = "etl-export"
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Export a collection (default: training) as flat CSV/JSON Lines, streaming, rows ordered by id, with partitions and a manifest.",
        version: MusicETL.version)

    @OptionGroup public var mongo: MongoOptions

    @Option(name: .long, help: "Collection to export.")
    public var collection = "training"

    @Option(name: .long, help: "Export name: the folder under WORK/exports (default: the collection name).")
    public var name: String?

    @Option(name: .customLong("where"), help: "A MongoDB filter as JSON, e.g. '{\"split\": \"training\"}'.")
    public var filter: String?

    @Option(name: .long, help: "Also write Hive-style partitions by this column (split, genre_top, …).")
    public var partitionBy: String?

    @Option(name: .long, help: "Also write N shards by a stable hash of the id (for data-parallel training).")
    public var shards = 0

    @Option(name: .long, help: "Rows per partition part file.")
    public var rowsPerPart = 100_000

    @Option(name: .long, help: "Refuse --partition-by when the field has more distinct values than this (a folder and an open file each).")
    public var maxPartitions = 1000

    @Option(name: .long, help: "csv or jsonl.")
    public var format = "csv"

    @Option(name: .long, help: "Threads formatting CSV rows (default: all CPUs).")
    public var jobs: Int?

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func validate() throws {
        guard ["csv", "jsonl"].contains(format) else { throw ValidationError("--format must be csv or jsonl") }
        guard shards >= 0 else { throw ValidationError("--shards must be 0 or more") }
        guard rowsPerPart > 0 else { throw ValidationError("--rows-per-part must be positive") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        guard maxPartitions > 0 else { throw ValidationError("--max-partitions must be positive") }
    }

    public func execute(_ context: JobContext) async throws -> JobSummary {
        let schema = try schemaCatalog().schema(forCollection: collection)
        var query: Document
        do {
            query = try filter.map { try BSONDocument(json: $0).document() } ?? [:]
        } catch {
            throw JobError(.usage, "--where is not a JSON object: \(error)")
        }
        if let ids = common.onlyIDs {
            query["_id"] = .document(["$in": .array(ids.map { Int64($0).map(BSONValue.integer) ?? .string($0) })])
        }
        let layout = ColumnLayout(schema: schema)
        let connection = try mongo.connect(job: Self.jobName)
        context.recorder.useMongo(connection, database: mongo.database)
        let client = try connection.client()
        let cursor = try client.collection(collection, database: mongo.database)
            .find(query, options: ["sort": .document(["_id": 1])])
        var options = ExportWriter.Options()
        options.format = format
        options.partitionBy = partitionBy
        options.shards = shards
        options.rowsPerPart = rowsPerPart
        if let jobs { options.workers = jobs }
        options.maxPartitions = maxPartitions
        let directory = context.work.export(named: name ?? collection)
        var summary = JobSummary()
        if context.options.dryRun {
            var rows = 0
            while try cursor.nextBorrowed() != nil { rows += 1 }
            summary.count("rows would export", rows)
            return summary
        }
        let writer: ExportWriter
        do {
            writer = try ExportWriter(directory: directory, layout: layout, options: options)
        } catch let error as ExportError {
            throw JobError(.usage, error.description)
        }
        let progress = ProgressBar(label: Self.jobName, unit: "rows", logger: context.logger)
        defer { progress.finish() }
        if progress.isEnabled {
            let total = try? client.collection(collection, database: mongo.database).countDocuments(query)
            progress.update(done: 0, total: total.map { Int($0) })
        }
        do {
            while let document = try cursor.nextBorrowed() {
                try writer.write(document)
                if writer.rows % 1000 == 0 { progress.update(done: writer.rows) }
            }
            progress.update(done: writer.rows)
            let manifest: Document = [
                "collection": .string(collection), "database": .string(mongo.database),
                "query": .document(query), "sort": .document(["_id": 1]),
                "run_id": .string(context.runID), "musicetl_version": .string(MusicETL.version),
                "scaler_versions": .array(try scalerVersions(client: client)),
            ]
            let files = try writer.commit(manifest: manifest)
            summary.outputs = files
        } catch let error as ExportError {
            writer.abandon()
            throw JobError(error.isDataError ? .dataError : .usage, error.description)
        } catch {
            writer.abandon()
            throw error
        }
        summary.count("rows", writer.rows)
        summary.count("columns", layout.columns.count)
        context.logger.info("wrote \(writer.rows) rows × \(layout.columns.count) columns to \(directory.path)/output.\(format)")
        return summary
    }

    /// The fitted scalers in the database (normally one): the manifest names the version the
    /// exported features were scaled with.
    private func scalerVersions(client: MongoClient) throws -> [BSONValue] {
        let cursor = try client.collection("scalers", database: mongo.database)
            .find([:], options: ["projection": .document(["_id": 1]), "sort": .document(["_id": 1])])
        var versions: [BSONValue] = []
        while let document = try cursor.next() { if let id = document["_id"] { versions.append(id) } }
        return versions
    }
}

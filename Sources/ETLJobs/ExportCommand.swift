import ArgumentParser
import DocumentStore
import Export
import Foundation
import Pipeline

/// `etl-export`: a MongoDB collection → `exports/<name>/output.csv`, columns in schema order.
public struct ExportCommand: JobCommand {
    public static let jobName = "etl-export"
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Export a collection (default: training) as a flat CSV, streaming, rows ordered by id.",
        version: MusicETL.version)

    @OptionGroup public var mongo: MongoOptions

    @Option(name: .long, help: "Collection to export.")
    public var collection = "training"

    @Option(name: .long, help: "Export name: the folder under WORK/exports (default: the collection name).")
    public var name: String?

    @Option(name: .customLong("where"), help: "A MongoDB filter as JSON, e.g. '{\"parent\": 0}'.")
    public var filter: String?

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func execute(_ context: JobContext) async throws -> JobSummary {
        let schema = try schemaCatalog().schema(forCollection: collection)
        let filterDocument: Document
        do {
            filterDocument = try filter.map { try BSONDocument(json: $0).document() } ?? [:]
        } catch {
            throw JobError(.usage, "--where is not a JSON object: \(error)")
        }
        let layout = ColumnLayout(schema: schema)
        let directory = context.work.export(named: name ?? collection)
        let outputPath = directory.appendingPathComponent("output.csv").path
        let connection = try mongo.connect(job: Self.jobName)
        let client = try connection.client()
        let cursor = try client.collection(collection, database: mongo.database)
            .find(filterDocument, options: ["sort": .document(["_id": 1])])
        let writer = context.options.dryRun ? nil : try CSVExportWriter(path: outputPath, layout: layout)
        var rows = 0
        while let document = try cursor.next() {
            try writer?.write(document)
            rows += 1
        }
        try writer?.commit()
        var summary = JobSummary()
        summary.count("rows", rows)
        summary.count("columns", layout.columns.count)
        if writer != nil {
            summary.outputs.append(outputPath)
            context.logger.info("wrote \(rows) rows × \(layout.columns.count) columns to \(outputPath)")
        }
        return summary
    }
}

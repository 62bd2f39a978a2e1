import ArgumentParser
import DocumentStore
import Foundation
import Pipeline

/// `etl-extract`: FMA metadata CSVs → validated documents in `staging/metadata/*.jsonl`.
public struct ExtractCommand: JobCommand {
    public static let jobName = "etl-extract"
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Extract FMA metadata CSVs into validated staging documents; bad rows go to quarantine.",
        version: MusicETL.version)

    @Option(name: .long, help: "Directory in FMA fma_metadata layout (genres.csv or raw_genres.csv, …).")
    public var metadata: String

    @Option(name: .long, help: "Largest share of quarantined rows per file before the job fails with exit 65.")
    public var maxRejectRatio: Double = 0.01

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func validate() throws {
        guard (0...1).contains(maxRejectRatio) else { throw ValidationError("--max-reject-ratio must be within 0…1") }
    }

    /// Each entity and the file names it may come from, in order of preference.
    static let entities: [(schema: String, files: [String])] = [
        ("genre", ["genres.csv", "raw_genres.csv"]),
    ]

    public func execute(_ context: JobContext) async throws -> JobSummary {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: metadata, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw JobError(.unavailable, "metadata directory \(metadata) does not exist")
        }
        let catalog = try schemaCatalog()
        var summary = JobSummary()
        var overRatio: [String] = []
        for entity in Self.entities {
            let schema = try catalog.schema(entity.schema)
            guard let file = entity.files.first(where: {
                FileManager.default.fileExists(atPath: metadata + "/" + $0) }) else {
                throw JobError(.unavailable, "\(metadata): none of \(entity.files.joined(separator: ", ")) found (needed for \(schema.collection))")
            }
            let extraction = TableExtraction(schema: schema, inputPath: metadata + "/" + file,
                                             quarantineDirectory: context.quarantineDirectory.path,
                                             logger: context.logger)
            let outputPath = context.work.metadataStaging.appendingPathComponent(schema.stagingFile).path
            let writer = context.options.dryRun ? nil : try StagingWriter(path: outputPath)
            let counts = try extraction.run { document in try writer?.write(document) }
            try writer?.commit()
            context.logger.info("\(file): \(counts.rowsIn) rows in = \(counts.written) written + \(counts.quarantined) quarantined; \(counts.repairedText) with repaired text\(context.options.dryRun ? " (dry run: nothing written)" : " → \(outputPath)")")
            summary.count("\(schema.collection) in", counts.rowsIn)
            summary.count("\(schema.collection) written", counts.written)
            summary.count("\(schema.collection) quarantined", counts.quarantined)
            if counts.rowsIn > 0, Double(counts.quarantined) / Double(counts.rowsIn) > maxRejectRatio {
                overRatio.append("\(file) \(counts.quarantined)/\(counts.rowsIn)")
            }
            if writer != nil { summary.outputs.append(outputPath) }
        }
        if !overRatio.isEmpty {
            summary.status = .dataError
            summary.problem = "rejects over --max-reject-ratio \(maxRejectRatio): \(overRatio.joined(separator: ", ")) (see \(context.quarantineDirectory.path))"
        }
        return summary
    }
}

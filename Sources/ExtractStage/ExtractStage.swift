import DocumentStore
import Foundation
import Pipeline
import Staging

/// What `etl-extract` is asked to do; each default is the command's.
public struct ExtractOptions: Sendable {
    /// The input directory (FMA's `fma_metadata`, MSSD's logs and track features).
    public var input: String
    /// The flag that named `input`, for messages (`--input`, or FMA's `--metadata`).
    public var inputFlag = "--input"
    /// Each entity's files, in extraction order: the dataset's (`Dataset.entities`).
    public var entities: [EntityInput]
    /// Largest share of quarantined rows per file before the job fails with exit 65.
    public var maxRejectRatio = 0.01
    /// Read tracks from this file (tracks.csv or raw_tracks.csv); nil: tracks.csv if present.
    public var tracksFile: String?
    /// Threads that validate, build and print rows; nil: all CPUs.
    public var jobs: Int?
    /// `--only`: recompute these tracks, keep every other staged line.
    public var only: Set<Int64>?
    /// `--shard K/N`: this worker's contiguous run of the files of the entities partitioned by
    /// shard (`EntityInput.partitionedByShard`), staged as `<stem>.shard-K-of-N.jsonl`.
    public var shard: ShardSpec?

    public init(input: String, entities: [EntityInput]) {
        self.input = input
        self.entities = entities
    }

    /// The options' own defaults, for the command's flags.
    public static let defaults = ExtractOptions(input: "", entities: [])

    /// Why these options cannot run, in the flags' words; nil when they can.
    public var problem: String? {
        if !(0...1).contains(maxRejectRatio) { return "--max-reject-ratio must be within 0…1" }
        if let jobs, jobs < 1 { return "--jobs must be at least 1" }
        if let problem = shard?.problem { return problem }
        return nil
    }
}

/// `etl-extract`: a dataset's CSVs → validated documents in `staging/metadata/*.jsonl`.
public struct ExtractStage: Sendable {
    public static let jobName = "etl-extract"

    public static func run(_ options: ExtractOptions, context: JobContext) async throws -> JobSummary {
        try ExtractStage(options: options).execute(context)
    }

    let options: ExtractOptions

    var maxRejectRatio: Double { options.maxRejectRatio }
    var tracksFile: String? { options.tracksFile }
    var jobs: Int? { options.jobs }

    func execute(_ context: JobContext) throws -> JobSummary {
        try InputDirectory.check(options.input, flag: options.inputFlag,
                                 name: options.inputFlag == "--metadata" ? "metadata directory" : "input directory")
        let dryRun = context.options.dryRun
        var extractor = MetadataExtractor(metadataDirectory: options.input, entities: options.entities,
                                          catalog: try context.schemaCatalog(),
                                          stagingDirectory: context.work.metadataStaging.path,
                                          quarantineDirectory: dryRun ? nil : context.quarantineDirectory.path,
                                          logger: context.logger)
        extractor.dryRun = dryRun
        extractor.tracksFile = tracksFile
        extractor.rowJobs = jobs ?? max(1, ProcessInfo.processInfo.activeProcessorCount)
        extractor.onlyTracks = options.only
        extractor.shard = options.shard
        extractor.maxRejectRatio = maxRejectRatio
        extractor.runID = context.runID
        let results = try extractor.run()

        var summary = JobSummary()
        var failures: [String] = []
        var overRatio: [String] = []
        for result in results {
            summary.count("\(result.collection) in", result.rowsIn)
            summary.count("\(result.collection) written", result.written)
            summary.count("\(result.collection) quarantined", result.quarantined)
            if let failure = result.failure { failures.append(failure) }
            if result.overRejectRatio {
                overRatio.append("\(result.file) \(result.quarantined)/\(result.rowsIn)")
            }
            if let path = result.outputPath { summary.outputs.append(path) }
        }
        summary.count("values nulled", results.reduce(0) { $0 + $1.valuesNulled })
        summary.count("warnings", results.reduce(0) { $0 + $1.warnings })
        summary.count("rows with repaired text", results.reduce(0) { $0 + $1.repairedText })
        if results.contains(where: { $0.blankRows > 0 }) {
            summary.count("blank rows skipped", results.reduce(0) { $0 + $1.blankRows })
        }
        if results.contains(where: { $0.skipped > 0 }) {
            summary.count("tracks outside --only", results.reduce(0) { $0 + $1.skipped })
        }
        if results.contains(where: { !$0.onlyIDsNotFound.isEmpty }) {
            summary.count("ids of --only not found", results.reduce(0) { $0 + $1.onlyIDsNotFound.count })
        }
        var problems = failures
        if !overRatio.isEmpty {
            problems.append("rejects over --max-reject-ratio \(maxRejectRatio): \(overRatio.joined(separator: ", ")) (see \(context.quarantineDirectory.path))")
        }
        if !problems.isEmpty && !context.options.dryRun { problems.append("staging left as it was") }
        if !problems.isEmpty {
            summary.status = .dataError
            summary.problem = problems.joined(separator: "; ")
        }
        return summary
    }
}

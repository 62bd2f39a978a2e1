import ArgumentParser
import DocumentStore
import Foundation
import Pipeline

/// `etl-nightly`: extract → features → normalize → load → export under one run id, one work-dir
/// lock and one MongoDB lease; stops at the first failing step with that step's exit status.
public struct NightlyCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "etl-nightly",
        abstract: "Run extract → features → normalize → load → export with one run id, one lock and one summary.",
        discussion: """
            Stops at the first failing step with that step's exit status (resume with --from STEP). \
            SIGTERM or SIGINT stops the running step at its next batch boundary (abandoned 10 s later, \
            or at a second signal), records it and the night as interrupted, releases the MongoDB lease \
            and exits 143 (SIGTERM) or 130 (SIGINT); the next night, on any host, starts at once.
            """,
        version: MusicETL.version)

    static let steps = ["extract", "features", "normalize", "load", "export"]

    @Option(name: .long, help: "Directory in FMA fma_metadata layout.")
    public var metadata: String

    @Option(name: .long, help: "Audio tree (FMA layout 000/000002.mp3).")
    public var audio: String

    @Option(name: .long, help: "For etl-extract: read tracks from this file of the metadata directory (default: tracks.csv, else raw_tracks.csv).")
    public var tracksFile: String?

    @Option(name: .long, help: "Resume a failed night from this step: \(steps.joined(separator: ", ")).")
    public var from = "extract"

    @Option(name: .long, help: "Collection to export at the end.")
    public var exportCollection = "training"

    @Option(name: .long, help: "Hive partitions of the export by this column (default: split).")
    public var partitionBy = "split"

    @Option(name: .long, help: "Threads for the steps that take --jobs (extract, features, export; default: the number of active CPUs).")
    public var jobs: Int?

    @OptionGroup public var mongo: MongoOptions

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        guard Self.steps.contains(from) else {
            throw ValidationError("--from must be one of \(Self.steps.joined(separator: ", "))")
        }
    }

    public func run() async throws {
        let runID = RunID.make()
        var steps = try makeSteps().drop { $0.name != "etl-" + from }
        // A dry run writes no staging files, so the steps that read them (normalize, load,
        // export) would only report missing input: a dry night validates extract and features.
        let readsStaging: Set = [NormalizeCommand.jobName, LoadCommand.jobName, ExportCommand.jobName]
        let skippedInDryRun = common.dryRun && from != "normalize" && from != "load" && from != "export"
            ? steps.filter { readsStaging.contains($0.name) }.map(\.name) : []
        if !skippedInDryRun.isEmpty { steps = steps.filter { !readsStaging.contains($0.name) } }
        let (status, _) = await JobRunner.run(job: "etl-nightly", options: common, runID: runID) { context in
            if !skippedInDryRun.isEmpty {
                context.logger.info("dry run: \(skippedInDryRun.joined(separator: ", ")) skipped (they read what the earlier steps would stage)")
            }
            var lease: Lease?
            if !common.dryRun {
                let connection = try mongo.connect(job: "etl-nightly")
                context.recorder.useMongo(connection, database: mongo.database)
                let taken = Lease(name: "nightly", host: common.host, detail: "run \(runID)",
                                  connection: connection, database: mongo.database)
                try taken.acquire()
                lease = taken
            }
            defer { lease?.release() }
            let heldLease = lease
            // The lease is renewed by a child task for as long as the steps run.
            return try await withThrowingTaskGroup(of: Void.self) { group in
                if let heldLease { group.addTask { await heldLease.keepRenewed() } }
                defer { group.cancelAll() }
                return try await runSteps(steps, runID: runID, context: context)
            }
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }

    private func runSteps(_ steps: ArraySlice<(name: String, execute: (JobContext) async throws -> JobSummary)>,
                          runID: String, context: JobContext) async throws -> JobSummary {
        var summary = JobSummary()
        var stepsOK = 0
        for step in steps {
            // A signal between two steps: the night stops before the next one.
            if let interruption = Interruption.error(while: "before \(step.name); resume with --from \(step.name.dropFirst(4))") {
                summary.count("steps ok", stepsOK)
                throw interruption
            }
            let (stepStatus, stepSummary) = await JobRunner.run(job: step.name, options: common, runID: runID, step.execute)
            summary.outputs += stepSummary.outputs
            if stepStatus != .ok {
                summary.count("steps ok", stepsOK)
                throw JobError(stepStatus, "stopped at \(step.name) (\(stepStatus)): \(stepSummary.problem ?? "see above"); resume with --from \(step.name.dropFirst(4))")
            }
            stepsOK += 1
        }
        summary.count("steps ok", stepsOK)
        if let csv = summary.outputs.first(where: { $0.hasSuffix("/output.csv") }) {
            context.logger.info("output.csv: \(csv)")
        }
        return summary
    }

    /// Each step is its own command, parsed from its own flags (so its defaults apply), then
    /// given the nightly's shared options.
    private func makeSteps() throws -> [(name: String, execute: (JobContext) async throws -> JobSummary)] {
        let threads = jobs.map { ["--jobs", String($0)] } ?? []
        var extract = try parseStep(ExtractCommand.self, ["--metadata", metadata] + (tracksFile.map { ["--tracks-file", $0] } ?? [])
                                    + threads)
        extract.common = common
        var features = try parseStep(FeaturesCommand.self, ["--audio", audio] + threads)
        features.common = common
        var normalize = try parseStep(NormalizeCommand.self, [])
        normalize.common = common
        var load = try parseStep(LoadCommand.self, [])
        load.mongo = mongo
        load.common = common
        var export = try parseStep(ExportCommand.self, ["--collection", exportCollection, "--partition-by", partitionBy] + threads)
        export.mongo = mongo
        export.common = common
        // --only narrows the work, never the dataset: after the load the database holds every id,
        // so the night's export is the full one and output.csv stays whole.
        export.common.only = nil
        return [(ExtractCommand.jobName, extract.execute), (FeaturesCommand.jobName, features.execute),
                (NormalizeCommand.jobName, normalize.execute), (LoadCommand.jobName, load.execute),
                (ExportCommand.jobName, export.execute)]
    }
}

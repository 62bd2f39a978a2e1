import ArgumentParser
import Datasets
import DocumentStore
import Foundation
import ExportStage
import ExtractStage
import FeaturesStage
import LoadStage
import NormalizeStage
import Pipeline
import Staging

/// `etl-nightly`: extract → features → normalize → load → export under one run id, one work-dir
/// lock and one MongoDB lease; stops at the first failing step with that step's exit status.
public struct NightlyCommand: AsyncParsableCommand, ConfigurableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "etl-nightly",
        abstract: "Run extract → features → normalize → load → export with one run id, one lock and one summary.",
        discussion: """
            Stops at the first failing step with that step's exit status (resume with --from STEP). \
            SIGTERM or SIGINT stops the running step at its next batch boundary (abandoned 10 s later, \
            or at a second signal), records it and the night as interrupted, releases the MongoDB lease \
            and exits 143 (SIGTERM) or 130 (SIGINT); the next night, on any host, starts at once. \
            A lease found taken by another host (it expired while the server could not be reached) \
            stops the running step the same way, and the night exits 69: the two nights never go on \
            writing the database side by side.
            """,
        version: MusicETL.version)

    static let steps = ["extract", "features", "normalize", "load", "export"]

    /// The steps of `dataset`'s night: no features without audio.
    static func steps(of dataset: any Dataset) -> [String] {
        dataset.hasAudio ? steps : steps.filter { $0 != "features" }
    }
    static let defaultPartitionBy = "split"
    /// The steps `--shard K/N` splits among hosts; the others need every shard's staging.
    static let shardedSteps: Set = ["extract", "features"]

    @Option(name: .long, help: ArgumentHelp("The dataset's input directory (fma: fma_metadata; mssd: log_*.csv and tf_*.csv).", valueName: "dir"))
    public var input: String?

    @Option(name: .long, help: ArgumentHelp("FMA's name for --input (--input wins when both are set): a directory in fma_metadata layout.", valueName: "dir"))
    public var metadata: String?

    @Option(name: .long, help: "Audio tree (FMA layout 000/000002.mp3); required by a dataset with audio (fma).")
    public var audio: String?

    @Option(name: .long, help: "For etl-extract: read tracks from this file of the metadata directory (default: tracks.csv, else raw_tracks.csv).")
    public var tracksFile: String?

    @Option(name: .long, help: "Resume a failed night from this step: \(steps.joined(separator: ", ")).")
    public var from = Self.steps[0]

    @Option(name: .long, help: "Collection to export at the end (default: the dataset's training rows: training for fma, skip_training for mssd).")
    public var exportCollection: String?

    @Option(name: .long, help: "Hive partitions of the export by this column (default: split).")
    public var partitionBy = Self.defaultPartitionBy

    @Option(name: .long, help: "Threads for the steps that take --jobs (extract, features, export; default: the number of active CPUs).")
    public var jobs: Int?

    @Option(name: .long, help: ArgumentHelp("Worker K of N, for the steps that shard (as their --shard): extract takes the K-th of N contiguous runs of the files of the entity split by shard (mssd: the log_*.csv files), features the ids whose hash is K−1 modulo N (features.shard-K-of-N.jsonl). Only those steps run: normalize, load and export need every shard, on the host that gathers them (etl-nightly --from normalize).", valueName: "K/N"))
    public var shard: ShardSpec?

    @Option(name: .long, help: ArgumentHelp("Seconds the MongoDB lease outlives a night that stops renewing it (renewed every third of them): how long a host that crashed keeps the others out.", valueName: "seconds"))
    public var leaseSeconds: Double = Self.defaultLeaseSeconds
    static let defaultLeaseSeconds: Double = 600
    /// Below a second the renewals would hammer the server; above a day a crashed host keeps every
    /// other night out for longer than anyone waits (and the expiry date overflows far above it).
    static let leaseSecondsRange: ClosedRange<Double> = 1...86_400
    /// A renewal can take this long when the server does not answer (4 sends, each after up to
    /// 3 s of server selection, and the waits between them): a lease much shorter than three of
    /// them may expire while its holder is still trying.
    static let slowestRenewalSeconds: Double = 15

    @OptionGroup public var mongo: MongoOptions

    @OptionGroup public var common: CommonOptions

    public init() {}

    public static let configurableArguments: [ConfigurableArgument] = [
        ConfigurableArgument(key: "input", isFlag: false),
        ConfigurableArgument(key: "metadata", isFlag: false),
        ConfigurableArgument(key: "audio", isFlag: false),
        ConfigurableArgument(key: "tracks-file", isFlag: false),
        ConfigurableArgument(key: "from", isFlag: false, defaultValue: steps[0]),
        ConfigurableArgument(key: "export-collection", isFlag: false),
        ConfigurableArgument(key: "partition-by", isFlag: false, defaultValue: defaultPartitionBy),
        ConfigurableArgument(key: "jobs", isFlag: false),
        ConfigurableArgument(key: "shard", isFlag: false),
        ConfigurableArgument(key: "lease-seconds", isFlag: false, defaultValue: defaultLeaseSeconds.defaultValueDescription),
    ] + MongoOptions.configurableArguments + CommonOptions.configurableArguments

    public func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let problem = shard?.problem { throw ValidationError(problem) }
        guard Self.leaseSecondsRange.contains(leaseSeconds) else {
            throw ValidationError("--lease-seconds must be within \(Int(Self.leaseSecondsRange.lowerBound))…\(Int(Self.leaseSecondsRange.upperBound)) (a day)")
        }
        guard Self.steps.contains(from) else {
            throw ValidationError("--from must be one of \(Self.steps.joined(separator: ", "))")
        }
        if let shard, !Self.shardedSteps.contains(from) {
            throw ValidationError("--shard \(shard) (the flag, MUSICETL_SHARD or the config's shard) runs only the steps that shard (extract, features), and --from \(from) leaves none: run it without a shard on the host that gathers every shard")
        }
        if let problem = ExtractCommand.inputProblem(input: input, metadata: metadata) { throw ValidationError(problem) }
        // An unknown dataset is reported by `runJob`, once for every job.
        if let dataset = try? Datasets.named(common.dataset) {
            if dataset.hasAudio, audio == nil {
                throw ValidationError("--audio is required: dataset \(dataset.name) has audio features")
            }
            let steps = Self.steps(of: dataset)
            if !steps.contains(from) {
                throw ValidationError("--from \(from): dataset \(dataset.name) has no \(from) step (its steps: \(steps.joined(separator: ", ")))")
            }
        }
    }

    public func run() async throws {
        let runID = RunID.make()
        let dataset = try Datasets.named(common.dataset)
        let datasetDirectory = Datasets.directory(of: dataset)
        var steps = try makeSteps(dataset).drop { $0.name != "etl-" + from }
        // A dry run writes no staging files, so the steps that read them (normalize, load,
        // export) would only report missing input: a dry night validates extract and features.
        let readsStaging: Set = [NormalizeStage.jobName, LoadStage.jobName, ExportStage.jobName]
        let skippedInDryRun = common.dryRun && from != "normalize" && from != "load" && from != "export"
            ? steps.filter { readsStaging.contains($0.name) }.map(\.name) : []
        if !skippedInDryRun.isEmpty { steps = steps.filter { !readsStaging.contains($0.name) } }
        // Host K of N stages its shard only; normalize (the scaler's fit), load and export need
        // every shard, so they run where the shards are gathered.
        let leftToTheGatheringHost = shard == nil ? [] : steps.filter { !Self.shardedSteps.contains(String($0.name.dropFirst(4))) }.map(\.name)
        steps = steps.filter { !leftToTheGatheringHost.contains($0.name) }
        let (status, _) = await JobRunner.run(job: "etl-nightly", options: common, datasetDirectory: datasetDirectory,
                                              runID: runID) { context in
            if let shard, !leftToTheGatheringHost.isEmpty {
                context.logger.notice("--shard \(shard): \(leftToTheGatheringHost.joined(separator: ", ")) left to the host that gathers every shard's staging (they fit the scaler and write the database from all of it): there, etl-nightly --from \(leftToTheGatheringHost[0].dropFirst(4))")
            }
            if !skippedInDryRun.isEmpty {
                context.logger.info("dry run: \(skippedInDryRun.joined(separator: ", ")) skipped (they read what the earlier steps would stage)")
            }
            var lease: Lease?
            // A shard's night writes files only (its extract and features), and the N hosts run
            // at once: no lease. The gathering host's night, which writes the database, takes it.
            if !common.dryRun, shard == nil {
                let connection = try mongo.connect(job: "etl-nightly", logger: context.logger)
                context.recorder.useMongo(connection, database: mongo.database)
                // One night per dataset at a time: the datasets' collections are apart.
                let taken = Lease(name: datasetDirectory.map { "nightly-\($0)" } ?? "nightly", host: common.host, detail: "run \(runID)",
                                  connection: connection, database: mongo.database, duration: leaseSeconds)
                try taken.acquire()
                lease = taken
                if leaseSeconds < 3 * Self.slowestRenewalSeconds {
                    context.logger.warning("--lease-seconds \(leaseSeconds): a renewal can take about \(Int(Self.slowestRenewalSeconds)) s when the server does not answer, so a lease this short may expire, and be taken, while this night is still trying")
                }
            }
            defer { lease?.release() }
            let heldLease = lease
            // The lease is renewed by a child task for as long as the steps run.
            return try await withThrowingTaskGroup(of: Void.self) { group in
                if let heldLease {
                    group.addTask {
                        await heldLease.keepRenewed()
                        // Lost, not merely no longer needed: another night may be writing the same
                        // database now, so the running step stops at its next batch boundary, as at
                        // SIGTERM, and reports the loss (exit 69). Once the steps are over (the
                        // renewals cancelled) there is nothing left to stop: the check below reports it.
                        if !Task.isCancelled, let lost = heldLease.lossError() { Interruption.stop(lost) }
                    }
                }
                defer { group.cancelAll() }
                let summary = try await runSteps(steps, runID: runID, datasetDirectory: datasetDirectory, lease: heldLease, context: context)
                group.cancelAll()
                try await group.waitForAll()
                // Lost while the last step ran and that step ended anyway (the export has no stop
                // point): what it read may be another night's half-written database.
                try heldLease?.checkHeld(during: steps.last.map(\.name) ?? "the night")
                return summary
            }
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }

    private func runSteps(_ steps: ArraySlice<(name: String, execute: (JobContext) async throws -> JobSummary)>,
                          runID: String, datasetDirectory: String?, lease: Lease?, context: JobContext) async throws -> JobSummary {
        var summary = JobSummary()
        var stepsOK = 0
        for step in steps {
            // A lease lost while the previous step ran (unrenewed until it expired, then taken):
            // another night may be running; this one starts no other step.
            do {
                try lease?.checkHeld(before: step.name)
            } catch {
                summary.count("steps ok", stepsOK)
                throw error
            }
            // A signal between two steps: the night stops before the next one.
            if let interruption = Interruption.error(while: "before \(step.name); resume with --from \(step.name.dropFirst(4))") {
                summary.count("steps ok", stepsOK)
                throw interruption
            }
            let (stepStatus, stepSummary) = await JobRunner.run(job: step.name, options: common, datasetDirectory: datasetDirectory,
                                                                  runID: runID, step.execute)
            summary.outputs += stepSummary.outputs
            if stepStatus != .ok {
                summary.count("steps ok", stepsOK)
                // Stopped because the lease was lost while it ran (see `Interruption.stop`).
                try lease?.checkHeld(during: step.name)
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

    /// Each step's options: the stage's defaults, then what the environment and the config file
    /// set for it (its table, then `[nightly]`, then the top level), then what the nightly's own
    /// flags say (`--metadata`, `--jobs`, `--shard`, …) and the ids of `--only`.
    private func makeSteps(_ dataset: any Dataset) throws -> [(name: String, execute: (JobContext) async throws -> JobSummary)] {
        let shared = Set((CommonOptions.configurableArguments + MongoOptions.configurableArguments).map(\.key))
        let tables = ["nightly"]
        let only = common.onlyTrackIDs
        let inputDirectory = input ?? metadata ?? ""

        var extract = try ExtractCommand.configured(ExtractOptions(input: inputDirectory, entities: dataset.entities),
                                                    excluding: shared, tables: tables)
        extract.input = inputDirectory
        extract.entities = dataset.entities
        if input == nil { extract.inputFlag = "--metadata" }
        if let tracksFile { extract.tracksFile = tracksFile }
        if let jobs { extract.jobs = jobs }
        if let shard { extract.shard = shard }
        extract.only = common.onlyIntegerIDs

        var features = try FeaturesCommand.configured(FeaturesOptions(audio: audio ?? ""), excluding: shared, tables: tables)
        features.audio = audio ?? ""
        if let jobs { features.jobs = jobs }
        if let shard { features.shard = shard }
        features.only = only

        var normalize = try NormalizeCommand.configured(NormalizeOptions(), excluding: shared, tables: tables)
        normalize.only = only

        var load = try LoadCommand.configured(LoadOptions(mongo: mongo.target), excluding: shared, tables: tables)
        load.only = only

        var export = try ExportCommand.configured(ExportOptions(mongo: mongo.target), excluding: shared, tables: tables)
        export.collection = exportCollection ?? dataset.trainingCollection
        export.partitionBy = partitionBy
        if let jobs { export.jobs = jobs }
        // --only narrows the work, never the dataset: after the load the database holds every id,
        // so the night's export is the full one and output.csv stays whole.
        export.only = nil

        for problem in [extract.problem, dataset.hasAudio ? features.problem : nil, load.problem, export.problem].compactMap({ $0 }) {
            throw ValidationError(problem)
        }
        // A dataset without audio has no features step.
        let featuresStep: [(name: String, execute: (JobContext) async throws -> JobSummary)] = dataset.hasAudio
            ? [(FeaturesStage.jobName, { [features] in try await FeaturesStage.run(features, context: $0) })] : []
        return [(ExtractStage.jobName, { [extract] in try await ExtractStage.run(extract, context: $0) })]
            + featuresStep
            + [(NormalizeStage.jobName, { [normalize] in try await dataset.deriveTrainingRows(normalize, context: $0) }),
               (LoadStage.jobName, { [load] in try await LoadStage.run(load, context: $0) }),
               (ExportStage.jobName, { [export] in try await ExportStage.run(export, context: $0) })]
    }
}

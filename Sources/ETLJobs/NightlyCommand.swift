import ArgumentParser
import Foundation
import Pipeline

/// `etl-nightly`: the jobs in order under one run id; stops at the first failing step with its
/// exit status.
public struct NightlyCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "etl-nightly",
        abstract: "Run extract → load → export in order with one run id and one summary.",
        version: MusicETL.version)

    @Option(name: .long, help: "Directory in FMA fma_metadata layout.")
    public var metadata: String

    @Option(name: .long, help: "Collection to export at the end.")
    public var exportCollection = "genres"

    @OptionGroup public var mongo: MongoOptions

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func run() async throws {
        let runID = RunID.make()
        // Each step is its own command, parsed from its own flags (so its defaults apply), then
        // given the nightly's shared options.
        var extract = try ExtractCommand.parse(["--metadata", metadata])
        extract.common = common
        var load = try LoadCommand.parse([])
        load.mongo = mongo
        load.common = common
        var export = try ExportCommand.parse(["--collection", exportCollection])
        export.mongo = mongo
        export.common = common
        let steps: [(String, (JobContext) async throws -> JobSummary)] = [
            (ExtractCommand.jobName, extract.execute),
            (LoadCommand.jobName, load.execute),
            (ExportCommand.jobName, export.execute),
        ]
        var outcomes: [String] = []
        let (status, _) = await JobRunner.run(job: "etl-nightly", options: common, runID: runID) { context in
            var summary = JobSummary()
            for (name, step) in steps {
                let (stepStatus, stepSummary) = await JobRunner.run(job: name, options: common, runID: runID, step)
                outcomes.append("\(name) \(stepStatus)")
                summary.outputs += stepSummary.outputs
                summary.count("steps ok", summary[count: "steps ok"] + (stepStatus == .ok ? 1 : 0))
                if stepStatus != .ok {
                    throw JobError(stepStatus, "stopped at \(name) (\(stepStatus)): \(stepSummary.problem ?? "see above")")
                }
            }
            if let csv = summary.outputs.last(where: { $0.hasSuffix("output.csv") }) {
                context.logger.info("output: \(csv)")
            }
            return summary
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }
}

import ArgumentParser
import Pipeline

/// Jobs whose implementation has not landed yet. They parse their documented flags and say so
/// plainly with exit status 1, instead of pretending to succeed.
public struct NormalizeCommand: JobCommand {
    public static let jobName = "etl-normalize"
    public static let configuration = CommandConfiguration(
        commandName: jobName, abstract: "Fit and apply the feature scaler — not in this version yet.",
        version: MusicETL.version)

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func execute(_ context: JobContext) async throws -> JobSummary {
        throw JobError(.failure, "etl-normalize is not implemented in MusicETL \(MusicETL.version)")
    }
}

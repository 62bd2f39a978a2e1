import ArgumentParser
import Pipeline

/// Not implemented yet: parses its documented flags and says so with exit status 1.
public struct FeaturesCommand: JobCommand {
    public static let jobName = "etl-features"
    public static let configuration = CommandConfiguration(
        commandName: jobName, abstract: "Compute audio features (MFCC, spectral centroid, ZCR) — not in this version yet.",
        version: MusicETL.version)

    @Option(name: .long, help: "Audio tree (FMA layout 000/000002.mp3).")
    public var audio: String

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func execute(_ context: JobContext) async throws -> JobSummary {
        throw JobError(.failure, "etl-features is not implemented in MusicETL \(MusicETL.version)")
    }
}

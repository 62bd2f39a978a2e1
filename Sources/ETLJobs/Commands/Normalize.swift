import ArgumentParser
import Datasets
import NormalizeStage
import Pipeline
import Staging

/// `etl-normalize`: staged tracks + features → training rows and the scaler (see `NormalizeStage`).
public struct NormalizeCommand: StageCommand {
    public static let jobName = NormalizeStage.jobName
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Join tracks and features, fit a scaler on the training split, write training rows.",
        discussion: """
            A full run fits the scaler on the training split and rewrites every row. With --only, \
            the ids given are rescaled with the scaler of the last full fit (staging/scaler.json) and \
            every other staged row is kept byte for byte; refitting is a full run's act, and --only \
            needs a full run's training.jsonl and scaler.json. Ids with features but no staged row \
            that --only does not name are counted and left out (a full run adds them). Every row \
            records its scaler_version, the hash of the method and the per-feature parameters, so \
            a refit that gives the same parameters gives the same version; the scaler is written \
            before the rows, so a row never names a scaler that was not written. A scaled value that \
            is not finite is written as null (missing) and counted.

            Exit status 65 when a track id is staged twice in the features (two layouts or shards \
            side by side), when no training row is there to fit on, or when --only finds no full \
            normalize staged; 69 when nothing is staged.
            """,
        version: MusicETL.version)

    @Option(name: .long, help: "Scaling: zscore (default) or minmax. With --only, must be the persisted scaler's.")
    public var method: FeatureScaler.Method?

    @OptionGroup public var common: CommonOptions

    public init() {}

    public static var stageSettings: [StageSetting<NormalizeOptions>] {
        [
            .option("method", \.method),
        ]
    }

    public static var configurableArguments: [ConfigurableArgument] {
        stageSettings.map(\.argument) + CommonOptions.configurableArguments
    }

    /// The stage's options these flags give.
    public var options: NormalizeOptions {
        NormalizeOptions(method: method, only: common.onlyTrackIDs)
    }

    public func execute(_ context: JobContext) async throws -> JobSummary {
        // The dataset derives its training rows (FMA: `NormalizeStage.run`).
        try await context.dataset.deriveTrainingRows(options, context: context)
    }
}

extension FeatureScaler.Method: ExpressibleByArgument {}

import ArgumentParser
import ExtractStage
import Pipeline

/// `etl-extract`: FMA metadata CSVs → staging documents (see `ExtractStage`).
public struct ExtractCommand: StageCommand {
    public static let jobName = ExtractStage.jobName
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Extract FMA metadata CSVs into validated staging documents; bad rows go to quarantine.",
        discussion: """
            Reads genres.csv (or raw_genres.csv), raw_albums.csv, raw_artists.csv and tracks.csv (or \
            raw_tracks.csv) and writes staging/metadata/{genres,albums,artists,tracks}.jsonl. Each track \
            embeds its album, artist, genres, genre_top and set {split, subset}. A bad value of an \
            optional field is nulled, the row kept and the value listed in \
            quarantine/<run>/<file>.repairs.csv (schema keyword x-on-invalid: reject quarantines the row \
            instead); bad rows go to <file>.rejects.csv. Columns no schema property claims are kept under \
            'extra'. The staged files are replaced only when the run succeeds, all together, and \
            staging/metadata/_SUCCESS.json names that run. --only recomputes those tracks and keeps every \
            other staged line as it was; genres, albums and artists are always extracted whole.
            """,
        version: MusicETL.version)

    @Option(name: .long, help: "Directory in FMA fma_metadata layout (genres.csv or raw_genres.csv, …).")
    public var metadata: String

    @Option(name: .long, help: "Largest share of quarantined rows per file before the job fails with exit 65.")
    public var maxRejectRatio = ExtractOptions.defaults.maxRejectRatio

    @Option(name: .long, help: "Read tracks from this file (tracks.csv or raw_tracks.csv); default: tracks.csv if present.")
    public var tracksFile: String?

    @Option(name: .long, help: "Threads that validate, build and print rows; the reading thread is one of them and takes rows whenever it is ahead (default: all CPUs; 1 = single-threaded). The output is the same for any number.")
    public var jobs: Int?

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func validate() throws {
        if let problem = options.problem { throw ValidationError(problem) }
        if let ids = common.onlyIDs, ids.contains(where: { Int64($0) == nil }) {
            throw ValidationError("--only takes integer track ids for etl-extract")
        }
    }

    public static var stageSettings: [StageSetting<ExtractOptions>] {
        [
            .required("metadata", \.metadata),
            .option("max-reject-ratio", \.maxRejectRatio, default: .defaults),
            .option("tracks-file", \.tracksFile),
            .option("jobs", \.jobs),
        ]
    }

    public static var configurableArguments: [ConfigurableArgument] {
        stageSettings.map(\.argument) + CommonOptions.configurableArguments
    }

    /// The stage's options these flags give.
    public var options: ExtractOptions {
        var options = ExtractOptions(metadata: metadata)
        options.maxRejectRatio = maxRejectRatio
        options.tracksFile = tracksFile
        options.jobs = jobs
        options.only = common.onlyIntegerIDs
        return options
    }

    public func execute(_ context: JobContext) async throws -> JobSummary {
        try await ExtractStage.run(options, context: context)
    }
}

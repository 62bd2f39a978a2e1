import ArgumentParser
import Datasets
import ExtractStage
import Pipeline
import Staging

/// `etl-extract`: a dataset's CSVs → staging documents (see `ExtractStage`).
public struct ExtractCommand: StageCommand {
    public static let jobName = ExtractStage.jobName
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Extract a dataset's CSVs into validated staging documents; bad rows go to quarantine.",
        discussion: """
            --dataset fma (the default) reads genres.csv (or raw_genres.csv), raw_albums.csv, raw_artists.csv and tracks.csv (or \
            raw_tracks.csv) and writes staging/metadata/{genres,albums,artists,tracks}.jsonl. Each track \
            embeds its album, artist, genres, genre_top and set {split, subset}. A bad value of an \
            optional field is nulled, the row kept and the value listed in \
            quarantine/<run>/<file>.repairs.csv (schema keyword x-on-invalid: reject quarantines the row \
            instead); bad rows go to <file>.rejects.csv. Columns no schema property claims are kept under \
            'extra'. A file whose header matches none of its schema's columns besides the id, or that has \
            a header and no data rows, fails the run with exit 65. The staged files are replaced only when \
            the run succeeds, all together, and staging/metadata/_SUCCESS.json names that run. \
            --only recomputes those tracks and keeps every other staged line as it was; \
            genres, albums and artists are always extracted whole. \
            --dataset mssd reads every log_*.csv (plays, _id <session_id>:<session_position>) and \
            tf_*.csv (spotify_tracks) of --input, each group in name order as one table (one header), \
            and writes staging/metadata/{plays,spotify_tracks}.jsonl under WORK/mssd.
            """,
        version: MusicETL.version)

    @Option(name: .long, help: ArgumentHelp("The dataset's input directory (fma: fma_metadata; mssd: log_*.csv and tf_*.csv).", valueName: "dir"))
    public var input: String?

    @Option(name: .long, help: ArgumentHelp("FMA's name for --input (--input wins when both are set): a directory in fma_metadata layout (genres.csv or raw_genres.csv, …).", valueName: "dir"))
    public var metadata: String?

    @Option(name: .long, help: "Largest share of quarantined rows per file before the job fails with exit 65.")
    public var maxRejectRatio = ExtractOptions.defaults.maxRejectRatio

    @Option(name: .long, help: "Read tracks from this file (tracks.csv or raw_tracks.csv); default: tracks.csv if present.")
    public var tracksFile: String?

    @Option(name: .long, help: "Threads that validate, build and print rows; the reading thread is one of them and takes rows whenever it is ahead (default: all CPUs; 1 = single-threaded). The output is the same for any number.")
    public var jobs: Int?

    @Option(name: .long, help: ArgumentHelp("Worker K of N: the K-th of N contiguous runs of the sorted files of the entity split by shard (mssd: the log_*.csv files), staged as <stem>.shard-K-of-N.jsonl; every other entity is read whole.", valueName: "K/N"))
    public var shard: ShardSpec?

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func validate() throws {
        if let problem = Self.inputProblem(input: input, metadata: metadata) { throw ValidationError(problem) }
        if let problem = options.problem { throw ValidationError(problem) }
        if let ids = common.onlyIDs, ids.contains(where: { Int64($0) == nil }) {
            throw ValidationError("--only takes integer track ids for etl-extract")
        }
    }

    public static var stageSettings: [StageSetting<ExtractOptions>] {
        [
            .required("input", \.input),
            .required("metadata", \.input),
            .option("max-reject-ratio", \.maxRejectRatio, default: .defaults),
            .option("tracks-file", \.tracksFile),
            .option("jobs", \.jobs),
            .option("shard", \.shard),
        ]
    }

    public static var configurableArguments: [ConfigurableArgument] {
        stageSettings.map(\.argument) + CommonOptions.configurableArguments
    }

    /// Why neither `--input` nor `--metadata` names the input directory, nil when one does. With
    /// both, `--input` wins: an installed config file's `metadata` (FMA's) must not stop a run
    /// of another dataset given its `--input`.
    static func inputProblem(input: String?, metadata: String?) -> String? {
        input == nil && metadata == nil ? "--input is required (the dataset's input directory; FMA's may be given as --metadata)" : nil
    }

    /// The stage's options these flags give, for `dataset` (its entities).
    func options(for dataset: any Dataset) -> ExtractOptions {
        var options = self.options
        options.entities = dataset.entities
        return options
    }

    /// The stage's options these flags give (without the dataset's entities).
    public var options: ExtractOptions {
        var options = ExtractOptions(input: input ?? metadata ?? "", entities: [])
        if input == nil && metadata != nil { options.inputFlag = "--metadata" }
        options.maxRejectRatio = maxRejectRatio
        options.tracksFile = tracksFile
        options.jobs = jobs
        options.shard = shard
        options.only = common.onlyIntegerIDs
        return options
    }

    public func execute(_ context: JobContext) async throws -> JobSummary {
        try await ExtractStage.run(options(for: try context.dataset), context: context)
    }
}

import ArgumentParser
import FeaturesStage
import Pipeline
import Staging

/// `etl-features`: an audio tree → feature documents in staging (see `FeaturesStage`).
public struct FeaturesCommand: StageCommand {
    public static let jobName = FeaturesStage.jobName
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Compute audio features (MFCC, spectral centroid, zero-crossing rate) into staging; unreadable files go to quarantine.",
        discussion: """
            Walks --audio for files libsndfile decodes (mp3, flac, ogg, oga, opus, wav, aif(f), au, w64, rf64, \
            caf). The track id is the file stem when it is an integer (FMA: 000/000002.mp3 → 2), else the path \
            relative to --audio; --id-from path always uses the path. Two files with the same id: the first \
            by path wins, the others are quarantined. Hidden files and directories and lost+found are \
            skipped; symbolic links to files and to directories are followed, --audio itself too (a directory \
            already walked, by a cycle or a second link to it, is not walked again).

            A re-run reuses the staged document of every file whose path, size, modification time \
            (milliseconds), parameter hash and extractor version are unchanged (and which has frames exactly \
            when --frames asks for them); --force recomputes. --only restricts the work to those ids; the \
            other ids' staged documents are kept as they are, in the staged layout: when the staging is the \
            shards of one --shard N layout, each id goes to its shard's file. --dry-run prints one line per \
            file that would be computed (compute, id, path, reason; tab-separated) on stdout and writes nothing.

            Rejected: files libsndfile cannot open ("undecodable", with its message; "unreadable" when no \
            regular file is there), that decode to zero samples ("empty"), that decode to more than 2 % less \
            than the length their header announces, in any format ("truncated"), or that decode to \
            NaN/infinity. Any file \
            of at least one sample is accepted, as librosa accepts it (a 0.05 s clip gives 3 frames).

            --shard K/N takes the ids whose FNV-1a 64-bit hash of the id text (the decimal number, or the \
            path) is K−1 modulo N, and writes features.shard-K-of-N.jsonl. A run without --shard or --only \
            covers every id, so it replaces the shard files of earlier --shard runs (reusing their \
            documents) with features.jsonl: no id is ever staged in two files.

            Exit status 65 when the rejected share of the files exceeds --max-reject-ratio (the documents of \
            the good files are still written); 69 when --audio does not exist, when it holds no audio file \
            while tracks or features are staged (staging/metadata/tracks.jsonl not empty, or features of an \
            earlier run: an unmounted disk or a wrong path), or when a part of it cannot be read (a directory that cannot be listed, an entry that \
            cannot be stat'ed such as a dangling link, unless named as a non-audio file; the first three are named), all before anything is \
            written, so the staged features are kept; 64 when --audio names a file.
            """,
        version: MusicETL.version)

    @Option(name: .long, help: "Audio tree (FMA layout 000/000002.mp3).")
    public var audio: String

    @Option(name: .long, help: "Take only this stable hash partition of the track ids, K of N (1 ≤ K ≤ N).")
    public var shard: ShardSpec?

    @Flag(name: .long, help: "Also store the per-frame arrays (MFCC, centroid, ZCR) in each document.")
    public var frames = FeaturesOptions.defaults.frames

    @Option(name: .long, help: "Files processed at once (default: the number of active CPUs).")
    public var jobs: Int?

    @Option(name: .long, help: "Track id from the file stem when it is an integer (stem), or always the relative path (path).")
    public var idFrom = FeaturesOptions.defaults.idFrom

    @Option(name: .long, help: "Largest share of rejected files before the job fails with exit 65.")
    public var maxRejectRatio = FeaturesOptions.defaults.maxRejectRatio

    @Option(name: .long, help: "Seconds between progress lines (0: none).")
    public var progressInterval = FeaturesOptions.defaults.progressInterval

    @Option(name: .long, help: "Directory for the (unlinked) temporary file that holds the frames of tracks over ~6 minutes, so memory stays bounded whatever the length (default: $TMPDIR, else /tmp).")
    public var spillDir: String?

    @OptionGroup public var common: CommonOptions

    public init() {}

    public static var stageSettings: [StageSetting<FeaturesOptions>] {
        [
            .required("audio", \.audio),
            .option("shard", \.shard),
            .flag("frames", \.frames),
            .option("jobs", \.jobs),
            .option("id-from", \.idFrom, default: .defaults),
            .option("max-reject-ratio", \.maxRejectRatio, default: .defaults),
            .option("progress-interval", \.progressInterval, default: .defaults),
            .option("spill-dir", \.spillDir),
        ]
    }

    public static var configurableArguments: [ConfigurableArgument] {
        stageSettings.map(\.argument) + CommonOptions.configurableArguments
    }

    /// The stage's options these flags give.
    public var options: FeaturesOptions {
        var options = FeaturesOptions(audio: audio)
        options.shard = shard
        options.frames = frames
        options.jobs = jobs
        options.idFrom = idFrom
        options.maxRejectRatio = maxRejectRatio
        options.progressInterval = progressInterval
        options.spillDir = spillDir
        options.only = common.onlyTrackIDs
        return options
    }

    public func validate() throws {
        if let problem = options.problem { throw ValidationError(problem) }
    }

    public func execute(_ context: JobContext) async throws -> JobSummary {
        try await FeaturesStage.run(options, context: context)
    }
}

extension TrackIDSource: ExpressibleByArgument {}
extension ShardSpec: ExpressibleByArgument {}

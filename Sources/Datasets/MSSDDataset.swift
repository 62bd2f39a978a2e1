import NormalizeStage
import Pipeline
import Staging

/// The Spotify Music Streaming Sessions Dataset: play logs (`log_*.csv`, one row per playback,
/// whole sessions per file) and per-track audio features (`tf_*.csv`); training rows join each
/// play with its track's features, labelled `is_skipped`. No audio files.
public struct MSSDDataset: Dataset {
    public init() {}

    public var name: String { "mssd" }
    public var title: String { "Spotify Music Streaming Sessions Dataset (log_*.csv play logs, tf_*.csv track features)" }

    /// The play logs are what `--shard K/N` splits: a log file holds whole sessions, so a session
    /// never spans two shards. Every shard reads all track features.
    public var entities: [EntityInput] {
        [
            EntityInput(schema: "play", files: .every(prefix: "log_", suffix: ".csv", headerRows: 1), partitionedByShard: true),
            EntityInput(schema: "spotify_track", files: .every(prefix: "tf_", suffix: ".csv", headerRows: 1)),
        ]
    }

    public var hasAudio: Bool { false }
    public var trainingCollection: String { "skip_training" }

    public func deriveTrainingRows(_ options: NormalizeOptions, context: JobContext) async throws -> JobSummary {
        try await SkipTrainingRows.run(options, context: context)
    }
}

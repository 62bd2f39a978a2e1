import NormalizeStage
import Pipeline
import Staging

/// The Free Music Archive: `fma_metadata` CSVs (genres, albums, artists, tracks) plus audio
/// clips; training rows join each track's labels with its scaled audio features.
public struct FMADataset: Dataset {
    public init() {}

    public var name: String { "fma" }
    public var title: String { "Free Music Archive metadata (fma_metadata) and audio clips" }

    /// tracks.csv (the processed file, with the dataset split) wins over raw_tracks.csv.
    public var entities: [EntityInput] {
        [
            EntityInput(schema: "genre", files: .firstOf([.init("genres.csv"), .init("raw_genres.csv")])),
            EntityInput(schema: "album", files: .firstOf([.init("raw_albums.csv")])),
            EntityInput(schema: "artist", files: .firstOf([.init("raw_artists.csv")])),
            EntityInput(schema: "track", files: .firstOf([.init("tracks.csv", headerRows: 3), .init("raw_tracks.csv")])),
        ]
    }

    public var hasAudio: Bool { true }
    public var trainingCollection: String { "training" }

    public func deriveTrainingRows(_ options: NormalizeOptions, context: JobContext) async throws -> JobSummary {
        try await NormalizeStage.run(options, context: context)
    }
}

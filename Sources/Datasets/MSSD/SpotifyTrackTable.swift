import DocumentStore
import Pipeline

/// The staged spotify_tracks (Schemas/mssd/spotify_track.schema.json) in memory, compactly: an
/// index from track id to a row number, and per row the values a training row takes — the
/// numbers to scale in one flat array, `release_year`, `key`, `time_signature` and `mode`.
struct SpotifyTrackTable {
    /// The scaled track columns, in the training row's (and the scaler's) order.
    static let scaledNames: [String] = scaledFields.map(\.description)

    private static let scaledFields: [StaticString] = [
        "duration", "us_popularity_estimate", "acousticness", "beat_strength", "bounciness", "danceability",
        "dyn_range_mean", "energy", "flatness", "instrumentalness", "liveness", "loudness", "mechanism",
        "organism", "speechiness", "tempo", "valence", "acoustic_vector_0", "acoustic_vector_1",
        "acoustic_vector_2", "acoustic_vector_3", "acoustic_vector_4", "acoustic_vector_5",
        "acoustic_vector_6", "acoustic_vector_7",
    ]
    /// Every field of a staged track (all are required), in staged (schema) order.
    private static let stagedFields: [StaticString] = [
        "_id", "duration", "release_year", "us_popularity_estimate", "acousticness", "beat_strength", "bounciness",
        "danceability", "dyn_range_mean", "energy", "flatness", "instrumentalness", "key", "liveness", "loudness",
        "mechanism", "mode", "organism", "speechiness", "tempo", "time_signature", "valence", "acoustic_vector_0",
        "acoustic_vector_1", "acoustic_vector_2", "acoustic_vector_3", "acoustic_vector_4", "acoustic_vector_5",
        "acoustic_vector_6", "acoustic_vector_7",
    ]

    static var width: Int { scaledFields.count }

    private(set) var rowOfID: [String: Int] = [:]
    private(set) var ids: [String] = []
    /// `width` values per track.
    private(set) var numbers: [Double] = []
    private(set) var releaseYears: [Int64] = []
    private(set) var keys: [Int64] = []
    private(set) var timeSignatures: [Int64] = []
    private(set) var modes: [String] = []

    var count: Int { ids.count }

    func numbers(of row: Int) -> ArraySlice<Double> {
        numbers[row * Self.width ..< (row + 1) * Self.width]
    }

    /// Reads the staged file; a track id staged twice or a document of another shape stops the
    /// run (exit 65) naming the file and line.
    init(path: String) throws {
        let reader = try JSONLinesReader(path: path)
        let matcher = StagedFieldMatcher(Self.stagedFields)
        // Where each staged field goes: the index of a scaled number, or nil for the others.
        let scaledIndex: [Int?] = Self.stagedFields.map { name in
            Self.scaledFields.firstIndex { $0.description == name.description }
        }
        var lineOfRow: [Int] = []
        var values = [Double](repeating: 0, count: Self.width)
        while let document = try reader.next() {
            var id: String?, releaseYear: Int64?, key: Int64?, timeSignature: Int64?, mode: String?
            var seen = FieldSet()
            let line = reader.lineNumber
            try document.withBorrowed { borrowed in
                guard matcher.start(borrowed) else { throw stagedShapeError(path, line: line, "corrupt document") }
                while matcher.reader.next() {
                    guard let index = matcher.currentIndex() else { continue }
                    seen.insert(index)
                    func bad(_ type: String) -> JobError {
                        stagedShapeError(path, line: line, "field \(matcher.name(index)) is not \(type)")
                    }
                    if let scaled = scaledIndex[index] {
                        guard let number = matcher.double else { throw bad("a number") }
                        values[scaled] = number
                        continue
                    }
                    switch matcher.name(index) {
                    case "_id": id = matcher.string; if id == nil { throw bad("a string") }
                    case "release_year": releaseYear = matcher.integer; if releaseYear == nil { throw bad("an integer") }
                    case "key": key = matcher.integer; if key == nil { throw bad("an integer") }
                    case "mode": mode = matcher.string; if mode == nil { throw bad("a string") }
                    case "time_signature": timeSignature = matcher.integer; if timeSignature == nil { throw bad("an integer") }
                    default: break
                    }
                }
            }
            if let missing = seen.firstMissing(of: Self.stagedFields.count) {
                throw stagedShapeError(path, line: line, "spotify track lacks field \(matcher.name(missing))")
            }
            guard let id, let releaseYear, let key, let timeSignature, let mode else { continue }
            if let earlier = rowOfID.updateValue(ids.count, forKey: id) {
                throw JobError(.dataError, "\(path):\(line): track \(id) is staged twice (first at line \(lineOfRow[earlier])): re-run etl-extract --dataset mssd")
            }
            lineOfRow.append(line)
            ids.append(id)
            numbers += values
            releaseYears.append(releaseYear)
            keys.append(key)
            timeSignatures.append(timeSignature)
            modes.append(mode)
        }
    }
}

import DocumentStore
import Foundation
import TestSupport

/// Small staged inputs (tracks and feature documents of the schemas' shape) written by the tests
/// themselves, so every expected number is known.
enum StagedInputs {
    /// A feature document whose statistics come from `value(statistic, index)`.
    static func featureDocument(id: Int, value: (String, Int) -> Double) -> Document {
        let statistics = ["mean", "std", "skew", "kurtosis", "median", "min", "max"]
        var mfcc = Document()
        for statistic in statistics {
            mfcc.append(statistic, .array((0..<20).map { .double(value(statistic, $0)) }))
        }
        func summary(_ offset: Int) -> BSONValue {
            .document(Document(statistics.map { Document.Field($0, .double(value($0, offset))) }))
        }
        // source and extractor as etl-features writes them, so the documents pass the validator.
        let source: Document = ["path": .string("000/\(id).flac"), "bytes": 1000, "mtime": .dateTime(1_600_000_000_000),
                                "format": "FLAC", "sample_rate": 22050, "channels": 1, "duration_s": .double(1)]
        let extractor: Document = ["version": "test", "params_hash": "0123456789abcdef", "sample_rate": 22050, "n_fft": 2048,
                                   "hop_length": 512, "n_mels": 128, "n_mfcc": 20]
        return ["_id": .integer(id), "source": .document(source), "extractor": .document(extractor), "n_frames": 10,
                "mfcc": .document(mfcc), "spectral_centroid": summary(20), "zcr": summary(21)]
    }

    static func track(id: Int, split: String, genreTop: String = "Rock") -> Document {
        ["_id": .integer(id), "genre_top": .string(genreTop), "genres": [12],
         "set": .document(["split": .string(split), "subset": "small"])]
    }

    static func writeLines(_ documents: [Document], to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let text = try documents.map { try BSONDocument($0).jsonLine() + "\n" }.joined()
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    static func stage(tracks: [Document], features: [Document], in work: TemporaryDirectory) throws {
        try writeLines(tracks, to: work.url.appendingPathComponent("staging/metadata/tracks.jsonl"))
        try writeLines(features, to: work.url.appendingPathComponent("staging/features/features.jsonl"))
    }

    static func read(_ url: URL) throws -> [Document] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { try BSONDocument(json: String($0)).document() }
    }
}

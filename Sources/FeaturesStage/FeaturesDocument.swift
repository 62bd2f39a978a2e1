import AudioFeatures
import DocumentStore
import Staging
import Foundation

/// The feature document of Schemas/features.schema.json, built from an extraction.
enum FeaturesDocument {
    /// Per-frame arrays are left out of documents of more frames than this (≈ 15.5 min of audio at
    /// 22 050 Hz / hop 512): 22 numbers a frame at ≈ 15 BSON bytes each keep such a document under
    /// MongoDB's 16 MiB limit. The summary statistics are always there.
    static let maximumFramesInDocument = 40_000

    static func keepsFrames(nFrames: Int, requested: Bool) -> Bool {
        requested && nFrames <= maximumFramesInDocument
    }

    static func make(id: TrackID, file: AudioFileEntry, features: TrackFeatures) -> Document {
        let parameters = features.parameters
        var document: Document = [
            "_id": id.bson,
            "source": .document([
                "path": .string(file.relativePath),
                "bytes": .integer(file.bytes),
                "mtime": .dateTime(file.mtimeMillis),
                "format": .string(features.source.format),
                "sample_rate": .integer(features.source.sampleRate),
                "channels": .integer(features.source.channels),
                "duration_s": .double(features.source.durationSeconds),
            ]),
            "extractor": .document([
                "version": .string(FeatureParameters.extractorVersion),
                "params_hash": .string(parameters.paramsHash),
                "sample_rate": .integer(parameters.sampleRate),
                "n_fft": .integer(parameters.nFFT),
                "hop_length": .integer(parameters.hopLength),
                "n_mels": .integer(parameters.nMels),
                "n_mfcc": .integer(parameters.nMFCC),
            ]),
            "n_frames": .integer(features.nFrames),
            "mfcc": .document(statistics(features.mfcc)),
            "spectral_centroid": .document(statistics(features.spectralCentroid)),
            "zcr": .document(statistics(features.zcr)),
        ]
        if let frames = features.frames {
            document.append("frames", .document([
                "mfcc": .array(frames.mfcc.map { row in .array(row.map { .double(Double($0)) }) }),
                "spectral_centroid": .array(frames.spectralCentroid.map { .double($0) }),
                "zcr": .array(frames.zcr.map { .double($0) }),
            ]))
        }
        return document
    }

    static let statisticNames = ["mean", "std", "skew", "kurtosis", "median", "min", "max"]

    static func values(_ statistics: SummaryStatistics) -> [Double] {
        [statistics.mean, statistics.std, statistics.skew, statistics.kurtosis, statistics.median,
         statistics.min, statistics.max]
    }

    /// `{mean: x, std: …}` for one series.
    static func statistics(_ statistics: SummaryStatistics) -> Document {
        Document(zip(statisticNames, values(statistics)).map { Document.Field($0, .double($1)) })
    }

    /// `{mean: [one per coefficient], std: […], …}` for the MFCC rows.
    static func statistics(_ rows: [SummaryStatistics]) -> Document {
        let columns = rows.map(values)
        return Document(statisticNames.indices.map { index in
            Document.Field(statisticNames[index], .array(columns.map { .double($0[index]) }))
        })
    }

    /// One staging line (`JSONLineEncoder`) and a newline.
    static func line(_ document: Document) throws -> [UInt8] {
        var bytes = Array(try BSONDocument(document).jsonLine().utf8)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}

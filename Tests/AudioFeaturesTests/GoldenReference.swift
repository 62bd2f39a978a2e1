import Foundation
import TestSupport

/// One `Tests/Fixtures/audio/librosa/<clip>.json` ("librosa-reference/1", see the README there):
/// librosa 0.11's outputs for a golden clip.
struct GoldenReference {
    let clip: String
    let nSamples: Int
    let nFrames: Int
    let nativeSampleRate: Int
    let nativeChannels: Int
    let format: String
    let subtype: String
    let announcedFrames: Int
    let mfcc: [[Double]]
    let spectralCentroid: [Double]
    let zeroCrossingRate: [Double]
    /// stats[feature][stat] → one value per row (20 for MFCC, 1 otherwise).
    let stats: [String: [String: [Double]]]

    static let clips = [
        "tada.ogg", "loop_amen_full.flac", "guit_em9.flac", "loop_compus_160k.mp3", "chimes_48k.ogg",
        "xblast_u8_22050_stereo.wav", "explosion_22050_mono.ogg", "tabla_ke2_44ms.flac", "silence.ogg",
    ]

    static func audioURL(_ clip: String) -> URL { Fixtures.url("audio/\(clip)") }

    init(clip: String) throws {
        self.clip = clip
        let data = try Data(contentsOf: Fixtures.url("audio/librosa/\(clip).json"))
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let features = root["features"] as? [String: Any],
              let decode = root["decode"] as? [String: Any],
              let stats = root["stats"] as? [String: Any] else {
            throw GoldenError.malformed(clip)
        }
        func number(_ value: Any?) throws -> Double {
            switch value {
            case let n as NSNumber: return n.doubleValue
            case "NaN" as String: return .nan
            case "Infinity" as String: return .infinity
            case "-Infinity" as String: return -.infinity
            default: throw GoldenError.malformed("\(clip): not a number: \(String(describing: value))")
            }
        }
        func numbers(_ value: Any?) throws -> [Double] {
            guard let list = value as? [Any] else { throw GoldenError.malformed("\(clip): not a list") }
            return try list.map(number)
        }
        nSamples = Int(try number(root["n_samples"]))
        nFrames = Int(try number(root["n_frames"]))
        nativeSampleRate = Int(try number(decode["native_sr"]))
        nativeChannels = Int(try number(decode["native_channels"]))
        announcedFrames = Int(try number(decode["sf_info_frames"]))
        format = decode["format"] as? String ?? ""
        subtype = decode["subtype"] as? String ?? ""
        guard let mfccRows = features["mfcc"] as? [Any] else { throw GoldenError.malformed("\(clip): mfcc") }
        mfcc = try mfccRows.map(numbers)
        spectralCentroid = try numbers(features["spectral_centroid"])
        zeroCrossingRate = try numbers(features["zero_crossing_rate"])
        var parsedStats: [String: [String: [Double]]] = [:]
        for (feature, value) in stats {
            guard let perStat = value as? [String: Any] else { throw GoldenError.malformed("\(clip): stats") }
            parsedStats[feature] = try perStat.mapValues(numbers)
        }
        self.stats = parsedStats
    }

    enum GoldenError: Error { case malformed(String) }
}

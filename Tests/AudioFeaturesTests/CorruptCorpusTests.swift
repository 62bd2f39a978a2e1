@testable import AudioFeatures
import Foundation
import Testing
import TestSupport

/// Tests/Fixtures/audio/corrupt (made by make_corpus.py there): every file either gives sane
/// features or a clear `AudioDecodeError` carrying the decoder's reason; nothing crashes.
@Suite("corrupt and unusual audio")
struct CorruptCorpusTests {
    static func url(_ name: String) -> URL { Fixtures.url("audio/corrupt/\(name)") }

    func decodeError(_ name: String, extractor: FeatureExtractor? = nil) throws -> AudioDecodeError {
        let extractor = try extractor ?? FeatureExtractor()
        do {
            _ = try extractor.extract(fileAt: Self.url(name))
        } catch let error as AudioDecodeError {
            #expect(error.path.hasSuffix(name))
            #expect(!error.message.isEmpty && error.description.contains(error.message))
            return error
        }
        Issue.record("\(name) decoded without error")
        return AudioDecodeError(kind: .unreadable, path: "", message: "")
    }

    func expectSane(_ features: TrackFeatures) throws {
        let frames = try #require(features.frames)
        #expect(features.nFrames >= 1)
        #expect(frames.mfcc.count == 20 && frames.mfcc.allSatisfy { $0.count == features.nFrames && $0.allSatisfy(\.isFinite) })
        #expect(frames.spectralCentroid.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 11_025 })
        #expect(frames.zcr.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test("not audio at all: undecodable with libsndfile's reason and code; no file at all: unreadable")
    func undecodable() throws {
        for name in ["zero_bytes.mp3", "text_renamed.mp3", "truncated.ogg"] {
            let error = try decodeError(name)
            #expect(error.kind == .undecodable, "\(name): \(error)")
            #expect(error.code != 0, "\(name): \(error)")
            #expect(!error.message.contains("does not exist"), "the file is there: \(error)")
        }
        // libsndfile's own words, so a quarantine record explains itself.
        #expect(try decodeError("truncated.ogg").message.contains("malformed"))
        #expect(try decodeError("zero_bytes.mp3").message.contains("empty"))
        #expect(try decodeError("text_renamed.mp3").message.contains("no decoder recognises"))
        let missing = try decodeError("does_not_exist.flac")
        #expect(missing.kind == .unreadable && missing.message.contains("No such file"), "\(missing)")
    }

    @Test("a WAV whose header announces ten hours but holds one second is truncated")
    func headerAnnouncesMoreThanTheFileHolds() throws {
        let name = "ten_hours_announced_one_second.wav"
        let error = try decodeError(name)
        #expect(error.kind == .truncated, "\(error)")
        #expect(error.message.contains("decoded 44100 of the 1587600000 frames the header announces"), "\(error)")
        let lenient = try FeatureExtractor()
        lenient.truncationTolerance = nil
        let features = try lenient.extract(fileAt: Self.url(name), keepFrames: true)
        #expect(features.source.decodedFrames == 44_100 && features.source.announcedFrames == 1_587_600_000)
        // Complete files of every format are untouched by the rule (the MP3 over-reports slightly).
        for clip in ["../loop_compus_160k.mp3", "../guit_em9.flac", "../tada.ogg", "../xblast_u8_22050_stereo.wav",
                     "short_50ms_44100.wav", "eight_channels.wav"] {
            #expect(throws: Never.self, "\(clip)") { try FeatureExtractor().extract(fileAt: Self.url(clip)) }
        }
    }

    @Test("a libsndfile log's data chunk that claims more than is present")
    func claimedFramesFromTheDecoderLog() {
        let log = "File : x.wav\nRIFF : 3175200036 (should be 88236)\nWAVE\ndata : 3175200000 (should be 88200)\nEnd\n"
        #expect(AudioFileReader.claimedFrames(log: log, frames: 44_100) == 1_587_600_000)
        // Only the outer container is off (a trailing chunk): not a claim about the audio.
        #expect(AudioFileReader.claimedFrames(log: "RIFF : 5000 (should be 4446)\ndata : 4410\n", frames: 2205) == 2205)
        // A chunk claiming less than is there (trailing bytes) announces nothing more.
        #expect(AudioFileReader.claimedFrames(log: "data : 100 (should be 4410)\n", frames: 2205) == 2205)
    }

    @Test("a header without data is empty")
    func headerOnly() throws {
        let error = try decodeError("header_only.wav")
        #expect(error.kind == .empty)
    }

    @Test("cut-off MP3 and FLAC: rejected as truncated, or decoded as far as they go on request")
    func truncated() throws {
        for name in ["truncated.mp3", "truncated.flac"] {
            let error = try decodeError(name)
            #expect(error.kind == .truncated, "\(name): \(error)")
            #expect(error.message.contains("announces"))
            let lenient = try FeatureExtractor()
            lenient.truncationTolerance = nil
            let features = try lenient.extract(fileAt: Self.url(name), keepFrames: true)
            #expect(features.source.decodedFrames < features.source.announcedFrames / 2)
            try expectSane(features)
        }
    }

    @Test("0.05 s at 44.1 kHz: 1103 samples, 3 frames")
    func veryShort() throws {
        let features = try FeatureExtractor().extract(fileAt: Self.url("short_50ms_44100.wav"), keepFrames: true)
        #expect(features.source.decodedFrames == 2205 && features.nSamples == 1103 && features.nFrames == 3)
        try expectSane(features)
    }

    @Test("8 channels: downmixed by the mean of the channels")
    func eightChannels() throws {
        let url = Self.url("eight_channels.wav")
        let features = try FeatureExtractor().extract(fileAt: url, keepFrames: true)
        #expect(features.source.channels == 8 && features.source.decodedFrames == 11_025)
        try expectSane(features)
        // Independent downmix from the raw PCM: mean of the 8 int16/32768 values (exact in
        // float32 whatever the summation order, as the sums need at most 19 significant bits).
        let loader = try FeatureExtractor()
        loader.truncationTolerance = nil
        let resampled = try loader.load(fileAt: url).samples
        let mono = try Self.pcm16Mean(url, channels: 8)
        #expect(resampled == (try StreamingResampler.oneShot(mono, inputRate: 44_100, outputRate: 22_050)))
    }

    @Test("96 kHz: resampled to ceil(n·22050/96000), a 1 kHz tone stays at 1 kHz")
    func highSampleRate() throws {
        let features = try FeatureExtractor().extract(fileAt: Self.url("tone_1khz_96k.wav"), keepFrames: true)
        #expect(features.source.sampleRate == 96_000 && features.nSamples == 11_025 && features.nFrames == 22)
        try expectSane(features)
        let frames = try #require(features.frames)
        for t in 2..<20 { #expect(abs(frames.spectralCentroid[t] - 1000) < 5, "frame \(t)") }
    }

    @Test("all-silence WAV: centroid 0 everywhere, MFCC of −100 dB, NaN only in skew/kurtosis")
    func allSilence() throws {
        let features = try FeatureExtractor().extract(fileAt: Self.url("all_silence_22050.wav"), keepFrames: true)
        try expectSane(features)
        let frames = try #require(features.frames)
        #expect(frames.spectralCentroid.allSatisfy { $0 == 0 } && frames.zcr.allSatisfy { $0 == 0 })
        #expect(abs(features.mfcc[0].mean + 100 * 128.0.squareRoot()) < 1e-3)
        #expect(features.mfcc[0].skew.isNaN && features.spectralCentroid.kurtosis.isNaN)
        #expect(features.spectralCentroid.mean == 0 && features.zcr.max == 0)
    }

    @Test("DC offset: no zero crossings, centroid near 0 Hz")
    func dcOffset() throws {
        let features = try FeatureExtractor().extract(fileAt: Self.url("dc_offset_22050.wav"), keepFrames: true)
        try expectSane(features)
        let frames = try #require(features.frames)
        #expect(frames.zcr.allSatisfy { $0 == 0 })
        // Interior frames: f₁/3 (see SyntheticSignalTests.directCurrent).
        #expect(abs(features.spectralCentroid.median - 22_050.0 / 2048 / 3) < 0.02)
    }

    @Test("concurrent extraction of the whole corpus: same outcomes, messages not mixed up")
    func concurrent() async throws {
        let names = ["zero_bytes.mp3", "text_renamed.mp3", "truncated.mp3", "truncated.flac", "truncated.ogg",
                     "header_only.wav", "short_50ms_44100.wav", "eight_channels.wav", "tone_1khz_96k.wav",
                     "all_silence_22050.wav", "dc_offset_22050.wav", "does_not_exist.flac"]
        func outcome(_ name: String) -> String {
            do {
                let extractor = try FeatureExtractor()
                let features = try extractor.extract(fileAt: Self.url(name))
                return "ok \(features.nFrames) \(features.mfcc[0].mean)"
            } catch {
                return "\(error)"
            }
        }
        let serial = names.map(outcome)
        let parallel = await withTaskGroup(of: (Int, String).self) { group in
            for _ in 0..<4 {
                for (index, name) in names.enumerated() {
                    group.addTask { (index, outcome(name)) }
                }
            }
            var results: [(Int, String)] = []
            for await result in group { results.append(result) }
            return results
        }
        for (index, result) in parallel { #expect(result == serial[index], "\(names[index])") }
    }

    /// Mean over channels of a canonical 16-bit PCM WAV, parsed without libsndfile.
    static func pcm16Mean(_ url: URL, channels: Int) throws -> [Float] {
        let bytes = [UInt8](try Data(contentsOf: url))
        func u32(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24 }
        var offset = 12
        while offset + 8 <= bytes.count {
            let size = u32(offset + 4)
            if bytes[offset..<(offset + 4)].elementsEqual("data".utf8) {
                let frames = size / (2 * channels)
                return (0..<frames).map { frame in
                    var sum: Float = 0
                    for c in 0..<channels {
                        let at = offset + 8 + 2 * (frame * channels + c)
                        sum += Float(Int16(bitPattern: UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8)) / 32_768
                    }
                    return sum / Float(channels)
                }
            }
            offset += 8 + size + size % 2
        }
        throw CocoaError(.fileReadCorruptFile)
    }
}

@testable import AudioFeatures
import Foundation
import Testing
import TestSupport

/// The pure whole-signal functions (`mfcc`, `spectralCentroid`, `zeroCrossingRate`,
/// `summaryStatistics`) against librosa's goldens, and the streaming `FeatureExtractor` against
/// them.
@Suite("whole-signal feature functions")
struct WholeSignalFeaturesTests {
    /// From golden/README.md: MFCC within 1e-3 dB, centroid within 1e-4 relative (1e-3 Hz near
    /// 0), ZCR equal, frame counts equal.
    static let librosaMFCC = 1e-3
    static let librosaCentroidRelative = 1e-4
    static let librosaCentroidAbsolute = 1e-3

    /// Streaming extractor against the pure functions. The functions follow librosa's arithmetic
    /// (a float64 STFT stored as complex64) and match it to ~1e-7; the extractor runs a float32
    /// FFT, so it is held to the same allowance as against librosa itself.
    static let streamingMFCC = librosaMFCC
    static let streamingCentroidRelative = librosaCentroidRelative
    static let streamingCentroidAbsolute = librosaCentroidAbsolute
    /// Frames of a constant alone (centroid Δf/3 ≈ 3.59 Hz, set by bins 0 and 1): the float32 FFT
    /// leaves round-off of ~1e-9 of the DC bin in the top bins, which the bin index amplifies to
    /// 0.005 Hz (measured 0.0055 Hz against the functions' and librosa's float64 STFT).
    static let constantFrameCentroidAbsolute = 0.01

    struct Frames {
        var mfcc: [[Double]]
        var centroid: [Double]
        var zcr: [Double]
    }

    static func pureFrames(_ signal: [Float]) -> Frames {
        Frames(mfcc: mfcc(signal: signal).map { $0.map(Double.init) },
               centroid: spectralCentroid(signal: signal), zcr: zeroCrossingRate(signal: signal))
    }

    /// The worst MFCC difference and the worst centroid difference as a fraction of its allowance,
    /// with where they are; ZCR mismatching frames.
    static func compare(_ ours: Frames, _ theirs: Frames, centroidRelative: Double, centroidAbsolute: Double,
                        frames: Range<Int>? = nil)
        -> (mfcc: Double, centroid: (excess: Double, frame: Int, ours: Double, theirs: Double), zcr: [Int]) {
        let range = frames ?? 0..<theirs.centroid.count
        var worstMFCC = 0.0
        for (row, reference) in zip(ours.mfcc, theirs.mfcc) {
            for t in range { worstMFCC = max(worstMFCC, abs(row[t] - reference[t])) }
        }
        var worstCentroid = (excess: 0.0, frame: 0, ours: 0.0, theirs: 0.0)
        for t in range {
            let allowed = max(centroidAbsolute, centroidRelative * abs(theirs.centroid[t]))
            let excess = abs(ours.centroid[t] - theirs.centroid[t]) / allowed
            if excess > worstCentroid.excess { worstCentroid = (excess, t, ours.centroid[t], theirs.centroid[t]) }
        }
        return (worstMFCC, worstCentroid, range.filter { ours.zcr[$0] != theirs.zcr[$0] })
    }

    @Test("the functions match librosa on the golden clips", arguments: GoldenReference.clips)
    func againstLibrosa(clip: String) throws {
        let reference = try GoldenReference(clip: clip)
        // `load` reproduces librosa.load bit for bit (golden/README.md; ResamplerTests).
        let signal = try FeatureExtractor().load(fileAt: GoldenReference.audioURL(clip)).samples
        let ours = Self.pureFrames(signal)
        #expect(signal.count == reference.nSamples)
        try #require(ours.centroid.count == reference.nFrames && ours.zcr.count == reference.nFrames)
        try #require(ours.mfcc.count == 20 && ours.mfcc.allSatisfy { $0.count == reference.nFrames })
        let result = Self.compare(
            ours, Frames(mfcc: reference.mfcc, centroid: reference.spectralCentroid, zcr: reference.zeroCrossingRate),
            centroidRelative: Self.librosaCentroidRelative, centroidAbsolute: Self.librosaCentroidAbsolute)
        #expect(result.mfcc <= Self.librosaMFCC, "\(clip): MFCC off by \(result.mfcc)")
        #expect(result.centroid.excess <= 1, "\(clip): centroid \(result.centroid)")
        #expect(result.zcr.isEmpty, "\(clip): ZCR differs in frames \(result.zcr.prefix(5))")
        print("pure vs librosa \(clip): max |ΔMFCC| \(result.mfcc), centroid \(result.centroid.excess) of tolerance")
    }

    @Test("the streaming extractor matches the functions on the golden clips", arguments: GoldenReference.clips)
    func streamingAgainstFunctions(clip: String) throws {
        let extractor = try FeatureExtractor()
        let signal = try extractor.load(fileAt: GoldenReference.audioURL(clip)).samples
        let features = try extractor.extract(fileAt: GoldenReference.audioURL(clip), keepFrames: true)
        let frames = try #require(features.frames)
        let expected = Self.pureFrames(signal)
        try #require(features.nFrames == expected.centroid.count)
        let result = Self.compare(
            Frames(mfcc: frames.mfcc.map { $0.map(Double.init) }, centroid: frames.spectralCentroid, zcr: frames.zcr),
            expected, centroidRelative: Self.streamingCentroidRelative,
            centroidAbsolute: Self.streamingCentroidAbsolute)
        #expect(result.mfcc <= Self.streamingMFCC, "\(clip): MFCC off by \(result.mfcc)")
        #expect(result.centroid.excess <= 1, "\(clip): centroid \(result.centroid)")
        #expect(result.zcr.isEmpty, "\(clip): ZCR differs in frames \(result.zcr.prefix(5))")
        // The statistics are those of the frames, bit for bit.
        for (k, row) in frames.mfcc.enumerated() {
            #expect(features.mfcc[k] == summaryStatistics(row.map(Double.init)), "\(clip): MFCC \(k) statistics")
        }
        #expect(features.spectralCentroid == summaryStatistics(frames.spectralCentroid), "\(clip): centroid statistics")
        #expect(features.zcr == summaryStatistics(frames.zcr), "\(clip): ZCR statistics")
        print("streaming vs pure \(clip): max |ΔMFCC| \(result.mfcc), centroid \(result.centroid.excess) of tolerance")
    }

    /// The end of a long track, where the resampler flushes, the spill file holds the last
    /// records and the frames run into the padding: a track that ends in an Opus-style silence (a
    /// 2e-34 constant, what libopus decodes digital silence to) and one cut off loud, resampled
    /// from 48 kHz in chunks and spilled after 64 frames. The constant frames once came out 0 Hz
    /// (float32 squares of their magnitudes underflowed) where the functions give Δf/3 ≈ 3.59 Hz;
    /// they are held to `constantFrameCentroidAbsolute`.
    @Test("spilled streaming equals the functions at the end of a 48 kHz track", arguments: [true, false])
    func spilledTail(silentEnd: Bool) throws {
        var generator = SplitMix64(seed: 20)
        let rate = 48_000
        let seconds = 20
        var input = (0..<(rate * seconds)).map { i -> Float in
            let time = Double(i) / Double(rate)
            let chirp = sin(2 * Double.pi * (200 + 40 * time) * time)
            return Float(0.3 * chirp + 0.05 * (generator.nextUnit() - 0.5))
        }
        if silentEnd {
            let fade = rate / 10
            for i in 0..<fade { input[input.count - fade + i] *= Float(fade - i) / Float(fade) }
            input += [Float](repeating: 2.0345888e-34, count: rate / 4)
        }
        let signal = try StreamingResampler.oneShot(input, inputRate: Double(rate), outputRate: 22_050)
        let extractor = try FeatureExtractor(residentFrameLimit: 64)
        // Fed in chunks like a file, through the streaming resampler.
        let resampler = try StreamingResampler(inputRate: Double(rate), outputRate: 22_050)
        var streamed: [Float] = []
        for start in stride(from: 0, to: input.count, by: 16_384) {
            let chunk = Array(input[start..<min(start + 16_384, input.count)])
            try chunk.withUnsafeBufferPointer { buffer in
                try resampler.process(buffer) { streamed.append(contentsOf: $0) }
            }
        }
        try resampler.finish { streamed.append(contentsOf: $0) }
        #expect(streamed == signal, "the streaming resampler's output equals soxr_oneshot's")
        let features = try extractor.extract(samples: streamed, keepFrames: true)
        let frames = try #require(features.frames)
        let expected = Self.pureFrames(signal)
        try #require(features.nFrames == expected.centroid.count && features.nFrames > 64)
        let tail = (features.nFrames - 8)..<features.nFrames
        if silentEnd {
            // The tail does hold frames of the constant alone (centroid Δf/3 ≈ 3.59 Hz).
            #expect(tail.filter { abs(expected.centroid[$0] - 22_050.0 / 2048 / 3) < 0.02 }.count >= 3)
        }
        let result = Self.compare(
            Frames(mfcc: frames.mfcc.map { $0.map(Double.init) }, centroid: frames.spectralCentroid, zcr: frames.zcr),
            expected, centroidRelative: Self.streamingCentroidRelative,
            centroidAbsolute: silentEnd ? Self.constantFrameCentroidAbsolute : Self.streamingCentroidAbsolute,
            frames: tail)
        #expect(result.mfcc <= Self.streamingMFCC, "MFCC off by \(result.mfcc)")
        #expect(result.centroid.excess <= 1, "centroid \(result.centroid)")
        #expect(result.zcr.isEmpty, "ZCR differs in frames \(result.zcr)")
        print("spilled tail (silent end \(silentEnd)): ours \(Array(frames.spectralCentroid[tail])), functions \(Array(expected.centroid[tail]))")
    }
}

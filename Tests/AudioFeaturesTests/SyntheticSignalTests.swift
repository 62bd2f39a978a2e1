@testable import AudioFeatures
import Foundation
import Testing

/// Known answers on synthetic signals, with expectations from closed forms rather than from the
/// code under test.
@Suite("synthetic signals")
struct SyntheticSignalTests {
    static let sampleRate = 22_050.0
    static let binSpacing = sampleRate / 2048  // 10.7666 Hz

    func extract(_ samples: [Float]) throws -> (TrackFeatures, FrameFeatures) {
        let features = try FeatureExtractor().extract(samples: samples, keepFrames: true)
        return (features, try #require(features.frames))
    }

    /// Frames 2… whose 2048-sample window lies entirely inside the signal (no padding).
    func interiorFrames(sampleCount: Int) -> Range<Int> { 2..<((sampleCount - 1024) / 512 + 1) }

    @Test("a sine's centroid is its frequency")
    func sineCentroid() throws {
        // Centred on bin 100: the Hann window's main lobe is symmetric (weights ¼, ½, ¼ around
        // the bin), so the centroid is the frequency itself up to float32 FFT round-off spread
        // over all bins. Tolerance 0.05 Hz (5e-5 relative).
        let frequency = 100 * Self.binSpacing
        let samples = (0..<22_050).map { Float(0.5 * sin(2 * Double.pi * frequency * Double($0) / Self.sampleRate)) }
        let (_, frames) = try extract(samples)
        for t in interiorFrames(sampleCount: samples.count) {
            #expect(abs(frames.spectralCentroid[t] - frequency) < 0.05, "frame \(t): \(frames.spectralCentroid[t])")
        }
        // Off-bin (440 Hz): leakage is no longer symmetric; still within 0.5 %.
        let tone = (0..<22_050).map { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / Self.sampleRate)) }
        let (_, toneFrames) = try extract(tone)
        for t in interiorFrames(sampleCount: tone.count) {
            #expect(abs(toneFrames.spectralCentroid[t] - 440) < 2.2, "frame \(t): \(toneFrames.spectralCentroid[t])")
        }
    }

    @Test("a ±1 square wave crosses zero twice per period", arguments: [8, 64, 100])
    func squareWaveZeroCrossingRate(period: Int) throws {
        // The phase is chosen so no sign change falls on a frame's first sample (that pair is
        // outside the frame): then an interior frame sees exactly 2048·2/period changes when the
        // period divides 2048, i.e. ZCR = 2/period; otherwise the count is floor or ceil of it.
        let offset = period / 4
        let samples = (0..<22_050).map { i -> Float in ((i + offset) / (period / 2)) % 2 == 0 ? 1 : -1 }
        let (_, frames) = try extract(samples)
        for t in interiorFrames(sampleCount: samples.count) {
            let expected = 2.0 / Double(period)
            if 2048 % period == 0 {
                #expect(frames.zcr[t] == expected, "frame \(t)")
            } else {
                #expect(abs(frames.zcr[t] - expected) <= 1.0 / 2048, "frame \(t)")
            }
        }
    }

    /// libopus decodes digital silence to a constant of about 2e-34 (its anti-denormal offset), so
    /// a real Opus track that ends in silence ends in frames of a tiny constant. A Hann-windowed
    /// constant c has |X0| = c·N/2, |X1| = c·N/4 and nothing else, so its centroid is Δf/3 =
    /// 3.589 Hz at any amplitude — librosa computes |X| with a hypot and gets it. Squared in
    /// float32, (c·N/2)² ≈ 4e-62 underflows to 0, which once gave centroids of 0 Hz (and 0.08 or
    /// 1 Hz where the padding begins). Tolerance 0.02 Hz: the float32 FFT leaves round-off of
    /// ~1e-9·|X0| in the top bins, which the bin index amplifies (same at amplitude 1, measured).
    @Test("a tiny constant (libopus' silence) has the centroid of a constant, not 0", arguments: [Float(2.0345888e-34), 1e-20, 1])
    func tinyConstantCentroid(level: Float) throws {
        let tone = (0..<22_050).map { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / Self.sampleRate)) }
        let samples = tone + [Float](repeating: level, count: 11_025)
        let (_, frames) = try extract(samples)
        // Frames whose window lies wholly in the constant part, padding excluded.
        let constantFrames = ((22_050 + 1024) / 512 + 1)..<interiorFrames(sampleCount: samples.count).upperBound
        #expect(constantFrames.count > 10)
        for t in constantFrames {
            #expect(abs(frames.spectralCentroid[t] - Self.binSpacing / 3) < 0.02,
                    "level \(level), frame \(t): \(frames.spectralCentroid[t])")
        }
        // Where the zero padding begins the spectrum spreads: far above the constant's Δf/3.
        #expect(try #require(frames.spectralCentroid.last) > 100, "level \(level): last frame \(frames.spectralCentroid.last ?? 0)")
    }

    @Test("digital silence: centroid 0, ZCR 0, MFCC of the -100 dB floor, no NaN in frames")
    func silence() throws {
        let (features, frames) = try extract([Float](repeating: 0, count: 22_050))
        #expect(features.nFrames == 1 + 22_050 / 512)
        #expect(frames.spectralCentroid.allSatisfy { $0 == 0 })
        #expect(frames.zcr.allSatisfy { $0 == 0 })
        // Every mel cell is amin = 1e-10 → −100 dB; the orthonormal DCT of a constant c over 128
        // bands is c·√128 in coefficient 0 and 0 elsewhere.
        let expectedC0 = -100 * 128.0.squareRoot()
        for t in 0..<features.nFrames {
            #expect(abs(Double(frames.mfcc[0][t]) - expectedC0) < 1e-3)
            for k in 1..<20 { #expect(abs(frames.mfcc[k][t]) < 1e-3) }
        }
        #expect(frames.mfcc.allSatisfy { $0.allSatisfy(\.isFinite) })
        // Constant series: std 0, and like scipy, skew and kurtosis NaN.
        #expect(features.spectralCentroid.std == 0 && features.spectralCentroid.skew.isNaN)
        #expect(features.zcr.kurtosis.isNaN && features.mfcc[0].skew.isNaN)
    }

    @Test("a constant (DC) signal: ZCR 0, centroid one third of the first bin")
    func directCurrent() throws {
        // Periodic Hann: its DFT is N/2 at bin 0 and N/4 in magnitude at bins ±1, so
        // Σ f·|X| / Σ |X| = f₁·(N/4) / (N/2 + N/4) = f₁/3. The float32 FFT's round-off floor
        // (~1e-7 of the peak in every bin, weighted by up to 11 kHz) shifts it by a few mHz:
        // tolerance 0.02 Hz.
        let samples = [Float](repeating: 0.5, count: 22_050)
        let (_, frames) = try extract(samples)
        #expect(frames.zcr.allSatisfy { $0 == 0 })
        for t in interiorFrames(sampleCount: samples.count) {
            #expect(abs(frames.spectralCentroid[t] - Self.binSpacing / 3) < 0.02, "frame \(t): \(frames.spectralCentroid[t])")
        }
    }

    @Test("frame count is 1 + n // 512, also below one window",
          arguments: [1, 2, 511, 512, 513, 971, 1024, 2047, 2048, 2049, 4096, 10_000])
    func frameCount(length: Int) throws {
        let samples = (0..<length).map { Float(sin(Double($0) * 0.1)) * 0.3 }
        let (features, frames) = try extract(samples)
        #expect(features.nFrames == 1 + length / 512)
        #expect(frames.spectralCentroid.count == features.nFrames && frames.zcr.count == features.nFrames)
        #expect(frames.mfcc.allSatisfy { $0.count == features.nFrames && $0.allSatisfy(\.isFinite) })
    }

    @Test("Vorbis-style samples beyond ±1 are not clipped")
    func unclippedPeaks() throws {
        let quiet = (0..<8192).map { Float(0.5 * sin(Double($0) * 0.05)) }
        let loud = quiet.map { $0 * 3 }  // peaks of 1.5
        let (quietFeatures, quietFrames) = try extract(quiet)
        let (_, loudFrames) = try extract(loud)
        // ×3 in amplitude is +20·log10(3) dB in every mel cell, i.e. +√128·9.54 in MFCC 0, and
        // nothing else changes (clipping would add harmonics and move the centroid).
        let shift = 20 * log10(3.0) * 128.0.squareRoot()
        for t in 0..<quietFeatures.nFrames {
            #expect(abs(Double(loudFrames.mfcc[0][t] - quietFrames.mfcc[0][t]) - shift) < 0.01)
            // Same centroid up to float32 rounding of the ×3 (the golden tolerance, 1e-4 relative).
            #expect(abs(loudFrames.spectralCentroid[t] / quietFrames.spectralCentroid[t] - 1) < 1e-4)
        }
    }
}

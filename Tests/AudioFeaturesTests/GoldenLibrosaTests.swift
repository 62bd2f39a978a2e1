import AudioFeatures
import Foundation
import Testing

/// Agreement with librosa 0.11 on the real clips of `../shared/golden` (copied to
/// Tests/Fixtures/audio). Tolerances, from golden/README.md:
/// - frame counts and sample counts: equal;
/// - MFCC: every frame within 1e-3 (dB-scaled units) absolute;
/// - spectral centroid: every frame within 1e-4 relative, or 1e-3 Hz absolute near 0;
/// - zero-crossing rate: every frame exactly equal.
@Suite("librosa golden clips")
struct GoldenLibrosaTests {
    static let mfccTolerance = 1e-3
    static let centroidRelativeTolerance = 1e-4
    static let centroidAbsoluteTolerance = 1e-3

    @Test("per-frame features match librosa", arguments: GoldenReference.clips)
    func frames(clip: String) throws {
        let reference = try GoldenReference(clip: clip)
        let extractor = try FeatureExtractor()
        let features = try extractor.extract(fileAt: GoldenReference.audioURL(clip), keepFrames: true)
        let frames = try #require(features.frames)

        #expect(features.nSamples == reference.nSamples)
        #expect(features.nFrames == reference.nFrames)
        #expect(features.source.sampleRate == reference.nativeSampleRate)
        #expect(features.source.channels == reference.nativeChannels)
        #expect(features.source.announcedFrames == reference.announcedFrames)
        try #require(frames.mfcc.count == 20 && frames.mfcc.allSatisfy { $0.count == reference.nFrames })
        try #require(frames.spectralCentroid.count == reference.nFrames && frames.zcr.count == reference.nFrames)

        var worstMFCC = (error: 0.0, coefficient: 0, frame: 0)
        for k in 0..<20 {
            for t in 0..<reference.nFrames {
                let error = abs(Double(frames.mfcc[k][t]) - reference.mfcc[k][t])
                if error > worstMFCC.error { worstMFCC = (error, k, t) }
            }
        }
        #expect(worstMFCC.error <= Self.mfccTolerance,
                "\(clip): MFCC off by \(worstMFCC.error) at coefficient \(worstMFCC.coefficient), frame \(worstMFCC.frame)")

        var worstCentroid = (excess: 0.0, frame: 0, ours: 0.0, theirs: 0.0)
        for t in 0..<reference.nFrames {
            let ours = frames.spectralCentroid[t], theirs = reference.spectralCentroid[t]
            let allowed = max(Self.centroidAbsoluteTolerance, Self.centroidRelativeTolerance * abs(theirs))
            let excess = abs(ours - theirs) / allowed
            if excess > worstCentroid.excess { worstCentroid = (excess, t, ours, theirs) }
        }
        #expect(worstCentroid.excess <= 1,
                "\(clip): centroid frame \(worstCentroid.frame): \(worstCentroid.ours) vs librosa \(worstCentroid.theirs)")

        let zcrMismatches = (0..<reference.nFrames).filter { frames.zcr[$0] != reference.zeroCrossingRate[$0] }
        #expect(zcrMismatches.isEmpty,
                "\(clip): ZCR differs in \(zcrMismatches.count) frames, first \(zcrMismatches.prefix(5).map { ($0, frames.zcr[$0], reference.zeroCrossingRate[$0]) })")
        print("golden \(clip): frames \(features.nFrames), max |ΔMFCC| \(worstMFCC.error), centroid worst \(worstCentroid.excess) of tolerance, ZCR mismatches \(zcrMismatches.count)")
    }
}

/// Summary statistics against `stats` in the golden JSON (scipy/numpy in float64 over librosa's
/// frames).
@Suite("librosa golden statistics")
struct GoldenStatisticsTests {
    /// Our statistics unit on librosa's own frames reproduces scipy to float64 rounding
    /// (different summation order): 1e-9 relative, NaN where scipy gives NaN.
    @Test("statistics of librosa's frames equal scipy's", arguments: GoldenReference.clips)
    func statisticsOfReferenceFrames(clip: String) throws {
        let reference = try GoldenReference(clip: clip)
        let rows: [(String, [[Double]])] = [("mfcc", reference.mfcc), ("spectral_centroid", [reference.spectralCentroid]),
                                            ("zero_crossing_rate", [reference.zeroCrossingRate])]
        for (feature, series) in rows {
            let expected = try #require(reference.stats[feature])
            for (row, values) in series.enumerated() {
                let ours = SummaryStatistics(of: values)
                for (name, value) in statisticFields(ours) {
                    let theirs = try #require(expected[name]?[row])
                    let close = (value.isNaN && theirs.isNaN) || abs(value - theirs) <= 1e-9 * max(1, abs(theirs))
                    #expect(close, "\(clip) \(feature)[\(row)].\(name): \(value) vs scipy \(theirs)")
                }
            }
        }
    }

    /// Our statistics of our frames. Per-frame differences bound the differences of mean, std,
    /// median, min and max by the per-frame tolerance (each is 1-Lipschitz in the max norm);
    /// skew and kurtosis move by at most ~c·ε/σ, allowed here as 50·ε/σ with ε the per-frame
    /// tolerance and σ the series' std. ZCR frames are identical, so its stats match to rounding.
    @Test("statistics of our frames are close to librosa's", arguments: GoldenReference.clips)
    func statistics(clip: String) throws {
        let reference = try GoldenReference(clip: clip)
        let features = try FeatureExtractor().extract(fileAt: GoldenReference.audioURL(clip))
        let maxCentroid = reference.spectralCentroid.max() ?? 0
        let centroidEpsilon = max(1e-3, 1e-4 * maxCentroid)
        var checks: [(String, Int, SummaryStatistics, Double)] = []
        for k in 0..<20 { checks.append(("mfcc", k, features.mfcc[k], 1e-3)) }
        checks.append(("spectral_centroid", 0, features.spectralCentroid, centroidEpsilon))
        checks.append(("zero_crossing_rate", 0, features.zcr, 1e-12))
        for (feature, row, ours, epsilon) in checks {
            let expected = try #require(reference.stats[feature])
            let sigma = try #require(expected["std"]?[row])
            for (name, value) in statisticFields(ours) {
                let theirs = try #require(expected[name]?[row])
                if theirs.isNaN {
                    #expect(value.isNaN, "\(clip) \(feature)[\(row)].\(name): \(value), scipy NaN")
                    continue
                }
                let allowed = name == "skew" || name == "kurtosis" ? 50 * epsilon / max(sigma, 1e-300) + 1e-9 : epsilon
                #expect(abs(value - theirs) <= allowed, "\(clip) \(feature)[\(row)].\(name): \(value) vs \(theirs)")
            }
        }
    }

    func statisticFields(_ s: SummaryStatistics) -> [(String, Double)] {
        [("mean", s.mean), ("std", s.std), ("skew", s.skew), ("kurtosis", s.kurtosis),
         ("median", s.median), ("min", s.min), ("max", s.max)]
    }
}

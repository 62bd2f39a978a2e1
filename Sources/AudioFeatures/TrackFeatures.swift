/// Per-frame values, kept only on request (`--frames`). Element types follow librosa's own
/// output dtypes so values round-trip exactly: MFCC float32, centroid and ZCR float64 (a ZCR
/// value is crossings/2048, exact in either).
public struct FrameFeatures: Sendable, Equatable {
    /// `nMFCC` arrays of `nFrames` values (coefficient-major, like librosa's `(n_mfcc, t)`).
    public var mfcc: [[Float]]
    public var spectralCentroid: [Double]
    public var zcr: [Double]

    public init(mfcc: [[Float]], spectralCentroid: [Double], zcr: [Double]) {
        self.mfcc = mfcc
        self.spectralCentroid = spectralCentroid
        self.zcr = zcr
    }
}

/// Everything extracted from one audio file.
public struct TrackFeatures: Sendable {
    public var source: AudioSourceInfo
    public var parameters: FeatureParameters
    /// Samples after resampling to `parameters.sampleRate` (librosa's `len(y)`).
    public var nSamples: Int
    /// 1 + nSamples // hopLength.
    public var nFrames: Int
    /// One entry per MFCC coefficient (`parameters.nMFCC`).
    public var mfcc: [SummaryStatistics]
    public var spectralCentroid: SummaryStatistics
    public var zcr: SummaryStatistics
    public var frames: FrameFeatures?

    public init(source: AudioSourceInfo, parameters: FeatureParameters, nSamples: Int, nFrames: Int,
                mfcc: [SummaryStatistics], spectralCentroid: SummaryStatistics, zcr: SummaryStatistics,
                frames: FrameFeatures?) {
        self.source = source
        self.parameters = parameters
        self.nSamples = nSamples
        self.nFrames = nFrames
        self.mfcc = mfcc
        self.spectralCentroid = spectralCentroid
        self.zcr = zcr
        self.frames = frames
    }
}

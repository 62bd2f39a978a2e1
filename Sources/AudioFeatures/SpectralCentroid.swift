/// `librosa.feature.spectral_centroid` of one frame: Σ f·|X| / Σ |X| in float64 (librosa
/// normalises the float32 magnitudes in float64), from the sums `PowerSpectrum` accumulates.
///
/// A frame whose magnitude sum is below float32's smallest normal number is left unnormalised,
/// as `librosa.util.normalize(threshold=tiny)` does: the centroid is then Σ f·|X|, i.e. 0 for
/// digital silence, never NaN.
struct SpectralCentroid {
    /// Hz between bins, `librosa.fft_frequencies(sr, n_fft)[1]` (bin k is at k times this).
    let binSpacing: Double

    init(sampleRate: Int, nFFT: Int) {
        binSpacing = fftBinFrequencies(sampleRate: sampleRate, nFFT: nFFT)[1]
    }

    func centroid(_ moments: MagnitudeMoments) -> Double {
        let weighted = binSpacing * moments.weightedByBin
        return moments.total < Double(Float.leastNormalMagnitude) ? weighted : weighted / moments.total
    }
}

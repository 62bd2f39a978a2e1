import Foundation

/// The Slaney mel scale (librosa `htk=False`): linear below 1 kHz (3 mel per 200 Hz), logarithmic
/// above (27 steps per factor 6.4).
public enum SlaneyMelScale {
    static let linearStep = 200.0 / 3
    static let logRegionStartHz = 1000.0
    static let logRegionStartMel = logRegionStartHz / linearStep
    static let logStep = log(6.4) / 27.0

    public static func hzToMel(_ hz: Double) -> Double {
        hz >= logRegionStartHz
            ? logRegionStartMel + log(hz / logRegionStartHz) / logStep
            : hz / linearStep
    }

    public static func melToHz(_ mel: Double) -> Double {
        mel >= logRegionStartMel
            ? logRegionStartHz * exp(logStep * (mel - logRegionStartMel))
            : linearStep * mel
    }

    /// `count` frequencies equally spaced on the mel scale from `fMin` to `fMax` inclusive
    /// (`librosa.mel_frequencies`; the spacing follows `numpy.linspace`: i·step + start, last = stop).
    public static func melFrequencies(count: Int, fMin: Double, fMax: Double) -> [Double] {
        let minMel = hzToMel(fMin)
        let maxMel = hzToMel(fMax)
        let step = count > 1 ? (maxMel - minMel) / Double(count - 1) : 0
        return (0..<count).map { i in
            melToHz(i == count - 1 && count > 1 ? maxMel : Double(i) * step + minMel)
        }
    }
}

/// Centre frequency of each rFFT bin, `librosa.fft_frequencies` (= `numpy.fft.rfftfreq`):
/// k · (1 / (n · (1/sr))), in float64 as numpy computes it.
public func fftBinFrequencies(sampleRate: Int, nFFT: Int) -> [Double] {
    let spacing = 1.0 / (Double(nFFT) * (1.0 / Double(sampleRate)))
    return (0...(nFFT / 2)).map { Double($0) * spacing }
}

/// `librosa.filters.mel(sr, n_fft, n_mels, fmin=0, fmax=sr/2, htk=False, norm="slaney")` in
/// float32, stored sparsely: each triangle keeps only its nonzero bin range (a filter spans a few
/// to a few dozen of the 1025 bins, so applying it is ~2 multiply-adds per bin instead of 128).
public struct MelFilterbank: Sendable {
    public let melCount: Int
    public let binCount: Int
    /// First nonzero bin of each filter.
    public let firstBin: [Int]
    /// Number of nonzero bins of each filter (0 for an empty filter).
    public let binSpan: [Int]
    /// Nonzero weights of filter m at `weightOffset[m] ..< weightOffset[m] + binSpan[m]`.
    let weights: [Float]
    let weightOffset: [Int]
    /// Per filter, what `apply` passes to the kernel: first bin, span rounded up to 8, offset.
    private let kernelFirstBin: [Int32]
    private let kernelPaddedSpan: [Int32]
    private let kernelOffset: [Int32]

    public init(sampleRate: Int, nFFT: Int, melCount: Int, fMin: Double = 0, fMax: Double? = nil) {
        let binFrequencies = fftBinFrequencies(sampleRate: sampleRate, nFFT: nFFT)
        let edges = SlaneyMelScale.melFrequencies(count: melCount + 2, fMin: fMin,
                                                  fMax: fMax ?? Double(sampleRate) / 2)
        var firstBin = [Int](), binSpan = [Int](), weights = [Float](), weightOffset = [Int]()
        for m in 0..<melCount {
            let lowerWidth = edges[m + 1] - edges[m]
            let upperWidth = edges[m + 2] - edges[m + 1]
            // Slaney area normalisation: each triangle has unit area in Hz·(weight).
            let areaNorm = 2.0 / (edges[m + 2] - edges[m])
            var first = -1
            var filter = [Float]()
            for (k, f) in binFrequencies.enumerated() {
                let rising = (f - edges[m]) / lowerWidth
                let falling = (edges[m + 2] - f) / upperWidth
                // librosa stores the triangle in a float32 matrix, then scales it in float64.
                let triangle = Float(max(0, min(rising, falling)))
                let weight = Float(Double(triangle) * areaNorm)
                if weight > 0 {
                    if first < 0 { first = k }
                    // Zeros inside the range cannot occur (a triangle is convex), but keep the
                    // layout dense between first and last nonzero bin regardless.
                    filter.append(contentsOf: repeatElement(0, count: k - first - filter.count))
                    filter.append(weight)
                }
            }
            firstBin.append(max(first, 0))
            binSpan.append(filter.count)
            weightOffset.append(weights.count)
            weights.append(contentsOf: filter)
            // Zero weights up to a multiple of 8 let `apply` run whole 8-lane blocks only; the power
            // spectrum it reads is padded to match (see `paddedBinCount`).
            weights.append(contentsOf: repeatElement(0, count: (8 - filter.count % 8) % 8))
        }
        self.melCount = melCount
        self.binCount = binFrequencies.count
        self.firstBin = firstBin
        self.binSpan = binSpan
        self.weights = weights
        self.weightOffset = weightOffset
        // Spectra are 2^k + 1 bins (at most a few hundred thousand): Int32 holds every index.
        self.kernelFirstBin = firstBin.map { Int32(truncatingIfNeeded: $0) }
        self.kernelPaddedSpan = binSpan.map { Int32(truncatingIfNeeded: ($0 + 7) / 8 * 8) }
        self.kernelOffset = weightOffset.map { Int32(truncatingIfNeeded: $0) }
    }

    /// Length a power spectrum passed to `apply` must have: `binCount` values followed by zeros,
    /// so the last filter's zero-padded block stays in bounds.
    public var paddedBinCount: Int { binCount + 8 }

    /// The dense `melCount × binCount` matrix, for tests and inspection.
    public func denseMatrix() -> [[Float]] {
        (0..<melCount).map { m in
            var row = [Float](repeating: 0, count: binCount)
            for j in 0..<binSpan[m] { row[firstBin[m] + j] = weights[weightOffset[m] + j] }
            return row
        }
    }

    /// mel[m] = Σ_k weight[m][k] · power[k], float32 like librosa's `einsum`. `power` must hold
    /// `paddedBinCount` values, zero beyond `binCount`.
    func apply(power: UnsafePointer<Float>, into mel: UnsafeMutablePointer<Float>) {
        AudioKernels.mel(weights: weights, firstBin: kernelFirstBin, paddedSpan: kernelPaddedSpan, offset: kernelOffset,
                         melCount: melCount, power: power, into: mel)
    }
}

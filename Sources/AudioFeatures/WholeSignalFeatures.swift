import Foundation

// The features as pure functions of a whole mono signal, written the way librosa 0.11 defines
// them (`librosa.feature.mfcc`, `spectral_centroid`, `zero_crossing_rate` at their defaults).
// They hold the whole signal and every frame in memory and favour plain arithmetic over speed:
// they are the readable definition that the streaming `FeatureExtractor` is tested against.

/// `librosa.feature.mfcc(y=signal, sr=sampleRate)`: `nMFCC` rows of one value per frame.
/// power spectrogram → Slaney mel filterbank → `power_to_db(ref=1, amin=1e-10, top_db=80)` →
/// orthonormal DCT-II over the mel axis, first `nMFCC` coefficients.
public func mfcc(signal: [Float], sampleRate: Int = 22_050,
                 parameters: FeatureParameters = .librosaDefaults) -> [[Float]] {
    let filterbank = MelFilterbank(sampleRate: sampleRate, nFFT: parameters.nFFT, melCount: parameters.nMels)
    let weights = filterbank.denseMatrix()
    let transform = DiscreteCosineTransform(inputCount: parameters.nMels, outputCount: parameters.nMFCC)
    // One mel row per frame, in dB.
    let melDecibels: [[Float]] = magnitudeSpectrogram(signal: signal, nFFT: parameters.nFFT,
                                                      hopLength: parameters.hopLength).map { magnitudes in
        let power = magnitudes.map { $0 * $0 }
        return (0..<parameters.nMels).map { m in
            // Σ_k weight[m][k]·power[k] over the triangle's nonzero bins (the others add 0).
            var energy: Float = 0
            for k in filterbank.firstBin[m]..<(filterbank.firstBin[m] + filterbank.binSpan[m]) {
                energy += weights[m][k] * power[k]
            }
            return 10 * log10(max(PowerToDecibels.amin, energy))
        }
    }
    let floor = (melDecibels.joined().max() ?? 0) - PowerToDecibels.topDB
    return (0..<parameters.nMFCC).map { k in
        melDecibels.map { row in
            var sum = 0.0
            for (n, value) in row.enumerated() {
                sum += transform.matrix[k * parameters.nMels + n] * Double(max(value, floor))
            }
            return Float(sum)
        }
    }
}

/// `librosa.feature.spectral_centroid(y=signal, sr=sampleRate)`: per frame Σ f·|X| / Σ |X| over
/// the rFFT bins (|X| of a frame whose Σ |X| is below float32's smallest normal is not
/// normalised, as `librosa.util.normalize` leaves it: digital silence gives 0).
public func spectralCentroid(signal: [Float], sampleRate: Int = 22_050,
                             nFFT: Int = 2048, hopLength: Int = 512) -> [Double] {
    let frequencies = fftBinFrequencies(sampleRate: sampleRate, nFFT: nFFT)
    return magnitudeSpectrogram(signal: signal, nFFT: nFFT, hopLength: hopLength).map { magnitudes in
        var total = 0.0, weighted = 0.0
        for (frequency, magnitude) in zip(frequencies, magnitudes) {
            total += Double(magnitude)
            weighted += frequency * Double(magnitude)
        }
        return total < Double(Float.leastNormalMagnitude) ? weighted : weighted / total
    }
}

/// `librosa.feature.zero_crossing_rate(signal)`: per frame (edge-padded, `center=True`) the
/// fraction of the `frameLength` positions i ≥ 1 where the sign differs from position i − 1,
/// after values with |x| ≤ 1e-10 count as +0.
public func zeroCrossingRate(signal: [Float], frameLength: Int = 2048, hopLength: Int = 512) -> [Double] {
    guard let first = signal.first, let last = signal.last else { return [] }
    let negative = { (x: Float) in x < -ZeroCrossingRate.threshold }
    return centeredFrames(signal, frameLength: frameLength, hopLength: hopLength,
                          before: first, after: last).map { frame in
        var crossings = 0
        for i in 1..<frame.count where negative(frame[i]) != negative(frame[i - 1]) { crossings += 1 }
        return Double(crossings) / Double(frameLength)
    }
}

/// The seven statistics of one feature row (mean, std, skew, kurtosis, median, min, max), as
/// `scipy.stats` and numpy define them; see `SummaryStatistics`.
public func summaryStatistics(_ values: [Double]) -> SummaryStatistics {
    SummaryStatistics(of: values)
}

/// |STFT| with librosa's defaults: periodic Hann window, `center=True` with zero padding; one
/// array of `nFFT / 2 + 1` magnitudes per frame. As in librosa, the transform runs in float64
/// (its float64 window promotes the float32 frames), the result is stored as complex64 and |X|
/// is taken from that in float32 (a hypot: tiny spectra keep their magnitude). `nFFT` must be
/// a power of two.
public func magnitudeSpectrogram(signal: [Float], nFFT: Int = 2048, hopLength: Int = 512) -> [[Float]] {
    guard !signal.isEmpty else { return [] }
    let window = (0..<nFFT).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(nFFT)) }
    let fft = RadixTwoFFT(size: nFFT)
    return centeredFrames(signal, frameLength: nFFT, hopLength: hopLength, before: 0, after: 0).map { frame in
        fft.transform(zip(frame, window).map { Double($0) * $1 })[0...(nFFT / 2)].map { bin in
            let re = Float(bin.re), im = Float(bin.im)
            return Float((Double(re) * Double(re) + Double(im) * Double(im)).squareRoot())
        }
    }
}

/// Frames t = 0 … L / hop of `signal`, frame t covering samples [t·hop − n/2, t·hop + n/2); positions
/// before the signal read `before`, after it `after`.
func centeredFrames(_ signal: [Float], frameLength: Int, hopLength: Int,
                    before: Float, after: Float) -> [[Float]] {
    let frameCount = FrameAssembler.frameCount(length: signal.count, hopLength: hopLength)
    return (0..<frameCount).map { t in
        let start = t * hopLength - frameLength / 2
        return (start..<(start + frameLength)).map { i in
            i < 0 ? before : i >= signal.count ? after : signal[i]
        }
    }
}

/// The discrete Fourier transform X[k] = Σ x[n]·e^(−2πikn/N) of a real sequence, in float64, by
/// the iterative radix-2 Cooley–Tukey algorithm (N a power of two).
struct RadixTwoFFT {
    let size: Int
    /// e^(−2πik/N), k < N/2.
    private let twiddles: [(re: Double, im: Double)]

    init(size: Int) {
        precondition(size > 0 && size & (size - 1) == 0, "the FFT size must be a power of two, got \(size)")
        self.size = size
        twiddles = (0..<(size / 2)).map { k in
            let angle = -2 * Double.pi * Double(k) / Double(size)
            return (cos(angle), sin(angle))
        }
    }

    func transform(_ input: [Double]) -> [(re: Double, im: Double)] {
        precondition(input.count == size, "\(input.count) values for an FFT of \(size)")
        // Inputs in bit-reversed order, then butterflies over blocks of 2, 4, … N.
        var re = input, im = [Double](repeating: 0, count: size)
        var j = 0
        for i in 1..<max(size, 1) {
            var bit = size >> 1
            while j & bit != 0 {
                j ^= bit
                bit >>= 1
            }
            j |= bit
            if i < j { re.swapAt(i, j) }
        }
        var block = 2
        while block <= size {
            let half = block / 2, stride = size / block
            for start in Swift.stride(from: 0, to: size, by: block) {
                for k in 0..<half {
                    let w = twiddles[k * stride]
                    let a = start + k, b = a + half
                    let productRe = re[b] * w.re - im[b] * w.im
                    let productIm = re[b] * w.im + im[b] * w.re
                    re[b] = re[a] - productRe
                    im[b] = im[a] - productIm
                    re[a] += productRe
                    im[a] += productIm
                }
            }
            block *= 2
        }
        return (0..<size).map { (re[$0], im[$0]) }
    }
}

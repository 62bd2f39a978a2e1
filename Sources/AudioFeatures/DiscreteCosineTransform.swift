import Foundation

/// The first `outputCount` coefficients of an orthonormal DCT-II over `inputCount` values
/// (`scipy.fft.dct(x, type=2, norm="ortho")[:outputCount]`), as a precomputed matrix:
/// D[k][n] = s_k · cos(π·k·(2n+1) / (2N)), s_0 = √(1/N), s_k = √(2/N).
public struct DiscreteCosineTransform: Sendable {
    public let inputCount: Int
    public let outputCount: Int
    /// Row-major `outputCount × inputCount`, float64 so the MFCCs carry no extra float32 rounding
    /// beyond the one at the end.
    public let matrix: [Double]

    public init(inputCount: Int, outputCount: Int) {
        self.inputCount = inputCount
        self.outputCount = outputCount
        let n = Double(inputCount)
        var matrix = [Double](repeating: 0, count: inputCount * outputCount)
        for k in 0..<outputCount {
            let scale = k == 0 ? (1 / n).squareRoot() : (2 / n).squareRoot()
            for i in 0..<inputCount {
                matrix[k * inputCount + i] = scale * cos(Double.pi * Double(k) * Double(2 * i + 1) / (2 * n))
            }
        }
        self.matrix = matrix
    }

    /// The matrix rows folded over the first half (see `apply`), rounded once to float32: row k
    /// holds D[k][0 ..< ⌈N/2⌉] (for odd N the middle column too), zero-padded to `foldedStride`.
    private var foldedMatrix: [Float] {
        var folded = [Float](repeating: 0, count: outputCount * foldedStride)
        for k in 0..<outputCount {
            for i in 0..<((inputCount + 1) / 2) { folded[k * foldedStride + i] = Float(matrix[k * inputCount + i]) }
        }
        return folded
    }

    /// ⌈N/2⌉ rounded up to a multiple of 8 (whole 8-lane blocks).
    var foldedStride: Int { ((inputCount + 1) / 2 + 7) / 8 * 8 }

    /// Scratch floats `apply` needs: both folded halves.
    var scratchCount: Int { 2 * foldedStride }

    /// A float32 copy of the folded matrix for `apply`; build once, reuse for every frame.
    func makeKernel() -> Kernel { Kernel(transform: self) }

    /// output[k] = Σ_n D[k][n] · max(input[n], floor) in float32 (librosa's DCT runs in float32
    /// too, via scipy's pocketfft), by `AudioKernels.cepstrum`. Worst difference to librosa on the
    /// golden clips stays far inside the 1e-3 tolerance (see GoldenLibrosaTests' printed margins).
    ///
    /// Uses the symmetry D[k][N−1−n] = (−1)^k · D[k][n]: even rows see x[n] + x[N−1−n], odd rows
    /// x[n] − x[N−1−n], so each row is a dot product over the first half only.
    public struct Kernel: Sendable {
        let inputCount: Int
        let outputCount: Int
        let stride: Int
        let rows: [Float]

        init(transform: DiscreteCosineTransform) {
            inputCount = transform.inputCount
            outputCount = transform.outputCount
            stride = transform.foldedStride
            rows = transform.foldedMatrix
        }

        /// `scratch` holds `2 * stride` floats (`DiscreteCosineTransform.scratchCount`); `floor`
        /// (the 80 dB floor of `power_to_db`) raises smaller inputs to it, −∞ leaves them as they are.
        func apply(_ input: UnsafePointer<Float>, floor: Float = -.infinity, into output: UnsafeMutablePointer<Float>,
                   scratch: UnsafeMutablePointer<Float>) {
            AudioKernels.cepstrum(input, melCount: inputCount, floor: floor, rows: rows, mfccCount: outputCount,
                                  stride: stride, scratch: scratch, into: output)
        }
    }
}

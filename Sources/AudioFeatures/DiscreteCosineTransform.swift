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

    /// output[k] = Σ_n D[k][n] · input[n], accumulated in float64, rounded once to float32.
    ///
    /// Uses the symmetry D[k][N−1−n] = (−1)^k · D[k][n]: even rows see x[n] + x[N−1−n], odd rows
    /// x[n] − x[N−1−n], so each row is a dot product over the first half only. `scratch` holds
    /// `inputCount` doubles (both folded halves).
    func apply(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>,
               scratch: UnsafeMutablePointer<Double>) {
        let half = inputCount / 2
        let sums = scratch, differences = scratch + half
        for i in 0..<half {
            let a = Double(input[i]), b = Double(input[inputCount - 1 - i])
            sums[i] = a + b
            differences[i] = a - b
        }
        // The middle element of an odd-length input appears once, with D[k][mid] = 0 for odd k.
        let middle = inputCount % 2 == 1 ? Double(input[half]) : 0
        let stride = MemoryLayout<Double>.stride
        matrix.withUnsafeBufferPointer { rows in
            guard let base = rows.baseAddress else { return }
            for k in 0..<outputCount {
                let row = base + k * inputCount
                let folded = UnsafeRawPointer(k % 2 == 0 ? sums : differences)
                let coefficients = UnsafeRawPointer(row)
                var partial = SIMD4<Double>()
                var i = 0
                while i + 4 <= half {
                    partial += coefficients.loadUnaligned(fromByteOffset: i * stride, as: SIMD4<Double>.self)
                        * folded.loadUnaligned(fromByteOffset: i * stride, as: SIMD4<Double>.self)
                    i += 4
                }
                var sum = partial.sum()
                let foldedValues = folded.assumingMemoryBound(to: Double.self)
                while i < half {
                    sum += row[i] * foldedValues[i]
                    i += 1
                }
                if inputCount % 2 == 1 { sum += row[half] * middle }
                output[k] = Float(sum)
            }
        }
    }
}

@testable import AudioFeatures
import Foundation
import Testing
import TestSupport

@Suite("DSP kernels")
struct AudioKernelsTests {
    @Test("mel filterbank kernel equals the dense matrix product (float64 reference)")
    func melMatchesDenseProduct() {
        let bank = MelFilterbank(sampleRate: 22_050, nFFT: 2048, melCount: 128)
        let dense = bank.denseMatrix()
        var generator = SplitMix64(seed: 5)
        var power = [Float](repeating: 0, count: bank.paddedBinCount)
        for k in 0..<bank.binCount { power[k] = Float(generator.nextUnit() * 100) }
        var mel = [Float](repeating: .nan, count: 128)
        power.withUnsafeBufferPointer { p in
            mel.withUnsafeMutableBufferPointer { bank.apply(power: p.baseAddress!, into: $0.baseAddress!) }
        }
        for m in 0..<128 {
            var exact = 0.0, magnitude = 0.0
            for k in 0..<bank.binCount {
                exact += Double(dense[m][k]) * Double(power[k])
                magnitude += abs(Double(dense[m][k]) * Double(power[k]))
            }
            // float32 accumulation over at most ~50 terms.
            #expect(abs(Double(mel[m]) - exact) <= 1e-6 * magnitude + 1e-30, "mel \(m)")
        }
    }
}

@testable import AudioFeatures
import Foundation
import Testing
import TestSupport

@Suite("DSP units")
struct DSPUnitTests {
    // MARK: Window and power spectrum

    @Test("periodic Hann window")
    func hannWindow() {
        let window = periodicHannWindow(length: 2048)
        #expect(window[0] == 0)
        #expect(window[1024] == 1)  // periodic: the peak sits at n/2, the last sample is not 0
        #expect(abs(window[512] - 0.5) < 1e-7 && window[2047] > 0)
        // Σ w = N/2 for the periodic Hann window.
        #expect(abs(window.reduce(0.0) { $0 + Double($1) } - 1024) < 1e-3)
    }

    @Test("power spectrum and magnitude sums equal a float64 DFT",
          arguments: [8, 30, 64, 1000, 2048])
    func powerSpectrumMatchesDFT(size: Int) throws {
        let spectrum = try PowerSpectrum(size: size)
        var generator = SplitMix64(seed: UInt64(size))
        let frame = (0..<size).map { _ in Float(generator.nextUnit() * 2 - 1) }
        for i in 0..<size { spectrum.input[i] = frame[i] }
        var power = [Float](repeating: 0, count: size / 2 + 1)
        let moments = power.withUnsafeMutableBufferPointer { spectrum.compute(power: $0.baseAddress!) }
        // Reference: direct O(N²) DFT in float64. Float32 FFT error is ~1e-7·‖x‖·log N per bin.
        let norm = frame.reduce(0.0) { $0 + Double($1) * Double($1) }
        var total = 0.0, weighted = 0.0
        for k in 0...(size / 2) {
            var re = 0.0, im = 0.0
            for n in 0..<size {
                let angle = -2 * Double.pi * Double(k * n % size) / Double(size)
                re += Double(frame[n]) * cos(angle)
                im += Double(frame[n]) * sin(angle)
            }
            let exact = re * re + im * im
            #expect(abs(Double(power[k]) - exact) <= 1e-5 * norm, "bin \(k): \(power[k]) vs \(exact)")
            total += exact.squareRoot()
            weighted += Double(k) * exact.squareRoot()
        }
        #expect(abs(moments.total - total) <= 1e-5 * total)
        #expect(abs(moments.weightedByBin - weighted) <= 1e-5 * weighted)
    }

    @Test("centroid: Δf·Σk|X|/Σ|X|, left unnormalised below float32's smallest normal")
    func centroid() {
        let centroid = SpectralCentroid(sampleRate: 22_050, nFFT: 2048)
        #expect(centroid.binSpacing == 22_050.0 / 2048)
        #expect(centroid.centroid(MagnitudeMoments(total: 2, weightedByBin: 200)) == 100 * 22_050.0 / 2048)
        #expect(centroid.centroid(MagnitudeMoments(total: 0, weightedByBin: 0)) == 0)
        let tiny = Double(Float.leastNormalMagnitude) / 4
        #expect(centroid.centroid(MagnitudeMoments(total: tiny, weightedByBin: 3 * tiny)) == 3 * tiny * 22_050.0 / 2048)
    }

    // MARK: Zero crossings

    @Test("crossing count: sign bits after the ±1e-10 threshold, zero counts as positive")
    func crossingCount() {
        let cases: [([Float], Int)] = [
            ([1, -1, 1, -1], 3),
            ([0, -1, 0, 1, 0], 2),           // 0 → −1 and −1 → 0: 0 is positive
            ([-0.0, 1, -0.0, -1], 1),        // −0 is thresholded to +0: only 0 → −1 counts
            ([1e-10, -1e-10, 2e-10, -2e-10], 1),  // |x| ≤ 1e-10 is zero; 2e-10 → −2e-10 counts
            ([-5, -4, -3], 0),
            ([3], 0),
        ]
        for (samples, expected) in cases {
            let count = samples.withUnsafeBufferPointer {
                ZeroCrossingRate.crossingCount($0.baseAddress!, count: samples.count)
            }
            #expect(count == expected, "\(samples)")
        }
        // The count agrees with a plain loop on a long random frame.
        var generator = SplitMix64(seed: 7)
        let frame = (0..<2048).map { _ -> Float in
            let u = generator.nextUnit()
            return u < 0.1 ? 0 : u < 0.2 ? Float(u - 0.15) * 1e-9 : Float(u - 0.6)
        }
        for length in [2048, 513, 9, 8, 2] {
            var expected = 0
            for i in 1..<length where (frame[i] < -1e-10) != (frame[i - 1] < -1e-10) { expected += 1 }
            #expect(frame.withUnsafeBufferPointer { ZeroCrossingRate.crossingCount($0.baseAddress!, count: length) } == expected,
                    "\(length) samples")
        }
    }

    // MARK: Framing

    /// librosa's framing, written out directly: pad (zeros / edge values) and slice.
    func referenceFrames(_ signal: [Float]) -> (spectral: [[Float]], crossings: [Int]) {
        let zeroPadded = [Float](repeating: 0, count: 1024) + signal + [Float](repeating: 0, count: 1024)
        let edgePadded = [Float](repeating: signal[0], count: 1024) + signal
            + [Float](repeating: signal[signal.count - 1], count: 1024)
        var spectral: [[Float]] = [], crossings: [Int] = []
        for t in 0...(signal.count / 512) {
            spectral.append(Array(zeroPadded[(t * 512)..<(t * 512 + 2048)]))
            let frame = Array(edgePadded[(t * 512)..<(t * 512 + 2048)])
            var count = 0
            for i in 1..<2048 where (frame[i] < -1e-10) != (frame[i - 1] < -1e-10) { count += 1 }
            crossings.append(count)
        }
        return (spectral, crossings)
    }

    @Test("streamed framing equals pad-and-slice, whatever the chunk sizes",
          arguments: [(1, 10_000), (7, 10_000), (512, 10_000), (16_384, 10_000), (100_000, 10_000),
                      (333, 1500), (5, 700), (4096, 2048)])
    func framing(chunk: Int, length: Int) throws {
        var generator = SplitMix64(seed: UInt64(chunk * 31 + length))
        // Negative first/last samples make edge padding and zero padding differ in crossings.
        var signal = (0..<length).map { _ -> Float in
            let u = generator.nextUnit()
            return u < 0.05 ? 0 : Float(u - 0.5)
        }
        signal[0] = -0.25
        signal[length - 1] = -0.5
        let reference = referenceFrames(signal)
        let assembler = FrameAssembler(frameLength: 2048, hopLength: 512, chunkCapacity: 1000)
        var spectral: [[Float]] = [], crossings: [Int] = []
        let collect: (UnsafePointer<Float>, Int) -> Void = { frame, count in
            spectral.append(Array(UnsafeBufferPointer(start: frame, count: 2048)))
            crossings.append(count)
        }
        signal.withUnsafeBufferPointer { all in
            var start = 0
            while start < length {
                let end = min(start + chunk, length)
                assembler.append(UnsafeBufferPointer(rebasing: all[start..<end]), frame: collect)
                start = end
            }
        }
        let total = assembler.finish(frame: collect)
        #expect(total == 1 + length / 512)
        #expect(spectral == reference.spectral)
        #expect(crossings == reference.crossings)
    }

    // MARK: Decibels

    @Test("power_to_db: 10·log10(max(1e-10, x)), floor 80 dB under the maximum")
    func decibels() {
        // float32 arithmetic: within 2 float32 ulp, or 3e-6 dB near 0 dB where ulps are tiny.
        func close(_ ours: Float, _ exact: Float) -> Bool { abs(ours - exact) <= max(2 * exact.ulp, 3e-6) }
        var values: [Float] = [1, 10, 100, 1e-3, 1e-10, 1e-12, 0, 3.5e-7, 2.25, 123_456.7]
        let expected = values.map { Float(10 * log10(Double(max(1e-10, $0)))) }
        let maximum = values.withUnsafeMutableBufferPointer { PowerToDecibels.convert($0) }
        for (value, reference) in zip(values, expected) {
            #expect(close(value, reference), "\(value) vs \(reference)")
        }
        #expect(maximum == values.max())
        #expect(PowerToDecibels.floor(maximum: maximum) == maximum - 80)
        // Exhaustive-ish: 1/256 octave steps from 1e-12 to 1e12, plus every float in [0.5, 2],
        // in slices of every length 1…17 (full blocks and tails).
        var inputs: [Float] = []
        var x = 1e-12
        while x < 1e12 {
            inputs.append(Float(x))
            x *= pow(2, 1.0 / 256)
        }
        var bits = Float(0.5).bitPattern
        while bits <= Float(2).bitPattern {
            inputs.append(Float(bitPattern: bits))
            bits += 1
        }
        var converted = inputs
        var start = 0, length = 1
        converted.withUnsafeMutableBufferPointer { all in
            while start < all.count {
                let slice = UnsafeMutableBufferPointer(rebasing: all[start..<min(start + length, all.count)])
                let sliceMaximum = PowerToDecibels.convert(slice)
                if sliceMaximum != slice.max() { Issue.record("maximum of \(slice.count) values: \(sliceMaximum)") }
                start += slice.count
                length = length % 17 + 1
            }
        }
        var worst = 0.0, failures = 0
        for (input, ours) in zip(inputs, converted) {
            let exact = Float(10 * log10(Double(max(1e-10, input))))
            if !close(ours, exact) {
                failures += 1
                if failures <= 5 { Issue.record("\(input): \(ours) vs \(exact)") }
            }
            worst = max(worst, Double(abs(ours - exact)))
        }
        #expect(failures == 0)
        print("power_to_db: worst absolute difference to float64 \(worst) dB")
    }

    // MARK: DCT

    @Test("orthonormal DCT-II: closed form, orthonormality, folded product, floor")
    func discreteCosineTransform() {
        let full = DiscreteCosineTransform(inputCount: 128, outputCount: 128)
        // Rows are orthonormal: D·Dᵀ = I.
        for a in 0..<128 {
            for b in a..<128 {
                var dot = 0.0
                for n in 0..<128 { dot += full.matrix[a * 128 + n] * full.matrix[b * 128 + n] }
                #expect(abs(dot - (a == b ? 1 : 0)) < 1e-12, "rows \(a), \(b)")
            }
        }
        let dct = DiscreteCosineTransform(inputCount: 128, outputCount: 20)
        #expect(abs(dct.matrix[0] - (1.0 / 128).squareRoot()) < 1e-15)
        #expect(abs(dct.matrix[3 * 128 + 5] - (2.0 / 128).squareRoot() * cos(Double.pi * 3 * 11 / 256)) < 1e-15)
        // The float32 kernel (which folds the symmetric halves) equals the plain float64 matrix
        // product to float32 accumulation accuracy: inputs up to 150 in magnitude, as mel dB are.
        var generator = SplitMix64(seed: 3)
        for (inputCount, floor) in [(128, -Float.infinity), (7, -.infinity), (1, -.infinity), (2, -.infinity),
                                    (9, -.infinity), (64, -.infinity), (128, -60), (33, -100), (17, -20)] {
            let transform = DiscreteCosineTransform(inputCount: inputCount, outputCount: min(20, inputCount))
            let kernel = transform.makeKernel()
            let input = (0..<inputCount).map { _ in Float(generator.nextUnit() * 200 - 150) }
            let floored = input.map { max($0, floor) }
            var output = [Float](repeating: 0, count: transform.outputCount)
            var scratch = [Float](repeating: .nan, count: transform.scratchCount)
            input.withUnsafeBufferPointer { i in
                output.withUnsafeMutableBufferPointer { o in
                    scratch.withUnsafeMutableBufferPointer { s in
                        kernel.apply(i.baseAddress!, floor: floor, into: o.baseAddress!, scratch: s.baseAddress!)
                    }
                }
            }
            for k in 0..<transform.outputCount {
                var expected = 0.0
                let scale = k == 0 ? (1 / Double(inputCount)).squareRoot() : (2 / Double(inputCount)).squareRoot()
                for n in 0..<inputCount {
                    expected += scale * cos(Double.pi * Double(k * (2 * n + 1)) / Double(2 * inputCount)) * Double(floored[n])
                }
                #expect(abs(Double(output[k]) - expected) <= 1e-4, "N \(inputCount), k \(k): \(output[k]) vs \(expected)")
            }
        }
    }
}

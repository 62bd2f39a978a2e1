@testable import AudioFeatures
import Foundation
import Testing
import TestSupport

/// The C kernels exist in two builds (AVX2 and baseline x86-64); which one runs depends on the
/// CPU, so they must agree bit for bit, or the same file would give different stored features on
/// different machines.
@Suite("DSP kernels: AVX2 and baseline builds")
struct AudioKernelsTests {
    static let avx2Available = AudioKernels(.avx2) != nil

    @Test("the baseline build is always available; automatic picks AVX2 exactly when the CPU has it")
    func selection() throws {
        let baseline = try #require(AudioKernels(.baseline))
        #expect(baseline.name == "baseline")
        let automatic = try #require(AudioKernels(.automatic))
        let forcedBaseline = ProcessInfo.processInfo.environment["MUSICETL_AUDIO_KERNELS"] == "baseline"
        #expect(automatic.name == (Self.avx2Available && !forcedBaseline ? "avx2" : "baseline"))
        print("DSP kernels on this CPU: automatic = \(automatic.name), AVX2 available: \(Self.avx2Available)")
    }

    @Test("mel filterbank kernel equals the dense matrix product (float64 reference)")
    func melMatchesDenseProduct() throws {
        let bank = MelFilterbank(sampleRate: 22_050, nFFT: 2048, melCount: 128)
        let dense = bank.denseMatrix()
        var generator = SplitMix64(seed: 5)
        var power = [Float](repeating: 0, count: bank.paddedBinCount)
        for k in 0..<bank.binCount { power[k] = Float(generator.nextUnit() * 100) }
        for selection in [AudioKernels.Selection.baseline, .avx2] {
            guard let kernels = AudioKernels(selection) else { continue }
            var mel = [Float](repeating: .nan, count: 128)
            power.withUnsafeBufferPointer { p in
                mel.withUnsafeMutableBufferPointer { bank.apply(power: p.baseAddress!, into: $0.baseAddress!, kernels: kernels) }
            }
            for m in 0..<128 {
                var exact = 0.0, magnitude = 0.0
                for k in 0..<bank.binCount {
                    exact += Double(dense[m][k]) * Double(power[k])
                    magnitude += abs(Double(dense[m][k]) * Double(power[k]))
                }
                // float32 accumulation over at most ~50 terms.
                #expect(abs(Double(mel[m]) - exact) <= 1e-6 * magnitude + 1e-30, "\(kernels.name) mel \(m)")
            }
        }
    }

    @Test("every kernel gives the same bits in both builds", .enabled(if: avx2Available, "this CPU has no AVX2"))
    func kernelsAgreeBitForBit() throws {
        let baseline = try #require(AudioKernels(.baseline)), avx2 = try #require(AudioKernels(.avx2))
        var generator = SplitMix64(seed: 17)
        let window = periodicHannWindow(length: 2048)
        for round in 0..<200 {
            // Frames from loud to nearly silent, so the spectra span many binades.
            let scale = pow(10, -Double(round % 10))
            let frame = (0..<2048).map { _ in Float((generator.nextUnit() * 2 - 1) * scale) }
            func run(_ kernels: AudioKernels) throws -> (windowed: [Float], power: [Float], moments: MagnitudeMoments, mel: [Float]) {
                var windowed = [Float](repeating: 0, count: 2048)
                frame.withUnsafeBufferPointer { f in
                    window.withUnsafeBufferPointer { w in
                        windowed.withUnsafeMutableBufferPointer { kernels.window(f.baseAddress, w.baseAddress, $0.baseAddress, 2048) }
                    }
                }
                let spectrum = try PowerSpectrum(size: 2048, kernels: kernels)
                for i in 0..<2048 { spectrum.input[i] = windowed[i] }
                let bank = MelFilterbank(sampleRate: 22_050, nFFT: 2048, melCount: 128)
                var power = [Float](repeating: 0, count: bank.paddedBinCount)
                let moments = power.withUnsafeMutableBufferPointer { spectrum.compute(power: $0.baseAddress!) }
                var mel = [Float](repeating: 0, count: 128)
                power.withUnsafeBufferPointer { p in
                    mel.withUnsafeMutableBufferPointer { bank.apply(power: p.baseAddress!, into: $0.baseAddress!, kernels: kernels) }
                }
                _ = mel.withUnsafeMutableBufferPointer { PowerToDecibels.convert($0, kernels: kernels) }
                return (windowed, power, moments, mel)
            }
            let a = try run(baseline), b = try run(avx2)
            #expect(Self.firstDifference(a.windowed.map(\.bitPattern), b.windowed.map(\.bitPattern)) == nil, "window, round \(round)")
            #expect(Self.firstDifference(a.power.map(\.bitPattern), b.power.map(\.bitPattern)) == nil, "power, round \(round)")
            #expect(a.moments.total.bitPattern == b.moments.total.bitPattern
                    && a.moments.weightedByBin.bitPattern == b.moments.weightedByBin.bitPattern, "moments, round \(round)")
            #expect(Self.firstDifference(a.mel.map(\.bitPattern), b.mel.map(\.bitPattern)) == nil, "mel dB, round \(round)")
        }
        // dB of the awkward values: zero, the amin boundary, subnormals, huge, infinity, NaN, and
        // every length 0…17 (8-lane blocks and the tail).
        let amin: Float = 1e-10, rootTwo: Float = 1.41421356
        let special: [Float] = [0, -0.0, amin, amin.nextUp, amin.nextDown, .leastNonzeroMagnitude,
                                .leastNormalMagnitude, 1, rootTwo, rootTwo.nextUp, .greatestFiniteMagnitude,
                                .infinity, .nan, -1, 3.5e-7, 2.25, 123_456.7]
        for length in 0...special.count {
            var x = Array(special.prefix(length)), y = x
            let maxX = x.withUnsafeMutableBufferPointer { PowerToDecibels.convert($0, kernels: baseline) }
            let maxY = y.withUnsafeMutableBufferPointer { PowerToDecibels.convert($0, kernels: avx2) }
            #expect(x.map(\.bitPattern) == y.map(\.bitPattern), "dB of \(length) special values")
            #expect(maxX.bitPattern == maxY.bitPattern)
            #expect(!x.contains { $0.isNaN }, "NaN power becomes the 1e-10 floor (decoded NaN samples are rejected before this)")
        }
    }

    /// The first index where two bit-pattern arrays differ (a length difference counts), so a
    /// failure names a position instead of printing whole arrays.
    static func firstDifference(_ a: [UInt64], _ b: [UInt64]) -> Int? {
        if let index = a.indices.first(where: { $0 < b.count && a[$0] != b[$0] }) { return index }
        return a.count == b.count ? nil : min(a.count, b.count)
    }

    static func firstDifference(_ a: [UInt32], _ b: [UInt32]) -> Int? {
        firstDifference(a.map(UInt64.init), b.map(UInt64.init))
    }

    /// Covers every kernel on real audio, the DCT (with the 80 dB floor) and zero crossings too.
    @Test("whole extractions agree bit for bit in both builds", .enabled(if: avx2Available, "this CPU has no AVX2"),
          arguments: GoldenReference.clips)
    func extractionsAgree(clip: String) throws {
        let url = GoldenReference.audioURL(clip)
        let baseline = try FeatureExtractor(kernels: .baseline).extract(fileAt: url, keepFrames: true)
        let avx2 = try FeatureExtractor(kernels: .avx2).extract(fileAt: url, keepFrames: true)
        #expect(baseline.mfcc == avx2.mfcc && baseline.spectralCentroid == avx2.spectralCentroid
                && baseline.zcr == avx2.zcr, "\(clip): statistics differ")
        let a = try #require(baseline.frames), b = try #require(avx2.frames)
        #expect(Self.firstDifference(a.mfcc.flatMap { $0.map { UInt64($0.bitPattern) } },
                                     b.mfcc.flatMap { $0.map { UInt64($0.bitPattern) } }) == nil,
                "\(clip): per-frame MFCC differ")
        #expect(Self.firstDifference(a.spectralCentroid.map(\.bitPattern), b.spectralCentroid.map(\.bitPattern)) == nil,
                "\(clip): per-frame centroid differs")
        #expect(a.zcr == b.zcr, "\(clip): per-frame ZCR differs")
    }
}

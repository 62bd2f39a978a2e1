@testable import AudioFeatures
import Foundation
import Testing
import TestSupport

@Suite("Slaney mel filterbank")
struct MelFilterbankTests {
    let bank = MelFilterbank(sampleRate: 22_050, nFFT: 2048, melCount: 128)

    @Test("Slaney mel scale: linear to 1 kHz, 27 steps per factor 6.4 above")
    func melScale() {
        #expect(abs(SlaneyMelScale.hzToMel(500) - 7.5) < 1e-12)         // 3 mel per 200 Hz
        #expect(abs(SlaneyMelScale.hzToMel(1000) - 15) < 1e-12)
        #expect(abs(SlaneyMelScale.hzToMel(6400) - 42) < 1e-12)         // 15 + 27
        #expect(abs(SlaneyMelScale.hzToMel(6400 * 6.4) - 69) < 1e-12)
        for hz in [0.0, 10, 999.9, 1000, 1000.1, 4321, 11_025] {
            #expect(abs(SlaneyMelScale.melToHz(SlaneyMelScale.hzToMel(hz)) - hz) < 1e-9)
        }
        #expect(fftBinFrequencies(sampleRate: 22_050, nFFT: 2048)[100] == 100.0 * 22_050 / 2048)
    }

    /// Edges computed here from the closed form, independently of the library's helpers.
    func independentEdges() -> [Double] {
        func toMel(_ f: Double) -> Double { f < 1000 ? 3 * f / 200 : 15 + 27 * log(f / 1000) / log(6.4) }
        func toHz(_ m: Double) -> Double { m < 15 ? 200 * m / 3 : 1000 * pow(6.4, (m - 15) / 27) }
        let top = toMel(11_025)
        return (0..<130).map { toHz(top * Double($0) / 129) }
    }

    @Test("triangles: support, peak near the centre, Slaney height 2/(f_hi − f_lo), unit area")
    func triangleShape() {
        let edges = independentEdges()
        let dense = bank.denseMatrix()
        let spacing = 22_050.0 / 2048
        #expect(dense.count == 128 && dense.allSatisfy { $0.count == 1025 })
        for m in 0..<128 {
            let (low, centre, high) = (edges[m], edges[m + 1], edges[m + 2])
            let height = 2 / (high - low)
            let row = dense[m]
            var area = 0.0
            for (k, weight) in row.enumerated() {
                let f = Double(k) * spacing
                let triangle = max(0, min((f - low) / (centre - low), (high - f) / (high - centre)))
                #expect(abs(Double(weight) - height * triangle) <= 1e-6 * height, "filter \(m), bin \(k)")
                if f <= low || f >= high { #expect(weight == 0, "filter \(m) leaks to bin \(k)") }
                area += Double(weight) * spacing
            }
            #expect(row.contains { $0 > 0 }, "filter \(m) is empty")
            let peak = row.indices.max { row[$0] < row[$1] }!
            #expect(abs(Double(peak) * spacing - centre) <= spacing, "filter \(m) peaks at bin \(peak)")
            // The discrete area of a wide triangle (≥ 10 bins) is 1 to within the sampling error.
            if (high - low) / spacing >= 10 { #expect(abs(area - 1) < 0.01, "filter \(m) area \(area)") }
        }
    }

    @Test("matches librosa.filters.mel(sr=22050, n_fft=2048) weight for weight")
    func librosaReference() throws {
        let data = try Data(contentsOf: Fixtures.url("audio/librosa/mel_filters_22050_2048_128.json"))
        struct Reference: Decodable {
            struct Filter: Decodable { var first_bin: Int; var weights: [Double] }
            var filters: [Filter]
        }
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        #expect(reference.filters.count == 128)
        let dense = bank.denseMatrix()
        var worst = 0.0
        for (m, filter) in reference.filters.enumerated() {
            #expect(bank.firstBin[m] == filter.first_bin, "filter \(m)")
            #expect(bank.binSpan[m] == filter.weights.count, "filter \(m)")
            for (j, weight) in filter.weights.enumerated() {
                let ours = Double(dense[m][filter.first_bin + j])
                worst = max(worst, abs(ours - weight) / Double(Float(weight).ulp))
            }
        }
        // Same float64 formula rounded to float32: equal, or one ulp apart where numpy's exp/log
        // and glibc's differ in the last bit of a float64.
        #expect(worst <= 1, "worst difference \(worst) float32 ulp")
    }
}

import AudioFeatures
import Foundation
import Testing
import TestSupport

@Suite("soxr resampling")
struct ResamplerTests {
    /// The whole file at its native rate, downmixed (what librosa hands to soxr).
    func nativeMono(_ clip: String) throws -> (samples: [Float], rate: Int) {
        let reader = try AudioFileReader(url: GoldenReference.audioURL(clip))
        var samples: [Float] = []
        var chunk = [Float](repeating: 0, count: 4096)
        while true {
            let count = try chunk.withUnsafeMutableBufferPointer { try reader.read(into: $0) }
            if count == 0 { break }
            samples.append(contentsOf: chunk[0..<count])
        }
        return (samples, reader.sampleRate)
    }

    func streamed(_ samples: [Float], rate: Int, chunk: Int, resampler: StreamingResampler) throws -> [Float] {
        var output: [Float] = []
        try samples.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                let end = min(start + chunk, all.count)
                try resampler.process(UnsafeBufferPointer(rebasing: all[start..<end])) { output.append(contentsOf: $0) }
                start = end
            }
        }
        try resampler.finish { output.append(contentsOf: $0) }
        return output
    }

    @Test("streaming soxr_process equals soxr_oneshot bit for bit, tail included",
          arguments: ["tada.ogg", "chimes_48k.ogg", "loop_compus_160k.mp3", "tabla_ke2_44ms.flac"])
    func streamingEqualsOneShot(clip: String) throws {
        let (samples, rate) = try nativeMono(clip)
        let oneShot = try StreamingResampler.oneShot(samples, inputRate: Double(rate), outputRate: 22_050)
        let expectedLength = Int((Double(samples.count) * 22_050 / Double(rate)).rounded(.up))
        #expect(oneShot.count == expectedLength)
        let resampler = try StreamingResampler(inputRate: Double(rate), outputRate: 22_050)
        for chunk in [16_384, 1000, 7] {
            // The same resampler, reset by finish(), serves every pass.
            let output = try streamed(samples, rate: rate, chunk: chunk, resampler: resampler)
            #expect(output.count == expectedLength, "chunk \(chunk)")
            #expect(output == oneShot, "chunk \(chunk): first difference at \(zip(output, oneShot).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
        }
        let reference = try GoldenReference(clip: clip)
        #expect(oneShot.count == reference.nSamples)
    }

    @Test("load() = downmix then soxr_oneshot, the measured equivalent of librosa.load")
    func loadMatchesOneShot() throws {
        let (samples, rate) = try nativeMono("guit_em9.flac")
        let loaded = try FeatureExtractor().load(fileAt: GoldenReference.audioURL("guit_em9.flac"))
        #expect(loaded.samples == (try StreamingResampler.oneShot(samples, inputRate: Double(rate), outputRate: 22_050)))
        #expect(loaded.source.decodedFrames == samples.count && loaded.source.channels == 2)
    }

    @Test("no resampling at 22 050 Hz: the decoded samples go through untouched")
    func passthrough() throws {
        let (samples, rate) = try nativeMono("xblast_u8_22050_stereo.wav")
        #expect(rate == 22_050)
        let loaded = try FeatureExtractor().load(fileAt: GoldenReference.audioURL("xblast_u8_22050_stereo.wav"))
        #expect(loaded.samples == samples)
    }
}

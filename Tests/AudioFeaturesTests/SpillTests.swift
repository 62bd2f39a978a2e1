@testable import AudioFeatures
import Foundation
import Testing
import TestSupport

/// Long tracks spill their frames to an unlinked temporary file (bounded memory). With a tiny
/// resident limit every golden clip takes that path, and everything must come out bit-identical
/// to the in-memory path: statistics (including the radix-selected median) and per-frame values.
@Suite("frame spill to a temporary file")
struct SpillTests {
    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("audiofeatures-spill-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    func expectIdentical(_ spilled: TrackFeatures, _ resident: TrackFeatures, _ label: String) {
        #expect(spilled.nFrames == resident.nFrames, "\(label)")
        #expect(spilled.nSamples == resident.nSamples, "\(label)")
        // `==` on SummaryStatistics compares every field exactly (NaN equal to NaN).
        #expect(spilled.mfcc == resident.mfcc, "\(label): MFCC statistics differ")
        #expect(spilled.spectralCentroid == resident.spectralCentroid, "\(label): centroid statistics differ")
        #expect(spilled.zcr == resident.zcr, "\(label): ZCR statistics differ")
        #expect(spilled.frames == resident.frames, "\(label): per-frame values differ")
    }

    @Test("spilled extraction equals the in-memory one, bit for bit", arguments: GoldenReference.clips)
    func goldenClips(clip: String) throws {
        let url = GoldenReference.audioURL(clip)
        let resident = try FeatureExtractor().extract(fileAt: url, keepFrames: true)
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Limits around the frame count too, so the boundary (exactly full, one over) is covered.
        for limit in [1, 7, 64, max(1, resident.nFrames - 1), resident.nFrames] {
            let extractor = try FeatureExtractor(residentFrameLimit: limit, spillDirectory: directory)
            for keepFrames in [true, false] {
                let spilled = try extractor.extract(fileAt: url, keepFrames: keepFrames)
                var expected = resident
                if !keepFrames { expected.frames = nil }
                expectIdentical(spilled, expected, "\(clip), limit \(limit), frames \(keepFrames)")
            }
        }
        // The spill file is unlinked as soon as it is created: nothing is ever left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test("even and odd frame counts, ties, zeros: streaming median equals quickselect")
    func streamingStatistics() throws {
        var generator = SplitMix64(seed: 11)
        for count in [1, 2, 3, 4, 5, 10, 101, 1000] {
            let columns: [[Double]] = [
                (0..<count).map { _ in generator.nextUnit() * 200 - 100 },
                (0..<count).map { _ in Double(Int(generator.nextUnit() * 5)) - 2 },  // ties, zeros
                (0..<count).map { _ in 3.25 },                                       // constant
                (0..<count).map { i in i % 2 == 0 ? -0.0 : 0.0 },                    // both zeros
            ]
            // Limit 1: radix passes down to single candidates (all 8 when values repeat); 4096:
            // straight to the candidate pass; 16: both.
            for candidateLimit in [1, 16, 4096] {
                let streamed = SummaryStatistics.streaming(columns: columns.count, count: count,
                                                           candidateLimit: candidateLimit) {
                    (body: (UnsafePointer<Double>) -> Void) in
                    for t in 0..<count {
                        let row = columns.map { $0[t] }
                        row.withUnsafeBufferPointer { body($0.baseAddress!) }
                    }
                }
                for (c, values) in columns.enumerated() {
                    #expect(streamed[c] == SummaryStatistics(of: values),
                            "count \(count), column \(c), candidate limit \(candidateLimit)")
                }
            }
        }
    }

    @Test("a spill directory that cannot be used fails the track with a clear error")
    func unusableDirectory() throws {
        let extractor = try FeatureExtractor(residentFrameLimit: 4,
                                             spillDirectory: URL(fileURLWithPath: "/nonexistent/spill"))
        let error = #expect(throws: FeatureExtractionError.self) {
            _ = try extractor.extract(fileAt: GoldenReference.audioURL("guit_em9.flac"))
        }
        #expect(error == .spill("/nonexistent/spill: cannot create a temporary file: No such file or directory"))
        // The extractor is still usable afterwards (short input stays in memory).
        let features = try extractor.extract(samples: [Float](repeating: 0.25, count: 1000))
        #expect(features.nFrames == 2)
    }
}

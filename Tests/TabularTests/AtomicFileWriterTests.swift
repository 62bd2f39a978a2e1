import Foundation
import Testing
import TestSupport
@testable import Tabular

@Suite struct AtomicFileWriterTests {
    /// Chunks of every size around the buffering limits (the pending buffer's 1 MiB, the 64 KiB
    /// from which an unbuffered chunk is written directly), in any order: the file holds them in
    /// order, and only once committed.
    @Test func chunksOfAnySizeArriveInOrder() throws {
        let work = TemporaryDirectory()
        let path = work.path + "/out/lines.jsonl"
        var random = SplitMix64(seed: 64)
        var expected = Data()
        let writer = try AtomicFileWriter(path: path)
        for index in 0..<400 {
            let size = [0, 1, 100, (64 << 10) - 1, 64 << 10, (64 << 10) + 1, 300_000, (1 << 20) + 3][Int(random.next() % 8)]
            let chunk = [UInt8](repeating: UInt8(index % 251), count: size)
            try chunk.withUnsafeBufferPointer { buffer in try writer.write(buffer) }
            expected.append(contentsOf: chunk)
        }
        #expect(!FileManager.default.fileExists(atPath: path), "nothing at the path before commit")
        try writer.commit()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == expected)
    }
}

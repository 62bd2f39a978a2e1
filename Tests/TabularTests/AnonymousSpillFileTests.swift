#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing
import TestSupport
@testable import Tabular

@Suite struct AnonymousSpillFileTests {
    /// Reads the whole file from the start in reads of `chunk` bytes.
    private func readAll(_ file: AnonymousSpillFile, chunk: Int) throws -> [UInt8] {
        file.rewind()
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let got = try buffer.withUnsafeMutableBytes { try file.read(into: $0) }
            result += buffer[..<got]
            if got < chunk { return result }
        }
    }

    private func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed)
        let words = (0..<(count + 7) / 8).map { _ in random.next() }
        return Array(words.withUnsafeBytes { $0.prefix(count) })
    }

    @Test func bytesComeBackInOrderAndNothingIsLeftInTheDirectory() throws {
        let work = TemporaryDirectory()
        let file = try AnonymousSpillFile(directory: work.path, prefix: "spill.")
        #expect(file.path.hasPrefix(work.path + "/spill."))
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path).isEmpty, "unlinked at once")
        var expected: [UInt8] = []
        for (index, size) in [0, 1, 7, 4096, 65_537, 3].enumerated() {
            let chunk = bytes(size, seed: UInt64(index))
            try file.append(chunk)
            expected += chunk
        }
        #expect(file.size == expected.count)
        for chunk in [1, 5, 4096, expected.count, expected.count + 10] {
            #expect(try readAll(file, chunk: chunk) == expected, "reads of \(chunk) bytes")
        }
        // Appending after a read, then reading from the start again.
        let more = bytes(1000, seed: 99)
        try file.append(more)
        #expect(try readAll(file, chunk: 333) == expected + more)
    }

    /// Reads at an offset (several readers of one file) leave the sequential reads' place alone.
    @Test func readsAtAnOffsetAreIndependentOfTheSequentialOnes() throws {
        let work = TemporaryDirectory()
        let file = try AnonymousSpillFile(directory: work.path, prefix: "spill.")
        let expected = bytes(10_000, seed: 5)
        try file.append(expected)
        var head = [UInt8](repeating: 0, count: 100)
        #expect(try head.withUnsafeMutableBytes { try file.read(into: $0) } == 100)
        for (offset, count) in [(0, 10), (9_990, 10), (9_995, 10), (10_000, 5), (4_321, 4_000)] {
            var buffer = [UInt8](repeating: 0, count: count)
            let got = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: offset) }
            #expect(got == min(count, expected.count - offset), "at \(offset)")
            #expect(buffer[..<got] == expected[offset..<(offset + got)], "at \(offset)")
        }
        #expect(try head.withUnsafeMutableBytes { try file.read(into: $0) } == 100)
        #expect(head == Array(expected[100..<200]), "the sequential read goes on where it was")
    }

    @Test func aLargeRecordIsWrittenAndReadWhole() throws {
        let work = TemporaryDirectory()
        let file = try AnonymousSpillFile(directory: work.path, prefix: "spill.")
        let record = bytes(16 << 20, seed: 7)
        try record.withUnsafeBytes { try file.append($0) }
        var back = [UInt8](repeating: 0, count: record.count + 1)
        let got = try back.withUnsafeMutableBytes { try file.read(into: $0) }
        #expect(got == record.count)
        #expect(back[..<got] == record[...])
        #expect(try back.withUnsafeMutableBytes { try file.read(into: $0) } == 0, "then the end of the file")
    }

    /// A signal may interrupt a call (EINTR) and the kernel may move fewer bytes than asked: every
    /// byte still goes out and comes back, in order.
    @Test func interruptedAndShortCallsAreResumed() throws {
        let work = TemporaryDirectory()
        final class Calls { var write = 0, read = 0, interrupted = 0 }
        let calls = Calls()
        let io = SpillFileIO(
            write: { descriptor, bytes, count, offset in
                calls.write += 1
                if calls.write % 3 == 1 { calls.interrupted += 1; errno = EINTR; return -1 }
                return pwrite(descriptor, bytes, min(count, 1000), off_t(offset))
            },
            read: { descriptor, bytes, count, offset in
                calls.read += 1
                if calls.read % 3 == 1 { calls.interrupted += 1; errno = EINTR; return -1 }
                return pread(descriptor, bytes, min(count, 777), off_t(offset))
            })
        let file = try AnonymousSpillFile(directory: work.path, prefix: "spill.", io: io)
        let expected = bytes(100_000, seed: 3)
        try file.append(expected)
        #expect(try readAll(file, chunk: 50_000) == expected)
        #expect(calls.interrupted > 100 && calls.write > 100 && calls.read > 100)
    }

    @Test func aFailedWriteOrReadNamesTheFileAndTheReason() throws {
        let work = TemporaryDirectory()
        let full = SpillFileIO(write: { _, _, _, _ in errno = ENOSPC; return -1 }, read: SpillFileIO.system.read)
        let file = try AnonymousSpillFile(directory: work.path, prefix: "spill.", io: full)
        let write = #expect(throws: SpillFileError.self) { try file.append([1, 2, 3]) }
        #expect(write?.path == file.path)
        #expect(write?.description == "\(file.path): write at byte 0: \(String(cString: strerror(ENOSPC)))")

        let failing = SpillFileIO(write: SpillFileIO.system.write, read: { _, _, _, _ in errno = EIO; return -1 })
        let other = try AnonymousSpillFile(directory: work.path, prefix: "spill.", io: failing)
        try other.append([1, 2, 3])
        var buffer = [UInt8](repeating: 0, count: 3)
        let read = #expect(throws: SpillFileError.self) { _ = try buffer.withUnsafeMutableBytes { try other.read(into: $0) } }
        #expect(read?.description == "\(other.path): read at byte 0 of 3: \(String(cString: strerror(EIO)))")
    }

    /// A directory where no file can be made (missing, or a file): the error names it and says why.
    @Test func anUnusableDirectoryIsNamed() throws {
        let work = TemporaryDirectory()
        let missing = work.path + "/missing"
        let error = #expect(throws: SpillFileError.self) { _ = try AnonymousSpillFile(directory: missing, prefix: "spill.") }
        #expect(error?.description == "\(missing): cannot create a temporary file: \(String(cString: strerror(ENOENT)))")

        let notADirectory = work.path + "/file"
        #expect(FileManager.default.createFile(atPath: notADirectory, contents: Data()))
        let second = #expect(throws: SpillFileError.self) { _ = try AnonymousSpillFile(directory: notADirectory, prefix: "spill.") }
        #expect(second?.description == "\(notADirectory): cannot create a temporary file: \(String(cString: strerror(ENOTDIR)))")
    }
}

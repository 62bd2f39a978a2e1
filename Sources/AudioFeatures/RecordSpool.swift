#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An anonymous temporary file: created with `mkstemp` in a chosen directory and unlinked at once,
/// so it never outlives the process (not even after a crash) and no other process can open it.
/// Owns the descriptor; `deinit` closes it, which frees the space.
final class SpillFile {
    private let descriptor: Int32
    /// Where the (unlinked) file lives, for error messages.
    private let directory: String
    /// Bytes written so far; writes append, reads are positional (`pread`).
    private(set) var size = 0

    init(directory: URL) throws(FeatureExtractionError) {
        var template = Array(directory.appendingPathComponent("audiofeatures-spill.XXXXXX").path.utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard descriptor >= 0 else {
            throw .spill("mkstemp in \(directory.path): \(String(cString: strerror(errno)))")
        }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // Unlinked right away: the space is released when the descriptor closes, however we exit.
        if unlink(path) != 0 {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw .spill("unlink \(path): \(reason)")
        }
        self.descriptor = descriptor
        self.directory = directory.path
    }

    deinit {
        close(descriptor)
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws(FeatureExtractionError) {
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = write(descriptor, next, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw .spill("write to the temporary file in \(directory): \(String(cString: strerror(errno)))")
            }
            next += written
            remaining -= written
            size += written
        }
    }

    /// Fills `buffer` from byte `offset`; the range must have been written.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(FeatureExtractionError) {
        guard var next = buffer.baseAddress else { return }
        var remaining = buffer.count
        var position = offset
        while remaining > 0 {
            let got = pread(descriptor, next, remaining, off_t(position))
            if got < 0, errno == EINTR { continue }
            guard got > 0 else {
                let reason = got == 0 ? "unexpected end of file" : String(cString: strerror(errno))
                throw .spill("read from the temporary file in \(directory) at byte \(position): \(reason)")
            }
            next += got
            remaining -= got
            position += got
        }
    }
}

/// Fixed-size records appended one at a time and read back in order, with bounded memory: up to
/// `residentRecords` stay in memory; when more arrive, every record goes through a `SpillFile`
/// (the memory buffer then serves as its write buffer), and `forEachChunk` reads them back
/// sequentially. The bytes come back exactly as written, so results computed from a spilled
/// spool are bit-identical to those from memory.
final class RecordSpool {
    let recordBytes: Int
    let residentRecords: Int
    /// Where a spill file goes; nil: the system temporary directory (`TMPDIR`, else /tmp).
    var spillDirectory: URL?

    /// Records in order: the first `spilledRecords` in the file, then `bufferedRecords` here.
    private var buffer: UnsafeMutableRawPointer
    private var capacityRecords: Int
    private var bufferedRecords = 0
    private var spilledRecords = 0
    private var spill: SpillFile?

    /// Records appended since the last `reset`.
    var count: Int { spilledRecords + bufferedRecords }
    /// Whether the records went to a file (the track was longer than `residentRecords`).
    var isSpilled: Bool { spill != nil }

    private static let alignment = 16
    private static let initialCapacity = 256

    init(recordBytes: Int, residentRecords: Int, spillDirectory: URL? = nil) {
        precondition(recordBytes > 0 && recordBytes % 4 == 0, "records are whole 4-byte words")
        self.recordBytes = recordBytes
        self.residentRecords = max(1, residentRecords)
        self.spillDirectory = spillDirectory
        capacityRecords = min(Self.initialCapacity, self.residentRecords)
        buffer = .allocate(byteCount: capacityRecords * recordBytes, alignment: Self.alignment)
    }

    deinit {
        buffer.deallocate()
    }

    /// Empties the spool for a new track (closing any spill file); keeps the memory buffer.
    func reset() {
        bufferedRecords = 0
        spilledRecords = 0
        spill = nil
    }

    /// Grows the memory buffer ahead of time for `records` (capped at `residentRecords`).
    func reserve(_ records: Int) {
        let wanted = min(records, residentRecords)
        if wanted > capacityRecords { resize(to: wanted) }
    }

    /// Space for the next record (`recordBytes`, 16-byte aligned when `recordBytes` is a multiple
    /// of 16): fill it, then call `commit`. May move earlier records to the spill file first.
    func nextRecord() throws(FeatureExtractionError) -> UnsafeMutableRawPointer {
        if bufferedRecords == capacityRecords {
            if capacityRecords < residentRecords {
                resize(to: min(residentRecords, 2 * capacityRecords))
            } else {
                try flushToSpill()
            }
        }
        return buffer + bufferedRecords * recordBytes
    }

    func commit() {
        precondition(bufferedRecords < capacityRecords, "commit() without nextRecord()")
        bufferedRecords += 1
    }

    /// Hands out every record in order, in chunks of consecutive records (`pointer`, `count`),
    /// which `body` may modify in place (the changes are not kept). Memory-resident records are
    /// passed directly; spilled ones are read back into the memory buffer chunk by chunk.
    func forEachChunk(maximumRecords: Int = 1024,
                      _ body: (UnsafeMutableRawPointer, Int) throws(FeatureExtractionError) -> Void)
        throws(FeatureExtractionError) {
        let chunk = max(1, maximumRecords)
        guard let spill else {
            var start = 0
            while start < bufferedRecords {
                let n = min(chunk, bufferedRecords - start)
                try body(buffer + start * recordBytes, n)
                start += n
            }
            return
        }
        // All records to the file first, then one buffer-sized read at a time.
        if bufferedRecords > 0 { try flushToSpill() }
        let perRead = min(chunk, capacityRecords)
        var start = 0
        while start < spilledRecords {
            let n = min(perRead, spilledRecords - start)
            try spill.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: n * recordBytes),
                           at: start * recordBytes)
            try body(buffer, n)
            start += n
        }
    }

    private func flushToSpill() throws(FeatureExtractionError) {
        let file: SpillFile
        if let spill {
            file = spill
        } else {
            file = try SpillFile(directory: spillDirectory ?? FileManager.default.temporaryDirectory)
            spill = file
        }
        try file.append(UnsafeRawBufferPointer(start: buffer, count: bufferedRecords * recordBytes))
        spilledRecords += bufferedRecords
        bufferedRecords = 0
    }

    private func resize(to records: Int) {
        let grown = UnsafeMutableRawPointer.allocate(byteCount: records * recordBytes, alignment: Self.alignment)
        grown.copyMemory(from: buffer, byteCount: bufferedRecords * recordBytes)
        buffer.deallocate()
        buffer = grown
        capacityRecords = records
    }
}

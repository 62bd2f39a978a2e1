import Foundation
import Tabular

/// Fixed-size records appended one at a time and read back in order, with bounded memory: up to
/// `residentRecords` stay in memory; when more arrive, every record goes through an
/// `AnonymousSpillFile` (the memory buffer then serves as its write buffer), and `forEachChunk`
/// reads them back sequentially. The bytes come back exactly as written, so results computed from a spilled
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
    private var spill: AnonymousSpillFile?

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
        spill.rewind()
        var start = 0
        while start < spilledRecords {
            let n = min(perRead, spilledRecords - start)
            let got: Int
            do throws(SpillFileError) {
                got = try spill.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: n * recordBytes))
            } catch {
                throw .spill(error.description)
            }
            guard got == n * recordBytes else {
                throw .spill("\(spill.path): \(got) of \(n * recordBytes) bytes read back at record \(start) (the file was shortened)")
            }
            try body(buffer, n)
            start += n
        }
    }

    private func flushToSpill() throws(FeatureExtractionError) {
        do throws(SpillFileError) {
            let file: AnonymousSpillFile
            if let spill {
                file = spill
            } else {
                file = try AnonymousSpillFile(directory: (spillDirectory ?? FileManager.default.temporaryDirectory).path,
                                              prefix: "audiofeatures-spill.")
                spill = file
            }
            try file.append(UnsafeRawBufferPointer(start: buffer, count: bufferedRecords * recordBytes))
        } catch {
            throw .spill(error.description)
        }
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

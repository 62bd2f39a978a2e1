#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DocumentStore
import Foundation

/// The fields tracks embed from one album or artist: a raw BSON document whose element k is
/// field k. The same bytes in a batch's memory and in a table's file; a record's length is the
/// document's own (its first four bytes, little-endian).
struct LookupRow {
    private let record: [UInt8]

    fileprivate init(record: [UInt8]) {
        self.record = record
    }

    /// The whole record's length, from the document's header (nil: fewer bytes than a header).
    fileprivate static func recordLength(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        return Int(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: Int32.self)))
    }

    /// Calls `body` with the raw BSON document.
    func withBSON<Result, Failure: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(Failure) -> Result) throws(Failure) -> Result {
        try record.withUnsafeBufferPointer { (bytes) throws(Failure) in try body(bytes) }
    }
}

/// The lookup rows of one batch of albums or artists, made by the worker that builds the batch
/// and copied into the table's `LookupFile` as the batch is admitted: in memory, as big as a
/// batch's rows, emptied for the next batch.
final class LookupStore {
    /// The rows' documents back to back, and each row's id and document.
    private var bytes: [UInt8] = []
    private var rows: [(id: Int64, record: Range<Int>)] = []

    var count: Int { rows.count }

    /// Forgets every row; keeps the memory for the next ones.
    func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        rows.removeAll(keepingCapacity: true)
    }

    /// Adds row `id` with its raw BSON document; returns its index.
    @discardableResult
    func append(id: Int64, document: UnsafeBufferPointer<UInt8>) -> Int {
        let start = bytes.count
        bytes.append(contentsOf: document)
        rows.append((id, start..<bytes.count))
        return rows.count - 1
    }

    func id(_ index: Int) -> Int64 { rows[index].id }

    /// Calls `body` with row `index`'s document.
    fileprivate func withRecord<Result>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        let range = rows[index].record
        return try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[range])) }
    }
}

/// Writes a table's lookup rows (every album or artist a track may embed) to an unlinked
/// temporary file, keeping in memory only each row's id and where its record starts (16 bytes a
/// row): a million albums held in memory cost their text's size again. `finish()` hands the
/// rows over for reading by id.
final class LookupFileWriter {
    private let file: LookupFile.Descriptor
    private var pending: [UInt8] = []
    private var written = 0
    private var entries: [LookupFile.Entry] = []
    private static let flushThreshold = 1 << 20

    /// A file in `directory` (created if missing), named for `entity` with this process's id
    /// (`<entity>.lookup.XXXXXX.tmp-<pid>`, which the next run removes if this one is killed
    /// before the unlink that follows the creation at once).
    init(directory: String, entity: String) throws(LookupFileError) {
        file = try LookupFile.Descriptor(directory: directory, entity: entity)
    }

    /// Copies row `index` of a batch's rows to the end of the table.
    func append(row index: Int, of batch: LookupStore) throws(LookupFileError) {
        entries.append(LookupFile.Entry(id: batch.id(index), offset: Int64(written + pending.count)))
        batch.withRecord(index) { pending.append(contentsOf: $0) }
        if pending.count >= Self.flushThreshold { try flush() }
    }

    private func flush() throws(LookupFileError) {
        try file.write(pending)
        written += pending.count
        pending.removeAll(keepingCapacity: true)
    }

    /// The rows written, to be read by id.
    func finish() throws(LookupFileError) -> LookupFile {
        try flush()
        pending = []
        entries.sort { $0.id < $1.id }
        return LookupFile(file: file, entries: entries, size: written)
    }
}

/// A table's lookup rows in their file, read by id (`row(_:)`) by every worker at once:
/// immutable, positional reads only. The ids and offsets, sorted by id, are all it keeps in memory.
final class LookupFile: Sendable {
    struct Entry: Sendable {
        var id: Int64
        var offset: Int64
    }

    /// The unlinked file's descriptor, closed with its owner.
    final class Descriptor: Sendable {
        let descriptor: Int32
        /// Where the file was made, for messages.
        let name: String

        init(directory: String, entity: String) throws(LookupFileError) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw LookupFileError(description: "\(directory): cannot create the directory: \(error.localizedDescription)")
            }
            let suffix = ".tmp-\(getpid())"
            var template = Array("\(directory)/\(entity).lookup.XXXXXX\(suffix)".utf8CString)
            let descriptor = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
                guard let base = buffer.baseAddress else { return -1 }
                return mkstemps(base, Int32(suffix.utf8.count))
            }
            let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard descriptor >= 0 else { throw LookupFileError(description: "\(path): \(String(cString: strerror(errno)))") }
            // Unlinked at once: the space is freed when the descriptor closes, however the run ends.
            if unlink(path) != 0 {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw LookupFileError(description: "\(path): unlink: \(reason)")
            }
            self.descriptor = descriptor
            name = "\(entity) lookup rows (unlinked temporary file in \(directory))"
        }

        deinit { close(descriptor) }

        func write(_ bytes: [UInt8]) throws(LookupFileError) {
            // The system's error number, or 0 once every byte is written.
            let failure = bytes.withUnsafeBytes { buffer -> Int32 in
                var done = 0
                while done < buffer.count, let base = buffer.baseAddress {
                    let count = writeToFile(descriptor, base + done, buffer.count - done)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { return count == 0 ? EIO : errno }
                    done += count
                }
                return 0
            }
            if failure != 0 { throw LookupFileError(description: "writing the \(name): \(String(cString: strerror(failure)))") }
        }

        /// Fills `buffer` from byte `offset`.
        func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Result<Void, BSONBuilderError> {
            var done = 0
            while done < buffer.count {
                guard let base = buffer.baseAddress else { break }
                let count = pread(descriptor, base + done, buffer.count - done, off_t(offset + done))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else {
                    let reason = count == 0 ? "unexpected end of file" : String(cString: strerror(errno))
                    return .failure(BSONBuilderError(key: "", message: "reading the \(name) at byte \(offset + done): \(reason)"))
                }
                done += count
            }
            return .success(())
        }
    }

    private let file: Descriptor
    private let entries: [Entry]
    private let size: Int

    fileprivate init(file: Descriptor, entries: [Entry], size: Int) {
        self.file = file
        self.entries = entries
        self.size = size
    }

    var count: Int { entries.count }

    /// The row of `id`, read from the file; nil: no such id. A failed read is the builder's error,
    /// which fails the batch being built (and so the file), not the one row.
    func row(_ id: Int64) throws(BSONBuilderError) -> LookupRow? {
        var low = 0, high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].id < id { low = middle + 1 } else { high = middle }
        }
        guard low < entries.count, entries[low].id == id else { return nil }
        let offset = Int(entries[low].offset)
        // One read for most rows: a guess of their size, then the rest if the header says more.
        let guess = min(4096, size - offset)
        var record = [UInt8](repeating: 0, count: guess)
        try record.withUnsafeMutableBytes { file.read(into: $0, at: offset) }.get()
        guard let length = record.withUnsafeBytes({ LookupRow.recordLength($0) }), length >= 5, length <= size - offset else {
            throw BSONBuilderError(key: "", message: "reading the \(file.name) at byte \(offset): a damaged record")
        }
        if length > guess {
            record.append(contentsOf: repeatElement(0, count: length - guess))
            try record.withUnsafeMutableBytes { file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[guess...]), at: offset + guess) }.get()
        } else {
            record.removeLast(guess - length)
        }
        return LookupRow(record: record)
    }
}

/// Writing a lookup file failed (a full disk): the job fails (exit 1) with this message.
struct LookupFileError: Error, Sendable, CustomStringConvertible {
    var description: String
}

/// `write(2)`, named apart from the methods called `write`.
private func writeToFile(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

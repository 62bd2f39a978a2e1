import DocumentStore
import Foundation
import Pipeline
import Tabular

/// The lines of a staged JSON Lines file by `_id` (memory-mapped: only the index is in memory),
/// so a merge copies the rows it keeps byte for byte.
public struct StagedLineIndex {
    private let data: Data
    private var ranges: [String: Range<Int>] = [:]
    /// Canonical keys and ids in file order.
    public private(set) var keys: [(String, BSONValue)] = []

    /// Lines of no document with an `_id` (with `tolerant`), or that `accept` refused.
    public private(set) var unreadableLines = 0

    /// An absent file has no lines. A line that is not a document with an `_id` fails the run,
    /// or with `tolerant` is counted in `unreadableLines`. `accept` sees each document
    /// first and may leave it out of the index (a duplicate, or one its reader cannot use).
    public init(path: String, tolerant: Bool = false,
                accept: (_ id: BSONValue, _ document: BSONDocument) -> Bool = { _, _ in true }) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            data = Data()
            return
        }
        data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        var start = 0
        var lineNumber = 0
        // The staging's own parser (the one every staged line is read with), not libbson's.
        let parser = ExtendedJSONParser()
        while start < data.count {
            let end = data[start...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? data.count
            defer { start = end }
            lineNumber += 1
            let line = data[start..<end]
            if line.allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) { continue }
            let parsed = line.withUnsafeBytes { bytes -> BSONDocument? in
                var count = bytes.count
                while count > 0, [0x20, 0x0A, 0x0D].contains(bytes[count - 1]) { count -= 1 }
                return try? parser.document(UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: count))
            }
            guard let document = parsed, let id = document["_id"] else {
                guard tolerant else { throw JobError(.dataError, "\(path):\(lineNumber): not a staged document with an _id") }
                unreadableLines += 1
                continue
            }
            guard accept(id, document) else { continue }
            if ranges.updateValue(start..<end, forKey: id.canonicalKey) == nil { keys.append((id.canonicalKey, id)) }
        }
    }

    /// The line (with its newline) staged for `key`.
    public func line(forKey key: String) -> [UInt8]? {
        guard let range = ranges[key] else { return nil }
        var bytes = [UInt8](data[range])
        if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        return bytes
    }

    /// The staged file `previous` with the lines of the `only` ids (canonical keys) replaced in
    /// place by those of `new`, the `only` ids `new` no longer has (rejected, gone from the input)
    /// left out, and the ids only `new` has appended in its order; every other line is kept byte
    /// for byte. Returns the number of lines written to `output`.
    public static func merge(new: String, previous: String, only: Set<String>, into output: AtomicFileWriter) throws -> Int {
        let fresh = try StagedLineIndex(path: new)
        let old = try StagedLineIndex(path: previous)
        var written = 0
        var replaced = Set<String>()
        for (key, _) in old.keys {
            let line = only.contains(key) ? fresh.line(forKey: key) : old.line(forKey: key)
            guard let line else { continue }
            if only.contains(key) { replaced.insert(key) }
            try output.write(line)
            written += 1
        }
        for (key, _) in fresh.keys where !replaced.contains(key) {
            guard let line = fresh.line(forKey: key) else { continue }
            try output.write(line)
            written += 1
        }
        return written
    }
}

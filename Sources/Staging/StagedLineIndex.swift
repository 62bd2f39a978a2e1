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

    /// An absent file has no lines.
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            data = Data()
            return
        }
        data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        var start = 0
        var lineNumber = 0
        while start < data.count {
            let end = data[start...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? data.count
            lineNumber += 1
            let text = String(decoding: data[start..<end], as: UTF8.self)
            if !text.allSatisfy(\.isWhitespace) {
                guard let id = (try? BSONDocument(json: text))?["_id"] else {
                    throw JobError(.dataError, "\(path):\(lineNumber): not a staged document with an _id")
                }
                if ranges.updateValue(start..<end, forKey: id.canonicalKey) == nil { keys.append((id.canonicalKey, id)) }
            }
            start = end
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

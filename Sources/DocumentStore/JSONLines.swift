import CMongoC
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Errors of the JSON Lines staging files, naming the file and line.
public struct JSONLinesError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let line: Int
    public let message: String
    public var description: String { line > 0 ? "\(path):\(line): \(message)" : "\(path): \(message)" }
}

/// Reads a JSON Lines file one document at a time (libbson parses each line), in flat memory.
public final class JSONLinesReader {
    public let path: String
    private let file: UnsafeMutablePointer<FILE>
    private var lineBuffer: UnsafeMutablePointer<CChar>?
    private var lineCapacity = 0
    /// Physical line number of the last document returned.
    public private(set) var lineNumber = 0

    public init(path: String) throws(JSONLinesError) {
        self.path = path
        guard let file = fopen(path, "rb") else {
            throw JSONLinesError(path: path, line: 0, message: String(cString: strerror(errno)))
        }
        self.file = file
    }

    deinit {
        free(lineBuffer)
        fclose(file)
    }

    /// The next document, skipping blank lines; nil at the end of the file.
    public func next() throws(JSONLinesError) -> BSONDocument? {
        while true {
            let length = getline(&lineBuffer, &lineCapacity, file)
            guard length >= 0, let line = lineBuffer else {
                if ferror(file) != 0 {
                    throw JSONLinesError(path: path, line: lineNumber, message: String(cString: strerror(errno)))
                }
                return nil
            }
            lineNumber += 1
            var end = length
            while end > 0, line[end - 1] == 0x0A || line[end - 1] == 0x0D || line[end - 1] == 0x20 { end -= 1 }
            if end == 0 { continue }
            var error = bson_error_t()
            let parsed = line.withMemoryRebound(to: UInt8.self, capacity: end) { bson_new_from_json($0, end, &error) }
            guard let parsed else {
                throw JSONLinesError(path: path, line: lineNumber, message: MongoError(error).message)
            }
            return BSONDocument(owning: parsed)
        }
    }
}

/// Writes a JSON Lines file (relaxed Extended JSON, one document a line) atomically: documents go
/// to a temporary file beside the target, which replaces the target only on `commit()`. A crash or
/// an error leaves the previous file untouched.
public final class JSONLinesWriter {
    public let path: String
    private let temporaryPath: String
    private var file: UnsafeMutablePointer<FILE>?
    public private(set) var count = 0

    public init(path: String) throws(JSONLinesError) {
        self.path = path
        temporaryPath = path + ".tmp-\(getpid())"
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory.isEmpty ? "." : directory,
                                                    withIntermediateDirectories: true)
        } catch {
            throw JSONLinesError(path: path, line: 0, message: "cannot create its directory: \(error.localizedDescription)")
        }
        guard let file = fopen(temporaryPath, "wb") else {
            throw JSONLinesError(path: temporaryPath, line: 0, message: String(cString: strerror(errno)))
        }
        self.file = file
    }

    deinit {
        if let file {  // never committed: discard the partial output
            fclose(file)
            unlink(temporaryPath)
        }
    }

    public func write(_ document: BSONDocument) throws(JSONLinesError) {
        try write(line: document.relaxedExtendedJSON)
    }

    public func write(_ document: Document) throws(JSONLinesError) {
        do {
            try write(BSONDocument(document))
        } catch let error as MongoError {
            throw JSONLinesError(path: path, line: count + 1, message: error.message)
        } catch let error as JSONLinesError {
            throw error
        } catch {
            throw JSONLinesError(path: path, line: count + 1, message: "\(error)")
        }
    }

    private func write(line: String) throws(JSONLinesError) {
        guard let file else { throw JSONLinesError(path: path, line: 0, message: "already committed") }
        var text = line
        text.append("\n")
        let written = text.withCString { fputs($0, file) }
        guard written >= 0 else {
            throw JSONLinesError(path: temporaryPath, line: count + 1, message: String(cString: strerror(errno)))
        }
        count += 1
    }

    /// Flushes to disk and renames the temporary file over the target.
    public func commit() throws(JSONLinesError) {
        guard let file else { return }
        self.file = nil
        let flushed = fflush(file) == 0 && fsync(fileno(file)) == 0
        let closed = fclose(file) == 0
        guard flushed, closed, rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw JSONLinesError(path: path, line: 0, message: "cannot complete the write: \(reason)")
        }
    }
}

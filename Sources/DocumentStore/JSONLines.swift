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

/// Reads a JSON Lines file one document at a time (`ExtendedJSONParser` reads each line into
/// BSON), in flat memory.
public final class JSONLinesReader {
    public let path: String
    private let file: UnsafeMutablePointer<FILE>
    private let parser = ExtendedJSONParser()
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
        guard let line = try nextLine() else { return nil }
        return try parse(line)
    }

    /// The next non-blank line without its line end, unparsed; nil at the end of the file. Valid
    /// until the next call (it is the reader's buffer): a caller that can decide from the bytes
    /// alone (e.g. by their digest) skips the parse, the costly part of reading.
    public func nextLine() throws(JSONLinesError) -> UnsafeBufferPointer<UInt8>? {
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
            return UnsafeBufferPointer(start: UnsafeRawPointer(line).assumingMemoryBound(to: UInt8.self), count: end)
        }
    }

    /// The document of a line `nextLine` returned (errors name this reader's file, line and column).
    public func parse(_ line: UnsafeBufferPointer<UInt8>) throws(JSONLinesError) -> BSONDocument {
        do {
            return try parser.document(line)
        } catch {
            throw JSONLinesError(path: path, line: lineNumber, message: error.description)
        }
    }
}

extension BSONDocument {
    /// MongoDB's largest document (BSON bytes): one over it can never be stored.
    public static let largestStorableSize = 16 << 20

    /// The size in BSON of the document a staging line (Extended JSON) stands for; nil when it
    /// is not one (`ExtendedJSONParser`).
    public static func bsonSize(ofJSON json: UnsafeBufferPointer<UInt8>) -> Int? {
        try? ExtendedJSONParser().bsonSize(of: json)
    }

    /// libbson's own JSON parse (`bson_new_from_json`) of `json`: what `ExtendedJSONParser` was
    /// built to agree with, kept for the tests that compare the two byte for byte.
    static func parsedByLibbson(_ json: UnsafeBufferPointer<UInt8>) -> Result<BSONDocument, MongoError> {
        var error = bson_error_t()
        guard let base = json.baseAddress, let parsed = bson_new_from_json(base, json.count, &error) else {
            return .failure(MongoError(error))
        }
        return .success(BSONDocument(owning: parsed))
    }
}

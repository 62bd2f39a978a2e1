import Crypto
#if canImport(Glibc)
import Glibc
#endif
import DocumentStore
import Foundation
import Tabular

/// Text for one cell: numbers shortest-round-trip (they read back bit-exact as float64), missing
/// values and non-finite numbers (NaN, ±inf) as an empty cell (missing: pandas, pyarrow and
/// LightGBM read NaN), dates as ISO 8601 UTC with milliseconds (`…T01:44:45.000Z`), a list
/// column's integers `|`-joined (`12|25`).
public enum CellText {
    public static func of(_ value: BSONValue?, isList: Bool = false) -> String {
        // A list column holding a single value (not an array) writes it as a scalar cell.
        if isList, case .array(let items)? = value {
            return items.compactMap { item -> String? in
                switch item {
                case .int32(let v): String(v)
                case .int64(let v): String(v)
                default: nil
                }
            }.joined(separator: "|")
        }
        switch value {
        case nil, .null?: return ""
        case .int32(let v)?: return String(v)
        case .int64(let v)?: return String(v)
        // Swift's description of a Double is the shortest text that parses back to the same bits.
        case .double(let v)?:
            if !v.isFinite { return "" }
            return v.description
        case .string(let s)?: return s
        case .bool(let b)?: return b ? "true" : "false"
        case .dateTime(let ms)?:
            var bytes: [UInt8] = []
            RowFormatter.appendISO8601(milliseconds: ms, to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        case .decimal128(let text)?: return text
        case .objectID(let hex)?: return hex
        case .document?, .array?, .binary?, .timestamp?: return ""
        }
    }
}

/// One output file of an export (CSV or JSON Lines), its row count and its SHA-256, computed
/// from the bytes as they are written (the file is never read back). With `standardOutput` the
/// bytes go to stdout as they come (`--out -`) instead of a file.
final class ExportFile {
    enum Format: String { case csv, jsonl }

    let relativePath: String
    private let output: AtomicFileWriter?
    private let headers: [String]
    private var pending: [UInt8] = []
    private var hasher = SHA256()
    private(set) var rows = 0

    init(directory: String, relativePath: String, format: Format, headers: [String],
         standardOutput: Bool = false) throws(FileWriteError) {
        self.relativePath = relativePath
        self.headers = headers
        output = standardOutput ? nil : try AtomicFileWriter(path: directory + "/" + relativePath)
        if format == .csv {
            for (index, header) in headers.enumerated() {
                if index > 0 { pending.append(UInt8(ascii: ",")) }
                CSVLine.appendField(ArraySlice(header.utf8), to: &pending)
            }
            pending.append(UInt8(ascii: "\n"))
        }
    }

    private static let chunkBytes = 1 << 20

    /// Appends one record: a complete line (CSV from `CSVLine`).
    func write(line: UnsafeBufferPointer<UInt8>) throws {
        pending.append(contentsOf: line)
        rows += 1
        if pending.count >= Self.chunkBytes { try flush() }
    }

    /// Appends one JSON Lines record: the columns as one flat document (a list column as a list).
    func writeJSONLine(_ values: [BSONValue?]) throws {
        var document = Document()
        for (header, value) in zip(headers, values) { document.append(header, value ?? .null) }
        pending.append(contentsOf: try BSONDocument(document).relaxedExtendedJSON.utf8)
        pending.append(UInt8(ascii: "\n"))
        rows += 1
        if pending.count >= Self.chunkBytes { try flush() }
    }

    private func flush() throws {
        pending.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        if let output {
            try output.write(pending)
        } else {
            try Self.writeToStandardOutput(pending)
        }
        pending.removeAll(keepingCapacity: true)
    }

    private static func writeToStandardOutput(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Glibc.write(STDOUT_FILENO, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw ExportError("cannot write to standard output: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Writes the rest, syncs and renames the file into place; returns its SHA-256 (hex).
    func commit() throws -> String {
        try flush()
        try output?.commit()
        return hasher.finalize().hexString
    }
}

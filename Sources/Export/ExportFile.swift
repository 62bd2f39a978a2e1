import DocumentStore
import Foundation
import Tabular

/// Text for one cell: numbers shortest-round-trip (they read back bit-exact as float64), missing
/// values and NaN as an empty cell, dates as ISO 8601 UTC with milliseconds.
public enum CellText {
    public static func of(_ value: BSONValue?) -> String {
        switch value {
        case nil, .null?: return ""
        case .int32(let v)?: return String(v)
        case .int64(let v)?: return String(v)
        // Swift's description of a Double is the shortest text that parses back to the same bits.
        case .double(let v)?:
            if v.isNaN { return "" }
            if v.isInfinite { return v > 0 ? "inf" : "-inf" }
            return v.description
        case .string(let s)?: return s
        case .bool(let b)?: return b ? "true" : "false"
        case .dateTime(let ms)?:
            return Date(timeIntervalSince1970: Double(ms) / 1000)
                .formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
        case .decimal128(let text)?: return text
        case .objectID(let hex)?: return hex
        case .document?, .array?, .binary?, .timestamp?: return ""
        }
    }
}

/// One output file of an export (CSV or JSON Lines) and its row count.
final class ExportFile {
    enum Format: String { case csv, jsonl }

    let relativePath: String
    private let csv: CSVWriter?
    private let jsonl: AtomicFileWriter?
    private let headers: [String]
    private var cells: [String] = []
    private(set) var rows = 0

    init(directory: String, relativePath: String, format: Format, headers: [String]) throws(FileWriteError) {
        self.relativePath = relativePath
        self.headers = headers
        let path = directory + "/" + relativePath
        switch format {
        case .csv:
            let csv = try CSVWriter(path: path)
            try csv.writeRecord(headers)
            self.csv = csv
            jsonl = nil
        case .jsonl:
            csv = nil
            jsonl = try AtomicFileWriter(path: path)
        }
    }

    func write(_ values: [BSONValue?]) throws {
        if let csv {
            cells.removeAll(keepingCapacity: true)
            for value in values { cells.append(CellText.of(value)) }
            try csv.writeRecord(cells)
        } else if let jsonl {
            var document = Document()
            for (header, value) in zip(headers, values) { document.append(header, value ?? .null) }
            try jsonl.write(BSONDocument(document).relaxedExtendedJSON)
            try jsonl.write(CollectionOfOne(UInt8(ascii: "\n")))
        }
        rows += 1
    }

    func commit() throws(FileWriteError) {
        try csv?.commit()
        try jsonl?.commit()
    }
}

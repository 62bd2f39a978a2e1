import DocumentStore
import Foundation
import Tabular

/// Writes documents as CSV rows of a `ColumnLayout`: a header row, then one row per document.
/// Numbers are written shortest-round-trip (they read back bit-exact), missing values as empty cells.
public final class CSVExportWriter {
    private let writer: CSVWriter
    private let layout: ColumnLayout
    private var row: [String]

    public init(path: String, layout: ColumnLayout) throws(FileWriteError) {
        writer = try CSVWriter(path: path)
        self.layout = layout
        row = []
        try writer.writeRecord(layout.columns.map(\.header))
    }

    public func write(_ document: Document) throws(FileWriteError) {
        row.removeAll(keepingCapacity: true)
        for column in layout.columns {
            row.append(Self.cell(document[column.field]))
        }
        try writer.writeRecord(row)
    }

    public func commit() throws(FileWriteError) {
        try writer.commit()
    }

    static func cell(_ value: BSONValue?) -> String {
        switch value {
        case nil, .null?: return ""
        case .int32(let v)?: return String(v)
        case .int64(let v)?: return String(v)
        // Swift's description of a Double is the shortest text that parses back to the same bits.
        case .double(let v)?: return v.isNaN ? "" : v.description
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

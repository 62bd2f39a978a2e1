import DocumentStore
import Foundation
import Tabular

/// Writes a staging file: JSON Lines, one document a line (`JSONLineEncoder`); atomic (the old
/// file stays until `commit()`).
public final class StagingWriter {
    private let output: AtomicFileWriter
    public private(set) var count = 0
    public var path: String { output.path }

    public init(path: String) throws(FileWriteError) {
        output = try AtomicFileWriter(path: path)
    }

    public func write(_ document: Document) throws {
        try write(BSONDocument(document))
    }

    public func write(_ document: BSONDocument) throws {
        try output.write(document.jsonLine())
        try output.write(CollectionOfOne(UInt8(ascii: "\n")))
        count += 1
    }

    public func commit() throws(FileWriteError) {
        try output.commit()
    }
}

/// Rejected CSV rows of one input file: the original record, then `reason`, `line`, `column`,
/// in `quarantine/<run-id>/<file>.rejects.csv`. Created on the first reject only.
///
/// The file stays rectangular whatever the rejected rows look like, so pandas or a spreadsheet
/// reads it: a ragged row with too few fields is padded with empty fields (the reason says how
/// many it had), and the fields beyond the header's count go, CSV-encoded as one text, into a
/// last column `extra_fields` (empty for every other row). Fields are written byte for byte as
/// read, so invalid UTF-8 survives for inspection.
public final class QuarantineFile {
    public let path: String
    private let header: [String]
    private var writer: CSVWriter?
    public private(set) var count = 0

    public init(directory: String, inputFileName: String, header: [String]) {
        path = directory + "/" + inputFileName + ".rejects.csv"
        self.header = header
    }

    public func reject(_ record: CSVRecord, reason: String, column: String) throws(FileWriteError) {
        if writer == nil {
            let writer = try CSVWriter(path: path)
            try writer.writeRecord(header + ["reason", "line", "column", "extra_fields"])
            self.writer = writer
        }
        var extra: [String] = []
        if record.count < header.count {
            extra = Array(repeating: "", count: header.count - record.count)
        }
        var surplus = ""
        if record.count > header.count {
            surplus = (header.count..<record.count).map { index -> String in
                let field = record[index]
                let needsQuotes = field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                guard needsQuotes else { return field }
                var quoted = "\""
                for character in field { quoted += character == "\"" ? "\"\"" : String(character) }
                return quoted + "\""
            }.joined(separator: ",")
        }
        extra += [reason, String(record.line), column, surplus]
        try writer?.writeRecord(record, fieldCount: min(record.count, header.count), appending: extra)
        count += 1
    }

    public func commit() throws(FileWriteError) {
        try writer?.commit()
    }
}

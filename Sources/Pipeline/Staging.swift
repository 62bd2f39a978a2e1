import DocumentStore
import Tabular

/// Writes a staging file: JSON Lines, one document a line, in relaxed Extended JSON produced by
/// libbson; atomic (the old file stays until `commit()`).
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

    public func write(_ document: BSONDocument) throws(FileWriteError) {
        try output.write(document.relaxedExtendedJSON)
        try output.write(CollectionOfOne(UInt8(ascii: "\n")))
        count += 1
    }

    public func commit() throws(FileWriteError) {
        try output.commit()
    }
}

/// Rejected CSV rows of one input file: the original record, then `reason`, `line`, `column`,
/// in `quarantine/<run-id>/<file>.rejects.csv`. Created on the first reject only.
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
            try writer.writeRecord(header + ["reason", "line", "column"])
            self.writer = writer
        }
        try writer?.writeRecord(record, appending: [reason, String(record.line), column])
        count += 1
    }

    public func commit() throws(FileWriteError) {
        try writer?.commit()
    }
}

import Crypto
import DocumentStore
import Foundation
import Tabular

/// Writes one export: `output.<format>`, optional Hive-style partitions
/// (`by_<field>/<field>=<value>/part-00000.csv`, the partition column left out of the files so Spark
/// recovers it from the path), optional hash shards (`shards/shard-00001-of-00004.csv`), and
/// `manifest.json` with columns, row counts and SHA-256 per file.
///
/// Everything is written under a temporary folder beside the target and renamed into place at
/// `commit()`: a crash never leaves a half export that looks complete.
public final class ExportWriter {
    public struct Options: Sendable {
        public var format = "csv"
        public var partitionBy: String?
        public var shards = 0
        public var rowsPerPart = 100_000
        /// Threads that format CSV rows (1: all on the caller's thread).
        public var workers = ProcessInfo.processInfo.activeProcessorCount
        /// At most this many partition values: each is a folder with an open file, so partitioning
        /// by a near-unique field (an id) is refused instead of exhausting file descriptors.
        public var maxPartitions = 1000
        /// BSON bytes per batch handed to a worker (≈ 200 training rows by default).
        public var batchBytes = 1 << 19
        public init() {}
    }

    public let finalDirectory: URL
    private let stagingDirectory: URL
    private let layout: ColumnLayout
    private let options: Options
    private let format: ExportFile.Format
    private let partitionIndex: Int?
    private var main: ExportFile
    /// Open part file per partition value (cell text).
    private var partitions: [String: (file: ExportFile, part: Int)] = [:]
    private let idIndex: Int
    private var current: CSVBatch
    private var spareBatches: [CSVBatch] = []
    private let batches: OrderedBatchQueue<CSVBatch>
    private var finishedFiles: [ExportFile] = []
    private var shardFiles: [ExportFile] = []
    public private(set) var rows = 0

    public init(directory: URL, layout: ColumnLayout, options: Options) throws {
        guard let format = ExportFile.Format(rawValue: options.format) else {
            throw ExportError("unknown format \(options.format): use csv or jsonl")
        }
        if let field = options.partitionBy, layout.index(ofHeader: field) == nil {
            throw ExportError("--partition-by \(field) is not a column; columns: \(layout.columns.map(\.header).joined(separator: ", "))")
        }
        finalDirectory = directory
        stagingDirectory = directory.deletingLastPathComponent()
            .appendingPathComponent(".tmp-\(directory.lastPathComponent)-\(getpid())")
        try? FileManager.default.removeItem(at: stagingDirectory)
        self.layout = layout
        self.options = options
        self.format = format
        partitionIndex = options.partitionBy.flatMap { layout.index(ofHeader: $0) }
        idIndex = layout.columns.firstIndex { $0.path == "_id" } ?? 0
        current = CSVBatch(layout: layout, partitionIndex: partitionIndex, idIndex: idIndex, shardCount: options.shards)
        batches = OrderedBatchQueue(workers: options.workers, label: "musicetl.export.format") { $0.format() }
        let headers = layout.columns.map(\.header)
        main = try ExportFile(directory: stagingDirectory.path, relativePath: "output.\(format.rawValue)",
                              format: format, headers: headers)
        if options.shards > 0 {
            shardFiles = try (1...options.shards).map { shard in
                try ExportFile(directory: stagingDirectory.path,
                               relativePath: "shards/shard-\(Self.number(shard))-of-\(Self.number(options.shards)).\(format.rawValue)",
                               format: format, headers: headers)
            }
        }
    }

    /// Writes one document (a cursor's, read at once).
    public func write(_ document: BorrowedBSON) throws {
        rows += 1
        switch format {
        case .csv:
            // The hot path: the BSON is copied into a batch, formatted straight to CSV bytes
            // (on a worker when there are several) and written here in order.
            current.add(document)
            if current.documents.count >= options.batchBytes { try submit() }
        case .jsonl:
            let row = layout.row(try document.document())
            try main.writeJSONLine(row)
            if !shardFiles.isEmpty { try shardFiles[shardIndex(idText: CellText.of(row[idIndex]))].writeJSONLine(row) }
            if let partitionIndex {
                var partitionRow = row
                partitionRow.remove(at: partitionIndex)
                try partitionFile(text: CellText.of(row[partitionIndex])).writeJSONLine(partitionRow)
            }
        }
    }

    private func submit() throws {
        let batch = current
        current = spareBatches.popLast() ?? makeBatch()
        current.firstRow = rows + 1
        try batches.submit(batch, deliver: deliver)
    }

    /// Writes a formatted batch's lines to their files, in row order.
    private func deliver(_ batch: CSVBatch) throws {
        if let failure = batch.failure { throw failure }
        try batch.lines.withUnsafeBufferPointer { lines in
            var start = 0
            for row in 0..<batch.count {
                let mainLine = UnsafeBufferPointer(rebasing: lines[start..<batch.mainLineEnds[row]])
                try main.write(line: mainLine)
                if !shardFiles.isEmpty { try shardFiles[batch.shards[row]].write(line: mainLine) }
                start = batch.mainLineEnds[row]
                if partitionIndex != nil {
                    let end = batch.partitionLineEnds[row]
                    try partitionFile(text: batch.partitionValues[row]).write(line: UnsafeBufferPointer(rebasing: lines[start..<end]))
                    start = end
                }
            }
        }
        batch.reset()
        spareBatches.append(batch)
    }

    /// Formats and writes every document added so far.
    private func drain() throws {
        if current.count > 0 { try submit() }
        try batches.drain(deliver: deliver)
    }

    private func makeBatch() -> CSVBatch {
        CSVBatch(layout: layout, partitionIndex: partitionIndex, idIndex: idIndex, shardCount: options.shards)
    }

    private func shardIndex(idText: String) -> Int {
        Int(StableHash.fnv1a64(idText) % UInt64(shardFiles.count))
    }

    /// The part file for a partition value (its cell text), a new part once the current one is full.
    private func partitionFile(text: String) throws -> ExportFile {
        guard let field = options.partitionBy else { preconditionFailure("no partition column") }
        if partitions[text] == nil, partitions.count >= options.maxPartitions {
            throw ExportError("--partition-by \(field): more than \(options.maxPartitions) distinct values; partition by a field with few values (split, genre_top) and use --shards N to split rows evenly")
        }
        var entry = try partitions[text] ?? (newPart(field: field, value: Self.hivePartitionValue(text), part: 0), 0)
        if entry.file.rows >= options.rowsPerPart {
            finishedFiles.append(entry.file)
            entry = (try newPart(field: field, value: Self.hivePartitionValue(text), part: entry.part + 1), entry.part + 1)
        }
        partitions[text] = entry
        return entry.file
    }

    private func newPart(field: String, value: String, part: Int) throws -> ExportFile {
        var headers = layout.columns.map(\.header)
        if let partitionIndex { headers.remove(at: partitionIndex) }
        return try ExportFile(directory: stagingDirectory.path,
                              relativePath: "by_\(field)/\(field)=\(value)/part-\(Self.number(part)).\(format.rawValue)",
                              format: format, headers: headers)
    }

    /// Closes every file, writes the manifest and moves the export into place.
    public func commit(manifest extra: Document) throws -> [String] {
        try drain()
        let files = [main] + finishedFiles + partitions.values.map(\.file) + shardFiles
        var fileEntries: [BSONValue] = []
        for file in files.sorted(by: { $0.relativePath < $1.relativePath }) {
            let sha256 = try file.commit()
            fileEntries.append(.document(["path": .string(file.relativePath), "rows": .integer(file.rows),
                                          "sha256": .string(sha256)]))
        }
        var manifest = extra
        manifest["format"] = .string(format.rawValue)
        manifest["rows"] = .integer(rows)
        manifest["columns"] = .array(layout.columns.map { column in
            .document(["name": .string(column.header), "source": .string(column.path),
                       "types": .array(column.types.map { .string($0) })])
        })
        manifest["omitted"] = .array(layout.omitted.map { .string($0) })
        if let field = options.partitionBy {
            manifest["partition_by"] = .string(field)
            manifest["rows_per_part"] = .integer(options.rowsPerPart)
        }
        if options.shards > 0 { manifest["shards"] = .document(["count": .integer(options.shards), "hash": "fnv1a64(id) mod N"]) }
        manifest["files"] = .array(fileEntries)
        let writer = try AtomicFileWriter(path: stagingDirectory.appendingPathComponent("manifest.json").path)
        try writer.write(try BSONDocument(manifest).relaxedExtendedJSON + "\n")
        try writer.commit()
        try replaceFinalDirectory()
        return files.map { finalDirectory.appendingPathComponent($0.relativePath).path }
    }

    private func replaceFinalDirectory() throws {
        let fileManager = FileManager.default
        let retired = finalDirectory.deletingLastPathComponent().appendingPathComponent(".old-\(finalDirectory.lastPathComponent)-\(getpid())")
        if fileManager.fileExists(atPath: finalDirectory.path) {
            try fileManager.moveItem(at: finalDirectory, to: retired)
        }
        try fileManager.moveItem(at: stagingDirectory, to: finalDirectory)
        try? fileManager.removeItem(at: retired)
    }

    /// Discards everything written (the previous export, if any, stays as it was).
    public func abandon() {
        try? FileManager.default.removeItem(at: stagingDirectory)
    }

    static func number(_ value: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, 5 - text.count)) + text
    }

    /// Hive's escaping of a partition value (the characters it escapes become %XX), and its name
    /// for a missing value.
    static func hivePartitionValue(_ text: String) -> String {
        if text.isEmpty { return "__HIVE_DEFAULT_PARTITION__" }
        let escaped = Set("\"#%'*/:=?\\{[]^".unicodeScalars)
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || escaped.contains(scalar) {
                result += "%" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 2)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

}

public struct ExportError: Error, CustomStringConvertible {
    public var description: String
    /// True when the data itself is bad (a corrupt document); false for a request that cannot be
    /// carried out as given (an unknown column, too many partitions).
    public var isDataError = false
    init(_ description: String, isDataError: Bool = false) {
        self.description = description
        self.isDataError = isDataError
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

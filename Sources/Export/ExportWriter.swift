import Crypto
import DocumentStore
import Foundation
import Tabular

/// Writes one export: `output.<format>`, optional Hive-style partitions
/// (`by_<field>/<field>=<value>/part-00000.csv`, the partition column left out of the files so Spark
/// recovers it from the path), optional shards (`shards/shard-00001-of-00004.csv`), and
/// `manifest.json` with columns (name, type, role), row counts and SHA-256 per file.
///
/// With a label column, the labelled sets (`output`, partitions, shards) hold only rows that have
/// a label: a row without one goes to `unlabelled.<format>` (same columns) and is counted, so no
/// reader learns a class `""` and nothing is lost. `class_map.json` numbers the classes (see
/// `ClassMap`), and shards are stratified: the k-th row of each class, in export order, goes to
/// shard (k + fnv1a64(class)) mod N, so every shard holds each class in proportion (±1 row).
/// Without a label, shards are by a stable hash of the id.
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
        /// The label column (header): rows without a value go to `unlabelled.<format>`.
        public var labelColumn: String?
        /// The previous class map of this label (label → integer), kept and extended.
        public var previousClassMap: [String: Int] = [:]
        /// By header, the columns written as integer codes, each with its class → code map
        /// (`ClassCodes`); `class_maps.json` holds them. Never the label column.
        public var classCodes: [String: [String: Int]] = [:]
        /// Each column's role for the manifest, by header (default "other").
        public var roles: [String: String] = [:]
        /// `--out -`: output rows to stdout, no folder (no partitions, shards or manifest).
        public var standardOutput = false
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
    private let labelIndex: Int?
    private var unlabelled: ExportFile?
    /// Rows without a label (left out of the labelled sets).
    public private(set) var unlabelledRows = 0
    /// Rows per label value, and per shard.
    private var classRows: [String: Int] = [:]
    private var shardClassRows: [[String: Int]] = []
    /// Non-finite numbers written as empty cells (JSON null), per column.
    public private(set) var nonFiniteCounts: [Int]
    /// JSON Lines: the index and class → code map of each column written as codes.
    private let codedColumns: [(index: Int, codes: [String: Int])]

    public init(directory: URL, layout: ColumnLayout, options: Options) throws {
        guard let format = ExportFile.Format(rawValue: options.format) else {
            throw ExportError("unknown format \(options.format): use csv or jsonl")
        }
        if let field = options.partitionBy, layout.index(ofHeader: field) == nil {
            throw ExportError("--partition-by \(field) is not a column of this export\(ColumnLayout.suggestion(for: field, among: layout.columns.map(\.header)))")
        }
        if let label = options.labelColumn, layout.index(ofHeader: label) == nil {
            throw ExportError("--label \(label) is not a column of this export\(ColumnLayout.suggestion(for: label, among: layout.columns.map(\.header)))")
        }
        for column in options.classCodes.keys where layout.index(ofHeader: column) == nil || column == options.labelColumn {
            throw ExportError("\(column) cannot be written as class codes: it is \(column == options.labelColumn ? "the label (class_map.json numbers it)" : "not a column of this export")")
        }
        if options.standardOutput && (options.partitionBy != nil || options.shards > 0) {
            throw ExportError("--out - writes one stream: it cannot be combined with --partition-by or --shards")
        }
        finalDirectory = directory
        stagingDirectory = directory.deletingLastPathComponent()
            .appendingPathComponent(".tmp-\(directory.lastPathComponent)-\(getpid())")
        try? FileManager.default.removeItem(at: stagingDirectory)
        self.layout = layout
        self.options = options
        self.format = format
        partitionIndex = options.partitionBy.flatMap { layout.index(ofHeader: $0) }
        labelIndex = options.labelColumn.flatMap { layout.index(ofHeader: $0) }
        guard let idIndex = layout.columns.firstIndex(where: { $0.path == "_id" }) ?? (options.shards > 0 ? nil : 0) else {
            throw ExportError("--shards needs the id column in the export (add it to --fields)")
        }
        self.idIndex = idIndex
        nonFiniteCounts = [Int](repeating: 0, count: layout.columns.count)
        codedColumns = layout.columns.enumerated().compactMap { index, column in
            options.classCodes[column.header].map { (index, $0) }
        }
        current = CSVBatch(layout: layout, classCodes: options.classCodes, partitionIndex: partitionIndex, labelIndex: labelIndex, idIndex: idIndex,
                           shardCount: labelIndex == nil ? options.shards : 0)
        batches = OrderedBatchQueue(workers: options.workers, label: "musicetl.export.format") { $0.format() }
        let headers = layout.columns.map(\.header)
        main = try ExportFile(directory: stagingDirectory.path, relativePath: "output.\(format.rawValue)",
                              format: format, headers: headers, standardOutput: options.standardOutput)
        shardClassRows = [[String: Int]](repeating: [:], count: options.shards)
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
            var row = layout.row(try document.document())
            for (index, codes) in codedColumns {
                row[index] = try ClassCodes.encode(row[index], codes: codes, column: layout.columns[index].header, row: rows)
            }
            for (index, value) in row.enumerated() {
                if case .double(let number)? = value, !number.isFinite {
                    row[index] = .null
                    nonFiniteCounts[index] += 1
                }
            }
            let label = labelIndex.map { CellText.of(row[$0]) }
            if label == "" {
                try unlabelledFile()?.writeJSONLine(row)
                return
            }
            try main.writeJSONLine(row)
            if !shardFiles.isEmpty {
                try shardFiles[shard(label: label, hashed: shardIndex(idText: CellText.of(row[idIndex])))].writeJSONLine(row)
            }
            if let label { classRows[label, default: 0] += 1 }
            if let partitionIndex {
                var partitionRow = row
                partitionRow.remove(at: partitionIndex)
                try partitionFile(text: CellText.of(row[partitionIndex])).writeJSONLine(partitionRow)
            }
        }
    }

    /// The shard of a row: stratified by label when there is one, else by the id's hash (and
    /// counted per class).
    private func shard(label: String?, hashed: @autoclosure () -> Int) -> Int {
        let shard: Int
        if let label {
            let seen = classRows[label, default: 0]
            shard = (seen + Int(StableHash.fnv1a64(label) % UInt64(shardFiles.count))) % shardFiles.count
        } else {
            shard = hashed()
        }
        shardClassRows[shard][label ?? "", default: 0] += 1
        return shard
    }

    /// The file for rows without a label; nil with `--out -` (one stream: such rows are counted
    /// in the summary and left out).
    private func unlabelledFile() throws -> ExportFile? {
        unlabelledRows += 1
        if let unlabelled { return unlabelled }
        if options.standardOutput { return nil }
        let file = try ExportFile(directory: stagingDirectory.path, relativePath: "unlabelled.\(format.rawValue)",
                                  format: format, headers: layout.columns.map(\.header))
        unlabelled = file
        return file
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
        for (index, count) in batch.nonFiniteCounts.enumerated() { nonFiniteCounts[index] += count }
        try batch.lines.withUnsafeBufferPointer { lines in
            var start = 0
            for row in 0..<batch.count {
                let mainLine = UnsafeBufferPointer(rebasing: lines[start..<batch.mainLineEnds[row]])
                start = batch.mainLineEnds[row]
                let label = labelIndex == nil ? nil : batch.labelValues[row]
                if label == "" {
                    try unlabelledFile()?.write(line: mainLine)
                    if partitionIndex != nil { start = batch.partitionLineEnds[row] }
                    continue
                }
                try main.write(line: mainLine)
                if !shardFiles.isEmpty {
                    try shardFiles[shard(label: label, hashed: batch.shards[row])].write(line: mainLine)
                }
                if let label { classRows[label, default: 0] += 1 }
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
        CSVBatch(layout: layout, classCodes: options.classCodes, partitionIndex: partitionIndex, labelIndex: labelIndex, idIndex: idIndex,
                 shardCount: labelIndex == nil ? options.shards : 0)
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

    /// The class map after this export: `ClassMap.extended` of the previous one with the labels seen.
    public var classMap: [(label: String, index: Int)] {
        ClassMap.extended(options.previousClassMap, with: classRows.keys)
    }

    /// Formats and writes every row handed to `write` so far (rows are formatted in batches, on
    /// workers), so that `unlabelledRows` and `classMap` are final before `commit`.
    public func finishRows() throws {
        try drain()
    }

    /// Closes every file, writes `attachments` (name → text, e.g. `scaler.json`), the class map
    /// and the manifest, and moves the export into place. With `--out -`, only ends the stream.
    public func commit(manifest extra: Document, attachments: [(name: String, text: String)] = []) throws -> [String] {
        try drain()
        if options.standardOutput {
            _ = try main.commit()
            return []
        }
        let files = [main] + finishedFiles + partitions.values.map(\.file) + shardFiles + (unlabelled.map { [$0] } ?? [])
        var fileEntries: [BSONValue] = []
        for file in files.sorted(by: { $0.relativePath < $1.relativePath }) {
            let sha256 = try file.commit()
            fileEntries.append(.document(["path": .string(file.relativePath), "rows": .integer(file.rows),
                                          "sha256": .string(sha256)]))
        }
        var attached = attachments
        let codedHeaders = layout.columns.map(\.header).filter { options.classCodes[$0] != nil }
        if !codedHeaders.isEmpty {
            attached.append((ClassCodes.fileName, try ClassCodes.text(options.classCodes, columns: codedHeaders)))
        }
        let label = options.labelColumn
        if let label {
            var classes = Document()
            for (name, index) in classMap { classes.append(name, .integer(index)) }
            let document: Document = ["label": .string(label), "rule": .string(ClassMap.rule), "classes": .document(classes)]
            attached.append(("class_map.json", try BSONDocument(document).relaxedExtendedJSON + "\n"))
        }
        for (name, text) in attached {
            let writer = try AtomicFileWriter(path: stagingDirectory.appendingPathComponent(name).path)
            try writer.write(text)
            try writer.commit()
            fileEntries.append(.document(["path": .string(name), "sha256": .string(SHA256.hash(data: Array(text.utf8)).hexString)]))
        }
        var manifest = extra
        manifest["format"] = .string(format.rawValue)
        manifest["rows"] = .integer(rows - unlabelledRows)
        manifest["columns"] = .array(layout.columns.map { column in
            let coded = options.classCodes[column.header] != nil
            var entry: Document = ["name": .string(column.header), "source": .string(column.path),
                                   "type": .string(coded ? "int64" : column.readerType), "role": .string(options.roles[column.header] ?? "other"),
                                   "types": .array(column.types.map { .string($0) })]
            if coded { entry["class_map"] = .string(ClassCodes.fileName) }
            return .document(entry)
        })
        if !codedHeaders.isEmpty {
            manifest["class_maps"] = .document(["file": .string(ClassCodes.fileName), "columns": .array(codedHeaders.map { .string($0) }),
                                                "rule": .string(ClassCodes.rule)])
        }
        manifest["omitted"] = .array(layout.omitted.map { .string($0) })
        if let label {
            var perClass = Document()
            for (name, _) in classMap { perClass.append(name, .integer(classRows[name] ?? 0)) }
            manifest["label"] = .document([
                "column": .string(label), "class_map": "class_map.json", "rows_per_class": .document(perClass),
                "unlabelled": .document([
                    "rows": .integer(unlabelledRows),
                    "file": unlabelled.map { .string($0.relativePath) } ?? .null,
                    "policy": "rows without a label are left out of output, partitions and shards and written to the unlabelled file",
                ]),
            ])
        } else {
            manifest["label"] = .null
        }
        var nonFinite = Document()
        for (column, count) in zip(layout.columns, nonFiniteCounts) where count > 0 { nonFinite.append(column.header, .integer(count)) }
        manifest["non_finite"] = .document([
            "policy": .string((format == .csv ? "NaN and ±inf are written as empty cells (missing)" : "NaN and ±inf are written as null (missing)")
                + "; training rows already hold null where a scaled feature was not finite (etl-normalize counts them as non-finite left missing), and those are missing cells too, not counted here"),
            "cells": .integer(nonFiniteCounts.reduce(0, +)), "by_column": .document(nonFinite),
        ])
        if let field = options.partitionBy {
            manifest["partition_by"] = .string(field)
            manifest["rows_per_part"] = .integer(options.rowsPerPart)
        }
        if options.shards > 0 {
            var perShard: [BSONValue] = []
            for (file, classes) in zip(shardFiles, shardClassRows) {
                var counts = Document()
                for name in classes.keys.sorted(by: ClassMap.codePointOrder) { counts.append(name, .integer(classes[name] ?? 0)) }
                perShard.append(.document(["path": .string(file.relativePath), "rows": .integer(file.rows),
                                           "rows_per_class": label == nil ? .null : .document(counts)]))
            }
            manifest["shards"] = .document([
                "count": .integer(options.shards),
                "method": .string(label.map { "stratified by \($0): the k-th row of each class in export order goes to shard (k + fnv1a64(class)) mod N" }
                                  ?? "fnv1a64(id) mod N"),
                "files": .array(perShard),
            ])
        }
        manifest["files"] = .array(fileEntries)
        let writer = try AtomicFileWriter(path: stagingDirectory.appendingPathComponent("manifest.json").path)
        try writer.write(try BSONDocument(manifest).relaxedExtendedJSON + "\n")
        try writer.commit()
        try replaceFinalDirectory()
        return (files.map(\.relativePath) + attached.map(\.name) + ["manifest.json"]).map { finalDirectory.appendingPathComponent($0).path }
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

/// Label → integer, stable across runs: a label keeps the number it had in the previous map
/// (also when it no longer occurs); labels new to this export are numbered after the largest
/// number, in code-point order of their text. A first export therefore numbers its classes
/// 0, 1, … in sorted order.
public enum ClassMap {
    public static let rule = "a label keeps its number from the previous export; new labels are numbered after the largest, in code-point order"

    public static func extended(_ previous: [String: Int], with labels: some Sequence<String>) -> [(label: String, index: Int)] {
        var map = previous
        var next = (previous.values.max() ?? -1) + 1
        for label in Set(labels).subtracting(previous.keys).sorted(by: codePointOrder) {
            map[label] = next
            next += 1
        }
        return map.map { (label: $0.key, index: $0.value) }.sorted { $0.index < $1.index }
    }

    /// Sorting by Unicode code points (what Python's `sorted` does with str).
    public static func codePointOrder(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }
}

public struct ExportError: Error, CustomStringConvertible {
    public var description: String
    /// True when the data itself is bad (a corrupt document); false for a request that cannot be
    /// carried out as given (an unknown column, too many partitions).
    public var isDataError = false
    public init(_ description: String, isDataError: Bool = false) {
        self.description = description
        self.isDataError = isDataError
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

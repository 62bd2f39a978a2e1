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
        public init() {}
    }

    public let finalDirectory: URL
    private let stagingDirectory: URL
    private let layout: ColumnLayout
    private let options: Options
    private let format: ExportFile.Format
    private let partitionIndex: Int?
    private var main: ExportFile
    private var partitions: [String: (file: ExportFile, part: Int)] = [:]
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

    public func write(_ document: Document) throws {
        let row = layout.row(document)
        try main.write(row)
        if let partitionIndex, let field = options.partitionBy {
            let value = Self.hivePartitionValue(row[partitionIndex])
            var entry = try partitions[value] ?? (newPart(field: field, value: value, part: 0), 0)
            if entry.file.rows >= options.rowsPerPart {
                finishedFiles.append(entry.file)
                entry = (try newPart(field: field, value: value, part: entry.part + 1), entry.part + 1)
            }
            var partitionRow = row
            partitionRow.remove(at: partitionIndex)
            try entry.file.write(partitionRow)
            partitions[value] = entry
        }
        if !shardFiles.isEmpty {
            let id = CellText.of(row[layout.index(ofHeader: layout.columns[0].header) ?? 0])
            try shardFiles[Int(StableHash.fnv1a64(id) % UInt64(shardFiles.count))].write(row)
        }
        rows += 1
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
        let files = [main] + finishedFiles + partitions.values.map(\.file) + shardFiles
        for file in files { try file.commit() }
        var fileEntries: [BSONValue] = []
        for file in files.sorted(by: { $0.relativePath < $1.relativePath }) {
            fileEntries.append(.document(["path": .string(file.relativePath), "rows": .integer(file.rows),
                                          "sha256": .string(try Self.sha256(of: stagingDirectory.appendingPathComponent(file.relativePath)))]))
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
    static func hivePartitionValue(_ value: BSONValue?) -> String {
        let text = CellText.of(value)
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

    static func sha256(of url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().hexString
    }
}

public struct ExportError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

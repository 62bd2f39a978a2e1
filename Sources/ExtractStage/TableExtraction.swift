#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DocumentStore
import Foundation
import Logging
import Pipeline
import Tabular

/// Counts for one extracted CSV file. Invariant: `rowsIn == written + quarantined` (rows outside
/// `--only` are counted apart, in `skipped`, and are not part of `rowsIn`).
struct TableCounts: Sendable {
    var rowsIn = 0
    var written = 0
    var quarantined = 0
    /// Rows kept with invalid UTF-8 replaced by U+FFFD.
    var repairedText = 0
    /// Optional values that failed to parse or check, nulled in rows that were kept (`x-on-invalid`).
    var valuesNulled = 0
    /// Row-level warnings that do not reject a row (unknown album, genre cycle root, …).
    var warnings = 0
    var skipped = 0
    var blankLines = 0
    /// Rows of only delimiters and whitespace (a spreadsheet's cleared rows), skipped as blank lines are.
    var blankRows = 0
    var bytes = 0
}

/// Turns one CSV file, or several of one header read as one table (MSSD's `log_*.csv`), into
/// documents of one schema: maps header columns to schema properties, coerces and validates every
/// cell, and sends rows that fail to the quarantine file of their input file with the reason, the
/// physical line and the column. Nothing is dropped silently. An id is admitted once across all
/// the files.
///
/// Two ways to run: `run(_:)` hands each valid row to the caller on this thread (genres, which
/// need every row before any is written); `runRows(_:workers:)` coerces, completes, builds and
/// prints rows in batches on worker threads while this thread reads, then admits them in file order
/// (duplicate ids, quarantine, counts, output), so the result is the same byte for byte for any
/// number of workers.
final class TableExtraction {
    let plan: ExtractPlan
    /// The plan bound to this file's header: coerces and builds rows (shared by the workers).
    let rows: RowBuilder
    /// Every input file, in reading order; `inputPath` is the one being read.
    let inputPaths: [String]
    private(set) var fileIndex = 0
    var inputPath: String { inputPaths[fileIndex] }
    let logger: Logger
    let headerRows: Int
    private var reader: CSVReader
    private(set) var header: [String] = []
    private var quarantine: QuarantineFile?
    private var repairsFile: CSVWriter?
    /// The quarantine and repairs files of the files read before this one.
    private var finishedQuarantines: [QuarantineFile] = []
    private var finishedRepairs: [CSVWriter] = []
    /// `counts.rowsIn + counts.skipped` when the current file was opened.
    private var rowsBeforeFile = 0
    private var bytesBeforeFile = 0
    private var blankLinesBeforeFile = 0
    private var blankRowsBeforeFile = 0
    private let quarantineDirectory: String?
    var counts = TableCounts()
    /// The ids of `--only` read in the input (rows outside it are skipped, its rows are not).
    private(set) var onlyIDsRead = Set<Int64>()
    private var firstLineOfID = FirstLines()
    /// The duplicate check of composed ids (nil: the id is one column's, `firstLineOfID` checks it).
    private let groupedIDs: GroupedIDCheck?
    private var loggedRejects = 0
    /// Builds each row's document on this thread (`run`, `write`).
    private let builder: BSONBuilder
    /// Where written lines go (nil: dry run).
    private(set) var output: AtomicFileWriter?
    /// Prints each written document as a JSON line (libbson's relaxed Extended JSON) into `output`.
    private var printer: JSONLinePrinter?

    var inputName: String { (inputPath as NSString).lastPathComponent }
    var schemaName: String { plan.schema.name }

    /// Opens the first file and reads its header (3 rows for tracks.csv). Throws `JobError(.dataError)` for
    /// an empty file, a malformed header or a missing required column.
    convenience init(plan: ExtractPlan, inputPath: String, headerRows: Int, quarantineDirectory: String?, logger: Logger) throws {
        try self.init(plan: plan, inputPaths: [inputPath], headerRows: headerRows, quarantineDirectory: quarantineDirectory,
                      logger: logger)
    }

    /// `spillDirectory` takes the temporary file of the composed ids' check (`GroupedIDCheck`).
    init(plan: ExtractPlan, inputPaths: [String], headerRows: Int, quarantineDirectory: String?,
         spillDirectory: String = FileManager.default.temporaryDirectory.path, logger: Logger) throws {
        precondition(!inputPaths.isEmpty, "an extraction reads at least one file")
        groupedIDs = try plan.idComposition.map { try GroupedIDCheck(separator: $0.separator, spillDirectory: spillDirectory) }
        self.inputPaths = inputPaths
        self.headerRows = headerRows
        self.quarantineDirectory = quarantineDirectory
        self.logger = logger
        let inputPath = inputPaths[0]
        reader = try CSVReader(path: inputPath)
        builder = try BSONBuilder()
        let name = (inputPath as NSString).lastPathComponent
        header = try Self.readHeader(reader, headerRows: headerRows, path: inputPath, schema: plan.schema.name)
        // Two columns of one name: which one a property or `extra` would hold is a guess.
        var firstColumn: [String: Int] = [:]
        for (index, column) in header.enumerated() where !column.trimmingSpaces.isEmpty {
            if let first = firstColumn[column] {
                throw JobError(.dataError, "\(inputPath): column name '\(column)' appears twice in the header (columns \(first + 1) and \(index + 1)); rename one")
            }
            firstColumn[column] = index
        }
        var bound = plan
        let binding = bound.bind(header: header)
        self.plan = bound
        rows = RowBuilder(plan: bound, header: header)
        if let missing = binding.missingRequired.first {
            throw JobError(.dataError, "\(inputPath): missing required column \(missing.columns.joined(separator: " or ")) (property \(missing.path) of schema \(plan.schema.name), \(plan.schema.path))")
        }
        try Self.checkHeaderMatches(self.plan, header: header, path: inputPath)
        for (alias, official, path) in binding.aliases {
            logger.notice("\(name): column \(alias) read as \(path) (an alias of \(official) in schema \(plan.schema.name))")
        }
        if !binding.missingOptional.isEmpty {
            logger.notice("\(name): optional columns absent, left null: \(binding.missingOptional.joined(separator: ", "))")
        }
        if !self.plan.extras.isEmpty {
            let names = self.plan.extras.map { $0.name == $0.keyName ? $0.name : "'\($0.name)' as \($0.keyName)" }
            logger.warning("\(name): columns not in schema \(plan.schema.name), carried through as text under \(ExtractPlan.extraField): \(names.joined(separator: ", "))")
        }
    }

    /// A header none of whose columns but the id's is the schema's is another file (or a header
    /// whose spelling changed, `Album` for `album`): read, every field would be null.
    private static func checkHeaderMatches(_ plan: ExtractPlan, header: [String], path: String) throws {
        let expected = plan.columnLeavesBesideID
        guard !expected.isEmpty, !expected.contains(where: { $0.columnIndex != nil }) else { return }
        func listed(_ names: [String]) -> String {
            names.count <= 20 ? names.joined(separator: ", ") : names.prefix(20).joined(separator: ", ") + " and \(names.count - 20) more"
        }
        let unmatched = plan.extras.map { $0.name.isEmpty ? "(unnamed column \($0.index + 1))" : $0.name }
        let unmatchedText = unmatched.isEmpty ? "none (the header has only the id)" : listed(unmatched)
        let offered = expected.map { $0.columns.joined(separator: " or ") }
        throw JobError(.dataError, "\(path): no column of the header is one of schema \(plan.schema.name)'s besides the id (\(plan.idColumnDescription)); is this the right file? Header columns matching nothing: \(unmatchedText); the schema reads: \(listed(offered)) (\(plan.schema.path))")
    }

    private static func readHeader(_ reader: CSVReader, headerRows: Int, path: String, schema: String) throws -> [String] {
        // A header is never skipped as blank: a leading `,,,` line is this file's header line,
        // and taking the line after it instead would put every error on the wrong line.
        let skipsBlankRows = reader.skipsBlankRows
        reader.skipsBlankRows = false
        defer { reader.skipsBlankRows = skipsBlankRows }
        var record = CSVRecord()
        if headerRows == FMAHeader.rowCount { return try FMAHeader.read(from: reader, record: &record) }
        guard try reader.next(into: &record) else {
            throw JobError(.dataError, "\(path): \((path as NSString).lastPathComponent) is empty (no header line), schema \(schema) needs one")
        }
        return record.fields
    }

    /// Ends the current file and opens the next; false after the last. The next file's header
    /// must be the first's, column for column: the files are one table.
    private func openNextFile() throws -> Bool {
        try finishReading()
        guard fileIndex + 1 < inputPaths.count else {
            try checkGroupsInOneFile()
            return false
        }
        try groupedIDs?.startNextFile()
        if let quarantine { finishedQuarantines.append(quarantine) }
        if let repairsFile { finishedRepairs.append(repairsFile) }
        quarantine = nil
        repairsFile = nil
        loggedRejects = 0
        fileIndex += 1
        rowsBeforeFile = counts.rowsIn + counts.skipped
        bytesBeforeFile = counts.bytes
        blankLinesBeforeFile = counts.blankLines
        blankRowsBeforeFile = counts.blankRows
        reader = try CSVReader(path: inputPath)
        let next = try Self.readHeader(reader, headerRows: headerRows, path: inputPath, schema: plan.schema.name)
        guard next == header else {
            let first = (inputPaths[0] as NSString).lastPathComponent
            let difference = zip(next, header).enumerated().first { $0.element.0 != $0.element.1 }
                .map { "column \($0.offset + 1) is '\($0.element.0)' where \(first) has '\($0.element.1)'" }
                ?? "\(next.count) columns where \(first) has \(header.count)"
            throw JobError(.dataError, "\(inputPath): header differs from \(first)'s (\(difference)); every file of schema \(plan.schema.name) is read as one table and must have the same header")
        }
        return true
    }

    /// Reads every record; `body` gets each valid row (its id and values) and decides what to do
    /// with it (`write`, `reject`, or keep it for later). Rejects of the row checks are handled here.
    func run(_ body: (_ record: CSVRecord, _ id: RowID, _ slots: inout RowSlots) throws -> Void) throws {
        var record = CSVRecord()
        var slots = RowSlots(leaves: plan.leaves.count)
        repeat {
            try runFile(record: &record, slots: &slots, body)
        } while try openNextFile()
    }

    private func runFile(record: inout CSVRecord, slots: inout RowSlots,
                         _ body: (_ record: CSVRecord, _ id: RowID, _ slots: inout RowSlots) throws -> Void) throws {
        while try reader.next(into: &record) {
            counts.rowsIn += 1
            switch rows.coerce(record, into: &slots) {
            case .failure(let reject):
                try self.reject(record, reason: reject.reason, column: reject.column)
            case .success(let id):
                guard try admit(id, line: record.line, record) else { continue }
                try body(record, id, &slots)
            }
        }
    }

    /// Reads the file once more from its start, counting, quarantining and writing nothing:
    /// `body` gets the id and values of each row that coerces, duplicates included (a first pass
    /// for what needs the whole file before any row is written: the genre tree).
    func scan(_ body: (_ id: RowID, _ slots: RowSlots) throws -> Void) throws {
        var record = CSVRecord()
        var slots = RowSlots(leaves: plan.leaves.count)
        for path in inputPaths {
            let reader = try CSVReader(path: path)
            if headerRows == FMAHeader.rowCount {
                _ = try FMAHeader.read(from: reader, record: &record)
            } else {
                _ = try reader.next(into: &record)
            }
            while try reader.next(into: &record) {
                if case .success(let id) = rows.coerce(record, into: &slots) { try body(id, slots) }
            }
        }
    }

    /// First sight of `id`: remembers its line and returns true. Again: quarantines the record as
    /// a duplicate and returns false. `record` is only made for a duplicate (a copy retains its arrays).
    /// A composed id out of its group's order (`GroupedIDCheck`) fails the file.
    private func admit(_ id: RowID, line: Int, _ record: @autoclosure () -> CSVRecord) throws -> Bool {
        if let groupedIDs, case .text(let text) = id {
            switch try groupedIDs.admit(text, line: line) {
            case .first:
                return true
            case .duplicate(let firstLine):
                let column = plan.idColumnDescription
                try reject(record(), reason: "duplicate \(column) \(id), first seen at line \(firstLine)", column: column)
                return false
            case .outOfOrder(let outOfOrderGroup, let previousGroup, let previousLine):
                let group = groupColumnDescription
                throw JobError(.dataError, "\(inputPath) line \(line): \(group) '\(outOfOrderGroup)' comes after '\(previousGroup)' (from line \(previousLine)): the rows of a file must be grouped by \(group) in ascending order (by bytes), or a \(group) that comes back would go unchecked; sort the file's rows by \(group) with a stable sort (e.g. LC_ALL=C sort -s), which keeps each \(group)'s rows in their order")
            }
        }
        if let first = firstLineOfID[id] {
            let column = plan.idColumnDescription
            let place = first.file == fileIndex ? "line \(first.line)"
                : "\((inputPaths[first.file] as NSString).lastPathComponent) line \(first.line)"
            try reject(record(), reason: "duplicate \(column) \(id), first seen at \(place)", column: column)
            return false
        }
        firstLineOfID[id] = FirstLines.Location(file: fileIndex, line: line)
        return true
    }

    /// The columns of a composed id's group (all its parts but the last): `session_id`.
    private var groupColumnDescription: String {
        guard let parts = plan.idComposition?.leaves.dropLast() else { return "_id" }
        return parts.map { plan.leaves[$0].columnName ?? plan.leaves[$0].name }.joined(separator: "+")
    }


    /// After the last file: a group of composed ids in two files fails the table (exit 65), naming both.
    private func checkGroupsInOneFile() throws {
        guard let conflict = try groupedIDs?.groupInTwoFiles() else { return }
        let group = groupColumnDescription
        func place(_ location: GroupedIDCheck.Location) -> String {
            "\((inputPaths[location.file] as NSString).lastPathComponent) line \(location.line)"
        }
        throw JobError(.dataError, "\(group) '\(conflict.group)' has rows in two files, \(place(conflict.first)) and \(place(conflict.again)): the rows of one \(group) must be in one file (a file read twice, or rows copied from another file?); remove the copy")
    }

    /// The current file's totals into `counts` (once per file). A file with a header and no data
    /// rows is refused: staged as an empty table, it would make a load with `--prune` delete
    /// every document of the collection.
    private func finishReading() throws {
        counts.blankLines = blankLinesBeforeFile + reader.blankLinesSkipped
        counts.blankRows = blankRowsBeforeFile + reader.blankRowsSkipped
        counts.bytes = bytesBeforeFile + reader.bytesRead
        if counts.rowsIn + counts.skipped == rowsBeforeFile {
            let blankRows = reader.blankRowsSkipped
            let skippedNote = blankRows == 0 ? "" : " (\(blankRows) blank row\(blankRows == 1 ? "" : "s") skipped)"
            throw JobError(.dataError, "\(inputPath): the file has a header but no data rows\(skippedNote); an empty \(plan.schema.name) table is refused (a truncated export or the wrong file?)")
        }
    }

    // MARK: Rows on worker threads

    /// Reads every record and sends batches of them to `workers` threads (1: all on this thread),
    /// which do everything a row needs that does not depend on the rows before it; admits the
    /// results here in file order. Each written row's `work.fragmentLeaves` values go to `lookupRows`.
    func runRows(_ work: RowWork, workers: Int, batchBytes: Int = 1 << 20, lookupRows: LookupFileWriter? = nil) throws {
        let queue = OrderedBatchQueue<RowBatch>(workers: workers, queued: workers, label: "musicetl.extract-rows") { $0.process(work) }
        var spare: [RowBatch] = []  // delivered batches, to be filled again
        let deliver = { (batch: RowBatch) throws in
            try self.admit(batch, lookupRows: lookupRows)
            batch.reset()
            spare.append(batch)
        }
        var batch = RowBatch()
        repeat {
            while try batch.read(from: reader) {
                if batch.inputBytes >= batchBytes || batch.count >= 8192 {
                    try queue.submit(batch, deliver: deliver)
                    batch = spare.popLast() ?? RowBatch()
                }
            }
            if batch.count > 0 {
                try queue.submit(batch, deliver: deliver)
                batch = spare.popLast() ?? RowBatch()
            }
            // Every batch of this file is admitted before the next file is opened: a batch's
            // rejects go to its own file's quarantine.
            try queue.drain(deliver: deliver)
        } while try openNextFile()
    }

    /// Takes a processed batch in file order: counts, rejects and duplicates to quarantine,
    /// warnings, and the lines of the rows it keeps to `output`.
    private func admit(_ batch: RowBatch, lookupRows: LookupFileWriter?) throws {
        if let failure = batch.failure { throw failure }
        onlyIDsRead.formUnion(batch.onlyIDsRead)
        try batch.lines.withUnsafeBufferPointer { lines in try admit(batch, lines: lines, lookupRows: lookupRows) }
    }

    private func admit(_ batch: RowBatch, lines: UnsafeBufferPointer<UInt8>, lookupRows: LookupFileWriter?) throws {
        var unwritten = 0  // lines before this offset are in `output`
        // By index: a record is copied out of the batch only to be quarantined (a copy retains
        // its arrays, whose counts a worker thread touched last).
        for (index, outcome) in batch.outcomes.enumerated() {
            switch outcome {
            case .skipped:
                counts.skipped += 1
            case .rejected(let reject):
                counts.rowsIn += 1
                try self.reject(batch.record(at: index), reason: reject.reason, column: reject.column)
            case .unbuildable(let id, let reason):
                counts.rowsIn += 1
                if try admit(id, line: batch.line(at: index), batch.record(at: index)) { try self.reject(batch.record(at: index), reason: reason, column: "") }
            case .built(let row):
                counts.rowsIn += 1
                guard try admit(row.id, line: batch.line(at: index), batch.record(at: index)) else {  // a duplicate: leave its line out
                    if let lineRange = row.line {
                        try output?.write(UnsafeBufferPointer(rebasing: lines[unwritten..<lineRange.lowerBound]))
                        unwritten = lineRange.upperBound
                    }
                    continue
                }
                for warning in row.warnings { warn(warning) }
                if !row.repairs.isEmpty { try report(row.repairs, of: batch.record(at: index), id: row.id) }
                if row.repairedText { repairedText(line: batch.line(at: index)) }
                counts.written += 1
                if let values = row.fragments { try lookupRows?.append(row: values, of: batch.fragmentRows) }
            }
        }
        try output?.write(UnsafeBufferPointer(rebasing: lines[unwritten...]))
    }

    /// Sends a record to `quarantine/<run-id>/<file>.rejects.csv`.
    func reject(_ record: CSVRecord, reason: String, column: String) throws {
        counts.quarantined += 1
        if loggedRejects < 5 {
            loggedRejects += 1
            logger.warning("\(inputName):\(record.line): record \(record.number)\(column.isEmpty ? "" : ", column \(column)"): \(reason) → quarantined")
        }
        guard let quarantineDirectory else { return }
        if quarantine == nil {
            quarantine = QuarantineFile(directory: quarantineDirectory, inputFileName: inputName, header: header)
        }
        try quarantine?.reject(record, reason: reason, column: column)
    }

    /// Sends the values nulled in a kept row to `quarantine/<run-id>/<file>.repairs.csv`: one line
    /// per value with the record's line, its id, the property, the column, the value as read and why.
    func report(_ repairs: [ValueRepair], of record: CSVRecord, id: RowID) throws {
        for repair in repairs {
            counts.valuesNulled += 1
            let path = plan.leaves[repair.leaf].path
            if counts.valuesNulled <= 5 {
                logger.warning("\(inputName):\(record.line): \(header[repair.column]): \(repair.reason) → value nulled, row kept")
            }
            guard let quarantineDirectory else { continue }
            if repairsFile == nil {
                let writer = try CSVWriter(path: quarantineDirectory + "/" + inputName + ".repairs.csv")
                try writer.writeRecord(["line", "id", "field", "column", "value", "reason"])
                repairsFile = writer
            }
            try repairsFile?.writeRecord([String(record.line), id.description, path, header[repair.column], record[repair.column],
                                          repair.reason])
        }
    }

    /// Counts a row kept with invalid UTF-8 replaced by U+FFFD, naming the first few by line.
    private func repairedText(line: Int) {
        counts.repairedText += 1
        if counts.repairedText <= 5 {
            logger.warning("\(inputName):\(line): invalid UTF-8 replaced by U+FFFD (row kept, counted as repaired text)")
        }
    }

    /// Logs a row-level warning (the first few of each file in full) and counts it.
    func warn(_ message: @autoclosure () -> String) {
        counts.warnings += 1
        if counts.warnings <= 10 {
            logger.warning("\(inputName): \(message())")
        } else if counts.warnings == 11 {
            logger.warning("\(inputName): more warnings follow; only their count is reported")
        }
    }

    // MARK: Writing

    /// Builds a row (`RowBuilder.build`) and writes it as one JSON line, libbson's relaxed
    /// Extended JSON (`JSONLinePrinter`). Counts the row as written, or, if libbson refuses the
    /// document (over the BSON size limit), quarantines it; returns whether it was written.
    @discardableResult
    func write(_ record: CSVRecord, slots: RowSlots, rowID: RowID) throws -> Bool {
        var warnings: [String] = []
        let valid: Bool
        do {
            builder.reset()
            valid = try rows.build(record, slots: slots, lookups: RowBuilder.ResolvedLookups(), rowID: rowID, into: builder,
                                   warnings: &warnings)
        } catch {
            try reject(record, reason: "the document cannot be built: \(error.description)", column: "")
            return false
        }
        if let oversize = RowBatch.oversize(bsonSize: try builder.rawSize()) {
            try reject(record, reason: oversize, column: "")
            return false
        }
        for warning in warnings { warn(warning) }
        if !slots.repairs.isEmpty { try report(slots.repairs, of: record, id: rowID) }
        try printer?.add(builder)
        if !valid { repairedText(line: record.line) }
        counts.written += 1
        return true
    }

    /// Stages the written documents in `output` (`runRows` writes the lines its workers printed;
    /// `write` prints on this thread).
    func stage(to output: AtomicFileWriter) {
        self.output = output
        printer = JSONLinePrinter { lines in try output.write(lines) }
    }

    /// Finishes the file: prints what is still pending, commits the quarantine file and checks
    /// the row invariant. The caller commits `output`.
    func finish() throws {
        try printer?.finish()
        let quarantines = finishedQuarantines + (quarantine.map { [$0] } ?? [])
        let repairsFiles = finishedRepairs + (repairsFile.map { [$0] } ?? [])
        for file in quarantines { try file.commit() }
        for file in repairsFiles { try file.commit() }
        let names = inputPaths.count == 1 ? inputName : "\(inputPaths.count) \(plan.schema.name) files"
        if counts.valuesNulled > 0 {
            let place = repairsFiles.isEmpty ? " (dry run: not written)" : " (see \(repairsFiles.map(\.path).joined(separator: ", ")))"
            logger.warning("\(names): \(counts.valuesNulled) values nulled in rows kept\(place)")
        }
        if counts.quarantined > 0 {
            let place = quarantines.isEmpty ? " (dry run: not written)" : " in \(quarantines.map(\.path).joined(separator: ", "))"
            logger.warning("\(names): \(counts.quarantined) rows quarantined\(place)")
        }
        precondition(counts.rowsIn == counts.written + counts.quarantined,
                     "\(inputName): \(counts.rowsIn) rows in but \(counts.written) written + \(counts.quarantined) quarantined")
    }
}

/// Where each id was first seen (input file and line), for duplicate checks: one lookup and one
/// store per row. Integer ids are small in practice (FMA's are below 160,000), so an array indexed
/// by id holds them (grown as needed, up to 4 Mi ids: 32 MiB at most); other ids go to dictionaries.
struct FirstLines {
    struct Location: Equatable {
        var file: Int
        var line: Int
    }

    /// A location as one number: the file's index above bit 40, the line (≥ 1) below; 0: not seen.
    private var dense: [Int] = []
    private var sparse: [Int64: Int] = [:]
    private var texts: [String: Int] = [:]
    private static let denseLimit: Int64 = 1 << 22
    private static let fileShift = 40

    private static func encode(_ location: Location?) -> Int {
        location.map { $0.file << fileShift | $0.line } ?? 0
    }

    private static func decode(_ value: Int?) -> Location? {
        guard let value, value != 0 else { return nil }
        return Location(file: value >> fileShift, line: value & (1 << fileShift - 1))
    }

    subscript(id: RowID) -> Location? {
        get {
            switch id {
            case .integer(let number): self[number]
            case .text(let text): Self.decode(texts[text])
            }
        }
        set {
            switch id {
            case .integer(let number): self[number] = newValue
            case .text(let text): texts[text] = newValue.map(Self.encode)
            }
        }
    }

    subscript(id: Int64) -> Location? {
        get {
            guard id >= 0 && id < Self.denseLimit else { return Self.decode(sparse[id]) }
            guard id < Int64(dense.count) else { return nil }
            return Self.decode(dense[Int(id)])
        }
        set {
            guard id >= 0 && id < Self.denseLimit else { return sparse[id] = newValue.map(Self.encode) }
            if id >= Int64(dense.count) {
                let count = min(max(Int(id) + 1, dense.count * 2), Int(Self.denseLimit))
                dense.append(contentsOf: repeatElement(0, count: count - dense.count))
            }
            dense[Int(id)] = Self.encode(newValue)
        }
    }
}

/// Lookup tables of the entities a track embeds: id → the referenced fields (position k is the
/// value for position k; null where the entity has none).
struct LookupTable: Sendable {
    var source: String
    var rows: LookupFile?
    /// The track plan's leaf index → position in a row's fragments.
    var fieldIndex: [Int: Int] = [:]
}

struct LookupTables: Sendable {
    var tables: [String: LookupTable] = [:]
}

extension Double {
    var compact: String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self) }
}


extension FieldValue {
    var compact: String {
        switch self {
        case .int(let v): String(v)
        case .double(let v): v.compact
        default: "\(self)"
        }
    }
}

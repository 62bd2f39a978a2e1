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
    /// Row-level warnings that do not reject a row (unknown album, genre cycle root, …).
    var warnings = 0
    var skipped = 0
    var blankLines = 0
    var bytes = 0
}

/// One value of a row, before it is built into BSON. Text stays in the record (`text`) until it is appended, so
/// a row allocates no `String` for its text fields.
enum Slot {
    /// The file has no column for this property.
    case missing
    case null
    case value(FieldValue)
    /// The record's field at this index, appended as a BSON string (invalid UTF-8 repaired).
    case text(Int)

    var fieldValue: FieldValue? {
        if case .value(let value) = self { return value }
        return nil
    }

    var isAbsent: Bool {
        switch self {
        case .missing, .null: true
        default: false
        }
    }
}

/// Turns one CSV file into documents of one schema: maps header columns to schema properties,
/// coerces and validates every cell, and sends rows that fail to the quarantine file with the
/// reason, the physical line and the column. Nothing is dropped silently.
final class TableExtraction {
    let plan: ExtractPlan
    let inputPath: String
    let logger: Logger
    let headerRows: Int
    private let reader: CSVReader
    private(set) var header: [String] = []
    private var quarantine: QuarantineFile?
    private let quarantineDirectory: String?
    var counts = TableCounts()
    private var firstLineOfID: [Int64: Int] = [:]
    private var loggedRejects = 0
    /// Builds each written row's document (reused, row after row).
    let builder: BSONBuilder
    /// Builds the lookup fragments of albums and artists.
    private let fragmentBuilder: BSONBuilder
    /// Where written lines go (nil: dry run).
    private(set) var output: AtomicFileWriter?
    /// Prints each written document as a JSON line (libbson's relaxed Extended JSON) into `output`.
    private var printer: JSONLinePrinter?

    var inputName: String { (inputPath as NSString).lastPathComponent }
    var schemaName: String { plan.schema.name }

    /// Opens the file and reads its header (3 rows for tracks.csv). Throws `JobError(.dataError)` for
    /// an empty file, a malformed header or a missing required column.
    init(plan: ExtractPlan, inputPath: String, headerRows: Int, quarantineDirectory: String?, logger: Logger) throws {
        self.inputPath = inputPath
        self.headerRows = headerRows
        self.quarantineDirectory = quarantineDirectory
        self.logger = logger
        reader = try CSVReader(path: inputPath)
        builder = try BSONBuilder()
        fragmentBuilder = try BSONBuilder()
        var record = CSVRecord()
        let name = (inputPath as NSString).lastPathComponent
        if headerRows == FMAHeader.rowCount {
            header = try FMAHeader.read(from: reader, record: &record)
        } else {
            guard try reader.next(into: &record) else {
                throw JobError(.dataError, "\(inputPath): \(name) is empty (no header line), schema \(plan.schema.name) needs one")
            }
            header = record.fields
        }
        var bound = plan
        let binding = bound.bind(header: header)
        self.plan = bound
        if let missing = binding.missingRequired.first {
            throw JobError(.dataError, "\(inputPath): missing required column \(missing.columns.joined(separator: " or ")) (property \(missing.path) of schema \(plan.schema.name), \(plan.schema.path))")
        }
        for (alias, official, path) in binding.aliases {
            logger.notice("\(name): column \(alias) read as \(path) (an alias of \(official) in schema \(plan.schema.name))")
        }
        if !binding.missingOptional.isEmpty {
            logger.notice("\(name): optional columns absent, left null: \(binding.missingOptional.joined(separator: ", "))")
        }
        if !binding.unknown.isEmpty {
            logger.warning("\(name): columns not in schema \(plan.schema.name), carried through as text: \(binding.unknown.joined(separator: ", "))")
        }
    }

    /// Reads every record; `body` gets each valid row (its id and values) and decides what to do
    /// with it (`write`, `reject`, or keep it for later). Rejects of the row checks are handled here.
    func run(only: Set<Int64>?, _ body: (_ record: CSVRecord, _ id: Int64, _ slots: inout [Slot]) throws -> Void) throws {
        var record = CSVRecord()
        var slots = [Slot](repeating: .missing, count: plan.leaves.count)
        while try reader.next(into: &record) {
            if let only, let id = try? CellParsers.integer(utf8: fieldBytes(record, plan.leaves[plan.idLeaf].columnIndex ?? 0)),
               !only.contains(id) {
                counts.skipped += 1
                continue
            }
            counts.rowsIn += 1
            switch coerce(record, into: &slots) {
            case .failure(let reject):
                try self.reject(record, reason: reject.reason, column: reject.column)
            case .success(let id):
                if let firstLine = firstLineOfID[id] {
                    try reject(record, reason: "duplicate \(plan.leaves[plan.idLeaf].columnName ?? "_id") \(id), first seen at line \(firstLine)",
                               column: plan.leaves[plan.idLeaf].columnName ?? "")
                    continue
                }
                firstLineOfID[id] = record.line
                try body(record, id, &slots)
            }
        }
        counts.blankLines = reader.blankLinesSkipped
        counts.bytes = reader.bytesRead
        if counts.rowsIn == 0 && counts.skipped == 0 {
            logger.warning("\(inputName): the file has a header but no data rows")
        }
    }

    /// What the row loop needs of each leaf, without reference-counted fields (copying a full
    /// `Leaf` per cell cost more than parsing the cell).
    struct HotLeaf {
        var column: Int
        var cellType: CellType?
        var hasChecks: Bool
        var hasItemKey: Bool
        var hasEmptyValue: Bool
        var isRequired: Bool
        /// The range and shape checks of `check` (trivial values: no retains per cell).
        var minimum: Double?
        var maximum: Double?
        var expectsArray: Bool
        var expectsObject: Bool
    }

    private(set) lazy var hot: [HotLeaf] = plan.leaves.map { leaf in
        HotLeaf(column: leaf.columnIndex ?? -1, cellType: leaf.cellType,
                hasChecks: leaf.minimum != nil || leaf.maximum != nil || leaf.allowed != nil || leaf.expectsArray || leaf.expectsObject,
                hasItemKey: leaf.itemKey != nil, hasEmptyValue: leaf.emptyValue != nil, isRequired: leaf.isRequired,
                minimum: leaf.minimum, maximum: leaf.maximum, expectsArray: leaf.expectsArray, expectsObject: leaf.expectsObject)
    }

    struct Reject: Error {
        var reason: String
        var column: String
    }

    private func fieldBytes(_ record: CSVRecord, _ index: Int) -> UnsafeBufferPointer<UInt8> {
        guard index < record.count else { return UnsafeBufferPointer(start: nil, count: 0) }
        let range = record.byteRange(index)
        return record.bytes.withUnsafeBufferPointer { UnsafeBufferPointer(rebasing: $0[range]) }
    }

    /// Checks the record's shape and coerces every bound column; returns the row's id.
    private func coerce(_ record: CSVRecord, into slots: inout [Slot]) -> Result<Int64, Reject> {
        if record.count != header.count {
            return .failure(Reject(reason: "\(record.count) fields where the header has \(header.count)", column: ""))
        }
        if let problem = record.problem {
            return .failure(Reject(reason: problem, column: header[record.problemColumn - 1]))
        }
        let hot = self.hot, header = self.header, plan = self.plan
        return record.bytes.withUnsafeBufferPointer { buffer -> Result<Int64, Reject> in
            if let base = buffer.baseAddress, let nul = memchr(base, 0, buffer.count) {
                let offset = UnsafeRawPointer(nul) - UnsafeRawPointer(base)
                let column = (0..<record.count).first { record.byteRange($0).contains(offset) } ?? 0
                return .failure(Reject(reason: "NUL byte in column \(header[column]) (a sign of a corrupted copy)",
                                       column: header[column]))
            }
            for index in hot.indices {
                let leafInfo = hot[index]
                let column = leafInfo.column
                guard column >= 0, let cellType = leafInfo.cellType else {
                    slots[index] = .missing
                    continue
                }
                let cell = UnsafeBufferPointer(rebasing: buffer[record.byteRange(column)])
                if Self.isBlank(cell, text: cellType == .string) {
                    // Blank cells are common: read the leaf's fields only when needed (a copy of
                    // the whole `Leaf` retains and releases each of its references).
                    if leafInfo.hasEmptyValue, let fallback = plan.leaves[index].emptyValue {
                        slots[index] = .value(fallback)
                    } else if leafInfo.isRequired {
                        return .failure(Reject(reason: "required field \(plan.leaves[index].path) is empty", column: header[column]))
                    } else {
                        slots[index] = .null
                    }
                    continue
                }
                if cellType == .string {
                    if leafInfo.hasChecks, let allowed = plan.leaves[index].allowed {
                        let text = String(decoding: cell, as: UTF8.self)
                        guard allowed.contains(text) else {
                            return .failure(Reject(reason: "'\(text.excerpt)' is not one of \(allowed.sorted().joined(separator: ", "))",
                                                   column: header[column]))
                        }
                    }
                    slots[index] = .text(column)
                    continue
                }
                switch cellType.coerce(utf8: cell, itemKey: leafInfo.hasItemKey ? plan.leaves[index].itemKey : nil) {
                case .failure(let failure):
                    return .failure(Reject(reason: failure.reason, column: header[column]))
                case .success(let value):
                    if leafInfo.hasChecks, let problem = Self.check(value, against: leafInfo, column: header[column]) {
                        return .failure(Reject(reason: problem, column: header[column]))
                    }
                    slots[index] = .value(value)
                }
            }
            guard case .value(.int(let id)) = slots[plan.idLeaf] else {
                return .failure(Reject(reason: "no id", column: plan.leaves[plan.idLeaf].columnName ?? ""))
            }
            return .success(id)
        }
    }

    /// Empty, or (for typed cells) only spaces and tabs.
    private static func isBlank(_ cell: UnsafeBufferPointer<UInt8>, text: Bool) -> Bool {
        if cell.isEmpty { return true }
        if text { return false }
        return cell.allSatisfy { $0 == 0x20 || $0 == 0x09 }
    }

    private static func check(_ value: FieldValue, against leaf: HotLeaf, column: String) -> String? {
        let number: Double? = switch value {
        case .int(let v): Double(v)
        case .double(let v): v
        default: nil
        }
        if let number {
            if let minimum = leaf.minimum, number < minimum {
                return "\(column) must be ≥ \(minimum.compact), got \(value.compact)"
            }
            if let maximum = leaf.maximum, number > maximum {
                return "\(column) must be ≤ \(maximum.compact), got \(value.compact)"
            }
        }
        if leaf.expectsArray, case .list = value {} else if leaf.expectsArray {
            return "expected a list like [] or ['a', 'b'], got a \(value.kindName)"
        }
        if leaf.expectsObject, case .dictionary = value {} else if leaf.expectsObject {
            return "expected a dictionary like {'a': 1}, got a \(value.kindName)"
        }
        return nil
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

    /// Builds a row as one BSON document through libbson (schema properties in order, then the
    /// unknown columns; `lookups` complete objects that name an `x-lookup` entity) and writes it as
    /// one JSON line, libbson's relaxed Extended JSON (`JSONLinePrinter`). Counts the row as written, or, if
    /// libbson refuses the document (over the BSON size limit), quarantines it; returns whether it
    /// was written.
    @discardableResult
    func write(_ record: CSVRecord, slots: [Slot], lookups: LookupTables?, trackID: Int64) throws -> Bool {
        let builder = self.builder
        builder.reset()
        var valid = true
        do {
            try record.bytes.withUnsafeBufferPointer { buffer in
                for node in plan.nodes {
                    switch node {
                    case .leaf(let index):
                        if try !Self.append(slots[index], key: plan.leaves[index].key, to: builder, buffer: buffer, record: record) {
                            valid = false
                        }
                    case .object(let object):
                        if try !appendObject(object, to: builder, slots: slots, buffer: buffer, record: record,
                                             lookups: lookups, trackID: trackID) {
                            valid = false
                        }
                    }
                }
                for extra in plan.extras {
                    let range = record.byteRange(extra.index)
                    if range.isEmpty {
                        try builder.appendNull(extra.key)
                    } else if try !builder.append(extra.key, repairingUTF8: UnsafeBufferPointer(rebasing: buffer[range])) {
                        valid = false
                    }
                }
            }
        } catch let error as BSONBuilderError {
            try reject(record, reason: "the document cannot be built: \(error.description)", column: "")
            return false
        }
        try printer?.add(builder)
        if !valid { counts.repairedText += 1 }
        counts.written += 1
        return true
    }

    /// Appends one slot; returns false when invalid UTF-8 had to be replaced.
    private static func append(_ slot: Slot, key: BSONKey, to builder: BSONBuilder, buffer: UnsafeBufferPointer<UInt8>,
                               record: CSVRecord) throws(BSONBuilderError) -> Bool {
        switch slot {
        case .missing, .null: try builder.appendNull(key)
        case .value(let value): try builder.append(key, value)
        case .text(let column):
            return try builder.append(key, repairingUTF8: UnsafeBufferPointer(rebasing: buffer[record.byteRange(column)]))
        }
        return true
    }

    private func appendObject(_ object: ExtractPlan.Object, to builder: BSONBuilder, slots: [Slot],
                              buffer: UnsafeBufferPointer<UInt8>, record: CSVRecord, lookups: LookupTables?,
                              trackID: Int64) throws(BSONBuilderError) -> Bool {
        var fragments: [UInt8]?
        var table: LookupTable?
        if let entity = object.lookup, let found = lookups?.tables[entity] {
            table = found
            let keyLeaf = object.children.first { plan.leaves[$0].lookupField == "_id" }
            if let keyLeaf, case .value(.int(let id)) = slots[keyLeaf] {
                fragments = found.rows[id]
                if fragments == nil {
                    warn("track \(trackID): unknown \(plan.leaves[keyLeaf].columnName ?? object.name + "_id") \(id) (no such \(entity) in \(found.source)); reference kept")
                }
            }
        }
        if fragments == nil && object.children.allSatisfy({ slots[$0].isAbsent }) {
            try builder.appendNull(object.key)
            return true
        }
        var valid = true
        try builder.beginDocument(object.key)
        for index in object.children {
            let key = plan.leaves[index].key
            if slots[index].isAbsent, let fragments, let field = table?.fieldIndex[index],
               try builder.append(key, elementAt: field, ofRawDocument: fragments) {
                continue
            }
            if try !Self.append(slots[index], key: key, to: builder, buffer: buffer, record: record) { valid = false }
        }
        try builder.endDocument()
        return valid
    }

    /// The values of `leaves` in one raw BSON document (element k = `leaves[k]`; null when the row
    /// has no value), for the lookup tables: a track copies them into its embedded object.
    func fragments(_ leaves: [Int], slots: [Slot], record: CSVRecord) throws -> [UInt8] {
        let builder = self.fragmentBuilder
        builder.reset()
        try record.bytes.withUnsafeBufferPointer { buffer in
            for (position, leaf) in leaves.enumerated() {
                _ = try Self.append(slots[leaf], key: BSONKey.index(position), to: builder, buffer: buffer, record: record)
            }
        }
        return try builder.rawBytes()
    }

    /// Stages the written documents in `output`, printed as JSON lines (as libbson prints them) on `printJobs`
    /// threads (1: on this thread).
    func stage(to output: AtomicFileWriter, printJobs: Int) {
        self.output = output
        printer = JSONLinePrinter(workers: printJobs) { lines in try output.write(lines) }
    }

    /// Finishes the file: prints what is still pending, commits the quarantine file and checks
    /// the row invariant. The caller commits `output`.
    func finish() throws {
        try printer?.finish()
        try quarantine?.commit()
        if counts.quarantined > 0 {
            logger.warning("\(inputName): \(counts.quarantined) rows quarantined\(quarantine.map { " in \($0.path)" } ?? " (dry run: not written)")")
        }
        precondition(counts.rowsIn == counts.written + counts.quarantined,
                     "\(inputName): \(counts.rowsIn) rows in but \(counts.written) written + \(counts.quarantined) quarantined")
    }
}

/// Lookup tables of the entities a track embeds: id → the referenced fields as one raw BSON
/// document (element k is the value for position k; null where the entity has none).
struct LookupTable {
    var source: String
    var rows: [Int64: [UInt8]] = [:]
    /// The track plan's leaf index → position in a row's fragments.
    var fieldIndex: [Int: Int] = [:]
}

struct LookupTables {
    var tables: [String: LookupTable] = [:]
}

extension Double {
    var compact: String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self) }
}

extension BSONBuilder {
    /// A coerced cell: integers as the narrowest BSON integer, lists as arrays, dictionaries as
    /// sub-documents (keys in source order).
    func append(_ key: BSONKey, _ value: FieldValue) throws(BSONBuilderError) {
        switch value {
        case .null: try appendNull(key)
        case .bool(let flag): try append(key, bool: flag)
        case .int(let number): try append(key, int64: number)
        case .double(let number): try append(key, double: number)
        case .string(let text): try append(key, string: text)
        case .dateTime(let milliseconds): try append(key, dateTime: milliseconds)
        case .list(let elements):
            try beginArray(key)
            for (index, element) in elements.enumerated() { try append(BSONKey.index(index), element) }
            try endArray()
        case .dictionary(let entries):
            try beginDocument(key)
            for entry in entries { try append(BSONKey(entry.key), entry.value) }
            try endDocument()
        }
    }
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

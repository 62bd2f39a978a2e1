import DocumentStore
import Tabular

/// What a worker does with each row of a file, besides `RowBuilder`'s coercion and building: all
/// of it is immutable, so every worker shares one.
struct RowWork: Sendable {
    var rows: RowBuilder
    /// `--only`: ids outside it are skipped.
    var only: Set<Int64>?
    /// Entities a track embeds (albums, artists), by id (`RowBuilder.resolve`).
    var lookups = RowBuilder.ResolvedLookups()
    /// Leaves whose values are kept per id for later files (albums and artists for the tracks).
    var fragmentLeaves: [Int] = []
    /// Completes a coerced row before it is built (the tracks' genre derivations); appends its
    /// warnings.
    var complete: (@Sendable (_ id: RowID, _ slots: inout RowSlots, _ warnings: inout [String]) -> Void)?
    /// Print the documents (false for a dry run: built and checked, not printed).
    var printLines = true
}

/// What became of one record on a worker. Whatever depends on earlier rows (duplicate ids, counts,
/// the log) is decided later, in file order, by `TableExtraction`.
enum RowOutcome {
    /// Outside `--only`.
    case skipped
    /// Failed coercion or validation.
    case rejected(RowBuilder.Reject)
    /// Valid, but libbson refuses the document (over the BSON size limit).
    case unbuildable(id: RowID, reason: String)
    case built(BuiltRow)
}

struct BuiltRow {
    var id: RowID
    /// The document's JSON line within the batch's `lines` (nil: not printed, dry run).
    var line: Range<Int>?
    var repairedText: Bool
    var warnings: [String]
    /// Optional values nulled because they failed to parse or check.
    var repairs: [ValueRepair]
    /// The row's lookup fields: its row in the batch's `fragmentRows`.
    var fragments: Int?
}

/// Records read together and what a worker made of them: one outcome per record and the JSON
/// lines of the built ones, back to back. Reused batch after batch (`reset`): the records'
/// storage, the lines' buffer and the builders stay allocated.
final class RowBatch: @unchecked Sendable {  // owns libbson builders (bson_t); OrderedBatchQueue hands it to one thread at a time
    /// `records[..<count]` are this batch's; the rest is spare storage from an earlier use.
    private var records: [CSVRecord] = []
    private(set) var count = 0
    private(set) var inputBytes = 0
    private(set) var outcomes: [RowOutcome] = []
    /// The ids of `--only` among the batch's records (to tell which of them the input lacks).
    private(set) var onlyIDsRead: [Int64] = []
    /// The JSON lines of the built rows (`BuiltRow.line`), empty for a dry run.
    private(set) var lines: [UInt8] = []
    /// A document libbson could not print, or no builder: fails the file.
    private(set) var failure: BSONBuilderError?
    private var builder: BSONBuilder?
    private var fragmentBuilder: BSONBuilder?
    /// The lookup fields of the batch's rows (`BuiltRow.fragments`), emptied with the batch.
    let fragmentRows = LookupStore()

    /// A copy of the batch's record at `index` (< `count`), to quarantine it.
    func record(at index: Int) -> CSVRecord { records[index] }
    func line(at index: Int) -> Int { records[index].line }

    /// Reads the next record of `reader` into the batch; false at the end of the input.
    func read(from reader: CSVReader) throws(CSVError) -> Bool {
        if count == records.count { records.append(CSVRecord()) }
        guard try reader.next(into: &records[count]) else { return false }
        inputBytes += records[count].bytes.count
        count += 1
        return true
    }

    /// Empties the batch for the next records, keeping its storage.
    func reset() {
        count = 0
        inputBytes = 0
        outcomes.removeAll(keepingCapacity: true)
        onlyIDsRead.removeAll(keepingCapacity: true)
        lines.removeAll(keepingCapacity: true)
        fragmentRows.removeAll()
        failure = nil
    }

    /// Why a document of `bsonSize` bytes can never be loaded, or nil when it can.
    static func oversize(bsonSize: Int) -> String? {
        guard bsonSize > BSONDocument.largestStorableSize else { return nil }
        return "the document is \(bsonSize) bytes in BSON, over MongoDB's 16 MiB (\(BSONDocument.largestStorableSize) bytes) limit: it could never be loaded"
    }

    func process(_ work: RowWork) {
        do {
            try processRecords(work)
        } catch {
            failure = error
        }
    }

    private func processRecords(_ work: RowWork) throws(BSONBuilderError) {
        if builder == nil { builder = try BSONBuilder() }
        if !work.fragmentLeaves.isEmpty && fragmentBuilder == nil { fragmentBuilder = try BSONBuilder() }
        guard let builder else { return }
        var slots = RowSlots(leaves: work.rows.plan.leaves.count)
        outcomes.reserveCapacity(count)
        for index in 0..<count {
            try processRecord(records[index], work, slots: &slots, builder: builder)
        }
    }

    /// Coerces, completes and builds one record: appends its outcome, and its line to `lines`.
    private func processRecord(_ record: CSVRecord, _ work: RowWork, slots: inout RowSlots,
                               builder: BSONBuilder) throws(BSONBuilderError) {
        if let only = work.only, let id = work.rows.id(of: record) {
            guard only.contains(id) else {
                outcomes.append(.skipped)
                return
            }
            onlyIDsRead.append(id)
        }
        let id: RowID
        switch work.rows.coerce(record, into: &slots) {
        case .failure(let reject):
            outcomes.append(.rejected(reject))
            return
        case .success(let coerced):
            id = coerced
        }
        var warnings: [String] = []
        work.complete?(id, &slots, &warnings)
        let valid: Bool
        do {
            builder.reset()
            valid = try work.rows.build(record, slots: slots, lookups: work.lookups, rowID: id, into: builder, warnings: &warnings)
        } catch {
            outcomes.append(.unbuildable(id: id, reason: "the document cannot be built: \(error.description)"))
            return
        }
        if let oversize = Self.oversize(bsonSize: try builder.rawSize()) {
            outcomes.append(.unbuildable(id: id, reason: oversize))
            return
        }
        var line: Range<Int>?
        if work.printLines {
            let start = lines.count
            try builder.appendJSONLine(to: &lines)
            lines.append(UInt8(ascii: "\n"))
            line = start..<lines.count
        }
        var fragments: Int?
        // A lookup table's ids are integers (`MetadataExtractor` checks its schema).
        if let fragmentBuilder, !work.fragmentLeaves.isEmpty, let key = id.integer {
            fragments = try work.rows.fragments(work.fragmentLeaves, id: key, slots: slots, record: record,
                                                builder: fragmentBuilder, into: fragmentRows)
        }
        outcomes.append(.built(BuiltRow(id: id, line: line, repairedText: !valid, warnings: warnings, repairs: slots.repairs,
                                        fragments: fragments)))
    }
}

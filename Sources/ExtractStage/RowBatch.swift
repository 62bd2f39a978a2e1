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
    var complete: (@Sendable (_ id: Int64, _ slots: inout RowSlots, _ warnings: inout [String]) -> Void)?
    /// Print the documents (false for a dry run: built and checked, not printed).
    var printLines = true
    /// Build each document with libbson and print it with libbson (MUSICETL_JSON_PRINTER=libbson:
    /// the reference path, same bytes, several times slower) instead of writing the JSON line
    /// directly.
    var libbsonOnly = RelaxedJSONWriter.libbsonRequested

    /// Documents are built with libbson (the reference path, or a dry run, which builds without
    /// printing); otherwise each line is written directly.
    var buildsWithLibbson: Bool { libbsonOnly || !printLines }
}

/// What became of one record on a worker. Whatever depends on earlier rows (duplicate ids, counts,
/// the log) is decided later, in file order, by `TableExtraction`.
enum RowOutcome {
    /// Outside `--only`.
    case skipped
    /// Failed coercion or validation.
    case rejected(RowBuilder.Reject)
    /// Valid, but libbson refuses the document (over the BSON size limit).
    case unbuildable(id: Int64, reason: String)
    case built(BuiltRow)
}

struct BuiltRow {
    var id: Int64
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
/// lines of the built ones, back to back. Reused batch after batch (`reset`): the records' storage,
/// the lines' buffer and the builders stay allocated, so a file's rows cost no allocation of
/// their own and no mapping and unmapping of large buffers (which serialises threads in the kernel).
/// The per-row properties skip dynamic exclusivity checks (`@exclusivity(unchecked)`): one thread
/// at a time uses a batch, and no access overlaps another; the checks were 0.9% of a profile.
final class RowBatch: @unchecked Sendable {  // one thread at a time: OrderedBatchQueue hands it over
    /// `records[..<count]` are this batch's; the rest is spare storage from an earlier use.
    @exclusivity(unchecked) private var records: [CSVRecord] = []
    @exclusivity(unchecked) private(set) var count = 0
    @exclusivity(unchecked) private(set) var inputBytes = 0
    @exclusivity(unchecked) private(set) var outcomes: [RowOutcome] = []
    private(set) var lines: RelaxedJSONWriter?
    /// A document libbson could not print, or no builder: fails the file.
    private(set) var failure: BSONBuilderError?
    private var builder: BSONBuilder?
    private var fragmentBuilder: BSONBuilder?
    private var fragmentText: RelaxedJSONWriter?
    /// The lookup fields of the batch's rows (`BuiltRow.fragments`), emptied with the batch.
    let fragmentRows = LookupStore()
    /// Per plan leaf, where `build` wrote its value in `lines` (`noSpan`: not located).
    @exclusivity(unchecked) private var leafSpans: [Range<Int>] = []
    /// Embedded objects of the last row built, for the next rows (`ObjectReuse`); made on first
    /// use, for the JSON path of a file with objects.
    @exclusivity(unchecked) private var reuse: ObjectReuse?
    /// The row's plain literals, printed as JSON while they are checked (`RowBuilder.coerce`).
    private var literalText: RelaxedJSONWriter?
    private static let noSpan = -1 ..< -1

    /// A copy of the batch's record at `index` (< `count`), to quarantine it. Admitting a row
    /// reads only its line, in place (`line(at:)`): a copy retains the record's arrays, whose
    /// counts sit on cache lines another thread wrote last.
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
        lines?.removeAll()
        fragmentRows.removeAll()
        failure = nil
    }

    /// Why a document of `bsonSize` bytes can never be loaded, or nil when it can.
    static func oversize(bsonSize: Int) -> String? {
        guard bsonSize > BSONDocument.largestStorableSize else { return nil }
        return "the document is \(bsonSize) bytes in BSON, over MongoDB's 16 MiB (\(BSONDocument.largestStorableSize) bytes) limit: it could never be loaded"
    }

    /// `oversize(bsonSize:)` of a printed JSON line. A document's BSON is at most four times its
    /// JSON (an array of one-digit integers: `0, ` is 3 bytes, its BSON element up to 12) and at
    /// least an eighth of it (`\u001f` is 6 bytes for 1; a pre-1970 date's 49 for 8), so only a
    /// line between those bounds is parsed to learn its exact size: parsing a 200 MiB line cost
    /// as much memory again.
    static func oversize(jsonLine: UnsafeBufferPointer<UInt8>) -> String? {
        guard jsonLine.count > BSONDocument.largestStorableSize / 4 else { return nil }
        if jsonLine.count > BSONDocument.largestStorableSize * 8 {
            return "the document is over MongoDB's 16 MiB (\(BSONDocument.largestStorableSize) bytes) limit in BSON (its JSON line is \(jsonLine.count) bytes): it could never be loaded"
        }
        guard let size = BSONDocument.bsonSize(ofJSON: jsonLine) else {
            return "the document cannot be built: libbson cannot read its \(jsonLine.count)-byte JSON line back"
        }
        return oversize(bsonSize: size)
    }

    func process(_ work: RowWork) {
        do {
            try processRecords(work)
        } catch {
            failure = error
        }
    }

    private func processRecords(_ work: RowWork) throws(BSONBuilderError) {
        if self.builder == nil { self.builder = try BSONBuilder() }
        guard let builder = self.builder else { return }
        // Lookup fragments in the form the tracks will be built in (the same settings apply to them).
        if !work.fragmentLeaves.isEmpty {
            if work.buildsWithLibbson && fragmentBuilder == nil { fragmentBuilder = try BSONBuilder() }
            if !work.buildsWithLibbson && fragmentText == nil { fragmentText = RelaxedJSONWriter(capacity: 1 << 12) }
        }
        if work.printLines && lines == nil {
            lines = RelaxedJSONWriter(capacity: inputBytes + inputBytes / 2, libbsonOnly: work.libbsonOnly)
        }
        let lines = work.printLines ? self.lines : nil
        if !work.buildsWithLibbson && literalText == nil { literalText = RelaxedJSONWriter(capacity: 1 << 12) }
        let literals = work.buildsWithLibbson ? nil : literalText
        var slots = RowSlots(leaves: work.rows.plan.leaves.count)
        outcomes.reserveCapacity(count)
        try records.withUnsafeMutableBufferPointer { records throws(BSONBuilderError) in
            // Each record accessed in place (inout, never written): passing it by value copied it,
            // a retain and a release of each of its arrays, on cache lines the reader thread wrote.
            for index in 0..<count {
                try processRecord(&records[index], work, slots: &slots, lines: lines, literals: literals, builder: builder)
            }
        }
    }

    /// The batch's `ObjectReuse`, when rows are written as JSON lines and have objects.
    private func objectReuse(_ work: RowWork) -> ObjectReuse? {
        guard work.printLines, !work.buildsWithLibbson, !work.rows.shape.objects.isEmpty else { return nil }
        if let reuse { return reuse }
        let made = ObjectReuse(work.rows)
        reuse = made
        return made
    }

    /// Coerces, completes and builds one record: appends its outcome, and its line to `lines`.
    private func processRecord(_ record: inout CSVRecord, _ work: RowWork, slots: inout RowSlots, lines: RelaxedJSONWriter?,
                               literals: RelaxedJSONWriter?, builder: BSONBuilder) throws(BSONBuilderError) {
        if let only = work.only, let id = work.rows.id(of: record), !only.contains(id) {
            outcomes.append(.skipped)
            return
        }
        let id: Int64
        // Objects whose cells equal the last row's are taken from it (JSON lines only).
        let reuse = objectReuse(work)
        reuse?.match(record)
        switch work.rows.coerce(record, into: &slots, skippingObjects: reuse?.hits ?? 0, literals: literals) {
        case .failure(let reject):
            outcomes.append(.rejected(reject))
            return
        case .success(let coerced):
            id = coerced
        }
        var warnings: [String] = []
        work.complete?(id, &slots, &warnings)
        let printedLiterals = literals?.bytes ?? UnsafeBufferPointer(start: nil, count: 0)
        let valid: Bool
        var line: Range<Int>?
        if let lines, !work.buildsWithLibbson {
            // The fast path: the row's JSON line written directly.
            let start = lines.count
            lines.beginDocumentLine()
            if work.fragmentLeaves.isEmpty {
                valid = try work.rows.build(record, slots: slots, lookups: work.lookups, trackID: id, into: lines,
                                            warnings: &warnings, reuse: reuse, literals: printedLiterals)
            } else {
                // Locate the leaves' values in the line, to copy the fragments from it.
                if leafSpans.count != slots.count { leafSpans = Array(repeating: Self.noSpan, count: slots.count) }
                for leaf in work.fragmentLeaves { leafSpans[leaf] = Self.noSpan }
                valid = try leafSpans.withUnsafeMutableBufferPointer { (spans) throws(BSONBuilderError) in
                    try work.rows.build(record, slots: slots, lookups: work.lookups, trackID: id, into: lines,
                                        warnings: &warnings, leafSpans: spans, literals: printedLiterals)
                }
            }
            lines.endDocumentLine()
            line = start..<lines.count
            // What libbson would refuse (a key with a NUL byte), or MongoDB (a document over 16 MiB).
            let refusal = lines.refusal.map { "the document cannot be built: \($0.description)" }
                ?? Self.oversize(jsonLine: UnsafeBufferPointer(rebasing: lines.bytes[start..<(lines.count - 1)]))
            if let refusal {
                lines.truncate(to: start)
                outcomes.append(.unbuildable(id: id, reason: refusal))
                return
            }
        } else {
            do {
                builder.reset()
                valid = try work.rows.build(record, slots: slots, lookups: work.lookups, trackID: id, into: builder, warnings: &warnings)
            } catch {
                outcomes.append(.unbuildable(id: id, reason: "the document cannot be built: \(error.description)"))
                return
            }
            if let oversize = Self.oversize(bsonSize: try builder.rawSize()) {
                outcomes.append(.unbuildable(id: id, reason: oversize))
                return
            }
            if let lines {
                let start = lines.count
                try builder.appendRelaxedJSON(to: lines)
                lines.append(byte: UInt8(ascii: "\n"))
                line = start..<lines.count
            }
        }
        var fragments: Int?
        if !work.fragmentLeaves.isEmpty, let lines, !work.buildsWithLibbson {
            fragments = leafSpans.withUnsafeMutableBufferPointer { spans in
                work.rows.fragments(work.fragmentLeaves, id: id, spans: spans, line: lines.bytes, into: fragmentRows)
            }
        }
        if !work.fragmentLeaves.isEmpty && fragments == nil {
            fragments = try work.rows.fragments(work.fragmentLeaves, id: id, slots: slots, record: record,
                                                builder: work.buildsWithLibbson ? fragmentBuilder : nil,
                                                text: work.buildsWithLibbson ? nil : fragmentText, into: fragmentRows,
                                                literals: printedLiterals)
        }
        outcomes.append(.built(BuiltRow(id: id, line: line, repairedText: !valid, warnings: warnings, repairs: slots.repairs,
                                        fragments: fragments)))
    }
}

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
    var complete: (@Sendable (_ id: Int64, _ slots: inout [Slot], _ warnings: inout [String]) -> Void)?
    /// Print the documents (false for a dry run: built and checked, not printed).
    var printLines = true
    /// MUSICETL_JSON_PRINTER=libbson: libbson prints every document.
    var libbsonOnly = RelaxedJSONWriter.libbsonRequested
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
    var fragments: [UInt8]?
}

/// Records read together and what a worker made of them: one outcome per record and the JSON
/// lines of the built ones, back to back.
final class RowBatch: @unchecked Sendable {  // one thread at a time: OrderedBatchQueue hands it over
    var records: [CSVRecord] = []
    var inputBytes = 0
    private(set) var outcomes: [RowOutcome] = []
    private(set) var lines: RelaxedJSONWriter?
    /// A document libbson could not print, or no builder: fails the file.
    private(set) var failure: BSONBuilderError?

    func process(_ work: RowWork) {
        do {
            try processRecords(work)
        } catch {
            failure = error
        }
    }

    private func processRecords(_ sharedWork: RowWork) throws(BSONBuilderError) {
        let work = sharedWork
        let builder = try BSONBuilder()
        let fragmentBuilder = work.fragmentLeaves.isEmpty ? nil : try BSONBuilder()
        let lines = work.printLines ? RelaxedJSONWriter(capacity: inputBytes + inputBytes / 2, libbsonOnly: work.libbsonOnly) : nil
        self.lines = lines
        var slots = [Slot](repeating: .missing, count: work.rows.plan.leaves.count)
        outcomes.reserveCapacity(records.count)
        for record in records {
            if let only = work.only, let id = work.rows.id(of: record), !only.contains(id) {
                outcomes.append(.skipped)
                continue
            }
            let id: Int64
            switch work.rows.coerce(record, into: &slots) {
            case .failure(let reject):
                outcomes.append(.rejected(reject))
                continue
            case .success(let coerced):
                id = coerced
            }
            var warnings: [String] = []
            work.complete?(id, &slots, &warnings)
            let valid: Bool
            do {
                valid = try work.rows.build(record, slots: slots, lookups: work.lookups, trackID: id, into: builder, warnings: &warnings)
            } catch {
                outcomes.append(.unbuildable(id: id, reason: "the document cannot be built: \(error.description)"))
                continue
            }
            var line: Range<Int>?
            if let lines {
                let start = lines.count
                try builder.appendRelaxedJSON(to: lines)
                lines.append(byte: UInt8(ascii: "\n"))
                line = start..<lines.count
            }
            let fragments = try fragmentBuilder.map { builder throws(BSONBuilderError) in
                try work.rows.fragments(work.fragmentLeaves, slots: slots, record: record, builder: builder)
            }
            outcomes.append(.built(BuiltRow(id: id, line: line, repairedText: !valid, warnings: warnings, fragments: fragments)))
        }
    }
}

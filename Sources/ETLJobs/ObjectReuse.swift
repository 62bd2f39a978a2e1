#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tabular

/// The JSON of each embedded object (album, artist, set) of the last row built, with the cells it
/// was built from. tracks.csv repeats an album's and an artist's columns on every one of their
/// tracks, and consecutive tracks mostly share both (80% and 86% of the FMA-scale set's rows),
/// so a row whose cells for an object equal the last row's takes that object's JSON instead of
/// coercing, checking and escaping the cells again. Equal cells give the same values, checks,
/// lookups (the tables do not change within a file) and repairs, so the line is the same; only
/// the unknown-reference warning names each track, and is made again.
///
/// Only objects whose children all come from their own cells or lookups (none derived from
/// other columns) are reused. One per batch: one thread at a time.
final class ObjectReuse {
    private struct Entry {
        var filled = false
        /// The object's cells, back to back, and where each ends.
        var cells: [UInt8] = []
        var cellEnds: [Int] = []
        var json: [UInt8] = []
        var valid = true
        /// The id whose lookup failed, if it did.
        var unknownID: Int64?
    }

    private var entries: [Entry]
    /// Per object, the columns of its children that have one; nil: never reused.
    private let columns: [[Int]?]
    private let headerCount: Int
    /// Bit k: object k's cells in the row being built are those of its entry.
    private(set) var hits: UInt64 = 0

    init(_ rows: RowBuilder) {
        columns = rows.shape.objects.indices.map { object in
            let children = rows.shape.objects[object].children
            guard object < 64, children.allSatisfy({ rows.plan.leaves[$0].derive == nil }) else { return nil }
            return children.map { rows.hot[$0].column }.filter { $0 >= 0 }
        }
        entries = Array(repeating: Entry(), count: columns.count)
        headerCount = rows.header.count
    }

    /// Finds the objects whose cells in `record` are those of the last row built (`hits`).
    func match(_ record: CSVRecord) {
        hits = 0
        guard record.count == headerCount else { return }  // ragged: rejected anyway
        record.bytes.withUnsafeBufferPointer { buffer in
            for object in entries.indices where entries[object].filled {
                if let columns = columns[object], Self.same(entries[object], columns, record, buffer) {
                    hits |= 1 << UInt64(object)
                }
            }
        }
    }

    private static func same(_ entry: Entry, _ columns: [Int], _ record: CSVRecord, _ buffer: UnsafeBufferPointer<UInt8>) -> Bool {
        entry.cells.withUnsafeBufferPointer { cells in
            var start = 0
            for (position, column) in columns.enumerated() {
                let range = record.byteRange(column)
                let end = entry.cellEnds[position]
                guard end - start == range.count else { return false }
                if let cellBase = cells.baseAddress, let base = buffer.baseAddress, !range.isEmpty,
                   memcmp(cellBase + start, base + range.lowerBound, range.count) != 0 {
                    return false
                }
                start = end
            }
            return true
        }
    }

    @inline(__always)
    func isHit(_ object: Int) -> Bool { object < 64 && hits & (1 << UInt64(object)) != 0 }

    /// A hit's JSON value, whether its text was repaired, and the id of a failed lookup.
    func reused(_ object: Int) -> (json: [UInt8], valid: Bool, unknownID: Int64?) {
        (entries[object].json, entries[object].valid, entries[object].unknownID)
    }

    /// Keeps what `record`'s cells made of `object` for the next rows.
    func store(_ object: Int, record: CSVRecord, json: UnsafeBufferPointer<UInt8>, valid: Bool, unknownID: Int64?) {
        guard object < columns.count, let columns = columns[object] else { return }
        entries[object].cells.removeAll(keepingCapacity: true)
        entries[object].cellEnds.removeAll(keepingCapacity: true)
        record.bytes.withUnsafeBufferPointer { buffer in
            for column in columns {
                entries[object].cells.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[record.byteRange(column)]))
                entries[object].cellEnds.append(entries[object].cells.count)
            }
        }
        entries[object].json.removeAll(keepingCapacity: true)
        entries[object].json.append(contentsOf: json)
        entries[object].valid = valid
        entries[object].unknownID = unknownID
        entries[object].filled = true
    }
}

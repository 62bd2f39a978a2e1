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
/// other columns) are reused, and none is kept from a row libbson would refuse (`RowBuilder.build`).
/// One per batch, so one thread at a time, and one file: a file's batches are its own.
final class ObjectReuse {
    private struct Entry {
        var filled = false
        /// The bytes of each run of the object's columns (cells and the commas between them),
        /// back to back, and per column where its cell ends, from the start of its run.
        var bytes: [UInt8] = []
        var ends: [Int] = []
        var json: [UInt8] = []
        var valid = true
        /// The id whose lookup failed, if it did.
        var unknownID: Int64?
    }

    private var entries: [Entry]
    /// Per object, its columns as runs of consecutive columns (first...last); nil: never reused.
    /// A record holds a run's cells back to back with a comma between two, so a run is compared
    /// with one `memcmp` (and its cell ends, which a comma inside a cell would shift).
    private let runs: [[ClosedRange<Int>]?]
    private let headerCount: Int
    /// Bit k: object k's cells in the row being built are those of its entry.
    private(set) var hits: UInt64 = 0

    init(_ rows: RowBuilder) {
        runs = rows.shape.objects.indices.map { object in
            let children = rows.shape.objects[object].children
            guard object < 64, children.allSatisfy({ rows.plan.leaves[$0].derive == nil }) else { return nil }
            var runs: [ClosedRange<Int>] = []
            for column in Set(children.map { rows.hot[$0].column }.filter { $0 >= 0 }).sorted() {
                if let last = runs.last, last.upperBound + 1 == column {
                    runs[runs.count - 1] = last.lowerBound...column
                } else {
                    runs.append(column...column)
                }
            }
            return runs
        }
        entries = Array(repeating: Entry(), count: runs.count)
        headerCount = rows.header.count
    }

    /// Finds the objects whose cells in `record` are those of the last row built (`hits`).
    func match(_ record: CSVRecord) {
        hits = 0
        guard record.count == headerCount else { return }  // ragged: rejected anyway
        record.bytes.withUnsafeBufferPointer { bytes in
            record.fieldEnds.withUnsafeBufferPointer { fieldEnds in
                for object in entries.indices where entries[object].filled {
                    if let runs = runs[object], Self.same(entries[object], runs, bytes, fieldEnds) {
                        hits |= 1 << UInt64(object)
                    }
                }
            }
        }
    }

    private static func same(_ entry: Entry, _ runs: [ClosedRange<Int>], _ bytes: UnsafeBufferPointer<UInt8>,
                             _ fieldEnds: UnsafeBufferPointer<Int>) -> Bool {
        var offset = 0, endIndex = 0
        for run in runs {
            // `CSVRecord.byteRange`, read from the buffer the loop already holds.
            let start = run.lowerBound == 0 ? 0 : fieldEnds[run.lowerBound - 1] + 1
            let length = fieldEnds[run.upperBound] - start
            guard offset + length <= entry.bytes.count else { return false }
            for column in run {
                guard fieldEnds[column] - start == entry.ends[endIndex] else { return false }
                endIndex += 1
            }
            let equal = entry.bytes.withUnsafeBufferPointer { kept in
                guard length > 0, let keptBase = kept.baseAddress, let base = bytes.baseAddress else { return true }
                return memcmp(keptBase + offset, base + start, length) == 0
            }
            guard equal else { return false }
            offset += length
        }
        return offset == entry.bytes.count
    }

    @inline(__always)
    func isHit(_ object: Int) -> Bool { object < 64 && hits & (1 << UInt64(object)) != 0 }

    /// Runs `body` with a hit's JSON value (read in place: returning a copy of the array retained
    /// and released it per row, ~2 % of the track file's profile), whether its text was repaired,
    /// and the id of a failed lookup.
    func withReused<Result, Failure: Error>(
        _ object: Int, _ body: (UnsafeBufferPointer<UInt8>, _ valid: Bool, _ unknownID: Int64?) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try entries.withUnsafeBufferPointer { (entries) throws(Failure) -> Result in
            let entry = entries.baseAddress! + object
            return try entry.pointee.json.withUnsafeBufferPointer { (json) throws(Failure) -> Result in
                try body(json, entry.pointee.valid, entry.pointee.unknownID)
            }
        }
    }

    /// Keeps what `record`'s cells made of `object` for the next rows.
    func store(_ object: Int, record: CSVRecord, json: UnsafeBufferPointer<UInt8>, valid: Bool, unknownID: Int64?) {
        guard object < runs.count, let runs = runs[object] else { return }
        entries[object].bytes.removeAll(keepingCapacity: true)
        entries[object].ends.removeAll(keepingCapacity: true)
        record.bytes.withUnsafeBufferPointer { bytes in
            for run in runs {
                let start = record.byteRange(run.lowerBound).lowerBound
                entries[object].bytes.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<record.byteRange(run.upperBound).upperBound]))
                for column in run { entries[object].ends.append(record.fieldEnds[column] - start) }
            }
        }
        entries[object].json.removeAll(keepingCapacity: true)
        entries[object].json.append(contentsOf: json)
        entries[object].valid = valid
        entries[object].unknownID = unknownID
        entries[object].filled = true
    }
}

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
    /// Trivial (its buffers are `OwnedBuffer`s), so reading one retains nothing.
    private struct Entry {
        var filled = false
        /// The bytes of each run of the object's columns (cells and the commas between them),
        /// back to back, and per column where its cell ends, from the start of its run.
        var bytes = OwnedBuffer<UInt8>()
        var ends = OwnedBuffer<Int>()
        var json = OwnedBuffer<UInt8>()
        var valid = true
        /// The id whose lookup failed, if it did.
        var unknownID: Int64?
    }

    /// One per object, allocated here and freed in `deinit`.
    private let entries: UnsafeMutableBufferPointer<Entry>
    /// Per object, its columns as runs of consecutive columns (first...last); nil: never reused.
    /// A record holds a run's cells back to back with a comma between two, so a run is compared
    /// with one `memcmp` (and its cell ends, which a comma inside a cell would shift).
    private let runs: [[ClosedRange<Int>]?]
    private let headerCount: Int
    /// Bit k: object k's cells in the row being built are those of its entry.
    @exclusivity(unchecked) private(set) var hits: UInt64 = 0

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
        entries = .allocate(capacity: runs.count)
        entries.initialize(repeating: Entry())
        headerCount = rows.header.count
    }

    deinit {
        for index in entries.indices {
            entries[index].bytes.free()
            entries[index].ends.free()
            entries[index].json.free()
        }
        entries.deallocate()
    }

    /// Finds the objects whose cells in `record` are those of the last row built (`hits`).
    func match(_ record: CSVRecord) {
        hits = 0
        guard record.count == headerCount else { return }  // ragged: rejected anyway
        record.bytes.withUnsafeBufferPointer { bytes in
            record.fieldEnds.withUnsafeBufferPointer { fieldEnds in
                for object in entries.indices where entries[object].filled {
                    if let runs = runs[object], Self.same(entries[object].bytes.elements, entries[object].ends.elements,
                                                          runs, bytes, fieldEnds) {
                        hits |= 1 << UInt64(object)
                    }
                }
            }
        }
    }

    private static func same(_ keptBytes: UnsafeBufferPointer<UInt8>, _ keptEnds: UnsafeBufferPointer<Int>,
                             _ runs: [ClosedRange<Int>], _ bytes: UnsafeBufferPointer<UInt8>,
                             _ fieldEnds: UnsafeBufferPointer<Int>) -> Bool {
        var offset = 0, endIndex = 0
        for run in runs {
            // `CSVRecord.byteRange`, read from the buffer the loop already holds.
            let start = run.lowerBound == 0 ? 0 : fieldEnds[run.lowerBound - 1] + 1
            let length = fieldEnds[run.upperBound] - start
            guard offset + length <= keptBytes.count else { return false }
            for column in run {
                guard endIndex < keptEnds.count, fieldEnds[column] - start == keptEnds[endIndex] else { return false }
                endIndex += 1
            }
            if length > 0 {
                guard let keptBase = keptBytes.baseAddress, let base = bytes.baseAddress,
                      memcmp(keptBase + offset, base + start, length) == 0 else { return false }
            }
            offset += length
        }
        return offset == keptBytes.count
    }

    @inline(__always)
    func isHit(_ object: Int) -> Bool { object < 64 && hits & (1 << UInt64(object)) != 0 }

    /// A hit's JSON value (valid until the object is next stored: this class owns the bytes),
    /// whether its text was repaired, and the id of a failed lookup.
    @inline(__always)
    func reused(_ object: Int) -> (json: UnsafeBufferPointer<UInt8>, valid: Bool, unknownID: Int64?) {
        (entries[object].json.elements, entries[object].valid, entries[object].unknownID)
    }

    /// Keeps what `record`'s cells made of `object` for the next rows.
    func store(_ object: Int, record: CSVRecord, json: UnsafeBufferPointer<UInt8>, valid: Bool, unknownID: Int64?) {
        guard object < runs.count, let runs = runs[object] else { return }
        entries[object].bytes.removeAll()
        entries[object].ends.removeAll()
        record.bytes.withUnsafeBufferPointer { bytes in
            for run in runs {
                let start = record.byteRange(run.lowerBound).lowerBound
                entries[object].bytes.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<record.byteRange(run.upperBound).upperBound]))
                for column in run { entries[object].ends.append(record.fieldEnds[column] - start) }
            }
        }
        entries[object].json.removeAll()
        entries[object].json.append(contentsOf: json)
        entries[object].valid = valid
        entries[object].unknownID = unknownID
        entries[object].filled = true
    }
}

/// A growable buffer its owner allocates and frees itself (`free()`, in the owner's `deinit`).
/// Trivial, so reading one out of its owner retains nothing (entries holding arrays were copied
/// out, a retain and a release per array per read). Used in place only, through its owner: a
/// copy kept past the next append could dangle.
struct OwnedBuffer<Element: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Element>?
    private(set) var count = 0
    private(set) var capacity = 0

    var elements: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

    mutating func removeAll() { count = 0 }

    mutating func append(contentsOf elements: UnsafeBufferPointer<Element>) {
        guard let source = elements.baseAddress, !elements.isEmpty else { return }
        reserve(count + elements.count)
        guard let base else { return }
        (base + count).initialize(from: source, count: elements.count)
        count += elements.count
    }

    mutating func append(_ element: Element) {
        reserve(count + 1)
        guard let base else { return }
        (base + count).initialize(to: element)
        count += 1
    }

    private mutating func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let grown = max(needed, capacity * 2, 64)
        let fresh = UnsafeMutablePointer<Element>.allocate(capacity: grown)
        if let base {
            fresh.initialize(from: base, count: count)
            base.deallocate()
        }
        base = fresh
        capacity = grown
    }

    /// Frees the memory; the buffer is empty afterwards.
    mutating func free() {
        base?.deallocate()
        base = nil
        count = 0
        capacity = 0
    }
}

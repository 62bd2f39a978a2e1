#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

/// The fields tracks embed from one table (the albums or the artists), in the form the tracks are
/// built in: per row, its fields' JSON values back to back, or a raw BSON document whose element k
/// is field k (`RowWork.buildsWithLibbson`). Rows live in a few large buffers: a class and a
/// buffer per row cost two allocations to make and two frees to drop (2 % of a one-worker run
/// went to freeing them at its end). The JSON text goes into chunks of at least 1 MiB that never
/// move, a row's text within one chunk: a buffer that doubled copied the text again and again and
/// touched twice its pages.
///
/// Appended to by one thread (a worker for its batch, the admitting thread for the table), then
/// only read, by every worker: `LookupIndex` hands out views into the buffers. Its state is only
/// touched by that one thread at a time, so the per-access exclusivity checks are off.
final class LookupStore: @unchecked Sendable {  // see above: written by one thread, then read-only
    struct Row {
        var id: Int64
        /// Its fields' JSON text, in one of the chunks.
        var json: UnsafePointer<UInt8>?
        /// Where its fields' ends start in `ends`, and how many fields it has.
        var endsStart: Int
        var fieldCount: Int
        var bsonStart: Int
        var bsonCount: Int
    }

    /// Per row and field, where the field's JSON ends, from the row's `json`.
    @exclusivity(unchecked) private(set) var ends = OwnedBuffer<Int>()
    @exclusivity(unchecked) private(set) var bson = OwnedBuffer<UInt8>()
    @exclusivity(unchecked) private(set) var rows = OwnedBuffer<Row>()
    /// The JSON chunks and their sizes; `chunk` is the one being filled, `used` bytes of it so far.
    @exclusivity(unchecked) private var chunks: [(base: UnsafeMutablePointer<UInt8>, capacity: Int)] = []
    @exclusivity(unchecked) private var chunk = -1
    @exclusivity(unchecked) private var used = 0
    /// The row being added (`beginRow` … `endRow`), and where its text starts in the chunk.
    @exclusivity(unchecked) private var open: Row?
    @exclusivity(unchecked) private var openStart = 0
    static let chunkSize = 2 << 20

    /// A chunk of at least `capacity` bytes. On Linux a 2 MiB-aligned block the kernel may back
    /// with huge pages (MADV_HUGEPAGE): the albums' and artists' text is tens of MB of fresh
    /// memory, and faulting it in 4 KiB pages cost ~5 % of their pass (perf: memmove into new
    /// chunks, in exc_page_fault). Where that fails, plain memory.
    private static func allocateChunk(_ capacity: Int) -> UnsafeMutablePointer<UInt8> {
        #if os(Linux)
        let hugePage = 2 << 20
        if capacity % hugePage == 0 {
            var memory: UnsafeMutableRawPointer?
            if posix_memalign(&memory, hugePage, capacity) == 0, let memory {
                _ = madvise(memory, capacity, MADV_HUGEPAGE)  // a hint: failure changes nothing
                return memory.bindMemory(to: UInt8.self, capacity: capacity)
            }
        }
        #endif
        guard let memory = malloc(capacity) else { fatalError("out of memory for \(capacity) bytes of lookup rows") }
        return memory.bindMemory(to: UInt8.self, capacity: capacity)
    }

    var count: Int { rows.count }

    deinit {
        ends.free()
        bson.free()
        rows.free()
        for chunk in chunks { free(chunk.base) }  // posix_memalign's or malloc's
    }

    /// Forgets every row; keeps the memory for the next ones (a batch's store).
    func removeAll() {
        ends.removeAll()
        bson.removeAll()
        rows.removeAll()
        chunk = chunks.isEmpty ? -1 : 0
        used = 0
        open = nil
    }

    /// Starts a row; its fields follow (`appendField`), then `endRow`.
    func beginRow(id: Int64) {
        open = Row(id: id, json: nil, endsStart: ends.count, fieldCount: 0, bsonStart: bson.count, bsonCount: 0)
        openStart = used
    }

    /// The next field's JSON value.
    func appendField(json value: UnsafeBufferPointer<UInt8>) {
        guard open != nil else { preconditionFailure("a field appended outside a row") }
        let target = reserve(value.count)
        if let source = value.baseAddress { target.initialize(from: source, count: value.count) }
        used += value.count
        ends.append(used - openStart)
        open?.fieldCount += 1
    }

    /// Room for `count` more bytes of the open row, in one chunk with the rest of its text.
    private func reserve(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        if chunk >= 0 && used + count <= chunks[chunk].capacity { return chunks[chunk].base + used }
        // The row moves to the next chunk (kept from before, or new), with what it has so far.
        let rowBytes = used - openStart
        let needed = rowBytes + count
        let previous = chunk >= 0 ? chunks[chunk].base + openStart : nil
        chunk += 1
        if chunk == chunks.count || chunks[chunk].capacity < needed {
            let capacity = max(Self.chunkSize, needed)
            chunks.insert((Self.allocateChunk(capacity), capacity), at: chunk)
        }
        if let previous, rowBytes > 0 { chunks[chunk].base.initialize(from: previous, count: rowBytes) }
        openStart = 0
        used = rowBytes
        return chunks[chunk].base + used
    }

    /// Ends the row, with its raw BSON document (empty for the JSON form); returns its index.
    @discardableResult
    func endRow(bson document: UnsafeBufferPointer<UInt8> = .init(start: nil, count: 0)) -> Int {
        guard var row = open else { preconditionFailure("endRow without beginRow") }
        row.json = chunk >= 0 ? UnsafePointer(chunks[chunk].base + openStart) : nil
        bson.append(contentsOf: document)
        row.bsonCount = document.count
        rows.append(row)
        open = nil
        return rows.count - 1
    }

    /// Copies row `index` of `other` (a batch's rows) to the end of this store.
    func append(row index: Int, of other: LookupStore) {
        let view = other.view(index)
        beginRow(id: other.rows.elements[index].id)
        let length = view.ends.last ?? 0
        if length > 0, let source = view.json {
            reserve(length).initialize(from: source, count: length)
            used += length
        }
        ends.append(contentsOf: view.ends)
        open?.fieldCount = view.ends.count
        endRow(bson: view.bson)
    }

    /// Row `index`, read through plain pointers (valid while nothing is appended).
    func view(_ index: Int) -> LookupRowView { frozen.view(index) }

    /// The store's rows as plain pointers (valid while nothing is appended).
    var frozen: FrozenRows {
        FrozenRows(rows: rows.elements.baseAddress, count: rows.count, ends: ends.elements.baseAddress, bson: bson.elements.baseAddress)
    }

    /// A store's rows in trivial values: reading them retains nothing.
    struct FrozenRows {
        var rows: UnsafePointer<Row>?
        var count = 0
        var ends: UnsafePointer<Int>?
        var bson: UnsafePointer<UInt8>?

        @inline(__always)
        func view(_ index: Int) -> LookupRowView {
            guard let rows, index >= 0, index < count else { preconditionFailure("no row \(index) in a store of \(count)") }
            let row = rows[index]
            return LookupRowView(json: row.json,
                                 ends: UnsafeBufferPointer(start: ends.map { $0 + row.endsStart }, count: row.fieldCount),
                                 bson: UnsafeBufferPointer(start: bson.map { $0 + row.bsonStart }, count: row.bsonCount))
        }
    }
}

/// One row of a `LookupStore`: trivial values pointing into the store, so reading a row retains
/// nothing (both workers read the same popular albums and artists; a shared reference count,
/// touched per read, bounced between their caches).
struct LookupRowView {
    let json: UnsafePointer<UInt8>?
    /// Where each field's JSON ends, from `json`.
    let ends: UnsafeBufferPointer<Int>
    /// A raw BSON document whose element k is field k (for `BSONBuilder`; empty for the JSON form).
    let bson: UnsafeBufferPointer<UInt8>

    /// Field `field`'s JSON text (nil: no such field).
    @inline(__always)
    func jsonValue(_ field: Int) -> UnsafeBufferPointer<UInt8>? {
        guard field >= 0, field < ends.count, let json else { return nil }
        let start = field == 0 ? 0 : ends[field - 1]
        return UnsafeBufferPointer(start: json + start, count: ends[field] - start)
    }
}

/// A lookup table's rows by id for the worker threads, without reference counting or hashing
/// per track: a dense buffer when the ids allow (FMA ids are small and mostly used), else a
/// dictionary. Keeps its store alive; the store must not change afterwards.
final class LookupIndex: @unchecked Sendable {  // immutable after init; `deinit` frees `dense`
    let store: LookupStore
    /// The store's rows, for reading without retains.
    let rows: LookupStore.FrozenRows
    /// Per id, its row + 1 (0: none), when the ids are small enough (else empty). Manually
    /// allocated, so a worker reads it through `RowBuilder.ResolvedLookups` without retaining anything.
    let dense: UnsafeMutableBufferPointer<Int32>
    private let sparse: [Int64: Int32]

    init(_ store: LookupStore) {
        self.store = store
        self.rows = store.frozen
        let entries = store.rows.elements
        precondition(entries.count < Int(Int32.max), "a lookup table of \(entries.count) rows")
        let largest = entries.map(\.id).max() ?? -1
        let smallest = entries.map(\.id).min() ?? 0
        if smallest >= 0 && largest < Int64(entries.count) * 8 + 65_536 {
            dense = .allocate(capacity: Int(largest) + 1)
            dense.initialize(repeating: 0)
            for (index, row) in entries.enumerated() { dense[Int(row.id)] = Int32(index + 1) }
            sparse = [:]
        } else {
            dense = .allocate(capacity: 0)
            var sparse: [Int64: Int32] = [:]
            for (index, row) in entries.enumerated() { sparse[row.id] = Int32(index + 1) }
            self.sparse = sparse
        }
    }

    deinit { dense.deallocate() }

    subscript(id: Int64) -> LookupRowView? {
        let slot = id >= 0 && id < Int64(dense.count) ? dense[Int(id)] : (dense.isEmpty ? sparse[id] ?? 0 : 0)
        return slot == 0 ? nil : rows.view(Int(slot) - 1)
    }
}

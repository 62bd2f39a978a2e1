import DocumentStore
import Foundation
import Tabular

/// One value of a row, before it is built into BSON. Text stays in the record (`text`) until it is appended, so
/// a row allocates no `String` for its text fields. A trivial value (`RowSlots` keeps the values
/// that hold references): writing and reading slots retains and releases nothing, where a slot
/// holding a `FieldValue` cost an outlined copy or destroy per access (~2 % of a profile).
enum Slot {
    /// The file has no column for this property.
    case missing
    case null
    case int(Int64)
    /// Any other value: `RowSlots.values[index]`.
    case value(Int)
    /// A list of integers (a track's genres): `RowSlots.integers[range]`, so that a row's lists
    /// allocate nothing.
    case integers(Range<Int>)
    /// A UTC date-time, milliseconds since the Unix epoch.
    case dateTime(Int64)
    /// A double or a duration in seconds.
    case double(Double)
    /// The record's field at this index, appended as a BSON string (invalid UTF-8 repaired).
    case text(Int)
    /// The record's field at this index, a `PlainLiteral` cell (a list): appended as it is walked,
    /// as the literal parser would read it, without building the values.
    case plainLiteral(Int)
    /// A `PlainLiteral` cell already printed as JSON while it was checked: these bytes of the
    /// row's printed literals (`coerce`'s `literals` writer); `repaired`: invalid UTF-8 replaced.
    case printedLiteral(Range<Int>, repaired: Bool)

    var isAbsent: Bool {
        switch self {
        case .missing, .null: true
        default: false
        }
    }
}

/// One row's coerced values: a `Slot` per plan leaf, the values other than integers that slots
/// hold (`Slot.value`) and the integers of its integer lists (`Slot.integers`), emptied by
/// `RowBuilder.coerce` at the start of each row.
struct RowSlots {
    var slots: [Slot]
    var values: [FieldValue] = []
    var integers: [Int64] = []
    /// Values of optional fields that failed to parse or check and were nulled (`x-on-invalid`).
    var repairs: [ValueRepair] = []

    init(leaves: Int) {
        slots = Array(repeating: .missing, count: leaves)
    }

    var count: Int { slots.count }

    subscript(leaf: Int) -> Slot {
        get { slots[leaf] }
        set { slots[leaf] = newValue }
    }

    /// The value leaf `leaf` holds (`.int`, `.value` or `.integers`); nil for any other slot.
    func value(_ leaf: Int) -> FieldValue? {
        switch slots[leaf] {
        case .int(let number): .int(number)
        case .value(let index): values[index]
        case .integers(let range): .list(integers[range].map { .int($0) })
        case .dateTime(let milliseconds): .dateTime(millisecondsSinceEpoch: milliseconds)
        case .double(let number): .double(number)
        default: nil
        }
    }

    /// Leaf `leaf` set to `value`.
    mutating func set(_ leaf: Int, _ value: FieldValue) {
        slots[leaf] = Self.slot(for: value, in: &values)
    }

    /// The slot of `value`, kept in `values` unless it is an integer.
    static func slot(for value: FieldValue, in values: inout [FieldValue]) -> Slot {
        if case .int(let number) = value { return .int(number) }
        values.append(value)
        return .value(values.count - 1)
    }
}

/// A value nulled because it failed to parse or check: the leaf, the record's column and why.
struct ValueRepair: Sendable {
    var leaf: Int
    var column: Int
    var reason: String
}

/// Coerces, validates and builds the rows of one file against its bound plan. Immutable, so the
/// worker threads of `TableExtraction` share one.
struct RowBuilder: Sendable {
    let plan: ExtractPlan
    let header: [String]
    let hot: [HotLeaf]
    let shape: Shape

    init(plan: ExtractPlan, header: [String]) {
        self.plan = plan
        self.header = header
        hot = Self.hotLeaves(plan)
        shape = Shape(plan)
    }

    /// The document's layout in trivial values, so that building a row retains nothing (shared
    /// reference counts are contended by the worker threads): keys are unmanaged references to
    /// the plan's `BSONKey`s, which `plan` keeps alive as long as this value.
    struct Shape: @unchecked Sendable {  // Unmanaged keys of the immutable plan held beside it
        enum Step { case leaf(Int), object(Int) }
        struct Object {
            var key: Unmanaged<BSONKey>
            var children: Range<Int>
            /// The child holding the id of the `x-lookup` entity that completes the object.
            var lookupIDLeaf: Int?
        }
        var steps: [Step] = []
        var objects: [Object] = []
        /// The plan's `ExtractPlan.Object` of each object, for messages.
        var objectNodes: [ExtractPlan.Object] = []
        var leafKeys: [Unmanaged<BSONKey>]
        var extras: [(column: Int, key: Unmanaged<BSONKey>)]
        var extraKey: Unmanaged<BSONKey>
        /// Per leaf, the object it is a child of (-1: a top-level leaf).
        var objectOfLeaf: [Int]

        init(_ plan: ExtractPlan) {
            leafKeys = plan.leaves.map { Unmanaged.passUnretained($0.key) }
            objectOfLeaf = Array(repeating: -1, count: plan.leaves.count)
            extras = plan.extras.map { ($0.index, Unmanaged.passUnretained($0.key)) }
            extraKey = Unmanaged.passUnretained(plan.extraKey)
            for node in plan.nodes {
                switch node {
                case .leaf(let index):
                    steps.append(.leaf(index))
                case .object(let object):
                    for child in object.children { objectOfLeaf[child] = objects.count }
                    steps.append(.object(objects.count))
                    objects.append(Object(key: Unmanaged.passUnretained(object.key), children: object.children,
                                          lookupIDLeaf: object.lookup == nil ? nil
                                              : object.children.first { plan.leaves[$0].lookupField == "_id" }))
                    objectNodes.append(object)
                }
            }
        }
    }

    /// The lookup tables that complete each object of `shape` (nil: none), found once per file
    /// instead of by entity name per row.
    struct ResolvedLookups: Sendable {
        /// Per object of `shape`, its table's rows (in their lookup file) and the table's CSV (for warnings).
        var files: [LookupFile?] = []
        var sources: [String] = []
        /// Per object, the table's fragment position of each plan leaf (-1: none), flat:
        /// object k's positions start at k × the number of leaves.
        var fields: [Int] = []

        /// The row of `id` in object `object`'s table; nil: unknown id. The object must have one.
        func row(_ object: Int, id: Int64) throws(BSONBuilderError) -> LookupRow? {
            try files[object]?.row(id)
        }
    }

    func resolve(_ lookups: LookupTables?) -> ResolvedLookups {
        guard let lookups else { return ResolvedLookups() }
        var resolved = ResolvedLookups()
        for object in shape.objectNodes {
            let table = object.lookup.flatMap { lookups.tables[$0] }
            resolved.files.append(table?.rows)
            resolved.sources.append(table?.source ?? "")
            resolved.fields.append(contentsOf: plan.leaves.indices.map { table?.fieldIndex[$0] ?? -1 })
        }
        return resolved
    }

    /// The row's id when it can be read (for `--only`), without coercing the rest.
    func id(of record: CSVRecord) -> Int64? {
        try? CellParsers.integer(utf8: fieldBytes(record, plan.leaves[plan.idLeaf].columnIndex ?? 0))
    }

    /// What the row loop needs of each leaf, without reference-counted fields (copying a full
    /// `Leaf` per cell cost more than parsing the cell).
    struct HotLeaf: Sendable {
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
        var nullsInvalid: Bool
    }

    static func hotLeaves(_ plan: ExtractPlan) -> [HotLeaf] {
        plan.leaves.map { leaf in
            HotLeaf(column: leaf.columnIndex ?? -1, cellType: leaf.cellType,
                    hasChecks: leaf.minimum != nil || leaf.maximum != nil || leaf.allowed != nil || leaf.expectsArray || leaf.expectsObject,
                    hasItemKey: leaf.itemKey != nil, hasEmptyValue: leaf.emptyValue != nil, isRequired: leaf.isRequired,
                    minimum: leaf.minimum, maximum: leaf.maximum, expectsArray: leaf.expectsArray, expectsObject: leaf.expectsObject,
                    nullsInvalid: leaf.nullsInvalid)
        }
    }

    struct Reject: Error, Sendable {
        var reason: String
        var column: String
    }

    private func fieldBytes(_ record: CSVRecord, _ index: Int) -> UnsafeBufferPointer<UInt8> {
        guard index < record.count else { return UnsafeBufferPointer(start: nil, count: 0) }
        let range = record.byteRange(index)
        return record.bytes.withUnsafeBufferPointer { UnsafeBufferPointer(rebasing: $0[range]) }
    }

    /// Checks the record's shape and coerces every bound column; returns the row's id. The
    /// children of the objects in `skippingObjects` (bit k: object k) are not coerced (`.missing`):
    /// `build` takes those objects from `ObjectReuse`. With `literals` (rows written as JSON), a
    /// `PlainLiteral` cell is printed there as it is checked (`Slot.printedLiteral`), so that it is
    /// walked once rather than checked by one walk and written by another; `literals` is emptied
    /// first, and `build` must get its bytes.
    func coerce(_ record: CSVRecord, into row: inout RowSlots, skippingObjects: UInt64 = 0,
                literals: RelaxedJSONWriter? = nil) -> Result<Int64, Reject> {
        if record.count != header.count {
            return .failure(Reject(reason: "\(record.count) fields where the header has \(header.count)", column: ""))
        }
        if let problem = record.problem {
            return .failure(Reject(reason: problem, column: header[record.problemColumn - 1]))
        }
        literals?.removeAll()
        // The values apart while the slots are written through a pointer (one access each).
        var values: [FieldValue] = [], integers: [Int64] = [], repairs: [ValueRepair] = []
        swap(&values, &row.values)
        swap(&integers, &row.integers)
        swap(&repairs, &row.repairs)
        values.removeAll(keepingCapacity: true)
        integers.removeAll(keepingCapacity: true)
        repairs.removeAll(keepingCapacity: true)
        defer {
            swap(&values, &row.values)
            swap(&integers, &row.integers)
            swap(&repairs, &row.repairs)
        }
        return record.bytes.withUnsafeBufferPointer { buffer -> Result<Int64, Reject> in
            if record.mayHoldNUL, let base = buffer.baseAddress, let nul = memchr(base, 0, buffer.count) {
                let offset = UnsafeRawPointer(nul) - UnsafeRawPointer(base)
                let column = (0..<record.count).first { record.byteRange($0).contains(offset) } ?? 0
                return .failure(Reject(reason: "NUL byte in column \(header[column]) (a sign of a corrupted copy)",
                                       column: header[column]))
            }
            // One exclusive access to the slots for the whole row, not a uniqueness check per cell.
            let failure = row.slots.withUnsafeMutableBufferPointer { slotBuffer -> Reject? in
                hot.withUnsafeBufferPointer { hotLeaves -> Reject? in
                    guard let hotBase = hotLeaves.baseAddress else { return nil }  // no leaves
                    // A skipped object's children (a range of leaves) are passed over at once.
                    var skipUntil = 0
                    for index in hotLeaves.indices {
                        if index < skipUntil { continue }
                        // The leaf's fields read where they are: copying the whole `HotLeaf` per cell
                        // cost more than the rest of the loop (overlapping stores, then loads).
                        if skippingObjects != 0 {
                            let object = shape.objectOfLeaf[index]
                            if object >= 0 && object < 64 && skippingObjects & (1 << UInt64(object)) != 0 {
                                // Marked missing: an index into the last row's values would be stale.
                                let children = shape.objects[object].children
                                for child in children { slotBuffer[child] = .missing }
                                skipUntil = children.upperBound
                                continue
                            }
                        }
                        let leafInfo = hotBase + index
                        let column = leafInfo.pointee.column
                        guard column >= 0, let cellType = leafInfo.pointee.cellType else {
                            slotBuffer[index] = .missing
                            continue
                        }
                        let cell = UnsafeBufferPointer(rebasing: buffer[record.byteRange(column)])
                        if Self.isBlank(cell, text: cellType == .string) {
                            // Blank cells are common: read the leaf's fields only when needed (a copy of
                            // the whole `Leaf` retains and releases each of its references).
                            if leafInfo.pointee.hasEmptyValue, let fallback = plan.leaves[index].emptyValue {
                                slotBuffer[index] = RowSlots.slot(for: fallback, in: &values)
                            } else if leafInfo.pointee.isRequired {
                                return Reject(reason: "required field \(plan.leaves[index].path) is empty", column: header[column])
                            } else {
                                slotBuffer[index] = .null
                            }
                            continue
                        }
                        if cellType == .string {
                            // Read in place: binding the set to a local retained it per cell, a count
                            // both workers share.
                            if leafInfo.pointee.hasChecks, let allowed = plan.leaves[index].allowed {
                                // Spaces around a listed value are a hand edit, not another value.
                                let text = String(decoding: cell, as: UTF8.self)
                                let trimmed = String(text.trimmingSpaces)
                                if allowed.contains(trimmed) {
                                    slotBuffer[index] = trimmed == text ? .text(column) : RowSlots.slot(for: .string(trimmed), in: &values)
                                    continue
                                }
                                let reason = "'\(text.excerpt)' is not one of \(allowed.sorted().joined(separator: ", "))"
                                guard leafInfo.pointee.nullsInvalid else { return Reject(reason: reason, column: header[column]) }
                                slotBuffer[index] = .null
                                repairs.append(ValueRepair(leaf: index, column: column, reason: reason))
                                continue
                            }
                            slotBuffer[index] = .text(column)
                            continue
                        }
                        if cellType == .pythonLiteral && !leafInfo.pointee.expectsObject {
                            // A list passes every other check (no range applies to it).
                            if let literals {
                                let start = literals.count
                                if let valid = Self.printPlainLiteral(cell, into: literals) {
                                    slotBuffer[index] = .printedLiteral(start..<literals.count, repaired: !valid)
                                    continue
                                }
                                literals.truncate(to: start)
                            } else if PlainLiteral.matches(cell) {
                                slotBuffer[index] = .plainLiteral(column)
                                continue
                            }
                        }
                        // Numbers and dates, most typed cells, straight into their slots when they pass
                        // every check (no result or value made); otherwise the general path below
                        // decides, with its messages.
                        // (Only python-literal leaves expect a list or a dictionary, and a range
                        // applies to numbers only: a date passes every check.)
                        if cellType == .int, let number = try? CellParsers.integer(utf8: cell),
                           !leafInfo.pointee.hasChecks || Self.inRange(Double(number), leafInfo) {
                            slotBuffer[index] = .int(number)
                            continue
                        }
                        if cellType == .double || cellType == .duration,
                           let number = try? (cellType == .double ? CellParsers.double(utf8: cell) : CellParsers.durationSeconds(utf8: cell)),
                           !leafInfo.pointee.hasChecks || Self.inRange(number, leafInfo) {
                            slotBuffer[index] = .double(number)
                            continue
                        }
                        if cellType == .dateTime, let milliseconds = try? CellParsers.dateTimeMilliseconds(utf8: cell) {
                            slotBuffer[index] = .dateTime(milliseconds)
                            continue
                        }
                        let itemKey = leafInfo.pointee.hasItemKey ? plan.leaves[index].itemKey : nil
                        if cellType == .intList && !leafInfo.pointee.expectsObject {
                            // A list passes every other check; its integers go to the row's store.
                            let start = integers.count
                            if CellType.plainIntegers(cell, itemKey: itemKey, into: &integers) {
                                slotBuffer[index] = .integers(start..<integers.count)
                                continue
                            }
                        }
                        let problem: String
                        switch cellType.coerce(utf8: cell, itemKey: itemKey) {
                        case .failure(let failure):
                            problem = failure.reason
                        case .success(let value):
                            guard leafInfo.pointee.hasChecks,
                                  let failedCheck = Self.check(value, against: leafInfo.pointee, column: column, of: header) else {
                                slotBuffer[index] = RowSlots.slot(for: value, in: &values)
                                continue
                            }
                            problem = failedCheck
                        }
                        // An optional field's bad value costs the value, not the row (`x-on-invalid`).
                        guard leafInfo.pointee.nullsInvalid else { return Reject(reason: problem, column: header[column]) }
                        slotBuffer[index] = .null
                        repairs.append(ValueRepair(leaf: index, column: column, reason: problem))
                    }
                    return nil
                }
            }
            if let failure { return .failure(failure) }
            guard case .int(let id) = row.slots[plan.idLeaf] else {
                return .failure(Reject(reason: "no id", column: plan.leaves[plan.idLeaf].columnName ?? ""))
            }
            return .success(id)
        }
    }

    /// Empty, or (for typed cells) only spaces and tabs or a missing-value marker as spreadsheets
    /// and pandas write them: `NaN`, `null`, `N/A`, `NA`, `None` (any case, spaces around).
    /// Text is kept as written: a title may well be "None".
    static func isBlank(_ cell: UnsafeBufferPointer<UInt8>, text: Bool) -> Bool {
        if cell.isEmpty { return true }
        if text { return false }
        var start = 0, end = cell.count
        while start < end && (cell[start] == 0x20 || cell[start] == 0x09) { start += 1 }
        while end > start && (cell[end - 1] == 0x20 || cell[end - 1] == 0x09) { end -= 1 }
        guard end - start <= 4 else { return false }
        if start == end { return true }
        let word = cell[start..<end].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }  // ASCII lower case
        return Self.missingValueMarkers.contains { $0.elementsEqual(word) }
    }

    private static let missingValueMarkers: [[UInt8]] = ["nan", "null", "n/a", "na", "none"].map { Array($0.utf8) }

    /// Whether a number is within the leaf's range, as `check` requires.
    @inline(__always)
    private static func inRange(_ number: Double, _ leaf: UnsafePointer<HotLeaf>) -> Bool {
        if let minimum = leaf.pointee.minimum, number < minimum { return false }
        if let maximum = leaf.pointee.maximum, number > maximum { return false }
        return true
    }

    /// The column's name is only read for a message: passing the name retained it per checked cell
    /// (and an autoclosure reading it copied the whole builder), on counts both workers share.
    private static func check(_ value: FieldValue, against leaf: HotLeaf, column: Int, of header: [String]) -> String? {
        let number: Double? = switch value {
        case .int(let v): Double(v)
        case .double(let v): v
        default: nil
        }
        if let number {
            if let minimum = leaf.minimum, number < minimum {
                return "\(header[column]) must be ≥ \(minimum.compact), got \(value.compact)"
            }
            if let maximum = leaf.maximum, number > maximum {
                return "\(header[column]) must be ≤ \(maximum.compact), got \(value.compact)"
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
    /// Appends a row's fields to `builder`, the document begun by the caller (schema properties in
    /// order, then the unknown columns; `lookups` complete objects that name an `x-lookup`
    /// entity); returns false when invalid UTF-8 had to be replaced. Unknown references add to
    /// `warnings`. `BSONBuilder` throws where libbson refuses a field (a key with a NUL byte, the
    /// size limit); the JSON writer records the same refusal in `refusal` instead.
    /// With `leafSpans`, each top-level leaf's value is located in the writer's text as it is
    /// written (`RowDocumentWriter.lastValueSpan`), for `fragments(_:id:spans:line:into:)`.
    /// With `reuse` (JSON writers only), the objects it matched are copied from it, and the
    /// others built and kept in it.
    func build<Writer: RowDocumentWriter>(_ record: CSVRecord, slots: RowSlots, lookups: ResolvedLookups, trackID: Int64,
                                          into builder: Writer, warnings: inout [String],
                                          leafSpans: UnsafeMutableBufferPointer<Range<Int>>? = nil,
                                          reuse: ObjectReuse? = nil,
                                          literals: UnsafeBufferPointer<UInt8> = .init(start: nil, count: 0)) throws(BSONBuilderError) -> Bool {
        var valid = true
        try record.bytes.withUnsafeBufferPointer { (buffer) throws(BSONBuilderError) in
            for step in shape.steps {
                switch step {
                case .leaf(let index):
                    if try !Self.append(slots[index], in: slots, key: shape.leafKeys[index], to: builder, buffer: buffer,
                                        record: record, literals: literals) {
                        valid = false
                    }
                    if let leafSpans, let span = builder.lastValueSpan { leafSpans[index] = span }
                    if repairedLiteral(index, slots: slots, buffer: buffer, record: record) { valid = false }
                case .object(let object):
                    // Optional chaining, not `if let`: a bound copy of `reuse` was retained and
                    // released per object.
                    if reuse?.isHit(object) == true, let reused = reuse?.reused(object) {
                        try borrowed(shape.objects[object].key) { (key) throws(BSONBuilderError) in
                            try builder.append(key, printedValue: reused.json)
                        }
                        if !reused.valid { valid = false }
                        if let id = reused.unknownID {
                            warnings.append(unknownReference(object, id: id, trackID: trackID, lookups: lookups))
                        }
                        continue
                    }
                    let warned = warnings.count
                    let objectValid = try appendObject(object, to: builder, slots: slots, buffer: buffer, record: record,
                                                       literals: literals, lookups: lookups, trackID: trackID, warnings: &warnings)
                    if !objectValid { valid = false }
                    // Not kept when libbson would refuse the row (a key with a NUL byte): a copy
                    // would not carry the refusal.
                    // Nor when a child's value was nulled: a reuse would not report the repair again.
                    if let reuse, let span = builder.lastValueSpan, let writer = builder as? RelaxedJSONWriter, writer.refusal == nil,
                       !slots.repairs.contains(where: { shape.objectOfLeaf[$0.leaf] == object }) {
                        var unknownID: Int64?
                        if warnings.count > warned, let idLeaf = shape.objects[object].lookupIDLeaf,
                           case .int(let id) = slots[idLeaf] {
                            unknownID = id
                        }
                        reuse.store(object, record: record, json: UnsafeBufferPointer(rebasing: writer.bytes[span]),
                                    valid: objectValid, unknownID: unknownID)
                    }
                }
            }
            // The columns no property claims, as text in `extra` (empty cells left out; no
            // `extra` when all are empty, as with a trailing comma on every line).
            if shape.extras.contains(where: { !record.byteRange($0.column).isEmpty }) {
                try borrowed(shape.extraKey) { (key) throws(BSONBuilderError) in try builder.beginDocument(key) }
                for extra in shape.extras {
                    let range = record.byteRange(extra.column)
                    if range.isEmpty { continue }
                    try borrowed(extra.key) { (key) throws(BSONBuilderError) in
                        if try !builder.append(key, repairingUTF8: UnsafeBufferPointer(rebasing: buffer[range])) { valid = false }
                    }
                }
                try builder.endDocument()
            }
        }
        return valid
    }

    /// Whether leaf `index` holds a Python literal parsed into values (`Slot.value`) with repaired
    /// text: its cell has invalid UTF-8 and the value a U+FFFD the parser put there (a list of ids
    /// taken from dictionaries keeps no text, so it is not flagged). Flags the row as text's
    /// repair does.
    @inline(__always)
    private func repairedLiteral(_ index: Int, slots: RowSlots, buffer: UnsafeBufferPointer<UInt8>, record: CSVRecord) -> Bool {
        guard hot[index].cellType == .pythonLiteral, case .value(let valueIndex) = slots[index],
              UnsafeBufferPointer(rebasing: buffer[record.byteRange(hot[index].column)]).firstInvalidUTF8Offset != nil else { return false }
        return slots.values[valueIndex].containsReplacementCharacter
    }

    /// Appends one slot; returns false when invalid UTF-8 had to be replaced.
    private static func append<Writer: RowDocumentWriter>(_ slot: Slot, in slots: RowSlots, key: Unmanaged<BSONKey>,
                                                          to builder: Writer, buffer: UnsafeBufferPointer<UInt8>, record: CSVRecord,
                                                          literals: UnsafeBufferPointer<UInt8>) throws(BSONBuilderError) -> Bool {
        try borrowed(key) { (key) throws(BSONBuilderError) -> Bool in
            switch slot {
            case .missing, .null: try builder.appendNull(key)
            case .int(let number): try builder.append(key, .int(number))
            case .dateTime(let milliseconds): try builder.append(key, dateTime: milliseconds)
            case .double(let number): try builder.append(key, double: number)
            case .value(let index): try builder.append(key, slots.values[index])
            case .integers(let range):
                try builder.beginArray(key)
                for index in range {
                    try withIndexKey(index - range.lowerBound) { (key) throws(BSONBuilderError) in
                        try builder.append(key, int64: slots.integers[index])
                    }
                }
                try builder.endArray()
            case .text(let column):
                return try builder.append(key, repairingUTF8: UnsafeBufferPointer(rebasing: buffer[record.byteRange(column)]))
            case .plainLiteral(let column):
                return try appendPlainLiteral(UnsafeBufferPointer(rebasing: buffer[record.byteRange(column)]), key: key, to: builder)
            case .printedLiteral(let range, let repaired):
                try builder.append(key, printedValue: UnsafeBufferPointer(rebasing: literals[range]))
                return !repaired
            }
            return true
        }
    }

    /// A `PlainLiteral` cell, walked into `builder`: list elements keyed by position, dictionary
    /// entries by their keys. Its strings and keys are decoded as the literal parser decodes them,
    /// invalid UTF-8 replaced by U+FFFD; returns false when that happened.
    private static func appendPlainLiteral<Writer: RowDocumentWriter>(_ cell: UnsafeBufferPointer<UInt8>, key: BSONKey,
                                                                      to builder: Writer) throws(BSONBuilderError) -> Bool {
        let valid = try walkPlainLiteral(cell, key: key, to: builder)
        precondition(valid != nil, "a plain-literal slot holds a cell of another shape")
        return valid ?? false
    }

    /// The cell printed as a JSON value into `literals` if it has the plain shape, the bytes libbson
    /// prints for the value `appendPlainLiteral` builds: whether its text was valid UTF-8, or nil
    /// (part of a value may have been written: the caller truncates). Printed in one pass by
    /// `PlainLiteral.printJSON` (C), else from the walk's events: not through the building API
    /// (a key found by its bytes for every dictionary entry, levels and separators kept per
    /// value), which cost twice the walk. No key can be one libbson refuses: plain strings hold
    /// no control byte, so no NUL.
    static func printPlainLiteral(_ cell: UnsafeBufferPointer<UInt8>, into literals: RelaxedJSONWriter) -> Bool? {
        if literals.appendJSONText(capacity: PlainLiteral.jsonCapacity(cell.count), { PlainLiteral.printJSON(cell, to: $0) }) {
            return true
        }
        return printPlainLiteralByEvents(cell, into: literals)
    }

    /// `printPlainLiteral` from the walk's events: the cells the one-pass printer leaves (another
    /// shape, or text to repair), and its reference in the tests.
    static func printPlainLiteralByEvents(_ cell: UnsafeBufferPointer<UInt8>, into literals: RelaxedJSONWriter) -> Bool? {
        var walker = PlainLiteral.Walker(cell)
        var valid = true
        // Whether the next key or value follows another at its level; a key's value never does.
        var follows = false
        while let event = walker.next() {
            switch event {
            case .beginList, .beginDictionary:
                if follows { literals.appendJSONText(", ") }
                if case .beginList = event { literals.appendJSONText("[ ") } else { literals.appendJSONText("{ ") }
                follows = false
            case .endList:
                literals.appendJSONText(" ]")  // "[  ]" when empty, as libbson prints it
                follows = true
            case .endDictionary:
                literals.appendJSONText(" }")
                follows = true
            case .key(let text):
                if follows { literals.appendJSONText(", ") }
                if !literals.appendString(repairingUTF8: text) { valid = false }
                literals.appendJSONText(" : ")
                follows = false
            case .string(let text):
                if follows { literals.appendJSONText(", ") }
                if !literals.appendString(repairingUTF8: text) { valid = false }
                follows = true
            case .null:
                if follows { literals.appendJSONText(", ") }
                literals.appendJSONText("null")
                follows = true
            }
        }
        return walker.finished ? valid : nil
    }

    /// The walk of `appendPlainLiteral`; nil where the cell turns out not to have the plain shape.
    private static func walkPlainLiteral<Writer: RowDocumentWriter>(_ cell: UnsafeBufferPointer<UInt8>, key: BSONKey,
                                                                    to builder: Writer) throws(BSONBuilderError) -> Bool? {
        var walker = PlainLiteral.Walker(cell)
        var state = PlainLiteralWalk()
        var valid = true
        while let event = walker.next() {
            switch event {
            case .string(let text):
                try state.withKey(key, builder) { (key) throws(BSONBuilderError) in
                    if try !builder.append(key, repairingUTF8: text) { valid = false }
                }
            case .null:
                try state.withKey(key, builder) { (key) throws(BSONBuilderError) in try builder.appendNull(key) }
            case .beginList:
                try state.withKey(key, builder) { (key) throws(BSONBuilderError) in try builder.beginArray(key) }
                state.open(list: true)
            case .beginDictionary:
                try state.withKey(key, builder) { (key) throws(BSONBuilderError) in try builder.beginDocument(key) }
                state.open(list: false)
            case .endList:
                state.depth -= 1
                try builder.endArray()
            case .endDictionary:
                state.depth -= 1
                try builder.endDocument()
            case .key(let text):
                if text.firstInvalidUTF8Offset != nil { valid = false }
                state.pendingKey = text
            }
        }
        return walker.finished ? valid : nil
    }

    /// Where a `PlainLiteral` walk is: per open container, whether it is a list and how many
    /// elements it has so far (lists are keyed by position), and a dictionary's pending key.
    private struct PlainLiteralWalk {
        var isList: UInt64 = 0
        var elements = (0, 0, 0, 0, 0, 0, 0, 0, 0)
        var depth = 0
        var pendingKey = UnsafeBufferPointer<UInt8>(start: nil, count: 0)

        /// The key of the next value: `top` outside any container.
        @inline(__always)
        mutating func withKey<Writer: RowDocumentWriter>(_ top: BSONKey, _ builder: Writer,
                                                         _ body: (BSONKey) throws(BSONBuilderError) -> Void) throws(BSONBuilderError) {
            if depth == 0 { return try body(top) }
            if isList & (1 << UInt64(depth - 1)) == 0 {
                return try body(builder.key(utf8: pendingKey))
            }
            let level = depth - 1
            let position = withUnsafeMutableBytes(of: &elements) { raw in
                let counts = raw.bindMemory(to: Int.self)
                defer { counts[level] += 1 }
                return counts[level]
            }
            try withIndexKey(position, body)
        }

        @inline(__always)
        mutating func open(list: Bool) {
            isList = list ? isList | (1 << UInt64(depth)) : isList & ~(1 << UInt64(depth))
            let level = depth
            withUnsafeMutableBytes(of: &elements) { $0.bindMemory(to: Int.self)[level] = 0 }
            depth += 1
        }
    }

    /// The warning for a track whose album or artist id is not in its table.
    private func unknownReference(_ objectIndex: Int, id: Int64, trackID: Int64, lookups: ResolvedLookups) -> String {
        let node = shape.objectNodes[objectIndex]
        let column = shape.objects[objectIndex].lookupIDLeaf.flatMap { plan.leaves[$0].columnName } ?? node.name + "_id"
        return "track \(trackID): unknown \(column) \(id) (no such \(node.lookup ?? "") in \(lookups.sources[objectIndex]));"
            + " reference kept"
    }

    private func appendObject<Writer: RowDocumentWriter>(_ objectIndex: Int, to builder: Writer, slots: RowSlots,
                              buffer: UnsafeBufferPointer<UInt8>, record: CSVRecord, literals: UnsafeBufferPointer<UInt8>,
                              lookups: ResolvedLookups,
                              trackID: Int64, warnings: inout [String]) throws(BSONBuilderError) -> Bool {
        let object = shape.objects[objectIndex]
        var fragments: LookupRow?
        if objectIndex < lookups.files.count, lookups.files[objectIndex] != nil,
           let idLeaf = object.lookupIDLeaf, case .int(let id) = slots[idLeaf] {
            fragments = try lookups.row(objectIndex, id: id)
            if fragments == nil {
                warnings.append(unknownReference(objectIndex, id: id, trackID: trackID, lookups: lookups))
            }
        }
        if fragments == nil && object.children.allSatisfy({ slots[$0].isAbsent }) {
            try borrowed(object.key) { (key) throws(BSONBuilderError) in try builder.appendNull(key) }
            return true
        }
        var valid = true
        try borrowed(object.key) { (key) throws(BSONBuilderError) in try builder.beginDocument(key) }
        let fieldsBase = objectIndex * plan.leaves.count
        for index in object.children {
            if slots[index].isAbsent, let fragments {
                let field = lookups.fields[fieldsBase + index]
                if field >= 0, try borrowed(shape.leafKeys[index], { (key) throws(BSONBuilderError) -> Bool in
                    try builder.append(key, field: field, of: fragments)
                }) {
                    continue
                }
            }
            if try !Self.append(slots[index], in: slots, key: shape.leafKeys[index], to: builder, buffer: buffer,
                                record: record, literals: literals) { valid = false }
            if repairedLiteral(index, slots: slots, buffer: buffer, record: record) { valid = false }
        }
        try builder.endDocument()
        return valid
    }

    /// The values of `leaves`, for the lookup tables, added to `store` as row `id`; returns its
    /// index there. A track copies them into its embedded object. Built with libbson when
    /// `builder` is given (a raw document, element k = `leaves[k]`; null when the row has no value)
    /// and as JSON text when `text` is: each in the form the tracks will be built in.
    /// `fragments(_:id:spans:line:into:)` copies the same JSON text out of the row's own line
    /// instead, where it can.
    func fragments(_ leaves: [Int], id: Int64, slots: RowSlots, record: CSVRecord, builder: BSONBuilder?,
                   text: RelaxedJSONWriter?, into store: LookupStore,
                   literals: UnsafeBufferPointer<UInt8> = .init(start: nil, count: 0)) throws(BSONBuilderError) -> Int {
        builder?.reset()
        store.beginRow(id: id)
        try record.bytes.withUnsafeBufferPointer { (buffer) throws(BSONBuilderError) in
            for (position, leaf) in leaves.enumerated() {
                let key = BSONKey.unretainedIndex(position)
                try withExtendedLifetime(key) { () throws(BSONBuilderError) in
                    if let builder {
                        _ = try Self.append(slots[leaf], in: slots, key: key.unmanaged, to: builder, buffer: buffer,
                                            record: record, literals: literals)
                    }
                    guard let text else { return }
                    let value = text.captureValue { text in
                        do {
                            _ = try Self.append(slots[leaf], in: slots, key: key.unmanaged, to: text, buffer: buffer,
                                                record: record, literals: literals)
                        } catch {
                            preconditionFailure("the JSON writer throws nothing: \(error)")
                        }
                    }
                    store.appendField(json: value)
                }
            }
        }
        let document = try builder?.rawBytes() ?? []
        return document.withUnsafeBufferPointer { store.endRow(bson: $0) }
    }

    /// The JSON form of `fragments(_:id:slots:record:builder:text:into:literals:)`, copied from the
    /// row's line, where `build` located each leaf's value (`spans`): the line already holds every
    /// value as the tracks embed it, and writing each a second time (escaping a whole artist bio
    /// again) was a tenth of the album and artist files' time. Nil (nothing added) when a leaf
    /// has no span.
    func fragments(_ leaves: [Int], id: Int64, spans: UnsafeMutableBufferPointer<Range<Int>>, line: UnsafeBufferPointer<UInt8>,
                   into store: LookupStore) -> Int? {
        for leaf in leaves {
            let span = spans[leaf]
            guard span.lowerBound >= 0, span.upperBound <= line.count else { return nil }
        }
        store.beginRow(id: id)
        for leaf in leaves { store.appendField(json: UnsafeBufferPointer(rebasing: line[spans[leaf]])) }
        return store.endRow()
    }
}

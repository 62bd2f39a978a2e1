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
    /// The record's field at this index, appended as a BSON string (invalid UTF-8 repaired).
    case text(Int)

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

/// A row's `_id` as extraction compares, quarantines and reports it: an integer (FMA's ids) or
/// text (MSSD's track ids and composed play ids).
enum RowID: Hashable, Sendable, CustomStringConvertible {
    case integer(Int64)
    case text(String)

    var description: String {
        switch self {
        case .integer(let value): String(value)
        case .text(let value): value
        }
    }

    var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
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

    /// The document's layout: its steps (leaves and objects) in order, with their keys.
    struct Shape: Sendable {
        enum Step { case leaf(Int), object(Int) }
        struct Object {
            var key: BSONKey
            var children: Range<Int>
            /// The child holding the id of the `x-lookup` entity that completes the object.
            var lookupIDLeaf: Int?
        }
        var steps: [Step] = []
        var objects: [Object] = []
        /// The plan's `ExtractPlan.Object` of each object, for messages.
        var objectNodes: [ExtractPlan.Object] = []
        var leafKeys: [BSONKey]
        var extras: [(column: Int, key: BSONKey)]
        var extraKey: BSONKey
        /// Per leaf, the object it is a child of (-1: a top-level leaf).
        var objectOfLeaf: [Int]

        init(_ plan: ExtractPlan) {
            leafKeys = plan.leaves.map(\.key)
            objectOfLeaf = Array(repeating: -1, count: plan.leaves.count)
            extras = plan.extras.map { ($0.index, $0.key) }
            extraKey = plan.extraKey
            for node in plan.nodes {
                switch node {
                case .leaf(let index):
                    steps.append(.leaf(index))
                case .object(let object):
                    for child in object.children { objectOfLeaf[child] = objects.count }
                    steps.append(.object(objects.count))
                    objects.append(Object(key: object.key, children: object.children,
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

        /// The row of `id` in object `object`'s table; nil: unknown id.
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

    /// Checks the record's shape and coerces every bound column; returns the row's id.
    func coerce(_ record: CSVRecord, into row: inout RowSlots) -> Result<RowID, Reject> {
        if record.count != header.count {
            return .failure(Reject(reason: "\(record.count) fields where the header has \(header.count)", column: ""))
        }
        if let problem = record.problem {
            return .failure(Reject(reason: problem, column: header[record.problemColumn - 1]))
        }
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
        return record.bytes.withUnsafeBufferPointer { buffer -> Result<RowID, Reject> in
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
                    for index in hotLeaves.indices {
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
                        let itemKey = leafInfo.pointee.hasItemKey ? plan.leaves[index].itemKey : nil
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
            if let composition = plan.idComposition {
                switch composedID(composition, slots: row.slots, values: values, buffer: buffer, record: record) {
                case .failure(let reject): return .failure(reject)
                case .success(let id): row.slots[plan.idLeaf] = RowSlots.slot(for: .string(id), in: &values)
                }
            }
            switch row.slots[plan.idLeaf] {
            case .int(let id):
                return .success(.integer(id))
            case .text(let column):
                return .success(.text(String(decoding: buffer[record.byteRange(column)], as: UTF8.self)))
            case .value(let index):
                if case .string(let id) = values[index] { return .success(.text(id)) }
            default:
                break
            }
            return .failure(Reject(reason: "no id", column: plan.idColumnDescription))
        }
    }

    /// The id `x-compose` makes of a row's coerced values: each part as text (an integer as its
    /// digits), joined by the separator. A part without a value rejects the row.
    private func composedID(_ composition: ExtractPlan.Composition, slots: [Slot], values: [FieldValue],
                            buffer: UnsafeBufferPointer<UInt8>, record: CSVRecord) -> Result<String, Reject> {
        var parts: [String] = []
        for leaf in composition.leaves {
            switch slots[leaf] {
            case .int(let value):
                parts.append(String(value))
            case .text(let column):
                parts.append(String(decoding: buffer[record.byteRange(column)], as: UTF8.self))
            case .value(let index):
                switch values[index] {
                case .string(let text): parts.append(text)
                case let value: parts.append(value.compact)
                }
            case .missing, .null, .integers:
                return .failure(Reject(reason: "the id needs \(plan.leaves[leaf].path), which is empty",
                                       column: plan.leaves[leaf].columnName ?? plan.leaves[leaf].path))
            }
        }
        return .success(parts.joined(separator: composition.separator))
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
    /// `warnings`. Throws where libbson refuses a field (a key with a NUL byte, the size limit).
    func build(_ record: CSVRecord, slots: RowSlots, lookups: ResolvedLookups, rowID: RowID,
               into builder: BSONBuilder, warnings: inout [String]) throws(BSONBuilderError) -> Bool {
        var valid = true
        if record.strayQuoteColumn > 0 {
            warnings.append("line \(record.line), id \(rowID): a quote inside the unquoted field \(header[record.strayQuoteColumn - 1]), kept as text")
        }
        try record.bytes.withUnsafeBufferPointer { (buffer) throws(BSONBuilderError) in
            for step in shape.steps {
                switch step {
                case .leaf(let index):
                    if try !Self.append(slots[index], in: slots, key: shape.leafKeys[index], to: builder, buffer: buffer,
                                        record: record) {
                        valid = false
                    }
                    if repairedLiteral(index, slots: slots, buffer: buffer, record: record) { valid = false }
                case .object(let object):
                    if try !appendObject(object, to: builder, slots: slots, buffer: buffer, record: record,
                                         lookups: lookups, rowID: rowID, warnings: &warnings) { valid = false }
                }
            }
            // The columns no property claims, as text in `extra` (empty cells left out; no
            // `extra` when all are empty, as with a trailing comma on every line).
            if shape.extras.contains(where: { !record.byteRange($0.column).isEmpty }) {
                try builder.beginDocument(shape.extraKey)
                for extra in shape.extras {
                    let range = record.byteRange(extra.column)
                    if range.isEmpty { continue }
                    if try !builder.append(extra.key, repairingUTF8: UnsafeBufferPointer(rebasing: buffer[range])) { valid = false }
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
    private static func append(_ slot: Slot, in slots: RowSlots, key: BSONKey, to builder: BSONBuilder,
                               buffer: UnsafeBufferPointer<UInt8>, record: CSVRecord) throws(BSONBuilderError) -> Bool {
        switch slot {
        case .missing, .null: try builder.appendNull(key)
        case .int(let number): try builder.append(key, .int(number))
        case .value(let index): try builder.append(key, slots.values[index])
        case .integers(let range):
            try builder.beginArray(key)
            for index in range { try builder.append(.index(index - range.lowerBound), int64: slots.integers[index]) }
            try builder.endArray()
        case .text(let column):
            return try builder.append(key, repairingUTF8: UnsafeBufferPointer(rebasing: buffer[record.byteRange(column)]))
        }
        return true
    }

    /// The warning for a track whose album or artist id is not in its table.
    private func unknownReference(_ objectIndex: Int, id: Int64, rowID: RowID, lookups: ResolvedLookups) -> String {
        let node = shape.objectNodes[objectIndex]
        let column = shape.objects[objectIndex].lookupIDLeaf.flatMap { plan.leaves[$0].columnName } ?? node.name + "_id"
        return "\(plan.schema.name) \(rowID): unknown \(column) \(id) (no such \(node.lookup ?? "") in \(lookups.sources[objectIndex]));"
            + " reference kept"
    }

    private func appendObject(_ objectIndex: Int, to builder: BSONBuilder, slots: RowSlots,
                              buffer: UnsafeBufferPointer<UInt8>, record: CSVRecord, lookups: ResolvedLookups,
                              rowID: RowID, warnings: inout [String]) throws(BSONBuilderError) -> Bool {
        let object = shape.objects[objectIndex]
        var fragments: LookupRow?
        if objectIndex < lookups.files.count, lookups.files[objectIndex] != nil,
           let idLeaf = object.lookupIDLeaf, case .int(let id) = slots[idLeaf] {
            fragments = try lookups.row(objectIndex, id: id)
            if fragments == nil {
                warnings.append(unknownReference(objectIndex, id: id, rowID: rowID, lookups: lookups))
            }
        }
        if fragments == nil && object.children.allSatisfy({ slots[$0].isAbsent }) {
            try builder.appendNull(object.key)
            return true
        }
        var valid = true
        try builder.beginDocument(object.key)
        let fieldsBase = objectIndex * plan.leaves.count
        for index in object.children {
            if slots[index].isAbsent, let fragments {
                let field = lookups.fields[fieldsBase + index]
                if field >= 0, try builder.append(shape.leafKeys[index], field: field, of: fragments) { continue }
            }
            if try !Self.append(slots[index], in: slots, key: shape.leafKeys[index], to: builder, buffer: buffer,
                                record: record) { valid = false }
            if repairedLiteral(index, slots: slots, buffer: buffer, record: record) { valid = false }
        }
        try builder.endDocument()
        return valid
    }

    /// The values of `leaves`, for the lookup tables, added to `store` as row `id`; returns its
    /// index there. A track copies them into its embedded object. Built with `builder` as a raw
    /// document, element k = `leaves[k]` (null when the row has no value).
    func fragments(_ leaves: [Int], id: Int64, slots: RowSlots, record: CSVRecord, builder: BSONBuilder,
                   into store: LookupStore) throws(BSONBuilderError) -> Int {
        builder.reset()
        try record.bytes.withUnsafeBufferPointer { (buffer) throws(BSONBuilderError) in
            for (position, leaf) in leaves.enumerated() {
                _ = try Self.append(slots[leaf], in: slots, key: .index(position), to: builder, buffer: buffer, record: record)
            }
        }
        let document = try builder.rawBytes()
        return document.withUnsafeBufferPointer { store.append(id: id, document: $0) }
    }
}

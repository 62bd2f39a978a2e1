import DocumentStore
import Tabular

/// One row's cells as text, in column order: every cell's bytes back to back in `bytes`, cell
/// `i` at `bytes[starts[i]..<ends[i]]` (empty for a missing value). Reused for every row.
struct RowCells: TextOutputStream {
    var bytes: [UInt8] = []
    var starts: [Int]
    var ends: [Int]
    /// Cells whose text may need CSV quoting (strings and the general path); numbers never do.
    var mayNeedQuotes: [Bool]

    init(columns: Int) {
        starts = [Int](repeating: 0, count: columns)
        ends = starts
        mayNeedQuotes = [Bool](repeating: false, count: columns)
        if columns > 0 { bytes.reserveCapacity(8192) }
    }

    /// Holds the place of buffers that are moved out for a while; allocates nothing.
    static let placeholder = RowCells(columns: 0)

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        for index in starts.indices {
            starts[index] = 0
            ends[index] = 0
            mayNeedQuotes[index] = false
        }
    }

    func text(_ column: Int) -> String {
        String(decoding: bytes[starts[column]..<ends[column]], as: UTF8.self)
    }

    // TextOutputStream: the standard library prints a Double's shortest round-trip digits through
    // `_writeASCII` straight into the buffer, without making a String.
    mutating func write(_ string: String) { bytes.append(contentsOf: string.utf8) }
    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }
}

/// Formats cursor documents straight from their BSON into cell text, the export's hot path:
/// no Swift value tree and no String per cell. The text is exactly `CellText.of` of the value
/// `ColumnLayout.row` would give (a test compares the two on random documents), except in a
/// class-coded column, which holds its text's code (`ClassCodes`).
///
/// Field lookup learns the documents' field order: the key at each position of each level is
/// compared with the key seen there before (one `strcmp`), and looked up by name only when it
/// differs, so documents of one shape cost no hashing.
final class RowFormatter {
    private enum Target {
        case column(Int)
        case nested(level: Int)
        case skip
    }

    /// The fields of the last document that needed a lookup, in the order they were visited:
    /// the next documents usually have the same shape, so each field is matched with one key
    /// comparison instead of a hash lookup.
    private struct Shape {
        var keys: [CChar] = []      // NUL-terminated keys back to back
        var keyStarts: [Int] = []
        var levels: [Int] = []
        var targets: [Target] = []
    }

    /// A read-only view of `Shape` for the per-field loop (no copies, no exclusivity checks).
    private struct ShapeView {
        let keys: UnsafeBufferPointer<CChar>
        let keyStarts: UnsafeBufferPointer<Int>
        let levels: UnsafeBufferPointer<Int>
        let targets: UnsafeBufferPointer<Target>
    }

    /// Column or sub-level of each key, per nesting level (level 0: the document).
    private var targetsByLevel: [[String: Target]] = [[:]]
    private var shape = Shape()
    private let reader = BSONFieldReader()
    private(set) var cells: RowCells
    private let isList: [Bool]
    /// Per column, the class → code map of a column written as codes (`x-encode: class-map`).
    private let classCodes: [[String: Int]?]
    private let headers: [String]
    /// Non-finite numbers written as empty cells, per column, since the last `resetCounts`.
    private(set) var nonFiniteCounts: [Int]

    /// `classCodes`: by header, the columns whose text is written as its code.
    init(layout: ColumnLayout, classCodes: [String: [String: Int]] = [:]) {
        cells = RowCells(columns: layout.columns.count)
        isList = layout.columns.map(\.isList)
        headers = layout.columns.map(\.header)
        self.classCodes = layout.columns.map { classCodes[$0.header] }
        nonFiniteCounts = [Int](repeating: 0, count: layout.columns.count)
        for (index, column) in layout.columns.enumerated() {
            var level = 0
            let parts = column.path.split(separator: ".").map(String.init)
            for part in parts.dropLast() {
                if case .nested(let child)? = targetsByLevel[level][part] {
                    level = child
                } else {
                    targetsByLevel.append([:])
                    targetsByLevel[level][part] = .nested(level: targetsByLevel.count - 1)
                    level = targetsByLevel.count - 1
                }
            }
            if let last = parts.last, targetsByLevel[level][last] == nil {
                targetsByLevel[level][last] = .column(index)
            }
        }
    }

    /// The current row as a CSV line appended to `line` (without `skipped`'s cell).
    func appendCSVLine(to line: inout [UInt8], skipping skipped: Int? = nil) {
        CSVLine.append(cells, skipping: skipped, to: &line)
    }

    func resetCounts() {
        for index in nonFiniteCounts.indices { nonFiniteCounts[index] = 0 }
    }

    /// The current row's text in `column`.
    func text(_ column: Int) -> String { cells.text(column) }

    /// Formats `document`'s cells into `cells`; `row` (the export's row number) names it in errors.
    func format(_ document: BorrowedBSON, row: Int = 0) throws {
        // Work on local buffers (moved out and back, never copied): locals need no dynamic
        // exclusivity checks in the per-field loop.
        var local = RowCells.placeholder
        swap(&local, &cells)
        defer { swap(&local, &cells) }
        local.reset()
        guard reader.start(document) else { throw ExportError("row \(row) of the export: the server sent a document libbson cannot read (corrupt BSON); nothing was written", isDataError: true) }
        var diverged = false
        var event = 0
        try shape.keys.withUnsafeBufferPointer { keys in
            try shape.keyStarts.withUnsafeBufferPointer { keyStarts in
                try shape.levels.withUnsafeBufferPointer { levels in
                    try shape.targets.withUnsafeBufferPointer { targets in
                        let view = ShapeView(keys: keys, keyStarts: keyStarts, levels: levels, targets: targets)
                        try formatLevel(0, into: &local, shape: view, event: &event, diverged: &diverged, row: row)
                    }
                }
            }
        }
        if diverged { learnShape(of: document) }
    }

    private func formatLevel(_ level: Int, into cells: inout RowCells, shape: ShapeView,
                             event: inout Int, diverged: inout Bool, row: Int) throws {
        while reader.next() {
            let target: Target
            if !diverged, event < shape.targets.count, shape.levels[event] == level,
               let key = shape.keys.baseAddress, reader.keyEquals(key + shape.keyStarts[event]) {
                target = shape.targets[event]
            } else {
                diverged = true
                target = targetsByLevel[level][reader.keyString] ?? .skip
            }
            event += 1
            switch target {
            case .column(let column):
                try formatValue(column, into: &cells, row: row)
            case .nested(let child):
                if reader.type == .document || reader.type == .array, reader.enter() {
                    try formatLevel(child, into: &cells, shape: shape, event: &event, diverged: &diverged, row: row)
                    reader.leave()
                }
            case .skip:
                break
            }
        }
    }

    /// Records the document's fields in visiting order (what `formatLevel` walks).
    private func learnShape(of document: BorrowedBSON) {
        shape = Shape()
        guard reader.start(document) else { return }
        func walk(_ level: Int) {
            while reader.next() {
                let key = reader.keyString
                let target = targetsByLevel[level][key] ?? .skip
                shape.keyStarts.append(shape.keys.count)
                shape.keys.append(contentsOf: key.utf8CString)
                shape.levels.append(level)
                shape.targets.append(target)
                if case .nested(let child) = target, reader.type == .document || reader.type == .array, reader.enter() {
                    walk(child)
                    reader.leave()
                }
            }
        }
        walk(0)
    }

    private func formatValue(_ column: Int, into cells: inout RowCells, row: Int) throws {
        cells.starts[column] = cells.bytes.count
        if let codes = classCodes[column] {
            try formatCode(column, codes: codes, into: &cells, row: row)
            return
        }
        switch reader.type {
        case .double:
            let value = reader.double
            if !value.isFinite {
                nonFiniteCounts[column] += 1  // an empty cell: missing
            } else {
                value.write(to: &cells)  // `description`: the shortest text that reads back as the same bits
            }
        case .int32: Self.appendDecimal(Int64(reader.int32), to: &cells.bytes)
        case .int64: Self.appendDecimal(reader.int64, to: &cells.bytes)
        case .string:
            cells.bytes.append(contentsOf: reader.utf8)
            cells.mayNeedQuotes[column] = true
        case .bool: cells.bytes.append(contentsOf: reader.bool ? Self.trueText : Self.falseText)
        case .dateTime: Self.appendISO8601(milliseconds: reader.dateTime, to: &cells.bytes)
        case .array:
            if isList[column] { appendList(to: &cells.bytes) }
        case .null, .document: break
        case .other:
            cells.bytes.append(contentsOf: CellText.of(try reader.value()).utf8)
            cells.mayNeedQuotes[column] = true
        }
        cells.ends[column] = cells.bytes.count
    }

    /// A class-map column's text as its code; missing stays an empty cell.
    private func formatCode(_ column: Int, codes: [String: Int], into cells: inout RowCells, row: Int) throws {
        switch reader.type {
        case .null: break
        case .string:
            let text = String(decoding: reader.utf8, as: UTF8.self)
            guard let code = codes[text] else { throw ClassCodes.unknown(text, column: headers[column], row: row) }
            Self.appendDecimal(Int64(code), to: &cells.bytes)
        default:
            throw ClassCodes.notText(CellText.of(try reader.value()), column: headers[column], row: row)
        }
        cells.ends[column] = cells.bytes.count
    }

    /// A list column's integers, `|`-joined (anything else in the array is left out, as `CellText`).
    private func appendList(to bytes: inout [UInt8]) {
        guard reader.enter() else { return }
        var first = true
        while reader.next() {
            let value: Int64
            switch reader.type {
            case .int32: value = Int64(reader.int32)
            case .int64: value = reader.int64
            default: continue
            }
            if !first { bytes.append(UInt8(ascii: "|")) }
            first = false
            Self.appendDecimal(value, to: &bytes)
        }
        reader.leave()
    }
    private static let trueText = Array("true".utf8)
    private static let falseText = Array("false".utf8)

    static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            bytes.append(contentsOf: buffer[(24 - count)...])
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC (proleptic Gregorian calendar), exact to the
    /// millisecond with integer arithmetic.
    static func appendISO8601(milliseconds: Int64, to bytes: inout [UInt8]) {
        let (days, millisOfDay) = milliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        let dayNumber = millisOfDay < 0 ? days - 1 : days
        let millis = millisOfDay < 0 ? millisOfDay + 86_400_000 : millisOfDay
        let (year, month, day) = CivilDate.from(daysSinceEpoch: dayNumber)
        func two(_ value: Int64) {
            bytes.append(UInt8(ascii: "0") + UInt8(value / 10))
            bytes.append(UInt8(ascii: "0") + UInt8(value % 10))
        }
        if year < 0 || year > 9999 {
            // Outside ISO 8601's four-digit years: a signed year, as many digits as it needs.
            appendDecimal(year, to: &bytes)
        } else {
            two(year / 100); two(year % 100)
        }
        bytes.append(UInt8(ascii: "-")); two(Int64(month))
        bytes.append(UInt8(ascii: "-")); two(Int64(day))
        bytes.append(UInt8(ascii: "T")); two(millis / 3_600_000)
        bytes.append(UInt8(ascii: ":")); two(millis / 60_000 % 60)
        bytes.append(UInt8(ascii: ":")); two(millis / 1000 % 60)
        bytes.append(UInt8(ascii: "."))
        bytes.append(UInt8(ascii: "0") + UInt8(millis % 1000 / 100)); two(millis % 100)
        bytes.append(UInt8(ascii: "Z"))
    }
}

/// RFC 4180 lines from cells, quoted by `CSVWriter`'s rule (only when a field must be).
enum CSVLine {
    static func append(_ cells: RowCells, skipping skipped: Int? = nil, to line: inout [UInt8]) {
        // One buffer pointer for the row: slicing the array per cell would retain and release it.
        cells.bytes.withUnsafeBufferPointer { bytes in
            var first = true
            for column in cells.starts.indices where column != skipped {
                if !first { line.append(UInt8(ascii: ",")) }
                first = false
                let cell = bytes[cells.starts[column]..<cells.ends[column]]
                if cells.mayNeedQuotes[column] {
                    CSVWriter.appendField(cell, to: &line)
                } else {
                    line.append(contentsOf: UnsafeBufferPointer(rebasing: cell))
                }
            }
        }
        line.append(UInt8(ascii: "\n"))
    }

    static func appendField(_ field: ArraySlice<UInt8>, to line: inout [UInt8]) {
        CSVWriter.appendField(field, to: &line)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A CSV syntax error that stops reading a file: there is no safe way to find the next record.
public struct CSVError: Error, Sendable, CustomStringConvertible {
    public var path: String
    /// Physical line (1-based) where the problem starts.
    public var line: Int
    /// Record number (1-based, the header is record 1).
    public var record: Int
    /// Field number (1-based) within the record; 0 when not about a field.
    public var column: Int
    public var message: String

    public var description: String {
        let column = column > 0 ? ", column \(self.column)" : ""
        return "\(path):\(line): record \(record)\(column): \(message)"
    }
}

/// One record: the unescaped bytes of every field, one separator byte between two fields (a
/// comma, as in the file, so that runs of unquoted fields are copied from the read buffer at
/// once), and where each field ends.
///
/// Reused across `CSVReader.next(into:)` calls so that reading allocates nothing per row.
public struct CSVRecord: Sendable {
    public internal(set) var bytes: [UInt8] = []
    public internal(set) var fieldEnds: [Int] = []
    /// Physical line on which the record starts (1-based).
    public internal(set) var line = 0
    /// 1-based record number; the header line is record 1.
    public internal(set) var number = 0
    /// A recoverable syntax oddity in this record (text after a closing quote: where the field
    /// was meant to end is a guess). The record is still delivered; callers decide whether to
    /// quarantine it.
    public internal(set) var problem: String?
    /// The 1-based field that `problem` is about.
    public internal(set) var problemColumn = 0
    /// The 1-based first unquoted field holding a quote (`12" Remix`), kept as text as Python's
    /// csv keeps it; 0 when none.
    public internal(set) var strayQuoteColumn = 0
    /// Some field of the record was quoted (an explicit value, even if empty).
    var hasQuotedField = false
    /// False when no byte of the record can be NUL: the reader had met no NUL in the file when
    /// the record ended (it looks once per block read, not once per record).
    public internal(set) var mayHoldNUL = true

    public init() {}

    public init(fields: [String]) {
        for (index, field) in fields.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: field.utf8)
            fieldEnds.append(bytes.count)
        }
    }

    @inlinable public var count: Int { fieldEnds.count }

    @inlinable  // called per cell from other modules
    public func byteRange(_ index: Int) -> Range<Int> {
        (index == 0 ? 0 : fieldEnds[index - 1] + 1)..<fieldEnds[index]
    }

    public func isEmpty(_ index: Int) -> Bool { byteRange(index).isEmpty }

    /// The field as text; invalid UTF-8 is replaced by U+FFFD (check `isValidUTF8` to flag it).
    public subscript(index: Int) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[byteRange(index)]), as: UTF8.self) }
    }

    public func isValidUTF8(_ index: Int) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            UnsafeBufferPointer(rebasing: buffer[byteRange(index)]).firstInvalidUTF8Offset == nil
        }
    }

    public func contains(byte: UInt8, in index: Int) -> Bool {
        bytes[byteRange(index)].contains(byte)
    }

    public var fields: [String] { (0..<count).map { self[$0] } }

    @inline(__always)
    mutating func appendRun(_ buffer: UnsafeMutablePointer<UInt8>, _ range: Range<Int>) {
        if !range.isEmpty { bytes.append(contentsOf: UnsafeBufferPointer(start: buffer + range.lowerBound, count: range.count)) }
    }

    mutating func reset(line: Int, number: Int) {
        bytes.removeAll(keepingCapacity: true)
        fieldEnds.removeAll(keepingCapacity: true)
        self.line = line
        self.number = number
        problem = nil
        problemColumn = 0
        strayQuoteColumn = 0
        hasQuotedField = false
    }

    /// Only delimiters, spaces and tabs, and no quoted field: what a spreadsheet writes for a
    /// cleared row (`,,,,`), or a line of blanks. Checked field by field: in a `;` file an unquoted
    /// field may hold a comma.
    var isBlankRow: Bool {
        guard !hasQuotedField else { return false }
        for index in 0..<count {
            for byte in bytes[byteRange(index)] where byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\t") { return false }
        }
        return true
    }
}

/// A streaming RFC 4180 reader over bytes: any file size in flat memory (one read buffer plus the
/// current record). Accepts LF, CRLF and CR-only line ends, a UTF-8 byte-order mark, quoted fields
/// with embedded delimiters, quotes (`""`) and newlines. Blank lines are skipped and counted, and
/// so are blank rows (`CSVRecord.isBlankRow`: a spreadsheet's cleared rows), which are not records.
///
/// The delimiter is found on the first line (after a byte-order mark): `;` when that line holds
/// more semicolons than commas outside quotes (a spreadsheet's export in a comma-decimal locale),
/// else `,`. A `;` file is read by the same scanner with the two bytes swapped as they are read and
/// swapped back in each record, so the fields hold the file's bytes either way.
///
/// Only a regular file is read: a FIFO, a directory or a device is refused at once, without
/// blocking. A UTF-16 file (its byte-order mark) is refused naming the encoding.
public final class CSVReader {
    public let path: String
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let buffer: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    // The reader's cursor.
    private var position = 0
    private var limit = 0
    private var endOfInput = false
    private var atStart = true
    private var line = 1
    private var recordNumber = 0
    public private(set) var blankLinesSkipped = 0
    /// Rows of only delimiters and blanks skipped (`CSVRecord.isBlankRow`).
    public private(set) var blankRowsSkipped = 0
    /// Whether blank rows are skipped; off while reading a header whose rows are checked one by
    /// one (`FMAHeader`: an empty index-name row is that header's error, not a blank row).
    public var skipsBlankRows = true
    /// Bytes consumed so far (for progress).
    public private(set) var bytesRead = 0
    /// Some block read so far held a NUL byte.
    private var sawNUL = false
    /// The file's delimiter (`,` or `;`), found when the first record is read.
    public private(set) var delimiter = UInt8(ascii: ",")

    private static let comma = UInt8(ascii: ","), semicolon = UInt8(ascii: ";"), quote = UInt8(ascii: "\""),
                       lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")

    public init(path: String, bufferSize: Int = 1 << 20) throws(CSVError) {
        self.path = path
        func refused(_ message: String) -> CSVError { CSVError(path: path, line: 0, record: 0, column: 0, message: message) }
        // Non-blocking: opening a FIFO without a writer would wait forever; the type is checked
        // again on the open descriptor (the name may have changed in between).
        var status = stat()
        if stat(path, &status) == 0, let kind = Self.nonRegularKind(status.st_mode) {
            throw refused("not a regular file (\(kind)); refusing to read it")
        }
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw refused(String(cString: strerror(errno))) }
        guard fstat(descriptor, &status) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw refused(reason)
        }
        if let kind = Self.nonRegularKind(status.st_mode) {
            close(descriptor)
            throw refused("not a regular file (\(kind)); refusing to read it")
        }
        self.descriptor = descriptor
        ownsDescriptor = true
        capacity = max(bufferSize, 4)
        buffer = .allocate(capacity: capacity)
    }

    /// What a file of this mode is when it is not a regular file; nil for a regular file.
    static func nonRegularKind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: nil
        case S_IFIFO: "a FIFO"
        case S_IFDIR: "a directory"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }

    deinit {
        buffer.deallocate()
        if ownsDescriptor { close(descriptor) }
    }

    /// Reads the next record into `record`; false at the end of the input.
    public func next(into record: inout CSVRecord) throws(CSVError) -> Bool {
        while try nextRecord(into: &record) {
            record.mayHoldNUL = sawNUL
            if delimiter != Self.comma { restoreSwappedBytes(&record) }
            guard skipsBlankRows && record.isBlankRow else { return true }
            blankRowsSkipped += 1
            recordNumber -= 1  // not a record, as a blank line is not
        }
        return false
    }

    /// A `;` file's record as the file has it: its bytes were read with `;` and `,` swapped;
    /// swapped back, the separators between fields stay commas, as in every record.
    private func restoreSwappedBytes(_ record: inout CSVRecord) {
        let semicolon = delimiter
        record.bytes.withUnsafeMutableBufferPointer { bytes in
            for index in bytes.indices {
                if bytes[index] == Self.comma { bytes[index] = semicolon } else if bytes[index] == semicolon { bytes[index] = Self.comma }
            }
            for end in record.fieldEnds.dropLast() { bytes[end] = Self.comma }
        }
    }

    @inline(__always)
    private func nextRecord(into record: inout CSVRecord) throws(CSVError) -> Bool {
        if atStart {
            atStart = false
            try skipByteOrderMark()
            findDelimiter()
        }
        while true {
            guard let first = try peek() else { return false }
            if first == Self.lf || first == Self.cr {  // a blank line is not a record
                consumeLineEnd(first)
                blankLinesSkipped += 1
                continue
            }
            break
        }
        recordNumber += 1
        record.reset(line: line, number: recordNumber)
        // Unquoted fields and the commas between them are copied to the record as one run, from
        // `runStart` up to where the run ends (a quoted field, the line end, a spent buffer).
        var runStart = position
        while true {  // at the start of a field
            if position == limit {  // the buffer is spent: keep the run before refilling
                record.appendRun(buffer, runStart..<position)
                guard try fill() else {  // the input ends with an empty field
                    record.fieldEnds.append(record.bytes.count)
                    return true
                }
                runStart = position
            }
            if buffer[position] == Self.quote {
                record.hasQuotedField = true
                record.appendRun(buffer, runStart..<position)
                position += 1
                let terminator = try readQuotedField(into: &record)
                record.fieldEnds.append(record.bytes.count)
                switch terminator {
                case Self.comma:
                    record.bytes.append(Self.comma)
                    runStart = position
                    continue
                case Self.lf, Self.cr:
                    consumeLineEnd(terminator)
                    return true
                default:  // end of input
                    return true
                }
            }
            while true {  // an unquoted field
                let end = scanUnquoted(from: position, record: &record)
                if end < limit {
                    record.fieldEnds.append(record.bytes.count + (end - runStart))
                    let byte = buffer[end]
                    if byte == Self.comma {
                        position = end + 1
                        break
                    }
                    record.appendRun(buffer, runStart..<end)
                    position = end
                    consumeLineEnd(byte)
                    return true
                }
                // The field goes on past the buffer: keep the run, refill, scan on.
                record.appendRun(buffer, runStart..<end)
                position = end
                guard try fill() else {
                    record.fieldEnds.append(record.bytes.count)
                    return true
                }
                runStart = position
            }
        }
    }

    /// The end of the unquoted field (or its part in the buffer) that starts at `start`: the
    /// offset of the comma, CR or LF that ends it, or `limit`. Notes a quote inside it.
    @inline(__always)
    private func scanUnquoted(from start: Int, record: inout CSVRecord) -> Int {
        let buffer = self.buffer, limit = self.limit
        var index = start
        var quoteAt = -1
        while index < limit {
            let byte = buffer[index]
            // One compare for the common case: every special byte is below 0x2D (',').
            if byte <= Self.comma {
                if byte == Self.comma || byte == Self.lf || byte == Self.cr { break }
                if byte == Self.quote && quoteAt < 0 { quoteAt = index }
            }
            index += 1
        }
        if quoteAt >= 0 && record.strayQuoteColumn == 0 { record.strayQuoteColumn = record.fieldEnds.count + 1 }
        return index
    }

    /// Reads the rest of a field as unquoted text (after a quoted part: `"a"b`); returns the byte
    /// that ended it (comma, CR, LF), unconsumed except the comma, or 0 at the end of input.
    private func readUnquotedRest(into record: inout CSVRecord) throws(CSVError) -> UInt8 {
        while true {
            guard try fill() else { return 0 }
            let start = position
            let index = scanUnquoted(from: start, record: &record)
            record.appendRun(buffer, start..<index)
            position = index
            if index < limit {
                let byte = buffer[index]
                if byte == Self.comma { position += 1 }
                return byte
            }
        }
    }

    private func readQuotedField(into record: inout CSVRecord) throws(CSVError) -> UInt8 {
        let startLine = line
        let column = record.fieldEnds.count + 1
        // A CR that ended the previous buffer was counted as a line end; an LF opening the next
        // one completes that CRLF and is not counted again.
        var crEndedBuffer = false
        while true {
            guard try fill() else {
                throw CSVError(path: path, line: startLine, record: recordNumber, column: column,
                               message: "unterminated quoted field (the quote opened here is never closed before the end of the file)")
            }
            let buffer = self.buffer, limit = self.limit
            let start = position
            // Up to the next quote, counting the physical lines before it (a CRLF is one line
            // end; a CR at the end of the buffer counts, and an LF after it is taken back below).
            var lineEndsBefore = 0
            var index = start
            while index < limit {
                let byte = buffer[index]
                if byte == Self.quote { break }
                if byte == Self.lf || (byte == Self.cr && (index + 1 == limit || buffer[index + 1] != Self.lf)) {
                    lineEndsBefore += 1
                }
                index += 1
            }
            let span = UnsafeBufferPointer(start: buffer + start, count: index - start)
            line += lineEndsBefore
            if crEndedBuffer && span.first == Self.lf { line -= 1 }
            crEndedBuffer = index == limit && span.last == Self.cr
            record.bytes.append(contentsOf: span)
            position = index
            guard index < limit else { continue }  // refill and keep scanning
            position += 1  // the quote
            guard let next = try peek() else { return 0 }
            if next == Self.quote {  // an escaped quote
                record.bytes.append(Self.quote)
                position += 1
                continue
            }
            if next == Self.comma {
                position += 1
                return next
            }
            if next == Self.lf || next == Self.cr { return next }
            // Text after the closing quote: keep it (as Python's csv does) and flag the record.
            if record.problem == nil {
                record.problem = "text after the closing quote of a quoted field"
                record.problemColumn = column
            }
            return try readUnquotedRest(into: &record)
        }
    }

    private func consumeLineEnd(_ byte: UInt8) {
        position += 1
        line += 1
        if byte == Self.cr, (try? peek()) == Self.lf { position += 1 }
    }

    private func skipByteOrderMark() throws(CSVError) {
        guard try fill(minimum: 3) else { return }
        if limit - position >= 3, buffer[position] == 0xEF, buffer[position + 1] == 0xBB, buffer[position + 2] == 0xBF {
            position += 3
        }
        if limit - position >= 2 {
            let first = buffer[position], second = buffer[position + 1]
            if (first == 0xFF && second == 0xFE) || (first == 0xFE && second == 0xFF) {
                throw CSVError(path: path, line: 1, record: 1, column: 0,
                               message: "the file is UTF-16 (\(first == 0xFF ? "little" : "big")-endian, by its byte-order mark), not UTF-8; save or convert it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)")
            }
        }
    }

    /// Picks the delimiter from the first line as far as the buffer holds it (see the type's
    /// comment), and swaps the bytes read so far for a `;` file.
    private func findDelimiter() {
        var commas = 0, semicolons = 0, quoted = false
        var index = position
        while index < limit {
            let byte = buffer[index]
            if byte == Self.quote {
                quoted.toggle()
            } else if !quoted {
                if byte == Self.lf || byte == Self.cr { break }
                if byte == Self.comma { commas += 1 } else if byte == Self.semicolon { semicolons += 1 }
            }
            index += 1
        }
        guard semicolons > commas else { return }
        delimiter = Self.semicolon
        swapDelimiters(position..<limit)
    }

    /// `,` ↔ `;` in the buffer (a `;` file, as read).
    private func swapDelimiters(_ range: Range<Int>) {
        for index in range {
            let byte = buffer[index]
            if byte == Self.comma { buffer[index] = Self.semicolon } else if byte == Self.semicolon { buffer[index] = Self.comma }
        }
    }

    @inline(__always)
    private func peek() throws(CSVError) -> UInt8? {
        guard try fill() else { return nil }
        return buffer[position]
    }

    /// Makes at least `minimum` unread bytes available if the input has them; false at the end.
    /// Checked per field: the common case, bytes in the buffer, is answered inline.
    @inline(__always)
    private func fill(minimum: Int = 1) throws(CSVError) -> Bool {
        if limit - position >= minimum { return true }
        return try refill(minimum: minimum)
    }

    private func refill(minimum: Int) throws(CSVError) -> Bool {
        while limit - position < minimum && !endOfInput {
            if position > 0 {  // keep the unread tail at the front
                let remaining = limit - position
                if remaining > 0 {
                    buffer.update(from: buffer + position, count: remaining)
                }
                limit = remaining
                position = 0
            }
            let count = read(descriptor, buffer + limit, capacity - limit)
            if count < 0 {
                if errno == EINTR { continue }
                throw CSVError(path: path, line: line, record: recordNumber, column: 0,
                               message: "read failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { endOfInput = true }
            if !sawNUL && count > 0 && memchr(buffer + limit, 0, count) != nil { sawNUL = true }
            if delimiter != Self.comma && count > 0 { swapDelimiters(limit..<(limit + count)) }
            limit += count
            bytesRead += count
        }
        return limit - position >= 1
    }
}

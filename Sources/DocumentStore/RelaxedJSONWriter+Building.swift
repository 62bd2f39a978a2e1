/// Building a document straight into the writer's text, field by field, with the same calls as
/// `BSONBuilder` and the same bytes as building it with libbson and printing it
/// (`append(document:)`): "{ " fields joined by ", " " }", keys as `"key" : `, values as
/// libbson 1.23's relaxed Extended JSON prints them. It skips the BSON in between, which is most of
/// the cost of staging a row. `RelaxedJSONWriterTests` and `ExtractRowWorkersTests` hold the two
/// paths to the same bytes, and to the same refusals: a key libbson refuses sets `refusal`.
///
/// A line is `beginDocumentLine()`, the fields, `endDocumentLine()`. Inside arrays the keys given
/// (`BSONKey.index`) are not printed, as in libbson's output.
extension RelaxedJSONWriter {
    public func beginDocumentLine() {
        refusal = nil
        open(array: false)
    }

    /// Closes the line's document and ends the line.
    public func endDocumentLine() {
        close(array: false)
        appendBytes("\n")
        needsSeparator = false
    }

    public func appendNull(_ key: BSONKey) {
        member(key)
        appendBytes("null")
    }

    public func append(_ key: BSONKey, int64 value: Int64) {
        member(key)
        Self.appendDecimal(value, into: &output)
    }

    public func append(_ key: BSONKey, double value: Double) {
        member(key)
        Self.appendDouble(value, into: &output)
    }

    public func append(_ key: BSONKey, bool value: Bool) {
        member(key)
        appendBytes(value ? "true" : "false")
    }

    /// A UTC date-time in milliseconds since the Unix epoch.
    public func append(_ key: BSONKey, dateTime milliseconds: Int64) {
        member(key)
        Self.appendDate(milliseconds, into: &output)
    }

    public func append(_ key: BSONKey, string: String) {
        var string = string
        string.withUTF8 { appendValidText(key, $0) }
    }

    /// Text from raw bytes: valid UTF-8 as is; invalid sequences replaced by U+FFFD as
    /// `BSONBuilder.append(_:repairingUTF8:)` does. Returns false when it repaired.
    @discardableResult
    public func append(_ key: BSONKey, repairingUTF8 bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        member(key)
        return appendString(repairingUTF8: bytes)
    }

    // MARK: Values printed by the caller

    /// JSON text as it is, outside the building API's levels and separators: for a caller that
    /// prints a whole value itself (a Python list cell of the plain shape, in the jobs).
    public func appendJSONText(_ text: StaticString) {
        appendBytes(text)
    }

    /// JSON text printed by `body` straight into the writer's buffer, outside the building API's
    /// levels and separators (as `appendJSONText(_:)`): `body` gets room for `capacity` bytes and
    /// returns how many it wrote, or nil to append nothing. Returns whether it appended.
    @inline(__always)
    public func appendJSONText(capacity: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int?) -> Bool {
        output.reserve(capacity)
        guard let written = body(output.base + output.count) else { return false }
        output.count += written
        return true
    }

    /// `bytes` as a JSON string, without key or separator; invalid UTF-8 replaced by U+FFFD as
    /// `append(_:repairingUTF8:)` does. Returns false when it repaired.
    public func appendString(repairingUTF8 bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = count
        if quoted(bytes) { return true }
        count = start  // invalid UTF-8: the repaired text instead
        var repaired = String(decoding: bytes, as: UTF8.self)
        repaired.withUTF8 { _ = quoted($0) }
        return false
    }

    public func beginDocument(_ key: BSONKey) {
        member(key)
        open(array: false)
    }

    public func endDocument() { close(array: false) }

    public func beginArray(_ key: BSONKey) {
        member(key)
        open(array: true)
    }

    public func endArray() { close(array: true) }

    /// Drops the text from `offset` on (a line that must not be kept) and any levels left open.
    public func truncate(to offset: Int) {
        count = min(count, offset)
        refusal = nil
        depth = 0
        deepArrayLevels.removeAll(keepingCapacity: true)
        needsSeparator = false
    }

    /// A value printed before by this API (e.g. captured with `captureValue`), under `key`.
    public func append(_ key: BSONKey, printedValue: UnsafeBufferPointer<UInt8>) {
        member(key)
        guard let base = printedValue.baseAddress else { return }
        output.append(base, printedValue.count)
    }

    /// Empties the writer and runs `body`, which appends one value (its key is not printed);
    /// returns the value's text.
    public func captureValue(_ body: (RelaxedJSONWriter) throws -> Void) rethrows -> UnsafeBufferPointer<UInt8> {
        removeAll()
        pushLevel(array: true)  // as an array element: no key, no separator before the first
        try body(self)
        depth = 0
        needsSeparator = false
        return bytes
    }

    // MARK: Pieces

    private func appendValidText(_ key: BSONKey, _ text: UnsafeBufferPointer<UInt8>) {
        member(key)
        _ = quoted(text)  // a String's UTF-8 is valid
    }

    /// `text` escaped between quotes; false (partly written) for invalid UTF-8.
    private func quoted(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        output.append(UInt8(ascii: "\""))
        if let base = text.baseAddress, !Self.appendEscaped(base, text.count, into: &output) { return false }
        output.append(UInt8(ascii: "\""))
        return true
    }

    /// The separator and, in a document, the key.
    @inline(__always)
    private func member(_ key: BSONKey) {
        if key.holdsNUL && refusal == nil { refusal = BSONBuilder.refused(key.name) }
        if inArray {
            if needsSeparator { output.append(", ") }
        } else {
            let separator = needsSeparator ? 0 : 2  // ", " leads the key's member prefix
            output.append(key.jsonMember + separator, key.jsonMemberLength - separator)
        }
        if depth == 1 { valueStart = count }
        needsSeparator = true
    }

    /// "{ " or "[ ": an empty one closes as "{  }", as libbson prints nested empty containers.
    @inline(__always)
    private func open(array: Bool) {
        appendBytes(array ? "[ " : "{ ")
        pushLevel(array: array)
    }

    @inline(__always)
    private func close(array: Bool) {
        appendBytes(array ? " ]" : " }")
        popLevel()
        needsSeparator = true
    }

    @inline(__always)
    private func pushLevel(array: Bool) {
        if depth < 64 {
            let bit: UInt64 = 1 << UInt64(depth)
            arrayLevels = array ? arrayLevels | bit : arrayLevels & ~bit
        } else {
            deepArrayLevels.append(array)
        }
        depth += 1
        needsSeparator = false
    }

    @inline(__always)
    private func popLevel() {
        depth -= 1
        if depth >= 64 { deepArrayLevels.removeLast() }
    }

    /// Whether the innermost open level is an array (its elements print no keys).
    @inline(__always)
    private var inArray: Bool {
        guard depth > 0 else { return false }
        return depth <= 64 ? arrayLevels & (1 << UInt64(depth - 1)) != 0 : deepArrayLevels.last ?? false
    }

    @inline(__always)
    private func appendBytes(_ text: StaticString) {
        output.append(text)
    }
}

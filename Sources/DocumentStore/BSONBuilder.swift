import CMongoC

/// A document the builder could not build: libbson refused an append (the document would exceed
/// BSON's size limit, or a key holds a NUL byte), or the calls did not nest (an `endDocument()`
/// without its `beginDocument`).
public struct BSONBuilderError: Error, Sendable, CustomStringConvertible {
    /// The field being appended ("" when the problem is not one field's).
    public let key: String
    public let message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { key.isEmpty ? message : "field '\(key)': \(message)" }
}

/// A document key as a NUL-terminated C string with its length, converted once and reused for
/// every row (the builder's hot path does no `String` → C conversion).
public final class BSONKey: @unchecked Sendable {  // owns the C string libbson's append API reads; immutable after init
    public let name: String
    let pointer: UnsafeMutablePointer<CChar>
    let length: Int32

    public init(_ name: String) {
        self.name = name
        let utf8 = Array(name.utf8)
        pointer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count + 1)
        for (index, byte) in utf8.enumerated() { pointer[index] = CChar(bitPattern: byte) }
        pointer[utf8.count] = 0
        length = Int32(utf8.count)
    }

    deinit { pointer.deallocate() }

    private static let indexKeys: [BSONKey] = (0..<256).map { BSONKey(String($0)) }

    /// The key of an array element: "0", "1", … (shared for small indexes).
    public static func index(_ index: Int) -> BSONKey {
        index >= 0 && index < indexKeys.count ? indexKeys[index] : BSONKey(String(index))
    }
}

/// Builds one BSON document at a time through libbson's append API (`bson_append_*`), for writers
/// that produce many documents of the same shape: reuse it with `reset()`, nest with
/// `beginDocument`/`beginArray` … `end…()`, then read the bytes (`withRawBytes`) or the
/// staging line (`appendJSONLine`).
///
/// Integers go in as the narrowest BSON integer (int32 when the value fits, else int64), which is
/// also what libbson's JSON parser reads a plain JSON integer back as: a document written as a
/// JSON line and read again has the same bytes (and content hash). Owns its `bson_t`s (`deinit`
/// frees them). Not thread-safe: one builder per task.
public final class BSONBuilder {
    private enum Level { case document, array }

    /// The document being built (from `bson_new`).
    private let root: OpaquePointer
    /// Storage of the children opened by `beginDocument`/`beginArray`, one per depth, kept for
    /// reuse (libbson writes the child in place inside its parent's buffer).
    private var childStorage: [UnsafeMutableRawPointer] = []
    private var levels: [Level] = []
    /// The innermost open document: the root or the last child begun.
    private var current: OpaquePointer
    /// Reused by `append(_:elementAt:ofRawDocument:)`.
    private let iterator = BSONIterator()

    public init() throws(BSONBuilderError) {
        guard let document = bson_new() else {
            throw BSONBuilderError(key: "", message: "bson_new returned no document (out of memory)")
        }
        root = document
        current = document
    }

    deinit {
        closeOpenChildren()
        bson_destroy(root)
        for storage in childStorage { storage.deallocate() }
    }

    /// Empties the document (keeping libbson's buffer) for the next one; closes any children left
    /// open by an error.
    public func reset() {
        closeOpenChildren()
        bson_reinit(root)
    }

    /// Number of children begun and not yet ended.
    public var depth: Int { levels.count }

    private func closeOpenChildren() {
        while let level = levels.popLast() {
            let child = OpaquePointer(childStorage[levels.count])
            let parent = levels.isEmpty ? root : OpaquePointer(childStorage[levels.count - 1])
            switch level {
            case .document: _ = bson_append_document_end(parent, child)
            case .array: _ = bson_append_array_end(parent, child)
            }
        }
        current = root
    }

    @inline(__always)
    private func check(_ appended: Bool, _ key: BSONKey) throws(BSONBuilderError) {
        if !appended { throw Self.refused(key.name) }
    }

    static func refused(_ key: String) -> BSONBuilderError {
        BSONBuilderError(key: key, message: key.utf8.contains(0)
            ? "libbson refused the field: its key holds a NUL byte"
            : "libbson refused the field: the document would exceed the BSON size limit (2 GiB)")
    }

    // MARK: Scalars

    /// An integer as int32 when it fits, else int64.
    public func append(_ key: BSONKey, int64 value: Int64) throws(BSONBuilderError) {
        if let narrow = Int32(exactly: value) {
            try check(bson_append_int32(current, key.pointer, key.length, narrow), key)
        } else {
            try check(bson_append_int64(current, key.pointer, key.length, value), key)
        }
    }

    public func append(_ key: BSONKey, double value: Double) throws(BSONBuilderError) {
        try check(bson_append_double(current, key.pointer, key.length, value), key)
    }

    public func append(_ key: BSONKey, bool value: Bool) throws(BSONBuilderError) {
        try check(bson_append_bool(current, key.pointer, key.length, value), key)
    }

    /// A UTC date-time in milliseconds since the Unix epoch.
    public func append(_ key: BSONKey, dateTime milliseconds: Int64) throws(BSONBuilderError) {
        try check(bson_append_date_time(current, key.pointer, key.length, milliseconds), key)
    }

    public func appendNull(_ key: BSONKey) throws(BSONBuilderError) {
        try check(bson_append_null(current, key.pointer, key.length), key)
    }

    /// Text whose bytes are already known to be valid UTF-8 (libbson does not check; its JSON
    /// writer refuses a document with invalid UTF-8). NUL bytes are kept (BSON strings are counted).
    public func append(_ key: BSONKey, validUTF8 bytes: UnsafeBufferPointer<UInt8>) throws(BSONBuilderError) {
        try check(Self.appendUTF8(current, key.pointer, key.length, bytes), key)
    }

    public func append(_ key: BSONKey, string: String) throws(BSONBuilderError) {
        var string = string
        try check(string.withUTF8 { Self.appendUTF8(current, key.pointer, key.length, $0) }, key)
    }

    /// Text from raw bytes: valid UTF-8 goes in as is; invalid sequences are replaced by U+FFFD
    /// (one per maximal invalid subpart, as Swift's decoder does). Returns false when it repaired.
    @discardableResult
    public func append(_ key: BSONKey, repairingUTF8 bytes: UnsafeBufferPointer<UInt8>) throws(BSONBuilderError) -> Bool {
        if UTF8Validation.isValid(bytes) {
            try check(Self.appendUTF8(current, key.pointer, key.length, bytes), key)
            return true
        }
        try append(key, string: String(decoding: bytes, as: UTF8.self))
        return false
    }

    @inline(__always)
    private static func appendUTF8(_ document: OpaquePointer, _ key: UnsafePointer<CChar>, _ keyLength: Int32,
                                   _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count < Int(Int32.max) else { return false }
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            return bson_append_utf8(document, key, keyLength, "", 0)
        }
        return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
            bson_append_utf8(document, key, keyLength, $0, Int32(bytes.count))
        }
    }

    /// Copies element `index` (0-based, in order) of a raw BSON document, under `key`: how a
    /// document embeds values built once elsewhere (e.g. an album's fields in every track).
    /// Returns false when the document has fewer elements or is corrupt.
    public func append(_ key: BSONKey, elementAt index: Int, ofRawDocument raw: [UInt8]) throws(BSONBuilderError) -> Bool {
        try raw.withUnsafeBufferPointer { buffer in
            Result { () throws(BSONBuilderError) -> Bool in try append(key, elementAt: index, ofRawDocument: buffer) }
        }.get()
    }

    /// The same, from the document's bytes where they lie.
    public func append(_ key: BSONKey, elementAt index: Int, ofRawDocument buffer: UnsafeBufferPointer<UInt8>) throws(BSONBuilderError) -> Bool {
        let iterator = self.iterator
        guard let base = buffer.baseAddress, bson_iter_init_from_data(iterator.pointer, base, buffer.count) else {
            return false
        }
        for _ in 0...index where !bson_iter_next(iterator.pointer) { return false }
        try check(bson_append_iter(current, key.pointer, key.length, iterator.pointer), key)
        return true
    }

    // MARK: Nesting

    /// Opens a sub-document under `key`; appends go into it until `endDocument()`.
    public func beginDocument(_ key: BSONKey) throws(BSONBuilderError) { try begin(.document, key) }

    public func endDocument() throws(BSONBuilderError) { try end(.document) }

    /// Opens an array under `key`; its elements take the keys `BSONKey.index(0)`, `(1)`, …
    public func beginArray(_ key: BSONKey) throws(BSONBuilderError) { try begin(.array, key) }

    public func endArray() throws(BSONBuilderError) { try end(.array) }

    private func begin(_ level: Level, _ key: BSONKey) throws(BSONBuilderError) {
        let child = childSlot()
        let begun = level == .document ? bson_append_document_begin(current, key.pointer, key.length, child)
                                       : bson_append_array_begin(current, key.pointer, key.length, child)
        try check(begun, key)
        levels.append(level)
        current = child
    }

    private func childSlot() -> OpaquePointer {
        if childStorage.count == levels.count {
            let storage = UnsafeMutableRawPointer.allocate(byteCount: musicetl_bson_size(),
                                                           alignment: musicetl_bson_alignment())
            storage.initializeMemory(as: UInt8.self, repeating: 0, count: musicetl_bson_size())
            childStorage.append(storage)
        }
        return OpaquePointer(childStorage[levels.count])
    }

    private func end(_ level: Level) throws(BSONBuilderError) {
        guard let open = levels.last else {
            throw BSONBuilderError(key: "", message: "end\(level == .document ? "Document" : "Array")() without a matching begin")
        }
        guard open == level else {
            throw BSONBuilderError(key: "", message: "end\(level == .document ? "Document" : "Array")() closes an open \(open == .document ? "document" : "array")")
        }
        let child = current
        levels.removeLast()
        let parent = levels.isEmpty ? root : OpaquePointer(childStorage[levels.count - 1])
        let ended = level == .document ? bson_append_document_end(parent, child) : bson_append_array_end(parent, child)
        current = parent
        if !ended { throw BSONBuilderError(key: "", message: "libbson could not close the sub-document") }
    }

    // MARK: Output

    private func requireComplete() throws(BSONBuilderError) {
        if !levels.isEmpty {
            throw BSONBuilderError(key: "", message: "the document still has \(levels.count) open sub-document(s)")
        }
    }

    /// The document's BSON bytes (valid during `body`).
    public func withRawBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        try requireComplete()
        return try body(UnsafeRawBufferPointer(start: bson_get_data(root), count: Int(musicetl_bson_length(root))))
    }

    /// The document's length in BSON bytes.
    public func rawSize() throws(BSONBuilderError) -> Int {
        try requireComplete()
        return Int(musicetl_bson_length(root))
    }

    /// A copy of the BSON bytes.
    public func rawBytes() throws(BSONBuilderError) -> [UInt8] {
        try requireComplete()
        return Array(UnsafeRawBufferPointer(start: bson_get_data(root), count: Int(musicetl_bson_length(root))))
    }

    /// A copy as an owned `BSONDocument`.
    public func document() throws(BSONBuilderError) -> BSONDocument {
        try requireComplete()
        guard let copy = bson_copy(root) else {
            throw BSONBuilderError(key: "", message: "bson_copy returned no document (out of memory)")
        }
        return BSONDocument(owning: copy)
    }

    /// Prints the document as a staging line (`JSONLineEncoder`), made on first use.
    private var encoder: JSONLineEncoder?

    /// Appends the document's staging line (`JSONLineEncoder`), without a newline, to `output`.
    public func appendJSONLine(to output: inout [UInt8]) throws(BSONBuilderError) {
        try requireComplete()
        let encoder = self.encoder ?? JSONLineEncoder()
        self.encoder = encoder
        try encoder.append(BorrowedBSON(root), to: &output)
    }

    /// The document's staging line.
    public func jsonLine() throws(BSONBuilderError) -> String {
        var text: [UInt8] = []
        try appendJSONLine(to: &text)
        return String(decoding: text, as: UTF8.self)
    }
}

/// UTF-8 validation by the standard library's decoder (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF).
public enum UTF8Validation {
    public static func isValid(_ input: UnsafeBufferPointer<UInt8>) -> Bool {
        var iterator = input.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .error: return false
            case .emptyInput: return true
            }
        }
    }
}

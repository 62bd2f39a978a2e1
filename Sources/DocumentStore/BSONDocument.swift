import CMongoC

/// A BSON document held by libbson (`bson_t`), owned by this object: `deinit` destroys it.
///
/// This is what crosses into libmongoc. Convert from and to `Document` for Swift-side work. Staging
/// lines are read by `ExtendedJSONParser` (`JSONLinesReader`), other JSON (schemas, queries,
/// manifests: `init(json:)`) by libbson's parser; staging lines are written by `JSONLineEncoder`, other JSON
/// (ledger, export manifests, `--format jsonl`) by libbson's `bson_as_relaxed_extended_json`.
/// Not thread-safe; hand it to one task at a time.
public final class BSONDocument {
    let pointer: OpaquePointer

    /// Takes ownership of a `bson_t` allocated by libbson (`bson_new`, `bson_copy`, …).
    init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    public convenience init() throws(MongoError) {
        guard let fresh = bson_new() else { throw MongoError.allocationFailed("bson_new") }
        self.init(owning: fresh)
    }

    /// Copies a borrowed document (e.g. one a cursor yields, valid only until the next call).
    convenience init(copying borrowed: OpaquePointer) throws(MongoError) {
        guard let copy = bson_copy(borrowed) else { throw MongoError.allocationFailed("bson_copy") }
        self.init(owning: copy)
    }

    /// Runs `call` with a reply for libmongoc to fill and returns what it returned with the reply,
    /// owned. libmongoc takes a reply as an *uninitialised* `bson_t` that it `bson_init`s (marking
    /// it static) and the caller destroys: a `bson_new` document handed to it would never free its
    /// heap struct. So the reply lives in temporary storage, destroyed here, and is copied out.
    static func receivingReply(_ call: (OpaquePointer) -> Bool) throws(MongoError) -> (succeeded: Bool, reply: BSONDocument) {
        let (succeeded, copy) = withUnsafeTemporaryAllocation(byteCount: musicetl_bson_size(),
                                                              alignment: musicetl_bson_alignment()) { storage -> (Bool, OpaquePointer?) in
            guard let base = storage.baseAddress else { return (false, nil) }
            let reply = OpaquePointer(base)
            // Initialised here as well, so destroying it is right even on a path that leaves it
            // untouched; initialising an inline bson_t again allocates nothing.
            bson_init(reply)
            defer { bson_destroy(reply) }
            let succeeded = call(reply)
            return (succeeded, bson_copy(reply))
        }
        guard let copy else { throw MongoError.allocationFailed("bson_copy") }
        return (succeeded, BSONDocument(owning: copy))
    }

    public convenience init(_ document: Document) throws(MongoError) {
        try self.init()
        for field in document.fields {
            try append(field.key, field.value)
        }
    }

    /// Parses one JSON object (relaxed or canonical MongoDB Extended JSON) with libbson.
    public convenience init(json: String) throws(MongoError) {
        var error = bson_error_t()
        let parsed = json.utf8CString.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: UInt8.self) { bytes in
                // The count excludes the trailing NUL that utf8CString adds.
                bson_new_from_json(bytes.baseAddress, bytes.count - 1, &error)
            }
        }
        guard let parsed else { throw MongoError(error) }
        self.init(owning: parsed)
    }

    deinit { bson_destroy(pointer) }

    /// Number of top-level keys.
    public var count: Int { Int(bson_count_keys(pointer)) }

    /// The raw BSON bytes (for hashing and size checks); valid while `self` lives.
    public func withRawBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try body(UnsafeRawBufferPointer(start: bson_get_data(pointer), count: byteCount))
    }

    public var byteCount: Int { Int(musicetl_bson_length(pointer)) }

    /// Relaxed MongoDB Extended JSON on one line (numbers as plain JSON numbers where exact).
    public var relaxedExtendedJSON: String { Self.json(pointer, relaxed: true) }

    /// Canonical Extended JSON: every type spelled out (`$numberLong`, `$numberDouble`, …).
    public var canonicalExtendedJSON: String { Self.json(pointer, relaxed: false) }

    static func json(_ pointer: OpaquePointer, relaxed: Bool) -> String {
        var length = 0
        guard let text = relaxed ? bson_as_relaxed_extended_json(pointer, &length)
                                 : bson_as_canonical_extended_json(pointer, &length) else {
            // libbson refuses only documents that are themselves corrupt.
            return "{}"
        }
        defer { bson_free(text) }
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }

    // MARK: Building

    public func append(_ key: String, _ value: BSONValue) throws(MongoError) {
        if !Self.append(value, key: key, to: pointer) {
            throw MongoError(domain: UInt32(BSON_ERROR_INVALID), code: 0,
                             message: "libbson could not append field '\(key)' (document over the BSON size limit?)",
                             kind: .invalidInput)
        }
    }

    private static func append(_ value: BSONValue, key: String, to document: OpaquePointer) -> Bool {
        switch value {
        case .double(let v): return bson_append_double(document, key, -1, v)
        case .string(let s):
            // Explicit length: BSON strings may hold NUL bytes.
            return s.withCString { bson_append_utf8(document, key, -1, $0, Int32(s.utf8.count)) }
        case .document(let sub):
            return appendChild(key, isArray: false, to: document) { child in
                sub.fields.allSatisfy { append($0.value, key: $0.key, to: child) }
            }
        case .array(let elements):
            return appendChild(key, isArray: true, to: document) { child in
                elements.indices.allSatisfy { append(elements[$0], key: String($0), to: child) }
            }
        case .binary(let bytes):
            return bytes.withUnsafeBufferPointer {
                bson_append_binary(document, key, -1, BSON_SUBTYPE_BINARY, $0.baseAddress, UInt32($0.count))
            }
        case .objectID(let hex):
            guard hex.utf8.count == 24, bson_oid_is_valid(hex, 24) else { return false }
            var oid = bson_oid_t()
            bson_oid_init_from_string(&oid, hex)
            return bson_append_oid(document, key, -1, &oid)
        case .bool(let b): return bson_append_bool(document, key, -1, b)
        case .dateTime(let ms): return bson_append_date_time(document, key, -1, ms)
        case .null: return bson_append_null(document, key, -1)
        case .int32(let v): return bson_append_int32(document, key, -1, v)
        case .int64(let v): return bson_append_int64(document, key, -1, v)
        case .timestamp(let seconds, let increment):
            return bson_append_timestamp(document, key, -1, seconds, increment)
        case .decimal128(let text):
            var decimal = bson_decimal128_t()
            guard bson_decimal128_from_string(text, &decimal) else { return false }
            return bson_append_decimal128(document, key, -1, &decimal)
        }
    }

    /// Appends a sub-document or array that `fill` writes in place, inside `document`'s own buffer
    /// (no buffer of its own to allocate and copy over).
    private static func appendChild(_ key: String, isArray: Bool, to document: OpaquePointer,
                                    _ fill: (OpaquePointer) -> Bool) -> Bool {
        withUnsafeTemporaryAllocation(byteCount: musicetl_bson_size(), alignment: musicetl_bson_alignment()) { storage in
            guard let base = storage.baseAddress else { return false }
            let child = OpaquePointer(base)
            let began = isArray ? bson_append_array_begin(document, key, -1, child)
                                : bson_append_document_begin(document, key, -1, child)
            guard began else { return false }
            let filled = fill(child)
            let ended = isArray ? bson_append_array_end(document, child) : bson_append_document_end(document, child)
            return filled && ended
        }
    }

    // MARK: Reading

    /// The whole document as Swift data.
    public func document() throws(MongoError) -> Document {
        try Self.decode(pointer)
    }

    /// One top-level field, or nil when absent.
    /// Whether the document has a field `key`, without decoding its value.
    public func contains(key: String) -> Bool {
        let iterator = BSONIterator()
        return bson_iter_init_find(iterator.pointer, pointer, key)
    }

    public subscript(key: String) -> BSONValue? {
        let iterator = BSONIterator()
        guard bson_iter_init_find(iterator.pointer, pointer, key) else { return nil }
        return try? Self.value(at: iterator)
    }

    /// `{_id: <this document's _id>}`, the element copied as it is; nil when there is no `_id`.
    func idSelector() throws(MongoError) -> BSONDocument? {
        let iterator = BSONIterator()
        guard bson_iter_init_find(iterator.pointer, pointer, "_id") else { return nil }
        let selector = try BSONDocument()
        guard bson_append_iter(selector.pointer, "_id", 3, iterator.pointer) else {
            throw MongoError(domain: UInt32(BSON_ERROR_INVALID), code: 0, message: "libbson could not copy an _id",
                             kind: .invalidInput)
        }
        return selector
    }

    static func decode(_ pointer: OpaquePointer) throws(MongoError) -> Document {
        let iterator = BSONIterator()
        guard bson_iter_init(iterator.pointer, pointer) else { throw MongoError.corrupt("document") }
        return try decodeFields(iterator)
    }

    private static func decodeFields(_ iterator: BSONIterator) throws(MongoError) -> Document {
        var fields: [Document.Field] = []
        while bson_iter_next(iterator.pointer) {
            let key = String(cString: bson_iter_key(iterator.pointer))
            fields.append(Document.Field(key, try value(at: iterator)))
        }
        return Document(fields)
    }

    static func value(at iterator: BSONIterator) throws(MongoError) -> BSONValue {
        switch bson_iter_type(iterator.pointer) {
        case BSON_TYPE_DOUBLE: return .double(bson_iter_double(iterator.pointer))
        case BSON_TYPE_UTF8:
            var length: UInt32 = 0
            guard let text = bson_iter_utf8(iterator.pointer, &length) else { return .string("") }
            return .string(String(decoding: UnsafeRawBufferPointer(start: text, count: Int(length)), as: UTF8.self))
        case BSON_TYPE_DOCUMENT:
            let child = BSONIterator()
            guard bson_iter_recurse(iterator.pointer, child.pointer) else { throw MongoError.corrupt("sub-document") }
            return .document(try decodeFields(child))
        case BSON_TYPE_ARRAY:
            let child = BSONIterator()
            guard bson_iter_recurse(iterator.pointer, child.pointer) else { throw MongoError.corrupt("array") }
            return .array(try decodeFields(child).fields.map(\.value))
        case BSON_TYPE_BINARY:
            var subtype = BSON_SUBTYPE_BINARY
            var length: UInt32 = 0
            var bytes: UnsafePointer<UInt8>?
            bson_iter_binary(iterator.pointer, &subtype, &length, &bytes)
            return .binary(bytes.map { Array(UnsafeBufferPointer(start: $0, count: Int(length))) } ?? [])
        case BSON_TYPE_OID:
            guard let oid = bson_iter_oid(iterator.pointer) else { throw MongoError.corrupt("ObjectId") }
            var text = [CChar](repeating: 0, count: 25)
            bson_oid_to_string(oid, &text)
            return .objectID(String(decoding: text.prefix(24).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        case BSON_TYPE_BOOL: return .bool(bson_iter_bool(iterator.pointer))
        case BSON_TYPE_DATE_TIME: return .dateTime(bson_iter_date_time(iterator.pointer))
        case BSON_TYPE_NULL, BSON_TYPE_UNDEFINED: return .null
        case BSON_TYPE_INT32: return .int32(bson_iter_int32(iterator.pointer))
        case BSON_TYPE_INT64: return .int64(bson_iter_int64(iterator.pointer))
        case BSON_TYPE_TIMESTAMP:
            var seconds: UInt32 = 0
            var increment: UInt32 = 0
            bson_iter_timestamp(iterator.pointer, &seconds, &increment)
            return .timestamp(seconds: seconds, increment: increment)
        case BSON_TYPE_DECIMAL128:
            var decimal = bson_decimal128_t()
            guard bson_iter_decimal128(iterator.pointer, &decimal) else { throw MongoError.corrupt("Decimal128") }
            var text = [CChar](repeating: 0, count: Int(BSON_DECIMAL128_STRING))
            bson_decimal128_to_string(&decimal, &text)
            return .decimal128(String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) },
                                      as: UTF8.self))
        default:
            let key = String(cString: bson_iter_key(iterator.pointer))
            throw MongoError(domain: UInt32(BSON_ERROR_INVALID), code: 0,
                             message: "field '\(key)' has a BSON type MusicETL does not read (\(bson_iter_type(iterator.pointer).rawValue))",
                             kind: .invalidInput)
        }
    }
}

extension MongoError {
    static func allocationFailed(_ function: String) -> MongoError {
        MongoError(domain: 0, code: 0, message: "\(function) returned no document (out of memory)", kind: .other)
    }

    static func corrupt(_ what: String) -> MongoError {
        MongoError(domain: UInt32(BSON_ERROR_INVALID), code: 0, message: "corrupt BSON \(what)", kind: .invalidInput)
    }
}

/// Storage for a `bson_iter_t`, which Swift cannot allocate itself (it is over-aligned and opaque
/// to the importer); sized and aligned by the C accessors in the CMongoC shim.
final class BSONIterator {
    let pointer: OpaquePointer
    private let raw: UnsafeMutableRawPointer

    init() {
        let size = musicetl_bson_iter_size()
        raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: musicetl_bson_iter_alignment())
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        pointer = OpaquePointer(raw)
    }

    deinit { raw.deallocate() }
}

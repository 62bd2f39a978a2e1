import CMongoC

/// A document libbson lends out (a cursor's current document, or a `BSONDocument`'s bytes), valid
/// only until the lender moves on: read it at once, never keep it.
public struct BorrowedBSON {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    /// Copies it into an owned document.
    public func copy() throws(MongoError) -> BSONDocument { try BSONDocument(copying: pointer) }

    /// Decodes it into Swift values (the general, slower path).
    public func document() throws(MongoError) -> Document { try BSONDocument.decode(pointer) }

    public var byteCount: Int { Int(musicetl_bson_length(pointer)) }

    /// The raw BSON bytes, valid as long as the document is.
    public func withRawBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try body(UnsafeRawBufferPointer(start: bson_get_data(pointer), count: byteCount))
    }
}

extension BSONDocument {
    /// This document, lent for the duration of `body`.
    public func withBorrowed<T>(_ body: (BorrowedBSON) throws -> T) rethrows -> T {
        try withExtendedLifetime(self) { try body(BorrowedBSON(pointer)) }
    }
}

/// The BSON types a field can hold, as far as readers of MusicETL's documents care.
public enum BSONFieldType: Equatable, Sendable {
    case double, string, document, array, bool, null, int32, int64, dateTime
    /// Anything else (ObjectId, binary, decimal128, timestamp, …): read it with `value`.
    case other
}

/// Walks a borrowed document field by field with libbson's iterator, without building Swift
/// values: the hot path of readers that turn many documents into bytes (the export). One reader is
/// reused for every document; it keeps one iterator per nesting level.
///
/// Usage: `start(document)`, then `while next() { … }`; on a document or array field,
/// `enter()` … `while next()` … `leave()`.
public final class BSONFieldReader {
    private var levels: [BSONIterator]
    private var depth = 0
    /// The iterator of the current level (kept apart so field accessors touch no array).
    private var current: OpaquePointer

    public init() {
        levels = [BSONIterator()]
        current = levels[0].pointer
    }

    /// Starts reading `document` at its top level; false if libbson finds it corrupt.
    public func start(_ document: BorrowedBSON) -> Bool {
        depth = 0
        current = levels[0].pointer
        return bson_iter_init(current, document.pointer)
    }

    /// Moves to the next field of the current level; false at its end.
    public func next() -> Bool { bson_iter_next(current) }

    /// Descends into the current field (a document or array); false if it is neither or corrupt.
    public func enter() -> Bool {
        if depth + 1 == levels.count { levels.append(BSONIterator()) }
        let child = levels[depth + 1].pointer
        guard bson_iter_recurse(current, child) else { return false }
        depth += 1
        current = child
        return true
    }

    /// Returns to the level above, positioned on the field that was entered.
    public func leave() {
        precondition(depth > 0, "leave() without enter()")
        depth -= 1
        current = levels[depth].pointer
    }

    /// The current field's key, NUL-terminated UTF-8 owned by the document.
    public var key: UnsafePointer<CChar> { bson_iter_key(current) }

    /// Whether the current field's key is `expected` (a NUL-terminated UTF-8 key).
    public func keyEquals(_ expected: UnsafePointer<CChar>) -> Bool { strcmp(bson_iter_key(current), expected) == 0 }

    public var keyString: String { String(cString: bson_iter_key(current)) }

    public var type: BSONFieldType {
        switch bson_iter_type(current) {
        case BSON_TYPE_DOUBLE: .double
        case BSON_TYPE_UTF8: .string
        case BSON_TYPE_DOCUMENT: .document
        case BSON_TYPE_ARRAY: .array
        case BSON_TYPE_BOOL: .bool
        case BSON_TYPE_NULL, BSON_TYPE_UNDEFINED: .null
        case BSON_TYPE_INT32: .int32
        case BSON_TYPE_INT64: .int64
        case BSON_TYPE_DATE_TIME: .dateTime
        default: .other
        }
    }

    // Accessors for the current field; each is meaningful only for its own type.
    public var double: Double { bson_iter_double(current) }
    public var int32: Int32 { bson_iter_int32(current) }
    public var int64: Int64 { bson_iter_int64(current) }
    public var bool: Bool { bson_iter_bool(current) }
    /// Milliseconds since the Unix epoch.
    public var dateTime: Int64 { bson_iter_date_time(current) }

    /// The text of a string field (may contain NUL bytes), valid as long as the document is.
    public var utf8: UnsafeBufferPointer<UInt8> {
        var length: UInt32 = 0
        guard let text = bson_iter_utf8(current, &length) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeRawPointer(text).withMemoryRebound(to: UInt8.self, capacity: Int(length)) {
            UnsafeBufferPointer(start: $0, count: Int(length))
        }
    }

    /// The current field as a Swift value (any type; the general path).
    public func value() throws(MongoError) -> BSONValue {
        try BSONDocument.value(at: levels[depth])
    }
}

/// Documents stored back to back as raw BSON bytes (e.g. copied off a cursor to be read on
/// another thread), lent one at a time through one reusable `bson_t`.
public final class BSONSequenceReader {
    private let storage: UnsafeMutableRawPointer

    public init() {
        storage = UnsafeMutableRawPointer.allocate(byteCount: musicetl_bson_size(), alignment: musicetl_bson_alignment())
    }

    deinit { storage.deallocate() }

    /// Calls `body` with each document of `bytes`, in order; throws if a length prefix or a
    /// document is corrupt.
    public func forEach(in bytes: UnsafeRawBufferPointer, _ body: (BorrowedBSON) throws -> Void) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            guard offset + 4 <= bytes.count else { throw MongoError.corrupt("document sequence (truncated length)") }
            let length = Int(UInt32(littleEndian: (base + offset).loadUnaligned(as: UInt32.self)))
            guard length >= 5, offset + length <= bytes.count,
                  bson_init_static(OpaquePointer(storage), base.assumingMemoryBound(to: UInt8.self) + offset, length) else {
                throw MongoError.corrupt("document sequence (document at byte \(offset))")
            }
            try body(BorrowedBSON(OpaquePointer(storage)))
            offset += length
        }
    }
}

import DocumentStore
import Tabular

/// What `RowBuilder` builds a row's document with: libbson's builder (`BSONBuilder`: BSON, printed
/// afterwards) or `RelaxedJSONWriter`'s building API (the staged JSON line directly, the fast
/// path). The same calls give the same document; `ExtractRowWorkersTests` holds the two to the
/// same bytes.
protocol RowDocumentWriter: AnyObject {
    func appendNull(_ key: BSONKey) throws(BSONBuilderError)
    func append(_ key: BSONKey, int64: Int64) throws(BSONBuilderError)
    func append(_ key: BSONKey, double: Double) throws(BSONBuilderError)
    func append(_ key: BSONKey, bool: Bool) throws(BSONBuilderError)
    func append(_ key: BSONKey, dateTime: Int64) throws(BSONBuilderError)
    func append(_ key: BSONKey, string: String) throws(BSONBuilderError)
    /// Text; invalid UTF-8 replaced by U+FFFD. Returns false when it repaired.
    func append(_ key: BSONKey, repairingUTF8: UnsafeBufferPointer<UInt8>) throws(BSONBuilderError) -> Bool
    func beginDocument(_ key: BSONKey) throws(BSONBuilderError)
    func endDocument() throws(BSONBuilderError)
    func beginArray(_ key: BSONKey) throws(BSONBuilderError)
    func endArray() throws(BSONBuilderError)
    /// Position `field` of an embedded album's or artist's fields; false when it has no such position.
    func append(_ key: BSONKey, field: Int, of row: LookupRow) throws(BSONBuilderError) -> Bool
    /// A value as JSON text this writer printed before (an `ObjectReuse` hit, a printed literal:
    /// both exist only when rows are written as JSON). A protocol requirement rather than a cast to
    /// the JSON writer: the cast's strong reference was retained and released per reused object.
    func append(_ key: BSONKey, printedValue: UnsafeBufferPointer<UInt8>) throws(BSONBuilderError)
    /// The key of a dictionary cell's entry.
    func key(named name: String) -> BSONKey
    /// The same from the entry's bytes as written in the cell (invalid UTF-8 replaced by U+FFFD).
    func key(utf8: UnsafeBufferPointer<UInt8>) -> BSONKey
    /// Where the JSON text of the last value appended to the outermost document lies in the
    /// writer's bytes (nil: the writer writes no text).
    var lastValueSpan: Range<Int>? { get }
}

extension RowDocumentWriter {
    /// A coerced cell: integers as the narrowest BSON integer, lists as arrays, dictionaries as
    /// sub-documents (keys in source order).
    func append(_ key: BSONKey, _ value: FieldValue) throws(BSONBuilderError) {
        switch value {
        case .null: try appendNull(key)
        case .bool(let flag): try append(key, bool: flag)
        case .int(let number): try append(key, int64: number)
        case .double(let number): try append(key, double: number)
        case .string(let text): try append(key, string: text)
        case .dateTime(let milliseconds): try append(key, dateTime: milliseconds)
        case .list(let elements):
            try beginArray(key)
            for (index, element) in elements.enumerated() {
                try withIndexKey(index) { (key) throws(BSONBuilderError) in try append(key, element) }
            }
            try endArray()
        case .dictionary(let entries):
            try beginDocument(key)
            for entry in entries { try append(self.key(named: entry.key), entry.value) }
            try endDocument()
        }
    }
}

extension BSONBuilder: RowDocumentWriter {
    func key(named name: String) -> BSONKey { BSONKey(name) }
    func key(utf8: UnsafeBufferPointer<UInt8>) -> BSONKey { BSONKey(String(decoding: utf8, as: UTF8.self)) }
    var lastValueSpan: Range<Int>? { nil }

    func append(_ key: BSONKey, printedValue: UnsafeBufferPointer<UInt8>) {
        preconditionFailure("JSON text reached libbson's builder: objects are reused and literals printed only when rows are written as JSON")
    }

    func append(_ key: BSONKey, field: Int, of row: LookupRow) throws(BSONBuilderError) -> Bool {
        precondition(row.hasBSON || row.fieldCount == 0, "a lookup row made for the JSON writer reached libbson's builder")
        return try row.withBSON { (document) throws(BSONBuilderError) in try append(key, elementAt: field, ofRawDocument: document) }
    }
}

extension RelaxedJSONWriter: RowDocumentWriter {
    var lastValueSpan: Range<Int>? { valueStart..<count }

    func append(_ key: BSONKey, field: Int, of row: LookupRow) -> Bool {
        precondition(row.fieldCount > 0 || !row.hasBSON, "a lookup row made for libbson's builder reached the JSON writer")
        return row.withJSONValue(field) { append(key, printedValue: $0) } != nil
    }
}

/// `object` for the duration of `body`, without a retain: the caller keeps it alive (`Shape`'s
/// keys by the plan, lookup rows by their table). Rows are built on several threads at once, and
/// retaining shared keys and rows per field made their reference counts a hot spot.
@inline(__always)
func borrowed<Object: AnyObject, R>(_ object: Unmanaged<Object>,
                                    _ body: (Object) throws(BSONBuilderError) -> R) throws(BSONBuilderError) -> R {
    let result: Result<R, BSONBuilderError> = object._withUnsafeGuaranteedRef { object in
        Result { () throws(BSONBuilderError) -> R in try body(object) }
    }
    return try result.get()
}

/// The key of array element `index` ("0", "1", …) for the duration of `body`, without a retain.
@inline(__always)
func withIndexKey<R>(_ index: Int, _ body: (BSONKey) throws(BSONBuilderError) -> R) throws(BSONBuilderError) -> R {
    let key = BSONKey.unretainedIndex(index)
    return try withExtendedLifetime(key) { () throws(BSONBuilderError) -> R in try borrowed(key.unmanaged, body) }
}

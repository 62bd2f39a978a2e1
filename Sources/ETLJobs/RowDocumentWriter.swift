import DocumentStore
import Tabular

extension BSONBuilder {
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
            for entry in entries { try append(BSONKey(entry.key), entry.value) }
            try endDocument()
        }
    }

    /// Position `field` of an embedded album's or artist's fields; false when it has no such position.
    func append(_ key: BSONKey, field: Int, of row: LookupRowView) throws(BSONBuilderError) -> Bool {
        try append(key, elementAt: field, ofRawDocument: row.bson)
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

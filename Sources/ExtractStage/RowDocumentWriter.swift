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
                try append(.index(index), element)
            }
            try endArray()
        case .dictionary(let entries):
            try beginDocument(key)
            for entry in entries { try append(BSONKey(entry.key), entry.value) }
            try endDocument()
        }
    }

    /// Position `field` of an embedded album's or artist's fields; false when it has no such position.
    func append(_ key: BSONKey, field: Int, of row: LookupRow) throws(BSONBuilderError) -> Bool {
        try row.withBSON { (document) throws(BSONBuilderError) in try append(key, elementAt: field, ofRawDocument: document) }
    }
}

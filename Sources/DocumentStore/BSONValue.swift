import Foundation

/// A BSON value as plain Swift data: what `BSONDocument` decodes to and encodes from.
///
/// Integers keep their BSON width (`int32` vs `int64`); `BSONValue.integer(_:)` picks the narrowest,
/// which is also what libbson's JSON parser picks, so a document survives a JSON Lines round trip
/// with the same bytes (and the same content hash).
public enum BSONValue: Sendable, Equatable {
    case double(Double)
    case string(String)
    case document(Document)
    case array([BSONValue])
    case binary([UInt8])
    case objectID(String)  // 24 lowercase hex digits
    case bool(Bool)
    /// Milliseconds since the Unix epoch, UTC.
    case dateTime(Int64)
    case null
    case int32(Int32)
    case int64(Int64)
    case decimal128(String)
    /// MongoDB's internal timestamp (seconds, increment), seen in server replies.
    case timestamp(seconds: UInt32, increment: UInt32)

    /// Structural equality where NaN equals NaN: a statistic that is NaN in two runs is the same
    /// data (BSON stores it; change detection and tests compare documents with it).
    public static func == (lhs: BSONValue, rhs: BSONValue) -> Bool {
        switch (lhs, rhs) {
        case let (.double(l), .double(r)): l == r || (l.isNaN && r.isNaN)
        case let (.string(l), .string(r)): l == r
        case let (.document(l), .document(r)): l == r
        case let (.array(l), .array(r)): l == r
        case let (.binary(l), .binary(r)): l == r
        case let (.objectID(l), .objectID(r)): l == r
        case let (.bool(l), .bool(r)): l == r
        case let (.dateTime(l), .dateTime(r)): l == r
        case (.null, .null): true
        case let (.int32(l), .int32(r)): l == r
        case let (.int64(l), .int64(r)): l == r
        case let (.decimal128(l), .decimal128(r)): l == r
        case let (.timestamp(ls, li), .timestamp(rs, ri)): ls == rs && li == ri
        default: false
        }
    }

    /// The narrowest BSON integer holding `value`.
    public static func integer(_ value: Int64) -> BSONValue {
        if let narrow = Int32(exactly: value) { return .int32(narrow) }
        return .int64(value)
    }

    public static func integer(_ value: Int) -> BSONValue { integer(Int64(value)) }

    public static func date(_ date: Date) -> BSONValue {
        .dateTime(Int64((date.timeIntervalSince1970 * 1000).rounded()))
    }

    /// Any integer width as `Int64`; nil for every other type (doubles are not silently truncated).
    public var int64Value: Int64? {
        switch self {
        case .int32(let v): Int64(v)
        case .int64(let v): v
        default: nil
        }
    }

    /// Numbers of any BSON numeric type as `Double`.
    public var doubleValue: Double? {
        switch self {
        case .double(let v): v
        case .int32(let v): Double(v)
        case .int64(let v): Double(v)
        default: nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var documentValue: Document? {
        if case .document(let d) = self { return d }
        return nil
    }

    public var arrayValue: [BSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// An id as people write it: `21`, `000/000002.mp3` (no quotes, no type tags).
    public var idText: String {
        switch self {
        case .int32(let v): String(v)
        case .int64(let v): String(v)
        case .string(let s): s
        case .double(let v): v.description
        default: "\(self)"
        }
    }
}

extension BSONValue: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByNilLiteral
{
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: BSONValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
}

/// An ordered BSON document as Swift data. Key order is significant in BSON and kept here.
public struct Document: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public struct Field: Sendable, Equatable {
        public var key: String
        public var value: BSONValue
        public init(_ key: String, _ value: BSONValue) {
            self.key = key
            self.value = value
        }
    }

    public private(set) var fields: [Field]

    public init() { fields = [] }

    public init(_ fields: [Field]) { self.fields = fields }

    public init(dictionaryLiteral elements: (String, BSONValue)...) {
        fields = elements.map { Field($0.0, $0.1) }
    }

    public var count: Int { fields.count }
    public var keys: [String] { fields.map(\.key) }

    /// Reading finds the first field with that key; writing replaces it in place or appends.
    /// Assigning nil removes the field.
    public subscript(key: String) -> BSONValue? {
        get { fields.first(where: { $0.key == key })?.value }
        set {
            let index = fields.firstIndex(where: { $0.key == key })
            switch (index, newValue) {
            case let (i?, value?): fields[i].value = value
            case let (i?, nil): fields.remove(at: i)
            case let (nil, value?): fields.append(Field(key, value))
            case (nil, nil): break
            }
        }
    }

    /// Follows a dotted path through sub-documents (`"album.title"`).
    public subscript(path path: String) -> BSONValue? {
        var current: BSONValue = .document(self)
        for component in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard case .document(let document) = current, let next = document[String(component)] else {
                return nil
            }
            current = next
        }
        return current
    }

    public mutating func append(_ key: String, _ value: BSONValue) {
        fields.append(Field(key, value))
    }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
}

import DocumentStore
import Pipeline

/// Reads the fields of staged documents of one shape by name, without building Swift values per
/// field: `fields` are the names the reader wants, in the order they are usually staged (schema
/// order), so matching a key is one comparison in the common case.
final class StagedFieldMatcher {
    private let names: [StaticString]
    private var expected = 0
    let reader = BSONFieldReader()

    init(_ names: [StaticString]) {
        self.names = names
    }

    func name(_ index: Int) -> String { names[index].description }

    /// The index in `names` of the reader's current field, or nil for a field the reader does not want.
    func currentIndex() -> Int? {
        if expected < names.count, reader.keyEquals(Self.cString(names[expected])) {
            defer { expected += 1 }
            return expected
        }
        guard let index = names.firstIndex(where: { reader.keyEquals(Self.cString($0)) }) else { return nil }
        expected = index + 1
        return index
    }

    /// Starts `document`; false if it is corrupt.
    func start(_ document: BorrowedBSON) -> Bool {
        expected = 0
        return reader.start(document)
    }

    private static func cString(_ name: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    // Typed reads of the current field; `nil` when the staged type is not the schema's.
    var string: String? { reader.type == .string ? String(decoding: reader.utf8, as: UTF8.self) : nil }

    var integer: Int64? {
        switch reader.type {
        case .int32: Int64(reader.int32)
        case .int64: reader.int64
        default: nil
        }
    }

    /// A double column also takes an integer (a whole number staged without a fraction).
    var double: Double? {
        switch reader.type {
        case .double: reader.double
        case .int32: Double(reader.int32)
        case .int64: Double(reader.int64)
        default: nil
        }
    }

    var bool: Bool? { reader.type == .bool ? reader.bool : nil }

    var dateTime: Int64? { reader.type == .dateTime ? reader.dateTime : nil }
}

/// The indexes of the fields a document had (at most 64), without an allocation per document.
struct FieldSet {
    private var bits: UInt64 = 0

    mutating func insert(_ index: Int) { bits |= 1 << UInt64(index) }

    /// The first of `0..<count` not inserted, or nil.
    func firstMissing(of count: Int) -> Int? {
        (0..<count).first { bits & (1 << UInt64($0)) == 0 }
    }
}

/// A staged document that is not of its schema's shape: names the file, line and field.
func stagedShapeError(_ path: String, line: Int, _ problem: String) -> JobError {
    JobError(.dataError, "\(path):\(line): \(problem) (the staged file is not etl-extract's: re-run etl-extract --dataset mssd)")
}

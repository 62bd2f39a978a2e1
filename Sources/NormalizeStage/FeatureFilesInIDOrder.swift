import DocumentStore
import Staging

/// The documents of one or more staged feature files in track-id order: `etl-features` writes
/// each file in id order, so merging the files of a `--shard K/N` layout gives the documents in
/// exactly the order of the unsharded `features.jsonl`. Whatever folds over them in order (the
/// scaler's fit) then gives the same result, bit for bit, however the features were sharded.
/// One document per file is held at a time.
struct FeatureFilesInIDOrder {
    struct Staged {
        let document: BSONDocument
        let path: String
        let lineNumber: Int
    }

    private struct Head {
        let staged: Staged
        let id: TrackID?
        let reader: JSONLinesReader
    }

    private var heads: [Head] = []

    init(paths: [String]) throws {
        for path in paths {
            let reader = try JSONLinesReader(path: path)
            if let head = try Self.read(reader) { heads.append(head) }
        }
    }

    /// The next document in id order (documents without an id sort first, in file order); nil at the end.
    mutating func next() throws -> Staged? {
        guard !heads.isEmpty else { return nil }
        var first = 0
        for index in heads.indices.dropFirst() where Self.precedes(heads[index].id, heads[first].id) {
            first = index
        }
        let head = heads[first]
        if let following = try Self.read(head.reader) {
            heads[first] = following
        } else {
            heads.remove(at: first)
        }
        return head.staged
    }

    private static func precedes(_ lhs: TrackID?, _ rhs: TrackID?) -> Bool {
        switch (lhs, rhs) {
        case (nil, _): false
        case (_, nil): true
        case let (lhs?, rhs?): lhs < rhs
        }
    }

    private static func read(_ reader: JSONLinesReader) throws -> Head? {
        guard let document = try reader.next() else { return nil }
        let id: TrackID? = switch document["_id"] {
        case .int32(let value): .integer(Int64(value))
        case .int64(let value): .integer(value)
        case .string(let text): TrackID(text: text)
        default: nil
        }
        return Head(staged: Staged(document: document, path: reader.path, lineNumber: reader.lineNumber), id: id, reader: reader)
    }
}

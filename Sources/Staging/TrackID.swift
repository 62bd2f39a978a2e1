import DocumentStore
import Foundation
import Pipeline
import Tabular

/// A feature document's `_id`: the integer track id (FMA `000/000002.mp3` → 2), or the file's path
/// relative to `--audio` when the stem is not an integer (or with `--id-from path`).
///
/// Ordered like MongoDB orders them (numbers before strings; strings by their UTF-8 bytes), which
/// is the order of the staging file.
public enum TrackID: Hashable, Sendable, Comparable, CustomStringConvertible {
    case integer(Int64)
    case path(String)

    /// The text `--only` and `--shard` see: the decimal number, or the path.
    public var text: String {
        switch self {
        case .integer(let value): String(value)
        case .path(let path): path
        }
    }

    public var description: String { text }

    public var bson: BSONValue {
        switch self {
        case .integer(let value): .integer(value)
        case .path(let path): .string(path)
        }
    }

    /// From the text `--only` gives (normalised): digits are a number, anything else a path.
    public init(text: String) {
        self = OnlyIDs.integer(text).map(TrackID.integer) ?? .path(text)
    }

    public init?(bson: BSONValue) {
        if let integer = bson.int64Value {
            self = .integer(integer)
        } else if let path = bson.stringValue {
            self = .path(path)
        } else {
            return nil
        }
    }

    public static func < (lhs: TrackID, rhs: TrackID) -> Bool {
        switch (lhs, rhs) {
        case let (.integer(a), .integer(b)): a < b
        case (.integer, .path): true
        case (.path, .integer): false
        case let (.path(a), .path(b)): a.utf8.lexicographicallyPrecedes(b.utf8)
        }
    }

    /// FNV-1a 64 of `text`'s UTF-8 bytes: the `--shard` partition key. Stable across runs,
    /// machines and Swift versions (unlike `hashValue`).
    public var stableHash: UInt64 { StableHash.fnv1a64(text) }
}

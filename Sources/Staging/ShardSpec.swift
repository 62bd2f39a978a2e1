import Foundation

/// `--shard K/N`: this run is worker K of N. The features take the ids whose hash is K − 1
/// modulo N; the extract takes the K-th of N contiguous runs of a partitioned entity's files.
public struct ShardSpec: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public init?(argument: String) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let n = Int(parts[1].trimmingCharacters(in: .whitespaces)) else { return nil }
        self.init(index: k, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    public var isValid: Bool { count >= 1 && index >= 1 && index <= count }

    /// Why this is not a shard, in the flag's words (every job's `--shard` says the same); nil when it is.
    public var problem: String? { isValid ? nil : "--shard \(self): K/N needs 1 ≤ K ≤ N" }

    /// `<stem>.shard-K-of-N.jsonl`, the staged file of this shard (`plays.shard-1-of-4.jsonl`).
    public func stagingFile(stem: String) -> String { "\(stem).shard-\(index)-of-\(count).jsonl" }

    /// K and N of `name` when it is a shard file of `stem`; nil for any other name.
    public static func parse(_ name: String, stem: String) -> ShardSpec? {
        let prefix = stem + ".shard-", suffix = ".jsonl"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else { return nil }
        let parts = name.dropFirst(prefix.count).dropLast(suffix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1] == "of", let index = Int(parts[0]), let count = Int(parts[2]) else { return nil }
        return ShardSpec(index: index, count: count)
    }
}

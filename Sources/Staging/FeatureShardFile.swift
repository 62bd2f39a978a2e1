/// The staged features of shard K of an N-shard `--shard` layout: `features.shard-K-of-N.jsonl`.
public enum FeatureShardFile {
    public static func name(index: Int, count: Int) -> String {
        "features.shard-\(index)-of-\(count).jsonl"
    }

    /// K and N of a shard file's name; nil for any other name (`features.jsonl` included).
    public static func parse(_ name: String) -> (index: Int, count: Int)? {
        let prefix = "features.shard-", suffix = ".jsonl"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else { return nil }
        let parts = name.dropFirst(prefix.count).dropLast(suffix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1] == "of", let index = Int(parts[0]), let count = Int(parts[2]) else { return nil }
        return (index, count)
    }
}

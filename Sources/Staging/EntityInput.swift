/// Where one entity's rows come from in a dataset's input directory, and how its staged
/// documents are keyed. A dataset lists one per entity, in extraction order.
public struct EntityInput: Sendable {
    public struct File: Sendable, Equatable {
        public var name: String
        /// Header rows before the data (FMA's processed tracks.csv has 3).
        public var headerRows: Int
        public init(_ name: String, headerRows: Int = 1) {
            self.name = name
            self.headerRows = headerRows
        }
    }

    public enum Files: Sendable {
        /// The first of these files that exists (FMA: tracks.csv, else raw_tracks.csv); the others
        /// are not read.
        case firstOf([File])
        /// Every file whose name has this prefix and suffix, in name order (MSSD: `log_*.csv`), read
        /// as one table: every file has the same header layout.
        case every(prefix: String, suffix: String, headerRows: Int)
    }

    /// The schema (`<schema>.schema.json`) the rows are validated against.
    public var schema: String
    public var files: Files
    /// `--shard K/N` splits this entity's files among N workers (contiguous runs of the sorted
    /// files, so shard 1..N in order read the files in the order one run reads them); the other
    /// entities are read whole by every shard.
    public var partitionedByShard: Bool

    public init(schema: String, files: Files, partitionedByShard: Bool = false) {
        self.schema = schema
        self.files = files
        self.partitionedByShard = partitionedByShard
    }
}

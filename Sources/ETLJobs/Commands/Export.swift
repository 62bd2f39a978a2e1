import ArgumentParser
import Datasets
import ExportStage
import Pipeline

/// `etl-export`: a MongoDB collection → flat files under WORK/exports (see `ExportStage`).
public struct ExportCommand: StageCommand {
    public static let jobName = ExportStage.jobName
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Export a collection (default: the dataset's training rows) as flat CSV/JSON Lines, streaming, with column roles, a class map, the scaler, partitions, shards and a manifest.",
        version: MusicETL.version)

    @OptionGroup public var mongo: MongoOptions

    @Option(name: .long, help: "Collection to export (default: the dataset's training rows, training for fma and skip_training for mssd; features: raw feature statistics; tracks, …).")
    public var collection: String?

    @Option(name: .long, help: "Export name: one folder name under WORK/exports (not empty, no '/', not starting with '.'). Default: the collection name, or <collection>-jsonl with --format jsonl. Required with --where, --only, --fields or --limit; a collection's default name (training, tracks-jsonl, …) is taken only by the full export of that collection in that format, so a narrowed or other export never replaces a default one.")
    public var name: String?

    @Option(name: .customLong("where"), help: "A MongoDB filter as a JSON object, e.g. '{\"split\": \"training\"}' or '{\"genre_top\": {\"$regex\": \"^Rock\"}}'.")
    public var filter: String?

    @Option(name: .long, help: "The label column (default: the one the collection's schema names in x-label, e.g. genre_top for training and tracks, is_skipped for skip_training; none: no label). Rows without a label go to unlabelled.csv (unlabelled.jsonl with --format jsonl), not to output, partitions or shards; when no row has one, the export is refused (exit 65, the previous export kept).")
    public var label: String?

    @Option(name: .long, help: "Only these columns, in this order (comma-separated headers or dotted paths).")
    public var fields: String?

    @Option(name: .long, help: "At most N rows.")
    public var limit: Int?

    @Option(name: .long, help: "Row order as a JSON object (default '{\"_id\": 1}').")
    public var sort: String?

    @Option(name: .long, help: "'-': write the rows to standard output instead of WORK/exports (no partitions, shards or manifest).")
    public var out: String?

    @Option(name: .long, help: "Also write Hive-style partitions by this column (split, genre_top, …).")
    public var partitionBy: String?

    @Option(name: .long, help: "Also write N shards (stratified by the label when there is one, else by a stable hash of the id).")
    public var shards = ExportOptions.defaults.shards

    @Option(name: .long, help: "Rows per partition part file.")
    public var rowsPerPart = ExportOptions.defaults.rowsPerPart

    @Option(name: .long, help: "Refuse --partition-by when the field has more distinct values than this (a folder and an open file each).")
    public var maxPartitions = ExportOptions.defaults.maxPartitions

    @Option(name: .long, help: "csv or jsonl (a JSON Lines export's default name is <collection>-jsonl, beside the CSV one).")
    public var format = ExportOptions.defaults.format

    @Option(name: .long, help: "Threads formatting CSV rows (default: all CPUs).")
    public var jobs: Int?

    @OptionGroup public var common: CommonOptions

    public init() {}

    public static var stageSettings: [StageSetting<ExportOptions>] {
        [
            .required("collection", \.collection),
            .option("name", \.name),
            .option("where", \.filter),
            .option("label", \.label),
            .option("fields", \.fields),
            .option("limit", \.limit),
            .option("sort", \.sort),
            .option("out", \.out),
            .option("partition-by", \.partitionBy),
            .option("shards", \.shards, default: .defaults),
            .option("rows-per-part", \.rowsPerPart, default: .defaults),
            .option("max-partitions", \.maxPartitions, default: .defaults),
            .option("format", \.format, default: .defaults),
            .option("jobs", \.jobs),
        ]
    }

    public static var configurableArguments: [ConfigurableArgument] {
        MongoOptions.configurableArguments + stageSettings.map(\.argument) + CommonOptions.configurableArguments
    }

    /// The stage's options these flags give.
    public var options: ExportOptions {
        var options = ExportOptions(mongo: mongo.target)
        if let collection { options.collection = collection }
        options.name = name
        options.filter = filter
        options.label = label
        options.fields = fields
        options.limit = limit
        options.sort = sort
        options.out = out
        options.partitionBy = partitionBy
        options.shards = shards
        options.rowsPerPart = rowsPerPart
        options.maxPartitions = maxPartitions
        options.format = format
        options.jobs = jobs
        options.only = common.onlyIDs
        return options
    }

    /// The stage's options for `dataset`: without `--collection`, its training rows.
    func options(for dataset: any Dataset) -> ExportOptions {
        var options = self.options
        if collection == nil { options.collection = dataset.trainingCollection }
        return options
    }

    public func validate() throws {
        if let problem = options.problem { throw ValidationError(problem) }
    }

    public func execute(_ context: JobContext) async throws -> JobSummary {
        try await ExportStage.run(options(for: try context.dataset), context: context)
    }
}

import ArgumentParser
import Foundation
import LoadStage
import Pipeline
import Staging

/// `etl-load`: staging JSON Lines → MongoDB (see `LoadStage`).
public struct LoadCommand: StageCommand {
    public static let jobName = LoadStage.jobName
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Load staged documents into MongoDB: idempotent bulk upserts, validators and indexes from Schemas/.",
        discussion: """
            --only IDS loads only those track ids into the collections keyed by track id (tracks, \
            features, training); genres, albums, artists and scalers, which extract and normalize \
            stage whole, are loaded whole (unchanged documents are not written). With --only, \
            --prune deletes only ids of --only that are no longer staged.

            --prune acts only on staging a successful extract vouches for: \
            staging/metadata/_SUCCESS.json present and its row counts equal to the staged files', \
            and staged features that are either features.jsonl or every shard of one --shard layout. \
            Otherwise the load refuses before writing anything (exit 65). A collection whose schema \
            says "x-prune": "always" (the training rows, which etl-normalize derives whole) is pruned \
            on every load, without --prune. A prune that would delete more than half of a \
            collection's documents, when that is more than 10 of them or every one, deletes nothing \
            from that collection and exits 65 naming it and the counts (an empty, renamed or \
            unmounted input); --allow-large-prune (config key allow-large-prune, e.g. under [load] \
            for etl-nightly) deletes them.

            Which documents are unchanged comes from the load state in etl_load_state (per \
            collection: every stored _id, its _hash and the digest of the staged line it came from, \
            in 256 chunks, their digests and the document count), written after each load: a staged \
            line whose digest the state holds is unchanged without being parsed; when it is missing, malformed or its count is not the \
            collection's, the load reads every stored _hash instead. Edits made to documents behind \
            the load's back are not seen unless they change the count: --verify re-reads every \
            document, recomputes the hash of its content and rewrites those that differ.

            Exit status 65 also when a track id is staged twice (in two files of a collection: two \
            layouts or shards side by side), and when the server refuses a larger share of one \
            collection's documents than --max-reject-ratio (the refused documents are in \
            quarantine/<run>/load.rejects.jsonl); 69 when MongoDB is unreachable.
            """,
        version: MusicETL.version)

    @OptionGroup public var mongo: MongoOptions

    @Option(name: .long, help: "Documents per bulk write (also capped at 8 MiB of BSON).")
    public var batchSize = LoadOptions.defaults.batchSize

    @Option(name: .long, help: "Bulk writes in flight at once, each on its own pooled client and thread.")
    public var inFlight = LoadOptions.defaults.inFlight

    @Flag(name: .long, help: "Delete documents whose _id is no longer staged (a source row that went away); only on staging of a successful extract.")
    public var prune = false

    @Flag(name: .long, help: "Delete even when a prune would take more than half of a collection (more than 10 documents or every one), which is otherwise refused with exit 65.")
    public var allowLargePrune = false

    @Flag(name: .long, help: "Re-read every stored document, recompute the hash of its content and rewrite those that differ from their _hash or from the staging (catches edits made behind the load's back).")
    public var verify = false

    @Option(name: .long, help: "Largest share of one collection's documents the server may refuse before the job fails with exit 65.")
    public var maxRejectRatio = LoadOptions.defaults.maxRejectRatio

    @OptionGroup public var common: CommonOptions

    public init() {}

    public static var stageSettings: [StageSetting<LoadOptions>] {
        [
            .option("batch-size", \.batchSize, default: .defaults),
            .option("in-flight", \.inFlight, default: .defaults),
            .flag("prune", \.prune),
            .flag("allow-large-prune", \.allowLargePrune),
            .flag("verify", \.verify),
            .option("max-reject-ratio", \.maxRejectRatio, default: .defaults),
        ]
    }

    public static var configurableArguments: [ConfigurableArgument] {
        MongoOptions.configurableArguments + stageSettings.map(\.argument) + CommonOptions.configurableArguments
    }

    /// The stage's options these flags give.
    public var options: LoadOptions {
        var options = LoadOptions(mongo: mongo.target)
        options.batchSize = batchSize
        options.inFlight = inFlight
        options.prune = prune
        options.verify = verify
        options.allowLargePrune = allowLargePrune
        options.maxRejectRatio = maxRejectRatio
        options.only = common.onlyTrackIDs
        return options
    }

    public func validate() throws {
        if let problem = options.problem { throw ValidationError(problem) }
    }

    public func execute(_ context: JobContext) async throws -> JobSummary {
        try await LoadStage.run(options, context: context)
    }
}

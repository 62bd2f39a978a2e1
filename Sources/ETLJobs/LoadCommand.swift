import ArgumentParser
import DocumentStore
import Foundation
import Logging
import Pipeline

/// `etl-load`: staging JSON Lines → MongoDB, as unordered bulk upserts keyed by `_id`.
public struct LoadCommand: JobCommand {
    public static let jobName = "etl-load"
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Load staged documents into MongoDB: idempotent bulk upserts, validators and indexes from Schemas/.",
        version: MusicETL.version)

    @OptionGroup public var mongo: MongoOptions

    @Option(name: .long, help: "Documents per bulk write (also capped at 8 MiB of BSON).")
    public var batchSize = 1000

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    public func execute(_ context: JobContext) async throws -> JobSummary {
        let catalog = try schemaCatalog()
        let staged = try catalog.all().compactMap { schema -> (EntitySchema, String)? in
            let path = context.work.metadataStaging.appendingPathComponent(schema.stagingFile).path
            return FileManager.default.fileExists(atPath: path) ? (schema, path) : nil
        }
        guard !staged.isEmpty else {
            throw JobError(.unavailable, "nothing staged under \(context.work.metadataStaging.path): run etl-extract first")
        }
        var summary = JobSummary()
        if context.options.dryRun {
            for (schema, path) in staged {
                let reader = try JSONLinesReader(path: path)
                var count = 0
                while try reader.next() != nil { count += 1 }
                summary.count("\(schema.collection) would load", count)
            }
            return summary
        }
        let connection = try mongo.connect(job: Self.jobName)
        context.logger.info("loading into \(mongo.database) at \(connection.serverDescription)")
        let rejects = LoadRejects(path: context.quarantineDirectory.appendingPathComponent("load.rejects.jsonl").path)
        for (schema, path) in staged {
            let client = try connection.client()
            let collection = try client.collection(schema.collection, database: mongo.database)
            try collection.installValidator(schema.validator)
            try collection.createIndexes(schema.indexes)
            let counts = try load(path: path, into: collection, rejects: rejects, logger: context.logger)
            context.logger.info("\(schema.collection): \(counts.read) read, \(counts.inserted) inserted, \(counts.updated) updated, \(counts.unchanged) unchanged, \(counts.rejected) rejected")
            summary.count("\(schema.collection) read", counts.read)
            summary.count("\(schema.collection) inserted", counts.inserted)
            summary.count("\(schema.collection) updated", counts.updated)
            summary.count("\(schema.collection) unchanged", counts.unchanged)
            summary.count("\(schema.collection) rejected", counts.rejected)
        }
        try rejects.commit()
        return summary
    }

    struct Counts {
        var read = 0, inserted = 0, updated = 0, unchanged = 0, rejected = 0
    }

    private func load(path: String, into collection: MongoCollection, rejects: LoadRejects,
                      logger: Logger) throws -> Counts {
        let reader = try JSONLinesReader(path: path)
        var counts = Counts()
        var batch: [BSONDocument] = []
        var batchBytes = 0
        func flush() throws {
            guard !batch.isEmpty else { return }
            let result = try withRetries(logger: logger) { () throws(MongoError) in try collection.upsertByID(batch) }
            counts.inserted += result.upserted
            counts.updated += result.modified
            counts.unchanged += result.matched - result.modified
            counts.rejected += result.writeErrors.count
            for error in result.writeErrors where batch.indices.contains(error.index) {
                try rejects.add(collection: collection.name, document: batch[error.index], code: error.code,
                                message: error.message)
            }
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
        }
        while let document = try reader.next() {
            counts.read += 1
            if batchBytes + document.byteCount > 8 << 20 { try flush() }
            batch.append(document)
            batchBytes += document.byteCount
            if batch.count >= batchSize { try flush() }
        }
        try flush()
        return counts
    }
}

/// Retries an operation that failed for a transient reason (network, no primary for a moment),
/// with exponential backoff; other errors, and the last transient one, are thrown.
func withRetries<T>(attempts: Int = 4, logger: Logger, _ operation: () throws(MongoError) -> T) throws(MongoError) -> T {
    var delay = 0.25
    for attempt in 1... {
        do {
            return try operation()
        } catch where error.isTransient && attempt < attempts {
            logger.warning("transient MongoDB error, retrying in \(delay) s (attempt \(attempt) of \(attempts)): \(error.message)")
            Thread.sleep(forTimeInterval: delay)
            delay *= 2
        }
    }
    fatalError("unreachable: the loop returns or throws")
}

/// Documents the server refused, with its code and message: `quarantine/<run>/load.rejects.jsonl`.
final class LoadRejects {
    let path: String
    private var writer: StagingWriter?

    init(path: String) {
        self.path = path
    }

    func add(collection: String, document: BSONDocument, code: Int, message: String) throws {
        if writer == nil { writer = try StagingWriter(path: path) }
        let entry: Document = ["collection": .string(collection), "code": .integer(code),
                               "message": .string(message), "document": .document(try document.document())]
        try writer?.write(entry)
    }

    func commit() throws {
        try writer?.commit()
    }
}

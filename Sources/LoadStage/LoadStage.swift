import DocumentStore
import Foundation
import Logging
import Pipeline
import Staging

/// What `etl-load` is asked to do; each default is the command's.
public struct LoadOptions: Sendable {
    public var mongo: MongoTarget
    /// Documents per bulk write (also capped at 8 MiB of BSON).
    public var batchSize = 1000
    /// Bulk writes in flight at once, each on its own pooled client.
    public var inFlight = 2
    /// Delete documents whose `_id` is no longer staged.
    public var prune = false
    /// Re-read every stored document and rewrite those whose content differs from their `_hash`.
    public var verify = false
    /// Delete even when a prune would take most of a collection (see `LoadStage.pruneRefusal`).
    public var allowLargePrune = false
    public var maxRejectRatio = 0.01
    /// `--only`: the track ids (normalised, see `OnlyIDs`) to load into the track-keyed collections.
    public var only: Set<String>?

    public init(mongo: MongoTarget = .fromEnvironment) {
        self.mongo = mongo
    }

    /// The options' own defaults, for the command's flags.
    public static let defaults = LoadOptions(mongo: MongoTarget(uri: MongoTarget.defaultURI, database: MongoTarget.defaultDatabase))

    /// Why these options cannot run, in the flags' words; nil when they can.
    public var problem: String? {
        if batchSize <= 0 { return "--batch-size must be positive" }
        if inFlight <= 0 { return "--in-flight must be positive" }
        if !(0...1).contains(maxRejectRatio) { return "--max-reject-ratio must be within 0…1" }
        return nil
    }
}

/// `etl-load`: staging JSON Lines → MongoDB, as unordered bulk upserts keyed by `_id`.
///
/// Each document gets `_hash`, the SHA-256 of its staged BSON; documents whose hash the collection
/// already holds are not written again, so re-running over unchanged input writes nothing. What
/// the collection holds comes from its load state in `etl_load_state` when that agrees with
/// itself and with the collection's count, else from reading every stored `_hash` (`LoadState`).
public struct LoadStage: Sendable {
    public static let jobName = "etl-load"

    public static func run(_ options: LoadOptions, context: JobContext) async throws -> JobSummary {
        try await LoadStage(options: options, common: context.options).execute(context)
    }

    let options: LoadOptions
    /// The run's common flags (`--force`, `--dry-run`, `--schemas`).
    let common: CommonOptions

    var mongo: MongoTarget { options.mongo }
    var batchSize: Int { options.batchSize }
    var inFlight: Int { options.inFlight }
    var prune: Bool { options.prune }
    var verify: Bool { options.verify }
    var allowLargePrune: Bool { options.allowLargePrune }
    var maxRejectRatio: Double { options.maxRejectRatio }

    /// A prune deleting more than half of a collection, when that is more than this many documents
    /// or every one, is refused without --allow-large-prune (see `pruneRefusal`).
    static let pruneHandful = 10

    /// MongoDB's limit for one document.
    static let maximumDocumentBytes = 16 * 1024 * 1024
    static let hashField = "_hash"

    func execute(_ context: JobContext) async throws -> JobSummary {
        let staged = try StagedCollections.find(in: context.work, catalog: context.schemaCatalog())
        guard !staged.isEmpty else {
            throw JobError(.unavailable, "nothing staged under \(context.work.staging.path): run etl-extract first")
        }
        let only = options.only
        if prune { try StagedCollections.checkPrunable(staged, work: context.work) }
        let alwaysPruned = Set(try staged.filter { try Self.prunesAlways($0.schema) }.map(\.schema.collection))
        for collection in staged { try collection.checkNoIDStagedTwice() }
        var summary = JobSummary()
        if context.options.dryRun {
            for collection in staged {
                var count = 0
                for path in collection.files {
                    let reader = try JSONLinesReader(path: path)
                    while let document = try reader.next() {
                        if collection.selects(document["_id"], only: only) { count += 1 }
                    }
                }
                summary.count("\(collection.schema.collection) would load", count)
            }
            return summary
        }
        let connection = try mongo.connect(job: Self.jobName, logger: context.logger)
        context.recorder.useMongo(connection, database: mongo.database)
        context.logger.info("loading into \(mongo.database) at \(connection.serverDescription)")
        let rejects = LoadRejects(path: context.quarantineDirectory.appendingPathComponent("load.rejects.jsonl").path)
        let progress = ProgressBar(label: Self.jobName, unit: "documents", logger: context.logger)
        defer { progress.finish() }
        if progress.isEnabled { progress.update(done: 0, total: ProgressBar.countLines(inFiles: staged.flatMap(\.files))) }
        var loadedBefore = 0
        var overRatio: [String] = []
        var refusedPrunes: [String] = []
        let stateStore = LoadStateStore(state: try connection.client().collection(LoadStateStore.collectionName, database: mongo.database),
                                        logger: context.logger)
        for staged in staged {
            let started = ContinuousClock.now, startedCPU = processCPUSeconds()
            let narrowed = staged.isTrackKeyed ? only : nil
            let client = try connection.client()
            let collection = try client.collection(staged.schema.collection, database: mongo.database)
            let name = staged.schema.collection
            try collection.installValidator(staged.schema.validator)
            try collection.createIndexes(staged.schema.indexes)
            // What the collection holds: from the load state when it is consistent, else (or with
            // --verify) read from every stored document.
            let stored = verify ? nil : try stateStore.read(collection)
            var manifest: LoadManifest
            var counts = Counts()
            if let stored {
                manifest = stored.manifest
            } else {
                let scanned = try LoadStateStore.scan(collection, verify: verify)
                manifest = scanned.manifest
                counts.differing = scanned.differing
            }
            let prunes = prune || alwaysPruned.contains(name)
            var pass = CollectionPass(manifest: manifest, collectsStagedKeys: prunes)
            for path in staged.files {
                try await load(path: path, only: narrowed, into: collection, connection: connection, rejects: rejects,
                               counts: &counts, pass: &pass, beforeFirstWrite: { try stateStore.invalidate(name) },
                               progress: progress, progressBase: loadedBefore)
            }
            loadedBefore += counts.read
            // The prune limit is of what the collection held before this load: documents it just
            // inserted would dilute it (every id changed is N new and N gone, never over half).
            let heldBefore = manifest.entries.count
            for (key, line) in pass.learnedLines { manifest.entries[key]?.line = line }
            for (key, entry) in pass.written { manifest.entries[key] = entry }
            var prunedExpected = 0
            if prunes {
                // Only ids of --only with --only: every other document stays whatever the staging holds.
                let candidates = narrowed.map { ids in ids.map { OnlyIDs.idValue($0).canonicalKey } } ?? Array(manifest.entries.keys)
                let gone = candidates.filter { !pass.stagedKeys.contains($0) }.compactMap { manifest.entries[$0] }
                if !allowLargePrune, let refusal = Self.pruneRefusal(collection: name, deleting: gone.count, of: heldBefore) {
                    context.logger.error("\(refusal); nothing deleted from \(name)")
                    refusedPrunes.append(refusal)
                } else if !gone.isEmpty {
                    prunedExpected = gone.count
                    try pass.startWriting { try stateStore.invalidate(name) }
                    for start in stride(from: 0, to: gone.count, by: 10_000) {
                        try Task.checkCancellation()
                        let ids = gone[start..<min(start + 10_000, gone.count)].map(\.id)
                        counts.pruned += try collection.deleteMany(["_id": .document(["$in": .array(ids)])])
                    }
                    for entry in gone { manifest.entries[entry.id.canonicalKey] = nil }
                }
            }
            if stored == nil || pass.wrote || !pass.learnedLines.isEmpty {
                // The state is stored only when the collection holds what it describes (another
                // writer, or documents the manifest never saw, leave it missing: next night reads all).
                // The collection held exactly the starting manifest's documents (the state's count
                // was checked against an exact count, or the scan read them all). When the server's
                // acknowledgements match the manifest for every id written or deleted (an upsert
                // inserted exactly the ids it did not list, matched those it did; every deletion
                // found its document), the count now is the manifest's without asking: what an exact
                // count would add is a foreign writer during the load, which the job's lock keeps
                // out and the next night's exact count at reading would see. Otherwise, count.
                let writesAsExpected = pass.acknowledged(inserted: counts.inserted, updated: counts.updated)
                    && counts.pruned == prunedExpected
                let holds = writesAsExpected ? Int64(manifest.entries.count) : try collection.countDocuments()
                if !writesAsExpected {
                    context.logger.info("\(name): the server's acknowledgements differ from the load state (\(counts.inserted) inserted, \(counts.updated) updated, \(counts.pruned) pruned): counted \(holds) documents")
                }
                if holds == manifest.entries.count {
                    try stateStore.write(manifest, for: name, previous: stored?.digests)
                } else {
                    context.logger.warning("\(name): holds \(holds) documents, the load accounts for \(manifest.entries.count); load state not stored")
                }
            }
            if counts.read > 0, Double(counts.rejected) / Double(counts.read) > maxRejectRatio {
                overRatio.append("\(counts.rejected) of \(counts.read) \(name)")
            }
            let seconds = Self.seconds(ContinuousClock.now - started)
            // The client's cost is the CPU this process spent (reading, parsing, hashing, building and
            // sending the bulk writes, the load state): the rest of the wall time is the server's.
            let clientSeconds = processCPUSeconds() - startedCPU
            context.logger.info("\(name): \(counts.read) read, \(counts.inserted) inserted, \(counts.updated) updated, \(counts.unchanged) unchanged (\(counts.unchangedByLine) by their staged line), \(counts.rejected) rejected\(prunes ? ", \(counts.pruned) pruned" : "")\(verify ? ", \(counts.differing) differing from their _hash" : "") in \(String(format: "%.2f", seconds)) s (\(stored == nil ? (verify ? "verified every document" : "read every stored hash") : "load state"); \(Int(Double(counts.read) / max(seconds, 1e-6))) documents/s; client CPU \(String(format: "%.1f", clientSeconds / Double(max(counts.read, 1)) * 1e6)) µs/document)")
            summary.count("\(name) read", counts.read)
            summary.count("\(name) inserted", counts.inserted)
            summary.count("\(name) updated", counts.updated)
            summary.count("\(name) unchanged", counts.unchanged)
            summary.count("\(name) rejected", counts.rejected)
            if prunes { summary.count("\(name) pruned", counts.pruned) }
            if verify { summary.count("\(name) differing", counts.differing) }
        }
        try rejects.commit()
        try uploadLedger(context: context, connection: connection)
        if rejects.count > 0 {
            context.logger.warning("\(rejects.count) documents refused by the server: \(rejects.path)")
            summary.outputs.append(rejects.path)
        }
        if !overRatio.isEmpty {
            summary.status = .dataError
            summary.problem = "documents refused over --max-reject-ratio \(maxRejectRatio): \(overRatio.joined(separator: ", ")) (see \(rejects.path))"
        }
        if !refusedPrunes.isEmpty {
            summary.status = .dataError
            let refused = "prune refused, nothing deleted from \(refusedPrunes.count == 1 ? "it" : "them"): \(refusedPrunes.joined(separator: "; ")); more than half of a collection is a broken input (an empty, renamed or unmounted source), not a night's change: check it, or run with --allow-large-prune (config: allow-large-prune = true under [load]) to delete them"
            summary.problem = [summary.problem, refused].compactMap { $0 }.joined(separator: "; ")
        }
        return summary
    }

    /// Why deleting `gone` of the `held` documents of `collection` is refused, or nil when it is not:
    /// more than half of them, and more than `pruneHandful` or every one. A few removed rows prune.
    static func pruneRefusal(collection: String, deleting gone: Int, of held: Int) -> String? {
        guard gone * 2 > held, gone > pruneHandful || gone == held else { return nil }
        return "\(collection) would lose \(gone) of its \(held) documents"
    }

    /// Whether the schema says its staged file is always the whole collection (`"x-prune": "always"`:
    /// derived in full by every run that stages it), so a document not staged is stale and the load
    /// deletes it without --prune. Another value is a mistake in the schema (64).
    static func prunesAlways(_ schema: EntitySchema) throws -> Bool {
        guard let value = schema.document["x-prune"] else { return false }
        guard value.stringValue == "always" else {
            throw JobError(.usage, "schema \(schema.path): x-prune is \(value.stringValue ?? "not text"); its one value is \"always\"")
        }
        return true
    }

    struct Counts {
        var read = 0, inserted = 0, updated = 0, unchanged = 0, rejected = 0, pruned = 0, differing = 0
        /// Unchanged documents known by the digest of their staged line alone (never parsed).
        var unchangedByLine = 0
    }

    /// A batch handed to the task that writes it. @unchecked: the reading task builds it and never
    /// touches it again, so exactly one task at a time owns its libbson documents.
    struct Batch: @unchecked Sendable {
        let documents: [BSONDocument]
    }

    /// What one batch write did, for the reading task to count and quarantine.
    struct BatchOutcome: Sendable {
        struct Refused: Sendable {
            var document: Document
            var code: Int
            var message: String
        }

        var inserted = 0, updated = 0
        var refused: [Refused] = []
    }

    /// One collection's load as it goes: what the collection held before, what was written (its
    /// refused documents taken out again), which ids are staged (only a pruned collection needs them).
    struct CollectionPass {
        let manifest: LoadManifest
        /// The manifest's keys by staged line digest: a line found here is unchanged, unparsed.
        let keysByLine: [StagedLineDigest: String]
        var written: [String: LoadManifest.Entry] = [:]
        /// Unchanged documents whose staged line the manifest did not know yet (stored next time).
        var learnedLines: [String: StagedLineDigest] = [:]
        /// Whether `stagedKeys` is kept: the collection is pruned.
        let collectsStagedKeys: Bool
        var stagedKeys: Set<String> = []
        var wrote = false

        init(manifest: LoadManifest, collectsStagedKeys: Bool) {
            self.manifest = manifest
            self.collectsStagedKeys = collectsStagedKeys
            keysByLine = manifest.keysByLine()
        }

        /// Whether the server's upsert counts are those the starting manifest predicts for the
        /// documents written (refused ones taken out): inserted exactly the ids it did not hold,
        /// matched exactly those it did.
        func acknowledged(inserted: Int, updated: Int) -> Bool {
            let new = written.keys.reduce(0) { $0 + (manifest.entries[$1] == nil ? 1 : 0) }
            return inserted == new && updated == written.count - new
        }

        /// Runs `invalidate` (dropping the collection's load state) before the first write.
        mutating func startWriting(_ invalidate: () throws -> Void) throws {
            guard !wrote else { return }
            try invalidate()
            wrote = true
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// Reads one staged file, compares each document's hash with what the collection holds, and
    /// writes the new and changed ones in batches, up to `--in-flight` of them at once on clients
    /// of the pool (reading and hashing overlap with the server's work).
    private func load(path: String, only: Set<String>?, into collection: MongoCollection, connection: MongoConnection,
                      rejects: LoadRejects, counts: inout Counts, pass: inout CollectionPass,
                      beforeFirstWrite: () throws -> Void,
                      progress: ProgressBar, progressBase: Int) async throws {
        let reader = try JSONLinesReader(path: path)
        let name = collection.name, database = mongo.database, force = common.force, maximumInFlight = inFlight
        try await withThrowingTaskGroup(of: BatchOutcome.self) { group in
            var running = 0
            func record(_ outcome: BatchOutcome) throws {
                counts.inserted += outcome.inserted
                counts.updated += outcome.updated
                counts.rejected += outcome.refused.count
                for refused in outcome.refused {
                    // Refused: the collection still holds what it held before.
                    if let id = refused.document["_id"] { pass.written[id.canonicalKey] = nil }
                    try rejects.add(collection: name, document: BSONDocument(refused.document), code: refused.code,
                                    message: refused.message)
                }
            }
            var documents: [BSONDocument] = []
            var batchBytes = 0
            func submit() async throws {
                guard !documents.isEmpty else { return }
                // A stop (a signal, the nightly's lease lost) ends the load between bulk writes: the
                // writes in flight finish, no other starts. The load state, dropped before the first
                // write, is not stored again, so the next load reads every stored hash and converges.
                try Task.checkCancellation()
                try pass.startWriting(beforeFirstWrite)
                if running == maximumInFlight, let outcome = try await group.next() {
                    try record(outcome)
                    running -= 1
                }
                let batch = Batch(documents: documents)
                group.addTask {
                    // On a thread of its own: a blocking bulk write on the cooperative pool (one
                    // thread per core) would stop the reading task while it waits for the server.
                    try await onThreadOfItsOwn {
                        try Self.write(batch, collection: name, database: database, connection: connection)
                    }
                }
                running += 1
                documents = []
                batchBytes = 0
            }
            while let line = try reader.nextLine() {
                // A line the collection's stored documents were loaded from: unchanged, not parsed.
                let lineDigest = StagedLineDigest(of: line)
                if !force, let key = pass.keysByLine[lineDigest], let entry = pass.manifest.entries[key] {
                    if let only, !only.contains(entry.id.idText) { continue }
                    counts.read += 1
                    if counts.read % 1000 == 0 { progress.update(done: progressBase + counts.read) }
                    if pass.collectsStagedKeys { pass.stagedKeys.insert(key) }
                    counts.unchanged += 1
                    counts.unchangedByLine += 1
                    continue
                }
                let document = try reader.parse(line)
                if let only, let id = document["_id"], !only.contains(id.idText) { continue }
                counts.read += 1
                if counts.read % 1000 == 0 { progress.update(done: progressBase + counts.read) }
                guard let id = document["_id"] else {
                    try rejects.add(collection: name, document: document, code: 0,
                                    message: "\(path):\(reader.lineNumber): document has no _id")
                    counts.rejected += 1
                    continue
                }
                let key = id.canonicalKey, hash = document.contentHash
                if pass.collectsStagedKeys { pass.stagedKeys.insert(key) }
                if !force, pass.manifest.entries[key]?.hash == hash {
                    pass.learnedLines[key] = lineDigest
                    counts.unchanged += 1
                    continue
                }
                try document.append(Self.hashField, .string(hash))
                if document.byteCount > Self.maximumDocumentBytes {
                    try rejects.add(collection: name, document: document, code: 10334,
                                    message: "document is \(document.byteCount) bytes, over MongoDB's 16 MiB limit")
                    counts.rejected += 1
                    continue
                }
                pass.written[key] = .init(id: id, hash: hash, line: lineDigest)
                if batchBytes + document.byteCount > 8 << 20 { try await submit() }
                documents.append(document)
                batchBytes += document.byteCount
                if documents.count >= batchSize { try await submit() }
            }
            try await submit()
            for try await outcome in group { try record(outcome) }
        }
        progress.update(done: progressBase + counts.read)
    }

    /// Upserts the documents of a batch on a client of its own from the pool.
    private static func write(_ batch: Batch, collection name: String, database: String,
                              connection: MongoConnection) throws -> BatchOutcome {
        let collection = try connection.client().collection(name, database: database)
        var outcome = BatchOutcome()
        let result = try collection.upsertByID(batch.documents)
        outcome.inserted = result.upserted
        outcome.updated = result.matched
        for error in result.writeErrors where batch.documents.indices.contains(error.index) {
            outcome.refused.append(.init(document: try batch.documents[error.index].document(), code: error.code,
                                         message: error.message))
        }
        return outcome
    }

    /// The run ledger file (every job's runs, including those that never touch MongoDB) → `etl_runs`.
    private func uploadLedger(context: JobContext, connection: MongoConnection) throws {
        let client = try connection.client()
        let collection = try client.collection(RunLedger.collection, database: mongo.database)
        var batch: [BSONDocument] = []
        try RunLedger.forEachEntry(in: context.work, skipped: { context.logger.warning("\($0)") }) { entry in
            batch.append(entry)
            if batch.count == batchSize {
                _ = try collection.upsertByID(batch)
                batch.removeAll()
            }
        }
        _ = try collection.upsertByID(batch)
    }
}

/// Documents the server (or the size limit) refused, with the code and message:
/// `quarantine/<run>/load.rejects.jsonl`.
final class LoadRejects {
    let path: String
    private var writer: StagingWriter?
    var count: Int { writer?.count ?? 0 }

    init(path: String) {
        self.path = path
    }

    func add(collection: String, document: BSONDocument, code: Int, message: String) throws {
        if writer == nil { writer = try StagingWriter(path: path) }
        let entry: Document = ["collection": .string(collection), "_id": document["_id"] ?? .null,
                               "code": .integer(code), "message": .string(message),
                               "document": .document(try document.document())]
        try writer?.write(entry)
    }

    func commit() throws {
        try writer?.commit()
    }
}

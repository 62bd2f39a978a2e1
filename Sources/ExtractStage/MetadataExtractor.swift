import DocumentStore
import Foundation
import Logging
import Pipeline
import Staging
import Tabular

/// The whole of `etl-extract` without the command line: reads a dataset's input directory entity
/// by entity (`entities`, in order), writes `<staging>/<x-staging-file>` and the quarantine files.
/// What an entity's rows need besides their own columns follows from the schemas: an entity whose
/// rows another schema embeds (`x-lookup`) is kept as a lookup table for it; the genres' tree
/// (`x-derive: genre-root`) is built in two passes and completes the derivations `genre-top` and
/// `genre-ancestors` of the entities read after it; every other entity is extracted plainly. Used
/// by `ExtractStage` and by the `bench-extract` benchmark.
public struct MetadataExtractor {
    public struct FileResult: Sendable {
        public var schema: String
        public var collection: String
        public var file: String
        /// Rows read; reported as 0 when the file failed as a whole (`failure` says why).
        public var rowsIn = 0
        public var written = 0
        public var quarantined = 0
        public var repairedText = 0
        /// Optional values that failed to parse or check, nulled in rows that were kept.
        public var valuesNulled = 0
        public var warnings = 0
        public var skipped = 0
        /// `--only` ids that no row of the file has, ascending.
        public var onlyIDsNotFound: [Int64] = []
        public var blankLines = 0
        public var blankRows = 0
        public var bytes = 0
        public var failure: String?
        /// More of the file's rows quarantined than `maxRejectRatio` allows: the run fails.
        public var overRejectRatio = false
        /// Staged (nil: not replaced, the run failed or was a dry run).
        public var outputPath: String?
        /// Lines in the staged file (with --only: the merged file).
        public var stagedRows = 0
        /// Wall time spent on this file (read, validate, write).
        public var seconds = 0.0
    }

    /// The input directory.
    public var metadataDirectory: String
    /// Each entity's files, in extraction order (the dataset's).
    public var entities: [EntityInput]
    public var catalog: SchemaCatalog
    public var stagingDirectory: String
    /// nil: rejects are counted but not written (dry run).
    public var quarantineDirectory: String?
    public var dryRun = false
    /// `--only`: restricts tracks to these ids. Genres, albums and artists are always read whole
    /// (they are small, and the tracks' lookups need them).
    public var onlyTracks: Set<Int64>?
    public var tracksFile: String?
    /// `--shard K/N`: the entities `partitionedByShard` read only the K-th of N contiguous runs of
    /// their sorted files, staged as `<stem>.shard-K-of-N.jsonl`; the others are read whole.
    public var shard: ShardSpec?
    /// The largest share of a file's rows that may be quarantined for the run to succeed (and
    /// replace the staging).
    public var maxRejectRatio = 1.0
    /// Named in the staging marker.
    public var runID = ""
    /// Threads that coerce, build and print the rows of the album, artist and track files while
    /// the calling thread reads and admits them; 1 does everything on the calling thread. The
    /// output is the same for any number.
    public var rowJobs = ProcessInfo.processInfo.activeProcessorCount
    /// Input bytes per batch of rows handed to a worker (tests make it tiny to cross batch edges);
    /// nil: `defaultBatchBytes(workers:)`.
    var rowBatchBytes: Int?

    /// With one worker, batches small enough that a batch's records and lines stay in the core's
    /// L2 cache between the reading, the building and the writing (128 KiB: paired CPU 0.96 against
    /// 1 MiB, tracks.csv set; 64 KiB no better). With more, 1 MiB: handing over smaller batches cost
    /// the workers more than the cache saved (256 KiB: CPU 1.03, wall 1.10 with two).
    static func defaultBatchBytes(workers: Int) -> Int {
        workers <= 1 ? 1 << 17 : 1 << 20
    }
    public var logger: Logger

    public init(metadataDirectory: String, entities: [EntityInput], catalog: SchemaCatalog, stagingDirectory: String,
                quarantineDirectory: String?, logger: Logger) {
        self.metadataDirectory = metadataDirectory
        self.entities = entities
        self.catalog = catalog
        self.stagingDirectory = stagingDirectory
        self.quarantineDirectory = quarantineDirectory
        self.logger = logger
    }

    /// For tools without a job context (the benchmark): schemas from `schemasDirectory` or found as
    /// the jobs find them, logging only errors.
    public init(metadataDirectory: String, entities: [EntityInput], schemasDirectory: String?, stagingDirectory: String,
                quarantineDirectory: String?) throws {
        var logger = Logger(label: "musicetl.extract")
        logger.logLevel = .error
        self.init(metadataDirectory: metadataDirectory, entities: entities, catalog: try SchemaCatalog.locate(explicit: schemasDirectory),
                  stagingDirectory: stagingDirectory, quarantineDirectory: quarantineDirectory, logger: logger)
    }

    /// One entity's input: its files (in reading order) and what the staging marker names as their source.
    public struct EntityFiles {
        public var schema: String
        public var files: [String]
        public var headerRows: Int
        public var source: String
        /// The staged file's name (`plays.jsonl`, or `plays.shard-1-of-2.jsonl` for a shard).
        var stagingFile = ""
        /// The staged file's name without `.jsonl` (`plays`).
        var stem = ""
        var isShard = false
        var partitioned = false
    }

    /// Whether `--only` narrows this collection (and `--tracks-file` chooses its file): the track-keyed ones.
    static func narrowedByOnly(_ schema: EntitySchema) -> Bool {
        StagedCollections.trackKeyedCollections.contains(schema.collection)
    }

    /// Picks the input files of every entity; a missing one is exit 69 (input unavailable).
    public func inputFiles() throws -> [EntityFiles] {
        let schemas = try entities.map { try catalog.schema($0.schema) }
        if tracksFile != nil, !zip(entities, schemas).contains(where: { entity, schema in
            if case .firstOf = entity.files { Self.narrowedByOnly(schema) } else { false }
        }) {
            throw JobError(.usage, "--tracks-file: this dataset has no choice of tracks file")
        }
        return try zip(entities, schemas).map { entity, schema in
            var chosen: EntityFiles
            switch entity.files {
            case .firstOf(let files):
                chosen = try firstOf(files, schema: schema)
            case .every(let prefix, let suffix, let headerRows):
                chosen = try every(prefix: prefix, suffix: suffix, headerRows: headerRows, schema: schema)
                if entity.partitionedByShard, let shard {
                    // Contiguous runs of the sorted files, so shards 1…N in order read what one run reads, in its order.
                    let all = chosen.files
                    let lower = all.count * (shard.index - 1) / shard.count, upper = all.count * shard.index / shard.count
                    chosen.files = Array(all[lower..<upper])
                    chosen.source += " shard \(shard.index)/\(shard.count)"
                    chosen.isShard = true
                    if chosen.files.isEmpty {
                        throw JobError(.usage, "--shard \(shard.index)/\(shard.count): \(all.count) \(prefix)*\(suffix) files leave this shard none; use at most \(all.count) shards")
                    }
                }
            }
            chosen.stem = (schema.stagingFile as NSString).deletingPathExtension
            chosen.stagingFile = chosen.isShard ? (shard?.stagingFile(stem: chosen.stem) ?? schema.stagingFile) : schema.stagingFile
            chosen.partitioned = entity.partitionedByShard
            return chosen
        }
    }

    private func firstOf(_ files: [EntityInput.File], schema: EntitySchema) throws -> EntityFiles {
        var candidates = files
        let choosable = Self.narrowedByOnly(schema)
        if choosable, let tracksFile {
            guard let chosen = candidates.first(where: { $0.name == tracksFile }) else {
                throw JobError(.usage, "--tracks-file must be one of \(candidates.map(\.name).joined(separator: ", "))")
            }
            candidates = [chosen]
        }
        guard let found = candidates.first(where: {
            FileManager.default.fileExists(atPath: metadataDirectory + "/" + $0.name) }) else {
            throw JobError(.unavailable, "\(metadataDirectory): none of \(candidates.map(\.name).joined(separator: ", ")) found (needed for the \(schema.name) entity)")
        }
        let others = files.filter { $0.name != found.name && FileManager.default.fileExists(atPath: metadataDirectory + "/" + $0.name) }
        for other in others {
            logger.notice("\(other.name) is not read: \(found.name) is preferred for \(schema.name)s\(choosable ? " (choose with --tracks-file)" : "")")
        }
        return EntityFiles(schema: schema.name, files: [metadataDirectory + "/" + found.name], headerRows: found.headerRows,
                           source: found.name)
    }

    private func every(prefix: String, suffix: String, headerRows: Int, schema: EntitySchema) throws -> EntityFiles {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: metadataDirectory)
        } catch {
            throw JobError(.unavailable, "\(metadataDirectory): cannot list: \(error.localizedDescription)")
        }
        // Sorted by their bytes: the same order on every machine and locale.
        let matching = names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) && $0.count > prefix.count + suffix.count }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        guard !matching.isEmpty else {
            throw JobError(.unavailable, "\(metadataDirectory): no \(prefix)*\(suffix) file found (needed for the \(schema.name) entity)")
        }
        return EntityFiles(schema: schema.name, files: matching.map { metadataDirectory + "/" + $0 }, headerRows: headerRows,
                           source: matching.count == 1 ? matching[0] : "\(prefix)*\(suffix) (\(matching.count) files)")
    }

    /// What an entity's rows need besides their own columns, from the schemas.
    private enum Role {
        /// The genre tree (`x-derive: genre-root`): two passes, then it completes later entities.
        case genreTree
        /// Embedded by `referrer` (its `x-lookup`): kept by id for it.
        case lookupTable(referrer: ExtractPlan)
        /// Read, completed (lookups, genre derivations) and written.
        case rows
    }

    private func roles(_ plans: [ExtractPlan]) throws -> [Role] {
        try plans.enumerated().map { index, plan in
            if plan.leaves.contains(where: { $0.derive == "genre-root" }) { return .genreTree }
            guard let referrerIndex = plans.firstIndex(where: { other in
                other.nodes.contains { node in
                    if case .object(let object) = node { return object.lookup == plan.schema.name }
                    return false
                }
            }) else { return .rows }
            guard referrerIndex > index else {
                throw JobError(.usage, "schema \(plans[referrerIndex].schema.path) embeds \(plan.schema.name) (x-lookup), so \(plan.schema.name) must be extracted before \(plans[referrerIndex].schema.name)")
            }
            guard plan.leaves[plan.idLeaf].cellType == .int else {
                throw JobError(.usage, "schema \(plan.schema.path): \(plan.schema.name) is embedded by id (x-lookup), which needs an integer _id")
            }
            return .lookupTable(referrer: plans[referrerIndex])
        }
    }

    /// Extracts every entity. A file-level error (unreadable header, missing required column,
    /// unterminated quote) fails that entity only: its result carries `failure`. Staging is replaced
    /// only by a successful run, all entities together: every file is written under a temporary
    /// name first, and only when no file failed and none is over `maxRejectRatio` are they renamed
    /// into place and the marker `_SUCCESS.json` written (`StagingMarker`); otherwise the staged
    /// files and the marker stay as the last successful run left them.
    public func run() throws -> [FileResult] {
        let files = try inputFiles()
        let plans = try files.map { try ExtractPlan(schema: try catalog.schema($0.schema)) }
        if onlyTracks != nil, !plans.contains(where: { Self.narrowedByOnly($0.schema) }) {
            throw JobError(.usage, "--only narrows the tracks, and this dataset has none: extract it whole")
        }
        // --only re-runs some tracks into the staging of a full run; without one it would stage
        // just those tracks, and a later load --prune would trust that partial file.
        if onlyTracks != nil, !dryRun, try StagingMarker.read(in: stagingDirectory) == nil {
            throw JobError(.unavailable, "--only re-runs some tracks in the staging of a full extract, and \(stagingDirectory) has none (no \(StagingMarker.fileName)): run etl-extract without --only first")
        }
        let roles = try roles(plans)
        if let shard, !entities.contains(where: \.partitionedByShard) {
            logger.notice("--shard \(shard): this dataset has no entity split by shard; every entity is read whole")
        }
        var results: [FileResult] = []
        var pending: [(writer: AtomicFileWriter, result: Int)] = []
        var hierarchy: GenreHierarchy?
        var lookups = LookupTables()
        for (index, file) in files.enumerated() {
            let plan = plans[index]
            var result = FileResult(schema: file.schema, collection: plan.schema.collection, file: file.source)
            let outputPath = stagingDirectory + "/" + file.stagingFile
            let started = DispatchTime.now().uptimeNanoseconds
            do {
                let extraction = try TableExtraction(plan: plan, inputPaths: file.files, headerRows: file.headerRows,
                                                     quarantineDirectory: quarantineDirectory,
                                                     spillDirectory: dryRun ? FileManager.default.temporaryDirectory.path : stagingDirectory,
                                                     logger: logger)
                // With --only, the tracks' new lines are merged into the staged file afterwards.
                let mergesOnly = onlyTracks != nil && Self.narrowedByOnly(plan.schema)
                if !dryRun { extraction.stage(to: try AtomicFileWriter(path: outputPath + (mergesOnly ? ".only" : ""))) }
                switch roles[index] {
                case .genreTree:
                    hierarchy = try extractGenres(extraction)
                case .lookupTable(let referrer):
                    lookups.tables[file.schema] = try extractReferenced(extraction, trackPlan: referrer, entity: file.schema)
                case .rows:
                    try extractRows(extraction, only: mergesOnly ? onlyTracks : nil, hierarchy: hierarchy, lookups: lookups)
                }
                try extraction.finish()
                let counts = extraction.counts
                result.stagedRows = counts.written
                if let output = extraction.output {
                    try output.finishWriting()
                    if mergesOnly, let onlyTracks {
                        let merged = try AtomicFileWriter(path: outputPath)
                        let only = Set(onlyTracks.map { BSONValue.integer($0).canonicalKey })
                        result.stagedRows = try StagedLineIndex.merge(new: output.temporaryPath, previous: outputPath,
                                                                      only: only, into: merged)
                        try merged.finishWriting()
                        pending.append((merged, results.count))
                    } else {
                        pending.append((output, results.count))
                    }
                }
                result.rowsIn = counts.rowsIn
                result.written = counts.written
                result.quarantined = counts.quarantined
                result.repairedText = counts.repairedText
                result.valuesNulled = counts.valuesNulled
                result.warnings = counts.warnings
                result.skipped = counts.skipped
                if mergesOnly, let onlyTracks {
                    result.onlyIDsNotFound = onlyTracks.subtracting(extraction.onlyIDsRead).sorted()
                }
                result.blankLines = counts.blankLines
                result.blankRows = counts.blankRows
                result.bytes = counts.bytes
                result.overRejectRatio = counts.rowsIn > 0 && Double(counts.quarantined) / Double(counts.rowsIn) > maxRejectRatio
                var line = "\(file.source): \(counts.rowsIn) rows in = \(counts.written) written + \(counts.quarantined) quarantined"
                line += "; \(counts.valuesNulled) values nulled, \(counts.warnings) warnings, \(counts.repairedText) with repaired text"
                if counts.blankLines > 0 { line += ", \(counts.blankLines) blank lines skipped" }
                if counts.blankRows > 0 { line += ", \(counts.blankRows) blank rows skipped" }
                if counts.skipped > 0 { line += ", \(counts.skipped) outside --only" }
                line += dryRun ? " (dry run: nothing written)" : ""
                logger.info("\(line)")
                if !result.onlyIDsNotFound.isEmpty {
                    let missing = result.onlyIDsNotFound
                    let shown = missing.prefix(10).map(String.init).joined(separator: ", ") + (missing.count > 10 ? ", …" : "")
                    logger.warning("\(file.source): \(missing.count) ids of --only are in no row, nothing staged for them: \(shown)")
                }
            } catch {
                let classified = JobError.classify(error)
                guard classified.status == .dataError else { throw error }
                result.failure = classified.message
                logger.error("\(file.source): \(classified.message)")
            }
            // Timed here, not in a defer: an error thrown above (a full disk) leaves no result to time.
            result.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            results.append(result)
        }
        guard !dryRun else { return results }
        guard results.allSatisfy({ $0.failure == nil && !$0.overRejectRatio }) else {
            logger.error("staging left as the last successful run left it (\(stagingDirectory)): this run failed")
            return results
        }
        // The marker goes first and comes back last: a run killed in between leaves none.
        let previous = try StagingMarker.read(in: stagingDirectory)
        try StagingMarker.remove(in: stagingDirectory)
        for (writer, index) in pending {
            try writer.publish()
            results[index].outputPath = writer.path
        }
        let otherShards = try replaceOtherLayouts(of: files, previous: previous)
        try StagingMarker(job: ExtractStage.jobName, run: runID, only: onlyTracks,
                          files: results.map { .init(name: ($0.outputPath as NSString?)?.lastPathComponent ?? "", collection: $0.collection,
                                                     source: $0.file, rows: $0.stagedRows) } + otherShards)
            .write(in: stagingDirectory)
        return results
    }

    /// A partitioned entity's files of another layout would stage its ids twice: a whole run
    /// removes its shard files, a shard run the whole file and the shards of another count. The
    /// other shards of this run's layout stay, and so do their entries of the previous marker
    /// (returned), so that the marker of the last of N shard runs names all N files.
    private func replaceOtherLayouts(of files: [EntityFiles], previous: StagingMarker?) throws -> [StagingMarker.File] {
        var kept: [StagingMarker.File] = []
        for file in files where file.partitioned {
            let names = try FileManager.default.contentsOfDirectory(atPath: stagingDirectory).sorted()
            for name in names where name != file.stagingFile {
                let stale: Bool
                if name == file.stem + ".jsonl" {
                    stale = true
                } else if let other = ShardSpec.parse(name, stem: file.stem) {
                    stale = !file.isShard || other.count != shard?.count
                    if !stale, let entry = previous?.files.first(where: { $0.name == name }) { kept.append(entry) }
                } else {
                    continue
                }
                guard stale else { continue }
                try FileManager.default.removeItem(atPath: stagingDirectory + "/" + name)
                logger.notice("removed staging/metadata/\(name): another layout than this run's \(file.stagingFile)")
            }
        }
        return kept
    }

    // MARK: Genres

    /// Genres in two passes over the file, so that no row is held: the first reads every
    /// genre's parent (and the top-level ids the file names) into the hierarchy, then cycles are
    /// found; the second validates, derives, writes or rejects each row as it is read. Memory is
    /// the hierarchy's (an id and a parent per genre, titles of the top-level genres only).
    private func extractGenres(_ extraction: TableExtraction) throws -> GenreHierarchy {
        let plan = extraction.plan
        guard let parentLeaf = plan.leaves.firstIndex(where: { $0.name == "parent" }),
              let titleLeaf = plan.leaves.firstIndex(where: { $0.name == "title" }) else {
            throw JobError(.usage, "schema \(plan.schema.path): genres need parent and title properties")
        }
        guard plan.leaves[plan.idLeaf].cellType == .int else {
            throw JobError(.usage, "schema \(plan.schema.path): the genre tree (x-derive genre-root) needs an integer _id")
        }
        let rootLeaf = plan.leaves.firstIndex { $0.derive == "genre-root" }
        var hierarchy = GenreHierarchy()
        var order: [Int64] = []  // genres in file order, for the cycles' descriptions
        var namedTopLevels = Set<Int64>()
        try extraction.scan { rowID, slots in
            guard let id = rowID.integer, hierarchy.parent[id] == nil else { return }  // a duplicate: the first one counts
            let parent = Self.integer(slots[parentLeaf]) ?? 0
            hierarchy.parent[id] = parent == id ? 0 : parent
            order.append(id)
            if let rootLeaf, case .int(let given) = slots[rootLeaf] { namedTopLevels.insert(given) }
        }
        // Cycles: follow parents from every genre; a genre met twice on one walk closes a cycle.
        var inCycle: [Int64: String] = [:]
        for id in order where inCycle[id] == nil {
            var path: [Int64] = []
            var current = id
            while current != 0, let next = hierarchy.parent[current] {
                if let start = path.firstIndex(of: current) {
                    let cycle = Array(path[start...]) + [current]
                    let description = "genre parent cycle " + cycle.map(String.init).joined(separator: " → ")
                    for member in cycle where inCycle[member] == nil { inCycle[member] = description }
                    break
                }
                path.append(current)
                current = next
            }
        }
        order = []
        for (id, _) in inCycle { hierarchy.parent[id] = nil }
        try extraction.run { record, rowID, slots in
            guard let id = rowID.integer else { return }  // the id's x-type is int (checked above)
            if let cycle = inCycle[id] {
                try extraction.reject(record, reason: cycle, column: plan.leaves[parentLeaf].columnName ?? "parent")
                return
            }
            let given = Self.integer(slots[parentLeaf]) ?? 0
            if given == id { extraction.warn("genre \(id) is its own parent; treated as a top-level genre (parent 0)") }
            let parent = hierarchy.parent[id] ?? 0
            if parent != 0 && hierarchy.parent[parent] == nil && inCycle[parent] == nil {
                extraction.warn("genre \(id) has unknown parent \(parent)")
            }
            let root = hierarchy.root(of: id)
            if root == id || namedTopLevels.contains(id) { hierarchy.title[id] = text(slots, titleLeaf, record) }
            if let rootLeaf {
                if case .int(let named) = slots[rootLeaf] {
                    if named != root { hierarchy.topLevel[id] = named }
                } else {
                    slots[rootLeaf] = root.map { .int($0) } ?? .null
                    if root == nil { extraction.warn("genre \(id): no top-level genre (its parent chain ends in a cycle)") }
                }
            }
            if parent != given {
                slots[parentLeaf] = .int(parent)
            }
            try extraction.write(record, slots: slots, rowID: rowID)
        }
        return hierarchy
    }

    static func integer(_ slot: Slot) -> Int64? {
        if case .int(let value) = slot { return value }
        return nil
    }

    private func text(_ slots: RowSlots, _ leaf: Int, _ record: CSVRecord) -> String? {
        if case .text(let column) = slots[leaf] { return record[column] }
        if case .string(let value) = slots.value(leaf) { return value }
        return nil
    }

    // MARK: Albums and artists

    /// Writes an album/artist file and keeps, per id, the fields the track schema embeds from it.
    private func extractReferenced(_ extraction: TableExtraction, trackPlan: ExtractPlan, entity: String) throws -> LookupTable {
        var table = LookupTable(source: extraction.inputName)
        // Track leaves completed from this entity, and the entity's leaf each one is read from.
        var sources: [Int] = []
        for node in trackPlan.nodes {
            guard case .object(let object) = node, object.lookup == entity else { continue }
            for child in object.children {
                let field = trackPlan.leaves[child].lookupField ?? trackPlan.leaves[child].name
                guard let source = extraction.plan.leaves.firstIndex(where: { $0.name == field }) else { continue }
                table.fieldIndex[child] = sources.count
                sources.append(source)
            }
        }
        var work = RowWork(rows: extraction.rows, fragmentLeaves: sources)
        work.printLines = !dryRun
        // The rows go to a file, not memory: a million albums would cost their text again. A dry
        // run writes nothing under the work directory: its file goes to the system's temporary one.
        let lookupRows = try LookupFileWriter(directory: dryRun ? FileManager.default.temporaryDirectory.path : stagingDirectory,
                                              entity: entity)
        try extraction.runRows(work, workers: rowJobs, batchBytes: rowBatchBytes ?? Self.defaultBatchBytes(workers: rowJobs),
                               lookupRows: lookupRows)
        table.rows = try lookupRows.finish()
        return table
    }

    // MARK: Rows

    /// Every other entity: rows completed by the lookup tables of the objects they embed
    /// (`x-lookup`) and, after a genre tree, the derivations `genre-top` and `genre-ancestors` of
    /// a `genres` list, then written.
    private func extractRows(_ extraction: TableExtraction, only: Set<Int64>?, hierarchy: GenreHierarchy?,
                             lookups: LookupTables) throws {
        let plan = extraction.plan
        var work = RowWork(rows: extraction.rows, only: only, lookups: extraction.rows.resolve(lookups))
        work.printLines = !dryRun
        let topLeaf = plan.leaves.firstIndex { $0.derive == "genre-top" }
        let allLeaf = plan.leaves.firstIndex { $0.derive == "genre-ancestors" }
        if let hierarchy, topLeaf != nil || allLeaf != nil,
           let genresLeaf = plan.leaves.firstIndex(where: { $0.name == "genres" && $0.path == "genres" }) {
            let genres = GenreLookup(hierarchy)
            work.complete = { id, slots, warnings in
                // The track's genre ids: in the row's store of integers, or (a cell the fast scan
                // left to the parser) a list value, whose ids are added to the store.
                let ids: Range<Int>
                switch slots[genresLeaf] {
                case .integers(let range):
                    ids = range
                case .value:
                    guard case .list(let list) = slots.value(genresLeaf) else { return }
                    let start = slots.integers.count
                    for case .int(let genre) in list { slots.integers.append(genre) }
                    ids = start..<slots.integers.count
                default:
                    return
                }
                for index in ids where !genres.isKnown(slots.integers[index]) {
                    warnings.append("track \(id): unknown genre \(slots.integers[index])")
                }
                // tracks.csv has both columns: nothing to derive.
                let derivesTop = topLeaf.map { if case .missing = slots[$0] { true } else { false } } ?? false
                let derivesAll = allLeaf.map { if case .missing = slots[$0] { true } else { false } } ?? false
                if derivesTop, let topLeaf {
                    if let title = genres.topGenreTitle(of: slots.integers[ids]) { slots.set(topLeaf, .string(title)) } else { slots[topLeaf] = .null }
                }
                if derivesAll, let allLeaf {
                    slots[allLeaf] = .integers(genres.appendAncestors(of: ids, to: &slots.integers))
                }
            }
        }
        try extraction.runRows(work, workers: rowJobs, batchBytes: rowBatchBytes ?? Self.defaultBatchBytes(workers: rowJobs))
    }
}

/// The genre tree: parents (0 = top level) of every known genre, the top-level genre a file names
/// where it is not the one the parents lead to, and the titles of top-level genres (all that
/// `genre_top` needs).
struct GenreHierarchy: Sendable {
    var parent: [Int64: Int64] = [:]
    var topLevel: [Int64: Int64] = [:]
    var title: [Int64: String] = [:]

    func isKnown(_ genre: Int64) -> Bool { parent[genre] != nil }

    /// The top-level ancestor; for a chain that reaches an unknown parent, the last known genre
    /// (as the official genres.csv does for genre 13, whose raw parent 126 does not exist).
    func root(of genre: Int64) -> Int64? {
        var current = genre
        var steps = 0
        while let next = parent[current], next != 0 {
            guard parent[next] != nil else { return current }
            current = next
            steps += 1
            if steps > parent.count { return nil }
        }
        return parent[current] == nil ? nil : current
    }

    /// FMA's `genre_top`: the title of the one top-level genre all of a track's genres belong to.
    func topGenreTitle(of genres: [Int64]) -> String? {
        let roots = Set(genres.compactMap { topLevel[$0] ?? root(of: $0) })
        guard roots.count == 1, let root = roots.first else { return nil }
        return title[root]
    }

    /// The genres and all their ancestors, ascending.
    func withAncestors(_ genres: [Int64]) -> [Int64] {
        // A track has a few genres a few levels deep: a small array beats a Set here.
        var all: [Int64] = []
        all.reserveCapacity(genres.count * 3)
        for genre in genres {
            var current = genre
            while !all.contains(current) {
                all.append(current)
                guard let next = parent[current], next != 0 else { break }
                current = next
            }
        }
        all.sort()
        return all
    }
}

/// `GenreHierarchy`'s answers for the tracks, per genre id from arrays made once: every track
/// asked them through dictionaries (a hash per genre and per step up the tree, and a set per
/// track), 3% of a raw_tracks.csv profile. Ids beyond the arrays (FMA's are below 1,300) are
/// asked of the hierarchy itself.
final class GenreLookup: Sendable {
    private let hierarchy: GenreHierarchy
    /// Index: genre id. The arrays are empty when the ids are not small and non-negative.
    private let known: [Bool]
    private let titles: [String?]
    /// The top-level genre `genre_top` goes by (-1: none).
    private let roots: [Int64]
    /// The genre and its ancestors, as `GenreHierarchy.withAncestors` walks them.
    private let chains: [[Int64]]
    private static let largestDenseID: Int64 = 1 << 16

    init(_ hierarchy: GenreHierarchy) {
        self.hierarchy = hierarchy
        let ids = Set(hierarchy.parent.keys).union(hierarchy.title.keys).union(hierarchy.topLevel.keys)
        guard let largest = ids.max(), let smallest = ids.min(), smallest >= 0, largest < Self.largestDenseID else {
            (known, titles, roots, chains) = ([], [], [], [])
            return
        }
        let count = Int(largest) + 1
        known = (0..<count).map { hierarchy.isKnown(Int64($0)) }
        titles = (0..<count).map { hierarchy.title[Int64($0)] }
        roots = (0..<count).map { hierarchy.topLevel[Int64($0)] ?? hierarchy.root(of: Int64($0)) ?? -1 }
        chains = (0..<count).map { hierarchy.withAncestors([Int64($0)]) }
    }

    private func dense(_ genre: Int64) -> Int? {
        genre >= 0 && genre < Int64(known.count) ? Int(genre) : nil
    }

    func isKnown(_ genre: Int64) -> Bool {
        guard let index = dense(genre) else { return hierarchy.isKnown(genre) }
        return known[index]
    }

    /// `GenreHierarchy.topGenreTitle`.
    func topGenreTitle<Genres: Sequence<Int64>>(of genres: Genres) -> String? {
        var root: Int64?
        for genre in genres {
            let found: Int64?
            if let index = dense(genre) {
                found = roots[index] >= 0 ? roots[index] : nil
            } else {
                found = hierarchy.topLevel[genre] ?? hierarchy.root(of: genre)
            }
            guard let found else { continue }
            if let root, root != found { return nil }  // two top-level genres
            root = found
        }
        guard let root else { return nil }
        if let index = dense(root) { return titles[index] }
        return hierarchy.title[root]
    }

    /// `GenreHierarchy.withAncestors` of `integers[genres]` (a track's genres in its row's store
    /// of integers), appended to `integers`: the union of each genre's chain, ascending. Returns
    /// where it lies; nothing is allocated per track.
    func appendAncestors(of genres: Range<Int>, to integers: inout [Int64]) -> Range<Int> {
        let start = integers.count
        for position in genres {
            guard let index = dense(integers[position]) else {
                integers.removeSubrange(start...)
                integers += hierarchy.withAncestors(Array(integers[genres]))
                return start..<integers.count
            }
            for member in chains[index] where !integers[start...].contains(member) { integers.append(member) }
        }
        integers[start...].sort()
        return start..<integers.count
    }
}

import DocumentStore
import Foundation
import Pipeline

extension JobContext {
    /// The run's dataset's schemas: those `--schemas` names, else those found beside the
    /// executable or installed, or their dataset's folder (`Schemas/mssd`).
    public func schemaCatalog() throws -> SchemaCatalog {
        let root = try SchemaCatalog.locate(explicit: options.schemas)
        guard let datasetDirectory else { return root }
        let directory = root.directory + "/" + datasetDirectory
        guard FileManager.default.fileExists(atPath: directory) else {
            throw JobError(.usage, "\(directory): no schemas of dataset \(options.dataset) (the catalog \(root.directory) has no folder \(datasetDirectory))")
        }
        return SchemaCatalog(directory: directory)
    }
}

/// The staged files of each schema: `staging/**/<x-staging-file>` and its shards
/// (`features.shard-1-of-4.jsonl`).
public struct StagedCollections: Sendable {
    public let schema: EntitySchema
    public let files: [String]

    /// The collections whose `_id` is a track id: what `--only` narrows.
    public static let trackKeyedCollections: Set = ["tracks", "features", "training"]

    public var isTrackKeyed: Bool { Self.trackKeyedCollections.contains(schema.collection) }

    /// Whether `--only` (normalised ids) takes the document of `id` from this collection.
    public func selects(_ id: BSONValue?, only: Set<String>?) -> Bool {
        guard let only, isTrackKeyed else { return true }
        return id.map { only.contains($0.idText) } ?? true
    }


    /// Stops (exit 65, naming both places) when one id is staged twice across the collection's
    /// files: an unsharded file left beside shards, or shards of two layouts.
    public func checkNoIDStagedTwice() throws {
        guard files.count > 1 else { return }
        var staged = StagedIDs()
        for path in files {
            let reader = try JSONLinesReader(path: path)
            while let document = try reader.next() {
                guard let id = document["_id"] else { continue }
                let location = "\((path as NSString).lastPathComponent):\(reader.lineNumber)"
                try staged.record(id, at: location)
            }
        }
    }

    /// `--prune` deletes what is not staged, so the staging must be whole: a successful extract's
    /// marker whose counts match the staged metadata, and features of one complete layout.
    public static func checkPrunable(_ staged: [StagedCollections], work: WorkDirectory) throws {
        let metadataDirectory = work.metadataStaging.path
        let markerPath = metadataDirectory + "/" + StagingMarker.fileName
        guard let marker = try StagingMarker.read(in: metadataDirectory) else {
            throw JobError(.dataError, "--prune refused: \(markerPath) is missing, so the metadata staging is not known to be from a successful extract; run etl-extract")
        }
        var stagedRows: [String: Int] = [:]
        for collection in staged {
            for path in collection.files where (path as NSString).deletingLastPathComponent == metadataDirectory {
                stagedRows[(path as NSString).lastPathComponent] = try countDocuments(path)
            }
        }
        var markedRows: [String: Int] = [:]
        for file in marker.files { markedRows[file.name] = file.rows }
        for name in Set(stagedRows.keys).union(markedRows.keys).sorted() where stagedRows[name] != markedRows[name] {
            let has = stagedRows[name].map { "\($0) rows" } ?? "no file"
            let says = markedRows[name].map { "\($0)" } ?? "none"
            throw JobError(.dataError, "--prune refused: staging/metadata/\(name) has \(has), the success marker of run \(marker.run) says \(says); the staging is from a failed or partial run: run etl-extract")
        }
        if let features = staged.first(where: { $0.schema.collection == "features" }), let problem = incompleteLayout(features.files) {
            throw JobError(.dataError, "--prune refused: staged features \(problem); prune needs features.jsonl or every shard of one --shard layout")
        }
    }

    /// Why these feature files are not one whole layout, or nil when they are.
    public static func incompleteLayout(_ files: [String]) -> String? {
        let names = files.map { ($0 as NSString).lastPathComponent }
        if names == ["features.jsonl"] { return nil }
        if names.contains("features.jsonl") { return "mix features.jsonl with shards (\(names.joined(separator: ", ")))" }
        var shards: [Int: Set<Int>] = [:]
        for name in names {
            guard let shard = FeatureShardFile.parse(name) else { return "include \(name), not a shard file" }
            shards[shard.count, default: []].insert(shard.index)
        }
        guard shards.count == 1, let layout = shards.first else {
            return "mix layouts (\(names.joined(separator: ", ")))"
        }
        let count = layout.key
        let missing = Set(1...max(count, 1)).subtracting(layout.value).sorted()
        return missing.isEmpty ? nil : "lack shard \(missing.map { "\($0)-of-\(count)" }.joined(separator: ", "))"
    }

    private static func countDocuments(_ path: String) throws -> Int {
        let reader = try JSONLinesReader(path: path)
        var count = 0
        while try reader.next() != nil { count += 1 }
        return count
    }

    public static func find(in work: WorkDirectory, catalog: SchemaCatalog) throws -> [StagedCollections] {
        try catalog.all().compactMap { schema in
            let files = files(named: schema.stagingFile, in: work)
            return files.isEmpty ? nil : StagedCollections(schema: schema, files: files)
        }
    }

    /// The staged files called `name`, or shards of it, under the staging directories.
    public static func files(named name: String, in work: WorkDirectory) -> [String] {
        let stem = (name as NSString).deletingPathExtension
        var files: [String] = []
        for directory in [work.metadataStaging, work.featuresStaging, work.staging] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for candidate in names.sorted()
            where candidate == name || (candidate.hasPrefix(stem + ".shard-") && candidate.hasSuffix(".jsonl")) {
                files.append(directory.appendingPathComponent(candidate).path)
            }
        }
        return files
    }
}

/// Where each id of a collection's staged files was first seen: an id staged twice (an unsharded
/// file left beside shards, or shards of two layouts) stops the run with exit 65, naming both places.
public struct StagedIDs {
    private var stagedAt: [String: String] = [:]

    public init() {}

    /// `location` is `file:line`.
    public mutating func record(_ id: BSONValue, at location: String) throws {
        if let earlier = stagedAt.updateValue(location, forKey: id.canonicalKey) {
            throw JobError(.dataError, "id \(id.idText) is staged twice, at \(earlier) and at \(location): two layouts or shards side by side; remove the stale file (or re-run the job that writes them) so each id is staged once")
        }
    }
}

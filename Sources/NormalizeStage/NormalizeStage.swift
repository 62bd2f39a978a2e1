import DocumentStore
import Foundation
import Pipeline
import Staging
import Tabular

/// What `etl-normalize` is asked to do.
public struct NormalizeOptions: Sendable {
    /// Scaling method; nil: z-score for a full run, the persisted scaler's with `only`.
    public var method: FeatureScaler.Method?
    /// `--only`: rescale these ids (normalised, see `OnlyIDs`) with the last full fit.
    public var only: Set<String>?

    public init(method: FeatureScaler.Method? = nil, only: Set<String>? = nil) {
        self.method = method
        self.only = only
    }
}

/// `etl-normalize`: staged tracks + features → `staging/training.jsonl` (labels and the scaled
/// feature vector per track) and `staging/scaler.json` (fitted on the training split only).
///
/// A full run fits the scaler and rewrites every row. `--only` rescales those ids with the
/// persisted scaler of the last full fit and keeps every other row as it is staged.
public struct NormalizeStage: Sendable {
    public static let jobName = "etl-normalize"

    public static func run(_ options: NormalizeOptions, context: JobContext) async throws -> JobSummary {
        try NormalizeStage(options: options).execute(context)
    }

    let options: NormalizeOptions
    var method: FeatureScaler.Method? { options.method }

    struct Labels {
        var id: BSONValue
        var genreTop: BSONValue
        var genres: BSONValue
        var split: String?
        var subset: BSONValue
        var matched = false
    }

    static let rowsFile = "training.jsonl"
    static let scalerFile = "scaler.json"

    func execute(_ context: JobContext) throws -> JobSummary {
        let tracksPath = context.work.metadataStaging.appendingPathComponent("tracks.jsonl").path
        guard FileManager.default.fileExists(atPath: tracksPath) else {
            throw JobError(.unavailable, "\(tracksPath) is missing: run etl-extract first")
        }
        let featureFiles = StagedCollections.files(named: "features.jsonl", in: context.work)
        guard !featureFiles.isEmpty else {
            throw JobError(.unavailable, "no staged features under \(context.work.featuresStaging.path): run etl-features first")
        }
        // The scaler is fitted on every training row: shards must be every shard of one layout.
        // (features.jsonl beside shards is an id staged twice, refused with exit 65 below.)
        let featureNames = featureFiles.map { ($0 as NSString).lastPathComponent }
        if featureNames.allSatisfy({ FeatureShardFile.parse($0) != nil }),
           let problem = StagedCollections.incompleteLayout(featureFiles) {
            // Two layouts: stale files in the staging (bad data); one short: input still missing.
            let layouts = Set(featureNames.compactMap { FeatureShardFile.parse($0)?.count })
            throw JobError(layouts.count > 1 ? .dataError : .unavailable, "staged features \(problem) under \(context.work.featuresStaging.path): the scaler is fitted on every training row, so gather every shard of one --shard layout there first")
        }
        var labels = try readLabels(tracksPath)
        let only = options.only
        let rowsPath = context.work.staging.appendingPathComponent(Self.rowsFile).path
        let scalerPath = context.work.staging.appendingPathComponent(Self.scalerFile).path
        let persisted = only == nil ? nil : try PersistedScaler.read(path: scalerPath)
        // --only rescales a few rows of a full run's staging; without one it would stage those
        // rows alone, a partial training.jsonl that a later load --prune would take as the whole.
        if only != nil, persisted == nil || !FileManager.default.fileExists(atPath: rowsPath) {
            throw JobError(.dataError, "no full normalize staged yet: run etl-normalize without --only first")
        }
        if let persisted, let method, method != persisted.scaler.method {
            throw JobError(.usage, "--method \(method.rawValue) differs from the fitted scaler's \(persisted.scaler.method.rawValue) (\(scalerPath)): a change of method is a full run's (without --only)")
        }
        func selected(_ id: BSONValue) -> Bool { only?.contains(id.idText) ?? true }

        // Pass 1: check that no id is staged twice, and fit on training rows only (a validation
        // or test outlier never moves the scaler) unless an --only run reuses the fitted scaler.
        var accumulator = FeatureScaler.Accumulator(width: FeatureVector.names.count)
        var hashSplitUsed = 0
        var unmatched: [(String, String)] = []
        var malformed = 0
        var staged = StagedIDs()
        try forEachFeatureDocument(featureFiles) { id, document, location in
            try staged.record(id, at: location)
            guard let track = labels[id.canonicalKey] else {
                if selected(id) { unmatched.append((id.idText, "features without a track (\(location))")) }
                return
            }
            let values: [Double]
            do {
                values = try FeatureVector.values(of: document)
            } catch {
                if selected(id) {
                    malformed += 1
                    unmatched.append((id.idText, "malformed feature document (\(location)): \(error)"))
                }
                return
            }
            labels[id.canonicalKey]?.matched = true
            if track.split == nil, selected(id) { hashSplitUsed += 1 }
            if persisted == nil, (track.split ?? HashSplit.split(forID: id.idText)) == "training" { accumulator.add(values) }
        }
        for track in labels.values where !track.matched && selected(track.id) {
            unmatched.append((track.id.idText, "track without features"))
        }
        let scaler: FeatureScaler
        let version: String
        var scalerDocument: Document?
        if let persisted {
            scaler = persisted.scaler
            version = persisted.version
        } else {
            guard accumulator.rows > 0 else {
                // Say why, and leave the list of what did not match where the engineer will look.
                let matched = labels.values.filter(\.matched).count
                if !context.options.dryRun { try writeUnmatched(unmatched, context: context) }
                throw JobError(.dataError, "no training rows to fit the scaler on: \(matched) of \(labels.count) staged tracks have features and none of them is in the training split (unmatched ids: \(context.quarantineDirectory.path)/normalize.unmatched.csv)")
            }
            scaler = accumulator.scaler(method ?? .zscore)
            // A refit to the same parameters is the same scaler: it keeps the run that first
            // fitted it, so a re-run writes the same bytes and loads nothing new.
            let document = try Self.scalerDocument(scaler, splitSource: hashSplitUsed > 0 ? HashSplit.description : "tracks set.split") {
                PersistedScaler.fittingRun(path: scalerPath, version: $0) ?? context.runID
            }
            version = document["_id"]?.stringValue ?? ""
            scalerDocument = document
        }

        // Pass 2: scale the selected rows; with --only, every other row is copied as staged, in
        // the order a full run writes (the features' order), rows of ids without features last.
        var summary = JobSummary()
        var written = 0, kept = 0, nonFinite = 0
        var withoutRow: [String] = []
        let previousRows = only == nil ? nil : try StagedLineIndex(path: rowsPath)
        let writer = context.options.dryRun ? nil : try AtomicFileWriter(path: rowsPath)
        var copied = Set<String>()
        func keep(_ key: String) throws {
            guard let line = previousRows?.line(forKey: key) else { return }
            guard copied.insert(key).inserted else { return }
            try writer?.write(line)
            kept += 1
        }
        try forEachFeatureDocument(featureFiles) { id, document, _ in
            guard selected(id) else {
                if labels[id.canonicalKey] != nil, previousRows?.line(forKey: id.canonicalKey) == nil { withoutRow.append(id.idText) }
                return try keep(id.canonicalKey)
            }
            guard let track = labels[id.canonicalKey], let values = try? FeatureVector.values(of: document) else { return }
            var row: Document = ["_id": id, "genre_top": track.genreTop, "genres": track.genres,
                                 "split": .string(track.split ?? HashSplit.split(forID: id.idText)),
                                 "subset": track.subset, "scaler_version": .string(version)]
            for (name, value) in zip(FeatureVector.names, scaler.apply(values, nonFinite: &nonFinite)) {
                row.append(name, value.map(BSONValue.double) ?? .null)
            }
            try writer?.write(Array((try BSONDocument(row).jsonLine() + "\n").utf8))
            written += 1
        }
        for (key, id) in previousRows?.keys ?? [] where !(only?.contains(id.idText) ?? false) { try keep(key) }
        if !context.options.dryRun {
            // The scaler first: a crash before the rows leaves the old rows, never rows that
            // name a scaler_version no file holds.
            if let scalerDocument {
                let scalerWriter = try StagingWriter(path: scalerPath)
                try scalerWriter.write(scalerDocument)
                try scalerWriter.commit()
            }
            try writer?.commit()
            try writeUnmatched(unmatched, context: context)
        }
        if !withoutRow.isEmpty {
            context.logger.warning("\(withoutRow.count) ids have features but no staged row and are not in --only, so they stay out of \(rowsPath) (e.g. \(withoutRow.prefix(5).joined(separator: ", "))): name them in --only or run etl-normalize without --only")
        }
        if persisted != nil {
            context.logger.info("scaler \(scaler.method.rawValue) version \(version) (the last full fit, \(scalerPath)) applied to the --only ids; \(written) rows written, \(kept) other rows kept; \(nonFinite) non-finite values left missing (null)")
        } else {
            context.logger.info("scaler \(scaler.method.rawValue) version \(version) fitted on \(scaler.fittedRows) training rows; \(written) rows written; \(nonFinite) non-finite values left missing (null)")
        }
        if hashSplitUsed > 0 {
            context.logger.warning("\(hashSplitUsed) tracks have no set.split: used the hash split (\(HashSplit.description))")
        }
        summary.count("rows written", written)
        if only != nil {
            summary.count("rows kept", kept)
            summary.count("ids with features but no row", withoutRow.count)
        }
        summary.count("fitted on", persisted == nil ? scaler.fittedRows : 0)
        summary.count("tracks without features", unmatched.filter { $0.1 == "track without features" }.count)
        summary.count("features without a track", unmatched.filter { $0.1.hasPrefix("features without") }.count)
        summary.count("malformed", malformed)
        summary.count("non-finite left missing", nonFinite)
        return summary
    }

    private func readLabels(_ path: String) throws -> [String: Labels] {
        let reader = try JSONLinesReader(path: path)
        var labels: [String: Labels] = [:]
        while let track = try reader.next() {
            let document = try track.document()
            guard let id = document["_id"] else { continue }
            labels[id.canonicalKey] = Labels(
                id: id, genreTop: document["genre_top"] ?? .null,
                genres: document["genres"] ?? .null,
                split: document[path: "set.split"]?.stringValue,
                subset: document[path: "set.subset"] ?? .null)
        }
        return labels
    }

    private func forEachFeatureDocument(_ files: [String],
                                        _ body: (BSONValue, Document, String) throws -> Void) throws {
        // In id order across the files: shards give the unsharded file's order, so the same fit.
        var documents = try FeatureFilesInIDOrder(paths: files)
        while let staged = try documents.next() {
            let document = try staged.document.document()
            guard let id = document["_id"] else { continue }
            try body(id, document, "\((staged.path as NSString).lastPathComponent):\(staged.lineNumber)")
        }
    }

    /// The persisted form of a fitted scaler (`staging/scaler.json`): `names` are the features in
    /// the scaler's order; `fittingRun` gives the run recorded for the version (outside the hashed part).
    public static func scalerDocument(_ scaler: FeatureScaler, names: [String] = FeatureVector.names, splitSource: String,
                                      fittingRun: (String) -> String) throws -> Document {
        var parameters = Document()
        for (index, name) in names.enumerated() {
            let keys = scaler.method == .zscore ? ("mean", "std") : ("min", "range")
            parameters.append(name, .document([keys.0: .double(scaler.offsets[index]), keys.1: .double(scaler.scales[index])]))
        }
        var document: Document = ["method": .string(scaler.method.rawValue), "features": .document(parameters)]
        // The version is the hash of the method and the per-feature parameters (their names
        // included): the same fit gives the same id, whatever the rows, the run or the program version.
        let version = String(try BSONDocument(document).contentHash.prefix(16))
        document = ["_id": .string(version), "method": .string(scaler.method.rawValue),
                    "fitted_on": .document(["split": "training", "rows": .integer(scaler.fittedRows),
                                            "split_source": .string(splitSource), "run_id": .string(fittingRun(version))]),
                    "musicetl_version": .string(MusicETL.version), "features": .document(parameters)]
        return document
    }

    private func writeUnmatched(_ unmatched: [(String, String)], context: JobContext) throws {
        guard !unmatched.isEmpty else { return }
        let path = context.quarantineDirectory.appendingPathComponent("normalize.unmatched.csv").path
        let writer = try CSVWriter(path: path)
        try writer.writeRecord(["track_id", "reason"])
        for (id, reason) in unmatched.sorted(by: { $0.0 < $1.0 }) { try writer.writeRecord([id, reason]) }
        try writer.commit()
        context.logger.warning("\(unmatched.count) tracks or feature documents unmatched: \(path)")
    }
}

/// `staging/scaler.json` as the last full fit left it: the scaler an `--only` run applies.
public struct PersistedScaler {
    var scaler: FeatureScaler
    var version: String

    /// The run that fitted the staged scaler when its version is `version`, else nil.
    public static func fittingRun(path: String, version: String) -> String? {
        guard FileManager.default.fileExists(atPath: path),
              let document = try? JSONLinesReader(path: path).next()?.document(),
              document["_id"]?.stringValue == version else { return nil }
        return document[path: "fitted_on.run_id"]?.stringValue
    }

    /// nil when no scaler was fitted yet.
    static func read(path: String) throws -> PersistedScaler? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let reader = try JSONLinesReader(path: path)
        func bad(_ why: String) -> JobError { JobError(.dataError, "\(path): \(why); run etl-normalize without --only to fit again") }
        guard let document = try reader.next()?.document() else { throw bad("empty") }
        guard let version = document["_id"]?.stringValue,
              let method = document["method"]?.stringValue.flatMap(FeatureScaler.Method.init(rawValue:)),
              let features = document["features"]?.documentValue else { throw bad("not a scaler (_id, method, features)") }
        let keys = method == .zscore ? ("mean", "std") : ("min", "range")
        var offsets: [Double] = [], scales: [Double] = []
        for name in FeatureVector.names {
            guard let parameters = features[name]?.documentValue, let offset = parameters[keys.0]?.doubleValue,
                  let scale = parameters[keys.1]?.doubleValue else { throw bad("no \(keys.0) and \(keys.1) for \(name)") }
            offsets.append(offset)
            scales.append(scale)
        }
        let rows = Int(document[path: "fitted_on.rows"]?.int64Value ?? 0)
        return PersistedScaler(scaler: FeatureScaler(method: method, offsets: offsets, scales: scales, fittedRows: rows),
                               version: version)
    }
}

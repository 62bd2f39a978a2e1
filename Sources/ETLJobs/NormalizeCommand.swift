import ArgumentParser
import DocumentStore
import Foundation
import Pipeline
import Tabular

/// `etl-normalize`: staged tracks + features → `staging/training.jsonl` (labels and the scaled
/// feature vector per track) and `staging/scaler.json` (fitted on the training split only).
public struct NormalizeCommand: JobCommand {
    public static let jobName = "etl-normalize"
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Join tracks and features, fit a scaler on the training split, write training rows.",
        version: MusicETL.version)

    @Option(name: .long, help: "Scaling: zscore (default) or minmax.")
    public var method: FeatureScaler.Method = .zscore

    @OptionGroup public var common: CommonOptions

    public init() {}

    struct Labels {
        var id: BSONValue
        var genreTop: BSONValue
        var genres: BSONValue
        var split: String?
        var subset: BSONValue
        var matched = false
    }

    public func execute(_ context: JobContext) async throws -> JobSummary {
        let tracksPath = context.work.metadataStaging.appendingPathComponent("tracks.jsonl").path
        guard FileManager.default.fileExists(atPath: tracksPath) else {
            throw JobError(.unavailable, "\(tracksPath) is missing: run etl-extract first")
        }
        let featureFiles = StagedCollections.files(named: "features.jsonl", in: context.work)
        guard !featureFiles.isEmpty else {
            throw JobError(.unavailable, "no staged features under \(context.work.featuresStaging.path): run etl-features first")
        }
        var labels = try readLabels(tracksPath)
        let only = common.onlyIDs

        // Pass 1: fit on training rows only (a validation or test outlier never moves the scaler).
        var accumulator = FeatureScaler.Accumulator(width: FeatureVector.names.count)
        var hashSplitUsed = 0
        var unmatched: [(String, String)] = []
        var malformed = 0
        try forEachFeatureDocument(featureFiles) { id, document, location in
            guard let track = labels[id.canonicalKey] else {
                unmatched.append((id.idText, "features without a track (\(location))"))
                return
            }
            let values: [Double]
            do {
                values = try FeatureVector.values(of: document)
            } catch {
                malformed += 1
                unmatched.append((id.idText, "malformed feature document (\(location)): \(error)"))
                return
            }
            labels[id.canonicalKey]?.matched = true
            if track.split == nil { hashSplitUsed += 1 }
            if (track.split ?? HashSplit.split(forID: id.idText)) == "training" { accumulator.add(values) }
        }
        for track in labels.values where !track.matched {
            unmatched.append((track.id.idText, "track without features"))
        }
        guard accumulator.rows > 0 else {
            // Say why, and leave the list of what did not match where the engineer will look.
            let matched = labels.values.filter(\.matched).count
            if !context.options.dryRun { try writeUnmatched(unmatched, context: context) }
            throw JobError(.dataError, "no training rows to fit the scaler on: \(matched) of \(labels.count) staged tracks have features and none of them is in the training split (unmatched ids: \(context.quarantineDirectory.path)/normalize.unmatched.csv)")
        }
        let scaler = accumulator.scaler(method)
        let scalerDocument = try scalerDocument(scaler, splitSource: hashSplitUsed > 0 ? HashSplit.description : "tracks set.split")

        // Pass 2: scale every matched row.
        var summary = JobSummary()
        var written = 0, nonFinite = 0
        let writer = context.options.dryRun ? nil
            : try StagingWriter(path: context.work.staging.appendingPathComponent("training.jsonl").path)
        try forEachFeatureDocument(featureFiles) { id, document, _ in
            guard let track = labels[id.canonicalKey], let values = try? FeatureVector.values(of: document) else { return }
            if let only, !only.contains(id.idText) { return }
            var row: Document = ["_id": id, "genre_top": track.genreTop, "genres": track.genres,
                                 "split": .string(track.split ?? HashSplit.split(forID: id.idText)),
                                 "subset": track.subset]
            for (name, value) in zip(FeatureVector.names, scaler.apply(values, nonFinite: &nonFinite)) {
                row.append(name, .double(value))
            }
            try writer?.write(row)
            written += 1
        }
        try writer?.commit()
        if !context.options.dryRun {
            let scalerWriter = try StagingWriter(path: context.work.staging.appendingPathComponent("scaler.json").path)
            try scalerWriter.write(scalerDocument)
            try scalerWriter.commit()
            try writeUnmatched(unmatched, context: context)
        }
        context.logger.info("scaler \(method.rawValue) version \(scalerDocument["_id"]?.stringValue ?? "") fitted on \(scaler.fittedRows) training rows; \(written) rows written; \(nonFinite) non-finite values set to 0")
        if hashSplitUsed > 0 {
            context.logger.warning("\(hashSplitUsed) tracks have no set.split: used the hash split (\(HashSplit.description))")
        }
        summary.count("rows written", written)
        summary.count("fitted on", scaler.fittedRows)
        summary.count("tracks without features", unmatched.filter { $0.1 == "track without features" }.count)
        summary.count("features without a track", unmatched.filter { $0.1.hasPrefix("features without") }.count)
        summary.count("malformed", malformed)
        summary.count("non-finite set to 0", nonFinite)
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
        for path in files {
            let reader = try JSONLinesReader(path: path)
            while let staged = try reader.next() {
                let document = try staged.document()
                guard let id = document["_id"] else { continue }
                try body(id, document, "\((path as NSString).lastPathComponent):\(reader.lineNumber)")
            }
        }
    }

    private func scalerDocument(_ scaler: FeatureScaler, splitSource: String) throws -> Document {
        var parameters = Document()
        for (index, name) in FeatureVector.names.enumerated() {
            let keys = scaler.method == .zscore ? ("mean", "std") : ("min", "range")
            parameters.append(name, .document([keys.0: .double(scaler.offsets[index]), keys.1: .double(scaler.scales[index])]))
        }
        var document: Document = ["method": .string(scaler.method.rawValue), "features": .document(parameters)]
        // The version is the hash of the parameters: the same fit gives the same id.
        let version = String(try BSONDocument(document).contentHash.prefix(16))
        document = ["_id": .string(version), "method": .string(scaler.method.rawValue),
                    "fitted_on": .document(["split": "training", "rows": .integer(scaler.fittedRows),
                                            "split_source": .string(splitSource)]),
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

extension FeatureScaler.Method: ExpressibleByArgument {}

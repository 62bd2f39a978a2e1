import DocumentStore
import Foundation
import Testing
import TestSupport

/// etl-normalize on small staged inputs built here, so every expected number is known.
@testable import ETLJobs
@testable import NormalizeStage

enum HashSplitProbe {
    static func split(_ id: String) -> String { HashSplit.split(forID: id) }
}

@Suite struct NormalizeJobTests {
    private func featureDocument(id: Int, value: Double, skew: Double? = nil) -> Document {
        StagedInputs.featureDocument(id: id) { statistic, _ in statistic == "skew" ? (skew ?? value) : value }
    }

    private func stage(work: TemporaryDirectory, outlier: Double) throws {
        let splits = [1: "training", 2: "training", 3: "training", 4: "training", 5: "validation", 6: "test", 7: "training"]
        let tracks = splits.keys.sorted().map { StagedInputs.track(id: $0, split: splits[$0] ?? "") }
        let features = [featureDocument(id: 1, value: 1), featureDocument(id: 2, value: 2, skew: .nan),
                        featureDocument(id: 3, value: 3), featureDocument(id: 4, value: 4),
                        featureDocument(id: 5, value: outlier), featureDocument(id: 6, value: 0),
                        featureDocument(id: 99, value: 5)]
        try StagedInputs.stage(tracks: tracks, features: features, in: work)
    }

    @Test func scalerIsFittedOnTrainingRowsOnly() throws {
        let work = TemporaryDirectory()
        try stage(work: work, outlier: 1e6)
        let run = try JobProcess.run("etl-normalize", ["--work-dir", work.path])
        #expect(run.status == 0, "\(run.standardError)")
        let scaler = try #require(try StagedInputs.read(work.url.appendingPathComponent("staging/scaler.json")).first)
        #expect(scaler[path: "fitted_on.rows"]?.int64Value == 4)
        // Training values 1, 2, 3, 4: mean 2.5, population std sqrt(1.25).
        let meanOne = try #require(scaler[path: "features.mfcc_mean_01.mean"]?.doubleValue)
        let stdOne = try #require(scaler[path: "features.mfcc_mean_01.std"]?.doubleValue)
        #expect(abs(meanOne - 2.5) < 1e-12)
        #expect(abs(stdOne - 1.25.squareRoot()) < 1e-12)
        // The skew of track 2 is NaN: skipped in the fit (1, 3, 4 → mean 8/3).
        #expect(abs((scaler[path: "features.mfcc_skew_01.mean"]?.doubleValue ?? 0) - 8.0 / 3.0) < 1e-12)

        let rows = try StagedInputs.read(work.url.appendingPathComponent("staging/training.jsonl"))
        #expect(rows.map { $0["_id"]?.int64Value } == [1, 2, 3, 4, 5, 6])
        #expect(rows.allSatisfy { row in row.fields.filter { $0.key.hasPrefix("mfcc_") || $0.key.hasPrefix("spectral_") || $0.key.hasPrefix("zcr_") }.count == 154 })
        let first = try #require(rows.first)
        #expect(abs((first["mfcc_mean_01"]?.doubleValue ?? 0) - (1 - 2.5) / 1.25.squareRoot()) < 1e-12)
        #expect(first["split"] == "training" && first["genre_top"] == "Rock" && first["subset"] == "small")
        let second = try #require(rows.first { $0["_id"] == 2 })
        #expect(second["mfcc_skew_01"] == .null, "a NaN statistic stays missing, never a made-up 0")
        #expect(second["mfcc_mean_01"]?.doubleValue != nil)
        #expect(run.lastLine.contains("1 tracks without features") && run.lastLine.contains("1 features without a track"), "\(run.lastLine)")
        // Track 2 has a NaN skew in 20 MFCCs, the centroid and the ZCR: 22 values.
        #expect(run.lastLine.contains("22 non-finite left missing"), "\(run.lastLine)")
        let quarantine = try FileManager.default.subpathsOfDirectory(atPath: work.path + "/quarantine").first { $0.hasSuffix("normalize.unmatched.csv") }
        let unmatched = try String(contentsOfFile: work.path + "/quarantine/" + (try #require(quarantine)), encoding: .utf8)
        #expect(unmatched.contains("7,track without features") && unmatched.contains("99,features without a track"))

        // A far bigger validation outlier changes nothing in the scaler: same version id.
        let again = TemporaryDirectory()
        try stage(work: again, outlier: 1e12)
        #expect(try JobProcess.run("etl-normalize", ["--work-dir", again.path]).status == 0)
        let scalerAgain = try #require(try StagedInputs.read(again.url.appendingPathComponent("staging/scaler.json")).first)
        #expect(scalerAgain["_id"] == scaler["_id"] && scalerAgain["features"] == scaler["features"])
        // Each records the run that fitted it, outside the hashed version.
        let fittingRun = try #require(scaler[path: "fitted_on.run_id"]?.stringValue)
        #expect(!fittingRun.isEmpty && run.lastLine.contains(fittingRun), "\(run.lastLine)")
        #expect(scalerAgain[path: "fitted_on.run_id"]?.stringValue.map { $0 != fittingRun } == true)
    }

    @Test func onlyRescalesThoseIDsWithTheLastFullFitAndKeepsEveryOtherRow() throws {
        let work = TemporaryDirectory()
        try stage(work: work, outlier: 1e6)
        #expect(try JobProcess.run("etl-normalize", ["--work-dir", work.path]).status == 0)
        let rowsURL = work.url.appendingPathComponent("staging/training.jsonl")
        let scalerURL = work.url.appendingPathComponent("staging/scaler.json")
        let firstLines = try String(contentsOf: rowsURL, encoding: .utf8).split(separator: "\n")
        let firstScaler = try Data(contentsOf: scalerURL)
        let version = try #require(try StagedInputs.read(scalerURL).first?["_id"])
        #expect(try StagedInputs.read(rowsURL).allSatisfy { $0["scaler_version"] == version })

        // Track 1 (training) and track 5 (validation) change; an --only run must not refit.
        let features = work.url.appendingPathComponent("staging/features/features.jsonl")
        var documents = try StagedInputs.read(features)
        documents[0] = featureDocument(id: 1, value: 100)
        documents[4] = featureDocument(id: 5, value: 7)
        try StagedInputs.writeLines(documents, to: features)
        let only = try JobProcess.run("etl-normalize", ["--work-dir", work.path, "--only", "1,5"])
        #expect(only.status == 0, "\(only.standardError)")
        #expect(only.lastLine.contains("2 rows written, 4 rows kept"), "\(only.lastLine)")
        #expect(try Data(contentsOf: scalerURL) == firstScaler, "the fitted scaler stays")
        let lines = try String(contentsOf: rowsURL, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6)
        for index in [1, 2, 3, 5] { #expect(lines[index] == firstLines[index], "row \(index + 1) kept byte for byte") }
        let rows = try StagedInputs.read(rowsURL)
        #expect(rows.map { $0["_id"]?.int64Value } == [1, 2, 3, 4, 5, 6], "the order of a full run")
        // The fit of the first run (training 1, 2, 3, 4: mean 2.5, std sqrt(1.25)), not a new one.
        #expect(abs((rows[0]["mfcc_mean_01"]?.doubleValue ?? 0) - (100 - 2.5) / 1.25.squareRoot()) < 1e-12)
        #expect(abs((rows[4]["mfcc_mean_01"]?.doubleValue ?? 0) - (7 - 2.5) / 1.25.squareRoot()) < 1e-12)
        #expect(rows.allSatisfy { $0["scaler_version"] == version })

        // A method other than the fitted one is a full run's business.
        let otherMethod = try JobProcess.run("etl-normalize", ["--work-dir", work.path, "--only", "1", "--method", "minmax"])
        #expect(otherMethod.status == 64, "\(otherMethod.lastLine)")
        // A full run refits: a new version, recorded by every row.
        #expect(try JobProcess.run("etl-normalize", ["--work-dir", work.path]).status == 0)
        let refitted = try #require(try StagedInputs.read(scalerURL).first?["_id"])
        #expect(refitted != version)
        #expect(try StagedInputs.read(rowsURL).allSatisfy { $0["scaler_version"] == refitted })
    }

    @Test func aRefitWithTheSameParametersKeepsTheVersionAndTheRowsBytes() throws {
        let work = TemporaryDirectory()
        try stage(work: work, outlier: 1e6)
        #expect(try JobProcess.run("etl-normalize", ["--work-dir", work.path]).status == 0)
        let rowsURL = work.url.appendingPathComponent("staging/training.jsonl")
        let scalerURL = work.url.appendingPathComponent("staging/scaler.json")
        let before = try Data(contentsOf: rowsURL)
        let scalerBefore = try Data(contentsOf: scalerURL)
        // A validation row changes: the training split, so the fit, is the same.
        let features = work.url.appendingPathComponent("staging/features/features.jsonl")
        var documents = try StagedInputs.read(features)
        documents[4] = featureDocument(id: 5, value: 7)
        try StagedInputs.writeLines(documents, to: features)
        #expect(try JobProcess.run("etl-normalize", ["--work-dir", work.path]).status == 0)
        let after = try String(contentsOf: rowsURL, encoding: .utf8).split(separator: "\n")
        let beforeLines = String(decoding: before, as: UTF8.self).split(separator: "\n")
        #expect(after.count == beforeLines.count)
        for index in after.indices where index != 4 { #expect(after[index] == beforeLines[index]) }
        #expect(try Data(contentsOf: scalerURL) == scalerBefore, "the same scaler, fitted by the same first run")
    }

    @Test func theScalerIsCommittedBeforeTheRowsThatNameIt() throws {
        let work = TemporaryDirectory()
        try stage(work: work, outlier: 1e6)
        // The rows cannot be committed (a directory is in the way): the job fails after the scaler.
        let rowsPath = work.path + "/staging/training.jsonl"
        try FileManager.default.createDirectory(atPath: rowsPath + "/in-the-way", withIntermediateDirectories: true)
        let run = try JobProcess.run("etl-normalize", ["--work-dir", work.path])
        #expect(run.status != 0, "\(run.lastLine)")
        let scaler = try #require(try? StagedInputs.read(work.url.appendingPathComponent("staging/scaler.json")).first,
                                  "the scaler is written first")
        #expect(scaler["_id"]?.stringValue?.isEmpty == false)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: rowsPath, isDirectory: &isDirectory) && isDirectory.boolValue)
    }

    @Test func onlyWithoutAFullNormalizeStagedIsRefused() throws {
        let work = TemporaryDirectory()
        try stage(work: work, outlier: 1e6)
        let first = try JobProcess.run("etl-normalize", ["--work-dir", work.path, "--only", "1"])
        #expect(first.status == 65, "\(first.standardError)")
        #expect(first.lastLine.contains("no full normalize staged yet: run etl-normalize without --only first"), "\(first.lastLine)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/staging/training.jsonl"), "no partial rows")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/staging/scaler.json"))

        // A scaler without the rows of its full run is no base either.
        #expect(try JobProcess.run("etl-normalize", ["--work-dir", work.path]).status == 0)
        try FileManager.default.removeItem(atPath: work.path + "/staging/training.jsonl")
        let rowsGone = try JobProcess.run("etl-normalize", ["--work-dir", work.path, "--only", "1"])
        #expect(rowsGone.status == 65 && rowsGone.lastLine.contains("no full normalize staged yet"), "\(rowsGone.lastLine)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/staging/training.jsonl"))
    }

    @Test func onlyCountsIDsWithFeaturesButNoStagedRowAndLeavesThemOut() throws {
        let work = TemporaryDirectory()
        try stage(work: work, outlier: 1e6)
        #expect(try JobProcess.run("etl-normalize", ["--work-dir", work.path]).status == 0)
        // Track 7 (training) had no features at the full run; now it has, but --only names 1.
        let features = work.url.appendingPathComponent("staging/features/features.jsonl")
        try StagedInputs.writeLines(try StagedInputs.read(features) + [featureDocument(id: 7, value: 2)], to: features)
        let only = try JobProcess.run("etl-normalize", ["--work-dir", work.path, "--only", "1"])
        #expect(only.status == 0, "\(only.standardError)")
        #expect(only.lastLine.contains("1 rows written, 5 rows kept, 1 ids with features but no row"), "\(only.lastLine)")
        #expect(only.standardError.contains("1 ids have features but no staged row") && only.standardError.contains("e.g. 7"),
                "\(only.standardError)")
        let rows = try StagedInputs.read(work.url.appendingPathComponent("staging/training.jsonl"))
        #expect(rows.map { $0["_id"]?.int64Value } == [1, 2, 3, 4, 5, 6])
    }

    @Test func anIDStagedInTwoFeatureFilesStopsTheJobNamingBoth() throws {
        let work = TemporaryDirectory()
        try stage(work: work, outlier: 1e6)
        // An unsharded file left beside a shard of a later --shard run.
        try StagedInputs.writeLines([featureDocument(id: 3, value: 30)],
                                    to: work.url.appendingPathComponent("staging/features/features.shard-1-of-2.jsonl"))
        let run = try JobProcess.run("etl-normalize", ["--work-dir", work.path])
        #expect(run.status == 65, "\(run.standardError)")
        #expect(run.lastLine.contains("id 3 is staged twice") && run.lastLine.contains("features.jsonl:3")
                && run.lastLine.contains("features.shard-1-of-2.jsonl:1"), "\(run.lastLine)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/staging/scaler.json"), "nothing fitted")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/staging/training.jsonl"), "nothing written")
    }

    @Test func withoutInputsTheJobSaysWhatToRunFirst() throws {
        let work = TemporaryDirectory()
        let run = try JobProcess.run("etl-normalize", ["--work-dir", work.path])
        #expect(run.status == 69)
        #expect(run.lastLine.contains("run etl-extract first"))
    }

    @Test func hashSplitIsDeterministicAndRoughly80_10_10() {
        let splits = (1...10_000).map { HashSplitProbe.split(String($0)) }
        let training = splits.filter { $0 == "training" }.count
        #expect((7_600...8_400).contains(training))
        #expect(splits == (1...10_000).map { HashSplitProbe.split(String($0)) })
    }
}

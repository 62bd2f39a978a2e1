import DocumentStore
import Foundation
import Testing
import TestSupport

/// etl-normalize on small staged inputs built here, so every expected number is known.
@testable import ETLJobs

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
        #expect(second["mfcc_skew_01"] == .double(0), "NaN statistics become 0 after scaling")
        #expect(run.lastLine.contains("1 tracks without features") && run.lastLine.contains("1 features without a track"), "\(run.lastLine)")
        // Track 2 has a NaN skew in 20 MFCCs, the centroid and the ZCR: 22 values.
        #expect(run.lastLine.contains("22 non-finite set to 0"), "\(run.lastLine)")
        let quarantine = try FileManager.default.subpathsOfDirectory(atPath: work.path + "/quarantine").first { $0.hasSuffix("normalize.unmatched.csv") }
        let unmatched = try String(contentsOfFile: work.path + "/quarantine/" + (try #require(quarantine)), encoding: .utf8)
        #expect(unmatched.contains("7,track without features") && unmatched.contains("99,features without a track"))

        // A far bigger validation outlier changes nothing in the scaler: same version id.
        let again = TemporaryDirectory()
        try stage(work: again, outlier: 1e12)
        #expect(try JobProcess.run("etl-normalize", ["--work-dir", again.path]).status == 0)
        let scalerAgain = try #require(try StagedInputs.read(again.url.appendingPathComponent("staging/scaler.json")).first)
        #expect(scalerAgain["_id"] == scaler["_id"] && scalerAgain["features"] == scaler["features"])
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

import DocumentStore
import Foundation
import Testing
import TestSupport

/// `--only` narrows the work, never the dataset: a night over a few changed ids ends where a
/// full night over the changed input ends.
@Suite(.serialized) struct PartialRerunTests {
    /// The bundled sample plus track 30 (hash split: validation) with audio, copied so the test
    /// may change it.
    private func sampleInput() throws -> TemporaryDirectory {
        let input = TemporaryDirectory()
        let files = FileManager.default
        try files.copyItem(at: Fixtures.url("sample/fma_metadata"), to: input.url.appendingPathComponent("fma_metadata"))
        try files.copyItem(at: Fixtures.url("sample/audio"), to: input.url.appendingPathComponent("audio"))
        try files.copyItem(at: Fixtures.url("audio/tada.ogg"), to: input.url.appendingPathComponent("audio/000/000030.ogg"))
        return input
    }

    private func night(_ input: TemporaryDirectory, work: TemporaryDirectory, uri: String, database: String,
                       _ extra: [String] = []) throws -> JobProcess.Outcome {
        try JobProcess.run("etl-nightly", ["--metadata", input.path + "/fma_metadata", "--tracks-file", "raw_tracks.csv",
                                           "--audio", input.path + "/audio", "--work-dir", work.path] + extra,
                           environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
    }

    private func state(uri: String, database: String) throws -> [String: [Document]] {
        try pipelineState(uri: uri, database: database)
    }

    /// The two changes leave the training split's feature data as it was, so a full night's refit
    /// gives the scaler of the first night, which the `--only` night applies: track 3 (training)
    /// gets a new title (metadata only), track 30 (validation, never fitted on) new audio.
    @Test func onlyOnTwoChangedIDsEndsWhereAFullNightOverTheChangedInputEnds() throws {
        let uri = try TestServer.uri()
        let partial = TestServer.uniqueDatabaseName(), full = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(partial); TestServer.dropDatabase(full) }
        let input = try sampleInput()
        let partialWork = TemporaryDirectory(), fullWork = TemporaryDirectory()
        let first = try night(input, work: partialWork, uri: uri, database: partial)
        #expect(first.status == 0, "\(first.standardError)")
        let firstState = try state(uri: uri, database: partial)
        #expect(firstState["training"]?.count == 6)

        let tracksCSV = input.url.appendingPathComponent("fma_metadata/raw_tracks.csv")
        let text = try String(contentsOf: tracksCSV, encoding: .utf8)
        #expect(text.components(separatedBy: ",Electric Ave,").count == 2)
        try text.replacingOccurrences(of: ",Electric Ave,", with: ",Electric Avenue,")
            .write(to: tracksCSV, atomically: true, encoding: .utf8)
        let audio30 = input.url.appendingPathComponent("audio/000/000030.ogg")
        try FileManager.default.removeItem(at: audio30)
        try FileManager.default.copyItem(at: Fixtures.url("audio/chimes_48k.ogg"), to: audio30)

        let rerun = try night(input, work: partialWork, uri: uri, database: partial, ["--only", "3,30"])
        #expect(rerun.status == 0, "\(rerun.standardError)")
        let lines = rerun.standardError.split(separator: "\n")
        let features = try #require(lines.first { $0.hasPrefix("etl-features ok") })
        #expect(features.contains("1 computed, 1 reused, 4 kept"), "\(features)")
        let normalize = try #require(lines.first { $0.hasPrefix("etl-normalize ok") })
        #expect(normalize.contains("2 rows written, 4 rows kept"), "\(normalize)")
        let load = try #require(lines.first { $0.hasPrefix("etl-load ok") })
        for collection in ["tracks", "features", "training"] {
            #expect(load.contains("2 \(collection) read"), "only the two ids: \(load)")
        }
        let afterRerun = try state(uri: uri, database: partial)
        let scalerVersion = try #require(afterRerun["scalers"]?.first?["_id"])
        #expect(afterRerun["training"]?.allSatisfy { $0["scaler_version"] == scalerVersion } == true,
                "every row records the one scaler it was scaled with")
        #expect(afterRerun["tracks"]?.first { $0["_id"] == 3 }?["title"] == "Electric Avenue")
        #expect(afterRerun["features"]?.first { $0["_id"] == 30 } != firstState["features"]?.first { $0["_id"] == 30 })

        let reference = try night(input, work: fullWork, uri: uri, database: full)
        #expect(reference.status == 0, "\(reference.standardError)")
        #expect(try withoutFittingRun(state(uri: uri, database: partial)) == withoutFittingRun(state(uri: uri, database: full)))
        let file = { (work: TemporaryDirectory, path: String) in try Data(contentsOf: work.url.appendingPathComponent(path)) }
        for path in ["exports/training/output.csv", "staging/training.jsonl", "staging/features/features.jsonl"] {
            #expect(try file(partialWork, path) == file(fullWork, path), "\(path): byte for byte")
        }
        let scaler = { (work: TemporaryDirectory) in
            try StagedInputs.read(work.url.appendingPathComponent("staging/scaler.json")).map(withoutFittingRun)
        }
        #expect(try scaler(partialWork) == scaler(fullWork), "the same fit")
    }

    /// New audio for a training-split id changes the fit: the `--only` night applies the
    /// persisted scaler (the first night's version stays), while a full night refits.
    @Test func onlyOnAChangedTrainingIDAppliesThePersistedScalerAndAFullNightRefits() throws {
        let uri = try TestServer.uri()
        let partial = TestServer.uniqueDatabaseName(), full = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(partial); TestServer.dropDatabase(full) }
        let input = try sampleInput()
        let partialWork = TemporaryDirectory(), fullWork = TemporaryDirectory()
        let first = try night(input, work: partialWork, uri: uri, database: partial)
        #expect(first.status == 0, "\(first.standardError)")
        let firstState = try state(uri: uri, database: partial)
        let firstVersion = try #require(firstState["scalers"]?.first?["_id"])
        #expect(firstState["training"]?.first { $0["_id"] == 10 }?["split"] == "training")
        let scalerURL = partialWork.url.appendingPathComponent("staging/scaler.json")
        let firstScaler = try Data(contentsOf: scalerURL)

        let audio10 = input.url.appendingPathComponent("audio/000/000010.ogg")
        try FileManager.default.removeItem(at: audio10)
        try FileManager.default.copyItem(at: Fixtures.url("audio/chimes_48k.ogg"), to: audio10)

        let rerun = try night(input, work: partialWork, uri: uri, database: partial, ["--only", "10"])
        #expect(rerun.status == 0, "\(rerun.standardError)")
        let normalize = try #require(rerun.standardError.split(separator: "\n").first { $0.hasPrefix("etl-normalize ok") })
        #expect(normalize.contains("1 rows written, 5 rows kept") && normalize.contains("0 fitted on"), "\(normalize)")
        let afterRerun = try state(uri: uri, database: partial)
        #expect(afterRerun["features"]?.first { $0["_id"] == 10 } != firstState["features"]?.first { $0["_id"] == 10 })
        #expect(afterRerun["scalers"]?.compactMap { $0["_id"] } == [firstVersion], "no refit")
        #expect(afterRerun["training"]?.allSatisfy { $0["scaler_version"] == firstVersion } == true)
        #expect(afterRerun["training"]?.first { $0["_id"] == 10 } != firstState["training"]?.first { $0["_id"] == 10 },
                "track 10 rescaled with the persisted scaler")
        #expect(try Data(contentsOf: scalerURL) == firstScaler)

        let reference = try night(input, work: fullWork, uri: uri, database: full)
        #expect(reference.status == 0, "\(reference.standardError)")
        let refitted = try #require(try state(uri: uri, database: full)["scalers"]?.first?["_id"])
        #expect(refitted != firstVersion, "a full night fits on the changed training row")
    }
}

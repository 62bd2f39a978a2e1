import DocumentStore
import Foundation
import Testing
import TestSupport

/// The MSSD night end to end on generated MSSD-shaped files with a planted skip signal: extract →
/// normalize (join, derived columns, session split, scaler) → load → export; a model trained on
/// the export's training split beats the majority class on its session-disjoint test split; a
/// second night writes nothing; and two extract shards give one run's database and export.
@Suite(.serialized) struct MSSDNightTests {
    static let collections = ["plays", "spotify_tracks", "skip_training", "skip_scalers"]

    private func generate(_ directory: TemporaryDirectory, sessions: Int, logFiles: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", TestServer.packageRoot.appendingPathComponent("Benchmarks/generate_mssd.py").path,
                             "--out", directory.path, "--sessions", "\(sessions)", "--log-files", "\(logFiles)", "--seed", "7"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "generate_mssd.py failed")
    }

    @discardableResult
    private func run(_ job: String, _ arguments: [String], environment: [String: String]) throws -> JobProcess.Outcome {
        let outcome = try JobProcess.run(job, arguments, environment: environment)
        #expect(outcome.status == 0, "\(job) \(arguments): \(outcome.standardError)")
        return outcome
    }

    /// Every document of the MSSD collections, by `_id`; the scaler without what names its fitting run.
    private func state(uri: String, database: String) throws -> [String: [Document]] {
        let client = try MongoConnection(uri: uri).client()
        var state: [String: [Document]] = [:]
        for name in Self.collections {
            let cursor = try client.collection(name, database: database).find([:], options: ["sort": .document(["_id": 1])])
            var documents: [Document] = []
            while let document = try cursor.next() { documents.append(document) }
            state[name] = name == "skip_scalers" ? documents.map(withoutFittingRun) : documents
        }
        return state
    }

    /// The number after "N <name>" in a summary line.
    private func count(_ name: String, in line: String) -> Int? {
        guard let range = line.range(of: " \(name)") else { return nil }
        return Int(line[..<range.lowerBound].split(separator: " ").last.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ",:")) } ?? "")
    }

    @Test func nightTrainsAModelThatBeatsTheMajorityClassOnASessionDisjointTestSplit() throws {
        let python = TestServer.packageRoot.appendingPathComponent(".venv-check/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python),
                     "pandas and LightGBM are installed by Jobs/setup.sh into .venv-check")
        let data = TemporaryDirectory(), work = TemporaryDirectory()
        try generate(data, sessions: 600, logFiles: 1)
        let plays = try String(contentsOf: data.url.appendingPathComponent("log_mini.csv"), encoding: .utf8)
            .split(separator: "\n").count - 1
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let arguments = ["--dataset", "mssd", "--input", data.path, "--work-dir", work.path]
        try run("etl-nightly", arguments, environment: environment)

        let stored = try state(uri: uri, database: database)
        #expect(stored["plays"]?.count == plays)
        #expect(stored["skip_training"]?.count == plays, "every play has its track's features: one row each")
        #expect(stored["skip_scalers"]?.count == 1)
        let export = work.url.appendingPathComponent("mssd/exports/skip_training")
        let manifest = try BSONDocument(json: String(contentsOf: export.appendingPathComponent("manifest.json"), encoding: .utf8)).document()
        let roles = Dictionary(uniqueKeysWithValues: (manifest["columns"]?.arrayValue ?? []).compactMap { value -> (String, String)? in
            guard let column = value.documentValue, let name = column["name"]?.stringValue, let role = column["role"]?.stringValue else { return nil }
            return (name, role)
        })
        #expect(roles["is_skipped"] == "label" && roles["split"] == "split" && roles["context_type"] == "categorical")
        #expect(roles["hist_user_behavior_reason_end"] == "outcome" && roles["hist_user_behavior_n_seekfwd"] == "outcome",
                "the schema's x-role outcome columns are no features")
        #expect(FileManager.default.fileExists(atPath: export.appendingPathComponent("scaler.json").path),
                "the scaler from skip_scalers (x-scaler-collection)")

        let check = Process()
        check.executableURL = URL(fileURLWithPath: python)
        check.arguments = [TestServer.packageRoot.appendingPathComponent("Tests/python/mssd_model_check.py").path, export.path]
        try check.run()
        check.waitUntilExit()
        #expect(check.terminationStatus == 0, "mssd_model_check.py failed (its output is above)")

        // The same files again: the database converges, nothing is written.
        let again = try run("etl-nightly", arguments, environment: environment)
        let load = again.standardError.split(separator: "\n").first { $0.hasPrefix("etl-load ok") }.map(String.init) ?? ""
        for collection in Self.collections {
            #expect(count("\(collection) inserted", in: load) == 0 && count("\(collection) updated", in: load) == 0,
                    "\(collection): \(load)")
        }
        #expect(try state(uri: uri, database: database) == stored)
    }

    @Test func twoExtractShardsGiveOneRunsDatabaseAndExport() throws {
        let data = TemporaryDirectory()
        try generate(data, sessions: 200, logFiles: 4)
        let uri = try TestServer.uri()
        let single = TestServer.uniqueDatabaseName(), sharded = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(single); TestServer.dropDatabase(sharded) }

        let singleWork = TemporaryDirectory()
        try run("etl-nightly", ["--dataset", "mssd", "--input", data.path, "--work-dir", singleWork.path],
                environment: ["MONGODB_URI": uri, "MUSICETL_DB": single])

        // Two hosts extract their halves of the log files at once, each in its own work directory;
        // the shard files are gathered into the staging that runs the rest of the night.
        let shardWorks = [TemporaryDirectory(), TemporaryDirectory()]
        let running = try shardWorks.enumerated().map { index, work in
            try JobProcess.start("etl-extract", ["--dataset", "mssd", "--input", data.path, "--work-dir", work.path,
                                                 "--shard", "\(index + 1)/2"])
        }
        for (index, job) in running.enumerated() {
            let outcome = job.wait()
            #expect(outcome.status == 0, "shard \(index + 1)/2: \(outcome.standardError)")
        }
        let mainWork = TemporaryDirectory()
        let staging = mainWork.url.appendingPathComponent("mssd/staging/metadata")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        for (index, work) in shardWorks.enumerated() {
            let shardStaging = work.url.appendingPathComponent("mssd/staging/metadata")
            try FileManager.default.copyItem(at: shardStaging.appendingPathComponent("plays.shard-\(index + 1)-of-2.jsonl"),
                                             to: staging.appendingPathComponent("plays.shard-\(index + 1)-of-2.jsonl"))
        }
        try FileManager.default.copyItem(at: shardWorks[0].url.appendingPathComponent("mssd/staging/metadata/spotify_tracks.jsonl"),
                                         to: staging.appendingPathComponent("spotify_tracks.jsonl"))
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": sharded]
        for job in ["etl-normalize", "etl-load", "etl-export"] {
            try run(job, ["--dataset", "mssd", "--work-dir", mainWork.path], environment: environment)
        }

        let singleState = try state(uri: uri, database: single)
        #expect((singleState["plays"]?.count ?? 0) > 2000 && singleState["skip_training"]?.count == singleState["plays"]?.count)
        #expect(try state(uri: uri, database: sharded) == singleState)
        let exported = { (work: TemporaryDirectory) in
            try Data(contentsOf: work.url.appendingPathComponent("mssd/exports/skip_training/output.csv"))
        }
        #expect(try exported(mainWork) == exported(singleWork), "byte-identical output.csv")
    }
}

import DocumentStore
import Foundation
import Tabular
import Testing
import TestSupport

/// normalize → load → export on staged inputs: numbers read back bit for bit, partitions and
/// shards hold every row exactly once, the manifest's checksums match the files.
@Suite(.serialized) struct ExportJobTests {
    @Test func exportReadsBackBitExactWithPartitionsShardsAndManifest() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        var generator = SystemRandomNumberGenerator()
        let splits = ["training", "training", "training", "validation", "test"]
        let genres = ["Rock", "Hip-Hop", "Old-Time / Historic"]
        let tracks = (1...60).map { StagedInputs.track(id: $0, split: splits[$0 % 5], genreTop: genres[$0 % 3]) }
        let features = (1...60).map { id in
            StagedInputs.featureDocument(id: id) { _, _ in Double.random(in: -1e3...1e3, using: &generator) }
        }
        try StagedInputs.stage(tracks: tracks, features: features, in: work)
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        for (job, arguments) in [("etl-normalize", []), ("etl-load", []),
                                 ("etl-export", ["--partition-by", "split", "--shards", "3", "--rows-per-part", "10"])] {
            let run = try JobProcess.run(job, ["--work-dir", work.path] + arguments, environment: environment)
            #expect(run.status == 0, "\(job): \(run.standardError)")
        }
        let export = work.url.appendingPathComponent("exports/training")
        let rows = try readCSV(export.appendingPathComponent("output.csv").path)
        let header = try #require(rows.first)
        #expect(Array(header.prefix(5)) == ["track_id", "genre_top", "split", "subset", "scaler_version"])
        #expect(header.count == 5 + 154, "genres (an array) is left out, not dumped as JSON")
        #expect(rows.count == 61)

        // Bit for bit: every number in the CSV parses to exactly the double stored in MongoDB.
        let client = try MongoConnection(uri: uri).client()
        let cursor = try client.collection("training", database: database).find([:], options: ["sort": .document(["_id": 1])])
        var index = 1
        while let document = try cursor.next() {
            let row = rows[index]
            #expect(row[0] == String(document["_id"]?.int64Value ?? -1))
            for (column, name) in header.enumerated().dropFirst(5) {
                let stored = try #require(document[name]?.doubleValue)
                #expect(Double(row[column])?.bitPattern == stored.bitPattern, "\(name) of track \(row[0])")
            }
            index += 1
        }
        #expect(index == 61)

        // Partitions: Hive folders, split column left out of the files, every row exactly once.
        var partitionIDs: [String] = []
        for split in ["training", "validation", "test"] {
            let folder = export.appendingPathComponent("by_split/split=\(split)")
            let parts = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
            #expect(parts.first == "part-00000.csv")
            for part in parts {
                let partRows = try readCSV(folder.appendingPathComponent(part).path)
                #expect(partRows.first == header.filter { $0 != "split" })
                #expect(partRows.count - 1 <= 10, "rows capped per part file")
                partitionIDs += partRows.dropFirst().map { $0[0] }
            }
        }
        #expect(partitionIDs.sorted() == (1...60).map(String.init).sorted())

        let shardIDs = try (1...3).flatMap { shard in
            try readCSV(export.appendingPathComponent("shards/shard-0000\(shard)-of-00003.csv").path).dropFirst().map { $0[0] }
        }
        #expect(shardIDs.sorted() == (1...60).map(String.init).sorted())

        // The manifest: files, rows and SHA-256 that match what is on disk.
        let manifestText = try String(contentsOf: export.appendingPathComponent("manifest.json"), encoding: .utf8)
        let manifest = try BSONDocument(json: manifestText).document()
        #expect(manifest["rows"]?.int64Value == 60)
        #expect(manifest["omitted"] == ["genres"])
        #expect(manifest["scaler_versions"]?.arrayValue?.count == 1)
        let files = manifest["files"]?.arrayValue?.compactMap(\.documentValue) ?? []
        #expect(files.count >= 1 + 3 + 3)
        for file in files {
            let path = export.appendingPathComponent(file["path"]?.stringValue ?? "missing").path
            #expect(file["sha256"]?.stringValue == sha256sum(path), "\(path)")
        }
        let exportsListing = try FileManager.default.contentsOfDirectory(atPath: work.path + "/exports")
        #expect(!exportsListing.contains { $0.hasPrefix(".tmp-") })
    }

    /// Partitioning by the id (a value per row) is refused with exit 64 naming the flag, and the
    /// previous export stays as it was.
    @Test func tooManyPartitionsExit64AndKeepThePreviousExport() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let tracks = (1...12).map { StagedInputs.track(id: $0, split: "training", genreTop: "Rock") }
        let features = (1...12).map { id in StagedInputs.featureDocument(id: id) { _, index in Double(id * 1000 + index) } }
        try StagedInputs.stage(tracks: tracks, features: features, in: work)
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        for job in ["etl-normalize", "etl-load", "etl-export"] {
            let run = try JobProcess.run(job, ["--work-dir", work.path], environment: environment)
            #expect(run.status == 0, "\(job): \(run.standardError)")
        }
        let output = work.url.appendingPathComponent("exports/training/output.csv")
        let before = try Data(contentsOf: output)
        let refused = try JobProcess.run("etl-export", ["--work-dir", work.path, "--partition-by", "track_id", "--max-partitions", "5"],
                                         environment: environment)
        #expect(refused.status == 64, "\(refused.standardError)")
        #expect(refused.standardError.contains("--partition-by track_id: more than 5 distinct values"), "\(refused.standardError)")
        #expect(try Data(contentsOf: output) == before)
        let listing = try FileManager.default.contentsOfDirectory(atPath: work.path + "/exports")
        #expect(listing == ["training"], "no half export left: \(listing)")
    }

    private func sha256sum(_ path: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try? process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: " ").first.map(String.init)
    }
}

/// The export feeds model training as it is: pandas reads it, scikit-learn learns genre_top from
/// the features on split=training and predicts split=test (Tests/python/train_on_export.py).
@Suite(.serialized) struct ExportTrainsAModelTests {
    @Test func pandasAndScikitLearnTrainOnTheExport() throws {
        let python = TestServer.packageRoot.appendingPathComponent(".venv-check/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python),
                     "pandas and scikit-learn are installed by Jobs/setup.sh into .venv-check")
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        // Three genres whose features differ in mean, with noise: a learnable signal.
        var generator = SystemRandomNumberGenerator()
        let genres = ["Rock", "Hip-Hop", "Folk"]
        let splits = ["training", "training", "training", "training", "training", "training", "training", "training",
                      "validation", "test"]
        let ids = Array(1...300)
        let tracks = ids.map { StagedInputs.track(id: $0, split: splits[$0 % 10], genreTop: genres[$0 % 3]) }
        let features = ids.map { id in
            StagedInputs.featureDocument(id: id) { _, index in
                Double(((id % 3) * 7 + index) % 5) + Double.random(in: -0.8...0.8, using: &generator)
            }
        }
        try StagedInputs.stage(tracks: tracks, features: features, in: work)
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        for (job, arguments) in [("etl-normalize", []), ("etl-load", []), ("etl-export", ["--partition-by", "split"])] {
            let run = try JobProcess.run(job, ["--work-dir", work.path] + arguments, environment: environment)
            #expect(run.status == 0, "\(job): \(run.standardError)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [TestServer.packageRoot.appendingPathComponent("Tests/python/train_on_export.py").path,
                             work.url.appendingPathComponent("exports/training").path, "--min-accuracy", "0.9"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "train_on_export.py failed (its stderr is above)")
    }
}

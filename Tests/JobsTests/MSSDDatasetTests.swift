import DocumentStore
import Foundation
import Pipeline
import Staging
import Testing
import TestSupport

/// `--dataset mssd`: play logs and track features of the generator's shape, with bad rows planted
/// by hand, through etl-extract and etl-load.
@Suite(.serialized) struct MSSDDatasetTests {
    /// Log and track-feature files from `Benchmarks/generate_mssd.py` (two log files, a few hundred plays).
    static func generate(in work: TemporaryDirectory, logFiles: Int = 2) throws -> String {
        let directory = work.path + "/mssd"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", TestServer.packageRoot.appendingPathComponent("Benchmarks/generate_mssd.py").path,
                             "--out", directory, "--sessions", "40", "--log-files", String(logFiles), "--seed", "7"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "generate_mssd.py failed")
        return directory
    }

    static func logFiles(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("log_") }.sorted()
    }

    /// A CSV file as its header and rows of fields (the generator quotes nothing).
    struct Table {
        var header: [String]
        var rows: [[String]]

        init(_ path: String) throws {
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
            header = lines[0].components(separatedBy: ",")
            rows = lines.dropFirst().map { $0.components(separatedBy: ",") }
        }

        func column(_ name: String) -> Int { header.firstIndex(of: name)! }

        func write(_ path: String) throws {
            let text = ([header] + rows).map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    static func stagedDocuments(_ path: String) throws -> [Document] {
        let reader = try JSONLinesReader(path: path)
        var documents: [Document] = []
        while let document = try reader.next() { documents.append(try document.document()) }
        return documents
    }

    static func quarantined(_ work: String, _ file: String) throws -> [[String: String]] {
        let root = work + "/mssd/quarantine"
        for run in try FileManager.default.contentsOfDirectory(atPath: root) {
            let path = root + "/" + run + "/" + file + ".rejects.csv"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let rows = try readCSV(path)
            return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(rows[0], $0)) }
        }
        return []
    }

    @Test func extractValidatesQuarantinesAndLoadConverges() throws {
        let work = TemporaryDirectory()
        let input = try Self.generate(in: work)
        let logs = try Self.logFiles(input)
        #expect(logs.count == 2)
        var first = try Table(input + "/" + logs[0]), second = try Table(input + "/" + logs[1])
        let skip1 = first.column("skip_1"), premium = first.column("premium"), notSkipped = first.column("not_skipped")
        let session = first.column("session_id"), position = first.column("session_position"), track = first.column("track_id_clean")
        // Booleans as spreadsheets and pandas write them: True (the generator's), true, 1.
        first.rows[1][skip1] = "true"
        first.rows[2][premium] = "1"
        first.rows[3][notSkipped] = "True"
        // A bad boolean and an empty required value: their rows are quarantined (file lines 6 and 7).
        first.rows[4][skip1] = "maybe"
        first.rows[5][track] = ""
        // The id is made of the coerced values: position 02 is 2.
        let padded = second.rows[1][position]
        second.rows[1][position] = "0" + padded
        // The first play again within its session (a session has at least 10 plays; file line 10):
        // a duplicate (session, position), quarantined naming the first one's line.
        first.rows.insert(first.rows[0], at: 8)
        try first.write(input + "/" + logs[0])
        try second.write(input + "/" + logs[1])
        let plays = first.rows.count + second.rows.count
        let tracks = try Table(input + "/tf_mini.csv").rows.count

        let extract = try JobProcess.run("etl-extract", ["--dataset", "mssd", "--input", input, "--work-dir", work.path + "/work",
                                                        "--max-reject-ratio", "0.05"])
        #expect(extract.status == 0, "\(extract.standardError)")
        #expect(extract.lastLine.contains("\(plays) plays in, \(plays - 3) plays written, 3 plays quarantined, \(tracks) spotify_tracks in, \(tracks) spotify_tracks written, 0 spotify_tracks quarantined"),
                "\(extract.lastLine)")
        // MSSD's own work directory: FMA's staging at the root is not touched.
        let staging = work.path + "/work/mssd/staging/metadata"
        #expect(!FileManager.default.fileExists(atPath: work.path + "/work/staging"))
        let staged = try Self.stagedDocuments(staging + "/plays.jsonl")
        #expect(staged.count == plays - 3)
        let byID = Dictionary(staged.map { ($0["_id"]?.stringValue ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        func id(_ row: [String]) -> String { row[session] + ":" + row[position] }
        #expect(byID[id(first.rows[1])]?["skip_1"] == .bool(true))
        #expect(byID[id(first.rows[2])]?["premium"] == .bool(true))
        #expect(byID[id(first.rows[3])]?["not_skipped"] == .bool(true))
        #expect(byID[id(first.rows[0])]?["date"].map { if case .dateTime = $0 { true } else { false } } == true)
        #expect(byID[second.rows[1][session] + ":" + padded]?["session_position"] == .int32(Int32(padded)!)
                    || byID[second.rows[1][session] + ":" + padded]?["session_position"] == .int64(Int64(padded)!),
                "position 0\(padded) is the id's \(padded)")
        #expect(byID[id(first.rows[4])] == nil && byID[id(first.rows[5])] == nil)
        #expect(Set(staged.compactMap { $0["_id"]?.stringValue }).count == staged.count, "each play once")

        let firstRejects = try Self.quarantined(work.path + "/work", logs[0])
        #expect(firstRejects.map { [$0["line"]!, $0["column"]!] } == [["6", "skip_1"], ["7", "track_id_clean"], ["10", "session_id+session_position"]],
                "\(firstRejects)")
        #expect(firstRejects[0]["reason"]?.contains("maybe") == true, "\(firstRejects)")
        #expect(firstRejects[1]["reason"] == "required field track_id_clean is empty", "\(firstRejects)")
        #expect(firstRejects[2]["reason"] == "duplicate session_id+session_position \(id(first.rows[0])), first seen at line 2", "\(firstRejects)")
        #expect(try Self.quarantined(work.path + "/work", logs[1]).isEmpty)

        // Load: validators and indexes from Schemas/mssd; a second load writes nothing.
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let load = try JobProcess.run("etl-load", ["--dataset", "mssd", "--work-dir", work.path + "/work"], environment: environment)
        #expect(load.status == 0, "\(load.standardError)")
        #expect(load.lastLine.contains("\(plays - 3) plays inserted") && load.lastLine.contains("\(tracks) spotify_tracks inserted"),
                "\(load.lastLine)")
        let client = try MongoConnection(uri: uri).client()
        #expect(try client.collection("plays", database: database).countDocuments() == Int64(plays - 3))
        for (collection, index) in [("plays", "session_id_1_session_position_1"), ("plays", "track_id_clean_1"),
                                    ("spotify_tracks", "release_year_1")] {
            let reply = try client.runCommand(["listIndexes": .string(collection)], database: database, idempotent: true)
            let names = (reply["cursor"]?.documentValue?["firstBatch"]?.arrayValue ?? []).compactMap { $0.documentValue?["name"]?.stringValue }
            #expect(names.contains(index), "\(collection): \(names)")
        }
        for collection in ["plays", "spotify_tracks"] {
            let reply = try client.runCommand(["listCollections": 1, "filter": .document(["name": .string(collection)])], database: database, idempotent: true)
            let options = reply["cursor"]?.documentValue?["firstBatch"]?.arrayValue?.first?.documentValue?["options"]?.documentValue
            let schema = options?["validator"]?.documentValue?["$jsonSchema"]?.documentValue
            #expect(schema?["required"]?.arrayValue?.contains(.string("_id")) == true, "\(collection): \(String(describing: options))")
            #expect(schema?["properties"]?.documentValue?["_id"]?.documentValue?["x-compose"] == nil, "x- keywords are stripped")
        }
        let again = try JobProcess.run("etl-load", ["--dataset", "mssd", "--work-dir", work.path + "/work"], environment: environment)
        #expect(again.status == 0, "\(again.standardError)")
        #expect(again.lastLine.contains("0 plays inserted, 0 plays updated, \(plays - 3) plays unchanged")
                    && again.lastLine.contains("0 spotify_tracks inserted, 0 spotify_tracks updated, \(tracks) spotify_tracks unchanged"),
                "\(again.lastLine)")
    }

    @Test func twoShardsStageWhatOneRunStages() throws {
        let work = TemporaryDirectory()
        let input = try Self.generate(in: work, logFiles: 3)
        let whole = work.path + "/whole", sharded = work.path + "/sharded"
        let one = try JobProcess.run("etl-extract", ["--dataset", "mssd", "--input", input, "--work-dir", whole])
        #expect(one.status == 0, "\(one.standardError)")
        for shard in ["1/2", "2/2"] {
            let run = try JobProcess.run("etl-extract", ["--dataset", "mssd", "--input", input, "--work-dir", sharded, "--shard", shard])
            #expect(run.status == 0, "\(run.standardError)")
        }
        let wholeStaging = whole + "/mssd/staging/metadata/", shardStaging = sharded + "/mssd/staging/metadata/"
        let names = try FileManager.default.contentsOfDirectory(atPath: shardStaging).sorted()
        #expect(names == ["_SUCCESS.json", "plays.shard-1-of-2.jsonl", "plays.shard-2-of-2.jsonl", "spotify_tracks.jsonl"])
        // Contiguous runs of the sorted log files: shard 1 then shard 2 is the whole file, byte for byte.
        let plays = try Data(contentsOf: URL(fileURLWithPath: wholeStaging + "plays.jsonl"))
        let first = try Data(contentsOf: URL(fileURLWithPath: shardStaging + "plays.shard-1-of-2.jsonl"))
        let second = try Data(contentsOf: URL(fileURLWithPath: shardStaging + "plays.shard-2-of-2.jsonl"))
        #expect(!first.isEmpty && !second.isEmpty)
        #expect(first + second == plays)
        #expect(try Data(contentsOf: URL(fileURLWithPath: shardStaging + "spotify_tracks.jsonl"))
                    == Data(contentsOf: URL(fileURLWithPath: wholeStaging + "spotify_tracks.jsonl")), "every shard reads all tracks")
        // The last shard's marker names both shard files: the staging is whole for --prune.
        let marker = try #require(try StagingMarker.read(in: shardStaging))
        #expect(marker.files.map(\.name).sorted() == ["plays.shard-1-of-2.jsonl", "plays.shard-2-of-2.jsonl", "spotify_tracks.jsonl"])

        // Both layouts load the same documents.
        let uri = try TestServer.uri()
        var loaded: [[Document]] = []
        for root in [whole, sharded] {
            let database = TestServer.uniqueDatabaseName()
            defer { TestServer.dropDatabase(database) }
            let load = try JobProcess.run("etl-load", ["--dataset", "mssd", "--work-dir", root, "--prune"],
                                          environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
            #expect(load.status == 0, "\(load.standardError)")
            let client = try MongoConnection(uri: uri).client()
            let cursor = try client.collection("plays", database: database).find([:], options: ["sort": .document(["_id": 1])])
            var documents: [Document] = []
            while let document = try cursor.next() { documents.append(document) }
            loaded.append(documents)
        }
        #expect(loaded[0].count == plays.split(separator: UInt8(ascii: "\n")).count)
        #expect(loaded[0] == loaded[1])

        // A whole run afterwards replaces the shard files: no id is staged twice.
        let again = try JobProcess.run("etl-extract", ["--dataset", "mssd", "--input", input, "--work-dir", sharded])
        #expect(again.status == 0, "\(again.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: shardStaging).sorted()
                    == ["_SUCCESS.json", "plays.jsonl", "spotify_tracks.jsonl"])
    }

    /// The duplicate check holds one session (`GroupedIDCheck`), so a session that comes back
    /// later in its file would go unchecked: such a file is refused, naming the line and the fix.
    @Test func aSessionThatComesBackLaterInItsFileIsRefused() throws {
        let work = TemporaryDirectory()
        let input = try Self.generate(in: work)
        let logs = try Self.logFiles(input)
        var first = try Table(input + "/" + logs[0])
        let session = first.column("session_id")
        let sessionID = first.rows[0][session]
        // The first session's last play moved to the end of the file: no id twice, but the session
        // is no longer consecutive (the reject ratio allows everything: only the order refuses it).
        let last = try #require(first.rows.lastIndex { $0[session] == sessionID })
        first.rows.append(first.rows.remove(at: last))
        try first.write(input + "/" + logs[0])
        let previous = first.rows[first.rows.count - 2][session]
        let previousStart = try #require(first.rows.firstIndex { $0[session] == previous }) + 2
        let extract = try JobProcess.run("etl-extract", ["--dataset", "mssd", "--input", input, "--work-dir", work.path + "/work",
                                                        "--max-reject-ratio", "1"])
        #expect(extract.status == 65, "\(extract.standardError)")
        #expect(extract.standardError.contains("\(input)/\(logs[0]) line \(first.rows.count + 1): session_id '\(sessionID)' comes after '\(previous)' (from line \(previousStart)): the rows of a file must be grouped by session_id in ascending order"),
                "\(extract.standardError)")
        #expect(extract.standardError.contains("LC_ALL=C sort -s"), "\(extract.standardError)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/work/mssd/staging/metadata/plays.jsonl"), "nothing staged")
    }

    /// Sessions of one file are never in another (MSSD never splits one): a log file there twice
    /// under two names (a second export chunk) is refused, naming both files and lines.
    @Test func aSessionInTwoLogFilesIsRefusedNamingBoth() throws {
        let work = TemporaryDirectory()
        let input = try Self.generate(in: work)
        let logs = try Self.logFiles(input)
        let copy = logs[1].replacingOccurrences(of: "000000000000.csv", with: "000000000001.csv")
        try FileManager.default.copyItem(atPath: input + "/" + logs[1], toPath: input + "/" + copy)
        let firstSession = try Table(input + "/" + logs[1]).rows[0][0]
        let extract = try JobProcess.run("etl-extract", ["--dataset", "mssd", "--input", input, "--work-dir", work.path + "/work",
                                                        "--max-reject-ratio", "1"])
        #expect(extract.status == 65, "\(extract.standardError)")
        #expect(extract.lastLine.contains("session_id '\(firstSession)' has rows in two files, \(logs[1]) line 2 and \(copy) line 2"),
                "\(extract.lastLine)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/work/mssd/staging/metadata/plays.jsonl"), "nothing staged")
        // Without the copy the same files extract.
        try FileManager.default.removeItem(atPath: input + "/" + copy)
        let again = try JobProcess.run("etl-extract", ["--dataset", "mssd", "--input", input, "--work-dir", work.path + "/work"])
        #expect(again.status == 0, "\(again.standardError)")
    }

    @Test func logFilesOfAnotherHeaderFailTheExtractNamingTheFile() throws {
        let work = TemporaryDirectory()
        let input = try Self.generate(in: work)
        let logs = try Self.logFiles(input)
        var second = try Table(input + "/" + logs[1])
        second.header.swapAt(0, 1)
        try second.write(input + "/" + logs[1])
        let extract = try JobProcess.run("etl-extract", ["--dataset", "mssd", "--input", input, "--work-dir", work.path + "/work"])
        #expect(extract.status == 65, "\(extract.standardError)")
        #expect(extract.lastLine.contains("\(input)/\(logs[1]): header differs from \(logs[0])'s (column 1 is 'session_position' where \(logs[0]) has 'session_id')"),
                "\(extract.lastLine)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/work/mssd/staging/metadata/plays.jsonl"), "nothing staged")
    }

    /// A log file with a header and no plays is a truncated copy, not a night without plays.
    @Test func aLogFileWithoutPlaysFailsTheExtractNamingTheFile() throws {
        let work = TemporaryDirectory()
        let input = try Self.generate(in: work)
        let logs = try Self.logFiles(input)
        var second = try Table(input + "/" + logs[1])
        second.rows = []
        try second.write(input + "/" + logs[1])
        let extract = try JobProcess.run("etl-extract", ["--dataset", "mssd", "--input", input, "--work-dir", work.path + "/work"])
        #expect(extract.status == 65, "\(extract.standardError)")
        #expect(extract.lastLine.contains("\(input)/\(logs[1]): the file has a header but no data rows"), "\(extract.lastLine)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/work/mssd/staging/metadata/plays.jsonl"), "nothing staged")
    }

    @Test func theNightOfADatasetWithoutAudioHasNoFeaturesStep() throws {
        let work = TemporaryDirectory()
        let input = try Self.generate(in: work)
        // A dry night runs the steps that do not read staging: for MSSD, the extract alone.
        let night = try JobProcess.run("etl-nightly", ["--dataset", "mssd", "--input", input, "--work-dir", work.path + "/work", "--dry-run"])
        #expect(night.status == 0, "\(night.standardError)")
        #expect(night.standardError.contains("etl-extract ok (dry run)") && !night.standardError.contains("etl-features"),
                "\(night.standardError)")
        #expect(night.lastLine.contains("1 steps ok"), "\(night.lastLine)")
        let resumed = try JobProcess.run("etl-nightly", ["--dataset", "mssd", "--input", input, "--work-dir", work.path + "/work",
                                                        "--from", "features"])
        #expect(resumed.status == 64)
        #expect(resumed.standardError.contains("--from features: dataset mssd has no features step (its steps: extract, normalize, load, export)"),
                "\(resumed.standardError)")
    }

    /// FMA keeps its layout: staging at the work dir's root, schemas at the catalog's; --input is
    /// the general name of its --metadata.
    @Test func fmaTakesInputAndKeepsItsRootLayout() throws {
        let work = TemporaryDirectory()
        let sample = Fixtures.url("sample/fma_metadata").path
        let byMetadata = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path + "/a"])
        let byInput = try JobProcess.run("etl-extract", ["--input", sample, "--work-dir", work.path + "/b"],
                                         environment: ["MUSICETL_DATASET": "fma"])
        #expect(byMetadata.status == 0 && byInput.status == 0, "\(byMetadata.standardError)\n\(byInput.standardError)")
        for name in ["genres", "albums", "artists", "tracks"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: work.path + "/a/staging/metadata/\(name).jsonl"))
            let b = try Data(contentsOf: URL(fileURLWithPath: work.path + "/b/staging/metadata/\(name).jsonl"))
            #expect(a == b && !a.isEmpty, "\(name)")
        }
        #expect(!FileManager.default.fileExists(atPath: work.path + "/b/fma"))
        // --input wins over a --metadata (FMA's name, e.g. from an installed config file).
        let both = try JobProcess.run("etl-extract", ["--input", sample, "--metadata", "/nonexistent", "--work-dir", work.path + "/c"])
        #expect(both.status == 0, "\(both.standardError)")
        let missing = try JobProcess.run("etl-extract", ["--input", "/nonexistent/input", "--work-dir", work.path + "/d"])
        #expect(missing.status == 69)
        #expect(missing.lastLine.contains("input directory /nonexistent/input does not exist"), "\(missing.lastLine)")
    }

    @Test func anUnknownDatasetIsAUsageErrorListingTheKnownOnes() throws {
        let work = TemporaryDirectory()
        let extract = try JobProcess.run("etl-extract", ["--dataset", "spotify", "--input", work.path, "--work-dir", work.path])
        #expect(extract.status == 64)
        #expect(extract.lastLine == "etl-extract usage error: --dataset spotify: no such dataset (known: fma, mssd)", "\(extract.lastLine)")
        let load = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: ["MUSICETL_DATASET": "spotify"])
        #expect(load.status == 64)
        #expect(load.lastLine.contains("no such dataset (known: fma, mssd)"), "\(load.lastLine)")
    }
}

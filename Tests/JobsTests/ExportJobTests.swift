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
        var generator = SplitMix64(seed: 10)
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
        #expect(Array(header.prefix(6)) == ["track_id", "genre_top", "genres", "split", "subset", "scaler_version"])
        #expect(header.count == 6 + 154, "genres (multi-label ids) is a column, not dropped")
        #expect(rows.count == 61)
        #expect(rows.dropFirst().allSatisfy { $0[2] == "12" }, "genres as |-joined ids")

        // Bit for bit: every number in the CSV parses to exactly the double stored in MongoDB.
        let client = try MongoConnection(uri: uri).client()
        let cursor = try client.collection("training", database: database).find([:], options: ["sort": .document(["_id": 1])])
        var index = 1
        while let document = try cursor.next() {
            let row = rows[index]
            #expect(row[0] == String(document["_id"]?.int64Value ?? -1))
            for (column, name) in header.enumerated().dropFirst(6) {
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
        #expect(manifest["omitted"] == [])
        #expect(manifest["scaler_versions"]?.arrayValue?.count == 1)
        // Roles: a reader selects features without naming them.
        let columns = manifest["columns"]?.arrayValue?.compactMap(\.documentValue) ?? []
        let roles = Dictionary(columns.map { ($0["name"]?.stringValue ?? "", $0["role"]?.stringValue ?? "") }, uniquingKeysWith: { a, _ in a })
        #expect(roles["track_id"] == "id" && roles["genre_top"] == "label" && roles["genres"] == "label")
        #expect(roles["split"] == "split" && roles["subset"] == "other")
        #expect(columns.filter { $0["role"] == "feature" }.count == 154)
        #expect(columns.first { $0["name"] == "mfcc_mean_01" }?["type"] == "float64")
        #expect(columns.first { $0["name"] == "genres" }?["type"] == "int64 list")
        // The scaler travels with the data: the one in MongoDB, named by the manifest.
        let scalerText = try String(contentsOf: export.appendingPathComponent("scaler.json"), encoding: .utf8)
        let scaler = try BSONDocument(json: scalerText).document()
        #expect(manifest["scaler"]?.documentValue?["file"] == "scaler.json")
        #expect(scaler["version"] == manifest["scaler_versions"]?.arrayValue?.first)
        #expect(scaler["method"] == "zscore")
        #expect(scaler["columns"]?.arrayValue?.count == 154)
        #expect(scaler["parameters"]?.documentValue?["zcr_max"]?.documentValue?["std"]?.doubleValue != nil)
        #expect(scaler["fitted_on"]?.documentValue?["split"] == "training")
        // The class map numbers the labels in sorted order on a first export.
        let classMap = try BSONDocument(json: String(contentsOf: export.appendingPathComponent("class_map.json"), encoding: .utf8)).document()
        #expect(classMap["classes"] == .document(["Hip-Hop": 0, "Old-Time / Historic": 1, "Rock": 2]))
        // Stratified shards: every class in every shard, counts within one row of each other.
        let shardEntries = manifest["shards"]?.documentValue?["files"]?.arrayValue?.compactMap(\.documentValue) ?? []
        #expect(shardEntries.count == 3)
        for genre in genres {
            let counts = shardEntries.compactMap { $0["rows_per_class"]?.documentValue?[genre]?.int64Value }
            #expect(counts.count == 3 && counts.reduce(0, +) == 20 && (counts.max() ?? 0) - (counts.min() ?? 0) <= 1, "\(genre): \(counts)")
        }
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

/// A training set shaped like FMA's: most rows without genre_top, multi-label genre lists, a
/// string column (subset), a few non-finite features, written straight into MongoDB with a scaler
/// document, as etl-load leaves them.
enum GeneratedTrainingSet {
    static let genres = ["Rock", "Hip-Hop", "Folk", "Electronic"]
    static let featureNames: [String] = {
        var names: [String] = []
        for statistic in ["mean", "std", "skew", "kurtosis", "median", "min", "max"] {
            names += (1...20).map { "mfcc_\(statistic)_\($0 < 10 ? "0" : "")\($0)" }
        }
        for feature in ["spectral_centroid", "zcr"] {
            names += ["mean", "std", "skew", "kurtosis", "median", "min", "max"].map { "\(feature)_\($0)" }
        }
        return names
    }()

    /// 11 rows in 20 have no label (55 %, as in a generated FMA-scale set).
    static func isLabelled(_ id: Int) -> Bool { id % 20 >= 11 }
    static func hasNaN(_ id: Int) -> Bool { id % 37 == 0 }
    static func hasInfinity(_ id: Int) -> Bool { id % 53 == 0 }

    static func row(id: Int, generator: inout some RandomNumberGenerator) -> Document {
        let genre = genres[id % genres.count]
        let splits = ["training", "training", "training", "training", "training", "training", "training", "training", "validation", "test"]
        var row: Document = ["_id": .integer(id), "genre_top": isLabelled(id) ? .string(genre) : .null,
                             "genres": .array((0...(id % 3)).map { .integer(Int64(10 + id % genres.count + 7 * $0)) }),
                             "split": .string(splits[id % 10]), "subset": "large", "scaler_version": "v-test"]
        for (index, name) in featureNames.enumerated() {
            // Classes differ in mean (a learnable signal), with noise.
            var value = Double(((id % genres.count) * 7 + index) % 5) + Double.random(in: -0.8...0.8, using: &generator)
            if name == "mfcc_skew_03" && hasNaN(id) { value = .nan }
            if name == "zcr_kurtosis" && hasInfinity(id) { value = .infinity }
            row.append(name, .double(value))
        }
        return row
    }

    static let scaler: Document = {
        var parameters = Document()
        for name in featureNames { parameters.append(name, .document(["mean": 0.5, "std": 2.0])) }
        return ["_id": "v-test", "method": "zscore", "fitted_on": .document(["split": "training", "rows": 10]),
                "musicetl_version": "test", "features": .document(parameters)]
    }()

    /// Writes rows `ids` and the scaler into `database`.
    static func load(_ ids: ClosedRange<Int>, uri: String, database: String, seed: UInt64 = 21) throws {
        var generator = SplitMix64(seed: seed)
        let client = try MongoConnection(uri: uri).client()
        let rows = try ids.map { try BSONDocument(row(id: $0, generator: &generator)) }
        for start in stride(from: 0, to: rows.count, by: 1000) {
            _ = try client.collection("training", database: database).upsertByID(Array(rows[start..<min(start + 1000, rows.count)]))
        }
        _ = try client.collection("scalers", database: database).upsertByID([try BSONDocument(scaler)])
    }
}

func readManifest(_ export: URL) throws -> Document {
    try BSONDocument(json: String(contentsOf: export.appendingPathComponent("manifest.json"), encoding: .utf8)).document()
}

/// Issue: training sets a data scientist uses as they are (labels, roles, scaler, readers).
@Suite(.serialized) struct ExportTrainingSetTests {
    @Test func unlabelledRowsNonFiniteCellsAndMultiLabelListsAreHandledAndCounted() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        try GeneratedTrainingSet.load(1...200, uri: uri, database: database)
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let run = try JobProcess.run("etl-export", ["--work-dir", work.path, "--partition-by", "split", "--shards", "2"], environment: environment)
        #expect(run.status == 0, "\(run.standardError)")
        let labelled = (1...200).filter(GeneratedTrainingSet.isLabelled)
        let unlabelledCount = 200 - labelled.count
        #expect(run.lastLine.contains("\(labelled.count) rows, \(unlabelledCount) rows without genre_top"), "\(run.lastLine)")

        let export = work.url.appendingPathComponent("exports/training")
        let rows = try readCSV(export.appendingPathComponent("output.csv").path)
        let header = try #require(rows.first)
        #expect(header.prefix(5) == ["track_id", "genre_top", "genres", "split", "subset"])
        #expect(rows.dropFirst().map { Int($0[0]) ?? 0 } == labelled, "output holds the labelled rows only, in id order")
        #expect(!rows.dropFirst().contains { $0[1].isEmpty })
        let unlabelled = try readCSV(export.appendingPathComponent("unlabelled.csv").path)
        #expect(unlabelled.first == header)
        #expect(unlabelled.count - 1 == unlabelledCount && unlabelled.dropFirst().allSatisfy { $0[1].isEmpty })
        // Partitions and shards hold labelled rows only.
        var partitioned = 0
        for split in ["training", "validation", "test"] {
            let part = try readCSV(export.appendingPathComponent("by_split/split=\(split)/part-00000.csv").path)
            #expect(!part.dropFirst().contains { $0[1].isEmpty })
            partitioned += part.count - 1
        }
        #expect(partitioned == labelled.count)

        // genres: |-joined ids; non-finite values: empty cells, counted.
        let track15 = try #require(rows.first { $0[0] == "15" })
        #expect(track15[2] == "13")
        let track14 = try #require(rows.first { $0[0] == "14" })
        #expect(track14[2] == "12|19|26")
        let skew = try #require(header.firstIndex(of: "mfcc_skew_03")), kurtosis = try #require(header.firstIndex(of: "zcr_kurtosis"))
        let nonFinite = (1...200).filter { GeneratedTrainingSet.hasNaN($0) } .count + (1...200).filter { GeneratedTrainingSet.hasInfinity($0) }.count
        for row in rows.dropFirst() + unlabelled.dropFirst() {
            let id = Int(row[0]) ?? 0
            #expect((row[skew] == "") == GeneratedTrainingSet.hasNaN(id), "track \(id)")
            #expect((row[kurtosis] == "") == GeneratedTrainingSet.hasInfinity(id), "track \(id)")
        }
        let manifest = try readManifest(export)
        let counted = manifest["non_finite"]?.documentValue
        #expect(counted?["cells"]?.int64Value == Int64(nonFinite))
        #expect(counted?["by_column"]?.documentValue?["zcr_kurtosis"]?.int64Value == Int64((1...200).filter(GeneratedTrainingSet.hasInfinity).count))
        let label = manifest["label"]?.documentValue
        #expect(label?["column"] == "genre_top")
        #expect(label?["unlabelled"]?.documentValue?["rows"]?.int64Value == Int64(unlabelledCount))
        #expect(manifest["rows"]?.int64Value == Int64(labelled.count))
        let shardRows = manifest["shards"]?.documentValue?["files"]?.arrayValue?.compactMap { $0.documentValue?["rows"]?.int64Value } ?? []
        #expect(shardRows.reduce(0, +) == Int64(labelled.count))
        // The scaler named by the rows (scaler_version) is the one shipped.
        let scaler = try BSONDocument(json: String(contentsOf: export.appendingPathComponent("scaler.json"), encoding: .utf8)).document()
        #expect(scaler["version"] == "v-test" && scaler["method"] == "zscore")
    }

    /// Label → integer stays the same across runs: known labels keep their number (also when
    /// their rows are gone), new ones are numbered after the largest, in sorted order.
    @Test func classMapIsStableAcrossRuns() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        try GeneratedTrainingSet.load(1...80, uri: uri, database: database)
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let classMapURL = work.url.appendingPathComponent("exports/training/class_map.json")
        func classes() throws -> BSONValue? {
            try BSONDocument(json: String(contentsOf: classMapURL, encoding: .utf8)).document()["classes"]
        }
        #expect(try JobProcess.run("etl-export", ["--work-dir", work.path], environment: environment).status == 0)
        #expect(try classes() == .document(["Electronic": 0, "Folk": 1, "Hip-Hop": 2, "Rock": 3]))
        let client = try MongoConnection(uri: uri).client()
        let training = try client.collection("training", database: database)
        _ = try training.deleteMany(["genre_top": "Folk"])
        _ = try training.upsertByID([try BSONDocument(["_id": 1001, "genre_top": "Blues", "split": "training"]),
                                     try BSONDocument(["_id": 1002, "genre_top": "Ambient", "split": "training"])])
        #expect(try JobProcess.run("etl-export", ["--work-dir", work.path], environment: environment).status == 0)
        #expect(try classes() == .document(["Electronic": 0, "Folk": 1, "Hip-Hop": 2, "Rock": 3, "Ambient": 4, "Blues": 5]))
        // A named export numbers classes as the default one does.
        let named = try JobProcess.run("etl-export", ["--work-dir", work.path, "--where", #"{"genre_top": "Rock"}"#, "--name", "rock"],
                                       environment: environment)
        #expect(named.status == 0, "\(named.standardError)")
        let rockMap = try BSONDocument(json: String(contentsOf: work.url.appendingPathComponent("exports/rock/class_map.json"), encoding: .utf8)).document()
        #expect(rockMap["classes"]?.documentValue?["Rock"] == 3)
    }

    /// `--collection features`: the raw (unscaled) statistics, every array flattened to numbered
    /// columns; no scaler.
    @Test func featuresCollectionFlattensEveryStatistic() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let documents = (1...5).map { id in
            StagedInputs.featureDocument(id: id) { statistic, index in statistic == "skew" && index == 2 && id == 3 ? .nan : Double(id * 1000 + index) }
        }
        let client = try MongoConnection(uri: uri).client()
        _ = try client.collection("features", database: database).upsertByID(try documents.map { try BSONDocument($0) })
        let run = try JobProcess.run("etl-export", ["--work-dir", work.path, "--collection", "features"],
                                     environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(run.status == 0, "\(run.standardError)")
        let export = work.url.appendingPathComponent("exports/features")
        let rows = try readCSV(export.appendingPathComponent("output.csv").path)
        let header = try #require(rows.first)
        for name in GeneratedTrainingSet.featureNames { #expect(header.contains(name), "\(name)") }
        let mfccMax20 = try #require(header.firstIndex(of: "mfcc_max_20")), mfccMean01 = try #require(header.firstIndex(of: "mfcc_mean_01"))
        #expect(rows[2][mfccMax20] == "2019.0" && rows[2][mfccMean01] == "2000.0")
        let skew03 = try #require(header.firstIndex(of: "mfcc_skew_03"))
        #expect(rows[3][skew03] == "" && rows[2][skew03] == "2002.0")
        let manifest = try readManifest(export)
        let columns = manifest["columns"]?.arrayValue?.compactMap(\.documentValue) ?? []
        #expect(columns.filter { $0["role"] == "feature" }.count == 154)
        #expect(manifest["scaler"] == .null && manifest["features_scaled"] == false && manifest["label"] == .null)
        #expect(!FileManager.default.fileExists(atPath: export.appendingPathComponent("scaler.json").path))
    }

    /// mongoexport's conveniences: --fields (in order), --limit, --sort, --out - and JSON Lines
    /// with lists kept.
    @Test func fieldsLimitSortStandardOutputAndJSONLines() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        try GeneratedTrainingSet.load(1...40, uri: uri, database: database)
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let streamed = try JobProcess.run("etl-export", ["--work-dir", work.path, "--out", "-", "--fields", "genre_top,track_id,genres",
                                                         "--limit", "3", "--sort", #"{"_id": -1}"#, "--label", "none"], environment: environment)
        #expect(streamed.status == 0, "\(streamed.standardError)")
        #expect(streamed.standardOutput == "genre_top,track_id,genres\n,40,10|17\nElectronic,39,13\nFolk,38,12|19|26\n")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/exports"), "--out - writes no folder")

        let jsonl = try JobProcess.run("etl-export", ["--work-dir", work.path, "--format", "jsonl", "--where", #"{"_id": {"$in": [14, 37, 40]}}"#,
                                                      "--name", "two"], environment: environment)
        #expect(jsonl.status == 0, "\(jsonl.standardError)")
        let lines = try StagedInputs.read(work.url.appendingPathComponent("exports/two/output.jsonl"))
        #expect(lines.map { $0["track_id"] } == [14, 37])
        #expect(lines.first?["genres"] == [12, 19, 26], "a list stays a list")
        #expect(lines.last?["mfcc_skew_03"] == .null, "NaN is written as null")
        let unlabelled = try StagedInputs.read(work.url.appendingPathComponent("exports/two/unlabelled.jsonl"))
        #expect(unlabelled.map { $0["track_id"] } == [40])
    }
}

/// Arrays a CSV cell cannot hold are named, never silently dropped; JSON Lines keeps them.
@Suite(.serialized) struct ExportNestedValuesTests {
    @Test func csvNamesTheArraysItLeavesOutAndJSONLinesKeepsThem() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let tracks: [Document] = [
            ["_id": 2, "title": "Food", "genres": [21], "genres_all": [21, 811], "tags": ["rock", "la,la|la"]],
            ["_id": 3, "title": "Electric Ave", "genres": .null, "tags": []],
        ]
        let client = try MongoConnection(uri: uri).client()
        _ = try client.collection("tracks", database: database).upsertByID(try tracks.map { try BSONDocument($0) })
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let csv = try JobProcess.run("etl-export", ["--work-dir", work.path, "--collection", "tracks", "--label", "none"], environment: environment)
        #expect(csv.status == 0, "\(csv.standardError)")
        #expect(csv.standardError.contains("not exported") && csv.standardError.contains("tags"), "\(csv.standardError)")
        let manifest = try readManifest(work.url.appendingPathComponent("exports/tracks"))
        #expect(manifest["omitted"] == ["album.tags", "artist.tags", "tags"])
        let rows = try readCSV(work.url.appendingPathComponent("exports/tracks/output.csv").path)
        let genresAll = try #require(rows.first?.firstIndex(of: "genres_all"))
        #expect(rows[1][genresAll] == "21|811" && rows[2][genresAll] == "")

        let jsonl = try JobProcess.run("etl-export", ["--work-dir", work.path, "--collection", "tracks", "--label", "none",
                                                      "--format", "jsonl", "--name", "tracks-jsonl"], environment: environment)
        #expect(jsonl.status == 0, "\(jsonl.standardError)")
        let lines = try StagedInputs.read(work.url.appendingPathComponent("exports/tracks-jsonl/output.jsonl"))
        #expect(lines.first?["tags"] == ["rock", "la,la|la"] && lines.first?["genres_all"] == [21, 811])
        #expect(lines.last?["tags"] == [])
        #expect(try readManifest(work.url.appendingPathComponent("exports/tracks-jsonl"))["omitted"] == [])
    }
}

/// Issue: mistakes exit non-zero with one line saying which, and never destroy a good export.
@Suite(.serialized) struct ExportMistakesTests {
    /// Every row without its label (a renamed genre column upstream) trains nothing: exit 65 naming
    /// why, the previous export untouched; `--label none` exports such rows on purpose.
    @Test func anExportWithoutALabelledRowIsRefusedAndKeepsThePreviousExport() throws {
        let uri = try TestServer.uri()
        let labelled = TestServer.uniqueDatabaseName(), unlabelled = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(labelled); TestServer.dropDatabase(unlabelled) }
        let work = TemporaryDirectory()
        try GeneratedTrainingSet.load(11...19, uri: uri, database: labelled)
        try GeneratedTrainingSet.load(1...10, uri: uri, database: unlabelled)
        #expect((11...19).allSatisfy(GeneratedTrainingSet.isLabelled) && !(1...10).contains(where: GeneratedTrainingSet.isLabelled))
        let first = try JobProcess.run("etl-export", ["--work-dir", work.path], environment: ["MONGODB_URI": uri, "MUSICETL_DB": labelled])
        #expect(first.status == 0, "\(first.standardError)")
        let export = work.url.appendingPathComponent("exports/training")
        let filesBefore = try FileManager.default.contentsOfDirectory(atPath: export.path).sorted()
        let before = try Data(contentsOf: export.appendingPathComponent("output.csv"))

        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": unlabelled]
        let refused = try JobProcess.run("etl-export", ["--work-dir", work.path], environment: environment)
        #expect(refused.status == 65, "\(refused.standardError)")
        #expect(refused.lastLine.contains("10 rows without genre_top and none with one in \(unlabelled).training: check the genre columns of the tracks input"),
                "\(refused.lastLine)")
        #expect(refused.lastLine.contains("nothing exported, the previous export is untouched"), "\(refused.lastLine)")
        #expect(try Data(contentsOf: export.appendingPathComponent("output.csv")) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: export.path).sorted() == filesBefore)

        // A narrowed export may just have picked unlabelled rows: the advice names the query, not the input.
        let advice = "have no genre_top: choose other rows or another --label, or export them unlabelled with --label none"
        let limited = try JobProcess.run("etl-export", ["--work-dir", work.path, "--limit", "5", "--name", "few"], environment: environment)
        #expect(limited.status == 65, "\(limited.standardError)")
        #expect(limited.lastLine.contains("5 rows without genre_top and none with one in \(unlabelled).training: the rows (--limit 5) \(advice)"),
                "\(limited.lastLine)")
        let narrowed = try JobProcess.run("etl-export", ["--work-dir", work.path, "--where", #"{"_id": {"$lte": 3}}"#, "--name", "first"],
                                          environment: environment)
        #expect(narrowed.status == 65, "\(narrowed.standardError)")
        #expect(narrowed.lastLine.contains("the rows matching {") && narrowed.lastLine.contains(advice)
                && !narrowed.lastLine.contains("check the genre columns"), "\(narrowed.lastLine)")
        #expect(try Data(contentsOf: export.appendingPathComponent("output.csv")) == before)

        let deliberate = try JobProcess.run("etl-export", ["--work-dir", work.path, "--label", "none", "--name", "all"], environment: environment)
        #expect(deliberate.status == 0, "\(deliberate.standardError)")
        #expect(try readCSV(work.url.appendingPathComponent("exports/all/output.csv").path).count == 11)
    }

    @Test func mistakesExitWithOneLineAndLeaveThePreviousExport() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        try GeneratedTrainingSet.load(1...60, uri: uri, database: database)
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let first = try JobProcess.run("etl-export", ["--work-dir", work.path], environment: environment)
        #expect(first.status == 0, "\(first.standardError)")
        let output = work.url.appendingPathComponent("exports/training/output.csv")
        let before = try Data(contentsOf: output)
        let typo = database + "x"
        let cases: [(arguments: [String], status: Int32, says: String)] = [
            (["--db", typo], 65, "database \(typo) does not exist"),
            (["--collection", "features"], 65, "collection features does not exist in database \(database)"),
            (["--where", #"{"split": "test"}"#], 64, "--where narrows the export: give it its own --name"),
            (["--where", #"{"split": "test"}"#, "--name", "training"], 64, "--where narrows the export: give it its own --name"),
            (["--only", "3,4"], 64, "--only narrows the export: give it its own --name"),
            (["--where", "{split: 'test'}", "--name", "t"], 64, "the key split needs double quotes"),
            (["--where", #"{"split": 'test'}"#, "--name", "t"], 64, "use double quotes"),
            (["--where", "[1, 2]", "--name", "t"], 64, "--where must be a JSON object"),
            (["--where", #"{"split": "test",}"#, "--name", "t"], 64, "a comma before '}'"),
            (["--where", #"{"$where": "this.split == 'test'"}"#, "--name", "t"], 64, "$where is not supported"),
            (["--where", #"{"genre_top": {"$regx": "^Hip"}}"#, "--name", "t"], 64, "$regx is not a MongoDB query operator; did you mean $regex"),
            (["--partition-by", "spilt"], 64, "--partition-by spilt is not a column of this export; did you mean split?"),
            (["--label", "genre"], 64, "did you mean genre_top"),
        ]
        for (arguments, status, says) in cases {
            let run = try JobProcess.run("etl-export", ["--work-dir", work.path] + arguments, environment: environment)
            #expect(run.status == status, "\(arguments): \(run.standardError)")
            #expect(run.lastLine.contains(says), "\(arguments): \(run.lastLine)")
            #expect(run.lastLine.count < 400, "one short line: \(run.lastLine)")
            #expect(!run.standardError.contains("SPECIAL") && !run.standardError.contains("parse error"), "\(run.standardError)")
            #expect(try Data(contentsOf: output) == before, "\(arguments) changed the default export")
        }
        // A query that matches nothing leaves the previous export of that name as it was.
        let tests = try JobProcess.run("etl-export", ["--work-dir", work.path, "--where", #"{"split": "test"}"#, "--name", "tests"], environment: environment)
        #expect(tests.status == 0, "\(tests.standardError)")
        let testsOutput = work.url.appendingPathComponent("exports/tests/output.csv")
        let testsBefore = try Data(contentsOf: testsOutput)
        let none = try JobProcess.run("etl-export", ["--work-dir", work.path, "--where", #"{"split": "nope"}"#, "--name", "tests"], environment: environment)
        #expect(none.status == 65)
        #expect(none.lastLine.contains(#"matches { "split" : "nope" }: nothing exported, the previous export is untouched"#), "\(none.lastLine)")
        #expect(try Data(contentsOf: testsOutput) == testsBefore)

        // Nothing was created: not the typo'd database, not a half export.
        let names = try MongoConnection(uri: uri).client().runCommand(["listDatabases": 1, "nameOnly": true], database: "admin", idempotent: true)["databases"]?
            .arrayValue?.compactMap { $0.documentValue?["name"]?.stringValue } ?? []
        #expect(names.contains(database) && !names.contains(typo))
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path + "/exports").sorted() == ["tests", "training"])

        // The operators a user types work.
        let regex = try JobProcess.run("etl-export", ["--work-dir", work.path, "--where", #"{"genre_top": {"$regex": "^Hip"}}"#, "--name", "hiphop"],
                                       environment: environment)
        #expect(regex.status == 0, "\(regex.standardError)")
        let hipHop = try readCSV(work.url.appendingPathComponent("exports/hiphop/output.csv").path).dropFirst()
        #expect(!hipHop.isEmpty && hipHop.allSatisfy { $0[1] == "Hip-Hop" })
        // A column header in --where means its field (track_id is _id).
        let byHeader = try JobProcess.run("etl-export", ["--work-dir", work.path, "--where", #"{"track_id": {"$lte": 20}}"#, "--name", "first"],
                                          environment: environment)
        #expect(byHeader.status == 0, "\(byHeader.standardError)")
        #expect(try readCSV(work.url.appendingPathComponent("exports/first/output.csv").path).dropFirst().map { $0[0] } == ["11", "12", "13", "14", "15", "16", "17", "18", "19"], "labelled ids up to 20")
    }
}

/// The export feeds model training as it is: pandas and pyarrow read it, LightGBM learns
/// genre_top from the features on split=training and predicts split=test
/// (Tests/python/train_on_export.py), after normalize → load → export.
@Suite(.serialized) struct ExportTrainsAModelTests {
    @Test func pandasPyarrowAndLightGBMTrainOnTheNormalizedExport() throws {
        let python = TestServer.packageRoot.appendingPathComponent(".venv-check/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python),
                     "pandas, pyarrow and LightGBM are installed by Jobs/setup.sh into .venv-check")
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        // Three genres whose features differ in mean, with noise: a learnable signal (seeded, so
        // the accuracy the check asserts is the same on every run).
        var generator = SplitMix64(seed: 457)
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

    /// A text-heavy export (tracks' HTML with newlines, doubled quotes, commas) reads back whole
    /// with the README's pandas and pyarrow lines (Tests/python/read_text_export.py).
    @Test func pandasAndPyarrowReadATextHeavyExportAsTheReadmeSays() throws {
        let python = TestServer.packageRoot.appendingPathComponent(".venv-check/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python),
                     "pandas and pyarrow are installed by Jobs/setup.sh into .venv-check")
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let information = "<p>First line, with a comma\n\"quoted\" second line</p>\r\n<p>ünï©ødé 🎵 end</p>"
        let tracks: [Document] = [
            ["_id": 2, "title": "Food", "information": .string(information), "genres": [21]],
            ["_id": 3, "title": "Electric \"Ave\"", "information": "plain", "genres": [21, 811]],
            ["_id": 5, "title": "This World", "information": .null, "genres": .null],
        ]
        let client = try MongoConnection(uri: uri).client()
        _ = try client.collection("tracks", database: database).upsertByID(try tracks.map { try BSONDocument($0) })
        let run = try JobProcess.run("etl-export", ["--work-dir", work.path, "--collection", "tracks", "--label", "none"],
                                     environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(run.status == 0, "\(run.standardError)")
        let expected = work.url.appendingPathComponent("expected.txt")
        try information.write(to: expected, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [TestServer.packageRoot.appendingPathComponent("Tests/python/read_text_export.py").path,
                             work.url.appendingPathComponent("exports/tracks").path, "2", expected.path]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "read_text_export.py failed (its stderr is above)")
    }

    /// An FMA-shaped set (55 % without genre_top, genre lists, a string column, non-finite
    /// features) read with pandas and pyarrow as the README writes, partitions and stratified
    /// shards included, and LightGBM trained on it with no data repair (Tests/python/train_on_export.py).
    /// `MUSICETL_TRAIN_CHECK_ROWS=4000` runs the same check at FMA scale by hand.
    @Test func pandasPyarrowAndLightGBMTrainOnAnFMAShapedExport() throws {
        let python = TestServer.packageRoot.appendingPathComponent(".venv-check/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python),
                     "pandas, pyarrow and LightGBM are installed by Jobs/setup.sh into .venv-check")
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let count = Int(ProcessInfo.processInfo.environment["MUSICETL_TRAIN_CHECK_ROWS"] ?? "") ?? 400
        try GeneratedTrainingSet.load(1...count, uri: uri, database: database)
        let run = try JobProcess.run("etl-export", ["--work-dir", work.path, "--partition-by", "split", "--shards", "3"],
                                     environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(run.status == 0, "\(run.standardError)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [TestServer.packageRoot.appendingPathComponent("Tests/python/train_on_export.py").path,
                             work.url.appendingPathComponent("exports/training").path, "--min-accuracy", "0.8"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "train_on_export.py failed (its stderr is above)")
    }
}

/// An export's name is one folder under WORK/exports, and a default export (a collection's name
/// for CSV, `<collection>-jsonl` for JSON Lines) is replaced only by the full export of that
/// collection in that format.
@Suite(.serialized) struct ExportNameTests {
    /// Every file under `exports/` and `staging/`, with its bytes.
    static func snapshot(_ work: TemporaryDirectory) -> [String: Data] {
        var files: [String: Data] = [:]
        for folder in ["exports", "staging"] {
            let root = work.url.appendingPathComponent(folder)
            for case let path as String in FileManager.default.enumerator(atPath: root.path) ?? FileManager.DirectoryEnumerator() {
                let url = root.appendingPathComponent(path)
                if let data = try? Data(contentsOf: url) { files[folder + "/" + path] = data }
            }
        }
        return files
    }

    @Test func unsafeOrTakenNamesExit64AndChangeNothing() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        try GeneratedTrainingSet.load(1...30, uri: uri, database: database)
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        func export(_ arguments: [String]) throws -> JobProcess.Outcome {
            try JobProcess.run("etl-export", ["--work-dir", work.path] + arguments, environment: environment)
        }
        let full = try export([])
        #expect(full.status == 0, "\(full.standardError)")
        let named = try export(["--where", #"{"split": "training"}"#, "--name", "train-only"])
        #expect(named.status == 0, "\(named.standardError)")
        let staging = work.url.appendingPathComponent("staging")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        try "staged\n".write(to: staging.appendingPathComponent("keep.txt"), atomically: true, encoding: .utf8)
        let before = Self.snapshot(work)
        #expect(before.keys.contains("exports/training/output.csv") && before.keys.contains("exports/train-only/output.csv"))

        let cases: [(arguments: [String], says: String)] = [
            (["--name", ""], #"--name "" is empty"#),
            (["--name", "../staging"], #"--name "../staging" contains '/'"#),
            (["--name", "a/b"], "contains '/'"),
            (["--name", ".."], "starts with '.'"),
            (["--name", "."], "starts with '.'"),
            (["--name", ".hidden"], "starts with '.'"),
            (["--where", #"{"split": "test"}"#, "--name", "tracks"], "--name tracks is the default export of collection tracks"),
            (["--collection", "features", "--name", "training"], "--name training is the default export of collection training"),
            (["--format", "jsonl", "--name", "training"], "--name training is the default export of collection training"),
            (["--name", "features-jsonl"], "--name features-jsonl is the default export of collection features"),
            (["--format", "jsonl", "--where", #"{"split": "test"}"#], "--where narrows the export: give it its own --name"),
        ]
        for (arguments, says) in cases {
            let run = try export(arguments)
            #expect(run.status == 64, "\(arguments): \(run.standardError)")
            #expect(run.lastLine.contains(says), "\(arguments): \(run.lastLine)")
            #expect(Self.snapshot(work) == before, "\(arguments) changed an export or staging")
        }

        // A JSON Lines export has its own default folder: the CSV export stays as it was.
        let jsonl = try export(["--format", "jsonl"])
        #expect(jsonl.status == 0, "\(jsonl.standardError)")
        let lines = try StagedInputs.read(work.url.appendingPathComponent("exports/training-jsonl/output.jsonl"))
        #expect(!lines.isEmpty)
        let after = Self.snapshot(work)
        #expect(after.filter { !$0.key.hasPrefix("exports/training-jsonl/") } == before)
    }

    /// `--only` and `--where` both hold, also when --where names `_id`.
    @Test func onlyKeepsTheWhereCondition() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        try GeneratedTrainingSet.load(1...40, uri: uri, database: database)
        let run = try JobProcess.run("etl-export", ["--work-dir", work.path, "--where", #"{"_id": {"$lte": 20}}"#, "--only", "3,4,25,30",
                                                    "--name", "both", "--label", "none"],
                                     environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(run.status == 0, "\(run.standardError)")
        let rows = try readCSV(work.url.appendingPathComponent("exports/both/output.csv").path).dropFirst()
        #expect(rows.map { $0[0] } == ["3", "4"])
    }

    /// scaler.json's fitting_run is the scaler's fitted_on.run_id; a scaler version the rows name
    /// that `scalers` lacks exits 65 and leaves the previous export as it was.
    @Test func scalerVersionsTheRowsNameMustBeInScalers() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        try GeneratedTrainingSet.load(1...30, uri: uri, database: database)
        let client = try MongoConnection(uri: uri).client()
        var scaler = GeneratedTrainingSet.scaler
        scaler["fitted_on"] = .document(["split": "training", "rows": 10, "run_id": "20261207T101500Z-0a1b2c"])
        _ = try client.collection("scalers", database: database).upsertByID([try BSONDocument(scaler)])
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let first = try JobProcess.run("etl-export", ["--work-dir", work.path], environment: environment)
        #expect(first.status == 0, "\(first.standardError)")
        let export = work.url.appendingPathComponent("exports/training")
        let scalerFile = try BSONDocument(json: String(contentsOf: export.appendingPathComponent("scaler.json"), encoding: .utf8)).document()
        #expect(scalerFile["fitting_run"] == "20261207T101500Z-0a1b2c")
        let before = ExportNameTests.snapshot(work)

        var generator = SplitMix64(seed: 31)
        var stray = GeneratedTrainingSet.row(id: 31, generator: &generator)
        stray["scaler_version"] = "v-gone"
        _ = try client.collection("training", database: database).upsertByID([try BSONDocument(stray)])
        let second = try JobProcess.run("etl-export", ["--work-dir", work.path], environment: environment)
        #expect(second.status == 65, "\(second.standardError)")
        #expect(second.lastLine.contains("scaler_version v-gone"), "\(second.lastLine)")
        #expect(ExportNameTests.snapshot(work) == before)
    }

    /// --help says where unlabelled rows and a JSON Lines export go.
    @Test func helpNamesTheFilesOfEachFormat() throws {
        let help = try JobProcess.run("etl-export", ["--help"])
        let text = help.standardOutput.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("unlabelled.csv (unlabelled.jsonl with --format jsonl)"), "\(help.standardOutput)")
        #expect(text.contains("<collection>-jsonl with --format jsonl"), "\(help.standardOutput)")
    }
}

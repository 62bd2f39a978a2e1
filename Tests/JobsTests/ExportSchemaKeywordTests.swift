import DocumentStore
import Foundation
import Testing
import TestSupport

/// What a collection's schema tells etl-export: `x-label` (the default label column) and
/// `x-encode: class-map` (a string column written as integer codes, with `class_maps.json`).
/// Each test exports from a catalog of its own: FMA's schemas plus one written here.
@Suite(.serialized) struct ExportSchemaKeywordTests {
    /// A catalog directory: every schema of `Schemas/` (top level) plus `extra` (file name → JSON).
    static func catalog(_ extra: [String: String]) throws -> TemporaryDirectory {
        let directory = TemporaryDirectory()
        let schemas = TestServer.packageRoot.appendingPathComponent("Schemas")
        for name in try FileManager.default.contentsOfDirectory(atPath: schemas.path) where name.hasSuffix(".schema.json") {
            try FileManager.default.copyItem(at: schemas.appendingPathComponent(name), to: directory.url.appendingPathComponent(name))
        }
        for (name, text) in extra { try text.write(to: directory.url.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return directory
    }

    /// A small row schema: a string key, genre_top (FMA's label name, to show it is no longer
    /// assumed), mood, split, a number. `top` is spliced into the schema's top level.
    static func moodSchema(top: String) -> String {
        """
        {"title": "mood_row", "x-collection": "moods", \(top) "bsonType": "object", "required": ["_id", "split"],
         "properties": {"_id": {"bsonType": "string", "x-columns": ["row_id"]},
                        "genre_top": {"bsonType": ["string", "null"]},
                        "mood": {"bsonType": ["string", "null"]},
                        "split": {"bsonType": "string"},
                        "energy": {"bsonType": "double"}}}
        """
    }

    static let moods: [Document] = [
        ["_id": "a", "genre_top": "Rock", "mood": "tense", "split": "training", "energy": 0.9],
        ["_id": "b", "genre_top": "Folk", "mood": "calm", "split": "training", "energy": 0.1],
        ["_id": "c", "genre_top": "Rock", "mood": .null, "split": "test", "energy": 0.5],
        ["_id": "d", "genre_top": "Folk", "mood": "calm", "split": "test", "energy": 0.2],
    ]

    static func manifest(_ export: URL) throws -> Document {
        try BSONDocument(json: String(contentsOf: export.appendingPathComponent("manifest.json"), encoding: .utf8)).document()
    }

    /// `x-label` names the default label: mood here, though the rows also have genre_top; a schema
    /// without it exports without a label; an `x-label` that is no column is refused (64).
    @Test func xLabelIsTheDefaultLabel() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let client = try MongoConnection(uri: uri).client()
        _ = try client.collection("moods", database: database).upsertByID(try Self.moods.map { try BSONDocument($0) })
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]

        let labelled = try Self.catalog(["mood_row.schema.json": Self.moodSchema(top: #""x-label": "mood","#)])
        let work = TemporaryDirectory()
        let run = try JobProcess.run("etl-export", ["--work-dir", work.path, "--schemas", labelled.path, "--collection", "moods"],
                                     environment: environment)
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.lastLine.contains("3 rows, 1 rows without mood, 2 classes"), "\(run.lastLine)")
        let export = work.url.appendingPathComponent("exports/moods")
        let label = try Self.manifest(export)["label"]?.documentValue
        #expect(label?["column"] == "mood")
        let classMap = try BSONDocument(json: String(contentsOf: export.appendingPathComponent("class_map.json"), encoding: .utf8)).document()
        #expect(classMap["label"] == "mood" && classMap["classes"] == .document(["calm": 0, "tense": 1]))

        let unlabelled = try Self.catalog(["mood_row.schema.json": Self.moodSchema(top: "")])
        let plain = TemporaryDirectory()
        let noLabel = try JobProcess.run("etl-export", ["--work-dir", plain.path, "--schemas", unlabelled.path, "--collection", "moods"],
                                         environment: environment)
        #expect(noLabel.status == 0, "\(noLabel.standardError)")
        #expect(try Self.manifest(plain.url.appendingPathComponent("exports/moods"))["label"] == .null)
        #expect(!FileManager.default.fileExists(atPath: plain.path + "/exports/moods/class_map.json"))
        let rows = try String(contentsOfFile: plain.path + "/exports/moods/output.csv", encoding: .utf8)
        #expect(rows.split(separator: "\n").count == 1 + 4, "every row in output.csv without a label: \(rows)")

        let misspelt = try Self.catalog(["mood_row.schema.json": Self.moodSchema(top: #""x-label": "moood","#)])
        let refused = try JobProcess.run("etl-export", ["--work-dir", plain.path, "--schemas", misspelt.path, "--collection", "moods"],
                                         environment: environment)
        #expect(refused.status == 64, "\(refused.standardError)")
        #expect(refused.standardError.contains("x-label moood is not a single-valued column of collection moods; did you mean mood?"),
                "\(refused.standardError)")
    }

    /// FMA's training rows name genre_top as their label in the schema, and the MongoDB
    /// validator leaves the annotation out (MongoDB refuses unknown keywords).
    @Test func trainingRowSchemaNamesGenreTopAndItsValidatorDropsTheKeyword() throws {
        let schema = try EntitySchema(path: TestServer.packageRoot.appendingPathComponent("Schemas/training_row.schema.json").path)
        #expect(schema.document["x-label"] == "genre_top")
        #expect(schema.validator["x-label"] == nil)
        #expect(!schema.validator.fields.contains { $0.key.hasPrefix("x-") })
    }

    /// A skip-prediction row: class-map columns (context_type, mode), label is_skipped, a split.
    static func playSchema(contextEncoding: String = "class-map") -> String {
        """
        {"title": "play_row", "x-collection": "play_rows", "x-label": "is_skipped", "x-scaler-collection": "play_scalers", "bsonType": "object",
         "required": ["_id", "split"],
         "properties": {"_id": {"bsonType": "string", "x-columns": ["play_id"]},
                        "session_id": {"bsonType": "string"},
                        "session_position": {"bsonType": "int"},
                        "context_type": {"bsonType": ["string", "null"], "x-encode": "\(contextEncoding)"},
                        "mode": {"bsonType": "string", "x-encode": "class-map"},
                        "energy": {"bsonType": "double"},
                        "is_skipped": {"bsonType": "int"},
                        "split": {"bsonType": "string"}}}
        """
    }

    static func play(_ session: Int, _ position: Int, context: BSONValue, mode: String, skipped: Int) -> Document {
        ["_id": .string("s\(session):\(position)"), "session_id": .string("s\(session)"), "session_position": .integer(position),
         "context_type": context, "mode": .string(mode), "energy": .double(Double(position) / 10),
         "is_skipped": .integer(skipped), "split": session % 2 == 0 ? "training" : "test"]
    }

    static func column(_ rows: [[String]], _ name: String) throws -> [String] {
        let index = try #require(rows.first?.firstIndex(of: name))
        return rows.dropFirst().map { $0[index] }
    }

    static func readJSON(_ url: URL) throws -> Document {
        try BSONDocument(json: String(contentsOf: url, encoding: .utf8)).document()
    }

    /// `x-encode: class-map` columns are written as codes (sorted order on a first export, empty
    /// for null) in output, partitions and shards, with class_maps.json beside them and the
    /// manifest calling them categorical; the next export keeps every code and gives a new class
    /// the next one; a named export and JSON Lines use the same codes; `--out -` streams codes and
    /// logs the maps.
    @Test func classMapColumnsAreWrittenAsStableCodes() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let client = try MongoConnection(uri: uri).client()
        let plays = try client.collection("play_rows", database: database)
        let contexts: [BSONValue] = ["radio", "catalog", "charts", .null]
        let first = (1...4).flatMap { session in
            (1...3).map { Self.play(session, $0, context: contexts[(session + $0) % 4], mode: $0 == 2 ? "minor" : "major", skipped: $0 % 2) }
        }
        _ = try plays.upsertByID(try first.map { try BSONDocument($0) })
        let catalog = try Self.catalog(["play_row.schema.json": Self.playSchema()])
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let work = TemporaryDirectory()
        func export(_ arguments: [String]) throws -> JobProcess.Outcome {
            let run = try JobProcess.run("etl-export", ["--work-dir", work.path, "--schemas", catalog.path, "--collection", "play_rows"] + arguments,
                                         environment: environment)
            #expect(run.status == 0, "\(arguments): \(run.standardError)")
            return run
        }
        _ = try export(["--partition-by", "split", "--shards", "2"])
        let folder = work.url.appendingPathComponent("exports/play_rows")
        let expectedFirst: Document = ["context_type": .document(["catalog": 0, "charts": 1, "radio": 2]),
                                       "mode": .document(["major": 0, "minor": 1])]
        #expect(try Self.readJSON(folder.appendingPathComponent("class_maps.json")) == expectedFirst)
        let rows = try readCSV(folder.appendingPathComponent("output.csv").path)
        let code = ["radio": "2", "catalog": "0", "charts": "1"]
        #expect(try Self.column(rows, "context_type") == first.map { $0["context_type"]?.stringValue.flatMap { code[$0] } ?? "" })
        #expect(try Self.column(rows, "mode") == first.map { $0["mode"] == "minor" ? "1" : "0" })
        for part in ["by_split/split=training/part-00000.csv", "by_split/split=test/part-00000.csv",
                     "shards/shard-00001-of-00002.csv", "shards/shard-00002-of-00002.csv"] {
            let partRows = try readCSV(folder.appendingPathComponent(part).path)
            #expect(try Self.column(partRows, "mode").allSatisfy { $0 == "0" || $0 == "1" }, "\(part)")
        }
        let manifest = try Self.manifest(folder)
        let columns = Dictionary(uniqueKeysWithValues: (manifest["columns"]?.arrayValue ?? []).compactMap(\.documentValue).map {
            ($0["name"]?.stringValue ?? "", $0)
        })
        #expect(columns["context_type"]?["role"] == "categorical" && columns["context_type"]?["type"] == "int64")
        #expect(columns["context_type"]?["class_map"] == "class_maps.json")
        #expect(columns["energy"]?["role"] == "feature" && columns["session_position"]?["role"] == "feature")
        #expect(columns["session_id"]?["role"] == "other" && columns["is_skipped"]?["role"] == "label")
        #expect(manifest["class_maps"]?.documentValue?["columns"] == ["context_type", "mode"])
        let files = (manifest["files"]?.arrayValue ?? []).compactMap { $0.documentValue?["path"]?.stringValue }
        #expect(files.contains("class_maps.json"))

        // charts is gone, editorial is new: every code kept, editorial gets the next.
        _ = try plays.deleteMany(["context_type": "charts"])
        _ = try plays.upsertByID([try BSONDocument(Self.play(9, 1, context: "editorial", mode: "major", skipped: 1))])
        _ = try export([])
        var expectedNext = expectedFirst
        expectedNext["context_type"] = .document(["catalog": 0, "charts": 1, "radio": 2, "editorial": 3])
        #expect(try Self.readJSON(folder.appendingPathComponent("class_maps.json")) == expectedNext)
        let next = try readCSV(folder.appendingPathComponent("output.csv").path)
        #expect(try Self.column(next, "context_type").last == "3")

        // A named export and JSON Lines start from the default export's codes.
        _ = try export(["--where", #"{"context_type": "editorial"}"#, "--name", "editorial"])
        #expect(try Self.readJSON(work.url.appendingPathComponent("exports/editorial/class_maps.json")) == expectedNext)
        _ = try export(["--format", "jsonl"])
        let lines = try String(contentsOf: work.url.appendingPathComponent("exports/play_rows-jsonl/output.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try BSONDocument(json: String($0)).document() }
        #expect(lines.last?["context_type"]?.int64Value == 3 && lines.last?["mode"]?.int64Value == 0)
        #expect(lines.contains { $0["context_type"] == .null })
        #expect(try Self.readJSON(work.url.appendingPathComponent("exports/play_rows-jsonl/class_maps.json")) == expectedNext)

        let streamed = try export(["--out", "-", "--fields", "play_id,context_type"])
        #expect(streamed.standardOutput.hasSuffix("s9:1,3\n"), "\(streamed.standardOutput)")
        #expect(streamed.standardError.contains("class codes of this stream"), "\(streamed.standardError)")
    }

    /// An unknown encoding is a schema mistake (64); a class-map column holding a number is bad
    /// data (65), and nothing is exported.
    @Test func classMapMistakesExitWithTheirCodes() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let client = try MongoConnection(uri: uri).client()
        _ = try client.collection("play_rows", database: database).upsertByID([
            try BSONDocument(Self.play(1, 1, context: "radio", mode: "major", skipped: 0)),
            try BSONDocument(Self.play(1, 2, context: .integer(7), mode: "major", skipped: 1)),
        ])
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let work = TemporaryDirectory()
        let oneHot = try Self.catalog(["play_row.schema.json": Self.playSchema(contextEncoding: "one-hot")])
        let refused = try JobProcess.run("etl-export", ["--work-dir", work.path, "--schemas", oneHot.path, "--collection", "play_rows"],
                                         environment: environment)
        #expect(refused.status == 64, "\(refused.standardError)")
        #expect(refused.standardError.contains("context_type has x-encode one-hot; the one encoding is \"class-map\""), "\(refused.standardError)")
        let catalog = try Self.catalog(["play_row.schema.json": Self.playSchema()])
        let bad = try JobProcess.run("etl-export", ["--work-dir", work.path, "--schemas", catalog.path, "--collection", "play_rows"],
                                     environment: environment)
        #expect(bad.status == 65, "\(bad.standardError)")
        #expect(bad.standardError.contains("context_type holds 7, not text"), "\(bad.standardError)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/exports/play_rows"))
    }
}

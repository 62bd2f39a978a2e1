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
}

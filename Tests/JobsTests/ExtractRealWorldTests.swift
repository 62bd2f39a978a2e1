import Foundation
import Testing
import TestSupport

/// Real metadata that went through a spreadsheet program or a hand edit: a bad optional value
/// costs the value (nulled, reported in `<file>.repairs.csv`), never the row, unless the schema
/// says `x-on-invalid: reject`.
@Suite struct ExtractRealWorldTests {
    /// Dates (`$date`) cut to the minute: the spreadsheet's layout drops the seconds.
    static func toTheMinute(_ value: Any) -> Any {
        switch value {
        case let object as [String: Any]:
            if let date = object["$date"] as? String, let match = date.range(of: #":\d\d(\.\d+)?Z$"#, options: .regularExpression) {
                return ["$date": date.replacingCharacters(in: match, with: ":00Z")]
            }
            return object.mapValues(toTheMinute)
        case let array as [Any]:
            return array.map(toTheMinute)
        default:
            return value
        }
    }

    static func documents(_ run: ExtractRun, _ collection: String) throws -> [NSDictionary] {
        try #require(try run.staged(collection)).map { toTheMinute($0) as! NSDictionary }
    }

    @Test(arguments: ["fma_metadata", "fma_metadata_semicolon"], ["tracks.csv", "raw_tracks.csv"])
    func spreadsheetSavedSampleKeepsEveryRow(folder: String, tracksFile: String) throws {
        let original = try ExtractRun.run(metadata: ExtractRun.sample, work: TemporaryDirectory(), ["--tracks-file", tracksFile])
        let mangled = try ExtractRun.run(metadata: Fixtures.url("spreadsheet/" + folder).path, work: TemporaryDirectory(),
                                         ["--tracks-file", tracksFile])
        #expect(mangled.outcome.status == 0, "\(mangled.outcome.standardError)")
        // Rows in = written + quarantined, and nothing quarantined.
        for collection in ["genres", "albums", "artists", "tracks"] {
            let rowsIn = try #require(mangled.count("\(collection) in"))
            #expect(rowsIn > 0)
            #expect(mangled.count("\(collection) written") == rowsIn)
            #expect(mangled.count("\(collection) quarantined") == 0)
            #expect(mangled.count("\(collection) in") == original.count("\(collection) in"))
        }
        // The two values made unreadable on purpose are nulled and reported; all else reads as the original.
        let albums = try Self.documents(mangled, "albums")
        let expectedAlbums = try Self.documents(original, "albums").map { $0.mutableCopy() as! NSMutableDictionary }
        for album in expectedAlbums where (album["_id"] as? NSNumber)?.intValue == 4 { album["listens"] = NSNull() }
        #expect(albums == expectedAlbums as [NSDictionary])
        let expectedTracks = try Self.documents(original, "tracks").map { $0.mutableCopy() as! NSMutableDictionary }
        for track in expectedTracks where (track["_id"] as? NSNumber)?.intValue == 3 && tracksFile == "raw_tracks.csv" {
            track["date_recorded"] = NSNull()
        }
        for track in expectedTracks {  // album 4's listens, embedded from the albums
            if let album = track["album"] as? NSDictionary, (album["id"] as? NSNumber)?.intValue == 4 {
                let completed = album.mutableCopy() as! NSMutableDictionary
                completed["listens"] = NSNull()
                track["album"] = completed
            }
        }
        #expect(try Self.documents(mangled, "tracks") == expectedTracks as [NSDictionary])
        #expect(try Self.documents(mangled, "genres") == (try Self.documents(original, "genres")))
        #expect(try Self.documents(mangled, "artists") == (try Self.documents(original, "artists")))
        let repairs = try mangled.repairs("raw_albums.csv")
        #expect(repairs.map { [$0["line"], $0["id"], $0["field"], $0["column"], $0["value"]] }
                == [["3", "4", "listens", "album_listens", "lots"]])
        #expect(mangled.count("values nulled") == (tracksFile == "raw_tracks.csv" ? 2 : 1))
    }

    /// A copy of the schemas with `edit` applied to one of them.
    static func schemas(editing name: String, in work: TemporaryDirectory, _ edit: (inout [String: Any]) -> Void) throws -> String {
        let directory = work.path + "/schemas"
        try FileManager.default.copyItem(atPath: TestServer.packageRoot.appendingPathComponent("Schemas").path, toPath: directory)
        let path = directory + "/" + name + ".schema.json"
        var schema = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        edit(&schema)
        try JSONSerialization.data(withJSONObject: schema).write(to: URL(fileURLWithPath: path))
        return directory
    }

    static func run(_ corpusFile: String, schemas: String, work: TemporaryDirectory) throws -> ExtractRun {
        let metadata = try ExtractRun.metadata(replacing: ["raw_tracks.csv": Fixtures.url("malformed/" + corpusFile).path],
                                               removing: ["tracks.csv"], in: work)
        return try ExtractRun.run(metadata: metadata, work: work, ["--max-reject-ratio", "1", "--schemas", schemas])
    }

    @Test func schemaWideRejectQuarantinesTheRowAgain() throws {
        let work = TemporaryDirectory()
        let schemas = try Self.schemas(editing: "track", in: work) { $0["x-on-invalid"] = "reject" }
        let run = try Self.run("raw_tracks--text-in-int-column.csv", schemas: schemas, work: work)
        #expect(run.outcome.status == 0, "\(run.outcome.standardError)")
        #expect(ids(try run.staged("tracks")) == [2, 5])
        #expect(try run.rejects("raw_tracks.csv").map { $0["column"] } == ["track_listens"])
        #expect(try run.repairs("raw_tracks.csv").isEmpty)
        #expect(run.count("values nulled") == 0)
    }

    @Test func propertyPolicyOverridesTheSchemas() throws {
        let work = TemporaryDirectory()
        // Reject everywhere but listens; and reject on date_created alone.
        let schemas = try Self.schemas(editing: "track", in: work) { schema in
            schema["x-on-invalid"] = "reject"
            var properties = schema["properties"] as! [String: Any]
            var listens = properties["listens"] as! [String: Any]
            listens["x-on-invalid"] = "null"
            properties["listens"] = listens
            schema["properties"] = properties
        }
        let nulled = try Self.run("raw_tracks--text-in-int-column.csv", schemas: schemas, work: work)
        #expect(ids(try nulled.staged("tracks")) == [2, 3, 5])
        #expect(try nulled.repairs("raw_tracks.csv").map { $0["field"] } == ["listens"])

        let second = TemporaryDirectory()
        let strictDate = try Self.schemas(editing: "track", in: second) { schema in
            var properties = schema["properties"] as! [String: Any]
            var created = properties["date_created"] as! [String: Any]
            created["x-on-invalid"] = "reject"
            properties["date_created"] = created
            schema["properties"] = properties
        }
        let rejected = try Self.run("raw_tracks--impossible-date.csv", schemas: strictDate, work: second)
        #expect(ids(try rejected.staged("tracks")) == [2, 5])
        #expect(try rejected.rejects("raw_tracks.csv").map { $0["column"] } == ["track_date_created"])
    }

    @Test func nullOnARequiredPropertyIsAConfigurationError() throws {
        let work = TemporaryDirectory()
        let schemas = try Self.schemas(editing: "genre", in: work) { schema in
            var properties = schema["properties"] as! [String: Any]
            var title = properties["title"] as! [String: Any]
            title["x-on-invalid"] = "null"
            properties["title"] = title
            schema["properties"] = properties
        }
        let run = try ExtractRun.run(metadata: ExtractRun.sample, work: work, ["--schemas", schemas])
        #expect(run.outcome.status == 64)
        #expect(run.outcome.lastLine.contains("property title is required (or the id): x-on-invalid null cannot apply to it"))
    }

    @Test func missingValueMarkersAreEmptyCells() throws {
        let run = try corpusRun("raw_tracks--missing-value-markers.csv")
        let tracks = try #require(try run.staged("tracks"))
        #expect(tracks[0]["listens"] is NSNull)
        #expect(tracks[1]["number"] is NSNull)
        #expect(tracks[1]["date_recorded"] is NSNull)
        #expect(tracks[2]["bit_rate"] is NSNull)
        #expect(tracks[2]["duration"] is NSNull)
        #expect((tracks[0]["number"] as? NSNumber)?.intValue == 3, "the other values are read")
    }

    @Test func twoDigitYearsAndThousandsSeparatorsAreRead() throws {
        let dates = try #require(try corpusRun("raw_tracks--two-digit-year-dates.csv").staged("tracks"))
        #expect((dates[0]["date_created"] as? [String: Any])?["$date"] as? String == "2008-11-26T01:48:00Z")
        #expect((dates[1]["date_recorded"] as? [String: Any])?["$date"] as? String == "2008-01-01T00:00:00Z")
        #expect((dates[2]["date_created"] as? [String: Any])?["$date"] as? String == "2008-11-26T13:48:00Z")
        let numbers = try #require(try corpusRun("raw_tracks--thousands-separators.csv").staged("tracks"))
        #expect((numbers[0]["listens"] as? NSNumber)?.intValue == 1293)
        #expect((numbers[1]["bit_rate"] as? NSNumber)?.intValue == 256_000)
        #expect(ids(numbers) == [2, 3, 5])
    }
}

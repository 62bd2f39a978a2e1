import DocumentStore
import Foundation
import Tabular
import Testing
import TestSupport

/// The bundled sample (real FMA files, byte-identical to ../shared/data/fma) through `etl-extract`:
/// counts per entity, and full track documents checked field by field against their source rows.
@Suite struct ExtractSampleTests {
    /// The source row of a CSV file as header → text.
    func sourceRow(_ file: String, id: String) throws -> [String: String] {
        let rows = try readCSV(ExtractRun.sample + "/" + file)
        let row = try #require(rows.first { $0.first == id })
        return Dictionary(uniqueKeysWithValues: zip(rows[0], row))
    }

    func date(_ value: Any?) -> String? { (value as? [String: Any])?["$date"] as? String }
    func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }

    @Test func bundledSampleWithTracksCSV() throws {
        let work = TemporaryDirectory()
        let run = try ExtractRun.run(metadata: ExtractRun.sample, work: work)
        #expect(run.outcome.status == 0, "\(run.outcome.standardError)")
        // genres.csv wins over raw_genres.csv, tracks.csv over raw_tracks.csv.
        #expect(run.outcome.lastLine.contains("163 genres in, 163 genres written, 0 genres quarantined, 5 albums in, 5 albums written, 0 albums quarantined, 4 artists in, 4 artists written, 0 artists quarantined, 4 tracks in, 4 tracks written, 0 tracks quarantined, 0 values nulled, 8 warnings, 0 rows with repaired text"), "\(run.outcome.lastLine)")
        // The 4 fma_small tracks' albums and artists are not among the 5 albums / 4 artists sampled:
        // 8 integrity warnings, references kept.
        #expect(run.outcome.standardError.contains("track 100544: unknown album.id 16114"))
        #expect(try #require(try run.staged("genres")).count == 163)

        // Track 100544, field by field against its tracks.csv row.
        let tracks = try #require(try run.staged("tracks"))
        #expect(ids(tracks) == [100544, 100745, 100975, 100536])
        let track = tracks[0]
        let rows = try readCSV(ExtractRun.sample + "/tracks.csv")
        let names = try FMAHeaderNames.of(rows)
        let source = Dictionary(uniqueKeysWithValues: zip(names, rows[3]))
        #expect(source["track_id"] == "100544")
        #expect(track["_id"] as? Int == 100544)
        #expect(track["title"] as? String == source["track.title"] && source["track.title"] == "Electron")
        let album = try #require(track["album"] as? [String: Any])
        #expect(album["id"] as? Int == 16114)
        #expect(album["title"] as? String == "First Space Voyage")
        #expect(album["type"] as? String == "Album")
        #expect(date(album["date_created"]) == "2014-03-06T07:13:48Z")
        #expect(date(album["date_released"]) == "2006-11-01T00:00:00Z")
        #expect(album["comments"] as? Int == 0 && album["favorites"] as? Int == 1)
        #expect(album["listens"] as? Int == 29625 && album["tracks"] as? Int == 11)
        #expect(album["information"] as? String == source["album.information"])
        #expect((album["tags"] as? [String]) == [])
        #expect(album["engineer"] is NSNull && album["producer"] is NSNull && album["url"] is NSNull)
        let artist = try #require(track["artist"] as? [String: Any])
        #expect(artist["id"] as? Int == 17128)
        #expect(artist["name"] as? String == "Megatone")
        #expect(artist["comments"] as? Int == 0 && artist["favorites"] as? Int == 8)
        #expect(date(artist["date_created"]) == "2013-10-09T09:28:24Z")
        #expect(artist["location"] as? String == "Moldavia")
        #expect(artist["members"] as? String == "Marcel Gherman")
        #expect((artist["tags"] as? [String]) == ["megatone"])
        #expect(artist["website"] as? String == "http://marcelgherman.blogspot.fi/")
        #expect(artist["latitude"] is NSNull && artist["bio"] is NSNull && artist["active_year_begin"] is NSNull)
        let set = try #require(track["set"] as? [String: Any])
        #expect(set["split"] as? String == "training" && set["subset"] as? String == "small")
        #expect(track["genre_top"] as? String == "Electronic")
        #expect((track["genres"] as? [Int]) == [15, 42, 184])
        #expect((track["genres_all"] as? [Int]) == [184, 42, 15])
        #expect(number(track["duration"]) == 200)
        #expect(track["bit_rate"] as? Int == 128000)
        #expect(date(track["date_created"]) == "2014-03-06T07:10:48Z")
        #expect(track["date_recorded"] is NSNull)
        #expect(track["number"] as? Int == 3)
        #expect(track["listens"] as? Int == 4752 && track["favorites"] as? Int == 0)
        #expect(track["comments"] as? Int == 0 && track["interest"] as? Int == 5432)
        #expect((track["tags"] as? [String]) == [])
        #expect((track["license"] as? [String: Any])?["title"] as? String == "Attribution-NonCommercial-ShareAlike 3.0 International")
        #expect(track["information"] is NSNull && track["composer"] is NSNull && track["language_code"] is NSNull)
    }

    /// A genre id the genres file lacks is a warning for its track, which is kept; tracks.csv has
    /// the derived columns (nothing to derive), raw_tracks.csv has them derived.
    @Test func unknownGenresAreWarnedAbout() throws {
        let work = TemporaryDirectory()
        let text = try String(contentsOfFile: ExtractRun.sample + "/tracks.csv", encoding: .utf8)
        #expect(text.components(separatedBy: "\"[240, 297]\"").count == 2, "the sample's genres of track 100745")
        let changed = work.path + "/tracks.csv"
        try text.replacingOccurrences(of: "\"[240, 297]\"", with: "\"[240, 99999]\"")
            .write(toFile: changed, atomically: true, encoding: .utf8)
        let run = try ExtractRun.run(metadata: try ExtractRun.metadata(replacing: ["tracks.csv": changed], in: work), work: work)
        #expect(run.outcome.status == 0, "\(run.outcome.standardError)")
        #expect(run.outcome.lastLine.contains("4 tracks in, 4 tracks written, 0 tracks quarantined, 0 values nulled, 9 warnings"), "\(run.outcome.lastLine)")
        #expect(run.outcome.standardError.contains("track 100745: unknown genre 99999"))

        let rawWork = TemporaryDirectory()
        let raw = try String(contentsOfFile: ExtractRun.sample + "/raw_tracks.csv", encoding: .utf8)
        let rawChanged = rawWork.path + "/raw_tracks.csv"
        // Track 2's first genre (every track of the sample's first three is Hip-Hop, 21).
        let first = try #require(raw.range(of: "'genre_id': '21'"))
        try raw.replacingCharacters(in: first, with: "'genre_id': '99999'").write(toFile: rawChanged, atomically: true, encoding: .utf8)
        let rawMetadata = try ExtractRun.metadata(replacing: ["raw_tracks.csv": rawChanged], removing: ["genres.csv", "tracks.csv"],
                                                  in: rawWork)
        let rawRun = try ExtractRun.run(metadata: rawMetadata, work: rawWork)
        #expect(rawRun.outcome.lastLine.contains("10 tracks in, 10 tracks written, 0 tracks quarantined, 0 values nulled, 11 warnings"), "\(rawRun.outcome.lastLine)")
        #expect(rawRun.outcome.standardError.contains("track 2: unknown genre 99999"))
    }

    @Test func bundledSampleWithRawFiles() throws {
        let work = TemporaryDirectory()
        let metadata = try ExtractRun.metadata(removing: ["genres.csv", "tracks.csv"], in: work)
        let run = try ExtractRun.run(metadata: metadata, work: work)
        #expect(run.outcome.status == 0, "\(run.outcome.standardError)")
        // raw_genres: 763 is its own parent; 13, 580 and 810 have parents that do not exist.
        // raw_tracks: 6 tracks by artists 4, 6, 53, 54, which the 4-artist sample lacks.
        #expect(run.outcome.lastLine.contains("164 genres in, 164 genres written, 0 genres quarantined, 5 albums in, 5 albums written, 0 albums quarantined, 4 artists in, 4 artists written, 0 artists quarantined, 10 tracks in, 10 tracks written, 0 tracks quarantined, 0 values nulled, 10 warnings, 0 rows with repaired text"), "\(run.outcome.lastLine)")
        let genres = try #require(try run.staged("genres"))
        func genre(_ id: Int) -> [String: Any]? { genres.first { $0["_id"] as? Int == id } }
        #expect(genre(1)?["top_level"] as? Int == 38 && genre(1)?["parent"] as? Int == 38)
        #expect(genre(21)?["top_level"] as? Int == 21 && genre(21)?["parent"] as? Int == 0)
        #expect(genre(1193)?["top_level"] as? Int == 763 && genre(763)?["parent"] as? Int == 0)
        #expect(genre(13)?["parent"] as? Int == 126 && genre(13)?["top_level"] as? Int == 13, "as the official genres.csv has it")
        #expect(genre(806)?["title"] as? String != nil, "806 exists only in raw_genres.csv")

        // Track 2, field by field against its raw_tracks.csv row, with album 1 and artist 1 embedded.
        let tracks = try #require(try run.staged("tracks"))
        #expect(ids(tracks) == [2, 3, 5, 10, 20, 30, 134, 137, 138, 139])
        let track = tracks[0]
        let row = try sourceRow("raw_tracks.csv", id: "2")
        let albumRow = try sourceRow("raw_albums.csv", id: "1")
        let artistRow = try sourceRow("raw_artists.csv", id: "1")
        #expect(track["_id"] as? Int == 2)
        #expect(track["title"] as? String == row["track_title"])
        let album = try #require(track["album"] as? [String: Any])
        #expect(album["id"] as? Int == Int(row["album_id"]!))
        #expect(album["title"] as? String == row["album_title"])
        #expect(album["url"] as? String == row["album_url"])
        #expect(album["type"] as? String == albumRow["album_type"], "completed from raw_albums.csv")
        #expect(date(album["date_created"]) == "2008-11-26T01:44:45Z" && albumRow["album_date_created"] == "11/26/2008 01:44:45 AM")
        #expect(date(album["date_released"]) == "2009-01-01T00:00:00Z" && albumRow["album_year_released"] == "2009")
        #expect(album["listens"] as? Int == Int(albumRow["album_listens"]!))
        #expect(album["tracks"] as? Int == Int(albumRow["album_tracks"]!))
        #expect(album["favorites"] as? Int == Int(albumRow["album_favorites"]!))
        #expect(album["information"] as? String == albumRow["album_information"])
        let artist = try #require(track["artist"] as? [String: Any])
        #expect(artist["id"] as? Int == 1)
        #expect(artist["name"] as? String == row["artist_name"])
        #expect(artist["url"] as? String == row["artist_url"])
        #expect(artist["website"] as? String == row["artist_website"])
        #expect(artist["bio"] as? String == artistRow["artist_bio"], "completed from raw_artists.csv")
        #expect(number(artist["latitude"]) == 40.0583238 && number(artist["longitude"]) == -74.4056612)
        #expect(date(artist["active_year_begin"]) == "2006-01-01T00:00:00Z")
        #expect((artist["tags"] as? [String]) == ["awol"])
        #expect(track["set"] is NSNull, "raw_tracks.csv has no split")
        #expect((track["genres"] as? [Int]) == [21])
        #expect(track["genre_top"] as? String == "Hip-Hop", "derived: 21 is a top-level genre")
        #expect((track["genres_all"] as? [Int]) == [21])
        #expect(number(track["duration"]) == 168 && row["track_duration"] == "168")
        #expect(track["bit_rate"] as? Int == 256000)
        #expect(date(track["date_created"]) == "2008-11-26T01:48:12Z" && row["track_date_created"] == "11/26/2008 01:48:12 AM")
        #expect(date(track["date_recorded"]) == "2008-11-26T00:00:00Z" && row["track_date_recorded"] == "11/26/2008")
        #expect(track["disc_number"] as? Int == 1 && track["number"] as? Int == 3)
        #expect(track["listens"] as? Int == 1293 && track["favorites"] as? Int == 2)
        #expect(track["comments"] as? Int == 0 && track["interest"] as? Int == 4656)
        #expect(track["language_code"] as? String == "en")
        #expect(track["explicit"] as? String == "Radio-Unsafe" && track["explicit_notes"] is NSNull)
        #expect(track["instrumental"] as? Int == 0)
        #expect(track["composer"] is NSNull && track["lyricist"] is NSNull && track["publisher"] is NSNull)
        #expect(track["information"] is NSNull && track["copyright_c"] is NSNull && track["copyright_p"] is NSNull)
        #expect((track["tags"] as? [String]) == [])
        let license = try #require(track["license"] as? [String: Any])
        #expect(license["title"] as? String == row["license_title"])
        #expect(license["url"] as? String == row["license_url"])
        #expect(license["parent_id"] as? Int == 5)
        #expect(license["image_file"] as? String == row["license_image_file"])
        #expect(license["image_file_large"] as? String == row["license_image_file_large"])
        #expect(track["file"] as? String == row["track_file"])
        #expect(track["url"] as? String == row["track_url"])
        #expect(track["image_file"] as? String == row["track_image_file"])
        #expect(Set(track.keys).count == 33, "the schema's 33 properties, no extra column")
    }

    @Test func dryRunWritesNothingAndOnlyRestrictsTracks() throws {
        let work = TemporaryDirectory()
        let dry = try ExtractRun.run(metadata: ExtractRun.sample, work: work, ["--dry-run"])
        #expect(dry.outcome.status == 0)
        #expect(dry.outcome.lastLine.contains("(dry run)"))
        #expect(!FileManager.default.fileExists(atPath: work.path + "/work/staging/metadata/tracks.jsonl"))

        // --only re-runs some tracks in the staging of a full run, and keeps every other one.
        let full = try ExtractRun.run(metadata: ExtractRun.sample, work: work, ["--tracks-file", "raw_tracks.csv"])
        #expect(full.outcome.status == 0, "\(full.outcome.standardError)")
        let staged = ids(try full.staged("tracks"))
        #expect(staged.count == 10)
        let only = try ExtractRun.run(metadata: ExtractRun.sample, work: work,
                                      ["--tracks-file", "raw_tracks.csv", "--only", "2,5,999"])
        #expect(only.outcome.status == 0, "\(only.outcome.standardError)")
        #expect(ids(try only.staged("tracks")) == staged)
        #expect(only.count("tracks in") == 2 && only.count("tracks outside --only") == 8)
        #expect(try only.staged("albums")?.count == 5, "albums are always extracted whole")
    }

    /// The JSON printing threads change nothing in the staged files.
    @Test func stagedFilesDoNotDependOnPrintingThreads() throws {
        let work = TemporaryDirectory()
        let metadata = try ExtractRun.metadata(in: work)
        var staged: [[Data]] = []
        for jobs in ["1", "3"] {
            let run = try ExtractRun.run(metadata: metadata, work: work, ["--jobs", jobs, "--force"])
            #expect(run.outcome.status == 0, "\(run.outcome.standardError)")
            staged.append(try ["genres", "albums", "artists", "tracks"].map {
                try Data(contentsOf: URL(fileURLWithPath: work.path + "/work/staging/metadata/\($0).jsonl"))
            })
        }
        #expect(staged[0] == staged[1])
        #expect(staged[0].allSatisfy { !$0.isEmpty })
    }

    /// Staged lines are relaxed Extended JSON that libbson reads back to BSON that prints as the
    /// very same line, and that any JSON reader reads as libbson's own printing of it reads.
    @Test func stagedLinesReadBackThroughLibbson() throws {
        let work = TemporaryDirectory()
        let metadata = try ExtractRun.metadata(removing: ["tracks.csv"], in: work)
        let run = try ExtractRun.run(metadata: metadata, work: work)
        for collection in ["genres", "albums", "artists", "tracks"] {
            let path = work.path + "/work/staging/metadata/\(collection).jsonl"
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            let reader = try JSONLinesReader(path: path)
            var index = 0
            while let parsed = try reader.next() {
                let document = try parsed.document()
                let again = try BSONDocument(document)
                #expect(try again.jsonLine() == String(lines[index]), "\(collection) line \(index + 1)")
                #expect(again.withRawBytes { Array($0) } == parsed.withRawBytes { Array($0) },
                        "\(collection) line \(index + 1): same BSON bytes (narrowest integers) after the round trip")
                let ours = try JSONSerialization.jsonObject(with: Data(lines[index].utf8))
                let theirs = try JSONSerialization.jsonObject(with: Data(again.relaxedExtendedJSON.utf8))
                #expect(Self.same(ours, theirs), "\(collection) line \(index + 1): \(lines[index])")
                index += 1
            }
            #expect(index == lines.count)
        }
        let reader = try JSONLinesReader(path: work.path + "/work/staging/metadata/tracks.jsonl")
        let track = try #require(try reader.next()).document()
        #expect(track["_id"] == .int32(2))
        #expect(track["duration"] == .double(168))
        #expect(track["date_created"] == .dateTime(1_227_664_092_000))
        #expect(track[path: "album.id"] == .int32(1))
        #expect(track["genres"] == .array([.int32(21)]))
        #expect(track["composer"] == .null)
        #expect(track[path: "artist.latitude"] == .double(40.0583238), "bit-exact through libbson")
        #expect(track[path: "artist.longitude"] == .double(-74.4056612))
        _ = run
    }
}

extension ExtractSampleTests {
    /// JSON values equal, numbers compared as doubles (libbson prints 17 significant digits).
    static func same(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case (let a as [String: Any], let b as [String: Any]):
            return a.count == b.count && a.allSatisfy { key, value in b[key].map { same(value, $0) } ?? false }
        case (let a as [Any], let b as [Any]):
            return a.count == b.count && zip(a, b).allSatisfy { same($0, $1) }
        case (let a as String, let b as String):
            return a == b
        case (let a as NSNumber, let b as NSNumber):
            // libbson prints 17+ significant digits, which JSONSerialization reads through a
            // decimal type that may round differently by one unit in the last place; bit
            // exactness is checked on the BSON values below.
            return a.doubleValue == b.doubleValue || abs(a.doubleValue - b.doubleValue) <= abs(a.doubleValue) * 1e-15
        case (is NSNull, is NSNull):
            return true
        default:
            return false
        }
    }
}

/// tracks.csv's flattened column names, via the reader's own FMA header logic on parsed rows.
enum FMAHeaderNames {
    static func of(_ rows: [[String]]) throws -> [String] {
        var names = [rows[2][0]]
        for column in 1..<rows[0].count { names.append(rows[0][column] + "." + rows[1][column]) }
        return names
    }
}

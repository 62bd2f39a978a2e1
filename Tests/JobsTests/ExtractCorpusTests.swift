import Foundation
import Testing
import TestSupport

/// One row of `Tests/Fixtures/malformed/README.md`: what `etl-extract --max-reject-ratio 1` must do
/// with that file in an otherwise valid metadata directory (the bundled sample).
struct CorpusCase: Sendable, CustomTestStringConvertible {
    var file: String
    var status: Int32 = 0
    /// The staged ids of the file's entity, in input order; nil: nothing staged (file-level error).
    var written: [Int]?
    var quarantined = 0
    /// Substring of the quarantine reason (every reject of the file), its line and column.
    var reason: String?
    var line: String?
    var column: String?
    /// Optional values nulled in kept rows (`<file>.repairs.csv`), and the substring of every
    /// repair's reason, its line and column.
    var nulled = 0
    var repair: (reason: String, line: String, column: String)?
    /// Substrings of the last stderr line (file-level errors: file, line, record) …
    var lastLine: [String] = []
    /// … and of stderr as a whole (warnings, notes).
    var messages: [String] = []

    var testDescription: String { file }

    var entity: String { String(file.prefix { $0 != "-" }) }
    var collection: String {
        ["genres": "genres", "raw_genres": "genres", "raw_albums": "albums", "raw_artists": "artists",
         "raw_tracks": "tracks", "tracks": "tracks"][entity]!
    }
}

let corpus: [CorpusCase] = [
    .init(file: "raw_tracks--unterminated-quote-at-eof.csv", status: 65,
          lastLine: ["raw_tracks.csv:4: record 4, column 28: unterminated quoted field"]),
    .init(file: "raw_tracks--ragged-too-few-fields.csv", written: [2, 5], quarantined: 1,
          reason: "37 fields where the header has 39", line: "3", column: ""),
    .init(file: "raw_tracks--ragged-too-many-fields.csv", written: [2, 5], quarantined: 1,
          reason: "40 fields where the header has 39", line: "3", column: ""),
    .init(file: "raw_tracks--empty-file.csv", status: 65, lastLine: ["raw_tracks.csv is empty (no header line)"]),
    .init(file: "raw_tracks--header-only.csv", status: 65, lastLine: ["raw_tracks.csv: the file has a header but no data rows"]),
    .init(file: "raw_tracks--duplicate-track-id.csv", written: [2, 3], quarantined: 1,
          reason: "duplicate track_id 2, first seen at line 2", line: "4", column: "track_id"),
    .init(file: "raw_tracks--text-in-int-column.csv", written: [2, 3, 5], nulled: 1,
          repair: ("expected an integer like 42 or -7, got 'many'", "3", "track_listens")),
    .init(file: "raw_tracks--impossible-date.csv", written: [2, 3, 5], nulled: 1,
          repair: ("impossible date '13/40/2008 01:48:14 AM' (read as MM/DD/YYYY hh:mm:ss AM): month 13 is not in 1...12", "3", "track_date_created")),
    .init(file: "raw_tracks--february-30.csv", written: [2, 3, 5], nulled: 1,
          repair: ("impossible date '02/30/2008' (read as MM/DD/YYYY): day 30 does not exist in February 2008, which has 29 days", "3", "track_date_recorded")),
    .init(file: "raw_tracks--unknown-date-layout.csv", written: [2, 3, 5], nulled: 1,
          repair: ("expected a date like MM/DD/YYYY hh:mm:ss AM, YYYY-MM-DD hh:mm:ss, YYYY-MM-DDThh:mm:ssZ or YYYY, got '26 Nov 2008, 1:48'", "3", "track_date_created")),
    .init(file: "raw_tracks--bad-duration.csv", written: [2, 3, 5], nulled: 1,
          repair: ("invalid duration '1:75' (read as mm:ss): seconds 75 is not in 0...59", "3", "track_duration")),
    .init(file: "raw_tracks--mmss-durations.csv", written: [2, 3, 5]),
    .init(file: "raw_tracks--invalid-utf8-in-key.csv", written: [2, 3], quarantined: 1,
          reason: "expected an integer like 42 or -7, got '5\u{FFFD}'", line: "4", column: "track_id"),
    .init(file: "raw_tracks--invalid-utf8-in-text.csv", written: [2, 3, 5], lastLine: ["1 rows with repaired text"],
          messages: ["raw_tracks.csv:3: invalid UTF-8 replaced by U+FFFD"]),
    .init(file: "raw_tracks--invalid-utf8-in-tags.csv", written: [2, 3, 5], lastLine: ["2 rows with repaired text"]),
    .init(file: "raw_tracks--nul-byte-in-text.csv", written: [2, 5], quarantined: 1,
          reason: "NUL byte in column track_title", line: "3", column: "track_title"),
    .init(file: "raw_tracks--missing-required-column.csv", status: 65,
          lastLine: ["raw_tracks.csv: missing required column track_id", "schema track"]),
    // A header that matches nothing but the id is the wrong file (or a respelled header), not rows of nulls.
    .init(file: "raw_tracks--only-the-id-column-matches.csv", status: 65,
          lastLine: ["raw_tracks.csv: no column of the header is one of schema track's besides the id (track_id)",
                     "matching nothing: Title, Artist, Plays", "the schema reads: track_title or track.title, album_id or album.id"]),
    .init(file: "tracks--capitalised-group-row.csv", status: 65,
          lastLine: ["tracks.csv: no column of the header is one of schema track's besides the id (track_id)",
                     "matching nothing: Album.comments, Album.date_created", "and 32 more; the schema reads: track_title or track.title"]),
    .init(file: "raw_tracks--unknown-extra-column.csv", written: [2, 3, 5],
          messages: ["columns not in schema track, carried through as text under extra: track_mood"]),
    // Header names are data: unclaimed columns go under `extra` with safe keys; two of one name fail the file.
    .init(file: "raw_tracks--trailing-comma-every-line.csv", written: [2, 3, 5],
          messages: ["carried through as text under extra: '' as column_40"]),
    .init(file: "raw_tracks--unsafe-header-names.csv", written: [2, 3, 5],
          messages: ["under extra: '$where' as _where, 'a.b' as a_b, _id, _hash, '' as column_44, title"]),
    .init(file: "raw_tracks--duplicate-column-name.csv", status: 65,
          lastLine: ["raw_tracks.csv: column name 'track_listens' appears twice in the header (columns 34 and 40); rename one"]),
    .init(file: "raw_tracks--missing-optional-column.csv", written: [2, 3, 5],
          messages: ["raw_tracks.csv: optional columns absent, left null: set.split, set.subset, lyricist"]),
    .init(file: "raw_tracks--quote-in-unquoted-field.csv", written: [2, 3, 5], lastLine: ["1 warnings"],
          messages: ["raw_tracks.csv: line 3, id 3: a quote inside the unquoted field track_title, kept as text"]),
    .init(file: "raw_tracks--text-after-closing-quote.csv", written: [2, 5], quarantined: 1,
          reason: "text after the closing quote of a quoted field", line: "3", column: "track_title"),
    .init(file: "raw_tracks--unknown-album-and-artist.csv", written: [2, 3],
          messages: ["track 3: unknown album_id 999999", "track 3: unknown artist_id 888888"]),
    .init(file: "raw_tracks--negative-integer.csv", written: [2, 3, 5], nulled: 1,
          repair: ("track_listens must be ≥ 0, got -5", "3", "track_listens")),
    .init(file: "raw_tracks--overflowing-integer.csv", written: [2, 5], quarantined: 1,
          reason: "integer '99999999999999999999' is outside the 64-bit range -9223372036854775808...9223372036854775807",
          line: "3", column: "track_id"),
    .init(file: "raw_tracks--unparsable-track-genres.csv", written: [2, 3, 5], nulled: 1,
          repair: ("unterminated string starting at offset 35", "3", "track_genres")),
    .init(file: "raw_tracks--whitespace-around-fields.csv", written: [2, 3, 5]),
    // Hand-edited and spreadsheet-saved files: read as written, nothing nulled or quarantined.
    .init(file: "raw_tracks--missing-value-markers.csv", written: [2, 3, 5]),
    .init(file: "raw_tracks--two-digit-year-dates.csv", written: [2, 3, 5]),
    .init(file: "raw_tracks--thousands-separators.csv", written: [2, 3, 5]),
    .init(file: "raw_tracks--semicolon-delimited.csv", written: [2, 3, 5]),
    .init(file: "raw_genres--utf16le-bom.csv", status: 65,
          lastLine: ["raw_genres.csv:1: record 1: the file is UTF-16 (little-endian, by its byte-order mark), not UTF-8"]),
    .init(file: "raw_tracks--crlf-with-embedded-lf.csv", written: [2, 3, 5]),
    .init(file: "raw_genres--cr-only-line-ends.csv", written: [1, 2, 38, 21]),
    .init(file: "raw_genres--crlf-line-ends.csv", written: [1, 2, 38, 21]),
    .init(file: "raw_genres--utf8-bom.csv", written: [1, 2, 38, 21]),
    .init(file: "raw_genres--blank-lines-in-middle.csv", written: [1, 2, 38, 21]),
    .init(file: "raw_tracks--cleared-spreadsheet-rows.csv", written: [2, 3, 5], lastLine: ["5 blank rows skipped"],
          messages: ["raw_tracks.csv: 3 rows in = 3 written + 0 quarantined", "5 blank rows skipped"]),
    .init(file: "raw_genres--trailing-blank-line.csv", written: [1, 2, 38, 21]),
    .init(file: "raw_genres--whitespace-around-fields.csv", written: [1, 38]),
    .init(file: "raw_genres--parent-cycle.csv", written: [2], quarantined: 2,
          reason: "genre parent cycle 1 → 38 → 1", column: "genre_parent_id"),
    .init(file: "raw_genres--self-parent.csv", written: [38, 16, 6, 763, 1193],
          messages: ["genre 763 is its own parent"]),
    .init(file: "raw_genres--unknown-parent.csv", written: [38, 13, 1], messages: ["genre 13 has unknown parent 126"]),
    .init(file: "raw_albums--impossible-date-created.csv", written: [1, 4], nulled: 1,
          repair: ("impossible date '11/26/2008 25:45:05 AM' (read as MM/DD/YYYY hh:mm:ss AM): hour 25 is not in 1...12 on a 12-hour clock", "3", "album_date_created")),
    .init(file: "raw_albums--unparsable-album-images.csv", written: [1, 4], nulled: 1,
          repair: ("unexpected character \"'\" at offset 36: expected ':' after dictionary key", "3", "album_images")),
    .init(file: "raw_albums--undoubled-quote-in-html.csv", written: [1], quarantined: 1,
          reason: "text after the closing quote of a quoted field", line: "3", column: "album_information"),
    .init(file: "raw_albums--excerpt-column-name.csv", written: [1, 4],
          messages: ["column album_year_released read as date_released (an alias of album_date_released"]),
    .init(file: "raw_artists--bad-latitude.csv", written: [1, 10002], nulled: 1,
          repair: ("expected a number like 3.14, -2 or 1.5e-3, got '40.0.5'", "3", "artist_latitude")),
    .init(file: "raw_artists--ragged-embedded-newline.csv", written: [1, 10002], quarantined: 1,
          reason: "24 fields where the header has 25", line: "3", column: ""),
    .init(file: "genres--text-in-int-column.csv", written: [38, 1, 2], nulled: 1,
          repair: ("expected an integer like 42 or -7, got 'lots'", "3", "#tracks")),
    // #tracks (n_tracks) is optional in Schemas/genre.schema.json.
    .init(file: "genres--missing-hash-tracks-column.csv", written: [38, 1], messages: ["optional columns absent, left null: n_tracks"]),
    .init(file: "tracks--missing-second-header-row.csv", status: 65,
          lastLine: ["tracks.csv:2: record 2", "the second header row is missing"]),
    .init(file: "tracks--header-level-mismatch.csv", status: 65,
          lastLine: ["tracks.csv:1: record 1", "header rows differ in length (50 vs 53"]),
    .init(file: "tracks--split-not-allowed.csv", written: [100544, 100745, 100975], nulled: 1,
          repair: ("'train' is not one of test, training, validation", "5", "set.split")),
    .init(file: "tracks--single-header-row.csv", status: 65,
          lastLine: ["tracks.csv:1: record 1", "not the 3-row tracks.csv header (first cell 'track_id', expected empty)"]),
]

/// Puts a corpus file in place of its entity's file; competing files (genres.csv vs raw_genres.csv,
/// tracks.csv vs raw_tracks.csv) are removed so that the corpus file is the one read.
func corpusRun(_ file: String, source: String? = nil) throws -> ExtractRun {
    let entity = String(file.prefix { $0 != "-" })
    let competing: [String: Set<String>] = [
        "genres": ["raw_genres.csv"], "raw_genres": ["genres.csv"],
        "tracks": ["raw_tracks.csv"], "raw_tracks": ["tracks.csv"],
    ]
    let work = TemporaryDirectory()
    let metadata = try ExtractRun.metadata(
        replacing: [entity + ".csv": source ?? Fixtures.url("malformed/" + file).path],
        removing: competing[entity] ?? [], in: work)
    return try ExtractRun.run(metadata: metadata, work: work, ["--max-reject-ratio", "1"])
}

@Suite struct ExtractCorpusTests {
    @Test func everyCorpusFileIsInTheTable() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.url("malformed").path)
            .filter { $0.hasSuffix(".csv") }
        #expect(Set(files) == Set(corpus.map(\.file)))
        #expect(files.count + 1 >= 30, "with the generated 10 MB file")
    }

    @Test(arguments: corpus)
    func corpusFile(_ expected: CorpusCase) throws {
        let run = try corpusRun(expected.file)
        let outcome = run.outcome
        #expect(outcome.status == expected.status, "\(outcome.standardError)")
        #expect(outcome.lastLine.hasPrefix("etl-extract "), "the summary is the last line: \(outcome.lastLine)")
        for text in expected.lastLine {
            #expect(outcome.lastLine.contains(text), "last line: \(outcome.lastLine)")
        }
        for text in expected.messages {
            #expect(outcome.standardError.contains(text), "stderr: \(outcome.standardError)")
        }
        let staged = try run.staged(expected.collection)
        if let written = expected.written {
            #expect(ids(staged) == written)
            // Rows in = written + quarantined, in the summary too.
            #expect(run.count("\(expected.collection) in") == written.count + expected.quarantined)
            #expect(run.count("\(expected.collection) written") == written.count)
            #expect(run.count("\(expected.collection) quarantined") == expected.quarantined)
        } else {
            #expect(staged == nil, "a file-level error stages nothing of the entity")
        }
        let inputName = expected.entity + ".csv"
        let rejects = try run.rejects(inputName)
        #expect(rejects.count == expected.quarantined)
        for reject in rejects {
            if let reason = expected.reason { #expect(reject["reason"]?.contains(reason) == true, "\(reject)") }
            if let line = expected.line { #expect(reject["line"] == line) }
            if let column = expected.column { #expect(reject["column"] == column) }
        }
        // A bad optional value costs the value: the row is kept and the value reported.
        let repairs = try run.repairs(inputName)
        #expect(repairs.count == expected.nulled)
        if expected.written != nil { #expect(run.count("values nulled") == expected.nulled) }
        for repair in repairs {
            if let expected = expected.repair {
                #expect(repair["reason"]?.contains(expected.reason) == true, "\(repair)")
                #expect(repair["line"] == expected.line)
                #expect(repair["column"] == expected.column)
            }
        }
    }

    // MARK: Details the table cannot express

    @Test func mmssDurationsAreSeconds() throws {
        let tracks = try #require(try corpusRun("raw_tracks--mmss-durations.csv").staged("tracks"))
        #expect(tracks.map { ($0["duration"] as? NSNumber)?.doubleValue } == [168, 237, 3723])
    }

    @Test func invalidUTF8InTextIsRepairedAndFlagged() throws {
        let run = try corpusRun("raw_tracks--invalid-utf8-in-text.csv")
        let track3 = try #require(try run.staged("tracks")?.first { ($0["_id"] as? Int) == 3 })
        #expect(track3["title"] as? String == "Electric Av\u{FFFD}")
        #expect(run.count("rows with repaired text") == 1)
    }

    /// Both ways a Python literal is read: track 3's tags are walked as they are (a plain list),
    /// track 5's go through the literal parser (an escaped quote).
    @Test func invalidUTF8InPythonLiteralsIsRepairedAndFlagged() throws {
        let run = try corpusRun("raw_tracks--invalid-utf8-in-tags.csv")
        let tracks = try #require(try run.staged("tracks"))
        let tags = Dictionary(uniqueKeysWithValues: tracks.map { (($0["_id"] as? Int) ?? 0, $0["tags"] as? [String]) })
        #expect(tags[3] == ["caf\u{FFFD}", "hip-hop"])
        #expect(tags[5] == ["it's caf\u{FFFD}"])
        #expect(run.count("rows with repaired text") == 2)
    }

    @Test func embeddedLineFeedInCRLFFileIsKept() throws {
        let tracks = try #require(try corpusRun("raw_tracks--crlf-with-embedded-lf.csv").staged("tracks"))
        let information = try #require(tracks[1]["information"] as? String)
        #expect(information.contains("\n") && !information.contains("\r"))
        #expect(tracks.allSatisfy { !(($0["title"] as? String) ?? "").contains("\r") })
    }

    @Test func lineEndsAndByteOrderMarkDoNotLeakIntoValues() throws {
        for file in ["raw_genres--crlf-line-ends.csv", "raw_genres--cr-only-line-ends.csv", "raw_genres--utf8-bom.csv"] {
            let genres = try #require(try corpusRun(file).staged("genres"))
            #expect(genres.map { $0["title"] as? String } == ["Avant-Garde", "International", "Experimental", "Hip-Hop"], "\(file)")
            #expect(genres.allSatisfy { ($0["handle"] as? String)?.hasSuffix("\r") == false }, "\(file)")
        }
    }

    /// Every FMA entity table: a header without rows is refused (staged empty, a pruning load would
    /// delete the whole collection), and nothing of the run is staged.
    @Test(arguments: ["raw_genres.csv", "genres.csv", "raw_albums.csv", "raw_artists.csv", "raw_tracks.csv", "tracks.csv"])
    func aHeaderWithoutRowsIsRefused(_ file: String) throws {
        let work = TemporaryDirectory()
        let headerRows = file == "tracks.csv" ? 3 : 1
        let lines = try String(contentsOfFile: ExtractRun.sample + "/" + file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let headerOnly = work.path + "/" + file
        try (lines.prefix(headerRows).joined(separator: "\n") + "\n").write(toFile: headerOnly, atomically: true, encoding: .utf8)
        let competing = ["genres.csv": "raw_genres.csv", "raw_genres.csv": "genres.csv", "tracks.csv": "raw_tracks.csv",
                         "raw_tracks.csv": "tracks.csv"]
        let metadata = try ExtractRun.metadata(replacing: [file: headerOnly], removing: Set(competing[file].map { [$0] } ?? []), in: work)
        let run = try ExtractRun.run(metadata: metadata, work: work)
        #expect(run.outcome.status == 65, "\(run.outcome.standardError)")
        #expect(run.outcome.standardError.contains("\(metadata)/\(file): the file has a header but no data rows"), "\(run.outcome.standardError)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/work/staging/metadata/_SUCCESS.json"), "nothing staged")
    }

    /// A raw_genres.csv of `text`, extracted in the bundled sample.
    private func genresRun(_ text: String) throws -> ExtractRun {
        let source = TemporaryDirectory()
        let path = source.path + "/raw_genres.csv"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try corpusRun("raw_genres--written-here.csv", source: path)
    }

    static let genresHeader = "genre_id,genre_color,genre_handle,genre_parent_id,genre_title\n"

    /// Cleared rows after the header are skipped, yet the file has no data: refused, saying why.
    @Test func aHeaderWithOnlyBlankRowsIsRefusedCountingThem() throws {
        let run = try genresRun(Self.genresHeader + ",,,,\n , ,,,\n")
        #expect(run.outcome.status == 65, "\(run.outcome.standardError)")
        #expect(run.outcome.standardError.contains("raw_genres.csv: the file has a header but no data rows (2 blank rows skipped);"),
                "\(run.outcome.standardError)")
    }

    @Test func aHeaderOfOnlyTheIDSaysNoneMatchesNothing() throws {
        let source = TemporaryDirectory()
        let path = source.path + "/raw_tracks.csv"
        try "track_id\n2\n".write(toFile: path, atomically: true, encoding: .utf8)
        let run = try corpusRun("raw_tracks--written-here.csv", source: path)
        #expect(run.outcome.status == 65, "\(run.outcome.standardError)")
        #expect(run.outcome.standardError.contains("Header columns matching nothing: none (the header has only the id); the schema reads:"),
                "\(run.outcome.standardError)")
    }

    /// A `,,,` first line is the file's header (of no names), not a blank row to skip: the line
    /// after it taken as the header would misplace every error by a line.
    @Test func aBlankFirstLineIsTheHeaderNotSkipped() throws {
        let run = try genresRun(",,,,\n" + Self.genresHeader + "1,#006666,Avant-Garde,38,Avant-Garde\n")
        #expect(run.outcome.status == 65, "\(run.outcome.standardError)")
        #expect(run.outcome.standardError.contains("raw_genres.csv: missing required column genre_id"), "\(run.outcome.standardError)")
    }

    /// A row blank but for one value is a row with its required fields empty: quarantined, not skipped.
    @Test func aRowBlankButForOneValueIsQuarantined() throws {
        let run = try genresRun(Self.genresHeader + "1,#006666,Avant-Garde,38,Avant-Garde\n,,,,Jazz\n2,#CC3300,International,0,International\n")
        let rejects = try run.rejects("raw_genres.csv")
        #expect(rejects.count == 1, "\(run.outcome.standardError)")
        #expect(rejects.first?["reason"]?.contains("required field") == true && rejects.first?["reason"]?.contains("is empty") == true,
                "\(rejects)")
        #expect(rejects.first?["line"] == "3", "\(rejects)")
        #expect(!run.outcome.standardError.contains("blank rows skipped"), "\(run.outcome.standardError)")
    }

    /// `12" Remix`: pandas reads the quote as text, and so does the extract.
    @Test func aQuoteInsideAnUnquotedFieldIsKeptAsText() throws {
        let tracks = try #require(try corpusRun("raw_tracks--quote-in-unquoted-field.csv").staged("tracks"))
        #expect(tracks.first { ($0["_id"] as? Int) == 3 }?["title"] as? String == "Electric \"Ave")
    }

    @Test func blankLinesAreSkippedAndCounted() throws {
        let run = try corpusRun("raw_genres--blank-lines-in-middle.csv")
        #expect(run.outcome.standardError.contains("3 blank lines skipped"))
    }

    @Test func selfParentBecomesRootAndChildrenKeepIt() throws {
        let genres = try #require(try corpusRun("raw_genres--self-parent.csv").staged("genres"))
        let holiday = try #require(genres.first { ($0["_id"] as? Int) == 763 })
        let christmas = try #require(genres.first { ($0["_id"] as? Int) == 1193 })
        #expect(holiday["parent"] as? Int == 0 && holiday["top_level"] as? Int == 763)
        #expect(christmas["parent"] as? Int == 763 && christmas["top_level"] as? Int == 763)
    }

    @Test func whitespaceAroundNumbersIsIgnored() throws {
        let tracks = try #require(try corpusRun("raw_tracks--whitespace-around-fields.csv").staged("tracks"))
        #expect(tracks[0]["_id"] as? Int == 2)
        #expect(tracks[0]["listens"] as? Int == 1293)
        #expect(tracks.contains { ($0["duration"] as? NSNumber)?.doubleValue == 237 })
        let genres = try #require(try corpusRun("raw_genres--whitespace-around-fields.csv").staged("genres"))
        #expect(genres[0]["_id"] as? Int == 1 && genres[0]["parent"] as? Int == 38)
    }

    @Test func unknownColumnIsCarriedThroughAsText() throws {
        let tracks = try #require(try corpusRun("raw_tracks--unknown-extra-column.csv").staged("tracks"))
        #expect(tracks.map { ($0["extra"] as? [String: Any])?["track_mood"] as? String } == ["happy", nil, "sad"])
        #expect(tracks.allSatisfy { !$0.keys.contains("track_mood") }, "never a top-level key")
    }

    @Test func headerNamesAreNeverDocumentKeys() throws {
        let trailing = try #require(try corpusRun("raw_tracks--trailing-comma-every-line.csv").staged("tracks"))
        let plain = try #require(try corpusRun("raw_tracks--semicolon-delimited.csv").staged("tracks"))
        #expect(trailing.map { NSDictionary(dictionary: $0) } == plain.map { NSDictionary(dictionary: $0) },
                "an empty column of an unnamed header adds nothing")
        let tracks = try #require(try corpusRun("raw_tracks--unsafe-header-names.csv").staged("tracks"))
        #expect(tracks.map { ($0["_id"] as? NSNumber)?.intValue } == [2, 3, 5], "_id is the track's")
        #expect(NSDictionary(dictionary: tracks[0]["extra"] as? [String: Any] ?? [:])
                == ["_where": "1", "a_b": "x", "_id": "7", "_hash": "h", "column_44": "blank-named", "title": "shadow"])
        #expect(tracks[1]["extra"] == nil, "no extra when its cells are empty")
        #expect(NSDictionary(dictionary: tracks[2]["extra"] as? [String: Any] ?? [:]) == ["_where": "$x", "a_b": "y.z", "_id": "8"])
        for track in tracks {
            #expect(!track.keys.contains { $0.isEmpty || $0.hasPrefix("$") || $0.contains(".") || $0 == "_hash" })
        }
    }

    @Test func unknownAlbumKeepsTheReferenceAndCountsWarnings() throws {
        let run = try corpusRun("raw_tracks--unknown-album-and-artist.csv")
        let track3 = try #require(try run.staged("tracks")?.first { ($0["_id"] as? Int) == 3 })
        let album = try #require(track3["album"] as? [String: Any])
        #expect(album["id"] as? Int == 999999)
        #expect(album["type"] is NSNull, "nothing to complete it from")
        #expect(run.count("warnings") == 2)
    }

    @Test func excerptAliasReadsYearAsFirstOfJanuary() throws {
        let albums = try #require(try corpusRun("raw_albums--excerpt-column-name.csv").staged("albums"))
        #expect((albums[0]["date_released"] as? [String: Any])?["$date"] as? String == "2009-01-01T00:00:00Z")
    }

    @Test func raggedRowsStayRectangularInQuarantine() throws {
        let rejects = try corpusRun("raw_tracks--ragged-too-many-fields.csv").rejects("raw_tracks.csv")
        #expect(rejects.first?["extra_fields"] == "surplus")
        let short = try corpusRun("raw_tracks--ragged-too-few-fields.csv").rejects("raw_tracks.csv")
        #expect(short.first?["track_url"] == "", "padded")
    }

    @Test func defaultRejectRatioTurnsOneBadRowOfThreeIntoExit65() throws {
        let work = TemporaryDirectory()
        let metadata = try ExtractRun.metadata(
            replacing: ["raw_tracks.csv": Fixtures.url("malformed/raw_tracks--text-after-closing-quote.csv").path],
            removing: ["tracks.csv"], in: work)
        let run = try ExtractRun.run(metadata: metadata, work: work)
        #expect(run.outcome.status == 65)
        #expect(run.outcome.lastLine.contains("rejects over --max-reject-ratio 0.01: raw_tracks.csv 1/3"))
    }

    /// A document MongoDB could never store (over 16 MiB) is rejected by the extract, rather than
    /// discovered by the load.
    @Test func documentOverSixteenMegabytesIsQuarantined() throws {
        let work = TemporaryDirectory()
        let generated = work.path + "/raw_artists--17mb-field.csv"
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", Fixtures.url("malformed/make_large.py").path, "--out", generated, "--size", "\(17 << 20)"]
        python.standardOutput = FileHandle.nullDevice
        try python.run()
        python.waitUntilExit()
        try #require(python.terminationStatus == 0)
        let metadata = try ExtractRun.metadata(replacing: ["raw_artists.csv": generated], in: work)
        let outcome = try JobProcess.run("etl-extract", ["--metadata", metadata, "--work-dir", work.path + "/work", "--max-reject-ratio", "1"])
        let run = ExtractRun(work: work, outcome: outcome)
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(ids(try run.staged("artists")) == [10002])
        let rejects = try run.rejects("raw_artists.csv")
        #expect(rejects.map { $0["artist_id"] } == ["1"])
        #expect(rejects.first?["reason"]?.contains("over MongoDB's 16 MiB (16777216 bytes) limit: it could never be loaded") == true,
                "\(rejects.first?["reason"] ?? "")")
    }

    @Test func tenMegabyteFieldStreams() throws {
        let work = TemporaryDirectory()
        let generated = work.path + "/raw_artists--10mb-field.csv"
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", Fixtures.url("malformed/make_large.py").path, "--out", generated]
        python.standardOutput = FileHandle.nullDevice
        try python.run()
        python.waitUntilExit()
        try #require(python.terminationStatus == 0)
        let run = try corpusRun("raw_artists--10mb-field.csv", source: generated)
        #expect(run.outcome.status == 0, "\(run.outcome.standardError)")
        let artists = try #require(try run.staged("artists"))
        #expect(ids(artists) == [1, 10002])
        #expect((artists[0]["bio"] as? String)?.utf8.count == 10_485_760)
    }
}

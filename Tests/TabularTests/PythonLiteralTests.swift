import Testing
@testable import Tabular

/// Builds the expected `FieldValue` for a dictionary without the `Entry` noise.
private func dict(_ pairs: KeyValuePairs<String, FieldValue>) -> FieldValue {
    .dictionary(pairs.map { FieldValue.Entry(key: $0.key, value: $0.value) })
}

private func parseError(_ text: String) -> PythonLiteralError? {
    do {
        _ = try PythonLiteral.parse(text)
        return nil
    } catch {
        return error
    }
}

private func parseError(bytes: [UInt8]) -> PythonLiteralError? {
    do {
        _ = try PythonLiteral.parse(utf8: bytes)
        return nil
    } catch {
        return error
    }
}

@Suite("PythonLiteral: real FMA cells")
struct PythonLiteralRealCellTests {
    @Test func trackGenresWithOneGenre() throws {
        // raw_tracks.sample.csv, track 2, column track_genres
        let cell = "[{'genre_id': '21', 'genre_title': 'Hip-Hop', 'genre_url': 'http://freemusicarchive.org/genre/Hip-Hop/'}]"
        #expect(try PythonLiteral.parse(cell) == .list([
            dict(["genre_id": .string("21"), "genre_title": .string("Hip-Hop"),
                  "genre_url": .string("http://freemusicarchive.org/genre/Hip-Hop/")]),
        ]))
    }

    @Test func trackGenresWithTwoGenresKeepsOrder() throws {
        // raw_tracks.sample.csv, track 20
        let cell = "[{'genre_id': '76', 'genre_title': 'Experimental Pop', 'genre_url': 'http://freemusicarchive.org/genre/Experimental_Pop/'}, {'genre_id': '103', 'genre_title': 'Singer-Songwriter', 'genre_url': 'http://freemusicarchive.org/genre/Singer-Songwriter/'}]"
        guard case .list(let genres) = try PythonLiteral.parse(cell) else {
            Issue.record("expected a list")
            return
        }
        #expect(genres.count == 2)
        guard case .dictionary(let second) = genres[1] else {
            Issue.record("expected a dictionary")
            return
        }
        #expect(second.map(\.key) == ["genre_id", "genre_title", "genre_url"])
        #expect(second[0].value == .string("103"))
        #expect(second[1].value == .string("Singer-Songwriter"))
    }

    @Test func albumImagesWithNoneAndDoubleQuotedTitleContainingApostrophe() throws {
        // raw_albums.sample.csv, album 6, column album_images (after CSV unquoting of "")
        let cell = #"[{'image_id': '156', 'image_file': 'https://freemusicarchive.org/file/images/albums/Kurt_Vile_-_Live_at_WFMU_on_Talks_Cheap_8112008_-_2009113012926626.jpg', 'image_title': "Album Image: Kurt Vile - Live at WFMU on Talk's Cheap 8/11/2008", 'image_caption': None, 'image_copyright': None, 'image_source': None}, {'image_id': '158', 'image_file': 'x', 'image_title': "Album Image: Kurt Vile - Live at WFMU on Talk's Cheap 8/11/2008", 'image_caption': None, 'image_copyright': None, 'image_source': None}]"#
        guard case .list(let images) = try PythonLiteral.parse(cell), case .dictionary(let first) = images[0] else {
            Issue.record("expected a list of dictionaries")
            return
        }
        #expect(images.count == 2)
        #expect(first.first { $0.key == "image_title" }?.value
                == .string("Album Image: Kurt Vile - Live at WFMU on Talk's Cheap 8/11/2008"))
        #expect(first.first { $0.key == "image_caption" }?.value == .null)
        #expect(first.count == 6)
    }

    @Test func albumImagesWithManyKeys() throws {
        // raw_albums.sample.csv, album 60
        let cell = "[{'image_id': '812', 'user_id': None, 'artist_id': None, 'album_id': '60', 'curator_id': None, 'image_file': 'https://freemusicarchive.org/file/images/albums/Alec_K_Redfearn_and_the_Eyesores_-_Every_Man_For_Himself_-_2009113011759189.jpg', 'image_title': 'albums Image', 'image_caption': None, 'image_copyright': None, 'image_source': None, 'image_order': '0'}]"
        guard case .list(let images) = try PythonLiteral.parse(cell), case .dictionary(let entries) = images[0] else {
            Issue.record("expected a list of dictionaries")
            return
        }
        #expect(entries.map(\.key) == ["image_id", "user_id", "artist_id", "album_id", "curator_id", "image_file",
                                       "image_title", "image_caption", "image_copyright", "image_source", "image_order"])
        #expect(entries[10].value == .string("0"))
    }

    @Test func artistImageSourceWithHTMLEntity() throws {
        // raw_artists.sample.csv, artist 10002
        let cell = "[{'image_id': '12270', 'image_file': 'https://freemusicarchive.org/file/images/artists/Carlos_Ramirez_-_20110122111456036.jpg', 'image_title': 'Artist Image: Carlos Ramirez', 'image_caption': 'Carlos Ramirez', 'image_copyright': 'Carlos Ramirez', 'image_source': 'http://www.facebook.com/profile.php?id=1648564857&amp;sk=info'}]"
        guard case .list(let images) = try PythonLiteral.parse(cell), case .dictionary(let entries) = images[0] else {
            Issue.record("expected a list of dictionaries")
            return
        }
        #expect(entries.last?.value == .string("http://www.facebook.com/profile.php?id=1648564857&amp;sk=info"))
    }

    @Test(arguments: [
        ("[]", FieldValue.list([])),
        ("['lafms']", .list([.string("lafms")])),
        ("['megatone']", .list([.string("megatone")])),
        ("['nick rivera']", .list([.string("nick rivera")])),
        ("['roccow', 'gameboy', 'chip music', 'ds', '8bit', 'chiptune', 'lsdj', 'chipmusic']",
         .list(["roccow", "gameboy", "chip music", "ds", "8bit", "chiptune", "lsdj", "chipmusic"].map { .string($0) })),
        ("[15, 42, 184]", .list([.int(15), .int(42), .int(184)])),
        ("[184, 42, 15]", .list([.int(184), .int(42), .int(15)])),
        ("[240, 297]", .list([.int(240), .int(297)])),
        ("[15]", .list([.int(15)])),
    ])
    func tagAndGenreListCells(cell: String, expected: FieldValue) throws {
        #expect(try PythonLiteral.parse(cell) == expected)
    }
}

@Suite("PythonLiteral: grammar")
struct PythonLiteralGrammarTests {
    @Test(arguments: [
        ("None", FieldValue.null),
        ("True", .bool(true)),
        ("False", .bool(false)),
        ("0", .int(0)),
        ("-7", .int(-7)),
        ("+7", .int(7)),
        ("007", .int(7)),
        ("9223372036854775807", .int(.max)),
        ("-9223372036854775808", .int(.min)),
        ("1.5", .double(1.5)),
        ("-2.5e-3", .double(-0.0025)),
        ("1E3", .double(1000)),
        ("1e+2", .double(100)),
        (".5", .double(0.5)),
        ("5.", .double(5)),
        ("inf", .double(.infinity)),
        ("-inf", .double(-.infinity)),
        ("'text'", .string("text")),
        ("\"text\"", .string("text")),
        ("''", .string("")),
        ("u'python 2'", .string("python 2")),
    ])
    func scalars(text: String, expected: FieldValue) throws {
        #expect(try PythonLiteral.parse(text) == expected)
    }

    @Test func nanParsesAsNaN() throws {
        guard case .double(let value) = try PythonLiteral.parse("[nan]").firstListElement else {
            Issue.record("expected a double")
            return
        }
        #expect(value.isNaN)
    }

    @Test(arguments: [
        (#"'it\'s'"#, "it's"),
        (#""say \"hi\"""#, "say \"hi\""),
        (#"'back\\slash'"#, "back\\slash"),
        (#"'line\nbreak\ttab\rcr'"#, "line\nbreak\ttab\rcr"),
        (#"'\x41\xe9'"#, "Aé"),
        (#"'\u00e9\u4e2d'"#, "é中"),
        (#"'\U0001F600'"#, "😀"),
        (#"'\ud83d\ude00'"#, "😀"),
        (#"'\101\0'"#, "A\u{0}"),
        (#"'\a\b\f\v'"#, "\u{7}\u{8}\u{C}\u{B}"),
        (#"'C:\data'"#, "C:\\data"),      // unknown escape kept, as in Python
        ("'con\\\ntinued'", "continued"),  // backslash-newline is a line continuation
        ("'Björk – “Jóga”'", "Björk – “Jóga”"),
        ("\"Talk's Cheap\"", "Talk's Cheap"),
        ("'say \"hi\"'", "say \"hi\""),
        ("'a,b]}'", "a,b]}"),
    ])
    func stringEscapes(text: String, expected: String) throws {
        #expect(try PythonLiteral.parse(text) == .string(expected))
    }

    @Test func whitespaceIsToleratedEverywhere() throws {
        let text = " \t[ {\n'a' :\t1 , 'b':[ 2 ,3 ] } ,\r\n( 4 , ) ] \n"
        #expect(try PythonLiteral.parse(text) == .list([
            dict(["a": .int(1), "b": .list([.int(2), .int(3)])]),
            .list([.int(4)]),
        ]))
    }

    @Test func trailingCommasAreAccepted() throws {
        #expect(try PythonLiteral.parse("[1, 2,]") == .list([.int(1), .int(2)]))
        #expect(try PythonLiteral.parse("{'a': 1,}") == dict(["a": .int(1)]))
    }

    @Test func tuplesFollowPythonRules() throws {
        #expect(try PythonLiteral.parse("()") == .list([]))
        #expect(try PythonLiteral.parse("(1,)") == .list([.int(1)]))
        #expect(try PythonLiteral.parse("(1, 'a')") == .list([.int(1), .string("a")]))
        #expect(try PythonLiteral.parse("(1)") == .int(1))  // parentheses, not a tuple
    }

    @Test func emptyDictionaryAndNesting() throws {
        #expect(try PythonLiteral.parse("{}") == .dictionary([]))
        #expect(try PythonLiteral.parse("[[[]], {'k': {'j': [None, True]}}]") == .list([
            .list([.list([])]),
            dict(["k": dict(["j": .list([.null, .bool(true)])])]),
        ]))
    }

    @Test func duplicateKeysAreKeptInOrder() throws {
        // The source decides; FieldValue keeps what was written.
        #expect(try PythonLiteral.parse("{'a': 1, 'a': 2}") == dict(["a": .int(1), "a": .int(2)]))
    }

    @Test func byteInputMatchesStringInput() throws {
        let text = "[{'genre_id': '21', 'title': 'Café'}]"
        #expect(try PythonLiteral.parse(utf8: Array(text.utf8)) == PythonLiteral.parse(text))
        #expect(try PythonLiteral.parse(utf8: text.utf8) == PythonLiteral.parse(text))
        // A non-contiguous collection takes the copying path.
        #expect(try PythonLiteral.parse(utf8: text.utf8.lazy.map { $0 }) == PythonLiteral.parse(text))
    }

    @Test func depthLimitIsInclusive() throws {
        let limit = PythonLiteral.defaultMaximumDepth
        let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(throws: Never.self) { try PythonLiteral.parse(deepest) }
        let tooDeep = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
        let error = parseError(tooDeep)
        #expect(error?.reason == .nestingTooDeep(limit: limit))
        #expect(error?.offset == limit)
        #expect(error?.message == "nesting deeper than 64 levels at offset 64")
    }

    @Test func pathologicalNestingFailsWithoutCrashing() {
        let text = String(repeating: "[{'a': ", count: 100_000)
        #expect(parseError(text)?.reason == .nestingTooDeep(limit: 64))
    }

    @Test func customDepthLimit() throws {
        #expect(throws: PythonLiteralError.self) { try PythonLiteral.parse("[[1]]", maximumDepth: 1) }
        #expect(try PythonLiteral.parse("[1]", maximumDepth: 1) == .list([.int(1)]))
    }
}

@Suite("PythonLiteral: errors name the problem and its offset")
struct PythonLiteralErrorTests {
    @Test func unterminatedStringReportsWhereItStarts() {
        let error = parseError("[{'genre_id': '21}]")
        #expect(error?.reason == .unterminated(construct: "string"))
        #expect(error?.offset == 14)
        #expect(error?.message == "unterminated string starting at offset 14")
    }

    @Test func unterminatedListReportsWhereItStarts() {
        let error = parseError("['a', 'b'")
        #expect(error?.reason == .unterminated(construct: "list"))
        #expect(error?.offset == 0)
        #expect(error?.message == "unterminated list starting at offset 0")
    }

    @Test func unterminatedDictionary() {
        #expect(parseError("[{'a': 1")?.reason == .unterminated(construct: "dictionary"))
        #expect(parseError("[{'a': 1")?.offset == 1)
        #expect(parseError("{'a'")?.reason == .unterminated(construct: "dictionary"))
        #expect(parseError("{'a':")?.reason == .unterminated(construct: "dictionary"))
    }

    @Test func missingCommaBetweenElements() {
        let error = parseError("['a' 'b']")
        #expect(error?.reason == .unexpectedCharacter(found: #""'""#, expected: "',' or ']' in list"))
        #expect(error?.offset == 5)
    }

    @Test func missingColonInDictionary() {
        let error = parseError("{'a' 1}")
        #expect(error?.reason == .unexpectedCharacter(found: "'1'", expected: "':' after dictionary key"))
        #expect(error?.offset == 5)
        #expect(error?.message == "unexpected character '1' at offset 5: expected ':' after dictionary key")
    }

    @Test func nonStringKey() {
        let error = parseError("{1: 'a'}")
        #expect(error?.reason == .nonStringKey)
        #expect(error?.offset == 1)
    }

    @Test func emptyAndBlankInput() {
        #expect(parseError("")?.reason == .emptyInput)
        #expect(parseError("  \t ")?.reason == .emptyInput)
    }

    @Test func trailingCharactersAfterALiteral() {
        let error = parseError("['a'] extra")
        #expect(error?.reason == .trailingCharacters(text: "extra"))
        #expect(error?.offset == 6)
    }

    @Test func jsonSpellingsAreUnknownNames() {
        let error = parseError("[null]")
        #expect(error?.reason == .unknownName("null"))
        #expect(error?.offset == 1)
        #expect(parseError("[true]")?.reason == .unknownName("true"))
        #expect(parseError("set()")?.reason == .unknownName("set"))
    }

    @Test(arguments: ["1.2.3", "12abc", "-", "1e", "1e+", "--1", "0x1F", "1_000", "-infinity"])
    func invalidNumbersReportTheWholeToken(text: String) {
        let error = parseError("[\(text)]")
        #expect(error?.reason == .invalidNumber(text: text))
        #expect(error?.offset == 1)
    }

    @Test func adjacentStringLiteralsAreNotConcatenated() {
        let error = parseError("'it''s'")
        #expect(error?.reason == .trailingCharacters(text: "'s'"))
        #expect(error?.offset == 4)
    }

    @Test func integerOverflowIsAnErrorNotAWrap() {
        let error = parseError("[99999999999999999999]")
        #expect(error?.reason == .integerOutOfRange(text: "99999999999999999999"))
        #expect(error?.offset == 1)
        #expect(parseError("9223372036854775808")?.reason == .integerOutOfRange(text: "9223372036854775808"))
        #expect(parseError("-9223372036854775809")?.reason == .integerOutOfRange(text: "-9223372036854775809"))
    }

    @Test(arguments: [
        (#"'\x4'"#, #"\x4'"#),
        (#"'\xZZ'"#, #"\xZ"#),
        (#"'\u12'"#, #"\u12'"#),
        (#"'\U00110000'"#, #"\U00110000"#),
    ])
    func invalidEscapes(text: String, sequence: String) {
        let error = parseError(text)
        #expect(error?.reason == .invalidEscape(sequence: sequence))
        #expect(error?.offset == 1)
    }

    @Test func loneSurrogates() {
        #expect(parseError(#"'\ud83d'"#)?.reason == .loneSurrogate(sequence: #"\ud83d"#))
        #expect(parseError(#"'\ud83dx'"#)?.reason == .loneSurrogate(sequence: #"\ud83d"#))
        #expect(parseError(#"'\ude00'"#)?.reason == .loneSurrogate(sequence: #"\ude00"#))
        #expect(parseError(#"'\U0000D800'"#)?.reason == .loneSurrogate(sequence: #"\U0000D800"#))
    }

    @Test func backslashAtEndIsAnUnterminatedString() {
        let error = parseError("'abc\\")
        #expect(error?.reason == .unterminated(construct: "string"))
        #expect(error?.offset == 0)
    }

    @Test func offsetsCountCodePointsNotBytes() {
        // 'é' is two UTF-8 bytes but one position in Python's cell[...].
        let error = parseError("['é', 'ab")
        #expect(error?.reason == .unterminated(construct: "string"))
        #expect(error?.offset == 6)
        #expect(error?.byteOffset == 7)
    }

    @Test func unexpectedNonASCIICharacterIsShownDecoded() {
        let error = parseError("[é]")
        #expect(error?.reason == .unexpectedCharacter(found: "'é'", expected: "a value"))
        #expect(error?.offset == 1)
    }

    @Test func controlCharactersAreShownReadably() {
        #expect(parseError("[\u{0}]")?.message == "unexpected character NUL (0x00) at offset 1: expected a value")
        #expect(parseError("[1\u{1}]")?.reason
                == .unexpectedCharacter(found: "0x01", expected: "',' or ']' in list"))
    }

    @Test func invalidUTF8InAStringIsRejectedWithItsOffset() {
        let bytes = Array("['ab".utf8) + [0xFF] + Array("c']".utf8)
        let error = parseError(bytes: bytes)
        #expect(error?.reason == .invalidUTF8(byte: 0xFF))
        #expect(error?.byteOffset == 4)
        #expect(error?.message == "invalid UTF-8 byte 0xFF at offset 4")
    }

    @Test func invalidUTF8InAnEscapedString() {
        let bytes = Array(#"['a\n"#.utf8) + [0xC3, 0x28] + Array("']".utf8)
        #expect(parseError(bytes: bytes)?.reason == .invalidUTF8(byte: 0xC3))
    }

    @Test func invalidUTF8OutsideStrings() {
        #expect(parseError(bytes: [0x5B, 0xFE, 0x5D])?.reason == .invalidUTF8(byte: 0xFE))
    }

    @Test func invalidUTF8CanBeReplaced() throws {
        let bytes = Array("['ab".utf8) + [0xFF] + Array("c']".utf8)
        #expect(try PythonLiteral.parse(utf8: bytes, invalidUTF8: .replace) == .list([.string("ab\u{FFFD}c")]))
    }

    @Test func errorDescriptionIsTheMessage() {
        let error = PythonLiteralError(reason: .unterminated(construct: "string"), offset: 12, byteOffset: 12)
        #expect(error.description == "unterminated string starting at offset 12")
        #expect("\(error)" == "unterminated string starting at offset 12")
    }
}

extension FieldValue {
    fileprivate var firstListElement: FieldValue? {
        if case .list(let items) = self { return items.first }
        return nil
    }
}

/// The exact messages that Tests/Fixtures/malformed/README.md promises for the corpus cells.
@Suite("PythonLiteral: messages promised by the malformed corpus README")
struct PythonLiteralCorpusMessageTests {
    @Test func unparsableTrackGenres() {
        #expect(parseError("[{'genre_id': '21', 'genre_title': 'Hip-Hop}]")?.message
                == "unterminated string starting at offset 35")
    }

    @Test func unparsableAlbumImages() {
        #expect(parseError("[{'image_id': '22674', 'image_file' 'x'}]")?.message
                == #"unexpected character "'" at offset 36: expected ':' after dictionary key"#)
    }
}

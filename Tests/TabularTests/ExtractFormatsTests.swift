import Foundation
import Testing
import TestSupport
@testable import Tabular

private func write(_ text: String) throws -> (TemporaryDirectory, String) {
    let directory = TemporaryDirectory()
    let path = directory.path + "/tracks.csv"
    FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    return (directory, path)
}

@Suite struct FMAHeaderTests {
    @Test func threeRowsBecomeDottedNames() throws {
        let (directory, path) = try write(",album,album,set\n,id,title,split\ntrack_id,,,\n2,1,\"A, B\",training\n")
        defer { _ = directory }
        let reader = try CSVReader(path: path)
        var record = CSVRecord()
        #expect(try FMAHeader.read(from: reader, record: &record) == ["track_id", "album.id", "album.title", "set.split"])
        #expect(try reader.next(into: &record))
        #expect(record.fields == ["2", "1", "A, B", "training"])
        #expect(record.line == 4 && record.number == 4)
    }

    @Test func emptyLevelOneCellRepeatsThePreviousGroup() throws {
        let (directory, path) = try write(",album,,set\n,id,title,split\ntrack_id,,,\n")
        defer { _ = directory }
        var record = CSVRecord()
        #expect(try FMAHeader.read(from: try CSVReader(path: path), record: &record)
                == ["track_id", "album.id", "album.title", "set.split"])
    }

    @Test(arguments: [
        ("track_id,album.id\n2,1\n", 1, "not the 3-row tracks.csv header (first cell 'track_id', expected empty)"),
        (",album\ntrack_id,\n2,1\n", 2, "the second header row is missing"),
        (",album,album\n,id,title,x\ntrack_id,,,\n", 1, "header rows differ in length (3 vs 4 vs 4 fields)"),
        (",album\n,id\n", 3, "the file ends after 2 header rows"),
        ("", 1, "the file is empty"),
        (",album\n,id\n,\n", 3, "header row 3 should be the index name"),
    ])
    func malformedHeadersNameTheLine(text: String, line: Int, message: String) throws {
        let (directory, path) = try write(text)
        defer { _ = directory }
        var record = CSVRecord()
        #expect {
            _ = try FMAHeader.read(from: try CSVReader(path: path), record: &record)
        } throws: { error in
            guard let error = error as? CSVError else { return false }
            return error.line == line && error.message.contains(message)
        }
    }
}

@Suite struct CellTypeTests {
    @Test func everyTypeIsWired() {
        #expect(CellType.int.coerce(" 42 ") == .success(.int(42)))
        #expect(CellType.double.coerce("40.0583238") == .success(.double(40.0583238)))
        #expect(CellType.bool.coerce("True") == .success(.bool(true)))
        #expect(CellType.dateTime.coerce("11/26/2008 01:48:12 AM") == .success(.dateTime(millisecondsSinceEpoch: 1_227_664_092_000)))
        #expect(CellType.dateTime.coerce("2009") == .success(.dateTime(millisecondsSinceEpoch: 1_230_768_000_000)))
        #expect(CellType.duration.coerce("02:48") == .success(.double(168)))
        #expect(CellType.duration.coerce("168") == .success(.double(168)))
        #expect(CellType.pythonLiteral.coerce("['awol']") == .success(.list([.string("awol")])))
        #expect(CellType.string.coerce("<p>x</p>") == .success(.string("<p>x</p>")))
    }

    @Test func intListsFromAllFMASpellings() {
        #expect(CellType.intList.coerce("[15, 42, 184]") == .success(.list([.int(15), .int(42), .int(184)])))
        #expect(CellType.intList.coerce("['21', '4']") == .success(.list([.int(21), .int(4)])))
        #expect(CellType.intList.coerce("[{'genre_id': '21', 'genre_title': 'Hip-Hop'}]", itemKey: "genre_id")
                == .success(.list([.int(21)])))
        #expect(CellType.intList.coerce("[]") == .success(.list([])))
    }

    @Test func failuresCarryTheParsersReasons() {
        #expect(CellType.int.coerce("many") == .failure(.init("expected an integer like 42 or -7, got 'many'")))
        #expect(CellType.intList.coerce("{'a': 1}") == .failure(.init("expected a list of integers like [15, 42], got a dictionary")))
        #expect(CellType.intList.coerce("[{'genre_id': '21'}]") ==
                .failure(.init("item 0 of the list is a dictionary; the schema names no x-item-key to take from it")))
        #expect(CellType.intList.coerce("['x']").failureReason?.contains("item 0 of the list: expected an integer") == true)
        #expect(CellType.pythonLiteral.coerce("[{'genre_id': '21', 'genre_title': 'Hip-Hop}]")
                == .failure(.init("unterminated string starting at offset 35")))
    }
}

extension Result where Failure == CellType.Failure {
    var failureReason: String? {
        if case .failure(let failure) = self { return failure.reason }
        return nil
    }
}

@Suite struct JSONLineEncoderTests {
    func encoded(_ value: FieldValue) -> String {
        var encoder = JSONLineEncoder()
        encoder.append(value)
        return String(decoding: encoder.bytes, as: UTF8.self)
    }

    @Test func scalarsAsRelaxedExtendedJSON() {
        #expect(encoded(.int(-9_223_372_036_854_775_808)) == "-9223372036854775808")
        #expect(encoded(.int(0)) == "0" && encoded(.int(1293)) == "1293")
        #expect(encoded(.double(168)) == "168.0")
        #expect(encoded(.double(1e-5)) == "1e-05")
        #expect(encoded(.double(.nan)) == #"{"$numberDouble":"NaN"}"#)
        #expect(encoded(.dateTime(millisecondsSinceEpoch: 1_227_664_092_000)) == #"{"$date":"2008-11-26T01:48:12Z"}"#)
        #expect(encoded(.dateTime(millisecondsSinceEpoch: 951_782_400_123)) == #"{"$date":"2000-02-29T00:00:00.123Z"}"#)
        #expect(encoded(.dateTime(millisecondsSinceEpoch: -1)) == #"{"$date":{"$numberLong":"-1"}}"#)
        #expect(encoded(.list([.null, .bool(true), .string("a\"b\\c\n\u{1}")])) == #"[null,true,"a\"b\\c\n\u0001"]"#)
        #expect(encoded(.dictionary([.init(key: "k", value: .int(1))])) == #"{"k":1}"#)
    }

    @Test func civilDatesAcrossLeapYears() {
        for (days, expected) in [(0, (1970, 1, 1)), (11_016, (2000, 2, 29)), (2_932_896, (9999, 12, 31)), (-1, (1969, 12, 31))] {
            let date = JSONLineEncoder.civilDate(daysSinceEpoch: Int64(days))
            #expect(date == (Int64(expected.0), Int64(expected.1), Int64(expected.2)))
        }
    }

    @Test func invalidUTF8IsReplacedLikeSwiftDoesAndReported() {
        let samples: [[UInt8]] = [
            Array("Electric Av".utf8) + [0xE9],
            [0x41, 0xFF, 0x42], [0xE2, 0x82], [0xF0, 0x9F, 0x98, 0x80], [0xED, 0xA0, 0x80], [0xC0, 0xAF],
            Array("é ✓ 😀".utf8),
        ]
        for bytes in samples {
            var encoder = JSONLineEncoder()
            let valid = bytes.withUnsafeBufferPointer { encoder.appendString(utf8: $0) }
            let swift = String(decoding: bytes, as: UTF8.self)
            #expect(valid == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
            #expect(String(decoding: encoder.bytes, as: UTF8.self) == "\"" + swift + "\"", "\(bytes)")
            #expect(bytes.withUnsafeBufferPointer { JSONLineEncoder.isValidUTF8($0) } == valid)
        }
    }
}

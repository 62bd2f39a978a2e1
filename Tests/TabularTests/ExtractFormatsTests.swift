import Foundation
import Testing
import TestSupport
@testable import Tabular

private func write(_ text: String) throws -> (TemporaryDirectory, String) {
    let directory = TemporaryDirectory()
    let path = directory.path + "/tracks.csv"
    #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
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

import Foundation
import Testing
import TestSupport
@testable import Tabular

/// Reads CSV text through a real file, as the jobs do.
private func records(_ text: [UInt8], bufferSize: Int = 1 << 20) throws -> (rows: [[String]], lines: [Int], reader: CSVReader) {
    let directory = TemporaryDirectory()
    let path = directory.path + "/input.csv"
    #expect(FileManager.default.createFile(atPath: path, contents: Data(text)))
    let reader = try CSVReader(path: path, bufferSize: bufferSize)
    var record = CSVRecord()
    var rows: [[String]] = []
    var lines: [Int] = []
    while try reader.next(into: &record) {
        rows.append(record.fields)
        lines.append(record.line)
    }
    return (rows, lines, reader)
}

private func records(_ text: String, bufferSize: Int = 1 << 20) throws -> (rows: [[String]], lines: [Int], reader: CSVReader) {
    try records(Array(text.utf8), bufferSize: bufferSize)
}

@Suite struct CSVReaderTests {
    @Test func quotedFieldsWithDelimitersQuotesAndNewlines() throws {
        let text = "id,bio\n1,\"<p>a, \"\"quoted\"\"\nsecond line</p>\"\n2,plain\n"
        let result = try records(text)
        #expect(result.rows == [["id", "bio"], ["1", "<p>a, \"quoted\"\nsecond line</p>"], ["2", "plain"]])
        #expect(result.lines == [1, 2, 4], "record 3 starts on physical line 4, after the embedded newline")
    }

    @Test(arguments: [1, 2, 3, 7, 64])
    func everyBufferSizeGivesTheSameRecords(bufferSize: Int) throws {
        let text = "a,b,c\r\n\"x\r\ny\",\"\"\"\",z\r\n,,\r\n,\"\",\r\nlast,\"q\",\"\"\n"
        let expected = [["a", "b", "c"], ["x\r\ny", "\"", "z"], ["", "", ""], ["last", "q", ""]]
        #expect(try records(text, bufferSize: bufferSize).rows == expected)
    }

    /// Line numbers inside quoted fields with LF, CRLF and lone CR, for every buffer size: a CRLF
    /// split between two reads is still one line end.
    @Test(arguments: Array(2...12) + [64])
    func physicalLinesInsideQuotedFieldsForEveryBufferSize(bufferSize: Int) throws {
        let text = "h\n\"a\r\nb\rc\nd\r\n\r\ne\"\n\"x\"\n\"\r\n\"\nz\n"
        let result = try records(text, bufferSize: bufferSize)
        #expect(result.rows == [["h"], ["a\r\nb\rc\nd\r\n\r\ne"], ["x"], ["\r\n"], ["z"]])
        #expect(result.lines == [1, 2, 8, 9, 11])
    }

    /// Long unquoted fields are skipped a word at a time: a delimiter, line end or quote at any
    /// offset of a word, after any mix of plain and high bytes, still ends or marks the field.
    @Test func specialBytesAtEveryOffsetOfLongUnquotedFields() throws {
        func fieldBytes(_ text: [UInt8]) throws -> (rows: [[[UInt8]]], lines: [Int], strayQuotes: [Int]) {
            let directory = TemporaryDirectory()
            let path = directory.path + "/input.csv"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(text)))
            let reader = try CSVReader(path: path)
            var record = CSVRecord()
            var result: (rows: [[[UInt8]]], lines: [Int], strayQuotes: [Int]) = ([], [], [])
            while try reader.next(into: &record) {
                result.rows.append((0..<record.count).map { Array(record.bytes[record.byteRange($0)]) })
                result.lines.append(record.line)
                result.strayQuotes.append(record.strayQuoteColumn)
            }
            return result
        }
        let fillers: [[UInt8]] = [Array("abcdefghijklmnopqrstuvwxyz".utf8), Array("é-./0123456789é".utf8), [0x2D, 0x2E, 0xFF, 0x80, 0x7F, 0x41]]
        for filler in fillers {
            for offset in 1..<24 {
                let field = (0..<offset).map { filler[$0 % filler.count] }
                let text = Array("h1,h2\n".utf8) + field + Array(",x\n".utf8) + field + Array("\r\ny,".utf8) + field + [0x0A]
                let result = try fieldBytes(text)
                #expect(result.rows == [[Array("h1".utf8), Array("h2".utf8)], [field, [0x78]], [field], [[0x79], field]], "offset \(offset)")
                #expect(result.lines == [1, 2, 3, 4], "offset \(offset)")
                let quoted = try fieldBytes(Array("h\n".utf8) + field + Array("\"q\n".utf8))
                #expect(quoted.rows.last == [field + Array("\"q".utf8)], "offset \(offset)")
                #expect(quoted.strayQuotes.last == 1, "offset \(offset): a quote inside an unquoted field is noted")
            }
        }
    }

    /// Random records of quoted fields full of doubled quotes, LF, CR and CRLF, read with random
    /// buffer sizes, against a model: each field's text and each record's first physical line
    /// (counted in the raw text: LF, CRLF and lone CR are one line end each).
    @Test func randomQuotedFieldsMatchAModelOfFieldsAndLines() throws {
        var random = SplitMix64(seed: 2026_11_22)
        let pieces: [[UInt8]] = ["a", "plain text ", "\n", "\r", "\r\n", "\"\"", ",", "é", "0123456789abcdef"].map { Array($0.utf8) }
        for round in 0..<60 {
            var text: [UInt8] = []
            var expectedRows: [[[UInt8]]] = []
            var expectedLines: [Int] = []
            func physicalLine(at offset: Int) -> Int {
                var line = 1, index = 0
                while index < offset {
                    if text[index] == 0x0A || (text[index] == 0x0D && (index + 1 >= text.count || text[index + 1] != 0x0A)) { line += 1 }
                    index += 1
                }
                return line
            }
            for _ in 0..<Int(random.next() % 12 + 1) {
                expectedLines.append(physicalLine(at: text.count))
                var row: [[UInt8]] = []
                for column in 0..<3 {
                    if column > 0 { text.append(UInt8(ascii: ",")) }
                    var raw: [UInt8] = []
                    for _ in 0..<Int(random.next() % 30) { raw += pieces[Int(random.next() % UInt64(pieces.count))] }
                    text += [UInt8(ascii: "\"")] + raw + [UInt8(ascii: "\"")]
                    row.append(Self.undoubled(raw))
                }
                expectedRows.append(row)
                text += pieces[2 + Int(random.next() % 3)]  // LF, CR or CRLF
            }
            let bufferSize = [1, 2, 3, 15, 16, 17, 31, 64, 1000][round % 9]
            let directory = TemporaryDirectory()
            let path = directory.path + "/input.csv"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(text)))
            let reader = try CSVReader(path: path, bufferSize: bufferSize)
            var record = CSVRecord()
            var rows: [[[UInt8]]] = []
            var lines: [Int] = []
            while try reader.next(into: &record) {
                rows.append((0..<record.count).map { Array(record.bytes[record.byteRange($0)]) })
                lines.append(record.line)
            }
            #expect(rows == expectedRows, "round \(round), buffer \(bufferSize)")
            #expect(lines == expectedLines, "round \(round), buffer \(bufferSize)")
        }
    }

    /// `""` → `"`, as inside a quoted field.
    static func undoubled(_ bytes: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        var index = 0
        while index < bytes.count {
            result.append(bytes[index])
            index += bytes[index] == UInt8(ascii: "\"") ? 2 : 1
        }
        return result
    }

    @Test func lineEndsLFCRLFAndCROnlyAreAllRecordEnds() throws {
        let expected = [["h1", "h2"], ["1", "2"], ["3", "4"]]
        #expect(try records("h1,h2\n1,2\n3,4\n").rows == expected)
        #expect(try records("h1,h2\r\n1,2\r\n3,4\r\n").rows == expected)
        #expect(try records("h1,h2\r1,2\r3,4\r").rows == expected)
        #expect(try records("h1,h2\n1,2\n3,4").rows == expected, "no final newline")
        #expect(try records("h1,h2\r1,2\r3,4").lines == [1, 2, 3])
    }

    @Test func byteOrderMarkIsSkippedOnlyAtTheStart() throws {
        let result = try records([0xEF, 0xBB, 0xBF] + Array("id,name\n1,\u{FEFF}x\n".utf8))
        #expect(result.rows == [["id", "name"], ["1", "\u{FEFF}x"]])
    }

    @Test func blankLinesAreSkippedAndCounted() throws {
        let result = try records("id\n\n1\n\r\n2\n\n")
        #expect(result.rows == [["id"], ["1"], ["2"]])
        #expect(result.lines == [1, 3, 5])
        #expect(result.reader.blankLinesSkipped == 3)
    }

    /// A spreadsheet writes a cleared row as its delimiters (`,,,`); a line of spaces or a tab is
    /// as blank. Such rows are skipped and counted, not records; a row with a quoted field or a
    /// value is one.
    @Test func rowsOfOnlyDelimitersAndBlanksAreSkippedAndCounted() throws {
        let result = try records("id,name\n1,a\n,,\n   \n\t\n , \t\n2,b\n\"\",\n,x\n")
        #expect(result.rows == [["id", "name"], ["1", "a"], ["2", "b"], ["", ""], ["", "x"]])
        #expect(result.lines == [1, 2, 7, 8, 9])
        #expect(result.reader.blankRowsSkipped == 4)
        #expect(result.reader.blankLinesSkipped == 0)
        let directory = TemporaryDirectory()
        let path = directory.path + "/semicolon.csv"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("id;x;y\n;;\n1;,;\n; ;\n".utf8)))
        let reader = try CSVReader(path: path)
        var record = CSVRecord()
        var rows: [[String]] = [], numbers: [Int] = []
        while try reader.next(into: &record) {
            rows.append(record.fields)
            numbers.append(record.number)
        }
        #expect(rows == [["id", "x", "y"], ["1", ",", ""]], "a comma is a value in a ; file")
        #expect(numbers == [1, 2], "a blank row is not a record")
        #expect(reader.blankRowsSkipped == 2)
    }

    /// A `,,,` line inside a quoted field is the field's text, not a blank row.
    @Test func aBlankLookingLineInsideAQuotedFieldStaysInItsRecord() throws {
        let result = try records("id,bio\n1,\"first\n,,,\nlast\"\n2,b\n")
        #expect(result.rows == [["id", "bio"], ["1", "first\n,,,\nlast"], ["2", "b"]])
        #expect(result.lines == [1, 2, 5])
        #expect(result.reader.blankRowsSkipped == 0)
    }

    @Test func emptyFileHasNoRecords() throws {
        #expect(try records("").rows.isEmpty)
    }

    @Test func unterminatedQuoteNamesFileLineRecordAndColumn() throws {
        let text = "id,title,bio\n1,ok,fine\n2,bad,\"never closed\nmore text\n"
        #expect {
            _ = try records(text)
        } throws: { error in
            guard let error = error as? CSVError else { return false }
            return error.line == 3 && error.record == 3 && error.column == 3
                && error.description.contains("input.csv:3: record 3, column 3: unterminated quoted field")
        }
    }

    @Test func oddQuotesAreKeptAsTextAndFlagged() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/odd.csv"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("a,b\nab\"c,d\n\"x\"y,z\nok,ok\n".utf8)))
        let reader = try CSVReader(path: path)
        var record = CSVRecord()
        var problems: [(String?, Int, [String], Int)] = []
        while try reader.next(into: &record) {
            problems.append((record.problem, record.problemColumn, record.fields, record.strayQuoteColumn))
        }
        #expect(problems[1].0 == nil, "a quote inside an unquoted field is text, not a problem")
        #expect(problems[1].3 == 1 && problems[1].2 == ["ab\"c", "d"])
        #expect(problems[2].0 == "text after the closing quote of a quoted field")
        #expect(problems[2].1 == 1 && problems[2].2 == ["xy", "z"])
        #expect(problems[3].0 == nil && problems[3].3 == 0)
    }

    @Test func invalidUTF8IsReportedAndRepairedOnRead() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/bytes.csv"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(Array("t\n".utf8) + [0x41, 0xFF, 0x42, 0x0A])))
        let reader = try CSVReader(path: path)
        var record = CSVRecord()
        _ = try reader.next(into: &record)
        #expect(try reader.next(into: &record))
        #expect(!record.isValidUTF8(0))
        #expect(record[0] == "A\u{FFFD}B")
    }

    /// `mayHoldNUL` may only be false for a record without a NUL byte (coercion skips its own search
    /// then), and is false for every record of a file without one: NULs in quoted and unquoted
    /// fields, at random offsets, for buffer sizes that split records and NULs across reads.
    @Test func noRecordWithANULByteIsMarkedFreeOfThem() throws {
        var random = SplitMix64(seed: 0x4E55_4C)
        for round in 0..<300 {
            var text: [UInt8] = []
            for row in 0..<Int(random.next() % 6 + 1) {
                for field in 0..<3 {
                    if field > 0 { text.append(UInt8(ascii: ",")) }
                    var bytes = (0..<Int(random.next() % 12)).map { _ in UInt8(ascii: "a") + UInt8(random.next() % 26) }
                    if round % 3 != 0 && random.next() % 8 == 0 { bytes.insert(0, at: Int(random.next() % UInt64(bytes.count + 1))) }
                    text += field == 1 && row % 2 == 0 ? [UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")] : bytes
                }
                text.append(UInt8(ascii: "\n"))
            }
            let directory = TemporaryDirectory()
            let path = directory.path + "/nul.csv"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(text)))
            let bufferSize = [1, 2, 5, 16, 1000][round % 5]
            let reader = try CSVReader(path: path, bufferSize: bufferSize)
            var record = CSVRecord()
            while try reader.next(into: &record) {
                if record.bytes.contains(0) {
                    #expect(record.mayHoldNUL, "round \(round), buffer \(bufferSize), record \(record.number)")
                }
                if !text.contains(0) {
                    #expect(!record.mayHoldNUL, "round \(round), buffer \(bufferSize), record \(record.number)")
                }
            }
        }
    }

    @Test func writerRoundTripsThroughTheReader() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/out/written.csv"
        let rows = [["id", "text", "spaces"], ["1", "a,b", " lead"], ["2", "say \"hi\"\nbye", "trail "], ["3", "", "\r"]]
        let writer = try CSVWriter(path: path)
        for row in rows { try writer.writeRecord(row) }
        #expect(!FileManager.default.fileExists(atPath: path), "nothing visible before commit")
        try writer.commit()
        #expect(try records(Array(try Data(contentsOf: URL(fileURLWithPath: path)))).rows == rows)
    }

    @Test func writerLeavesNoFileWithoutCommit() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/abandoned.csv"
        do {
            let writer = try CSVWriter(path: path)
            try writer.writeRecord(["x"])
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty, "temporary file removed")
    }
}

/// The delimiter found on the first line, files that are not regular, and UTF-16.
@Suite struct CSVReaderInputKindsTests {
    @Test func semicolonFileIsReadWithCommasKeptInFields() throws {
        let text = "\u{FEFF}id;title;listens\r\n1;Hello, world;\"1,234\"\r\n2;\"a;b\";7\r\n"
        // A small buffer (refills swap what they read) that holds the header line.
        let result = try records(text, bufferSize: 24)
        #expect(result.rows == [["id", "title", "listens"], ["1", "Hello, world", "1,234"], ["2", "a;b", "7"]])
        #expect(result.reader.delimiter == UInt8(ascii: ";"))
    }

    @Test func commaWinsUnlessTheHeaderHasMoreSemicolons() throws {
        let result = try records("id,note\n1,a;b;c\n")
        #expect(result.rows == [["id", "note"], ["1", "a;b;c"]])
        #expect(result.reader.delimiter == UInt8(ascii: ","))
    }

    @Test(arguments: [([0xFF, 0xFE] as [UInt8], "little"), ([0xFE, 0xFF], "big")])
    func utf16IsNamed(bom: [UInt8], endianness: String) throws {
        var bytes = bom
        for unit in "id,title\n1,x\n".utf16 {
            let pair = [UInt8(unit & 0xFF), UInt8(unit >> 8)]
            bytes += endianness == "little" ? pair : pair.reversed()
        }
        #expect {
            _ = try records(bytes)
        } throws: { error in
            (error as? CSVError)?.message.contains("UTF-16 (\(endianness)-endian") == true
        }
    }

    @Test func fifoIsRefusedWithoutBlocking() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/raw_tracks.csv"
        #expect(mkfifo(path, 0o644) == 0)
        #expect {
            _ = try CSVReader(path: path)
        } throws: { error in
            (error as? CSVError)?.message == "not a regular file (a FIFO); refusing to read it"
        }
    }

    @Test func directoryIsRefused() throws {
        let directory = TemporaryDirectory()
        #expect(mkdir(directory.path + "/genres.csv", 0o755) == 0)
        #expect {
            _ = try CSVReader(path: directory.path + "/genres.csv")
        } throws: { error in
            (error as? CSVError)?.description.contains("genres.csv:0: record 0: not a regular file (a directory)") == true
        }
    }
}

/// A quarantined record's long field is written a mebibyte at a time, and reads back as it was.
@Suite struct CSVWriterLongFieldTests {
    @Test(arguments: [false, true])
    func longFieldRoundTrips(quoted: Bool) throws {
        let directory = TemporaryDirectory()
        var long = String(repeating: "abcdefghij", count: 350_000)  // 3.5 MB
        if quoted { long += "\"quoted\", with a comma\nand a line" }
        let record = CSVRecord(fields: ["7", long, "tail"])
        let path = directory.path + "/out.csv"
        let writer = try CSVWriter(path: path)
        try writer.writeRecord(record, fieldCount: record.count, appending: ["reason"])
        try writer.commit()
        let reader = try CSVReader(path: path)
        var back = CSVRecord()
        #expect(try reader.next(into: &back))
        #expect(back.fields == ["7", long, "tail", "reason"])
        #expect(try !reader.next(into: &back))
    }
}

import DocumentStore
@testable import Export
import Foundation
import Testing
import TestSupport

/// The export's fast path (BSON straight to CSV bytes) against the general path it replaces
/// (decode to Swift values, `ColumnLayout.row`, `CellText.of` per cell): same text, cell for cell.
@Suite struct RowFormatterTests {
    static let layout: ColumnLayout = {
        let schema: Document = [
            "title": "row", "bsonType": "object",
            "properties": .document([
                "_id": .document(["bsonType": .array(["int", "long"]), "x-columns": .array(["track_id"])]),
                "title": .document(["bsonType": .array(["string", "null"])]),
                "album": .document(["bsonType": "object", "properties": .document([
                    "id": .document(["bsonType": "int"]),
                    "title": .document(["bsonType": "string"]),
                    "label": .document(["bsonType": "object", "properties": .document(["name": .document(["bsonType": "string"])])]),
                ])]),
                "genres": .document(["bsonType": "array"]),
                "explicit": .document(["bsonType": "bool"]),
                "created": .document(["bsonType": "date"]),
                "score": .document(["bsonType": "double"]),
                "plays": .document(["bsonType": "long"]),
                "other": .document(["bsonType": .array(["objectId", "decimal", "string"])]),
                // A multi-label list (one |-joined cell) and a fixed-length vector (three columns).
                "ids": .document(["bsonType": .array(["array", "null"]), "items": .document(["bsonType": .array(["int", "long"])])]),
                "vector": .document(["bsonType": "array", "minItems": 3, "maxItems": 3, "items": .document(["bsonType": "double"])]),
            ]),
        ]
        // A test schema built in code; a failure here is a bug in the test itself.
        return ColumnLayout(schema: try! EntitySchema(document: schema, path: "<test>"))
    }()

    /// What the export wrote before the fast path: each value's `CellText`, then CSV quoting.
    static func referenceLine(_ document: Document, layout: ColumnLayout) -> [UInt8] {
        var line: [UInt8] = []
        for (index, value) in layout.row(document).enumerated() {
            if index > 0 { line.append(UInt8(ascii: ",")) }
            CSVLine.appendField(ArraySlice(CellText.of(value, isList: layout.columns[index].isList).utf8), to: &line)
        }
        line.append(UInt8(ascii: "\n"))
        return line
    }

    static func fastLine(_ document: Document, formatter: RowFormatter) throws -> [UInt8] {
        try BSONDocument(document).withBorrowed { try formatter.format($0) }
        var line: [UInt8] = []
        CSVLine.append(formatter.cells, to: &line)
        return line
    }

    static func randomValue(_ generator: inout some RandomNumberGenerator) -> BSONValue {
        let texts = ["", " padded ", "a,b", "say \"hi\"", "line\nbreak", "cr\rret", "Old-Time / Historic", "ünï©ødé 🎵", "plain"]
        switch Int.random(in: 0..<14, using: &generator) {
        case 0: return .null
        case 1: return .int32(Int32.random(in: .min ... .max, using: &generator))
        case 2: return .int64(Int64.random(in: .min ... .max, using: &generator))
        case 3: return .double(Double(bitPattern: UInt64.random(in: 0 ... .max, using: &generator)))
        case 4: return .double([0.0, -0.0, .nan, .infinity, -.infinity, 0.1, 1e-5, 1e16, .leastNonzeroMagnitude, .greatestFiniteMagnitude][Int.random(in: 0..<10, using: &generator)])
        case 5: return .double(Double.random(in: -3...3, using: &generator))
        case 6: return .string(texts[Int.random(in: 0..<texts.count, using: &generator)])
        case 7: return .bool(Bool.random(using: &generator))
        case 8: return .dateTime(Int64.random(in: -62_135_596_800_000 ... 253_402_300_799_999, using: &generator))
        case 9: return .array([.int32(1), .string("x")])
        case 10: return .document(["title": "nested where a scalar was expected"])
        case 11: return .objectID("5f1d7a2b9c8e4f0012345678")
        case 12: return .decimal128("1.50")
        default: return .timestamp(seconds: 1, increment: 2)
        }
    }

    static func randomDocument(_ generator: inout some RandomNumberGenerator) -> Document {
        var label: Document = ["name": randomValue(&generator)]
        if Bool.random(using: &generator) { label.append("unknown", randomValue(&generator)) }
        var album: Document = ["id": randomValue(&generator), "title": randomValue(&generator), "label": .document(label)]
        if Int.random(in: 0..<4, using: &generator) == 0 { album = ["title": randomValue(&generator)] }
        var fields: [Document.Field] = [
            Document.Field("_id", .int64(Int64.random(in: 1...1_000_000, using: &generator))),
            Document.Field("title", randomValue(&generator)),
            Document.Field("album", Int.random(in: 0..<6, using: &generator) == 0 ? randomValue(&generator) : .document(album)),
            Document.Field("genres", .array([.int32(12), .int32(25)])),
            Document.Field("explicit", randomValue(&generator)),
            Document.Field("created", randomValue(&generator)),
            Document.Field("score", randomValue(&generator)),
            Document.Field("plays", randomValue(&generator)),
            Document.Field("other", randomValue(&generator)),
            Document.Field("not_a_column", randomValue(&generator)),
            Document.Field("ids", Bool.random(using: &generator) ? randomValue(&generator)
                : .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in
                    [BSONValue.int32(7), .int64(-9_000_000_000), .string("x"), .null][Int.random(in: 0..<4, using: &generator)] })),
            Document.Field("vector", Bool.random(using: &generator) ? randomValue(&generator)
                : .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in randomValue(&generator) })),
        ]
        // Drop some fields and shuffle now and then: the formatter must not rely on one shape.
        if Int.random(in: 0..<3, using: &generator) == 0 { fields.remove(at: Int.random(in: 0..<fields.count, using: &generator)) }
        if Int.random(in: 0..<5, using: &generator) == 0 { fields.shuffle(using: &generator) }
        return Document(fields)
    }

    @Test func fastPathEqualsTheGeneralPathOnRandomDocuments() throws {
        var generator = SplitMix64(seed: 20261122)
        let formatter = RowFormatter(layout: Self.layout)
        for index in 0..<5000 {
            let document = Self.randomDocument(&generator)
            let fast = try Self.fastLine(document, formatter: formatter)
            let reference = Self.referenceLine(document, layout: Self.layout)
            #expect(fast == reference, "document \(index): \(document)\n fast: \(String(decoding: fast, as: UTF8.self))\n  ref: \(String(decoding: reference, as: UTF8.self))")
            if fast != reference { break }
        }
    }

    /// A learned shape must not carry over to a field with the same key at another level.
    @Test func shapeChangesBetweenDocuments() throws {
        let formatter = RowFormatter(layout: Self.layout)
        let documents: [Document] = [
            ["_id": 1, "album": .document(["title": "album title"]), "title": "track title"],
            ["_id": 2, "album": 5, "title": "track title"],
            ["_id": 3, "album": .document(["title": "album title"]), "title": "track title"],
            ["_id": 4, "title": "no album"],
            ["title": "first", "_id": 5, "album": .document(["label": .document(["name": "label"]), "title": "t"])],
            ["_id": 6, "album": .document(["title": .document(["title": "deeper"])]), "title": "x"],
        ]
        for document in documents {
            #expect(try Self.fastLine(document, formatter: formatter) == Self.referenceLine(document, layout: Self.layout),
                    "\(document)")
        }
    }

    @Test func numbersReadBackBitExact() throws {
        var generator = SplitMix64(seed: 7)
        let formatter = RowFormatter(layout: Self.layout)
        for _ in 0..<20_000 {
            let value = Double(bitPattern: UInt64.random(in: 0 ... .max, using: &generator))
            let integer = Int64.random(in: .min ... .max, using: &generator)
            try BSONDocument(["score": .double(value), "plays": .int64(integer)]).withBorrowed { try formatter.format($0) }
            let scoreColumn = try #require(Self.layout.index(ofHeader: "score"))
            let playsColumn = try #require(Self.layout.index(ofHeader: "plays"))
            if value.isFinite {
                #expect(Double(formatter.cells.text(scoreColumn))?.bitPattern == value.bitPattern, "\(value)")
            } else {
                #expect(formatter.cells.text(scoreColumn) == "", "non-finite: an empty cell (missing)")
            }
            #expect(Int64(formatter.cells.text(playsColumn)) == integer)
        }
    }

    @Test func datesAreExactUTCMilliseconds() {
        func text(_ milliseconds: Int64) -> String {
            var bytes: [UInt8] = []
            RowFormatter.appendISO8601(milliseconds: milliseconds, to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        #expect(text(0) == "1970-01-01T00:00:00.000Z")
        #expect(text(-1) == "1969-12-31T23:59:59.999Z")
        #expect(text(1_227_663_885_123) == "2008-11-26T01:44:45.123Z")
        #expect(text(951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(text(-2_203_891_200_000) == "1900-03-01T00:00:00.000Z")
        #expect(text(253_402_300_799_999) == "9999-12-31T23:59:59.999Z")
        #expect(text(-62_135_596_800_000) == "0001-01-01T00:00:00.000Z")

        // Day by day against Foundation's Gregorian calendar in UTC, 1600 to 2400.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        for day in stride(from: Int64(-135_140), through: 157_071, by: 97) {
            let date = Date(timeIntervalSince1970: Double(day) * 86_400)
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            let civil = CivilDate.from(daysSinceEpoch: day)
            #expect([civil.year, Int64(civil.month), Int64(civil.day)] == [parts.year, parts.month, parts.day].map { Int64($0 ?? -1) }, "day \(day)")
        }
    }

    @Test func integersAtTheLimits() {
        for value: Int64 in [0, -1, 1, 9, 10, -10, .max, .min, 1_000_000_007] {
            var bytes: [UInt8] = []
            RowFormatter.appendDecimal(value, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == String(value))
        }
    }
}

/// The export written by several workers in small batches is the same, byte for byte, as the
/// one written on one thread: same rows in the same order in every file, same manifest.
@Suite struct ExportWriterTests {
    func export(_ documents: [BSONDocument], workers: Int, batchBytes: Int, in root: URL) throws -> URL {
        let directory = root.appendingPathComponent("workers-\(workers)")
        var options = ExportWriter.Options()
        options.partitionBy = "title"
        options.shards = 3
        options.rowsPerPart = 7
        options.workers = workers
        options.batchBytes = batchBytes
        let writer = try ExportWriter(directory: directory, layout: RowFormatterTests.layout, options: options)
        for document in documents { try document.withBorrowed { try writer.write($0) } }
        _ = try writer.commit(manifest: ["run_id": "test"])
        return directory
    }

    func files(under directory: URL) throws -> [String: Data] {
        var contents: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            if let data = FileManager.default.contents(atPath: url.path), !url.hasDirectoryPath {
                contents[String(url.path.dropFirst(directory.path.count))] = data
            }
        }
        return contents
    }

    @Test func workersAndBatchesDoNotChangeTheOutput() throws {
        var generator = SplitMix64(seed: 99)
        let documents = try (0..<500).map { _ in try BSONDocument(RowFormatterTests.randomDocument(&generator)) }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("export-writer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let single = try files(under: export(documents, workers: 1, batchBytes: 1 << 19, in: root))
        let parallel = try files(under: export(documents, workers: 3, batchBytes: 700, in: root))
        #expect(single.count > 10, "output, partitions in several parts, shards, manifest")
        #expect(single.keys.sorted() == parallel.keys.sorted())
        for (path, data) in single {
            #expect(parallel[path] == data, "\(path) differs")
        }
        let rows = String(decoding: try #require(single["/output.csv"]), as: UTF8.self).split(separator: "\n").count
        #expect(rows >= 501, "header + 500 rows (quoted newlines may add lines)")
    }
}

@Suite struct ExportLimitsTests {
    /// Partitioning by a near-unique field would open a file per row: refused with a clear
    /// message, and nothing of the half export is left behind.
    @Test func tooManyPartitionValuesAreRefused() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("export-limits-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var options = ExportWriter.Options()
        options.partitionBy = "track_id"
        options.maxPartitions = 5
        let directory = root.appendingPathComponent("tracks")
        let writer = try ExportWriter(directory: directory, layout: RowFormatterTests.layout, options: options)
        var failure: ExportError?
        do {
            for id in 1...20 { try BSONDocument(["_id": .int64(Int64(id))]).withBorrowed { try writer.write($0) } }
            _ = try writer.commit(manifest: [:])
        } catch let error as ExportError {
            failure = error
            writer.abandon()
        }
        let error = try #require(failure)
        #expect(error.description.contains("--partition-by track_id: more than 5 distinct values"), "\(error)")
        #expect(!error.isDataError)
        #expect(!FileManager.default.fileExists(atPath: directory.path))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: root.path))?.isEmpty ?? true)
    }
}

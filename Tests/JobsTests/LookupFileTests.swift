@testable import ExtractStage
import Foundation
import Testing
import TestSupport

/// The albums' and artists' lookup rows live in a file, read by id: each id finds exactly its
/// row's fields, whatever the ids and the rows' sizes.
@Suite struct LookupFileTests {
    /// Rows written through batches (as the extraction admits them) into a table's file.
    private static func table(_ rows: [(id: Int64, fields: [[UInt8]], bson: [UInt8])], batchSize: Int = 64,
                              in directory: TemporaryDirectory) throws -> LookupFile {
        let writer = try LookupFileWriter(directory: directory.path + "/staging", entity: "album")
        let batch = LookupStore()
        for start in stride(from: 0, to: rows.count, by: batchSize) {
            batch.removeAll()
            for row in rows[start..<min(rows.count, start + batchSize)] {
                batch.beginRow(id: row.id)
                for field in row.fields { field.withUnsafeBufferPointer { batch.appendField(json: $0) } }
                row.bson.withUnsafeBufferPointer { _ = batch.endRow(bson: $0) }
            }
            for index in 0..<batch.count { try writer.append(row: index, of: batch) }
        }
        return try writer.finish()
    }

    /// Dense ids (FMA's), ids too large or negative for a dense buffer, and no rows at all: the
    /// file finds exactly the rows a dictionary does, and nothing for any other id.
    @Test(arguments: ["dense", "sparse", "negative", "empty"])
    func findsWhatADictionaryFinds(_ kind: String) throws {
        var random = SplitMix64(seed: UInt64(kind.utf8.count))
        var expected: [Int64: [String]] = [:]
        var rows: [(id: Int64, fields: [[UInt8]], bson: [UInt8])] = []
        for _ in 0..<(kind == "empty" ? 0 : 2000) {
            let id: Int64 = switch kind {
            case "dense": Int64(random.next() % 5000)
            case "sparse": Int64(random.next() % (1 << 40))
            default: -Int64(random.next() % 5000)
            }
            guard expected[id] == nil else { continue }  // the extraction adds each id once
            let fields = ["\(id)", "[ \(id % 7) ]"]
            expected[id] = fields
            rows.append((id, fields.map { Array($0.utf8) }, []))
        }
        let directory = TemporaryDirectory()
        let lookups = RowBuilder.ResolvedLookups(files: [try Self.table(rows, in: directory)], sources: ["raw_albums.csv"], fields: [])
        var probes = Array(expected.keys)
        for _ in 0..<2000 { probes.append(Int64(bitPattern: random.next()) >> Int64(random.next() % 64)) }
        probes += [0, -1, 4999, 5000, 5001, Int64.max, Int64.min]
        for id in probes {
            let row = try lookups.row(0, id: id)
            #expect(row.map { row in (0..<row.fieldCount).map { String(decoding: row.jsonValue($0), as: UTF8.self) } } == expected[id],
                    "\(kind) id \(id)")
        }
        // The temporary file is unlinked at once: nothing is left in the directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path + "/staging") == [])
    }

    /// Rows of every size around the first read's guess (4 KiB) and far beyond it, with JSON
    /// fields or a BSON document, read back whole; a field past the last is no field.
    @Test func rowsOfAnySizeReadBackWhole() throws {
        var random = SplitMix64(seed: 7)
        var rows: [(id: Int64, fields: [[UInt8]], bson: [UInt8])] = []
        for id in Int64(0)..<300 {
            let length = id == 150 ? 3 << 20 : Int(random.next() % 9000)
            // Runs of one random byte each (filled at once: the debug build is slow per byte).
            let fields = (0..<Int(id % 4)).map { _ in [UInt8](repeating: UInt8(random.next() % 256), count: length / 4) }
            let bson = id % 3 == 0 ? [UInt8](repeating: UInt8(id % 251), count: length) : []
            rows.append((id, id % 3 == 0 ? [] : fields, bson))
        }
        let file = try Self.table(rows.shuffled(using: &random), batchSize: 7, in: TemporaryDirectory())
        #expect(file.count == 300)
        for row in rows {
            let read = try #require(try file.row(row.id))
            #expect(read.fieldCount == row.fields.count, "row \(row.id)")
            #expect((0..<read.fieldCount).map { read.jsonValue($0) } == row.fields, "row \(row.id)")
            #expect(read.withBSON { Array($0) } == row.bson, "row \(row.id)")
            #expect(read.hasBSON == !row.bson.isEmpty)
            #expect(read.withJSONValue(read.fieldCount) { _ in true } == nil)
        }
    }
}

@testable import ExtractStage
import Foundation
import Testing
import TestSupport

/// The albums' and artists' lookup rows live in a file, read by id: each id finds exactly its
/// row's document, whatever the ids and the rows' sizes.
@Suite struct LookupFileTests {
    /// A record shaped like a BSON document: its length (little-endian int32, itself included),
    /// the payload, a terminating zero. The lookup file reads the length, never the elements.
    private static func document(_ payload: [UInt8]) -> [UInt8] {
        let length = Int32(payload.count + 5)
        return withUnsafeBytes(of: length.littleEndian) { Array($0) } + payload + [0]
    }

    /// Rows written through batches (as the extraction admits them) into a table's file.
    private static func table(_ rows: [(id: Int64, document: [UInt8])], batchSize: Int = 64,
                              in directory: TemporaryDirectory) throws -> LookupFile {
        let writer = try LookupFileWriter(directory: directory.path + "/staging", entity: "album")
        let batch = LookupStore()
        for start in stride(from: 0, to: rows.count, by: batchSize) {
            batch.removeAll()
            for row in rows[start..<min(rows.count, start + batchSize)] {
                row.document.withUnsafeBufferPointer { _ = batch.append(id: row.id, document: $0) }
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
        var expected: [Int64: [UInt8]] = [:]
        var rows: [(id: Int64, document: [UInt8])] = []
        for _ in 0..<(kind == "empty" ? 0 : 2000) {
            let id: Int64 = switch kind {
            case "dense": Int64(random.next() % 5000)
            case "sparse": Int64(random.next() % (1 << 40))
            default: -Int64(random.next() % 5000)
            }
            guard expected[id] == nil else { continue }  // the extraction adds each id once
            let document = Self.document(Array("\(id) [ \(id % 7) ]".utf8))
            expected[id] = document
            rows.append((id, document))
        }
        let directory = TemporaryDirectory()
        let lookups = RowBuilder.ResolvedLookups(files: [try Self.table(rows, in: directory)], sources: ["raw_albums.csv"], fields: [])
        var probes = Array(expected.keys)
        for _ in 0..<2000 { probes.append(Int64(bitPattern: random.next()) >> Int64(random.next() % 64)) }
        probes += [0, -1, 4999, 5000, 5001, Int64.max, Int64.min]
        for id in probes {
            let row = try lookups.row(0, id: id)
            #expect(row.map { $0.withBSON { Array($0) } } == expected[id], "\(kind) id \(id)")
        }
        // The temporary file is unlinked at once: nothing is left in the directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path + "/staging") == [])
    }

    /// Rows of every size around the first read's guess (4 KiB) and far beyond it, down to the
    /// empty document, read back whole.
    @Test func rowsOfAnySizeReadBackWhole() throws {
        var random = SplitMix64(seed: 7)
        var rows: [(id: Int64, document: [UInt8])] = []
        for id in Int64(0)..<300 {
            let length = id == 150 ? 3 << 20 : Int(random.next() % 9000)
            // Runs of one random byte each (filled at once: the debug build is slow per byte).
            rows.append((id, Self.document([UInt8](repeating: UInt8(random.next() % 256), count: length))))
        }
        let file = try Self.table(rows.shuffled(using: &random), batchSize: 7, in: TemporaryDirectory())
        #expect(file.count == 300)
        for row in rows {
            let read = try #require(try file.row(row.id))
            #expect(read.withBSON { Array($0) } == row.document, "row \(row.id)")
        }
    }
}

@testable import ETLJobs
@testable import ExtractStage
import Foundation
import Tabular
import Testing
import TestSupport

/// `ObjectReuse`: a track whose album or artist cells equal the previous row's takes that object's
/// JSON. The lines, warnings, repairs and rejects must be those of building every row (the libbson
/// path, which reuses nothing), for any workers and batch edges.
@Suite struct ObjectReuseTests {
    /// The bundled sample's tracks.csv with copies of its first track under new ids: the same
    /// cells (reused), an album title changed in its last byte, an unknown album twice in a row (a
    /// warning per track), invalid UTF-8 in the artist's bio twice in a row (a repair per track),
    /// an album cell that fails its type twice in a row (both rejected), a dictionary key with a
    /// NUL byte in the album's tags twice in a row (libbson refuses both), two artists whose
    /// adjacent cells join to the same bytes, then the sample's other tracks.
    static func metadata(in work: TemporaryDirectory) throws -> String {
        let reader = try CSVReader(path: ExtractRun.sample + "/tracks.csv")
        var records: [[[UInt8]]] = []
        var record = CSVRecord()
        while try reader.next(into: &record) {
            records.append(record.bytes.withUnsafeBufferPointer { buffer in
                (0..<record.count).map { Array(UnsafeBufferPointer(rebasing: buffer[record.byteRange($0)])) }
            })
        }
        let header = Array(records.prefix(3)), rows = Array(records.dropFirst(3))
        func column(_ top: String, _ name: String) throws -> Int {
            try #require(header[0].indices.first {
                String(decoding: header[0][$0], as: UTF8.self) == top && String(decoding: header[1][$0], as: UTF8.self) == name
            })
        }
        let albumTitle = try column("album", "title"), albumID = try column("album", "id")
        let albumTracks = try column("album", "tracks"), artistBio = try column("artist", "bio")
        let first = rows[0]
        func copy(_ id: Int, _ changes: [Int: [UInt8]] = [:]) -> [[UInt8]] {
            var row = first
            row[0] = Array(String(id).utf8)
            for (index, value) in changes { row[index] = value }
            return row
        }
        let repairedBio = Array("<p>Caf".utf8) + [0xE9] + Array("</p>".utf8)
        var otherTitle = first[albumTitle]  // the same length: found unequal by its bytes
        otherTitle[otherTitle.count - 1] ^= 1
        var data = header + [first, copy(900_001), copy(900_002, [albumTitle: otherTitle])]
        data += [copy(900_003, [albumID: Array("999999".utf8)]), copy(900_004, [albumID: Array("999999".utf8)])]
        data += [copy(900_005, [artistBio: repairedBio]), copy(900_006, [artistBio: repairedBio])]
        data += [copy(900_007, [albumTracks: Array("many".utf8)]), copy(900_008, [albumTracks: Array("many".utf8)])]
        // A dictionary key with a NUL byte in the album's tags, twice: libbson refuses both rows.
        let albumTags = try column("album", "tags")
        let nulKey = Array("[{'a\\x00b': 'x'}]".utf8)
        data += [copy(900_010, [albumTags: nulKey]), copy(900_011, [albumTags: nulKey])]
        // Two adjacent cells whose bytes, commas included, read the same once joined: the cells
        // differ, so the second row is built anew.
        let labels = try column("artist", "associated_labels")
        #expect(labels + 1 == artistBio)
        data += [copy(900_012, [labels: Array("L1,L2".utf8), artistBio: Array("B".utf8)]),
                 copy(900_013, [labels: Array("L1".utf8), artistBio: Array("L2,B".utf8)])]
        data += [copy(900_009)] + rows.dropFirst()
        var text: [UInt8] = []
        for fields in data {
            for (index, field) in fields.enumerated() {
                if index > 0 { text.append(UInt8(ascii: ",")) }
                CSVWriter.appendField(field, to: &text)
            }
            text.append(UInt8(ascii: "\n"))
        }
        let path = work.path + "/tracks.csv"
        try Data(text).write(to: URL(fileURLWithPath: path))
        return try ExtractRun.metadata(replacing: ["tracks.csv": path], in: work)
    }

    @Test func reusedObjectsGiveTheLinesOfBuildingEveryRow() throws {
        let work = TemporaryDirectory()
        let metadata = try Self.metadata(in: work)
        let reference = try ExtractRowWorkersTests.extract(metadata, workers: 1, batchBytes: 1 << 20, libbson: true, in: work)
        let tracks = try #require(reference.counts.first { $0.hasPrefix("tracks.csv") })
        #expect(tracks.contains("in 17 written 15 quarantined 2 nulled 2 warnings 30 repaired 2 "), "\(tracks)")  // 2 per written track: the sample's album and artist are not in its tables
        for (workers, batchBytes) in [(1, 1 << 20), (2, 1 << 20), (1, 1), (3, 700)] {
            let result = try ExtractRowWorkersTests.extract(metadata, workers: workers, batchBytes: batchBytes, in: work)
            #expect(result.counts == reference.counts, "\(workers) workers, batches of \(batchBytes) bytes")
            #expect(result.files.keys.sorted() == reference.files.keys.sorted())
            for (name, bytes) in reference.files {
                #expect(result.files[name] == bytes, "\(name), \(workers) workers, batches of \(batchBytes) bytes")
            }
        }
        let rejects = String(decoding: try #require(reference.files["quarantine/tracks.csv.rejects.csv"]), as: UTF8.self)
        // album.tracks "many", twice: nulled in both rows and reported for both (a reused object would not report it).
        let repairs = String(decoding: try #require(reference.files["quarantine/tracks.csv.repairs.csv"]), as: UTF8.self)
        #expect(repairs.contains(",900007,album.tracks,") && repairs.contains(",900008,album.tracks,"), "\(repairs)")
        for (workers, batchBytes) in [(1, 1 << 20), (2, 7)] {
            let result = try ExtractRowWorkersTests.extract(metadata, workers: workers, batchBytes: batchBytes, in: work)
            #expect(result.files["quarantine/tracks.csv.repairs.csv"] == reference.files["quarantine/tracks.csv.repairs.csv"])
        }
        let refused = rejects.split(separator: "\n").filter { $0.contains("its key holds a NUL byte") }
        #expect(refused.count == 2 && refused[0].hasPrefix("900010") && refused[1].hasPrefix("900011"), "\(rejects)")
    }

    /// The unknown-album warning names each track, the reused ones too.
    @Test func warningsNameEveryTrack() throws {
        let work = TemporaryDirectory()
        let run = try ExtractRun.run(metadata: try Self.metadata(in: work), work: work, ["--max-reject-ratio", "1"])
        for track in [900_003, 900_004] {
            #expect(run.outcome.standardError.contains("track \(track): unknown album.id 999999"), "\(run.outcome.standardError)")
        }
    }

    /// The kept cells and JSON live in `OwnedBuffer`s: appends that grow a buffer holding
    /// bytes keep them (the FMA-shaped rows never grow one that is not empty), `removeAll` keeps
    /// the memory, `free` gives it back.
    @Test func keptBuffersGrowWithTheirContents() {
        var random = SplitMix64(seed: 11)
        var buffer = OwnedBuffer<UInt8>()
        var ints = OwnedBuffer<Int>()
        var expected: [UInt8] = [], expectedInts: [Int] = []
        for round in 0..<200 {
            if round % 50 == 49 {
                buffer.removeAll()
                expected.removeAll()
            }
            let chunk = (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            chunk.withUnsafeBufferPointer { buffer.append(contentsOf: $0) }
            expected += chunk
            let value = Int.random(in: .min ... .max, using: &random)
            ints.append(value)
            expectedInts.append(value)
            #expect(Array(buffer.elements) == expected, "round \(round)")
            #expect(buffer.capacity >= buffer.count)
        }
        #expect(Array(ints.elements) == expectedInts)
        buffer.free()
        ints.free()
        #expect(buffer.elements.isEmpty && buffer.capacity == 0 && buffer.base == nil)
    }
}

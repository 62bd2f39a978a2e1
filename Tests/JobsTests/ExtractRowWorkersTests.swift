@testable import ETLJobs
@testable import ExtractStage
import Datasets
import Foundation
import Tabular
import Testing
import TestSupport

/// `etl-extract` processes rows in batches on worker threads and admits them in file order: the
/// staged files, the quarantine files and every count must not depend on the number of workers or
/// on where the batches end, including duplicate ids whose first sighting is in another batch.
@Suite struct ExtractRowWorkersTests {
    /// The bundled sample with a raw_tracks.csv made of the data rows of every malformed-corpus
    /// track file that parses as a whole (rejects of every kind, unknown albums and artists,
    /// repaired UTF-8), each file's ids moved to a range of their own; then the first files
    /// again, whose rows are now duplicates of rows many batches back.
    static func metadata(in work: TemporaryDirectory) throws -> String {
        let directory = try ExtractRun.metadata(removing: ["tracks.csv", "raw_tracks.csv"], in: work)
        let corpus = Fixtures.url("malformed").path
        let header = try firstLine(of: corpus + "/raw_tracks--duplicate-track-id.csv")
        let names = try FileManager.default.contentsOfDirectory(atPath: corpus).sorted().filter {
            $0.hasPrefix("raw_tracks--") && $0 != "raw_tracks--unterminated-quote-at-eof.csv"
                && (try? firstLine(of: corpus + "/" + $0)) == header
        }
        var combined = header
        for (index, name) in (names + names.prefix(4)).enumerated() {
            combined.append(try renumbered(corpus + "/" + name, by: 1000 * (index % names.count + 1)))
        }
        try combined.write(to: URL(fileURLWithPath: directory + "/raw_tracks.csv"))
        return directory
    }

    /// The data lines of a CSV file with `offset` added to the leading integer of each record
    /// (records found by the reader, so lines inside quoted fields stay as they are).
    static func renumbered(_ path: String, by offset: Int) throws -> Data {
        let reader = try CSVReader(path: path)
        var record = CSVRecord()
        var recordLines = Set<Int>()
        while try reader.next(into: &record) {
            if record.number > 1 { recordLines.insert(record.line) }
        }
        let text = try Data(contentsOf: URL(fileURLWithPath: path))
        var lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var result = Data()
        for (index, line) in lines.enumerated().dropFirst() {
            let digits = line.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
            if recordLines.contains(index + 1), let id = Int(String(decoding: digits, as: UTF8.self)) {
                result.append(contentsOf: Array(String(id + offset).utf8))
                result.append(line.dropFirst(digits.count))
            } else {
                result.append(line)
            }
            result.append(UInt8(ascii: "\n"))
        }
        return result
    }

    static func firstLine(of path: String) throws -> Data {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let end = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return bytes }
        return bytes[...end]
    }

    struct Result: Equatable {
        var counts: [String]
        var files: [String: Data]
    }

    static func extract(_ metadata: String, workers: Int, batchBytes: Int, tracksFile: String? = nil,
                        in work: TemporaryDirectory) throws -> Result {
        let root = work.path + "/run-\(workers)-\(batchBytes)-\(tracksFile ?? "")"
        var extractor = try MetadataExtractor(metadataDirectory: metadata, entities: FMADataset().entities,
                                              schemasDirectory: Fixtures.directory.deletingLastPathComponent()
                                                  .deletingLastPathComponent().appendingPathComponent("Schemas").path,
                                              stagingDirectory: root + "/staging", quarantineDirectory: root + "/quarantine")
        extractor.rowJobs = workers
        extractor.rowBatchBytes = batchBytes
        extractor.tracksFile = tracksFile
        let results = try extractor.run()
        var files: [String: Data] = [:]
        for directory in ["staging", "quarantine"] {  // no quarantine directory when nothing is rejected
            // The staging marker names the run and its time: not part of the output compared.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + directory)) ?? [] where name != "_SUCCESS.json" {
                files[directory + "/" + name] = try Data(contentsOf: URL(fileURLWithPath: root + "/" + directory + "/" + name))
            }
        }
        let counts = results.map {
            "\($0.file): in \($0.rowsIn) written \($0.written) quarantined \($0.quarantined) nulled \($0.valuesNulled) warnings \($0.warnings) repaired \($0.repairedText) failure \($0.failure ?? "-")"
        }
        return Result(counts: counts, files: files)
    }

    @Test func sameOutputForAnyWorkersAndBatchEdges() throws {
        let work = TemporaryDirectory()
        let metadata = try Self.metadata(in: work)
        let reference = try Self.extract(metadata, workers: 1, batchBytes: 1 << 20, in: work)
        // The input exercises what order decides: duplicates, rejects, warnings, repaired text.
        let tracks = try #require(reference.counts.first { $0.hasPrefix("raw_tracks.csv") })
        #expect(tracks.contains("failure -"), "\(tracks)")
        #expect(!tracks.contains("quarantined 0 "), "\(tracks)")
        #expect(!tracks.contains("warnings 0 "), "\(tracks)")
        #expect(!tracks.contains("repaired 0 "), "\(tracks)")
        let quarantine = try #require(reference.files["quarantine/raw_tracks.csv.rejects.csv"])
        #expect(String(decoding: quarantine, as: UTF8.self).contains("duplicate track_id"))
        for (workers, batchBytes) in [(1, 1), (3, 1), (3, 700), (2, 1 << 20)] {
            let result = try Self.extract(metadata, workers: workers, batchBytes: batchBytes, in: work)
            #expect(result.counts == reference.counts, "\(workers) workers, batches of \(batchBytes) bytes")
            #expect(result.files.keys.sorted() == reference.files.keys.sorted())
            for (name, bytes) in reference.files {
                #expect(result.files[name] == bytes, "\(name), \(workers) workers, batches of \(batchBytes) bytes")
            }
        }
    }

    /// Genre lists the fast scan leaves to the literal parser (a double-quoted key, the same value
    /// for Python) give the tracks the same genres, `genres_all` and `genre_top` as plain ones.
    @Test func genreListsLeftToTheParserDeriveTheSame() throws {
        let original = try String(contentsOfFile: ExtractRun.sample + "/raw_tracks.csv", encoding: .utf8)
        let changed = original.replacingOccurrences(of: "'genre_id'", with: "\"\"genre_id\"\"")
        #expect(changed != original)
        let plainWork = TemporaryDirectory(), parsedWork = TemporaryDirectory()
        try changed.write(toFile: parsedWork.path + "/raw_tracks.csv", atomically: true, encoding: .utf8)
        let plainMetadata = try ExtractRun.metadata(in: plainWork)
        let parsedMetadata = try ExtractRun.metadata(replacing: ["raw_tracks.csv": parsedWork.path + "/raw_tracks.csv"], in: parsedWork)
        let plain = try Self.extract(plainMetadata, workers: 1, batchBytes: 1 << 20, tracksFile: "raw_tracks.csv", in: plainWork)
        let parsed = try Self.extract(parsedMetadata, workers: 1, batchBytes: 1 << 20, tracksFile: "raw_tracks.csv", in: parsedWork)
        let tracks = try #require(plain.files["staging/tracks.jsonl"])
        let text = String(decoding: tracks, as: UTF8.self)
        #expect(text.contains(#""genres_all":[1,"#) && text.contains(#""genre_top":"Hip-Hop""#), "the sample derives both")
        #expect(parsed.files["staging/tracks.jsonl"] == tracks)
        #expect(parsed.counts == plain.counts)
    }

    /// A Python dictionary whose key holds a NUL byte (`\\x00`): libbson refuses such a key, so the row
    /// goes to quarantine with libbson's reason.
    @Test func keyWithANULByteIsRefused() throws {
        let work = TemporaryDirectory()
        let sampleAlbums = try String(contentsOfFile: ExtractRun.sample + "/raw_albums.csv", encoding: .utf8)
        let original = "\"[{'image_id': '1955',"
        #expect(sampleAlbums.contains(original))
        let albums = work.path + "/raw_albums.csv"
        try sampleAlbums.replacingOccurrences(of: original, with: "\"[{'image\\x00id': '1955',")
            .write(toFile: albums, atomically: true, encoding: .utf8)
        let metadata = try ExtractRun.metadata(replacing: ["raw_albums.csv": albums], in: work)
        let direct = try Self.extract(metadata, workers: 2, batchBytes: 1 << 20, in: work)
        let rejects = String(decoding: try #require(direct.files["quarantine/raw_albums.csv.rejects.csv"]), as: UTF8.self)
        #expect(rejects.contains("its key holds a NUL byte"), "\(rejects)")
    }
}

extension GenreHierarchy {
    /// Genres offset+1 … offset+size, each at the top level (parent 0), under another genre
    /// (cycles possible) or under an unknown one; `titledAndTopped`: most with a title, some with
    /// a given top-level genre.
    static func random(_ random: inout SplitMix64, size: Int64, offset: Int64 = 0, titledAndTopped: Bool = false) -> GenreHierarchy {
        var hierarchy = GenreHierarchy()
        for genre in (1...size).map({ $0 + offset }) {
            let pick = random.next() % 10
            hierarchy.parent[genre] = pick < 2 ? 0 : pick == 9 ? offset + size + 100 : offset + Int64(1 + random.next() % UInt64(size))
            guard titledAndTopped else { continue }
            if random.next() % 8 != 0 { hierarchy.title[genre] = "g\(genre)" }
            if random.next() % 6 == 0 { hierarchy.topLevel[genre] = offset + Int64(1 + random.next() % UInt64(size)) }
        }
        return hierarchy
    }
}

/// `GenreHierarchy.withAncestors` (a track's `genres_all`) against a plain set-based walk, on
/// random forests with unknown parents and cycles.
@Suite struct GenreAncestorsTests {
    @Test func ancestorsMatchASetBasedWalk() {
        var random = SplitMix64(seed: 2026_11_22)
        for _ in 0..<300 {
            let size = Int64(1 + random.next() % 40)
            let hierarchy = GenreHierarchy.random(&random, size: size)
            let genres = (0..<Int(random.next() % 6)).map { _ in Int64(1 + random.next() % UInt64(size + 3)) }
            var expected = Set<Int64>()
            for genre in genres {
                var current = genre
                while expected.insert(current).inserted, let next = hierarchy.parent[current], next != 0 { current = next }
            }
            #expect(hierarchy.withAncestors(genres) == expected.sorted(), "\(genres) in \(hierarchy.parent)")
        }
    }
}

/// `GenreLookup` (arrays made once) gives the hierarchy's own answers: random forests with
/// unknown parents, cycles, given top-level genres, titles missing, and ids beyond its arrays.
@Suite struct GenreLookupTests {
    @Test func agreesWithTheHierarchy() {
        var random = SplitMix64(seed: 1_300)
        for round in 0..<400 {
            let size = Int64(1 + random.next() % 30)
            let offset: Int64 = round % 5 == 0 ? 1 << 20 : 0  // some forests beyond the arrays
            let hierarchy = GenreHierarchy.random(&random, size: size, offset: offset, titledAndTopped: true)
            let lookup = GenreLookup(hierarchy)
            for _ in 0..<20 {
                let genres = (0..<Int(random.next() % 5)).map { _ in offset + Int64(random.next() % UInt64(size + 3)) }
                // In a row's store of integers, after what the row holds before them.
                let before = (0..<Int(random.next() % 3)).map { _ in Int64(random.next() % 50) }
                var integers = before + genres
                let ancestors = lookup.appendAncestors(of: before.count..<integers.count, to: &integers)
                #expect(Array(integers[ancestors]) == hierarchy.withAncestors(genres), "\(genres) in \(hierarchy.parent)")
                #expect(Array(integers[..<ancestors.lowerBound]) == before + genres && ancestors.upperBound == integers.count)
                #expect(lookup.topGenreTitle(of: genres) == hierarchy.topGenreTitle(of: genres), "\(genres) in \(hierarchy)")
                for genre in genres { #expect(lookup.isKnown(genre) == hierarchy.isKnown(genre)) }
            }
        }
    }
}

/// `FirstLines`, the duplicate-id index, against a dictionary: small ids (the array), negative and
/// huge ones (the dictionary), text ids, in random order, at lines of several files.
@Suite struct FirstLinesTests {
    @Test func agreesWithADictionary() {
        var random = SplitMix64(seed: 22_11)
        var index = FirstLines()
        var model: [RowID: FirstLines.Location] = [:]
        for step in 0..<20_000 {
            let id: RowID = switch random.next() % 6 {
            case 0: .integer(-Int64(random.next() % 1000))
            case 1: .integer(Int64(bitPattern: random.next()))
            case 2: .integer((1 << 22) - 2 + Int64(random.next() % 4))
            case 3: .text("s\(random.next() % 3000):\(random.next() % 3)")
            default: .integer(Int64(random.next() % 5000))
            }
            #expect(index[id] == model[id], "id \(id) at step \(step)")
            if model[id] == nil {
                let location = FirstLines.Location(file: Int(random.next() % 4), line: step + 1)
                index[id] = location
                model[id] = location
            }
        }
    }
}

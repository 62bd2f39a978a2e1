@testable import DocumentStore
import Foundation
import Testing
import TestSupport

/// Every line of every JSON Lines file under `root` (staging, quarantine, the run ledger) reads
/// to the same BSON with `ExtendedJSONParser` as with libbson's JSON parser, which it replaced.
/// Returns the number of lines compared.
@discardableResult
func expectJSONLinesReadAsLibbsonReadsThem(under root: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
    let parser = ExtendedJSONParser()
    var compared = 0
    let files = (FileManager.default.subpaths(atPath: root) ?? []).filter { $0.hasSuffix(".jsonl") }
    for file in files {
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/" + file))
        for (index, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            let bytes = Array(line)
            let libbson = bytes.withUnsafeBufferPointer { buffer -> [UInt8]? in
                guard case .success(let document) = BSONDocument.parsedByLibbson(buffer) else { return nil }
                return document.withRawBytes { Array($0) }
            }
            let swift = bytes.withUnsafeBufferPointer { buffer in
                try? parser.withBSON(of: buffer) { Array($0) }
            }
            #expect(libbson != nil, "libbson reads \(file):\(index + 1)", sourceLocation: sourceLocation)
            #expect(swift == libbson, "\(file):\(index + 1): \(String(decoding: bytes, as: UTF8.self))",
                    sourceLocation: sourceLocation)
            compared += 1
        }
    }
    return compared
}

@Suite(.serialized) struct JSONLinesFilesParseTests {
    /// A whole night on the sample: metadata, features, training rows and scalers, the ledger.
    @Test func everyFileOfANightReadsAsLibbsonReadsIt() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let night = try JobProcess.run("etl-nightly", [
            "--metadata", Fixtures.url("sample/fma_metadata").path, "--tracks-file", "raw_tracks.csv",
            "--audio", Fixtures.url("sample/audio").path, "--work-dir", work.path,
        ], environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(night.status == 0, "\(night.standardError)")
        let compared = try expectJSONLinesReadAsLibbsonReadsThem(under: work.path)
        // 5 tracks, their albums, artists, genres, features, training rows, scalers, ledger entries.
        #expect(compared > 30, "\(compared) lines")
    }

    /// Every file of the malformed corpus, staged (repaired text, odd numbers and dates) and
    /// quarantined.
    @Test func everyFileOfTheMalformedCorpusReadsAsLibbsonReadsIt() throws {
        var compared = 0
        for expected in corpus {
            let run = try corpusRun(expected.file)
            compared += try expectJSONLinesReadAsLibbsonReadsThem(under: run.work.path)
        }
        #expect(compared > 100, "\(compared) lines")
    }
}

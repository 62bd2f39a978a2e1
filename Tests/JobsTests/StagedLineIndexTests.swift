import DocumentStore
import Foundation
import Pipeline
import Staging
import Tabular
import Testing

/// The one index of staged JSON Lines by `_id`: what `--only` re-runs merge with, and what the
/// features stage reuses staged documents from.
@Suite struct StagedLineIndexTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("staged-line-index-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func file(_ name: String, _ lines: [String]) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func mergeReplacesInPlaceDropsWhatIsGoneAndAppendsNewIds() throws {
        let previous = try file("previous.jsonl", [#"{ "_id" : 1, "v" : "old" }"#, #"{ "_id" : 2, "v" : "old" }"#,
                                                   #"{ "_id" : 3, "v" : "old" }"#])
        // This run re-extracted 2 and 3 (3 is gone from the input) and found a new 4.
        let new = try file("new.jsonl", [#"{ "_id" : 4, "v" : "new" }"#, #"{ "_id" : 2, "v" : "new" }"#])
        let outputPath = directory.appendingPathComponent("merged.jsonl").path
        let output = try AtomicFileWriter(path: outputPath)
        let only = Set([2, 3, 4].map { BSONValue.integer(Int64($0)).canonicalKey })
        let written = try StagedLineIndex.merge(new: new, previous: previous, only: only, into: output)
        try output.commit()
        #expect(written == 3)
        #expect(try String(contentsOfFile: outputPath, encoding: .utf8) == """
            { "_id" : 1, "v" : "old" }
            { "_id" : 2, "v" : "new" }
            { "_id" : 4, "v" : "new" }

            """)
    }

    @Test func aLineWithoutAnIdFailsUnlessTolerated() throws {
        let path = try file("staged.jsonl", [#"{ "_id" : 1 }"#, #"{ "_id" : 2, "#, "", #"{ "x" : 3 }"#, #"{ "_id" : "a/b.mp3" }"#])
        #expect(throws: JobError.self) { try StagedLineIndex(path: path) }
        let index = try StagedLineIndex(path: path, tolerant: true)
        #expect(index.unreadableLines == 2)
        #expect(index.keys.map(\.0) == [BSONValue.integer(1).canonicalKey, BSONValue.string("a/b.mp3").canonicalKey])
        #expect(index.line(forKey: BSONValue.string("a/b.mp3").canonicalKey) == Array(#"{ "_id" : "a/b.mp3" }"#.utf8) + [10])
    }

    @Test func acceptLeavesLinesOutOfTheIndex() throws {
        let path = try file("staged.jsonl", [#"{ "_id" : 1, "keep" : false }"#, #"{ "_id" : 1, "keep" : true }"#])
        let index = try StagedLineIndex(path: path) { _, document in document["keep"] == .bool(true) }
        #expect(index.keys.count == 1)
        #expect(index.line(forKey: BSONValue.integer(1).canonicalKey) == Array(#"{ "_id" : 1, "keep" : true }"#.utf8) + [10])
    }

    @Test func anAbsentFileHasNoLines() throws {
        let index = try StagedLineIndex(path: directory.appendingPathComponent("absent.jsonl").path)
        #expect(index.keys.isEmpty)
    }
}

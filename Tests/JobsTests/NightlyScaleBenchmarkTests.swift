import Foundation
import Testing
import TestSupport

/// Benchmarks/nightly-scale.py at a few thousand tracks, counts only: the unchanged night writes
/// nothing and the 1 % changed night writes exactly the documents whose staged line changed (the
/// script checks both and exits 1 naming the difference).
@Suite struct NightlyScaleBenchmarkTests {
    @Test func threeNightsWriteEverythingThenNothingThenExactlyTheChanges() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName("musicetl_nightly")
        defer { TestServer.dropDatabase(database) }
        let scratch = TemporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", TestServer.packageRoot.appendingPathComponent("Benchmarks/nightly-scale.py").path,
                             "--bin", JobProcess.productsDirectory.path, "--tracks", "3000", "--clips", "6",
                             "--uri", uri, "--database", database, "--scratch", scratch.path, "--counts-only"]
        var environment = ProcessInfo.processInfo.environment
        environment["MONGOC_DISABLE_SHM"] = "1"
        process.environment = environment
        let output = scratch.url.appendingPathComponent("output.txt")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let text = try String(contentsOf: output, encoding: .utf8)
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("cold: ") && text.contains("tracks 3000"), "\(text)")
        #expect(text.contains("unchanged: 0 documents written"), "\(text)")
        #expect(text.contains("30 tracks retitled, 1 clips replaced"), "\(text)")
        let changedNight = text.split(separator: "\n").first { $0.hasPrefix("1% changed:") } ?? ""
        #expect(changedNight.contains("tracks 30,") || changedNight.contains("tracks 30)"),
                "the changed night writes the 30 retitled tracks: \(text)")
    }
}

import DocumentStore
import Foundation
import Testing
import TestSupport

/// The operating contract of DESIGN.md: one run per work directory, clear exit codes.
@Suite(.serialized) struct OperatingContractTests {
    @Test func secondRunOnTheSameWorkDirectoryExits75NamingTheHolder() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let staged = work.url.appendingPathComponent("staging/metadata/genres.jsonl")
        try FileManager.default.createDirectory(at: staged.deletingLastPathComponent(), withIntermediateDirectories: true)
        let lines = (1...5_000).map { "{ \"_id\" : \($0), \"title\" : \"Genre \($0)\", \"parent\" : 0 }\n" }.joined()
        try lines.write(to: staged, atomically: true, encoding: .utf8)
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let first = try JobProcess.start("etl-load", ["--work-dir", work.path], environment: environment)
        // Wait until the first run holds the lock (its holder line is written right after flock).
        let lockFile = work.path + "/.musicetl.lock"
        let deadline = Date().addingTimeInterval(30)
        while ((try? String(contentsOfFile: lockFile, encoding: .utf8)) ?? "").isEmpty && Date() < deadline { usleep(20_000) }
        let second = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        let firstOutcome = first.wait()
        #expect(firstOutcome.status == 0, "\(firstOutcome.standardError)")
        #expect(second.status == 75, "\(second.standardError)")
        #expect(second.lastLine.contains("is locked by another run (etl-load pid \(first.pid)"), "\(second.lastLine)")
        #expect(second.seconds < 5, "exits at once")
        // The lock goes with its holder: a third run proceeds.
        let third = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(third.status == 0)
        #expect(third.lastLine.contains("5000 genres unchanged"), "\(third.lastLine)")
    }

    @Test func aLockLeftByAKilledRunIsTakenOver() throws {
        let work = TemporaryDirectory()
        let sample = Fixtures.url("sample/fma_metadata").path
        let staged = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path, "--max-reject-ratio", "1"])
        #expect(staged.status == 0, "\(staged.standardError)")
        // A run that will sit waiting for an unreachable server while holding the lock.
        let stuck = try JobProcess.start("etl-load", ["--work-dir", work.path],
                                         environment: ["MONGODB_URI": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=30000"])
        let lockFile = work.path + "/.musicetl.lock"
        let deadline = Date().addingTimeInterval(30)
        while !((try? String(contentsOfFile: lockFile, encoding: .utf8)) ?? "").contains("etl-load pid \(stuck.pid)")
            && Date() < deadline { usleep(20_000) }
        let blocked = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path])
        #expect(blocked.status == 75, "the stuck run holds the lock: \(blocked.lastLine)")
        kill(stuck.pid, SIGKILL)
        _ = stuck.wait()
        let extract = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path, "--max-reject-ratio", "1"])
        #expect(extract.status == 0, "\(extract.standardError)")
    }

    @Test func badFlagsAndMissingInputsGiveOneLineAndTheDocumentedCode() throws {
        let work = TemporaryDirectory()
        for (job, arguments, expected) in [
            ("etl-export", ["--format", "parquet"], Int32(64)),
            ("etl-load", ["--batch-size", "0"], 64),
            ("etl-nightly", ["--metadata", "x", "--audio", "y", "--from", "nowhere"], 64),
            ("etl-normalize", ["--method", "robust"], 64),
            ("etl-load", ["--work-dir", work.path], 69),
            ("etl-normalize", ["--work-dir", work.path], 69),
        ] {
            let run = try JobProcess.run(job, arguments)
            #expect(run.status == expected, "\(job) \(arguments): \(run.standardError)")
        }
    }
}

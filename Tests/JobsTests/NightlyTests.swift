import DocumentStore
import Foundation
import Testing
import TestSupport

/// etl-nightly on the bundled sample: re-runs converge, runs never overlap, a crash is repaired
/// by running again.
@Suite(.serialized) struct NightlyTests {
    let metadata = Fixtures.url("sample/fma_metadata").path
    let audio = Fixtures.url("sample/audio").path

    private func nightlyArguments(work: TemporaryDirectory) -> [String] {
        ["--metadata", metadata, "--tracks-file", "raw_tracks.csv", "--audio", audio, "--work-dir", work.path]
    }

    /// Every document of the collections the pipeline owns (the run ledger and leases differ by
    /// nature from run to run, so they are left out).
    private func state(uri: String, database: String) throws -> [String: [Document]] {
        let client = try MongoConnection(uri: uri).client()
        var state: [String: [Document]] = [:]
        for name in ["genres", "albums", "artists", "tracks", "features", "training", "scalers"] {
            let cursor = try client.collection(name, database: database).find([:], options: ["sort": .document(["_id": 1])])
            var documents: [Document] = []
            while let document = try cursor.next() { documents.append(document) }
            state[name] = documents
        }
        return state
    }

    @Test func secondNightComputesAndWritesNothingAndExportsTheSameBytes() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let first = try JobProcess.run("etl-nightly", nightlyArguments(work: work), environment: environment)
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.lastLine.hasPrefix("etl-nightly ok: 5 steps ok"), "\(first.lastLine)")
        let output = work.url.appendingPathComponent("exports/training/output.csv")
        let firstCSV = try Data(contentsOf: output)
        let firstState = try state(uri: uri, database: database)
        #expect(firstState["training"]?.count == 5)

        let second = try JobProcess.run("etl-nightly", nightlyArguments(work: work), environment: environment)
        #expect(second.status == 0, "\(second.standardError)")
        let lines = second.standardError.split(separator: "\n")
        let features = try #require(lines.first { $0.hasPrefix("etl-features ok") })
        #expect(features.contains("0 computed, 5 reused"), "\(features)")
        let load = try #require(lines.first { $0.hasPrefix("etl-load ok") })
        for collection in ["genres", "albums", "artists", "tracks", "features", "training", "scalers"] {
            #expect(load.contains("0 \(collection) inserted, 0 \(collection) updated"), "\(collection): \(load)")
        }
        #expect(try Data(contentsOf: output) == firstCSV, "byte-identical output.csv")
        #expect(try state(uri: uri, database: database) == firstState)
    }

    @Test func dryRunValidatesWithoutWritingOrTouchingMongoDB() throws {
        let work = TemporaryDirectory()
        // An unreachable server proves the dry run never talks to MongoDB.
        let run = try JobProcess.run("etl-nightly", nightlyArguments(work: work) + ["--dry-run"],
                                     environment: ["MONGODB_URI": "mongodb://127.0.0.1:1/?directConnection=true"])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.lastLine.hasPrefix("etl-nightly ok (dry run)"), "\(run.lastLine)")
        #expect(run.standardOutput.contains("compute\t2\t000/000002.flac"), "features lists what it would compute")
        let written = try FileManager.default.subpathsOfDirectory(atPath: work.path).filter { $0 != ".musicetl.lock" }
        #expect(written.isEmpty, "only the lock file: \(written)")
    }

    @Test func twoNightsAtOnceOneRunsTheOtherExits75() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let a = try JobProcess.start("etl-nightly", nightlyArguments(work: work), environment: environment)
        let b = try JobProcess.start("etl-nightly", nightlyArguments(work: work), environment: environment)
        let outcomes = [a.wait(), b.wait()]
        #expect(outcomes.map(\.status).sorted() == [0, 75], "\(outcomes.map(\.lastLine))")
        let loser = try #require(outcomes.first { $0.status == 75 })
        #expect(loser.lastLine.contains("locked"), "\(loser.lastLine)")
    }

    @Test func aSecondHostIsKeptOutByTheLease() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        // Another host's live lease (a different work directory cannot see its file lock).
        let client = try MongoConnection(uri: uri).client()
        _ = try client.collection("locks", database: database).upsertByID([BSONDocument([
            "_id": "nightly", "holder": "other-host pid 4242 run X",
            "expires_at": .date(Date().addingTimeInterval(600))])])
        let work = TemporaryDirectory()
        let run = try JobProcess.run("etl-nightly", nightlyArguments(work: work),
                                     environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(run.status == 75)
        #expect(run.lastLine.contains("held by other-host pid 4242"), "\(run.lastLine)")
    }

    @Test func killedDuringLoadThenRerunEqualsAnUninterruptedNight() throws {
        let uri = try TestServer.uri()
        let clean = TestServer.uniqueDatabaseName(), crashed = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(clean); TestServer.dropDatabase(crashed) }
        let cleanWork = TemporaryDirectory(), crashedWork = TemporaryDirectory()
        let reference = try JobProcess.run("etl-nightly", nightlyArguments(work: cleanWork),
                                           environment: ["MONGODB_URI": uri, "MUSICETL_DB": clean])
        #expect(reference.status == 0, "\(reference.standardError)")

        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": crashed]
        let doomed = try JobProcess.start("etl-nightly", nightlyArguments(work: crashedWork), environment: environment)
        // Kill it as soon as the load step has started (its first log line names the server).
        let ledger = crashedWork.path + "/ledger/etl_runs.jsonl"
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: ledger, encoding: .utf8)) ?? ""
            if text.contains("\"job\" : \"etl-normalize\"") { break }  // normalize done: load is next
            usleep(5_000)
        }
        kill(doomed.pid, SIGKILL)
        let killed = doomed.wait()
        #expect(killed.status != 0)

        let rerun = try JobProcess.run("etl-nightly", nightlyArguments(work: crashedWork), environment: environment)
        #expect(rerun.status == 0, "the lease of the killed run is taken over: \(rerun.standardError)")
        #expect(try state(uri: uri, database: crashed) == state(uri: uri, database: clean))
        let exported = { (work: TemporaryDirectory) in try Data(contentsOf: work.url.appendingPathComponent("exports/training/output.csv")) }
        #expect(try exported(crashedWork) == exported(cleanWork))
    }
}

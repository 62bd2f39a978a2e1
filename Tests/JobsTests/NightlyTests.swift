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

    private func state(uri: String, database: String) throws -> [String: [Document]] {
        try withoutFittingRun(pipelineState(uri: uri, database: database))
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

    /// The training rows are derived whole each night, so a row no longer staged is stale: a clip
    /// removed from the archive takes its training row out of MongoDB the next night without
    /// `--prune`, and the export is scaled with one scaler.
    @Test func aRemovedClipTakesItsTrainingRowAwayWithoutPrune() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory(), archive = TemporaryDirectory()
        let audioCopy = archive.path + "/audio"
        try FileManager.default.copyItem(atPath: audio, toPath: audioCopy)
        let arguments = ["--metadata", metadata, "--tracks-file", "raw_tracks.csv", "--audio", audioCopy, "--work-dir", work.path]
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let first = try JobProcess.run("etl-nightly", arguments, environment: environment)
        #expect(first.status == 0, "\(first.standardError)")
        let firstRows = try #require(try pipelineState(uri: uri, database: database)["training"])
        #expect(firstRows.count == 5)
        // A clip of the training split: its removal refits the scaler, so every other row changes version.
        let removed = try #require(firstRows.first { $0["split"] == "training" }?["_id"]?.int64Value)
        let clip = try #require(try FileManager.default.contentsOfDirectory(atPath: audioCopy + "/000")
            .first { $0.hasPrefix(String(format: "%06d.", removed)) })
        try FileManager.default.removeItem(atPath: audioCopy + "/000/" + clip)

        let second = try JobProcess.run("etl-nightly", arguments, environment: environment)
        #expect(second.status == 0, "\(second.standardError)")
        let load = try #require(second.standardError.split(separator: "\n").first { $0.hasPrefix("etl-load ok") })
        #expect(load.contains("1 training pruned"), "\(load)")
        let rows = try #require(try pipelineState(uri: uri, database: database)["training"])
        #expect(rows.map { $0["_id"]?.int64Value } == firstRows.map { $0["_id"]?.int64Value }.filter { $0 != removed })
        let versions = Set(rows.compactMap { $0["scaler_version"]?.stringValue })
        #expect(versions.count == 1 && versions != Set(firstRows.compactMap { $0["scaler_version"]?.stringValue }), "\(versions)")
        let export = work.url.appendingPathComponent("exports/training")
        #expect(try readManifest(export)["scaler_versions"]?.arrayValue?.count == 1)
        let scaler = try BSONDocument(json: String(contentsOf: export.appendingPathComponent("scaler.json"), encoding: .utf8)).document()
        #expect(scaler["scalers"] == nil && scaler["version"]?.stringValue == versions.first, "one scaler, not {\"scalers\": [...]}")
        let exported = try readCSV(export.appendingPathComponent("output.csv").path).dropFirst().map { $0[0] }
        #expect(!exported.contains(String(removed)))
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

    /// SIGTERM at the start of each step: the night stops with 143, records `interrupted`, gives
    /// the lease back, and the next night, from another host, starts at once and converges.
    @Test(arguments: NightlyStep.allCases)
    func terminatedInAStepThenAnotherHostConverges(step: NightlyStep) throws {
        let uri = try TestServer.uri()
        let clean = TestServer.uniqueDatabaseName(), stopped = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(clean); TestServer.dropDatabase(stopped) }
        let cleanWork = TemporaryDirectory(), stoppedWork = TemporaryDirectory()
        let reference = try JobProcess.run("etl-nightly", nightlyArguments(work: cleanWork),
                                           environment: ["MONGODB_URI": uri, "MUSICETL_DB": clean])
        #expect(reference.status == 0, "\(reference.standardError)")

        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": stopped]
        let night = try JobProcess.start("etl-nightly", nightlyArguments(work: stoppedWork) + ["--host-id", "host-a"],
                                         environment: environment)
        // The step has started when the one before it is in the ledger (extract: when the night holds the lock).
        let ledger = stoppedWork.path + "/ledger/etl_runs.jsonl"
        let lockFile = stoppedWork.path + "/.musicetl.lock"
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let started = if let previous = step.previous {
                ((try? String(contentsOfFile: ledger, encoding: .utf8)) ?? "").contains("\"job\" : \"etl-\(previous)\"")
            } else {
                ((try? String(contentsOfFile: lockFile, encoding: .utf8)) ?? "").contains("etl-nightly pid \(night.pid)")
            }
            if started { break }
            usleep(2_000)
        }
        kill(night.pid, SIGTERM)
        let outcome = night.wait()
        #expect(outcome.status == 143, "\(step): \(outcome.standardError)")
        #expect(outcome.lastLine.hasPrefix("etl-nightly interrupted: "), "\(outcome.lastLine)")
        #expect(outcome.lastLine.contains("SIGTERM"), "\(outcome.lastLine)")
        let entries = try String(contentsOfFile: ledger, encoding: .utf8).split(separator: "\n")
        let nightly = try #require(entries.last { $0.contains("\"job\" : \"etl-nightly\"") })
        #expect(nightly.contains("\"status\" : \"interrupted\""), "\(nightly)")
        #expect(nightly.contains("\"exit_code\" : 143"), "\(nightly)")
        #expect(nightly.contains("\"host\" : \"host-a\""), "\(nightly)")
        let lease = try MongoConnection(uri: uri).client().collection("locks", database: stopped)
            .find(["_id": "nightly"]).next()
        #expect(lease == nil, "the lease was released: \(String(describing: lease))")

        // Another host: a lease still held would keep it out for ten minutes (exit 75).
        let next = try JobProcess.run("etl-nightly", nightlyArguments(work: stoppedWork) + ["--host-id", "host-b"],
                                      environment: environment)
        #expect(next.status == 0, "\(step): \(next.standardError)")
        #expect(try state(uri: uri, database: stopped) == state(uri: uri, database: clean))
        let exported = { (work: TemporaryDirectory) in try Data(contentsOf: work.url.appendingPathComponent("exports/training/output.csv")) }
        #expect(try exported(stoppedWork) == exported(cleanWork))
    }

    @Test func interruptedByCtrlCExits130AndRecordsIt() throws {
        let work = TemporaryDirectory(), longer = TemporaryDirectory()
        // Eight 43 s clips on one worker: seconds of work, so the signal arrives mid-run.
        for id in 1...8 {
            try FileManager.default.copyItem(atPath: Fixtures.url("audio/chimes_48k.ogg").path, toPath: longer.path + "/\(id).ogg")
        }
        let job = try JobProcess.start("etl-features", ["--audio", longer.path, "--work-dir", work.path, "--jobs", "1"])
        let lockFile = work.path + "/.musicetl.lock"
        let deadline = Date().addingTimeInterval(60)
        while !((try? String(contentsOfFile: lockFile, encoding: .utf8)) ?? "").contains("etl-features pid \(job.pid)")
            && Date() < deadline { usleep(2_000) }
        kill(job.pid, SIGINT)
        let outcome = job.wait()
        #expect(outcome.status == 130, "\(outcome.standardError)")
        #expect(outcome.lastLine.hasPrefix("etl-features interrupted: received SIGINT"), "\(outcome.lastLine)")
        let ledger = try String(contentsOfFile: work.path + "/ledger/etl_runs.jsonl", encoding: .utf8)
        #expect(ledger.contains("\"status\" : \"interrupted\""), "\(ledger)")
        #expect(ledger.contains("\"exit_code\" : 130"), "\(ledger)")
        // Nothing half-written is left in staging.
        let staged = (try? FileManager.default.contentsOfDirectory(atPath: work.path + "/staging/features")) ?? []
        #expect(!staged.contains { $0.contains(".tmp-") }, "\(staged)")
    }
}

enum NightlyStep: String, CaseIterable, Sendable, CustomStringConvertible {
    case extract, features, normalize, load, export

    /// The step that runs before this one.
    var previous: String? {
        let all = Self.allCases
        guard let index = all.firstIndex(of: self), index > 0 else { return nil }
        return all[index - 1].rawValue
    }

    var description: String { rawValue }
}

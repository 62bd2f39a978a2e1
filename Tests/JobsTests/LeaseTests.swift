import DocumentStore
import Foundation
@testable import Pipeline
import Testing
import TestSupport

/// The nightly's MongoDB lease: a dead holder is taken over only when its pid provably means a
/// process of this machine, boot and pid namespace; a lease lost while unrenewed is noticed, and
/// stops the step that is running.
@Suite(.serialized) struct LeaseTests {
    /// The pid of a process that has run and been reaped.
    private func deadPID() throws -> pid_t {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func onlyAHolderOfThisProcessSpaceCanBeCalledDead() throws {
        let dead = try deadPID(), space = ProcessSpace.current
        #expect(!space.hasPrefix("unknown"), "this test needs /proc: \(space)")
        #expect(Lease.isDeadProcess("host-a pid \(dead) boot \(space) run X", of: "host-a", in: space))
        // Alive: this process.
        #expect(!Lease.isDeadProcess("host-a pid \(getpid()) boot \(space) run X", of: "host-a", in: space))
        // The same host id elsewhere (another machine, container or boot): its pid means nothing here.
        #expect(!Lease.isDeadProcess("host-a pid \(dead) boot 0badc0de.4026531836 run X", of: "host-a", in: space))
        // Another host id, and the format without a process space.
        #expect(!Lease.isDeadProcess("host-b pid \(dead) boot \(space) run X", of: "host-a", in: space))
        #expect(!Lease.isDeadProcess("host-a pid \(dead) run X", of: "host-a", in: space))
    }

    @Test func anotherMachineWithTheSameHostIDKeepsItsLease() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let connection = try MongoConnection(uri: uri)
        // Same --host-id, a pid that is dead *here*, but another machine's process space: live.
        let other = "host-a pid \(try deadPID()) boot 0badc0de.4026531836 run X"
        _ = try connection.client().collection("locks", database: database).upsertByID([BSONDocument([
            "_id": "nightly", "holder": .string(other), "expires_at": .date(Date().addingTimeInterval(600))])])
        let lease = Lease(name: "nightly", host: "host-a", detail: "run Y", connection: connection, database: database)
        #expect {
            try lease.acquire()
        } throws: { error in
            (error as? JobError)?.status == .locked && "\(error)".contains(other)
        }
    }

    @Test func aDeadHolderOfThisProcessSpaceIsTakenOver() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let connection = try MongoConnection(uri: uri)
        let locks = try connection.client().collection("locks", database: database)
        _ = try locks.upsertByID([BSONDocument([
            "_id": "nightly", "holder": .string("host-a pid \(try deadPID()) boot \(ProcessSpace.current) run X"),
            "expires_at": .date(Date().addingTimeInterval(600))])])
        let lease = Lease(name: "nightly", host: "host-a", detail: "run Y", connection: connection, database: database)
        try lease.acquire()
        defer { lease.release() }
        #expect(try locks.find(["_id": "nightly"]).next()?["holder"]?.stringValue == lease.holder)
    }

    /// Not renewed (the server unreachable, say) until it expired; another night takes it, and
    /// holds it still or has given it back: either way the next renewal finds it lost.
    @Test(.timeLimit(.minutes(1)), arguments: [false, true])
    func aLeaseTakenWhileUnrenewedIsReportedLost(givenBack: Bool) async throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let connection = try MongoConnection(uri: uri)
        let mine = Lease(name: "nightly", host: "host-a", detail: "run A", connection: connection, database: database,
                         duration: 0.3)
        try mine.acquire()
        defer { mine.release() }
        try mine.checkHeld(before: "etl-load")
        try await Task.sleep(for: .milliseconds(500))
        let theirs = Lease(name: "nightly", host: "host-b", detail: "run B", connection: connection, database: database)
        try theirs.acquire()
        defer { theirs.release() }
        if givenBack { theirs.release() }
        // The next renewal finds it taken (or would create it anew): renewing stops, and the
        // night stops before its next step.
        await mine.keepRenewed()
        #expect {
            try mine.checkHeld(before: "etl-load")
        } throws: { error in
            (error as? JobError)?.status == .unavailable && "\(error)".contains("stopped before etl-load")
                && "\(error)".contains(givenBack ? "its lease document was gone" : theirs.holder)
        }
    }

    /// Another night takes the lease (this one's unrenewed until it expired), and holds it still
    /// or has given it back, while this night's load is writing: the load stops between two bulk
    /// writes, the night exits 69 naming the loss, and the next load converges to an uninterrupted one.
    /// A lease of no time, a negative one, not a number, or one whose expiry date overflows: usage.
    @Test(arguments: ["0", "-1", "nan", "0.5", "1e300"])
    func aLeaseOutsideASecondToADayIsAUsageError(seconds: String) throws {
        let work = TemporaryDirectory()
        let night = try JobProcess.run("etl-nightly", ["--lease-seconds=\(seconds)", "--metadata", Fixtures.url("sample/fma_metadata").path,
                                                       "--audio", Fixtures.url("sample/audio").path, "--work-dir", work.path])
        #expect(night.status == 64, "\(night.standardError)")
        #expect(night.standardError.contains("--lease-seconds must be within 1…86400"), "\(night.standardError)")
    }

    @Test(.timeLimit(.minutes(3)), arguments: [false, true])
    func aLeaseTakenDuringTheLoadStopsTheLoad(givenBack: Bool) throws {
        let uri = try TestServer.uri()
        let clean = TestServer.uniqueDatabaseName(), stopped = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(clean); TestServer.dropDatabase(stopped) }
        // Thousands of tracks written one per bulk write (below): a load still writing long after
        // the lease goes, however fast the server.
        let trackCount = 5_000
        let tracks = (1...trackCount).map { StagedInputs.track(id: $0, split: $0 % 5 == 0 ? "test" : "training") }
        let cleanWork = TemporaryDirectory(), stoppedWork = TemporaryDirectory()
        for work in [cleanWork, stoppedWork] {
            try StagedInputs.writeLines(tracks, to: work.url.appendingPathComponent("staging/metadata/tracks.jsonl"))
        }
        let reference = try JobProcess.run("etl-load", ["--work-dir", cleanWork.path],
                                           environment: ["MONGODB_URI": uri, "MUSICETL_DB": clean])
        #expect(reference.status == 0, "\(reference.standardError)")

        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": stopped]
        // Renewed every third of a second (the shortest lease), so the loss is seen while the load
        // writes; the load's --batch-size from the environment.
        let night = try JobProcess.start("etl-nightly", ["--from", "load", "--lease-seconds", "1",
                                                         "--metadata", Fixtures.url("sample/fma_metadata").path,
                                                         "--audio", Fixtures.url("sample/audio").path,
                                                         "--work-dir", stoppedWork.path, "--host-id", "host-a"],
                                         environment: environment.merging(["MUSICETL_BATCH_SIZE": "1"]) { $1 })
        let client = try MongoConnection(uri: uri).client()
        let locks = try client.collection("locks", database: stopped)
        let loaded = try client.collection("tracks", database: stopped)
        // The load is writing once the first track is stored.
        let deadline = Date().addingTimeInterval(120)
        while try loaded.countDocuments() == 0, Date() < deadline { usleep(2_000) }
        let theirs = "host-b pid 4242 boot 0badc0de.4026531836 run B"
        if givenBack {
            // Taken and given back since: no lease document.
            try locks.deleteMany(["_id": "nightly"])
        } else {
            _ = try locks.upsertByID([BSONDocument(["_id": "nightly", "holder": .string(theirs),
                                                    "expires_at": .date(Date().addingTimeInterval(600))])])
        }
        let outcome = night.wait()

        #expect(outcome.status == 69, "\(outcome.standardError)")
        #expect(outcome.lastLine.hasPrefix("etl-nightly unavailable: the nightly lease expired before this run could renew it ("),
                "\(outcome.lastLine)")
        #expect(outcome.lastLine.contains(givenBack ? "its lease document was gone" : "now held by \(theirs)"), "\(outcome.lastLine)")
        #expect(outcome.lastLine.contains("stopped during etl-load"), "\(outcome.lastLine)")
        #expect(outcome.standardError.contains("\netl-load unavailable: the nightly lease expired"), "\(outcome.standardError)")
        let entries = try String(contentsOfFile: stoppedWork.path + "/ledger/etl_runs.jsonl", encoding: .utf8).split(separator: "\n")
        let load = try #require(entries.last { $0.contains("\"job\" : \"etl-load\"") })
        #expect(load.contains("\"status\" : \"unavailable\"") && load.contains("\"exit_code\" : 69"), "\(load)")
        #expect(try loaded.countDocuments() < trackCount, "stopped before its last bulk write")
        // Another's lease is left alone; the one the renewal re-created is given back.
        #expect(try locks.find(["_id": "nightly"]).next()?["holder"]?.stringValue == (givenBack ? nil : theirs))

        // The stopped load dropped its load state before writing: the next one reads every stored
        // hash, writes the rest, and the collection is what an uninterrupted load makes of it.
        try locks.deleteMany(["_id": "nightly"])
        let next = try JobProcess.run("etl-load", ["--work-dir", stoppedWork.path], environment: environment)
        #expect(next.status == 0, "\(next.standardError)")
        #expect(next.standardError.contains("read every stored hash"), "\(next.standardError)")
        #expect(try pipelineState(uri: uri, database: stopped) == pipelineState(uri: uri, database: clean))
    }
}

import DocumentStore
import Foundation
@testable import Pipeline
import Testing
import TestSupport

/// The nightly's MongoDB lease: a dead holder is taken over only when its pid provably means a
/// process of this machine, boot and pid namespace; a lease lost while unrenewed is noticed.
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
}

import DocumentStore
import Foundation
import Pipeline
import Synchronization
import Testing
import TestSupport

/// The nightly lease's renewal after its client sat idle (renewals are minutes apart): the update
/// that renews it meets a closed connection, is sent again (it matches its own holder, so a resend
/// changes nothing), and the lease stays this holder's.
@Suite struct LeaseRetryTests {
    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        func add(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func aRenewalOnAConnectionClosedWhileIdleKeepsTheLease() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let proxy = try IdleClosingProxy(upstream: IdleClosingProxy.serverAddress(of: uri), idleLimit: .milliseconds(300))
        let warnings = Lines()
        let connection = try MongoConnection(uri: proxy.uri(for: uri),
                                             retry: RetryPolicy(firstDelay: .milliseconds(50), warn: { warnings.add($0) }))
        let lease = Lease(name: "nightly-retry-test", host: "host-a", detail: "test", connection: connection, database: database)
        try lease.acquire()
        defer { lease.release() }
        #expect(proxy.waitUntilIdleConnectionsAreClosed(), "the proxy closed the idle connection")
        try lease.acquire()
        #expect(warnings.all.contains { $0.contains("update on \(database)") }, "\(warnings.all)")

        // Still this holder's: another host is kept out.
        let other = Lease(name: "nightly-retry-test", host: "host-b", detail: "test", connection: try TestServer.connection(),
                          database: database)
        #expect {
            try other.acquire()
        } throws: { error in
            (error as? JobError)?.status == .locked && (error as? JobError)?.message.contains("host-a") == true
        }
    }
}

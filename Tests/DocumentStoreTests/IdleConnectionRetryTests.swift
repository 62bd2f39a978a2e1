import Foundation
import Synchronization
import Testing
import TestSupport
@testable import DocumentStore

/// A pooled client's connection closed while it sat idle (by the server, a firewall or a load
/// balancer; here by `IdleClosingProxy`): each idempotent command is sent again and succeeds, and
/// fails without the retry; other commands and a cursor's later batches are not sent again.
@Suite struct IdleConnectionRetryTests {
    /// The proxy's idle limit, far below the production limits (minutes) so that tests can idle past it.
    static let idleLimit: Duration = .milliseconds(300)

    /// Each kind of command the wrapper sends again, and what it must have done.
    enum Command: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case count, findFirstBatch, upsertByID, deleteByIDs, createIndexes, installValidator, readCommand, drop

        var testDescription: String { rawValue }

        func run(_ collection: MongoCollection, _ client: MongoClient) throws {
            switch self {
            case .count:
                #expect(try collection.countDocuments() == 3)
            case .findFirstBatch:
                #expect(try collection.find([:], options: ["sort": .document(["_id": 1])]).next()?["title"] == "one")
            case .upsertByID:
                let result = try collection.upsertByID([BSONDocument(["_id": 2, "title": "TWO"]), BSONDocument(["_id": 4, "title": "four"])])
                #expect(result.writeErrors.isEmpty)
            case .deleteByIDs:
                try collection.deleteMany(["_id": .document(["$in": [1, 2]])])
            case .createIndexes:
                try collection.createIndexes([["key": .document(["title": 1]), "name": "title_1"]])
            case .installValidator:
                try collection.installValidator(["bsonType": "object", "required": ["title"]])
            case .readCommand:
                let reply = try client.runCommand(["distinct": "items", "key": "title"], database: collection.database, idempotent: true)
                #expect(reply["values"]?.arrayValue?.count == 3)
            case .drop:
                try collection.drop()
            }
        }

        /// Checks, on a connection of its own, that the command took effect.
        func checkEffect(database: String) throws {
            let client = try TestServer.connection().client()
            let collection = try client.collection("items", database: database)
            switch self {
            case .count, .findFirstBatch, .readCommand:
                break  // checked on the result
            case .upsertByID:
                #expect(try collection.countDocuments() == 4)
                #expect(try collection.find(["_id": 2]).next()?["title"] == "TWO")
            case .deleteByIDs:
                #expect(try collection.countDocuments() == 1)
            case .createIndexes:
                let reply = try client.runCommand(["listIndexes": "items"], database: database, idempotent: true)
                let names = reply["cursor"]?.documentValue?["firstBatch"]?.arrayValue?.compactMap { $0.documentValue?["name"]?.stringValue }
                #expect(names?.contains("title_1") == true, "\(String(describing: names))")
            case .installValidator:
                let refused = try collection.upsertByID([BSONDocument(["_id": 9])])
                #expect(refused.writeErrors.first?.code == 121, "the validator is in place")
            case .drop:
                #expect(try collection.countDocuments() == 0)
            }
        }
    }

    /// Warnings a connection gave, for the test to read.
    final class Warnings: Sendable {
        private let lines = Mutex<[String]>([])
        func add(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    /// `items` holding three documents, made on a connection of its own.
    private func seed(_ database: String) throws {
        let collection = try TestServer.connection().client().collection("items", database: database)
        try collection.drop()
        _ = try collection.upsertByID([BSONDocument(["_id": 1, "title": "one"]), BSONDocument(["_id": 2, "title": "two"]),
                                       BSONDocument(["_id": 3, "title": "three"])])
    }

    /// A client through `proxy` whose connection the proxy has closed for being idle.
    private func idleClosedClient(_ proxy: IdleClosingProxy, uri: String, retry: RetryPolicy,
                                  database: String) throws -> (MongoClient, MongoCollection) {
        let connection = try MongoConnection(uri: proxy.uri(for: uri), retry: retry)
        let client = try connection.client()
        let collection = try client.collection("items", database: database)
        #expect(try collection.countDocuments() == 3, "the client's connection is open")
        #expect(proxy.waitUntilIdleConnectionsAreClosed(), "the proxy closed the idle connection")
        return (client, collection)
    }

    @Test(arguments: Command.allCases)
    func anIdempotentCommandOnAConnectionClosedWhileIdleIsSentAgain(_ command: Command) throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let proxy = try IdleClosingProxy(upstream: IdleClosingProxy.serverAddress(of: uri), idleLimit: Self.idleLimit)

        // Sent once, the command meets the closed connection.
        try seed(database)
        do {
            let (client, collection) = try idleClosedClient(proxy, uri: uri, retry: .never, database: database)
            #expect {
                try command.run(collection, client)
            } throws: { error in
                (error as? MongoError)?.kind == .network
            }
        }

        // Sent again after the failure, with a warning, it succeeds.
        try seed(database)
        let warnings = Warnings()
        let (client, collection) = try idleClosedClient(proxy, uri: uri, retry: RetryPolicy(firstDelay: .milliseconds(50), warn: { warnings.add($0) }),
                                                        database: database)
        try command.run(collection, client)
        try command.checkEffect(database: database)
        // At least one resend (a machine stalled past the proxy's limit may add one before the command).
        #expect(warnings.all.contains { $0.contains("sending it again in 0.05 seconds (attempt 2 of 4)") }, "\(warnings.all)")
    }

    @Test func aCommandNotMarkedIdempotentIsSentOnce() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let proxy = try IdleClosingProxy(upstream: IdleClosingProxy.serverAddress(of: uri), idleLimit: Self.idleLimit)
        try seed(database)
        let warnings = Warnings()
        let (client, _) = try idleClosedClient(proxy, uri: uri, retry: RetryPolicy(firstDelay: .milliseconds(50), warn: { warnings.add($0) }),
                                               database: database)
        // An insert that may have applied must not be sent twice: it is not sent again.
        #expect {
            try client.runCommand(["insert": "items", "documents": [.document(["title": "no id: a second send would add another"])]],
                                  database: database, idempotent: false)
        } throws: { error in
            (error as? MongoError)?.kind == .network
        }
        #expect(warnings.all.isEmpty, "\(warnings.all)")
        #expect(try TestServer.connection().client().collection("items", database: database).countDocuments() == 3)
    }

    @Test func aCursorWhoseLaterBatchMeetsAClosedConnectionFails() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let proxy = try IdleClosingProxy(upstream: IdleClosingProxy.serverAddress(of: uri), idleLimit: Self.idleLimit)
        try seed(database)
        let warnings = Warnings()
        let connection = try MongoConnection(uri: proxy.uri(for: uri),
                                             retry: RetryPolicy(firstDelay: .milliseconds(50), warn: { warnings.add($0) }))
        let cursor = try connection.client().collection("items", database: database)
            .find([:], options: ["sort": .document(["_id": 1]), "batchSize": 2])
        #expect(try cursor.next()?["_id"] == 1)
        #expect(try cursor.next()?["_id"] == 2)
        #expect(proxy.waitUntilIdleConnectionsAreClosed())
        // The third document needs a getMore on the server cursor the closed connection held: a new
        // find would start from the first document again, so the error is the caller's.
        #expect {
            _ = try cursor.next()
        } throws: { error in
            (error as? MongoError)?.kind == .network
        }
        #expect(warnings.all.isEmpty, "\(warnings.all)")
    }
}

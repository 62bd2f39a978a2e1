import Foundation
import Testing
import TestSupport
@testable import DocumentStore

/// libmongoc against the test server (or a real MongoDB through MONGODB_URI).
@Suite struct MongoIntegrationTests {
    @Test func bulkUpsertIsIdempotentAndValidatorRejectsAreReportedPerDocument() throws {
        let database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let connection = try TestServer.connection()
        try connection.ping()
        let client = try connection.client()
        let collection = try client.collection("genres", database: database)
        try collection.installValidator(["bsonType": "object", "required": ["title"],
                                         "properties": .document(["title": .document(["bsonType": "string"])])])
        let documents = try [
            BSONDocument(["_id": 1, "title": "Avant-Garde"]),
            BSONDocument(["_id": 2, "title": 42]),  // breaks the validator
            BSONDocument(["_id": 3, "title": "Blues"]),
        ]
        let first = try collection.upsertByID(documents)
        #expect(first.upserted == 2)
        #expect(first.writeErrors.count == 1)
        #expect(first.writeErrors.first?.index == 1)
        #expect(first.writeErrors.first?.code == 121, "DocumentValidationFailure")
        #expect(try collection.countDocuments() == 2)

        let again = try collection.upsertByID([documents[0], documents[2]])
        #expect(again.upserted == 0 && again.matched == 2 && again.modified == 0)
        #expect(try collection.countDocuments() == 2)

        let cursor = try collection.find(["_id": .document(["$gte": 3])])
        let found = try cursor.next()
        #expect(found?["title"] == "Blues")
        #expect(try cursor.next() == nil)
    }

    @Test func unreachableServerIsUnavailableWithinSeconds() throws {
        let connection = try MongoConnection(uri: "mongodb://user:pw@127.0.0.1:1/?directConnection=true")
        let start = Date()
        #expect {
            try connection.ping()
        } throws: { error in
            guard let error = error as? MongoError else { return false }
            return error.kind == .unavailable && error.message.contains("127.0.0.1:1") && !error.message.contains("pw@")
        }
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func invalidURIIsAnInputErrorWithoutTheURIsSecret() {
        #expect {
            _ = try MongoConnection(uri: "mongodb://user:topsecret@/nohost")
        } throws: { error in
            guard let error = error as? MongoError else { return false }
            return error.kind == .invalidInput && !error.message.contains("topsecret")
        }
    }
}

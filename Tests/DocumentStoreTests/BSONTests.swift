import Foundation
import Testing
@testable import DocumentStore

@Suite struct BSONTests {
    let sample: Document = [
        "_id": 21, "title": "Hip-Hop", "ratio": 0.1, "big": .int64(1 << 40), "none": nil, "flag": true,
        "when": .dateTime(1_227_663_692_000), "ids": [15, 42, 184],
        "album": .document(["id": 1, "title": "AWOL - A Way Of Life"]), "nan": .double(.nan),
    ]

    @Test func documentRoundTripsThroughLibbson() throws {
        let decoded = try BSONDocument(sample).document()
        #expect(decoded.keys == sample.keys, "key order is kept")
        for field in sample where field.key != "nan" {
            #expect(decoded[field.key] == field.value, "\(field.key)")
        }
        guard case .double(let nan)? = decoded["nan"] else { Issue.record("nan lost its type"); return }
        #expect(nan.isNaN)
    }

    @Test func relaxedJSONRoundTripKeepsTypesAndBytes() throws {
        let original = try BSONDocument(sample)
        let json = original.relaxedExtendedJSON
        #expect(json.contains("\"title\" : \"Hip-Hop\""))
        #expect(json.contains("\"$date\" : \"2008-11-26T01:41:32Z\""))
        let reparsed = try BSONDocument(json: json)
        // Same bytes: the narrowest-integer rule matches what libbson's JSON parser picks.
        let originalBytes = original.withRawBytes { Array($0) }
        #expect(reparsed.withRawBytes { Array($0) } == originalBytes)
    }

    @Test func integersAreNarrowestWidth() {
        #expect(BSONValue.integer(Int64(Int32.max)) == .int32(.max))
        #expect(BSONValue.integer(Int64(Int32.max) + 1) == .int64(Int64(Int32.max) + 1))
        #expect(BSONValue.integer(-5) == .int32(-5))
    }

    @Test func invalidJSONIsATypedErrorWithLibbsonsMessage() {
        #expect {
            _ = try BSONDocument(json: "{\"a\": ")
        } throws: { error in
            guard let error = error as? MongoError else { return false }
            return error.kind == .invalidInput && !error.message.isEmpty
        }
    }

    @Test func dottedPathsReachIntoSubDocuments() {
        #expect(sample[path: "album.title"] == "AWOL - A Way Of Life")
        #expect(sample[path: "album.missing"] == nil)
        #expect(sample[path: "title.x"] == nil)
    }

    @Test func subscriptAssignmentReplacesAppendsAndRemoves() {
        var document: Document = ["a": 1, "b": 2]
        document["a"] = 10
        document["c"] = 3
        document["b"] = nil
        #expect(document == ["a": 10, "c": 3])
    }

    @Test func passwordsAreRedactedFromURIs() {
        #expect(MongoConnection.redact("mongodb://etl:s3cret@db1:27017,db2/?replicaSet=rs") == "mongodb://etl:***@db1:27017,db2/?replicaSet=rs")
        #expect(MongoConnection.redact("mongodb://127.0.0.1:1") == "mongodb://127.0.0.1:1")
    }

    @Test func schemaValidatorStripsAnnotationsAtEveryDepth() throws {
        let schema = try EntitySchema(document: [
            "$schema": "x", "$id": "y", "title": "genre", "x-collection": "genres", "required": ["_id"],
            "properties": .document(["_id": .document(["bsonType": "int", "x-columns": ["genre_id"], "x-type": "int"])]),
        ], path: "inline")
        #expect(schema.collection == "genres")
        #expect(schema.properties.first?.columns == ["genre_id"])
        #expect(schema.validator == ["title": "genre", "required": ["_id"],
                                     "properties": .document(["_id": .document(["bsonType": "int"])])])
    }
}

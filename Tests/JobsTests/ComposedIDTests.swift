import DocumentStore
import Pipeline
import Tabular
import Testing
@testable import ExtractStage

/// `x-compose` on `_id`: the id is the named properties' coerced values joined by the separator,
/// read from no column of its own; a bad keyword is a schema error (exit 64).
@Suite struct ComposedIDTests {
    static func schema(compose: BSONValue) throws -> EntitySchema {
        try EntitySchema(document: [
            "title": "play", "x-collection": "plays", "required": ["_id", "session", "position"],
            "properties": .document([
                "_id": .document(["bsonType": "string", "x-type": "string", "x-compose": compose]),
                "session": .document(["bsonType": "string", "x-type": "string"]),
                "position": .document(["bsonType": "int", "x-type": "int"]),
                "weight": .document(["bsonType": "double", "x-type": "double"]),
            ]),
        ], path: "inline")
    }

    @Test func theIDIsTheCoercedValuesJoined() throws {
        let schema = try Self.schema(compose: .document(["properties": ["session", "weight", "position"], "separator": ":"]))
        var plan = try ExtractPlan(schema: schema)
        // A column called _id is not the id's: it stays an extra.
        let header = ["session", "position", "weight", "_id"]
        let binding = plan.bind(header: header)
        #expect(binding.missingRequired.isEmpty)
        #expect(plan.extras.map(\.name) == ["_id"])
        let builder = RowBuilder(plan: plan, header: header)
        var slots = RowSlots(leaves: plan.leaves.count)
        func id(_ fields: [String]) -> String {
            switch builder.coerce(CSVRecord(fields: fields), into: &slots) {
            case .success(let id): "id \(id)"
            case .failure(let reject): "rejected \(reject.column): \(reject.reason)"
            }
        }
        #expect(id(["s1", "01", "2.50", "x"]) == "id s1:2.5:1")
        #expect(id(["s1", " 7 ", "3", ""]) == "id s1:3:7")
        #expect(id(["s1", "2", "", ""]) == "rejected weight: the id needs weight, which is empty")
        #expect(id(["", "2", "1", ""]) == "rejected session: required field session is empty")
        #expect(plan.idColumnDescription == "session+weight+position")
        // The keyword is the extract's: MongoDB's validator never sees it.
        #expect(schema.validator["properties"]?.documentValue?["_id"]?.documentValue?["x-compose"] == nil)
    }

    @Test func aComposeThatNamesNoPropertyIsASchemaError() throws {
        for compose: BSONValue in [.document(["properties": ["session", "nothing"], "separator": ":"]),
                                   .document(["properties": ["session"]]), .string("session:position"),
                                   // The duplicate check splits an id at its last separator: one
                                   // property, an empty separator or a last part that is no integer
                                   // would make that split ambiguous.
                                   .document(["properties": ["position"], "separator": ":"]),
                                   .document(["properties": ["session", "position"], "separator": ""]),
                                   .document(["properties": ["position", "session"], "separator": ":"])] {
            #expect {
                _ = try ExtractPlan(schema: try Self.schema(compose: compose))
            } throws: { error in
                (error as? JobError)?.status == .usage && (error as? JobError)?.message.contains("x-compose of _id must be") == true
            }
        }
    }
}

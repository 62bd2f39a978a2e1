import DocumentStore
import Tabular
import Testing
@testable import ETLJobs
@testable import ExtractStage

/// Integer and double cells go straight into their slots when they are within the schema's range;
/// a value outside it is still refused with the general path's message, at either end (nulled and
/// reported, the field being optional).
@Suite struct RowRangeTests {
    @Test func numbersOutsideTheRangeAreRejected() throws {
        let schema = try EntitySchema(document: [
            "title": "thing", "x-collection": "things", "required": ["_id"],
            "properties": .document([
                "_id": .document(["bsonType": "int", "x-columns": ["id"], "x-type": "int"]),
                "count": .document(["bsonType": "int", "x-columns": ["count"], "x-type": "int", "minimum": 0, "maximum": 10]),
                "latitude": .document(["bsonType": "double", "x-columns": ["latitude"], "x-type": "double", "minimum": -90, "maximum": 90]),
            ]),
        ], path: "inline")
        var plan = try ExtractPlan(schema: schema)
        _ = plan.bind(header: ["id", "count", "latitude"])
        let builder = RowBuilder(plan: plan, header: ["id", "count", "latitude"])
        let countLeaf = try #require(plan.leaves.firstIndex { $0.name == "count" })
        let latitudeLeaf = try #require(plan.leaves.firstIndex { $0.name == "latitude" })
        var slots = RowSlots(leaves: plan.leaves.count)
        func reason(_ count: String, latitude: String = "1.5") -> String? {
            switch builder.coerce(CSVRecord(fields: ["1", count, latitude]), into: &slots) {
            // An optional field's value out of range is nulled and reported (`x-on-invalid`).
            case .success: slots.repairs.first?.reason
            case .failure(let reject): reject.reason
            }
        }
        for accepted in ["0", "7", "10"] {
            #expect(reason(accepted) == nil)
            #expect(slots.value(countLeaf) == .int(Int64(accepted) ?? -1))
        }
        #expect(reason("11") == "count must be ≤ 10, got 11")
        #expect(reason("-1") == "count must be ≥ 0, got -1")
        #expect(reason("x")?.contains("integer") == true)
        for accepted in ["-90", "0.25", "90"] {
            #expect(reason("1", latitude: accepted) == nil)
            #expect(slots.value(latitudeLeaf) == .double(Double(accepted) ?? .nan))
        }
        #expect(reason("1", latitude: "90.5") == "latitude must be ≤ 90, got 90.5")
        #expect(reason("1", latitude: "-91") == "latitude must be ≥ -90, got -91")
    }
}

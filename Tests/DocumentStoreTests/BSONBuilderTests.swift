import Foundation
import Testing
@testable import DocumentStore
import TestSupport

@Suite struct BSONBuilderTests {
    func bytes(_ document: Document) throws -> [UInt8] {
        try BSONDocument(document).withRawBytes { Array($0) }
    }

    func withBytes<T>(_ text: [UInt8], _ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        try text.withUnsafeBufferPointer(body)
    }

    /// Every kind of field the extract job appends, nested, against `BSONDocument(Document)`.
    @Test func sameBytesAsBSONDocumentForTheSameValues() throws {
        let builder = try BSONBuilder()
        try builder.append(BSONKey("_id"), int64: 2)
        try withBytes(Array("Électric Av\n\"quoted\" \u{1}".utf8)) { try builder.append(BSONKey("title"), validUTF8: $0) }
        try builder.append(BSONKey("duration"), double: 168)
        try builder.append(BSONKey("ratio"), double: 0.1)
        try builder.append(BSONKey("nan"), double: .nan)
        try builder.append(BSONKey("big"), int64: 1 << 40)
        try builder.append(BSONKey("when"), dateTime: 1_227_664_092_000)
        try builder.append(BSONKey("before1970"), dateTime: -1)
        try builder.appendNull(BSONKey("composer"))
        try builder.append(BSONKey("flag"), bool: true)
        try builder.append(BSONKey("empty"), string: "")
        try builder.beginDocument(BSONKey("album"))
        try builder.append(BSONKey("id"), int64: 1)
        try builder.append(BSONKey("title"), string: "AWOL - A Way Of Life")
        try builder.beginArray(BSONKey("tags"))
        try builder.append(.index(0), string: "a")
        try builder.beginDocument(.index(1))
        try builder.append(BSONKey("k"), int64: -5)
        try builder.endDocument()
        try builder.endArray()
        try builder.endDocument()
        try builder.beginArray(BSONKey("genres"))
        for (index, genre) in [21, 1235, 4_000_000_000].enumerated() { try builder.append(.index(index), int64: Int64(genre)) }
        try builder.endArray()
        try builder.beginArray(BSONKey("none"))
        try builder.endArray()

        let expected: Document = [
            "_id": .int32(2), "title": "Électric Av\n\"quoted\" \u{1}", "duration": .double(168), "ratio": 0.1,
            "nan": .double(.nan), "big": .int64(1 << 40), "when": .dateTime(1_227_664_092_000),
            "before1970": .dateTime(-1), "composer": nil, "flag": true, "empty": "",
            "album": .document(["id": .int32(1), "title": "AWOL - A Way Of Life",
                                "tags": .array(["a", .document(["k": .int32(-5)])])]),
            "genres": .array([.int32(21), .int32(1235), .int64(4_000_000_000)]),
            "none": .array([]),
        ]
        #expect(try builder.rawBytes() == bytes(expected))
        #expect(try builder.withRawBytes { Array($0) } == bytes(expected))
        #expect(try builder.document().withRawBytes { Array($0) } == bytes(expected))
    }

    @Test func integersTakeTheNarrowestWidth() throws {
        let builder = try BSONBuilder()
        let values: [Int64] = [0, -1, Int64(Int32.max), Int64(Int32.min), Int64(Int32.max) + 1, Int64(Int32.min) - 1,
                               .max, .min]
        for (index, value) in values.enumerated() { try builder.append(.index(index), int64: value) }
        let decoded = try builder.document().document()
        #expect(decoded.fields.map(\.value) == values.map { BSONValue.integer($0) })
        #expect(decoded.fields.prefix(4).allSatisfy { if case .int32 = $0.value { true } else { false } })
        #expect(decoded.fields.suffix(4).allSatisfy { if case .int64 = $0.value { true } else { false } })
    }

    /// The staging line, each type as `JSONLineEncoder` writes it, and libbson reads it back to
    /// the same bytes (the narrowest-integer rule is what its parser picks), doubles bit-exact.
    @Test func jsonLineRoundTripsToTheSameBytes() throws {
        let builder = try BSONBuilder()
        try builder.append(BSONKey("_id"), int64: 2)
        try builder.append(BSONKey("x"), double: 0.1)
        try builder.append(BSONKey("lat"), double: 40.0583238)
        try builder.append(BSONKey("whole"), double: 168)
        try builder.append(BSONKey("tiny"), double: 1e-5)
        try builder.append(BSONKey("inf"), double: -.infinity)
        try builder.append(BSONKey("nan"), double: .nan)
        try builder.append(BSONKey("negativeZero"), double: -0.0)
        try builder.append(BSONKey("big"), double: 1e300)
        try builder.append(BSONKey("when"), dateTime: 951_782_400_123)
        try builder.append(BSONKey("midnight"), dateTime: 0)
        try builder.append(BSONKey("before1970"), dateTime: -1_000)
        try builder.append(BSONKey("text"), string: "a\"b\\c\n\u{1}é\u{0}")
        try builder.append(BSONKey("flag"), bool: true)
        try builder.appendNull(BSONKey("none"))
        try builder.beginDocument(BSONKey("k\"ey"))
        try builder.append(BSONKey("small"), int64: -3)
        try builder.endDocument()
        try builder.beginArray(BSONKey("ids"))
        try builder.append(.index(0), int64: 5_000_000_000)
        try builder.endArray()
        let json = try builder.jsonLine()
        #expect(json == (try builder.document().jsonLine()))
        #expect(!json.contains("\n"))
        #expect(json.hasPrefix(#"{"_id":2,"x":0.1,"lat":40.0583238,"whole":168.0,"tiny":1e-05,"#), "\(json)")
        #expect(json.contains(#""inf":{"$numberDouble":"-Infinity"},"nan":{"$numberDouble":"NaN"},"negativeZero":-0.0,"big":1e+300"#))
        #expect(json.contains(#""when":{"$date":"2000-02-29T00:00:00.123Z"},"midnight":{"$date":"1970-01-01T00:00:00Z"},"#))
        #expect(json.contains(#""before1970":{"$date":{"$numberLong":"-1000"}}"#))
        #expect(json.contains(#""text":"a\"b\\c\n\u0001é\u0000","flag":true,"none":null,"k\"ey":{"small":-3}"#), "\(json)")
        #expect(json.hasSuffix(#""ids":[5000000000]}"#))
        let reparsed = try BSONDocument(json: json)
        #expect(reparsed.withRawBytes { Array($0) } == (try builder.rawBytes()))
        #expect(reparsed["lat"] == .double(40.0583238) && reparsed["x"] == .double(0.1) && reparsed["tiny"] == .double(1e-5))
        // Any JSON reader reads it (the dates and non-finite numbers as Extended JSON objects).
        #expect(try JSONSerialization.jsonObject(with: Data(json.utf8)) is [String: Any])
    }

    /// Dates across the ISO range (leap days, centuries, the millisecond part) and outside it
    /// read back through libbson's parser as the same instant.
    @Test func jsonLineDatesReadBackAsTheSameInstant() throws {
        var random = SplitMix64(seed: 1970)
        let builder = try BSONBuilder()
        var samples: [Int64] = [0, 1, 951_782_400_000, 4_107_542_399_999, 253_402_300_799_999, 253_402_300_800_000, -1, -62_135_596_800_000]
        for _ in 0..<2000 { samples.append(Int64(random.next() % 253_402_300_800_000)) }
        for milliseconds in samples {
            builder.reset()
            try builder.append(BSONKey("t"), dateTime: milliseconds)
            let json = try builder.jsonLine()
            #expect(try BSONDocument(json: json)["t"] == .dateTime(milliseconds), "\(json)")
        }
    }

    @Test func resetReusesTheBuilderEvenAfterAnError() throws {
        let builder = try BSONBuilder()
        try builder.append(BSONKey("a"), int64: 1)
        try builder.beginDocument(BSONKey("open"))
        try builder.beginArray(BSONKey("deeper"))
        #expect(builder.depth == 2)
        #expect(throws: BSONBuilderError.self) { try builder.rawBytes() }
        builder.reset()
        #expect(builder.depth == 0)
        try builder.append(BSONKey("b"), string: "x")
        #expect(try builder.rawBytes() == bytes(["b": "x"]))
        builder.reset()
        #expect(try builder.rawBytes() == bytes([:]))
    }

    @Test func invalidUseIsATypedErrorNotACrash() throws {
        let builder = try BSONBuilder()
        let nulKey = #expect(throws: BSONBuilderError.self) { try builder.append(BSONKey("a\u{0}b"), int64: 1) }
        #expect(nulKey?.description.contains("NUL") == true)
        #expect(nulKey?.key == "a\u{0}b")
        let unopened = #expect(throws: BSONBuilderError.self) { try builder.endDocument() }
        #expect(unopened?.message.contains("without a matching begin") == true)
        try builder.beginArray(BSONKey("list"))
        let mismatched = #expect(throws: BSONBuilderError.self) { try builder.endDocument() }
        #expect(mismatched?.message.contains("open array") == true)
        #expect(throws: BSONBuilderError.self) { try builder.jsonLine() }
        try builder.endArray()
        #expect(try builder.rawBytes() == bytes(["list": .array([])]), "the refused field left nothing behind")
    }

    @Test func copiesElementsOfARawDocument() throws {
        let fragments = try bytes(["0": "AWOL", "1": nil, "2": .document(["x": 1.5])])
        let builder = try BSONBuilder()
        #expect(try builder.append(BSONKey("title"), elementAt: 0, ofRawDocument: fragments))
        #expect(try builder.append(BSONKey("date"), elementAt: 1, ofRawDocument: fragments))
        #expect(try builder.append(BSONKey("nested"), elementAt: 2, ofRawDocument: fragments))
        #expect(try !builder.append(BSONKey("beyond"), elementAt: 3, ofRawDocument: fragments))
        #expect(try !builder.append(BSONKey("corrupt"), elementAt: 0, ofRawDocument: [1, 2, 3]))
        #expect(try builder.rawBytes() == bytes(["title": "AWOL", "date": nil, "nested": .document(["x": 1.5])]))
    }

    /// Invalid UTF-8 becomes U+FFFD exactly as Swift's decoder replaces it, and is reported.
    @Test func invalidUTF8IsReplacedLikeSwiftDoesAndReported() throws {
        let samples: [[UInt8]] = [
            Array("Electric Av".utf8) + [0xE9],
            [0x41, 0xFF, 0x42], [0xE2, 0x82], [0xF0, 0x9F, 0x98, 0x80], [0xED, 0xA0, 0x80], [0xC0, 0xAF],
            Array("é ✓ 😀".utf8), Array("plain ASCII, long enough for the 8-byte path".utf8),
            Array("0123456789abcdef".utf8) + [0xC3] + Array("0123456789".utf8), [],
        ]
        let builder = try BSONBuilder()
        for bytes in samples {
            builder.reset()
            let valid = try withBytes(bytes) { try builder.append(BSONKey("t"), repairingUTF8: $0) }
            let swift = String(decoding: bytes, as: UTF8.self)
            #expect(valid == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
            #expect(try builder.document()["t"] == .string(swift), "\(bytes)")
            #expect(withBytes(bytes) { UTF8Validation.isValid($0) } == valid)
            #expect(try builder.jsonLine().isEmpty == false, "the repaired text prints")
        }
    }

    /// Lines come out in order, one per document, across the chunks delivered to the sink.
    @Test func linePrinterKeepsOrderAcrossChunks() throws {
        func printed() throws -> [UInt8] {
            var output: [UInt8] = []
            let printer = JSONLinePrinter(batchBytes: 200) { output.append(contentsOf: $0) }
            let builder = try BSONBuilder()
            for id in 0..<500 {
                builder.reset()
                try builder.append(BSONKey("_id"), int64: Int64(id))
                try builder.append(BSONKey("text"), string: String(repeating: "é\"", count: id % 7))
                try builder.append(BSONKey("x"), double: Double(id) / 3)
                try printer.add(builder)
            }
            try printer.finish()
            #expect(printer.count == 500)
            return output
        }
        let inline = try printed()
        let lines = String(decoding: inline, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 500 && inline.last == UInt8(ascii: "\n"))
        for (id, line) in lines.enumerated() {
            let document = try BSONDocument(json: String(line))
            #expect(document["_id"] == .int32(Int32(id)) && document["x"] == .double(Double(id) / 3))
        }
    }
}

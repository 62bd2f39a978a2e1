import CMongoC
import Foundation
import Testing
import TestSupport
@testable import DocumentStore

/// `RelaxedJSONWriter` against libbson's own `bson_as_relaxed_extended_json`: every document,
/// edge case or random, must print byte for byte the same (or be refused by both).
@Suite struct RelaxedJSONWriterTests {
    /// libbson's print, or nil when it refuses.
    static func libbson(_ document: OpaquePointer) -> [UInt8]? {
        var length = 0
        guard let text = bson_as_relaxed_extended_json(document, &length) else { return nil }
        defer { bson_free(text) }
        return Array(UnsafeRawBufferPointer(start: text, count: length))
    }

    /// The writer's print, or nil when it refuses, and whether it handed the document to libbson.
    static func fast(_ document: OpaquePointer, writer: RelaxedJSONWriter = RelaxedJSONWriter(capacity: 64))
        -> (text: [UInt8]?, fellBack: Bool) {
        writer.removeAll()
        let fallbacks = writer.fallbacks
        let printed = writer.append(document: document)
        return (printed ? Array(writer.bytes) : nil, writer.fallbacks > fallbacks)
    }

    /// Same bytes as libbson; `native`: the writer printed it itself (no fallback).
    static func expectSame(_ document: BSONDocument, native: Bool, writer: RelaxedJSONWriter = RelaxedJSONWriter(capacity: 64),
                           sourceLocation: SourceLocation = #_sourceLocation) {
        let expected = libbson(document.pointer)
        let (text, fellBack) = fast(document.pointer, writer: writer)
        let shown = expected.map { String(decoding: $0, as: UTF8.self) } ?? "nil"
        #expect(text == expected, "libbson: \(shown)\nwriter:  \(text.map { String(decoding: $0, as: UTF8.self) } ?? "nil")",
                sourceLocation: sourceLocation)
        #expect(fellBack == !native, "fell back: \(fellBack) for \(shown)", sourceLocation: sourceLocation)
    }

    static func text(_ document: BSONDocument) -> String {
        let (text, _) = fast(document.pointer)
        return text.map { String(decoding: $0, as: UTF8.self) } ?? "nil"
    }

    // MARK: Edge cases

    /// The writer's own small copies (keys, separators, short values): every length across the
    /// size classes, exactly the bytes asked for and nothing beside them.
    @Test func copiesEveryLengthExactly() {
        let source = (0..<80).map { UInt8($0 + 1) }
        for count in 0...72 {
            var destination = [UInt8](repeating: 0xEE, count: count + 40)
            destination.withUnsafeMutableBufferPointer { to in
                source.withUnsafeBufferPointer { from in
                    RelaxedJSONWriter.Output.copy(to.baseAddress! + 4, from.baseAddress! + 3, count)
                }
            }
            #expect(Array(destination[4..<(4 + count)]) == Array(source[3..<(3 + count)]), "length \(count)")
            #expect(destination[..<4].allSatisfy { $0 == 0xEE } && destination[(4 + count)...].allSatisfy { $0 == 0xEE },
                    "length \(count) wrote outside its bytes")
        }
    }

    @Test func emptyAndNestedEmptyContainers() throws {
        #expect(Self.text(try BSONDocument([:])) == "{ }")
        Self.expectSame(try BSONDocument([:]), native: true)
        // libbson prints an empty *nested* document or array with two spaces.
        let nested = try BSONDocument(["d": .document([:]), "a": .array([]), "x": .array([.array([]), .document(["e": .document([:])])])])
        #expect(Self.text(nested) == #"{ "d" : {  }, "a" : [  ], "x" : [ [  ], { "e" : {  } } ] }"#)
        Self.expectSame(nested, native: true)
    }

    @Test func everyControlCharacterQuoteBackslashAndDEL() throws {
        for byte in UInt8(0)...0x7F {
            let text = "a" + String(UnicodeScalar(byte)) + "b"
            Self.expectSame(try BSONDocument(["k": .string(text)]), native: true)
            if byte != 0 {
                // Keys are C strings: no NUL.
                Self.expectSame(try BSONDocument([text: .string(text)]), native: true)
            }
        }
        let all = String((0..<0x80).map { Character(UnicodeScalar(UInt8($0))) })
        Self.expectSame(try BSONDocument(["all": .string(all), "twice": .string(all + all + "\"\\\"")]), native: true)
        #expect(Self.text(try BSONDocument(["k": "\u{0}\u{1}\u{8}\u{9}\u{A}\u{B}\u{C}\u{D}\u{1F}\u{7F}\"\\/"]))
                == "{ \"k\" : \"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f\u{7F}\\\"\\\\/\" }")
    }

    @Test func multiByteTextAndLongRuns() throws {
        let samples = ["é", "Électric Av", "✓ 日本語のタイトル", "😀 emoji 🎵🎶", "mixed \"é\" \\ 😀\n\t end",
                       String(repeating: "plain ASCII text ", count: 100), String(repeating: "é", count: 33),
                       String(repeating: "abcdefg\u{1}", count: 17), "\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}"]
        for sample in samples {
            Self.expectSame(try BSONDocument(["t": .string(sample), sample: .string(sample)]), native: true)
        }
        // Every alignment of a special byte within the 8-byte scan.
        for length in 0..<24 {
            for position in 0..<max(length, 1) {
                var bytes = Array(repeating: UInt8(ascii: "x"), count: length)
                for special: UInt8 in [0x22, 0x5C, 0x0A, 0x00, 0x7F] where position < length {
                    bytes[position] = special
                    Self.expectSame(try BSONDocument(["t": .string(String(decoding: bytes, as: UTF8.self))]), native: true)
                }
            }
        }
    }

    @Test func doubles() throws {
        var values: [Double] = [0.0, -0.0, 1.0, -1.0, 0.1, 0.2, 0.3, 1.5, 1e300, -1e300, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 1e21, 1e20, 1e19,
                                9.2e18, 9_223_372_036_854_775_808, 1e-7, 1e-4, 1e-5, 123_456_789_012_345_680, 2.5e-308,
                                .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNormalMagnitude, 168, 40.0583238,
                                -73.9712488, 3.141592653589793, 1.0 / 3.0, 2.0 / 3.0, 0.5, 0.25, 100, 12_345_678_901_234_567_168,
                                .ulpOfOne, 1 + .ulpOfOne, 4_503_599_627_370_496.5, 9_007_199_254_740_994]
        for exponent in -30...30 { values.append(pow(2, Double(exponent))); values.append(pow(10, Double(exponent))) }
        for value in values {
            Self.expectSame(try BSONDocument(["x": .double(value), "n": .double(-value)]), native: true)
        }
        #expect(Self.text(try BSONDocument(["a": .double(1), "b": .double(-0.0), "c": .double(0.1), "d": .double(1e21)]))
                == #"{ "a" : 1.0, "b" : -0.0, "c" : 0.10000000000000000555, "d" : 1e+21 }"#)
        let special = try BSONDocument(["nan": .double(.nan), "inf": .double(.infinity), "minf": .double(-.infinity),
                                        "snan": .double(.signalingNaN), "negnan": .double(-Double.nan)])
        Self.expectSame(special, native: true)
        #expect(Self.text(special).hasPrefix(#"{ "nan" : { "$numberDouble" : "NaN" }, "inf" : { "$numberDouble" : "Infinity" }, "minf" : { "$numberDouble" : "-Infinity" }"#))
    }

    @Test func integers() throws {
        let document = try BSONDocument(["a": .int32(.min), "b": .int32(.max), "c": .int32(0), "d": .int32(-1),
                                         "e": .int64(.min), "f": .int64(.max), "g": .int64(0), "h": .int64(-10),
                                         "i": .int64(1_000_000_000_000), "j": .int64(9), "k": .int64(10), "l": .int64(99)])
        Self.expectSame(document, native: true)
        #expect(Self.text(document) == #"{ "a" : -2147483648, "b" : 2147483647, "c" : 0, "d" : -1, "e" : -9223372036854775808, "f" : 9223372036854775807, "g" : 0, "h" : -10, "i" : 1000000000000, "j" : 9, "k" : 10, "l" : 99 }"#)
        for power in 0...18 {
            let value = Int64(pow(10, Double(power)))
            Self.expectSame(try BSONDocument(["v": .int64(value), "w": .int64(value - 1), "x": .int64(-value)]), native: true)
        }
    }

    @Test func dates() throws {
        let year10000: Int64 = 253_402_300_800_000
        let values: [Int64] = [0, 1, 999, 1000, 1001, -1, -1000, -62_135_596_800_000, 951_782_400_123, 1_227_664_092_000,
                               253_402_300_799_000, 253_402_300_799_999, year10000, year10000 + 1, 4_102_444_800_000,
                               68_256_000_000, 946_684_799_999, 7_258_118_400_000, .min, .max, Int64(Int32.max) * 1000]
        for value in values {
            Self.expectSame(try BSONDocument(["when": .dateTime(value)]), native: true)
        }
        #expect(Self.text(try BSONDocument(["a": .dateTime(0), "b": .dateTime(951_782_400_123), "c": .dateTime(-1)]))
                == #"{ "a" : { "$date" : "1970-01-01T00:00:00Z" }, "b" : { "$date" : "2000-02-29T00:00:00.123Z" }, "c" : { "$date" : { "$numberLong" : "-1" } } }"#)
        // libbson 1.23 has no upper limit: year 10000 is still an ISO string.
        #expect(Self.text(try BSONDocument(["d": .dateTime(year10000)])) == #"{ "d" : { "$date" : "10000-01-01T00:00:00Z" } }"#)
        // Every day of a few leap cycles, and times of day.
        var day: Int64 = 0
        while day < 3 * 146_097 {
            let ms = day * 86_400_000 + (day % 1000) * 86_399
            Self.expectSame(try BSONDocument(["d": .dateTime(ms)]), native: true)
            day += 7
        }
    }

    @Test func otherTypesFallBackToLibbsonForTheWholeDocument() throws {
        let others: [BSONValue] = [.objectID("0123456789abcdef01234567"), .binary([0, 1, 2, 255]), .decimal128("1.5E+10"),
                                   .timestamp(seconds: 1, increment: 2)]
        for other in others {
            Self.expectSame(try BSONDocument(["a": "text", "x": other]), native: false)
            Self.expectSame(try BSONDocument(["a": .document(["deep": .array([1, other])]), "b": 2.5]), native: false)
        }
        // Types BSONValue does not build, appended with libbson's API.
        let document = try BSONDocument(["a": 1])
        #expect(bson_append_undefined(document.pointer, "u", -1))
        #expect(bson_append_minkey(document.pointer, "min", -1))
        #expect(bson_append_maxkey(document.pointer, "max", -1))
        #expect(bson_append_regex(document.pointer, "re", -1, "^a.*\"", "i"))
        #expect(bson_append_code(document.pointer, "code", -1, "function() {}"))
        #expect(bson_append_symbol(document.pointer, "sym", -1, "s", 1))
        Self.expectSame(document, native: false)
        // A writer keeps working natively after a fallback.
        let writer = RelaxedJSONWriter()
        Self.expectSame(document, native: false, writer: writer)
        Self.expectSame(try BSONDocument(["plain": "é"]), native: true, writer: writer)
    }

    @Test func deepNestingFallsBackBeyondTheNativeDepth() throws {
        for depth in [RelaxedJSONWriter.nativeDepth - 1, RelaxedJSONWriter.nativeDepth, RelaxedJSONWriter.nativeDepth + 1, 150, 210] {
            var value: BSONValue = .array(["leaf"])
            for level in 0..<depth { value = level % 2 == 0 ? .document(["k": value]) : .array([value]) }
            // `value` nests depth + 1 containers below the top-level document.
            Self.expectSame(try BSONDocument(["v": value]), native: depth + 1 <= RelaxedJSONWriter.nativeDepth)
        }
    }

    // MARK: Refusals

    /// A document with raw bytes as a string value (libbson appends them unchecked).
    static func document(string bytes: [UInt8], key: [UInt8] = Array("k".utf8), nested: Bool = false) throws -> BSONDocument {
        let document = try BSONDocument()
        let child = try BSONDocument()
        let target = nested ? child.pointer : document.pointer
        let appended = bytes.withUnsafeBufferPointer { text in
            (key + [0]).withUnsafeBufferPointer { name in
                name.withMemoryRebound(to: CChar.self) { name in
                    text.withMemoryRebound(to: CChar.self) { bson_append_utf8(target, name.baseAddress, -1, $0.baseAddress, Int32(bytes.count)) }
                }
            }
        }
        #expect(appended)
        if nested {
            #expect(bson_append_int32(document.pointer, "first", -1, 1))
            #expect(bson_append_document(document.pointer, "child", -1, child.pointer))
        }
        return document
    }

    @Test func invalidUTF8IsRefusedAsLibbsonRefusesIt() throws {
        let invalid: [[UInt8]] = [[0xFF], [0x80], [0xC3], [0xC3, 0x28], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xC0, 0xAF],
                                  [0xC0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
                                  Array("0123456789abcdef".utf8) + [0xE9] + Array("tail".utf8)]
        for bytes in invalid {
            for nested in [false, true] {
                let document = try Self.document(string: bytes, nested: nested)
                #expect(Self.libbson(document.pointer) == nil, "\(bytes) libbson refuses")
                #expect(Self.fast(document.pointer).text == nil, "\(bytes)")
                let badKey = try Self.document(string: Array("v".utf8), key: Array("k".utf8) + bytes.filter { $0 != 0 }, nested: nested)
                #expect(Self.fast(badKey.pointer).text == Self.libbson(badKey.pointer), "key \(bytes)")
            }
        }
        // Valid text with an embedded NUL and every length of sequence prints natively.
        Self.expectSame(try Self.document(string: [0x61, 0x00, 0x62, 0xC3, 0xA9, 0xE2, 0x9C, 0x93, 0xF0, 0x9F, 0x98, 0x80]), native: true)
    }

    /// The escaping loop looks at 16 bytes per step: every escape, multi-byte character and
    /// invalid sequence at every offset of the first three steps, with text before and after.
    @Test func specialBytesAtEveryOffsetOfLongText() throws {
        let escaped: [[UInt8]] = ["\"", "\\", "\n", "\u{1}", "\u{1F}", "\u{7F}", "é", "日", "😀"].map { Array($0.utf8) } + [[0x00]]
        let invalid: [[UInt8]] = [[0xFF], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80]]
        for offset in 0..<48 {
            for tail in [0, 1, 15, 16, 17, 40] {
                let before = Array(repeating: UInt8(ascii: "x"), count: offset)
                let after = Array(repeating: UInt8(ascii: "y"), count: tail)
                for piece in escaped {
                    Self.expectSame(try Self.document(string: before + piece + after + piece), native: true)
                }
                for piece in invalid {
                    let document = try Self.document(string: before + piece + after)
                    #expect(Self.libbson(document.pointer) == nil)
                    #expect(Self.fast(document.pointer).text == nil, "\(piece) at \(offset)")
                }
            }
        }
    }

    @Test func corruptBSONIsPrintedOrRefusedAsLibbsonDoes() throws {
        var random = SplitMix64(seed: 7)
        let original = try BSONDocument([
            "_id": 2, "title": "Électric \"Av\"\n", "x": 0.1, "whole": 168.0, "when": .dateTime(951_782_400_123),
            "before": .dateTime(-1), "flag": true, "none": nil, "wide": .int64(5_000_000_000), "narrow": .int32(-7),
            "album": .document(["id": 1, "tags": .array(["a", "日本", .document(["k": -5])]), "empty": .array([])]),
        ])
        let bytes = original.withRawBytes { Array($0) }
        let storage = UnsafeMutableRawPointer.allocate(byteCount: musicetl_bson_size(), alignment: musicetl_bson_alignment())
        defer { storage.deallocate() }
        let writer = RelaxedJSONWriter()
        var checked = 0
        for _ in 0..<3000 {
            var mutated = bytes
            for _ in 0..<(1 + Int(random.next() % 3)) {
                // Keep the outer length and final NUL, so bson_init_static accepts the document.
                let position = 4 + Int(random.next() % UInt64(bytes.count - 5))
                mutated[position] = UInt8(truncatingIfNeeded: random.next())
            }
            mutated.withUnsafeBufferPointer { buffer in
                guard let base = buffer.baseAddress, bson_init_static(OpaquePointer(storage), base, buffer.count) else { return }
                let document = OpaquePointer(storage)
                #expect(Self.fast(document, writer: writer).text == Self.libbson(document), "\(mutated)")
                checked += 1
            }
        }
        #expect(checked == 3000)
    }

    // MARK: Random documents

    static func randomString(_ random: inout SplitMix64) -> String {
        let pieces = ["a", "Z", " ", "0", "\"", "\\", "/", "\n", "\t", "\r", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}", "é", "ß",
                      "日本", "✓", "😀", "\u{10FFFF}", "plain words ", "0123456789abcdef", "<p>html</p>", "\u{80}", "\u{7FF}"]
        let count = Int(random.next() % 24)
        return (0..<count).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
    }

    static func randomDouble(_ random: inout SplitMix64) -> Double {
        switch random.next() % 8 {
        case 0: return Double(bitPattern: random.next())
        case 1: return Double(Int64(bitPattern: random.next()) >> Int64(random.next() % 64))
        case 2: return Double(Int64(bitPattern: random.next()) % 100_000) / 100
        case 3: return Double(Int64(bitPattern: random.next()) % 10_000_000) / 1e6 * pow(10, Double(Int(random.next() % 40) - 20))
        case 4: return Double(random.next() % 1_000_000) * pow(2, Double(Int(random.next() % 120) - 60))
        case 5: return [0.0, -0.0, .nan, .infinity, -.infinity, 1e20, 1e21, 9.2e18, .leastNonzeroMagnitude][Int(random.next() % 9)]
        case 6: return (Double(random.next() % 180_000_000) / 1e6) - 90
        default: return Double(random.next() % 10_000)
        }
    }

    static func randomValue(_ random: inout SplitMix64, depth: Int) -> BSONValue {
        switch random.next() % (depth < 3 ? 11 : 9) {
        case 0: return .double(randomDouble(&random))
        case 1, 2: return .string(randomString(&random))
        case 3: return .bool(random.next() % 2 == 0)
        case 4: return .null
        case 5: return .int32(Int32(truncatingIfNeeded: Int64(bitPattern: random.next()) >> Int64(random.next() % 32)))
        case 6: return .int64(Int64(bitPattern: random.next()) >> Int64(random.next() % 64))
        case 7:
            switch random.next() % 3 {
            case 0: return .dateTime(Int64(bitPattern: random.next()))
            case 1: return .dateTime(Int64(random.next() % 4_102_444_800_000))
            default: return .dateTime(Int64(random.next() % 400_000_000_000_000) - 100_000_000_000_000)
            }
        case 8: return .int64(Int64(random.next() % 100))
        case 9: return .document(randomDocument(&random, depth: depth + 1))
        default: return .array((0..<Int(random.next() % 5)).map { _ in randomValue(&random, depth: depth + 1) })
        }
    }

    static func randomDocument(_ random: inout SplitMix64, depth: Int) -> Document {
        let count = Int(random.next() % (depth == 0 ? 16 : 5))
        return Document((0..<count).map { index in
            let key = random.next() % 4 == 0 ? randomString(&random).replacingOccurrences(of: "\u{0}", with: "") : "k\(index)"
            return Document.Field(key, randomValue(&random, depth: depth))
        })
    }

    @Test func thousandsOfRandomDocumentsPrintAsLibbsonDoes() throws {
        var random = SplitMix64(seed: 20_261_122)
        let writer = RelaxedJSONWriter(capacity: 64)
        for _ in 0..<5000 {
            Self.expectSame(try BSONDocument(Self.randomDocument(&random, depth: 0)), native: true, writer: writer)
        }
        // With an ObjectId somewhere, libbson prints the whole document.
        for _ in 0..<300 {
            var document = Self.randomDocument(&random, depth: 0)
            document["oid"] = .objectID("00112233445566778899aabb")
            Self.expectSame(try BSONDocument(document), native: false, writer: writer)
        }
    }

    // MARK: Building lines directly

    /// `document` through the writer's building API, as a staged line.
    static func buildLine(_ document: Document, into writer: RelaxedJSONWriter) {
        func field(_ key: BSONKey, _ value: BSONValue) {
            switch value {
            case .double(let number): writer.append(key, double: number)
            case .string(let text): writer.append(key, string: text)
            case .bool(let flag): writer.append(key, bool: flag)
            case .null: writer.appendNull(key)
            case .int32(let number): writer.append(key, int64: Int64(number))
            case .int64(let number): writer.append(key, int64: number)
            case .dateTime(let milliseconds): writer.append(key, dateTime: milliseconds)
            case .document(let child):
                writer.beginDocument(key)
                for entry in child { field(BSONKey(entry.key), entry.value) }
                writer.endDocument()
            case .array(let elements):
                writer.beginArray(key)
                for (index, element) in elements.enumerated() { field(BSONKey.index(index), element) }
                writer.endArray()
            default:
                Issue.record("no building call for \(value)")
            }
        }
        writer.beginDocumentLine()
        for entry in document { field(BSONKey(entry.key), entry.value) }
        writer.endDocumentLine()
    }

    /// Thousands of random documents (every type staging writes, nested, with escapes in keys and
    /// text, special doubles, dates before 1970 and after 9999) built field by field straight
    /// into JSON: libbson's print of the same document built as BSON, byte for byte.
    @Test func documentsBuiltDirectlyAreLibbsonsLines() throws {
        var random = SplitMix64(seed: 22_112_026)
        let writer = RelaxedJSONWriter(capacity: 64)
        var refused = 0
        for _ in 0..<5000 {
            var document = Self.randomDocument(&random, depth: 0)
            document["_id"] = .int32(1)  // a staged row always has fields
            // libbson refuses a few (e.g. a NUL inside a key); staging never builds those.
            let bson = try BSONDocument(document)
            guard let printed = withExtendedLifetime(bson, { Self.libbson(bson.pointer) }) else {
                refused += 1
                continue
            }
            let expected = printed + [UInt8(ascii: "\n")]
            writer.removeAll()
            Self.buildLine(document, into: writer)
            #expect(Array(writer.bytes) == expected, "\(String(decoding: expected, as: UTF8.self))")
        }
        #expect(refused < 50)
    }

    /// Levels past the 64 the writer tracks in one word: arrays and documents alternating, 100 deep.
    @Test func deepDocumentsBuiltDirectlyAreLibbsonsLines() throws {
        var value = BSONValue.int32(7)
        for level in 0..<100 {
            value = level % 3 == 0 ? .array([value, .string("x")]) : .document(Document([Document.Field("k\(level)", value), Document.Field("n", .null)]))
        }
        let document = Document([Document.Field("_id", .int32(1)), Document.Field("deep", value), Document.Field("after", .bool(true))])
        let bson = try BSONDocument(document)
        let expected = try #require(withExtendedLifetime(bson) { Self.libbson(bson.pointer) }) + [UInt8(ascii: "\n")]
        let writer = RelaxedJSONWriter(capacity: 64)
        Self.buildLine(document, into: writer)
        #expect(Array(writer.bytes) == expected)
    }

    /// Invalid UTF-8 is repaired as `BSONBuilder` repairs it, and reported the same way.
    @Test func repairedTextIsBuiltAsTheBSONBuilderBuildsIt() throws {
        let samples: [[UInt8]] = [[0x61, 0xFF, 0x62], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
                                  [0x22, 0x5C, 0x0A, 0xC0, 0xAF], Array("plain \"text\"\n".utf8), [], [0xC3, 0xA9, 0x80]]
        let key = BSONKey("text")
        let writer = RelaxedJSONWriter(capacity: 16)
        let builder = try BSONBuilder()
        for sample in samples {
            builder.reset()
            let builtValid = try sample.withUnsafeBufferPointer { try builder.append(key, repairingUTF8: $0) }
            var expected: [UInt8] = []
            try builder.withRawBytes { raw in
                let document = try #require(bson_new_from_data(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count))
                defer { bson_destroy(document) }
                expected = try #require(Self.libbson(document)) + [UInt8(ascii: "\n")]
            }
            writer.removeAll()
            writer.beginDocumentLine()
            let writtenValid = sample.withUnsafeBufferPointer { writer.append(key, repairingUTF8: $0) }
            writer.endDocumentLine()
            #expect(writtenValid == builtValid, "\(sample)")
            #expect(Array(writer.bytes) == expected, "\(sample): \(String(decoding: expected, as: UTF8.self))")
        }
    }

    /// `key(utf8:)` finds recent keys by their bytes: it must return the key `key(named:)` gives
    /// for the decoded name, whatever the order, the lengths, invalid bytes or the cache's turnover.
    @Test func keysFromBytesAreTheKeysOfTheirDecodedNames() {
        let writer = RelaxedJSONWriter(capacity: 16)
        var random = SplitMix64(seed: 7)
        // Same lengths with different bytes, a prefix of another, empty, invalid UTF-8, and more
        // names than the cache holds.
        var names: [[UInt8]] = [Array("image_id".utf8), Array("image_ix".utf8), Array("image".utf8), [],
                                [0x61, 0xFF], [0x61, 0xFE], Array("caf\u{E9}".utf8)]
        names += (0..<40).map { Array("key\($0)".utf8) }
        for _ in 0..<2_000 {
            let name = names[Int(random.next() % UInt64(names.count))]
            let key = name.withUnsafeBufferPointer { writer.key(utf8: $0) }
            #expect(key.name == String(decoding: name, as: UTF8.self), "\(name)")
        }
    }

    // MARK: Through the builder and the line printer

    @Test func builderAndLinePrinterPrintLibbsonsLines() throws {
        var random = SplitMix64(seed: 99)
        let documents = try (0..<400).map { _ in try BSONDocument(Self.randomDocument(&random, depth: 0)) }
        var expected: [UInt8] = []
        for document in documents {
            expected += try #require(Self.libbson(document.pointer)) + [UInt8(ascii: "\n")]
        }
        for workers in [1, 2, 4] {
            var output: [UInt8] = []
            let printer = JSONLinePrinter(workers: workers, batchBytes: 1000) { output.append(contentsOf: $0) }
            let builder = try BSONBuilder()
            for document in documents {
                builder.reset()
                let fields = try document.document()
                for field in fields { try builder.append(BSONKey(field.key), copying: field.value) }
                #expect(try builder.rawBytes() == document.withRawBytes { Array($0) })
                #expect(try builder.withRelaxedExtendedJSON { Array($0) } == Self.libbson(document.pointer))
                try printer.add(builder)
            }
            try printer.finish()
            #expect(output == expected, "workers: \(workers)")
        }
    }

    @Test func linePrinterReportsDocumentsLibbsonRefuses() throws {
        for workers in [1, 2] {
            let printer = JSONLinePrinter(workers: workers) { _ in }
            let builder = try BSONBuilder()
            try builder.append(BSONKey("ok"), string: "fine")
            try printer.add(builder)
            builder.reset()
            try [UInt8(0x41), 0xFF].withUnsafeBufferPointer { try builder.append(BSONKey("bad"), validUTF8: $0) }
            #expect(throws: BSONBuilderError.self) {
                try printer.add(builder)
                try printer.finish()
            }
        }
    }

    // MARK: The extract job's staged lines

    /// Runs `etl-extract` over the bundled metadata (and the malformed variants) with this printer
    /// and with libbson's (MUSICETL_JSON_PRINTER=libbson): the staged files must be the same bytes,
    /// and every line what libbson prints for the document it reads back.
    @Test func everyStagedLineOfTheFixturesIsLibbsonsPrint() throws {
        let sample = Fixtures.url("sample/fma_metadata").path
        let malformed = Fixtures.url("malformed").path
        var inputs: [(name: String, replacing: [String: String], removing: Set<String>)] = [
            ("sample", [:], []), ("sample raw files", [:], ["tracks.csv", "genres.csv"]),
        ]
        for file in try FileManager.default.contentsOfDirectory(atPath: malformed).sorted() where file.hasSuffix(".csv") {
            guard let entity = file.components(separatedBy: "--").first else { continue }
            let removing: Set<String> = entity == "raw_tracks" ? ["tracks.csv"] : entity == "raw_genres" ? ["genres.csv"] : []
            inputs.append((file, [entity + ".csv": malformed + "/" + file], removing))
        }
        var lines = 0
        var stagedFiles = 0
        let printers: [(name: String, jobs: String, environment: [String: String])] = [
            ("libbson", "1", ["MUSICETL_JSON_PRINTER": "libbson"]), ("writer", "1", [:]), ("writer", "3", [:]),
        ]
        for input in inputs {
            let work = TemporaryDirectory()
            let metadata = work.path + "/metadata"
            try FileManager.default.createDirectory(atPath: metadata, withIntermediateDirectories: true)
            for name in try FileManager.default.contentsOfDirectory(atPath: sample)
            where name.hasSuffix(".csv") && !input.removing.contains(name) && input.replacing[name] == nil {
                try FileManager.default.copyItem(atPath: sample + "/" + name, toPath: metadata + "/" + name)
            }
            for (name, source) in input.replacing { try FileManager.default.copyItem(atPath: source, toPath: metadata + "/" + name) }
            var reference: [String: [UInt8]]?
            // Worker threads only for the two full samples (the malformed files are small).
            for (index, printer) in printers.enumerated() where index < 2 || input.replacing.isEmpty {
                let outcome = try JobProcess.run("etl-extract", ["--metadata", metadata, "--work-dir", work.path + "/work\(index)",
                                                                 "--max-reject-ratio", "1", "--jobs", printer.jobs],
                                                 environment: printer.environment)
                let directory = work.path + "/work\(index)/staging/metadata"
                var staged: [String: [UInt8]] = [:]
                for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasSuffix(".jsonl") {
                    staged[file] = Array(try #require(FileManager.default.contents(atPath: directory + "/" + file)))
                }
                guard let expected = reference else {
                    reference = staged
                    #expect(!staged.isEmpty || outcome.status != 0, "\(input.name): nothing staged but status 0")
                    continue
                }
                #expect(staged.keys.sorted() == expected.keys.sorted(), "\(input.name): the same files staged")
                for (file, bytes) in staged where bytes != expected[file] {
                    let ours = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                    let theirs = (expected[file] ?? []).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                    let line = (0..<min(ours.count, theirs.count)).first { ours[$0] != theirs[$0] } ?? min(ours.count, theirs.count)
                    let show = { (lines: [ArraySlice<UInt8>]) in line < lines.count ? String(decoding: lines[line], as: UTF8.self) : "(none)" }
                    Issue.record("\(input.name)/\(file), \(printer.name) --jobs \(printer.jobs), line \(line + 1):\n  libbson: \(show(theirs))\n  staged:  \(show(ours))")
                }
                guard index == 1 else { continue }
                for (file, bytes) in staged.sorted(by: { $0.key < $1.key }) {
                    stagedFiles += 1
                    for line in bytes.split(separator: UInt8(ascii: "\n")) {
                        let document = try BSONDocument(json: String(decoding: line, as: UTF8.self))
                        #expect(Self.libbson(document.pointer) == Array(line), "\(input.name)/\(file)")
                        lines += 1
                    }
                }
            }
        }
        #expect(stagedFiles > 40 && lines > 1000, "\(stagedFiles) files, \(lines) lines")
    }

    @Test func environmentCanAskForLibbsonsPrinter() throws {
        let document = try BSONDocument(["a": "é\n", "b": 0.1])
        let writer = RelaxedJSONWriter(libbsonOnly: true)
        Self.expectSame(document, native: false, writer: writer)
    }
}

extension BSONBuilder {
    /// Appends a decoded value with the builder's API (the types staging writes).
    func append(_ key: BSONKey, copying value: BSONValue) throws {
        switch value {
        case .double(let v): try append(key, double: v)
        case .string(let s): try append(key, string: s)
        case .bool(let b): try append(key, bool: b)
        case .null: try appendNull(key)
        case .int32(let v): try append(key, int64: Int64(v))
        case .int64(let v):
            // The builder narrows; a wide int64 that fits int32 is appended through the raw copy.
            if Int32(exactly: v) != nil {
                let raw = try BSONDocument(["0": .int64(v)]).withRawBytes { Array($0) }
                _ = try append(key, elementAt: 0, ofRawDocument: raw)
            } else {
                try append(key, int64: v)
            }
        case .dateTime(let ms): try append(key, dateTime: ms)
        case .document(let document):
            try beginDocument(key)
            for field in document { try append(BSONKey(field.key), copying: field.value) }
            try endDocument()
        case .array(let elements):
            try beginArray(key)
            for (index, element) in elements.enumerated() { try append(BSONKey.index(index), copying: element) }
            try endArray()
        default:
            Issue.record("not a staging type: \(value)")
        }
    }
}

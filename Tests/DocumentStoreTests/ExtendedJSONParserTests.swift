import Foundation
import Testing
@testable import DocumentStore
import TestSupport

/// `ExtendedJSONParser` against libbson's JSON parser, which it replaced: the same BSON bytes for
/// every line both read, an error for every line libbson refuses, and errors (documented) where
/// it is stricter.
@Suite struct ExtendedJSONParserTests {
    enum Outcome: Equatable {
        case bytes([UInt8])
        case error
    }

    static func ours(_ line: [UInt8]) -> Outcome {
        let parser = ExtendedJSONParser()
        return line.withUnsafeBufferPointer { buffer in
            (try? parser.withBSON(of: buffer) { Outcome.bytes(Array($0)) }) ?? .error
        }
    }

    static func libbsons(_ line: [UInt8]) -> Outcome {
        line.withUnsafeBufferPointer { buffer in
            switch BSONDocument.parsedByLibbson(buffer) {
            case .success(let document): .bytes(document.withRawBytes { Array($0) })
            case .failure: .error
            }
        }
    }

    /// Both parsers give the same bytes (and neither refuses the line).
    static func expectSameBytes(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        expectSameBytes(Array(text.utf8), sourceLocation: sourceLocation)
    }

    static func expectSameBytes(_ line: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let libbson = libbsons(line), swift = ours(line)
        #expect(libbson != .error, "libbson reads \(String(decoding: line, as: UTF8.self))", sourceLocation: sourceLocation)
        #expect(swift == libbson, "\(String(decoding: line, as: UTF8.self))", sourceLocation: sourceLocation)
    }

    // MARK: Edge cases, one at a time

    static let validLines: [String] = [
        #"{}"#, #"{"a":{}}"#, #"{"a":[]}"#, #"{"a":[[],{},[{}]]}"#, "  {\"a\" :\t1 ,\r\n \"b\": [ 1 , 2 ] }  ",
        // Integers at the int32 and int64 edges; -0 is int32 0.
        #"{"a":0,"b":-0,"c":2147483647,"d":2147483648,"e":-2147483648,"f":-2147483649}"#,
        #"{"a":9223372036854775807,"b":-9223372036854775808,"c":-9223372036854775807}"#,
        // Doubles: shortest forms, exponents, -0.0, subnormals, underflow to 0, 20-digit printer output.
        #"{"a":0.1,"b":-0.0,"c":0.0,"d":1e5,"e":1E+2,"f":1.5e-7,"g":-2.5E-300,"h":1.7976931348623157e308}"#,
        #"{"a":5e-324,"b":2.2250738585072014e-308,"c":1e-400,"d":0.10000000000000000555,"e":1e+20}"#,
        #"{"a":123456789012345678901234567890.5,"b":100000000000000000000.0,"c":0.30000000000000004}"#,
        #"{"a":true,"b":false,"c":null}"#,
        // Strings: every escape, surrogate pairs, NUL, raw UTF-8 of every length.
        #"{"a":"\"\\\/\b\f\n\r\t","b":"\u0000x\u001f\u007f\u0080\u07ff\u0800\uffff","c":"\ud83d\ude00\uD834\uDD1E"}"#,
        #"{"a":"Électric Av — 漢字 😀 \u00e9\u00E9","b":"","c":" "}"#,
        #"{"Ключ":1,"😀":{"ü":[1]},"":2,"a\"b":3,"\u00e9":4,"a\nb":5}"#,
        // Dates in every form the writers use and libbson reads.
        #"{"a":{"$date":"2008-11-26T01:48:12Z"},"b":{"$date":"1970-01-01T00:00:00.001Z"},"c":{"$date":"9999-12-31T23:59:59.999Z"}}"#,
        #"{"a":{"$date":{"$numberLong":"-1"}},"b":{"$date":{"$numberLong":"253402300800000"}},"c":{"$date":123},"d":{"$date":-123}}"#,
        #"{"a":{"$date":"2020-01-01T00:00:00.5Z"},"b":{"$date":"2020-01-01T00:00:00.05Z"},"c":{"$date":"2020-02-30T00:00Z"}}"#,
        #"{"a":{"$date":"2020-01-01T00:00:60+0130"},"b":{"$date":"2000-02-29T12:00:00-2359"},"c":{"$date":"0000-01-01T00:00:00Z"}}"#,
        #"{"a":{"$date":"1600-03-01T00:00:00Z"},"b":{"$date":"1969-12-31T23:59:59.999Z"},"c":{"$date":"2100-03-01T00:00:00Z"}}"#,
        #"{"a":{ "$date" : { "$numberLong" : "-62135596800000" } }}"#,
        // Typed numbers (canonical Extended JSON).
        #"{"a":{"$numberLong":"5"},"b":{"$numberLong":"-9223372036854775808"},"c":{"$numberInt":"-2147483648"}}"#,
        #"{"a":{"$numberDouble":"NaN"},"b":{"$numberDouble":"Infinity"},"c":{"$numberDouble":"-Infinity"}}"#,
        #"{"a":{"$numberDouble":"1.0"},"b":{"$numberDouble":"-0.0"},"c":{"$numberDouble":"1e+20"},"d":{"$numberDouble":"1"}}"#,
        #"{"a":{"$oid":"0123456789abcdef01234567"},"b":{"$oid":"FFFFFFFFFFFFFFFFFFFFFFFF"}}"#,
        // `$` keys that are no Extended JSON type, or not first, or at the top level: plain fields.
        #"{"$date":1,"a":{"$foo":1},"b":{"x":1,"$date":2},"c":{"$":1}}"#, #"{"$numberLong":"1"}"#,
        #"{"a":{"$f\u006fo":1},"b":{"\u0024x\"":2},"c":{"\u0041":3}}"#,
        // Repeated keys: both kept, in order.
        #"{"a":1,"a":2}"#,
    ]

    @Test func everyEdgeCaseGivesLibbsonsBytes() {
        for line in Self.validLines { Self.expectSameBytes(line) }
    }

    @Test func nestingUpToLibbsonsLimit() {
        for depth in 95...101 {
            let objects = "{" + String(repeating: #""a":{"#, count: depth - 1) + String(repeating: "}", count: depth)
            let arrays = #"{"a":"# + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1) + "}"
            let filled = #"{"a":"# + String(repeating: "[", count: depth - 1) + "1" + String(repeating: "]", count: depth - 1) + "}"
            for line in [objects, arrays, filled] {
                #expect(Self.ours(Array(line.utf8)) == Self.libbsons(Array(line.utf8)), "depth \(depth): \(line.prefix(12))…")
            }
        }
    }

    /// Documents past the parser's first buffer (4 kB), so it grows while a value is being
    /// written: strings, many fields, long arrays, deep in the document.
    @Test func largeDocumentsGrowTheBufferMidValue() throws {
        let long = String(repeating: "é0123456789", count: 700)
        var many = Document()
        for index in 0..<600 { many.append("field\(index)", .integer(Int64(index) * 7_919)) }
        let documents: [Document] = [
            ["_id": 1, "text": .string(long)],
            ["_id": 2, "a": .string(String(long.prefix(4_070))), "b": .string(long), "c": .double(0.1)],
            many,
            ["_id": 3, "ids": .array((0..<3_000).map { .integer(Int64($0)) })],
            ["_id": 4, "nested": .document(["deeper": .array([.document(many), .string(long), .dateTime(1)])])],
        ]
        for document in documents {
            let line = Array(try BSONDocument(document).jsonLine().utf8)
            #expect(line.count > 4_096)
            Self.expectSameBytes(line)
        }
    }

    /// Lines libbson refuses too: each is an error here.
    static let invalidLines: [String] = [
        "", "  ", "{", #"{"a":1"#, #"{"a":1,"#, #"{"a""#, #"{"a":"x"#, #"{"a":"x\"#, #"{"a":[1,2"#,
        #"{"a":1} x"#, #"{"a":1} ]"#, #"{"a":1,}"#, #"{"a":[1,]}"#, "{,}", #"{"a" 1}"#, "{'a':1}", #"{a:1}"#,
        #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{"a":+1}"#, #"{"a":-}"#, #"{"a":1e}"#, #"{"a":tru}"#, #"{"a":nul}"#,
        #"{"a":9223372036854775808}"#, #"{"a":-9223372036854775809}"#, #"{"a":1e400}"#, #"{"a":-1e400}"#,
        #"{"a":"\x"}"#, #"{"a":"\u12"}"#, #"{"a":"\u12G4"}"#, #"{"a":"\ud83d"}"#, #"{"a":"\ude00"}"#,
        #"{"a":"\uD83D\u0041"}"#, "{\"a\":\"tab\there\"}", #"{"\u0000":1}"#, "{\"a\":1}\u{1}",
        #"{"a":{"$date":"2020-01-01T00:00:00.1234Z"}}"#, #"{"a":{"$date":"2020-01-01T00:00:00"}}"#,
        #"{"a":{"$date":"2020-13-01T00:00:00Z"}}"#, #"{"a":{"$date":"2020-01-01T24:00:00Z"}}"#,
        #"{"a":{"$date":"2020-01-01T00:00:00+2400"}}"#, #"{"a":{"$date":"2020-01-01"}}"#, #"{"a":{"$date":"x"}}"#,
        #"{"a":{"$date":1,"b":1}}"#, #"{"a":{"$date":{"$numberLong":"5"},"x":1}}"#, #"{"a":{"$date":true}}"#,
        #"{"a":{"$numberInt":5}}"#, #"{"a":{"$numberInt":"2147483648"}}"#, #"{"a":{"$numberLong":"9223372036854775808"}}"#,
        #"{"a":{"$numberDouble":"1e400"}}"#, #"{"a":{"$oid":"0123"}}"#,
    ]

    @Test func invalidLinesAreErrorsInBoth() {
        for line in Self.invalidLines {
            let bytes = Array(line.utf8)
            #expect(Self.libbsons(bytes) == .error, "libbson refuses \(line)")
            #expect(Self.ours(bytes) == .error, "\(line)")
        }
        for bytes: [UInt8] in [[0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x7D],  // a UTF-8 surrogate
                               [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D],
                               [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC3, 0x22, 0x7D],  // truncated sequence
                               [0x7B, 0x22, 0xE2, 0x82, 0x22, 0x3A, 0x31, 0x7D]] {  // in a key
            #expect(Self.libbsons(bytes) == .error)
            #expect(Self.ours(bytes) == .error, "\(bytes)")
        }
    }

    /// Where libbson is lax and no writer of ours goes: refused here (see `ExtendedJSONParser`).
    @Test func stricterThanLibbsonWhereNoWriterGoes() {
        let laxInLibbson: [[UInt8]] = [
            #"{"a":1}{"b":2}"#, "[1,2]", #"{"a":NaN}"#, #"{"a":Infinity}"#, #"{"a":nan}"#,
            #"{"a":18446744073709551616}"#, #"{"a":{"$numberLong":"+5"}}"#, #"{"a":{"$numberLong":" 5"}}"#,
            #"{"a":{"$numberDouble":"1.5x"}}"#, #"{"a":{"$numberDouble":"inf"}}"#,
            #"{"a":{"$oid":"0123456789abcdef0123456z"}}"#,
            #"{"a":{"$regularExpression":{"pattern":"a","options":""}}}"#, #"{"a":{"$numberDecimal":"1"}}"#,
            // A second key after a type wrapper, when its value is an object: libbson appends it
            // beside the wrapped value and closes the parent early.
            #"{"a":[{"b":{"$date":{"$numberLong":"5"},"c":{"$numberDouble":"1.0"}}}]}"#,
            // A type key spelled with escapes (libbson reads the type): refused, never other bytes.
            #"{"a":{"\u0024date":1}}"#, #"{"a":{"$da\u0074e":1}}"#,
        ].map { Array($0.utf8) } + [[0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC0, 0x80, 0x22, 0x7D]]  // "C0 80", a 2-byte NUL
        for line in laxInLibbson {
            #expect(Self.libbsons(line) != .error, "libbson takes \(String(decoding: line, as: UTF8.self))")
            #expect(Self.ours(line) == .error, "\(String(decoding: line, as: UTF8.self))")
        }
    }

    // MARK: Generated documents, through every writer

    /// Random documents (strings of any scalars, integers near the width edges, doubles of any bit
    /// pattern, dates across and beyond 0000–9999, nesting) printed by `JSONLineEncoder` and by
    /// libbson's relaxed and canonical printers: both parsers read every line to the same bytes.
    @Test func generatedDocumentsThroughEveryWriter() throws {
        var random = SplitMix64(seed: 22)
        for _ in 0..<1500 {
            let document = Self.randomDocument(&random, depth: 0)
            let original = try BSONDocument(document)
            Self.expectSameBytes(Array(try original.jsonLine().utf8))
            // libbson's relaxed printer writes years past 9999 as ISO text that its parser refuses:
            // there, both refuse.
            for printed in [original.relaxedExtendedJSON, original.canonicalExtendedJSON] {
                #expect(Self.ours(Array(printed.utf8)) == Self.libbsons(Array(printed.utf8)), "\(printed)")
            }
        }
    }

    static func randomDocument(_ random: inout SplitMix64, depth: Int) -> Document {
        var document = Document()
        for _ in 0..<Int.random(in: 0...6, using: &random) {
            document.append(randomKey(&random), randomValue(&random, depth: depth))
        }
        return document
    }

    static func randomKey(_ random: inout SplitMix64) -> String {
        switch Int.random(in: 0..<10, using: &random) {
        // `$` keys, but no Extended JSON type's (their shapes are the edge cases above).
        case 0: ["$foo", "$", "$dates", "_id", "a.b", "", "\"\\"].randomElement(using: &random)!
        default: String(randomString(&random).filter { $0 != "\0" })
        }
    }

    static func randomString(_ random: inout SplitMix64) -> String {
        var scalars = String.UnicodeScalarView()
        // Now and then a long one (past the parser's first 4 kB buffer).
        let length = Int.random(in: 0..<40, using: &random) == 0 ? Int.random(in: 1_000...6_000, using: &random)
                                                                  : Int.random(in: 0...12, using: &random)
        for _ in 0..<length {
            let value: UInt32
            switch Int.random(in: 0..<6, using: &random) {
            case 0: value = UInt32.random(in: 0..<0x20, using: &random)  // control bytes, NUL
            case 1: value = [0x22, 0x5C, 0x2F, 0x7F].randomElement(using: &random)!
            case 2: value = UInt32.random(in: 0x80..<0x800, using: &random)
            case 3: value = UInt32.random(in: 0x800..<0x10000, using: &random)
            case 4: value = UInt32.random(in: 0x10000...0x10FFFF, using: &random)
            default: value = UInt32.random(in: 0x20..<0x7F, using: &random)
            }
            if let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
        }
        return String(scalars)
    }

    static func randomValue(_ random: inout SplitMix64, depth: Int) -> BSONValue {
        let edges: [Int64] = [0, 1, -1, Int64(Int32.max), Int64(Int32.max) + 1, Int64(Int32.min), Int64(Int32.min) - 1,
                              .max, .min, .max - 1, .min + 1]
        switch Int.random(in: 0..<(depth < 4 ? 12 : 9), using: &random) {
        case 0: return .string(randomString(&random))
        case 1: return .integer(edges.randomElement(using: &random)!)
        case 2: return .int64(edges.randomElement(using: &random)!)
        case 3: return .integer(Int64(bitPattern: random.next()) >> Int64.random(in: 0..<64, using: &random))
        case 4: return .double(Double(bitPattern: random.next()))
        case 5: return .double([0.0, -0.0, .nan, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                                0.1, 1e20, 1e21, 123.456, -1e-7].randomElement(using: &random)!)
        case 6: return .dateTime(Int64.random(in: -70_000_000_000_000...260_000_000_000_000, using: &random))
        case 7: return [.bool(true), .bool(false), .null].randomElement(using: &random)!
        case 8: return .int32(Int32(truncatingIfNeeded: random.next()))
        case 9, 10: return .document(randomDocument(&random, depth: depth + 1))
        default: return .array((0..<Int.random(in: 0...4, using: &random)).map { _ in randomValue(&random, depth: depth + 1) })
        }
    }

    /// Staging lines cut short or with a byte changed: never read by this parser and refused by
    /// libbson; when both read one, the same bytes.
    @Test func damagedLinesNeverReadWhereLibbsonRefuses() throws {
        var random = SplitMix64(seed: 2222)
        let alphabet = Array(#"{}[]":,\ -+.0123456789eEtrufalsn$dateumberLongIDoi"#.utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xFF]
        for _ in 0..<400 {
            let line = Array(try BSONDocument(Self.randomDocument(&random, depth: 0)).jsonLine().utf8)
            var damaged: [[UInt8]] = [Array(line.prefix(Int.random(in: 0..<line.count, using: &random)))]
            for _ in 0..<4 {
                var changed = line
                changed[Int.random(in: 0..<line.count, using: &random)] = alphabet.randomElement(using: &random)!
                damaged.append(changed)
            }
            for variant in damaged {
                let swift = Self.ours(variant)
                if swift != .error {
                    #expect(swift == Self.libbsons(variant), "\(String(decoding: variant, as: UTF8.self))")
                }
            }
        }
    }

    // MARK: Through the reader

    @Test func readerErrorsNameFileLineAndColumnWithAReason() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/bad.jsonl"
        try Data("{\"_id\":1}\n\n{\"_id\":2,\"t\":\"a\\qb\"}\n".utf8).write(to: URL(fileURLWithPath: path))
        let reader = try JSONLinesReader(path: path)
        #expect(try reader.next()?["_id"] == .int32(1))
        do {
            _ = try reader.next()
            Issue.record("a bad escape was read")
        } catch {
            #expect(error.line == 3)
            #expect(error.description.hasPrefix("\(path):3: column 16: an invalid escape '\\q'"), "\(error)")
        }
    }

    @Test func bsonSizeOfJSONIsTheParsedSize() {
        let line = Array(#"{"_id":1,"t":"abc"}"#.utf8)
        #expect(line.withUnsafeBufferPointer { BSONDocument.bsonSize(ofJSON: $0) } == 25)
        #expect(Array("{".utf8).withUnsafeBufferPointer { BSONDocument.bsonSize(ofJSON: $0) } == nil)
    }
}

import DocumentStore
import Testing
import TestSupport
@testable import ETLJobs
@testable import Tabular

/// `RowBuilder.printPlainLiteral`, which prints a tag or image list straight from its walk, against
/// the reference path: the literal parser's value, built with libbson and printed by libbson.
@Suite struct PlainLiteralPrintingTests {
    /// libbson's text for `value`, the value of a one-field document.
    static func libbsonText(of value: FieldValue) throws -> String {
        let builder = try BSONBuilder()
        try builder.append(BSONKey("v"), value)
        let writer = RelaxedJSONWriter(libbsonOnly: true)
        try builder.appendRelaxedJSON(to: writer)
        let document = String(decoding: writer.bytes, as: UTF8.self)
        #expect(document.hasPrefix(#"{ "v" : "#) && document.hasSuffix(" }"), "\(document)")
        return String(document.dropFirst(#"{ "v" : "#.count).dropLast(" }".count))
    }

    /// The cell's text, printed after another cell's as a row's cells are.
    static func printed(_ cell: [UInt8]) -> (text: String, valid: Bool)? {
        let writer = RelaxedJSONWriter()
        _ = Array("['before']".utf8).withUnsafeBufferPointer { RowBuilder.printPlainLiteral($0, into: writer) }
        let start = writer.count
        guard let valid = cell.withUnsafeBufferPointer({ RowBuilder.printPlainLiteral($0, into: writer) }) else { return nil }
        return (String(decoding: UnsafeBufferPointer(rebasing: writer.bytes[start...]), as: UTF8.self), valid)
    }

    @Test func printsWhatLibbsonPrintsForTheParsedValue() throws {
        var random = SplitMix64(seed: 20_261_122_15)
        var printed = 0, nested = 0, repaired = 0, refused = 0
        for _ in 0..<20_000 {
            let cell = RandomPythonLiteral.listCell(&random)
            let plain = cell.withUnsafeBufferPointer { PlainLiteral.matches($0) }
            guard let result = Self.printed(cell) else {
                #expect(!plain, "printed nothing for a plain cell: \(String(decoding: cell, as: UTF8.self))")
                refused += 1
                continue
            }
            #expect(plain, "printed a cell the walk refuses: \(String(decoding: cell, as: UTF8.self))")
            let value = try PythonLiteral.parse(utf8: cell, invalidUTF8: .replace)
            #expect(result.text == (try Self.libbsonText(of: value)), "\(String(decoding: cell, as: UTF8.self))")
            let validUTF8 = cell.withUnsafeBufferPointer { $0.firstInvalidUTF8Offset == nil }
            #expect(result.valid == validUTF8, "repair flag of \(String(decoding: cell, as: UTF8.self))")
            printed += 1
            if cell.contains(UInt8(ascii: "{")) { nested += 1 }
            if !validUTF8 { repaired += 1 }
        }
        #expect(printed > 3000 && nested > 500 && repaired > 100, "the common shapes are covered (\(printed), \(nested) with dictionaries, \(repaired) repaired)")
        #expect(refused > 3000)
    }

    /// FMA's own shapes, written out, so a failure reads plainly.
    @Test func imageAndTagLists() throws {
        let images = "[{'image_id': '24612', 'image_caption': None}, {}, []]"
        #expect(Self.printed(Array(images.utf8))?.text
                == #"[ { "image_id" : "24612", "image_caption" : null }, {  }, [  ] ]"#)
        #expect(Self.printed(Array("['ce sitel', \"it's\", 'say \"hi\"']".utf8))?.text == #"[ "ce sitel", "it's", "say \"hi\"" ]"#)
        #expect(Self.printed(Array("[]".utf8))?.text == "[  ]")
        let broken = Self.printed([UInt8(ascii: "["), UInt8(ascii: "'"), 0xFF, UInt8(ascii: "'"), UInt8(ascii: "]")])
        #expect(broken?.text == "[ \"\u{FFFD}\" ]" && broken?.valid == false)
    }
}

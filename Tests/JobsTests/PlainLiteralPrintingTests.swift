import CTextKernels
import DocumentStore
import Testing
import TestSupport
@testable import ETLJobs
@testable import ExtractStage
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

    /// The one-pass printer (`PlainLiteral.printJSON`, both C builds) against the walk's events,
    /// on random cells and on each with one byte changed, inserted or dropped (shapes the walk
    /// refuses, text to repair): where the printer prints, the walk prints the same valid text;
    /// where the walk prints valid text, so does the printer.
    @Test func onePassPrinterAgreesWithTheWalk() {
        let builds = [musicetl_text_kernels_baseline(), musicetl_text_kernels_avx2()].compactMap { $0?.pointee }
        let bytes: [UInt8] = Array("[]{}'\",: N\\a".utf8) + [0x01, 0x1F, 0x7F, 0xFF, 0xC3, 0xA9, 0xE2]
        var random = SplitMix64(seed: 20_261_122_17)
        var printed = 0, left = 0
        // Nesting up to and past the deepest level the walk takes.
        var nested: [[UInt8]] = []
        for depth in 1...(PlainLiteral.maximumDepth + 2) {
            let lists: String = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            let pairs = (depth - 1) / 2
            let dictionaries: String = "[" + String(repeating: "{'k': [", count: pairs) + "None" + String(repeating: "]}", count: pairs) + "]"
            nested += [Array(lists.utf8), Array(dictionaries.utf8)]
        }
        for round in 0..<6000 {
            let original = RandomPythonLiteral.listCell(&random)
            var cells = [original] + (round == 0 ? nested : [])
            for _ in 0..<3 where !original.isEmpty {
                var changed = original
                let at = Int(random.next() % UInt64(original.count))
                let byte = bytes[Int(random.next() % UInt64(bytes.count))]
                switch random.next() % 3 {
                case 0: changed[at] = byte
                case 1: changed.insert(byte, at: at)
                default: changed.remove(at: at)
                }
                cells.append(changed)
            }
            for cell in cells {
                let writer = RelaxedJSONWriter()
                let walked = cell.withUnsafeBufferPointer { RowBuilder.printPlainLiteralByEvents($0, into: writer) }
                let walkedText = Array(writer.bytes)
                for build in builds {
                    var out = [UInt8](repeating: 0, count: PlainLiteral.jsonCapacity(cell.count))
                    let written = cell.withUnsafeBufferPointer { build.plain_literal_json($0.baseAddress, $0.count, &out) }
                    let name = String(cString: build.name)
                    if written >= 0 {
                        #expect(walked == true && Array(out[..<written]) == walkedText,
                                "\(name) printed \(String(decoding: out[..<written], as: UTF8.self)) for \(String(decoding: cell, as: UTF8.self))")
                        printed += 1
                    } else {
                        #expect(walked != true, "\(name) left a plain, valid cell: \(String(decoding: cell, as: UTF8.self))")
                        left += 1
                    }
                }
            }
        }
        #expect(printed > 5000 && left > 5000, "both outcomes are covered (\(printed) printed, \(left) left)")
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

import Testing
import TestSupport
@testable import Tabular

/// `PlainLiteral`, the fast path for `python-literal` cells such as FMA's tags and images, against
/// the Python-literal parser: wherever the fast path takes a cell, the values its walk describes
/// must be the ones the parser reads.
@Suite struct PlainLiteralTests {
    /// The value the walk describes, or nil when the fast path refuses the cell.
    static func walked(_ cell: [UInt8]) -> FieldValue? {
        cell.withUnsafeBufferPointer { buffer -> FieldValue? in
            guard PlainLiteral.matches(buffer) else { return nil }
            // Open containers: a list's elements, or a dictionary's entries and its pending key.
            var stack: [(list: [FieldValue]?, entries: [FieldValue.Entry], key: String?)] = []
            var result: FieldValue?
            func add(_ value: FieldValue) {
                guard !stack.isEmpty else { return result = value }
                if stack[stack.count - 1].list != nil {
                    stack[stack.count - 1].list!.append(value)
                } else {
                    stack[stack.count - 1].entries.append(FieldValue.Entry(key: stack[stack.count - 1].key ?? "?", value: value))
                }
            }
            var walker = PlainLiteral.Walker(buffer)
            while let event = walker.next() {
                switch event {
                case .beginList: stack.append(([], [], nil))
                case .beginDictionary: stack.append((nil, [], nil))
                case .endList: add(.list(stack.removeLast().list ?? []))
                case .endDictionary: add(.dictionary(stack.removeLast().entries))
                case .key(let text): stack[stack.count - 1].key = String(decoding: text, as: UTF8.self)
                case .string(let text): add(.string(String(decoding: text, as: UTF8.self)))
                case .null: add(.null)
                }
            }
            #expect(walker.finished, "matches and the walker agree")
            return result
        }
    }

    static func parsed(_ cell: [UInt8]) -> FieldValue? {
        cell.withUnsafeBufferPointer { try? PythonLiteral.parse(utf8: $0, invalidUTF8: .replace) }
    }

    @Test func fastPathAgreesWithTheLiteralParser() {
        var random = SplitMix64(seed: 20_261_122)
        var taken = 0, nested = 0, refused = 0
        for _ in 0..<30_000 {
            let cell = RandomPythonLiteral.listCell(&random)
            guard let fast = Self.walked(cell) else {
                refused += 1
                continue
            }
            taken += 1
            if cell.contains(UInt8(ascii: "{")) { nested += 1 }
            #expect(Self.parsed(cell) == fast, "\(String(decoding: cell, as: UTF8.self))")
        }
        #expect(taken > 3000 && nested > 500, "the fast path takes the common shapes (\(taken), \(nested) with dictionaries)")
        #expect(refused > 3000, "and leaves the others to the parser")
    }

    /// The shape is strings without escapes or control bytes: a backslash or a byte below 0x20
    /// anywhere in a long string (scanned 8 bytes at a time) leaves the cell to the parser, and
    /// the string ends at its first closing quote wherever that is.
    @Test func longStringsAreCheckedAtEveryOffset() {
        for length in [7, 8, 9, 15, 16, 17, 40] {
            for offset in 0..<length {
                for byte: UInt8 in [0x00, 0x09, 0x0A, 0x1F, UInt8(ascii: "\\")] {
                    var text = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    text[offset] = byte
                    let cell = Array("['".utf8) + text + Array("']".utf8)
                    #expect(Self.walked(cell) == nil, "byte \(byte) at \(offset) of \(length)")
                }
                var text = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                text[offset] = 0x7F  // not a control byte in this sense: kept as is
                #expect(Self.walked(Array("['".utf8) + text + Array("']".utf8)) == .list([.string(String(decoding: text, as: UTF8.self))]))
                let split = Array("['".utf8) + text[..<offset] + Array("', '".utf8) + text[offset...] + Array("']".utf8)
                #expect(Self.walked(split) == .list([.string(String(decoding: text[..<offset], as: UTF8.self)),
                                                     .string(String(decoding: text[offset...], as: UTF8.self))]))
            }
        }
    }

    @Test func commonShapes() {
        #expect(Self.walked(Array("[]".utf8)) == .list([]))
        #expect(Self.walked(Array("['piano']".utf8)) == .list([.string("piano")]))
        #expect(Self.walked(Array("['ce sitel', \"it's\", '']".utf8)) == .list([.string("ce sitel"), .string("it's"), .string("")]))
        #expect(Self.walked(Array("[{'image_id': '24612', 'image_caption': None}, {}]".utf8))
                == .list([.dictionary([FieldValue.Entry(key: "image_id", value: .string("24612")),
                                       FieldValue.Entry(key: "image_caption", value: .null)]), .dictionary([])]))
        #expect(Self.walked(Array("['it\\'s']".utf8)) == nil, "escapes go to the parser")
        #expect(Self.walked(Array("['a','b']".utf8)) == nil, "other spacing goes to the parser")
        #expect(Self.walked(Array("['a', 1]".utf8)) == nil, "numbers go to the parser")
        #expect(Self.walked(Array("{'a': 'b'}".utf8)) == nil, "a dictionary on its own goes to the parser")
        #expect(Self.walked(Array(("[" + String(repeating: "[", count: 8) + String(repeating: "]", count: 8) + "]").utf8)) == nil,
                "nesting deeper than the fast path's limit goes to the parser")
    }
}

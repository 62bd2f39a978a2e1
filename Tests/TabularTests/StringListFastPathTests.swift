import Testing
import TestSupport
@testable import Tabular

/// `PlainStringList`, the fast path for `python-literal` cells such as FMA's tags, against the
/// Python-literal parser: wherever the fast path takes a cell, the parser must read a list of
/// strings whose texts are exactly the items the fast path hands out.
@Suite struct StringListFastPathTests {
    static func fastItems(_ cell: [UInt8]) -> [String]? {
        cell.withUnsafeBufferPointer { buffer -> [String]? in
            guard PlainStringList.matches(buffer) else { return nil }
            var items: [String] = []
            PlainStringList.forEachItem(buffer) { item in
                if let item { items.append(String(decoding: item, as: UTF8.self)) }
            }
            return items
        }
    }

    static func parsed(_ cell: [UInt8]) -> FieldValue? {
        cell.withUnsafeBufferPointer { try? PythonLiteral.parse(utf8: $0, invalidUTF8: .replace) }
    }

    static func randomCell(_ random: inout SplitMix64) -> [UInt8] {
        func pick<T>(_ options: [T]) -> T { options[Int(random.next() % UInt64(options.count))] }
        let texts: [[UInt8]] = ["rock", "", "ce sitel", "a, b", "x]", "[", "it's", "say \"hi\"", "é", "tab\there",
                                "back\\slash", "x\\ny", "line\nend", "'", "\""].map { Array($0.utf8) } + [[0xC3], [0xFF, 0x41]]
        var items: [[UInt8]] = []
        for _ in 0..<Int(random.next() % 4) {
            let text = pick(texts)
            let quote = pick([UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "'")])
            items.append(random.next() % 10 == 0 ? Array("None".utf8) : [quote] + text + [quote])
        }
        var cell: [UInt8] = [UInt8(ascii: "[")]
        for (index, item) in items.enumerated() {
            if index > 0 { cell += Array(pick([", ", ", ", ",", " , ", ",  "]).utf8) }
            cell += item
        }
        cell.append(UInt8(ascii: "]"))
        switch random.next() % 12 {
        case 0: cell.append(UInt8(ascii: " "))
        case 1: cell.insert(UInt8(ascii: " "), at: 0)
        case 2: cell.removeLast()
        case 3: cell.removeFirst()
        case 4: cell.insert(contentsOf: Array("'x' ".utf8), at: 1)
        default: break
        }
        return cell
    }

    @Test func fastPathAgreesWithTheLiteralParser() {
        var random = SplitMix64(seed: 20_261_122)
        var taken = 0, refused = 0
        for _ in 0..<20_000 {
            let cell = Self.randomCell(&random)
            guard let items = Self.fastItems(cell) else {
                refused += 1
                continue
            }
            taken += 1
            let expected = FieldValue.list(items.map { .string($0) })
            #expect(Self.parsed(cell) == expected, "\(String(decoding: cell, as: UTF8.self))")
        }
        #expect(taken > 5000, "the fast path takes the common shapes")
        #expect(refused > 2000, "and leaves the others to the parser")
    }

    @Test func commonShapes() {
        #expect(Self.fastItems(Array("[]".utf8)) == [])
        #expect(Self.fastItems(Array("['piano']".utf8)) == ["piano"])
        #expect(Self.fastItems(Array("['ce sitel', \"it's\", '']".utf8)) == ["ce sitel", "it's", ""])
        #expect(Self.fastItems(Array("['it\\'s']".utf8)) == nil, "escapes go to the parser")
        #expect(Self.fastItems(Array("['a','b']".utf8)) == nil, "other spacing goes to the parser")
        #expect(Self.fastItems(Array("['a', 1]".utf8)) == nil)
        #expect(Self.fastItems(Array("['a'".utf8)) == nil)
        #expect(Self.fastItems(Array("[".utf8)) == nil)
        #expect(Self.fastItems(Array("'a'".utf8)) == nil)
    }
}

import Testing
import TestSupport
@testable import Tabular

/// `CellType.plainIntegers`, the fast path for `int-list` cells, against the general path (the
/// Python-literal parser, then `integers(in:itemKey:)`): wherever the fast path answers, the
/// general path must succeed with the same list.
@Suite struct IntegerListFastPathTests {
    static func general(_ cell: [UInt8], itemKey: String?) -> Result<FieldValue, CellType.Failure> {
        cell.withUnsafeBufferPointer { buffer in
            do throws(PythonLiteralError) {
                return CellType.integers(in: try PythonLiteral.parse(utf8: buffer, invalidUTF8: .replace), itemKey: itemKey)
            } catch {
                return .failure(CellType.Failure(error.message))
            }
        }
    }

    static func randomCell(_ random: inout SplitMix64) -> String {
        func pick<T>(_ options: [T]) -> T { options[Int(random.next() % UInt64(options.count))] }
        let numbers = ["21", "0", "7", "1235", "021", "-3", "+4", "999999999999999999", "9999999999999999999", " 5", "1.0", "x"]
        let texts = ["'Hip-Hop'", "'Rock'", "''", "'It\\'s'", "\"Don't\"", "'a, b'", "'{}'", "None", "True", "12", "'x]'",
                     "'/genre/Hip-Hop/'", "'é'", "[1]",
                     // A backslash far from any quote, and long text: past the 8-byte steps of the scan.
                     "'http://freemusicarchive.org/genre\\\\Hip-Hop/and/more'", "'http://freemusicarchive.org/genre/Old-Time__Historic/'"]
        // 'genre_ix' differs from the item key in its last byte only.
        let keys = ["'genre_id'", "'genre_title'", "'genre_url'", "\"genre_id\"", "'genre\\_id'", "'other'", "'genre_ix'"]
        var items: [String] = []
        for _ in 0..<Int(random.next() % 4) {
            if random.next() % 3 == 0 {
                items.append(pick(numbers))
            } else {
                var fields: [String] = []
                for _ in 0..<Int(random.next() % 4) {
                    let key = pick(keys)
                    let value = key.contains("genre_id") && random.next() % 4 != 0 ? pick(["'" + pick(numbers) + "'", pick(numbers)]) : pick(texts)
                    fields.append(key + pick([": ", ":", " : ", ": "]) + value)
                }
                items.append("{" + fields.joined(separator: pick([", ", ", ", ","])) + "}")
            }
        }
        var cell = "[" + items.joined(separator: pick([", ", ", ", ",", " , "])) + "]"
        switch random.next() % 12 {
        case 0: cell += " "
        case 1: cell = " " + cell
        case 2: cell.removeLast()
        case 3: cell = String(cell.dropFirst())
        default: break
        }
        return cell
    }

    @Test func fastPathAgreesWithTheLiteralParser() {
        var random = SplitMix64(seed: 11_22_2026)
        var answered = 0
        for _ in 0..<20_000 {
            let cell = Array(Self.randomCell(&random).utf8)
            for itemKey in ["genre_id", nil] as [String?] {
                // Into a row's store of integers: appended after what it holds, or nothing changed.
                var store: [Int64] = [99]
                let stored = cell.withUnsafeBufferPointer { CellType.plainIntegers($0, itemKey: itemKey, into: &store) }
                let fast = cell.withUnsafeBufferPointer { CellType.plainIntegers($0, itemKey: itemKey) }
                #expect(stored == (fast != nil) && store.first == 99)
                #expect(stored ? FieldValue.list(store.dropFirst().map { .int($0) }) == fast : store == [99])
                guard let fast else { continue }
                answered += 1
                let general = Self.general(cell, itemKey: itemKey)
                #expect(general == .success(fast), "\(String(decoding: cell, as: UTF8.self)) with key \(itemKey ?? "none")")
            }
        }
        #expect(answered > 5000, "the fast path answers the common shapes")
    }

    @Test func commonShapes() {
        func fast(_ text: String) -> FieldValue? {
            Array(text.utf8).withUnsafeBufferPointer { CellType.plainIntegers($0, itemKey: "genre_id") }
        }
        #expect(fast("[]") == .list([]))
        #expect(fast("[21, 76]") == .list([.int(21), .int(76)]))
        #expect(fast("[{'genre_id': '21', 'genre_title': 'Hip-Hop', 'genre_url': 'http://freemusicarchive.org/genre/Hip-Hop/'}]")
                == .list([.int(21)]))
        #expect(fast("[{'genre_title': 'It\\'s', 'genre_id': '21'}]") == nil, "escapes go to the general parser")
        #expect(fast("[021]") == nil)
    }
}

/// Random `python-literal` cells shaped like FMA's tag and image lists, and near misses: strings
/// in either quote with quotes, backslashes, control bytes, invalid UTF-8 and long URL-like texts;
/// `None`, numbers, nested lists and dictionaries with repr's spacing or not. For tests that hold
/// the fast paths for such cells to the general ones.
public enum RandomPythonLiteral {
    /// A list cell: `[` values `]`, one time in four spoiled (a trailing space, the closing
    /// bracket missing, two values without a comma).
    public static func listCell(_ random: inout SplitMix64) -> [UInt8] {
        var cell: [UInt8] = [UInt8(ascii: "[")]
        for index in 0..<Int(random.next() % 4) {
            if index > 0 { cell += Array(", ".utf8) }
            cell += value(&random, depth: 1)
        }
        cell.append(UInt8(ascii: "]"))
        switch random.next() % 12 {
        case 0: cell.append(UInt8(ascii: " "))
        case 1: cell.removeLast()
        case 2: cell.insert(contentsOf: Array("'x' ".utf8), at: 1)
        default: break
        }
        return cell
    }

    /// One value at nesting `depth`: a string, None, a number or a near miss, a list or a
    /// dictionary (no containers below depth 3).
    public static func value(_ random: inout SplitMix64, depth: Int) -> [UInt8] {
        func pick<T>(_ options: [T]) -> T { options[Int(random.next() % UInt64(options.count))] }
        let texts: [[UInt8]] = ["rock", "", "ce sitel", "a, b", "x]", "{", "it's", "say \"hi\"", "é", "tab\there",
                                "x\\ny", "'", "\"", "None", "image_id"].map { Array($0.utf8) } + [[0xC3], [0xFF, 0x41]]
        // Long texts, the strings are scanned 8 bytes at a time: a quote, a backslash or a
        // control byte at any offset of one, or none.
        let specials: [UInt8] = [UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x09, 0x0A, 0x1F, 0x00, 0x7F, 0xE9]
        func longText() -> [UInt8] {
            var text = Array("https://freemusicarchive.org/file/images/albums/".utf8.prefix(Int(random.next() % 48)))
            if random.next() % 3 != 0 { text.insert(pick(specials), at: Int(random.next() % UInt64(text.count + 1))) }
            return text
        }
        func string() -> [UInt8] {
            let quote = pick([UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "'")])
            return [quote] + (random.next() % 4 == 0 ? longText() : pick(texts)) + [quote]
        }
        func separator() -> [UInt8] { Array(pick([", ", ", ", ", ", ",", " , "]).utf8) }
        switch random.next() % (depth > 3 ? 3 : 6) {
        case 0, 1: return string()
        case 2: return Array(pick(["None", "None", "True", "12", "Nonex"]).utf8)
        case 3, 4:
            var cell: [UInt8] = [UInt8(ascii: "[")]
            for index in 0..<Int(random.next() % 4) {
                if index > 0 { cell += separator() }
                cell += value(&random, depth: depth + 1)
            }
            return cell + [UInt8(ascii: "]")]
        default:
            var cell: [UInt8] = [UInt8(ascii: "{")]
            for index in 0..<Int(random.next() % 4) {
                if index > 0 { cell += separator() }
                cell += random.next() % 8 == 0 ? Array("12".utf8) : string()
                cell += Array(pick([": ", ": ", ":", " : "]).utf8)
                cell += value(&random, depth: depth + 1)
            }
            return cell + [UInt8(ascii: "}")]
        }
    }
}

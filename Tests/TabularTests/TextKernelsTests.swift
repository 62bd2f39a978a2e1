import CTextKernels
import Testing
import TestSupport

/// The AVX2 build of the byte scans against the SSE2 baseline (which the reader's and the JSON
/// writer's tests also check, against a model and against libbson, on whichever build the CPU
/// picks): random text dense in the bytes each scan stops at, every length up to a few vectors.
@Suite(.enabled(if: musicetl_text_kernels_avx2() != nil, "this CPU has no AVX2"))
struct TextKernelsTests {
    let baseline = musicetl_text_kernels_baseline()!.pointee
    let avx2 = musicetl_text_kernels_avx2()!.pointee

    /// Mostly letters, with quotes, backslashes, commas, CR, LF, control bytes and UTF-8 (valid
    /// and broken) mixed in at a rate that varies per case.
    static func randomText(_ random: inout SplitMix64) -> [UInt8] {
        let length = Int(random.next() % 200)
        let rate = random.next() % 40 + 2
        var text: [UInt8] = []
        while text.count < length {
            guard random.next() % rate == 0 else {
                text.append(UInt8(ascii: "a") + UInt8(random.next() % 26))
                continue
            }
            switch random.next() % 10 {
            case 0: text.append(UInt8(ascii: "\""))
            case 1: text.append(UInt8(ascii: "\\"))
            case 2: text.append(UInt8(ascii: ","))
            case 3: text.append(UInt8(ascii: "\r"))
            case 4: text.append(UInt8(ascii: "\n"))
            case 5: text.append(UInt8(random.next() % 0x20))
            case 6: text += [0xC3, 0xA9]  // é
            case 7: text += [0xE2, 0x82, 0xAC]  // €
            case 8: text += [0xF0, 0x9F, 0x8E, 0xB5]  // 🎵
            default: text.append(UInt8(0x80 + random.next() % 0x80))  // often invalid
            }
        }
        return text
    }

    @Test func jsonEscapeAgrees() {
        var random = SplitMix64(seed: 0xE5CA9E)
        for round in 0..<20_000 {
            let text = Self.randomText(&random)
            let capacity = musicetl_json_escape_capacity(text.count)
            var outA = [UInt8](repeating: 0, count: capacity), outB = outA
            let writtenA = text.withUnsafeBufferPointer { baseline.json_escape($0.baseAddress, $0.count, &outA) }
            let writtenB = text.withUnsafeBufferPointer { avx2.json_escape($0.baseAddress, $0.count, &outB) }
            #expect(writtenA == writtenB, "round \(round)")
            if writtenA >= 0 && writtenA == writtenB {
                #expect(outA[..<writtenA] == outB[..<writtenB], "round \(round)")
            }
        }
    }

    /// libbson's escaping, a byte at a time: nil for invalid UTF-8.
    static func modelEscape(_ text: [UInt8]) -> [UInt8]? {
        guard String(validating: text, as: UTF8.self) != nil else { return nil }
        let hexDigits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
            case 0x08: out += Array("\\b".utf8)
            case 0x0C: out += Array("\\f".utf8)
            case 0x0A: out += Array("\\n".utf8)
            case 0x0D: out += Array("\\r".utf8)
            case 0x09: out += Array("\\t".utf8)
            case 0..<0x20: out += Array("\\u00".utf8) + [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        return out
    }

    func expectEscapeMatchesModel(_ text: [UInt8], _ context: @autoclosure () -> String) {
        let expected = Self.modelEscape(text)
        for kernels in [baseline, avx2] {
            var out = [UInt8](repeating: 0, count: musicetl_json_escape_capacity(text.count))
            let written = text.withUnsafeBufferPointer { kernels.json_escape($0.baseAddress, $0.count, &out) }
            let name = String(cString: kernels.name)
            if let expected {
                #expect(written == expected.count && Array(out[..<max(0, written)]) == expected, "\(name): \(context())")
            } else {
                #expect(written == -1, "\(name): \(context())")
            }
        }
    }

    /// The escape's vector steps, its tail (a vector ending at the text's end, or two overlapping
    /// halves of a short rest) and its byte steps against the model: every special byte (valid or
    /// not) at every offset of every length up to a few vectors, then random text.
    @Test func jsonEscapeMatchesModel() {
        let pieces: [[UInt8]] = ["\"", "\\", "\n", "\u{1}", "\u{7F}", "é", "€", "🎵"].map { Array($0.utf8) } + [[0x00], [0xFF], [0xE2, 0x82]]
        for length in 0...70 {
            let plain = (0..<length).map { UInt8(ascii: "a") + UInt8($0 % 26) }
            expectEscapeMatchesModel(plain, "plain, length \(length)")
            for piece in pieces where piece.count <= length {
                for offset in 0...(length - piece.count) {
                    var text = plain
                    text.replaceSubrange(offset..<(offset + piece.count), with: piece)
                    expectEscapeMatchesModel(text, "\(piece) at \(offset) of \(length)")
                }
            }
        }
        var random = SplitMix64(seed: 0xE5CA9F)
        for round in 0..<20_000 {
            expectEscapeMatchesModel(Self.randomText(&random), "round \(round)")
        }
    }

    @Test func findQuoteAgrees() {
        var random = SplitMix64(seed: 0x0_E07E)
        for round in 0..<20_000 {
            let text = Self.randomText(&random)
            var linesA = 0, linesB = 0
            let endA = text.withUnsafeBufferPointer { baseline.find_quote($0.baseAddress, $0.count, &linesA) }
            let endB = text.withUnsafeBufferPointer { avx2.find_quote($0.baseAddress, $0.count, &linesB) }
            #expect(endA == endB && linesA == linesB, "round \(round): \(endA) \(endB), \(linesA) \(linesB)")
        }
    }

    @Test func scanFieldsAgrees() {
        var random = SplitMix64(seed: 0x5CA9)
        for round in 0..<20_000 {
            let text = Self.randomText(&random)
            let capacity = Int(random.next() % 40) + 1
            let bias = Int(random.next() % 1000)
            var endsA = [Int](repeating: -1, count: capacity), endsB = endsA
            var countA = 0, countB = 0
            let startA = text.withUnsafeBufferPointer { baseline.scan_fields($0.baseAddress, $0.count, &endsA, capacity, bias, &countA) }
            let startB = text.withUnsafeBufferPointer { avx2.scan_fields($0.baseAddress, $0.count, &endsB, capacity, bias, &countB) }
            #expect(startA == startB && countA == countB && endsA == endsB, "round \(round)")
        }
    }
}

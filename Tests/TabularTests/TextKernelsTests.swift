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

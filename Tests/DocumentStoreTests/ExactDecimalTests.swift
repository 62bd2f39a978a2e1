import Foundation
import Testing
import TestSupport
@testable import DocumentStore

/// `ExactDecimal.appendG20` against the C library's own "%.20g" (what libbson calls): every value it
/// answers must print byte for byte the same.
@Suite struct ExactDecimalTests {
    static func printf(_ value: Double) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: 64)
        let written = withVaList([value]) { vsnprintf(&buffer, 64, "%.20g", $0) }
        return buffer[0..<Int(written)].map { UInt8(bitPattern: $0) }
    }

    static func fast(_ value: Double) -> [UInt8]? {
        var output = RelaxedJSONWriter.Output(base: .allocate(capacity: 8), count: 0, capacity: 8)
        defer { output.base.deallocate() }
        guard ExactDecimal.appendG20(value, into: &output) else { return nil }
        return Array(UnsafeBufferPointer(start: output.base, count: output.count))
    }

    static func check(_ value: Double, answered: inout Int, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let fast = fast(value) else { return }
        answered += 1
        let expected = printf(value)
        #expect(fast == expected, "\(value.bitPattern): printf \(String(decoding: expected, as: UTF8.self)), fast \(String(decoding: fast, as: UTF8.self))",
                sourceLocation: sourceLocation)
    }

    @Test func randomDoublesPrintAsTheCLibraryDoes() {
        var random = SplitMix64(seed: 20_20_11_22)
        var answered = 0
        for _ in 0..<400_000 {
            let value: Double
            switch random.next() % 6 {
            case 0:  // any magnitude in the range, every bit pattern of the significand
                value = Double(sign: random.next() % 2 == 0 ? .plus : .minus, exponent: Int(random.next() % 62) - 10,
                               significand: 1 + Double(random.next() >> 12) / 4_503_599_627_370_496)
            case 1:  // coordinates, as the artists' latitude and longitude
                value = Double(Int64(random.next() % 360_000_000) - 180_000_000) / 1e6
            case 2:  // short decimals, as typed in the CSVs
                value = Double(Int64(random.next() % 2_000_000) - 1_000_000) / [10, 100, 1000, 1e4, 1e5][Int(random.next() % 5)]
            case 3:  // halves and quarters: exact binary fractions
                value = Double(Int64(random.next() % 1_000_000_000)) + [0.5, 0.25, 0.75, 0.125, 0.0625][Int(random.next() % 5)]
            case 4:  // next to powers of ten, where the exponent changes
                let power = pow(10, Double(Int(random.next() % 19) - 3))
                value = Int(random.next() % 2) == 0 ? power.nextDown : power.nextUp
            default:  // random bit patterns (most fall outside the range: printf's job)
                value = Double(bitPattern: random.next())
            }
            Self.check(value, answered: &answered)
        }
        #expect(answered > 250_000)
    }

    /// Values whose 21st digit and beyond are exactly 5000…: ties, rounded half to even as glibc does.
    @Test func tiesAndEdges() {
        var answered = 0
        let values: [Double] = [0.001, 0.0010000000000000002, 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 0.5, 1.5, 2.5, 123.456, 4503599627370495.5,
                                4503599627370494.5, 1e15 + 0.125, 9.999999999999998, 99.99999999999999, 0.009999999999999998,
                                1.0000000000000002, 3.141592653589793, 40.7127837, -74.0059413, 1234567.890625]
        for value in values {
            Self.check(value, answered: &answered)
            Self.check(-value, answered: &answered)
        }
        #expect(answered == values.count * 2)
        #expect(Self.fast(4503599627370496) == nil, "2^52 and beyond are whole numbers: not this path")
        #expect(Self.fast(0.000999) == nil)
    }
}

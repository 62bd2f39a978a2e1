@testable import AudioFeatures
import Foundation
import Testing
import TestSupport

@Suite("summary statistics (scipy.stats semantics)")
struct SummaryStatisticsTests {
    func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
        (a.isNaN && b.isNaN) || abs(a - b) <= tolerance * max(1, abs(b))
    }

    @Test("values computed by scipy 1.17 / numpy 2.4")
    func knownValues() {
        // scipy.stats.skew([2, 8, 0, 4, 1, 9, 9, 0]) is scipy's own documentation example.
        let a = SummaryStatistics(of: [2, 8, 0, 4, 1, 9, 9, 0] as [Double])
        #expect(close(a.mean, 4.125) && close(a.std, 3.7228181529588578) && close(a.median, 3.0))
        #expect(close(a.skew, 0.2650554122698573) && close(a.kurtosis, -1.6660010752838508))
        #expect(a.min == 0 && a.max == 9)
        let b = SummaryStatistics(of: [1.5, -2.25, 3.0, 10.0, 0.5] as [Double])
        #expect(close(b.mean, 2.55) && close(b.std, 4.1) && close(b.median, 1.5))
        #expect(close(b.skew, 0.8508872477184026) && close(b.kurtosis, -0.4305777275572842))
    }

    @Test("constant, two-valued, single and empty series")
    func degenerate() {
        let constant = SummaryStatistics(of: [3.0, 3.0, 3.0])
        #expect(constant.std == 0 && constant.skew.isNaN && constant.kurtosis.isNaN && constant.median == 3)
        let zeros = SummaryStatistics(of: [0.0, 0, 0, 0])
        #expect(zeros.skew.isNaN && zeros.kurtosis.isNaN)
        let two = SummaryStatistics(of: [1.0, 2.0])
        #expect(two.skew == 0 && two.kurtosis == -2 && two.median == 1.5)
        let one = SummaryStatistics(of: [5.0])
        #expect(one.mean == 5 && one.skew.isNaN && one.kurtosis.isNaN)
        let empty = SummaryStatistics(of: [Double]())
        #expect(empty.mean.isNaN && empty.median.isNaN)
        // NaN compares equal to NaN, so an unchanged result is recognised as unchanged.
        #expect(constant == SummaryStatistics(of: [3.0, 3.0, 3.0]))
        #expect(Set([constant, SummaryStatistics(of: [3.0, 3.0, 3.0])]).count == 1)
    }

    @Test("median by selection equals median by sorting", arguments: [1, 2, 3, 10, 11, 1000, 1001])
    func median(count: Int) {
        var generator = SplitMix64(seed: UInt64(count))
        for pattern in 0..<4 {
            let values: [Double] = (0..<count).map { i in
                switch pattern {
                case 0: return generator.nextUnit()
                case 1: return Double(i)                          // sorted
                case 2: return Double(count - i)                  // reversed
                default: return Double(Int(generator.nextUnit() * 4))  // many duplicates
                }
            }
            let sorted = values.sorted()
            let expected = count % 2 == 1 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2
            #expect(SummaryStatistics.median(values) == expected, "pattern \(pattern)")
        }
    }
}

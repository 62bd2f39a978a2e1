import Foundation

/// Per-feature statistics over frames, as the FMA dataset's `features.csv` and
/// `scipy.stats` define them, accumulated in float64:
/// mean, population std, biased skew (m3/m2^1.5), biased Fisher kurtosis (m4/m2² − 3), median,
/// min, max. Like scipy, skew and kurtosis are NaN when the series is constant
/// (m2 ≤ (ε·mean)², ε = float64 epsilon), and everything is NaN for an empty series.
public struct SummaryStatistics: Sendable, Equatable, Hashable, Codable {
    public var mean: Double
    public var std: Double
    public var skew: Double
    public var kurtosis: Double
    public var median: Double
    public var min: Double
    public var max: Double

    public init(mean: Double, std: Double, skew: Double, kurtosis: Double,
                median: Double, min: Double, max: Double) {
        self.mean = mean
        self.std = std
        self.skew = skew
        self.kurtosis = kurtosis
        self.median = median
        self.min = min
        self.max = max
    }

    public init<C: Collection>(of values: C) where C.Element: BinaryFloatingPoint {
        self.init(of: values.map { Double($0) })
    }

    public init(of values: [Double]) {
        guard !values.isEmpty else {
            self.init(mean: .nan, std: .nan, skew: .nan, kurtosis: .nan, median: .nan, min: .nan, max: .nan)
            return
        }
        let count = Double(values.count)
        var sum = 0.0, minimum = values[0], maximum = values[0]
        for value in values {
            sum += value
            minimum = Swift.min(minimum, value)
            maximum = Swift.max(maximum, value)
        }
        let mean = sum / count
        var m2 = 0.0, m3 = 0.0, m4 = 0.0
        for value in values {
            let d = value - mean
            let d2 = d * d
            m2 += d2
            m3 += d2 * d
            m4 += d2 * d2
        }
        m2 /= count
        m3 /= count
        m4 /= count
        // scipy: `zero = m2 <= (eps * mean)**2` → NaN (a constant series has no shape).
        let constant = m2 <= (Double.ulpOfOne * mean) * (Double.ulpOfOne * mean)
        self.init(mean: mean,
                  std: m2.squareRoot(),
                  skew: constant ? .nan : m3 / pow(m2, 1.5),
                  kurtosis: constant ? .nan : m4 / (m2 * m2) - 3,
                  median: Self.median(values),
                  min: minimum,
                  max: maximum)
    }

    /// numpy's median: the middle value, or the mean of the two middle values. Found by selection
    /// (expected linear time) rather than a full sort; `values` must not contain NaN.
    static func median(_ values: [Double]) -> Double {
        var scratch = values
        let middle = scratch.count / 2
        return scratch.withUnsafeMutableBufferPointer { buffer -> Double in
            select(buffer, rank: middle)
            let upper = buffer[middle]
            guard buffer.count % 2 == 0 else { return upper }
            // After selection everything left of `middle` is <= upper: the lower middle is their max.
            var lower = buffer[0]
            for i in 1..<middle { lower = Swift.max(lower, buffer[i]) }
            return (lower + upper) / 2
        }
    }

    /// Rearranges `buffer` so that `buffer[rank]` holds the value a sort would put there, smaller
    /// or equal values before it and larger or equal after it (Hoare quickselect, median-of-3).
    static func select(_ buffer: UnsafeMutableBufferPointer<Double>, rank: Int) {
        var low = 0, high = buffer.count - 1
        while low < high {
            let mid = low + (high - low) / 2
            // Median of three as the pivot value, so sorted or constant input stays linear.
            let a = buffer[low], b = buffer[mid], c = buffer[high]
            let pivot = Swift.max(Swift.min(a, b), Swift.min(Swift.max(a, b), c))
            var i = low, j = high
            while i <= j {
                while buffer[i] < pivot { i += 1 }
                while buffer[j] > pivot { j -= 1 }
                if i <= j {
                    buffer.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if rank <= j {
                high = j
            } else if rank >= i {
                low = i
            } else {
                return
            }
        }
    }

    /// Field-wise equality where NaN equals NaN: two extractions of the same file compare equal.
    public static func == (lhs: SummaryStatistics, rhs: SummaryStatistics) -> Bool {
        func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
        return same(lhs.mean, rhs.mean) && same(lhs.std, rhs.std) && same(lhs.skew, rhs.skew)
            && same(lhs.kurtosis, rhs.kurtosis) && same(lhs.median, rhs.median)
            && same(lhs.min, rhs.min) && same(lhs.max, rhs.max)
    }

    public func hash(into hasher: inout Hasher) {
        for value in [mean, std, skew, kurtosis, median, min, max] {
            // Canonical NaN and zero, so that hashing agrees with `==`.
            hasher.combine(value.isNaN ? Double.nan.bitPattern : value == 0 ? 0 : value.bitPattern)
        }
    }
}

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
        // Contiguous storage (arrays and their slices: every caller here) is read in place, in its
        // own precision; the selection compares elements of that type, which orders exactly as
        // their float64 values do.
        self = values.withContiguousStorageIfAvailable { Self(buffer: $0) }
            ?? Array(values).withUnsafeBufferPointer { Self(buffer: $0) }
    }

    public init(of values: [Double]) {
        self = values.withUnsafeBufferPointer { Self(buffer: $0) }
    }

    /// Sums in float64 in index order (the order the streaming path uses too), median by
    /// selection on a copy.
    private init<T: BinaryFloatingPoint>(buffer values: UnsafeBufferPointer<T>) {
        guard let first = values.first else {
            self.init(mean: .nan, std: .nan, skew: .nan, kurtosis: .nan, median: .nan, min: .nan, max: .nan)
            return
        }
        var sum = 0.0, minimum = Double(first), maximum = Double(first)
        for element in values {
            let value = Double(element)
            sum += value
            minimum = Swift.min(minimum, value)
            maximum = Swift.max(maximum, value)
        }
        let mean = sum / Double(values.count)
        var m2 = 0.0, m3 = 0.0, m4 = 0.0
        for element in values {
            let d = Double(element) - mean
            let d2 = d * d
            m2 += d2
            m3 += d2 * d
            m4 += d2 * d2
        }
        self.init(count: values.count, mean: mean, m2Sum: m2, m3Sum: m3, m4Sum: m4,
                  median: Self.median(values), min: minimum, max: maximum)
    }

    /// The final formulas, shared by the in-memory and the streaming (spilled) paths so both give
    /// the same bits from the same sums.
    init(count: Int, mean: Double, m2Sum: Double, m3Sum: Double, m4Sum: Double,
         median: Double, min: Double, max: Double) {
        let count = Double(count)
        let m2 = m2Sum / count, m3 = m3Sum / count, m4 = m4Sum / count
        // scipy: `zero = m2 <= (eps * mean)**2` → NaN (a constant series has no shape).
        let constant = m2 <= (Double.ulpOfOne * mean) * (Double.ulpOfOne * mean)
        self.init(mean: mean,
                  std: m2.squareRoot(),
                  skew: constant ? .nan : m3 / pow(m2, 1.5),
                  kurtosis: constant ? .nan : m4 / (m2 * m2) - 3,
                  median: median,
                  min: min,
                  max: max)
    }

    /// Statistics of `columns` series of `count` values each, stored row by row somewhere that can
    /// be read several times in order (a spilled track): `forEachRow(body)` must call `body` once
    /// per row, in the same order every time, with a pointer to that row's `columns` values.
    ///
    /// Memory is independent of `count`: the sums run in the same order as `init(of:)` (so the
    /// results are bit-identical to it), and the median is found by radix selection on an
    /// order-preserving key, 8 bits per pass, until at most `candidateLimit` values can still hold
    /// the wanted rank; one last pass collects those and picks the rank among them. On real
    /// features that is 2 radix passes, so 5 passes over the rows in all.
    static func streaming<E: Error>(columns: Int, count: Int, candidateLimit: Int = 4096,
                                    forEachRow: ((UnsafePointer<Double>) -> Void) throws(E) -> Void)
        throws(E) -> [SummaryStatistics] {
        guard count > 0 else { return (0..<columns).map { _ in SummaryStatistics(of: [Double]()) } }
        var sums = [Double](repeating: 0, count: columns)
        var minimums = [Double](repeating: 0, count: columns), maximums = minimums
        var first = true
        try forEachRow { row in
            for c in 0..<columns {
                let value = row[c]
                if first {
                    minimums[c] = value
                    maximums[c] = value
                }
                sums[c] += value
                minimums[c] = Swift.min(minimums[c], value)
                maximums[c] = Swift.max(maximums[c], value)
            }
            first = false
        }
        let means = sums.map { $0 / Double(count) }
        var m2 = [Double](repeating: 0, count: columns), m3 = m2, m4 = m2
        try forEachRow { row in
            for c in 0..<columns {
                let d = row[c] - means[c]
                let d2 = d * d
                m2[c] += d2
                m3[c] += d2 * d
                m4[c] += d2 * d2
            }
        }
        // numpy's median: the value of rank n/2, and for even n the mean with rank n/2 − 1.
        let ranks = count % 2 == 0 ? [count / 2, count / 2 - 1] : [count / 2]
        let slots = columns * ranks.count  // slot = c * ranks.count + r
        var prefixes = [UInt64](repeating: 0, count: slots)
        var remaining = (0..<columns).flatMap { _ in ranks }  // rank among the candidates
        var candidates = [Int](repeating: count, count: slots)
        var histogram = [Int32](repeating: 0, count: slots * 256)
        var shift = 56
        // Bits above `shift + 8` of the slot's key are decided; a value is a candidate when its
        // key agrees on them.
        func decidedMask(_ shift: Int) -> UInt64 { shift + 8 >= 64 ? 0 : ~UInt64(0) << UInt64(shift + 8) }
        while shift >= 0, candidates.contains(where: { $0 > candidateLimit }) {
            let mask = decidedMask(shift)
            for i in histogram.indices { histogram[i] = 0 }
            try forEachRow { row in
                for c in 0..<columns {
                    let key = orderKey(row[c])
                    for r in 0..<ranks.count {
                        let slot = c * ranks.count + r
                        if (key ^ prefixes[slot]) & mask == 0 {
                            histogram[slot &* 256 &+ Int((key >> UInt64(shift)) & 0xff)] &+= 1
                        }
                    }
                }
            }
            for slot in 0..<slots {
                var bucket = 0
                while remaining[slot] >= Int(histogram[slot * 256 + bucket]) {
                    remaining[slot] -= Int(histogram[slot * 256 + bucket])
                    bucket += 1
                }
                candidates[slot] = Int(histogram[slot * 256 + bucket])
                prefixes[slot] |= UInt64(bucket) << UInt64(shift)
            }
            shift -= 8
        }
        var selected = [UInt64](repeating: 0, count: slots)
        if shift < 0 {
            selected = prefixes  // every bit decided
        } else {
            let mask = decidedMask(shift)
            var pools = [[UInt64]](repeating: [], count: slots)
            for slot in 0..<slots { pools[slot].reserveCapacity(candidates[slot]) }
            try forEachRow { row in
                for c in 0..<columns {
                    let key = orderKey(row[c])
                    for r in 0..<ranks.count {
                        let slot = c * ranks.count + r
                        if (key ^ prefixes[slot]) & mask == 0 { pools[slot].append(key) }
                    }
                }
            }
            for slot in 0..<slots {
                pools[slot].sort()
                selected[slot] = pools[slot][remaining[slot]]
            }
        }
        return (0..<columns).map { c in
            let upper = valueOf(key: selected[c * ranks.count])
            let median = ranks.count == 2 ? (valueOf(key: selected[c * ranks.count + 1]) + upper) / 2 : upper
            return SummaryStatistics(count: count, mean: means[c], m2Sum: m2[c], m3Sum: m3[c], m4Sum: m4[c],
                                     median: median, min: minimums[c], max: maximums[c])
        }
    }

    /// Unsigned integers in the order of the doubles (no NaN here). −0 is read as +0 first, so the
    /// two zeros are one value, as they are for quickselect's comparisons.
    static func orderKey(_ value: Double) -> UInt64 {
        let bits = (value + 0).bitPattern
        return bits >> 63 == 1 ? ~bits : bits | (1 << 63)
    }

    static func valueOf(key: UInt64) -> Double {
        Double(bitPattern: key >> 63 == 1 ? key & ~(1 << 63) : ~key)
    }

    /// numpy's median: the middle value, or the mean of the two middle values. Found by selection
    /// (expected linear time) rather than a full sort; `values` must not contain NaN.
    static func median(_ values: [Double]) -> Double {
        values.withUnsafeBufferPointer { median($0) }
    }

    static func median<T: BinaryFloatingPoint>(_ values: UnsafeBufferPointer<T>) -> Double {
        let scratch = UnsafeMutableBufferPointer<T>.allocate(capacity: values.count)
        defer { scratch.deallocate() }
        _ = scratch.initialize(from: values)
        let middle = scratch.count / 2
        select(scratch, rank: middle)
        let upper = Double(scratch[middle])
        guard scratch.count % 2 == 0 else { return upper }
        // After selection everything left of `middle` is <= upper: the lower middle is their max.
        var lower = scratch[0]
        for i in 1..<middle { lower = Swift.max(lower, scratch[i]) }
        return (Double(lower) + upper) / 2
    }

    /// Rearranges `buffer` so that `buffer[rank]` holds the value a sort would put there, smaller
    /// or equal values before it and larger or equal after it (Hoare quickselect, median-of-3).
    static func select<T: BinaryFloatingPoint>(_ buffer: UnsafeMutableBufferPointer<T>, rank: Int) {
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

import Tabular

/// Per-feature scaling fitted on the training rows only.
public struct FeatureScaler: Sendable, Equatable {
    public enum Method: String, Sendable, CaseIterable {
        case zscore, minmax
    }

    public let method: Method
    /// zscore: mean; minmax: minimum.
    public let offsets: [Double]
    /// zscore: population standard deviation; minmax: max − min. A constant feature gets 1, so it
    /// scales to 0 instead of NaN or infinity.
    public let scales: [Double]
    public let fittedRows: Int

    public init(method: Method, offsets: [Double], scales: [Double], fittedRows: Int) {
        self.method = method
        self.offsets = offsets
        self.scales = scales
        self.fittedRows = fittedRows
    }

    /// Numerically stable one-pass fit (Welford's update), skipping non-finite values.
    public struct Accumulator {
        var count: [Int], mean: [Double], m2: [Double], minimum: [Double], maximum: [Double]
        public private(set) var rows = 0

        public init(width: Int) {
            count = Array(repeating: 0, count: width)
            mean = Array(repeating: 0, count: width)
            m2 = Array(repeating: 0, count: width)
            minimum = Array(repeating: .infinity, count: width)
            maximum = Array(repeating: -.infinity, count: width)
        }

        public mutating func add(_ values: [Double]) {
            add(values, weight: 1)
        }

        /// `values` as if added `weight` times (West's weighted update): values shared by many
        /// training rows (MSSD: a track's features in each of its plays) are added once.
        /// A weight of 1 computes exactly what one `add` does.
        public mutating func add(_ values: [Double], weight: Int) {
            guard weight > 0 else { return }
            rows += weight
            let weightValue = Double(weight)
            for (index, value) in values.enumerated() where value.isFinite {
                count[index] += weight
                let delta = value - mean[index]
                mean[index] += weightValue * delta / Double(count[index])
                m2[index] += weightValue * delta * (value - mean[index])
                minimum[index] = Swift.min(minimum[index], value)
                maximum[index] = Swift.max(maximum[index], value)
            }
        }

        public func scaler(_ method: Method) -> FeatureScaler {
            let width = mean.count
            switch method {
            case .zscore:
                let deviations = (0..<width).map { count[$0] > 0 ? (m2[$0] / Double(count[$0])).squareRoot() : 0 }
                return FeatureScaler(method: method, offsets: mean,
                                     scales: deviations.map { $0 > 0 && $0.isFinite ? $0 : 1 }, fittedRows: rows)
            case .minmax:
                let offsets = (0..<width).map { count[$0] > 0 ? minimum[$0] : 0 }
                let ranges = (0..<width).map { count[$0] > 0 ? maximum[$0] - minimum[$0] : 0 }
                return FeatureScaler(method: method, offsets: offsets,
                                     scales: ranges.map { $0 > 0 && $0.isFinite ? $0 : 1 }, fittedRows: rows)
            }
        }
    }

    /// Scales a row; a value that is not finite after scaling is missing (nil), never a made-up
    /// number a model would learn from (counted by the caller through `nonFinite`).
    public func apply(_ values: [Double], nonFinite: inout Int) -> [Double?] {
        values.indices.map { index in
            let scaled = (values[index] - offsets[index]) / scales[index]
            if scaled.isFinite { return scaled }
            nonFinite += 1
            return nil
        }
    }
}

/// The deterministic split used when the input has none: FNV-1a 64 of the id's text, mod 10 —
/// 0…7 training, 8 validation, 9 test.
public enum HashSplit {
    public static let description = "fnv1a64(id) mod 10: 0-7 training, 8 validation, 9 test"

    public static func split(forID id: String) -> String {
        switch StableHash.fnv1a64(id) % 10 {
        case 8: return "validation"
        case 9: return "test"
        default: return "training"
        }
    }
}

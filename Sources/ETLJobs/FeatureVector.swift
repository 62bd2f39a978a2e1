import DocumentStore
import Tabular

/// The flat feature vector of a feature document, in the fixed order of the FMA `features.csv`
/// statistics: `mfcc_<stat>_01 … _20` for each statistic, then `spectral_centroid_<stat>`, then
/// `zcr_<stat>`. This order is also the export's column order (Schemas/training_row.schema.json).
enum FeatureVector {
    static let statistics = ["mean", "std", "skew", "kurtosis", "median", "min", "max"]
    static let mfccCount = 20

    static let names: [String] = {
        var names: [String] = []
        for statistic in statistics {
            for coefficient in 1...mfccCount {
                names.append("mfcc_\(statistic)_\(coefficient < 10 ? "0" : "")\(coefficient)")
            }
        }
        names += statistics.map { "spectral_centroid_\($0)" }
        names += statistics.map { "zcr_\($0)" }
        return names
    }()

    struct ShapeError: Error, CustomStringConvertible {
        var description: String
    }

    /// The values of a feature document (Schemas/features.schema.json), in `names` order. NaN stays NaN.
    static func values(of document: Document) throws(ShapeError) -> [Double] {
        var values: [Double] = []
        values.reserveCapacity(names.count)
        guard let mfcc = document["mfcc"]?.documentValue else { throw ShapeError(description: "no mfcc statistics") }
        for statistic in statistics {
            guard let coefficients = mfcc[statistic]?.arrayValue, coefficients.count == mfccCount else {
                throw ShapeError(description: "mfcc.\(statistic) is not an array of \(mfccCount) numbers")
            }
            for value in coefficients {
                guard let number = value.doubleValue else { throw ShapeError(description: "mfcc.\(statistic) holds a non-number") }
                values.append(number)
            }
        }
        for feature in ["spectral_centroid", "zcr"] {
            guard let summary = document[feature]?.documentValue else { throw ShapeError(description: "no \(feature) statistics") }
            for statistic in statistics {
                guard let number = summary[statistic]?.doubleValue else {
                    throw ShapeError(description: "\(feature).\(statistic) is not a number")
                }
                values.append(number)
            }
        }
        return values
    }
}

/// Per-feature scaling fitted on the training rows only.
public struct FeatureScaler: Sendable, Equatable {
    public enum Method: String, Sendable, CaseIterable {
        case zscore, minmax
    }

    let method: Method
    /// zscore: mean; minmax: minimum.
    let offsets: [Double]
    /// zscore: population standard deviation; minmax: max − min. A constant feature gets 1, so it
    /// scales to 0 instead of NaN or infinity.
    let scales: [Double]
    let fittedRows: Int

    /// Numerically stable one-pass fit (Welford's update), skipping non-finite values.
    struct Accumulator {
        var count: [Int], mean: [Double], m2: [Double], minimum: [Double], maximum: [Double]
        var rows = 0

        init(width: Int) {
            count = Array(repeating: 0, count: width)
            mean = Array(repeating: 0, count: width)
            m2 = Array(repeating: 0, count: width)
            minimum = Array(repeating: .infinity, count: width)
            maximum = Array(repeating: -.infinity, count: width)
        }

        mutating func add(_ values: [Double]) {
            rows += 1
            for (index, value) in values.enumerated() where value.isFinite {
                count[index] += 1
                let delta = value - mean[index]
                mean[index] += delta / Double(count[index])
                m2[index] += delta * (value - mean[index])
                minimum[index] = Swift.min(minimum[index], value)
                maximum[index] = Swift.max(maximum[index], value)
            }
        }

        func scaler(_ method: Method) -> FeatureScaler {
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
    func apply(_ values: [Double], nonFinite: inout Int) -> [Double?] {
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
enum HashSplit {
    static let description = "fnv1a64(id) mod 10: 0-7 training, 8 validation, 9 test"

    static func split(forID id: String) -> String {
        switch StableHash.fnv1a64(id) % 10 {
        case 8: return "validation"
        case 9: return "test"
        default: return "training"
        }
    }
}

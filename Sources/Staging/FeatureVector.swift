import DocumentStore

/// The flat feature vector of a feature document, in the fixed order of the FMA `features.csv`
/// statistics: `mfcc_<stat>_01 … _20` for each statistic, then `spectral_centroid_<stat>`, then
/// `zcr_<stat>`. This order is also the export's column order (Schemas/training_row.schema.json).
public enum FeatureVector {
    public static let statistics = ["mean", "std", "skew", "kurtosis", "median", "min", "max"]
    public static let mfccCount = 20

    public static let names: [String] = {
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

    public struct ShapeError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The values of a feature document (Schemas/features.schema.json), in `names` order. NaN stays NaN.
    public static func values(of document: Document) throws(ShapeError) -> [Double] {
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

import NormalizeStage
import Testing

/// The scaler's maths, called directly: fit on rows, apply to a row.
@Suite struct FeatureScalerTests {
    func fitted(_ rows: [[Double]], _ method: FeatureScaler.Method) -> FeatureScaler {
        var accumulator = FeatureScaler.Accumulator(width: rows[0].count)
        for row in rows { accumulator.add(row) }
        return accumulator.scaler(method)
    }

    @Test func zscoreUsesTheMeanAndThePopulationStandardDeviation() {
        let scaler = fitted([[1, 10], [3, 10], [5, 10]], .zscore)
        #expect(scaler.offsets == [3, 10])
        // Population deviation of 1, 3, 5: sqrt(8/3); a constant feature scales by 1, not 0.
        #expect(abs(scaler.scales[0] - (8.0 / 3).squareRoot()) < 1e-12)
        #expect(scaler.scales[1] == 1)
        #expect(scaler.fittedRows == 3)
        var nonFinite = 0
        let row = scaler.apply([5, 12], nonFinite: &nonFinite)
        #expect(abs(row[0]! - 2 / (8.0 / 3).squareRoot()) < 1e-12)
        #expect(row[1] == 2)
        #expect(nonFinite == 0)
    }

    @Test func minmaxUsesTheMinimumAndTheRange() {
        let scaler = fitted([[2, -1], [6, -1], [4, -1]], .minmax)
        #expect(scaler.offsets == [2, -1])
        #expect(scaler.scales == [4, 1])
        var nonFinite = 0
        #expect(scaler.apply([6, -1], nonFinite: &nonFinite) == [1, 0])
    }

    @Test func nonFiniteValuesAreSkippedByTheFitAndMissingAfterScaling() {
        let scaler = fitted([[1], [.nan], [3], [.infinity]], .zscore)
        #expect(scaler.offsets == [2])
        #expect(scaler.scales == [1])
        #expect(scaler.fittedRows == 4)
        var nonFinite = 0
        let row = scaler.apply([.nan], nonFinite: &nonFinite)
        #expect(row == [nil])
        #expect(nonFinite == 1)
    }

    @Test func hashSplitIsStableAndCoversTheThreeSplits() {
        let splits = (1...1000).map { HashSplit.split(forID: String($0)) }
        #expect(Set(splits) == ["training", "validation", "test"])
        #expect(splits == (1...1000).map { HashSplit.split(forID: String($0)) })
        #expect(Double(splits.filter { $0 == "training" }.count) / 1000 > 0.7)
    }
}

/// `librosa.feature.zero_crossing_rate` on one (edge-padded) frame: the number of i in 1..<n
/// where the sign bit of x[i] differs from that of x[i−1], after values with |x| ≤ 1e-10 are set
/// to +0 (`zero_pos=True`: zero counts as positive), divided by n (the first position never
/// counts, `pad=False`).
enum ZeroCrossingRate {
    /// librosa's numba kernel compares in the frame's dtype: float32(1e-10).
    static let threshold: Float = 1e-10

    /// After thresholding, a sample's sign bit is set exactly when x < −threshold.
    static func crossingCount(_ frame: UnsafePointer<Float>, count: Int) -> Int {
        guard count > 1 else { return 0 }
        let negativeLimit = -threshold
        let limits = SIMD16<Float>(repeating: negativeLimit)
        var counts = SIMD16<Int32>()
        let raw = UnsafeRawPointer(frame)
        let stride = MemoryLayout<Float>.stride
        var i = 1
        // 16 neighbouring pairs at a time; the two loads overlap by 15 samples.
        while i + 16 <= count {
            let current = raw.loadUnaligned(fromByteOffset: i * stride, as: SIMD16<Float>.self)
            let previous = raw.loadUnaligned(fromByteOffset: (i - 1) * stride, as: SIMD16<Float>.self)
            let differs = (current .< limits) .^ (previous .< limits)
            counts.replace(with: counts &+ 1, where: differs)
            i += 16
        }
        var crossings = Int(counts.wrappedSum())
        while i < count {
            crossings += (frame[i] < negativeLimit) != (frame[i - 1] < negativeLimit) ? 1 : 0
            i += 1
        }
        return crossings
    }

    static func rate(_ frame: UnsafePointer<Float>, count: Int) -> Double {
        Double(crossingCount(frame, count: count)) / Double(count)
    }
}

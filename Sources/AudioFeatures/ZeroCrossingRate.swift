/// `librosa.feature.zero_crossing_rate` on one (edge-padded) frame: the number of i in 1..<n
/// where the sign bit of x[i] differs from that of x[i−1], after values with |x| ≤ 1e-10 are set
/// to +0 (`zero_pos=True`: zero counts as positive), divided by n (the first position never
/// counts, `pad=False`).
enum ZeroCrossingRate {
    /// librosa's numba kernel compares in the frame's dtype: float32(1e-10).
    static let threshold: Float = 1e-10

    /// After thresholding, a sample's sign bit is set exactly when x < −threshold
    /// (`AudioKernels.crossings`).
    static func crossingCount(_ frame: UnsafePointer<Float>, count: Int) -> Int {
        AudioKernels.crossings(frame, count: count, threshold: threshold)
    }
}

/// `librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=80)` in float32, split in two steps
/// because the floor depends on the maximum over the whole clip.
enum PowerToDecibels {
    /// numpy compares and multiplies float32 arrays with Python floats in float32 (NEP 50).
    static let amin: Float = 1e-10
    static let topDB: Float = 80

    /// In place: x ← 10·log10(max(amin, x)), in float32 within ~2 float32 ulp (and 3e-6 dB) of
    /// numpy's float32 `10 * np.log10(...)` (tested from 1e-12 to 1e12); returns the maximum of the
    /// converted values (−∞ for none). The series is `AudioKernels.powerToDecibels`.
    static func convert(_ values: UnsafeMutableBufferPointer<Float>) -> Float {
        guard let base = values.baseAddress else { return -.infinity }
        return AudioKernels.powerToDecibels(base, count: values.count)
    }

    /// The 80 dB floor: values below `maximum − topDB` are raised to it (in the DCT kernel,
    /// `DiscreteCosineTransform.Kernel.apply`).
    static func floor(maximum: Float) -> Float { maximum - topDB }
}

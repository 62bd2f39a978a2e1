import CAudioKernels

/// The per-frame DSP loops (window, power spectrum with the centroid's magnitude sums, mel
/// filterbank, dB, DCT, zero crossings): C kernels compiled both for AVX2 and for baseline x86-64 (see
/// `CAudioKernels/include/AudioKernels.h` for why they are in C). Both versions give
/// bit-identical results, so which one ran never changes a stored feature.
public struct AudioKernels: Sendable {
    public enum Selection: String, Sendable, CaseIterable {
        /// AVX2 when the CPU has it, else the baseline; `MUSICETL_AUDIO_KERNELS=baseline` in the
        /// environment forces the baseline.
        case automatic
        case baseline
        case avx2
    }

    /// "avx2" or "baseline".
    public let name: String
    let window: @convention(c) (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void
    let powerSpectrum: @convention(c) (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?, Int,
                                       UnsafeMutablePointer<Float>?) -> musicetl_magnitude_moments
    let mel: @convention(c) (UnsafePointer<Float>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?,
                             UnsafePointer<Int32>?, Int, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> Void
    let powerToDecibels: @convention(c) (UnsafeMutablePointer<Float>?, Int) -> Float
    let cepstrum: @convention(c) (UnsafePointer<Float>?, Int, Float, UnsafePointer<Float>?, Int, Int,
                                  UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?) -> Void
    let crossings: @convention(c) (UnsafePointer<Float>?, Int, Float) -> Int

    /// The kernels of `selection`, or nil when this CPU (or build) lacks them (`.avx2` only).
    public init?(_ selection: Selection) {
        let table: UnsafePointer<musicetl_audio_kernels>? = switch selection {
        case .automatic: musicetl_audio_kernels_default()
        case .baseline: musicetl_audio_kernels_baseline()
        case .avx2: musicetl_audio_kernels_avx2()
        }
        guard let table, let name = table.pointee.name, let window = table.pointee.window,
              let powerSpectrum = table.pointee.power_spectrum, let mel = table.pointee.mel,
              let powerToDecibels = table.pointee.power_to_db, let cepstrum = table.pointee.cepstrum,
              let crossings = table.pointee.crossings else { return nil }
        self.name = String(cString: name)
        self.window = window
        self.powerSpectrum = powerSpectrum
        self.mel = mel
        self.powerToDecibels = powerToDecibels
        self.cepstrum = cepstrum
        self.crossings = crossings
    }

    /// The kernels `FeatureExtractor` uses by default (`.automatic`).
    static let automatic = AudioKernels(.automatic)
}

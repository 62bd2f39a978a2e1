import CFFTW
import Foundation

/// FFTW's planner (plan creation and destruction) is not thread-safe; executing a plan is. Every
/// plan in the process is created and destroyed under this lock.
let fftwPlannerLock = NSLock()

/// |X[k]|², k = 0…N/2, and the magnitude sums of the centroid, of a real frame of even length N (numpy `rfft` convention,
/// unnormalised), in float32.
///
/// Computed as a complex FFT of N/2 points over the frame read as N/2 complex numbers
/// (z[n] = x[2n] + i·x[2n+1], which is the frame's own memory layout), followed by the standard
/// split step X[k] = E[k] + e^{−2πik/N}·O[k]. Measured on this project's machine, an FFTW
/// `FFTW_ESTIMATE` c2c plan of 1024 points takes ~1.05 µs, where FFTW's own r2c plan of 2048
/// takes 3.1–4.1 µs (ESTIMATE to PATIENT); the split and the magnitude sums are
/// `AudioKernels.powerSpectrum`.
///
/// Planned with `FFTW_ESTIMATE`: the plan, hence every rounding, is the same on every run.
/// (`FFTW_MEASURE` picks algorithms by timing, so two runs could differ in the last bits and the
/// "unchanged document" detection downstream would see spurious changes.)
///
/// Owns the plan and its `fftwf_malloc`-aligned buffers; not thread-safe (one per worker).
final class PowerSpectrum {
    let size: Int
    var binCount: Int { size / 2 + 1 }
    /// Write the (windowed) frame here, `size` floats, then call `compute`.
    let input: UnsafeMutablePointer<Float>

    private let half: Int
    private let plan: OpaquePointer
    private let complexInput: UnsafeMutablePointer<fftwf_complex>
    private let complexOutput: UnsafeMutablePointer<fftwf_complex>
    /// Z[k] of the half-size FFT, interleaved (re, im).
    private let spectrum: UnsafeMutablePointer<Float>
    /// cos(2πk/N), sin(2πk/N) for k < N/2, from float64.
    private let cosines: UnsafeMutablePointer<Float>
    private let sines: UnsafeMutablePointer<Float>

    init(size: Int) throws(FeatureExtractionError) {
        guard size >= 4, size % 2 == 0, size / 2 <= Int(Int32.max) else {
            throw .fftPlan("FFT size must be even and >= 4, got \(size)")
        }
        self.size = size
        self.half = size / 2
        guard let complexInput = fftwf_alloc_complex(size / 2) else {
            throw .outOfMemory("fftwf_alloc_complex(\(size / 2))")
        }
        guard let complexOutput = fftwf_alloc_complex(size / 2) else {
            fftwf_free(complexInput)
            throw .outOfMemory("fftwf_alloc_complex(\(size / 2))")
        }
        fftwPlannerLock.lock()
        let plan = fftwf_plan_dft_1d(Int32(size / 2), complexInput, complexOutput, FFTW_FORWARD, FFTW_ESTIMATE)
        fftwPlannerLock.unlock()
        guard let plan else {
            fftwf_free(complexInput)
            fftwf_free(complexOutput)
            throw .fftPlan("fftwf_plan_dft_1d(\(size / 2)) returned NULL")
        }
        self.plan = plan
        self.complexInput = complexInput
        self.complexOutput = complexOutput
        self.input = UnsafeMutableRawPointer(complexInput).bindMemory(to: Float.self, capacity: size)
        self.spectrum = UnsafeMutableRawPointer(complexOutput).bindMemory(to: Float.self, capacity: size)
        input.initialize(repeating: 0, count: size)
        spectrum.initialize(repeating: 0, count: size)
        cosines = .allocate(capacity: size / 2)
        sines = .allocate(capacity: size / 2)
        for k in 0..<(size / 2) {
            let angle = 2 * Double.pi * Double(k) / Double(size)
            cosines[k] = Float(cos(angle))
            sines[k] = Float(sin(angle))
        }
    }

    deinit {
        fftwPlannerLock.lock()
        fftwf_destroy_plan(plan)
        fftwPlannerLock.unlock()
        fftwf_free(complexInput)
        fftwf_free(complexOutput)
        cosines.deallocate()
        sines.deallocate()
    }

    /// Transforms `input`; writes the `binCount` values of |X|² to `power` and returns the
    /// magnitude sums the spectral centroid needs (so |X| is never stored).
    func compute(power: UnsafeMutablePointer<Float>) -> MagnitudeMoments {
        fftwf_execute(plan)
        return AudioKernels.powerSpectrum(spectrum, cosines: cosines, sines: sines, half: half, into: power)
    }
}

/// Σ_k |X[k]| and Σ_k k·|X[k]| of one frame: with bin k at frequency k·Δf, the spectral centroid
/// is Δf · weightedByBin / total.
struct MagnitudeMoments: Equatable {
    var total: Double
    var weightedByBin: Double
}

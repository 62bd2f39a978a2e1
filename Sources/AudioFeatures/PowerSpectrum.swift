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
/// `FFTW_ESTIMATE` c2c plan of 1024 points plus the split (SIMD) takes ~1.4 µs, where FFTW's own
/// r2c plan of 2048 takes ~3.3 µs (its radix-2 half-complex pass is scalar).
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
    /// |X[k]| scratch for the centroid sums.
    private let magnitude: UnsafeMutablePointer<Float>

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
        magnitude = .allocate(capacity: size / 2 + 1)
        magnitude.initialize(repeating: 0, count: size / 2 + 1)
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
        magnitude.deallocate()
    }

    /// Transforms `input`; writes the `binCount` values of |X|² to `power` and returns the
    /// magnitude sums the spectral centroid needs (so |X| is never stored).
    func compute(power: UnsafeMutablePointer<Float>) -> MagnitudeMoments {
        fftwf_execute(plan)
        let m = half
        let z = spectrum
        // k = 0 and k = N/2 are real: X[0] = Re Z0 + Im Z0, X[N/2] = Re Z0 − Im Z0.
        let dc = z[0] + z[1], nyquist = z[0] - z[1]
        power[0] = dc * dc
        power[m] = nyquist * nyquist
        // With Z[k] = a + ib and Z[M−k] = c + id (M = N/2):
        //   Re X[k] = ((a + c) + (b + d)·cos θ − (a − c)·sin θ) / 2
        //   Im X[k] = ((b − d) − (a − c)·cos θ − (b + d)·sin θ) / 2,   θ = 2πk/N.
        //
        // Bins k and M−k come from the same pair (Z[k], Z[M−k]) with θ' = π − θ (cos θ' = −cos θ,
        // sin θ' = sin θ; the float tables agree exactly), so each block of 4 loads serves 8 bins:
        //   Re X[M−k] = ((a + c) − (b + d)·cos θ + (a − c)·sin θ) / 2
        //   Im X[M−k] = ((d − b) − (a − c)·cos θ − (b + d)·sin θ) / 2
        // — the same float operations, in the same order, as the formula above evaluated at M−k.
        let raw = UnsafeRawPointer(z)
        let floatStride = MemoryLayout<Float>.stride
        let quarter = m / 2
        var k = 1
        while k + 3 < quarter {
            let forward = raw.loadUnaligned(fromByteOffset: 2 * k * floatStride, as: SIMD8<Float>.self)
            let mirrored = raw.loadUnaligned(fromByteOffset: 2 * (m - k - 3) * floatStride, as: SIMD8<Float>.self)
            let a = forward.evenHalf, b = forward.oddHalf
            let mirroredRe = mirrored.evenHalf, mirroredIm = mirrored.oddHalf
            // Lanes of the mirrored load run M−k−3 … M−k: reverse them to line up with k … k+3.
            let c = SIMD4(mirroredRe[3], mirroredRe[2], mirroredRe[1], mirroredRe[0])
            let d = SIMD4(mirroredIm[3], mirroredIm[2], mirroredIm[1], mirroredIm[0])
            let cosine = UnsafeRawPointer(cosines + k).loadUnaligned(as: SIMD4<Float>.self)
            let sine = UnsafeRawPointer(sines + k).loadUnaligned(as: SIMD4<Float>.self)
            let sumRe = a + c, differenceRe = a - c, sumIm = b + d, differenceIm = b - d
            let sumImCos = sumIm * cosine, differenceReSin = differenceRe * sine
            let differenceReCos = differenceRe * cosine, sumImSin = sumIm * sine
            let re = (sumRe + sumImCos - differenceReSin) * 0.5
            let im = (differenceIm - differenceReCos - sumImSin) * 0.5
            let p = re * re + im * im
            let mirroredReX = (sumRe - sumImCos + differenceReSin) * 0.5
            let mirroredImX = (-differenceIm - differenceReCos - sumImSin) * 0.5
            let q = mirroredReX * mirroredReX + mirroredImX * mirroredImX
            let qReversed = SIMD4(q[3], q[2], q[1], q[0])
            UnsafeMutableRawPointer(power + k).storeBytes(of: p, as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(magnitude + k).storeBytes(of: p.squareRoot(), as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(power + (m - k - 3)).storeBytes(of: qReversed, as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(magnitude + (m - k - 3)).storeBytes(of: qReversed.squareRoot(),
                                                                        as: SIMD4<Float>.self)
            k += 4
        }
        // The bins left in the middle, k … M−k, one at a time.
        let last = m - k
        while k <= last {
            let a = z[2 * k], b = z[2 * k + 1], c = z[2 * (m - k)], d = z[2 * (m - k) + 1]
            let cosine = cosines[k], sine = sines[k]
            let re = ((a + c) + (b + d) * cosine - (a - c) * sine) * 0.5
            let im = ((b - d) - (a - c) * cosine - (b + d) * sine) * 0.5
            power[k] = re * re + im * im
            magnitude[k] = power[k].squareRoot()
            k += 1
        }
        // Σ|X| and Σk·|X| over bins 1 … N/2−1 in float32 lanes per block of 128 bins, then in
        // float64. A separate pass: folded into the loop above, the compiler scalarised that loop.
        // (The square roots stay above, where they overlap with the split arithmetic.)
        var total = Double(abs(dc)) + Double(abs(nyquist))
        var weighted = Double(m) * Double(abs(nyquist))
        let magnitudes = UnsafeRawPointer(magnitude)
        var index = SIMD4<Float>(1, 2, 3, 4)
        k = 1
        while k + 4 <= m {
            var blockTotal = SIMD4<Float>(), blockWeighted = SIMD4<Float>()
            let blockEnd = min(k + 128, m - 3)
            while k < blockEnd {
                let lanes = magnitudes.loadUnaligned(fromByteOffset: k * floatStride, as: SIMD4<Float>.self)
                blockTotal += lanes
                blockWeighted += lanes * index
                index += 4
                k += 4
            }
            total += Double(blockTotal.sum())
            weighted += Double(blockWeighted.sum())
        }
        while k < m {
            total += Double(magnitude[k])
            weighted += Double(k) * Double(magnitude[k])
            k += 1
        }
        return MagnitudeMoments(total: total, weightedByBin: weighted)
    }
}

/// Σ_k |X[k]| and Σ_k k·|X[k]| of one frame: with bin k at frequency k·Δf, the spectral centroid
/// is Δf · weightedByBin / total.
struct MagnitudeMoments: Equatable {
    var total: Double
    var weightedByBin: Double
}

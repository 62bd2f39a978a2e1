/// The per-frame DSP loops (window, power spectrum with the centroid's magnitude sums, mel
/// filterbank, dB, DCT, zero crossings).
///
/// Stored features must not depend on the machine or the build, so the arithmetic is fixed:
/// multiply and add stay separate operations (Swift never fuses or reassociates floating point),
/// and every dot product accumulates in 8 float lanes summed in one fixed order (`laneSum`).
enum AudioKernels {
    /// out[i] = frame[i] · window[i], i < count.
    static func window(_ frame: UnsafePointer<Float>, _ window: UnsafePointer<Float>,
                       into out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = frame[i] * window[i] }
    }

    /// Below this float32 power (2^-102) a bin's square may have lost bits to float32's subnormal
    /// range or vanished: |X| ≤ 2^-51 ≈ 4e-16, far below any music but not below the 2e-34
    /// constant libopus decodes digital silence to (its anti-denormal offset). Above it, sqrt(p) is
    /// exact to float32 rounding; below it the magnitude is taken in double, as numpy's |X| (a
    /// hypot) sees it.
    static let smallPower: Float = 0x1p-102

    /// |re + i·im| in double, rounded to float, lane by lane.
    @inline(__always)
    static func smallMagnitude(re: SIMD8<Float>, im: SIMD8<Float>) -> SIMD8<Float> {
        let (re, im) = (SIMD8<Double>(re), SIMD8<Double>(im))
        return SIMD8<Float>((re * re + im * im).squareRoot())
    }

    static func magnitude(re: Float, im: Float, power: Float) -> Float {
        guard power < smallPower else { return power.squareRoot() }
        let (re, im) = (Double(re), Double(im))
        return Float((re * re + im * im).squareRoot())
    }

    /// The real FFT of a 2·half-sample frame from the complex FFT `z` (half interleaved re/im
    /// pairs) of the frame read as complex numbers: |X[k]|² for k = 0 … half into `power`, and
    /// the magnitude moments of the spectral centroid. `cosines`/`sines`: cos and sin of
    /// 2πk/(2·half), k < half.
    static func powerSpectrum(_ z: UnsafePointer<Float>, cosines: UnsafePointer<Float>, sines: UnsafePointer<Float>,
                              half m: Int, into power: UnsafeMutablePointer<Float>) -> MagnitudeMoments {
        // k = 0 and k = N/2 are real: X[0] = Re Z0 + Im Z0, X[N/2] = Re Z0 − Im Z0.
        let dc = z[0] + z[1], nyquist = z[0] - z[1]
        power[0] = dc * dc
        power[m] = nyquist * nyquist
        var total = Double(abs(dc)) + Double(abs(nyquist))
        var weighted = Double(m) * Double(abs(nyquist))

        // With Z[k] = a + ib, Z[M−k] = c + id (M = N/2), θ = 2πk/N:
        //   Re X[k]   = ((a + c) + (b + d)·cos θ − (a − c)·sin θ) / 2
        //   Im X[k]   = ((b − d) − (a − c)·cos θ − (b + d)·sin θ) / 2
        //   Re X[M−k] = ((a + c) − (b + d)·cos θ + (a − c)·sin θ) / 2
        //   Im X[M−k] = ((d − b) − (a − c)·cos θ − (b + d)·sin θ) / 2
        // so bins k … k+7 and M−k … M−k−7 are computed together, 8 lanes each. The magnitude
        // sums are kept in float lanes for 16 blocks (128 bins), then added in double.
        let halfLanes = SIMD8<Float>(repeating: 0.5)
        var forwardTotal = SIMD8<Float>(), forwardWeighted = SIMD8<Float>()
        var mirroredTotal = SIMD8<Float>(), mirroredWeighted = SIMD8<Float>()
        var forwardIndex = SIMD8<Float>(1, 2, 3, 4, 5, 6, 7, 8)
        let top = Float(m - 1)
        var mirroredIndex = SIMD8<Float>(top, top - 1, top - 2, top - 3, top - 4, top - 5, top - 6, top - 7)
        let quarter = m / 2
        var k = 1
        var blocks = 0
        while k + 7 < quarter {
            // Lane i holds bin k + i (a, b) and bin M − k − i (c, d: the block M−k−7 … M−k, reversed).
            let forward = UnsafeRawPointer(z + 2 * k).loadUnaligned(as: SIMD16<Float>.self)
            let mirrored = UnsafeRawPointer(z + 2 * (m - k - 7)).loadUnaligned(as: SIMD16<Float>.self)
            let a = forward.evenHalf, b = forward.oddHalf
            let c = reversed(mirrored.evenHalf), d = reversed(mirrored.oddHalf)
            let cosine = UnsafeRawPointer(cosines + k).loadUnaligned(as: SIMD8<Float>.self)
            let sine = UnsafeRawPointer(sines + k).loadUnaligned(as: SIMD8<Float>.self)
            let sumRe = a + c, differenceRe = a - c, sumIm = b + d, differenceIm = b - d
            let sumImCos = sumIm * cosine, differenceReSin = differenceRe * sine
            let differenceReCos = differenceRe * cosine, sumImSin = sumIm * sine
            let re = (sumRe + sumImCos - differenceReSin) * halfLanes
            let im = (differenceIm - differenceReCos - sumImSin) * halfLanes
            let p = re * re + im * im
            let mirroredRe = (sumRe - sumImCos + differenceReSin) * halfLanes
            let mirroredIm = (-differenceIm - differenceReCos - sumImSin) * halfLanes
            let q = mirroredRe * mirroredRe + mirroredIm * mirroredIm
            var forwardMagnitude = p.squareRoot(), mirroredMagnitude = q.squareRoot()
            UnsafeMutableRawPointer(power + k).storeBytes(of: p, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(power + (m - k - 7)).storeBytes(of: reversed(q), as: SIMD8<Float>.self)
            if any((p .< smallPower) .| (q .< smallPower)) {
                forwardMagnitude.replace(with: smallMagnitude(re: re, im: im), where: p .< smallPower)
                mirroredMagnitude.replace(with: smallMagnitude(re: mirroredRe, im: mirroredIm), where: q .< smallPower)
            }
            forwardTotal += forwardMagnitude
            forwardWeighted += forwardMagnitude * forwardIndex
            mirroredTotal += mirroredMagnitude
            mirroredWeighted += mirroredMagnitude * mirroredIndex
            forwardIndex += 8
            mirroredIndex -= 8
            blocks += 1
            if blocks == 16 {
                total += Double(laneSum(forwardTotal)) + Double(laneSum(mirroredTotal))
                weighted += Double(laneSum(forwardWeighted)) + Double(laneSum(mirroredWeighted))
                forwardTotal = .zero; forwardWeighted = .zero; mirroredTotal = .zero; mirroredWeighted = .zero
                blocks = 0
            }
            k += 8
        }
        total += Double(laneSum(forwardTotal)) + Double(laneSum(mirroredTotal))
        weighted += Double(laneSum(forwardWeighted)) + Double(laneSum(mirroredWeighted))
        // The bins left in the middle, k … M−k, one at a time (the same formula).
        let last = m - k
        while k <= last {
            let a = z[2 * k], b = z[2 * k + 1], c = z[2 * (m - k)], d = z[2 * (m - k) + 1]
            let cosine = cosines[k], sine = sines[k]
            let re = ((a + c) + (b + d) * cosine - (a - c) * sine) * 0.5
            let im = ((b - d) - (a - c) * cosine - (b + d) * sine) * 0.5
            let p = re * re + im * im
            power[k] = p
            let magnitude = magnitude(re: re, im: im, power: p)
            total += Double(magnitude)
            weighted += Double(k) * Double(magnitude)
            k += 1
        }
        return MagnitudeMoments(total: total, weightedByBin: weighted)
    }

    @inline(__always)
    static func reversed(_ v: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8(v[7], v[6], v[5], v[4], v[3], v[2], v[1], v[0])
    }

    /// Σ_j a[j] · b[j], j < count (a multiple of 8), accumulated in 8 lanes.
    static func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var accumulator = SIMD8<Float>()
        var j = 0
        while j < count {
            accumulator += UnsafeRawPointer(a + j).loadUnaligned(as: SIMD8<Float>.self)
                * UnsafeRawPointer(b + j).loadUnaligned(as: SIMD8<Float>.self)
            j += 8
        }
        return laneSum(accumulator)
    }

    /// Lanes 0–3 plus lanes 4–7, then ((0 + 2) + (1 + 3)): one fixed order.
    @inline(__always)
    static func laneSum(_ vector: SIMD8<Float>) -> Float {
        let halves = vector.lowHalf + vector.highHalf
        return (halves[0] + halves[2]) + (halves[1] + halves[3])
    }

    /// mel[m] = Σ_j weights[offset[m] + j] · power[firstBin[m] + j], j < paddedSpan[m] (a
    /// multiple of 8; the padding weights are 0 and `power` is readable that far).
    static func mel(weights: UnsafePointer<Float>, firstBin: UnsafePointer<Int32>, paddedSpan: UnsafePointer<Int32>,
                    offset: UnsafePointer<Int32>, melCount: Int, power: UnsafePointer<Float>,
                    into mel: UnsafeMutablePointer<Float>) {
        for filter in 0..<melCount {
            mel[filter] = dotProduct(weights + Int(offset[filter]), power + Int(firstBin[filter]),
                                     count: Int(paddedSpan[filter]))
        }
    }

    /// 10·log10(max(1e-10, x)) in float32, 8 values at a time (NaN → 1e-10).
    ///
    /// log x = e·log 2 + log m with m ∈ [√½, √2), and ln m = 2·atanh(s), s = (m−1)/(m+1),
    /// |s| ≤ 0.1716: the series to s⁹ leaves ~1e-9 relative, below float32 resolution. Within
    /// ~2 ulp of numpy's float32 log10, branch-free and without calls (libm's log10f was a sixth
    /// of the stage). Constants are given by their bits: a decimal literal would pass through
    /// Float80 on x86.
    @inline(__always)
    static func decibels(_ power: SIMD8<Float>) -> SIMD8<Float> {
        let amin = SIMD8<Float>(repeating: Float(bitPattern: 0x2edb_e6ff))  // 1e-10
        let x = amin.replacing(with: power, where: power .> amin)
        let bits = unsafeBitCast(x, to: SIMD8<Int32>.self)
        var exponent = ((bits &>> 23) & 0xff) &- 127
        var mantissa = unsafeBitCast((bits & 0x007f_ffff) | 0x3f80_0000, to: SIMD8<Float>.self)  // [1, 2)
        let high = mantissa .> Float(bitPattern: 0x3fb5_04f3)  // √2
        mantissa.replace(with: mantissa * 0.5, where: high)
        exponent.replace(with: exponent &+ 1, where: high)
        // m − 1 is exact and the quotient within ½ ulp.
        let s = (mantissa - 1) / (mantissa + 1)
        let s2 = s * s
        let third = Float(bitPattern: 0x3eaa_aaab), fifth = Float(bitPattern: 0x3e4c_cccd)
        let seventh = Float(bitPattern: 0x3e12_4925), ninth = Float(bitPattern: 0x3de3_8e39)
        let series = 1 + s2 * (third + s2 * (fifth + s2 * (seventh + s2 * ninth)))
        // 10·log10(2) split so that e·high is exact (|e| < 2⁸, high has 13 significant bits);
        // 20/ln 10 turns 2·atanh(s) (natural log) into decibels.
        let e = SIMD8<Float>(exponent)
        let tenLog10TwoHigh: Float = 3.01025390625
        let tenLog10TwoLow = Float(bitPattern: 0x3841_263b)  // 4.605038981195e-5
        let twentyOverLn10 = Float(bitPattern: 0x410a_f967)  // 8.685889638065037
        return e * tenLog10TwoHigh + (e * tenLog10TwoLow + s * series * twentyOverLn10)
    }

    /// In place x ← `decibels(x)`; returns the largest result (−∞ when count is 0).
    static func powerToDecibels(_ values: UnsafeMutablePointer<Float>, count: Int) -> Float {
        var largest = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= count {
            let converted = decibels(UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self))
            UnsafeMutableRawPointer(values + i).storeBytes(of: converted, as: SIMD8<Float>.self)
            largest.replace(with: converted, where: converted .> largest)
            i += 8
        }
        if i < count {
            // The last block is padded with 1 (0 dB), which is neither written back nor counted.
            let left = count - i
            var block = SIMD8<Float>(repeating: 1)
            for j in 0..<left { block[j] = values[i + j] }
            let converted = decibels(block)
            for j in 0..<left {
                values[i + j] = converted[j]
                largest[j] = converted[j] > largest[j] ? converted[j] : largest[j]
            }
        }
        return largest.max()
    }

    /// mfcc[k] = Σ_n D[k][n] · max(mel[n], floor), k < mfccCount: the orthonormal DCT-II with the
    /// 80 dB floor applied on the way in. `rows`: D folded over the first half (row k holds
    /// D[k][0 … ⌈N/2⌉), zero-padded to `stride`, a multiple of 8); `scratch`: 2·stride floats.
    static func cepstrum(_ mel: UnsafePointer<Float>, melCount: Int, floor: Float, rows: UnsafePointer<Float>,
                         mfccCount: Int, stride: Int, scratch: UnsafeMutablePointer<Float>,
                         into mfcc: UnsafeMutablePointer<Float>) {
        // D[k][N−1−n] = (−1)^k · D[k][n]: even rows see x[n] + x[N−1−n], odd rows x[n] − x[N−1−n],
        // so each row is a dot product over the first half only.
        let half = melCount / 2
        let sums = scratch, differences = scratch + stride
        for i in 0..<half {
            var a = mel[i], b = mel[melCount - 1 - i]
            a = a < floor ? floor : a
            b = b < floor ? floor : b
            sums[i] = a + b
            differences[i] = a - b
        }
        var i = half
        // An odd-length input's middle element appears once, with D[k][mid] = 0 for odd k; zeros
        // up to `stride` make every row whole 8-lane blocks.
        if melCount % 2 == 1 {
            let middle = mel[half]
            sums[half] = middle < floor ? floor : middle
            differences[half] = 0
            i += 1
        }
        while i < stride {
            sums[i] = 0
            differences[i] = 0
            i += 1
        }
        for k in 0..<mfccCount {
            mfcc[k] = dotProduct(rows + k * stride, k % 2 == 0 ? sums : differences, count: stride)
        }
    }

    /// The number of i in 1 … count−1 where x[i] and x[i−1] fall on different sides of
    /// −threshold (librosa's zero crossings after |x| ≤ threshold is set to 0, zero positive).
    static func crossings(_ x: UnsafePointer<Float>, count: Int, threshold: Float) -> Int {
        guard count >= 2 else { return 0 }
        let limit = -threshold
        var counts = SIMD8<Int32>()
        var i = 1
        while i + 8 <= count {
            let current = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) .< limit
            let previous = UnsafeRawPointer(x + i - 1).loadUnaligned(as: SIMD8<Float>.self) .< limit
            counts.replace(with: counts &+ 1, where: current .^ previous)
            i += 8
        }
        var total = Int(counts.wrappedSum())
        while i < count {
            if (x[i] < limit) != (x[i - 1] < limit) { total += 1 }
            i += 1
        }
        return total
    }
}

// The kernels' bodies, included twice by AudioKernels.c: once compiled for AVX2, once for
// baseline x86-64 (KERNEL_TARGET and KERNEL(name) set by the includer). Not a public header.

static KERNEL_TARGET void KERNEL(window)(const float *frame, const float *window, float *out, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8) STORE8(out + i, LOAD8(frame + i) * LOAD8(window + i));
    for (; i < count; i++) out[i] = frame[i] * window[i];
}

static KERNEL_TARGET musicetl_magnitude_moments KERNEL(power_spectrum)(const float *z, const float *cosines, const float *sines,
                                                   long half, float *power) {
    const long m = half;
    // k = 0 and k = N/2 are real: X[0] = Re Z0 + Im Z0, X[N/2] = Re Z0 − Im Z0.
    const float dc = z[0] + z[1], nyquist = z[0] - z[1];
    power[0] = dc * dc;
    power[m] = nyquist * nyquist;
    double total = (double)fabsf(dc) + (double)fabsf(nyquist);
    double weighted = (double)m * (double)fabsf(nyquist);

    // With Z[k] = a + ib, Z[M−k] = c + id (M = N/2), θ = 2πk/N:
    //   Re X[k]   = ((a + c) + (b + d)·cos θ − (a − c)·sin θ) / 2
    //   Im X[k]   = ((b − d) − (a − c)·cos θ − (b + d)·sin θ) / 2
    //   Re X[M−k] = ((a + c) − (b + d)·cos θ + (a − c)·sin θ) / 2
    //   Im X[M−k] = ((d − b) − (a − c)·cos θ − (b + d)·sin θ) / 2
    // so one pair of loads serves bins k … k+7 and M−k−7 … M−k. The magnitude sums are kept in
    // float lanes for 16 blocks (128 bins), then added in double.
    const f8 halfLanes = SPLAT8(0.5f);
    f8 forwardTotal = SPLAT8(0), forwardWeighted = SPLAT8(0);
    f8 mirroredTotal = SPLAT8(0), mirroredWeighted = SPLAT8(0);
    f8 forwardIndex = {1, 2, 3, 4, 5, 6, 7, 8};
    const float top = (float)(m - 1);
    f8 mirroredIndex = {top, top - 1, top - 2, top - 3, top - 4, top - 5, top - 6, top - 7};
    const long quarter = m / 2;
    long k = 1;
    int blocks = 0;
    for (; k + 7 < quarter; k += 8) {
        const f8 forwardLow = LOAD8(z + 2 * k), forwardHigh = LOAD8(z + 2 * k + 8);
        const f8 mirroredLow = LOAD8(z + 2 * (m - k - 7)), mirroredHigh = LOAD8(z + 2 * (m - k - 7) + 8);
        const f8 a = __builtin_shufflevector(forwardLow, forwardHigh, 0, 2, 4, 6, 8, 10, 12, 14);
        const f8 b = __builtin_shufflevector(forwardLow, forwardHigh, 1, 3, 5, 7, 9, 11, 13, 15);
        // The mirrored block runs M−k−7 … M−k: reversed, lane i holds bin M−k−i.
        const f8 c = __builtin_shufflevector(mirroredLow, mirroredHigh, 14, 12, 10, 8, 6, 4, 2, 0);
        const f8 d = __builtin_shufflevector(mirroredLow, mirroredHigh, 15, 13, 11, 9, 7, 5, 3, 1);
        const f8 cosine = LOAD8(cosines + k), sine = LOAD8(sines + k);
        const f8 sumRe = a + c, differenceRe = a - c, sumIm = b + d, differenceIm = b - d;
        const f8 sumImCos = sumIm * cosine, differenceReSin = differenceRe * sine;
        const f8 differenceReCos = differenceRe * cosine, sumImSin = sumIm * sine;
        const f8 re = (sumRe + sumImCos - differenceReSin) * halfLanes;
        const f8 im = (differenceIm - differenceReCos - sumImSin) * halfLanes;
        const f8 p = re * re + im * im;
        const f8 mirroredRe = (sumRe - sumImCos + differenceReSin) * halfLanes;
        const f8 mirroredIm = (-differenceIm - differenceReCos - sumImSin) * halfLanes;
        const f8 q = mirroredRe * mirroredRe + mirroredIm * mirroredIm;
        STORE8(power + k, p);
        STORE8(power + (m - k - 7), __builtin_shufflevector(q, q, 7, 6, 5, 4, 3, 2, 1, 0));
        f8 forwardMagnitude = __builtin_elementwise_sqrt(p);
        f8 mirroredMagnitude = __builtin_elementwise_sqrt(q);
        if (__builtin_reduce_or((p < SPLAT8(SMALL_POWER)) | (q < SPLAT8(SMALL_POWER)))) {
            for (int lane = 0; lane < 8; lane++) {
                if (p[lane] < SMALL_POWER) forwardMagnitude[lane] = small_magnitude(re[lane], im[lane]);
                if (q[lane] < SMALL_POWER) mirroredMagnitude[lane] = small_magnitude(mirroredRe[lane], mirroredIm[lane]);
            }
        }
        forwardTotal += forwardMagnitude;
        forwardWeighted += forwardMagnitude * forwardIndex;
        mirroredTotal += mirroredMagnitude;
        mirroredWeighted += mirroredMagnitude * mirroredIndex;
        forwardIndex += SPLAT8(8);
        mirroredIndex -= SPLAT8(8);
        if (++blocks == 16) {
            total += (double)SUM8(forwardTotal) + (double)SUM8(mirroredTotal);
            weighted += (double)SUM8(forwardWeighted) + (double)SUM8(mirroredWeighted);
            forwardTotal = forwardWeighted = mirroredTotal = mirroredWeighted = SPLAT8(0);
            blocks = 0;
        }
    }
    total += (double)SUM8(forwardTotal) + (double)SUM8(mirroredTotal);
    weighted += (double)SUM8(forwardWeighted) + (double)SUM8(mirroredWeighted);
    // The bins left in the middle, k … M−k, one at a time (the same formula).
    for (const long last = m - k; k <= last; k++) {
        const float a = z[2 * k], b = z[2 * k + 1], c = z[2 * (m - k)], d = z[2 * (m - k) + 1];
        const float cosine = cosines[k], sine = sines[k];
        const float re = ((a + c) + (b + d) * cosine - (a - c) * sine) * 0.5f;
        const float im = ((b - d) - (a - c) * cosine - (b + d) * sine) * 0.5f;
        const float p = re * re + im * im;
        power[k] = p;
        const float magnitude = p < SMALL_POWER ? small_magnitude(re, im) : sqrtf(p);
        total += (double)magnitude;
        weighted += (double)k * (double)magnitude;
    }
    return (musicetl_magnitude_moments){total, weighted};
}

static KERNEL_TARGET void KERNEL(mel)(const float *weights, const int32_t *first_bin, const int32_t *padded_span,
                  const int32_t *offset, long mel_count, const float *power, float *mel) {
    for (long filter = 0; filter < mel_count; filter++) {
        const float *w = weights + offset[filter];
        const float *p = power + first_bin[filter];
        f8 accumulator = SPLAT8(0);
        for (long j = 0; j < padded_span[filter]; j += 8) accumulator += LOAD8(w + j) * LOAD8(p + j);
        mel[filter] = SUM8(accumulator);
    }
}

/// 10·log10(max(1e-10, x)) of 8 values (input and output may be the same).
///
/// log x = e·log 2 + log m with m ∈ [√½, √2), and ln m = 2·atanh(s), s = (m−1)/(m+1),
/// |s| ≤ 0.1716: the series to s⁹ leaves ~1e-9 relative, below float32 resolution. Branch-free
/// and without calls, so it runs 8 values per step (libm's log10f was a sixth of the stage).
static inline __attribute__((always_inline)) KERNEL_TARGET void KERNEL(decibels8)(const float *input, float *output) {
    const f8 power = LOAD8(input);
    const f8 amin = SPLAT8(1e-10f), one = SPLAT8(1.0f);
    // max(amin, x); NaN → amin.
    const f8 x = SELECT8(power > amin, power, amin);
    const i8 bits = (i8)x;
    i8 exponent = ((bits >> 23) & 0xff) - 127;
    f8 mantissa = (f8)((bits & 0x007fffff) | 0x3f800000);  // [1, 2)
    const i8 high = mantissa > SPLAT8(1.41421356f);
    mantissa = SELECT8(high, mantissa * SPLAT8(0.5f), mantissa);
    exponent = exponent - high;  // true lanes are −1: exponent + 1
    // m − 1 is exact and the quotient within ½ ulp.
    const f8 s = (mantissa - one) / (mantissa + one);
    const f8 s2 = s * s;
    const f8 series = one + s2 * (SPLAT8(1.0f / 3) + s2 * (SPLAT8(1.0f / 5) + s2 * (SPLAT8(1.0f / 7)
                                                                              + s2 * SPLAT8(1.0f / 9))));
    // 10·log10(2) split so that e·high is exact (|e| < 2⁸, high has 13 significant bits);
    // 20/ln 10 turns 2·atanh(s) (natural log) into decibels.
    const f8 e = __builtin_convertvector(exponent, f8);
    STORE8(output, e * SPLAT8(3.01025390625f) + (e * SPLAT8(4.605038981195e-5f) + s * series * SPLAT8(8.685889638065037f)));
}

static KERNEL_TARGET float KERNEL(power_to_db)(float *values, long count) {
    f8 largest = SPLAT8(-INFINITY);
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        KERNEL(decibels8)(values + i, values + i);
        const f8 decibels = LOAD8(values + i);
        largest = SELECT8(decibels > largest, decibels, largest);
    }
    float result = largest[0];
    for (int lane = 1; lane < 8; lane++) result = largest[lane] > result ? largest[lane] : result;
    if (i < count) {
        float tail[8];
        const long left = count - i;
        for (long j = 0; j < 8; j++) tail[j] = j < left ? values[i + j] : 1.0f;
        KERNEL(decibels8)(tail, tail);
        for (long j = 0; j < left; j++) {
            values[i + j] = tail[j];
            result = tail[j] > result ? tail[j] : result;
        }
    }
    return result;
}


static KERNEL_TARGET void KERNEL(cepstrum)(const float *mel, long mel_count, float floor, const float *rows,
                                           long mfcc_count, long stride, float *scratch, float *mfcc) {
    // D[k][N−1−n] = (−1)^k · D[k][n]: even rows see x[n] + x[N−1−n], odd rows x[n] − x[N−1−n],
    // so each row is a dot product over the first half only. x = max(mel, floor) on the way in.
    const long half = mel_count / 2;
    float *sums = scratch, *differences = scratch + stride;
    const f8 floors = SPLAT8(floor);
    long i = 0;
    for (; i + 8 <= half; i += 8) {
        f8 a = LOAD8(mel + i);
        const f8 mirrored = LOAD8(mel + (mel_count - 8 - i));
        f8 b = __builtin_shufflevector(mirrored, mirrored, 7, 6, 5, 4, 3, 2, 1, 0);
        a = SELECT8(a < floors, floors, a);
        b = SELECT8(b < floors, floors, b);
        STORE8(sums + i, a + b);
        STORE8(differences + i, a - b);
    }
    for (; i < half; i++) {
        float a = mel[i], b = mel[mel_count - 1 - i];
        a = a < floor ? floor : a;
        b = b < floor ? floor : b;
        sums[i] = a + b;
        differences[i] = a - b;
    }
    // An odd-length input's middle element appears once, with D[k][mid] = 0 for odd k; zeros up
    // to `stride` make every row whole 8-lane blocks.
    if (mel_count % 2 == 1) {
        const float middle = mel[half];
        sums[half] = middle < floor ? floor : middle;
        differences[half] = 0;
        i++;
    }
    for (; i < stride; i++) sums[i] = differences[i] = 0;
    for (long k = 0; k < mfcc_count; k++) {
        const float *row = rows + k * stride;
        const float *folded = k % 2 == 0 ? sums : differences;
        f8 accumulator = SPLAT8(0);
        for (long j = 0; j < stride; j += 8) accumulator += LOAD8(row + j) * LOAD8(folded + j);
        mfcc[k] = SUM8(accumulator);
    }
}

static KERNEL_TARGET long KERNEL(crossings)(const float *x, long count, float threshold) {
    // After values with |x| ≤ threshold become +0, a sample's sign bit is set exactly when
    // x < −threshold; count the neighbours (i−1, i) whose sign bits differ.
    if (count < 2) return 0;
    const f8 limits = SPLAT8(-threshold);
    i8 counts = {0, 0, 0, 0, 0, 0, 0, 0};
    long i = 1;
    for (; i + 8 <= count; i += 8) {
        const i8 current = LOAD8(x + i) < limits, previous = LOAD8(x + i - 1) < limits;
        counts -= current ^ previous;  // true lanes are −1
    }
    long total = 0;
    for (int lane = 0; lane < 8; lane++) total += counts[lane];
    for (; i < count; i++) total += (x[i] < -threshold) != (x[i - 1] < -threshold);
    return total;
}

#ifndef MUSICETL_AUDIO_KERNELS_H
#define MUSICETL_AUDIO_KERNELS_H

#include <stdint.h>

/// The per-frame loops of AudioFeatures (about two thirds of the feature stage).
///
/// They are in C for one reason: Swift has no per-function target attribute, so a Swift module
/// is either built for baseline x86-64 (SSE2: 4 floats per instruction) or requires AVX2 to
/// run at all. Here each kernel is compiled twice, for AVX2 and for the baseline, into two
/// tables; `musicetl_audio_kernels_default` picks by the CPU it runs on.
///
/// Both versions give bit-identical results (tested): the code works on explicit 8-lane
/// vectors with lane-wise IEEE operations (no FMA contraction, no reassociation, fixed
/// horizontal sums), so only the instruction width differs, never the arithmetic.

#ifdef __cplusplus
extern "C" {
#endif

/// Σ_k |X[k]| and Σ_k k·|X[k]| over the bins of one frame.
typedef struct {
    double total;
    double weighted_by_bin;
} musicetl_magnitude_moments;

typedef struct {
    /// "avx2" or "baseline".
    const char *name;

    /// out[i] = frame[i] · window[i], i < count.
    void (*window)(const float *frame, const float *window, float *out, long count);

    /// The real FFT of a 2·half-sample frame from the complex FFT `z` (half interleaved re/im
    /// pairs) of the frame read as complex numbers: |X[k]|² for k = 0 … half into `power`, and
    /// the magnitude moments of the spectral centroid. `cosines`/`sines`: cos and sin of
    /// 2πk/(2·half), k < half.
    musicetl_magnitude_moments (*power_spectrum)(const float *z, const float *cosines, const float *sines,
                                                 long half, float *power);

    /// mel[m] = Σ_j weights[offset[m] + j] · power[first_bin[m] + j], j < padded_span[m] (a
    /// multiple of 8; the padding weights are 0 and `power` is readable that far).
    void (*mel)(const float *weights, const int32_t *first_bin, const int32_t *padded_span,
                const int32_t *offset, long mel_count, const float *power, float *mel);

    /// In place x ← 10·log10(max(1e-10, x)) (float32, within ~2 ulp of numpy's float32
    /// log10); returns the largest result (−∞ when count is 0).
    float (*power_to_db)(float *values, long count);

    /// mfcc[k] = Σ_n D[k][n] · max(mel[n], floor), k < mfcc_count: the orthonormal DCT-II with
    /// the 80 dB floor applied on the way in. `rows`: D folded over the first half (row k holds
    /// D[k][0 … ⌈N/2⌉), zero-padded to `stride`, a multiple of 8); `scratch`: 2·stride floats.
    void (*cepstrum)(const float *mel, long mel_count, float floor, const float *rows, long mfcc_count, long stride,
                     float *scratch, float *mfcc);

    /// The number of i in 1 … count−1 where x[i] and x[i−1] fall on different sides of
    /// −threshold (librosa's zero crossings after |x| ≤ threshold is set to 0, zero positive).
    long (*crossings)(const float *x, long count, float threshold);
} musicetl_audio_kernels;

/// The baseline x86-64 (or portable) versions: always available.
const musicetl_audio_kernels *musicetl_audio_kernels_baseline(void);

/// The AVX2 versions, or NULL when this CPU (or this build) has none.
const musicetl_audio_kernels *musicetl_audio_kernels_avx2(void);

/// AVX2 when available, else the baseline; `MUSICETL_AUDIO_KERNELS=baseline` in the environment
/// forces the baseline (for benchmarks).
const musicetl_audio_kernels *musicetl_audio_kernels_default(void);

#ifdef __cplusplus
}
#endif

#endif

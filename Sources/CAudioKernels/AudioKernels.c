#include "AudioKernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// Multiply and add stay separate instructions in every version: a fused multiply-add rounds once
// where the baseline rounds twice, and the versions must agree bit for bit.
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

typedef float f8 __attribute__((vector_size(32)));
typedef int32_t i8 __attribute__((vector_size(32)));
typedef float f4 __attribute__((vector_size(16)));

// Macros rather than functions: a 32-byte vector crossing a function boundary would change the
// calling convention between the AVX2 and baseline versions (clang refuses it).
#define LOAD8(pointer) ({ f8 loaded_; memcpy(&loaded_, (pointer), sizeof loaded_); loaded_; })
#define STORE8(pointer, value) do { f8 stored_ = (value); memcpy((pointer), &stored_, sizeof stored_); } while (0)
#define SPLAT8(x) ((f8){(x), (x), (x), (x), (x), (x), (x), (x)})
/// Lanes 0–3 plus lanes 4–7, then ((0 + 2) + (1 + 3)): one fixed order in every version.
#define SUM8(vector) ({ \
    f8 summed_ = (vector); \
    f4 halves_ = __builtin_shufflevector(summed_, summed_, 0, 1, 2, 3) \
        + __builtin_shufflevector(summed_, summed_, 4, 5, 6, 7); \
    (halves_[0] + halves_[2]) + (halves_[1] + halves_[3]); })
/// Lane-wise a where mask is set, else b (mask lanes are all ones or all zeros).
#define SELECT8(mask, a, b) ((f8)(((mask) & (i8)(a)) | (~(mask) & (i8)(b))))

/// Below this float32 power (2^-102) a bin's square may have lost bits to float32's subnormal
/// range or vanished: |X| ≤ 2^-51 ≈ 4e-16, far below any music but not below the 2e-34 constant
/// libopus decodes digital silence to (its anti-denormal offset). Above it, sqrt(p) is exact to
/// float32 rounding; below it the magnitude is taken in double, as numpy's |X| (a hypot) sees it.
#define SMALL_POWER 0x1p-102f

static inline float small_magnitude(float re, float im) {
    return (float)sqrt((double)re * (double)re + (double)im * (double)im);
}

#if defined(__x86_64__) && defined(__clang__)  // SwiftPM builds C with clang (the kernels use its builtins)
#define HAVE_AVX2_VERSION 1
#define KERNEL_TARGET __attribute__((target("avx2")))
#define KERNEL(name) name##_avx2
#include "KernelBodies.h"
#undef KERNEL_TARGET
#undef KERNEL
#endif

#define KERNEL_TARGET
#define KERNEL(name) name##_baseline
#include "KernelBodies.h"
#undef KERNEL_TARGET
#undef KERNEL

#define KERNEL_TABLE(suffix) { \
    .name = #suffix, \
    .window = window_##suffix, \
    .power_spectrum = power_spectrum_##suffix, \
    .mel = mel_##suffix, \
    .power_to_db = power_to_db_##suffix, \
    .cepstrum = cepstrum_##suffix, \
    .crossings = crossings_##suffix, \
}

static const musicetl_audio_kernels baseline_kernels = KERNEL_TABLE(baseline);
#ifdef HAVE_AVX2_VERSION
static const musicetl_audio_kernels avx2_kernels = KERNEL_TABLE(avx2);
#endif

const musicetl_audio_kernels *musicetl_audio_kernels_baseline(void) { return &baseline_kernels; }

const musicetl_audio_kernels *musicetl_audio_kernels_avx2(void) {
#ifdef HAVE_AVX2_VERSION
    // The runtime's CPU detection runs as a load-time constructor (no __builtin_cpu_init call,
    // which would race when several threads create extractors); it also checks that the OS
    // saves the AVX registers.
    if (__builtin_cpu_supports("avx2")) return &avx2_kernels;
#endif
    return NULL;
}

const musicetl_audio_kernels *musicetl_audio_kernels_default(void) {
    const char *choice = getenv("MUSICETL_AUDIO_KERNELS");
    if (choice != NULL && strcmp(choice, "baseline") == 0) return &baseline_kernels;
    const musicetl_audio_kernels *avx2 = musicetl_audio_kernels_avx2();
    return avx2 != NULL ? avx2 : &baseline_kernels;
}

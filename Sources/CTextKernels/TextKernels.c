// The extract's byte scans (see TextKernels.h): JSON string escaping for the staged documents,
// printing plain Python list cells as JSON, and finding CSV field ends and quotes. Text fields
// are most of the bytes (HTML bios and descriptions); each scan runs a vector of bytes at a time: 32 with AVX2 where the CPU has it,
// else 16 with SSE2 (every x86-64 CPU), and falls back to its scalar loop elsewhere. The bodies
// are written once (TextKernelBodies.h) and compiled for each, as in CAudioKernels.
#include "TextKernels.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__SSE2__)
#include <immintrin.h>
#endif

/// The length of the valid UTF-8 sequence starting at text[i] (a byte >= 0x80), or 0.
static inline size_t sequence_length(const uint8_t *text, size_t length, size_t i) {
#define CONT(k, lo, hi) (i + (k) < length && text[i + (k)] >= (lo) && text[i + (k)] <= (hi))
    uint8_t lead = text[i];
    if (lead >= 0xC2 && lead <= 0xDF) return CONT(1, 0x80, 0xBF) ? 2 : 0;
    if (lead == 0xE0) return CONT(1, 0xA0, 0xBF) && CONT(2, 0x80, 0xBF) ? 3 : 0;
    if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF)
        return CONT(1, 0x80, 0xBF) && CONT(2, 0x80, 0xBF) ? 3 : 0;
    if (lead == 0xED) return CONT(1, 0x80, 0x9F) && CONT(2, 0x80, 0xBF) ? 3 : 0;
    if (lead == 0xF0) return CONT(1, 0x90, 0xBF) && CONT(2, 0x80, 0xBF) && CONT(3, 0x80, 0xBF) ? 4 : 0;
    if (lead >= 0xF1 && lead <= 0xF3)
        return CONT(1, 0x80, 0xBF) && CONT(2, 0x80, 0xBF) && CONT(3, 0x80, 0xBF) ? 4 : 0;
    if (lead == 0xF4) return CONT(1, 0x80, 0x8F) && CONT(2, 0x80, 0xBF) && CONT(3, 0x80, 0xBF) ? 4 : 0;
    return 0;
#undef CONT
}

static inline int is_special(uint8_t byte) {
    return byte < 0x20 || byte == '"' || byte == '\\' || byte >= 0x80;
}

#if defined(__x86_64__) && defined(__clang__)  // SwiftPM builds C with clang
#define HAVE_AVX2_VERSION 1
#define KERNEL_TARGET __attribute__((target("avx2")))
#define KERNEL(name) name##_avx2
#define VEC_WIDTH 32
#define VEC __m256i
#define ALL_LANES 0xFFFFFFFFu
#define LOADU(pointer) _mm256_loadu_si256((const __m256i *)(pointer))
#define STOREU(pointer, value) _mm256_storeu_si256((__m256i *)(pointer), (value))
#define SET1(byte) _mm256_set1_epi8((char)(byte))
#define CMPEQ(a, b) _mm256_cmpeq_epi8((a), (b))
#define OR(a, b) _mm256_or_si256((a), (b))
#define MIN_U8(a, b) _mm256_min_epu8((a), (b))
#define MOVEMASK(v) ((uint32_t)_mm256_movemask_epi8(v))
#define HALF_WIDTH 16
#define HALF_VEC __m128i
#define HALF_LOADU(pointer) _mm_loadu_si128((const __m128i *)(pointer))
#define HALF_STOREU(pointer, value) _mm_storeu_si128((__m128i *)(pointer), (value))
#define HALF_SET1(byte) _mm_set1_epi8((char)(byte))
#define HALF_CMPEQ(a, b) _mm_cmpeq_epi8((a), (b))
#define HALF_OR(a, b) _mm_or_si128((a), (b))
#define HALF_MIN_U8(a, b) _mm_min_epu8((a), (b))
#define HALF_MOVEMASK(v) ((uint32_t)_mm_movemask_epi8(v))
#include "TextKernelBodies.h"
#undef KERNEL_TARGET
#undef KERNEL
#undef VEC_WIDTH
#undef VEC
#undef ALL_LANES
#undef LOADU
#undef STOREU
#undef SET1
#undef CMPEQ
#undef OR
#undef MIN_U8
#undef MOVEMASK
#undef HALF_WIDTH
#undef HALF_VEC
#undef HALF_LOADU
#undef HALF_STOREU
#undef HALF_SET1
#undef HALF_CMPEQ
#undef HALF_OR
#undef HALF_MIN_U8
#undef HALF_MOVEMASK
#endif

#define KERNEL_TARGET
#define KERNEL(name) name##_baseline
#if defined(__SSE2__)
#define VEC_WIDTH 16
#define VEC __m128i
#define ALL_LANES 0xFFFFu
#define LOADU(pointer) _mm_loadu_si128((const __m128i *)(pointer))
#define STOREU(pointer, value) _mm_storeu_si128((__m128i *)(pointer), (value))
#define SET1(byte) _mm_set1_epi8((char)(byte))
#define CMPEQ(a, b) _mm_cmpeq_epi8((a), (b))
#define OR(a, b) _mm_or_si128((a), (b))
#define MIN_U8(a, b) _mm_min_epu8((a), (b))
#define MOVEMASK(v) ((uint32_t)_mm_movemask_epi8(v))
#endif
#include "TextKernelBodies.h"

static const musicetl_text_kernels baseline_kernels = {
    .name = "baseline", .json_escape = json_escape_baseline, .find_quote = find_quote_baseline,
    .scan_fields = scan_fields_baseline, .plain_literal_json = plain_literal_json_baseline,
};
#ifdef HAVE_AVX2_VERSION
static const musicetl_text_kernels avx2_kernels = {
    .name = "avx2", .json_escape = json_escape_avx2, .find_quote = find_quote_avx2, .scan_fields = scan_fields_avx2,
    .plain_literal_json = plain_literal_json_avx2,
};
#endif

const musicetl_text_kernels *musicetl_text_kernels_baseline(void) { return &baseline_kernels; }

const musicetl_text_kernels *musicetl_text_kernels_avx2(void) {
#ifdef HAVE_AVX2_VERSION
    return __builtin_cpu_supports("avx2") ? &avx2_kernels : NULL;  // as in CAudioKernels
#else
    return NULL;
#endif
}

/// Chosen once: AVX2 where the CPU has it, unless MUSICETL_TEXT_KERNELS=baseline.
static const musicetl_text_kernels *chosen_kernels(void) {
    static const musicetl_text_kernels *_Atomic chosen = NULL;
    const musicetl_text_kernels *kernels = chosen;
    if (kernels == NULL) {
        const char *choice = getenv("MUSICETL_TEXT_KERNELS");
        kernels = choice != NULL && strcmp(choice, "baseline") == 0 ? NULL : musicetl_text_kernels_avx2();
        if (kernels == NULL) kernels = &baseline_kernels;
        chosen = kernels;  // every thread computes the same value: a race between them is harmless
    }
    return kernels;
}

const musicetl_text_kernels *musicetl_text_kernels_default(void) { return chosen_kernels(); }

ptrdiff_t musicetl_json_escape(const uint8_t *text, size_t length, uint8_t *out) {
    return chosen_kernels()->json_escape(text, length, out);
}

size_t musicetl_csv_find_quote(const uint8_t *text, size_t length, size_t *line_ends) {
    return chosen_kernels()->find_quote(text, length, line_ends);
}

size_t musicetl_csv_scan_fields(const uint8_t *text, size_t length, size_t *ends, size_t capacity, size_t bias,
                                size_t *count) {
    return chosen_kernels()->scan_fields(text, length, ends, capacity, bias, count);
}

ptrdiff_t musicetl_plain_literal_json(const uint8_t *cell, size_t length, uint8_t *out) {
    return chosen_kernels()->plain_literal_json(cell, length, out);
}

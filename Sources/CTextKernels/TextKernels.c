// The extract's byte scans (see TextKernels.h): JSON string escaping for the staged documents,
// and finding CSV field ends and quotes. Text fields are most of the bytes (HTML bios and
// descriptions); each scan runs 16 bytes at a time with SSE2, which every x86-64 CPU has, and
// falls back to its scalar loop elsewhere.
#include "TextKernels.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
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

ptrdiff_t musicetl_json_escape(const uint8_t *text, size_t length, uint8_t *out) {
    static const char hex[] = "0123456789abcdef";
    uint8_t *o = out;
    size_t i = 0;
    while (i < length) {
#if defined(__SSE2__)
        // Copy 16 bytes at a time while none needs a look; on the first that does, keep the
        // bytes before it (the store may write past them: the capacity allows for it).
        const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), below = _mm_set1_epi8(0x1F);
        while (i + 16 <= length) {
            __m128i v = _mm_loadu_si128((const __m128i *)(text + i));
            __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, below), v);  // v <= 0x1F
            __m128i marks = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), control);
            unsigned mask = (unsigned)_mm_movemask_epi8(marks) | (unsigned)_mm_movemask_epi8(v);  // high bit: >= 0x80
            _mm_storeu_si128((__m128i *)o, v);
            if (mask == 0) {
                i += 16;
                o += 16;
                continue;
            }
            unsigned skip = (unsigned)__builtin_ctz(mask);
            i += skip;
            o += skip;
            break;
        }
#endif
        while (i < length && !is_special(text[i])) *o++ = text[i++];
        if (i >= length) break;
        uint8_t byte = text[i];
        if (byte >= 0x80) {
            size_t sequence = sequence_length(text, length, i);
            if (sequence == 0) return -1;
            memcpy(o, text + i, sequence);
            o += sequence;
            i += sequence;
            continue;
        }
        *o++ = '\\';
        switch (byte) {
        case '"': case '\\': *o++ = byte; break;
        case 0x08: *o++ = 'b'; break;
        case 0x0C: *o++ = 'f'; break;
        case 0x0A: *o++ = 'n'; break;
        case 0x0D: *o++ = 'r'; break;
        case 0x09: *o++ = 't'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = (uint8_t)hex[byte >> 4];
            *o++ = (uint8_t)hex[byte & 0xF];
        }
        i++;
    }
    return o - out;
}

// Quoted CSV fields are the long ones (HTML), with quotes doubled inside: finding the next quote
// and counting the line ends before it in one pass instead of three (memchr for the quote, for LF,
// for CR) is most of what reading them costs.
size_t musicetl_csv_find_quote(const uint8_t *text, size_t length, size_t *line_ends) {
    size_t lines = 0, i = 0, end = length;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    for (; i + 16 <= length; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(text + i));
        unsigned quotes = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote));
        unsigned before = quotes ? (1u << __builtin_ctz(quotes)) - 1 : 0xFFFFu;
        lines += (size_t)__builtin_popcount((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)) & before);
        unsigned crs = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr)) & before;
        while (crs) {
            size_t at = i + (size_t)__builtin_ctz(crs);
            if (at + 1 >= length || text[at + 1] != '\n') lines++;
            crs &= crs - 1;
        }
        if (quotes) {
            end = i + (size_t)__builtin_ctz(quotes);
            *line_ends = lines;
            return end;
        }
    }
#endif
    for (; i < length; i++) {
        uint8_t byte = text[i];
        if (byte == '"') {
            end = i;
            break;
        }
        if (byte == '\n' || (byte == '\r' && (i + 1 >= length || text[i + 1] != '\n'))) lines++;
    }
    *line_ends = lines;
    return end;
}

// Most of a CSV record is short unquoted fields: classifying 16 bytes per step and walking the
// marked bytes costs a few instructions per field instead of a loop per byte.
size_t musicetl_csv_scan_fields(const uint8_t *text, size_t length, size_t *ends, size_t capacity, size_t bias,
                                size_t *count) {
    size_t n = 0, field_start = 0, i = 0;
#if defined(__SSE2__)
    const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"'), lf = _mm_set1_epi8('\n'),
                  cr = _mm_set1_epi8('\r');
    for (; i + 16 <= length; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(text + i));
        __m128i marks = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, quote)),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr)));
        unsigned mask = (unsigned)_mm_movemask_epi8(marks);
        while (mask) {
            size_t at = i + (size_t)__builtin_ctz(mask);
            if (text[at] != ',' || n == capacity) {
                *count = n;
                return field_start;
            }
            ends[n++] = bias + at;
            field_start = at + 1;
            mask &= mask - 1;
        }
    }
#endif
    for (; i < length; i++) {
        uint8_t byte = text[i];
        if (byte == ',') {
            if (n == capacity) break;
            ends[n++] = bias + i;
            field_start = i + 1;
        } else if (byte == '"' || byte == '\n' || byte == '\r') {
            break;
        }
    }
    *count = n;
    return field_start;
}

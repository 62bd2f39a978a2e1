// The kernels' bodies, included twice by TextKernels.c: once compiled for AVX2 (32-byte vectors),
// once for baseline x86-64 (SSE2, 16-byte vectors; scalar loops only elsewhere). The includer
// sets KERNEL_TARGET, KERNEL(name) and, for the vector loops, VEC_WIDTH, VEC, ALL_LANES and the
// operations LOADU, STOREU, SET1, CMPEQ, OR, MIN_U8 and MOVEMASK (a uint32_t of lane high bits);
// HALF_WIDTH and the HALF_ operations add a narrower step to the escape's tail.
// Not a public header.

#ifdef VEC_WIDTH
// The lanes of `v` holding a byte the escape must look at: `"`, `\\`, below 0x20, or 0x80 and up.
static KERNEL_TARGET inline uint32_t KERNEL(special_lanes)(VEC v) {
    VEC control = CMPEQ(MIN_U8(v, SET1(0x1F)), v);  // v <= 0x1F
    VEC marks = OR(OR(CMPEQ(v, SET1('"')), CMPEQ(v, SET1('\\'))), control);
    return MOVEMASK(marks) | MOVEMASK(v);  // high bit: >= 0x80
}
#ifdef HALF_WIDTH
static KERNEL_TARGET inline uint32_t KERNEL(special_half_lanes)(HALF_VEC v) {
    HALF_VEC control = HALF_CMPEQ(HALF_MIN_U8(v, HALF_SET1(0x1F)), v);
    HALF_VEC marks = HALF_OR(HALF_OR(HALF_CMPEQ(v, HALF_SET1('"')), HALF_CMPEQ(v, HALF_SET1('\\'))), control);
    return HALF_MOVEMASK(marks) | HALF_MOVEMASK(v);
}
#define TAIL_WIDTH HALF_WIDTH
#define TAIL_VEC HALF_VEC
#define TAIL_LOADU HALF_LOADU
#define TAIL_STOREU HALF_STOREU
#define TAIL_SPECIAL_LANES KERNEL(special_half_lanes)
#else
#define TAIL_WIDTH VEC_WIDTH
#define TAIL_VEC VEC
#define TAIL_LOADU LOADU
#define TAIL_STOREU STOREU
#define TAIL_SPECIAL_LANES KERNEL(special_lanes)
#endif
#endif

static KERNEL_TARGET ptrdiff_t KERNEL(json_escape)(const uint8_t *text, size_t length, uint8_t *out) {
    static const char hex[] = "0123456789abcdef";
    uint8_t *o = out;
    size_t i = 0;
#ifdef VEC_WIDTH
    // text[run_start..<i] was copied as is, ending at o: a vector that ends at the text's end may
    // start inside that run and store its bytes again, the same bytes at the same places.
    size_t run_start = 0;
#endif
    while (i < length) {
#ifdef VEC_WIDTH
        // Copy a vector at a time while no byte needs a look; on the first that does, keep the
        // bytes before it (the store may write past them: the capacity allows for it).
        uint32_t mask = 0;
        while (i + VEC_WIDTH <= length) {
            VEC v = LOADU(text + i);
            mask = KERNEL(special_lanes)(v);
            STOREU(o, v);
            if (mask != 0) break;
            i += VEC_WIDTH;
            o += VEC_WIDTH;
        }
#ifdef HALF_WIDTH
        // Most strings are short (titles, names): a half-width step before the tail.
        if (mask == 0 && i + HALF_WIDTH <= length) {
            HALF_VEC v = HALF_LOADU(text + i);
            mask = KERNEL(special_half_lanes)(v);
            HALF_STOREU(o, v);
            if (mask == 0) {
                i += HALF_WIDTH;
                o += HALF_WIDTH;
            }
        }
#endif
        if (mask == 0) {
            // Fewer than TAIL_WIDTH bytes left, looked at in one step instead of a loop per byte
            // (most strings end in one): the vector that ends at the text's end when it starts
            // inside the run, else two overlapping halves of the rest loaded into one vector.
            size_t rest = length - i;
            if (rest == 0) break;
            if (length >= TAIL_WIDTH && length - TAIL_WIDTH >= run_start) {
                size_t back = TAIL_WIDTH - rest;
                TAIL_VEC v = TAIL_LOADU(text + length - TAIL_WIDTH);
                mask = TAIL_SPECIAL_LANES(v) >> back;
                TAIL_STOREU(o - back, v);
            } else if (rest >= 8) {
                // Two 8-byte halves, the second ending at the text's end (they may overlap).
                __m128i low = _mm_loadl_epi64((const __m128i *)(text + i));
                __m128i high = _mm_loadl_epi64((const __m128i *)(text + length - 8));
                uint32_t lanes = TAIL_SPECIAL_LANES(_mm_unpacklo_epi64(low, high));
                mask = (lanes & 0xFFu) | ((lanes >> 8) << (rest - 8));
                _mm_storel_epi64((__m128i *)o, low);
                _mm_storel_epi64((__m128i *)(o + rest - 8), high);
            } else if (rest >= 4) {
                uint32_t low, high;
                memcpy(&low, text + i, 4);
                memcpy(&high, text + length - 4, 4);
                uint32_t lanes = TAIL_SPECIAL_LANES(_mm_unpacklo_epi32(_mm_cvtsi32_si128((int)low), _mm_cvtsi32_si128((int)high)));
                mask = (lanes & 0xFu) | (((lanes >> 4) & 0xFu) << (rest - 4));
                memcpy(o, &low, 4);
                memcpy(o + rest - 4, &high, 4);
            } else {
                for (size_t k = 0; k < rest; k++) {
                    o[k] = text[i + k];
                    if (is_special(text[i + k])) {
                        mask = 1u << k;
                        break;
                    }
                }
            }
            if (mask == 0) {
                o += rest;
                break;
            }
        }
        unsigned skip = (unsigned)__builtin_ctz(mask);
        i += skip;
        o += skip;
#else
        while (i < length && !is_special(text[i])) *o++ = text[i++];
        if (i >= length) break;
#endif
        uint8_t byte = text[i];
        if (byte >= 0x80) {
            size_t sequence = sequence_length(text, length, i);
            if (sequence == 0) return -1;
            memcpy(o, text + i, sequence);
            o += sequence;
            i += sequence;
        } else {
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
#ifdef VEC_WIDTH
        run_start = i;
#endif
    }
    return o - out;
}
#ifdef VEC_WIDTH
#undef TAIL_WIDTH
#undef TAIL_VEC
#undef TAIL_LOADU
#undef TAIL_STOREU
#undef TAIL_SPECIAL_LANES
#endif

// Quoted CSV fields are the long ones (HTML), with quotes doubled inside: finding the next quote
// and counting the line ends before it in one pass instead of three (memchr for the quote, for LF,
// for CR) is most of what reading them costs.
static KERNEL_TARGET size_t KERNEL(find_quote)(const uint8_t *text, size_t length, size_t *line_ends) {
    size_t lines = 0, i = 0, end = length;
#ifdef VEC_WIDTH
    const VEC quote = SET1('"'), lf = SET1('\n'), cr = SET1('\r');
    for (; i + VEC_WIDTH <= length; i += VEC_WIDTH) {
        VEC v = LOADU(text + i);
        uint32_t quotes = MOVEMASK(CMPEQ(v, quote));
        uint32_t before = quotes ? (uint32_t)((1ull << __builtin_ctz(quotes)) - 1) : ALL_LANES;
        lines += (size_t)__builtin_popcount(MOVEMASK(CMPEQ(v, lf)) & before);
        uint32_t crs = MOVEMASK(CMPEQ(v, cr)) & before;
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
static KERNEL_TARGET size_t KERNEL(scan_fields)(const uint8_t *text, size_t length, size_t *ends, size_t capacity,
                                                size_t bias, size_t *count) {
    size_t n = 0, field_start = 0, i = 0;
#ifdef VEC_WIDTH
    const VEC comma = SET1(','), quote = SET1('"'), lf = SET1('\n'), cr = SET1('\r');
    for (; i + VEC_WIDTH <= length; i += VEC_WIDTH) {
        VEC v = LOADU(text + i);
        VEC marks = OR(OR(CMPEQ(v, comma), CMPEQ(v, quote)), OR(CMPEQ(v, lf), CMPEQ(v, cr)));
        uint32_t mask = MOVEMASK(marks);
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

// Image and tag lists (`[{'image_id': '24612', 'image_file': 'https://…'}]`) are a tenth of the
// album and artist files: printing them here in one pass, their strings a vector at a time, costs
// a fraction of a walk that yields an event per token.

/// The string quoted at cell[*position] printed as a JSON string at `o`; the end of what it
/// wrote, or NULL when it holds a backslash or a byte below 0x20, is not closed, or is not
/// valid UTF-8. Inside, only `"` (in a string quoted with ') needs an escape.
static KERNEL_TARGET inline uint8_t *KERNEL(plain_string)(const uint8_t *cell, size_t length, size_t *position,
                                                          uint8_t *o) {
    const uint8_t quote = cell[*position];
    size_t i = *position + 1;
    *o++ = '"';
    for (;;) {
#ifdef VEC_WIDTH
        const VEC quotes = SET1(quote), doubles = SET1('"'), backslash = SET1('\\'), below = SET1(0x1F);
        uint32_t mask = 0;
        while (i + VEC_WIDTH <= length) {
            VEC v = LOADU(cell + i);
            VEC control = CMPEQ(MIN_U8(v, below), v);
            VEC marks = OR(OR(CMPEQ(v, quotes), CMPEQ(v, doubles)), OR(CMPEQ(v, backslash), control));
            mask = MOVEMASK(marks) | MOVEMASK(v);
            STOREU(o, v);
            if (mask != 0) break;
            i += VEC_WIDTH;
            o += VEC_WIDTH;
        }
        if (mask != 0) {
            unsigned skip = (unsigned)__builtin_ctz(mask);
            i += skip;
            o += skip;
        } else
#endif
        {
            while (i < length) {
                uint8_t byte = cell[i];
                if (byte == quote || byte == '"' || byte == '\\' || byte < 0x20 || byte >= 0x80) break;
                *o++ = byte;
                i++;
            }
            if (i >= length) return NULL;  // not closed
        }
        uint8_t byte = cell[i];
        if (byte == quote) {
            *o++ = '"';
            *position = i + 1;
            return o;
        }
        if (byte == '"') {
            *o++ = '\\';
            *o++ = '"';
            i++;
        } else if (byte >= 0x80) {
            size_t sequence = sequence_length(cell, length, i);
            if (sequence == 0) return NULL;
            memcpy(o, cell + i, sequence);
            o += sequence;
            i += sequence;
        } else {
            return NULL;  // a backslash or a control byte
        }
    }
}

/// The grammar of `PlainLiteral.Walker` (Tabular), printed as `RowBuilder.printPlainLiteral` does.
static KERNEL_TARGET ptrdiff_t KERNEL(plain_literal_json)(const uint8_t *cell, size_t length, uint8_t *out) {
    if (length < 2 || cell[0] != '[') return -1;
    enum { VALUE, AFTER_VALUE, KEY } state = VALUE;
    uint8_t *o = out;
    size_t p = 0;
    unsigned depth = 0;
    uint32_t dictionaries = 0;  // bit d: open level d is a dictionary
    int follows = 0;            // the next key or value follows another at its level
    for (;;) {
        if (state == AFTER_VALUE) {
            if (depth == 0) return p == length ? o - out : -1;
            int dictionary = (dictionaries >> (depth - 1)) & 1;
            if (p >= length) return -1;
            if (cell[p] == (dictionary ? '}' : ']')) {
                p++;
                depth--;
                *o++ = ' ';
                *o++ = dictionary ? '}' : ']';
                follows = 1;
                continue;
            }
            if (!(p + 2 < length && cell[p] == ',' && cell[p + 1] == ' ')) return -1;
            p += 2;
            state = dictionary ? KEY : VALUE;
            continue;
        }
        if (p >= length) return -1;
        uint8_t c = cell[p];
        if (state == KEY) {
            if (c != '\'' && c != '"') return -1;
            if (follows) {
                *o++ = ',';
                *o++ = ' ';
            }
            o = KERNEL(plain_string)(cell, length, &p, o);
            if (o == NULL || !(p + 2 < length && cell[p] == ':' && cell[p + 1] == ' ')) return -1;
            p += 2;
            memcpy(o, " : ", 3);
            o += 3;
            follows = 0;
            state = VALUE;
            continue;
        }
        if (c == '\'' || c == '"') {
            if (follows) {
                *o++ = ',';
                *o++ = ' ';
            }
            o = KERNEL(plain_string)(cell, length, &p, o);
            if (o == NULL) return -1;
        } else if (c == 'N') {
            if (!(p + 4 <= length && cell[p + 1] == 'o' && cell[p + 2] == 'n' && cell[p + 3] == 'e')) return -1;
            p += 4;
            if (follows) {
                *o++ = ',';
                *o++ = ' ';
            }
            memcpy(o, "null", 4);
            o += 4;
        } else if (c == '[' || c == '{') {
            if (depth >= PLAIN_LITERAL_MAXIMUM_DEPTH) return -1;
            int dictionary = c == '{';
            dictionaries = dictionary ? dictionaries | (1u << depth) : dictionaries & ~(1u << depth);
            depth++;
            p++;
            if (follows) {
                *o++ = ',';
                *o++ = ' ';
            }
            *o++ = c;
            *o++ = ' ';
            if (p < length && cell[p] == (dictionary ? '}' : ']')) {
                p++;
                depth--;
                *o++ = ' ';
                *o++ = dictionary ? '}' : ']';  // "[  ]" when empty, as libbson prints it
            } else {
                follows = 0;
                state = dictionary ? KEY : VALUE;
                continue;
            }
        } else {
            return -1;
        }
        follows = 1;
        state = AFTER_VALUE;
    }
}

#ifndef MUSICETL_TEXT_KERNELS_H
#define MUSICETL_TEXT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// The longest output of `musicetl_json_escape` for `length` bytes of text: every byte as `\u00xx`,
/// plus 31 bytes the vector loop may store past its output before moving on.
static inline size_t musicetl_json_escape_capacity(size_t length) { return length * 6 + 32; }

/// Writes `text` escaped as the content of a JSON string the way libbson 1.23's
/// `bson_utf8_escape_for_json` does: `\"` and `\\`, the short escapes \b \f \n \r \t, other bytes
/// below 0x20 (NUL included) as `\u00xx` in lower-case hex, everything else (0x7F, multi-byte
/// characters) as is. `out` must have room for `musicetl_json_escape_capacity(length)` bytes.
/// Returns the number of bytes written, or -1 when `text` is not valid UTF-8 (RFC 3629: no
/// overlong forms, no surrogates, nothing above U+10FFFF); `out` then holds garbage.
ptrdiff_t musicetl_json_escape(const uint8_t *text, size_t length, uint8_t *out);

/// In the `length` bytes of a quoted CSV field's text at `text`: the offset of the first quote
/// (`length` when there is none), and the line ends before it: each LF, and each CR not followed
/// by an LF within the scanned text (a CR just before the quote or at the end counts as one).
size_t musicetl_csv_find_quote(const uint8_t *text, size_t length, size_t *line_ends);

/// Unquoted CSV fields from `text`, which starts at a field: for each field ended by a comma,
/// writes `bias` + the comma's offset to `ends`, stopping at the first CR, LF or quote, at the
/// end of `text`, or after `capacity` ends. Returns the offset where the field in progress starts
/// (just after the last comma written, or 0); `*count` is the number of ends written.
size_t musicetl_csv_scan_fields(const uint8_t *text, size_t length, size_t *ends, size_t capacity, size_t bias,
                                size_t *count);

/// The levels a plain literal may nest (`PlainLiteral.maximumDepth` in Tabular).
#define PLAIN_LITERAL_MAXIMUM_DEPTH 8

/// The longest output of `musicetl_plain_literal_json` for a cell of `length` bytes: twice it
/// (`[]` prints as `[  ]`, `'"'` as `"\""`), plus what a vector step may store past its output.
static inline size_t musicetl_plain_literal_capacity(size_t length) { return length * 2 + 64; }

/// A Python list cell of the plain shape (`PlainLiteral` in Tabular: lists, dictionaries with
/// string keys, strings quoted with ' or " holding no backslash or byte below 0x20, `None`,
/// repr's ", " and ": " between items, at most PLAIN_LITERAL_MAXIMUM_DEPTH levels) printed as
/// libbson prints its value in relaxed JSON (`[ "a", { "k" : null } ]`). `out` must have room
/// for `musicetl_plain_literal_capacity(length)` bytes. Returns the number of bytes written, or
/// -1 when the cell has another shape or a string in it is not valid UTF-8 (the caller's walk
/// tells the two apart, and repairs the text); `out` then holds garbage.
ptrdiff_t musicetl_plain_literal_json(const uint8_t *cell, size_t length, uint8_t *out);

/// The four scans of one build: the functions above call the default one (AVX2 where the CPU
/// has it, unless MUSICETL_TEXT_KERNELS=baseline; else the SSE2 baseline). Tests compare them.
typedef struct {
    /// "avx2" or "baseline".
    const char *name;
    ptrdiff_t (*json_escape)(const uint8_t *text, size_t length, uint8_t *out);
    size_t (*find_quote)(const uint8_t *text, size_t length, size_t *line_ends);
    size_t (*scan_fields)(const uint8_t *text, size_t length, size_t *ends, size_t capacity, size_t bias, size_t *count);
    ptrdiff_t (*plain_literal_json)(const uint8_t *cell, size_t length, uint8_t *out);
} musicetl_text_kernels;

const musicetl_text_kernels *musicetl_text_kernels_default(void);
const musicetl_text_kernels *musicetl_text_kernels_baseline(void);
/// NULL when this CPU (or build) has no AVX2.
const musicetl_text_kernels *musicetl_text_kernels_avx2(void);

#endif

#ifndef MUSICETL_TEXT_KERNELS_H
#define MUSICETL_TEXT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// The longest output of `musicetl_json_escape` for `length` bytes of text: every byte as `\u00xx`,
/// plus 15 bytes the vector loop may store past its output before moving on.
static inline size_t musicetl_json_escape_capacity(size_t length) { return length * 6 + 16; }

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

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Strict UTF-8 (what a Rust String guarantees): validation, decoding and encoding. */
#ifndef KT_UTF8_H
#define KT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Offset of the first byte that is not part of a valid UTF-8 sequence, or n
 * when all n bytes are valid. Rejects overlong forms, UTF-16 surrogates
 * (U+D800..U+DFFF) and code points above U+10FFFF.
 */
size_t kt_utf8_check(const uint8_t *p, size_t n);

/*
 * Length (1..4) of the valid UTF-8 sequence at p (n > 0 bytes available),
 * storing its code point in *cp when cp is not NULL; 0 if the bytes there
 * are not valid UTF-8 by the same rules as kt_utf8_check.
 */
size_t kt_utf8_decode(const uint8_t *p, size_t n, uint32_t *cp);

/*
 * p[0..n) copied to out (room for 3 * n bytes, not NUL-terminated) with
 * every byte that is not part of valid UTF-8 replaced by U+FFFD; sets
 * *repaired (when not NULL) if any was. Returns the length written.
 */
size_t kt_utf8_repair(const uint8_t *p, size_t n, char *out, bool *repaired);

/* Bytes (1..4) of code point cp (at most U+10FFFF) in UTF-8. */
static inline size_t kt_utf8_len(uint32_t cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* cp (at most U+10FFFF, not a surrogate) as UTF-8 into out (4 bytes of room); its length. */
size_t kt_utf8_encode(uint32_t cp, char *out);

#endif

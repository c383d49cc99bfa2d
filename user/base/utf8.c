/* SPDX-License-Identifier: Apache-2.0 */
#include "base/utf8.h"

#include <string.h>

/*
 * All of p[0..n) is ASCII: n. Otherwise an offset at or before the first
 * non-ASCII byte (so a character boundary). Most strings in spans are short
 * ASCII keys and values: the bytes are read as at most a few words, the
 * last one overlapping, with no byte-at-a-time tail.
 */
static size_t ascii_prefix(const uint8_t *p, size_t n)
{
	const uint64_t hi = 0x8080808080808080ull;
	uint64_t w;
	if (n < 8) {
		uint32_t a, b;
		if (n >= 4) {
			memcpy(&a, p, 4);
			memcpy(&b, p + n - 4, 4);
			return ((a | b) & (uint32_t)hi) ? 0 : n;
		}
		return n && ((p[0] | p[n / 2] | p[n - 1]) & 0x80) ? 0 : n;
	}
	size_t i = 0;
	for (; n - i > 8; i += 8) {
		memcpy(&w, p + i, 8);
		if (w & hi)
			return i;
	}
	memcpy(&w, p + n - 8, 8);
	return (w & hi) ? i : n;
}

size_t kt_utf8_check(const uint8_t *p, size_t n)
{
	size_t i = ascii_prefix(p, n);
	while (i < n) {
		/* ASCII runs dominate real spans: skip them 8 bytes at a time. */
		while (n - i >= 8) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i == n)
			break;
		uint8_t c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* > U+10FFFF */
		} else {
			return i;
		}
		if (n - i < len || p[i + 1] < lo || p[i + 1] > hi)
			return i;
		for (size_t k = 2; k < len; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return i;
		i += len;
	}
	return n;
}

size_t kt_utf8_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint8_t c = p[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		if (cp)
			*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	if (cp)
		*cp = v;
	return len;
}

size_t kt_utf8_repair(const uint8_t *p, size_t n, char *out, bool *repaired)
{
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		size_t len = kt_utf8_decode(p + i, n - i, NULL);
		if (len) {
			memcpy(out + k, p + i, len);
			k += len;
			i += len;
		} else {
			memcpy(out + k, "\xef\xbf\xbd", 3); /* U+FFFD */
			k += 3;
			i++;
			if (repaired)
				*repaired = true;
		}
	}
	return k;
}

size_t kt_utf8_encode(uint32_t cp, char *out)
{
	size_t n = kt_utf8_len(cp);
	if (n == 1) {
		out[0] = (char)cp;
		return 1;
	}
	/* the lead byte: n high bits set, then the code point's top bits */
	static const uint8_t lead[5] = {0, 0, 0xc0, 0xe0, 0xf0};
	for (size_t i = n - 1; i > 0; i--, cp >>= 6)
		out[i] = (char)(0x80 | (cp & 0x3f));
	out[0] = (char)(lead[n] | cp);
	return n;
}

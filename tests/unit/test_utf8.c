/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kt_utf8_check (base/utf8.h), whose ASCII fast path reads whole words,
 * against a scan by kt_utf8_decode, one sequence at a time, which checks
 * the rules another way (the code point's value, not byte ranges). Inputs
 * are exact-size heap copies, so that ASan sees any read outside them (the
 * fast path reads whole, overlapping words).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "test_rnd.h"

static size_t check_by_decode(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t len = kt_utf8_decode(p + i, n - i, NULL);
		if (!len)
			return i;
		i += len;
	}
	return n;
}

static void expect_same(const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	cr_assert_not_null(p);
	if (n)
		memcpy(p, src, n);
	size_t got = kt_utf8_check(p, n), want = check_by_decode(p, n);
	if (got != want) {
		char hex[3 * 64 + 1] = "";
		for (size_t i = 0; i < n && i < 64; i++)
			sprintf(hex + 3 * i, "%02x ", p[i]);
		cr_assert_fail("n %zu: %zu, by decode %zu: %s", n, got, want, hex);
	}
	free(p);
}

Test(utf8, every_string_of_up_to_two_bytes)
{
	uint8_t b[2] = {0};
	expect_same(b, 0);
	for (unsigned x = 0; x < 256; x++) {
		b[0] = (uint8_t)x;
		expect_same(b, 1);
		for (unsigned y = 0; y < 256; y++) {
			b[1] = (uint8_t)y;
			expect_same(b, 2);
		}
	}
}

/* Bytes at every boundary of the rules: ASCII, continuation ranges, leads. */
static const uint8_t edge[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
			       0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0,
			       0xf1, 0xf3, 0xf4, 0xf5, 0xff};

Test(utf8, every_string_of_up_to_four_edge_bytes)
{
	const size_t k = sizeof(edge);
	uint8_t b[4];
	for (size_t i = 0; i < k * k * k * k; i++) {
		size_t v = i;
		for (int j = 0; j < 4; j++, v /= k)
			b[j] = edge[v % k];
		expect_same(b, 3);
		expect_same(b, 4);
	}
}

/* One sequence, valid or not, at every offset of an ASCII run of every length up to 40. */
Test(utf8, a_sequence_at_every_offset_of_ascii)
{
	static const char *const seqs[] = {
		"\x80",		    "\xc3\xa9",		"\xc3",		    "\xe6\xbc\xa2",
		"\xe6\xbc",	    "\xe0\x9f\x80",	"\xed\xa0\x80",	    "\xf0\x9f\x98\x80",
		"\xf0\x9f\x98",	    "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff",
		"\xc0\xaf",	    "\xc2\x7f",		"\xef\xbf\xbf",	    "\xf4\x8f\xbf\xbf",
	};
	uint8_t b[48];
	for (size_t s = 0; s < sizeof(seqs) / sizeof(seqs[0]); s++) {
		size_t sl = strlen(seqs[s]);
		for (size_t n = sl; n <= 40; n++) {
			for (size_t at = 0; at + sl <= n; at++) {
				memset(b, 'a', n);
				memcpy(b + at, seqs[s], sl);
				expect_same(b, n);
			}
		}
		/* and all ASCII */
		memset(b, 'a', sizeof(b));
		for (size_t n = 0; n <= sizeof(b); n++)
			expect_same(b, n);
	}
}

Test(utf8, random_mixtures)
{
	static const char *const parts[] = {"a",	"key.name ", "\xc3\xa9", "\xe6\xbc\xa2",
					    "\xf0\x9f\x98\x80", "\x80",	     "\xed\xa0\x80", "\xc3"};
	uint8_t b[160];
	for (int round = 0; round < 20000; round++) {
		size_t n = 0, want = rnd() % 120;
		bool clean = rnd() % 2;
		while (n < want) {
			size_t i = rnd() % (clean ? 5 : 8);
			size_t l = strlen(parts[i]);
			memcpy(b + n, parts[i], l);
			n += l;
		}
		expect_same(b, n);
		if (n)
			expect_same(b, n - 1); /* cut inside a sequence, sometimes */
	}
}

Test(utf8, every_code_point_encodes_to_what_decodes_back)
{
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		char out[4];
		size_t n = kt_utf8_encode(cp, out);
		cr_assert_eq(n, kt_utf8_len(cp), "U+%04X", cp);
		uint32_t back = 0;
		cr_assert_eq(kt_utf8_decode((const uint8_t *)out, n, &back), n, "U+%04X", cp);
		cr_assert_eq(back, cp, "U+%04X", cp);
	}
}

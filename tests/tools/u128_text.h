/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 128-bit integers as decimal text, for the test tools that write spans
 * (vecgen, the golden vectors; spangen, the benchmark's spans): the
 * agent's JSON carries trace ids as plain decimal numbers.
 */
#ifndef KT_TEST_U128_TEXT_H
#define KT_TEST_U128_TEXT_H

typedef unsigned __int128 u128;

/* v in decimal into out (at least 40 bytes), NUL-terminated. */
static inline void u128_dec(u128 v, char *out)
{
	char tmp[48];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = 0;
}

#endif

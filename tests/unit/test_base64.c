/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Base64 (user/base/base64.c) against OpenSSL's encoder and decoder as the
 * oracle: random bytes of every length up to 300 encode to what
 * EVP_EncodeBlock writes, and that decodes to themselves padded and
 * unpadded, and to what EVP_DecodeBlock gives; malformed text is refused.
 */
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>

#include "base/base64.h"
#include "test_rnd.h"

Test(base64, round_trips_through_openssl)
{
	for (size_t n = 0; n <= 300; n++) {
		uint8_t in[300], out[300], ref[303];
		char text[404];
		for (size_t i = 0; i < n; i++)
			in[i] = (uint8_t)rnd();
		int tn = EVP_EncodeBlock((unsigned char *)text, in, (int)n);
		cr_assert_geq(tn, 0);
		/* the encoder writes what the oracle's does */
		char mine[404];
		cr_assert_eq(kt_base64_encode(in, n, mine), (size_t)tn);
		cr_assert_eq(KT_BASE64_ENCODED_LEN(n), (size_t)tn);
		cr_assert(memcmp(mine, text, (size_t)tn) == 0, "n %zu", n);
		size_t len = 0;
		cr_assert(kt_base64_decode(text, (size_t)tn, out, sizeof(out), &len), "n %zu", n);
		cr_assert_eq(len, n);
		cr_assert(memcmp(out, in, n) == 0, "n %zu", n);
		/* the oracle's decoder agrees (it keeps the padding's zero bytes: cut them) */
		int rn = EVP_DecodeBlock(ref, (const unsigned char *)text, tn);
		cr_assert_geq(rn, (int)n);
		cr_assert(memcmp(ref, out, n) == 0, "n %zu", n);
		/* gRPC senders may leave the padding out */
		size_t un = (size_t)tn;
		while (un && text[un - 1] == '=')
			un--;
		cr_assert(kt_base64_decode(text, un, out, sizeof(out), &len), "n %zu unpadded", n);
		cr_assert_eq(len, n);
		cr_assert(memcmp(out, in, n) == 0, "n %zu unpadded", n);
		/* one byte of room too few is refused */
		if (n)
			cr_assert_not(kt_base64_decode(text, (size_t)tn, out, n - 1, &len));
	}
}

Test(base64, malformed_text_is_refused)
{
	static const char *const bad[] = {
		"Q",     /* 6 bits: no byte */
		"QQ=",   /* padding that does not complete a group */
		"Q===",  /* three pads */
		"====",  /* padding only */
		"QR==",  /* bits left over in the last character */
		"QUJ=",  /* the same, two bytes */
		"QU I",  /* whitespace */
		"QU-_",  /* the URL alphabet */
		"QQ==QQ==", /* padding inside */
		"\x80QQQ",  /* not ASCII */
	};
	uint8_t out[16];
	size_t len = 99;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_not(kt_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &len), "%s",
			      bad[i]);
		cr_expect_eq(len, 0, "%s", bad[i]);
	}
	cr_assert(kt_base64_decode("", 0, out, 0, &len));
	cr_assert_eq(len, 0);
}

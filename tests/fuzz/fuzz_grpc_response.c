/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC response fuzzer (exporters/grpc_frame.c): what a collector sends,
 * as header lines (status lines, grpc-status, grpc-message, content-type,
 * grpc-status-details-bin of any bytes, anything), body chunks and trailers, in any order and any size. Then the
 * status, the response message and its partial_success are read as the
 * exporter does.
 *
 * Always: every buffer stays within its bound and NUL-terminated; the body
 * keeps exactly the first KT_GRPC_MAX_BODY bytes; a message is only found
 * when the body is exactly one uncompressed message, and points into it;
 * grpc-status values are read exactly as a simple model says; percent
 * decoding never writes more than it may nor produces more than it read.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "exporters/grpc_frame.h"
#include "exporters/otlp_common.h"
#include "fuzz_check.h"

/* The fuzz input, consumed front to back. */
struct cursor {
	const uint8_t *p, *end;
};

static size_t take(struct cursor *c, size_t want, const uint8_t **p)
{
	size_t left = (size_t)(c->end - c->p);
	size_t n = want < left ? want : left;
	*p = c->p;
	c->p += n;
	return n;
}

/* The next byte; 0 once the input is used up. */
static unsigned next_byte(struct cursor *c)
{
	const uint8_t *p;
	return take(c, 1, &p) ? *p : 0;
}

static struct kt_grpc_response r;
static uint8_t shadow[KT_GRPC_MAX_BODY]; /* the first body bytes, as sent */

/* Body bytes to the parser; what it must keep goes to the shadow too. */
static void feed_body(const uint8_t *p, size_t n)
{
	size_t room = KT_GRPC_MAX_BODY - r.body_len;
	memcpy(shadow + r.body_len, p, room < n ? room : n);
	kt_grpc_response_body(&r, p, n);
}

/*
 * The model of grpc-status: the line's CR/LF end dropped, then spaces and
 * tabs around the value; 1 to 9 decimal digits, else UNKNOWN and invalid.
 */
static bool model_status(const uint8_t *v, size_t n, int *code)
{
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0 || n > 9)
		return false;
	int c = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		c = c * 10 + (v[i] - '0');
	}
	*code = c;
	return true;
}

static void check_bounds(void)
{
	CHECK(r.message_len <= KT_GRPC_MAX_MESSAGE);
	CHECK(r.message[r.message_len] == '\0');
	CHECK(memchr(r.content_type, '\0', sizeof(r.content_type)) != NULL);
	CHECK(r.body_len <= KT_GRPC_MAX_BODY);
	CHECK(r.body_len == (r.body_total < KT_GRPC_MAX_BODY ? r.body_total : KT_GRPC_MAX_BODY));
	CHECK(memcmp(r.body, shadow, r.body_len) == 0);
	if (r.status_invalid)
		CHECK(r.have_status && r.status == KT_GRPC_UNKNOWN);
}

static void check_decode(const uint8_t *p, size_t n, size_t cap)
{
	char out[64 + 1];
	out[cap] = 'Z';
	bool trunc;
	size_t got = kt_otlp_percent_decode((const char *)p, n, out, cap, &trunc);
	CHECK(got <= cap && got <= n);
	CHECK(out[cap] == 'Z');
	if (!trunc)
		CHECK(got >= (n + 2) / 3);
}

/*
 * A grpc-status-details-bin header of the n bytes at p, base64-encoded
 * (raw: as they are). What it decodes to must be those bytes; whatever
 * they hold, a RetryInfo is found only in a usable Status.
 */
static void details(const uint8_t *p, size_t n, bool raw)
{
	static char line[64 + 4 * (KT_GRPC_MAX_DETAILS + 8) / 3 + 8];
	static const char name[] = "grpc-status-details-bin: ";
	size_t nl = sizeof(name) - 1, tn;
	memcpy(line, name, nl);
	if (raw) {
		memcpy(line + nl, p, n);
		tn = n;
	} else {
		tn = kt_base64_encode(p, n, line + nl);
		static uint8_t back[KT_GRPC_MAX_DETAILS + 8];
		size_t bn;
		CHECK(kt_base64_decode(line + nl, tn, back, sizeof(back), &bn));
		CHECK(bn == n && memcmp(back, p, n) == 0);
		if (n > KT_GRPC_MAX_DETAILS) /* too large to be read */
			CHECK(!kt_base64_decode(line + nl, tn, back, KT_GRPC_MAX_DETAILS, &bn));
	}
	kt_grpc_response_header(&r, line, nl + tn);
	CHECK(!(r.have_retry_delay && r.details_unusable));
	if (!raw && n > KT_GRPC_MAX_DETAILS)
		CHECK(r.details_unusable && !r.have_retry_delay);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor in = { data, data + size };
	static char line[4096];

	kt_grpc_response_reset(&r);
	check_decode(data, size < 64 ? size : 64, (size_t)(size % 65));
	while (in.p < in.end) {
		unsigned op = next_byte(&in);
		const uint8_t *p;
		size_t len = next_byte(&in);
		if (op & 0x80)
			len = len << 8 | next_byte(&in);
		switch (op & 3) {
		case 0: { /* any header line */
			size_t n = take(&in, len < sizeof(line) ? len : sizeof(line), &p);
			memcpy(line, p, n);
			kt_grpc_response_header(&r, line, n);
			break;
		}
		case 1: { /* body bytes; sometimes a well-formed message prefix first */
			if (op & 0x40) {
				uint8_t pre[KT_GRPC_PREFIX_LEN];
				kt_grpc_frame_prefix(pre, (uint32_t)len);
				if (op & 0x20)
					pre[0] = (uint8_t)next_byte(&in);
				feed_body(pre, sizeof(pre));
			}
			size_t n = take(&in, len, &p);
			feed_body(p, n);
			if (op & 0x10) { /* a long run of zeros, to cross the bound */
				static const uint8_t zeros[8192];
				for (unsigned k = 0; k < 9; k++)
					feed_body(zeros, sizeof(zeros));
			}
			break;
		}
		case 2: { /* a status line */
			int n = snprintf(line, sizeof(line), "HTTP/%s %u%s\r\n",
					 (op & 4) ? "1.1" : "2", 100 + (unsigned)(len % 500),
					 (op & 8) ? " Reason" : "");
			kt_grpc_response_header(&r, line, (size_t)n);
			CHECK(r.http_status == (long)(100 + len % 500));
			CHECK(!r.have_status && !r.have_message);
			break;
		}
		case 3: { /* a known field with a fuzzed value */
			if (op & 0x40) { /* grpc-status-details-bin: the bytes in base64, or as they are */
				size_t n = take(&in, len < KT_GRPC_MAX_DETAILS + 8 ? len : KT_GRPC_MAX_DETAILS + 8, &p);
				details(p, n, op & 0x20);
				break;
			}
			static const char *names[] = { "grpc-status", "grpc-message", "content-type",
						       "Grpc-Status" };
			const char *name = names[(op >> 2) & 3];
			size_t nl = strlen(name);
			size_t n = take(&in, len < sizeof(line) - nl - 2 ? len : sizeof(line) - nl - 2,
					&p);
			memcpy(line, name, nl);
			line[nl] = ':';
			memcpy(line + nl + 1, p, n);
			kt_grpc_response_header(&r, line, nl + 1 + n);
			if (((op >> 2) & 3) == 0 || ((op >> 2) & 3) == 3) {
				int want;
				bool ok = model_status(p, n, &want);
				CHECK(r.have_status && r.status_invalid == !ok);
				CHECK(r.status == (ok ? want : KT_GRPC_UNKNOWN));
				CHECK(kt_grpc_response_code(&r) == r.status);
			} else if (((op >> 2) & 3) == 1) {
				CHECK(r.have_message);
				CHECK(r.message_len <= n);
			}
			break;
		}
		}
		check_bounds();
	}

	const uint8_t *m;
	size_t n;
	enum kt_grpc_msg res = kt_grpc_response_message(&r, &m, &n);
	CHECK(kt_grpc_msg_str(res) != NULL);
	if (res == KT_GRPC_MSG_OK) {
		CHECK(m == r.body + KT_GRPC_PREFIX_LEN);
		CHECK(r.body_total == KT_GRPC_PREFIX_LEN + n && r.body_len == r.body_total);
		CHECK(r.body[0] == 0);
		struct kt_otlp_partial_success ps;
		int pr = kt_otlp_partial_success_parse(m, n, &ps);
		CHECK(pr >= -1 && pr <= 1);
		if (pr == 1)
			CHECK(strlen(ps.message) < sizeof(ps.message));
	} else {
		CHECK(m == NULL && n == 0);
	}
	int code = kt_grpc_response_code(&r);
	enum kt_export_result er = kt_grpc_status_result(code);
	CHECK(er == KT_EXPORT_OK || er == KT_EXPORT_RETRY || er == KT_EXPORT_FAIL);
	CHECK((er == KT_EXPORT_OK) == (code == KT_GRPC_OK));
	CHECK(kt_grpc_code_name(code) != NULL);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the JSON-era decoder against its json-c reference
 * (tests/oracle/). Both must accept or refuse the same payloads, under the
 * same arena limits, and a payload both accept must give the same span,
 * field for field (doubles bit for bit). A framed input (8-byte big-endian
 * length, then the payload: the framed golden vectors) is also decoded
 * without its header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"
#include "span_check.h"
#include "tests/oracle/decode_json_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void disagree(const uint8_t *p, size_t n, size_t limit, const char *what)
{
	fprintf(stderr, "decoders disagree (arena limit %zu, %zu bytes): %s\n", limit, n, what);
	fprintf(stderr, "payload: %.*s\n", (int)(n > 4096 ? 4096 : n), (const char *)p);
	abort();
}

static void compare(const uint8_t *p, size_t n, size_t limit)
{
	struct kt_arena a1, a2;
	struct kt_span s1, s2;
	struct kt_decode_error e1, e2;
	kt_arena_init(&a1, limit);
	kt_arena_init(&a2, limit);
	int r1 = kt_decode_json(p, n, &a1, &s1, &e1);
	int r2 = kt_decode_json_ref(p, n, &a2, &s2, &e2);
	check_result(r1, &s1, &e1);
	check_result(r2, &s2, &e2);
	if (r1 != r2) {
		char why[512];
		snprintf(why, sizeof(why), "decoder %s (%s), reference %s (%s)",
			 r1 ? "refuses" : "accepts", r1 ? e1.msg : "", r2 ? "refuses" : "accepts",
			 r2 ? e2.msg : "");
		disagree(p, n, limit, why);
	}
	char why[256];
	if (r1 == 0 && kt_span_diff(&s1, &s2, why, sizeof(why)))
		disagree(p, n, limit, why);
	/* A fault of the text is reported the same way by both. */
	if (r1 && strncmp(e2.msg, "invalid JSON", 12) == 0 && strcmp(e1.msg, e2.msg) != 0) {
		char m[512];
		snprintf(m, sizeof(m), "messages: \"%s\" vs \"%s\"", e1.msg, e2.msg);
		disagree(p, n, limit, m);
	}
	kt_arena_free(&a1);
	kt_arena_free(&a2);
}

/*
 * One arena limit per input, picked from its bytes so that a run covers
 * them all: none, the pipeline's (kt_decode_arena_limit), and the
 * reference's estimate exactly and one byte short of it, where both must
 * flip together.
 */
static void one(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	size_t cost;
	switch (h % 4) {
	case 0:
		compare(p, n, 0);
		decode_and_check(KT_FORMAT_AUTO, p, n); /* sniffing included */
		break;
	case 1:
		compare(p, n, kt_decode_arena_limit(n));
		break;
	default:
		cost = (size_t)kt_decode_json_ref_cost(p, n);
		compare(p, n, cost ? cost - (h % 4 == 3) : 0);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: ASan sees any read past the payload. */
	uint8_t *p = malloc(size ? size : 1);
	if (!p)
		return 0;
	memcpy(p, data, size);
	one(p, size);
	if (size >= 8) {
		uint64_t len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[i];
		if (len == size - 8)
			one(p + 8, size - 8);
	}
	free(p);
	return 0;
}

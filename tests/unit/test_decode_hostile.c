/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile and edge-case payloads: every failure must be clean (no crash, no
 * leak, a message naming the problem, the output span zeroed).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"
#include "expect_span.h"
#include "base/json_scan.h"

#define LIMIT (4u << 20)
#define BIG   (16u << 20)

/* ------------------------------------------------------------ helpers */

struct run {
	struct kt_arena a;
	struct kt_span s;
	struct kt_decode_error err;
	int rc;
};

static void run(struct run *r, enum kt_format f, const void *p, size_t n, size_t limit)
{
	kt_arena_init(&r->a, limit);
	memset(&r->err, 0, sizeof(r->err));
	r->rc = kt_decode_span(f, p, n, &r->a, &r->s, NULL, &r->err);
}

static bool span_is_zero(const struct kt_span *s)
{
	static const struct kt_span zero;
	return memcmp(s, &zero, sizeof(zero)) == 0;
}

/* Decoding must fail, with a message containing needle (if given). */
static void expect_fail(enum kt_format f, const void *p, size_t n, const char *needle,
			const char *what)
{
	struct run r;
	run(&r, f, p, n, LIMIT);
	cr_expect_eq(r.rc, -1, "%s: decoded, should have failed", what);
	cr_expect_neq(r.err.msg[0], '\0', "%s: no error message", what);
	if (needle)
		cr_expect(strstr(r.err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"",
			  what, r.err.msg, needle);
	cr_expect(span_is_zero(&r.s), "%s: output not zeroed after failure", what);
	kt_arena_free(&r.a);
}

static void expect_ok(struct run *r, enum kt_format f, const void *p, size_t n, const char *what)
{
	run(r, f, p, n, LIMIT);
	cr_expect_eq(r->rc, 0, "%s: %s", what, r->err.msg);
}

/* Exact-size heap copy, so that ASan sees any read past the end. */
static uint8_t *dup_exact(const void *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	cr_assert_not_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

/* p with [off, off+del) replaced by ins. */
static uint8_t *splice(const uint8_t *p, size_t n, size_t off, size_t del, const void *ins,
		       size_t ins_n, size_t *out_n)
{
	cr_assert_leq(off + del, n);
	*out_n = n - del + ins_n;
	uint8_t *d = malloc(*out_n ? *out_n : 1);
	cr_assert_not_null(d);
	memcpy(d, p, off);
	if (ins_n)
		memcpy(d + off, ins, ins_n);
	memcpy(d + off + ins_n, p + off + del, n - off - del);
	return d;
}

/* The first occurrence of from replaced by to (which must occur). */
static uint8_t *replace(const uint8_t *p, size_t n, const char *from, const char *to, size_t *out_n)
{
	const uint8_t *at = memmem(p, n, from, strlen(from));
	cr_assert_not_null(at, "\"%s\" not found", from);
	return splice(p, n, (size_t)(at - p), strlen(from), to, strlen(to), out_n);
}

static uint8_t *with_le64(const uint8_t *p, size_t n, size_t off, uint64_t v)
{
	uint8_t *d = dup_exact(p, n);
	cr_assert_leq(off + 8, n);
	for (int i = 0; i < 8; i++)
		d[off + i] = (uint8_t)(v >> (8 * i));
	return d;
}

static uint8_t *with_le32(const uint8_t *p, size_t n, size_t off, uint32_t v)
{
	uint8_t *d = dup_exact(p, n);
	cr_assert_leq(off + 4, n);
	for (int i = 0; i < 4; i++)
		d[off + i] = (uint8_t)(v >> (8 * i));
	return d;
}

static uint8_t *raw_vector(enum kt_era era, const char *label, size_t *n)
{
	return kt_test_read_vectorf(
		n, era == KT_ERA_JSON ? "otel017_json_%s.json" : "otel014_bincode_%s.bin", label);
}

static uint8_t *worked(enum kt_era era, size_t *n)
{
	return kt_test_read_vector(
		era == KT_ERA_JSON ? "otel017_json_worked.json" : "otel014_bincode_worked.bin", n);
}

/* Offsets in otel014_bincode_worked.bin (docs/decoders.md, worked example). */
enum {
	W_IS_REMOTE = 0x19,
	W_TS_TAG = 0x1a,
	W_KIND = 0x23,
	W_NAME_LEN = 0x27,
	W_NAME = 0x2f,
	W_START_SECS = 0x3e,
	W_START_NANOS = 0x46,
	W_MAP_COUNT = 0x56,
	W_KEY0_LEN = 0x5e,
	W_VAL0_VARIANT = 0x69,
	W_VAL0_LEN = 0x6d,
	W_VAL0 = 0x75, /* "rpc.rs" */
	W_EVICT_COUNT = 0x96,
	W_EVICT0_LEN = 0x9e,
	W_EV_TAG = 0xc0,
	W_EV_COUNT = 0xc1,
	W_EV_NAME_LEN = 0xc9,
	W_EV_ATTR_COUNT = 0xe4,
	W_STATUS = 0x11e,
	W_STATUS_MSG_LEN = 0x122,
	W_RES_COUNT = 0x12b,
	W_RES_KEY_LEN = 0x133,
};

/* Tiny bincode writer for spans the vectors do not cover. */
struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *src, size_t k)
{
	if (b->n + k > b->cap) {
		b->cap = (b->n + k) * 2;
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p);
	}
	memcpy(b->p + b->n, src, k);
	b->n += k;
}

static void put_le(struct buf *b, uint64_t v, int k)
{
	for (int i = 0; i < k; i++) {
		uint8_t c = (uint8_t)(v >> (8 * i));
		put(b, &c, 1);
	}
}

static void put_str(struct buf *b, const char *s)
{
	put_le(b, strlen(s), 8);
	put(b, s, strlen(s));
}

/* A span whose attribute map holds keys[i] = I64(i) and the given evict_list. */
static struct buf bc_span(const char *const *keys, size_t n, const char *const *evict, size_t m)
{
	struct buf b = {0};
	put_le(&b, 0x0807060504030201ull, 8); /* trace id, low half */
	put_le(&b, 0x100f0e0d0c0b0a09ull, 8);
	put_le(&b, 2, 8); /* span id */
	put_le(&b, 1, 1); /* flags */
	put_le(&b, 0, 1); /* is_remote */
	put_le(&b, 0, 1); /* trace_state None */
	put_le(&b, 0, 8); /* parent */
	put_le(&b, 4, 4); /* Internal */
	put_str(&b, "n");
	put_le(&b, 1, 8);
	put_le(&b, 0, 4);
	put_le(&b, 2, 8);
	put_le(&b, 0, 4);
	put_le(&b, n, 8);
	for (size_t i = 0; i < n; i++) {
		put_str(&b, keys[i]);
		put_le(&b, 1, 4); /* I64 */
		put_le(&b, i, 8);
	}
	put_le(&b, m, 8);
	for (size_t i = 0; i < m; i++)
		put_str(&b, evict[i]);
	put_le(&b, 128, 4);
	put_le(&b, 0, 4);
	for (int q = 0; q < 2; q++) { /* events, links: None */
		put_le(&b, 0, 1);
		put_le(&b, 128, 4);
		put_le(&b, 0, 4);
	}
	put_le(&b, 0, 4); /* Unset */
	put_str(&b, "");
	put_le(&b, 0, 1); /* resource None */
	return b;
}

/* The same span in the JSON era: the worked vector with its attributes replaced. */
static struct buf json_span(const char *const *keys, size_t n, const char *const *evict, size_t m)
{
	char map[1024] = "{", ev[1024] = "[";
	for (size_t i = 0; i < n; i++)
		snprintf(map + strlen(map), sizeof(map) - strlen(map), "%s\"%s\":{\"I64\":%zu}",
			 i ? "," : "", keys[i], i);
	strcat(map, "}");
	for (size_t i = 0; i < m; i++)
		snprintf(ev + strlen(ev), sizeof(ev) - strlen(ev), "%s\"%s\"", i ? "," : "",
			 evict[i]);
	strcat(ev, "]");
	size_t wn, n1, n2;
	uint8_t *w = worked(KT_ERA_JSON, &wn);
	uint8_t *a = replace(
		w, wn, "{\"mod\":{\"String\":\"rpc.rs\"},\"busy_ns\":{\"I64\":250000}}", map, &n1);
	uint8_t *b = replace(a, n1, "[\"busy_ns\",\"mod\"]", ev, &n2);
	free(w);
	free(a);
	return (struct buf){.p = b, .n = n2, .cap = n2};
}

static struct buf era_span(enum kt_era era, const char *const *keys, size_t n,
			   const char *const *evict, size_t m)
{
	return era == KT_ERA_JSON ? json_span(keys, n, evict, m) : bc_span(keys, n, evict, m);
}

static enum kt_format fmt_of(enum kt_era era)
{
	return era == KT_ERA_JSON ? KT_FORMAT_JSON : KT_FORMAT_BINCODE;
}

static const char *era_name(enum kt_era era)
{
	return era == KT_ERA_JSON ? "json" : "bincode";
}

/* xorshift64*: fixed seed, same garbage on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* ------------------------------------------------------------ truncation, garbage */

Test(hostile, every_proper_prefix_fails)
{
	for (int era = KT_ERA_BINCODE; era <= KT_ERA_JSON; era++) {
		for (size_t i = 0; i < kt_test_n_labels; i++) {
			size_t n;
			uint8_t *p = raw_vector(era, kt_test_labels[i], &n);
			for (size_t len = 0; len < n; len++) {
				uint8_t *d = dup_exact(p, len);
				char what[96];
				snprintf(what, sizeof(what), "%s %s prefix %zu/%zu", era_name(era),
					 kt_test_labels[i], len, n);
				expect_fail(fmt_of(era), d, len, NULL, what);
				expect_fail(KT_FORMAT_AUTO, d, len, NULL, what);
				free(d);
			}
			free(p);
		}
	}
}

Test(hostile, random_garbage_fails)
{
	static const enum kt_format fmts[] = {KT_FORMAT_AUTO, KT_FORMAT_JSON, KT_FORMAT_BINCODE};
	for (int i = 0; i < 3000; i++) {
		size_t n = rnd() % 700;
		uint8_t *d = malloc(n + KT_JSON_PREFIX_LEN + 1);
		for (size_t k = 0; k < n + KT_JSON_PREFIX_LEN; k++)
			d[k] = (uint8_t)rnd();
		/* Every other buffer wears the JSON prefix to get past the sniffer. */
		if (i & 1)
			memcpy(d, KT_JSON_PREFIX, KT_JSON_PREFIX_LEN);
		size_t len = (i & 1) ? n + KT_JSON_PREFIX_LEN : n;
		uint8_t *e = dup_exact(d, len);
		char what[48];
		snprintf(what, sizeof(what), "garbage #%d", i);
		for (size_t f = 0; f < 3; f++)
			expect_fail(fmts[f], e, len, NULL, what);
		free(e);
		free(d);
	}
}

/* Random byte mutations of real vectors: any outcome but a crash or a leak. */
Test(hostile, mutated_vectors_are_safe)
{
	for (int era = KT_ERA_BINCODE; era <= KT_ERA_JSON; era++) {
		for (size_t i = 0; i < kt_test_n_labels; i++) {
			size_t n;
			uint8_t *p = raw_vector(era, kt_test_labels[i], &n);
			for (int k = 0; k < 300; k++) {
				uint8_t *d = dup_exact(p, n);
				int flips = 1 + (int)(rnd() % 3);
				for (int f = 0; f < flips; f++) {
					static const uint8_t hot[] = {0x00, 0x01, 0x02, 0x7f, 0x80,
								      0xff, '"',  '{',	'}',  '\\'};
					d[rnd() % n] = (rnd() & 1) ? (uint8_t)rnd()
								   : hot[rnd() % sizeof(hot)];
				}
				struct run r;
				run(&r, KT_FORMAT_AUTO, d, n, LIMIT);
				if (r.rc)
					cr_expect_neq(r.err.msg[0], '\0',
						      "mutation failed silently");
				else
					cr_expect(r.s.name.ptr &&
						  r.s.name.ptr[r.s.name.len] == '\0');
				kt_arena_free(&r.a);
				free(d);
			}
			free(p);
		}
	}
}

Test(hostile, eras_do_not_cross)
{
	for (size_t i = 0; i < kt_test_n_labels; i++) {
		size_t n;
		uint8_t *p = kt_test_read_vectorf(&n, "otel017_json_%s.json", kt_test_labels[i]);
		expect_fail(KT_FORMAT_BINCODE, p, n, NULL, "JSON through bincode");
		free(p);
		p = kt_test_read_vectorf(&n, "otel014_bincode_%s.bin", kt_test_labels[i]);
		expect_fail(KT_FORMAT_JSON, p, n, NULL, "bincode through JSON");
		free(p);
	}
}

Test(hostile, trailing_bytes)
{
	size_t n, m;
	uint8_t *p = worked(KT_ERA_BINCODE, &n);
	uint8_t *d = splice(p, n, n, 0, "\0", 1, &m);
	expect_fail(KT_FORMAT_BINCODE, d, m, "format mismatch: 1 trailing bytes", "bincode + 1");
	free(d);
	free(p);

	p = worked(KT_ERA_JSON, &n);
	static const char *const tails[] = {"x", "{}", " 1", "\0", ",", "}"};
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		d = splice(p, n, n, 0, tails[i], tails[i][0] ? strlen(tails[i]) : 1, &m);
		expect_fail(KT_FORMAT_JSON, d, m, "offset", tails[i]);
		free(d);
	}
	/* Whitespace after the document is not data (serde_json reads it the same way). */
	d = splice(p, n, n, 0, " \n", 2, &m);
	struct run r;
	expect_ok(&r, KT_FORMAT_JSON, d, m, "JSON + whitespace");
	kt_arena_free(&r.a);
	free(d);
	free(p);
}

Test(hostile, no_error_slot)
{
	struct kt_arena a;
	struct kt_span s;
	kt_arena_init(&a, LIMIT);
	cr_expect_eq(kt_decode_span(KT_FORMAT_AUTO, (const uint8_t *)"x", 1, &a, &s, NULL, NULL),
		     -1);
	cr_expect_eq(kt_decode_span(KT_FORMAT_JSON, (const uint8_t *)"x", 1, &a, &s, NULL, NULL),
		     -1);
	cr_expect_eq(
		kt_decode_span((enum kt_format)42, (const uint8_t *)"x", 1, &a, &s, NULL, NULL),
		-1);
	kt_arena_free(&a);
}

/* ------------------------------------------------------------ bincode */

Test(bincode, huge_lengths_and_counts)
{
	static const struct {
		size_t off;
		const char *field;
	} at[] = {
		{W_NAME_LEN, "name"},
		{W_MAP_COUNT, "attributes.map"},
		{W_KEY0_LEN, "attributes.map[0].key"},
		{W_VAL0_LEN, "attributes.map[0].value"},
		{W_EVICT_COUNT, "attributes.evict_list"},
		{W_EVICT0_LEN, "attributes.evict_list[0]"},
		{W_EV_COUNT, "events.queue"},
		{W_EV_NAME_LEN, "events.queue[0].name"},
		{W_EV_ATTR_COUNT, "events.queue[0].attributes"},
		{W_STATUS_MSG_LEN, "status_message"},
		{W_RES_COUNT, "resource.attrs"},
		{W_RES_KEY_LEN, "resource.attrs[0].key"},
	};
	static const uint64_t vals[] = {1ull << 63, UINT64_MAX, (1ull << 63) + 1, 1ull << 61,
					1ull << 32};
	size_t n;
	uint8_t *p = worked(KT_ERA_BINCODE, &n);
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
			uint8_t *d = with_le64(p, n, at[i].off, vals[v]);
			char what[96];
			snprintf(what, sizeof(what), "%s = %llu", at[i].field,
				 (unsigned long long)vals[v]);
			expect_fail(KT_FORMAT_BINCODE, d, n, at[i].field, what);
			free(d);
		}
	}
	free(p);
}

Test(bincode, invalid_utf8)
{
	static const struct {
		const char *bytes;
		const char *what;
	} bad[] = {
		{"\xff", "0xff"},
		{"\xc0\xaf", "overlong /"},
		{"\xe0\x80\xaf", "overlong 3-byte"},
		{"\xed\xa0\x80", "surrogate U+D800"},
		{"\xf4\x90\x80\x80", "above U+10FFFF"},
		{"\xe4\xb8", "truncated sequence"},
		{"\x80", "lone continuation"},
	};
	size_t n;
	uint8_t *p = worked(KT_ERA_BINCODE, &n);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* At the end of the name "CreateContainer" (15 bytes). */
		size_t k = strlen(bad[i].bytes);
		uint8_t *d = dup_exact(p, n);
		memcpy(d + W_NAME + 15 - k, bad[i].bytes, k);
		expect_fail(KT_FORMAT_BINCODE, d, n, "name: invalid UTF-8", bad[i].what);
		free(d);
		/* In an attribute value "rpc.rs" (6 bytes). */
		d = dup_exact(p, n);
		memcpy(d + W_VAL0, bad[i].bytes, k);
		expect_fail(KT_FORMAT_BINCODE, d, n, "attributes.map[0].value: invalid UTF-8",
			    bad[i].what);
		free(d);
	}
	/* Valid multi-byte UTF-8 of every length in the same place decodes. */
	uint8_t *d = dup_exact(p, n);
	memcpy(d + W_VAL0, "\xc3\xa9\xf0\x9f\x98\x80", 6); /* "é😀" */
	struct run r;
	expect_ok(&r, KT_FORMAT_BINCODE, d, n, "valid UTF-8");
	kt_arena_free(&r.a);
	free(d);
	free(p);
}

Test(bincode, enum_flag_and_time_ranges)
{
	static const struct {
		size_t off;
		int width;
		uint64_t v;
		const char *needle;
	} bad[] = {
		{W_KIND, 4, 5, "span_kind: SpanKind variant index 5"},
		{W_KIND, 4, UINT32_MAX, "span_kind"},
		{W_STATUS, 4, 3, "status_code: StatusCode variant index 3"},
		{W_VAL0_VARIANT, 4, 5, "attributes.map[0].value: Value variant index 5"},
		{W_TS_TAG, 1, 2, "span_context.trace_state: invalid Option tag"},
		{W_IS_REMOTE, 1, 2, "span_context.is_remote: invalid bool"},
		{W_EV_TAG, 1, 0xff, "events.queue: invalid Option tag"},
		{W_START_NANOS, 4, 1000000000, "start_time: nanoseconds 1000000000"},
		{W_START_SECS, 8, UINT64_MAX, "start_time: time"},
		{W_START_SECS, 8, 18446744074ull, "start_time: time"},
	};
	size_t n;
	uint8_t *p = worked(KT_ERA_BINCODE, &n);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *d = bad[i].width == 8	 ? with_le64(p, n, bad[i].off, bad[i].v)
			     : bad[i].width == 4 ? with_le32(p, n, bad[i].off, (uint32_t)bad[i].v)
						 : dup_exact(p, n);
		if (bad[i].width == 1)
			d[bad[i].off] = (uint8_t)bad[i].v;
		expect_fail(KT_FORMAT_BINCODE, d, n, bad[i].needle, bad[i].needle);
		free(d);
	}
	/* The largest representable time: 18446744073 s + 709551615 ns = 2^64 - 1 ns. */
	uint8_t *a = with_le64(p, n, W_START_SECS, 18446744073ull);
	uint8_t *d = with_le32(a, n, W_START_NANOS, 709551615);
	struct run r;
	expect_ok(&r, KT_FORMAT_BINCODE, d, n, "max time");
	cr_expect_eq(r.s.start_unix_nano, UINT64_MAX);
	kt_arena_free(&r.a);
	free(d);
	free(a);
	d = with_le32(p, n, W_START_NANOS, 709551616);
	a = with_le64(d, n, W_START_SECS, 18446744073ull);
	expect_fail(KT_FORMAT_BINCODE, a, n, "start_time: time", "max time + 1");
	free(a);
	free(d);
	free(p);
}

Test(bincode, array_element_checks)
{
	/* Value::Array(Bool([2])) and Array variant 4 in place of the "mod" value. */
	size_t n, m;
	uint8_t *p = worked(KT_ERA_BINCODE, &n);
	static const uint8_t bool2[] = {4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2};
	uint8_t *d = splice(p, n, W_VAL0_VARIANT, 4 + 8 + 6, bool2, sizeof(bool2), &m);
	expect_fail(KT_FORMAT_BINCODE, d, m, "attributes.map[0].value[0]: invalid bool", "bool 2");
	free(d);
	static const uint8_t var4[] = {4, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	d = splice(p, n, W_VAL0_VARIANT, 4 + 8 + 6, var4, sizeof(var4), &m);
	expect_fail(KT_FORMAT_BINCODE, d, m, "Array variant index 4", "Array variant 4");
	free(d);
	/* An I64 array whose count outruns the payload. */
	static const uint8_t many[] = {4, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
	d = splice(p, n, W_VAL0_VARIANT, 4 + 8 + 6, many, sizeof(many), &m);
	expect_fail(KT_FORMAT_BINCODE, d, m, "cannot fit", "I64 array count");
	free(d);
	free(p);
}

/* ------------------------------------------------------------ JSON */

static void json_fail(const char *from, const char *to, const char *needle)
{
	size_t n, m;
	uint8_t *p = worked(KT_ERA_JSON, &n);
	uint8_t *d = replace(p, n, from, to, &m);
	expect_fail(KT_FORMAT_JSON, d, m, needle, to);
	free(d);
	free(p);
}

/* worked with one replacement; decodes; the caller checks r and frees r->a. */
static void json_ok(struct run *r, const char *from, const char *to)
{
	size_t n, m;
	uint8_t *p = worked(KT_ERA_JSON, &n);
	uint8_t *d = replace(p, n, from, to, &m);
	expect_ok(r, KT_FORMAT_JSON, d, m, to);
	free(d);
	free(p);
}

#define TRACE_ID  "14576827793038113322513871894673895836"
#define MOD_VALUE "\"mod\":{\"String\":\"rpc.rs\"}"

Test(json, trace_id_range)
{
	struct run r;
	json_fail(TRACE_ID, "1000000000000000000000000000000000000000",
		  "span_context.trace_id: 1000000000000000000000000000000000000000 out of range "
		  "for u128");
	json_fail(TRACE_ID, "340282366920938463463374607431768211456", "out of range for u128");
	json_fail(TRACE_ID, "99999999999999999999999999999999999999999999999999", "out of range");
	json_fail(TRACE_ID, "-1", "span_context.trace_id: -1 out of range");
	json_fail(TRACE_ID, "1.0", "span_context.trace_id: expected integer, found number");
	json_fail(TRACE_ID, "1e3", "expected integer");
	json_fail(TRACE_ID, "\"1\"", "span_context.trace_id: expected integer, found string");
	json_fail(TRACE_ID, "null", "expected integer, found null");
	json_fail(TRACE_ID, "0" TRACE_ID, "leading zero");

	json_ok(&r, TRACE_ID, "340282366920938463463374607431768211455");
	cr_expect_eq(r.s.ctx.trace_id.hi, UINT64_MAX);
	cr_expect_eq(r.s.ctx.trace_id.lo, UINT64_MAX);
	kt_arena_free(&r.a);
	json_ok(&r, TRACE_ID, "18446744073709551616"); /* 2^64: just past one word */
	cr_expect_eq(r.s.ctx.trace_id.hi, 1);
	cr_expect_eq(r.s.ctx.trace_id.lo, 0);
	kt_arena_free(&r.a);
	json_ok(&r, TRACE_ID, "0");
	cr_expect_eq(r.s.ctx.trace_id.hi, 0);
	cr_expect_eq(r.s.ctx.trace_id.lo, 0);
	kt_arena_free(&r.a);
}

Test(json, integer_ranges)
{
	struct run r;
	json_fail("\"span_id\":13235353014750950193", "\"span_id\":18446744073709551616",
		  "span_context.span_id: 18446744073709551616 out of range for u64");
	json_fail("\"trace_flags\":1", "\"trace_flags\":256",
		  "trace_flags: 256 out of range for u8");
	json_fail("\"max_len\":128", "\"max_len\":4294967296", "attributes.max_len");
	json_fail("\"nanos_since_epoch\":5000", "\"nanos_since_epoch\":1000000000",
		  "start_time: nanoseconds 1000000000 out of range");
	json_fail("\"secs_since_epoch\":1700000000,\"nanos_since_epoch\":5000",
		  "\"secs_since_epoch\":18446744073,\"nanos_since_epoch\":709551616",
		  "start_time: time");
	json_fail("{\"I64\":250000}", "{\"I64\":9223372036854775808}",
		  "attributes.map[\"busy_ns\"].I64: 9223372036854775808 out of range for i64");
	json_fail("{\"I64\":250000}", "{\"I64\":-9223372036854775809}", "out of range for i64");
	json_fail("{\"I64\":250000}", "{\"I64\":1.0}", "expected integer, found number");
	json_fail("{\"I64\":250000}", "{\"I64\":null}", "expected integer, found null");

	json_ok(&r, "{\"I64\":250000}", "{\"I64\":-9223372036854775808}");
	cr_expect_eq(kt_kvlist_find(&r.s.attrs, "busy_ns")->value.i, INT64_MIN);
	kt_arena_free(&r.a);
	json_ok(&r, "{\"I64\":250000}", "{\"I64\":-0}");
	cr_expect_eq(kt_kvlist_find(&r.s.attrs, "busy_ns")->value.i, 0);
	kt_arena_free(&r.a);
	json_ok(&r, "\"secs_since_epoch\":1700000000,\"nanos_since_epoch\":5000",
		"\"secs_since_epoch\":18446744073,\"nanos_since_epoch\":709551615");
	cr_expect_eq(r.s.start_unix_nano, UINT64_MAX);
	kt_arena_free(&r.a);
}

Test(json, floats)
{
	static const struct {
		const char *text;
		double want;
	} ok[] = {
		{"5", 5.0},
		{"-0", -0.0},
		{"-0.0", -0.0},
		{"18446744073709551615", 18446744073709551615.0},
		{"-9223372036854775808", -9223372036854775808.0},
		{"123456789012345678901234567890", 123456789012345678901234567890.0},
		{"1e-400", 0.0},
		{"2.5E+3", 2500.0},
		{"1.7976931348623157e308", 1.7976931348623157e308},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char to[96];
		struct run r;
		snprintf(to, sizeof(to), "{\"F64\":%s}", ok[i].text);
		json_ok(&r, "{\"I64\":250000}", to);
		const struct kt_kv *kv = kt_kvlist_find(&r.s.attrs, "busy_ns");
		if (r.rc == 0) {
			cr_expect_eq(kv->value.type, KT_VAL_F64);
			cr_expect(memcmp(&kv->value.f, &ok[i].want, sizeof(double)) == 0,
				  "%s: got %.17g", ok[i].text, kv->value.f);
		}
		kt_arena_free(&r.a);
	}
	/* null is what serde_json writes for NaN and both infinities. */
	struct run r;
	json_ok(&r, "{\"I64\":250000}", "{\"Array\":{\"F64\":[null,1.5,null]}}");
	const struct kt_kv *kv = kt_kvlist_find(&r.s.attrs, "busy_ns");
	cr_expect_eq(kv->value.type, KT_VAL_ARRAY_F64);
	cr_expect_eq(kv->value.arr.n, 3);
	cr_expect(isnan(kv->value.arr.f[0]) && kv->value.arr.f[1] == 1.5 &&
		  isnan(kv->value.arr.f[2]));
	kt_arena_free(&r.a);

	json_fail("{\"I64\":250000}", "{\"F64\":1e400}", "number out of range for f64");
	json_fail("{\"I64\":250000}", "{\"F64\":-1e400}", "out of range");
	json_fail("{\"I64\":250000}", "{\"F64\":NaN}", "invalid JSON");
	json_fail("{\"I64\":250000}", "{\"F64\":Infinity}", "invalid JSON");
	json_fail("{\"I64\":250000}", "{\"F64\":-Infinity}", "invalid JSON");
	json_fail("{\"I64\":250000}", "{\"F64\":1.}", "invalid JSON");
	json_fail("{\"I64\":250000}", "{\"F64\":.5}", "invalid JSON");
	json_fail("{\"I64\":250000}", "{\"F64\":01}", "invalid JSON");
	json_fail("{\"I64\":250000}", "{\"F64\":\"1\"}", "expected number or null, found string");
	json_fail("{\"I64\":250000}", "{\"Array\":{\"F64\":[true]}}", "busy_ns\"].F64[0]");
}

Test(json, strings)
{
	struct run r;
	json_ok(&r, "\"rpc.rs\"", "\"a\\u0000b\\ud83d\\ude00\\/\"");
	const struct kt_kv *kv = kt_kvlist_find(&r.s.attrs, "mod");
	cr_assert_not_null(kv);
	cr_expect_eq(kv->value.s.len, 8);
	cr_expect(memcmp(kv->value.s.ptr, "a\0b\xf0\x9f\x98\x80/", 8) == 0);
	kt_arena_free(&r.a);

	json_fail("\"rpc.rs\"", "\"\\ud800\"", "unpaired surrogate");
	json_fail("\"rpc.rs\"", "\"\\udc00\\ud800\"", "unpaired surrogate");
	json_fail("\"rpc.rs\"", "\"\\ud800\\u0041\"", "unpaired surrogate");
	json_fail("\"rpc.rs\"", "\"\\x41\"", "invalid escape");
	json_fail("\"rpc.rs\"", "\"\\u12g4\"", "invalid \\u escape");
	json_fail("\"rpc.rs\"", "\"a\tb\"", "control character 0x09");
	json_fail("\"rpc.rs\"", "\"a\nb\"", "control character");
	json_fail("\"rpc.rs\"", "\"\xff\"", "invalid UTF-8");
	json_fail("\"rpc.rs\"", "\"\xc0\xaf\"", "invalid UTF-8");
	json_fail("\"rpc.rs\"", "\"\xed\xa0\x80\"", "invalid UTF-8");
	json_fail("\"rpc.rs\"", "\"\xf4\x90\x80\x80\"", "invalid UTF-8");
	json_fail("\"CreateContainer\"", "\"Create\xe4\xb8\"", "invalid UTF-8");
	json_fail("\"rpc.rs\"", "'rpc.rs'", "invalid JSON");
	json_fail("\"name\":\"CreateContainer\"", "\"name\":7",
		  "name: expected string, found number");
}

Test(json, keys)
{
	struct run r;
	/* Keys are compared and kept with their full length, U+0000 included. */
	json_ok(&r, MOD_VALUE, "\"mo\\u0000d\":{\"String\":\"rpc.rs\"}");
	cr_expect_eq(r.s.attrs.n, 2);
	cr_expect_eq(r.s.attrs.kv[1].key.len, 4, "key length %zu", r.s.attrs.kv[1].key.len);
	cr_expect(memcmp(r.s.attrs.kv[1].key.ptr, "mo\0d", 5) == 0);
	kt_arena_free(&r.a);
	/* An escaped struct key is still that key. */
	json_ok(&r, "\"status_message\":\"\"", "\"status_\\u006dessage\":\"x\"");
	cr_expect(kt_str_eq(r.s.status_message, "x"));
	kt_arena_free(&r.a);

	json_fail("\"span_kind\":\"Internal\",", "\"span_kind\":\"Internal\",\"name\":\"x\",",
		  "duplicate key");
	json_fail(MOD_VALUE, MOD_VALUE "," MOD_VALUE, "attributes.map: duplicate key");
	json_fail("\"trace_flags\":1", "\"trace_flags\":1,\"trace_flags\":1", "duplicate key");
	json_fail("{\"String\":\"rpc.rs\"}", "{\"String\":\"rpc.rs\",\"String\":\"x\"}",
		  "duplicate key");
	/* json-c cannot tell these apart: refused rather than merged. */
	json_fail(MOD_VALUE, MOD_VALUE ",\"mod\\u0000x\":{\"I64\":1}", "equal up to a U+0000");

	json_fail("\"parent_span_id\":67667974448284343,", "", "parent_span_id: missing field");
	json_fail("\"trace_state\":null", "\"trace_statf\":null",
		  "span_context.trace_state: missing field");
	json_fail("\"max_len\":128,", "", "attributes.max_len: missing field");
	json_fail("\"nanos_since_epoch\":5000", "\"nanos\":5000",
		  "start_time.nanos_since_epoch: missing field");
	json_fail("{\"key\":\"level\",", "{", "events.queue[0].attributes[0].key: missing field");
	json_fail("\"status_code\":\"Unset\",", "", "status_code: missing field");

	/* Unknown keys are ignored; Option fields may be absent. */
	json_ok(&r, "\"parent_span_id\"",
		"\"zz\":{\"deep\":[1,2.5,{\"x\":null,\"y\":[true,\"s\",1e400]}]},\"parent_span_"
		"id\"");
	if (r.rc == 0)
		kt_expect_span(&r.s, "worked", KT_ERA_JSON);
	kt_arena_free(&r.a);
	json_ok(&r, ",\"resource\":{\"attrs\":{\"service.name\":{\"String\":\"kata-agent\"}}}", "");
	cr_expect_not(r.s.resource_present);
	kt_arena_free(&r.a);
	json_ok(&r, "\"queue\":null,", "");
	cr_expect_not(r.s.links_present);
	kt_arena_free(&r.a);
}

Test(json, shapes)
{
	json_fail("\"span_kind\":\"Internal\"", "\"span_kind\":\"internal\"",
		  "span_kind: unknown variant \"internal\"");
	json_fail("\"span_kind\":\"Internal\"", "\"span_kind\":4", "span_kind: expected string");
	json_fail("\"status_code\":\"Unset\"", "\"status_code\":\"Failed\"", "unknown variant");
	json_fail("{\"I64\":250000}", "{\"I64\":250000,\"Bool\":true}",
		  "expected an object with one key, found 2 keys");
	json_fail("{\"I64\":250000}", "{}", "expected an object with one key, found 0 keys");
	json_fail("{\"I64\":250000}", "{\"U64\":1}", "unknown variant \"U64\"");
	json_fail("{\"I64\":250000}", "{\"Array\":{\"I64\":[1],\"F64\":[]}}", "one key");
	json_fail("{\"I64\":250000}", "{\"Array\":[1]}", "expected object, found array");
	json_fail("{\"I64\":250000}", "{\"Bool\":1}", "busy_ns\"].Bool: expected boolean");
	json_fail("\"trace_state\":null", "\"trace_state\":[[\"k\"]]",
		  "span_context.trace_state[0]: expected a [key, value] pair");
	json_fail("\"trace_state\":null", "\"trace_state\":[[\"k\",\"v\",\"w\"]]", "pair");
	json_fail("\"trace_state\":null", "\"trace_state\":[[\"k\",1]]", "expected string");
	json_fail("\"trace_state\":null", "\"trace_state\":{}", "expected array or null");
	json_fail("\"queue\":null", "\"queue\":{}", "links.queue: expected array or null");
	json_fail("\"evict_list\":[\"busy_ns\",\"mod\"]", "\"evict_list\":[\"busy_ns\",1]",
		  "attributes.evict_list[1]: expected string");
	json_fail("\"resource\":{\"attrs\"", "\"resource\":{\"attr\"",
		  "resource.attrs: missing field");
	json_fail("\"resource\":{", "\"resource\":[{", "invalid JSON");

	struct run r;
	json_ok(&r, "\"trace_state\":null", "\"trace_state\":[]");
	cr_expect(r.s.ctx.trace_state_present);
	cr_expect_eq(r.s.ctx.trace_state_n, 0);
	kt_arena_free(&r.a);
	json_ok(&r, "\"resource\":{\"attrs\":{\"service.name\":{\"String\":\"kata-agent\"}}}",
		"\"resource\":null");
	cr_expect_not(r.s.resource_present);
	kt_arena_free(&r.a);
}

Test(json, deep_nesting)
{
	size_t depth = 10000;
	char *d = malloc(2 * depth + KT_JSON_PREFIX_LEN + 1);
	memset(d, '[', depth);
	memset(d + depth, ']', depth);
	expect_fail(KT_FORMAT_JSON, d, 2 * depth, "nested deeper than", "10000 x [");
	expect_fail(KT_FORMAT_AUTO, d, 2 * depth, NULL, "10000 x [ (auto)");
	/* Behind the sniffing prefix, unterminated. */
	memcpy(d, KT_JSON_PREFIX, KT_JSON_PREFIX_LEN);
	memset(d + KT_JSON_PREFIX_LEN, '[', depth);
	expect_fail(KT_FORMAT_AUTO, d, KT_JSON_PREFIX_LEN + depth, "nested deeper than",
		    "prefix + 10000 x [");
	free(d);

	size_t n = 0;
	d = malloc(6 * depth + 2);
	for (size_t i = 0; i < depth; i++) {
		memcpy(d + n, "{\"a\":", 5);
		n += 5;
	}
	d[n++] = '1';
	memset(d + n, '}', depth);
	n += depth;
	expect_fail(KT_FORMAT_JSON, d, n, "nested deeper than", "10000 x {\"a\":");
	free(d);
}

/* The JSON decoder's nesting limit (16): a span nested exactly that deep decodes. */
Test(json, nesting_exactly_at_the_depth_limit)
{
	size_t n;
	uint8_t *v = kt_test_read_vector("otel017_json_root.json", &n);
	while (n && v[n - 1] != '}')
		n--;
	cr_assert_gt(n, 0);
	/* the span object is level 1; an ignored member adds k arrays */
	for (size_t k = 15; k <= 16; k++) {
		size_t m = n - 1;
		char *d = malloc(n + 2 * k + 16);
		memcpy(d, v, m);
		memcpy(d + m, ",\"x\":", 5);
		m += 5;
		memset(d + m, '[', k);
		m += k;
		memset(d + m, ']', k);
		m += k;
		d[m++] = '}';
		if (k == 15) {
			struct run r;
			expect_ok(&r, KT_FORMAT_JSON, d, m, "16 levels");
			kt_arena_free(&r.a);
		} else {
			expect_fail(KT_FORMAT_JSON, d, m, "nested deeper than 16", "17 levels");
		}
		free(d);
	}
	free(v);
}

/* kt_json_scan alone: containers exactly max_depth deep pass, one more does not. */
Test(json_scan, depth_exactly_max_depth)
{
	char buf[7 * 66];
	for (size_t max = 1; max <= 64; max += 21) {
		for (size_t d = max; d <= max + 1; d++) {
			for (int obj = 0; obj < 2; obj++) {
				size_t m = 0;
				for (size_t i = 0; i < d; i++) {
					memcpy(buf + m, obj ? "{\"a\":" : "[", obj ? 5 : 1);
					m += obj ? 5 : 1;
				}
				buf[m++] = '1';
				memset(buf + m, obj ? '}' : ']', d);
				m += d;
				struct kt_json_scan sc;
				char err[96] = "";
				int rc = kt_json_scan((const uint8_t *)buf, m, max, &sc, err, sizeof(err));
				kt_json_scan_free(&sc);
				cr_expect_eq(rc, d <= max ? 0 : -1, "%zu levels, max %zu: %s", d, max, err);
				if (d > max)
					cr_expect(strstr(err, "nested deeper than"), "%s", err);
			}
		}
	}
	/* A max_depth above 64 is 64. */
	for (size_t d = 64; d <= 65; d++) {
		memset(buf, '[', d);
		memset(buf + d, ']', d);
		struct kt_json_scan sc;
		char err[96] = "";
		int rc = kt_json_scan((const uint8_t *)buf, 2 * d, 1000, &sc, err, sizeof(err));
		kt_json_scan_free(&sc);
		cr_expect_eq(rc, d <= 64 ? 0 : -1, "%zu levels, max 1000: %s", d, err);
	}
}

/* ------------------------------------------------------------ both eras */

static void check_order(enum kt_era era, const char *const *keys, size_t n,
			const char *const *evict, size_t m, const char *const *want, size_t nw)
{
	struct buf b = era_span(era, keys, n, evict, m);
	struct run r;
	expect_ok(&r, fmt_of(era), b.p, b.n, "attribute order");
	if (r.rc == 0) {
		cr_expect_eq(r.s.attrs.n, nw, "[%s] %zu attributes, want %zu", era_name(era),
			     r.s.attrs.n, nw);
		for (size_t i = 0; i < nw && i < r.s.attrs.n; i++)
			cr_expect(kt_str_eq(r.s.attrs.kv[i].key, want[i]),
				  "[%s] [%zu] = %s, want %s", era_name(era), i,
				  r.s.attrs.kv[i].key.ptr, want[i]);
	}
	kt_arena_free(&r.a);
	free(b.p);
}

Test(both, attribute_order)
{
	static const char *const abc[] = {"a", "b", "c"}, *const cba[] = {"c", "b", "a"};
	static const char *const b[] = {"b"}, *const bac[] = {"b", "a", "c"};
	static const char *const xay[] = {"x", "a", "y"}, *const a[] = {"a"};
	static const char *const ab[] = {"a", "b"}, *const aba[] = {"a", "b", "a"};
	static const char *const ba[] = {"b", "a"}, *const zyx[] = {"z", "y", "x"};
	for (int era = KT_ERA_BINCODE; era <= KT_ERA_JSON; era++) {
		/* Most recent first on the wire: reversed, whatever the map order. */
		check_order(era, abc, 3, abc, 3, cba, 3);
		check_order(era, cba, 3, abc, 3, cba, 3);
		/* Keys evict_list does not name follow, in wire order. */
		check_order(era, abc, 3, b, 1, bac, 3);
		check_order(era, abc, 3, NULL, 0, abc, 3);
		/* evict_list keys missing from the map are ignored. */
		check_order(era, a, 1, xay, 3, a, 1);
		check_order(era, NULL, 0, zyx, 3, NULL, 0);
		/* A repeated evict_list key counts once, at its last (= first reversed) place. */
		check_order(era, ab, 2, aba, 3, ab, 2);
		check_order(era, ab, 2, ba, 2, ab, 2);

		static const char *const dup[] = {"k", "x", "k"};
		struct buf bb = era_span(era, dup, 3, dup, 3);
		expect_fail(fmt_of(era), bb.p, bb.n, "attributes.map", "duplicate map key");
		expect_fail(fmt_of(era), bb.p, bb.n, "duplicate key", "duplicate map key");
		free(bb.p);
	}
}

Test(bincode, duplicate_resource_key)
{
	size_t n, m;
	uint8_t *p = worked(KT_ERA_BINCODE, &n);
	/* A second "service.name" entry appended to the resource map. */
	uint8_t *d = splice(p, n, n, 0, p + W_RES_KEY_LEN, n - W_RES_KEY_LEN, &m);
	d[W_RES_COUNT] = 2;
	expect_fail(KT_FORMAT_BINCODE, d, m, "resource.attrs: duplicate key \"service.name\"",
		    "duplicate resource key");
	free(d);
	free(p);
}

/* A valid UTF-8 string of exactly len bytes, with 1- to 4-byte characters. */
static char *big_text(size_t len)
{
	static const char unit[] = "a\xc3\xa9\xe6\xbc\xa2\xf0\x9f\x98\x80"; /* 10 bytes */
	char *s = malloc(len + 1);
	cr_assert_not_null(s);
	size_t k = 0;
	for (; k + 10 <= len; k += 10)
		memcpy(s + k, unit, 10);
	memset(s + k, 'b', len - k);
	s[len] = '\0';
	return s;
}

/* worked with the "rpc.rs" value replaced by a 16 MiB string. */
static uint8_t *big_payload(enum kt_era era, const char *text, size_t *out_n)
{
	size_t n;
	uint8_t *p = worked(era, &n), *d;
	if (era == KT_ERA_JSON) {
		d = splice(p, n, (size_t)((uint8_t *)memmem(p, n, "rpc.rs", 6) - p), 6, text, BIG,
			   out_n);
	} else {
		uint8_t len[8];
		for (int i = 0; i < 8; i++)
			len[i] = (uint8_t)((uint64_t)BIG >> (8 * i));
		uint8_t *a = splice(p, n, W_VAL0, 6, text, BIG, out_n);
		d = splice(a, *out_n, W_VAL0_LEN, 8, len, 8, out_n);
		free(a);
	}
	free(p);
	return d;
}

Test(both, sixteen_mib_attribute, .timeout = 120)
{
	char *text = big_text(BIG);
	for (int era = KT_ERA_BINCODE; era <= KT_ERA_JSON; era++) {
		size_t n;
		uint8_t *p = big_payload(era, text, &n);
		struct run r;
		run(&r, fmt_of(era), p, n, 64u << 20);
		cr_expect_eq(r.rc, 0, "[%s] %s", era_name(era), r.err.msg);
		if (r.rc == 0) {
			const struct kt_kv *kv = kt_kvlist_find(&r.s.attrs, "mod");
			cr_assert_not_null(kv);
			cr_expect_eq(kv->value.s.len, BIG);
			cr_expect(memcmp(kv->value.s.ptr, text, BIG) == 0, "[%s] content differs",
				  era_name(era));
			cr_expect_eq(kv->value.s.ptr[BIG], '\0');
		}
		kt_arena_free(&r.a);

		/* Same payload, arena too small: a clean error. */
		run(&r, fmt_of(era), p, n, 1u << 20);
		cr_expect_eq(r.rc, -1, "[%s] decoded past the arena limit", era_name(era));
		cr_expect(strstr(r.err.msg, "arena limit") != NULL, "[%s] message: %s",
			  era_name(era), r.err.msg);
		/* bincode fails on the string itself; JSON already on json-c's estimated needs. */
		if (era == KT_ERA_BINCODE)
			cr_expect(strstr(r.err.msg, "attributes.map[0].value") != NULL,
				  "[%s] message: %s", era_name(era), r.err.msg);
		cr_expect(span_is_zero(&r.s));
		kt_arena_free(&r.a);
		free(p);
	}
	free(text);
}

Test(both, tiny_arena_fails_cleanly)
{
	for (int era = KT_ERA_BINCODE; era <= KT_ERA_JSON; era++) {
		for (size_t i = 0; i < kt_test_n_labels; i++) {
			size_t n;
			uint8_t *p = raw_vector(era, kt_test_labels[i], &n);
			struct run r;
			for (size_t limit = 16; limit <= 64; limit += 16) {
				run(&r, fmt_of(era), p, n, limit);
				cr_expect_eq(r.rc, -1, "%s fits in %zu bytes?", kt_test_labels[i],
					     limit);
				cr_expect(strstr(r.err.msg, "arena limit") != NULL, "%s: %s",
					  kt_test_labels[i], r.err.msg);
				kt_arena_free(&r.a);
			}
			/* No limit at all. */
			run(&r, fmt_of(era), p, n, 0);
			cr_expect_eq(r.rc, 0, "%s unlimited: %s", kt_test_labels[i], r.err.msg);
			kt_arena_free(&r.a);
			free(p);
		}
	}
}

Test(json, top_level_not_an_object)
{
	static const char *const docs[] = {"null", "\nnull\n\n\n", "[]", "1", "\"x\"",
					   "true", "{}",	   " ",	 ""};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		expect_fail(KT_FORMAT_JSON, docs[i], strlen(docs[i]), NULL, docs[i]);
		expect_fail(KT_FORMAT_AUTO, docs[i], strlen(docs[i]), NULL, docs[i]);
	}
	expect_fail(KT_FORMAT_JSON, "null", 4, "expected object, found null", "null");
}

/* json-c spends ~800 bytes on each "{}": such a frame is refused before json-c sees it. */
Test(json, object_bomb_is_charged_to_the_arena)
{
	size_t n, m, k = 200000;
	uint8_t *p = worked(KT_ERA_JSON, &n);
	char *bomb = malloc(3 * k + 16);
	size_t b = 0;
	b += (size_t)sprintf(bomb, "\"zz\":[");
	for (size_t i = 0; i < k; i++)
		b += (size_t)sprintf(bomb + b, "%s{}", i ? "," : "");
	b += (size_t)sprintf(bomb + b, "],");
	uint8_t *d = splice(p, n, 1, 0, bomb, b, &m); /* right after the opening '{' */
	expect_fail(KT_FORMAT_JSON, d, m, "arena limit reached", "200000 x {}");
	/* With no limit, the unknown key is parsed and ignored. */
	struct run r;
	run(&r, KT_FORMAT_JSON, d, m, 0);
	cr_expect_eq(r.rc, 0, "%s", r.err.msg);
	if (r.rc == 0)
		kt_expect_span(&r.s, "worked", KT_ERA_JSON);
	kt_arena_free(&r.a);
	free(d);
	free(bomb);
	free(p);
}

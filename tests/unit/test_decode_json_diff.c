/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The single-pass JSON-era decoder against the json-c reference it replaced
 * (tests/oracle/): the same verdict on every payload, the same span field
 * for field, and the same message wherever the text itself is at fault.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"
#include "expect_span.h"
#include "tests/oracle/decode_json_ref.h"

/* A limit no test payload reaches. */
#define ROOMY (64u << 20)

/*
 * Expectations that report only when they fail: the comparisons below run
 * hundreds of thousands of times, and criterion sends every assertion that
 * is evaluated, passed or not, from the test's process to its runner.
 */
#define EXPECT(cond, ...)                             \
	do {                                          \
		if (!(cond))                          \
			cr_expect(0, __VA_ARGS__);    \
	} while (0)
#define REQUIRE(cond, ...)                            \
	do {                                          \
		if (!(cond))                          \
			cr_assert(0, __VA_ARGS__);    \
	} while (0)

struct verdict {
	int rc;
	char msg[200];
};

/*
 * Decode p[0..n) with both under the same arena limit: same verdict, same
 * span. *out (optional) gets the decoder's verdict.
 */
static void same(const void *p, size_t n, size_t limit, const char *what, struct verdict *out)
{
	/* Exact-size copies: ASan sees any read past the payload. */
	uint8_t *d = malloc(n ? n : 1);
	REQUIRE(d, "out of memory");
	if (n)
		memcpy(d, p, n);
	struct kt_arena a1, a2;
	struct kt_span s1, s2;
	struct kt_decode_error e1, e2;
	kt_arena_init(&a1, limit);
	kt_arena_init(&a2, limit);
	int r1 = kt_decode_json(d, n, &a1, &s1, &e1);
	int r2 = kt_decode_json_ref(d, n, &a2, &s2, &e2);
	EXPECT(r1 == r2, "%s (limit %zu): decoder %d (%s), reference %d (%s)", what, limit, r1,
	       r1 ? e1.msg : "", r2, r2 ? e2.msg : "");
	if (r1 == 0 && r2 == 0) {
		char why[256];
		EXPECT(kt_span_diff(&s1, &s2, why, sizeof(why)) == 0, "%s: %s", what, why);
	}
	if (r1 && r2 && strncmp(e2.msg, "invalid JSON", 12) == 0)
		EXPECT(strcmp(e1.msg, e2.msg) == 0, "%s: \"%s\" vs \"%s\"", what, e1.msg, e2.msg);
	if (r1 && r2 && strncmp(e2.msg, "arena limit reached (", 21) == 0 &&
	    strstr(e2.msg, "JSON values needs about"))
		EXPECT(strcmp(e1.msg, e2.msg) == 0, "%s: \"%s\" vs \"%s\"", what, e1.msg, e2.msg);
	if (out) {
		out->rc = r1;
		snprintf(out->msg, sizeof(out->msg), "%s", r1 ? e1.msg : "");
	}
	kt_arena_free(&a1);
	kt_arena_free(&a2);
	free(d);
}

static uint8_t *raw(const char *label, size_t *n)
{
	return kt_test_read_vectorf(n, "otel017_json_%s.json", label);
}

/* ------------------------------------------------------------ vectors */

Test(json_diff, every_vector)
{
	for (size_t i = 0; i < kt_test_n_labels; i++) {
		const char *label = kt_test_labels[i];
		size_t n, fn, pn;
		uint8_t *p = raw(label, &n);
		struct verdict v;
		same(p, n, ROOMY, label, &v);
		cr_expect_eq(v.rc, 0, "%s: %s", label, v.msg);
		same(p, n, 0, label, NULL);
		same(p, n, kt_decode_arena_limit(n), label, NULL);
		/* The framed copy, without its header. */
		uint8_t *f = kt_test_read_vectorf(&fn, "framed_otel017_json_%s.bin", label);
		cr_assert_gt(fn, 8);
		same(f + 8, fn - 8, ROOMY, label, NULL);
		/* Pretty-printed: whitespace between every token. */
		uint8_t *pp = kt_test_read_vectorf(&pn, "pretty_otel017_json_%s.json", label);
		same(pp, pn, ROOMY, label, &v);
		cr_expect_eq(v.rc, 0, "pretty %s: %s", label, v.msg);
		free(pp);
		free(f);
		free(p);
	}
}

Test(json_diff, stream_frames)
{
	size_t n, off = 0, k = 0;
	uint8_t *p = kt_test_read_vector("framed_stream_otel017_json.bin", &n);
	while (off + 8 <= n) {
		uint64_t len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | p[off + i];
		cr_assert_leq(len, n - off - 8);
		same(p + off + 8, (size_t)len, ROOMY, "stream frame", NULL);
		off += 8 + (size_t)len;
		k++;
	}
	cr_expect_eq(k, kt_test_n_labels);
	free(p);
}

/* Every proper prefix fails in both, with the same message (a fault of the text). */
Test(json_diff, truncated_at_every_offset)
{
	for (size_t i = 0; i < kt_test_n_labels; i++) {
		size_t n;
		uint8_t *p = raw(kt_test_labels[i], &n);
		for (size_t cut = 0; cut < n; cut++) {
			char what[64];
			struct verdict v;
			snprintf(what, sizeof(what), "%s cut at %zu", kt_test_labels[i], cut);
			same(p, cut, ROOMY, what, &v);
			EXPECT(v.rc == -1, "%s decoded", what);
		}
		free(p);
	}
}

/* The arena limit at the reference's estimate: both decode; one byte less: both refuse. */
Test(json_diff, estimate_boundary)
{
	for (size_t i = 0; i < kt_test_n_labels; i++) {
		size_t n;
		uint8_t *p = raw(kt_test_labels[i], &n);
		size_t cost = (size_t)kt_decode_json_ref_cost(p, n);
		cr_assert_gt(cost, 0);
		struct verdict v;
		same(p, n, cost, kt_test_labels[i], &v);
		cr_expect_eq(v.rc, 0, "%s at its estimate: %s", kt_test_labels[i], v.msg);
		same(p, n, cost - 1, kt_test_labels[i], &v);
		cr_expect_eq(v.rc, -1, "%s below its estimate", kt_test_labels[i]);
		cr_expect(strstr(v.msg, "arena limit reached"), "%s", v.msg);
		for (size_t limit = 16; limit < 4096; limit = limit * 3 + 1)
			same(p, n, limit, kt_test_labels[i], NULL);
		free(p);
	}
}

/* ------------------------------------------------------------ edge cases */

/* worked with the first `from` replaced by `to`, through both decoders. */
static struct verdict edit(const char *from, const char *to)
{
	size_t n;
	uint8_t *p = raw("worked", &n);
	const uint8_t *at = memmem(p, n, from, strlen(from));
	REQUIRE(at, "\"%s\" not in the worked vector", from);
	size_t off = (size_t)(at - p), fl = strlen(from), tl = strlen(to), m = n - fl + tl;
	uint8_t *d = malloc(m);
	REQUIRE(d, "out of memory");
	memcpy(d, p, off);
	memcpy(d + off, to, tl);
	memcpy(d + off + tl, p + off + fl, n - off - fl);
	struct verdict v;
	char what[160];
	snprintf(what, sizeof(what), "%.60s -> %.90s", from, to);
	same(d, m, ROOMY, what, &v);
	same(d, m, kt_decode_arena_limit(m), what, NULL);
	free(d);
	free(p);
	return v;
}

#define TRACE_ID "\"trace_id\":14576827793038113322513871894673895836"
#define BUSY	 "{\"I64\":250000}"
#define MOD	 "\"rpc.rs\""

Test(json_diff, integers_and_ids)
{
	static const char *const ids[] = {
		"0",
		"1",
		"18446744073709551615",
		"18446744073709551616",
		"170141183460469231731687303715884105727",
		"170141183460469231731687303715884105728",
		"340282366920938463463374607431768211455",
		"340282366920938463463374607431768211456",
		"999999999999999999999999999999999999999",
		"1000000000000000000000000000000000000000",
		"-0",
		"-1",
		"1.0",
		"1e2",
		"00",
		"\"1\"",
		"null",
		"123456789012345678901234567890123456789012345678901234567890",
	};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char to[128];
		snprintf(to, sizeof(to), "\"trace_id\":%s", ids[i]);
		edit(TRACE_ID, to);
		snprintf(to, sizeof(to), "\"span_id\":%s", ids[i]);
		edit("\"span_id\":13235353014750950193", to);
		snprintf(to, sizeof(to), "{\"I64\":%s}", ids[i]);
		edit(BUSY, to);
		snprintf(to, sizeof(to), "\"trace_flags\":%s", ids[i]);
		edit("\"trace_flags\":1", to);
		snprintf(to, sizeof(to), "\"max_len\":%s", ids[i]);
		edit("\"max_len\":128", to);
	}
	static const char *const i64[] = {
		"9223372036854775807",	"9223372036854775808",	"-9223372036854775808",
		"-9223372036854775809", "-18446744073709551616", "4294967295",
		"4294967296",		"255",			"256",
	};
	for (size_t i = 0; i < sizeof(i64) / sizeof(i64[0]); i++) {
		char to[96];
		snprintf(to, sizeof(to), "{\"I64\":%s}", i64[i]);
		edit(BUSY, to);
		snprintf(to, sizeof(to), "\"max_len\":%s", i64[i]);
		edit("\"max_len\":128", to);
		snprintf(to, sizeof(to), "\"trace_flags\":%s", i64[i]);
		edit("\"trace_flags\":1", to);
	}
	/* times at the edge of u64 nanoseconds */
	edit("\"secs_since_epoch\":1700000000,\"nanos_since_epoch\":5000",
	     "\"secs_since_epoch\":18446744073,\"nanos_since_epoch\":709551615");
	edit("\"secs_since_epoch\":1700000000,\"nanos_since_epoch\":5000",
	     "\"secs_since_epoch\":18446744073,\"nanos_since_epoch\":709551616");
	edit("\"nanos_since_epoch\":5000", "\"nanos_since_epoch\":999999999");
	edit("\"nanos_since_epoch\":5000", "\"nanos_since_epoch\":1000000000");
}

Test(json_diff, floats)
{
	static const char *const f64[] = {
		"0", "-0", "0.0", "-0.0", "5", "-5", "0.1", "1.5", "-2.25", "100.0", "1e21", "1E21",
		"1e+21", "1e-21", "5e-324", "4.9406564584124654e-324", "2.4703282292062327e-324",
		"2.4703282292062328e-324", "2.2250738585072011e-308", "2.2250738585072014e-308",
		"1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
		"1e308", "1e309", "-1e309", "1e400", "1e-400", "-1e-400", "18446744073709551615",
		"18446744073709551616", "-9223372036854775808", "9007199254740993",
		"123456789012345678901234567890", "0.30000000000000004", "3.141592653589793238462643383279",
		"1.00000000000000011102230246251565404236316680908203125",
		"1.00000000000000011102230246251565404236316680908203124",
		"1.00000000000000011102230246251565404236316680908203126", "null", "true",
		"\"1\"", "[]", "{}", "NaN", "Infinity", "-Infinity", "1.", ".5", "01", "-", "+1",
		"1e", "1e+", "0x10", "1_0",
	};
	for (size_t i = 0; i < sizeof(f64) / sizeof(f64[0]); i++) {
		char to[160];
		snprintf(to, sizeof(to), "{\"F64\":%s}", f64[i]);
		edit(BUSY, to);
		snprintf(to, sizeof(to), "{\"Array\":{\"F64\":[%s,null,%s]}}", f64[i], f64[i]);
		edit(BUSY, to);
	}
	/* Long tokens: integer digits past u64, a long fraction (strtod on a long copy). */
	char big[1200], to[1300];
	memset(big, '7', 1000);
	big[1000] = '\0';
	snprintf(to, sizeof(to), "{\"F64\":%s}", big);
	edit(BUSY, to);
	snprintf(to, sizeof(to), "{\"F64\":0.%s}", big);
	edit(BUSY, to);
	snprintf(to, sizeof(to), "{\"F64\":-1.%se-5}", big);
	edit(BUSY, to);
	snprintf(to, sizeof(to), "{\"F64\":1%s}", big); /* 1001 digits: beyond a double */
	edit(BUSY, to);
	snprintf(to, sizeof(to), "{\"F64\":%.300se-290}", big);
	edit(BUSY, to);
}

Test(json_diff, strings_and_escapes)
{
	static const char *const strs[] = {
		"\"\"",
		"\"a\\u0000b\"",
		"\"\\ud83d\\ude00\"",
		"\"\\uD83D\\uDE00\"",
		"\"\\u00e9\\u4e2d\\u0041\"",
		"\"\\/\\\\\\\"\\b\\f\\n\\r\\t\"",
		"\"\\ud800\"",
		"\"\\udc00\"",
		"\"\\ud800\\u0041\"",
		"\"\\ud800\\ud800\"",
		"\"\\udbff\\udfff\"",
		"\"\\ud800x\"",
		"\"\\ud800\\\"",
		"\"\\u12\"",
		"\"\\u12g4\"",
		"\"\\x41\"",
		"\"\\'\"",
		"\"\\\"",
		"\"a\tb\"",
		"\"a\x7f b\"",
		"\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"",
		"\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"",
		"\"\xc0\xaf\"",
		"\"\xc2\"",
		"\"\xe0\x80\xaf\"",
		"\"\xed\xa0\x80\"",
		"\"\xf4\x90\x80\x80\"",
		"\"\xf8\x88\x80\x80\x80\"",
		"\"\xff\"",
		"\"\xe4\xb8\"",
		"\"\xe4\xb8\\n\"",
		"'x'",
		"7",
		"null",
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		char to[96];
		edit(MOD, strs[i]);
		snprintf(to, sizeof(to), "\"name\":%s", strs[i]);
		edit("\"name\":\"CreateContainer\"", to);
		/* as a key of the attribute map and of the span */
		snprintf(to, sizeof(to), "%s:{\"I64\":1},\"busy_ns\"", strs[i]);
		edit("\"busy_ns\"", to);
		snprintf(to, sizeof(to), "%s:1,\"parent_span_id\"", strs[i]);
		edit("\"parent_span_id\"", to);
		/* as an evict_list entry and a trace state pair */
		snprintf(to, sizeof(to), "\"evict_list\":[%s,\"mod\"]", strs[i]);
		edit("\"evict_list\":[\"busy_ns\",\"mod\"]", to);
		snprintf(to, sizeof(to), "\"trace_state\":[[%s,%s]]", strs[i], strs[i]);
		edit("\"trace_state\":null", to);
	}
}

Test(json_diff, keys_duplicates_and_unknown_fields)
{
	static const char *const cases[][2] = {
		/* repeated struct fields, at every level */
		{"\"span_kind\":\"Internal\",", "\"span_kind\":\"Internal\",\"span_kind\":\"Internal\","},
		{"\"trace_flags\":1", "\"trace_flags\":1,\"trace_flags\":1"},
		{"\"trace_flags\":1", "\"trace_flags\":1,\"trace_fl\\u0061gs\":1"},
		{"\"max_len\":128", "\"max_len\":128,\"max_len\":128"},
		{"\"nanos_since_epoch\":5000", "\"nanos_since_epoch\":5000,\"nanos_since_epoch\":1"},
		{"\"queue\":null", "\"queue\":null,\"queue\":null"},
		{"\"resource\":{\"attrs\":{", "\"resource\":{\"attrs\":{},\"attrs\":{"},
		{"{\"key\":\"level\",", "{\"key\":\"level\",\"key\":\"x\","},
		/* repeated map keys */
		{"\"mod\":{\"String\":\"rpc.rs\"}", "\"mod\":{\"String\":\"rpc.rs\"},\"mod\":{\"I64\":1}"},
		{"\"mod\":{\"String\":\"rpc.rs\"}", "\"mod\":{\"String\":\"rpc.rs\"},\"m\\u006fd\":{\"I64\":1}"},
		{"\"service.name\":{", "\"service.name\":{\"I64\":1},\"service.name\":{"},
		{"\"service.name\":{", "\"a\":{\"I64\":1},\"b\":{\"I64\":1},\"a\":{\"I64\":1},\"service.name\":{"},
		/* keys equal up to a U+0000: json-c could not tell them apart */
		{"\"mod\":{\"String\":\"rpc.rs\"}", "\"mod\":{\"String\":\"rpc.rs\"},\"mod\\u0000x\":{\"I64\":1}"},
		{"\"mod\":{\"String\":\"rpc.rs\"}", "\"mo\\u0000d\":{\"String\":\"rpc.rs\"}"},
		{"\"service.name\":{", "\"service.name\\u0000\":{\"I64\":1},\"service.name\":{"},
		{"\"name\":", "\"name\\u0000\":1,\"name\":"},
		{"\"name\":", "\"nam\\u0000\":1,\"nam\":2,\"name\":"},
		{"\"name\":", "\"zz\":{\"a\":1,\"a\\u0000\":2},\"name\":"},
		{"\"name\":", "\"zz\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"a\":1},\"name\":"},
		{"\"name\":", "\"zz\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":1},\"name\":"},
		{"\"name\":", "\"zz\":[{\"x\":1,\"x\":1}],\"name\":"},
		{"\"name\":", "\"zz\":1,\"zz\":2,\"name\":"},
		/* variants */
		{BUSY, "{\"I64\":250000,\"I64\":1}"},
		{BUSY, "{\"I64\":250000,\"Bool\":true}"},
		{BUSY, "{\"I64\":250000,\"I64\\u0000\":true}"},
		{BUSY, "{\"U64\":1,\"I64\":1}"},
		{BUSY, "{\"U64\":1}"},
		{BUSY, "{\"I6\\u0034\":7}"},
		{BUSY, "{\"I64\\u0000\":7}"},
		{BUSY, "{}"},
		{BUSY, "{\"Array\":{\"I64\":[1],\"I64\":[2]}}"},
		{BUSY, "{\"Array\":{\"Array\":[1]}}"},
		{BUSY, "{\"Array\":{}}"},
		{BUSY, "{\"Array\":[]}"},
		{BUSY, "{\"Array\":{\"String\":[\"a\",\"\",\"\\u0000\"]}}"},
		{BUSY, "{\"Array\":{\"Bool\":[true,false,null]}}"},
		{BUSY, "{\"Array\":{\"Bool\":[]}}"},
		{BUSY, "{\"Array\":{\"I64\":[1,-1,9223372036854775807,-9223372036854775808]}}"},
		{"\"span_kind\":\"Internal\"", "\"span_kind\":\"Client\""},
		{"\"span_kind\":\"Internal\"", "\"span_kind\":\"Inte\\u0072nal\""},
		{"\"span_kind\":\"Internal\"", "\"span_kind\":\"internal\""},
		{"\"span_kind\":\"Internal\"", "\"span_kind\":\"Internal\\u0000\""},
		{"\"status_code\":\"Unset\"", "\"status_code\":\"Error\""},
		{"\"status_code\":\"Unset\"", "\"status_code\":4"},
		/* escaped struct keys */
		{"\"status_message\":\"\"", "\"status_\\u006dessage\":\"x\""},
		{"\"span_context\"", "\"\\u0073pan_context\""},
		/* unknown fields everywhere, of every type */
		{"\"parent_span_id\"", "\"zz\":{\"deep\":[1,2.5,{\"x\":null,\"y\":[true,\"s\",1e400]}]},\"parent_span_id\""},
		{"\"span_id\"", "\"zz\":[],\"span_id\""},
		{"\"max_len\":128", "\"max_len\":128,\"zz\":\"\\ud83d\\ude00\""},
		{"{\"key\":\"level\",", "{\"zz\":false,\"key\":\"level\","},
		{"\"secs_since_epoch\"", "\"zz\":-0.0e-0,\"secs_since_epoch\""},
		{"\"attrs\":{", "\"zz\":null,\"attrs\":{"},
		{"\"queue\":null", "\"queue\":null,\"zz\":{}"},
		/* missing and optional fields */
		{"\"parent_span_id\":67667974448284343,", ""},
		{"\"trace_state\":null", "\"trace_statf\":null"},
		{"\"max_len\":128,", ""},
		{"\"queue\":null,", ""},
		{",\"resource\":{\"attrs\":{\"service.name\":{\"String\":\"kata-agent\"}}}", ""},
		{"\"resource\":{\"attrs\":{\"service.name\":{\"String\":\"kata-agent\"}}}", "\"resource\":null"},
		{"\"resource\":{\"attrs\":{\"service.name\":{\"String\":\"kata-agent\"}}}", "\"resource\":[]"},
		{"\"resource\":{\"attrs\":", "\"resource\":{\"attr\":"},
		/* shapes */
		{"\"trace_state\":null", "\"trace_state\":[]"},
		{"\"trace_state\":null", "\"trace_state\":[[\"k\",\"v\"],[\"\",\"\"]]"},
		{"\"trace_state\":null", "\"trace_state\":[[\"k\"]]"},
		{"\"trace_state\":null", "\"trace_state\":[[]]"},
		{"\"trace_state\":null", "\"trace_state\":[[\"k\",\"v\",\"w\"]]"},
		{"\"trace_state\":null", "\"trace_state\":[[\"k\",1]]"},
		{"\"trace_state\":null", "\"trace_state\":[[1,\"k\"]]"},
		{"\"trace_state\":null", "\"trace_state\":[\"k\"]"},
		{"\"trace_state\":null", "\"trace_state\":{}"},
		{"\"queue\":null", "\"queue\":{}"},
		{"\"queue\":null", "\"queue\":[]"},
		{"\"evict_list\":[\"busy_ns\",\"mod\"]", "\"evict_list\":[\"busy_ns\",1]"},
		{"\"evict_list\":[\"busy_ns\",\"mod\"]", "\"evict_list\":[]"},
		{"\"evict_list\":[\"busy_ns\",\"mod\"]", "\"evict_list\":[\"mod\",\"x\",\"mod\",\"busy_ns\"]"},
		{"\"evict_list\":[\"busy_ns\",\"mod\"]", "\"evict_list\":[\"m\\u006fd\"]"},
		{"\"is_remote\":false", "\"is_remote\":true"},
		{"\"is_remote\":false", "\"is_remote\":0"},
		{"\"is_remote\":false", "\"is_remote\":fals"},
		{"\"map\":{", "\"map\":["},
		{"\"map\":{", "\"map\":{}, \"zz\":{"},
		/* whitespace and structure */
		{"\"name\":", " \t\r\n\"name\" \n:\t "},
		{"\"name\":", "\"name\"::"},
		{"\"name\":", "\"name\",:"},
		{",\"name\"", ",,\"name\""},
		{",\"name\"", "\"name\""},
		{"\"trace_state\":null}", "\"trace_state\":null,}"},
		{"[\"busy_ns\",\"mod\"]", "[\"busy_ns\",\"mod\",]"},
		{"[\"busy_ns\",\"mod\"]", "[\"busy_ns\" \"mod\"]"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		edit(cases[i][0], cases[i][1]);
}

/* Text around the span. */
Test(json_diff, documents)
{
	static const char *const docs[] = {
		"", " ", "null", "\nnull\n", "[]", "1", "\"x\"", "true", "{}", "{", "}", "{\"a\":1}",
		"{\"span_context\":1}", "\xef\xbb\xbf{}", "{}{}", "{} x", "{}\n\t\r ", "[{}]",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		same(docs[i], strlen(docs[i]), ROOMY, docs[i], NULL);
	size_t n;
	uint8_t *p = raw("worked", &n);
	char *d = malloc(n + 16);
	cr_assert_not_null(d);
	memcpy(d, " \n", 2);
	memcpy(d + 2, p, n);
	memcpy(d + 2 + n, "\r\n\t ", 4);
	struct verdict v;
	same(d, n + 6, ROOMY, "worked in whitespace", &v);
	cr_expect_eq(v.rc, 0, "%s", v.msg);
	memcpy(d + 2 + n, " x", 2);
	same(d, n + 4, ROOMY, "worked, then x", &v);
	cr_expect_eq(v.rc, -1);
	memcpy(d + 2 + n, "\0", 1);
	same(d, n + 3, ROOMY, "worked, then NUL", &v);
	cr_expect_eq(v.rc, -1);
	free(d);
	free(p);
}

/* Containers nested up to the limit (16) and past it, in every position. */
Test(json_diff, nesting)
{
	size_t n;
	uint8_t *v = raw("root", &n);
	while (n && v[n - 1] != '}')
		n--;
	for (size_t k = 13; k <= 18; k++) {
		for (int obj = 0; obj < 2; obj++) {
			char *d = malloc(n + 8 * k + 32);
			size_t m = n - 1;
			memcpy(d, v, m);
			memcpy(d + m, ",\"x\":", 5);
			m += 5;
			for (size_t i = 0; i < k; i++) {
				memcpy(d + m, obj ? "{\"a\":" : "[", obj ? 5 : 1);
				m += obj ? 5 : 1;
			}
			d[m++] = '1';
			memset(d + m, obj ? '}' : ']', k);
			m += k;
			d[m++] = '}';
			char what[48];
			snprintf(what, sizeof(what), "%zu %s deep", k + 1, obj ? "objects" : "arrays");
			struct verdict r;
			same(d, m, ROOMY, what, &r);
			/* json-c's rule, kept: a value sits inside at most 15 containers */
			cr_expect_eq(r.rc, k + 1 <= 15 ? 0 : -1, "%s: %s", what, r.msg);
			free(d);
		}
	}
	/* Only an empty container may be the 16th. */
	for (size_t k = 14; k <= 16; k++) {
		char *d = malloc(n + 2 * k + 16);
		size_t m = n - 1;
		memcpy(d, v, m);
		memcpy(d + m, ",\"x\":", 5);
		m += 5;
		memset(d + m, '[', k);
		m += k;
		memset(d + m, ']', k);
		m += k;
		d[m++] = '}';
		struct verdict r;
		same(d, m, ROOMY, "empty arrays", &r);
		cr_expect_eq(r.rc, k + 1 <= 16 ? 0 : -1, "%zu levels: %s", k + 1, r.msg);
		free(d);
	}
	free(v);
	/* Inside the schema: an Array value in an event's attribute is 9 deep. */
	static const char *const deep[] = {
		"{\"Array\":{\"F64\":[[1]]}}",
		"{\"Array\":{\"String\":[{\"a\":[[[[[[[[[1]]]]]]]]]}]}}",
	};
	for (size_t i = 0; i < sizeof(deep) / sizeof(deep[0]); i++)
		edit("{\"String\":\"INFO\"}", deep[i]);
	/* 10000 levels: refused without recursion trouble. */
	size_t depth = 10000;
	char *d = malloc(2 * depth + KT_JSON_PREFIX_LEN);
	memcpy(d, KT_JSON_PREFIX, KT_JSON_PREFIX_LEN);
	memset(d + KT_JSON_PREFIX_LEN, '[', depth);
	memset(d + KT_JSON_PREFIX_LEN + depth, ']', depth);
	same(d, KT_JSON_PREFIX_LEN + 2 * depth, ROOMY, "10000 x [", NULL);
	free(d);
}

/* Many keys and elements: sorting paths of the duplicate checks, scratch growth. */
Test(json_diff, large_documents)
{
	size_t n;
	uint8_t *p = raw("worked", &n);
	for (int variant = 0; variant < 4; variant++) {
		size_t k = 3000, cap = k * 48 + n + 64, m = 0;
		char *d = malloc(cap);
		cr_assert_not_null(d);
		const uint8_t *at = memmem(p, n, "\"map\":{", 7) + 7;
		memcpy(d, p, (size_t)(at - p));
		m = (size_t)(at - p);
		for (size_t i = 0; i < k; i++) {
			size_t key = variant == 1 && i == k - 1 ? 17 : i;
			if (variant == 2)
				m += (size_t)sprintf(d + m, "\"k%zu\\u0000%s\":{\"Bool\":true},", key,
						     i == k - 1 ? "y" : "x");
			else if (variant == 3)
				m += (size_t)sprintf(d + m, "\"k%zu\":{\"Array\":{\"I64\":[%zu,%zu]}},",
						     key, i, i);
			else
				m += (size_t)sprintf(d + m, "\"k%zu\":{\"I64\":%zu},", key, i);
		}
		memcpy(d + m, at, n - (size_t)(at - p));
		m += n - (size_t)(at - p);
		char what[32];
		snprintf(what, sizeof(what), "3000 attributes (%d)", variant);
		same(d, m, ROOMY, what, NULL);
		same(d, m, 0, what, NULL);
		same(d, m, kt_decode_arena_limit(m), what, NULL);
		free(d);
	}
	/* An unknown object with many keys, one repeated; and an array of 20000 strings. */
	for (int rep = 0; rep < 2; rep++) {
		size_t k = 5000, m = 0;
		char *d = malloc(k * 24 + n + 64);
		m += (size_t)sprintf(d, "{\"zz\":{");
		for (size_t i = 0; i < k; i++)
			m += (size_t)sprintf(d + m, "%s\"u%zu\":%zu", i ? "," : "",
					     rep && i == k - 1 ? 4000 : i, i);
		m += (size_t)sprintf(d + m, "},");
		memcpy(d + m, p + 1, n - 1);
		m += n - 1;
		same(d, m, ROOMY, rep ? "5000 keys, one repeated" : "5000 keys", NULL);
		free(d);
	}
	size_t k = 20000, m = 0;
	char *d = malloc(k * 12 + n + 64);
	const uint8_t *at = memmem(p, n, "\"evict_list\":[", 14) + 14;
	memcpy(d, p, (size_t)(at - p));
	m = (size_t)(at - p);
	for (size_t i = 0; i < k; i++)
		m += (size_t)sprintf(d + m, "\"e%zu\",", i);
	memcpy(d + m, at, n - (size_t)(at - p));
	m += n - (size_t)(at - p);
	same(d, m, ROOMY, "20000 evict_list entries", NULL);
	free(d);
	free(p);
}

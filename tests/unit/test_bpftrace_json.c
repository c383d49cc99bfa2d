/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reader of bpftrace 0.17's `-f json` output: the outputs recorded in
 * tests/vectors/bpftrace/ fed whole, byte by byte and in random chunks,
 * every record checked against what its program prints (README.md there);
 * then hostile lines: truncated JSON, wrong types, unknown types, deep
 * nesting, lines over the limit, NUL bytes, bytes that are not UTF-8, maps
 * over the entry limit, and the warnings being rate-limited.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/stats.h"
#include "bpftrace/bpftrace_json.h"
#include "test_rnd.h"

#define NOW (1700000000ull * 1000000000ull) /* 2023-11-14T22:13:20Z */

/* ------------------------------------------------------------ collecting */

struct got {
	struct kt_log_record **r;
	size_t n, cap;
	struct kt_bpftrace_totals t;
	size_t max_held;
};

static void on_log(void *ctx, struct kt_log_record *r)
{
	struct got *g = ctx;
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		g->r = realloc(g->r, g->cap * sizeof(*g->r));
		cr_assert_not_null(g->r);
	}
	g->r[g->n++] = r;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		kt_log_record_free(g->r[i]);
	free(g->r);
	memset(g, 0, sizeof(*g));
}

enum split { WHOLE, BYTES, RANDOM };

/* Feeds p in the given split (random sizes 1..97) to a reader of max_line, then finishes. */
static void feed_split(const char *p, size_t n, enum split how, size_t max_line,
		       struct kt_origin *origin, struct got *g)
{
	memset(g, 0, sizeof(*g));
	struct kt_record_sink sink = { .log = on_log, .ctx = g };
	struct kt_bpftrace_reader *r = kt_bpftrace_reader_new(origin, max_line, "test");
	cr_assert_not_null(r);
	for (size_t o = 0; o < n;) {
		size_t k = how == WHOLE ? n : how == BYTES ? 1 : 1 + rnd() % 97;
		if (k > n - o)
			k = n - o;
		kt_bpftrace_feed(r, p + o, k, NOW, &sink);
		size_t held = kt_bpftrace_reader_held(r);
		cr_assert_leq(held, kt_bpftrace_reader_max_line(r));
		if (held > g->max_held)
			g->max_held = held;
		o += k;
	}
	kt_bpftrace_finish(r, NOW, &sink);
	cr_assert_eq(kt_bpftrace_reader_held(r), 0);
	g->t = *kt_bpftrace_reader_totals(r);
	kt_bpftrace_reader_free(r);
}

static void feed_str(const char *s, size_t max_line, struct got *g)
{
	feed_split(s, strlen(s), WHOLE, max_line, NULL, g);
}

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/bpftrace/%s", KT_TEST_VECTORS, name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = malloc((size_t)n + 1);
	cr_assert_not_null(p);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	p[n] = '\0';
	*len = (size_t)n;
	return p;
}

/* Newlines of the file: every line bpftrace wrote, blank ones included. */
static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

/* ------------------------------------------------------------ checking */

static const struct kt_kv *attr(const struct kt_log_record *r, const char *key)
{
	return kt_kvlist_find(&r->log.attrs, key);
}

static void want_int(const struct kt_log_record *r, const char *key, int64_t v)
{
	const struct kt_kv *kv = attr(r, key);
	cr_assert_not_null(kv, "attribute %s missing", key);
	cr_assert_eq(kv->value.type, KT_VAL_I64, "%s: type %d", key, kv->value.type);
	cr_assert_eq(kv->value.i, v, "%s: %lld, not %lld", key, (long long)kv->value.i, (long long)v);
}

static void want_str(const struct kt_log_record *r, const char *key, const char *v)
{
	const struct kt_kv *kv = attr(r, key);
	cr_assert_not_null(kv, "attribute %s missing", key);
	cr_assert_eq(kv->value.type, KT_VAL_STRING, "%s: type %d", key, kv->value.type);
	cr_assert_eq(kv->value.s.len, strlen(v), "%s: \"%s\", not \"%s\"", key, kv->value.s.ptr, v);
	cr_assert_eq(memcmp(kv->value.s.ptr, v, strlen(v)), 0, "%s: \"%s\"", key, kv->value.s.ptr);
	cr_assert_eq(kv->value.s.ptr[kv->value.s.len], '\0');
}

static void want_body(const struct kt_log_record *r, const char *body)
{
	cr_assert_eq(r->log.body.len, strlen(body), "body \"%.*s\", not \"%s\"",
		     (int)r->log.body.len, r->log.body.ptr, body);
	cr_assert_eq(memcmp(r->log.body.ptr, body, r->log.body.len), 0, "body \"%s\", not \"%s\"",
		     r->log.body.ptr, body);
	cr_assert_eq(r->log.body.ptr[r->log.body.len], '\0');
}

/* What every record has: the read time, INFO (unless said), its output type, no repair. */
static void want_common(const struct kt_log_record *r, const char *output)
{
	cr_assert_eq(r->log.time_unix_nano, NOW);
	cr_assert_eq(r->log.observed_time_unix_nano, NOW);
	want_str(r, "bpftrace.output", output);
	if (strcmp(output, "helper_error") != 0)
		cr_assert_eq(r->log.severity_number, KT_SEV_INFO);
	cr_assert_null(attr(r, "katatrace.log.utf8_repaired"));
	cr_assert_null(attr(r, "bpftrace.entries_dropped"));
	cr_assert_leq(r->arena.used, r->arena.limit);
}

static void want_text(const struct kt_log_record *r, const char *output, const char *body)
{
	want_common(r, output);
	want_body(r, body);
	cr_assert_eq(r->log.attrs.n, 1, "bpftrace.output only");
}

/* A map record: body and bpftrace.map the name, n_entries entry attributes more. */
static void want_map(const struct kt_log_record *r, const char *output, const char *name,
		     size_t n_entries)
{
	want_common(r, output);
	want_body(r, name);
	want_str(r, "bpftrace.map", name);
	cr_assert_eq(r->log.attrs.n, 2 + n_entries, "%s: %zu attributes, not %zu", name,
		     r->log.attrs.n, 2 + n_entries);
}

/* The record of the map named name (maps at exit come in bpftrace's order, not the program's). */
static const struct kt_log_record *map_rec(const struct got *g, const char *name)
{
	const struct kt_log_record *found = NULL;
	for (size_t i = 0; i < g->n; i++) {
		const struct kt_kv *kv = attr(g->r[i], "bpftrace.map");
		if (kv && strcmp(kv->value.s.ptr, name) == 0) {
			cr_assert_null(found, "%s twice", name);
			found = g->r[i];
		}
	}
	cr_assert_not_null(found, "no record of %s", name);
	return found;
}

static void want_totals(const struct got *g, const char *file, size_t n, uint64_t records,
			uint64_t probes)
{
	cr_assert_eq(g->n, records, "%s: %zu records, not %llu", file, g->n,
		     (unsigned long long)records);
	cr_assert_eq(g->t.records, records);
	cr_assert_eq(g->t.lines, count_lines(file, n));
	cr_assert_eq(g->t.malformed, 0);
	cr_assert_eq(g->t.too_long, 0);
	cr_assert_eq(g->t.no_memory, 0);
	cr_assert_eq(g->t.probes, probes);
}

typedef void (*check_fn)(const struct got *g, const char *file, size_t n);

/* The vector whole, byte by byte, and in 20 random splits: the same records every time. */
static void each_split(const char *name, check_fn check)
{
	size_t n;
	char *p = slurp(name, &n);
	for (int round = 0; round < 22; round++) {
		struct got g;
		feed_split(p, n, round == 0 ? WHOLE : round == 1 ? BYTES : RANDOM, 0, NULL, &g);
		check(&g, p, n);
		got_free(&g);
	}
	free(p);
}

/* ------------------------------------------------------------ the vectors */

static void check_hello(const struct got *g, const char *file, size_t n)
{
	want_totals(g, file, n, 2, 1);
	want_text(g->r[0], "printf", "hello 42");
	want_map(g->r[1], "map", "@n", 1);
	want_int(g->r[1], "@n", 1);
}

Test(bpftrace_vectors, hello)
{
	each_split("hello.jsonl", check_hello);
}

static void check_printf_shapes(const struct got *g, const char *file, size_t n)
{
	/* printf("") prints nothing; "\n" one empty line; "two\nlines\n" two */
	want_totals(g, file, n, 6, 1);
	want_text(g->r[0], "printf", "no newline");
	want_text(g->r[1], "printf", "two");
	want_text(g->r[2], "printf", "lines");
	want_text(g->r[3], "printf", "tab\there \"q\" back\\slash ctl\x01 end");
	want_text(g->r[4], "printf", "");
	want_text(g->r[5], "printf", "x|-3");
}

Test(bpftrace_vectors, printf_shapes)
{
	each_split("printf_shapes.jsonl", check_printf_shapes);
}

static void check_printf_burst(const struct got *g, const char *file, size_t n)
{
	want_totals(g, file, n, 200, 1);
	for (int i = 0; i < 200; i++) {
		char want[32];
		snprintf(want, sizeof(want), "line %d", i);
		want_text(g->r[i], "printf", want);
	}
}

Test(bpftrace_vectors, printf_burst_one_record_per_call_in_order)
{
	each_split("printf_burst.jsonl", check_printf_burst);
}

static void check_maps_exit(const struct got *g, const char *file, size_t n)
{
	want_totals(g, file, n, 17, 1);
	const struct kt_log_record *r;

	r = map_rec(g, "@x"); /* count() once */
	want_map(r, "map", "@x", 1);
	want_int(r, "@x", 1);
	r = map_rec(g, "@c"); /* comm in BEGIN is bpftrace's own */
	want_map(r, "map", "@c", 1);
	want_int(r, "@c[bpftrace]", 1);
	r = map_rec(g, "@pc");
	want_map(r, "map", "@pc", 1);
	want_int(r, "@pc[42,bpftrace]", 1);
	r = map_rec(g, "@pk");
	want_map(r, "map", "@pk", 1);
	want_int(r, "@pk[1,a]", 5);

	/* hist() of 5, 100, 0, -1, 1: powers of two up to the highest bucket used */
	r = map_rec(g, "@h");
	want_map(r, "hist", "@h", 9);
	want_int(r, "@h: (..., 0)", 1);
	want_int(r, "@h: [0]", 1);
	want_int(r, "@h: [1]", 1);
	want_int(r, "@h: [2, 4)", 0);
	want_int(r, "@h: [4, 8)", 1);
	want_int(r, "@h: [8, 16)", 0);
	want_int(r, "@h: [16, 32)", 0);
	want_int(r, "@h: [32, 64)", 0);
	want_int(r, "@h: [64, 128)", 1);

	/* lhist(15, 150, -3; 0, 100, 10): below, the ten steps, above */
	r = map_rec(g, "@l");
	want_map(r, "hist", "@l", 12);
	want_int(r, "@l: (..., 0)", 1);
	for (int lo = 0; lo < 100; lo += 10) {
		char key[32];
		snprintf(key, sizeof(key), "@l: [%d, %d)", lo, lo + 10);
		want_int(r, key, lo == 10);
	}
	want_int(r, "@l: [100, ...)", 1);

	r = map_rec(g, "@kh"); /* hist(3); hist(1000000): 2^19 <= 1000000 < 2^20 */
	want_map(r, "hist", "@kh", 2);
	want_int(r, "@kh[k]: [2, 4)", 1);
	want_int(r, "@kh[j]: [524288, 1048576)", 1);
	r = map_rec(g, "@kl"); /* lhist(5, 0, 10, 5) */
	want_map(r, "hist", "@kl", 1);
	want_int(r, "@kl[1,x]: [5, 10)", 1);

	r = map_rec(g, "@s"); /* stats(10), stats(20) */
	want_map(r, "stats", "@s", 3);
	want_int(r, "@s: count", 2);
	want_int(r, "@s: average", 15);
	want_int(r, "@s: total", 30);
	r = map_rec(g, "@ks");
	want_map(r, "stats", "@ks", 3);
	want_int(r, "@ks[k]: count", 1);
	want_int(r, "@ks[k]: average", 4);
	want_int(r, "@ks[k]: total", 4);
	r = map_rec(g, "@a"); /* avg(10), avg(21): integer division */
	want_map(r, "stats", "@a", 1);
	want_int(r, "@a", 15);
	r = map_rec(g, "@ka");
	want_map(r, "stats", "@ka", 1);
	want_int(r, "@ka[2]", 7);

	r = map_rec(g, "@mn");
	want_map(r, "map", "@mn", 1);
	want_int(r, "@mn", -5);
	r = map_rec(g, "@mx");
	want_map(r, "map", "@mx", 1);
	want_int(r, "@mx", 7);
	r = map_rec(g, "@sum");
	want_map(r, "map", "@sum", 1);
	want_int(r, "@sum", -7);
	r = map_rec(g, "@big");
	want_map(r, "map", "@big", 1);
	want_int(r, "@big", INT64_MAX);
	r = map_rec(g, "@str");
	want_map(r, "map", "@str", 1);
	want_str(r, "@str", "text");
}

Test(bpftrace_vectors, maps_printed_at_exit)
{
	each_split("maps_exit.jsonl", check_maps_exit);
}

static void check_print(const struct got *g, const char *file, size_t n)
{
	/* print(@c), print(@v), print("str"), print((1, "two")), print(@h); at exit @h, @v */
	want_totals(g, file, n, 7, 1);
	want_map(g->r[0], "map", "@c", 2);
	want_int(g->r[0], "@c[1]", 3);
	want_int(g->r[0], "@c[2]", 4);
	want_map(g->r[1], "map", "@v", 1);
	want_int(g->r[1], "@v", 5);
	want_text(g->r[2], "value", "str");
	want_text(g->r[3], "value", "[1,\"two\"]");
	for (int i = 4; i <= 5; i++) {
		want_map(g->r[i], "hist", "@h", 1);
		want_int(g->r[i], "@h: [2, 4)", 1);
	}
	want_map(g->r[6], "map", "@v", 1);
	want_int(g->r[6], "@v", 5);
}

Test(bpftrace_vectors, print_of_maps_and_values)
{
	each_split("print.jsonl", check_print);
}

static void check_keys(const struct got *g, const char *file, size_t n)
{
	want_totals(g, file, n, 5, 1);
	want_int(map_rec(g, "@k"), "@k[-1]", 1);
	want_int(map_rec(g, "@k4"), "@k4[a,b]", 1);
	want_int(map_rec(g, "@k5"), "@k5[q\"x]", 1);
	want_int(map_rec(g, "@k6"), "@k6[1,2,3]", 1);
	/* "é" escaped by bpftrace as two \uffffffXX: its UTF-8 again, nothing repaired */
	const struct kt_log_record *r = map_rec(g, "@k7");
	want_map(r, "map", "@k7", 1);
	want_int(r, "@k7[\xc3\xa9]", 2);
}

Test(bpftrace_vectors, map_keys)
{
	each_split("keys.jsonl", check_keys);
}

static void check_utf8(const struct got *g, const char *file, size_t n)
{
	want_totals(g, file, n, 2, 1);
	want_text(g->r[0], "printf", "caf\xc3\xa9 \xc3\xa9");
	/* 0xff is no UTF-8: U+FFFD, and the record says so */
	const struct kt_log_record *r = g->r[1];
	want_body(r, "bad \xef\xbf\xbd end");
	cr_assert_eq(r->log.attrs.n, 2);
	want_str(r, "bpftrace.output", "printf");
	const struct kt_kv *kv = attr(r, "katatrace.log.utf8_repaired");
	cr_assert(kv && kv->value.type == KT_VAL_BOOL && kv->value.b);
}

Test(bpftrace_vectors, non_ascii_text_restored_and_invalid_bytes_repaired)
{
	each_split("utf8.jsonl", check_utf8);
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static void check_text_types(const struct got *g, const char *file, size_t n)
{
	want_totals(g, file, n, 5, 1);
	want_text(g->r[0], "join", "/bin/true a b"); /* argv of -c's command */
	/* time("%H:%M:%S\n") and time("%Y"): the recording's clock, so only their form */
	const struct kt_log_record *r = g->r[1];
	want_common(r, "time");
	const char *b = r->log.body.ptr;
	cr_assert_eq(r->log.body.len, 8);
	cr_assert(digits(b, 2) && b[2] == ':' && digits(b + 3, 2) && b[5] == ':' && digits(b + 6, 2),
		  "%s", b);
	want_common(g->r[2], "time");
	cr_assert(g->r[2]->log.body.len == 4 && digits(g->r[2]->log.body.ptr, 4));
	want_text(g->r[3], "syscall", "from-system");
	want_text(g->r[4], "cat", "Linux");
}

Test(bpftrace_vectors, time_join_system_cat)
{
	each_split("text_types.jsonl", check_text_types);
}

static uint64_t lost_seen;

static void check_lost_events(const struct got *g, const char *file, size_t n)
{
	lost_seen = g->t.lost_events;
	/* 1000 printf()s into one page per CPU: the first k arrive in order, the rest are lost */
	cr_assert_eq(g->t.lines, count_lines(file, n));
	cr_assert_eq(g->t.malformed, 0);
	cr_assert_eq(g->t.probes, 2);
	cr_assert_gt(g->n, 0);
	cr_assert_gt(g->t.lost_events, 0);
	cr_assert_eq(g->n + g->t.lost_events, 1000, "%zu printed + %llu lost", g->n,
		     (unsigned long long)g->t.lost_events);
	cr_assert_eq(g->t.records, g->n);
	for (size_t i = 0; i < g->n; i++) {
		char want[24];
		snprintf(want, sizeof(want), "%zu", i);
		want_text(g->r[i], "printf", want);
	}
}

Test(bpftrace_vectors, lost_events_are_counted_not_recorded)
{
	uint64_t before = KT_STAT_GET(bpftrace_lost_events);
	each_split("lost_events.jsonl", check_lost_events);
	cr_assert_eq(KT_STAT_GET(bpftrace_lost_events) - before, 22 * lost_seen, "in the counter too");
}

static void check_sigint(const struct got *g, const char *file, size_t n)
{
	/* BEGIN, interval, END attached; END's printf, then the map */
	want_totals(g, file, n, 2, 3);
	want_text(g->r[0], "printf", "end");
	want_map(g->r[1], "map", "@n", 1);
	want_int(g->r[1], "@n", 1);
}

Test(bpftrace_vectors, stopped_by_sigint)
{
	each_split("sigint.jsonl", check_sigint);
}

static void check_helper_error(const struct got *g, const char *file, size_t n)
{
	want_totals(g, file, n, 2, 2);
	const struct kt_log_record *r = g->r[0];
	want_common(r, "helper_error");
	cr_assert_eq(r->log.severity_number, KT_SEV_WARN);
	/* delete(@m[2]) of a key never set: -ENOENT, at column 40 of line 1 */
	want_body(r, "Failed to map_delete_elem: No such file or directory (-2)");
	want_str(r, "bpftrace.helper", "map_delete_elem");
	want_int(r, "bpftrace.retcode", -2);
	want_int(r, "bpftrace.line", 1);
	want_int(r, "bpftrace.column", 40);
	want_map(g->r[1], "map", "@m", 1);
	want_int(g->r[1], "@m[1]", 1);
}

Test(bpftrace_vectors, helper_error)
{
	each_split("helper_error.jsonl", check_helper_error);
}

Test(bpftrace_vectors, records_carry_the_origin)
{
	struct kt_kv kv = { { "k8s.pod.name", 12 }, { .type = KT_VAL_STRING, .s = { "web-1", 5 } } };
	struct kt_kvlist l = { 1, &kv };
	struct kt_origin *o = kt_origin_new(&l, "sb-1", "probe");
	cr_assert_not_null(o);
	size_t n;
	char *p = slurp("hello.jsonl", &n);
	struct got g;
	feed_split(p, n, WHOLE, 0, o, &g);
	cr_assert_eq(g.n, 2);
	for (size_t i = 0; i < g.n; i++)
		cr_assert_eq(g.r[i]->origin, o);
	cr_assert_eq(o->refs, 3, "the caller's and one per record: the reader's is gone");
	got_free(&g);
	cr_assert_eq(o->refs, 1);
	kt_origin_put(o);
	free(p);
}

Test(bpftrace_vectors, no_log_sink_drops_records_uncounted)
{
	size_t n;
	char *p = slurp("hello.jsonl", &n);
	struct kt_bpftrace_reader *r = kt_bpftrace_reader_new(NULL, 0, "test");
	struct kt_record_sink sink = { 0 };
	kt_bpftrace_feed(r, p, n, NOW, &sink);
	kt_bpftrace_finish(r, NOW, &sink);
	cr_assert_eq(kt_bpftrace_reader_totals(r)->records, 0);
	cr_assert_eq(kt_bpftrace_reader_totals(r)->lines, 5);
	kt_bpftrace_reader_free(r);
	free(p);
}

/* ------------------------------------------------------------ hostile lines */

#define GOOD "{\"type\": \"printf\", \"data\": \"good\\n\"}\n"

/* A bad line between two good ones: dropped and counted, both good ones come through. */
static void one_bad(const char *bad)
{
	char *s = malloc(strlen(bad) + 2 * sizeof(GOOD) + 2);
	sprintf(s, "%s%s\n%s", GOOD, bad, GOOD);
	struct got g;
	for (int how = WHOLE; how <= RANDOM; how++) {
		feed_split(s, strlen(s), (enum split)how, 0, NULL, &g);
		cr_assert_eq(g.n, 2, "%s: %zu records", bad, g.n);
		want_text(g.r[0], "printf", "good");
		want_text(g.r[1], "printf", "good");
		cr_assert_eq(g.t.malformed, 1, "%s", bad);
		cr_assert_eq(g.t.lines, 3);
		got_free(&g);
	}
	free(s);
}

Test(bpftrace_hostile, truncated_json)
{
	one_bad("{\"type\": \"printf\", \"data\": \"abc");
	one_bad("{\"type\": \"map\", \"data\": {\"@x\": ");
	one_bad("{\"type\": \"printf\"");
	one_bad("{");
	one_bad("{\"type\": \"printf\", \"data\": \"x\\");
}

Test(bpftrace_hostile, not_json_at_all)
{
	one_bad("from-system"); /* what system() would print if it wrote to stdout directly */
	one_bad("{\"type\": \"printf\", \"data\": \"a\"} trailing");
	one_bad("{\"type\": \"printf\", \"data\": \"a\"}{}");
	one_bad("{'type': 'printf'}");
	one_bad("{\"type\": \"printf\", \"data\": NaN}");
}

Test(bpftrace_hostile, wrong_types)
{
	one_bad("{\"type\": \"printf\", \"data\": 5}");
	one_bad("{\"type\": \"printf\", \"data\": null}");
	one_bad("{\"type\": \"printf\"}");
	one_bad("{\"type\": \"time\", \"data\": [\"x\"]}");
	one_bad("{\"type\": 5, \"data\": \"x\"}");
	one_bad("{\"data\": \"x\"}");
	one_bad("[\"printf\", \"x\"]");
	one_bad("\"printf\"");
	one_bad("42");
	one_bad("{\"type\": \"map\", \"data\": [1]}");
	one_bad("{\"type\": \"map\", \"data\": \"@x\"}");
	one_bad("{\"type\": \"hist\", \"data\": {\"@h\": 5}}");
	one_bad("{\"type\": \"hist\", \"data\": {\"@h\": [5]}}");
	one_bad("{\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 1, \"max\": 1}]}}");
	one_bad("{\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 1, \"count\": \"1\"}]}}");
	one_bad("{\"type\": \"hist\", \"data\": {\"@h\": [{\"count\": 1}]}}");
	one_bad("{\"type\": \"hist\", \"data\": {\"@h\": {\"k\": {\"min\": 1}}}}");
	one_bad("{\"type\": \"lost_events\", \"data\": {\"events\": -1}}");
	one_bad("{\"type\": \"lost_events\", \"data\": {\"events\": \"5\"}}");
	one_bad("{\"type\": \"lost_events\", \"data\": 5}");
	one_bad("{\"type\": \"attached_probes\", \"data\": {}}");
	one_bad("{\"type\": \"helper_error\", \"helper\": 5, \"retcode\": -2}");
	one_bad("{\"type\": \"helper_error\", \"helper\": \"x\"}");
	one_bad("{\"type\": \"value\"}");
}

Test(bpftrace_hostile, a_bad_map_among_good_ones_drops_the_whole_line)
{
	struct got g;
	feed_str("{\"type\": \"hist\", \"data\": {\"@a\": [{\"min\": 0, \"max\": 0, \"count\": 1}], "
		 "\"@b\": [{\"count\": 1}]}}\n" GOOD,
		 0, &g);
	cr_assert_eq(g.n, 1, "@a is not given for @b's fault");
	want_text(g.r[0], "printf", "good");
	cr_assert_eq(g.t.malformed, 1);
	got_free(&g);
}

Test(bpftrace_hostile, unknown_type)
{
	one_bad("{\"type\": \"printf2\", \"data\": \"x\\n\"}");
	one_bad("{\"type\": \"\", \"data\": \"x\\n\"}");
	one_bad("{\"type\": \"\\u001b[31m\", \"data\": 1}");
}

/* {"type": "value", "data": [[...[1]...]]} nested depth deep, objects included. */
static char *nested(int depth)
{
	size_t n = 64 + 2 * (size_t)depth;
	char *s = malloc(n);
	int k = sprintf(s, "{\"type\": \"value\", \"data\": ");
	for (int i = 0; i < depth - 1; i++)
		s[k++] = '[';
	s[k++] = '1';
	for (int i = 0; i < depth - 1; i++)
		s[k++] = ']';
	sprintf(s + k, "}\n");
	return s;
}

Test(bpftrace_hostile, nesting_exactly_at_the_depth_limit)
{
	struct got g;
	char *s = nested(KT_BPFTRACE_JSON_DEPTH);
	feed_str(s, 0, &g);
	cr_assert_eq(g.n, 1, "%d deep: taken", KT_BPFTRACE_JSON_DEPTH);
	cr_assert_eq(g.t.malformed, 0);
	cr_assert_eq(g.r[0]->log.body.len, 2 * (KT_BPFTRACE_JSON_DEPTH - 1) + 1, "the arrays' text");
	got_free(&g);
	free(s);
	s = nested(KT_BPFTRACE_JSON_DEPTH + 1);
	one_bad(strtok(s, "\n"));
	free(s);
	s = nested(100000);
	one_bad(strtok(s, "\n"));
	free(s);
}

/* A line of exactly len bytes: a printf of x's. */
static char *line_of(size_t len)
{
	static const char head[] = "{\"type\": \"printf\", \"data\": \"", tail[] = "\"}";
	cr_assert_geq(len, sizeof(head) + sizeof(tail));
	char *s = malloc(len + 2);
	memcpy(s, head, sizeof(head) - 1);
	size_t body = len - (sizeof(head) - 1) - (sizeof(tail) - 1);
	memset(s + sizeof(head) - 1, 'x', body);
	memcpy(s + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	s[len] = '\n';
	s[len + 1] = '\0';
	return s;
}

Test(bpftrace_hostile, lines_at_the_line_limit)
{
	const size_t max = 200;
	for (int how = WHOLE; how <= RANDOM; how++) {
		char *at = line_of(max), *over = line_of(max + 1);
		size_t n = strlen(at) + strlen(over) + sizeof(GOOD) + 1;
		char *s = malloc(n);
		snprintf(s, n, "%s%s%s", at, over, GOOD);
		struct got g;
		feed_split(s, strlen(s), (enum split)how, max, NULL, &g);
		cr_assert_eq(g.n, 2, "the line of %zu bytes and the good one", max);
		cr_assert_eq(g.r[0]->log.body.len, max - 30);
		want_text(g.r[1], "printf", "good");
		cr_assert_eq(g.t.lines, 3);
		cr_assert_eq(g.t.too_long, 1, "%zu bytes: one too many", max + 1);
		cr_assert_eq(g.t.malformed, 1);
		cr_assert_leq(g.max_held, max);
		got_free(&g);
		free(s);
		free(at);
		free(over);
	}
}

Test(bpftrace_hostile, min_and_default_line_limits)
{
	struct kt_bpftrace_reader *r = kt_bpftrace_reader_new(NULL, 1, "t");
	cr_assert_eq(kt_bpftrace_reader_max_line(r), KT_BPFTRACE_MIN_MAX_LINE);
	kt_bpftrace_reader_free(r);
	r = kt_bpftrace_reader_new(NULL, 0, "t");
	cr_assert_eq(kt_bpftrace_reader_max_line(r), KT_BPFTRACE_MAX_LINE);
	kt_bpftrace_reader_free(r);
	/* the default: a line of 1 MiB is read, one byte more is not */
	struct got g;
	char *at = line_of(KT_BPFTRACE_MAX_LINE), *over = line_of(KT_BPFTRACE_MAX_LINE + 1);
	feed_split(at, strlen(at), RANDOM, 0, NULL, &g);
	cr_assert_eq(g.n, 1);
	got_free(&g);
	feed_split(over, strlen(over), WHOLE, 0, NULL, &g);
	cr_assert_eq(g.n, 0);
	cr_assert_eq(g.t.too_long, 1);
	got_free(&g);
	free(at);
	free(over);
}

Test(bpftrace_hostile, endless_line_is_not_held_and_reading_resumes)
{
	const size_t max = 4096;
	struct got g = { 0 };
	struct kt_record_sink sink = { .log = on_log, .ctx = &g };
	struct kt_bpftrace_reader *r = kt_bpftrace_reader_new(NULL, max, "t");
	char chunk[1000];
	memset(chunk, 'y', sizeof(chunk));
	kt_bpftrace_feed(r, "{\"type\": \"printf\", \"data\": \"", 28, NOW, &sink);
	for (int i = 0; i < 10000; i++) { /* 10 MB without a newline */
		kt_bpftrace_feed(r, chunk, sizeof(chunk), NOW, &sink);
		cr_assert_leq(kt_bpftrace_reader_held(r), max);
	}
	cr_assert_eq(kt_bpftrace_reader_totals(r)->too_long, 1, "said once, not per chunk");
	kt_bpftrace_feed(r, "\"}\n" GOOD, 3 + strlen(GOOD), NOW, &sink);
	kt_bpftrace_finish(r, NOW, &sink);
	cr_assert_eq(g.n, 1);
	want_text(g.r[0], "printf", "good");
	cr_assert_eq(kt_bpftrace_reader_totals(r)->lines, 2);
	kt_bpftrace_reader_free(r);
	got_free(&g);
}

Test(bpftrace_hostile, an_endless_line_at_the_end_is_dropped)
{
	struct got g;
	char *over = line_of(300);
	over[300] = '\0'; /* no newline: the end of the output ends it */
	feed_split(over, 300, BYTES, 200, NULL, &g);
	cr_assert_eq(g.n, 0);
	cr_assert_eq(g.t.too_long, 1);
	cr_assert_eq(g.t.lines, 1);
	got_free(&g);
	free(over);
}

Test(bpftrace_hostile, last_line_without_newline_is_read_at_the_end)
{
	struct got g;
	feed_str("{\"type\": \"printf\", \"data\": \"last\"}", 0, &g);
	cr_assert_eq(g.n, 1);
	want_text(g.r[0], "printf", "last");
	cr_assert_eq(g.t.lines, 1);
	got_free(&g);
}

Test(bpftrace_hostile, nul_bytes)
{
	static const char raw[] = "{\"type\": \"printf\", \"data\": \"a\0b\"}\n" GOOD;
	struct got g;
	feed_split(raw, sizeof(raw) - 1, WHOLE, 0, NULL, &g);
	cr_assert_eq(g.n, 1, "a raw NUL: the line is dropped");
	want_text(g.r[0], "printf", "good");
	cr_assert_eq(g.t.malformed, 1);
	got_free(&g);
	/* an escaped one is text like any other */
	feed_str("{\"type\": \"printf\", \"data\": \"a\\u0000b\"}\n", 0, &g);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(g.r[0]->log.body.len, 3);
	cr_assert_eq(memcmp(g.r[0]->log.body.ptr, "a\0b", 3), 0);
	got_free(&g);
}

Test(bpftrace_hostile, invalid_utf8)
{
	struct got g;
	/* raw bytes: a lone continuation byte, an overlong "/", a surrogate, a cut sequence */
	feed_str("{\"type\": \"printf\", \"data\": \"\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82\"}\n"
		 "{\"type\": \"map\", \"data\": {\"@\": {\"\xff\": 1}}}\n",
		 0, &g);
	cr_assert_eq(g.n, 2);
	want_body(g.r[0], "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
			  "\xef\xbf\xbd\xef\xbf\xbd");
	want_int(g.r[1], "@[\xef\xbf\xbd]", 1);
	for (int i = 0; i < 2; i++) {
		const struct kt_kv *kv = attr(g.r[i], "katatrace.log.utf8_repaired");
		cr_assert(kv && kv->value.b);
	}
	cr_assert_eq(g.t.malformed, 0);
	got_free(&g);
	/* bpftrace's "\uffffffXX" escapes: bytes again, then repaired where they are no UTF-8 */
	feed_str("{\"type\": \"printf\", \"data\": \"\\uffffffe2\\uffffff82\\uffffffac "
		 "\\uffffffE2\\uffffff82 \\\\uffffffc3\\uffff\"}\n",
		 0, &g);
	cr_assert_eq(g.n, 1);
	/* the euro sign; a cut one repaired; an escaped backslash stays text; a real \uffff */
	want_body(g.r[0], "\xe2\x82\xac \xef\xbf\xbd\xef\xbf\xbd \\uffffffc3\xef\xbf\xbf");
	cr_assert_not_null(attr(g.r[0], "katatrace.log.utf8_repaired"));
	got_free(&g);
	/* the same look below 0x80 is no byte of bpftrace's: U+FFFF and text, as JSON says */
	feed_str("{\"type\": \"printf\", \"data\": \"\\uffffff41\"}\n", 0, &g);
	cr_assert_eq(g.n, 1);
	want_text(g.r[0], "printf", "\xef\xbf\xbf" "ff41");
	got_free(&g);
}

Test(bpftrace_hostile, blank_lines_are_no_errors)
{
	struct got g;
	feed_str("\n\n \t\r\n" GOOD "\r\n", 0, &g);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(g.t.lines, 5);
	cr_assert_eq(g.t.malformed, 0);
	got_free(&g);
}

/* A map line of n entries @[k0] .. @[k<n-1>] = their index. */
static char *big_map(size_t n)
{
	char *s = malloc(64 + n * 24), *w = s;
	w += sprintf(w, "{\"type\": \"map\", \"data\": {\"@\": {");
	for (size_t i = 0; i < n; i++)
		w += sprintf(w, "%s\"k%zu\": %zu", i ? ", " : "", i, i);
	sprintf(w, "}}}\n");
	return s;
}

Test(bpftrace_hostile, entries_at_their_limit)
{
	struct got g;
	char *s = big_map(KT_BPFTRACE_MAX_ENTRIES);
	feed_str(s, 0, &g);
	cr_assert_eq(g.n, 1);
	want_map(g.r[0], "map", "@", KT_BPFTRACE_MAX_ENTRIES);
	want_int(g.r[0], "@[k0]", 0);
	want_int(g.r[0], "@[k4095]", 4095);
	cr_assert_eq(g.t.entries_dropped, 0);
	got_free(&g);
	free(s);

	s = big_map(KT_BPFTRACE_MAX_ENTRIES + 1);
	feed_str(s, 0, &g);
	cr_assert_eq(g.n, 1);
	const struct kt_log_record *r = g.r[0];
	cr_assert_eq(r->log.attrs.n, 2 + KT_BPFTRACE_MAX_ENTRIES + 1, "entries, and the count dropped");
	want_int(r, "@[k4095]", 4095);
	cr_assert_null(attr(r, "@[k4096]"));
	want_int(r, "bpftrace.entries_dropped", 1);
	cr_assert_eq(g.t.entries_dropped, 1);
	got_free(&g);
	free(s);
}

Test(bpftrace_hostile, arena_bounded_by_the_line_even_for_repeated_keys)
{
	/* a keyed hist: the 2000-byte key is written once but named in each of 60 buckets */
	size_t keylen = 2000, n = 60;
	char *s = malloc(keylen + n * 64 + 128), *w = s;
	w += sprintf(w, "{\"type\": \"hist\", \"data\": {\"@h\": {\"");
	memset(w, 'k', keylen);
	w += keylen;
	w += sprintf(w, "\": [");
	for (size_t i = 0; i < n; i++)
		w += sprintf(w, "%s{\"min\": %zu, \"max\": %zu, \"count\": 1}", i ? ", " : "", 2 * i,
			     2 * i + 1);
	sprintf(w, "]}}}\n");
	struct got g;
	feed_str(s, 0, &g);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(g.t.no_memory, 0);
	const struct kt_log_record *r = g.r[0];
	want_map(r, "hist", "@h", n);
	cr_assert_leq(r->arena.used, r->arena.limit);
	char key[2100] = "@h[";
	memset(key + 3, 'k', keylen);
	strcpy(key + 3 + keylen, "]: [118, 120)"); /* the last bucket, min 118 max 119 */
	want_int(r, key, 1);
	got_free(&g);
	free(s);
}

Test(bpftrace_hostile, values_of_other_types)
{
	struct got g;
	feed_str("{\"type\": \"map\", \"data\": {\"@u\": 18446744073709551615, \"@n\": -9223372036854775808,"
		 " \"@t\": [1, \"a\"], \"@b\": true, \"@f\": 1.5, \"@o\": {\"k\": {\"x\": null}}}}\n",
		 0, &g);
	cr_assert_eq(g.n, 6, "one record per map of the line");
	want_str(map_rec(&g, "@u"), "@u", "18446744073709551615"); /* beyond int64: written out */
	want_int(map_rec(&g, "@n"), "@n", INT64_MIN);
	want_str(map_rec(&g, "@t"), "@t", "[1,\"a\"]");
	want_str(map_rec(&g, "@b"), "@b", "true");
	want_str(map_rec(&g, "@f"), "@f", "1.5");
	want_str(map_rec(&g, "@o"), "@o[k]", "{\"x\":null}");
	got_free(&g);
}

Test(bpftrace_hostile, bucket_bounds_at_the_ends_of_int64)
{
	struct got g;
	feed_str("{\"type\": \"hist\", \"data\": {\"@h\": [{\"max\": 9223372036854775807, \"count\": 1},"
		 " {\"min\": 5, \"max\": 9223372036854775807, \"count\": 2},"
		 " {\"min\": -9223372036854775808, \"max\": -9223372036854775808, \"count\": 3}]}}\n",
		 0, &g);
	cr_assert_eq(g.n, 1);
	want_int(g.r[0], "@h: (..., 9223372036854775807]", 1);
	want_int(g.r[0], "@h: [5, 9223372036854775807]", 2);
	want_int(g.r[0], "@h: [-9223372036854775808]", 3);
	got_free(&g);
}

Test(bpftrace_hostile, helper_error_of_unknown_code)
{
	struct got g;
	feed_str("{\"type\": \"helper_error\", \"helper\": \"probe_read\", \"retcode\": -99999}\n", 0, &g);
	cr_assert_eq(g.n, 1);
	want_body(g.r[0], "Failed to probe_read: error (-99999)");
	cr_assert_null(attr(g.r[0], "bpftrace.line"));
	got_free(&g);
}

Test(bpftrace_hostile, counters)
{
	uint64_t lines = KT_STAT_GET(bpftrace_lines), bad = KT_STAT_GET(bpftrace_bad_lines),
		 recs = KT_STAT_GET(bpftrace_records), lost = KT_STAT_GET(bpftrace_lost_events);
	struct got g;
	feed_str(GOOD "nope\n{\"type\": \"lost_events\", \"data\": {\"events\": 7}}\n", 0, &g);
	cr_assert_eq(KT_STAT_GET(bpftrace_lines) - lines, 3);
	cr_assert_eq(KT_STAT_GET(bpftrace_bad_lines) - bad, 1);
	cr_assert_eq(KT_STAT_GET(bpftrace_records) - recs, 1);
	cr_assert_eq(KT_STAT_GET(bpftrace_lost_events) - lost, 7);
	cr_assert_eq(g.t.lost_events, 7);
	got_free(&g);
}

Test(bpftrace_hostile, warnings_say_what_and_are_rate_limited, .init = cr_redirect_stderr)
{
	kt_log_level = KT_LOG_WARN;
	struct got g;
	/* three bad lines at once: the first is said, the others held back */
	feed_str("{\"type\": \"printf\", \"data\": 5}\nnope\nnope\n", 0, &g);
	cr_assert_eq(g.t.malformed, 3);
	got_free(&g);
	fflush(stderr);
	char buf[4096] = "";
	FILE *f = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	cr_assert(strstr(buf, "test: output line 1: \"data\" of printf is int, not a string; line "
			      "ignored: \"{\"type\": \"printf\", \"data\": 5}\""),
		  "%s", buf);
	cr_assert_eq(count_lines(buf, n), 1, "%s", buf);
}

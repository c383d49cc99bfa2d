/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bpftrace -f json output reader fuzzer: the input, as bpftrace's stdout,
 * fed whole and in generated chunks, with line limits of 64 and 300 bytes
 * and the default, gives the same records (bodies, attributes) and the
 * same totals; at most max_line bytes are held between calls; every string
 * of every record is valid UTF-8 and NUL-terminated, every arena within its
 * limit; lines are counted once each. Each record of the whole-input run
 * at the default limit also goes the export way: ExportLogsServiceRequest
 * packed and read back, OTLP/JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/utf8.h"
#include "bpftrace/bpftrace_json.h"
#include "fuzz_check.h"
#include "log_check.h"
#include "str_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW (1700000000ull * 1000000000ull)

struct run {
	bool export;
	uint64_t records, digest;
};

static void on_log(void *ctx, struct kt_log_record *r)
{
	struct run *run = ctx;
	const struct kt_log *l = &r->log;
	CHECK(r->arena.used <= r->arena.limit);
	CHECK(l->time_unix_nano == NOW && l->observed_time_unix_nano == NOW);
	CHECK(l->severity_number == KT_SEV_INFO || l->severity_number == KT_SEV_WARN);
	CHECK(l->attrs.n >= 1 && kt_str_eq(l->attrs.kv[0].key, "bpftrace.output"));
	uint64_t h = check_str(run->digest, l->body);
	h = mix(h, l->severity_number);
	for (size_t i = 0; i < l->attrs.n; i++) {
		const struct kt_kv *kv = &l->attrs.kv[i];
		h = check_str(h, kv->key);
		h = mix(h, kv->value.type);
		if (kv->value.type == KT_VAL_STRING)
			h = check_str(h, kv->value.s);
		else if (kv->value.type == KT_VAL_I64)
			h = mix(h, (uint64_t)kv->value.i);
		else
			CHECK(kv->value.type == KT_VAL_BOOL);
	}
	run->digest = h;
	run->records++;
	if (run->export)
		check_log_exports(r);
	kt_log_record_free(r);
}

static void feed(const uint8_t *p, size_t n, size_t max_line, uint32_t seed, bool chunks,
		 struct run *run, struct kt_bpftrace_totals *t)
{
	struct kt_record_sink sink = { .log = on_log, .ctx = run };
	struct kt_bpftrace_reader *r = kt_bpftrace_reader_new(NULL, max_line, "fuzz");
	if (!r)
		__builtin_trap();
	size_t max = kt_bpftrace_reader_max_line(r);
	for (size_t o = 0; o < n;) {
		size_t k = n - o;
		if (chunks) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 8) % 61;
			if (k > n - o)
				k = n - o;
		}
		kt_bpftrace_feed(r, p + o, k, NOW, &sink);
		CHECK(kt_bpftrace_reader_held(r) <= max);
		o += k;
	}
	kt_bpftrace_finish(r, NOW, &sink);
	CHECK(kt_bpftrace_reader_held(r) == 0);
	*t = *kt_bpftrace_reader_totals(r);
	kt_bpftrace_reader_free(r);
	CHECK(t->records == run->records);
	CHECK(t->too_long <= t->malformed && t->malformed <= t->lines);
	uint64_t newlines = 0;
	for (size_t i = 0; i < n; i++)
		newlines += p[i] == '\n';
	/* every line counted once: a last one without its newline too */
	CHECK(t->lines == newlines + (n && p[n - 1] != '\n'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	if (!quiet) {
		kt_log_level = KT_LOG_ERROR;
		quiet = 1;
	}
	uint32_t seed = 2166136261u;
	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	static const size_t maxes[] = { 64, 300, 0 };
	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		struct run a = { .export = maxes[m] == 0 }, b = { 0 };
		struct kt_bpftrace_totals ta, tb;
		feed(data, size, maxes[m], seed, false, &a, &ta);
		feed(data, size, maxes[m], seed, true, &b, &tb);
		CHECK(a.records == b.records && a.digest == b.digest);
		CHECK(memcmp(&ta, &tb, sizeof(ta)) == 0);
	}
	return 0;
}

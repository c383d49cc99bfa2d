/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata 1.x journal splitter fuzzer: the input pushed whole and in generated
 * chunks gives the same records (offsets, flags, texts); every string of
 * every record is valid UTF-8, NUL-terminated and within the record limit;
 * buffers stay bounded. The input is also parsed as one record. Each record
 * of the whole-input run also goes the export way: OTLP log record (bounded
 * arena), ExportLogsServiceRequest packed and read back, OTLP/JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "log_check.h"
#include "kata1/journal_log.h"
#include "kata1/journal_stream.h"
#include "base/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	size_t max_record;
	bool export;
	uint64_t records, digest, last_offset;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x100000001b3ull;
	return h ^ (h >> 29);
}

static uint64_t check_str(uint64_t h, struct kt_str s, size_t max)
{
	CHECK(s.ptr != NULL && s.ptr[s.len] == '\0');
	CHECK(kt_utf8_check((const uint8_t *)s.ptr, s.len) == s.len);
	CHECK(s.len <= 3 * max);
	h = mix(h, s.len);
	for (size_t i = 0; i < s.len; i++)
		h = mix(h, (uint8_t)s.ptr[i]);
	return h;
}

static uint64_t check_record(uint64_t h, const struct kt_journal_record *r, size_t max)
{
	CHECK(r->facility <= 23 && r->severity <= 7);
	CHECK(r->form <= KT_JOURNAL_RFC5424);
	h = mix(h, (uint64_t)r->facility << 8 | r->severity);
	h = mix(h, (uint64_t)r->form << 8 | (uint64_t)r->has_time << 4 | r->utf8_repaired);
	h = mix(h, r->has_time ? r->time_unix_nano : 0);
	h = check_str(h, r->hostname, max);
	h = check_str(h, r->app_name, max);
	h = check_str(h, r->proc_id, max);
	h = check_str(h, r->msg_id, max);
	h = check_str(h, r->structured_data, max);
	return check_str(h, r->message, max);
}

static void on_record(void *ctx, const struct kt_journal_record *r)
{
	struct run *run = ctx;
	CHECK(run->records == 0 || r->offset > run->last_offset);
	run->last_offset = r->offset;
	run->digest = mix(check_record(run->digest, r, run->max_record), r->offset);
	run->digest = mix(run->digest, r->truncated);
	run->records++;
	if (run->export) {
		struct kt_log_record *lr = kt_journal_log_new(r, 1);
		if (!lr)
			return;
		CHECK(lr->arena.used <= lr->arena.limit);
		CHECK(lr->log.severity_number >= 5 && lr->log.severity_number <= 21);
		check_log_exports(lr);
		kt_log_record_free(lr);
	}
}

static const struct kt_journal_ops ops = {.record = on_record};

static void split(const uint8_t *p, size_t n, size_t max, uint32_t seed, bool chunks,
		  struct run *r, struct kt_journal_stream *j)
{
	bool export = r->export && !chunks;
	memset(r, 0, sizeof(*r));
	r->export = export;
	kt_journal_init(j, max, &ops, r);
	r->max_record = j->max_record;
	for (size_t o = 0; o < n;) {
		size_t k = n - o;
		if (chunks) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 8) % 40;
			if (k > n - o)
				k = n - o;
		}
		kt_journal_push(j, p + o, k, 1700000000ull * 1000000000ull);
		CHECK(j->have <= j->max_record + 24);
		o += k;
	}
	kt_journal_finish(j, 1700000000ull * 1000000000ull);
	CHECK(j->have == 0 && r->records == j->records);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = 2166136261u;
	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	static const size_t maxes[] = {64, 100, 0};
	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		struct run a = { 0 }, b = { 0 };
		struct kt_journal_stream ja, jb;
		a.export = m == 2; /* set again by split */
		split(data, size, maxes[m], seed, false, &a, &ja);
		split(data, size, maxes[m], seed, true, &b, &jb);
		CHECK(a.records == b.records && a.digest == b.digest);
		CHECK(ja.skipped_bytes == jb.skipped_bytes && ja.dropped_bytes == jb.dropped_bytes);
		kt_journal_free(&ja);
		kt_journal_free(&jb);
	}

	size_t cap = 3 * size + 8;
	char *scratch = malloc(cap);
	struct kt_journal_record r;
	if (scratch && kt_journal_parse(data, size, 0, scratch, cap, &r) == 0)
		check_record(0, &r, size);
	free(scratch);
	return 0;
}

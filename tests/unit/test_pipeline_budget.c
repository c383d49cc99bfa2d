/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline under one memory budget and the connection caps: hostile
 * connections holding partial frames never take the held bytes over the
 * budget, the largest holder loses its pending data, a well-behaved
 * sandbox loses nothing, and connections beyond the caps are refused and
 * their records ignored until they close.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_span.h"
#include "base/mem_budget.h"
#include "stream/pipeline.h"
#include "pipeline_records.h"
#include "base/stats.h"
#include "bpf/stream_record.h"
#include "test_rnd.h"

#define GOOD_PATH "/run/vc/vm/good/clh.sock_10240"
#define EVIL_PATH "/run/vc/vm/evil/clh.sock_10240"
#define GOOD_CONN 1

/* A pipeline under a budget of `limit` bytes, and the good sandbox's stream. */
struct budget {
	struct kt_mem_pool pool;
	struct kt_mem_acct records;
	struct got g;
	struct kt_pipeline *p;
	uint8_t *good; /* the golden JSON stream */
	size_t ns;
};

static struct kt_pipeline *budgeted(struct budget *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	kt_mem_pool_init(&b->pool, limit);
	kt_mem_acct_init(&b->records, &b->pool);
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.mem_pool = &b->pool;
	cfg.records_acct = &b->records;
	b->p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &b->g });
	cr_assert_not_null(b->p);
	b->good = kt_test_read_vector("framed_stream_otel017_json.bin", &b->ns);
	return b->p;
}

/* Everything freed: every byte charged has been given back. */
static void budget_end(struct budget *b)
{
	kt_pipeline_free(b->p);
	got_free(&b->g);
	cr_expect_eq(kt_mem_used(&b->pool), 0, "every charge credited");
	free(b->good);
}

/* Every expected span of the golden JSON stream, in order. */
static void expect_good_spans(const struct got *g)
{
	const struct kt_span *s[MAX_GOT];
	size_t n = spans_of(g, GOOD_PATH, s);
	cr_assert_eq(n, kt_test_n_labels, "%zu of %zu spans of the good sandbox", n,
		     kt_test_n_labels);
	for (size_t i = 0; i < n; i++)
		kt_expect_span(s[i], kt_test_labels[i], KT_ERA_JSON);
}

/* A header announcing 16 MiB - 1 (within --max-frame), then payload bytes. */
static const uint8_t evil_hdr[8] = { 0, 0, 0, 0, 0, 0xff, 0xff, 0xff };

/*
 * 200 connections to one sandbox's socket, each holding a partial frame
 * that announces 16 MiB - 1 (512 KiB of it sent, in 16 KiB records,
 * round-robin), with an 8 MiB budget; a good sandbox sends its spans in
 * small records all the while.
 */
Test(pipeline_budget, hundreds_of_partial_frames_stay_within_the_budget)
{
	enum { EVIL = 200, PARTIAL = 512 << 10, STEP = KT_CHUNK_SIZE };
	const size_t limit = 8u << 20;
	static struct budget b;
	struct kt_pipeline *p = budgeted(&b, limit);
	const uint8_t *good = b.good;
	const size_t ns = b.ns;
	static uint8_t zeros[STEP];

	rec_conn(p, GOOD_CONN, GOOD_PATH);
	for (uint64_t i = 0; i < EVIL; i++) {
		rec_conn(p, 100 + i, EVIL_PATH);
		rec_data(p, 100 + i, 0, evil_hdr, sizeof(evil_hdr), 0, 1);
	}
	size_t good_off = 0;
	for (size_t off = 8; off < 8 + PARTIAL; off += STEP) {
		for (uint64_t i = 0; i < EVIL; i++) {
			rec_data(p, 100 + i, off, zeros, STEP, 0, 1);
			cr_assert_leq(kt_mem_used(&b.pool), limit, "held bytes over the budget");
			/* the good sandbox speaks now and then, in small pieces */
			if (good_off < ns && rnd() % 40 == 0) {
				size_t n = 1 + rnd() % 700;
				n = n > ns - good_off ? ns - good_off : n;
				rec_data(p, GOOD_CONN, good_off, good + good_off, n, 0, 1);
				good_off += n;
			}
		}
	}
	cr_assert_eq(good_off, ns, "the good stream was sent whole during the attack");
	cr_expect_leq(b.pool.peak, limit);
	cr_expect_eq(KT_STAT_GET(conns_refused), EVIL - KT_DEFAULT_MAX_SANDBOX_CONNECTIONS,
		     "beyond --max-sandbox-connections");
	cr_expect_eq(KT_STAT_GET(connections), 1 + KT_DEFAULT_MAX_SANDBOX_CONNECTIONS,
		     "records of refused connections create nothing");
	/*
	 * 64 admitted connections would hold 32 MiB: at least 48 of them lost
	 * their partial frame, shed for another or dropped as the largest.
	 */
	cr_expect_geq(KT_STAT_GET(mem_shed) + KT_STAT_GET(mem_refused), 48);
	cr_expect_eq(KT_STAT_GET(decode_errors), 0);
	expect_good_spans(&b.g);
	rec_close(p, GOOD_CONN, ns);
	for (uint64_t i = 0; i < EVIL; i++)
		rec_close(p, 100 + i, 8 + PARTIAL);
	cr_expect_eq(kt_pipeline_conn_count(p), 0);
	cr_expect_eq(kt_pipeline_held(p), 0, "every connection's bytes given back");
	budget_end(&b);
}

/* Decoded spans waiting for export need room: partial frames are shed for them. */
Test(pipeline_budget, spans_take_room_from_the_largest_partial_frame)
{
	/* the partial frame's 1 MiB buffer, and room for some of the 110 KiB of decoded spans */
	const size_t limit = (1u << 20) + (64u << 10);
	static struct budget b;
	struct kt_pipeline *p = budgeted(&b, limit);
	const uint8_t *good = b.good;
	const size_t ns = b.ns;
	static uint8_t zeros[KT_CHUNK_SIZE];

	rec_conn(p, 7, EVIL_PATH);
	rec_data(p, 7, 0, evil_hdr, sizeof(evil_hdr), 0, 1);
	size_t off = 8;
	while (off < 8 + (600u << 10)) {
		rec_data(p, 7, off, zeros, sizeof(zeros), 0, 1);
		off += sizeof(zeros);
	}
	cr_expect_eq(KT_STAT_GET(mem_shed), 0);
	rec_conn(p, GOOD_CONN, GOOD_PATH);
	for (size_t o = 0; o < ns;) {
		size_t n = 1 + rnd() % 3000;
		n = n > ns - o ? ns - o : n;
		rec_data(p, GOOD_CONN, o, good + o, n, 0, 1);
		o += n;
		cr_assert_leq(kt_mem_used(&b.pool), limit);
	}
	expect_good_spans(&b.g);
	cr_expect_geq(KT_STAT_GET(mem_shed), 1, "the partial frame made room");
	cr_expect_eq(KT_STAT_GET(spans_dropped), 0);
	budget_end(&b);
}

/* Nothing left to shed: the span is dropped and counted, nothing else is lost. */
Test(pipeline_budget, spans_dropped_when_nothing_can_be_shed)
{
	/* the 19 decoded spans hold about 110 KiB: a third of them fit */
	const size_t limit = 40u << 10;
	static struct budget b;
	struct kt_pipeline *p = budgeted(&b, limit);
	const uint8_t *good = b.good;
	const size_t ns = b.ns;

	rec_conn(p, GOOD_CONN, GOOD_PATH);
	rec_data(p, GOOD_CONN, 0, good, ns, 0, 1);
	cr_expect_leq(kt_mem_used(&b.pool), limit);
	size_t dropped = KT_STAT_GET(spans_dropped);
	cr_expect_gt(b.g.n, 0, "spans until the budget was full");
	cr_expect_gt(dropped, 0, "then spans dropped");
	cr_expect_eq(b.g.n + dropped, kt_test_n_labels, "each frame a span or a dropped span");
	cr_expect_eq(KT_STAT_GET(mem_refused), dropped);
	cr_expect_eq(kt_stats.spans_dropped_by[KT_DROP_MEMORY_BUDGET], dropped,
		     "dropped for the budget");
	cr_expect_eq(KT_STAT_GET(decode_errors), 0, "not reported as decode errors");
	/* the spans kept are intact, in stream order (a later, smaller one may still fit) */
	size_t next = 0;
	for (size_t i = 0; i < b.g.n; i++) {
		while (next < kt_test_n_labels &&
		       kt_span_mismatches(&b.g.r[i]->span, kt_test_labels[next], KT_ERA_JSON))
			next++;
		cr_assert_lt(next, kt_test_n_labels, "kept span %zu is none of the vectors", i);
		next++;
	}
	budget_end(&b);
}

/* No room for a connection's own state: the newest connection is refused. */
Test(pipeline_budget, connection_refused_without_room_for_its_state)
{
	static struct budget b;
	struct kt_pipeline *p = budgeted(&b, 1);
	const uint8_t *good = b.good;
	const size_t ns = b.ns;

	rec_conn(p, GOOD_CONN, GOOD_PATH);
	cr_expect_eq(kt_pipeline_conn_count(p), 0);
	cr_expect_eq(KT_STAT_GET(conns_refused), 1);
	cr_expect_eq(KT_STAT_GET(mem_refused), 1);
	rec_data(p, GOOD_CONN, 0, good, ns, 0, 1);
	cr_expect_eq(kt_pipeline_conn_count(p), 0, "its records are ignored");
	cr_expect_eq(KT_STAT_GET(conns_refused), 1, "and do not retry");
	cr_expect_eq(b.g.n, 0);
	struct kt_conn_info info = { .id = { .endpoint = 99, .transport = KT_TRANSPORT_UNIX },
				     .path = GOOD_PATH, .transport = "hybrid-vsock" };
	cr_expect_null(kt_pipeline_open(p, &info), "a direct feed is refused the same way");
	cr_expect_eq(KT_STAT_GET(conns_refused), 2);
	budget_end(&b);
}

static void conns_to(struct kt_pipeline *p, uint64_t first, int n, const char *path)
{
	for (int i = 0; i < n; i++)
		rec_conn(p, first + (uint64_t)i, path);
}

Test(pipeline_budget, connection_caps_exactly)
{
	struct got g = { 0 };
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.max_conns = 5;
	cfg.max_sandbox_conns = 3;
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &g });
	cr_assert_not_null(p);
	size_t ns;
	uint8_t *good = kt_test_read_vector("framed_stream_otel017_json.bin", &ns);
	const char *a = "/run/vc/vm/sandbox-a/clh.sock_10240";
	const char *b = "/run/vc/vm/sandbox-b/clh.sock_10240";

	conns_to(p, 10, 3, a);
	cr_expect_eq(kt_pipeline_conn_count(p), 3, "3 of a sandbox");
	rec_conn(p, 13, a);
	cr_expect_eq(kt_pipeline_conn_count(p), 3, "the 4th of a sandbox is refused");
	cr_expect_eq(KT_STAT_GET(conns_refused), 1);
	rec_data(p, 13, 0, good, ns, 0, 1);
	cr_expect_eq(g.n, 0, "nothing decoded for a refused connection");
	cr_expect_eq(kt_pipeline_conn_count(p), 3);

	conns_to(p, 20, 2, b);
	cr_expect_eq(kt_pipeline_conn_count(p), 5, "5 in all");
	rec_conn(p, 22, b);
	cr_expect_eq(kt_pipeline_conn_count(p), 5, "the 6th in all is refused");
	cr_expect_eq(KT_STAT_GET(conns_refused), 2);

	/* A refused connection stays refused until it closes, then may try again. */
	rec_close(p, 13, ns);
	rec_conn(p, 13, a);
	cr_expect_eq(KT_STAT_GET(conns_refused), 3, "still over the cap");
	rec_close(p, 10, 0);
	rec_conn(p, 14, a);
	cr_expect_eq(kt_pipeline_conn_count(p), 5, "room after one of a closed");
	rec_data(p, 14, 0, good, ns, 0, 1);
	rec_close(p, 14, ns);
	cr_expect_eq(g.n, kt_test_n_labels, "the admitted one is decoded whole");
	cr_expect_eq(KT_STAT_GET(connections), 6);
	kt_pipeline_free(p);
	got_free(&g);
	free(good);
}

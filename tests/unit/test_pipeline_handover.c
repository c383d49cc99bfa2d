/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Takeover (kt_pipeline_handover): a pipeline cut at any byte hands its
 * connections to a second one as records; together the two must make
 * exactly the spans one uncut pipeline makes (the vectors' expected
 * decode), with the same attribution. Pending out-of-order bytes, a
 * protocol resynchronising at the cut, ttrpc calls on both sides of the
 * cut, and hostile RESUME records.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "expect_span.h"
#include "stream/pipeline.h"
#include "pipeline_records.h"
#include "base/stats.h"
#include "bpf/stream_record.h"
#include "test_rnd.h"

#define PATH "/run/vc/vm/sbh/clh.sock_10240"
#define CONN 31

/* ------------------------------------------------------------ captured records */

struct recs {
	uint8_t *b;
	size_t n, cap, count;
};

static void capture(void *ctx, const void *rec, size_t size)
{
	struct recs *r = ctx;
	cr_assert_geq(size, sizeof(struct kt_rec_hdr));
	if (r->n + sizeof(size) + size > r->cap) {
		r->cap = (r->n + sizeof(size) + size) * 2;
		r->b = realloc(r->b, r->cap);
		cr_assert_not_null(r->b);
	}
	memcpy(r->b + r->n, &size, sizeof(size));
	memcpy(r->b + r->n + sizeof(size), rec, size);
	r->n += sizeof(size) + size;
	r->count++;
}

/* The i-th record's header (aligned copy). */
static struct kt_rec_hdr rec_hdr(const struct recs *r, size_t i)
{
	size_t at = 0, size;
	for (;;) {
		memcpy(&size, r->b + at, sizeof(size));
		if (!i--)
			break;
		at += sizeof(size) + size;
	}
	struct kt_rec_hdr h;
	memcpy(&h, r->b + at + sizeof(size), sizeof(h));
	return h;
}

static void replay(const struct recs *r, struct kt_pipeline *p)
{
	static _Alignas(8) uint8_t buf[sizeof(struct kt_rec_conn) + sizeof(struct kt_rec_data)];
	size_t size;
	for (size_t at = 0; at < r->n; at += sizeof(size) + size) {
		memcpy(&size, r->b + at, sizeof(size));
		cr_assert_leq(size, sizeof(buf));
		memcpy(buf, r->b + at + sizeof(size), size);
		kt_pipeline_record(p, buf, size, 1);
	}
}

static void recs_free(struct recs *r)
{
	free(r->b);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ agent streams */

/* A golden stream (freed by the caller) and its frames' offsets. */
static uint8_t *read_stream(enum kt_era era, size_t *n, size_t *offs)
{
	uint8_t *s = kt_test_read_vector(stream_file(era), n);
	frame_offsets(s, *n, offs);
	return s;
}

/* Pipelines A and B (B may be NULL), the spans they made and the records between them. */
static void free_all(struct kt_pipeline *a, struct kt_pipeline *b, struct got *g, struct recs *r)
{
	kt_pipeline_free(a);
	kt_pipeline_free(b);
	got_free(g);
	recs_free(r);
}

static void feed(struct kt_pipeline *p, const uint8_t *s, size_t from, size_t to, size_t step)
{
	for (size_t at = from; at < to;) {
		size_t len = step < to - at ? step : to - at;
		rec_data(p, CONN, at, s + at, len, 0, 1);
		at += len;
	}
}

static void expect_stream_spans(const struct got *g, enum kt_era era, long skip, size_t cut)
{
	const struct kt_span *s[MAX_GOT];
	size_t n = spans_of(g, PATH, s), j = 0;
	cr_assert_eq(n, g->n, "cut at %zu: spans of another path", cut);
	for (size_t i = 0; i < kt_test_n_labels; i++) {
		if ((long)i == skip)
			continue;
		cr_assert_lt(j, n, "cut at %zu: missing span %s", cut, kt_test_labels[i]);
		kt_expect_span(s[j++], kt_test_labels[i], era);
	}
	cr_assert_eq(j, n, "cut at %zu: %zu spans, expected %zu", cut, n, j);
	for (size_t i = 0; i < g->n; i++) {
		const struct kt_kv *pid =
			kt_kvlist_find(&g->r[i]->origin->attrs, "katatrace.hypervisor.pid");
		cr_assert_not_null(pid, "cut at %zu", cut);
		cr_assert_eq(pid->value.i, 4242, "cut at %zu: span %zu attributed elsewhere", cut, i);
	}
}

/* Bytes [0, cut) to A in chunks of step, A handed over to B, the rest to B. */
static void cut_once(const uint8_t *s, size_t n, size_t cut, size_t step, enum kt_era era)
{
	struct got g = { 0 };
	struct recs r = { 0 };
	struct kt_pipeline *a = collecting_pipeline(&g), *b = collecting_pipeline(&g);

	rec_conn(a, CONN, PATH);
	feed(a, s, 0, cut, step);
	cr_assert_eq(kt_pipeline_handover(a, capture, &r), 1);
	cr_assert_eq(kt_pipeline_conn_count(a), 0);
	cr_assert_eq(kt_pipeline_held(a), 0);
	replay(&r, b);
	feed(b, s, cut, n, step);
	rec_close(b, CONN, n);
	expect_stream_spans(&g, era, -1, cut);
	cr_assert_eq(KT_STAT_GET(frames_truncated), 0, "cut at %zu", cut);
	cr_assert_eq(KT_STAT_GET(resume_ignored), 0, "cut at %zu", cut);
	cr_assert_eq(KT_STAT_GET(gaps), 0, "cut at %zu", cut);
	free_all(a, b, &g, &r);
}

static bool near_boundary(const size_t *offs, size_t nf, size_t at)
{
	for (size_t i = 0; i < nf; i++)
		if (at + 12 >= offs[i] && at <= offs[i] + 12)
			return true;
	return false;
}

/*
 * Every byte of two frames and every byte near a frame boundary, and a
 * stride through the rest: header, payload and boundary cuts all round.
 */
static void cut_everywhere(enum kt_era era, size_t stride)
{
	size_t n, offs[32];
	uint8_t *s = kt_test_read_vector(stream_file(era), &n);
	size_t nf = frame_offsets(s, n, offs);
	cr_assert_eq(nf, kt_test_n_labels);
	for (size_t cut = 0; cut <= n; cut++) {
		bool dense = (cut >= offs[1] && cut < offs[3]) || near_boundary(offs, nf, cut);
		if (!dense && cut % stride)
			continue;
		cut_once(s, n, cut, 61 + cut % 200, era);
	}
	free(s);
}

Test(pipeline_handover, bincode_stream_cut_everywhere)
{
	cut_everywhere(KT_ERA_BINCODE, 1);
}

Test(pipeline_handover, json_stream_cut_everywhere)
{
	cut_everywhere(KT_ERA_JSON, 5);
}

/* A half-read frame larger than a record: the unfinished bytes go in several DATA records. */
Test(pipeline_handover, unfinished_bytes_over_several_records)
{
	size_t flen = 8 + 40000;
	uint8_t *f = calloc(1, flen);
	f[5] = (uint8_t)(40000 >> 16);
	f[6] = (uint8_t)(40000 >> 8);
	f[7] = (uint8_t)40000;
	struct got g = { 0 };
	struct recs r = { 0 };
	struct kt_pipeline *a = collecting_pipeline(&g), *b = collecting_pipeline(&g);
	rec_conn(a, CONN, PATH);
	feed(a, f, 0, 8 + 35000, 4096);
	kt_pipeline_handover(a, capture, &r);
	/* CONN, RESUME at 0, then the 35008 bytes in 3 DATA records */
	cr_assert_eq(r.count, 5);
	struct kt_rec_hdr h = rec_hdr(&r, 1);
	cr_expect_eq(h.type, KT_REC_RESUME);
	cr_expect_eq(h.offset, 0);
	cr_expect_eq(h.flags & KT_F_PRIOR_LOSS, 0);
	uint64_t off = 0;
	for (size_t i = 2; i < 5; i++) {
		h = rec_hdr(&r, i);
		cr_expect_eq(h.type, KT_REC_DATA);
		cr_expect_eq(h.offset, off);
		cr_expect_leq(h.len, KT_CHUNK_SIZE);
		off += h.len;
	}
	cr_expect_eq(off, 8 + 35000);
	replay(&r, b);
	cr_expect_eq(kt_pipeline_conn_count(b), 1);
	free_all(a, b, &g, &r);
	free(f);
}

/* Bytes waiting out of order at the cut are carried over, at their offsets. */
Test(pipeline_handover, pending_segments_carried_over)
{
	size_t n, offs[32];
	uint8_t *s = read_stream(KT_ERA_BINCODE, &n, offs);
	struct got g = { 0 };
	struct recs r = { 0 };
	struct kt_pipeline *a = collecting_pipeline(&g), *b = collecting_pipeline(&g);
	size_t cut = offs[5] + 30, far = cut + 200, far_end = far + 300;

	rec_conn(a, CONN, PATH);
	feed(a, s, 0, cut, 100);
	feed(a, s, far, far_end, 100); /* the hole [cut, far) waits */
	size_t before = g.n;
	kt_pipeline_handover(a, capture, &r);
	cr_assert_eq(g.n, before, "nothing decoded at the handover");
	size_t data_after = 0;
	for (size_t i = 0; i < r.count; i++) {
		struct kt_rec_hdr h = rec_hdr(&r, i);
		if (h.type == KT_REC_DATA && h.offset >= far)
			data_after += h.len;
	}
	cr_expect_eq(data_after, far_end - far);
	replay(&r, b);
	feed(b, s, cut, far, 77);
	feed(b, s, far_end, n, 77);
	rec_close(b, CONN, n);
	expect_stream_spans(&g, KT_ERA_BINCODE, -1, cut);
	cr_expect_eq(KT_STAT_GET(gaps), 0);
	free_all(a, b, &g, &r);
	free(s);
}

/* A remembered GAP range waiting beyond a hole goes over as a GAP record. */
Test(pipeline_handover, pending_gap_range_carried_over)
{
	size_t n, offs[32];
	uint8_t *s = read_stream(KT_ERA_JSON, &n, offs);
	struct got g = { 0 };
	struct recs r = { 0 };
	struct kt_pipeline *a = collecting_pipeline(&g), *b = collecting_pipeline(&g);
	const size_t victim = 6;
	size_t cut = offs[victim] + 8 + 10, hole = cut + 50;

	rec_conn(a, CONN, PATH);
	feed(a, s, 0, cut, 300);
	rec_gap(a, CONN, hole, 20); /* arrives before the bytes preceding it */
	kt_pipeline_handover(a, capture, &r);
	bool gap_seen = false;
	for (size_t i = 0; i < r.count; i++) {
		struct kt_rec_hdr h = rec_hdr(&r, i);
		if (h.type == KT_REC_GAP)
			gap_seen = h.offset == hole && h.len == 20;
	}
	cr_expect(gap_seen);
	replay(&r, b);
	feed(b, s, cut, hole, 300);
	feed(b, s, hole + 20, n, 300);
	rec_close(b, CONN, n);
	expect_stream_spans(&g, KT_ERA_JSON, (long)victim, cut);
	cr_expect_eq(KT_STAT_GET(resyncs), 1);
	free_all(a, b, &g, &r);
	free(s);
}

/*
 * Bytes lost inside a frame, the cut right after: the framer is
 * resynchronising, so B is told of the loss (PRIOR_LOSS) and
 * resynchronises itself. Exactly the damaged frame is lost, as without a cut.
 */
static void resync_at_cut(enum kt_era era)
{
	size_t n, offs[32];
	uint8_t *s = read_stream(era, &n, offs);
	struct got g = { 0 };
	struct recs r = { 0 };
	struct kt_pipeline *a = collecting_pipeline(&g), *b = collecting_pipeline(&g);
	const size_t victim = 4;
	size_t hole_at = offs[victim] + 8 + 40, hole_len = 30;

	rec_conn(a, CONN, PATH);
	feed(a, s, 0, hole_at, 97);
	rec_gap(a, CONN, hole_at, hole_len);
	kt_pipeline_handover(a, capture, &r);
	cr_assert_eq(r.count, 2, "CONN and RESUME only");
	struct kt_rec_hdr h = rec_hdr(&r, 1);
	cr_expect_eq(h.type, KT_REC_RESUME);
	cr_expect_eq(h.offset, hole_at + hole_len);
	cr_expect_eq(h.flags & KT_F_PRIOR_LOSS, KT_F_PRIOR_LOSS);
	replay(&r, b);
	feed(b, s, hole_at + hole_len, n, 97);
	rec_close(b, CONN, n);
	expect_stream_spans(&g, era, (long)victim, hole_at);
	cr_expect_eq(KT_STAT_GET(resyncs), 1);
	cr_expect_eq(KT_STAT_GET(decode_errors), 0);
	free_all(a, b, &g, &r);
	free(s);
}

Test(pipeline_handover, resynchronising_json_protocol)
{
	resync_at_cut(KT_ERA_JSON);
}

Test(pipeline_handover, resynchronising_bincode_protocol)
{
	resync_at_cut(KT_ERA_BINCODE);
}

/* A failed takeover rolls back: the records fed to the pipeline that made them. */
Test(pipeline_handover, records_fed_back_undo_the_handover)
{
	size_t n, offs[32];
	uint8_t *s = read_stream(KT_ERA_JSON, &n, offs);
	struct got g = { 0 };
	struct recs r = { 0 };
	struct kt_pipeline *a = collecting_pipeline(&g);
	size_t cut = offs[7] + 3;

	rec_conn(a, CONN, PATH);
	feed(a, s, 0, cut, 500);
	cr_assert_eq(kt_pipeline_handover(a, capture, &r), 1);
	replay(&r, a);
	cr_assert_eq(kt_pipeline_conn_count(a), 1);
	feed(a, s, cut, n, 500);
	rec_close(a, CONN, n);
	expect_stream_spans(&g, KT_ERA_JSON, -1, cut);
	free_all(a, NULL, &g, &r);
	free(s);
}

/* ------------------------------------------------------------ nothing to hand over */

Test(pipeline_handover, no_connections_emit_nothing)
{
	struct got g = { 0 };
	struct recs r = { 0 };
	struct kt_pipeline *a = collecting_pipeline(&g);
	cr_expect_eq(kt_pipeline_handover(a, capture, &r), 0);
	cr_expect_eq(r.count, 0);

	/* a connection fed directly stays where it is */
	struct kt_conn_info info = { .id = { .endpoint = 99 }, .path = "/direct_10240",
				     .transport = "hybrid-vsock" };
	struct kt_conn *c = kt_pipeline_open(a, &info);
	cr_assert_not_null(c);
	cr_expect_eq(kt_pipeline_handover(a, capture, &r), 0);
	cr_expect_eq(r.count, 0);
	cr_expect_eq(kt_pipeline_conn_count(a), 1);
	kt_pipeline_close(a, c);
	kt_pipeline_free(a);
	got_free(&g);
}

/* ------------------------------------------------------------ hostile RESUME records */

static void resume(struct kt_pipeline *p, uint64_t conn, uint8_t dir, uint64_t off,
		   uint32_t flags)
{
	struct kt_rec_hdr *h = hdr_for(conn, KT_REC_RESUME);
	h->dir = dir;
	h->offset = off;
	h->flags = flags;
	kt_pipeline_record(p, recbuf, sizeof(*h), 1);
}

Test(pipeline_handover, hostile_resume_records_ignored_and_counted)
{
	static const uint8_t junk[64] = { 1, 2, 3 };
	struct got g = { 0 };
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.max_conns = 3;
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &g });
	cr_assert_not_null(p);

	resume(p, 1, KT_DIR_TO_SERVER, 0, 0); /* unknown connection */
	cr_expect_eq(KT_STAT_GET(resume_ignored), 1);
	cr_expect_eq(kt_pipeline_conn_count(p), 0, "a RESUME makes no connection");

	rec_conn(p, 2, "/a_10240");
	rec_data(p, 2, 0, junk, sizeof(junk), 0, 1);
	resume(p, 2, KT_DIR_TO_SERVER, 5, 0); /* after data */
	cr_expect_eq(KT_STAT_GET(resume_ignored), 2);
	resume(p, 2, 7, 0, 0); /* no such direction */
	cr_expect_eq(KT_STAT_GET(resume_ignored), 3);
	resume(p, 2, KT_DIR_TO_CLIENT, 0, 0); /* one-way protocol: no answers kept */
	cr_expect_eq(KT_STAT_GET(resume_ignored), 4);

	rec_conn(p, 3, "/b_10240");
	rec_data(p, 3, 100, junk, 10, 0, 1); /* pending: waits for [0, 100) */
	resume(p, 3, KT_DIR_TO_SERVER, 0, 0);
	cr_expect_eq(KT_STAT_GET(resume_ignored), 5);

	/* huge offsets: the stream ends at 2^64 */
	rec_conn(p, 4, "/c_10240");
	resume(p, 4, KT_DIR_TO_SERVER, UINT64_MAX - 3, KT_F_PRIOR_LOSS);
	cr_expect_eq(KT_STAT_GET(resume_ignored), 5, "applied");
	rec_data(p, 4, UINT64_MAX - 3, junk, sizeof(junk), 0, 1);
	resume(p, 4, KT_DIR_TO_SERVER, 0, 0);
	cr_expect_eq(KT_STAT_GET(resume_ignored), 6);

	/* a refused connection */
	rec_conn(p, 5, "/d_10240");
	cr_expect_eq(KT_STAT_GET(conns_refused), 1);
	resume(p, 5, KT_DIR_TO_SERVER, 0, 0);
	cr_expect_eq(KT_STAT_GET(resume_ignored), 7);

	/* a connection fed directly */
	rec_close(p, 2, sizeof(junk));
	struct kt_conn_info info = { .id = { .endpoint = 6, .transport = KT_TRANSPORT_UNIX },
				     .path = "/e_10240", .transport = "hybrid-vsock" };
	struct kt_conn *c = kt_pipeline_open(p, &info);
	cr_assert_not_null(c);
	resume(p, 6, KT_DIR_TO_SERVER, 0, 0);
	cr_expect_eq(KT_STAT_GET(resume_ignored), 8);
	kt_pipeline_close(p, c);

	/* anything at all */
	for (int i = 0; i < 5000; i++) {
		uint64_t conn = 2 + rnd() % 4;
		if (rnd() % 8 == 0)
			rec_conn(p, conn, "/f_10240");
		struct kt_rec_hdr *h = hdr_for(conn, KT_REC_RESUME);
		h->dir = (uint8_t)rnd();
		h->flags = (uint32_t)rnd();
		h->offset = rnd() % 2 ? (uint64_t)rnd() << 32 | (uint64_t)rnd() : rnd() % 64;
		h->len = (uint32_t)rnd();
		kt_pipeline_record(p, recbuf, sizeof(*h) + rnd() % 64, 1);
		if (rnd() % 4 == 0)
			rec_data(p, conn, rnd() % 128, junk, 1 + rnd() % 63, (uint32_t)rnd() & 1, 1);
	}
	kt_pipeline_free(p);
	got_free(&g);
}

/* ------------------------------------------------------------ ttrpc, both ways */

#define N_CALLS 6
#define TTRPC_HDR 10

struct piece {
	uint8_t dir;
	uint64_t off;
	const uint8_t *p;
	size_t n;
	size_t end_of_call; /* the request (dir 0) or response (dir 1) of this call ends here */
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void ttrpc_rec(struct kt_pipeline *p, uint32_t type, uint8_t dir, uint64_t off,
		      const uint8_t *d, size_t n)
{
	struct kt_rec_hdr *h = hdr_for(0, type);
	h->conn.endpoint = (uint64_t)5 << 32 | 1024;
	h->conn.port = KT_VSOCK_GUEST_LISTENS | 49152;
	h->conn.transport = KT_TRANSPORT_VSOCK;
	h->dir = dir;
	h->offset = off;
	h->len = (uint32_t)n;
	if (n)
		memcpy(h + 1, d, n);
	size_t size = type == KT_REC_CONN ? sizeof(struct kt_rec_conn) : sizeof(*h) + n;
	kt_pipeline_record(p, recbuf, size, 1);
}

static size_t count_ttrpc_spans(const struct got *g)
{
	size_t k = 0;
	for (size_t i = 0; i < g->n; i++)
		k += kt_str_eq(g->r[i]->span.name, "ttrpc.CreateContainer");
	return k;
}

/*
 * N_CALLS calls, each request then its response, both directions cut at
 * every byte: a call is reported exactly once, unless its request was whole
 * before the cut and its response was not (the open call stays behind,
 * counted in handover_calls_dropped).
 */
Test(pipeline_handover, ttrpc_both_ways_cut_everywhere)
{
	size_t nq, ns;
	uint8_t *rq = kt_test_read_vector("ttrpc_request_createcontainer.bin", &nq);
	uint8_t *ok = kt_test_read_vector("ttrpc_response_ok.bin", &ns);
	static uint8_t req[2][16384];
	size_t len[2] = { 0, 0 };
	struct piece pc[2 * N_CALLS];
	size_t total = 0;
	for (uint32_t i = 0; i < N_CALLS; i++) {
		const uint8_t *v[2] = { rq, ok };
		size_t vn[2] = { nq, ns };
		for (uint8_t d = 0; d < 2; d++) {
			cr_assert_leq(len[d] + vn[d], sizeof(req[d]));
			memcpy(req[d] + len[d], v[d], vn[d]);
			put32(req[d] + len[d] + 4, 2 * i + 1);
			total += vn[d];
			pc[2 * i + d] = (struct piece){ d, len[d], req[d] + len[d], vn[d], total };
			len[d] += vn[d];
		}
	}
	for (size_t cut = 0; cut <= total; cut++) {
		struct got g = { 0 };
		struct recs r = { 0 };
		struct kt_pipeline *a = collecting_pipeline(&g), *b = collecting_pipeline(&g);
		uint64_t dropped0 = KT_STAT_GET(handover_calls_dropped);
		size_t lost = 0, at = 0;
		ttrpc_rec(a, KT_REC_CONN, KT_DIR_TO_SERVER, 0, NULL, 0);
		for (size_t i = 0; i < 2 * N_CALLS; i++) {
			const struct piece *q = &pc[i];
			size_t in_a = cut > at ? (cut - at < q->n ? cut - at : q->n) : 0;
			for (size_t k = 0; k < q->n; k += 7) { /* chunks of 7 bytes */
				size_t m = q->n - k < 7 ? q->n - k : 7;
				size_t split = k < in_a && in_a < k + m ? in_a - k : 0;
				if (split) {
					ttrpc_rec(a, KT_REC_DATA, q->dir, q->off + k, q->p + k, split);
					if (!r.count)
						kt_pipeline_handover(a, capture, &r), replay(&r, b);
					ttrpc_rec(b, KT_REC_DATA, q->dir, q->off + k + split,
						  q->p + k + split, m - split);
					continue;
				}
				if (k + m <= in_a) {
					ttrpc_rec(a, KT_REC_DATA, q->dir, q->off + k, q->p + k, m);
				} else {
					if (!r.count)
						kt_pipeline_handover(a, capture, &r), replay(&r, b);
					ttrpc_rec(b, KT_REC_DATA, q->dir, q->off + k, q->p + k, m);
				}
			}
			/* a request whole before the cut whose response is not */
			if (q->dir == 1 && pc[i - 1].end_of_call <= cut && q->end_of_call > cut)
				lost++;
			at += q->n;
		}
		if (!r.count)
			kt_pipeline_handover(a, capture, &r), replay(&r, b);
		ttrpc_rec(b, KT_REC_CLOSE, KT_DIR_TO_SERVER, len[0], NULL, 0);
		ttrpc_rec(b, KT_REC_CLOSE, KT_DIR_TO_CLIENT, len[1], NULL, 0);
		cr_assert_eq(count_ttrpc_spans(&g), N_CALLS - lost, "cut at %zu", cut);
		cr_assert_eq(g.n, N_CALLS - lost, "cut at %zu: calls reported without answer", cut);
		cr_assert_eq(KT_STAT_GET(handover_calls_dropped) - dropped0, lost, "cut at %zu", cut);
		cr_assert_eq(kt_pipeline_conn_count(b), 0);
		free_all(a, b, &g, &r);
	}
	free(rq);
	free(ok);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The capture-to-span path with the real framer, reassembler and decoders:
 * the golden multi-frame streams of both eras, fed as ring buffer records
 * (split, shuffled, duplicated, lost, interleaved with hostile connections)
 * must yield exactly the expected spans, and damage must stay local.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "expect_span.h"
#include "agent/framer.h"
#include "stream/pipeline.h"
#include "pipeline_records.h"
#include "base/stats.h"
#include "bpf/stream_record.h"
#include "test_rnd.h"

static void expect_all_labels(const struct kt_span **s, size_t n, enum kt_era era, long skip)
{
	size_t j = 0;
	for (size_t i = 0; i < kt_test_n_labels; i++) {
		if ((long)i == skip)
			continue;
		cr_assert_lt(j, n, "missing span %s", kt_test_labels[i]);
		kt_expect_span(s[j++], kt_test_labels[i], era);
	}
	cr_expect_eq(j, n, "%zu spans, expected %zu", n, j);
}

/* ------------------------------------------------------------ framer split test */

struct frames {
	size_t n;
	size_t len[32];
	uint8_t *data[32];
};

static void on_frame(void *ctx, const uint8_t *p, size_t n)
{
	struct frames *f = ctx;
	cr_assert_lt(f->n, 32);
	f->data[f->n] = malloc(n ? n : 1);
	memcpy(f->data[f->n], p, n);
	f->len[f->n++] = n;
}

static void on_oversize(void *ctx, uint64_t n)
{
	(void)ctx;
	cr_assert(false, "oversize %llu", (unsigned long long)n);
}

static void on_resynced(void *ctx, uint64_t n)
{
	(void)ctx;
	cr_assert(false, "resynced after %llu", (unsigned long long)n);
}

static bool on_validate(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return true;
}

static const struct kt_framer_ops fops = { on_frame, on_oversize, on_resynced, on_validate };

static void frames_free(struct frames *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->data[i]);
	f->n = 0;
}

static void split_everywhere(enum kt_era era)
{
	size_t n;
	uint8_t *s = kt_test_read_vector(stream_file(era), &n);
	struct frames ref = { 0 }, f = { 0 };
	struct kt_framer fr;

	kt_framer_init(&fr, KT_DEFAULT_MAX_FRAME, &fops, &ref);
	kt_framer_push(&fr, s, n);
	cr_assert_eq(kt_framer_finish(&fr), 0);
	kt_framer_free(&fr);
	cr_assert_eq(ref.n, kt_test_n_labels);

	/* Every split point gives byte-identical frames ... */
	for (size_t k = 0; k <= n; k++) {
		kt_framer_init(&fr, KT_DEFAULT_MAX_FRAME, &fops, &f);
		kt_framer_push(&fr, s, k);
		kt_framer_push(&fr, s + k, n - k);
		cr_assert_eq(kt_framer_finish(&fr), 0);
		kt_framer_free(&fr);
		cr_assert_eq(f.n, ref.n, "split at %zu", k);
		for (size_t i = 0; i < f.n; i++)
			cr_assert(f.len[i] == ref.len[i] && !memcmp(f.data[i], ref.data[i], f.len[i]),
				  "split at %zu: frame %zu differs", k, i);
		frames_free(&f);
	}
	/* ... and those frames decode to exactly the expected spans. */
	for (size_t i = 0; i < ref.n; i++) {
		struct kt_arena a;
		struct kt_span sp;
		struct kt_decode_error err;
		kt_arena_init(&a, 0);
		cr_assert_eq(kt_decode_span(KT_FORMAT_AUTO, ref.data[i], ref.len[i], &a, &sp, NULL,
					    &err),
			     0, "%s: %s", kt_test_labels[i], err.msg);
		kt_expect_span(&sp, kt_test_labels[i], era);
		kt_arena_free(&a);
	}
	frames_free(&ref);
	free(s);
}

Test(pipeline, json_stream_split_at_every_byte)
{
	split_everywhere(KT_ERA_JSON);
}

Test(pipeline, bincode_stream_split_at_every_byte)
{
	split_everywhere(KT_ERA_BINCODE);
}

/* ------------------------------------------------------------ record path */

struct chunk {
	uint64_t conn, off;
	const uint8_t *p;
	size_t n;
};

/* Both streams on two connections, cut in random chunks, shuffled within a
 * window, 10% duplicated: every span of both, in order, exact. */
Test(pipeline, records_shuffled_duplicated_two_connections)
{
	size_t nj, nb;
	uint8_t *sj = kt_test_read_vector(stream_file(KT_ERA_JSON), &nj);
	uint8_t *sb = kt_test_read_vector(stream_file(KT_ERA_BINCODE), &nb);
	struct chunk *c = calloc(nj + nb, sizeof(*c));
	size_t nc = 0;
	struct got g = { 0 };
	struct kt_pipeline *p = collecting_pipeline(&g);

	rec_conn(p, 11, "/run/vc/vm/sbj/clh.sock_10240");
	rec_conn(p, 22, "/run/kata/sbb/root/kata.hvsock_10240");
	for (size_t oj = 0, ob = 0; oj < nj || ob < nb;) {
		bool j = ob >= nb || (oj < nj && rnd() % 2);
		size_t len = 1 + rnd() % 700;
		if (j) {
			len = len > nj - oj ? nj - oj : len;
			c[nc++] = (struct chunk){ 11, oj, sj + oj, len };
			oj += len;
		} else {
			len = len > nb - ob ? nb - ob : len;
			c[nc++] = (struct chunk){ 22, ob, sb + ob, len };
			ob += len;
		}
	}
	for (size_t i = 0; i < nc; i++) { /* local shuffle: window of 8 */
		size_t k = i + rnd() % 8;
		if (k < nc) {
			struct chunk t = c[i];
			c[i] = c[k];
			c[k] = t;
		}
	}
	for (size_t i = 0; i < nc; i++) {
		rec_data(p, c[i].conn, c[i].off, c[i].p, c[i].n, 0, 1);
		if (rnd() % 10 == 0)
			rec_data(p, c[i].conn, c[i].off, c[i].p, c[i].n, 0, 1);
	}
	rec_close(p, 11, nj);
	rec_close(p, 22, nb);
	cr_expect_eq(kt_pipeline_conn_count(p), 0);

	const struct kt_span *s[MAX_GOT];
	expect_all_labels(s, spans_of(&g, "/run/vc/vm/sbj/clh.sock_10240", s), KT_ERA_JSON, -1);
	expect_all_labels(s, spans_of(&g, "/run/kata/sbb/root/kata.hvsock_10240", s),
			  KT_ERA_BINCODE, -1);
	cr_expect_eq(KT_STAT_GET(gaps), 0);
	cr_expect_eq(KT_STAT_GET(decode_errors), 0);

	/* The origin carries the sandbox and the writer. */
	const struct kt_origin *o = g.r[0]->origin;
	cr_assert_not_null(o);
	cr_expect_not_null(kt_kvlist_find(&o->attrs, "katatrace.sandbox.id"));
	const struct kt_kv *pid = kt_kvlist_find(&o->attrs, "katatrace.hypervisor.pid");
	cr_assert_not_null(pid);
	cr_expect_eq(pid->value.i, 4242);

	kt_pipeline_free(p);
	got_free(&g);
	free(c);
	free(sj);
	free(sb);
}

Test(pipeline, exactly_max_conns_connections)
{
	/* max_conns connections are held; one more is refused, the older ones stay. */
	struct got g = { 0 };
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.max_conns = 3;
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &g });
	cr_assert_not_null(p);
	char path[64];
	for (uint64_t c = 1; c <= 3; c++) {
		snprintf(path, sizeof(path), "/tmp/c%llu_10240", (unsigned long long)c);
		rec_conn(p, c, path);
		cr_expect_eq(kt_pipeline_conn_count(p), c);
	}
	rec_conn(p, 4, "/tmp/c4_10240");
	cr_expect_eq(kt_pipeline_conn_count(p), 3, "max_conns + 1 connections held");
	rec_conn(p, 5, "/tmp/c5_10240");
	cr_expect_eq(kt_pipeline_conn_count(p), 3);
	cr_expect_eq(KT_STAT_GET(conns_refused), 2);
	rec_close(p, 4, 0);
	rec_close(p, 5, 0);
	cr_expect_eq(kt_pipeline_conn_count(p), 3, "the refused ones were not followed");
	for (uint64_t c = 1; c <= 3; c++)
		rec_close(p, c, 0);
	cr_expect_eq(kt_pipeline_conn_count(p), 0);
	kt_pipeline_free(p);
	got_free(&g);
}

/* Bytes in the middle of one frame never captured (GAP record): that frame
 * is dropped, every other span arrives intact. */
static void gap_in_frame(enum kt_era era, bool prior_loss_flag)
{
	size_t n, offs[32];
	uint8_t *s = kt_test_read_vector(stream_file(era), &n);
	size_t nf = frame_offsets(s, n, offs);
	struct got g = { 0 };
	struct kt_pipeline *p = collecting_pipeline(&g);
	const size_t victim = 4;
	size_t hole_at = offs[victim] + 8 + 40, hole_len = 30;

	cr_assert_eq(nf, kt_test_n_labels);
	rec_conn(p, 7, "/tmp/x_10240");
	for (size_t at = 0; at < n;) {
		size_t len = 1 + rnd() % 300;
		if (at < hole_at && at + len > hole_at)
			len = hole_at - at;
		if (at == hole_at) {
			if (!prior_loss_flag)
				rec_gap(p, 7, at, hole_len);
			at += hole_len;
			size_t l2 = 1 + rnd() % 300;
			l2 = l2 > n - at ? n - at : l2;
			rec_data(p, 7, at, s + at, l2, prior_loss_flag ? KT_F_PRIOR_LOSS : 0, 1);
			at += l2;
			continue;
		}
		len = len > n - at ? n - at : len;
		rec_data(p, 7, at, s + at, len, 0, 1);
		at += len;
	}
	rec_close(p, 7, n);

	const struct kt_span *sp[MAX_GOT];
	expect_all_labels(sp, spans_of(&g, "/tmp/x_10240", sp), era, (long)victim);
	cr_expect_eq(KT_STAT_GET(gaps), 1);
	cr_expect_eq(KT_STAT_GET(gap_bytes), hole_len);
	cr_expect_eq(KT_STAT_GET(resyncs), 1);
	cr_expect_eq(KT_STAT_GET(decode_errors), 0);
	kt_pipeline_free(p);
	got_free(&g);
	free(s);
}

Test(pipeline, gap_record_drops_only_the_damaged_json_frame)
{
	gap_in_frame(KT_ERA_JSON, false);
}

Test(pipeline, gap_record_drops_only_the_damaged_bincode_frame)
{
	gap_in_frame(KT_ERA_BINCODE, false);
}

Test(pipeline, lost_record_flagged_by_the_next_one)
{
	gap_in_frame(KT_ERA_JSON, true);
}

/* A hole with no proof of loss waits for the reordering window, then is
 * declared by the tick. */
Test(pipeline, hole_declared_after_timeout)
{
	size_t n, offs[32];
	uint8_t *s = kt_test_read_vector(stream_file(KT_ERA_BINCODE), &n);
	frame_offsets(s, n, offs);
	struct got g = { 0 };
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.reasm.hole_timeout_ns = 1000;
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &g });

	rec_conn(p, 9, "/tmp/y_10240");
	size_t cut = offs[2] + 20; /* bytes [cut, cut + 10) never arrive */
	rec_data(p, 9, 0, s, cut, 0, 100);
	rec_data(p, 9, cut + 10, s + cut + 10, n - cut - 10, 0, 100);
	cr_expect_eq(g.n, 2, "frames before the hole");
	kt_pipeline_tick(p, 500);
	cr_expect_eq(KT_STAT_GET(gaps), 0, "not yet overdue");
	kt_pipeline_tick(p, 2000);
	cr_expect_eq(KT_STAT_GET(gaps), 1);
	cr_expect_eq(g.n, kt_test_n_labels - 1, "every frame but the damaged one");
	kt_pipeline_free(p);
	got_free(&g);
	free(s);
}

/* A hostile connection (garbage frame, then a 2^63 header) next to a good
 * one: the good one is untouched; the hostile one keeps its good frames up
 * to the oversize header and nothing after it. */
Test(pipeline, hostile_connection_is_isolated)
{
	size_t nj, nw, nr;
	uint8_t *sj = kt_test_read_vector(stream_file(KT_ERA_JSON), &nj);
	uint8_t *w = kt_test_read_vector("framed_otel017_json_worked.bin", &nw);
	uint8_t *r = kt_test_read_vector("framed_otel014_bincode_root.bin", &nr);
	uint8_t bad[8 + 200], over[8] = { 0x80 };
	bad[7] = 200;
	for (size_t i = 8; i < sizeof(bad); i++)
		bad[i] = (uint8_t)rnd();
	const struct {
		const uint8_t *p;
		size_t n;
	} parts[] = { { w, nw }, { bad, sizeof(bad) }, { r, nr }, { over, 8 }, { w, nw } };
	struct got g = { 0 };
	struct kt_pipeline *p = collecting_pipeline(&g);

	rec_conn(p, 1, "/good_10240");
	rec_conn(p, 2, "/evil_10240");
	uint64_t off2 = 0;
	size_t oj = 0;
	for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
		rec_data(p, 2, off2, parts[k].p, parts[k].n, 0, 1);
		off2 += parts[k].n;
		size_t l = nj / 5 + 1;
		l = l > nj - oj ? nj - oj : l;
		rec_data(p, 1, oj, sj + oj, l, 0, 1);
		oj += l;
	}
	if (oj < nj)
		rec_data(p, 1, oj, sj + oj, nj - oj, 0, 1);
	rec_close(p, 1, nj);
	rec_close(p, 2, off2);

	const struct kt_span *s[MAX_GOT];
	expect_all_labels(s, spans_of(&g, "/good_10240", s), KT_ERA_JSON, -1);
	size_t ne = spans_of(&g, "/evil_10240", s);
	cr_assert_eq(ne, 2);
	kt_expect_span(s[0], "worked", KT_ERA_JSON);
	kt_expect_span(s[1], "root", KT_ERA_BINCODE);
	cr_expect_eq(KT_STAT_GET(decode_errors), 1);
	/* random bytes lack the JSON era's prefix: the bincode decoder refused them */
	cr_expect_eq(kt_stats.decode_errors_by[KT_DFMT_AGENT_BINCODE], 1);
	cr_expect_eq(KT_STAT_GET(frames_oversize), 1);
	kt_pipeline_free(p);
	got_free(&g);
	free(sj);
	free(w);
	free(r);
}

/* Capture that begins inside a frame: skip to the next provable frame. */
Test(pipeline, capture_starting_mid_stream)
{
	size_t n, offs[32];
	uint8_t *s = kt_test_read_vector(stream_file(KT_ERA_JSON), &n);
	frame_offsets(s, n, offs);
	struct got g = { 0 };
	struct kt_pipeline *p = collecting_pipeline(&g);
	size_t start = offs[3] + 8; /* first byte seen: a payload, not a header */

	rec_data(p, 5, 0, s + start, n - start, 0, 1);
	rec_close(p, 5, n - start);
	cr_expect_eq(g.n, kt_test_n_labels - 4);
	for (size_t i = 0; i < g.n; i++)
		kt_expect_span(&g.r[i]->span, kt_test_labels[i + 4], KT_ERA_JSON);
	cr_expect_eq(KT_STAT_GET(frames_oversize), 0);
	kt_pipeline_free(p);
	got_free(&g);
	free(s);
}

/* A stream that ends inside a frame: the complete frames count, the rest is
 * reported as truncated, nothing corrupt is emitted. */
Test(pipeline, end_of_stream_inside_a_frame)
{
	size_t n, offs[32];
	uint8_t *s = kt_test_read_vector(stream_file(KT_ERA_BINCODE), &n);
	frame_offsets(s, n, offs);
	struct got g = { 0 };
	struct kt_pipeline *p = collecting_pipeline(&g);
	size_t end = offs[10] + 50;

	rec_data(p, 6, 0, s, end, 0, 1);
	rec_close(p, 6, end);
	cr_expect_eq(g.n, 10);
	cr_expect_eq(KT_STAT_GET(frames_truncated), 1);
	kt_pipeline_free(p);
	got_free(&g);
	free(s);
}

/* ------------------------------------------------------------ vsock */

static const struct kt_kv *origin_attr(const struct kt_span_record *r, const char *key)
{
	return r->origin ? kt_kvlist_find(&r->origin->attrs, key) : NULL;
}

/* vsock records (guest CID 3, guest port 1027 -> host port 10240): the
 * stream decodes as any other, and the resource names the CID and port. */
Test(pipeline, vsock_connection)
{
	size_t n;
	uint8_t *s = kt_test_read_vector(stream_file(KT_ERA_BINCODE), &n);
	struct got g = { 0 };
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.proc_root = "/nonexistent"; /* no process to find behind the CID */
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &g });
	uint64_t a = (uint64_t)3 << 32 | 1027;
	struct kt_rec_hdr *h;

	for (size_t off = 0; off < n;) {
		size_t len = 1 + rnd() % 4000;
		len = len > n - off ? n - off : len;
		h = hdr_for(0, KT_REC_DATA);
		h->conn.endpoint = a;
		h->conn.port = 10240;
		h->conn.transport = KT_TRANSPORT_VSOCK;
		memcpy(h->comm, "vhost-4242", 10);
		h->offset = off;
		h->len = (uint32_t)len;
		memcpy(h + 1, s + off, len);
		kt_pipeline_record(p, recbuf, sizeof(*h) + len, 1);
		off += len;
	}
	h = hdr_for(0, KT_REC_CLOSE);
	h->conn.endpoint = a;
	h->conn.port = 10240;
	h->conn.transport = KT_TRANSPORT_VSOCK;
	kt_pipeline_record(p, recbuf, sizeof(*h), 1);
	cr_expect_eq(kt_pipeline_conn_count(p), 0);

	const struct kt_span *sp[MAX_GOT];
	for (size_t i = 0; i < g.n; i++)
		sp[i] = &g.r[i]->span;
	expect_all_labels(sp, g.n, KT_ERA_BINCODE, -1);
	const struct kt_kv *kv = origin_attr(g.r[0], "katatrace.transport");
	cr_assert_not_null(kv);
	cr_expect(kt_str_eq(kv->value.s, "vsock"));
	kv = origin_attr(g.r[0], "katatrace.vsock.cid");
	cr_assert_not_null(kv);
	cr_expect_eq(kv->value.i, 3);
	kv = origin_attr(g.r[0], "katatrace.vsock.port");
	cr_assert_not_null(kv);
	cr_expect_eq(kv->value.i, 10240);
	/* the vhost worker's name gives the QEMU pid; without /proc, nothing else */
	kv = origin_attr(g.r[0], "katatrace.hypervisor.pid");
	cr_assert_not_null(kv);
	cr_expect_eq(kv->value.i, 4242);
	cr_expect_null(origin_attr(g.r[0], "katatrace.hypervisor.comm"));
	cr_expect_null(origin_attr(g.r[0], "katatrace.sandbox.id"));
	kt_pipeline_free(p);
	got_free(&g);
	free(s);
}

/* Records taken at the reading socket carry the reader's identity, which
 * must not be reported as the sending hypervisor. */
Test(pipeline, reader_task_is_not_the_sender)
{
	size_t n;
	uint8_t *w = kt_test_read_vector("framed_otel017_json_worked.bin", &n);
	struct got g = { 0 };
	struct kt_pipeline *p = collecting_pipeline(&g);

	rec_data(p, 3, 0, w, n, KT_F_TASK_IS_READER, 1);
	rec_close(p, 3, n);
	cr_assert_eq(g.n, 1);
	cr_expect_null(origin_attr(g.r[0], "katatrace.hypervisor.pid"));
	cr_expect_null(origin_attr(g.r[0], "katatrace.hypervisor.comm"));
	kt_pipeline_free(p);
	got_free(&g);
	free(w);
}

/* First sight of a connection in the middle of its stream (no CONN record):
 * the bytes before are not a hole to wait for or report. */
Test(pipeline, first_record_mid_stream_is_not_a_gap)
{
	size_t n, offs[32];
	uint8_t *s = kt_test_read_vector(stream_file(KT_ERA_BINCODE), &n);
	frame_offsets(s, n, offs);
	struct got g = { 0 };
	struct kt_pipeline *p = collecting_pipeline(&g);

	rec_data(p, 8, offs[5], s + offs[5], n - offs[5], 0, 1);
	rec_close(p, 8, n);
	cr_expect_eq(g.n, kt_test_n_labels - 5);
	cr_expect_eq(KT_STAT_GET(gaps), 0);
	cr_expect_eq(KT_STAT_GET(resyncs), 0);
	kt_pipeline_free(p);
	got_free(&g);
	free(s);
}

/* A connection whose end is never seen is finished after the idle timeout;
 * if it speaks again it is simply a new entry. */
Test(pipeline, idle_connections_are_collected)
{
	size_t n, offs[32];
	uint8_t *s = kt_test_read_vector(stream_file(KT_ERA_JSON), &n);
	frame_offsets(s, n, offs);
	struct got g = { 0 };
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.idle_timeout_ns = 1000;
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &g });

	rec_conn(p, 4, "/x_10240");
	rec_data(p, 4, 0, s, offs[10], 0, 100);
	cr_expect_eq(g.n, 10);
	kt_pipeline_tick(p, 600);
	cr_expect_eq(kt_pipeline_conn_count(p), 1, "not idle long enough");
	kt_pipeline_tick(p, 2000);
	cr_expect_eq(kt_pipeline_conn_count(p), 0);
	/* the agent sends its next frames on the same connection */
	rec_data(p, 4, offs[10], s + offs[10], n - offs[10], 0, 3000);
	rec_close(p, 4, n);
	cr_expect_eq(g.n, kt_test_n_labels);
	for (size_t i = 0; i < g.n; i++)
		kt_expect_span(&g.r[i]->span, kt_test_labels[i], KT_ERA_JSON);
	cr_expect_eq(KT_STAT_GET(gaps), 0);
	kt_pipeline_free(p);
	got_free(&g);
	free(s);
}

/* ------------------------------------------------------------ discovery attribution */

#include "sandbox/sandbox_registry.h"

static struct kt_sandbox_meta meta_for(const char *id, uint32_t cid)
{
	struct kt_sandbox_meta m;
	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%s", id);
	snprintf(m.hypervisor, sizeof(m.hypervisor), "qemu");
	snprintf(m.pod_name, sizeof(m.pod_name), "web-0");
	snprintf(m.pod_namespace, sizeof(m.pod_namespace), "shop");
	snprintf(m.pod_uid, sizeof(m.pod_uid), "1f0e-uid");
	m.guest_cid = cid;
	m.hypervisor_pid = 777;
	return m;
}

static void send_stream(struct kt_pipeline *p, uint64_t a, const uint8_t *s, size_t from, size_t to)
{
	for (size_t off = from; off < to;) {
		size_t len = to - off > 3000 ? 3000 : to - off;
		struct kt_rec_hdr *h = hdr_for(0, KT_REC_DATA);
		h->conn.endpoint = a;
		h->conn.port = 10240;
		h->conn.transport = KT_TRANSPORT_VSOCK;
		h->offset = off;
		h->len = (uint32_t)len;
		memcpy(h + 1, s + off, len);
		kt_pipeline_record(p, recbuf, sizeof(*h) + len, 1);
		off += len;
	}
}

static void expect_str_attr(const struct kt_span_record *r, const char *key, const char *want)
{
	const struct kt_kv *kv = origin_attr(r, key);
	if (!want) {
		cr_expect_null(kv, "%s present", key);
		return;
	}
	cr_assert_not_null(kv, "%s missing", key);
	cr_expect(kt_str_eq(kv->value.s, want), "%s = %.*s, want %s", key, (int)kv->value.s.len,
		  kv->value.s.ptr, want);
}

/* A vsock connection's CID names the sandbox and pod discovery reported,
 * and what discovery learns later reaches the connection's next spans. */
Test(pipeline, registry_attributes_by_cid_and_later_updates)
{
	size_t n;
	uint8_t *s = kt_test_read_vector(stream_file(KT_ERA_JSON), &n);
	size_t offs[64];
	size_t frames = frame_offsets(s, n, offs);
	cr_assert_gt(frames, 2);
	struct got g = { 0 };
	struct kt_sandbox_registry *reg = kt_registry_new(1000);
	struct kt_sandbox_meta m = meta_for("sb-cid-9", 9);
	cr_assert_eq(kt_registry_put(reg, &m), 0);
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.proc_root = "/nonexistent";
	cfg.run_root = "/nonexistent";
	cfg.registry = reg;
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &g });
	uint64_t a = (uint64_t)9 << 32 | 2000;

	send_stream(p, a, s, 0, offs[2]); /* two frames */
	cr_assert_eq(g.n, 2);
	expect_str_attr(g.r[0], "katatrace.sandbox.id", "sb-cid-9");
	expect_str_attr(g.r[0], "k8s.pod.name", "web-0");
	expect_str_attr(g.r[0], "k8s.namespace.name", "shop");
	expect_str_attr(g.r[0], "k8s.pod.uid", "1f0e-uid");
	expect_str_attr(g.r[0], "katatrace.hypervisor.name", "qemu");
	expect_str_attr(g.r[0], "katatrace.k8s.container.names", NULL);
	cr_expect_eq(origin_attr(g.r[0], "katatrace.hypervisor.pid")->value.i, 777);
	cr_expect_eq(g.r[0]->origin, g.r[1]->origin, "one origin per connection");

	/* a container started: the connection's next spans say so */
	snprintf(m.container_names, sizeof(m.container_names), "app,sidecar");
	cr_assert_eq(kt_registry_put(reg, &m), 0);
	send_stream(p, a, s, offs[2], n);
	cr_assert_eq(g.n, frames);
	expect_str_attr(g.r[0], "katatrace.k8s.container.names", NULL);
	expect_str_attr(g.r[2], "katatrace.k8s.container.names", "app,sidecar");
	expect_str_attr(g.r[2], "k8s.pod.name", "web-0");
	cr_expect_neq(g.r[1]->origin, g.r[2]->origin);
	cr_expect_eq(g.r[2]->origin, g.r[frames - 1]->origin, "rebuilt once, not per span");

	/* an unchanged put changes nothing */
	uint64_t v = kt_registry_version(reg);
	cr_assert_eq(kt_registry_put(reg, &m), 0);
	cr_expect_eq(kt_registry_version(reg), v);
	kt_pipeline_free(p);
	kt_registry_free(reg);
	got_free(&g);
	free(s);
}

/* A hybrid-vsock path names the sandbox; discovery adds the pod. */
Test(pipeline, registry_attributes_by_path)
{
	size_t n;
	uint8_t *s = kt_test_read_vector(stream_file(KT_ERA_BINCODE), &n);
	struct got g = { 0 };
	struct kt_sandbox_registry *reg = kt_registry_new(1000);
	struct kt_sandbox_meta m = meta_for("sbpath", 3);
	snprintf(m.hypervisor, sizeof(m.hypervisor), "cloud-hypervisor");
	snprintf(m.hvsock_path, sizeof(m.hvsock_path), "/run/vc/vm/sbpath/clh.sock");
	m.hypervisor_pid = 0;
	cr_assert_eq(kt_registry_put(reg, &m), 0);
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.registry = reg;
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &g });
	rec_conn(p, 1, "/run/vc/vm/sbpath/clh.sock_10240");
	rec_data(p, 1, 0, s, n, 0, 1);
	rec_close(p, 1, n);
	cr_assert_gt(g.n, 0);
	expect_str_attr(g.r[0], "katatrace.sandbox.id", "sbpath");
	expect_str_attr(g.r[0], "k8s.pod.name", "web-0");
	expect_str_attr(g.r[0], "katatrace.hypervisor.name", "cloud-hypervisor");
	/* the writer is the hypervisor here */
	cr_expect_eq(origin_attr(g.r[0], "katatrace.hypervisor.pid")->value.i, 4242);
	/* hybrid vsock: the CID from persist.json is reported too */
	cr_expect_eq(origin_attr(g.r[0], "katatrace.vsock.cid")->value.i, 3);
	kt_pipeline_free(p);
	kt_registry_free(reg);
	got_free(&g);
	free(s);
}

/* An idle connection of a sandbox discovery still lists is kept (its path,
 * offsets and calls are only known here); once the sandbox is gone, or for
 * a connection of no known sandbox, the idle timeout finishes it. */
Test(pipeline, idle_connections_of_live_sandboxes_are_kept)
{
	size_t n, offs[32];
	uint8_t *s = kt_test_read_vector(stream_file(KT_ERA_JSON), &n);
	frame_offsets(s, n, offs);
	struct got g = { 0 };
	struct kt_sandbox_registry *reg = kt_registry_new(1u << 30);
	struct kt_sandbox_meta m = meta_for("idlesb", 0);
	cr_assert_eq(kt_registry_put(reg, &m), 0);
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.idle_timeout_ns = 1000;
	cfg.registry = reg;
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &g });

	rec_conn(p, 4, "/run/vc/vm/idlesb/clh.sock_10240");
	rec_conn(p, 5, "/run/vc/vm/other/clh.sock_10240");
	rec_data(p, 4, 0, s, offs[10], 0, 100);
	rec_data(p, 5, 0, s, offs[2], 0, 100);
	kt_pipeline_tick(p, 5000);
	cr_expect_eq(kt_pipeline_conn_count(p), 1, "the unknown sandbox's connection went");
	/* much later the agent speaks again: same entry, same sandbox */
	rec_data(p, 4, offs[10], s + offs[10], n - offs[10], 0, 9000);
	cr_assert_eq(g.n, 2 + kt_test_n_labels);
	expect_str_attr(g.r[g.n - 1], "katatrace.sandbox.id", "idlesb");
	expect_str_attr(g.r[g.n - 1], "katatrace.socket.path", "/run/vc/vm/idlesb/clh.sock_10240");
	cr_expect_eq(KT_STAT_GET(gaps), 0);
	kt_registry_gone(reg, "idlesb", 10000);
	kt_pipeline_tick(p, 20000);
	cr_expect_eq(kt_pipeline_conn_count(p), 0, "its sandbox is gone");
	kt_pipeline_free(p);
	kt_registry_free(reg);
	got_free(&g);
	free(s);
}

/*
 * Every connection stays in the activity list, however they were created
 * and touched: the tick reaches each one (their overdue holes become gaps)
 * and shutdown finishes each one (their partial frames are counted).
 */
Test(pipeline, tick_and_shutdown_reach_every_connection)
{
	struct got g = { 0 };
	struct kt_pipeline *p = collecting_pipeline(&g);
	static const uint8_t hdr[8] = { 0, 0, 0, 0, 0, 0, 0x10, 0 }; /* 4096 */
	static uint8_t body[100];

	for (uint64_t c = 1; c <= 3; c++)
		rec_conn(p, c, "/run/vc/vm/sb/clh.sock_10240");
	for (uint64_t c = 1; c <= 3; c++) {
		rec_data(p, c, 0, hdr, sizeof(hdr), 0, 1);
		rec_data(p, c, 8, body, sizeof(body), 0, 1);
		rec_data(p, c, 500, body, sizeof(body), 0, 1); /* a hole at 108 */
	}
	rec_data(p, 2, 108, body, 10, 0, 1); /* touch one in the middle */
	cr_expect_eq(kt_pipeline_conn_count(p), 3);
	kt_pipeline_tick(p, 1 + 2000000000ull);
	cr_expect_eq(KT_STAT_GET(gaps), 3, "each connection's overdue hole declared");
	kt_pipeline_finish_all(p);
	cr_expect_eq(kt_pipeline_conn_count(p), 0);
	cr_expect_eq(KT_STAT_GET(frames_truncated), 3, "each one's leftover bytes counted at shutdown");
	kt_pipeline_free(p);
	got_free(&g);
}

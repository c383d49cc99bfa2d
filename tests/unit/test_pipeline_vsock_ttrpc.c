/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime's ttrpc calls to the agent over standard vsock (QEMU: the
 * shim dials the guest's port 1024) as ring buffer records: both
 * directions of a guest-listened connection, chunked and shuffled, answers
 * out of order, must give one ttrpc.<Method> CLIENT span per call with the
 * request's traceparent ids or the sandbox's trace, attributed by CID.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_span.h"
#include "model/ids.h"
#include "stream/pipeline.h"
#include "sandbox/sandbox_registry.h"
#include "bpf/stream_record.h"
#include "test_rnd.h"
#include "rpc/ttrpc_span.h"

#define HDR 10
#define MAX_GOT 64
#define N_CALLS 10
#define CID 5
#define HOST_PORT 49152
#define SHIM_PID 3131
#define QEMU_PID 777
#define SANDBOX "sb-vsock-5"

struct got {
	struct kt_span_record *r[MAX_GOT];
	size_t n;
};

static void collect(void *ctx, struct kt_span_record *r)
{
	struct got *g = ctx;
	cr_assert_lt(g->n, MAX_GOT);
	g->r[g->n++] = r;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		kt_span_record_free(g->r[i]);
	g->n = 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ------------------------------------------------------------ the two byte streams */

struct bytes {
	uint8_t b[8192];
	size_t n;
};

static void append(struct bytes *s, const uint8_t *p, size_t n)
{
	cr_assert_leq(s->n + n, sizeof(s->b));
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

/*
 * The vector's request with stream id id; without its metadata (field 5,
 * the last one: the traceparent) when strip is set.
 */
static void add_request(struct bytes *s, const uint8_t *v, uint32_t id, bool strip)
{
	uint8_t f[512];
	uint32_t len = be32(v);
	cr_assert_leq(HDR + len, sizeof(f));
	memcpy(f, v, HDR + len);
	if (strip) { /* walk the top-level fields up to tag 0x2a */
		size_t at = HDR;
		while (at < HDR + len && f[at] != 0x2a) {
			if ((f[at] & 7) == 0) { /* varint */
				at++;
				while (f[at] & 0x80)
					at++;
				at++;
			} else { /* length-delimited; lengths < 128 in the vector */
				at += 2 + f[at + 1];
			}
		}
		cr_assert_lt(at, HDR + len, "no metadata in the vector");
		len = (uint32_t)(at - HDR);
		put32(f, len);
	}
	put32(f + 4, id);
	append(s, f, HDR + len);
}

static void add_response(struct bytes *s, const uint8_t *v, uint32_t id)
{
	uint8_t f[256];
	uint32_t len = be32(v);
	memcpy(f, v, HDR + len);
	put32(f + 4, id);
	append(s, f, HDR + len);
}

/* ------------------------------------------------------------ records */

struct rec {
	uint8_t dir;
	uint64_t off;
	size_t len;
};

static uint8_t recbuf[sizeof(struct kt_rec_hdr) + KT_CHUNK_SIZE];

static struct kt_rec_hdr *hdr_for(uint32_t type, uint8_t dir)
{
	struct kt_rec_hdr *h = (struct kt_rec_hdr *)recbuf;
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->conn.endpoint = (uint64_t)CID << 32 | 1024;
	h->conn.port = KT_VSOCK_GUEST_LISTENS | HOST_PORT;
	h->conn.transport = KT_TRANSPORT_VSOCK;
	h->dir = dir;
	if (dir == KT_DIR_TO_SERVER) { /* the shim sends */
		h->tgid = SHIM_PID;
		memcpy(h->pcomm, "containerd-shim", 15);
		memcpy(h->comm, "containerd-shim", 15);
	} else { /* the vhost worker of the guest's QEMU moves the answers */
		h->tgid = QEMU_PID;
		memcpy(h->pcomm, "qemu-system-x86", 15);
		memcpy(h->comm, "vhost-777", 9);
	}
	return h;
}

static void feed_conn(struct kt_pipeline *p)
{
	struct kt_rec_conn c;
	memset(&c, 0, sizeof(c));
	memcpy(&c.hdr, hdr_for(KT_REC_CONN, KT_DIR_TO_SERVER), sizeof(c.hdr));
	kt_pipeline_record(p, &c, sizeof(c), 1);
}

static void feed_data(struct kt_pipeline *p, const struct bytes *s, const struct rec *r)
{
	struct kt_rec_hdr *h = hdr_for(KT_REC_DATA, r->dir);
	h->offset = r->off;
	h->len = (uint32_t)r->len;
	h->ts_ns = 1000 + r->off;
	memcpy(h + 1, s->b + r->off, r->len);
	kt_pipeline_record(p, recbuf, sizeof(*h) + r->len, 1);
}

static void feed_close(struct kt_pipeline *p, uint8_t dir, uint64_t off)
{
	struct kt_rec_hdr *h = hdr_for(KT_REC_CLOSE, dir);
	h->offset = off;
	kt_pipeline_record(p, recbuf, sizeof(*h), 1);
}

/* Random chunks of one direction. */
static size_t chunk(const struct bytes *s, uint8_t dir, struct rec *out)
{
	size_t n = 0;
	for (size_t off = 0; off < s->n;) {
		size_t len = 1 + rnd() % 40;
		len = len > s->n - off ? s->n - off : len;
		out[n++] = (struct rec){ dir, off, len };
		off += len;
	}
	return n;
}

static void shuffle(struct rec *r, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd() % i;
		struct rec t = r[i - 1];
		r[i - 1] = r[j];
		r[j] = t;
	}
}

/* ------------------------------------------------------------ checks */

static const struct kt_kv *attr(const struct kt_kvlist *l, const char *key)
{
	const struct kt_kv *kv = kt_kvlist_find(l, key);
	cr_assert_not_null(kv, "%s missing", key);
	return kv;
}

static const struct kt_kv *origin_attr(const struct kt_span_record *r, const char *key)
{
	cr_assert_not_null(r->origin);
	return attr(&r->origin->attrs, key);
}

static struct kt_sandbox_registry *registry(void)
{
	struct kt_sandbox_registry *reg = kt_registry_new(1000);
	struct kt_sandbox_meta m;
	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), SANDBOX);
	snprintf(m.hypervisor, sizeof(m.hypervisor), "qemu");
	m.guest_cid = CID;
	m.hypervisor_pid = QEMU_PID;
	cr_assert_eq(kt_registry_put(reg, &m), 0);
	return reg;
}

static struct kt_pipeline *pipeline(struct got *g, const struct kt_sandbox_registry *reg)
{
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.proc_root = "/nonexistent"; /* only the registry knows the CID */
	cfg.run_root = "/nonexistent";
	cfg.registry = reg;
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = g });
	cr_assert_not_null(p);
	return p;
}

/*
 * N_CALLS requests (stream ids 1, 3, ...; every second one without its
 * traceparent), answered in reverse order: ids with id % 4 == 3 NOT_FOUND.
 */
static void build_streams(struct bytes *req, struct bytes *resp)
{
	size_t n;
	uint8_t *rq = kt_test_read_vector("ttrpc_request_createcontainer.bin", &n);
	uint8_t *ok = kt_test_read_vector("ttrpc_response_ok.bin", &n);
	uint8_t *err = kt_test_read_vector("ttrpc_response_error.bin", &n);
	req->n = resp->n = 0;
	for (uint32_t i = 0; i < N_CALLS; i++)
		add_request(req, rq, 2 * i + 1, i % 2);
	for (uint32_t i = N_CALLS; i-- > 0;) {
		uint32_t id = 2 * i + 1;
		add_response(resp, id % 4 == 3 ? err : ok, id);
	}
	free(rq);
	free(ok);
	free(err);
}

static void expect_calls(const struct got *g)
{
	struct kt_trace_id sb_trace;
	uint64_t sb_root;
	kt_sandbox_ids(SANDBOX, strlen(SANDBOX), &sb_trace, &sb_root);
	bool seen[2 * N_CALLS] = { false };

	cr_assert_eq(g->n, N_CALLS, "%zu spans", g->n);
	for (size_t i = 0; i < g->n; i++) {
		const struct kt_span_record *r = g->r[i];
		const struct kt_span *s = &r->span;
		cr_expect(kt_str_eq(s->name, "ttrpc.CreateContainer"));
		cr_expect_eq(s->kind, KT_KIND_CLIENT);
		int64_t id = attr(&s->attrs, "katatrace.rpc.stream_id")->value.i;
		cr_assert(id >= 1 && id < 2 * N_CALLS && id % 2 == 1, "stream id %lld", (long long)id);
		cr_expect(!seen[id], "stream id %lld twice", (long long)id);
		seen[id] = true;
		cr_expect(kt_str_eq(attr(&s->attrs, "katatrace.rpc.end")->value.s, "response"),
			  "call %lld ended without its response", (long long)id);
		int64_t code = attr(&s->attrs, "rpc.grpc.status_code")->value.i;
		if (id % 4 == 3) {
			cr_expect_eq(code, 5);
			cr_expect_eq(s->status_code, KT_STATUS_ERROR);
			cr_expect(kt_str_eq(s->status_message, "container c2 not found"));
		} else {
			cr_expect_eq(code, 0);
		}
		/* the request's payload: CreateContainerRequest{c1, c1} */
		cr_expect_eq(attr(&s->attrs, "katatrace.rpc.request.size")->value.i, 8);
		if (id % 4 == 1) { /* sent with the vector's traceparent */
			cr_expect_eq(s->ctx.trace_id.hi, 0x0af7651916cd43ddull);
			cr_expect_eq(s->ctx.trace_id.lo, 0x8448eb211c80319cull);
			cr_expect_eq(s->ctx.span_id, 0xb7ad6b7169203331ull);
			cr_expect_eq(s->parent_span_id, 0);
		} else { /* the sandbox's trace, found by CID */
			cr_expect_eq(s->ctx.trace_id.hi, sb_trace.hi);
			cr_expect_eq(s->ctx.trace_id.lo, sb_trace.lo);
			cr_expect_eq(s->parent_span_id, sb_root);
			cr_expect_neq(s->ctx.span_id, 0);
		}
		cr_expect(kt_str_eq(origin_attr(r, "katatrace.transport")->value.s, "vsock"));
		cr_expect_eq(origin_attr(r, "katatrace.vsock.cid")->value.i, CID);
		cr_expect_eq(origin_attr(r, "katatrace.vsock.port")->value.i, 1024);
		cr_expect(kt_str_eq(origin_attr(r, "katatrace.sandbox.id")->value.s, SANDBOX));
		cr_expect(kt_str_eq(origin_attr(r, "katatrace.hypervisor.name")->value.s, "qemu"));
		cr_expect_eq(origin_attr(r, "katatrace.hypervisor.pid")->value.i, QEMU_PID);
	}
}

/* ------------------------------------------------------------ tests */

/*
 * Requests in random chunks, shuffled; answers in random chunks, shuffled
 * among the requests, except that no answer byte is in order before every
 * request is (the guest cannot answer what it has not read).
 */
Test(pipeline_vsock_ttrpc, shuffled_records_answers_out_of_order)
{
	static struct bytes req, resp;
	static struct rec fwd[8192], back[8192], all[16384];

	for (int round = 0; round < 20; round++) {
		struct got g = { 0 };
		struct kt_sandbox_registry *reg = registry();
		struct kt_pipeline *p = pipeline(&g, reg);
		build_streams(&req, &resp);
		size_t nf = chunk(&req, KT_DIR_TO_SERVER, fwd);
		size_t nb = chunk(&resp, KT_DIR_TO_CLIENT, back);
		shuffle(fwd, nf);
		shuffle(back, nb);
		/* the answers' first chunk waits for the last request chunk */
		size_t first = 0;
		while (back[first].off != 0)
			first++;
		struct rec head = back[first];
		back[first] = back[nb - 1];
		nb--;
		size_t n = 0, i = 0, j = 0, last_fwd = 0;
		while (i < nf || j < nb) {
			if (j < nb && (i == nf || rnd() % 2)) {
				all[n++] = back[j++];
			} else {
				last_fwd = n;
				all[n++] = fwd[i++];
			}
		}
		/* anywhere after the last request chunk */
		size_t at = last_fwd + 1 + rnd() % (n - last_fwd);
		memmove(&all[at + 1], &all[at], (n - at) * sizeof(all[0]));
		all[at] = head;
		n++;

		feed_conn(p);
		for (size_t k = 0; k < n; k++)
			feed_data(p, all[k].dir == KT_DIR_TO_SERVER ? &req : &resp, &all[k]);
		cr_expect_eq(g.n, N_CALLS, "round %d: every call answered before the close", round);
		/* the shim half-closes, then the agent: the connection is done */
		feed_close(p, KT_DIR_TO_SERVER, req.n);
		cr_expect_eq(kt_pipeline_conn_count(p), 1, "one end still open");
		feed_close(p, KT_DIR_TO_CLIENT, resp.n);
		cr_expect_eq(kt_pipeline_conn_count(p), 0);
		expect_calls(&g);
		kt_pipeline_free(p);
		kt_registry_free(reg);
		got_free(&g);
	}
}

/* The answers' direction is the guest's: the same bytes the other way round
 * are not calls (no request decodes from responses). */
Test(pipeline_vsock_ttrpc, directions_are_not_interchangeable)
{
	static struct bytes req, resp;
	struct got g = { 0 };
	struct kt_sandbox_registry *reg = registry();
	struct kt_pipeline *p = pipeline(&g, reg);
	build_streams(&req, &resp);
	feed_conn(p);
	feed_data(p, &resp, &(struct rec){ KT_DIR_TO_SERVER, 0, resp.n });
	feed_data(p, &req, &(struct rec){ KT_DIR_TO_CLIENT, 0, req.n });
	feed_close(p, KT_DIR_TO_SERVER, resp.n);
	feed_close(p, KT_DIR_TO_CLIENT, req.n);
	cr_expect_eq(g.n, 0, "%zu spans from swapped directions", g.n);
	kt_pipeline_free(p);
	kt_registry_free(reg);
	got_free(&g);
}

/* A call still outstanding when the connection ends is reported without
 * its answer, with the request's trace context. */
Test(pipeline_vsock_ttrpc, unanswered_call_at_close)
{
	static struct bytes req;
	size_t n;
	uint8_t *rq = kt_test_read_vector("ttrpc_request_createcontainer.bin", &n);
	struct got g = { 0 };
	struct kt_sandbox_registry *reg = registry();
	struct kt_pipeline *p = pipeline(&g, reg);
	req.n = 0;
	add_request(&req, rq, 7, false);
	feed_conn(p);
	feed_data(p, &req, &(struct rec){ KT_DIR_TO_SERVER, 0, req.n });
	cr_expect_eq(g.n, 0);
	/* the guest went away: RST closes both directions */
	feed_close(p, KT_DIR_TO_SERVER, req.n);
	feed_close(p, KT_DIR_TO_CLIENT, 0);
	cr_assert_eq(g.n, 1);
	const struct kt_span *s = &g.r[0]->span;
	cr_expect(kt_str_eq(attr(&s->attrs, "katatrace.rpc.end")->value.s, "connection_closed"));
	cr_expect_eq(s->ctx.span_id, 0xb7ad6b7169203331ull);
	kt_pipeline_free(p);
	kt_registry_free(reg);
	got_free(&g);
	free(rq);
}

/* Only the key's role bit makes a vsock connection the agent's ttrpc: a
 * host-listened connection whose host port happens to be 1024 carries agent
 * frames, and with ttrpc_vsock_port 0 nothing is taken for ttrpc. */
Test(pipeline_vsock_ttrpc, role_bit_and_port_decide)
{
	static struct bytes req, resp;
	struct got g = { 0 };
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.proc_root = "/nonexistent";
	cfg.run_root = "/nonexistent";
	cfg.protocols.rpc.ttrpc_vsock_port = 0;
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &g });
	build_streams(&req, &resp);
	feed_conn(p);
	feed_data(p, &req, &(struct rec){ KT_DIR_TO_SERVER, 0, req.n });
	feed_data(p, &resp, &(struct rec){ KT_DIR_TO_CLIENT, 0, resp.n });
	feed_close(p, KT_DIR_TO_SERVER, req.n);
	cr_expect_eq(g.n, 0, "ttrpc spans with ttrpc_vsock_port 0");
	kt_pipeline_free(p);

	/* host port 1024 without the bit: the agent's framing, one span */
	size_t n;
	uint8_t *w = kt_test_read_vector("framed_otel017_json_worked.bin", &n);
	p = kt_pipeline_new(&(struct kt_pipeline_cfg)KT_PIPELINE_DEFAULTS, &(struct kt_record_sink){ .span = collect, .ctx = &g });
	struct kt_rec_hdr *h = hdr_for(KT_REC_DATA, KT_DIR_TO_SERVER);
	h->conn.endpoint = (uint64_t)CID << 32 | 2000;
	h->conn.port = 1024;
	h->len = (uint32_t)n;
	memcpy(h + 1, w, n);
	kt_pipeline_record(p, recbuf, sizeof(*h) + n, 1);
	kt_pipeline_finish_all(p);
	cr_assert_eq(g.n, 1);
	cr_expect(kt_str_eq(g.r[0]->span.name, "CreateContainer"));
	kt_pipeline_free(p);
	got_free(&g);
	free(w);
}

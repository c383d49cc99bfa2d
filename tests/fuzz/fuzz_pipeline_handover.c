/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Takeover (kt_pipeline_handover, user/stream/conn_handover.c): the records
 * of fuzz_pipeline_budget, plus RESUME records with any fields, and at any
 * point the pipeline hands its connections over as records, is freed, and
 * a new pipeline on the same budget is fed those records and goes on.
 *
 * Always: the handed-over pipeline holds nothing and has no connection
 * left; every handed-over record is well formed (a header, DATA no larger
 * than its chunk); the bytes charged never exceed the budget; the
 * connection count stays within the caps; once every connection is
 * finished and every record freed, the pool is back to 0.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "base/diag.h"
#include "base/mem_budget.h"
#include "stream/pipeline.h"
#include "bpf/stream_record.h"

#define CONNS 8
#define KEPT 32
#define MAX_CONNS 6
#define MAX_SANDBOX_CONNS 3

static const char *const paths[] = {
	"/run/vc/vm/sba/clh.sock_10240",
	"/run/vc/vm/sbb/clh.sock_10240",
	"/run/vc/vm/sba/clh.sock_6831",
	"/run/vc/vm/sbb/clh.sock_5140",
	"/run/vc/vm/sba/clh.sock",
	"/run/containerd/s/0123456789abcdef",
	"/tmp/other_10240",
	"",
};
static const char *const ttrpc_sockets[] = { "/clh.sock" };
static const char *const shim_dirs[] = { "/run/containerd/s/" };

struct cursor {
	const uint8_t *p, *end;
};

static unsigned next_byte(struct cursor *c)
{
	return c->p < c->end ? *c->p++ : 0;
}

struct kept {
	struct kt_span_record *spans[KEPT];
	struct kt_log_record *logs[KEPT];
	size_t n_spans, n_logs;
};

/* Keeps a span until the slot is needed again: records outlive their frame. */
static void keep_span(void *ctx, struct kt_span_record *r)
{
	struct kept *k = ctx;
	size_t i = k->n_spans++ % KEPT;
	kt_span_record_free(k->spans[i]);
	k->spans[i] = r;
}

static void keep_log(void *ctx, struct kt_log_record *r)
{
	struct kept *k = ctx;
	size_t i = k->n_logs++ % KEPT;
	kt_log_record_free(k->logs[i]);
	k->logs[i] = r;
}

static uint8_t rec[sizeof(struct kt_rec_hdr) + KT_CHUNK_SIZE];

static struct kt_rec_hdr *hdr(unsigned conn, uint32_t type, uint8_t dir)
{
	struct kt_rec_hdr *h = (struct kt_rec_hdr *)rec;
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->conn.endpoint = 1000 + conn;
	h->conn.transport = KT_TRANSPORT_UNIX;
	h->dir = dir;
	h->tgid = 77;
	memcpy(h->pcomm, "hv", 2);
	return h;
}

struct recs {
	uint8_t *b;
	size_t n, cap;
};

static void capture(void *ctx, const void *r, size_t size)
{
	struct recs *o = ctx;
	const struct kt_rec_hdr *h = r;
	CHECK(size >= sizeof(*h));
	CHECK(h->type != KT_REC_DATA || (h->len <= KT_CHUNK_SIZE && size == sizeof(*h) + h->len));
	if (o->n + sizeof(size) + size > o->cap) {
		o->cap = (o->n + sizeof(size) + size) * 2;
		o->b = realloc(o->b, o->cap);
		CHECK(o->b);
	}
	memcpy(o->b + o->n, &size, sizeof(size));
	memcpy(o->b + o->n + sizeof(size), r, size);
	o->n += sizeof(size) + size;
}

static struct kt_pipeline *pipeline(const struct kt_pipeline_cfg *cfg, struct kept *k)
{
	struct kt_pipeline *p =
		kt_pipeline_new(cfg, &(struct kt_record_sink){ .span = keep_span, .log = keep_log,
								.ctx = k });
	CHECK(p);
	return p;
}

/* p's connections go to a new pipeline, through records. */
static struct kt_pipeline *take_over(struct kt_pipeline *p, const struct kt_pipeline_cfg *cfg,
				     struct kept *k, uint64_t now)
{
	static _Alignas(8) uint8_t buf[sizeof(struct kt_rec_conn) + sizeof(struct kt_rec_data)];
	struct recs o = { 0 };
	size_t before = kt_pipeline_conn_count(p);
	CHECK(kt_pipeline_handover(p, capture, &o) == before);
	CHECK(kt_pipeline_conn_count(p) == 0);
	CHECK(kt_pipeline_held(p) == 0);
	kt_pipeline_free(p);
	p = pipeline(cfg, k);
	size_t size;
	for (size_t at = 0; at < o.n; at += sizeof(size) + size) {
		memcpy(&size, o.b + at, sizeof(size));
		CHECK(size <= sizeof(buf));
		memcpy(buf, o.b + at + sizeof(size), size);
		kt_pipeline_record(p, buf, size, now);
	}
	free(o.b);
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = { data, data + size };
	struct kt_mem_pool pool;
	struct kt_mem_acct records;
	struct kept k = { 0 };
	uint64_t next[CONNS][2] = { { 0 } };

	kt_log_level = KT_LOG_ERROR;
	/* 16 KiB .. 1 MiB: small enough that the budget binds all the time */
	size_t limit = (size_t)16 << 10 << (next_byte(&c) % 7);
	kt_mem_pool_init(&pool, limit);
	kt_mem_acct_init(&records, &pool);
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.protocols.agent.max_frame = 1u << 20;
	cfg.reasm.max_pending = 256u << 10;
	cfg.max_conns = MAX_CONNS;
	cfg.max_sandbox_conns = MAX_SANDBOX_CONNS;
	cfg.mem_pool = &pool;
	cfg.records_acct = &records;
	cfg.protocols.rpc.ttrpc_sockets = ttrpc_sockets;
	cfg.protocols.rpc.n_ttrpc_sockets = 1;
	cfg.protocols.rpc.shim_socket_dirs = shim_dirs;
	cfg.protocols.rpc.n_shim_socket_dirs = 1;
	struct kt_pipeline *p = pipeline(&cfg, &k);
	uint64_t now = 1;

	while (c.p < c.end) {
		unsigned op = next_byte(&c), conn = next_byte(&c) % CONNS;
		uint8_t dir = op & 0x80 ? KT_DIR_TO_CLIENT : KT_DIR_TO_SERVER;
		switch (op & 7) {
		case 0: { /* connection, with one of the paths */
			struct kt_rec_conn cr;
			memset(&cr, 0, sizeof(cr));
			memcpy(&cr.hdr, hdr(conn, KT_REC_CONN, KT_DIR_TO_SERVER), sizeof(cr.hdr));
			const char *path = paths[next_byte(&c) % (sizeof(paths) / sizeof(paths[0]))];
			cr.path_len = (uint32_t)strlen(path);
			memcpy(cr.path, path, cr.path_len);
			kt_pipeline_record(p, &cr, sizeof(cr), now);
			next[conn][0] = next[conn][1] = 0;
			break;
		}
		case 1:
		case 2:
		case 3: { /* bytes from the input: at the next offset, or ahead of it */
			size_t hi = next_byte(&c), lo = next_byte(&c);
			uint64_t ahead = (op & 7) == 3 ? (uint64_t)next_byte(&c) * 97 : 0;
			size_t n = hi << 6 | lo >> 2, left = (size_t)(c.end - c.p);
			n = n > left ? left : n;
			n = n > KT_CHUNK_SIZE ? KT_CHUNK_SIZE : n;
			struct kt_rec_hdr *h = hdr(conn, KT_REC_DATA, dir);
			h->offset = next[conn][dir != KT_DIR_TO_SERVER] + ahead;
			h->len = (uint32_t)n;
			h->flags = op & 0x40 ? KT_F_PRIOR_LOSS : 0;
			memcpy(h + 1, c.p, n);
			c.p += n;
			kt_pipeline_record(p, rec, sizeof(*h) + n, now);
			if (!ahead)
				next[conn][dir != KT_DIR_TO_SERVER] += n;
			break;
		}
		case 4: { /* bytes never captured */
			struct kt_rec_hdr *h = hdr(conn, KT_REC_GAP, dir);
			h->offset = next[conn][dir != KT_DIR_TO_SERVER];
			h->len = 1 + next_byte(&c) * 13;
			h->flags = KT_F_OVER_CAP;
			kt_pipeline_record(p, rec, sizeof(*h), now);
			next[conn][dir != KT_DIR_TO_SERVER] += h->len;
			break;
		}
		case 5: { /* one end closed */
			struct kt_rec_hdr *h = hdr(conn, KT_REC_CLOSE, dir);
			h->offset = next[conn][dir != KT_DIR_TO_SERVER];
			kt_pipeline_record(p, rec, sizeof(*h), now);
			break;
		}
		case 6: /* time passes: holes time out, journal records end */
			now += (uint64_t)next_byte(&c) * 100000000ull;
			kt_pipeline_tick(p, now);
			break;
		case 7:
			if (op & 0x40) { /* a RESUME, any fields */
				struct kt_rec_hdr *h = hdr(conn, KT_REC_RESUME, (uint8_t)next_byte(&c));
				h->flags = next_byte(&c);
				for (int i = 0; i < 8; i++)
					h->offset = h->offset << 8 | next_byte(&c);
				kt_pipeline_record(p, rec, sizeof(*h), now);
				break;
			}
			if (op & 0x20) {
				p = take_over(p, &cfg, &k, now);
				break;
			}
			/* fallthrough */
		default: /* the exporter catches up: kept records are freed */
			for (size_t i = 0; i < KEPT; i++) {
				kt_span_record_free(k.spans[i]);
				kt_log_record_free(k.logs[i]);
				k.spans[i] = NULL;
				k.logs[i] = NULL;
			}
			break;
		}
		CHECK(kt_mem_used(&pool) <= limit);
		CHECK(pool.peak <= limit);
		CHECK(kt_pipeline_conn_count(p) <= MAX_CONNS);
	}
	kt_pipeline_finish_all(p);
	CHECK(kt_pipeline_held(p) == 0);
	kt_pipeline_free(p);
	for (size_t i = 0; i < KEPT; i++) {
		kt_span_record_free(k.spans[i]);
		kt_log_record_free(k.logs[i]);
	}
	CHECK(kt_mem_held(&records) == 0);
	CHECK(kt_mem_used(&pool) == 0);
	return 0;
}

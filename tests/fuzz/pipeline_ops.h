/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The harness fuzz_pipeline_budget and fuzz_pipeline_handover share: the
 * input picks the budget, then each operation (two bytes: what, and which
 * of CONNS connections) becomes a capture record fed to the pipeline; some
 * decoded spans and logs are kept for a while, as an export queue would.
 * Only for those two targets: everything here is static.
 */
#ifndef KT_FUZZ_PIPELINE_OPS_H
#define KT_FUZZ_PIPELINE_OPS_H

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

static inline unsigned next_byte(struct cursor *c)
{
	return c->p < c->end ? *c->p++ : 0;
}

struct kept {
	struct kt_span_record *spans[KEPT];
	struct kt_log_record *logs[KEPT];
	size_t n_spans, n_logs;
};

/* Keeps a span until the slot is needed again: records outlive their frame. */
static inline void keep_span(void *ctx, struct kt_span_record *r)
{
	struct kept *k = ctx;
	size_t i = k->n_spans++ % KEPT;
	kt_span_record_free(k->spans[i]);
	k->spans[i] = r;
}

static inline void keep_log(void *ctx, struct kt_log_record *r)
{
	struct kept *k = ctx;
	size_t i = k->n_logs++ % KEPT;
	kt_log_record_free(k->logs[i]);
	k->logs[i] = r;
}

/* The exporter catches up: kept records are freed. */
static inline void kept_free(struct kept *k)
{
	for (size_t i = 0; i < KEPT; i++) {
		kt_span_record_free(k->spans[i]);
		kt_log_record_free(k->logs[i]);
		k->spans[i] = NULL;
		k->logs[i] = NULL;
	}
}

static uint8_t rec[sizeof(struct kt_rec_hdr) + KT_CHUNK_SIZE];

static inline struct kt_rec_hdr *hdr(unsigned conn, uint32_t type, uint8_t dir)
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

/* One fuzz input's run: its bytes, the budget, the time and each connection's next offsets. */
struct ops {
	struct cursor c;
	struct kt_mem_pool pool;
	struct kt_mem_acct records;
	size_t limit;
	struct kt_pipeline_cfg cfg;
	struct kept k;
	uint64_t next[CONNS][2];
	uint64_t now;
};

/* The first byte picks the budget: 16 KiB .. 1 MiB, small enough that it binds all the time. */
static inline void ops_init(struct ops *o, const uint8_t *data, size_t size)
{
	memset(o, 0, sizeof(*o));
	o->c = (struct cursor){ data, data + size };
	kt_log_level = KT_LOG_ERROR;
	o->limit = (size_t)16 << 10 << (next_byte(&o->c) % 7);
	kt_mem_pool_init(&o->pool, o->limit);
	kt_mem_acct_init(&o->records, &o->pool);
	o->cfg = (struct kt_pipeline_cfg)KT_PIPELINE_DEFAULTS;
	o->cfg.protocols.agent.max_frame = 1u << 20;
	o->cfg.reasm.max_pending = 256u << 10;
	o->cfg.max_conns = MAX_CONNS;
	o->cfg.max_sandbox_conns = MAX_SANDBOX_CONNS;
	o->cfg.mem_pool = &o->pool;
	o->cfg.records_acct = &o->records;
	o->cfg.protocols.rpc.ttrpc_sockets = ttrpc_sockets;
	o->cfg.protocols.rpc.n_ttrpc_sockets = 1;
	o->cfg.protocols.rpc.shim_socket_dirs = shim_dirs;
	o->cfg.protocols.rpc.n_shim_socket_dirs = 1;
	o->now = 1;
}

/* A pipeline on o's budget whose spans and logs go to o's kept records. */
static inline struct kt_pipeline *ops_pipeline(struct ops *o)
{
	struct kt_pipeline *p =
		kt_pipeline_new(&o->cfg, &(struct kt_record_sink){ .span = keep_span, .log = keep_log,
								    .ctx = &o->k });
	CHECK(p);
	return p;
}

/*
 * Operations 0 to 6 (op & 7) on conn, in direction op & 0x80: a connection,
 * bytes at the next offset or ahead of it, a gap, a close, time passing.
 * False for 7, which is the caller's.
 */
static inline bool ops_record(struct ops *o, struct kt_pipeline *p, unsigned op, unsigned conn)
{
	struct cursor *c = &o->c;
	uint8_t dir = op & 0x80 ? KT_DIR_TO_CLIENT : KT_DIR_TO_SERVER;
	uint64_t *next = &o->next[conn][dir != KT_DIR_TO_SERVER];
	switch (op & 7) {
	case 0: { /* connection, with one of the paths */
		struct kt_rec_conn cr;
		memset(&cr, 0, sizeof(cr));
		memcpy(&cr.hdr, hdr(conn, KT_REC_CONN, KT_DIR_TO_SERVER), sizeof(cr.hdr));
		const char *path = paths[next_byte(c) % (sizeof(paths) / sizeof(paths[0]))];
		cr.path_len = (uint32_t)strlen(path);
		memcpy(cr.path, path, cr.path_len);
		kt_pipeline_record(p, &cr, sizeof(cr), o->now);
		o->next[conn][0] = o->next[conn][1] = 0;
		return true;
	}
	case 1:
	case 2:
	case 3: { /* bytes from the input: at the next offset, or ahead of it */
		size_t hi = next_byte(c), lo = next_byte(c);
		uint64_t ahead = (op & 7) == 3 ? (uint64_t)next_byte(c) * 97 : 0;
		size_t n = hi << 6 | lo >> 2, left = (size_t)(c->end - c->p);
		n = n > left ? left : n;
		n = n > KT_CHUNK_SIZE ? KT_CHUNK_SIZE : n;
		struct kt_rec_hdr *h = hdr(conn, KT_REC_DATA, dir);
		h->offset = *next + ahead;
		h->len = (uint32_t)n;
		h->flags = op & 0x40 ? KT_F_PRIOR_LOSS : 0;
		memcpy(h + 1, c->p, n);
		c->p += n;
		kt_pipeline_record(p, rec, sizeof(*h) + n, o->now);
		if (!ahead)
			*next += n;
		return true;
	}
	case 4: { /* bytes never captured */
		struct kt_rec_hdr *h = hdr(conn, KT_REC_GAP, dir);
		h->offset = *next;
		h->len = 1 + next_byte(c) * 13;
		h->flags = KT_F_OVER_CAP;
		kt_pipeline_record(p, rec, sizeof(*h), o->now);
		*next += h->len;
		return true;
	}
	case 5: { /* one end closed */
		struct kt_rec_hdr *h = hdr(conn, KT_REC_CLOSE, dir);
		h->offset = *next;
		kt_pipeline_record(p, rec, sizeof(*h), o->now);
		return true;
	}
	case 6: /* time passes: holes time out, journal records end */
		o->now += (uint64_t)next_byte(c) * 100000000ull;
		kt_pipeline_tick(p, o->now);
		return true;
	default:
		return false;
	}
}

/* After each operation: the budget holds, and so do the caps. */
static inline void ops_check(struct ops *o, struct kt_pipeline *p)
{
	CHECK(kt_mem_used(&o->pool) <= o->limit);
	CHECK(o->pool.peak <= o->limit);
	CHECK(kt_pipeline_conn_count(p) <= MAX_CONNS);
}

/* Every connection finished and every record freed: every charge has been credited. */
static inline void ops_finish(struct ops *o, struct kt_pipeline *p)
{
	kt_pipeline_finish_all(p);
	CHECK(kt_pipeline_held(p) == 0);
	kt_pipeline_free(p);
	kept_free(&o->k);
	CHECK(kt_mem_held(&o->records) == 0);
	CHECK(kt_mem_used(&o->pool) == 0);
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
#include "stream/pipeline.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "kata1/decode_jaeger.h"
#include "kata1/journal_log.h"
#include "kata1/journal_stream.h"
#include "model/ids.h"
#include "rpc/ttrpc_rpc.h"
#include "rpc/ttrpc_span.h"
#include "agent/framer.h"
#include "base/log.h"
#include "sandbox/sandbox_path.h"
#include "sandbox/sandbox_registry.h"
#include "rpc/task_api.h"
#include "sandbox/vsock_owner.h"
#include "base/stats.h"

#define HASH_BUCKETS 16384 /* power of two */
#define ERRORS_LOGGED_PER_CONN 5

struct kt_conn {
	struct kt_pipeline *p;
	struct kt_conn *hnext;      /* hash chain */
	struct kt_conn *prev, *next; /* activity list, most recent first */
	struct kt_conn_id id;
	char path[KT_PATH_MAX + 1];
	const char *transport;
	const char *path_key; /* resource attribute naming path */
	uint32_t pid;                     /* process that sent the bytes */
	char comm[KT_COMM_LEN + 1];       /* its name */
	char thread[KT_COMM_LEN + 1];     /* name of the sending thread (vsock: vhost-<pid>) */
	uint32_t vsock_cid, vsock_port;   /* vsock: guest CID, the listening port */
	bool have_sandbox;
	struct kt_sandbox_ref sandbox;
	char hypervisor[32]; /* discovery's name, which sandbox.hypervisor may point at */
	char label[KT_PATH_MAX + 48];
	struct kt_origin *origin; /* built at the first span */
	uint64_t reg_version;     /* registry version when origin was last checked */
	uint64_t reg_gen;         /* generation of the registry entry origin used */
	struct kt_reasm reasm;
	enum {
		PROTO_UNDECIDED,
		PROTO_AGENT,
		PROTO_JAEGER,
		PROTO_TTRPC,
		PROTO_JOURNAL,
		PROTO_IGNORED, /* its decoder could not be set up: bytes are counted only */
	} proto;
	struct kt_ttrpc_conn *ttrpc;      /* PROTO_TTRPC: both directions */
	struct kt_reasm back;             /* PROTO_TTRPC: the server-to-client bytes */
	bool have_back;
	bool closed_fwd, closed_back;     /* PROTO_TTRPC: each end's close seen */
	bool server_writer;               /* PROTO_TTRPC: pid/comm are the answering end's */
	struct kt_task_conn *task;        /* PROTO_TTRPC on a shim socket: containerd's calls */
	uint64_t cur_ts;                  /* capture time of the record being fed */
	struct kt_framer framer;          /* PROTO_AGENT: the agent's framing */
	struct kt_jaeger_stream *jaeger;  /* PROTO_JAEGER: Kata 1.x emitBatch stream */
	struct kt_journal_stream *journal; /* PROTO_JOURNAL: Kata 1.x guest journal */
	uint64_t journal_push_ns;         /* PROTO_JOURNAL: last bytes (CLOCK_MONOTONIC) */
	bool journal_pending;             /* PROTO_JOURNAL: bytes since the last flush */
	uint64_t fed;     /* bytes fed directly */
	bool direct;      /* fed by kt_pipeline_feed: its owner closes it */
	uint64_t last_ns; /* last record (CLOCK_MONOTONIC) */
	uint64_t frames;
	unsigned errors_logged;
	uint64_t group;              /* conn_limits.h: its sandbox, or what stands for it */
	struct kt_mem_acct pending;  /* its buffers (mem_budget.h) */
	uint64_t refused_seen;       /* pending.refused already reported */
	uint64_t shed_gen;           /* the reclaim that last shed it */
};

struct kt_pipeline {
	struct kt_pipeline_cfg cfg;
	int64_t realtime_off; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	struct kt_record_sink sink;
	struct kt_conn *buckets[HASH_BUCKETS];
	struct kt_conn *lru_head, *lru_tail;
	size_t n_conns;
	struct kt_conn_limits limits;
	struct kt_mem_acct state;  /* every connection's struct and decoder state */
	struct kt_conn *active;    /* the connection being fed: never shed under it */
	uint64_t reclaim_gen;
	struct kt_refused refused;  /* until they close */
	struct kt_log_limit refusal_log;
};

/* ------------------------------------------------------------ helpers */

static size_t conn_hash(const struct kt_conn_id *id)
{
	uint64_t h = id->a * 0x9e3779b97f4a7c15ull ^ id->b * 0xc2b2ae3d27d4eb4full ^ id->transport;
	return (size_t)(h ^ (h >> 29)) & (HASH_BUCKETS - 1);
}

static bool conn_id_eq(const struct kt_conn_id *x, const struct kt_conn_id *y)
{
	return x->a == y->a && x->b == y->b && x->transport == y->transport;
}

/* Rate-limited per-connection log: a hostile guest cannot flood the log. */
__attribute__((format(printf, 3, 4))) static void conn_log(struct kt_conn *c,
							   enum kt_log_level lvl,
							   const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (lvl <= KT_LOG_WARN && c->errors_logged >= ERRORS_LOGGED_PER_CONN) {
		if (c->errors_logged++ == ERRORS_LOGGED_PER_CONN)
			kt_warn("%s: further errors on this connection are only counted",
				c->label);
		return;
	}
	if (lvl <= KT_LOG_WARN)
		c->errors_logged++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kt_log(lvl, "%s%s%s: %s", c->label, c->have_sandbox ? " sandbox " : "",
	       c->have_sandbox ? c->sandbox.id : "", msg);
}

/* A vsock connection to a port the guest listens on (the agent's ttrpc). */
static bool guest_listens(const struct kt_conn *c)
{
	return c->id.transport == KT_TRANSPORT_VSOCK && (c->id.b & KT_VSOCK_GUEST_LISTENS);
}

static void set_label(struct kt_conn *c)
{
	if (guest_listens(c))
		snprintf(c->label, sizeof(c->label), "vsock host port %u->cid %u port %u",
			 (unsigned)(uint32_t)c->id.b, c->vsock_cid, c->vsock_port);
	else if (c->id.transport == KT_TRANSPORT_VSOCK)
		snprintf(c->label, sizeof(c->label), "vsock cid %u port %u->%u", c->vsock_cid,
			 (unsigned)(c->id.a & 0xffffffffu), c->vsock_port);
	else if (c->id.transport == KT_TRANSPORT_UNIX)
		snprintf(c->label, sizeof(c->label), "unix conn %llu (%s)", (unsigned long long)c->id.a,
			 c->path[0] ? c->path : "path unknown");
	else
		snprintf(c->label, sizeof(c->label), "%s %s", c->transport,
			 c->path[0] ? c->path : "-");
}

static void set_path(struct kt_conn *c, const char *path, size_t n)
{
	if (n > KT_PATH_MAX)
		n = KT_PATH_MAX;
	memcpy(c->path, path, n);
	c->path[n] = '\0';
	c->have_sandbox = kt_sandbox_from_path(c->path, c->p->cfg.run_root, &c->sandbox);
	set_label(c);
}

static void copy_comm(char *dst, const char *src, size_t n)
{
	if (n > KT_COMM_LEN)
		n = KT_COMM_LEN;
	memcpy(dst, src, n);
	dst[n] = '\0'; /* comm may fill its buffer without a NUL */
}

static void set_writer(struct kt_conn *c, uint32_t pid, const char *comm, size_t n)
{
	if (c->pid)
		return;
	c->pid = pid;
	copy_comm(c->comm, comm, n);
}

/* The task of a record, when it is the sender (not a local reader). */
static void writer_from_record(struct kt_conn *c, const struct kt_rec_hdr *h)
{
	if (c->pid || (h->flags & KT_F_TASK_IS_READER))
		return;
	set_writer(c, h->tgid, h->pcomm, sizeof(h->pcomm));
	copy_comm(c->thread, h->comm, sizeof(h->comm));
}

static void kv_str(struct kt_kv *kv, const char *key, const char *val)
{
	kv->key = (struct kt_str){ key, strlen(key) };
	kv->value.type = KT_VAL_STRING;
	kv->value.s = (struct kt_str){ val, strlen(val) };
}

static void kv_int(struct kt_kv *kv, const char *key, int64_t v)
{
	kv->key = (struct kt_str){ key, strlen(key) };
	kv->value.type = KT_VAL_I64;
	kv->value.i = v;
}

static const struct kt_sandbox_entry *conn_entry(const struct kt_conn *c)
{
	const struct kt_sandbox_registry *reg = c->p->cfg.registry;
	if (c->have_sandbox)
		return kt_registry_by_id(reg, c->sandbox.id);
	if (c->id.transport == KT_TRANSPORT_VSOCK)
		return kt_registry_by_cid(reg, c->vsock_cid);
	return NULL;
}

/* True when discovery learnt something about this connection's sandbox. */
static bool origin_stale(struct kt_conn *c)
{
	uint64_t v = kt_registry_version(c->p->cfg.registry);
	if (v == c->reg_version)
		return false;
	c->reg_version = v;
	const struct kt_sandbox_entry *e = conn_entry(c);
	return (e ? e->gen : 0) != c->reg_gen;
}

/*
 * The resource attributes of this connection (docs/operations.md):
 * OpenTelemetry's k8s.* names where they exist, katatrace.* for the rest.
 */
static struct kt_origin *conn_origin(struct kt_conn *c)
{
	struct kt_kv kv[16];
	struct kt_kvlist l = { 0, kv };
	struct kt_vsock_owner owner;

	if (c->origin)
		return c->origin;
	kv_str(&kv[l.n++], "katatrace.transport", c->transport);
	if (c->path[0])
		kv_str(&kv[l.n++], c->path_key, c->path);
	if (c->id.transport == KT_TRANSPORT_VSOCK) {
		kv_int(&kv[l.n++], "katatrace.vsock.cid", c->vsock_cid);
		kv_int(&kv[l.n++], "katatrace.vsock.port", c->vsock_port);
		/* The sender here is a vhost worker or a kernel thread: ask who owns the CID. */
		const struct kt_pipeline_cfg *cfg = &c->p->cfg;
		const char *writer = c->thread[0] ? c->thread : NULL;
		bool found = cfg->owner_lookup
				     ? cfg->owner_lookup(cfg->owner_ctx, c->vsock_cid, writer, &owner)
				     : kt_vsock_owner_lookup(c->vsock_cid, writer, cfg->run_root,
							     cfg->proc_root, &owner);
		if (found) {
			if (owner.sandbox[0]) {
				c->have_sandbox = true;
				memcpy(c->sandbox.id, owner.sandbox, sizeof(owner.sandbox));
				c->sandbox.hypervisor = owner.hypervisor;
				set_label(c);
			}
			c->pid = owner.pid;
			snprintf(c->comm, sizeof(c->comm), "%s", owner.comm);
			if (owner.hypervisor)
				c->sandbox.hypervisor = owner.hypervisor;
		} else {
			c->pid = 0;
			c->comm[0] = '\0';
		}
	}
	const struct kt_sandbox_entry *e = conn_entry(c);
	const struct kt_sandbox_meta *m = e ? &e->meta : NULL;
	c->reg_gen = e ? e->gen : 0;
	c->reg_version = kt_registry_version(c->p->cfg.registry);
	if (m && !c->have_sandbox) {
		c->have_sandbox = true;
		snprintf(c->sandbox.id, sizeof(c->sandbox.id), "%s", m->id);
		set_label(c);
	}
	if (m && m->hypervisor[0]) {
		snprintf(c->hypervisor, sizeof(c->hypervisor), "%s", m->hypervisor);
		c->sandbox.hypervisor = c->hypervisor;
	}
	if (m && m->hypervisor_pid && !c->pid)
		c->pid = m->hypervisor_pid;
	if (m && m->pod_name[0])
		kv_str(&kv[l.n++], "k8s.pod.name", m->pod_name);
	if (m && m->pod_namespace[0])
		kv_str(&kv[l.n++], "k8s.namespace.name", m->pod_namespace);
	if (m && m->pod_uid[0])
		kv_str(&kv[l.n++], "k8s.pod.uid", m->pod_uid);
	if (m && m->container_names[0])
		kv_str(&kv[l.n++], "katatrace.k8s.container.names", m->container_names);
	if (c->have_sandbox)
		kv_str(&kv[l.n++], "katatrace.sandbox.id", c->sandbox.id);
	if (c->sandbox.hypervisor)
		kv_str(&kv[l.n++], "katatrace.hypervisor.name", c->sandbox.hypervisor);
	/* On a shim socket the answering process is the shim. */
	if (c->pid)
		kv_int(&kv[l.n++], c->task ? "katatrace.shim.pid" : "katatrace.hypervisor.pid",
		       c->pid);
	if (c->comm[0])
		kv_str(&kv[l.n++], c->task ? "katatrace.shim.comm" : "katatrace.hypervisor.comm",
		       c->comm);
	if (m && m->guest_cid && c->id.transport != KT_TRANSPORT_VSOCK)
		kv_int(&kv[l.n++], "katatrace.vsock.cid", m->guest_cid);
	c->origin = kt_origin_new(&l, c->have_sandbox ? c->sandbox.id : NULL, c->label);
	return c->origin;
}

/* The connection's origin, rebuilt first if discovery learnt more since. */
static struct kt_origin *current_origin(struct kt_conn *c)
{
	if (c->origin && origin_stale(c)) {
		kt_origin_put(c->origin);
		c->origin = NULL;
	}
	return conn_origin(c);
}

/* ------------------------------------------------------------ stream callbacks */

static size_t arena_limit(size_t payload)
{
	/* Decoded form is a small multiple of the wire form; bound hostile frames. */
	return payload * 16 + (64u << 10);
}

static void on_frame(void *ctx, const uint8_t *payload, size_t len)
{
	struct kt_conn *c = ctx;
	struct kt_decode_error err;
	enum kt_format used;

	KT_STAT_INC(frames);
	c->frames++;
	struct kt_span_record *r = kt_span_record_new(arena_limit(len));
	if (!r) {
		KT_STAT_INC(spans_dropped);
		return;
	}
	r->arena.acct = c->p->cfg.records_acct;
	if (kt_decode_span(c->p->cfg.format, payload, len, &r->arena, &r->span, &used, &err)) {
		if (r->arena.budget_hit) {
			KT_STAT_INC(spans_dropped);
			KT_STAT_INC(mem_refused);
			conn_log(c, KT_LOG_WARN, "frame %" PRIu64 " (%zu bytes) dropped: no room "
				 "left in --memory-budget to decode it", c->frames, len);
			kt_span_record_free(r);
			return;
		}
		KT_STAT_INC(decode_errors);
		conn_log(c, KT_LOG_WARN, "frame %" PRIu64 " (%zu bytes, %s) rejected: %s",
			 c->frames, len, kt_format_name(used), err.msg);
		kt_span_record_free(r);
		return;
	}
	KT_STAT_INC(spans_decoded);
	r->origin = kt_origin_get(current_origin(c));
	c->p->sink.span(c->p->sink.ctx, r);
}

static void on_oversize(void *ctx, uint64_t len)
{
	struct kt_conn *c = ctx;

	KT_STAT_INC(frames_oversize);
	c->errors_logged = 0; /* always worth saying: the stream is now dropped */
	conn_log(c, KT_LOG_ERROR, "frame header announces %" PRIu64
		 " bytes, over --max-frame %" PRIu64 ": dropping this stream",
		 len, c->p->cfg.max_frame);
}

static void on_resynced(void *ctx, uint64_t skipped)
{
	struct kt_conn *c = ctx;

	KT_STAT_INC(resyncs);
	conn_log(c, KT_LOG_WARN, "resynchronised at a frame boundary after skipping %" PRIu64
		 " bytes", skipped);
}

static bool on_validate(void *ctx, const uint8_t *payload, size_t len)
{
	struct kt_conn *c = ctx;
	struct kt_arena a;
	struct kt_span s;
	struct kt_decode_error err;

	kt_arena_init(&a, arena_limit(len));
	a.acct = c->p->cfg.records_acct;
	bool ok = kt_decode_span(c->p->cfg.format, payload, len, &a, &s, NULL, &err) == 0;
	kt_arena_free(&a);
	return ok;
}

static const struct kt_framer_ops framer_ops = {
	.frame = on_frame,
	.oversize = on_oversize,
	.resynced = on_resynced,
	.validate = on_validate,
};

/* ------------------------------------------------------------ Kata 1.x (Jaeger) */

static void on_jaeger_batch(void *ctx, const struct kt_jaeger_batch *b, struct kt_arena *a)
{
	struct kt_conn *c = ctx;

	KT_STAT_INC(frames);
	c->frames++;
	if (!b->n_spans)
		return;
	struct kt_shared_arena *sa = kt_shared_arena_adopt(a);
	if (!sa) {
		KT_STAT_ADD(spans_dropped, b->n_spans);
		return;
	}
	struct kt_origin *o = current_origin(c);
	for (size_t i = 0; i < b->n_spans; i++) {
		struct kt_span_record *r = kt_span_record_new_shared(sa, &b->spans[i]);
		if (!r) {
			KT_STAT_INC(spans_dropped);
			continue;
		}
		KT_STAT_INC(spans_decoded);
		r->origin = kt_origin_get(o);
		c->p->sink.span(c->p->sink.ctx, r);
	}
	kt_shared_arena_put(sa);
}

/* A decoder's complaint about a connection's bytes: counted and logged. */
static void stream_error(struct kt_conn *c, const char *decoder, const char *msg)
{
	KT_STAT_INC(decode_errors);
	conn_log(c, KT_LOG_WARN, "%s: %s", decoder, msg);
}

static void on_jaeger_error(void *ctx, const char *msg)
{
	stream_error(ctx, "jaeger", msg);
}

static const struct kt_jaeger_stream_ops jaeger_ops = {
	.batch = on_jaeger_batch,
	.error = on_jaeger_error,
};

/* ------------------------------------------------------------ journal (Kata 1.x) */

static uint64_t realtime_now(const struct kt_pipeline *p)
{
	return (uint64_t)((int64_t)kt_mono_ns() + p->realtime_off);
}

static void on_journal_record(void *ctx, const struct kt_journal_record *rec)
{
	struct kt_conn *c = ctx;
	KT_STAT_INC(logs_decoded);
	if (!c->p->sink.log) {
		KT_STAT_INC(logs_dropped);
		return;
	}
	struct kt_log_record *r = kt_journal_log_new(rec, realtime_now(c->p));
	if (!r) {
		KT_STAT_INC(logs_dropped);
		return;
	}
	if (!kt_arena_charge(&r->arena, c->p->cfg.records_acct)) {
		KT_STAT_INC(logs_dropped);
		KT_STAT_INC(mem_refused);
		conn_log(c, KT_LOG_WARN, "journal: record at offset %" PRIu64 " dropped: no room "
			 "left in --memory-budget", rec->offset);
		kt_log_record_free(r);
		return;
	}
	if (rec->truncated)
		conn_log(c, KT_LOG_WARN, "journal: record at offset %" PRIu64
			 " longer than %zu bytes: cut", rec->offset, c->journal->max_record);
	r->origin = kt_origin_get(current_origin(c));
	kt_sink_log(&c->p->sink, r);
}

static const struct kt_journal_ops journal_ops = { .record = on_journal_record };

static bool start_journal(struct kt_conn *c)
{
	c->journal = kt_mem_calloc(&c->p->state, 1, sizeof(*c->journal));
	if (!c->journal)
		return false;
	kt_journal_init(c->journal, 0, &journal_ops, c);
	c->journal->acct = &c->pending;
	c->proto = PROTO_JOURNAL;
	return true;
}

/* ------------------------------------------------------------ ttrpc (runtime -> agent) */

static struct kt_ttrpc_time ttrpc_now(const struct kt_conn *c)
{
	return (struct kt_ttrpc_time){ .mono_ns = c->cur_ts ? c->cur_ts : kt_mono_ns(),
				       .realtime_off_ns = c->p->realtime_off };
}

static void on_ttrpc_call(void *ctx, const struct kt_ttrpc_call *call)
{
	struct kt_conn *c = ctx;
	struct kt_origin *origin = current_origin(c); /* vsock: the sandbox comes with it */
	struct kt_ttrpc_span_opts o = { 0 };
	if (c->have_sandbox)
		kt_sandbox_ids(c->sandbox.id, strlen(c->sandbox.id), &o.sandbox_trace_id,
				     &o.sandbox_parent_span_id);
	struct kt_span_record *r = kt_span_record_new(1u << 20);
	if (!r) {
		KT_STAT_INC(spans_dropped);
		return;
	}
	r->arena.acct = c->p->cfg.records_acct;
	enum kt_ttrpc_span_result res =
		c->task ? kt_task_span_build(c->task, call, c->p->cfg.registry, NULL, NULL,
					     &r->arena, &r->span)
			: kt_ttrpc_span_build(call, &o, &r->arena, &r->span);
	/* The caller's service: the Go runtime's ttrpc.<Method> spans carry "kata". */
	if (res != KT_TTRPC_SPAN_BUILT ||
	    !kt_span_record_set_service(r, c->task ? "containerd" : "kata")) {
		if (res != KT_TTRPC_SPAN_SKIPPED)
			KT_STAT_INC(spans_dropped);
		if (r->arena.budget_hit) {
			KT_STAT_INC(mem_refused);
			conn_log(c, KT_LOG_WARN, "ttrpc stream %u: span dropped: no room left in "
				 "--memory-budget", call->stream_id);
		}
		kt_span_record_free(r);
		return;
	}
	KT_STAT_INC(spans_decoded);
	r->source = KT_SPAN_FROM_RPC;
	r->origin = kt_origin_get(origin);
	c->p->sink.span(c->p->sink.ctx, r);
}

static void on_ttrpc_error(void *ctx, const char *msg)
{
	stream_error(ctx, "ttrpc", msg);
}

/* The sandbox's trace learns of the call now: the agent's spans may arrive before its answer. */
static uint64_t on_ttrpc_request(void *ctx, const struct kt_ttrpc_call *call)
{
	struct kt_conn *c = ctx;
	if (!c->p->sink.rpc_request)
		return 0;
	current_origin(c); /* vsock: the sandbox comes with the CID's owner */
	if (!c->have_sandbox)
		return 0;
	struct kt_rpc_request rq = {
		.service = call->service,
		.method = call->method,
		.start_unix_ns = call->start_unix_ns,
		.has_traceparent = call->has_traceparent,
		.trace_id = call->trace_id,
	};
	return kt_sink_rpc_request(&c->p->sink, c->sandbox.id, &rq, kt_mono_ns());
}

static const struct kt_ttrpc_conn_ops ttrpc_ops = {
	.call = on_ttrpc_call,
	.request = on_ttrpc_request,
	.error = on_ttrpc_error,
};

/* containerd -> shim: the container and exec ids of each Task request. */
static size_t on_task_note(void *ctx, const struct kt_ttrpc_request *rq, uint8_t *note, size_t cap)
{
	const char *why;
	size_t n = kt_task_note(rq, note, cap, &why);
	if (why) {
		char msg[160];
		snprintf(msg, sizeof(msg), "ttrpc stream %u: %.*s request: %s", rq->stream_id,
			 (int)(rq->method.len < 64 ? rq->method.len : 64), rq->method.ptr, why);
		stream_error(ctx, "containerd task", msg);
	}
	return n;
}

static const struct kt_ttrpc_conn_ops task_ops = {
	.call = on_ttrpc_call,
	.error = on_ttrpc_error,
	.note = on_task_note,
};

static void on_back_data(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	struct kt_conn *c = ctx;
	(void)off;
	kt_ttrpc_conn_push(c->ttrpc, KT_TTRPC_TO_CLIENT, p, n, ttrpc_now(c));
}

static void on_back_gap(void *ctx, uint64_t off, uint64_t len)
{
	struct kt_conn *c = ctx;
	(void)off;
	KT_STAT_INC(gaps);
	KT_STAT_ADD(gap_bytes, len);
	kt_ttrpc_conn_gap(c->ttrpc, KT_TTRPC_TO_CLIENT);
}

static const struct kt_reasm_ops back_ops = { .data = on_back_data, .gap = on_back_gap };

static bool path_ends_with(const char *path, const char *suffix)
{
	size_t n = strlen(path), k = strlen(suffix);
	return k && n >= k && strcmp(path + n - k, suffix) == 0;
}

/* Is this a ttrpc connection? Then c->proto is PROTO_TTRPC, or PROTO_IGNORED without memory. */
static bool start_ttrpc(struct kt_conn *c)
{
	const struct kt_pipeline_cfg *cfg = &c->p->cfg;
	bool match = false, shim = c->id.transport == KT_TRANSPORT_UNIX &&
				   kt_task_socket_match(c->path, cfg->shim_socket_dirs,
							cfg->n_shim_socket_dirs);
	for (size_t i = 0; c->id.transport == KT_TRANSPORT_UNIX && i < cfg->n_ttrpc_sockets; i++)
		match |= path_ends_with(c->path, cfg->ttrpc_sockets[i]);
	/* standard vsock: no CONNECT line, frames from the first byte */
	bool vsock = guest_listens(c) && cfg->ttrpc_vsock_port &&
		     c->vsock_port == cfg->ttrpc_vsock_port;
	if (!match && !shim && !vsock)
		return false;
	struct kt_ttrpc_cfg tc = KT_TTRPC_CFG_DEFAULT;
	tc.buf_acct = &c->pending;
	tc.state_acct = &c->p->state;
	c->proto = PROTO_IGNORED; /* until it is set up */
	if (vsock)
		tc.handshake = KT_TTRPC_HS_NONE;
	if (shim) {
		/* containerd dials the shim: plain ttrpc, Task/Wait waits for an exit */
		tc.handshake = KT_TTRPC_HS_NONE;
		tc.long_poll = kt_task_long_poll;
		c->task = kt_task_conn_new();
		if (!c->task)
			return true;
	}
	c->ttrpc = kt_ttrpc_conn_new(&tc, c->label, shim ? &task_ops : &ttrpc_ops, c);
	if (!c->ttrpc) {
		kt_task_conn_free(c->task);
		c->task = NULL;
		return true;
	}
	if (shim)
		c->transport = "containerd-shim";
	kt_reasm_init(&c->back, &cfg->reasm, &back_ops, c);
	c->back.acct = &c->pending;
	c->have_back = true;
	c->proto = PROTO_TTRPC;
	return true;
}

/* ------------------------------------------------------------ protocol per port */

static bool path_has_port(const char *path, unsigned port)
{
	char suffix[16];
	snprintf(suffix, sizeof(suffix), "_%u", port);
	return port && path_ends_with(path, suffix);
}

/* Decided at the first bytes, when the path (unix) or host port (vsock) is known. */
static void decide_proto(struct kt_conn *c)
{
	if (!start_ttrpc(c)) {
		unsigned jp = c->p->cfg.jaeger_port, lp = c->p->cfg.journal_port;
		/* by port for captured connections; a decoded file is an agent stream */
		bool jaeger = c->id.transport == KT_TRANSPORT_VSOCK  ? jp && c->vsock_port == jp
			      : c->id.transport == KT_TRANSPORT_UNIX ? path_has_port(c->path, jp)
								     : false;
		bool journal = c->id.transport == KT_TRANSPORT_VSOCK  ? lp && c->vsock_port == lp
			       : c->id.transport == KT_TRANSPORT_UNIX ? path_has_port(c->path, lp)
								      : false;
		c->proto = PROTO_AGENT;
		if (journal && !start_journal(c)) {
			c->proto = PROTO_IGNORED;
		} else if (jaeger && !journal) {
			c->jaeger = kt_mem_calloc(&c->p->state, 1, sizeof(*c->jaeger));
			c->proto = c->jaeger ? PROTO_JAEGER : PROTO_IGNORED;
			if (c->jaeger) {
				kt_jaeger_stream_init(c->jaeger, NULL, &jaeger_ops, c);
				c->jaeger->buf_acct = &c->pending;
				c->jaeger->arena_acct = c->p->cfg.records_acct;
			}
		}
	}
	if (c->proto == PROTO_IGNORED)
		conn_log(c, KT_LOG_WARN, "no memory (or no room in --memory-budget) for its "
			 "decoder: its bytes are ignored");
}

static void stream_push(struct kt_conn *c, const uint8_t *p, size_t n)
{
	if (c->proto == PROTO_UNDECIDED)
		decide_proto(c);
	if (c->proto == PROTO_IGNORED)
		return;
	if (c->proto == PROTO_JOURNAL) {
		c->journal_push_ns = kt_mono_ns();
		c->journal_pending = true;
		kt_journal_push(c->journal, p, n, realtime_now(c->p));
	} else if (c->proto == PROTO_JAEGER)
		kt_jaeger_stream_push(c->jaeger, p, n);
	else if (c->proto == PROTO_TTRPC)
		kt_ttrpc_conn_push(c->ttrpc, KT_TTRPC_TO_SERVER, p, n, ttrpc_now(c));
	else
		kt_framer_push(&c->framer, p, n);
}

static void stream_gap(struct kt_conn *c)
{
	if (c->proto == PROTO_IGNORED)
		return;
	if (c->proto == PROTO_JOURNAL)
		kt_journal_gap(c->journal, realtime_now(c->p));
	else if (c->proto == PROTO_JAEGER)
		kt_jaeger_stream_gap(c->jaeger);
	else if (c->proto == PROTO_TTRPC)
		kt_ttrpc_conn_gap(c->ttrpc, KT_TTRPC_TO_SERVER);
	else
		kt_framer_gap(&c->framer);
}

/* End of stream: the bytes of a partial frame or message left over. */
static uint64_t stream_finish(struct kt_conn *c)
{
	if (c->proto == PROTO_IGNORED)
		return 0;
	if (c->proto == PROTO_JOURNAL) {
		/* the last record ends with the stream */
		kt_journal_finish(c->journal, realtime_now(c->p));
		if (c->journal->skipped_bytes)
			conn_log(c, KT_LOG_INFO, "journal: %" PRIu64 " bytes outside any record",
				 c->journal->skipped_bytes);
		return 0;
	}
	if (c->proto == PROTO_JAEGER)
		return kt_jaeger_stream_finish(c->jaeger);
	if (c->proto == PROTO_TTRPC) {
		kt_reasm_finish(&c->back);
		kt_ttrpc_conn_close(c->ttrpc, ttrpc_now(c));
		return 0;
	}
	return kt_framer_finish(&c->framer);
}

static void on_data(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	struct kt_conn *c = ctx;
	(void)off;
	stream_push(c, p, n);
}

static void on_gap(void *ctx, uint64_t off, uint64_t len)
{
	struct kt_conn *c = ctx;

	KT_STAT_INC(gaps);
	KT_STAT_ADD(gap_bytes, len);
	conn_log(c, KT_LOG_WARN, "%" PRIu64 " bytes at stream offset %" PRIu64
		 " were not captured: dropping the frame they belong to", len, off);
	stream_gap(c);
}

static const struct kt_reasm_ops reasm_ops = { .data = on_data, .gap = on_gap };

/* ------------------------------------------------------------ connection table */

static void lru_unlink(struct kt_pipeline *p, struct kt_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		p->lru_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		p->lru_tail = c->prev;
	c->prev = c->next = NULL;
}

static void lru_touch(struct kt_pipeline *p, struct kt_conn *c)
{
	if (p->lru_head == c)
		return;
	/* A new connection is not in the list yet: unlinking it would cut the list. */
	if (c->prev)
		lru_unlink(p, c);
	c->next = p->lru_head;
	if (p->lru_head)
		p->lru_head->prev = c;
	p->lru_head = c;
	if (!p->lru_tail)
		p->lru_tail = c;
}

static struct kt_conn *conn_find(struct kt_pipeline *p, const struct kt_conn_id *id)
{
	for (struct kt_conn *c = p->buckets[conn_hash(id)]; c; c = c->hnext)
		if (conn_id_eq(&c->id, id))
			return c;
	return NULL;
}

/*
 * The active connection's own charges that the budget refused: its data
 * was dropped where it was growing (it held the most). Counted and logged.
 */
static void report_refused(struct kt_conn *c)
{
	uint64_t r = __atomic_load_n(&c->pending.refused, __ATOMIC_RELAXED);
	if (r == c->refused_seen)
		return;
	KT_STAT_ADD(mem_refused, r - c->refused_seen);
	c->refused_seen = r;
	conn_log(c, KT_LOG_WARN, "--memory-budget of %zu bytes reached while this connection "
		 "held the most: its pending data was dropped",
		 c->p->cfg.mem_pool ? c->p->cfg.mem_pool->limit : 0);
}

/* Ends a connection: flushes what can still be decoded, then frees it. */
static void conn_finish(struct kt_pipeline *p, struct kt_conn *c)
{
	struct kt_conn *prev_active = p->active;
	p->active = c;
	kt_reasm_finish(&c->reasm);
	uint64_t partial = stream_finish(c);
	if (partial) {
		KT_STAT_INC(frames_truncated);
		conn_log(c, KT_LOG_INFO, "stream ended inside a frame (%" PRIu64
			 " bytes discarded)", partial);
	}
	report_refused(c);
	conn_log(c, KT_LOG_DEBUG, "closed after %" PRIu64 " frames", c->frames);
	p->active = prev_active == c ? NULL : prev_active;

	struct kt_conn **pp = &p->buckets[conn_hash(&c->id)];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	lru_unlink(p, c);
	p->n_conns--;
	kt_conn_limits_put(&p->limits, c->group);
	kt_reasm_free(&c->reasm);
	kt_framer_free(&c->framer);
	if (c->jaeger) {
		kt_jaeger_stream_free(c->jaeger);
		kt_mem_free(&p->state, c->jaeger, sizeof(*c->jaeger));
	}
	if (c->journal) {
		kt_journal_free(c->journal);
		kt_mem_free(&p->state, c->journal, sizeof(*c->journal));
	}
	if (c->have_back)
		kt_reasm_free(&c->back);
	kt_ttrpc_conn_free(c->ttrpc);
	kt_task_conn_free(c->task);
	kt_origin_put(c->origin);
	kt_mem_free(&p->state, c, sizeof(*c));
}

/* The group a connection counts in (conn_limits.h): its sandbox, or what stands for it. */
static uint64_t conn_group(const struct kt_conn *c)
{
	char key[32];
	if (c->have_sandbox)
		return kt_conn_group(c->sandbox.id);
	if (c->id.transport == KT_TRANSPORT_VSOCK) {
		snprintf(key, sizeof(key), "cid:%u", c->vsock_cid);
		return kt_conn_group(key);
	}
	return c->path[0] ? kt_conn_group(c->path) : 0;
}

/* A connection not followed: remembered, counted, logged (rate-limited). */
static void refuse(struct kt_pipeline *p, const struct kt_conn *t, const char *why)
{
	uint64_t held_back;
	kt_refused_remember(&p->refused, &t->id);
	KT_STAT_INC(conns_refused);
	if (!kt_log_limit_pass(&p->refusal_log, kt_mono_ns(), &held_back))
		return;
	char more[64] = "";
	if (held_back)
		snprintf(more, sizeof(more), " (%" PRIu64 " more refused since the last message)",
			 held_back);
	kt_warn("%s%s%s: not followed: %s%s", t->label, t->have_sandbox ? " sandbox " : "",
		t->have_sandbox ? t->sandbox.id : "", why, more);
}

/* A new connection, unless the limits or the memory budget refuse it (NULL). */
static struct kt_conn *conn_new(struct kt_pipeline *p, const struct kt_conn_id *id,
				const char *transport, const char *path_key, const char *path,
				size_t path_len)
{
	/* Built on the stack first: a refusal names the connection too. */
	struct kt_conn t;
	memset(&t, 0, sizeof(t));
	t.p = p;
	t.id = *id;
	t.transport = transport;
	t.path_key = path_key;
	if (id->transport == KT_TRANSPORT_VSOCK) {
		t.vsock_cid = (uint32_t)(id->a >> 32);
		t.vsock_port = (uint32_t)(id->b & KT_VSOCK_GUEST_LISTENS ? id->a : id->b);
	}
	if (path && path_len)
		set_path(&t, path, path_len);
	else
		set_label(&t);
	t.group = conn_group(&t);

	char why[128];
	enum kt_conn_admit a = kt_conn_limits_take(&p->limits, t.group);
	if (a != KT_CONN_ADMITTED) {
		snprintf(why, sizeof(why), "%s (%zu) reached", kt_conn_admit_reason(a),
			 a == KT_CONN_OVER_TOTAL ? p->limits.max_total : p->limits.max_per_group);
		refuse(p, &t, why);
		return NULL;
	}
	struct kt_conn *c = kt_mem_malloc(&p->state, sizeof(*c));
	if (!c) {
		kt_conn_limits_put(&p->limits, t.group);
		KT_STAT_INC(mem_refused);
		refuse(p, &t, "no room left in --memory-budget for its state");
		return NULL;
	}
	kt_refused_forget(&p->refused, id);
	*c = t;
	kt_mem_acct_init(&c->pending, p->cfg.mem_pool);
	kt_reasm_init(&c->reasm, &p->cfg.reasm, &reasm_ops, c);
	c->reasm.acct = &c->pending;
	kt_framer_init(&c->framer, p->cfg.max_frame, &framer_ops, c);
	c->framer.acct = &c->pending;
	size_t h = conn_hash(id);
	c->hnext = p->buckets[h];
	p->buckets[h] = c;
	p->n_conns++;
	lru_touch(p, c);
	KT_STAT_INC(connections);
	return c;
}

/* ------------------------------------------------------------ memory budget */

/* The connection holding the most buffered bytes, not yet shed in this reclaim. */
static struct kt_conn *largest_pending(struct kt_pipeline *p, const struct kt_conn *skip)
{
	struct kt_conn *best = NULL;
	size_t most = 0;
	for (struct kt_conn *c = p->lru_head; c; c = c->next) {
		if (c == p->active || c == skip || c->shed_gen == p->reclaim_gen)
			continue;
		size_t h = kt_mem_held(&c->pending);
		if (h > most) {
			most = h;
			best = c;
		}
	}
	return best;
}

/* Drops what a connection holds for later: partial frames, out-of-order bytes. */
static void shed(struct kt_pipeline *p, struct kt_conn *c)
{
	size_t before = kt_mem_held(&c->pending);
	uint64_t dropped = kt_reasm_shed(&c->reasm) + kt_framer_shed(&c->framer);
	if (c->have_back)
		dropped += kt_reasm_shed(&c->back);
	if (c->ttrpc)
		dropped += kt_ttrpc_conn_shed(c->ttrpc);
	if (c->jaeger)
		dropped += kt_jaeger_stream_shed(c->jaeger);
	if (c->journal)
		dropped += kt_journal_shed(c->journal);
	size_t after = kt_mem_held(&c->pending);
	c->shed_gen = p->reclaim_gen;
	KT_STAT_INC(mem_shed);
	KT_STAT_ADD(mem_shed_bytes, before - after);
	conn_log(c, KT_LOG_WARN, "--memory-budget of %zu bytes reached: this connection held "
		 "the most (%zu bytes); its pending data (%" PRIu64 " bytes of stream) was dropped",
		 p->cfg.mem_pool->limit, before, dropped);
}

/*
 * The pool's reclaimer: sheds the connections holding the most, largest
 * first, until need fits. A connection asking for room for its own buffers
 * is refused instead (it drops its own data) once it would hold as much
 * as the largest other; the connection being fed is never shed under it.
 */
static void reclaim(void *ctx, const struct kt_mem_acct *req, size_t need)
{
	struct kt_pipeline *p = ctx;
	const struct kt_mem_pool *pool = p->cfg.mem_pool;
	const struct kt_conn *self = NULL;
	size_t floor = 0;

	if (req != &p->state && req != p->cfg.records_acct) {
		self = (const struct kt_conn *)((const char *)req - offsetof(struct kt_conn, pending));
		floor = kt_mem_held(req) + need;
	}
	p->reclaim_gen++;
	while (need > pool->limit || kt_mem_used(pool) > pool->limit - need) {
		struct kt_conn *v = largest_pending(p, self);
		if (!v || kt_mem_held(&v->pending) <= floor)
			return;
		shed(p, v);
	}
}

static const char *transport_name(uint32_t t)
{
	return t == KT_TRANSPORT_VSOCK ? "vsock" : "hybrid-vsock";
}

/* ------------------------------------------------------------ public */

struct kt_pipeline *kt_pipeline_new(const struct kt_pipeline_cfg *cfg,
				    const struct kt_record_sink *sink)
{
	struct kt_pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->cfg = *cfg;
	if (!p->cfg.run_root)
		p->cfg.run_root = "";
	if (!p->cfg.proc_root)
		p->cfg.proc_root = "/proc";
	p->sink = *sink;
	if (kt_conn_limits_init(&p->limits, p->cfg.max_conns, p->cfg.max_sandbox_conns)) {
		free(p);
		return NULL;
	}
	kt_mem_acct_init(&p->state, p->cfg.mem_pool);
	p->refusal_log.interval_ns = KT_REFUSAL_LOG_NS;
	if (p->cfg.mem_pool) {
		p->cfg.mem_pool->reclaim = reclaim;
		p->cfg.mem_pool->reclaim_ctx = p;
	}
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	p->realtime_off = (int64_t)((uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec) -
			  (int64_t)kt_mono_ns();
	return p;
}

static void record(struct kt_pipeline *p, const struct kt_rec_hdr *h, size_t size,
		   uint64_t now_ns)
{
	const void *rec = h;
	struct kt_conn *c = conn_find(p, &h->conn);

	/* A refused connection stays refused until it closes; a new instance may try again. */
	if (!c && h->type != KT_REC_CONN && kt_refused_has(&p->refused, &h->conn)) {
		if (h->type == KT_REC_CLOSE)
			kt_refused_forget(&p->refused, &h->conn);
		return;
	}

	switch (h->type) {
	case KT_REC_CONN: {
		const struct kt_rec_conn *cr = rec;
		if (size < sizeof(*cr))
			return;
		/*
		 * The server end's first write (ttrpc answers) announces the same
		 * connection again from the other side: nothing new.
		 */
		if (c && h->dir != KT_DIR_TO_SERVER)
			return;
		/* The kernel forgot this connection and saw it again: a new instance. */
		if (c)
			conn_finish(p, c);
		c = conn_new(p, &h->conn, transport_name(h->conn.transport),
			     "katatrace.socket.path", cr->path,
			     cr->path_len < sizeof(cr->path) ? cr->path_len : sizeof(cr->path));
		if (!c)
			return;
		c->last_ns = now_ns;
		if (h->dir == KT_DIR_TO_SERVER)
			writer_from_record(c, h);
		conn_log(c, KT_LOG_DEBUG, "new connection from pid %u (%s)", h->tgid,
			 h->pcomm[0] ? c->comm : "?");
		return;
	}
	case KT_REC_DATA:
		if (size < sizeof(*h) + h->len) {
			kt_warn("capture: truncated data record ignored");
			return;
		}
		/* fallthrough */
	case KT_REC_GAP:
		p->active = c;
		/* ttrpc: responses flow back from the hypervisor */
		if (h->dir != KT_DIR_TO_SERVER && c && c->proto == PROTO_UNDECIDED &&
		    (c->path[0] || guest_listens(c)))
			decide_proto(c);
		if (h->dir != KT_DIR_TO_SERVER && c && c->proto == PROTO_TTRPC) {
			/*
			 * The hypervisor answers: it, not the client, names the
			 * origin. (vsock: the guest's CID does; the shim stays.)
			 */
			if (!c->server_writer && !guest_listens(c) &&
			    !(h->flags & KT_F_TASK_IS_READER)) {
				c->pid = 0;
				set_writer(c, h->tgid, h->pcomm, sizeof(h->pcomm));
				copy_comm(c->thread, h->comm, sizeof(h->comm));
				c->server_writer = true;
			}
			lru_touch(p, c);
			c->last_ns = now_ns;
			c->cur_ts = h->ts_ns;
			if (h->type == KT_REC_DATA) {
				KT_STAT_ADD(bytes_captured, h->len);
				kt_reasm_data(&c->back, h->offset, (const uint8_t *)(h + 1), h->len,
					      h->flags & KT_F_PRIOR_LOSS, now_ns);
			} else {
				kt_reasm_gap(&c->back, h->offset, h->len, now_ns);
			}
			return;
		}
		/* Agent spans flow towards the listener; the other way is not ours. */
		if (h->dir != KT_DIR_TO_SERVER) {
			if (h->type == KT_REC_DATA) {
				KT_STAT_ADD(bytes_captured, h->len);
				KT_STAT_ADD(bytes_to_client, h->len);
			}
			return;
		}
		if (!c) {
			c = conn_new(p, &h->conn, transport_name(h->conn.transport),
				     "katatrace.socket.path", NULL, 0);
			if (!c)
				return;
			p->active = c;
			/*
			 * No CONN record: capture began mid-connection (or the
			 * connection was idle-collected). Earlier bytes will never
			 * come, so the stream starts here, not at a hole.
			 */
			c->reasm.next = h->offset;
		}
		if (c->proto != PROTO_TTRPC) /* there the client writes; name the hypervisor */
			writer_from_record(c, h);
		lru_touch(p, c);
		c->last_ns = now_ns;
		c->cur_ts = h->ts_ns;
		if (h->type == KT_REC_DATA) {
			KT_STAT_ADD(bytes_captured, h->len);
			kt_reasm_data(&c->reasm, h->offset, (const uint8_t *)(h + 1), h->len,
				      h->flags & KT_F_PRIOR_LOSS, now_ns);
		} else {
			const char *why = h->flags & KT_F_OVER_CAP ? "over the per-write cap"
					  : h->flags & KT_F_UNSUPPORTED
						  ? "sent by a call the probe cannot read"
						  : "unreadable";
			conn_log(c, KT_LOG_WARN, "%u bytes %s", h->len, why);
			kt_reasm_gap(&c->reasm, h->offset, h->len, now_ns);
		}
		return;
	case KT_REC_CLOSE:
		/* ttrpc: a client may half-close and still read its responses */
		if (c && c->proto == PROTO_TTRPC) {
			if (h->dir == KT_DIR_TO_SERVER)
				c->closed_fwd = true;
			else
				c->closed_back = true;
			if (c->closed_fwd && c->closed_back)
				conn_finish(p, c);
			return;
		}
		if (c && h->dir == KT_DIR_TO_SERVER)
			conn_finish(p, c);
		return;
	default:
		kt_warn("capture: unknown record type %u ignored", h->type);
	}
}

void kt_pipeline_record(struct kt_pipeline *p, const void *rec, size_t size, uint64_t now_ns)
{
	const struct kt_rec_hdr *h = rec;

	if (size < sizeof(*h)) {
		kt_warn("capture: short record (%zu bytes) ignored", size);
		return;
	}
	KT_STAT_INC(records);
	record(p, h, size, now_ns);
	if (p->active)
		report_refused(p->active);
	p->active = NULL;
}

struct kt_conn *kt_pipeline_open(struct kt_pipeline *p, const struct kt_conn_info *info)
{
	struct kt_conn *old = conn_find(p, &info->id);
	if (old)
		conn_finish(p, old);
	bool file = info->transport && strcmp(info->transport, "file") == 0;
	struct kt_conn *c = conn_new(p, &info->id, info->transport ? info->transport : "unknown",
				     file ? "katatrace.file.path" : "katatrace.socket.path",
				     info->path, info->path ? strlen(info->path) : 0);
	if (!c)
		return NULL;
	if (info->pid || info->comm)
		set_writer(c, info->pid, info->comm ? info->comm : "",
			   info->comm ? strlen(info->comm) : 0);
	c->direct = true;
	return c;
}

void kt_pipeline_feed(struct kt_pipeline *p, struct kt_conn *c, const uint8_t *data, size_t n)
{
	lru_touch(p, c);
	KT_STAT_ADD(bytes_captured, n);
	c->fed += n;
	p->active = c;
	stream_push(c, data, n);
	report_refused(c);
	p->active = NULL;
}

void kt_pipeline_close(struct kt_pipeline *p, struct kt_conn *c)
{
	conn_finish(p, c);
}

void kt_pipeline_tick(struct kt_pipeline *p, uint64_t now_ns)
{
	for (struct kt_conn *c = p->lru_head; c; c = c->next) {
		p->active = c;
		kt_reasm_tick(&c->reasm, now_ns);
		/* journald sends a record in one write: silence means it is complete */
		if (c->proto == PROTO_JOURNAL && c->journal_pending &&
		    now_ns >= c->journal_push_ns + KT_JOURNAL_FLUSH_NS) {
			c->journal_pending = false;
			kt_journal_flush(c->journal, realtime_now(p));
		}
		report_refused(c);
	}
	p->active = NULL;
	/*
	 * Connections whose end was never seen (a guest that vanished without
	 * RST, a missed CLOSE) are finished after idle_timeout_ns of silence,
	 * unless discovery says their sandbox still exists: an idle agent, or
	 * a runtime connection with a long poll outstanding, speaks again on
	 * it, and only this entry knows its path, its offsets and its calls.
	 * (The max_conns bound still applies.) An unknown connection that
	 * speaks again simply starts a new entry.
	 */
	struct kt_conn *c = p->lru_tail;
	while (c && p->cfg.idle_timeout_ns && now_ns - c->last_ns > p->cfg.idle_timeout_ns) {
		struct kt_conn *prev = c->prev;
		const struct kt_sandbox_entry *e = conn_entry(c);
		if (!c->direct && !(e && !e->gone_ns)) {
			conn_log(c, KT_LOG_DEBUG, "idle for %llu s: finished",
				 (unsigned long long)((now_ns - c->last_ns) / 1000000000ull));
			conn_finish(p, c);
		}
		c = prev;
	}
}

void kt_pipeline_finish_all(struct kt_pipeline *p)
{
	while (p->lru_head)
		conn_finish(p, p->lru_head);
}

size_t kt_pipeline_conn_count(const struct kt_pipeline *p)
{
	return p->n_conns;
}

size_t kt_pipeline_held(const struct kt_pipeline *p)
{
	size_t n = kt_mem_held(&p->state);
	for (const struct kt_conn *c = p->lru_head; c; c = c->next)
		n += kt_mem_held(&c->pending);
	return n;
}

void kt_pipeline_free(struct kt_pipeline *p)
{
	if (!p)
		return;
	kt_pipeline_finish_all(p);
	kt_conn_limits_free(&p->limits);
	if (p->cfg.mem_pool && p->cfg.mem_pool->reclaim_ctx == p) {
		p->cfg.mem_pool->reclaim = NULL;
		p->cfg.mem_pool->reclaim_ctx = NULL;
	}
	free(p);
}

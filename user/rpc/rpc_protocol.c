/* SPDX-License-Identifier: Apache-2.0 */
#include "rpc/rpc_protocol.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/stats.h"
#include "model/ids.h"
#include "rpc/containerd_task.h"
#include "rpc/ttrpc_rpc.h"
#include "rpc/ttrpc_span.h"

struct rpc {
	const struct kt_rpc_cfg *cfg;
	const struct kt_conn_env *env;
	struct kt_ttrpc_conn *ttrpc;
	struct kt_task_conn *task; /* containerd -> shim */
	uint64_t ts_ns;		   /* capture time of the bytes being pushed */
};

static struct kt_ttrpc_time rpc_time(const struct rpc *r, uint64_t mono_ns)
{
	return (struct kt_ttrpc_time){ .mono_ns = mono_ns ? mono_ns : kt_mono_ns(),
				       .realtime_off_ns = r->env->realtime_off_ns };
}

/* A complaint about the connection's bytes: counted and said. */
static void complain(const struct rpc *r, enum kt_decode_format f, const char *decoder,
		     const char *msg)
{
	kt_stat_decode_error(f);
	r->env->say(r->env->conn, KT_LOG_WARN, "%s: %s", decoder, msg);
}

static void on_call(void *ctx, const struct kt_ttrpc_call *call)
{
	struct rpc *rp = ctx;
	const struct kt_conn_env *env = rp->env;
	struct kt_origin *origin = env->origin(env->conn); /* vsock: the sandbox comes with it */
	const char *sandbox = env->sandbox_id(env->conn);
	struct kt_ttrpc_span_opts o = { 0 };
	if (sandbox)
		kt_sandbox_ids(sandbox, strlen(sandbox), &o.sandbox_trace_id,
			       &o.sandbox_parent_span_id);
	struct kt_span_record *r = kt_span_record_new(1u << 20);
	if (!r) {
		kt_stat_drop(KT_REC_SPANS, KT_DROP_NO_MEMORY, 1);
		return;
	}
	r->arena.acct = env->records;
	enum kt_ttrpc_span_result res =
		rp->task ? kt_task_span_build(rp->task, call, rp->cfg->registry, NULL, NULL,
					      &r->arena, &r->span)
			 : kt_ttrpc_span_build(call, &o, &r->arena, &r->span);
	/* The caller's service: the Go runtime's ttrpc.<Method> spans carry "kata". */
	if (res != KT_TTRPC_SPAN_BUILT ||
	    !kt_span_record_set_service(r, rp->task ? "containerd" : "kata")) {
		if (res != KT_TTRPC_SPAN_SKIPPED)
			kt_stat_drop(KT_REC_SPANS, r->arena.budget_hit ? KT_DROP_MEMORY_BUDGET
								       : KT_DROP_NO_MEMORY, 1);
		if (r->arena.budget_hit) {
			KT_STAT_INC(mem_refused);
			env->say(env->conn, KT_LOG_WARN, "ttrpc stream %u: span dropped: no room left "
				 "in --memory-budget", call->stream_id);
		}
		kt_span_record_free(r);
		return;
	}
	KT_STAT_INC(spans_decoded);
	r->source = KT_SPAN_FROM_RPC;
	r->origin = kt_origin_get(origin);
	env->sink->span(env->sink->ctx, r);
}

static void on_error(void *ctx, const char *msg)
{
	complain(ctx, KT_DFMT_TTRPC, "ttrpc", msg);
}

/* The sandbox's trace learns of the call now: the agent's spans may arrive before its answer. */
static uint64_t on_request(void *ctx, const struct kt_ttrpc_call *call)
{
	struct rpc *rp = ctx;
	const struct kt_conn_env *env = rp->env;
	if (!env->sink->rpc_request)
		return 0;
	const char *sandbox = env->sandbox_id(env->conn); /* vsock: the CID's owner's */
	if (!sandbox)
		return 0;
	struct kt_rpc_request rq = {
		.service = call->service,
		.method = call->method,
		.start_unix_ns = call->start_unix_ns,
		.has_traceparent = call->has_traceparent,
		.trace_id = call->trace_id,
	};
	return kt_sink_rpc_request(env->sink, sandbox, &rq, kt_mono_ns());
}

static const struct kt_ttrpc_conn_ops ttrpc_ops = {
	.call = on_call,
	.request = on_request,
	.error = on_error,
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
		complain(ctx, KT_DFMT_CONTAINERD_TASK, "containerd task", msg);
	}
	return n;
}

static const struct kt_ttrpc_conn_ops task_ops = {
	.call = on_call,
	.error = on_error,
	.note = on_task_note,
};

static bool path_ends_with(const char *path, const char *suffix)
{
	size_t n = strlen(path), k = strlen(suffix);
	return k && n >= k && strcmp(path + n - k, suffix) == 0;
}

static bool ttrpc_accepts(const void *cfgp, const struct kt_conn_facts *f)
{
	const struct kt_rpc_cfg *cfg = cfgp;
	/* standard vsock: the host dialled the agent's port */
	if (f->transport == KT_TRANSPORT_VSOCK)
		return f->guest_listens && cfg->ttrpc_vsock_port &&
		       f->vsock_port == cfg->ttrpc_vsock_port;
	for (size_t i = 0; f->transport == KT_TRANSPORT_UNIX && i < cfg->n_ttrpc_sockets; i++)
		if (path_ends_with(f->path, cfg->ttrpc_sockets[i]))
			return true;
	return false;
}

static bool task_accepts(const void *cfgp, const struct kt_conn_facts *f)
{
	const struct kt_rpc_cfg *cfg = cfgp;
	return f->transport == KT_TRANSPORT_UNIX &&
	       kt_task_socket_match(f->path, cfg->shim_socket_dirs, cfg->n_shim_socket_dirs);
}

static void *rpc_open(const struct kt_rpc_cfg *cfg, const struct kt_conn_env *env, bool shim,
		      enum kt_ttrpc_hs handshake)
{
	struct rpc *rp = kt_mem_calloc(env->state, 1, sizeof(*rp));
	if (!rp)
		return NULL;
	rp->cfg = cfg;
	rp->env = env;
	struct kt_ttrpc_cfg tc = KT_TTRPC_CFG_DEFAULT;
	tc.buf_acct = env->buffers;
	tc.state_acct = env->state;
	tc.handshake = handshake;
	if (shim) {
		/* containerd dials the shim: plain ttrpc, Task/Wait waits for an exit */
		tc.long_poll = kt_task_long_poll;
		rp->task = kt_task_conn_new();
	}
	if (!shim || rp->task)
		rp->ttrpc = kt_ttrpc_conn_new(&tc, env->label, shim ? &task_ops : &ttrpc_ops, rp);
	if (!rp->ttrpc) {
		kt_task_conn_free(rp->task);
		kt_mem_free(env->state, rp, sizeof(*rp));
		return NULL;
	}
	return rp;
}

static void *ttrpc_open(const void *cfg, const struct kt_conn_facts *f,
			const struct kt_conn_env *env)
{
	/* hybrid vsock starts with a "CONNECT <port>" line; standard vsock with frames */
	return rpc_open(cfg, env, false,
			f->transport == KT_TRANSPORT_VSOCK ? KT_TTRPC_HS_NONE : KT_TTRPC_HS_AUTO);
}

static void *task_open(const void *cfg, const struct kt_conn_facts *f,
		       const struct kt_conn_env *env)
{
	(void)f;
	return rpc_open(cfg, env, true, KT_TTRPC_HS_NONE);
}

static enum kt_ttrpc_dir ttrpc_dir(enum kt_dir dir)
{
	return dir == KT_DIR_TO_SERVER ? KT_TTRPC_TO_SERVER : KT_TTRPC_TO_CLIENT;
}

static void rpc_push(void *st, enum kt_dir dir, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	struct rpc *rp = st;
	rp->ts_ns = ts_ns;
	kt_ttrpc_conn_push(rp->ttrpc, ttrpc_dir(dir), p, n, rpc_time(rp, ts_ns));
}

static void rpc_gap(void *st, enum kt_dir dir)
{
	kt_ttrpc_conn_gap(((struct rpc *)st)->ttrpc, ttrpc_dir(dir));
}

static uint64_t rpc_shed(void *st)
{
	return kt_ttrpc_conn_shed(((struct rpc *)st)->ttrpc);
}

static uint64_t rpc_end(void *st, uint64_t now_ns)
{
	struct rpc *rp = st;
	(void)now_ns;
	/* calls still outstanding end with the connection, at its last bytes' time */
	kt_ttrpc_conn_close(rp->ttrpc, rpc_time(rp, rp->ts_ns));
	kt_ttrpc_conn_free(rp->ttrpc);
	kt_task_conn_free(rp->task);
	kt_mem_free(rp->env->state, rp, sizeof(*rp));
	return 0;
}

static bool rpc_unfinished(void *st, enum kt_dir dir,
			   void (*put)(void *ctx, const uint8_t *p, size_t n), void *ctx)
{
	return kt_ttrpc_conn_unfinished(((struct rpc *)st)->ttrpc, ttrpc_dir(dir), put, ctx);
}

/* Calls awaiting their answer are not carried over: dropped, not reported as closed. */
static uint64_t rpc_handed_over(void *st)
{
	struct rpc *rp = st;
	uint64_t open_calls = kt_ttrpc_conn_outstanding(rp->ttrpc);
	kt_ttrpc_conn_free(rp->ttrpc);
	kt_task_conn_free(rp->task);
	kt_mem_free(rp->env->state, rp, sizeof(*rp));
	return open_calls;
}

const struct kt_protocol kt_ttrpc_protocol = {
	.name = "ttrpc",
	.accepts = ttrpc_accepts,
	.both_ways = true,
	.peer = KT_PEER_HYPERVISOR,
	.open = ttrpc_open,
	.push = rpc_push,
	.gap = rpc_gap,
	.shed = rpc_shed,
	.end = rpc_end,
	.unfinished = rpc_unfinished,
	.handed_over = rpc_handed_over,
};

const struct kt_protocol kt_task_protocol = {
	.name = "containerd task",
	.accepts = task_accepts,
	.both_ways = true,
	.transport = "containerd-shim",
	.peer = KT_PEER_SHIM,
	.open = task_open,
	.push = rpc_push,
	.gap = rpc_gap,
	.shed = rpc_shed,
	.end = rpc_end,
	.unfinished = rpc_unfinished,
	.handed_over = rpc_handed_over,
};

/* SPDX-License-Identifier: Apache-2.0 */
#include "agent/agent_protocol.h"

#include <inttypes.h>
#include <stdlib.h>

#include "agent/framer.h"
#include "base/stats.h"

struct agent {
	const struct kt_agent_cfg *cfg;
	const struct kt_conn_env *env;
	struct kt_framer framer;
	uint64_t frames; /* complete frames, for messages */
};

static void on_frame(void *ctx, const uint8_t *payload, size_t len)
{
	struct agent *ag = ctx;
	const struct kt_conn_env *env = ag->env;
	struct kt_decode_error err;
	enum kt_format used;

	KT_STAT_INC(frames);
	ag->frames++;
	struct kt_span_record *r = kt_span_record_new(kt_decode_arena_limit(len));
	if (!r) {
		kt_stat_drop(KT_REC_SPANS, KT_DROP_NO_MEMORY, 1);
		return;
	}
	r->arena.acct = env->records;
	if (kt_decode_span(ag->cfg->format, payload, len, &r->arena, &r->span, &used, &err)) {
		if (r->arena.budget_hit) {
			kt_stat_drop(KT_REC_SPANS, KT_DROP_MEMORY_BUDGET, 1);
			KT_STAT_INC(mem_refused);
			env->say(env->conn, KT_LOG_WARN, "frame %" PRIu64 " (%zu bytes) dropped: no "
				 "room left in --memory-budget to decode it", ag->frames, len);
		} else {
			kt_stat_decode_error(used == KT_FORMAT_BINCODE ? KT_DFMT_AGENT_BINCODE
								       : KT_DFMT_AGENT_JSON);
			env->say(env->conn, KT_LOG_WARN, "frame %" PRIu64 " (%zu bytes, %s) rejected: %s",
				 ag->frames, len, kt_format_name(used), err.msg);
		}
		kt_span_record_free(r);
		return;
	}
	KT_STAT_INC(spans_decoded);
	r->origin = kt_origin_get(env->origin(env->conn));
	env->sink->span(env->sink->ctx, r);
}

static void on_oversize(void *ctx, uint64_t len)
{
	struct agent *ag = ctx;

	KT_STAT_INC(frames_oversize);
	/* an error, always said: the stream is now dropped */
	ag->env->say(ag->env->conn, KT_LOG_ERROR, "frame header announces %" PRIu64
		     " bytes, over --max-frame %" PRIu64 ": dropping this stream",
		     len, ag->cfg->max_frame);
}

static void on_resynced(void *ctx, uint64_t skipped)
{
	struct agent *ag = ctx;

	KT_STAT_INC(resyncs);
	ag->env->say(ag->env->conn, KT_LOG_WARN, "resynchronised at a frame boundary after "
		     "skipping %" PRIu64 " bytes", skipped);
}

/* A resync candidate is a frame only if it decodes exactly. */
static bool on_validate(void *ctx, const uint8_t *payload, size_t len)
{
	struct agent *ag = ctx;
	struct kt_arena a;
	struct kt_span s;
	struct kt_decode_error err;

	kt_arena_init(&a, kt_decode_arena_limit(len));
	a.acct = ag->env->records;
	bool ok = kt_decode_span(ag->cfg->format, payload, len, &a, &s, NULL, &err) == 0;
	kt_arena_free(&a);
	return ok;
}

static const struct kt_framer_ops framer_ops = {
	.frame = on_frame,
	.oversize = on_oversize,
	.resynced = on_resynced,
	.validate = on_validate,
};

static bool agent_accepts(const void *cfg, const struct kt_conn_facts *f)
{
	(void)cfg;
	(void)f;
	return true;
}

static void *agent_open(const void *cfg, const struct kt_conn_facts *f,
		        const struct kt_conn_env *env)
{
	(void)f;
	struct agent *ag = kt_mem_calloc(env->state, 1, sizeof(*ag));
	if (!ag)
		return NULL;
	ag->cfg = cfg;
	ag->env = env;
	kt_framer_init(&ag->framer, ag->cfg->max_frame, &framer_ops, ag);
	ag->framer.acct = env->buffers;
	return ag;
}

static void agent_push(void *st, enum kt_dir dir, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	struct agent *ag = st;
	(void)ts_ns;
	if (dir == KT_DIR_TO_SERVER)
		kt_framer_push(&ag->framer, p, n);
}

static void agent_gap(void *st, enum kt_dir dir)
{
	struct agent *ag = st;
	if (dir == KT_DIR_TO_SERVER)
		kt_framer_gap(&ag->framer);
}

static uint64_t agent_shed(void *st)
{
	return kt_framer_shed(&((struct agent *)st)->framer);
}

static uint64_t agent_end(void *st, uint64_t now_ns)
{
	struct agent *ag = st;
	(void)now_ns;
	uint64_t partial = kt_framer_finish(&ag->framer);
	ag->env->say(ag->env->conn, KT_LOG_DEBUG, "closed after %" PRIu64 " frames", ag->frames);
	kt_framer_free(&ag->framer);
	kt_mem_free(ag->env->state, ag, sizeof(*ag));
	return partial;
}

/* Only the bytes towards the listener are framed; the other way it holds nothing. */
static bool agent_unfinished(void *st, enum kt_dir dir,
			     void (*put)(void *ctx, const uint8_t *p, size_t n), void *ctx)
{
	struct agent *ag = st;
	return dir != KT_DIR_TO_SERVER || kt_framer_unfinished(&ag->framer, put, ctx);
}

const struct kt_protocol kt_agent_protocol = {
	.name = "agent",
	.accepts = agent_accepts,
	.peer = KT_PEER_HYPERVISOR,
	.open = agent_open,
	.push = agent_push,
	.gap = agent_gap,
	.shed = agent_shed,
	.end = agent_end,
	.unfinished = agent_unfinished,
};

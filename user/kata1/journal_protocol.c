/* SPDX-License-Identifier: Apache-2.0 */
#include "kata1/journal_protocol.h"

#include <inttypes.h>

#include "base/clock.h"
#include "base/stats.h"
#include "kata1/journal_log.h"
#include "kata1/journal_stream.h"

struct journal {
	const struct kt_conn_env *env;
	struct kt_journal_stream stream;
	uint64_t push_ns; /* last bytes (CLOCK_MONOTONIC) */
	bool pending;     /* bytes since the last flush */
};

static uint64_t realtime_now(const struct kt_conn_env *env)
{
	return (uint64_t)((int64_t)kt_mono_ns() + env->realtime_off_ns);
}

static void on_record(void *ctx, const struct kt_journal_record *rec)
{
	struct journal *j = ctx;
	const struct kt_conn_env *env = j->env;

	KT_STAT_INC(logs_decoded);
	if (!env->sink->log) {
		kt_stat_drop(KT_REC_LOGS, KT_DROP_UNSUPPORTED, 1);
		return;
	}
	struct kt_log_record *r = kt_journal_log_new(rec, realtime_now(env));
	if (!r) {
		kt_stat_drop(KT_REC_LOGS, KT_DROP_NO_MEMORY, 1);
		return;
	}
	if (!kt_arena_charge(&r->arena, env->records)) {
		kt_stat_drop(KT_REC_LOGS, KT_DROP_MEMORY_BUDGET, 1);
		KT_STAT_INC(mem_refused);
		env->say(env->conn, KT_LOG_WARN, "journal: record at offset %" PRIu64 " dropped: "
			 "no room left in --memory-budget", rec->offset);
		kt_log_record_free(r);
		return;
	}
	if (rec->truncated)
		env->say(env->conn, KT_LOG_WARN, "journal: record at offset %" PRIu64
			 " longer than %zu bytes: cut", rec->offset, j->stream.max_record);
	r->origin = kt_origin_get(env->origin(env->conn));
	kt_sink_log(env->sink, r);
}

static const struct kt_journal_ops ops = { .record = on_record };

static bool journal_accepts(const void *cfg, const struct kt_conn_facts *f)
{
	return kt_conn_to_port(f, ((const struct kt_journal_cfg *)cfg)->port);
}

static void *journal_open(const void *cfg, const struct kt_conn_facts *f,
		          const struct kt_conn_env *env)
{
	(void)f;
	(void)cfg;
	struct journal *j = kt_mem_calloc(env->state, 1, sizeof(*j));
	if (!j)
		return NULL;
	j->env = env;
	kt_journal_init(&j->stream, 0, &ops, j);
	j->stream.acct = env->buffers;
	return j;
}

static void journal_push(void *st, enum kt_dir dir, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	struct journal *j = st;
	(void)ts_ns;
	if (dir != KT_DIR_TO_SERVER)
		return;
	j->push_ns = kt_mono_ns();
	j->pending = true;
	kt_journal_push(&j->stream, p, n, realtime_now(j->env));
}

static void journal_gap(void *st, enum kt_dir dir)
{
	struct journal *j = st;
	if (dir == KT_DIR_TO_SERVER)
		kt_journal_gap(&j->stream, realtime_now(j->env));
}

/* journald sends a record in one write: silence means it is complete. */
static void journal_tick(void *st, uint64_t now_ns)
{
	struct journal *j = st;
	if (j->pending && now_ns >= j->push_ns + KT_JOURNAL_FLUSH_NS) {
		j->pending = false;
		kt_journal_flush(&j->stream, realtime_now(j->env));
	}
}

static uint64_t journal_shed(void *st)
{
	return kt_journal_shed(&((struct journal *)st)->stream);
}

static uint64_t journal_end(void *st, uint64_t now_ns)
{
	struct journal *j = st;
	(void)now_ns;
	/* the last record ends with the stream */
	kt_journal_finish(&j->stream, realtime_now(j->env));
	if (j->stream.skipped_bytes)
		j->env->say(j->env->conn, KT_LOG_INFO, "journal: %" PRIu64 " bytes outside any record",
			    j->stream.skipped_bytes);
	kt_journal_free(&j->stream);
	kt_mem_free(j->env->state, j, sizeof(*j));
	return 0;
}

const struct kt_protocol kt_journal_protocol = {
	.name = "journal",
	.accepts = journal_accepts,
	.peer = KT_PEER_HYPERVISOR,
	.open = journal_open,
	.push = journal_push,
	.gap = journal_gap,
	.tick = journal_tick,
	.shed = journal_shed,
	.end = journal_end,
};

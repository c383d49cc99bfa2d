/* SPDX-License-Identifier: Apache-2.0 */
#include "kata1/jaeger_protocol.h"

#include "base/stats.h"
#include "kata1/decode_jaeger.h"

struct jaeger {
	const struct kt_conn_env *env;
	struct kt_jaeger_stream stream;
};

static void on_batch(void *ctx, const struct kt_jaeger_batch *b, struct kt_arena *a)
{
	const struct kt_conn_env *env = ((struct jaeger *)ctx)->env;

	KT_STAT_INC(frames);
	if (!b->n_spans)
		return;
	/* The spans of one batch share its arena; each record holds a reference. */
	struct kt_shared_arena *sa = kt_shared_arena_adopt(a);
	if (!sa) {
		kt_stat_drop(KT_REC_SPANS, KT_DROP_NO_MEMORY, b->n_spans);
		return;
	}
	struct kt_origin *o = env->origin(env->conn);
	for (size_t i = 0; i < b->n_spans; i++) {
		struct kt_span_record *r = kt_span_record_new_shared(sa, &b->spans[i]);
		if (!r) {
			kt_stat_drop(KT_REC_SPANS, KT_DROP_NO_MEMORY, 1);
			continue;
		}
		KT_STAT_INC(spans_decoded);
		r->origin = kt_origin_get(o);
		env->sink->span(env->sink->ctx, r);
	}
	kt_shared_arena_put(sa);
}

static void on_error(void *ctx, const char *msg)
{
	const struct kt_conn_env *env = ((struct jaeger *)ctx)->env;
	kt_stat_decode_error(KT_DFMT_JAEGER_THRIFT);
	env->say(env->conn, KT_LOG_WARN, "jaeger: %s", msg);
}

static const struct kt_jaeger_stream_ops ops = { .batch = on_batch, .error = on_error };

static bool jaeger_accepts(const void *cfg, const struct kt_conn_facts *f)
{
	return kt_conn_to_port(f, ((const struct kt_jaeger_cfg *)cfg)->port);
}

static void *jaeger_open(const void *cfg, const struct kt_conn_facts *f,
		         const struct kt_conn_env *env)
{
	(void)f;
	(void)cfg;
	struct jaeger *j = kt_mem_calloc(env->state, 1, sizeof(*j));
	if (!j)
		return NULL;
	j->env = env;
	kt_jaeger_stream_init(&j->stream, NULL, &ops, j);
	j->stream.buf_acct = env->buffers;
	j->stream.arena_acct = env->records;
	return j;
}

static void jaeger_push(void *st, enum kt_dir dir, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	(void)ts_ns;
	if (dir == KT_DIR_TO_SERVER)
		kt_jaeger_stream_push(&((struct jaeger *)st)->stream, p, n);
}

static void jaeger_gap(void *st, enum kt_dir dir)
{
	if (dir == KT_DIR_TO_SERVER)
		kt_jaeger_stream_gap(&((struct jaeger *)st)->stream);
}

static uint64_t jaeger_shed(void *st)
{
	return kt_jaeger_stream_shed(&((struct jaeger *)st)->stream);
}

static uint64_t jaeger_end(void *st, uint64_t now_ns)
{
	struct jaeger *j = st;
	(void)now_ns;
	uint64_t partial = kt_jaeger_stream_finish(&j->stream);
	kt_jaeger_stream_free(&j->stream);
	kt_mem_free(j->env->state, j, sizeof(*j));
	return partial;
}

const struct kt_protocol kt_jaeger_protocol = {
	.name = "jaeger",
	.accepts = jaeger_accepts,
	.peer = KT_PEER_HYPERVISOR,
	.open = jaeger_open,
	.push = jaeger_push,
	.gap = jaeger_gap,
	.shed = jaeger_shed,
	.end = jaeger_end,
};

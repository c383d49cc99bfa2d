/* SPDX-License-Identifier: Apache-2.0 */
#include "rpc/ttrpc_span.h"

#include <string.h>

#include "exporters/grpc_frame.h"
#include "model/ids.h"

#define KT_TTRPC_SPAN_ATTRS 11

struct builder {
	struct kt_arena *a;
	struct kt_kv *kv;
	size_t n;
	bool failed;
};

static struct kt_str copy_str(struct builder *b, const char *p, size_t n)
{
	char *s = kt_arena_memdup0(b->a, p, n);
	if (!s) {
		b->failed = true;
		return (struct kt_str){ "", 0 };
	}
	return (struct kt_str){ s, n };
}

static struct kt_kv *add(struct builder *b, const char *key)
{
	struct kt_kv *kv = &b->kv[b->n++];
	kv->key = (struct kt_str){ key, strlen(key) }; /* static: outlives any arena */
	return kv;
}

static void add_str(struct builder *b, const char *key, struct kt_str v)
{
	struct kt_kv *kv = add(b, key);
	kv->value.type = KT_VAL_STRING;
	kv->value.s = v;
}

static void add_i64(struct builder *b, const char *key, int64_t v)
{
	struct kt_kv *kv = add(b, key);
	kv->value.type = KT_VAL_I64;
	kv->value.i = v;
}

static void add_true(struct builder *b, const char *key)
{
	struct kt_kv *kv = add(b, key);
	kv->value.type = KT_VAL_BOOL;
	kv->value.b = true;
}

static int64_t clamp_i64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static void set_ids(const struct kt_ttrpc_call *c, const struct kt_ttrpc_span_opts *o,
		    struct builder *b, struct kt_span *s)
{
	uint64_t (*gen)(void *) = o->new_span_id;
	uint64_t id;

	if (c->has_traceparent) {
		s->ctx.trace_id = c->trace_id;
		s->ctx.span_id = c->parent_span_id;
		s->ctx.trace_flags = c->trace_flags;
		s->parent_span_id = 0;
		if (!c->has_tracestate)
			return;
		struct kt_tracestate_entry m[KT_TTRPC_TRACESTATE_MAX_MEMBERS];
		int n = kt_ttrpc_tracestate_parse(c->tracestate.ptr, c->tracestate.len, m);
		if (n <= 0)
			return;
		s->ctx.trace_state = kt_arena_calloc(b->a, (size_t)n, sizeof(m[0]));
		if (!s->ctx.trace_state) {
			b->failed = true;
			return;
		}
		for (int i = 0; i < n; i++) {
			s->ctx.trace_state[i].key = copy_str(b, m[i].key.ptr, m[i].key.len);
			s->ctx.trace_state[i].value = copy_str(b, m[i].value.ptr, m[i].value.len);
		}
		s->ctx.trace_state_present = true;
		s->ctx.trace_state_n = (size_t)n;
		return;
	}
	id = c->span_id;
	while (id == 0)
		id = gen ? gen(o->new_span_id_ctx) : kt_random_span_id();
	s->ctx.span_id = id;
	s->ctx.trace_id = o->sandbox_trace_id;
	if (!s->ctx.trace_id.hi && !s->ctx.trace_id.lo) {
		s->ctx.trace_id.hi = kt_random_span_id();
		s->ctx.trace_id.lo = kt_random_span_id();
	}
	s->ctx.trace_flags = 1; /* sampled, as the runtime's AlwaysSample */
	s->parent_span_id = o->sandbox_parent_span_id;
}

enum kt_ttrpc_span_result kt_ttrpc_span_build(const struct kt_ttrpc_call *c,
					      const struct kt_ttrpc_span_opts *o,
					      struct kt_arena *a, struct kt_span *out)
{
	static const struct kt_ttrpc_span_opts no_opts;
	struct builder b = { .a = a };
	char name[2 * KT_TTRPC_MAX_NAME + 1];

	memset(out, 0, sizeof(*out));
	if (!o)
		o = &no_opts;
	if (c->long_poll && o->drop_long_poll)
		return KT_TTRPC_SPAN_SKIPPED;

	size_t extra = o->extra_attrs < KT_TTRPC_SPAN_MAX_EXTRA ? o->extra_attrs
								: KT_TTRPC_SPAN_MAX_EXTRA;
	b.kv = kt_arena_calloc(a, KT_TTRPC_SPAN_ATTRS + extra, sizeof(*b.kv));
	if (!b.kv)
		return KT_TTRPC_SPAN_FAILED;
	size_t mlen = c->method.len < KT_TTRPC_MAX_NAME ? c->method.len : KT_TTRPC_MAX_NAME;
	size_t slen = c->service.len < KT_TTRPC_MAX_NAME ? c->service.len : KT_TTRPC_MAX_NAME;
	size_t n = 0;
	if (o->full_name) {
		memcpy(name, c->service.ptr, slen);
		n = slen;
		name[n++] = '/';
	} else {
		memcpy(name, "ttrpc.", 6);
		n = 6;
	}
	memcpy(name + n, c->method.ptr, mlen);
	out->name = copy_str(&b, name, n + mlen);
	out->kind = KT_KIND_CLIENT;
	out->start_unix_nano = c->start_unix_ns;
	out->end_unix_nano = c->end_unix_ns;
	set_ids(c, o, &b, out);

	add_str(&b, "rpc.system", (struct kt_str){ "ttrpc", 5 });
	add_str(&b, "rpc.service", copy_str(&b, c->service.ptr, c->service.len));
	add_str(&b, "rpc.method", copy_str(&b, c->method.ptr, c->method.len));
	add_i64(&b, "rpc.grpc.status_code", c->status_code);
	add_i64(&b, "katatrace.rpc.stream_id", c->stream_id);
	add_i64(&b, "katatrace.rpc.request.size", clamp_i64(c->request_size));
	if (c->end == KT_TTRPC_END_RESPONSE)
		add_i64(&b, "katatrace.rpc.response.size", clamp_i64(c->response_size));
	if (c->timeout_nano)
		add_i64(&b, "katatrace.rpc.timeout_ns", c->timeout_nano);
	const char *end = kt_ttrpc_end_name(c->end);
	add_str(&b, "katatrace.rpc.end", (struct kt_str){ end, strlen(end) });
	if (c->long_poll)
		add_true(&b, "katatrace.rpc.long_poll");
	add_true(&b, "katatrace.synthesized");
	out->attrs = (struct kt_kvlist){ .n = b.n, .kv = b.kv };

	if (c->status_code != KT_TTRPC_CODE_OK) {
		out->status_code = KT_STATUS_ERROR;
		if (c->status_message.len)
			out->status_message = copy_str(&b, c->status_message.ptr, c->status_message.len);
		else
			out->status_message = copy_str(&b, kt_grpc_code_name(c->status_code),
						       strlen(kt_grpc_code_name(c->status_code)));
	} else {
		out->status_message = (struct kt_str){ "", 0 };
	}
	if (b.failed) {
		memset(out, 0, sizeof(*out));
		return KT_TTRPC_SPAN_FAILED;
	}
	return KT_TTRPC_SPAN_BUILT;
}

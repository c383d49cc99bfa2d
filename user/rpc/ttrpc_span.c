/* SPDX-License-Identifier: Apache-2.0 */
#include "rpc/ttrpc_span.h"

#include <string.h>

#include "model/attrs.h"
#include "model/grpc_code.h"
#include "model/ids.h"

#define KT_TTRPC_SPAN_ATTRS 11

static int64_t clamp_i64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static void set_ids(const struct kt_ttrpc_call *c, const struct kt_ttrpc_span_opts *o,
		    struct kt_attrs *b, struct kt_span *s)
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
			s->ctx.trace_state[i].key = kt_attrs_dup(b, m[i].key.ptr, m[i].key.len);
			s->ctx.trace_state[i].value = kt_attrs_dup(b, m[i].value.ptr, m[i].value.len);
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
	struct kt_attrs b;
	char name[2 * KT_TTRPC_MAX_NAME + 1];

	memset(out, 0, sizeof(*out));
	if (!o)
		o = &no_opts;
	if (c->long_poll && o->drop_long_poll)
		return KT_TTRPC_SPAN_SKIPPED;

	size_t extra = o->extra_attrs < KT_TTRPC_SPAN_MAX_EXTRA ? o->extra_attrs
								: KT_TTRPC_SPAN_MAX_EXTRA;
	if (!kt_attrs_init(&b, a, KT_TTRPC_SPAN_ATTRS + extra))
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
	out->name = kt_attrs_dup(&b, name, n + mlen);
	out->kind = KT_KIND_CLIENT;
	out->start_unix_nano = c->start_unix_ns;
	out->end_unix_nano = c->end_unix_ns;
	set_ids(c, o, &b, out);

	kt_attrs_str(&b, "rpc.system", (struct kt_str){ "ttrpc", 5 });
	kt_attrs_str(&b, "rpc.service", kt_attrs_dup(&b, c->service.ptr, c->service.len));
	kt_attrs_str(&b, "rpc.method", kt_attrs_dup(&b, c->method.ptr, c->method.len));
	kt_attrs_int(&b, "rpc.grpc.status_code", c->status_code);
	kt_attrs_int(&b, "katatrace.rpc.stream_id", c->stream_id);
	kt_attrs_int(&b, "katatrace.rpc.request.size", clamp_i64(c->request_size));
	if (c->end == KT_TTRPC_END_RESPONSE)
		kt_attrs_int(&b, "katatrace.rpc.response.size", clamp_i64(c->response_size));
	if (c->timeout_nano)
		kt_attrs_int(&b, "katatrace.rpc.timeout_ns", c->timeout_nano);
	const char *end = kt_ttrpc_end_name(c->end);
	kt_attrs_str(&b, "katatrace.rpc.end", (struct kt_str){ end, strlen(end) });
	if (c->long_poll)
		kt_attrs_bool(&b, "katatrace.rpc.long_poll", true);
	kt_attrs_bool(&b, "katatrace.synthesized", true);
	out->attrs = kt_attrs_list(&b);

	if (c->status_code != KT_GRPC_OK) {
		out->status_code = KT_STATUS_ERROR;
		if (c->status_message.len)
			out->status_message = kt_attrs_dup(&b, c->status_message.ptr, c->status_message.len);
		else
			out->status_message = kt_attrs_dup(&b, kt_grpc_code_name(c->status_code),
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

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Span records -> ExportTraceServiceRequest: the span mapping and the
 * agent's resource; the request's shape (groups, resources, scopes) is
 * otlp_request.c's. Only pointers and small structs are allocated; strings
 * are referenced where the records hold them.
 */
#include "exporters/otlp_build.h"

#include <stdint.h>
#include <string.h>

#include "exporters/otlp_types.h"

#define SPAN_FLAGS_HAS_IS_REMOTE 0x100u
#define SPAN_FLAGS_IS_REMOTE 0x200u

/* ------------------------------------------------------------------ ids etc. */

/* W3C tracestate header form: "k=v,k2=v2" in list order; None and [] are "". */
static ProtobufCBinaryData trace_state_bin(const struct kt_span_context *c, struct kt_arena *a,
					   int *err)
{
	if (!c->trace_state_present || !c->trace_state_n)
		return kt_otlp_bytes(NULL, 0);
	size_t len = c->trace_state_n - 1; /* commas */
	for (size_t i = 0; i < c->trace_state_n; i++)
		len += c->trace_state[i].key.len + 1 + c->trace_state[i].value.len;
	char *p = kt_arena_alloc(a, len + 1);
	if (!p) {
		*err = -1;
		return kt_otlp_bytes(NULL, 0);
	}
	size_t off = 0;
	for (size_t i = 0; i < c->trace_state_n; i++) {
		const struct kt_tracestate_entry *e = &c->trace_state[i];
		if (i)
			p[off++] = ',';
		memcpy(p + off, e->key.ptr, e->key.len);
		off += e->key.len;
		p[off++] = '=';
		memcpy(p + off, e->value.ptr, e->value.len);
		off += e->value.len;
	}
	return kt_otlp_bytes(p, len);
}

static uint32_t span_flags(const struct kt_span_context *c)
{
	return c->trace_flags | SPAN_FLAGS_HAS_IS_REMOTE | (c->is_remote ? SPAN_FLAGS_IS_REMOTE : 0);
}

static Opentelemetry__Proto__Trace__V1__Span__SpanKind span_kind(enum kt_span_kind k)
{
	switch (k) {
	case KT_KIND_CLIENT:
		return OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
	case KT_KIND_SERVER:
		return OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
	case KT_KIND_PRODUCER:
		return OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_PRODUCER;
	case KT_KIND_CONSUMER:
		return OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CONSUMER;
	case KT_KIND_INTERNAL:
		return OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL;
	}
	return OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_UNSPECIFIED;
}

static Opentelemetry__Proto__Trace__V1__Status__StatusCode status_code(enum kt_status_code c)
{
	switch (c) {
	case KT_STATUS_OK:
		return OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK;
	case KT_STATUS_ERROR:
		return OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
	case KT_STATUS_UNSET:
		break;
	}
	return OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_UNSET;
}

/* ------------------------------------------------------------------ span */

static int fill_event(pb_event *ev, const struct kt_event *src, struct kt_arena *a)
{
	opentelemetry__proto__trace__v1__span__event__init(ev);
	ev->time_unix_nano = src->time_unix_nano;
	ev->name = kt_otlp_str(src->name);
	ev->dropped_attributes_count = src->dropped_attributes_count;
	return kt_otlp_attrs(&src->attrs, NULL, &ev->n_attributes, &ev->attributes, a);
}

static int fill_link(pb_link *l, const struct kt_link *src, struct kt_arena *a)
{
	int err = 0;
	opentelemetry__proto__trace__v1__span__link__init(l);
	l->trace_id = kt_otlp_trace_id(&src->ctx.trace_id, a, &err);
	l->span_id = kt_otlp_span_id(src->ctx.span_id, a, &err);
	l->trace_state = trace_state_bin(&src->ctx, a, &err);
	l->flags = span_flags(&src->ctx);
	l->dropped_attributes_count = src->dropped_attributes_count;
	if (err)
		return -1;
	return kt_otlp_attrs(&src->attrs, NULL, &l->n_attributes, &l->attributes, a);
}

static pb_span *build_span(const struct kt_span *s, struct kt_arena *a)
{
	int err = 0;
	pb_span *o = kt_arena_alloc(a, sizeof(*o));
	pb_status *st = kt_arena_alloc(a, sizeof(*st));
	if (!o || !st)
		return NULL;
	opentelemetry__proto__trace__v1__span__init(o);
	o->trace_id = kt_otlp_trace_id(&s->ctx.trace_id, a, &err);
	o->span_id = kt_otlp_span_id(s->ctx.span_id, a, &err);
	o->trace_state = trace_state_bin(&s->ctx, a, &err);
	if (s->parent_span_id)
		o->parent_span_id = kt_otlp_span_id(s->parent_span_id, a, &err);
	o->flags = span_flags(&s->ctx);
	o->name = kt_otlp_str(s->name);
	o->kind = span_kind(s->kind);
	o->start_time_unix_nano = s->start_unix_nano;
	o->end_time_unix_nano = s->end_unix_nano;
	if (err || kt_otlp_attrs(&s->attrs, NULL, &o->n_attributes, &o->attributes, a))
		return NULL;
	o->dropped_attributes_count = s->attrs_dropped;

	if (s->n_events) {
		pb_event *evs = kt_arena_calloc(a, s->n_events, sizeof(*evs));
		pb_event **ptrs = kt_arena_calloc(a, s->n_events, sizeof(*ptrs));
		if (!evs || !ptrs)
			return NULL;
		for (size_t i = 0; i < s->n_events; i++) {
			if (fill_event(&evs[i], &s->events[i], a))
				return NULL;
			ptrs[i] = &evs[i];
		}
		o->n_events = s->n_events;
		o->events = ptrs;
	}
	o->dropped_events_count = s->events_dropped;

	if (s->n_links) {
		pb_link *lks = kt_arena_calloc(a, s->n_links, sizeof(*lks));
		pb_link **ptrs = kt_arena_calloc(a, s->n_links, sizeof(*ptrs));
		if (!lks || !ptrs)
			return NULL;
		for (size_t i = 0; i < s->n_links; i++) {
			if (fill_link(&lks[i], &s->links[i], a))
				return NULL;
			ptrs[i] = &lks[i];
		}
		o->n_links = s->n_links;
		o->links = ptrs;
	}
	o->dropped_links_count = s->links_dropped;

	opentelemetry__proto__trace__v1__status__init(st);
	st->code = status_code(s->status_code);
	st->message = kt_otlp_str(s->status_message);
	o->status = st;
	return o;
}

/* ------------------------------------------------------------------ resource */

/* "unknown_service" and "unknown_service:<exe>" are SDK fallbacks, not names. */
static bool is_default_service_name(const struct kt_value *v)
{
	static const char base[] = "unknown_service";
	const size_t n = sizeof(base) - 1;
	if (v->type != KT_VAL_STRING || v->s.len < n || memcmp(v->s.ptr, base, n) != 0)
		return false;
	return v->s.len == n || v->s.ptr[n] == ':';
}

/*
 * The resource attributes a span gets, before the origin's: the agent's in
 * their order with an SDK-default service.name replaced in place, or
 * service.name appended when the agent sent none. An agent attribute whose
 * key the origin also sets is left out: the transport is authoritative for
 * katatrace.* and OTLP keys must be unique.
 */
static int effective_resource(const struct kt_span *s, const struct kt_origin *origin,
			      const struct kt_kv *service, struct kt_otlp_res *out,
			      struct kt_arena *a)
{
	size_t n_agent = s->resource_present ? s->resource.n : 0;
	out->n = 0;
	out->kv = kt_arena_calloc(a, n_agent + 1, sizeof(*out->kv));
	if (!out->kv)
		return -1;
	bool have_service = false;
	for (size_t i = 0; i < n_agent; i++) {
		const struct kt_kv *kv = &s->resource.kv[i];
		if (kt_otlp_origin_has_key(origin, kv->key))
			continue;
		if (kt_otlp_str_eq(kv->key, service->key)) {
			have_service = true;
			if (is_default_service_name(&kv->value))
				kv = service;
		}
		out->kv[out->n++] = kv;
	}
	if (!have_service && !kt_otlp_origin_has_key(origin, service->key))
		out->kv[out->n++] = service;
	return 0;
}

/* ------------------------------------------------------------------ request */

static const void *rec_next(const void *rec)
{
	return ((const struct kt_span_record *)rec)->next;
}

static const struct kt_origin *rec_origin(const void *rec)
{
	return ((const struct kt_span_record *)rec)->origin;
}

static int rec_resource(const void *rec, const struct kt_otlp_res *service,
			struct kt_otlp_res *out, struct kt_arena *a)
{
	const struct kt_span_record *r = rec;
	return effective_resource(&r->span, r->origin, service->kv[0], out, a);
}

static ProtobufCMessage *rec_map(const void *rec, struct kt_arena *a)
{
	pb_span *s = build_span(&((const struct kt_span_record *)rec)->span, a);
	return s ? &s->base : NULL;
}

static const struct kt_otlp_kind spans_kind = {
	.scope_name = KT_SCOPE_NAME,
	.request_msg = &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
	.group_msg = &opentelemetry__proto__trace__v1__resource_spans__descriptor,
	.scope_msg = &opentelemetry__proto__trace__v1__scope_spans__descriptor,
	.next = rec_next,
	.origin = rec_origin,
	.resource = rec_resource,
	.map = rec_map,
};

kt_otlp_request *kt_otlp_build(const struct kt_span_record *head, const struct kt_resource_cfg *cfg,
			       struct kt_arena *a)
{
	/* The request's base is its first member. */
	return (kt_otlp_request *)kt_otlp_build_request(&spans_kind, head, cfg, a);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Span records -> ExportTraceServiceRequest. Only pointers and small structs
 * are allocated; strings are referenced where the records hold them.
 */
#include "exporters/otlp_build.h"

#include <stdint.h>
#include <string.h>

#include "exporters/otlp_types.h"

#define SPAN_FLAGS_HAS_IS_REMOTE 0x100u
#define SPAN_FLAGS_IS_REMOTE 0x200u

static ProtobufCBinaryData bin(const void *p, size_t n)
{
	/* protobuf-c only reads through data when packing. */
	return (ProtobufCBinaryData){ .len = n, .data = n ? (uint8_t *)p : NULL };
}

ProtobufCBinaryData kt_otlp_str(struct kt_str s)
{
	return bin(s.ptr, s.len);
}

/* ------------------------------------------------------------------ values */

static int fill_array(pb_any *v, const struct kt_value *src, struct kt_arena *a)
{
	pb_array *arr = kt_arena_alloc(a, sizeof(*arr));
	if (!arr)
		return -1;
	opentelemetry__proto__common__v1__array_value__init(arr);
	size_t n = src->arr.n;
	if (n) {
		pb_any *items = kt_arena_calloc(a, n, sizeof(*items));
		pb_any **ptrs = kt_arena_calloc(a, n, sizeof(*ptrs));
		if (!items || !ptrs)
			return -1;
		for (size_t i = 0; i < n; i++) {
			struct kt_value e = { 0 };
			switch (src->type) {
			case KT_VAL_ARRAY_BOOL:
				e.type = KT_VAL_BOOL;
				e.b = src->arr.b[i];
				break;
			case KT_VAL_ARRAY_I64:
				e.type = KT_VAL_I64;
				e.i = src->arr.i[i];
				break;
			case KT_VAL_ARRAY_F64:
				e.type = KT_VAL_F64;
				e.f = src->arr.f[i];
				break;
			default:
				e.type = KT_VAL_STRING;
				e.s = src->arr.s[i];
				break;
			}
			if (kt_otlp_value(&items[i], &e, a))
				return -1;
			ptrs[i] = &items[i];
		}
		arr->n_values = n;
		arr->values = ptrs;
	}
	/* An empty array is still an array_value, not an unset value. */
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
	v->array_value = arr;
	return 0;
}

int kt_otlp_value(pb_any *v, const struct kt_value *src, struct kt_arena *a)
{
	opentelemetry__proto__common__v1__any_value__init(v);
	switch (src->type) {
	case KT_VAL_BOOL:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
		v->bool_value = src->b;
		return 0;
	case KT_VAL_I64:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
		v->int_value = src->i;
		return 0;
	case KT_VAL_F64:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
		v->double_value = src->f;
		return 0;
	case KT_VAL_STRING:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		v->string_value = kt_otlp_str(src->s);
		return 0;
	case KT_VAL_ARRAY_BOOL:
	case KT_VAL_ARRAY_I64:
	case KT_VAL_ARRAY_F64:
	case KT_VAL_ARRAY_STRING:
		return fill_array(v, src, a);
	}
	return 0; /* unknown type: value left unset */
}

static int fill_kv(pb_kv *kv, pb_any *val, struct kt_str key, const struct kt_value *src,
		   struct kt_arena *a)
{
	opentelemetry__proto__common__v1__key_value__init(kv);
	kv->key = kt_otlp_str(key);
	kv->value = val;
	return kt_otlp_value(val, src, a);
}

/* Allocates the pointer array and the KeyValues for up to n attributes. */
static pb_kv **alloc_kvs(size_t n, pb_kv **kvs, pb_any **vals, struct kt_arena *a)
{
	pb_kv **ptrs = kt_arena_calloc(a, n, sizeof(*ptrs));
	*kvs = kt_arena_calloc(a, n, sizeof(**kvs));
	*vals = kt_arena_calloc(a, n, sizeof(**vals));
	if (!ptrs || !*kvs || !*vals)
		return NULL;
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &(*kvs)[i];
	return ptrs;
}

int kt_otlp_attrs(const struct kt_kvlist *first, const struct kt_kvlist *then, size_t *n_out,
		  pb_kv ***out, struct kt_arena *a)
{
	size_t n1 = first ? first->n : 0, n = n1 + (then ? then->n : 0);
	*n_out = 0;
	*out = NULL;
	if (!n)
		return 0;
	pb_kv *kvs;
	pb_any *vals;
	pb_kv **ptrs = alloc_kvs(n, &kvs, &vals, a);
	if (!ptrs)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct kt_kv *kv = i < n1 ? &first->kv[i] : &then->kv[i - n1];
		if (fill_kv(&kvs[i], &vals[i], kv->key, &kv->value, a))
			return -1;
	}
	*n_out = n;
	*out = ptrs;
	return 0;
}

/* ------------------------------------------------------------------ ids etc. */

static ProtobufCBinaryData trace_id_bin(const struct kt_trace_id *id, struct kt_arena *a, int *err)
{
	uint8_t *p = kt_arena_alloc(a, 16);
	if (!p) {
		*err = -1;
		return bin(NULL, 0);
	}
	kt_trace_id_bytes(id, p);
	return bin(p, 16);
}

static ProtobufCBinaryData span_id_bin(uint64_t id, struct kt_arena *a, int *err)
{
	uint8_t *p = kt_arena_alloc(a, 8);
	if (!p) {
		*err = -1;
		return bin(NULL, 0);
	}
	kt_span_id_bytes(id, p);
	return bin(p, 8);
}

/* W3C tracestate header form: "k=v,k2=v2" in list order; None and [] are "". */
static ProtobufCBinaryData trace_state_bin(const struct kt_span_context *c, struct kt_arena *a,
					   int *err)
{
	if (!c->trace_state_present || !c->trace_state_n)
		return bin(NULL, 0);
	size_t len = c->trace_state_n - 1; /* commas */
	for (size_t i = 0; i < c->trace_state_n; i++)
		len += c->trace_state[i].key.len + 1 + c->trace_state[i].value.len;
	char *p = kt_arena_alloc(a, len + 1);
	if (!p) {
		*err = -1;
		return bin(NULL, 0);
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
	return bin(p, len);
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
	l->trace_id = trace_id_bin(&src->ctx.trace_id, a, &err);
	l->span_id = span_id_bin(src->ctx.span_id, a, &err);
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
	o->trace_id = trace_id_bin(&s->ctx.trace_id, a, &err);
	o->span_id = span_id_bin(s->ctx.span_id, a, &err);
	o->trace_state = trace_state_bin(&s->ctx, a, &err);
	if (s->parent_span_id)
		o->parent_span_id = span_id_bin(s->parent_span_id, a, &err);
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

static bool str_eq(struct kt_str x, struct kt_str y)
{
	return x.len == y.len && (x.len == 0 || memcmp(x.ptr, y.ptr, x.len) == 0);
}

static bool origin_has_key(const struct kt_origin *o, struct kt_str key)
{
	if (!o)
		return false;
	for (size_t i = 0; i < o->attrs.n; i++)
		if (str_eq(o->attrs.kv[i].key, key))
			return true;
	return false;
}

/*
 * The resource attributes a span gets, before the origin's: the agent's in
 * their order with an SDK-default service.name replaced in place, or
 * service.name appended when the agent sent none. An agent attribute whose
 * key the origin also sets is left out: the transport is authoritative for
 * katatrace.* and OTLP keys must be unique.
 */
struct eff_resource {
	size_t n;
	const struct kt_kv **kv;
};

static int effective_resource(const struct kt_span *s, const struct kt_origin *origin,
			      const struct kt_kv *service, struct eff_resource *out,
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
		if (origin_has_key(origin, kv->key))
			continue;
		if (str_eq(kv->key, service->key)) {
			have_service = true;
			if (is_default_service_name(&kv->value))
				kv = service;
		}
		out->kv[out->n++] = kv;
	}
	if (!have_service && !origin_has_key(origin, service->key))
		out->kv[out->n++] = service;
	return 0;
}

static pb_resource *build_resource(const struct eff_resource *eff, const struct kt_origin *origin,
				   struct kt_arena *a)
{
	size_t n_origin = origin ? origin->attrs.n : 0;
	size_t n = eff->n + n_origin;
	pb_resource *r = kt_arena_alloc(a, sizeof(*r));
	pb_kv *kvs;
	pb_any *vals;
	pb_kv **ptrs = alloc_kvs(n ? n : 1, &kvs, &vals, a);
	if (!r || !ptrs)
		return NULL;
	opentelemetry__proto__resource__v1__resource__init(r);
	for (size_t i = 0; i < n; i++) {
		const struct kt_kv *kv = i < eff->n ? eff->kv[i] : &origin->attrs.kv[i - eff->n];
		if (fill_kv(&kvs[i], &vals[i], kv->key, &kv->value, a))
			return NULL;
	}
	r->n_attributes = n;
	r->attributes = ptrs;
	return r;
}

/* ------------------------------------------------------------------ grouping */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t hash_value(uint64_t h, const struct kt_value *v)
{
	uint32_t t = v->type;
	h = fnv(h, &t, sizeof(t));
	switch (v->type) {
	case KT_VAL_BOOL:
		return fnv(h, &(uint8_t){ v->b }, 1);
	case KT_VAL_I64:
		return fnv(h, &v->i, sizeof(v->i));
	case KT_VAL_F64:
		return fnv(h, &v->f, sizeof(v->f));
	case KT_VAL_STRING:
		return fnv(fnv(h, &v->s.len, sizeof(v->s.len)), v->s.ptr, v->s.len);
	default:
		/* Arrays: length only; equality is decided by values_eq. */
		return fnv(h, &v->arr.n, sizeof(v->arr.n));
	}
}

/* Bitwise for doubles so that NaN groups with NaN. */
static bool values_eq(const struct kt_value *x, const struct kt_value *y)
{
	if (x->type != y->type)
		return false;
	switch (x->type) {
	case KT_VAL_BOOL:
		return x->b == y->b;
	case KT_VAL_I64:
		return x->i == y->i;
	case KT_VAL_F64:
		return memcmp(&x->f, &y->f, sizeof(x->f)) == 0;
	case KT_VAL_STRING:
		return str_eq(x->s, y->s);
	default:
		break;
	}
	if (x->arr.n != y->arr.n)
		return false;
	for (size_t i = 0; i < x->arr.n; i++) {
		switch (x->type) {
		case KT_VAL_ARRAY_BOOL:
			if (x->arr.b[i] != y->arr.b[i])
				return false;
			break;
		case KT_VAL_ARRAY_I64:
			if (x->arr.i[i] != y->arr.i[i])
				return false;
			break;
		case KT_VAL_ARRAY_F64:
			if (memcmp(&x->arr.f[i], &y->arr.f[i], sizeof(double)) != 0)
				return false;
			break;
		case KT_VAL_ARRAY_STRING:
			if (!str_eq(x->arr.s[i], y->arr.s[i]))
				return false;
			break;
		default:
			return false;
		}
	}
	return true;
}

struct group {
	uint64_t hash;
	uint64_t origin_id;
	const struct kt_origin *origin;
	struct eff_resource res;
	size_t n_spans;
	pb_scope_spans *ss;
};

static uint64_t group_hash(uint64_t origin_id, const struct eff_resource *e)
{
	uint64_t h = fnv(0xcbf29ce484222325ull, &origin_id, sizeof(origin_id));
	for (size_t i = 0; i < e->n; i++) {
		h = fnv(h, &e->kv[i]->key.len, sizeof(size_t));
		h = fnv(h, e->kv[i]->key.ptr, e->kv[i]->key.len);
		h = hash_value(h, &e->kv[i]->value);
	}
	return h;
}

static bool same_group(const struct group *g, uint64_t h, uint64_t origin_id,
		       const struct eff_resource *e)
{
	if (g->hash != h || g->origin_id != origin_id || g->res.n != e->n)
		return false;
	for (size_t i = 0; i < e->n; i++)
		if (!str_eq(g->res.kv[i]->key, e->kv[i]->key) ||
		    !values_eq(&g->res.kv[i]->value, &e->kv[i]->value))
			return false;
	return true;
}

/*
 * Spans whose origin and resulting resource are the same share a
 * ResourceSpans: an agent that sent no resource and one that sent the SDK
 * default end up together.
 */
kt_otlp_request *kt_otlp_build(const struct kt_span_record *head, const struct kt_resource_cfg *cfg,
			       struct kt_arena *a)
{
	kt_otlp_request *req = kt_arena_alloc(a, sizeof(*req));
	if (!req)
		return NULL;
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);

	size_t n = 0;
	for (const struct kt_span_record *r = head; r; r = r->next)
		n++;
	if (!n)
		return req;

	const char *svc = cfg && cfg->service_name ? cfg->service_name : KT_DEFAULT_SERVICE_NAME;
	struct kt_kv *service = kt_arena_alloc(a, sizeof(*service));
	if (!service)
		return NULL;
	service->key = (struct kt_str){ .ptr = "service.name", .len = strlen("service.name") };
	service->value.type = KT_VAL_STRING;
	service->value.s = (struct kt_str){ .ptr = svc, .len = strlen(svc) };

	/* Pass 1: assign every record a group, in order of first appearance. */
	struct group *groups = kt_arena_calloc(a, n, sizeof(*groups));
	size_t *gidx = kt_arena_calloc(a, n, sizeof(*gidx));
	if (!groups || !gidx)
		return NULL;
	size_t n_groups = 0, i = 0;
	for (const struct kt_span_record *r = head; r; r = r->next, i++) {
		struct eff_resource e;
		if (effective_resource(&r->span, r->origin, service, &e, a))
			return NULL;
		uint64_t oid = r->origin ? r->origin->id : 0;
		uint64_t h = group_hash(oid, &e);
		size_t g = 0;
		while (g < n_groups && !same_group(&groups[g], h, oid, &e))
			g++;
		if (g == n_groups) {
			groups[g].hash = h;
			groups[g].origin_id = oid;
			groups[g].origin = r->origin;
			groups[g].res = e;
			n_groups++;
		}
		groups[g].n_spans++;
		gidx[i] = g;
	}

	/* Pass 2: one ResourceSpans with a single ScopeSpans per group. */
	pb_resource_spans **rs_ptrs = kt_arena_calloc(a, n_groups, sizeof(*rs_ptrs));
	if (!rs_ptrs)
		return NULL;
	for (size_t g = 0; g < n_groups; g++) {
		pb_resource_spans *rs = kt_arena_alloc(a, sizeof(*rs));
		pb_scope_spans *ss = kt_arena_alloc(a, sizeof(*ss));
		pb_scope_spans **ss_ptrs = kt_arena_alloc(a, sizeof(*ss_ptrs));
		pb_scope *scope = kt_arena_alloc(a, sizeof(*scope));
		pb_span **spans = kt_arena_calloc(a, groups[g].n_spans, sizeof(*spans));
		if (!rs || !ss || !ss_ptrs || !scope || !spans)
			return NULL;
		opentelemetry__proto__trace__v1__resource_spans__init(rs);
		opentelemetry__proto__trace__v1__scope_spans__init(ss);
		opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
		scope->name = bin(KT_SCOPE_NAME, strlen(KT_SCOPE_NAME));
		ss->scope = scope;
		ss->spans = spans;
		ss_ptrs[0] = ss;
		rs->n_scope_spans = 1;
		rs->scope_spans = ss_ptrs;
		rs->resource = build_resource(&groups[g].res, groups[g].origin, a);
		if (!rs->resource)
			return NULL;
		groups[g].ss = ss;
		rs_ptrs[g] = rs;
	}
	i = 0;
	for (const struct kt_span_record *r = head; r; r = r->next, i++) {
		pb_scope_spans *ss = groups[gidx[i]].ss;
		pb_span *s = build_span(&r->span, a);
		if (!s)
			return NULL;
		ss->spans[ss->n_spans++] = s;
	}
	req->n_resource_spans = n_groups;
	req->resource_spans = rs_ptrs;
	return req;
}

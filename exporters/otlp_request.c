/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shape every OTLP request shares (otlp_request.h): values and
 * attributes, resources, grouping records by origin and resource. Only
 * pointers and small structs are allocated; strings are referenced where the
 * records hold them.
 */
#include "exporters/otlp_request.h"

#include <stdint.h>
#include <string.h>

#include "exporters/otlp_types.h"

ProtobufCBinaryData kt_otlp_bytes(const void *p, size_t n)
{
	/* protobuf-c only reads through data when packing. */
	return (ProtobufCBinaryData){ .len = n, .data = n ? (uint8_t *)p : NULL };
}

ProtobufCBinaryData kt_otlp_trace_id(const struct kt_trace_id *id, struct kt_arena *a, int *err)
{
	uint8_t *p = kt_arena_alloc(a, 16);
	if (!p) {
		*err = -1;
		return kt_otlp_bytes(NULL, 0);
	}
	kt_trace_id_bytes(id, p);
	return kt_otlp_bytes(p, 16);
}

ProtobufCBinaryData kt_otlp_span_id(uint64_t id, struct kt_arena *a, int *err)
{
	uint8_t *p = kt_arena_alloc(a, 8);
	if (!p) {
		*err = -1;
		return kt_otlp_bytes(NULL, 0);
	}
	kt_span_id_bytes(id, p);
	return kt_otlp_bytes(p, 8);
}

ProtobufCBinaryData kt_otlp_str(struct kt_str s)
{
	return kt_otlp_bytes(s.ptr, s.len);
}

bool kt_otlp_str_eq(struct kt_str x, struct kt_str y)
{
	return x.len == y.len && (x.len == 0 || memcmp(x.ptr, y.ptr, x.len) == 0);
}

bool kt_otlp_origin_has_key(const struct kt_origin *o, struct kt_str key)
{
	for (size_t i = 0; o && i < o->attrs.n; i++)
		if (kt_otlp_str_eq(o->attrs.kv[i].key, key))
			return true;
	return false;
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

/* ------------------------------------------------------------------ resource */

/* The group's attributes, then its origin's. */
static pb_resource *build_resource(const struct kt_otlp_res *eff, const struct kt_origin *origin,
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
		return kt_otlp_str_eq(x->s, y->s);
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
			if (!kt_otlp_str_eq(x->arr.s[i], y->arr.s[i]))
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
	struct kt_otlp_res res;
	size_t n, filled;	    /* its records, those mapped so far */
	ProtobufCMessage **records; /* of its ScopeSpans / ScopeLogs */
};

static uint64_t group_hash(uint64_t origin_id, const struct kt_otlp_res *e)
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
		       const struct kt_otlp_res *e)
{
	if (g->hash != h || g->origin_id != origin_id || g->res.n != e->n)
		return false;
	for (size_t i = 0; i < e->n; i++)
		if (!kt_otlp_str_eq(g->res.kv[i]->key, e->kv[i]->key) ||
		    !values_eq(&g->res.kv[i]->value, &e->kv[i]->value))
			return false;
	return true;
}

/* ------------------------------------------------------------------ request */

/* Field numbers the trace and logs families share (otlp_request.h). */
enum {
	REQUEST_GROUPS = 1, /* resource_spans, resource_logs */
	GROUP_RESOURCE = 1,
	GROUP_SCOPES = 2, /* scope_spans, scope_logs */
	SCOPE_SCOPE = 1,
	SCOPE_RECORDS = 2, /* spans, log_records */
};

static ProtobufCMessage *new_message(const ProtobufCMessageDescriptor *d, struct kt_arena *a)
{
	ProtobufCMessage *m = kt_arena_alloc(a, d->sizeof_message);
	if (m)
		protobuf_c_message_init(d, m);
	return m;
}

/*
 * Sets the message field `id` of m: one message, or for a repeated field n
 * of them. protobuf-c has no setters; the field is found through the
 * descriptor as protobuf-c's own packing finds it.
 */
static void set_field(ProtobufCMessage *m, unsigned id, const void *value, size_t n)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(m->descriptor, id);
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		memcpy((char *)m + f->quantifier_offset, &n, sizeof(n));
	memcpy((char *)m + f->offset, &value, sizeof(value));
}

/*
 * Records whose origin and resulting resource attributes are the same share
 * a group: for spans, an agent that sent no resource and one that sent the
 * SDK default end up together.
 */
ProtobufCMessage *kt_otlp_build_request(const struct kt_otlp_kind *k, const void *head,
					const struct kt_resource_cfg *cfg, struct kt_arena *a)
{
	ProtobufCMessage *req = new_message(k->request_msg, a);
	if (!req)
		return NULL;
	size_t n = 0;
	for (const void *r = head; r; r = k->next(r))
		n++;
	if (!n)
		return req;

	const char *svc = cfg && cfg->service_name ? cfg->service_name : KT_DEFAULT_SERVICE_NAME;
	struct kt_kv *service = kt_arena_alloc(a, sizeof(*service));
	const struct kt_kv **service_kv = kt_arena_alloc(a, sizeof(*service_kv));
	if (!service || !service_kv)
		return NULL;
	service->key = (struct kt_str){ .ptr = "service.name", .len = strlen("service.name") };
	service->value.type = KT_VAL_STRING;
	service->value.s = (struct kt_str){ .ptr = svc, .len = strlen(svc) };
	service_kv[0] = service;
	const struct kt_otlp_res service_res = { 1, service_kv };

	/* Pass 1: assign every record a group, in order of first appearance. */
	struct group *groups = kt_arena_calloc(a, n, sizeof(*groups));
	size_t *gidx = kt_arena_calloc(a, n, sizeof(*gidx));
	if (!groups || !gidx)
		return NULL;
	size_t n_groups = 0, i = 0;
	for (const void *r = head; r; r = k->next(r), i++) {
		const struct kt_origin *origin = k->origin(r);
		struct kt_otlp_res e;
		if (k->resource(r, &service_res, &e, a))
			return NULL;
		uint64_t oid = origin ? origin->id : 0;
		uint64_t h = group_hash(oid, &e);
		size_t g = 0;
		while (g < n_groups && !same_group(&groups[g], h, oid, &e))
			g++;
		if (g == n_groups) {
			groups[g].hash = h;
			groups[g].origin_id = oid;
			groups[g].origin = origin;
			groups[g].res = e;
			n_groups++;
		}
		groups[g].n++;
		gidx[i] = g;
	}

	/* Pass 2: one group message per group, with its resource and a single scope. */
	ProtobufCMessage **group_msgs = kt_arena_calloc(a, n_groups, sizeof(*group_msgs));
	if (!group_msgs)
		return NULL;
	for (size_t g = 0; g < n_groups; g++) {
		ProtobufCMessage *gm = new_message(k->group_msg, a);
		ProtobufCMessage *sm = new_message(k->scope_msg, a);
		ProtobufCMessage **scopes = kt_arena_alloc(a, sizeof(*scopes));
		pb_scope *scope = kt_arena_alloc(a, sizeof(*scope));
		groups[g].records = kt_arena_calloc(a, groups[g].n, sizeof(*groups[g].records));
		if (!gm || !sm || !scopes || !scope || !groups[g].records)
			return NULL;
		opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
		const char *scope_name = groups[g].origin && groups[g].origin->scope_name
						 ? groups[g].origin->scope_name
						 : k->scope_name;
		scope->name = kt_otlp_bytes(scope_name, strlen(scope_name));
		set_field(sm, SCOPE_SCOPE, scope, 0);
		set_field(sm, SCOPE_RECORDS, groups[g].records, groups[g].n);
		scopes[0] = sm;
		set_field(gm, GROUP_SCOPES, scopes, 1);
		pb_resource *res = build_resource(&groups[g].res, groups[g].origin, a);
		if (!res)
			return NULL;
		set_field(gm, GROUP_RESOURCE, res, 0);
		group_msgs[g] = gm;
	}

	/* Pass 3: the records, in batch order within their group. */
	i = 0;
	for (const void *r = head; r; r = k->next(r), i++) {
		struct group *g = &groups[gidx[i]];
		if (!(g->records[g->filled++] = k->map(r, a)))
			return NULL;
	}
	set_field(req, REQUEST_GROUPS, group_msgs, n_groups);
	return req;
}

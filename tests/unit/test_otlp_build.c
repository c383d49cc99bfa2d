/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kt_otlp_build: every mapping rule of WIRE-FORMATS §2.7 and the resource
 * and grouping rules of otlp_build.h. Requests are packed with protobuf-c and
 * unpacked again, so the checks see what goes on the wire.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "exporters/otlp_build.h"
#include "span_fixture.h"

typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_rs;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;

#define AV(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

static const struct kt_resource_cfg cfg = { .service_name = "svc-from-flag" };

struct fixture {
	struct kt_span_record *head;
	struct kt_arena arena;
	kt_otlp_request *unpacked;
};

static struct fixture fx;

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	kt_arena_init(&fx.arena, 0);
}

static void teardown(void)
{
	if (fx.unpacked)
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
			fx.unpacked, NULL);
	kt_span_record_free_list(fx.head);
	kt_arena_free(&fx.arena);
}

TestSuite(otlp_build, .init = setup, .fini = teardown);

/* Builds from fx.head, packs, unpacks; returns the unpacked request. */
static kt_otlp_request *build(void)
{
	kt_otlp_request *req = kt_otlp_build(fx.head, &cfg, &fx.arena);
	cr_assert_not_null(req);
	size_t n = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
		req);
	uint8_t *buf = malloc(n ? n : 1);
	cr_assert_not_null(buf);
	cr_assert_eq(opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(
			     req, buf),
		     n);
	fx.unpacked = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, n, buf);
	free(buf);
	cr_assert_not_null(fx.unpacked);
	return fx.unpacked;
}

static void assert_bin(ProtobufCBinaryData b, const void *exp, size_t n)
{
	cr_assert_eq(b.len, n, "length %zu, expected %zu", b.len, n);
	if (n)
		cr_assert(memcmp(b.data, exp, n) == 0, "bytes differ");
}

#define ASSERT_BIN_LIT(b, lit) assert_bin((b), (lit), sizeof(lit) - 1)

static pb_span *only_span(kt_otlp_request *req)
{
	cr_assert_eq(req->n_resource_spans, 1);
	cr_assert_eq(req->resource_spans[0]->n_scope_spans, 1);
	cr_assert_eq(req->resource_spans[0]->scope_spans[0]->n_spans, 1);
	return req->resource_spans[0]->scope_spans[0]->spans[0];
}

static void assert_key(const pb_kv *kv, const char *key)
{
	assert_bin(kv->key, key, strlen(key));
	cr_assert_not_null(kv->value);
}

static void assert_str_attr(const pb_kv *kv, const char *key, const char *val)
{
	assert_key(kv, key);
	cr_assert_eq(kv->value->value_case, AV(STRING_VALUE));
	assert_bin(kv->value->string_value, val, strlen(val));
}

/* ------------------------------------------------------------------ span fields */

Test(otlp_build, ids_flags_kind_times_name)
{
	fx_append(&fx.head, fx_record("CreateContainer"));
	pb_span *s = only_span(build());

	ASSERT_BIN_LIT(s->trace_id, "\x0a\xf7\x65\x19\x16\xcd\x43\xdd\x84\x48\xeb\x21\x1c\x80\x31\x9c");
	ASSERT_BIN_LIT(s->span_id, "\xb7\xad\x6b\x71\x69\x20\x33\x31");
	ASSERT_BIN_LIT(s->parent_span_id, "\x00\xf0\x67\xaa\x0b\xa9\x02\xb7");
	cr_assert_eq(s->flags, 0x101); /* sampled | HAS_IS_REMOTE */
	ASSERT_BIN_LIT(s->name, "CreateContainer");
	cr_assert_eq(s->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL);
	cr_assert_eq(s->start_time_unix_nano, 1700000000000005000ull);
	cr_assert_eq(s->end_time_unix_nano, 1700000000250005000ull);
	cr_assert_eq(s->trace_state.len, 0);
	cr_assert_eq(s->n_attributes, 0);
	cr_assert_eq(s->n_events, 0);
	cr_assert_eq(s->n_links, 0);
	cr_assert_not_null(s->status);
	cr_assert_eq(s->status->code, 0);
	cr_assert_eq(s->status->message.len, 0);
}

Test(otlp_build, root_has_empty_parent_and_big_ids)
{
	struct kt_span_record *r = fx_record("bigids");
	r->span.parent_span_id = 0;
	r->span.ctx.trace_id.hi = UINT64_MAX;
	r->span.ctx.trace_id.lo = UINT64_MAX - 1;
	r->span.ctx.span_id = UINT64_MAX;
	fx_append(&fx.head, r);
	pb_span *s = only_span(build());
	cr_assert_eq(s->parent_span_id.len, 0);
	ASSERT_BIN_LIT(s->trace_id, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe");
	ASSERT_BIN_LIT(s->span_id, "\xff\xff\xff\xff\xff\xff\xff\xff");
}

Test(otlp_build, flags_remote_and_unsampled)
{
	struct kt_span_record *a = fx_record("remote");
	a->span.ctx.is_remote = true;
	struct kt_span_record *b = fx_record("unsampled");
	b->span.ctx.trace_flags = 0;
	struct kt_span_record *c = fx_record("all-bits");
	c->span.ctx.trace_flags = 0xff;
	c->span.ctx.is_remote = true;
	fx_append(&fx.head, a);
	fx_append(&fx.head, b);
	fx_append(&fx.head, c);
	pb_span **s = build()->resource_spans[0]->scope_spans[0]->spans;
	cr_assert_eq(s[0]->flags, 0x301);
	cr_assert_eq(s[1]->flags, 0x100);
	cr_assert_eq(s[2]->flags, 0x3ff);
}

Test(otlp_build, kind_mapping)
{
	static const struct {
		enum kt_span_kind in;
		int out;
	} map[] = {
		{ KT_KIND_CLIENT, 3 },	 { KT_KIND_SERVER, 2 },	  { KT_KIND_PRODUCER, 4 },
		{ KT_KIND_CONSUMER, 5 }, { KT_KIND_INTERNAL, 1 },
	};
	for (size_t i = 0; i < 5; i++) {
		struct kt_span_record *r = fx_record("k");
		r->span.kind = map[i].in;
		fx_append(&fx.head, r);
	}
	pb_span **s = build()->resource_spans[0]->scope_spans[0]->spans;
	for (size_t i = 0; i < 5; i++)
		cr_assert_eq((int)s[i]->kind, map[i].out, "kind %d", map[i].in);
}

Test(otlp_build, attributes_typed_in_model_order)
{
	struct kt_span_record *r = fx_record("values");
	struct kt_arena *a = &r->arena;
	bool bools[] = { true, false, true };
	int64_t ints[] = { 1, -2, INT64_MIN };
	double dbls[] = { 0.5, NAN, -INFINITY };
	struct kt_str strs[] = { fx_str(a, "x"), fx_str(a, ""), FX_LIT(a, "z\0z") };
	struct kt_kv arr[5] = {
		{ .key = fx_str(a, "ab"), .value = { .type = KT_VAL_ARRAY_BOOL, .arr = { .n = 3, .b = bools } } },
		{ .key = fx_str(a, "ai"), .value = { .type = KT_VAL_ARRAY_I64, .arr = { .n = 3, .i = ints } } },
		{ .key = fx_str(a, "af"), .value = { .type = KT_VAL_ARRAY_F64, .arr = { .n = 3, .f = dbls } } },
		{ .key = fx_str(a, "as"), .value = { .type = KT_VAL_ARRAY_STRING, .arr = { .n = 3, .s = strs } } },
		{ .key = fx_str(a, "ai_empty"), .value = { .type = KT_VAL_ARRAY_I64, .arr = { .n = 0 } } },
	};
	r->span.attrs = FX_LIST(a, fx_kv_bool(a, "b_true", true), fx_kv_bool(a, "b_false", false),
				fx_kv_i64(a, "i_max", INT64_MAX), fx_kv_i64(a, "i_zero", 0),
				fx_kv_f64(a, "f_nan", NAN), fx_kv_f64(a, "f_zero", 0.0),
				fx_kv_str(a, "s", "hello"), fx_kv_str(a, "s_empty", ""),
				{ .key = FX_LIT(a, "nul\0key"), .value = { .type = KT_VAL_STRING, .s = FX_LIT(a, "a\0b") } },
				arr[0], arr[1], arr[2], arr[3], arr[4]);
	r->span.attrs_dropped = 7;
	fx_append(&fx.head, r);
	pb_span *s = only_span(build());

	cr_assert_eq(s->n_attributes, 14);
	cr_assert_eq(s->dropped_attributes_count, 7);
	pb_kv **kv = s->attributes;
	assert_key(kv[0], "b_true");
	cr_assert_eq(kv[0]->value->value_case, AV(BOOL_VALUE));
	cr_assert(kv[0]->value->bool_value);
	/* A false bool and zero numbers are still set (oneof), not defaults. */
	assert_key(kv[1], "b_false");
	cr_assert_eq(kv[1]->value->value_case, AV(BOOL_VALUE));
	cr_assert(!kv[1]->value->bool_value);
	assert_key(kv[2], "i_max");
	cr_assert_eq(kv[2]->value->value_case, AV(INT_VALUE));
	cr_assert_eq(kv[2]->value->int_value, INT64_MAX);
	assert_key(kv[3], "i_zero");
	cr_assert_eq(kv[3]->value->value_case, AV(INT_VALUE));
	cr_assert_eq(kv[3]->value->int_value, 0);
	assert_key(kv[4], "f_nan");
	cr_assert_eq(kv[4]->value->value_case, AV(DOUBLE_VALUE));
	cr_assert(isnan(kv[4]->value->double_value));
	assert_key(kv[5], "f_zero");
	cr_assert_eq(kv[5]->value->value_case, AV(DOUBLE_VALUE));
	assert_str_attr(kv[6], "s", "hello");
	assert_key(kv[7], "s_empty");
	cr_assert_eq(kv[7]->value->value_case, AV(STRING_VALUE));
	cr_assert_eq(kv[7]->value->string_value.len, 0);
	ASSERT_BIN_LIT(kv[8]->key, "nul\0key");
	ASSERT_BIN_LIT(kv[8]->value->string_value, "a\0b");

	const Opentelemetry__Proto__Common__V1__ArrayValue *av;
	assert_key(kv[9], "ab");
	cr_assert_eq(kv[9]->value->value_case, AV(ARRAY_VALUE));
	av = kv[9]->value->array_value;
	cr_assert_eq(av->n_values, 3);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(av->values[i]->value_case, AV(BOOL_VALUE));
		cr_assert_eq(!!av->values[i]->bool_value, bools[i]);
	}
	av = kv[10]->value->array_value;
	cr_assert_eq(av->n_values, 3);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(av->values[i]->value_case, AV(INT_VALUE));
		cr_assert_eq(av->values[i]->int_value, ints[i]);
	}
	av = kv[11]->value->array_value;
	cr_assert_eq(av->n_values, 3);
	cr_assert_eq(av->values[0]->double_value, 0.5);
	cr_assert(isnan(av->values[1]->double_value));
	cr_assert(isinf(av->values[2]->double_value) && av->values[2]->double_value < 0);
	av = kv[12]->value->array_value;
	cr_assert_eq(av->n_values, 3);
	ASSERT_BIN_LIT(av->values[0]->string_value, "x");
	cr_assert_eq(av->values[1]->value_case, AV(STRING_VALUE));
	cr_assert_eq(av->values[1]->string_value.len, 0);
	ASSERT_BIN_LIT(av->values[2]->string_value, "z\0z");
	/* An empty array stays an array_value on the wire. */
	assert_key(kv[13], "ai_empty");
	cr_assert_eq(kv[13]->value->value_case, AV(ARRAY_VALUE));
	cr_assert_not_null(kv[13]->value->array_value);
	cr_assert_eq(kv[13]->value->array_value->n_values, 0);
}

Test(otlp_build, events_and_dropped_counts)
{
	struct kt_span_record *r = fx_record("events");
	struct kt_arena *a = &r->arena;
	struct kt_event *ev = kt_arena_calloc(a, 2, sizeof(*ev));
	ev[0].name = fx_str(a, "created");
	ev[0].time_unix_nano = 1700000000100000000ull;
	ev[0].attrs = FX_LIST(a, fx_kv_str(a, "level", "INFO"), fx_kv_i64(a, "n", -3));
	ev[0].dropped_attributes_count = 2;
	ev[1].name = fx_str(a, "");
	ev[1].time_unix_nano = 1;
	r->span.events_present = true;
	r->span.n_events = 2;
	r->span.events = ev;
	r->span.events_dropped = 5;
	r->span.links_dropped = 6;
	fx_append(&fx.head, r);
	pb_span *s = only_span(build());

	cr_assert_eq(s->n_events, 2);
	cr_assert_eq(s->dropped_events_count, 5);
	cr_assert_eq(s->dropped_links_count, 6);
	ASSERT_BIN_LIT(s->events[0]->name, "created");
	cr_assert_eq(s->events[0]->time_unix_nano, 1700000000100000000ull);
	cr_assert_eq(s->events[0]->n_attributes, 2);
	assert_str_attr(s->events[0]->attributes[0], "level", "INFO");
	assert_key(s->events[0]->attributes[1], "n");
	cr_assert_eq(s->events[0]->attributes[1]->value->int_value, -3);
	cr_assert_eq(s->events[0]->dropped_attributes_count, 2);
	cr_assert_eq(s->events[1]->name.len, 0);
	cr_assert_eq(s->events[1]->time_unix_nano, 1);
	cr_assert_eq(s->events[1]->n_attributes, 0);
}

Test(otlp_build, links)
{
	struct kt_span_record *r = fx_record("links");
	struct kt_arena *a = &r->arena;
	struct kt_link *l = kt_arena_calloc(a, 2, sizeof(*l));
	l[0].ctx.trace_id.hi = 0xfedcba9876543210ull;
	l[0].ctx.trace_id.lo = 0x0123456789abcdefull;
	l[0].ctx.span_id = UINT64_MAX;
	l[0].ctx.trace_flags = 1;
	l[0].ctx.is_remote = true;
	l[0].ctx.trace_state_present = true;
	l[0].ctx.trace_state_n = 2;
	l[0].ctx.trace_state = fx_tracestate(a, 2, "rojo", "00f067aa0ba902b7", "congo", "t61rcWkgMzE");
	l[0].attrs = FX_LIST(a, fx_kv_str(a, "link.kind", "follows_from"));
	l[0].dropped_attributes_count = 1;
	l[1].ctx.trace_id.lo = 1;
	l[1].ctx.span_id = 2;
	r->span.links_present = true;
	r->span.n_links = 2;
	r->span.links = l;
	fx_append(&fx.head, r);
	pb_span *s = only_span(build());

	cr_assert_eq(s->n_links, 2);
	ASSERT_BIN_LIT(s->links[0]->trace_id, "\xfe\xdc\xba\x98\x76\x54\x32\x10\x01\x23\x45\x67\x89\xab\xcd\xef");
	ASSERT_BIN_LIT(s->links[0]->span_id, "\xff\xff\xff\xff\xff\xff\xff\xff");
	ASSERT_BIN_LIT(s->links[0]->trace_state, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	cr_assert_eq(s->links[0]->flags, 0x301);
	cr_assert_eq(s->links[0]->n_attributes, 1);
	assert_str_attr(s->links[0]->attributes[0], "link.kind", "follows_from");
	cr_assert_eq(s->links[0]->dropped_attributes_count, 1);
	ASSERT_BIN_LIT(s->links[1]->trace_id, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01");
	ASSERT_BIN_LIT(s->links[1]->span_id, "\0\0\0\0\0\0\0\x02");
	cr_assert_eq(s->links[1]->trace_state.len, 0);
	cr_assert_eq(s->links[1]->flags, 0x100);
}

Test(otlp_build, trace_state_none_empty_set)
{
	struct kt_span_record *none = fx_record("ts-none");
	struct kt_span_record *empty = fx_record("ts-empty");
	empty->span.ctx.trace_state_present = true;
	empty->span.ctx.trace_state = fx_tracestate(&empty->arena, 0);
	struct kt_span_record *one = fx_record("ts-one");
	one->span.ctx.trace_state_present = true;
	one->span.ctx.trace_state_n = 1;
	one->span.ctx.trace_state = fx_tracestate(&one->arena, 1, "k", "");
	struct kt_span_record *set = fx_record("ts-set");
	set->span.ctx.trace_state_present = true;
	set->span.ctx.trace_state_n = 2;
	set->span.ctx.trace_state = fx_tracestate(&set->arena, 2, "congo", "t61rcWkgMzE", "rojo",
						  "00f067aa0ba902b7");
	fx_append(&fx.head, none);
	fx_append(&fx.head, empty);
	fx_append(&fx.head, one);
	fx_append(&fx.head, set);
	pb_span **s = build()->resource_spans[0]->scope_spans[0]->spans;
	cr_assert_eq(s[0]->trace_state.len, 0);
	cr_assert_eq(s[1]->trace_state.len, 0);
	ASSERT_BIN_LIT(s[2]->trace_state, "k=");
	ASSERT_BIN_LIT(s[3]->trace_state, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
}

Test(otlp_build, status)
{
	static const struct {
		enum kt_status_code in;
		int out;
		const char *msg;
	} map[] = { { KT_STATUS_UNSET, 0, "" }, { KT_STATUS_OK, 1, "" }, { KT_STATUS_ERROR, 2, "boom\nline" } };
	for (size_t i = 0; i < 3; i++) {
		struct kt_span_record *r = fx_record("st");
		r->span.status_code = map[i].in;
		r->span.status_message = fx_str(&r->arena, map[i].msg);
		fx_append(&fx.head, r);
	}
	pb_span **s = build()->resource_spans[0]->scope_spans[0]->spans;
	for (size_t i = 0; i < 3; i++) {
		cr_assert_not_null(s[i]->status);
		cr_assert_eq((int)s[i]->status->code, map[i].out);
		assert_bin(s[i]->status->message, map[i].msg, strlen(map[i].msg));
	}
}

/* ------------------------------------------------------------------ resource */

static const pb_kv *const *res_attrs(const pb_rs *rs, size_t *n)
{
	cr_assert_not_null(rs->resource);
	*n = rs->resource->n_attributes;
	return (const pb_kv *const *)rs->resource->attributes;
}

Test(otlp_build, resource_absent_gets_service_name_then_origin)
{
	struct kt_span_record *r = fx_record("a");
	r->origin = fx_origin("hybrid-vsock", "sb1");
	fx_append(&fx.head, r);
	kt_otlp_request *req = build();
	size_t n;
	const pb_kv *const *kv = res_attrs(req->resource_spans[0], &n);
	cr_assert_eq(n, 3);
	assert_str_attr(kv[0], "service.name", "svc-from-flag");
	assert_str_attr(kv[1], "katatrace.transport", "hybrid-vsock");
	assert_str_attr(kv[2], "katatrace.sandbox.id", "sb1");
	const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = req->resource_spans[0]->scope_spans[0];
	cr_assert_not_null(ss->scope);
	ASSERT_BIN_LIT(ss->scope->name, "kata-agent");
	cr_assert_eq(ss->scope->version.len, 0);
}

Test(otlp_build, resource_without_origin_and_default_cfg)
{
	fx_append(&fx.head, fx_record("a"));
	kt_otlp_request *req = kt_otlp_build(fx.head, &(struct kt_resource_cfg){ 0 }, &fx.arena);
	cr_assert_not_null(req);
	cr_assert_eq(req->n_resource_spans, 1);
	cr_assert_eq(req->resource_spans[0]->resource->n_attributes, 1);
	assert_str_attr(req->resource_spans[0]->resource->attributes[0], "service.name",
			KT_DEFAULT_SERVICE_NAME);
}

Test(otlp_build, resource_service_name_rules)
{
	static const struct {
		const char *agent;
		const char *want;
	} cases[] = {
		{ "unknown_service", "svc-from-flag" },
		{ "unknown_service:kata-agent", "svc-from-flag" },
		{ "unknown_servicex", "unknown_servicex" },
		{ "unknown", "unknown" },
		{ "kata-agent-custom", "kata-agent-custom" },
		{ "", "" },
	};
	const size_t n_cases = sizeof(cases) / sizeof(cases[0]);
	for (size_t i = 0; i < n_cases; i++) {
		struct kt_span_record *r = fx_record("a");
		struct kt_arena *a = &r->arena;
		r->span.resource_present = true;
		/* service.name sorts between these: it must be replaced in place. */
		r->span.resource = FX_LIST(a, fx_kv_bool(a, "a.bool", true),
					   fx_kv_str(a, "service.name", cases[i].agent),
					   fx_kv_str(a, "zz", "last"));
		/* One origin each keeps the cases in separate ResourceSpans. */
		r->origin = fx_origin("t", NULL);
		fx_append(&fx.head, r);
	}
	kt_otlp_request *req = build();
	cr_assert_eq(req->n_resource_spans, n_cases);
	for (size_t i = 0; i < n_cases; i++) {
		size_t n;
		const pb_kv *const *kv = res_attrs(req->resource_spans[i], &n);
		cr_assert_eq(n, 4);
		assert_key(kv[0], "a.bool");
		cr_assert_eq(kv[0]->value->value_case, AV(BOOL_VALUE));
		assert_str_attr(kv[1], "service.name", cases[i].want);
		assert_str_attr(kv[2], "zz", "last");
	}
}

Test(otlp_build, resource_non_string_service_name_kept)
{
	struct kt_span_record *r = fx_record("a");
	r->span.resource_present = true;
	r->span.resource = FX_LIST(&r->arena, fx_kv_i64(&r->arena, "service.name", 5));
	fx_append(&fx.head, r);
	size_t n;
	const pb_kv *const *kv = res_attrs(build()->resource_spans[0], &n);
	cr_assert_eq(n, 1);
	assert_key(kv[0], "service.name");
	cr_assert_eq(kv[0]->value->int_value, 5);
}

/* Absent, empty and SDK-default agent resources give the same resource. */
Test(otlp_build, resource_equivalent_agent_resources_share_a_group)
{
	struct kt_span_record *a = fx_record("absent");
	struct kt_span_record *b = fx_record("empty");
	b->span.resource_present = true;
	struct kt_span_record *c = fx_record("default");
	c->span.resource_present = true;
	c->span.resource = FX_LIST(&c->arena, fx_kv_str(&c->arena, "service.name", "unknown_service"));
	struct kt_span_record *d = fx_record("explicit");
	d->span.resource_present = true;
	d->span.resource = FX_LIST(&d->arena, fx_kv_str(&d->arena, "service.name", "svc-from-flag"));
	struct kt_span_record *other = fx_record("other-origin");
	struct kt_origin *o = fx_origin("vsock", NULL);
	a->origin = o;
	b->origin = kt_origin_get(o);
	c->origin = kt_origin_get(o);
	d->origin = kt_origin_get(o);
	other->origin = fx_origin("vsock", NULL);
	fx_append(&fx.head, a);
	fx_append(&fx.head, other);
	fx_append(&fx.head, b);
	fx_append(&fx.head, c);
	fx_append(&fx.head, d);
	kt_otlp_request *req = build();
	cr_assert_eq(req->n_resource_spans, 2);
	size_t n;
	const pb_kv *const *kv = res_attrs(req->resource_spans[0], &n);
	cr_assert_eq(n, 2);
	assert_str_attr(kv[0], "service.name", "svc-from-flag");
	assert_str_attr(kv[1], "katatrace.transport", "vsock");
	cr_assert_eq(req->resource_spans[0]->scope_spans[0]->n_spans, 4);
	cr_assert_eq(req->resource_spans[1]->scope_spans[0]->n_spans, 1);
	ASSERT_BIN_LIT(req->resource_spans[1]->scope_spans[0]->spans[0]->name, "other-origin");
}

Test(otlp_build, resource_origin_keys_override_agent)
{
	struct kt_span_record *r = fx_record("spoof");
	struct kt_arena *a = &r->arena;
	r->span.resource_present = true;
	r->span.resource = FX_LIST(a, fx_kv_str(a, "host.arch", "x86_64"),
				   fx_kv_str(a, "katatrace.sandbox.id", "forged"),
				   fx_kv_str(a, "service.name", "agent"));
	r->origin = fx_origin("hybrid-vsock", "real");
	fx_append(&fx.head, r);
	size_t n;
	const pb_kv *const *kv = res_attrs(build()->resource_spans[0], &n);
	cr_assert_eq(n, 4);
	assert_str_attr(kv[0], "host.arch", "x86_64");
	assert_str_attr(kv[1], "service.name", "agent");
	assert_str_attr(kv[2], "katatrace.transport", "hybrid-vsock");
	assert_str_attr(kv[3], "katatrace.sandbox.id", "real");
}

/* ------------------------------------------------------------------ grouping */

Test(otlp_build, grouping_by_origin_and_resource_in_first_appearance_order)
{
	struct kt_origin *o1 = fx_origin("hybrid-vsock", "sb1");
	struct kt_origin *o2 = fx_origin("hybrid-vsock", "sb2");
	/* (origin, resource): A=(o1,none) B=(o2,none) C=(o1,{svc=x}) */
	const struct {
		struct kt_origin *o;
		const char *svc; /* NULL: no agent resource */
		char group;
	} seq[] = {
		{ o2, NULL, 'B' }, { o1, NULL, 'A' }, { o1, "x", 'C' }, { o2, NULL, 'B' },
		{ o1, NULL, 'A' }, { o1, "x", 'C' }, { o2, NULL, 'B' },
	};
	const size_t n = sizeof(seq) / sizeof(seq[0]);
	for (size_t i = 0; i < n; i++) {
		char name[8];
		snprintf(name, sizeof(name), "s%zu", i);
		struct kt_span_record *r = fx_record(name);
		r->span.ctx.span_id = i + 1;
		r->origin = kt_origin_get(seq[i].o);
		if (seq[i].svc) {
			/* Same content in a different arena must group together. */
			r->span.resource_present = true;
			r->span.resource = FX_LIST(&r->arena, fx_kv_str(&r->arena, "service.name", seq[i].svc));
		}
		fx_append(&fx.head, r);
	}
	kt_origin_put(o1);
	kt_origin_put(o2);

	kt_otlp_request *req = build();
	cr_assert_eq(req->n_resource_spans, 3);
	const char order[] = "BAC";
	for (size_t g = 0; g < 3; g++) {
		const pb_rs *rs = req->resource_spans[g];
		cr_assert_eq(rs->n_scope_spans, 1);
		ASSERT_BIN_LIT(rs->scope_spans[0]->scope->name, "kata-agent");
		size_t want = 0, k = 0;
		for (size_t i = 0; i < n; i++)
			want += seq[i].group == order[g];
		cr_assert_eq(rs->scope_spans[0]->n_spans, want, "group %c", order[g]);
		/* Spans keep their input order inside a group. */
		for (size_t i = 0; i < n; i++) {
			if (seq[i].group != order[g])
				continue;
			char name[8];
			snprintf(name, sizeof(name), "s%zu", i);
			assert_bin(rs->scope_spans[0]->spans[k++]->name, name, strlen(name));
		}
	}
	size_t na;
	const pb_kv *const *kv = res_attrs(req->resource_spans[0], &na);
	assert_str_attr(kv[2], "katatrace.sandbox.id", "sb2");
	kv = res_attrs(req->resource_spans[1], &na);
	assert_str_attr(kv[0], "service.name", "svc-from-flag");
	assert_str_attr(kv[2], "katatrace.sandbox.id", "sb1");
	kv = res_attrs(req->resource_spans[2], &na);
	assert_str_attr(kv[0], "service.name", "x");
	assert_str_attr(kv[2], "katatrace.sandbox.id", "sb1");
}

Test(otlp_build, grouping_distinguishes_value_types_and_nan_groups)
{
	struct kt_span_record *recs[4];
	for (size_t i = 0; i < 4; i++) {
		recs[i] = fx_record("g");
		recs[i]->span.resource_present = true;
	}
	struct kt_arena *a;
	a = &recs[0]->arena;
	recs[0]->span.resource = FX_LIST(a, fx_kv_i64(a, "v", 1));
	a = &recs[1]->arena;
	recs[1]->span.resource = FX_LIST(a, fx_kv_f64(a, "v", 1.0));
	a = &recs[2]->arena;
	recs[2]->span.resource = FX_LIST(a, fx_kv_f64(a, "v", NAN));
	a = &recs[3]->arena;
	recs[3]->span.resource = FX_LIST(a, fx_kv_f64(a, "v", NAN));
	for (size_t i = 0; i < 4; i++)
		fx_append(&fx.head, recs[i]);
	kt_otlp_request *req = build();
	cr_assert_eq(req->n_resource_spans, 3);
	cr_assert_eq(req->resource_spans[2]->scope_spans[0]->n_spans, 2);
}

Test(otlp_build, empty_list)
{
	kt_otlp_request *req = kt_otlp_build(NULL, &cfg, &fx.arena);
	cr_assert_not_null(req);
	cr_assert_eq(req->n_resource_spans, 0);
}

Test(otlp_build, allocation_failure_returns_null)
{
	struct kt_span_record *r = fx_record("a");
	r->span.attrs = FX_LIST(&r->arena, fx_kv_str(&r->arena, "k", "v"));
	fx_append(&fx.head, r);
	for (size_t limit = 16; limit < 4096; limit += 16) {
		struct kt_arena a;
		kt_arena_init(&a, limit);
		kt_otlp_request *req = kt_otlp_build(fx.head, &cfg, &a);
		kt_arena_free(&a);
		if (req)
			return; /* succeeded once the limit sufficed */
	}
	cr_assert_fail("never succeeded");
}

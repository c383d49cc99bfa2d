/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A probe's records as the daemon takes them in (user/control/records_in.c).
 *
 * Round trip: span and log records built here by hand are turned into
 * requests by the exporters (otlp_build.h, otlp_logs_build.h, as a probe
 * sends them), packed and unpacked by protobuf-c and taken in; every field
 * that arrives is compared with the hand-built record it came from, by the
 * rules of records_in.h (links become a count, resources and scopes give
 * way to the daemon's origin).
 *
 * Then each reason a record is refused (ids of other lengths, text that is
 * not UTF-8, a span ending before it starts, attributes and events beyond
 * the limits, a record beyond its arena, a body that is not a string, a
 * severity beyond 24), each by spoiling one record of three: it is counted
 * with a reason naming what was wrong and the two others arrive. Attribute
 * values of types records do not hold are dropped and counted, links are
 * counted, and every record holds a reference to the origin.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/records_in.h"
#include "exporters/otlp_build.h"
#include "exporters/otlp_logs_build.h"
#include "span_fixture.h"

typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest logs_req;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;
typedef Opentelemetry__Proto__Logs__V1__LogRecord pb_log;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Common__V1__ArrayValue pb_array;
typedef Opentelemetry__Proto__Common__V1__KeyValueList pb_kvlist;

#define AV(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x
#define T0 1700000000000000000ull

static const struct kt_resource_cfg cfg = { .service_name = "svc-of-the-probe" };

/* ------------------------------------------------------------ fixture */

struct fixture {
	struct kt_span_record *in_spans; /* hand-built, in request order */
	struct kt_log_record *in_logs;
	struct kt_arena req;		 /* the requests built from them */
	struct kt_origin *origin;	 /* the probe's, handed to records_in */
	/* what the sink received */
	struct kt_span_record **spans;
	size_t n_spans, cap_spans;
	struct kt_log_record **logs;
	size_t n_logs, cap_logs;
};

static struct fixture fx;

static void got_free(void)
{
	for (size_t i = 0; i < fx.n_spans; i++)
		kt_span_record_free(fx.spans[i]);
	for (size_t i = 0; i < fx.n_logs; i++)
		kt_log_record_free(fx.logs[i]);
	free(fx.spans);
	free(fx.logs);
	fx.spans = NULL;
	fx.logs = NULL;
	fx.n_spans = fx.cap_spans = fx.n_logs = fx.cap_logs = 0;
}

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	kt_arena_init(&fx.req, 0);
	fx.origin = fx_origin("probe 1", NULL);
}

static void teardown(void)
{
	got_free();
	kt_span_record_free_list(fx.in_spans);
	kt_log_record_free_list(fx.in_logs);
	kt_arena_free(&fx.req);
	kt_origin_put(fx.origin);
}

TestSuite(records_in, .init = setup, .fini = teardown);

static void on_span(void *ctx, struct kt_span_record *r)
{
	(void)ctx;
	if (fx.n_spans == fx.cap_spans) {
		fx.cap_spans = fx.cap_spans ? 2 * fx.cap_spans : 16;
		fx.spans = realloc(fx.spans, fx.cap_spans * sizeof(*fx.spans));
		cr_assert_not_null(fx.spans);
	}
	fx.spans[fx.n_spans++] = r;
}

static void on_log(void *ctx, struct kt_log_record *r)
{
	(void)ctx;
	if (fx.n_logs == fx.cap_logs) {
		fx.cap_logs = fx.cap_logs ? 2 * fx.cap_logs : 16;
		fx.logs = realloc(fx.logs, fx.cap_logs * sizeof(*fx.logs));
		cr_assert_not_null(fx.logs);
	}
	fx.logs[fx.n_logs++] = r;
}

static const struct kt_record_sink sink = { .span = on_span, .log = on_log };

/* ------------------------------------------------------------ the way a probe sends them */

static void add_span(struct kt_span_record *r)
{
	fx_append(&fx.in_spans, r);
}

static void add_log(struct kt_log_record *r)
{
	struct kt_log_record **p = &fx.in_logs;
	while (*p)
		p = &(*p)->next;
	*p = r;
}

static kt_otlp_request *build_spans(void)
{
	kt_otlp_request *req = kt_otlp_build(fx.in_spans, &cfg, &fx.req);
	cr_assert_not_null(req);
	return req;
}

static logs_req *build_logs(void)
{
	logs_req *req = kt_otlp_logs_build(fx.in_logs, &cfg, &fx.req);
	cr_assert_not_null(req);
	return req;
}

/* req packed, unpacked and taken in, as the daemon does with a probe's Records. */
static void deliver_spans(const kt_otlp_request *req, struct kt_records_in *st)
{
	size_t n = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(req);
	uint8_t *buf = malloc(n ? n : 1);
	cr_assert_not_null(buf);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(req, buf);
	kt_otlp_request *back =
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, n, buf);
	cr_assert_not_null(back);
	kt_records_in_spans(back, fx.origin, &sink, st);
	/* what arrived must not point into the request */
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(back, NULL);
	free(buf);
}

static void deliver_logs(const logs_req *req, const struct kt_record_sink *to, struct kt_records_in *st)
{
	size_t n = opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(req);
	uint8_t *buf = malloc(n ? n : 1);
	cr_assert_not_null(buf);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(req, buf);
	logs_req *back = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
		NULL, n, buf);
	cr_assert_not_null(back);
	kt_records_in_logs(back, fx.origin, to, st);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(back, NULL);
	free(buf);
}

/* The i-th span of a request, across its groups. */
static pb_span *span_at(kt_otlp_request *req, size_t i)
{
	for (size_t g = 0; g < req->n_resource_spans; g++)
		for (size_t s = 0; s < req->resource_spans[g]->n_scope_spans; s++) {
			Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = req->resource_spans[g]->scope_spans[s];
			if (i < ss->n_spans)
				return ss->spans[i];
			i -= ss->n_spans;
		}
	cr_assert_fail("no span %zu", i);
	return NULL;
}

static pb_log *log_at(logs_req *req, size_t i)
{
	cr_assert_eq(req->n_resource_logs, 1);
	cr_assert_eq(req->resource_logs[0]->n_scope_logs, 1);
	cr_assert_lt(i, req->resource_logs[0]->scope_logs[0]->n_log_records);
	return req->resource_logs[0]->scope_logs[0]->log_records[i];
}

/* ------------------------------------------------------------ hand-built values */

static struct kt_kv kv_bools(struct kt_arena *a, const char *k, size_t n, const bool *v)
{
	struct kt_kv kv = { .key = fx_str(a, k), .value = { .type = KT_VAL_ARRAY_BOOL } };
	kv.value.arr.n = n;
	kv.value.arr.b = kt_arena_calloc(a, n ? n : 1, sizeof(bool));
	cr_assert_not_null(kv.value.arr.b);
	memcpy(kv.value.arr.b, v, n * sizeof(bool));
	return kv;
}

static struct kt_kv kv_ints(struct kt_arena *a, const char *k, size_t n, const int64_t *v)
{
	struct kt_kv kv = { .key = fx_str(a, k), .value = { .type = KT_VAL_ARRAY_I64 } };
	kv.value.arr.n = n;
	kv.value.arr.i = kt_arena_calloc(a, n ? n : 1, sizeof(int64_t));
	cr_assert_not_null(kv.value.arr.i);
	memcpy(kv.value.arr.i, v, n * sizeof(int64_t));
	return kv;
}

static struct kt_kv kv_doubles(struct kt_arena *a, const char *k, size_t n, const double *v)
{
	struct kt_kv kv = { .key = fx_str(a, k), .value = { .type = KT_VAL_ARRAY_F64 } };
	kv.value.arr.n = n;
	kv.value.arr.f = kt_arena_calloc(a, n ? n : 1, sizeof(double));
	cr_assert_not_null(kv.value.arr.f);
	memcpy(kv.value.arr.f, v, n * sizeof(double));
	return kv;
}

static struct kt_kv kv_strs(struct kt_arena *a, const char *k, size_t n, const char *const *v)
{
	struct kt_kv kv = { .key = fx_str(a, k), .value = { .type = KT_VAL_ARRAY_STRING } };
	kv.value.arr.n = n;
	kv.value.arr.s = kt_arena_calloc(a, n ? n : 1, sizeof(struct kt_str));
	cr_assert_not_null(kv.value.arr.s);
	for (size_t i = 0; i < n; i++)
		kv.value.arr.s[i] = fx_str(a, v[i]);
	return kv;
}

/* n attributes "a0".."a<n-1>" = i. */
static struct kt_kvlist numbered_attrs(struct kt_arena *a, size_t n)
{
	struct kt_kvlist l = { .n = n, .kv = kt_arena_calloc(a, n ? n : 1, sizeof(struct kt_kv)) };
	cr_assert_not_null(l.kv);
	for (size_t i = 0; i < n; i++) {
		char k[24];
		snprintf(k, sizeof(k), "a%zu", i);
		l.kv[i] = fx_kv_i64(a, k, (int64_t)i);
	}
	return l;
}

/* ------------------------------------------------------------ hand-built records */

/* Every field set, every attribute type, two events, two links, an error status. */
static struct kt_span_record *full_span(void)
{
	struct kt_span_record *r = kt_span_record_new(0);
	cr_assert_not_null(r);
	struct kt_arena *a = &r->arena;
	struct kt_span *s = &r->span;
	/* bytes all different: a swapped half or byte order shows */
	s->ctx.trace_id = (struct kt_trace_id){ 0x0102030405060708ull, 0x090a0b0c0d0e0f10ull };
	s->ctx.span_id = 0x1112131415161718ull;
	s->ctx.trace_flags = 1;
	s->parent_span_id = 0x2122232425262728ull;
	s->kind = KT_KIND_SERVER;
	s->name = fx_str(a, "CreateContainer \xe2\x9c\x93");
	s->start_unix_nano = T0 + 1;
	s->end_unix_nano = T0 + 999999999;
	static const bool bools[] = { true, false, true };
	static const int64_t ints[] = { 0, -1, INT64_MAX, INT64_MIN };
	static const double doubles[] = { 0.5, -2.0, 1e300 };
	static const char *const strs[] = { "x", "\xc3\xbf", "" };
	s->attrs = FX_LIST(a, fx_kv_str(a, "s", "text with \xc3\xa9"), fx_kv_str(a, "empty", ""),
			   (struct kt_kv){ .key = fx_str(a, "nul"),
					   .value = { .type = KT_VAL_STRING, .s = FX_LIT(a, "a\0b") } },
			   fx_kv_str(a, "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", "key in Cyrillic"),
			   fx_kv_i64(a, "min", INT64_MIN), fx_kv_i64(a, "max", INT64_MAX),
			   fx_kv_i64(a, "zero", 0), fx_kv_f64(a, "tiny", -2.5e-300),
			   fx_kv_f64(a, "quarter", 0.25), fx_kv_bool(a, "yes", true),
			   fx_kv_bool(a, "no", false), kv_bools(a, "bools", 3, bools),
			   kv_ints(a, "ints", 4, ints), kv_doubles(a, "doubles", 3, doubles),
			   kv_strs(a, "strs", 3, strs), kv_strs(a, "none", 0, NULL));
	s->attrs_max_len = 128;
	s->attrs_dropped = 2;

	s->events_present = true;
	s->n_events = 2;
	s->events = kt_arena_calloc(a, 2, sizeof(*s->events));
	cr_assert_not_null(s->events);
	s->events[0] = (struct kt_event){ .name = fx_str(a, "retry"),
					  .time_unix_nano = T0 + 5,
					  .attrs = FX_LIST(a, fx_kv_i64(a, "attempt", 2),
							   fx_kv_str(a, "why", "EAGAIN")),
					  .dropped_attributes_count = 4 };
	s->events[1] = (struct kt_event){ .name = fx_str(a, ""), .time_unix_nano = T0 + 6 };
	s->events_max_len = 128;
	s->events_dropped = 3;

	s->links_present = true;
	s->n_links = 2;
	s->links = kt_arena_calloc(a, 2, sizeof(*s->links));
	cr_assert_not_null(s->links);
	s->links[0].ctx.trace_id = (struct kt_trace_id){ 1, 2 };
	s->links[0].ctx.span_id = 3;
	s->links[1].ctx.trace_id = (struct kt_trace_id){ 4, 5 };
	s->links[1].ctx.span_id = 6;
	s->links[1].attrs = FX_LIST(a, fx_kv_str(a, "link", "attr"));
	s->links_max_len = 128;
	s->links_dropped = 1;

	s->status_code = KT_STATUS_ERROR;
	s->status_message = fx_str(a, "boom \xe2\x9c\x97");
	return r;
}

/* A root span with nothing but its ids: empty name, no time passing, status OK. */
static struct kt_span_record *bare_span(void)
{
	struct kt_span_record *r = kt_span_record_new(0);
	cr_assert_not_null(r);
	struct kt_span *s = &r->span;
	s->ctx.trace_id = (struct kt_trace_id){ 0xfffefdfcfbfaf9f8ull, 0xf7f6f5f4f3f2f1f0ull };
	s->ctx.span_id = 0xefeeedecebeae9e8ull;
	s->kind = KT_KIND_CLIENT;
	s->name = fx_str(&r->arena, "");
	s->start_unix_nano = s->end_unix_nano = T0;
	s->status_code = KT_STATUS_OK;
	s->status_message = fx_str(&r->arena, "");
	return r;
}

static struct kt_log_record *full_log(void)
{
	struct kt_log_record *r = kt_log_record_new(0);
	cr_assert_not_null(r);
	struct kt_arena *a = &r->arena;
	struct kt_log *l = &r->log;
	static const int64_t ints[] = { 7, -7 };
	l->time_unix_nano = T0 + 10;
	l->observed_time_unix_nano = T0 + 11;
	l->severity_number = KT_SEV_WARN;
	l->severity_text = fx_str(a, "WARN");
	l->body = FX_LIT(a, "line \xe2\x9c\x93\nsecond line\0after a NUL");
	l->attrs = FX_LIST(a, fx_kv_str(a, "s", "v"), fx_kv_i64(a, "i", -5), fx_kv_bool(a, "b", true),
			   fx_kv_f64(a, "f", 0.25), kv_ints(a, "ints", 2, ints));
	l->trace_id = (struct kt_trace_id){ 0x0102030405060708ull, 0x090a0b0c0d0e0f10ull };
	l->span_id = 0x1112131415161718ull;
	return r;
}

/* No ids, no times, severity unspecified, empty texts. */
static struct kt_log_record *bare_log(void)
{
	struct kt_log_record *r = kt_log_record_new(0);
	cr_assert_not_null(r);
	r->log.severity_text = fx_str(&r->arena, "");
	r->log.body = fx_str(&r->arena, "");
	return r;
}

static struct kt_log_record *log_saying(const char *body)
{
	struct kt_log_record *r = bare_log();
	r->log.time_unix_nano = T0;
	r->log.severity_number = KT_SEV_INFO;
	r->log.body = fx_str(&r->arena, body);
	return r;
}

/* ------------------------------------------------------------ comparing */

static void expect_str(struct kt_str got, struct kt_str want, const char *what)
{
	cr_assert_not_null(got.ptr, "%s: no string", what);
	cr_expect_eq(got.ptr[got.len], '\0', "%s: not NUL-terminated", what);
	cr_assert_eq(got.len, want.len, "%s: %zu bytes, expected %zu", what, got.len, want.len);
	cr_expect(memcmp(got.ptr, want.ptr, want.len) == 0, "%s: \"%s\", expected \"%s\"", what, got.ptr,
		  want.ptr);
}

static void expect_cstr(struct kt_str got, const char *want, const char *what)
{
	expect_str(got, (struct kt_str){ want, strlen(want) }, what);
}

/* Doubles compared bit for bit. */
static void expect_double(double got, double want, const char *what)
{
	cr_expect(memcmp(&got, &want, sizeof(got)) == 0, "%s: %g, expected %g", what, got, want);
}

static void expect_value(const struct kt_value *got, const struct kt_value *want, const char *key)
{
	cr_assert_eq(got->type, want->type, "%s: type %d, expected %d", key, got->type, want->type);
	switch (want->type) {
	case KT_VAL_BOOL:
		cr_expect_eq(got->b, want->b, "%s", key);
		break;
	case KT_VAL_I64:
		cr_expect_eq(got->i, want->i, "%s: %lld, expected %lld", key, (long long)got->i,
			     (long long)want->i);
		break;
	case KT_VAL_F64:
		expect_double(got->f, want->f, key);
		break;
	case KT_VAL_STRING:
		expect_str(got->s, want->s, key);
		break;
	default:
		cr_assert_eq(got->arr.n, want->arr.n, "%s: %zu elements, expected %zu", key, got->arr.n,
			     want->arr.n);
		for (size_t i = 0; i < want->arr.n; i++) {
			if (want->type == KT_VAL_ARRAY_BOOL)
				cr_expect_eq(got->arr.b[i], want->arr.b[i], "%s[%zu]", key, i);
			else if (want->type == KT_VAL_ARRAY_I64)
				cr_expect_eq(got->arr.i[i], want->arr.i[i], "%s[%zu]", key, i);
			else if (want->type == KT_VAL_ARRAY_F64)
				expect_double(got->arr.f[i], want->arr.f[i], key);
			else
				expect_str(got->arr.s[i], want->arr.s[i], key);
		}
	}
}

static void expect_kvs(const struct kt_kvlist *got, const struct kt_kvlist *want, const char *what)
{
	cr_assert_eq(got->n, want->n, "%s: %zu attributes, expected %zu", what, got->n, want->n);
	for (size_t i = 0; i < want->n; i++) {
		expect_str(got->kv[i].key, want->kv[i].key, "key");
		expect_value(&got->kv[i].value, &want->kv[i].value, want->kv[i].key.ptr);
	}
}

/*
 * got, taken in, against the hand-built span it was made from: the same
 * fields, except what records_in.h says: links become a count, limits are
 * its own, the source is the host and the origin the probe's.
 */
static void expect_span_as_built(const struct kt_span_record *got, const struct kt_span *want)
{
	const struct kt_span *s = &got->span;
	cr_expect_eq(got->source, KT_SPAN_FROM_HOST);
	cr_expect_eq(got->origin, fx.origin);
	cr_expect_eq(s->ctx.trace_id.hi, want->ctx.trace_id.hi);
	cr_expect_eq(s->ctx.trace_id.lo, want->ctx.trace_id.lo);
	cr_expect_eq(s->ctx.span_id, want->ctx.span_id);
	cr_expect_eq(s->ctx.trace_flags, want->ctx.trace_flags);
	cr_expect_eq(s->parent_span_id, want->parent_span_id);
	cr_expect_eq(s->kind, want->kind);
	expect_str(s->name, want->name, "name");
	cr_expect_eq(s->start_unix_nano, want->start_unix_nano);
	cr_expect_eq(s->end_unix_nano, want->end_unix_nano);
	expect_kvs(&s->attrs, &want->attrs, "span");
	cr_expect_eq(s->attrs_max_len, 128);
	cr_expect_eq(s->attrs_dropped, want->attrs_dropped);
	cr_assert_eq(s->n_events, want->n_events);
	cr_expect_eq(s->events_present, want->n_events > 0);
	for (size_t i = 0; i < want->n_events; i++) {
		expect_str(s->events[i].name, want->events[i].name, "event name");
		cr_expect_eq(s->events[i].time_unix_nano, want->events[i].time_unix_nano);
		expect_kvs(&s->events[i].attrs, &want->events[i].attrs, "event");
		cr_expect_eq(s->events[i].dropped_attributes_count,
			     want->events[i].dropped_attributes_count);
	}
	cr_expect_eq(s->events_dropped, want->events_dropped);
	cr_expect_eq(s->n_links, 0);
	cr_expect_eq(s->links_dropped, want->links_dropped + want->n_links);
	cr_expect_eq(s->status_code, want->status_code);
	expect_str(s->status_message, want->status_message, "status message");
	cr_expect_not(s->resource_present);
	cr_expect_eq(s->resource.n, 0);
}

static void expect_log_as_built(const struct kt_log_record *got, const struct kt_log *want)
{
	const struct kt_log *l = &got->log;
	cr_expect_eq(got->origin, fx.origin);
	cr_expect_eq(l->time_unix_nano, want->time_unix_nano);
	cr_expect_eq(l->observed_time_unix_nano, want->observed_time_unix_nano);
	cr_expect_eq(l->severity_number, want->severity_number);
	expect_str(l->severity_text, want->severity_text, "severity text");
	expect_str(l->body, want->body, "body");
	expect_kvs(&l->attrs, &want->attrs, "log record");
	cr_expect_eq(l->trace_id.hi, want->trace_id.hi);
	cr_expect_eq(l->trace_id.lo, want->trace_id.lo);
	cr_expect_eq(l->span_id, want->span_id);
}

/* ------------------------------------------------------------ round trip */

Test(records_in, spans_arrive_as_they_were_built)
{
	/* two origins: two ResourceSpans in the request, one origin after records_in */
	struct kt_span_record *a = full_span(), *b = bare_span(), *c = full_span();
	a->origin = fx_origin("unix:/a", "sandbox-a");
	b->origin = kt_origin_get(a->origin);
	c->origin = fx_origin("unix:/c", NULL);
	c->span.ctx.span_id = 0x3132333435363738ull;
	add_span(a);
	add_span(b);
	add_span(c);
	kt_otlp_request *req = build_spans();
	cr_assert_eq(req->n_resource_spans, 2);
	struct kt_records_in st = { 0 };
	deliver_spans(req, &st);
	cr_expect_eq(st.spans, 3);
	cr_expect_eq(st.rejected, 0);
	cr_expect_str_eq(st.why, "");
	cr_assert_eq(fx.n_spans, 3);
	expect_span_as_built(fx.spans[0], &a->span);
	expect_span_as_built(fx.spans[1], &b->span);
	expect_span_as_built(fx.spans[2], &c->span);
}

Test(records_in, the_full_span_by_its_literal_values)
{
	/* a few fields against literals too, not only against the built record */
	add_span(full_span());
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	cr_assert_eq(fx.n_spans, 1);
	const struct kt_span *s = &fx.spans[0]->span;
	cr_expect_eq(s->ctx.trace_id.hi, 0x0102030405060708ull);
	cr_expect_eq(s->ctx.trace_id.lo, 0x090a0b0c0d0e0f10ull);
	cr_expect_eq(s->ctx.span_id, 0x1112131415161718ull);
	cr_expect_eq(s->parent_span_id, 0x2122232425262728ull);
	cr_expect_eq(s->kind, KT_KIND_SERVER);
	expect_cstr(s->name, "CreateContainer \xe2\x9c\x93", "name");
	cr_expect_eq(s->attrs.n, 16);
	cr_expect_eq(s->attrs_dropped, 2);
	cr_expect_eq(s->events[0].dropped_attributes_count, 4);
	cr_expect_eq(s->events_dropped, 3);
	cr_expect_eq(s->links_dropped, 3); /* 1 dropped before, 2 links */
	cr_expect_eq(s->status_code, KT_STATUS_ERROR);
	const struct kt_kv *nul = kt_kvlist_find(&s->attrs, "nul");
	cr_assert_not_null(nul);
	cr_expect_eq(nul->value.s.len, 3);
	cr_expect(memcmp(nul->value.s.ptr, "a\0b", 3) == 0);
}

Test(records_in, every_kind_arrives_as_itself)
{
	static const enum kt_span_kind kinds[] = { KT_KIND_CLIENT, KT_KIND_SERVER, KT_KIND_PRODUCER,
						   KT_KIND_CONSUMER, KT_KIND_INTERNAL };
	for (size_t i = 0; i < 5; i++) {
		struct kt_span_record *r = bare_span();
		r->span.ctx.span_id = i + 1;
		r->span.kind = kinds[i];
		add_span(r);
	}
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	cr_assert_eq(fx.n_spans, 5);
	for (size_t i = 0; i < 5; i++)
		cr_expect_eq(fx.spans[i]->span.kind, kinds[i], "span %zu", i);
}

Test(records_in, kinds_and_status_codes_a_probe_does_not_send_are_internal_and_unset)
{
	add_span(bare_span());
	add_span(bare_span());
	kt_otlp_request *req = build_spans();
	span_at(req, 0)->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_UNSPECIFIED;
	span_at(req, 0)->status->code = 7;
	span_at(req, 1)->kind = 42;
	/* the flags' upper bits (OTLP's is_remote) are not trace flags */
	span_at(req, 1)->flags = 0x301;
	struct kt_records_in st = { 0 };
	deliver_spans(req, &st);
	cr_assert_eq(fx.n_spans, 2);
	cr_expect_eq(fx.spans[0]->span.kind, KT_KIND_INTERNAL);
	cr_expect_eq(fx.spans[0]->span.status_code, KT_STATUS_UNSET);
	cr_expect_eq(fx.spans[1]->span.kind, KT_KIND_INTERNAL);
	cr_expect_eq(fx.spans[1]->span.ctx.trace_flags, 1);
}

Test(records_in, a_span_without_a_status_is_unset_with_an_empty_message)
{
	add_span(bare_span());
	kt_otlp_request *req = build_spans();
	span_at(req, 0)->status = NULL;
	struct kt_records_in st = { 0 };
	deliver_spans(req, &st);
	cr_assert_eq(fx.n_spans, 1);
	cr_expect_eq(fx.spans[0]->span.status_code, KT_STATUS_UNSET);
	expect_cstr(fx.spans[0]->span.status_message, "", "status message");
}

Test(records_in, log_records_arrive_as_they_were_built)
{
	struct kt_log_record *fatal = log_saying("the end");
	fatal->log.severity_number = (enum kt_severity)24; /* FATAL4, the largest */
	fatal->log.severity_text = fx_str(&fatal->arena, "FATAL4");
	struct kt_log_record *in[] = { full_log(), bare_log(), fatal };
	for (size_t i = 0; i < 3; i++)
		add_log(in[i]);
	struct kt_records_in st = { 0 };
	deliver_logs(build_logs(), &sink, &st);
	cr_expect_eq(st.logs, 3);
	cr_expect_eq(st.rejected, 0);
	cr_expect_str_eq(st.why, "");
	cr_assert_eq(fx.n_logs, 3);
	for (size_t i = 0; i < 3; i++)
		expect_log_as_built(fx.logs[i], &in[i]->log);
	/* and by literal values */
	cr_expect_eq(fx.logs[0]->log.severity_number, 13);
	cr_expect_eq(fx.logs[0]->log.trace_id.hi, 0x0102030405060708ull);
	cr_expect_eq(fx.logs[0]->log.span_id, 0x1112131415161718ull);
	cr_expect_eq(fx.logs[0]->log.body.len, 32);
	cr_expect_eq(fx.logs[2]->log.severity_number, 24);
}

Test(records_in, a_log_record_without_a_body_has_an_empty_one)
{
	add_log(log_saying("x"));
	logs_req *req = build_logs();
	log_at(req, 0)->body = NULL;
	struct kt_records_in st = { 0 };
	deliver_logs(req, &sink, &st);
	cr_assert_eq(fx.n_logs, 1);
	expect_cstr(fx.logs[0]->log.body, "", "body");
}

Test(records_in, no_request_is_no_record)
{
	struct kt_records_in st = { 0 };
	kt_records_in_spans(NULL, fx.origin, &sink, &st);
	kt_records_in_logs(NULL, fx.origin, &sink, &st);
	cr_expect_eq(st.spans + st.logs + st.rejected, 0);
	cr_expect_eq(fx.n_spans + fx.n_logs, 0);
}

/* ------------------------------------------------------------ refused spans */

/* Three spans "first", "second", "third"; the test spoils the second. */
static void three_spans(void)
{
	add_span(fx_record("first"));
	add_span(fx_record("second"));
	add_span(fx_record("third"));
}

static struct kt_span *second_span(void)
{
	return &fx.in_spans->next->span;
}

/* The second was refused for a reason containing reason; the others came. */
static void expect_second_refused(const struct kt_records_in *st, const char *reason)
{
	cr_expect_eq(st->rejected, 1);
	cr_expect_eq(st->spans, 2);
	cr_expect(strncmp(st->why, "span: ", 6) == 0, "why: \"%s\"", st->why);
	cr_expect(strstr(st->why, reason) != NULL, "why: \"%s\", expected \"%s\" in it", st->why,
		  reason);
	cr_assert_eq(fx.n_spans, 2);
	expect_cstr(fx.spans[0]->span.name, "first", "the first");
	expect_cstr(fx.spans[1]->span.name, "third", "the third");
}

Test(records_in, a_trace_id_of_another_length_is_refused)
{
	static const size_t lengths[] = { 0, 1, 8, 15, 17, 32 };
	static const uint8_t bytes[32];
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		three_spans();
		kt_otlp_request *req = build_spans();
		span_at(req, 1)->trace_id = (ProtobufCBinaryData){ lengths[i], (uint8_t *)bytes };
		struct kt_records_in st = { 0 };
		deliver_spans(req, &st);
		cr_assert_eq(st.rejected, 1, "a trace id of %zu bytes", lengths[i]);
		expect_second_refused(&st, "trace id");
		cr_expect(strstr(st.why, "16 bytes") != NULL, "%s", st.why);
		got_free();
		kt_span_record_free_list(fx.in_spans);
		fx.in_spans = NULL;
	}
}

Test(records_in, a_span_id_of_another_length_is_refused)
{
	static const size_t lengths[] = { 0, 7, 9, 16 };
	static const uint8_t bytes[16] = { 1 };
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		three_spans();
		kt_otlp_request *req = build_spans();
		span_at(req, 1)->span_id = (ProtobufCBinaryData){ lengths[i], (uint8_t *)bytes };
		struct kt_records_in st = { 0 };
		deliver_spans(req, &st);
		cr_assert_eq(st.rejected, 1, "a span id of %zu bytes", lengths[i]);
		expect_second_refused(&st, "span id");
		cr_expect(strstr(st.why, "8 bytes") != NULL, "%s", st.why);
		got_free();
		kt_span_record_free_list(fx.in_spans);
		fx.in_spans = NULL;
	}
}

Test(records_in, a_parent_span_id_of_another_length_is_refused_and_none_is_a_root)
{
	static const uint8_t bytes[9] = { 1 };
	three_spans();
	kt_otlp_request *req = build_spans();
	span_at(req, 1)->parent_span_id = (ProtobufCBinaryData){ 9, (uint8_t *)bytes };
	span_at(req, 2)->parent_span_id = (ProtobufCBinaryData){ 0, NULL };
	struct kt_records_in st = { 0 };
	deliver_spans(req, &st);
	expect_second_refused(&st, "span id");
	cr_expect_eq(fx.spans[0]->span.parent_span_id, 0x00f067aa0ba902b7ull);
	cr_expect_eq(fx.spans[1]->span.parent_span_id, 0);
}

/* Not UTF-8: a bad continuation, a surrogate, an overlong '/', a lone continuation, a cut sequence. */
static const char *const not_utf8[] = { "a\xc3\x28", "\xed\xa0\x80", "\xc0\xaf", "\x80", "ok\xe2\x9c" };
#define N_NOT_UTF8 (sizeof(not_utf8) / sizeof(not_utf8[0]))

Test(records_in, a_name_that_is_not_utf8_is_refused)
{
	for (size_t i = 0; i < N_NOT_UTF8; i++) {
		three_spans();
		second_span()->name = fx_str(&fx.in_spans->next->arena, not_utf8[i]);
		struct kt_records_in st = { 0 };
		deliver_spans(build_spans(), &st);
		cr_assert_eq(st.rejected, 1, "name %zu", i);
		expect_second_refused(&st, "UTF-8");
		got_free();
		kt_span_record_free_list(fx.in_spans);
		fx.in_spans = NULL;
	}
}

Test(records_in, an_attribute_key_that_is_not_utf8_is_refused)
{
	three_spans();
	struct kt_arena *a = &fx.in_spans->next->arena;
	second_span()->attrs = FX_LIST(a, fx_kv_str(a, "fine", "v"), fx_kv_str(a, "\xff", "v"));
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	expect_second_refused(&st, "UTF-8");
}

Test(records_in, a_string_value_that_is_not_utf8_is_refused)
{
	three_spans();
	struct kt_arena *a = &fx.in_spans->next->arena;
	second_span()->attrs = FX_LIST(a, fx_kv_str(a, "k", "\xed\xa0\x80"));
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	expect_second_refused(&st, "UTF-8");
}

Test(records_in, a_string_in_an_array_that_is_not_utf8_is_refused)
{
	static const char *const strs[] = { "fine", "\xc3" };
	three_spans();
	struct kt_arena *a = &fx.in_spans->next->arena;
	second_span()->attrs = FX_LIST(a, kv_strs(a, "list", 2, strs));
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	expect_second_refused(&st, "UTF-8");
}

Test(records_in, an_event_name_or_attribute_that_is_not_utf8_is_refused)
{
	for (int which = 0; which < 2; which++) {
		three_spans();
		struct kt_span_record *r = fx.in_spans->next;
		struct kt_arena *a = &r->arena;
		r->span.events_present = true;
		r->span.n_events = 1;
		r->span.events = kt_arena_calloc(a, 1, sizeof(struct kt_event));
		cr_assert_not_null(r->span.events);
		r->span.events[0].name = fx_str(a, which ? "fine" : "\xc0\xaf");
		r->span.events[0].attrs = FX_LIST(a, fx_kv_str(a, "k", which ? "\xc0\xaf" : "fine"));
		struct kt_records_in st = { 0 };
		deliver_spans(build_spans(), &st);
		cr_assert_eq(st.rejected, 1, "%s", which ? "event attribute" : "event name");
		expect_second_refused(&st, "UTF-8");
		got_free();
		kt_span_record_free_list(fx.in_spans);
		fx.in_spans = NULL;
	}
}

Test(records_in, a_status_message_that_is_not_utf8_is_refused)
{
	three_spans();
	second_span()->status_code = KT_STATUS_ERROR;
	second_span()->status_message = fx_str(&fx.in_spans->next->arena, "\x80");
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	expect_second_refused(&st, "UTF-8");
}

Test(records_in, a_span_that_ends_before_it_starts_is_refused)
{
	three_spans();
	second_span()->end_unix_nano = second_span()->start_unix_nano - 1;
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	expect_second_refused(&st, "ends before it starts");
}

Test(records_in, a_span_that_ends_when_it_starts_arrives)
{
	three_spans();
	second_span()->end_unix_nano = second_span()->start_unix_nano;
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	cr_expect_eq(st.rejected, 0);
	cr_expect_eq(fx.n_spans, 3);
}

Test(records_in, attributes_up_to_the_limit_arrive_one_more_is_refused)
{
	cr_assert_eq(KT_RECORDS_IN_MAX_ATTRS, 128);
	three_spans();
	fx.in_spans->span.attrs = numbered_attrs(&fx.in_spans->arena, 128);
	second_span()->attrs = numbered_attrs(&fx.in_spans->next->arena, 129);
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	expect_second_refused(&st, "more attributes");
	cr_assert_eq(fx.spans[0]->span.attrs.n, 128);
	expect_cstr(fx.spans[0]->span.attrs.kv[127].key, "a127", "the last key");
	cr_expect_eq(fx.spans[0]->span.attrs.kv[127].value.i, 127);
}

static void give_events(struct kt_span_record *r, size_t n, size_t attrs_each)
{
	struct kt_span *s = &r->span;
	s->events_present = true;
	s->n_events = n;
	s->events = kt_arena_calloc(&r->arena, n, sizeof(*s->events));
	cr_assert_not_null(s->events);
	for (size_t i = 0; i < n; i++) {
		s->events[i].name = fx_str(&r->arena, "e");
		s->events[i].time_unix_nano = T0 + i;
		s->events[i].attrs = numbered_attrs(&r->arena, attrs_each);
	}
}

Test(records_in, events_up_to_the_limit_arrive_one_more_is_refused)
{
	cr_assert_eq(KT_RECORDS_IN_MAX_EVENTS, 128);
	three_spans();
	give_events(fx.in_spans, 128, 0);
	give_events(fx.in_spans->next, 129, 0);
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	expect_second_refused(&st, "more events");
	cr_assert_eq(fx.spans[0]->span.n_events, 128);
	cr_expect_eq(fx.spans[0]->span.events[127].time_unix_nano, T0 + 127);
}

Test(records_in, an_event_with_more_attributes_than_the_limit_is_refused)
{
	three_spans();
	give_events(fx.in_spans, 1, 128);
	give_events(fx.in_spans->next, 1, 129);
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	expect_second_refused(&st, "more attributes");
	cr_expect_eq(fx.spans[0]->span.events[0].attrs.n, 128);
}

Test(records_in, a_span_larger_than_its_arena_is_refused)
{
	size_t n = KT_RECORDS_IN_ARENA + 1;
	char *big = malloc(n + 1);
	cr_assert_not_null(big);
	memset(big, 'n', n);
	big[n] = '\0';
	three_spans();
	second_span()->name = fx_str(&fx.in_spans->next->arena, big);
	free(big);
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	expect_second_refused(&st, "larger than a record may be");
}

Test(records_in, the_first_reason_is_kept_and_every_refusal_counted)
{
	three_spans();
	add_span(fx_record("fourth"));
	kt_otlp_request *req = build_spans();
	span_at(req, 1)->trace_id.len = 15;
	span_at(req, 2)->end_time_unix_nano = 0;
	struct kt_records_in st = { 0 };
	deliver_spans(req, &st);
	cr_expect_eq(st.rejected, 2);
	cr_expect_eq(st.spans, 2);
	cr_expect(strstr(st.why, "trace id") != NULL, "%s", st.why);
	cr_assert_eq(fx.n_spans, 2);
	expect_cstr(fx.spans[0]->span.name, "first", "the first");
	expect_cstr(fx.spans[1]->span.name, "fourth", "the fourth");
}

Test(records_in, counts_add_up_over_calls_and_the_reason_is_the_last_calls)
{
	struct kt_records_in st = { 0 };
	three_spans();
	kt_otlp_request *req = build_spans();
	span_at(req, 1)->span_id.len = 3;
	deliver_spans(req, &st);
	cr_expect_neq(st.why[0], '\0');
	deliver_spans(build_spans(), &st); /* a new request of the same records, none spoiled */
	cr_expect_eq(st.spans, 2 + 3);
	cr_expect_eq(st.rejected, 1);
	cr_expect_str_eq(st.why, "");
}

/* ------------------------------------------------------------ refused log records */

static void three_logs(void)
{
	add_log(log_saying("first"));
	add_log(log_saying("second"));
	add_log(log_saying("third"));
}

static void expect_second_log_refused(const struct kt_records_in *st, const char *reason)
{
	cr_expect_eq(st->rejected, 1);
	cr_expect_eq(st->logs, 2);
	cr_expect(strncmp(st->why, "log record: ", 12) == 0, "why: \"%s\"", st->why);
	cr_expect(strstr(st->why, reason) != NULL, "why: \"%s\", expected \"%s\" in it", st->why,
		  reason);
	cr_assert_eq(fx.n_logs, 2);
	expect_cstr(fx.logs[0]->log.body, "first", "the first");
	expect_cstr(fx.logs[1]->log.body, "third", "the third");
}

static void free_logs_round(void)
{
	got_free();
	kt_log_record_free_list(fx.in_logs);
	fx.in_logs = NULL;
}

Test(records_in, log_ids_of_other_lengths_are_refused)
{
	static const uint8_t bytes[17] = { 1 };
	static const struct {
		bool trace;
		size_t len;
		const char *why;
	} cases[] = {
		{ true, 5, "trace id" },   { true, 15, "trace id" }, { true, 17, "trace id" },
		{ false, 3, "span id" },   { false, 7, "span id" },  { false, 9, "span id" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		three_logs();
		logs_req *req = build_logs();
		ProtobufCBinaryData d = { cases[i].len, (uint8_t *)bytes };
		if (cases[i].trace)
			log_at(req, 1)->trace_id = d;
		else
			log_at(req, 1)->span_id = d;
		struct kt_records_in st = { 0 };
		deliver_logs(req, &sink, &st);
		cr_assert_eq(st.rejected, 1, "case %zu", i);
		expect_second_log_refused(&st, cases[i].why);
		free_logs_round();
	}
}

Test(records_in, a_log_body_that_is_not_a_string_is_refused)
{
	static const int kinds[] = { AV(BOOL_VALUE), AV(INT_VALUE), AV(DOUBLE_VALUE), AV(ARRAY_VALUE),
				     AV(KVLIST_VALUE), AV(BYTES_VALUE) };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		three_logs();
		logs_req *req = build_logs();
		pb_any *v = kt_arena_alloc(&fx.req, sizeof(*v));
		pb_array *arr = kt_arena_alloc(&fx.req, sizeof(*arr));
		pb_kvlist *kvl = kt_arena_alloc(&fx.req, sizeof(*kvl));
		cr_assert(v && arr && kvl);
		opentelemetry__proto__common__v1__any_value__init(v);
		opentelemetry__proto__common__v1__array_value__init(arr);
		opentelemetry__proto__common__v1__key_value_list__init(kvl);
		v->value_case = kinds[i];
		if (kinds[i] == AV(BOOL_VALUE))
			v->bool_value = 1;
		else if (kinds[i] == AV(INT_VALUE))
			v->int_value = 7;
		else if (kinds[i] == AV(DOUBLE_VALUE))
			v->double_value = 7.5;
		else if (kinds[i] == AV(ARRAY_VALUE))
			v->array_value = arr;
		else if (kinds[i] == AV(KVLIST_VALUE))
			v->kvlist_value = kvl;
		else
			v->bytes_value = (ProtobufCBinaryData){ 3, (uint8_t *)"abc" };
		log_at(req, 1)->body = v;
		struct kt_records_in st = { 0 };
		deliver_logs(req, &sink, &st);
		cr_assert_eq(st.rejected, 1, "body of type %d", kinds[i]);
		expect_second_log_refused(&st, "not a string");
		free_logs_round();
	}
}

Test(records_in, a_severity_beyond_24_is_refused)
{
	static const int severities[] = { 25, 100, -1 };
	for (size_t i = 0; i < sizeof(severities) / sizeof(severities[0]); i++) {
		three_logs();
		logs_req *req = build_logs();
		log_at(req, 1)->severity_number = severities[i];
		log_at(req, 2)->severity_number = 24;
		struct kt_records_in st = { 0 };
		deliver_logs(req, &sink, &st);
		cr_assert_eq(st.rejected, 1, "severity %d", severities[i]);
		expect_second_log_refused(&st, "severity");
		cr_expect(strstr(st.why, "24") != NULL, "%s", st.why);
		cr_expect_eq(fx.logs[1]->log.severity_number, 24);
		free_logs_round();
	}
}

Test(records_in, log_text_that_is_not_utf8_is_refused)
{
	for (int which = 0; which < 4; which++) {
		three_logs();
		struct kt_log_record *r = fx.in_logs->next;
		struct kt_arena *a = &r->arena;
		switch (which) {
		case 0:
			r->log.body = fx_str(a, "\xc3\x28");
			break;
		case 1:
			r->log.severity_text = fx_str(a, "\xff");
			break;
		case 2:
			r->log.attrs = FX_LIST(a, fx_kv_str(a, "\xed\xa0\x80", "v"));
			break;
		default:
			r->log.attrs = FX_LIST(a, fx_kv_str(a, "k", "\xc0\xaf"));
		}
		/* the body is what the test tells the records by */
		if (which)
			cr_assert_str_eq(r->log.body.ptr, "second");
		struct kt_records_in st = { 0 };
		deliver_logs(build_logs(), &sink, &st);
		cr_assert_eq(st.rejected, 1, "case %d", which);
		expect_second_log_refused(&st, "UTF-8");
		free_logs_round();
	}
}

Test(records_in, a_log_record_with_more_attributes_than_the_limit_is_refused)
{
	three_logs();
	fx.in_logs->log.attrs = numbered_attrs(&fx.in_logs->arena, 128);
	fx.in_logs->next->log.attrs = numbered_attrs(&fx.in_logs->next->arena, 129);
	struct kt_records_in st = { 0 };
	deliver_logs(build_logs(), &sink, &st);
	expect_second_log_refused(&st, "more attributes");
	cr_expect_eq(fx.logs[0]->log.attrs.n, 128);
}

Test(records_in, log_records_without_a_log_sink_are_refused_and_their_origin_given_back)
{
	three_logs();
	struct kt_record_sink spans_only = { .span = on_span };
	struct kt_records_in st = { 0 };
	deliver_logs(build_logs(), &spans_only, &st);
	cr_expect_eq(st.rejected, 3);
	cr_expect_eq(st.logs, 0);
	cr_expect(strstr(st.why, "nothing takes log records") != NULL, "%s", st.why);
	cr_expect_eq(fx.origin->refs, 1);
}

/* ------------------------------------------------------------ dropped, counted */

static pb_any *any_new(void)
{
	pb_any *v = kt_arena_alloc(&fx.req, sizeof(*v));
	cr_assert_not_null(v);
	opentelemetry__proto__common__v1__any_value__init(v);
	return v;
}

static pb_any *any_int(int64_t i)
{
	pb_any *v = any_new();
	v->value_case = AV(INT_VALUE);
	v->int_value = i;
	return v;
}

static pb_any *any_str(const char *s)
{
	pb_any *v = any_new();
	v->value_case = AV(STRING_VALUE);
	v->string_value = (ProtobufCBinaryData){ strlen(s), (uint8_t *)s };
	return v;
}

static pb_any *any_bytes(void)
{
	pb_any *v = any_new();
	v->value_case = AV(BYTES_VALUE);
	v->bytes_value = (ProtobufCBinaryData){ 2, (uint8_t *)"\x00\x01" };
	return v;
}

static pb_any *any_array(size_t n, pb_any **values)
{
	pb_any *v = any_new();
	pb_array *a = kt_arena_alloc(&fx.req, sizeof(*a));
	pb_any **copy = kt_arena_calloc(&fx.req, n ? n : 1, sizeof(*copy));
	cr_assert(a && copy);
	opentelemetry__proto__common__v1__array_value__init(a);
	for (size_t i = 0; i < n; i++)
		copy[i] = values[i];
	a->n_values = n;
	a->values = copy;
	v->value_case = AV(ARRAY_VALUE);
	v->array_value = a;
	return v;
}

static pb_any *any_kvlist(void)
{
	pb_any *v = any_new();
	pb_kvlist *l = kt_arena_alloc(&fx.req, sizeof(*l));
	pb_kv *kv = kt_arena_alloc(&fx.req, sizeof(*kv));
	pb_kv **kvs = kt_arena_alloc(&fx.req, sizeof(*kvs));
	cr_assert(l && kv && kvs);
	opentelemetry__proto__common__v1__key_value_list__init(l);
	opentelemetry__proto__common__v1__key_value__init(kv);
	kv->key = (ProtobufCBinaryData){ 1, (uint8_t *)"k" };
	kv->value = any_int(1);
	kvs[0] = kv;
	l->n_values = 1;
	l->values = kvs;
	v->value_case = AV(KVLIST_VALUE);
	v->kvlist_value = l;
	return v;
}

/*
 * Values records do not hold, for attributes "x0".."x6" between a kept
 * "first" and "last": bytes, a key-value list, a mixed array, an array of
 * arrays, an array of bytes, a value of no type and no value at all.
 */
#define N_UNHELD 7
static void spoil_with_unheld_values(size_t n, pb_kv **kv)
{
	cr_assert_eq(n, N_UNHELD + 2);
	pb_any *mixed[] = { any_int(1), any_str("one") };
	pb_any *nested[] = { any_array(0, NULL) };
	pb_any *of_bytes[] = { any_bytes(), any_bytes() };
	kv[1]->value = any_bytes();
	kv[2]->value = any_kvlist();
	kv[3]->value = any_array(2, mixed);
	kv[4]->value = any_array(1, nested);
	kv[5]->value = any_array(2, of_bytes);
	kv[6]->value = any_new();
	kv[7]->value = NULL;
}

/* "first", x0..x6 (placeholders), "last". */
static struct kt_kvlist first_unheld_last(struct kt_arena *a)
{
	struct kt_kvlist l = { .n = N_UNHELD + 2,
			       .kv = kt_arena_calloc(a, N_UNHELD + 2, sizeof(struct kt_kv)) };
	cr_assert_not_null(l.kv);
	l.kv[0] = fx_kv_str(a, "first", "kept");
	for (size_t i = 0; i < N_UNHELD; i++) {
		char k[24];
		snprintf(k, sizeof(k), "x%zu", i);
		l.kv[i + 1] = fx_kv_i64(a, k, 0);
	}
	l.kv[N_UNHELD + 1] = fx_kv_i64(a, "last", 99);
	return l;
}

static void expect_first_and_last(const struct kt_kvlist *l)
{
	cr_assert_eq(l->n, 2);
	expect_cstr(l->kv[0].key, "first", "key");
	expect_cstr(l->kv[0].value.s, "kept", "value");
	expect_cstr(l->kv[1].key, "last", "key");
	cr_expect_eq(l->kv[1].value.i, 99);
}

Test(records_in, span_attributes_of_types_records_do_not_hold_are_dropped_and_counted)
{
	struct kt_span_record *r = fx_record("s");
	r->span.attrs = first_unheld_last(&r->arena);
	r->span.attrs_dropped = 2;
	add_span(r);
	kt_otlp_request *req = build_spans();
	pb_span *ps = span_at(req, 0);
	spoil_with_unheld_values(ps->n_attributes, ps->attributes);
	struct kt_records_in st = { 0 };
	deliver_spans(req, &st);
	cr_expect_eq(st.rejected, 0);
	cr_assert_eq(fx.n_spans, 1);
	expect_first_and_last(&fx.spans[0]->span.attrs);
	cr_expect_eq(fx.spans[0]->span.attrs_dropped, 2 + N_UNHELD);
}

Test(records_in, event_attributes_dropped_are_counted_on_their_event_alone)
{
	struct kt_span_record *r = fx_record("s");
	give_events(r, 2, 0);
	r->span.events[0].attrs = first_unheld_last(&r->arena);
	r->span.events[0].dropped_attributes_count = 4;
	r->span.events[1].dropped_attributes_count = 1;
	add_span(r);
	kt_otlp_request *req = build_spans();
	Opentelemetry__Proto__Trace__V1__Span__Event *e = span_at(req, 0)->events[0];
	spoil_with_unheld_values(e->n_attributes, e->attributes);
	struct kt_records_in st = { 0 };
	deliver_spans(req, &st);
	cr_assert_eq(fx.n_spans, 1);
	const struct kt_span *s = &fx.spans[0]->span;
	expect_first_and_last(&s->events[0].attrs);
	cr_expect_eq(s->events[0].dropped_attributes_count, 4 + N_UNHELD);
	cr_expect_eq(s->events[1].dropped_attributes_count, 1);
	cr_expect_eq(s->attrs_dropped, 0);
}

Test(records_in, log_attributes_of_types_records_do_not_hold_are_dropped)
{
	struct kt_log_record *r = log_saying("l");
	r->log.attrs = first_unheld_last(&r->arena);
	add_log(r);
	logs_req *req = build_logs();
	pb_log *pl = log_at(req, 0);
	spoil_with_unheld_values(pl->n_attributes, pl->attributes);
	struct kt_records_in st = { 0 };
	deliver_logs(req, &sink, &st);
	cr_expect_eq(st.rejected, 0);
	cr_assert_eq(fx.n_logs, 1);
	expect_first_and_last(&fx.logs[0]->log.attrs);
}

Test(records_in, links_are_counted_as_dropped)
{
	struct kt_span_record *r = fx_record("linked");
	r->span.links_present = true;
	r->span.n_links = 3;
	r->span.links = kt_arena_calloc(&r->arena, 3, sizeof(*r->span.links));
	cr_assert_not_null(r->span.links);
	for (size_t i = 0; i < 3; i++) {
		r->span.links[i].ctx.trace_id = (struct kt_trace_id){ 1, i + 1 };
		r->span.links[i].ctx.span_id = i + 1;
	}
	r->span.links_dropped = 2;
	add_span(r);
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	cr_assert_eq(fx.n_spans, 1);
	cr_expect_eq(fx.spans[0]->span.n_links, 0);
	cr_expect_not(fx.spans[0]->span.links_present);
	cr_expect_eq(fx.spans[0]->span.links_dropped, 5);
}

/* ------------------------------------------------------------ the origin */

Test(records_in, every_record_holds_a_reference_to_the_origin)
{
	three_spans();
	three_logs();
	kt_otlp_request *req = build_spans();
	span_at(req, 1)->trace_id.len = 1; /* refused: takes no reference */
	struct kt_records_in st = { 0 };
	cr_assert_eq(fx.origin->refs, 1);
	deliver_spans(req, &st);
	deliver_logs(build_logs(), &sink, &st);
	cr_expect_eq(fx.origin->refs, 1 + 2 + 3);
	for (size_t i = 0; i < fx.n_spans; i++)
		cr_expect_eq(fx.spans[i]->origin, fx.origin);
	for (size_t i = 0; i < fx.n_logs; i++)
		cr_expect_eq(fx.logs[i]->origin, fx.origin);
	got_free();
	cr_expect_eq(fx.origin->refs, 1);
}

Test(records_in, without_an_origin_records_have_none)
{
	add_span(fx_record("s"));
	add_log(log_saying("l"));
	struct kt_origin *o = fx.origin;
	fx.origin = NULL;
	struct kt_records_in st = { 0 };
	deliver_spans(build_spans(), &st);
	deliver_logs(build_logs(), &sink, &st);
	fx.origin = o;
	cr_assert_eq(fx.n_spans, 1);
	cr_assert_eq(fx.n_logs, 1);
	cr_expect_null(fx.spans[0]->origin);
	cr_expect_null(fx.logs[0]->origin);
	cr_expect_eq(o->refs, 1);
}

Test(records_in, all_zero_trace_or_span_ids_are_refused_a_zero_parent_is_a_root)
{
	static const uint8_t zeros[16];
	for (int which = 0; which < 3; which++) {
		three_spans();
		kt_otlp_request *req = build_spans();
		pb_span *s = span_at(req, 1);
		if (which == 0)
			s->trace_id = (ProtobufCBinaryData){ 16, (uint8_t *)zeros };
		else if (which == 1)
			s->span_id = (ProtobufCBinaryData){ 8, (uint8_t *)zeros };
		else
			s->parent_span_id = (ProtobufCBinaryData){ 8, (uint8_t *)zeros };
		struct kt_records_in st = { 0 };
		deliver_spans(req, &st);
		if (which < 2) {
			cr_assert_eq(st.rejected, 1, "case %d", which);
			expect_second_refused(&st, which == 0 ? "an all-zero trace id" : "an all-zero span id");
		} else {
			cr_assert_eq(st.rejected, 0, "%s", st.why);
			cr_assert_eq(st.spans, 3);
			cr_assert_eq(fx.n_spans, 3);
			cr_expect_eq(fx.spans[1]->span.parent_span_id, 0, "a root");
		}
		got_free();
		kt_span_record_free_list(fx.in_spans);
		fx.in_spans = NULL;
	}
}

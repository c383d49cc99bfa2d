/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket fuzzer: the input as the bytes a peer writes to the
 * daemon's control socket (user/control/control_wire.c), fed to a
 * kt_ctl_reader whole and in generated chunks (empty ones too): both give
 * the same messages and break, or not, at the same one. The spans and log
 * records of every Records message are taken in as the daemon takes them
 * (user/control/records_in.c) and checked: every string valid UTF-8 and
 * NUL-terminated, the limits held, ends not before starts, links gone,
 * every record counted once (taken or rejected with a reason), the
 * origin's references all given back. In the whole-input run each record
 * also goes the export way: as an OTLP request of one resource with the
 * origin's scope (packed and read back, and as OTLP/JSON), and taken in
 * again from that request it is the same record, field for field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/utf8.h"
#include "control/control_wire.h"
#include "control/records_in.h"
#include "base/arena.h"
#include "exporters/otlp_build.h"
#include "exporters/otlp_json.h"
#include "exporters/otlp_logs_build.h"
#include "exporters/otlp_pack.h"
#include "fuzz_check.h"
#include "log_check.h"
#include "model/attrs.h"
#include "str_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SCOPE "katatrace-bpf/probe"

static struct kt_origin *origin; /* a probe's, as the daemon makes it */
static const struct kt_resource_cfg cfg = { .service_name = "fuzz" };

/* ------------------------------------------------------------ what a record must be */

static uint64_t check_value(uint64_t h, const struct kt_value *v)
{
	CHECK((unsigned)v->type <= KT_VAL_ARRAY_STRING);
	h = mix(h, v->type);
	switch (v->type) {
	case KT_VAL_BOOL:
		return mix(h, v->b);
	case KT_VAL_I64:
		return mix(h, (uint64_t)v->i);
	case KT_VAL_F64: {
		uint64_t bits;
		memcpy(&bits, &v->f, sizeof(bits));
		return mix(h, bits);
	}
	case KT_VAL_STRING:
		return check_str(h, v->s);
	default:
		break;
	}
	CHECK(v->arr.n == 0 || v->arr.b != NULL);
	h = mix(h, v->arr.n);
	for (size_t i = 0; i < v->arr.n; i++) {
		if (v->type == KT_VAL_ARRAY_BOOL) {
			h = mix(h, v->arr.b[i]);
		} else if (v->type == KT_VAL_ARRAY_I64) {
			h = mix(h, (uint64_t)v->arr.i[i]);
		} else if (v->type == KT_VAL_ARRAY_F64) {
			uint64_t bits;
			memcpy(&bits, &v->arr.f[i], sizeof(bits));
			h = mix(h, bits);
		} else {
			h = check_str(h, v->arr.s[i]);
		}
	}
	return h;
}

static uint64_t check_kvs(uint64_t h, const struct kt_kvlist *l)
{
	CHECK(l->n <= KT_RECORDS_IN_MAX_ATTRS);
	CHECK(l->n == 0 || l->kv != NULL);
	h = mix(h, l->n);
	for (size_t i = 0; i < l->n; i++) {
		h = check_str(h, l->kv[i].key);
		h = check_value(h, &l->kv[i].value);
	}
	return h;
}

static uint64_t check_span(uint64_t h, const struct kt_span_record *r)
{
	const struct kt_span *s = &r->span;
	CHECK(r->next == NULL && r->shared == NULL);
	CHECK(r->source == KT_SPAN_FROM_HOST && r->origin == origin);
	CHECK(r->arena.used <= KT_RECORDS_IN_ARENA);
	CHECK((unsigned)s->kind <= KT_KIND_INTERNAL);
	CHECK((unsigned)s->status_code <= KT_STATUS_ERROR);
	CHECK(s->end_unix_nano >= s->start_unix_nano);
	CHECK(s->n_links == 0 && !s->links_present && !s->resource_present);
	CHECK(s->n_events <= KT_RECORDS_IN_MAX_EVENTS);
	CHECK(s->events_present == (s->n_events > 0));
	h = mix(h, s->ctx.trace_id.hi);
	h = mix(h, s->ctx.trace_id.lo);
	h = mix(h, s->ctx.span_id);
	h = mix(h, s->ctx.trace_flags);
	h = mix(h, s->parent_span_id);
	h = mix(h, s->kind);
	h = mix(h, s->start_unix_nano);
	h = mix(h, s->end_unix_nano);
	h = check_str(h, s->name);
	h = check_kvs(h, &s->attrs);
	h = mix(h, s->attrs_dropped);
	for (size_t i = 0; i < s->n_events; i++) {
		h = check_str(h, s->events[i].name);
		h = mix(h, s->events[i].time_unix_nano);
		h = check_kvs(h, &s->events[i].attrs);
		h = mix(h, s->events[i].dropped_attributes_count);
	}
	h = mix(h, s->events_dropped);
	h = mix(h, s->links_dropped);
	h = mix(h, s->status_code);
	return check_str(h, s->status_message);
}

static uint64_t check_log(uint64_t h, const struct kt_log_record *r)
{
	const struct kt_log *l = &r->log;
	CHECK(r->next == NULL && r->origin == origin);
	CHECK(r->arena.used <= KT_RECORDS_IN_ARENA);
	CHECK((unsigned)l->severity_number <= 24);
	h = mix(h, l->time_unix_nano);
	h = mix(h, l->observed_time_unix_nano);
	h = mix(h, l->severity_number);
	h = check_str(h, l->severity_text);
	h = check_str(h, l->body);
	h = check_kvs(h, &l->attrs);
	h = mix(h, l->trace_id.hi);
	h = mix(h, l->trace_id.lo);
	return mix(h, l->span_id);
}

/* ------------------------------------------------------------ the export way, and back */

/* Records taken in again: exactly one expected. */
struct again {
	struct kt_span_record *span;
	struct kt_log_record *log;
	size_t n;
};

static void again_span(void *ctx, struct kt_span_record *r)
{
	struct again *g = ctx;
	g->n++;
	if (g->span)
		kt_span_record_free(g->span);
	g->span = r;
}

static void again_log(void *ctx, struct kt_log_record *r)
{
	struct again *g = ctx;
	g->n++;
	if (g->log)
		kt_log_record_free(g->log);
	g->log = r;
}

/* The scope of a probe's records is the origin's. */
static void check_scope(ProtobufCBinaryData name)
{
	CHECK(name.len == strlen(SCOPE) && memcmp(name.data, SCOPE, name.len) == 0);
}

/* a and b hold the same record: the digests of every field agree (doubles by their bits). */
static void expect_same_span(const struct kt_span_record *a, const struct kt_span_record *b)
{
	CHECK(check_span(0, a) == check_span(0, b));
	CHECK(a->span.name.len == b->span.name.len && a->span.attrs.n == b->span.attrs.n &&
	      a->span.n_events == b->span.n_events);
}

static void expect_same_log(const struct kt_log_record *a, const struct kt_log_record *b)
{
	CHECK(check_log(0, a) == check_log(0, b));
	CHECK(a->log.body.len == b->log.body.len && a->log.attrs.n == b->log.attrs.n);
}

/* As the export thread and the exporters keep them: reused from one input to the next. */
static struct kt_arena req_arena;
static struct kt_text packed, json;

static void span_export_way(const struct kt_span_record *r)
{
	kt_otlp_request *req = kt_otlp_build(r, &cfg, &req_arena);
	CHECK(req != NULL);
	CHECK(kt_otlp_pack(&req->base, 0, SIZE_MAX, &packed));
	size_t n = packed.len;
	const uint8_t *buf = (const uint8_t *)packed.p;
	kt_otlp_request *back =
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, n, buf);
	CHECK(back && back->n_resource_spans == 1 && back->resource_spans[0]->n_scope_spans == 1);
	CHECK(back->resource_spans[0]->scope_spans[0]->scope != NULL);
	check_scope(back->resource_spans[0]->scope_spans[0]->scope->name);
	CHECK(back->resource_spans[0]->scope_spans[0]->n_spans == 1);

	struct again g = { 0 };
	struct kt_record_sink sink = { .span = again_span, .log = again_log, .ctx = &g };
	struct kt_records_in st = { 0 };
	kt_records_in_spans(back, origin, &sink, &st);
	CHECK(st.spans == 1 && st.rejected == 0 && st.why[0] == '\0' && g.n == 1 && g.span);
	expect_same_span(r, g.span);
	kt_span_record_free(g.span);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(back, NULL);

	if (kt_otlp_json_write(req, &json))
		CHECK(kt_utf8_check((const uint8_t *)json.p, json.len) == json.len);
	kt_arena_reset(&req_arena);
}

static void log_export_way(const struct kt_log_record *r)
{
	check_log_exports(r);
	struct kt_arena a;
	kt_arena_init(&a, 0);
	kt_otlp_logs_request *req = kt_otlp_logs_build(r, &cfg, &a);
	CHECK(req != NULL);
	size_t n = opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(req);
	uint8_t *buf = malloc(n ? n : 1);
	CHECK(buf != NULL);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(req, buf);
	kt_otlp_logs_request *back =
		opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(NULL, n, buf);
	CHECK(back && back->n_resource_logs == 1 && back->resource_logs[0]->n_scope_logs == 1);
	CHECK(back->resource_logs[0]->scope_logs[0]->scope != NULL);
	check_scope(back->resource_logs[0]->scope_logs[0]->scope->name);

	struct again g = { 0 };
	struct kt_record_sink sink = { .span = again_span, .log = again_log, .ctx = &g };
	struct kt_records_in st = { 0 };
	kt_records_in_logs(back, origin, &sink, &st);
	CHECK(st.logs == 1 && st.rejected == 0 && st.why[0] == '\0' && g.n == 1 && g.log);
	expect_same_log(r, g.log);
	kt_log_record_free(g.log);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(back, NULL);
	free(buf);
	kt_arena_free(&a);
}

/* ------------------------------------------------------------ the stream */

struct run {
	bool export;
	uint64_t messages, spans, logs, rejected, digest;
	bool broken;
	size_t pending;
};

static void on_span(void *ctx, struct kt_span_record *r)
{
	struct run *run = ctx;
	run->digest = check_span(run->digest, r);
	run->spans++;
	if (run->export)
		span_export_way(r);
	kt_span_record_free(r);
}

static void on_log(void *ctx, struct kt_log_record *r)
{
	struct run *run = ctx;
	run->digest = check_log(run->digest, r);
	run->logs++;
	if (run->export)
		log_export_way(r);
	kt_log_record_free(r);
}

static size_t count_spans(const kt_otlp_request *req)
{
	size_t n = 0;
	for (size_t g = 0; req && g < req->n_resource_spans; g++)
		for (size_t s = 0; s < req->resource_spans[g]->n_scope_spans; s++)
			n += req->resource_spans[g]->scope_spans[s]->n_spans;
	return n;
}

static size_t count_logs(const kt_otlp_logs_request *req)
{
	size_t n = 0;
	for (size_t g = 0; req && g < req->n_resource_logs; g++)
		for (size_t s = 0; s < req->resource_logs[g]->n_scope_logs; s++)
			n += req->resource_logs[g]->scope_logs[s]->n_log_records;
	return n;
}

static void on_message(struct run *run, const kt_ctl_msg *m)
{
	CHECK(m->body_case != KATATRACE__CONTROL__V1__MESSAGE__BODY__NOT_SET);
	CHECK(strcmp(kt_ctl_body_name(m->body_case), "no body") != 0);
	run->messages++;
	run->digest = mix(run->digest, m->body_case);
	if (m->body_case != KATATRACE__CONTROL__V1__MESSAGE__BODY_RECORDS)
		return;
	struct kt_record_sink sink = { .span = on_span, .log = on_log, .ctx = run };
	struct kt_records_in st = { 0 };
	uint64_t spans0 = run->spans, logs0 = run->logs;
	kt_records_in_spans(m->records->traces, origin, &sink, &st);
	/* every span taken or rejected, once; a reason exactly when one was rejected */
	CHECK(st.spans == run->spans - spans0);
	CHECK(st.spans + st.rejected == count_spans(m->records->traces));
	CHECK((st.rejected > 0) == (st.why[0] != '\0'));
	CHECK(memchr(st.why, '\0', sizeof(st.why)) != NULL);
	run->rejected += st.rejected;
	struct kt_records_in lt = { 0 };
	kt_records_in_logs(m->records->logs, origin, &sink, &lt);
	CHECK(lt.logs == run->logs - logs0);
	CHECK(lt.logs + lt.rejected == count_logs(m->records->logs));
	CHECK((lt.rejected > 0) == (lt.why[0] != '\0'));
	run->rejected += lt.rejected;
	run->digest = mix(run->digest, st.rejected << 32 | lt.rejected);
}

static void feed(const uint8_t *p, size_t n, bool chunks, uint32_t seed, struct run *run)
{
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	for (size_t o = 0; o < n && !run->broken;) {
		size_t k = n - o;
		if (chunks) {
			seed = seed * 1103515245u + 12345u;
			k = (seed >> 8) % 62; /* 0..61: an empty feed too */
			if (k > n - o)
				k = n - o;
		}
		CHECK(kt_ctl_reader_feed(&r, p + o, k) == 0);
		o += k;
		for (;;) {
			kt_ctl_msg *m;
			char err[160] = "";
			int rc = kt_ctl_reader_next(&r, &m, err, sizeof(err));
			if (rc == 0)
				break;
			if (rc < 0) {
				CHECK(rc == -1 && err[0] != '\0');
				CHECK(memchr(err, '\0', sizeof(err)) != NULL);
				run->broken = true;
				break;
			}
			on_message(run, m);
		}
		CHECK(kt_ctl_reader_pending(&r) <= 4 + (size_t)KT_CONTROL_MSG_MAX);
	}
	run->pending = kt_ctl_reader_pending(&r);
	kt_ctl_reader_free(&r);
	CHECK(origin->refs == 1);
}

/* The origin the daemon makes from a Hello without a service name (control_server.c). */
static struct kt_origin *probe_origin(void)
{
	struct kt_arena a;
	struct kt_attrs b;
	kt_arena_init(&a, 0);
	CHECK(kt_attrs_init(&b, &a, 2));
	kt_attrs_cstr(&b, "service.name", "katatrace-probe");
	kt_attrs_int(&b, "katatrace.probe.id", 1);
	struct kt_kvlist l = kt_attrs_list(&b);
	struct kt_origin *o = kt_origin_new(&l, NULL, "probe 1");
	CHECK(o && kt_origin_set_scope(o, SCOPE));
	kt_arena_free(&a);
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!origin) {
		kt_log_level = KT_LOG_ERROR;
		origin = probe_origin();
	}
	uint32_t seed = 2166136261u;
	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	struct run whole = { .export = true }, chunked = { 0 };
	feed(data, size, false, seed, &whole);
	feed(data, size, true, seed, &chunked);
	CHECK(whole.messages == chunked.messages && whole.digest == chunked.digest);
	CHECK(whole.spans == chunked.spans && whole.logs == chunked.logs &&
	      whole.rejected == chunked.rejected);
	CHECK(whole.broken == chunked.broken);
	/* after a break the chunked run stops feeding; before, both hold the same rest */
	CHECK(whole.broken || whole.pending == chunked.pending);
	return 0;
}

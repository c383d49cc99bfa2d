/* SPDX-License-Identifier: Apache-2.0 */
#include "control/records_in.h"

#include <stdio.h>
#include <string.h>

#include "base/byte_order.h"
#include "base/utf8.h"

/* OTLP SeverityNumber's largest (FATAL4). */
#define SEVERITY_MAX 24

typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Logs__V1__LogRecord pb_log;

/* A record being taken in: its arena, and why it was refused. */
struct take {
	struct kt_arena *a;
	const char *why;
	uint32_t dropped; /* attributes of a type records do not hold */
};

static bool refuse(struct take *t, const char *why)
{
	if (!t->why)
		t->why = why;
	return false;
}

/* Bytes of text as a NUL-terminated string of the arena. */
static bool text(struct take *t, ProtobufCBinaryData d, struct kt_str *out)
{
	if (kt_utf8_check(d.data, d.len) != d.len)
		return refuse(t, "text that is not UTF-8");
	char *p = kt_arena_memdup0(t->a, d.len ? (const char *)d.data : "", d.len);
	if (!p)
		return refuse(t, "larger than a record may be");
	*out = (struct kt_str){ p, d.len };
	return true;
}

/* a + b, held at UINT32_MAX: counts a peer sends may be anything. */
static uint32_t sat_add(uint32_t a, uint64_t b)
{
	return a + b > UINT32_MAX ? UINT32_MAX : (uint32_t)(a + b);
}

static bool trace_id(struct take *t, ProtobufCBinaryData d, bool optional, struct kt_trace_id *out)
{
	memset(out, 0, sizeof(*out));
	if (optional && d.len == 0)
		return true;
	if (d.len != 16)
		return refuse(t, "a trace id that is not 16 bytes");
	out->hi = kt_be64(d.data);
	out->lo = kt_be64(d.data + 8);
	return true;
}

static bool span_id(struct take *t, ProtobufCBinaryData d, bool optional, uint64_t *out)
{
	*out = 0;
	if (optional && d.len == 0)
		return true;
	if (d.len != 8)
		return refuse(t, "a span id that is not 8 bytes");
	*out = kt_be64(d.data);
	return true;
}

/* An array of one scalar type; false when it is of none (dropped, not refused). */
static bool array(struct take *t, const Opentelemetry__Proto__Common__V1__ArrayValue *av,
		  struct kt_value *v, bool *ok)
{
	size_t n = av ? av->n_values : 0;
	int c = n ? (int)av->values[0]->value_case : OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	for (size_t i = 1; i < n; i++)
		if ((int)av->values[i]->value_case != c)
			return false;
	v->arr.n = n;
	switch (c) {
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
		v->type = KT_VAL_ARRAY_BOOL;
		if (!(v->arr.b = kt_arena_calloc(t->a, n ? n : 1, sizeof(bool))))
			break;
		for (size_t i = 0; i < n; i++)
			v->arr.b[i] = av->values[i]->bool_value;
		return true;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
		v->type = KT_VAL_ARRAY_I64;
		if (!(v->arr.i = kt_arena_calloc(t->a, n ? n : 1, sizeof(int64_t))))
			break;
		for (size_t i = 0; i < n; i++)
			v->arr.i[i] = av->values[i]->int_value;
		return true;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
		v->type = KT_VAL_ARRAY_F64;
		if (!(v->arr.f = kt_arena_calloc(t->a, n ? n : 1, sizeof(double))))
			break;
		for (size_t i = 0; i < n; i++)
			v->arr.f[i] = av->values[i]->double_value;
		return true;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
		v->type = KT_VAL_ARRAY_STRING;
		if (!(v->arr.s = kt_arena_calloc(t->a, n ? n : 1, sizeof(struct kt_str))))
			break;
		for (size_t i = 0; i < n; i++)
			if (!text(t, av->values[i]->string_value, &v->arr.s[i]))
				return *ok = false;
		return true;
	default:
		return false;
	}
	*ok = refuse(t, "larger than a record may be");
	return false;
}

/* One value; false when its type is not one records hold (dropped), *ok false when refused. */
static bool value(struct take *t, const pb_any *in, struct kt_value *v, bool *ok)
{
	memset(v, 0, sizeof(*v));
	switch (in ? in->value_case : OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET) {
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
		v->type = KT_VAL_STRING;
		return (*ok = text(t, in->string_value, &v->s));
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
		v->type = KT_VAL_BOOL;
		v->b = in->bool_value;
		return true;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
		v->type = KT_VAL_I64;
		v->i = in->int_value;
		return true;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
		v->type = KT_VAL_F64;
		v->f = in->double_value;
		return true;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
		return array(t, in->array_value, v, ok);
	default:
		return false;
	}
}

static bool attrs(struct take *t, size_t n, pb_kv *const *in, struct kt_kvlist *out)
{
	out->n = 0;
	out->kv = NULL;
	if (!n)
		return true;
	if (n > KT_RECORDS_IN_MAX_ATTRS)
		return refuse(t, "more attributes than a record may have");
	if (!(out->kv = kt_arena_calloc(t->a, n, sizeof(*out->kv))))
		return refuse(t, "larger than a record may be");
	for (size_t i = 0; i < n; i++) {
		struct kt_kv *kv = &out->kv[out->n];
		bool ok = true;
		if (!text(t, in[i]->key, &kv->key))
			return false;
		if (value(t, in[i]->value, &kv->value, &ok))
			out->n++;
		else if (!ok)
			return false;
		else
			t->dropped++;
	}
	return true;
}

static enum kt_span_kind kind_of(Opentelemetry__Proto__Trace__V1__Span__SpanKind k)
{
	switch (k) {
	case OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER:
		return KT_KIND_SERVER;
	case OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT:
		return KT_KIND_CLIENT;
	case OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_PRODUCER:
		return KT_KIND_PRODUCER;
	case OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CONSUMER:
		return KT_KIND_CONSUMER;
	default:
		return KT_KIND_INTERNAL;
	}
}

static bool events(struct take *t, const pb_span *in, struct kt_span *s)
{
	if (!in->n_events)
		return true;
	if (in->n_events > KT_RECORDS_IN_MAX_EVENTS)
		return refuse(t, "more events than a span may have");
	if (!(s->events = kt_arena_calloc(t->a, in->n_events, sizeof(*s->events))))
		return refuse(t, "larger than a record may be");
	s->events_present = true;
	s->n_events = in->n_events;
	s->events_max_len = KT_RECORDS_IN_MAX_EVENTS;
	for (size_t i = 0; i < in->n_events; i++) {
		const Opentelemetry__Proto__Trace__V1__Span__Event *e = in->events[i];
		struct kt_event *d = &s->events[i];
		uint32_t before = t->dropped;
		d->time_unix_nano = e->time_unix_nano;
		if (!text(t, e->name, &d->name) || !attrs(t, e->n_attributes, e->attributes, &d->attrs))
			return false;
		d->dropped_attributes_count = sat_add(e->dropped_attributes_count, t->dropped - before);
		t->dropped = before;
	}
	return true;
}

static bool take_span(struct take *t, const pb_span *in, struct kt_span *s)
{
	if (!trace_id(t, in->trace_id, false, &s->ctx.trace_id) ||
	    !span_id(t, in->span_id, false, &s->ctx.span_id) ||
	    !span_id(t, in->parent_span_id, true, &s->parent_span_id) || !text(t, in->name, &s->name))
		return false;
	/* OTLP: all-zero ids are invalid (a zero parent is none) */
	if (!s->ctx.trace_id.hi && !s->ctx.trace_id.lo)
		return refuse(t, "an all-zero trace id");
	if (!s->ctx.span_id)
		return refuse(t, "an all-zero span id");
	if (in->end_time_unix_nano < in->start_time_unix_nano)
		return refuse(t, "a span that ends before it starts");
	s->ctx.trace_flags = (uint8_t)(in->flags & 0xff);
	s->kind = kind_of(in->kind);
	s->start_unix_nano = in->start_time_unix_nano;
	s->end_unix_nano = in->end_time_unix_nano;
	if (!attrs(t, in->n_attributes, in->attributes, &s->attrs))
		return false;
	s->attrs_max_len = KT_RECORDS_IN_MAX_ATTRS;
	s->attrs_dropped = sat_add(in->dropped_attributes_count, t->dropped);
	if (!events(t, in, s))
		return false;
	s->events_dropped = in->dropped_events_count;
	s->links_dropped = sat_add(in->dropped_links_count, in->n_links);
	/* without a status: unset, and an empty message (strings are never NULL) */
	int c = in->status ? in->status->code : 0;
	s->status_code = c == 1 ? KT_STATUS_OK : c == 2 ? KT_STATUS_ERROR : KT_STATUS_UNSET;
	return text(t, in->status ? in->status->message : (ProtobufCBinaryData){ 0, NULL },
		    &s->status_message);
}

static void rejected(struct kt_records_in *st, const char *what, const char *why)
{
	if (!st->why[0])
		snprintf(st->why, sizeof(st->why), "%s: %s", what, why);
	st->rejected++;
}

void kt_records_in_spans(const Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req,
			 struct kt_origin *origin, const struct kt_record_sink *sink,
			 struct kt_records_in *st)
{
	st->why[0] = '\0';
	for (size_t g = 0; req && g < req->n_resource_spans; g++) {
		const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[g];
		for (size_t sc = 0; sc < rs->n_scope_spans; sc++) {
			const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[sc];
			for (size_t i = 0; i < ss->n_spans; i++) {
				struct kt_span_record *r = kt_span_record_new(KT_RECORDS_IN_ARENA);
				struct take t = { .a = r ? &r->arena : NULL };
				if (!r || !take_span(&t, ss->spans[i], &r->span)) {
					rejected(st, "span", r ? t.why : "out of memory");
					kt_span_record_free(r);
					continue;
				}
				r->source = KT_SPAN_FROM_HOST;
				r->origin = origin ? kt_origin_get(origin) : NULL;
				st->spans++;
				sink->span(sink->ctx, r);
			}
		}
	}
}

static bool take_log(struct take *t, const pb_log *in, struct kt_log *l)
{
	if (!trace_id(t, in->trace_id, true, &l->trace_id) ||
	    !span_id(t, in->span_id, true, &l->span_id) ||
	    !text(t, in->severity_text, &l->severity_text))
		return false;
	if (in->body && in->body->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
		return refuse(t, "a body that is not a string");
	/* without a body: an empty one (strings are never NULL) */
	if (!text(t, in->body ? in->body->string_value : (ProtobufCBinaryData){ 0, NULL }, &l->body))
		return false;
	if ((unsigned)in->severity_number > SEVERITY_MAX)
		return refuse(t, "a severity number beyond 24");
	l->time_unix_nano = in->time_unix_nano;
	l->observed_time_unix_nano = in->observed_time_unix_nano;
	l->severity_number = (enum kt_severity)in->severity_number;
	/* attributes of other types have nowhere to be counted in a log record: dropped */
	return attrs(t, in->n_attributes, in->attributes, &l->attrs);
}

void kt_records_in_logs(const Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req,
			struct kt_origin *origin, const struct kt_record_sink *sink,
			struct kt_records_in *st)
{
	st->why[0] = '\0';
	for (size_t g = 0; req && g < req->n_resource_logs; g++) {
		const Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = req->resource_logs[g];
		for (size_t sc = 0; sc < rl->n_scope_logs; sc++) {
			const Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = rl->scope_logs[sc];
			for (size_t i = 0; i < sl->n_log_records; i++) {
				struct kt_log_record *r = kt_log_record_new(KT_RECORDS_IN_ARENA);
				struct take t = { .a = r ? &r->arena : NULL };
				if (!r || !take_log(&t, sl->log_records[i], &r->log)) {
					rejected(st, "log record", r ? t.why : "out of memory");
					kt_log_record_free(r);
					continue;
				}
				r->origin = origin ? kt_origin_get(origin) : NULL;
				if (!kt_sink_log(sink, r)) {
					rejected(st, "log record", "nothing takes log records");
					continue;
				}
				st->logs++;
			}
		}
	}
}

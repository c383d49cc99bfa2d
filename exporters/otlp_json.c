/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/JSON writer. This is a streaming writer rather than json-c: the
 * output has to match the Collector byte for byte (escapes such as \u0008
 * where json-c writes \b, shortest round-trip doubles with Go's exponent
 * rules, fields emitted only when non-zero) and must always be valid UTF-8,
 * which json-c does not enforce. Building a json-c tree would also cost one
 * allocation per value for output that is written once.
 */
#include "exporters/otlp_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/otlp_types.h"
#include "base/base64.h"
#include "base/text_buf.h"
#include "base/utf8.h"

/* ------------------------------------------------------------------ doubles */

static bool reads_back(uint64_t m, int e, double x)
{
	char buf[48];
	snprintf(buf, sizeof(buf), "%" PRIu64 "e%d", m, e);
	return strtod(buf, NULL) == x;
}

static uint64_t pow10u(int n)
{
	uint64_t p = 1;
	while (n-- > 0)
		p *= 10;
	return p;
}

/*
 * Shortest (m, e) with m * 10^e == x after rounding to double. At each digit
 * count the correctly rounded candidate is tried first; when it misses, the
 * neighbour on the other side of x may still be inside x's rounding interval
 * (which is asymmetric at powers of two), so it is tried too.
 */
static void shortest_digits(double x, uint64_t *mo, int *eo)
{
	for (int p = 1; p <= 17; p++) {
		char buf[48];
		snprintf(buf, sizeof(buf), "%.*e", p - 1, x);
		uint64_t m = 0;
		const char *s = buf;
		for (; *s && *s != 'e'; s++)
			if (*s >= '0' && *s <= '9')
				m = m * 10 + (uint64_t)(*s - '0');
		int e = atoi(s + 1) - (p - 1);
		if (reads_back(m, e, x)) {
			*mo = m;
			*eo = e;
			return;
		}
		if (strtod(buf, NULL) > x) {
			if (m == pow10u(p - 1)) {
				/* Below 10^k the p-digit grid is ten times finer. */
				m = pow10u(p) - 1;
				e -= 1;
			} else {
				m -= 1;
			}
		} else {
			m += 1;
		}
		if (reads_back(m, e, x)) {
			*mo = m;
			*eo = e;
			return;
		}
	}
	/* Unreachable: 17 significant digits always round-trip. */
	char buf[48];
	snprintf(buf, sizeof(buf), "%.16e", x);
	*mo = 0;
	*eo = 0;
	for (const char *s = buf; *s && *s != 'e'; s++)
		if (*s >= '0' && *s <= '9')
			*mo = *mo * 10 + (uint64_t)(*s - '0');
	*eo = atoi(strchr(buf, 'e') + 1) - 16;
}

size_t kt_json_format_double(double d, char out[32])
{
	const char *special = NULL;
	if (isnan(d))
		special = "NaN";
	else if (isinf(d))
		special = d > 0 ? "Infinity" : "-Infinity";
	else if (d == 0)
		special = signbit(d) ? "-0" : "0";
	if (special) {
		strcpy(out, special);
		return strlen(out);
	}

	size_t n = 0;
	if (d < 0)
		out[n++] = '-';
	double x = fabs(d);
	uint64_t m;
	int e;
	shortest_digits(x, &m, &e);
	while (m % 10 == 0) {
		m /= 10;
		e++;
	}
	char dig[24];
	int k = snprintf(dig, sizeof(dig), "%" PRIu64, m);
	int exp10 = e + k - 1; /* exponent of the leading digit */

	if (x < 1e-6 || x >= 1e21) {
		out[n++] = dig[0];
		if (k > 1) {
			out[n++] = '.';
			memcpy(out + n, dig + 1, (size_t)k - 1);
			n += (size_t)k - 1;
		}
		n += (size_t)snprintf(out + n, 32 - n, "e%c%d", exp10 < 0 ? '-' : '+', abs(exp10));
	} else if (exp10 >= k - 1) {
		memcpy(out + n, dig, (size_t)k);
		n += (size_t)k;
		for (int i = 0; i < exp10 - (k - 1); i++)
			out[n++] = '0';
	} else if (exp10 < 0) {
		out[n++] = '0';
		out[n++] = '.';
		for (int i = 0; i < -exp10 - 1; i++)
			out[n++] = '0';
		memcpy(out + n, dig, (size_t)k);
		n += (size_t)k;
	} else {
		memcpy(out + n, dig, (size_t)exp10 + 1);
		n += (size_t)exp10 + 1;
		out[n++] = '.';
		memcpy(out + n, dig + exp10 + 1, (size_t)(k - exp10 - 1));
		n += (size_t)(k - exp10 - 1);
	}
	out[n] = '\0';
	return n;
}

/* ------------------------------------------------------------------ buffer */

struct jw {
	struct kt_text *t; /* the caller's, reused between documents */
	/* One bit per open object: set once it has a member (comma needed). */
	uint64_t more;
	int depth;
};

static void put(struct jw *w, const void *s, size_t n)
{
	kt_text_put(w->t, s, n);
}

static void putc_(struct jw *w, char c)
{
	put(w, &c, 1);
}

static void puts_(struct jw *w, const char *s)
{
	kt_text_puts(w->t, s);
}

/* Requests built by otlp_build nest about ten levels deep. */
static void obj_start(struct jw *w)
{
	putc_(w, '{');
	if (w->depth >= 63) {
		w->t->oom = true; /* treated like allocation failure */
		return;
	}
	w->depth++;
	w->more &= ~(1ull << w->depth);
}

static void obj_end(struct jw *w)
{
	putc_(w, '}');
	if (w->depth > 0)
		w->depth--;
}

static void field(struct jw *w, const char *name)
{
	if (w->more & (1ull << w->depth))
		putc_(w, ',');
	w->more |= 1ull << w->depth;
	putc_(w, '"');
	puts_(w, name);
	puts_(w, "\":");
}

/*
 * The Collector's escaping: \" \\ \n \r \t, other C0 controls as \u00xx,
 * everything else verbatim. Invalid UTF-8 bytes become \ufffd so every line
 * is valid JSON.
 */
static void put_str(struct jw *w, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	putc_(w, '"');
	if (!n) { /* an empty protobuf-c string may have no data at all */
		putc_(w, '"');
		return;
	}
	size_t i = 0, run = 0;
	while (i < n) {
		unsigned char c = s[i];
		const char *esc = NULL;
		char ubuf[7];
		size_t adv = 1;
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20) {
			memcpy(ubuf, "\\u00", 4);
			ubuf[4] = hex[c >> 4];
			ubuf[5] = hex[c & 0xf];
			ubuf[6] = '\0';
			esc = ubuf;
		} else if (c >= 0x80) {
			adv = kt_utf8_decode(s + i, n - i, NULL);
			if (!adv) {
				esc = "\\ufffd";
				adv = 1;
			}
		}
		if (esc) {
			put(w, s + run, i - run);
			puts_(w, esc);
			i += adv;
			run = i;
		} else {
			i += adv;
		}
	}
	put(w, s + run, n - run);
	putc_(w, '"');
}

static void put_cstr(struct jw *w, const char *s)
{
	put_str(w, (const uint8_t *)s, strlen(s));
}

static void put_u64(struct jw *w, uint64_t v)
{
	char buf[24];
	put(w, buf, (size_t)snprintf(buf, sizeof(buf), "%" PRIu64, v));
}

/* 64-bit integers are JSON strings (protobuf JSON mapping). */
static void put_u64_str(struct jw *w, uint64_t v)
{
	char buf[24];
	put_cstr(w, (snprintf(buf, sizeof(buf), "%" PRIu64, v), buf));
}

static void put_i64_str(struct jw *w, int64_t v)
{
	char buf[24];
	put_cstr(w, (snprintf(buf, sizeof(buf), "%" PRId64, v), buf));
}

static void put_double(struct jw *w, double d)
{
	char buf[32];
	size_t n = kt_json_format_double(d, buf);
	if (isfinite(d))
		put(w, buf, n);
	else
		put_cstr(w, buf);
}

/* Ids are fixed-size arrays in the Collector: all-zero counts as empty. */
static bool id_empty(ProtobufCBinaryData b)
{
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i])
			return false;
	return true;
}

static void id_field(struct jw *w, const char *name, ProtobufCBinaryData b)
{
	static const char hex[] = "0123456789abcdef";
	if (id_empty(b))
		return;
	field(w, name);
	putc_(w, '"');
	for (size_t i = 0; i < b.len; i++) {
		putc_(w, hex[b.data[i] >> 4]);
		putc_(w, hex[b.data[i] & 0xf]);
	}
	putc_(w, '"');
}

static void str_field(struct jw *w, const char *name, ProtobufCBinaryData b)
{
	if (!b.len)
		return;
	field(w, name);
	put_str(w, b.data, b.len);
}

static void u32_field(struct jw *w, const char *name, uint32_t v)
{
	if (!v)
		return;
	field(w, name);
	put_u64(w, v);
}

static void u64_str_field(struct jw *w, const char *name, uint64_t v)
{
	if (!v)
		return;
	field(w, name);
	put_u64_str(w, v);
}

/* ------------------------------------------------------------------ messages */

static void write_attrs(struct jw *w, const char *name, size_t n, pb_kv *const *kvs);

/* "name":[fn(item), ...] for a non-empty list (any item type). */
#define ARRAY_FIELD(w, name, n, items, fn)                                                    \
	do {                                                                                  \
		if (n) {                                                                      \
			field(w, name);                                                       \
			putc_(w, '[');                                                        \
			for (size_t i_ = 0; i_ < (n); i_++) {                                 \
				if (i_)                                                       \
					putc_(w, ',');                                        \
				fn(w, (items)[i_]);                                           \
			}                                                                     \
			putc_(w, ']');                                                        \
		}                                                                             \
	} while (0)

/* Every message that has attributes has this pair of fields. */
#define ATTRIBUTES(w, m)                                                                      \
	do {                                                                                  \
		write_attrs(w, "attributes", (m)->n_attributes, (m)->attributes);             \
		u32_field(w, "droppedAttributesCount", (m)->dropped_attributes_count);        \
	} while (0)

/*
 * The two levels above spans and log records, alike in both requests:
 * {"resource"|"scope":{...},"<name>":[fn(item), ...],"schemaUrl":"..."}.
 */
#define GROUP(w, head_field, head, name, n, items, fn, schema_url)                            \
	do {                                                                                  \
		obj_start(w);                                                                 \
		head_field(w, head);                                                          \
		ARRAY_FIELD(w, name, n, items, fn);                                           \
		str_field(w, "schemaUrl", schema_url);                                        \
		obj_end(w);                                                                   \
	} while (0)

/* A request: {"<name>":[fn(item), ...]} in w. */
#define DOCUMENT(w, name, n, items, fn)                                                       \
	do {                                                                                  \
		obj_start(w);                                                                 \
		ARRAY_FIELD(w, name, n, items, fn);                                           \
		obj_end(w);                                                                   \
	} while (0)

/* Resource and scope: always written, empty when absent (as the Collector does). */
static void resource_field(struct jw *w, const pb_resource *r)
{
	field(w, "resource");
	obj_start(w);
	if (r)
		ATTRIBUTES(w, r);
	obj_end(w);
}

static void scope_field(struct jw *w, const pb_scope *sc)
{
	field(w, "scope");
	obj_start(w);
	if (sc) {
		str_field(w, "name", sc->name);
		str_field(w, "version", sc->version);
		ATTRIBUTES(w, sc);
	}
	obj_end(w);
}

/* A writer of a new document into t. */
static struct jw start(struct kt_text *t)
{
	kt_text_clear(t);
	return (struct jw){ .t = t };
}

/* What an encode function returns: t's memory, handed over; NULL when memory ran out. */
static char *hand_over(struct kt_text *t, bool ok, size_t *len)
{
	if (!ok) {
		kt_text_free(t);
		return NULL;
	}
	if (len)
		*len = t->len;
	return t->p;
}

static void write_any(struct jw *w, const pb_any *v)
{
	obj_start(w);
	if (v) {
		switch (v->value_case) {
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
			field(w, "stringValue");
			put_str(w, v->string_value.data, v->string_value.len);
			break;
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
			field(w, "boolValue");
			puts_(w, v->bool_value ? "true" : "false");
			break;
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
			field(w, "intValue");
			put_i64_str(w, v->int_value);
			break;
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
			field(w, "doubleValue");
			put_double(w, v->double_value);
			break;
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
			if (!v->array_value)
				break;
			field(w, "arrayValue");
			obj_start(w);
			ARRAY_FIELD(w, "values", v->array_value->n_values, v->array_value->values,
				    write_any);
			obj_end(w);
			break;
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
			if (!v->kvlist_value)
				break;
			field(w, "kvlistValue");
			obj_start(w);
			write_attrs(w, "values", v->kvlist_value->n_values, v->kvlist_value->values);
			obj_end(w);
			break;
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE: {
			/* Standard base64, as protobuf JSON maps bytes; a chunk at a time. */
			const uint8_t *p = v->bytes_value.data;
			size_t n = v->bytes_value.len;
			char o[KT_BASE64_ENCODED_LEN(48)];
			field(w, "bytesValue");
			putc_(w, '"');
			for (size_t i = 0; i < n; i += 48)
				put(w, o, kt_base64_encode(p + i, n - i < 48 ? n - i : 48, o));
			putc_(w, '"');
			break;
		}
		default:
			break;
		}
	}
	obj_end(w);
}

static void write_kv(struct jw *w, const pb_kv *kv)
{
	obj_start(w);
	str_field(w, "key", kv->key);
	/* value is not nullable in the Collector's model: always written. */
	field(w, "value");
	write_any(w, kv->value);
	obj_end(w);
}

static void write_attrs(struct jw *w, const char *name, size_t n, pb_kv *const *kvs)
{
	ARRAY_FIELD(w, name, n, kvs, write_kv);
}

static void write_event(struct jw *w, const pb_event *e)
{
	obj_start(w);
	u64_str_field(w, "timeUnixNano", e->time_unix_nano);
	str_field(w, "name", e->name);
	ATTRIBUTES(w, e);
	obj_end(w);
}

static void write_link(struct jw *w, const pb_link *l)
{
	obj_start(w);
	id_field(w, "traceId", l->trace_id);
	id_field(w, "spanId", l->span_id);
	str_field(w, "traceState", l->trace_state);
	ATTRIBUTES(w, l);
	u32_field(w, "flags", l->flags);
	obj_end(w);
}

static void write_span(struct jw *w, const pb_span *s)
{
	obj_start(w);
	id_field(w, "traceId", s->trace_id);
	id_field(w, "spanId", s->span_id);
	str_field(w, "traceState", s->trace_state);
	id_field(w, "parentSpanId", s->parent_span_id);
	u32_field(w, "flags", s->flags);
	str_field(w, "name", s->name);
	u32_field(w, "kind", (uint32_t)s->kind);
	u64_str_field(w, "startTimeUnixNano", s->start_time_unix_nano);
	u64_str_field(w, "endTimeUnixNano", s->end_time_unix_nano);
	ATTRIBUTES(w, s);
	ARRAY_FIELD(w, "events", s->n_events, s->events, write_event);
	u32_field(w, "droppedEventsCount", s->dropped_events_count);
	ARRAY_FIELD(w, "links", s->n_links, s->links, write_link);
	u32_field(w, "droppedLinksCount", s->dropped_links_count);
	/* Status is not nullable in the Collector's model: always written. */
	field(w, "status");
	obj_start(w);
	if (s->status) {
		str_field(w, "message", s->status->message);
		u32_field(w, "code", (uint32_t)s->status->code);
	}
	obj_end(w);
	obj_end(w);
}

static void write_scope_spans(struct jw *w, const pb_scope_spans *ss)
{
	GROUP(w, scope_field, ss->scope, "spans", ss->n_spans, ss->spans, write_span,
	      ss->schema_url);
}

static void write_resource_spans(struct jw *w, const pb_resource_spans *rs)
{
	GROUP(w, resource_field, rs->resource, "scopeSpans", rs->n_scope_spans, rs->scope_spans,
	      write_scope_spans, rs->schema_url);
}

bool kt_otlp_json_write(const kt_otlp_request *req, struct kt_text *out)
{
	struct jw w = start(out);
	DOCUMENT(&w, "resourceSpans", req->n_resource_spans, req->resource_spans,
		 write_resource_spans);
	return !out->oom;
}

char *kt_otlp_json_encode(const kt_otlp_request *req, size_t *len)
{
	struct kt_text t = { 0 };
	return hand_over(&t, kt_otlp_json_write(req, &t), len);
}

/* ------------------------------------------------------------------ logs */

static void write_log_record(struct jw *w, const Opentelemetry__Proto__Logs__V1__LogRecord *l)
{
	obj_start(w);
	u64_str_field(w, "timeUnixNano", l->time_unix_nano);
	u64_str_field(w, "observedTimeUnixNano", l->observed_time_unix_nano);
	u32_field(w, "severityNumber", (uint32_t)l->severity_number);
	str_field(w, "severityText", l->severity_text);
	str_field(w, "eventName", l->event_name);
	if (l->body) {
		field(w, "body");
		write_any(w, l->body);
	}
	ATTRIBUTES(w, l);
	u32_field(w, "flags", l->flags);
	id_field(w, "traceId", l->trace_id);
	id_field(w, "spanId", l->span_id);
	obj_end(w);
}

static void write_scope_logs(struct jw *w, const Opentelemetry__Proto__Logs__V1__ScopeLogs *sl)
{
	GROUP(w, scope_field, sl->scope, "logRecords", sl->n_log_records, sl->log_records,
	      write_log_record, sl->schema_url);
}

static void write_resource_logs(struct jw *w,
				const Opentelemetry__Proto__Logs__V1__ResourceLogs *rl)
{
	GROUP(w, resource_field, rl->resource, "scopeLogs", rl->n_scope_logs, rl->scope_logs,
	      write_scope_logs, rl->schema_url);
}

bool kt_otlp_logs_json_write(const kt_otlp_logs_request *req, struct kt_text *out)
{
	struct jw w = start(out);
	DOCUMENT(&w, "resourceLogs", req->n_resource_logs, req->resource_logs, write_resource_logs);
	return !out->oom;
}

char *kt_otlp_logs_json_encode(const kt_otlp_logs_request *req, size_t *len)
{
	struct kt_text t = { 0 };
	return hand_over(&t, kt_otlp_logs_json_write(req, &t), len);
}

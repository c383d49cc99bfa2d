/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Console exporter: one line per span, for people watching a terminal.
 *
 *   2023-11-14T22:13:20.000005Z sandbox=<id|-> trace=<hex> span=<hex>
 *   parent=<hex|-> "CreateContainer" 250.0ms internal unset mod="rpc.rs" ...
 *
 * and one per log record (Kata 1.x journal):
 *
 *   2023-11-14T22:13:20.000000Z sandbox=<id|-> log warning kata-agent[42]: text
 *
 * Everything taken from a span is untrusted: control characters, C1 codes,
 * line/paragraph separators, bidi overrides and invalid UTF-8 are escaped so
 * that a span cannot forge lines or drive the terminal.
 */
#include "exporters/exporter.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exporters/otlp_types.h"
#include "base/text_buf.h"
#include "base/utf8.h"

#define MAX_ATTRS 4	   /* attributes shown per span */
#define MAX_VALUE_CHARS 48 /* characters of one value before "…" */
#define MAX_NAME_CHARS 96
#define MAX_ID_CHARS 64
#define MAX_MESSAGE_CHARS 2048 /* characters of a log message before "…" */

struct console {
	struct kt_exporter base;
	FILE *out;
	struct kt_text lines; /* a batch's lines, their memory kept between batches */
};

static void putf(struct kt_text *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct kt_text *l, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		kt_text_put(l, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Code points that could move the cursor, end the line or reorder text. */
static bool cp_unsafe(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 ||
	       cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0x200e || cp == 0x200f || cp == 0x061c || cp == 0xfeff;
}

/*
 * Appends s escaped (backslash, and quote when quoted), keeping at most
 * max_chars characters and marking the cut with "…".
 */
static void put_text(struct kt_text *l, const uint8_t *s, size_t n, size_t max_chars, bool quoted)
{
	size_t chars = 0;
	if (quoted)
		kt_text_put(l, "\"", 1);
	for (size_t i = 0; i < n;) {
		if (chars == max_chars) {
			kt_text_puts(l, "…");
			break;
		}
		uint32_t cp;
		size_t adv = kt_utf8_decode(s + i, n - i, &cp);
		if (!adv) {
			putf(l, "\\x%02x", s[i]);
			i++;
		} else if (cp == '\\' || (quoted && cp == '"')) {
			kt_text_put(l, "\\", 1);
			kt_text_put(l, s + i, 1);
			i++;
		} else if (cp == '\n') {
			kt_text_puts(l, "\\n");
			i++;
		} else if (cp == '\t') {
			kt_text_puts(l, "\\t");
			i++;
		} else if (cp == '\r') {
			kt_text_puts(l, "\\r");
			i++;
		} else if (cp_unsafe(cp)) {
			if (cp < 0x100)
				putf(l, "\\x%02x", (unsigned)cp);
			else
				putf(l, "\\u%04x", (unsigned)cp);
			i += adv;
		} else {
			kt_text_put(l, s + i, adv);
			i += adv;
		}
		chars++;
	}
	if (quoted)
		kt_text_put(l, "\"", 1);
}

static void put_hex(struct kt_text *l, ProtobufCBinaryData b)
{
	if (!b.len) {
		kt_text_put(l, "-", 1);
		return;
	}
	for (size_t i = 0; i < b.len; i++)
		putf(l, "%02x", b.data[i]);
}

/* Go-style durations: 512ns, 12.3µs, 250.0ms, 1.234s, 2m3.500s. */
static void put_duration(struct kt_text *l, uint64_t start, uint64_t end)
{
	if (end < start) {
		kt_text_put(l, "?", 1);
		return;
	}
	uint64_t d = end - start;
	if (d < 1000)
		putf(l, "%" PRIu64 "ns", d);
	else if (d < 1000000)
		putf(l, "%.1fµs", (double)d / 1e3);
	else if (d < 1000000000)
		putf(l, "%.1fms", (double)d / 1e6);
	else if (d < UINT64_C(60000000000))
		putf(l, "%.3fs", (double)d / 1e9);
	else
		putf(l, "%" PRIu64 "m%.3fs", d / UINT64_C(60000000000),
		     (double)(d % UINT64_C(60000000000)) / 1e9);
}

static void put_time(struct kt_text *l, uint64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000u);
	struct tm tm;
	if (!gmtime_r(&secs, &tm)) {
		putf(l, "%" PRIu64, ns);
		return;
	}
	putf(l, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1,
	     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ns % 1000000000u / 1000u));
}

static const char *kind_name(int k)
{
	static const char *const names[] = { "unspecified", "internal", "server",
					     "client",	    "producer", "consumer" };
	return k >= 0 && k < 6 ? names[k] : "?";
}

static void put_value(struct kt_text *l, const pb_any *v, size_t budget);

static void put_scalar(struct kt_text *l, const pb_any *v, size_t budget)
{
	switch (v->value_case) {
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
		put_text(l, v->string_value.data, v->string_value.len, budget, true);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
		kt_text_puts(l, v->bool_value ? "true" : "false");
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
		putf(l, "%" PRId64, v->int_value);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
		putf(l, "%g", v->double_value);
		break;
	default:
		kt_text_put(l, "?", 1);
		break;
	}
}

static void put_value(struct kt_text *l, const pb_any *v, size_t budget)
{
	if (!v) {
		kt_text_put(l, "?", 1);
		return;
	}
	if (v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE) {
		put_scalar(l, v, budget);
		return;
	}
	const Opentelemetry__Proto__Common__V1__ArrayValue *a = v->array_value;
	size_t n = a ? a->n_values : 0;
	kt_text_put(l, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i == 4) {
			kt_text_puts(l, ",…");
			break;
		}
		if (i)
			kt_text_put(l, ",", 1);
		put_scalar(l, a->values[i], budget / 4);
	}
	kt_text_put(l, "]", 1);
}

/* Bookkeeping attributes from tracing-opentelemetry; rarely what one wants. */
static bool attr_is_noise(ProtobufCBinaryData key)
{
	static const char *const prefixes[] = { "code.", "thread." };
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);
		if (key.len >= n && memcmp(key.data, prefixes[i], n) == 0)
			return true;
	}
	return false;
}

/* The value of the attribute key among kvs; NULL when there is none. */
static const pb_any *find_attr(size_t n_kvs, pb_kv *const *kvs, const char *key)
{
	size_t n = strlen(key);
	for (size_t i = 0; i < n_kvs; i++) {
		const pb_kv *kv = kvs[i];
		if (kv->key.len == n && memcmp(kv->key.data, key, n) == 0)
			return kv->value;
	}
	return NULL;
}

static const pb_any *sandbox_id(const pb_resource *r)
{
	return r ? find_attr(r->n_attributes, r->attributes, "katatrace.sandbox.id") : NULL;
}

static bool is_string(const pb_any *v)
{
	return v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE &&
	       v->string_value.len;
}

/* A name or id: the string, "-" when v is absent, empty or not a string. */
static void put_id(struct kt_text *l, const pb_any *v)
{
	if (is_string(v))
		put_text(l, v->string_value.data, v->string_value.len, MAX_ID_CHARS, false);
	else
		kt_text_put(l, "-", 1);
}

/* What every line starts with: "<time> sandbox=<id|->". */
static void put_head(struct kt_text *l, uint64_t ns, const pb_any *sandbox)
{
	put_time(l, ns);
	kt_text_puts(l, " sandbox=");
	put_id(l, sandbox);
}

static void format_span(struct kt_text *l, const pb_span *s, const pb_any *sandbox)
{
	put_head(l, s->start_time_unix_nano, sandbox);
	kt_text_puts(l, " trace=");
	put_hex(l, s->trace_id);
	kt_text_puts(l, " span=");
	put_hex(l, s->span_id);
	kt_text_puts(l, " parent=");
	put_hex(l, s->parent_span_id);
	kt_text_put(l, " ", 1);
	put_text(l, s->name.data, s->name.len, MAX_NAME_CHARS, true);
	kt_text_put(l, " ", 1);
	put_duration(l, s->start_time_unix_nano, s->end_time_unix_nano);
	kt_text_put(l, " ", 1);
	kt_text_puts(l, kind_name((int)s->kind));
	kt_text_put(l, " ", 1);
	int code = s->status ? (int)s->status->code : 0;
	kt_text_puts(l, code == 1 ? "ok" : code == 2 ? "error" : "unset");
	if (s->status && s->status->message.len) {
		kt_text_put(l, ":", 1);
		put_text(l, s->status->message.data, s->status->message.len, MAX_VALUE_CHARS,
			 true);
	}
	size_t shown = 0, skipped = 0;
	for (size_t i = 0; i < s->n_attributes; i++) {
		const pb_kv *kv = s->attributes[i];
		if (shown == MAX_ATTRS || attr_is_noise(kv->key)) {
			skipped++;
			continue;
		}
		kt_text_put(l, " ", 1);
		put_text(l, kv->key.data, kv->key.len, 32, false);
		kt_text_put(l, "=", 1);
		put_value(l, kv->value, MAX_VALUE_CHARS);
		shown++;
	}
	if (skipped)
		putf(l, " (+%zu attrs)", skipped);
	if (s->n_events)
		putf(l, " events=%zu", s->n_events);
	if (s->n_links)
		putf(l, " links=%zu", s->n_links);
	kt_text_put(l, "\n", 1);
}

/* One write for the whole batch (c->lines) keeps lines whole. */
static enum kt_export_result write_lines(struct console *c)
{
	const struct kt_text *l = &c->lines;
	if (l->oom) {
		kt_export_note_status("out_of_memory");
		return KT_EXPORT_RETRY;
	}
	if (l->len && fwrite(l->p, 1, l->len, c->out) != l->len) {
		clearerr(c->out);
		kt_export_note_status("write");
		return KT_EXPORT_FAIL;
	}
	return KT_EXPORT_OK;
}

/*
 * format(l, record, sandbox) for every record of req, in order: spans and log
 * records nest alike (groups of scopes of records, each repeated field with
 * its count in n_<field>), and sandbox is the group's resource's sandbox id.
 */
#define FORMAT_RECORDS(l, req, groups, scopes, records, format)                               \
	for (size_t g_ = 0; g_ < (req)->n_##groups; g_++) {                                   \
		const pb_any *sandbox_ = sandbox_id((req)->groups[g_]->resource);             \
		for (size_t s_ = 0; s_ < (req)->groups[g_]->n_##scopes; s_++) {               \
			size_t n_ = (req)->groups[g_]->scopes[s_]->n_##records;               \
			for (size_t r_ = 0; r_ < n_; r_++)                                    \
				format(l, (req)->groups[g_]->scopes[s_]->records[r_], sandbox_); \
		}                                                                             \
	}

static enum kt_export_result console_export(struct kt_exporter *e, const kt_otlp_request *req,
					    size_t n_spans)
{
	(void)n_spans;
	struct console *c = (struct console *)e;
	kt_text_clear(&c->lines);
	FORMAT_RECORDS(&c->lines, req, resource_spans, scope_spans, spans, format_span);
	return write_lines(c);
}

/* ------------------------------------------------------------------ logs */

static void format_log(struct kt_text *l, const Opentelemetry__Proto__Logs__V1__LogRecord *r,
		       const pb_any *sandbox)
{
	/* No time in the record (RFC 5424 "-", no header): when it was seen. */
	put_head(l, r->time_unix_nano ? r->time_unix_nano : r->observed_time_unix_nano, sandbox);
	kt_text_puts(l, " log ");
	if (r->severity_text.len)
		put_text(l, r->severity_text.data, r->severity_text.len, 16, false);
	else
		putf(l, "severity%d", (int)r->severity_number);
	kt_text_put(l, " ", 1);
	put_id(l, find_attr(r->n_attributes, r->attributes, "syslog.appname"));
	const pb_any *pid = find_attr(r->n_attributes, r->attributes, "syslog.procid");
	if (is_string(pid)) {
		kt_text_put(l, "[", 1);
		put_text(l, pid->string_value.data, pid->string_value.len, 16, false);
		kt_text_put(l, "]", 1);
	}
	kt_text_put(l, ":", 1);
	const pb_any *body = r->body;
	if (is_string(body)) {
		kt_text_put(l, " ", 1);
		put_text(l, body->string_value.data, body->string_value.len, MAX_MESSAGE_CHARS,
			 false);
	}
	if (find_attr(r->n_attributes, r->attributes, "katatrace.log.truncated"))
		kt_text_puts(l, " (truncated)");
	kt_text_put(l, "\n", 1);
}

static enum kt_export_result console_export_logs(struct kt_exporter *e,
						 const kt_otlp_logs_request *req, size_t n_logs)
{
	(void)n_logs;
	struct console *c = (struct console *)e;
	kt_text_clear(&c->lines);
	FORMAT_RECORDS(&c->lines, req, resource_logs, scope_logs, log_records, format_log);
	return write_lines(c);
}

static void console_flush(struct kt_exporter *e)
{
	fflush(((struct console *)e)->out);
}

static void console_destroy(struct kt_exporter *e)
{
	if (e) {
		console_flush(e);
		kt_text_free(&((struct console *)e)->lines);
		free(e);
	}
}

struct kt_exporter *kt_exporter_console_new(FILE *out)
{
	struct console *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base.name = "console";
	c->base.export = console_export;
	c->base.export_logs = console_export_logs;
	c->base.flush = console_flush;
	c->base.destroy = console_destroy;
	c->out = out ? out : stdout;
	return &c->base;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "expect_span.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const kt_test_labels[] = {
	"worked",	   "root",	     "child",
	"values",	   "events",	     "links",
	"error",	   "status_ok",	     "unicode",
	"tracestate_none", "tracestate_set", "tracestate_empty",
	"kind_client",	   "kind_server",    "kind_producer",
	"kind_consumer",   "kind_internal",  "bigids",
	"f64_nonfinite",
};
const size_t kt_test_n_labels = sizeof(kt_test_labels) / sizeof(kt_test_labels[0]);

uint8_t *kt_test_read_vector(const char *name, size_t *n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", KT_TEST_VECTORS, name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	cr_assert(len >= 0, "cannot size %s", path);
	uint8_t *buf = malloc((size_t)len + 1);
	cr_assert_not_null(buf);
	size_t got = fread(buf, 1, (size_t)len, f);
	fclose(f);
	cr_assert_eq(got, (size_t)len, "short read on %s", path);
	buf[len] = 0; /* text files can be used as strings */
	*n = (size_t)len;
	return buf;
}

uint8_t *kt_test_read_vectorf(size_t *n, const char *fmt, ...)
{
	char name[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	return kt_test_read_vector(name, n);
}

/* ------------------------------------------------------------ comparison */

/* Field path for messages (vsnprintf: long paths are simply cut). */
static void at(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void at(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

struct ex {
	const char *label;
	enum kt_era era;
	bool report; /* cr_expect each mismatch, or only count them */
	size_t mismatches;
};

static void bad(const struct ex *x, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bad(const struct ex *cx, const char *where, const char *fmt, ...)
{
	struct ex *x = (struct ex *)cx;
	x->mismatches++;
	if (!x->report)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cr_expect(0, "[%s, %s] %s: %s", x->label, x->era == KT_ERA_JSON ? "json" : "bincode", where,
		  msg);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v;
	cr_assert(json_object_object_get_ex(o, key, &v), "expected file lacks \"%s\"", key);
	return v;
}

static void cmp_str(const struct ex *x, const char *where, struct kt_str got,
		    struct json_object *exp)
{
	cr_assert(json_object_is_type(exp, json_type_string), "%s: expected file: not a string",
		  where);
	const char *e = json_object_get_string(exp);
	size_t elen = (size_t)json_object_get_string_len(exp);
	if (!got.ptr) {
		bad(x, where, "string pointer is NULL");
		return;
	}
	if (got.len != elen || memcmp(got.ptr, e, elen) != 0)
		bad(x, where, "got \"%.*s\" (%zu bytes), want \"%s\" (%zu bytes)", (int)got.len,
		    got.ptr, got.len, e, elen);
	else if (got.ptr[got.len] != '\0')
		bad(x, where, "string not NUL-terminated");
}

static void cmp_u64(const struct ex *x, const char *where, uint64_t got, struct json_object *exp)
{
	uint64_t want = json_object_get_uint64(exp);
	if (got != want)
		bad(x, where, "got %" PRIu64 ", want %" PRIu64, got, want);
}

static void cmp_hex(const struct ex *x, const char *where, const char *got, struct json_object *exp)
{
	if (strcmp(got, json_object_get_string(exp)) != 0)
		bad(x, where, "got %s, want %s", got, json_object_get_string(exp));
}

static void cmp_bool(const struct ex *x, const char *where, bool got, struct json_object *exp)
{
	if (got != (bool)json_object_get_boolean(exp))
		bad(x, where, "got %d, want %d", got, json_object_get_boolean(exp));
}

static uint64_t bits_of(double f)
{
	uint64_t b;
	memcpy(&b, &f, sizeof(b));
	return b;
}

/* exp: a number or "NaN" / "+Inf" / "-Inf"; bits: hex string or NULL. */
static void cmp_f64(const struct ex *x, const char *where, double got, struct json_object *exp,
		    struct json_object *bits)
{
	if (json_object_is_type(exp, json_type_string)) {
		const char *kind = json_object_get_string(exp);
		if (x->era == KT_ERA_JSON) {
			/* serde_json wrote null: every non-finite value comes back as NaN. */
			if (!isnan(got))
				bad(x, where, "got %g, want NaN (JSON null for %s)", got, kind);
			return;
		}
		if (!bits) {
			bool ok = strcmp(kind, "NaN") == 0    ? isnan(got)
				  : strcmp(kind, "+Inf") == 0 ? got == INFINITY
							      : got == -INFINITY;
			if (!ok)
				bad(x, where, "got %g, want %s", got, kind);
			return;
		}
	}
	if (bits) {
		uint64_t want = strtoull(json_object_get_string(bits), NULL, 16);
		if (bits_of(got) != want)
			bad(x, where, "got bits %016" PRIx64 ", want %016" PRIx64, bits_of(got),
			    want);
		return;
	}
	double want = json_object_get_double(exp);
	if (bits_of(got) != bits_of(want))
		bad(x, where, "got %.17g, want %.17g", got, want);
}

static const char *const value_types[] = {
	[KT_VAL_BOOL] = "bool",
	[KT_VAL_I64] = "i64",
	[KT_VAL_F64] = "f64",
	[KT_VAL_STRING] = "string",
	[KT_VAL_ARRAY_BOOL] = "array_bool",
	[KT_VAL_ARRAY_I64] = "array_i64",
	[KT_VAL_ARRAY_F64] = "array_f64",
	[KT_VAL_ARRAY_STRING] = "array_string",
};

static void cmp_value(const struct ex *x, const char *where, const struct kt_value *v,
		      struct json_object *exp)
{
	const char *type = json_object_get_string(get(exp, "type"));
	struct json_object *val = get(exp, "value"), *bits = NULL;
	json_object_object_get_ex(exp, "bits", &bits);
	if ((unsigned)v->type >= sizeof(value_types) / sizeof(value_types[0]) ||
	    strcmp(value_types[v->type], type) != 0) {
		bad(x, where, "type %d, want %s", (int)v->type, type);
		return;
	}
	char w[256];
	switch (v->type) {
	case KT_VAL_BOOL:
		cmp_bool(x, where, v->b, val);
		return;
	case KT_VAL_I64:
		if (v->i != json_object_get_int64(val))
			bad(x, where, "got %" PRId64 ", want %" PRId64, v->i,
			    json_object_get_int64(val));
		return;
	case KT_VAL_F64:
		cmp_f64(x, where, v->f, val, bits);
		return;
	case KT_VAL_STRING:
		cmp_str(x, where, v->s, val);
		return;
	default:
		break;
	}
	size_t n = json_object_array_length(val);
	if (v->arr.n != n) {
		bad(x, where, "array of %zu, want %zu", v->arr.n, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(val, i);
		at(w, sizeof(w), "%s[%zu]", where, i);
		switch (v->type) {
		case KT_VAL_ARRAY_BOOL:
			cmp_bool(x, w, v->arr.b[i], e);
			break;
		case KT_VAL_ARRAY_I64:
			if (v->arr.i[i] != json_object_get_int64(e))
				bad(x, w, "got %" PRId64 ", want %" PRId64, v->arr.i[i],
				    json_object_get_int64(e));
			break;
		case KT_VAL_ARRAY_F64:
			cmp_f64(x, w, v->arr.f[i], e, NULL);
			break;
		default:
			cmp_str(x, w, v->arr.s[i], e);
			break;
		}
	}
}

static void cmp_kvs(const struct ex *x, const char *where, const struct kt_kvlist *l,
		    struct json_object *exp)
{
	size_t n = json_object_array_length(exp);
	if (l->n != n) {
		bad(x, where, "%zu attributes, want %zu", l->n, n);
		return;
	}
	if (n)
		cr_assert_not_null(l->kv, "%s: no array", where);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(exp, i);
		char w[256];
		at(w, sizeof(w), "%s[%zu].key", where, i);
		cmp_str(x, w, l->kv[i].key, get(e, "key"));
		at(w, sizeof(w), "%s[%zu](%s)", where, i, json_object_get_string(get(e, "key")));
		cmp_value(x, w, &l->kv[i].value, get(e, "value"));
	}
}

static void cmp_ctx(const struct ex *x, const char *where, const struct kt_span_context *c,
		    struct json_object *exp)
{
	char w[256], hex[33];
	kt_trace_id_hex(&c->trace_id, hex);
	at(w, sizeof(w), "%s.trace_id", where);
	cmp_hex(x, w, hex, get(exp, "trace_id"));
	kt_span_id_hex(c->span_id, hex);
	at(w, sizeof(w), "%s.span_id", where);
	cmp_hex(x, w, hex, get(exp, "span_id"));
	at(w, sizeof(w), "%s.trace_flags", where);
	cmp_u64(x, w, c->trace_flags, get(exp, "trace_flags"));
	at(w, sizeof(w), "%s.is_remote", where);
	cmp_bool(x, w, c->is_remote, get(exp, "is_remote"));

	struct json_object *ts = get(exp, "trace_state");
	at(w, sizeof(w), "%s.trace_state", where);
	if (!ts) {
		if (c->trace_state_present)
			bad(x, w, "present (%zu entries), want None", c->trace_state_n);
		return;
	}
	size_t n = json_object_array_length(ts);
	if (!c->trace_state_present || c->trace_state_n != n) {
		bad(x, w, "present=%d with %zu entries, want Some with %zu", c->trace_state_present,
		    c->trace_state_n, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *pair = json_object_array_get_idx(ts, i);
		at(w, sizeof(w), "%s.trace_state[%zu].key", where, i);
		cmp_str(x, w, c->trace_state[i].key, json_object_array_get_idx(pair, 0));
		at(w, sizeof(w), "%s.trace_state[%zu].value", where, i);
		cmp_str(x, w, c->trace_state[i].value, json_object_array_get_idx(pair, 1));
	}
}

static void cmp_event(const struct ex *x, const char *where, const struct kt_event *e,
		      struct json_object *exp)
{
	char w[256];
	at(w, sizeof(w), "%s.name", where);
	cmp_str(x, w, e->name, get(exp, "name"));
	at(w, sizeof(w), "%s.time_unix_nano", where);
	cmp_u64(x, w, e->time_unix_nano, get(exp, "time_unix_nano"));
	at(w, sizeof(w), "%s.attributes", where);
	cmp_kvs(x, w, &e->attrs, get(exp, "attributes"));
	at(w, sizeof(w), "%s.dropped_attributes_count", where);
	cmp_u64(x, w, e->dropped_attributes_count, get(exp, "dropped_attributes_count"));
}

static void cmp_link(const struct ex *x, const char *where, const struct kt_link *l,
		     struct json_object *exp)
{
	char w[256];
	at(w, sizeof(w), "%s.span_context", where);
	cmp_ctx(x, w, &l->ctx, get(exp, "span_context"));
	at(w, sizeof(w), "%s.attributes", where);
	cmp_kvs(x, w, &l->attrs, get(exp, "attributes"));
	at(w, sizeof(w), "%s.dropped_attributes_count", where);
	cmp_u64(x, w, l->dropped_attributes_count, get(exp, "dropped_attributes_count"));
}

/* events / links: null (queue None) or a list. */
static bool cmp_presence(const struct ex *x, const char *where, bool present, size_t n,
			 struct json_object *exp)
{
	if (!exp) {
		if (present)
			bad(x, where, "present (%zu), want None", n);
		return false;
	}
	size_t want = json_object_array_length(exp);
	if (!present || n != want) {
		bad(x, where, "present=%d with %zu, want Some with %zu", present, n, want);
		return false;
	}
	return true;
}

static size_t compare(const struct kt_span *s, const char *label, enum kt_era era, bool report)
{
	static const char *const kinds[] = {"Client", "Server", "Producer", "Consumer", "Internal"};
	static const char *const codes[] = {"Unset", "Ok", "Error"};
	const struct ex x = {.label = label, .era = era, .report = report};
	char name[128], hex[17];
	snprintf(name, sizeof(name), "%s/expected_%s.json", KT_TEST_VECTORS, label);
	struct json_object *exp = json_object_from_file(name);
	cr_assert_not_null(exp, "cannot read %s", name);

	cmp_ctx(&x, "span_context", &s->ctx, get(exp, "span_context"));
	kt_span_id_hex(s->parent_span_id, hex);
	cmp_hex(&x, "parent_span_id", hex, get(exp, "parent_span_id"));
	if ((unsigned)s->kind > KT_KIND_INTERNAL ||
	    strcmp(kinds[s->kind], json_object_get_string(get(exp, "span_kind"))) != 0)
		bad(&x, "span_kind", "got %d, want %s", (int)s->kind,
		    json_object_get_string(get(exp, "span_kind")));
	cmp_str(&x, "name", s->name, get(exp, "name"));
	cmp_u64(&x, "start_time", s->start_unix_nano, get(exp, "start_time_unix_nano"));
	cmp_u64(&x, "end_time", s->end_unix_nano, get(exp, "end_time_unix_nano"));

	cmp_kvs(&x, "attributes", &s->attrs, get(exp, "attributes"));
	cmp_u64(&x, "attributes.max_len", s->attrs_max_len, get(exp, "attributes_max_len"));
	cmp_u64(&x, "attributes.dropped_count", s->attrs_dropped,
		get(exp, "attributes_dropped_count"));

	struct json_object *evs = get(exp, "events");
	if (cmp_presence(&x, "events", s->events_present, s->n_events, evs)) {
		for (size_t i = 0; i < s->n_events; i++) {
			char w[64];
			at(w, sizeof(w), "events[%zu]", i);
			cmp_event(&x, w, &s->events[i], json_object_array_get_idx(evs, i));
		}
	}
	cmp_u64(&x, "events.max_len", s->events_max_len, get(exp, "events_max_len"));
	cmp_u64(&x, "events.dropped_count", s->events_dropped, get(exp, "events_dropped_count"));

	struct json_object *lns = get(exp, "links");
	if (cmp_presence(&x, "links", s->links_present, s->n_links, lns)) {
		for (size_t i = 0; i < s->n_links; i++) {
			char w[64];
			at(w, sizeof(w), "links[%zu]", i);
			cmp_link(&x, w, &s->links[i], json_object_array_get_idx(lns, i));
		}
	}
	cmp_u64(&x, "links.max_len", s->links_max_len, get(exp, "links_max_len"));
	cmp_u64(&x, "links.dropped_count", s->links_dropped, get(exp, "links_dropped_count"));

	if ((unsigned)s->status_code > KT_STATUS_ERROR ||
	    strcmp(codes[s->status_code], json_object_get_string(get(exp, "status_code"))) != 0)
		bad(&x, "status_code", "got %d, want %s", (int)s->status_code,
		    json_object_get_string(get(exp, "status_code")));
	cmp_str(&x, "status_message", s->status_message, get(exp, "status_message"));

	struct json_object *res = get(exp, "resource");
	if (!res) {
		if (s->resource_present)
			bad(&x, "resource", "present (%zu attrs), want None", s->resource.n);
	} else if (!s->resource_present) {
		bad(&x, "resource", "None, want Some");
	} else {
		cmp_kvs(&x, "resource", &s->resource, res);
	}
	json_object_put(exp);
	return x.mismatches;
}

void kt_expect_span(const struct kt_span *s, const char *label, enum kt_era era)
{
	compare(s, label, era, true);
}

size_t kt_span_mismatches(const struct kt_span *s, const char *label, enum kt_era era)
{
	return compare(s, label, era, false);
}

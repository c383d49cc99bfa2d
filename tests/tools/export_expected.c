/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Feeds the decoder-neutral expected spans of a check.js manifest through
 * kt_otlp_build and the real exporters, so that tests/receiver can check the
 * OTLP side end to end without a capture:
 *
 *   export_expected --manifest M.json [--http URL] [--http-json URL]
 *                   [--file PATH|-] [--console] [--batch N]
 *
 * Items become span records exactly as a decoder would fill them (JSON era:
 * non-finite doubles are NaN), with one origin per item carrying the item's
 * "origin" attributes. --http posts protobuf (http/protobuf), --http-json
 * OTLP/JSON (http/json). Records are exported in manifest order, N per
 * request (default: all in one). Exits 1 if any export is not OK.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "exporters/exporter.h"
#include "base/diag.h"
#include "exporters/otlp_build.h"
#include "model/span_record.h"

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "export_expected: %s: %s\n", what, msg);
	exit(2);
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

/* A JSON null comes back as NULL, which json-c treats as json_type_null. */
static json_object *need(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		die(key, "missing");
	return v;
}

static struct kt_str str_of(struct kt_arena *a, json_object *v)
{
	if (!json_object_is_type(v, json_type_string))
		die("value", "string expected");
	size_t n = (size_t)json_object_get_string_len(v);
	char *p = kt_arena_memdup0(a, json_object_get_string(v), n);
	if (!p)
		die("arena", "out of memory");
	return (struct kt_str){ .ptr = p, .len = n };
}

static uint64_t hex64(const char *s, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			die("id", s);
		v = v << 4 | (uint64_t)d;
	}
	return v;
}

static uint64_t span_id(json_object *v)
{
	const char *s = json_object_get_string(v);
	if (!s || strlen(s) != 16)
		die("span id", s ? s : "null");
	return hex64(s, 16);
}

static struct kt_trace_id trace_id(json_object *v)
{
	const char *s = json_object_get_string(v);
	if (!s || strlen(s) != 32)
		die("trace id", s ? s : "null");
	return (struct kt_trace_id){ .hi = hex64(s, 16), .lo = hex64(s + 16, 16) };
}

static double dbl(json_object *v, bool json_era)
{
	double d;
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		if (strcmp(s, "NaN") == 0)
			d = NAN;
		else if (strcmp(s, "+Inf") == 0)
			d = INFINITY;
		else if (strcmp(s, "-Inf") == 0)
			d = -INFINITY;
		else
			die("f64", s);
	} else {
		/* json-c parses with strtod: the nearest double, as the agent wrote it. */
		d = json_object_get_double(v);
	}
	return json_era && !isfinite(d) ? NAN : d;
}

static struct kt_value value_of(struct kt_arena *a, json_object *tv, bool json_era)
{
	const char *type = json_object_get_string(need(tv, "type"));
	json_object *v = need(tv, "value");
	struct kt_value out = { 0 };
	if (strcmp(type, "bool") == 0) {
		out.type = KT_VAL_BOOL;
		out.b = json_object_get_boolean(v);
	} else if (strcmp(type, "i64") == 0) {
		out.type = KT_VAL_I64;
		out.i = json_object_get_int64(v);
	} else if (strcmp(type, "f64") == 0) {
		out.type = KT_VAL_F64;
		json_object *bits = get(tv, "bits");
		if (bits) {
			uint64_t b = hex64(json_object_get_string(bits), 16);
			memcpy(&out.f, &b, sizeof(b));
			if (json_era && !isfinite(out.f))
				out.f = NAN;
		} else {
			out.f = dbl(v, json_era);
		}
	} else if (strcmp(type, "string") == 0) {
		out.type = KT_VAL_STRING;
		out.s = str_of(a, v);
	} else if (strncmp(type, "array_", 6) == 0) {
		size_t n = json_object_array_length(v);
		out.arr.n = n;
		if (strcmp(type, "array_bool") == 0) {
			out.type = KT_VAL_ARRAY_BOOL;
			out.arr.b = kt_arena_calloc(a, n + 1, sizeof(bool));
			for (size_t i = 0; i < n; i++)
				out.arr.b[i] = json_object_get_boolean(json_object_array_get_idx(v, i));
		} else if (strcmp(type, "array_i64") == 0) {
			out.type = KT_VAL_ARRAY_I64;
			out.arr.i = kt_arena_calloc(a, n + 1, sizeof(int64_t));
			for (size_t i = 0; i < n; i++)
				out.arr.i[i] = json_object_get_int64(json_object_array_get_idx(v, i));
		} else if (strcmp(type, "array_f64") == 0) {
			out.type = KT_VAL_ARRAY_F64;
			out.arr.f = kt_arena_calloc(a, n + 1, sizeof(double));
			for (size_t i = 0; i < n; i++)
				out.arr.f[i] = dbl(json_object_array_get_idx(v, i), json_era);
		} else if (strcmp(type, "array_string") == 0) {
			out.type = KT_VAL_ARRAY_STRING;
			out.arr.s = kt_arena_calloc(a, n + 1, sizeof(struct kt_str));
			for (size_t i = 0; i < n; i++)
				out.arr.s[i] = str_of(a, json_object_array_get_idx(v, i));
		} else {
			die("type", type);
		}
	} else {
		die("type", type);
	}
	return out;
}

static struct kt_kvlist kvlist_of(struct kt_arena *a, json_object *list, bool json_era)
{
	struct kt_kvlist l = { 0 };
	if (!list || json_object_is_type(list, json_type_null))
		return l;
	l.n = json_object_array_length(list);
	l.kv = kt_arena_calloc(a, l.n + 1, sizeof(*l.kv));
	for (size_t i = 0; i < l.n; i++) {
		json_object *kv = json_object_array_get_idx(list, i);
		l.kv[i].key = str_of(a, need(kv, "key"));
		l.kv[i].value = value_of(a, need(kv, "value"), json_era);
	}
	return l;
}

static void ctx_of(struct kt_arena *a, json_object *c, struct kt_span_context *ctx)
{
	ctx->trace_id = trace_id(need(c, "trace_id"));
	ctx->span_id = span_id(need(c, "span_id"));
	ctx->trace_flags = (uint8_t)json_object_get_int(need(c, "trace_flags"));
	ctx->is_remote = json_object_get_boolean(need(c, "is_remote"));
	json_object *ts = get(c, "trace_state");
	if (ts && !json_object_is_type(ts, json_type_null)) {
		ctx->trace_state_present = true;
		ctx->trace_state_n = json_object_array_length(ts);
		ctx->trace_state = kt_arena_calloc(a, ctx->trace_state_n + 1, sizeof(*ctx->trace_state));
		for (size_t i = 0; i < ctx->trace_state_n; i++) {
			json_object *kv = json_object_array_get_idx(ts, i);
			ctx->trace_state[i].key = str_of(a, json_object_array_get_idx(kv, 0));
			ctx->trace_state[i].value = str_of(a, json_object_array_get_idx(kv, 1));
		}
	}
}

static int lookup(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	die("enum", s);
	return -1;
}

static struct kt_span_record *record_of(json_object *e, bool json_era, struct kt_origin *origin)
{
	static const char *const kinds[] = { "Client", "Server", "Producer", "Consumer", "Internal" };
	static const char *const codes[] = { "Unset", "Ok", "Error" };
	struct kt_span_record *r = kt_span_record_new(0);
	if (!r)
		die("record", "out of memory");
	struct kt_arena *a = &r->arena;
	struct kt_span *s = &r->span;
	ctx_of(a, need(e, "span_context"), &s->ctx);
	s->parent_span_id = span_id(need(e, "parent_span_id"));
	s->kind = (enum kt_span_kind)lookup(json_object_get_string(need(e, "span_kind")), kinds, 5);
	s->name = str_of(a, need(e, "name"));
	s->start_unix_nano = json_object_get_uint64(need(e, "start_time_unix_nano"));
	s->end_unix_nano = json_object_get_uint64(need(e, "end_time_unix_nano"));
	s->attrs = kvlist_of(a, need(e, "attributes"), json_era);
	s->attrs_max_len = (uint32_t)json_object_get_uint64(need(e, "attributes_max_len"));
	s->attrs_dropped = (uint32_t)json_object_get_uint64(need(e, "attributes_dropped_count"));

	json_object *evs = need(e, "events");
	if (!json_object_is_type(evs, json_type_null)) {
		s->events_present = true;
		s->n_events = json_object_array_length(evs);
		s->events = kt_arena_calloc(a, s->n_events + 1, sizeof(*s->events));
		for (size_t i = 0; i < s->n_events; i++) {
			json_object *ev = json_object_array_get_idx(evs, i);
			s->events[i].name = str_of(a, need(ev, "name"));
			s->events[i].time_unix_nano = json_object_get_uint64(need(ev, "time_unix_nano"));
			s->events[i].attrs = kvlist_of(a, need(ev, "attributes"), json_era);
			s->events[i].dropped_attributes_count =
				(uint32_t)json_object_get_uint64(need(ev, "dropped_attributes_count"));
		}
	}
	s->events_max_len = (uint32_t)json_object_get_uint64(need(e, "events_max_len"));
	s->events_dropped = (uint32_t)json_object_get_uint64(need(e, "events_dropped_count"));

	json_object *lks = need(e, "links");
	if (!json_object_is_type(lks, json_type_null)) {
		s->links_present = true;
		s->n_links = json_object_array_length(lks);
		s->links = kt_arena_calloc(a, s->n_links + 1, sizeof(*s->links));
		for (size_t i = 0; i < s->n_links; i++) {
			json_object *l = json_object_array_get_idx(lks, i);
			ctx_of(a, need(l, "span_context"), &s->links[i].ctx);
			s->links[i].attrs = kvlist_of(a, need(l, "attributes"), json_era);
			s->links[i].dropped_attributes_count =
				(uint32_t)json_object_get_uint64(need(l, "dropped_attributes_count"));
		}
	}
	s->links_max_len = (uint32_t)json_object_get_uint64(need(e, "links_max_len"));
	s->links_dropped = (uint32_t)json_object_get_uint64(need(e, "links_dropped_count"));

	s->status_code =
		(enum kt_status_code)lookup(json_object_get_string(need(e, "status_code")), codes, 3);
	s->status_message = str_of(a, need(e, "status_message"));
	json_object *res = need(e, "resource");
	if (!json_object_is_type(res, json_type_null)) {
		s->resource_present = true;
		s->resource = kvlist_of(a, res, json_era);
	}
	r->origin = kt_origin_get(origin);
	return r;
}

/* Manifest origin: bare strings, booleans, integers, or typed values. */
static struct kt_origin *origin_of(json_object *o)
{
	struct kt_arena a;
	kt_arena_init(&a, 0);
	struct kt_kvlist l = { 0 };
	const char *sandbox = NULL;
	if (o) {
		l.kv = kt_arena_calloc(&a, (size_t)json_object_object_length(o) + 1, sizeof(*l.kv));
		json_object_object_foreach(o, key, val)
		{
			struct kt_kv *kv = &l.kv[l.n++];
			kv->key = (struct kt_str){ .ptr = key, .len = strlen(key) };
			switch (json_object_get_type(val)) {
			case json_type_string:
				kv->value.type = KT_VAL_STRING;
				kv->value.s = str_of(&a, val);
				break;
			case json_type_boolean:
				kv->value.type = KT_VAL_BOOL;
				kv->value.b = json_object_get_boolean(val);
				break;
			case json_type_int:
				kv->value.type = KT_VAL_I64;
				kv->value.i = json_object_get_int64(val);
				break;
			case json_type_object:
				kv->value = value_of(&a, val, false);
				if (kv->value.type > KT_VAL_STRING)
					die("origin", "transport attributes are scalars");
				break;
			default:
				die("origin", key);
			}
			if (strcmp(key, "katatrace.sandbox.id") == 0 && kv->value.type == KT_VAL_STRING)
				sandbox = kv->value.s.ptr;
		}
	}
	struct kt_origin *origin = kt_origin_new(&l, sandbox, "export_expected");
	kt_arena_free(&a);
	if (!origin)
		die("origin", "out of memory");
	return origin;
}

int main(int argc, char **argv)
{
	const char *manifest = NULL, *http_url = NULL, *json_url = NULL, *file = NULL;
	bool console = false;
	long batch = 0;
	static const struct option longopts[] = {
		{ "manifest", required_argument, NULL, 'm' }, { "http", required_argument, NULL, 'h' },
		{ "http-json", required_argument, NULL, 'j' },
		{ "file", required_argument, NULL, 'f' },     { "console", no_argument, NULL, 'c' },
		{ "batch", required_argument, NULL, 'b' },    { NULL, 0, NULL, 0 },
	};
	for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
		switch (c) {
		case 'm': manifest = optarg; break;
		case 'h': http_url = optarg; break;
		case 'j': json_url = optarg; break;
		case 'f': file = optarg; break;
		case 'c': console = true; break;
		case 'b': batch = strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!manifest) {
		fprintf(stderr, "usage: export_expected --manifest M.json [--http URL] [--http-json URL] "
				"[--file PATH|-] [--console] [--batch N]\n");
		return 2;
	}

	json_object *m = json_object_from_file(manifest);
	if (!m)
		die(manifest, json_util_get_last_err());
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", manifest);
	char *slash = strrchr(dir, '/');
	if (slash)
		slash[1] = '\0';
	else
		strcpy(dir, "./");

	struct kt_resource_cfg cfg = { .service_name = KT_DEFAULT_SERVICE_NAME };
	json_object *svc = get(m, "service_name");
	if (svc)
		cfg.service_name = json_object_get_string(svc);

	struct kt_span_record *head = NULL, **tail = &head;
	size_t total = 0;
	json_object *items = need(m, "items");
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *item = json_object_array_get_idx(items, i);
		json_object *e = get(item, "expected_inline"), *owned = NULL;
		if (!e) {
			const char *p = json_object_get_string(need(item, "expected"));
			char path[8192];
			snprintf(path, sizeof(path), "%s%s", p[0] == '/' ? "" : dir, p);
			e = owned = json_object_from_file(path);
			if (!e)
				die(path, json_util_get_last_err());
		}
		json_object *era = get(item, "era");
		bool json_era = era && strcmp(json_object_get_string(era), "json") == 0;
		json_object *cnt = get(item, "count");
		int64_t count = cnt ? json_object_get_int64(cnt) : 1;
		struct kt_origin *origin = origin_of(get(item, "origin"));
		for (int64_t k = 0; k < count; k++) {
			*tail = record_of(e, json_era, origin);
			tail = &(*tail)->next;
			total++;
		}
		kt_origin_put(origin);
		json_object_put(owned);
	}

	struct kt_exporter *exps[4];
	size_t n_exps = 0;
	if (http_url) {
		struct kt_otlp_http_cfg hc = { .url = http_url, .timeout_ms = 5000 };
		if (!(exps[n_exps++] = kt_exporter_otlp_http_new(&hc)))
			die("otlp-http", http_url);
	}
	if (json_url) {
		struct kt_otlp_http_cfg hc = { .url = json_url, .timeout_ms = 5000, .json = true };
		if (!(exps[n_exps++] = kt_exporter_otlp_http_new(&hc)))
			die("otlp-http (JSON)", json_url);
	}
	if (file && !(exps[n_exps++] = kt_exporter_file_new(file)))
		die("file", file);
	if (console && !(exps[n_exps++] = kt_exporter_console_new(stdout)))
		die("console", "out of memory");

	int rc = 0;
	size_t per = batch > 0 ? (size_t)batch : total;
	while (head) {
		/* Cut the next batch off the list. */
		struct kt_span_record *b = head, **cut = &head;
		size_t n = 0;
		while (*cut && n < per) {
			cut = &(*cut)->next;
			n++;
		}
		head = *cut;
		*cut = NULL;
		struct kt_arena a;
		kt_arena_init(&a, 0);
		kt_otlp_request *req = kt_otlp_build(b, &cfg, &a);
		if (!req)
			die("build", "out of memory");
		for (size_t i = 0; i < n_exps; i++) {
			enum kt_export_result res = exps[i]->export(exps[i], req, n);
			if (res != KT_EXPORT_OK) {
				fprintf(stderr, "export_expected: %s: export returned %d\n", exps[i]->name,
					res);
				rc = 1;
			}
		}
		kt_arena_free(&a);
		kt_span_record_free_list(b);
	}
	for (size_t i = 0; i < n_exps; i++) {
		if (exps[i]->flush)
			exps[i]->flush(exps[i]);
		exps[i]->destroy(exps[i]);
	}
	json_object_put(m);
	fprintf(stderr, "export_expected: %zu span(s) exported\n", total);
	return rc;
}

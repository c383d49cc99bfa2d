/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata 1.x Jaeger decoding: the golden emitBatch vectors through the message
 * decoder and the stream decoder (every split, every chunk size, every
 * truncation, garbage, gaps, size cap), the mapping rules on hand-built
 * messages, and hostile input (clean failures, no crash, no leak).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kata1/decode_jaeger.h"
#include "expect_span.h"
#include "tc_writer.h"

#define ARENA_LIMIT (4u << 20)

enum { T_BOOL = 1, T_BYTE = 3, T_I16 = 4, T_I32 = 5, T_I64 = 6, T_DOUBLE = 7, T_BIN = 8,
       T_LIST = 9, T_SET = 10, T_MAP = 11, T_STRUCT = 12, T_UUID = 13 };

/* ------------------------------------------------------------ expected values */

/*
 * jaeger_expected.json holds the Jaeger values as sent. The comparison maps
 * them as docs/decoders.md says (independently of the decoder) and checks
 * every field of every span, collecting the first differences as text.
 */
struct ex {
	size_t mismatches;
	char text[1024];
};

static void bad(struct ex *x, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bad(struct ex *x, const char *where, const char *fmt, ...)
{
	size_t k = strlen(x->text);
	if (x->mismatches++ >= 8 || k + 8 >= sizeof(x->text))
		return;
	k += (size_t)snprintf(x->text + k, sizeof(x->text) - k, "%s%s: ", k ? "; " : "", where);
	if (k < sizeof(x->text)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(x->text + k, sizeof(x->text) - k, fmt, ap);
		va_end(ap);
	}
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v;
	cr_assert(json_object_object_get_ex(o, key, &v), "expected file lacks \"%s\"", key);
	return v;
}

static struct json_object *at_idx(struct json_object *a, size_t i)
{
	return json_object_array_get_idx(a, i);
}

static const char *jstr(struct json_object *o)
{
	return json_object_get_string(o);
}

static void cmp_str(struct ex *x, const char *where, struct kt_str got, const char *want)
{
	size_t n = strlen(want);
	if (!got.ptr)
		bad(x, where, "NULL string, want \"%s\"", want);
	else if (got.len != n || memcmp(got.ptr, want, n) != 0)
		bad(x, where, "got \"%.*s\", want \"%s\"", (int)got.len, got.ptr, want);
	else if (got.ptr[n] != '\0')
		bad(x, where, "not NUL-terminated");
}

static void cmp_u64(struct ex *x, const char *where, uint64_t got, uint64_t want)
{
	if (got != want)
		bad(x, where, "got %" PRIu64 ", want %" PRIu64, got, want);
}

/* Standard base64 with padding, written out bit by bit. */
static void b64(const uint8_t *p, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	int bits = 0;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | p[i];
		for (bits += 8; bits >= 6; bits -= 6)
			out[k++] = a[(acc >> (bits - 6)) & 63];
	}
	if (bits)
		out[k++] = a[(acc << (6 - bits)) & 63];
	while (k % 4)
		out[k++] = '=';
	out[k] = '\0';
}

/* A translated attribute: [key, type, value] with type as kt_value_type names. */
static struct json_object *attr(const char *key, const char *type, struct json_object *v)
{
	struct json_object *a = json_object_new_array();
	json_object_array_add(a, json_object_new_string(key));
	json_object_array_add(a, json_object_new_string(type));
	json_object_array_add(a, v);
	return a;
}

/* Jaeger tag [key, TYPE, value] -> attribute; BINARY (hex in the file) -> base64. */
static struct json_object *tag_attr(struct json_object *tag, const char *key)
{
	const char *type = jstr(at_idx(tag, 1));
	struct json_object *v = at_idx(tag, 2);
	if (!key)
		key = jstr(at_idx(tag, 0));
	if (strcmp(type, "STRING") == 0)
		return attr(key, "string", json_object_new_string(jstr(v)));
	if (strcmp(type, "LONG") == 0)
		return attr(key, "i64", json_object_new_int64(json_object_get_int64(v)));
	if (strcmp(type, "DOUBLE") == 0)
		return attr(key, "f64", json_object_new_double(json_object_get_double(v)));
	if (strcmp(type, "BOOL") == 0)
		return attr(key, "bool", json_object_new_boolean(json_object_get_boolean(v)));
	cr_assert_str_eq(type, "BINARY");
	const char *hex = jstr(v);
	size_t n = strlen(hex) / 2;
	uint8_t bytes[256];
	char enc[400];
	cr_assert_lt(n, sizeof(bytes));
	for (size_t i = 0; i < n; i++) {
		unsigned b;
		cr_assert_eq(sscanf(hex + 2 * i, "%2x", &b), 1);
		bytes[i] = (uint8_t)b;
	}
	b64(bytes, n, enc);
	return attr(key, "string", json_object_new_string(enc));
}

static void cmp_attrs(struct ex *x, const char *where, const struct kt_kvlist *l,
		      struct json_object *want)
{
	size_t n = json_object_array_length(want);
	char w[256];
	if (l->n != n) {
		bad(x, where, "%zu attributes, want %zu", l->n, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = at_idx(want, i);
		const char *type = jstr(at_idx(a, 1));
		struct json_object *v = at_idx(a, 2);
		const struct kt_value *got = &l->kv[i].value;
		snprintf(w, sizeof(w), "%s[%zu].key", where, i);
		cmp_str(x, w, l->kv[i].key, jstr(at_idx(a, 0)));
		snprintf(w, sizeof(w), "%s[%zu](%s)", where, i, jstr(at_idx(a, 0)));
		if (strcmp(type, "string") == 0) {
			if (got->type != KT_VAL_STRING)
				bad(x, w, "type %d, want string", (int)got->type);
			else
				cmp_str(x, w, got->s, jstr(v));
		} else if (strcmp(type, "i64") == 0) {
			if (got->type != KT_VAL_I64 || got->i != json_object_get_int64(v))
				bad(x, w, "type %d value %" PRId64 ", want i64 %" PRId64,
				    (int)got->type, got->i, json_object_get_int64(v));
		} else if (strcmp(type, "f64") == 0) {
			if (got->type != KT_VAL_F64 || got->f != json_object_get_double(v))
				bad(x, w, "type %d value %g, want f64 %g", (int)got->type, got->f,
				    json_object_get_double(v));
		} else {
			if (got->type != KT_VAL_BOOL || got->b != json_object_get_boolean(v))
				bad(x, w, "type %d value %d, want bool %d", (int)got->type, got->b,
				    json_object_get_boolean(v));
		}
	}
}

/* The resource: service.name, then the process tags, hostname and jaeger.version renamed. */
static struct json_object *want_resource(struct json_object *process)
{
	struct json_object *res = json_object_new_array(), *tags = get(process, "tags");
	const char *svc = jstr(get(process, "serviceName"));
	if (*svc)
		json_object_array_add(res, attr("service.name", "string",
						json_object_new_string(svc)));
	for (size_t i = 0; i < json_object_array_length(tags); i++) {
		struct json_object *t = at_idx(tags, i);
		const char *key = jstr(at_idx(t, 0));
		cr_assert(strcmp(key, "host.name") && strcmp(key, "opencensus.exporterversion") &&
				  strcmp(key, "service.name"),
			  "vector has a key the renames would collide with");
		if (strcmp(key, "jaeger.version") == 0) {
			char v[128];
			snprintf(v, sizeof(v), "Jaeger-%s", jstr(at_idx(t, 2)));
			json_object_array_add(res, attr("opencensus.exporterversion", "string",
							json_object_new_string(v)));
		} else {
			json_object_array_add(
				res, tag_attr(t, strcmp(key, "hostname") == 0 ? "host.name" : NULL));
		}
	}
	return res;
}

static bool hex_zero(const char *hex)
{
	return strspn(hex, "0") == strlen(hex);
}

/* Jaeger's parent rule: parentSpanId, else CHILD_OF, else FOLLOWS_FROM, same trace. */
static const char *want_parent(struct json_object *span)
{
	const char *parent = jstr(get(span, "parentSpanId")), *follows = NULL;
	struct json_object *refs = get(span, "references");
	if (!hex_zero(parent))
		return parent;
	for (size_t i = 0; i < json_object_array_length(refs); i++) {
		struct json_object *r = at_idx(refs, i);
		if (strcmp(jstr(at_idx(r, 1)), jstr(get(span, "traceId"))) != 0)
			continue;
		if (json_object_get_int(at_idx(r, 0)) == 0)
			return jstr(at_idx(r, 2));
		if (!follows)
			follows = jstr(at_idx(r, 2));
	}
	return follows ? follows : parent;
}

static void cmp_span(struct ex *x, size_t k, const struct kt_span *s, struct json_object *span,
		     const struct kt_kvlist *resource)
{
	static const char *const special[] = {"span.kind", "error", "otel.status_code",
					      "otel.status_description"};
	char w[128], hex[33];
	struct json_object *tags = get(span, "tags"), *logs = get(span, "logs");
	struct json_object *refs = get(span, "references");

#define AT(...) (snprintf(w, sizeof(w), __VA_ARGS__), w)
	kt_trace_id_hex(&s->ctx.trace_id, hex);
	if (strcmp(hex, jstr(get(span, "traceId"))))
		bad(x, AT("spans[%zu].traceId", k), "got %s", hex);
	kt_span_id_hex(s->ctx.span_id, hex);
	if (strcmp(hex, jstr(get(span, "spanId"))))
		bad(x, AT("spans[%zu].spanId", k), "got %s", hex);
	const char *parent = want_parent(span);
	kt_span_id_hex(s->parent_span_id, hex);
	if (strcmp(hex, parent))
		bad(x, AT("spans[%zu].parent", k), "got %s, want %s", hex, parent);
	cmp_str(x, AT("spans[%zu].name", k), s->name, jstr(get(span, "operationName")));
	cmp_u64(x, AT("spans[%zu].trace_flags", k), s->ctx.trace_flags,
		(uint64_t)json_object_get_int(get(span, "flags")) & 1);
	if (s->ctx.is_remote || s->ctx.trace_state_present)
		bad(x, AT("spans[%zu].ctx", k), "remote or trace state set");
	uint64_t start = (uint64_t)json_object_get_int64(get(span, "startTime_us"));
	uint64_t dur = (uint64_t)json_object_get_int64(get(span, "duration_us"));
	cmp_u64(x, AT("spans[%zu].start", k), s->start_unix_nano, start * 1000);
	cmp_u64(x, AT("spans[%zu].end", k), s->end_unix_nano, (start + dur) * 1000);

	/* Tags: plain attributes (the vectors carry none of the keys mapped elsewhere). */
	struct json_object *attrs = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(tags); i++) {
		const char *key = jstr(at_idx(at_idx(tags, i), 0));
		for (size_t j = 0; j < sizeof(special) / sizeof(special[0]); j++)
			cr_assert(strcmp(key, special[j]), "vector tag %s needs its own rule", key);
		json_object_array_add(attrs, tag_attr(at_idx(tags, i), NULL));
	}
	cmp_attrs(x, AT("spans[%zu].attributes", k), &s->attrs, attrs);
	json_object_put(attrs);
	if (s->kind != KT_KIND_INTERNAL || s->status_code != KT_STATUS_UNSET)
		bad(x, AT("spans[%zu]", k), "kind %d status %d, want Internal/Unset", (int)s->kind,
		    (int)s->status_code);
	cmp_str(x, AT("spans[%zu].status_message", k), s->status_message, "");

	/* Logs -> events named by their "event" string field. */
	size_t nl = json_object_array_length(logs);
	if (s->n_events != nl || s->events_present != (nl > 0)) {
		bad(x, AT("spans[%zu].events", k), "%zu (present %d), want %zu", s->n_events,
		    s->events_present, nl);
		nl = 0;
	}
	for (size_t i = 0; i < nl; i++) {
		struct json_object *log = at_idx(logs, i), *fields = get(log, "fields");
		struct json_object *ea = json_object_new_array();
		const char *name = "";
		for (size_t f = 0; f < json_object_array_length(fields); f++) {
			struct json_object *t = at_idx(fields, f);
			if (!strcmp(jstr(at_idx(t, 0)), "event") &&
			    !strcmp(jstr(at_idx(t, 1)), "STRING"))
				name = jstr(at_idx(t, 2));
			else
				json_object_array_add(ea, tag_attr(t, NULL));
		}
		cmp_str(x, AT("spans[%zu].events[%zu].name", k, i), s->events[i].name, name);
		cmp_u64(x, AT("spans[%zu].events[%zu].time", k, i), s->events[i].time_unix_nano,
			(uint64_t)json_object_get_int64(get(log, "timestamp_us")) * 1000);
		cmp_attrs(x, AT("spans[%zu].events[%zu].attributes", k, i), &s->events[i].attrs,
			  ea);
		json_object_put(ea);
	}

	/* References other than the parent's CHILD_OF -> links. */
	size_t nlinks = 0;
	for (size_t i = 0; i < json_object_array_length(refs); i++) {
		struct json_object *r = at_idx(refs, i);
		int type = json_object_get_int(at_idx(r, 0));
		if (type == 0 && !strcmp(jstr(at_idx(r, 2)), parent))
			continue;
		if (nlinks >= s->n_links) {
			nlinks++;
			continue;
		}
		const struct kt_link *l = &s->links[nlinks++];
		kt_trace_id_hex(&l->ctx.trace_id, hex);
		if (strcmp(hex, jstr(at_idx(r, 1))))
			bad(x, AT("spans[%zu].links[%zu].trace_id", k, nlinks - 1), "got %s", hex);
		kt_span_id_hex(l->ctx.span_id, hex);
		if (strcmp(hex, jstr(at_idx(r, 2))))
			bad(x, AT("spans[%zu].links[%zu].span_id", k, nlinks - 1), "got %s", hex);
		struct json_object *la = json_object_new_array();
		json_object_array_add(la, attr("opentracing.ref_type", "string",
					       json_object_new_string(type ? "follows_from"
									   : "child_of")));
		cmp_attrs(x, AT("spans[%zu].links[%zu].attributes", k, nlinks - 1), &l->attrs, la);
		json_object_put(la);
	}
	if (s->n_links != nlinks || s->links_present != (nlinks > 0))
		bad(x, AT("spans[%zu].links", k), "%zu (present %d), want %zu", s->n_links,
		    s->links_present, nlinks);

	if (!s->resource_present || s->resource.n != resource->n || s->resource.kv != resource->kv)
		bad(x, AT("spans[%zu].resource", k), "not the batch's resource");
#undef AT
}

/*
 * Compare b with message `index` of jaeger_expected.json; returns the number
 * of differences, and describes the first ones in text (if not NULL).
 */
static size_t cmp_batch(const struct kt_jaeger_batch *b, size_t index, char *text, size_t size)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/jaeger_expected.json", KT_TEST_VECTORS);
	struct json_object *all = json_object_from_file(path);
	cr_assert_not_null(all, "cannot read %s", path);
	cr_assert_lt(index, json_object_array_length(all));
	struct json_object *m = at_idx(all, index), *msg = get(m, "message");
	struct json_object *process = get(m, "process"), *spans = get(m, "spans");
	struct ex x = {0};

	cmp_u64(&x, "message.version", b->version, (uint64_t)json_object_get_int(get(msg, "version")));
	cmp_u64(&x, "message.type", b->msg_type, (uint64_t)json_object_get_int(get(msg, "type")));
	cmp_u64(&x, "message.seqid", (uint64_t)b->seqid,
		(uint64_t)json_object_get_int(get(msg, "seqid")));
	cmp_str(&x, "message.name", b->method, jstr(get(msg, "name")));
	cmp_str(&x, "process.serviceName", b->service_name, jstr(get(process, "serviceName")));
	struct json_object *res = want_resource(process);
	cmp_attrs(&x, "resource", &b->resource, res);
	json_object_put(res);

	size_t n = json_object_array_length(spans);
	if (b->n_spans != n)
		bad(&x, "spans", "%zu spans, want %zu", b->n_spans, n);
	for (size_t k = 0; k < n && k < b->n_spans; k++)
		cmp_span(&x, k, &b->spans[k], at_idx(spans, k), &b->resource);
	json_object_put(all);
	if (text)
		snprintf(text, size, "jaeger message %zu: %s", index, x.text);
	return x.mismatches;
}

/* b must be message `index` exactly. */
static void expect_batch(const struct kt_jaeger_batch *b, size_t index)
{
	char text[1100];
	cr_expect_eq(cmp_batch(b, index, text, sizeof(text)), 0, "%s", text);
}

/* ------------------------------------------------------------ helpers */

struct dec {
	struct kt_arena a;
	struct kt_jaeger_batch b;
	struct kt_decode_error err;
	int rc;
};

static void decode(struct dec *d, const uint8_t *p, size_t n, const struct kt_jaeger_limits *lim,
		   size_t arena_limit)
{
	uint8_t *exact = malloc(n ? n : 1);
	cr_assert_not_null(exact);
	if (n)
		memcpy(exact, p, n);
	kt_arena_init(&d->a, arena_limit);
	memset(&d->err, 0, sizeof(d->err));
	d->rc = kt_jaeger_decode(exact, n, lim, &d->a, &d->b, &d->err);
	free(exact);
}

static bool batch_is_zero(const struct kt_jaeger_batch *b)
{
	static const struct kt_jaeger_batch zero;
	return memcmp(b, &zero, sizeof(zero)) == 0;
}

static void expect_ok(struct dec *d, const struct tcw *w, const char *what)
{
	decode(d, w->p, w->n, NULL, ARENA_LIMIT);
	cr_assert_eq(d->rc, 0, "%s: %s", what, d->err.msg);
}

static void expect_fail_lim(const struct tcw *w, const struct kt_jaeger_limits *lim,
			    size_t arena_limit, const char *needle, const char *what)
{
	struct dec d;
	decode(&d, w->p, w->n, lim, arena_limit);
	cr_expect_eq(d.rc, -1, "%s: decoded, should have failed", what);
	cr_expect_neq(d.err.msg[0], '\0', "%s: no message", what);
	if (needle)
		cr_expect(strstr(d.err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"",
			  what, d.err.msg, needle);
	cr_expect(batch_is_zero(&d.b), "%s: output not zeroed", what);
	kt_arena_free(&d.a);
}

static void expect_fail(const struct tcw *w, const char *needle, const char *what)
{
	expect_fail_lim(w, NULL, ARENA_LIMIT, needle, what);
}

static const struct kt_kv *attr_of(const struct kt_span *s, const char *key)
{
	return kt_kvlist_find(&s->attrs, key);
}

/* ------------------------------------------------------------ stream collector */

struct got {
	size_t batches, spans, errors, mismatches;
	const size_t *map; /* expected index of batch k (NULL: k) */
	char diff[1100];   /* the first batch that differed */
	char last_error[512];
	char all_errors[2048];
};

static void on_batch(void *ctx, const struct kt_jaeger_batch *b, struct kt_arena *a)
{
	struct got *g = ctx;
	(void)a;
	size_t idx = g->map ? g->map[g->batches] : g->batches;
	size_t m = cmp_batch(b, idx, g->mismatches ? NULL : g->diff, sizeof(g->diff));
	g->mismatches += m;
	g->batches++;
	g->spans += b->n_spans;
}

static void on_error(void *ctx, const char *msg)
{
	struct got *g = ctx;
	g->errors++;
	snprintf(g->last_error, sizeof(g->last_error), "%s", msg);
	size_t k = strlen(g->all_errors);
	snprintf(g->all_errors + k, sizeof(g->all_errors) - k, "%s | ", msg);
}

static const struct kt_jaeger_stream_ops ops = {.batch = on_batch, .error = on_error};

/* Every pushed byte is in a message, skipped, dropped or still pending. */
static void expect_accounted(const struct kt_jaeger_stream *s)
{
	cr_expect_eq(s->pushed, s->message_bytes + s->skipped_bytes + s->dropped_bytes +
					(s->have - s->off),
		     "pushed %" PRIu64 " != messages %" PRIu64 " + skipped %" PRIu64
		     " + dropped %" PRIu64 " + pending %zu",
		     s->pushed, s->message_bytes, s->skipped_bytes, s->dropped_bytes,
		     s->have - s->off);
}

static uint8_t *vec(const char *name, size_t *n)
{
	return kt_test_read_vector(name, n);
}

/* ------------------------------------------------------------ golden vectors */

static void vector_decodes(const char *file, size_t index)
{
	size_t n;
	uint8_t *p = vec(file, &n);
	struct dec d;
	decode(&d, p, n, NULL, ARENA_LIMIT);
	cr_assert_eq(d.rc, 0, "%s: %s", file, d.err.msg);
	expect_batch(&d.b, index);
	kt_arena_free(&d.a);

	/* Default limits and the stream's own arena sizing also suffice. */
	struct kt_jaeger_limits lim;
	kt_jaeger_limits_default(&lim);
	decode(&d, p, n, &lim, n * 64 + (64u << 10));
	cr_expect_eq(d.rc, 0, "%s: %s", file, d.err.msg);
	kt_arena_free(&d.a);
	free(p);
}

Test(jaeger_vectors, emitbatch_1)
{
	vector_decodes("jaeger_emitbatch_compact_1.bin", 0);
}

Test(jaeger_vectors, emitbatch_2)
{
	vector_decodes("jaeger_emitbatch_compact_2.bin", 1);
}

Test(jaeger_vectors, stream_is_both_messages)
{
	size_t n1, n2, n;
	uint8_t *m1 = vec("jaeger_emitbatch_compact_1.bin", &n1);
	uint8_t *m2 = vec("jaeger_emitbatch_compact_2.bin", &n2);
	uint8_t *s = vec("jaeger_vsock_stream.bin", &n);
	cr_assert_eq(n, n1 + n2);
	cr_expect(memcmp(s, m1, n1) == 0 && memcmp(s + n1, m2, n2) == 0);
	free(m1);
	free(m2);
	free(s);
}

/* The comparison itself notices a wrong batch. */
Test(jaeger_vectors, comparison_notices_differences)
{
	size_t n;
	uint8_t *p = vec("jaeger_emitbatch_compact_1.bin", &n);
	struct dec d;
	decode(&d, p, n, NULL, ARENA_LIMIT);
	cr_assert_eq(d.rc, 0);
	cr_expect_gt(cmp_batch(&d.b, 1, NULL, 0), 0, "message 1 compared as message 2");
	struct kt_span *s = &d.b.spans[0];
	s->ctx.span_id ^= 1;
	s->attrs.n--;
	s->events[0].time_unix_nano++;
	cr_expect_geq(cmp_batch(&d.b, 0, NULL, 0), 3);
	kt_arena_free(&d.a);
	free(p);
}

/* ------------------------------------------------------------ stream */

static void push_chunks(struct kt_jaeger_stream *s, const uint8_t *p, size_t n, size_t chunk)
{
	for (size_t o = 0; o < n; o += chunk)
		kt_jaeger_stream_push(s, p + o, n - o < chunk ? n - o : chunk);
}

Test(jaeger_stream, whole)
{
	size_t n;
	uint8_t *p = vec("jaeger_vsock_stream.bin", &n);
	struct got g = {0};
	struct kt_jaeger_stream s;
	kt_jaeger_stream_init(&s, NULL, &ops, &g);
	kt_jaeger_stream_push(&s, p, n);
	cr_expect_eq(g.batches, 2);
	cr_expect_eq(g.spans, 2);
	cr_expect_eq(g.errors, 0, "%s", g.last_error);
	cr_expect_eq(g.mismatches, 0, "%s", g.diff);
	cr_expect_eq(kt_jaeger_stream_finish(&s), 0);
	cr_expect_eq(s.messages, 2);
	cr_expect_eq(s.spans, 2);
	cr_expect_eq(s.message_bytes, n);
	expect_accounted(&s);
	/* Reusable after finish. */
	g = (struct got){0};
	kt_jaeger_stream_push(&s, p, n);
	cr_expect_eq(s.messages, 4);
	cr_expect_eq(g.batches, 2);
	cr_expect_eq(g.mismatches, 0, "%s", g.diff);
	kt_jaeger_stream_free(&s);
	free(p);
}

Test(jaeger_stream, every_split)
{
	size_t n;
	uint8_t *p = vec("jaeger_vsock_stream.bin", &n);
	for (size_t cut = 0; cut <= n; cut++) {
		struct got g = {0};
		struct kt_jaeger_stream s;
		kt_jaeger_stream_init(&s, NULL, &ops, &g);
		kt_jaeger_stream_push(&s, p, cut);
		kt_jaeger_stream_push(&s, p + cut, n - cut);
		cr_expect(g.batches == 2 && g.mismatches == 0 && g.errors == 0,
			  "cut at %zu: %zu batches, %zu mismatches, errors: %s", cut, g.batches,
			  g.mismatches, g.all_errors);
		cr_expect_eq(kt_jaeger_stream_finish(&s), 0, "cut at %zu", cut);
		expect_accounted(&s);
		kt_jaeger_stream_free(&s);
	}
	free(p);
}

Test(jaeger_stream, every_chunk_size)
{
	size_t n;
	uint8_t *p = vec("jaeger_vsock_stream.bin", &n);
	for (size_t chunk = 1; chunk <= n; chunk++) {
		struct got g = {0};
		struct kt_jaeger_stream s;
		kt_jaeger_stream_init(&s, NULL, &ops, &g);
		push_chunks(&s, p, n, chunk);
		cr_expect(g.batches == 2 && g.mismatches == 0 && g.errors == 0,
			  "chunks of %zu: %zu batches, %zu mismatches, errors: %s", chunk,
			  g.batches, g.mismatches, g.all_errors);
		cr_expect_eq(kt_jaeger_stream_finish(&s), 0);
		kt_jaeger_stream_free(&s);
	}
	free(p);
}

Test(jaeger_stream, truncations)
{
	size_t n, n1;
	uint8_t *p = vec("jaeger_vsock_stream.bin", &n);
	free(vec("jaeger_emitbatch_compact_1.bin", &n1));
	for (size_t len = 0; len < n; len++) {
		struct got g = {0};
		struct kt_jaeger_stream s;
		kt_jaeger_stream_init(&s, NULL, &ops, &g);
		push_chunks(&s, p, len, 7);
		size_t whole = len >= n1 ? 1 : 0, rest = len - whole * n1;
		cr_expect_eq(g.batches, whole, "length %zu", len);
		uint64_t dropped = kt_jaeger_stream_finish(&s);
		cr_expect_eq(dropped, rest, "length %zu: dropped %" PRIu64 ", want %zu", len,
			     dropped, rest);
		cr_expect_eq(g.errors, rest ? 1 : 0, "length %zu: %s", len, g.all_errors);
		if (rest)
			cr_expect(strstr(g.last_error, "incomplete message"), "%s", g.last_error);
		expect_accounted(&s);
		kt_jaeger_stream_free(&s);
	}
	free(p);
}

/* m1 + junk + m2 -> both messages, the junk skipped and reported once. */
static void with_junk(const void *junk, size_t jn, size_t want_skipped, const char *needle)
{
	size_t n1, n2;
	uint8_t *m1 = vec("jaeger_emitbatch_compact_1.bin", &n1);
	uint8_t *m2 = vec("jaeger_emitbatch_compact_2.bin", &n2);
	struct tcw w;
	tcw_init(&w);
	tcw_bytes(&w, m1, n1);
	tcw_bytes(&w, junk, jn);
	tcw_bytes(&w, m2, n2);
	for (size_t chunk = 1; chunk <= w.n; chunk += chunk < 20 ? 1 : 97) {
		struct got g = {0};
		struct kt_jaeger_stream s;
		kt_jaeger_stream_init(&s, NULL, &ops, &g);
		push_chunks(&s, w.p, w.n, chunk);
		cr_expect_eq(kt_jaeger_stream_finish(&s), 0);
		cr_expect(g.batches == 2 && g.mismatches == 0, "chunk %zu: %zu batches", chunk,
			  g.batches);
		cr_expect_eq(s.skipped_bytes, want_skipped, "chunk %zu: skipped %" PRIu64, chunk,
			     s.skipped_bytes);
		cr_expect_eq(g.errors, 1, "chunk %zu: %s", chunk, g.all_errors);
		cr_expect(strstr(g.last_error, needle), "\"%s\" lacks \"%s\"", g.last_error, needle);
		expect_accounted(&s);
		kt_jaeger_stream_free(&s);
	}
	tcw_free(&w);
	free(m1);
	free(m2);
}

Test(jaeger_stream, garbage_between_messages)
{
	/* (not "\x82\x81" right before message 2: with its first bytes that is a
	 * valid start, seqid 0x82 0x81 0x01) */
	static const char junk[] = "garbage\x82\x81\x01\x09"
				   "emitBatcX\x82\x82";
	char want[64];
	snprintf(want, sizeof(want), "skipped %zu bytes", sizeof(junk) - 1);
	with_junk(junk, sizeof(junk) - 1, sizeof(junk) - 1, want);
}

Test(jaeger_stream, fake_message_start_between_messages)
{
	/* A valid header whose body is malformed: skipped from its first byte. */
	static const char junk[] = "\x82\x81\x01\x09"
				   "emitBatch\xff\xfe";
	with_junk(junk, sizeof(junk) - 1, sizeof(junk) - 1, "malformed message at stream offset 355");
}

Test(jaeger_stream, garbage_before_and_after)
{
	size_t n;
	uint8_t *p = vec("jaeger_vsock_stream.bin", &n);
	struct tcw w;
	tcw_init(&w);
	/* a stream joined in the middle of message 1: its last 100 bytes first */
	tcw_bytes(&w, p + 255, 100);
	tcw_bytes(&w, p, n);
	tcw_bytes(&w, "\x82\x81", 2);
	static const size_t map[] = {0, 1};
	struct got g = {.map = map};
	struct kt_jaeger_stream s;
	kt_jaeger_stream_init(&s, NULL, &ops, &g);
	kt_jaeger_stream_push(&s, w.p, w.n);
	cr_expect_eq(g.batches, 2);
	cr_expect_eq(g.errors, 1, "%s", g.all_errors);
	cr_expect(strstr(g.last_error, "skipped 100 bytes from stream offset 0"), "%s",
		  g.last_error);
	/* The last two bytes are the start of a message that never came. */
	cr_expect_eq(kt_jaeger_stream_finish(&s), 2);
	cr_expect_eq(g.errors, 2);
	expect_accounted(&s);
	kt_jaeger_stream_free(&s);
	tcw_free(&w);
	free(p);
}

/* Damage to message 2 never costs message 1; nothing ever crashes or leaks. */
Test(jaeger_stream, every_byte_corrupted)
{
	size_t n, n1;
	uint8_t *p = vec("jaeger_vsock_stream.bin", &n);
	free(vec("jaeger_emitbatch_compact_1.bin", &n1));
	static const uint8_t flips[] = {0x01, 0x80, 0xff, 0x10};
	for (size_t i = 0; i < n; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			uint8_t *c = malloc(n);
			memcpy(c, p, n);
			c[i] ^= flips[f];
			struct got g = {0};
			struct kt_jaeger_stream s;
			kt_jaeger_stream_init(&s, NULL, &ops, &g);
			push_chunks(&s, c, n, 64);
			kt_jaeger_stream_finish(&s);
			if (i >= n1)
				cr_expect(g.batches >= 1 && s.messages >= 1,
					  "byte %zu ^ %02x: message 1 lost", i, flips[f]);
			cr_expect_leq(g.batches, 2);
			expect_accounted(&s);
			kt_jaeger_stream_free(&s);
			free(c);
		}
	}
	free(p);
}

Test(jaeger_stream, gap_inside_a_message)
{
	size_t n, n1;
	uint8_t *p = vec("jaeger_vsock_stream.bin", &n);
	free(vec("jaeger_emitbatch_compact_1.bin", &n1));
	static const size_t map[] = {1};
	struct got g = {.map = map};
	struct kt_jaeger_stream s;
	kt_jaeger_stream_init(&s, NULL, &ops, &g);
	kt_jaeger_stream_push(&s, p, 100);
	cr_expect_eq(kt_jaeger_stream_gap(&s), 100);
	cr_expect_eq(g.errors, 1);
	cr_expect(strstr(g.last_error, "100 bytes of an incomplete message"), "%s", g.last_error);
	kt_jaeger_stream_push(&s, p + 150, n - 150);
	cr_expect_eq(g.batches, 1);
	cr_expect_eq(g.mismatches, 0, "%s", g.diff);
	cr_expect_eq(g.errors, 2, "%s", g.all_errors);
	cr_expect(strstr(g.last_error, "bytes after a gap in the stream: skipped"), "%s",
		  g.last_error);
	cr_expect_eq(s.skipped_bytes, n1 - 150);
	cr_expect_eq(kt_jaeger_stream_finish(&s), 0);
	expect_accounted(&s);
	/* A gap on a message boundary drops nothing and reports nothing. */
	g = (struct got){0};
	cr_expect_eq(kt_jaeger_stream_gap(&s), 0);
	kt_jaeger_stream_push(&s, p, n);
	cr_expect_eq(g.errors, 0, "%s", g.last_error);
	kt_jaeger_stream_free(&s);
	free(p);
}

Test(jaeger_stream, message_over_the_cap)
{
	size_t n, n1;
	uint8_t *p = vec("jaeger_vsock_stream.bin", &n);
	free(vec("jaeger_emitbatch_compact_1.bin", &n1));
	struct kt_jaeger_limits lim;
	kt_jaeger_limits_default(&lim);
	lim.max_message = 300; /* message 1 has 355 bytes, message 2 246 */
	for (size_t chunk = 1; chunk <= n; chunk += 50) {
		static const size_t map[] = {1};
		struct got g = {.map = map};
		struct kt_jaeger_stream s;
		kt_jaeger_stream_init(&s, &lim, &ops, &g);
		push_chunks(&s, p, n, chunk);
		cr_expect_eq(g.batches, 1, "chunk %zu", chunk);
		cr_expect_eq(g.errors, 1, "chunk %zu: %s", chunk, g.all_errors);
		cr_expect(strstr(g.last_error, "past the message size limit of 300 bytes"), "%s",
			  g.last_error);
		cr_expect_eq(s.skipped_bytes, n1);
		cr_expect_leq(s.cap, 300);
		cr_expect_eq(kt_jaeger_stream_finish(&s), 0);
		kt_jaeger_stream_free(&s);
	}
	/* A cap below the minimum is raised to it. */
	lim.max_message = 1;
	struct kt_jaeger_stream s;
	kt_jaeger_stream_init(&s, &lim, &ops, NULL);
	cr_expect_eq(s.lim.max_message, KT_JAEGER_MIN_MESSAGE_CAP);
	kt_jaeger_stream_free(&s);
	free(p);
}

Test(jaeger_stream, message_of_exactly_max_message)
{
	size_t n, n1;
	uint8_t *p = vec("jaeger_vsock_stream.bin", &n);
	free(vec("jaeger_emitbatch_compact_1.bin", &n1));
	cr_assert_eq(n1, 355);
	static const size_t chunks[] = {1, 2, 100, 354, 355, 356, 10000};
	for (int over = 0; over < 2; over++) {
		struct kt_jaeger_limits lim;
		kt_jaeger_limits_default(&lim);
		lim.max_message = n1 - (size_t)over; /* the first message's size, or one less */
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			static const size_t map[] = {1};
			struct got g = {.map = over ? map : NULL};
			struct kt_jaeger_stream s;
			kt_jaeger_stream_init(&s, &lim, &ops, &g);
			push_chunks(&s, p, n, chunks[c]);
			cr_expect_eq(kt_jaeger_stream_finish(&s), 0);
			cr_expect_eq(g.mismatches, 0, "%s", g.diff);
			if (over) {
				cr_expect_eq(g.batches, 1, "max %zu, chunk %zu", lim.max_message,
					     chunks[c]);
				cr_expect_eq(g.errors, 1, "chunk %zu: %s", chunks[c], g.all_errors);
				cr_expect(strstr(g.last_error,
						 "past the message size limit of 354 bytes"),
					  "%s", g.last_error);
				cr_expect_eq(s.skipped_bytes, n1);
			} else {
				cr_expect_eq(g.batches, 2, "max %zu, chunk %zu: %s", lim.max_message,
					     chunks[c], g.all_errors);
				cr_expect_eq(g.errors, 0, "chunk %zu: %s", chunks[c], g.all_errors);
				cr_expect_eq(s.skipped_bytes, 0);
			}
			cr_expect_leq(s.cap, lim.max_message);
			expect_accounted(&s);
			kt_jaeger_stream_free(&s);
		}
	}
	free(p);

	/* The smallest cap is 64 bytes: below it is raised, from it kept. */
	static const size_t asked[] = {0, 63, 64, 65};
	static const size_t got[] = {64, 64, 64, 65};
	for (size_t i = 0; i < 4; i++) {
		struct kt_jaeger_limits lim;
		kt_jaeger_limits_default(&lim);
		lim.max_message = asked[i];
		struct kt_jaeger_stream s;
		kt_jaeger_stream_init(&s, &lim, &ops, NULL);
		cr_expect_eq(s.lim.max_message, got[i], "asked %zu", asked[i]);
		kt_jaeger_stream_free(&s);
	}
}

/* The batch callback may keep a message's arena. */
struct kept {
	struct kt_arena a[4];
	const struct kt_jaeger_batch *b[4];
	struct kt_jaeger_batch copy[4];
	size_t n;
};

static void keep_batch(void *ctx, const struct kt_jaeger_batch *b, struct kt_arena *a)
{
	struct kept *k = ctx;
	cr_assert_lt(k->n, 4);
	k->copy[k->n] = *b;
	k->a[k->n++] = *a;
	kt_arena_init(a, 0);
}

Test(jaeger_stream, callback_keeps_the_arena)
{
	size_t n;
	uint8_t *p = vec("jaeger_vsock_stream.bin", &n);
	static const struct kt_jaeger_stream_ops keep_ops = {.batch = keep_batch};
	struct kept k = {0};
	struct kt_jaeger_stream s;
	kt_jaeger_stream_init(&s, NULL, &keep_ops, &k);
	kt_jaeger_stream_push(&s, p, n);
	kt_jaeger_stream_finish(&s);
	kt_jaeger_stream_free(&s);
	free(p);
	cr_assert_eq(k.n, 2);
	for (size_t i = 0; i < k.n; i++) {
		expect_batch(&k.copy[i], i);
		kt_arena_free(&k.a[i]);
	}
}

Test(jaeger_stream, no_callbacks_and_null_input)
{
	size_t n;
	uint8_t *p = vec("jaeger_vsock_stream.bin", &n);
	struct kt_jaeger_stream s;
	kt_jaeger_stream_init(&s, NULL, NULL, NULL);
	kt_jaeger_stream_push(&s, NULL, 5);
	kt_jaeger_stream_push(&s, p, n);
	kt_jaeger_stream_push(&s, (const uint8_t *)"junk", 4);
	cr_expect_eq(s.messages, 2);
	cr_expect_eq(kt_jaeger_stream_finish(&s), 0);
	cr_expect_eq(s.skipped_bytes, 4);
	cr_expect_eq(s.errors, 1);
	kt_jaeger_stream_free(&s);
	kt_jaeger_stream_free(&s);
	free(p);
}

Test(jaeger_stream, message_start)
{
	static const uint8_t ok[] = "\x82\x81\x01\x09"
				    "emitBatch";
	for (size_t k = 0; k < sizeof(ok) - 1; k++)
		cr_expect_eq(kt_jaeger_message_start(ok, k), -1, "prefix %zu", k);
	cr_expect_eq(kt_jaeger_message_start(ok, sizeof(ok) - 1), 1);
	uint8_t b[32];
	memcpy(b, ok, sizeof(ok));
	b[1] = 0x21; /* CALL */
	cr_expect_eq(kt_jaeger_message_start(b, 13), 1);
	b[1] = 0x41; /* REPLY */
	cr_expect_eq(kt_jaeger_message_start(b, 13), 0);
	b[1] = 0x82; /* version 2 */
	cr_expect_eq(kt_jaeger_message_start(b, 13), 0);
	b[0] = 0x81;
	cr_expect_eq(kt_jaeger_message_start(b, 1), 0);
	/* seqid: 5 bytes accepted, a 6th or bits beyond 32 not */
	static const uint8_t seq5[] = "\x82\x81\xff\xff\xff\xff\x0f\x09"
				      "emitBatch";
	static const uint8_t seq6[] = "\x82\x81\xff\xff\xff\xff\x8f\x01\x09"
				      "emitBatch";
	static const uint8_t seq33[] = "\x82\x81\xff\xff\xff\xff\x1f\x09"
				       "emitBatch";
	cr_expect_eq(kt_jaeger_message_start(seq5, sizeof(seq5) - 1), 1);
	cr_expect_eq(kt_jaeger_message_start(seq6, sizeof(seq6) - 1), 0);
	cr_expect_eq(kt_jaeger_message_start(seq33, sizeof(seq33) - 1), 0);
	static const uint8_t other[] = "\x82\x81\x01\x0f"
				       "emitZipkinBatch";
	cr_expect_eq(kt_jaeger_message_start(other, sizeof(other) - 1), 0);
}

/* ------------------------------------------------------------ decode: truncations */

Test(jaeger_decode, every_truncation_fails_cleanly)
{
	static const char *const files[] = {"jaeger_emitbatch_compact_1.bin",
					    "jaeger_emitbatch_compact_2.bin"};
	for (size_t f = 0; f < 2; f++) {
		size_t n;
		uint8_t *p = vec(files[f], &n);
		for (size_t len = 0; len < n; len++) {
			struct dec d;
			decode(&d, p, len, NULL, ARENA_LIMIT);
			cr_expect_eq(d.rc, -1, "%s cut at %zu decoded", files[f], len);
			cr_expect(strstr(d.err.msg, "truncated"), "%s cut at %zu: %s", files[f], len,
				  d.err.msg);
			cr_expect(batch_is_zero(&d.b));
			kt_arena_free(&d.a);
		}
		/* ... and one byte more is trailing garbage. */
		uint8_t *more = malloc(n + 1);
		memcpy(more, p, n);
		more[n] = 0;
		struct dec d;
		decode(&d, more, n + 1, NULL, ARENA_LIMIT);
		cr_expect_eq(d.rc, -1);
		cr_expect_str_eq(d.err.msg, "1 trailing bytes after the message");
		kt_arena_free(&d.a);
		free(more);
		free(p);
	}
}

/* ------------------------------------------------------------ mapping rules */

static const struct jw_span base = {
	.trace_lo = 0x1111, .trace_hi = 0x2222, .span_id = 0x3333, .parent = 0x4444,
	.name = "op", .flags = 1, .start = 1700000000000000, .duration = 5,
};

static void one_span(struct tcw *w, const struct jw_span *s, void (*extra)(struct tcw *))
{
	tcw_init(w);
	jw_one_span(w, s, extra);
}

/* A message with one span (base) carrying the given tags; decoded, checked to succeed. */
static void span_with_tags(struct dec *d, const struct jw_kv *tags, size_t n, const char *what)
{
	struct tcw w;
	tcw_init(&w);
	jw_begin(&w, "svc", 1);
	jw_span(&w, &base);
	jw_tags(&w, 10, tags, n);
	tcw_stop(&w);
	jw_end(&w);
	expect_ok(d, &w, what);
	tcw_free(&w);
}

Test(jaeger_mapping, span_kind)
{
	static const char *const kinds[] = {"client", "server", "producer", "consumer",
					    "internal"};
	for (int k = 0; k <= KT_KIND_INTERNAL; k++) {
		const struct jw_kv tags[] = {{"span.kind", JW_STR(kinds[k])}, {"x", JW_LONG(1)}};
		struct dec d;
		span_with_tags(&d, tags, 2, kinds[k]);
		const struct kt_span *s = &d.b.spans[0];
		cr_expect_eq(s->kind, (enum kt_span_kind)k);
		cr_expect_eq(s->attrs.n, 1, "span.kind not removed");
		cr_expect_null(attr_of(s, "span.kind"));
		kt_arena_free(&d.a);
	}
	/* Other values stay attributes (the model has no "unspecified"). */
	const struct jw_kv odd[][1] = {{{"span.kind", JW_STR("Server")}},
				       {{"span.kind", JW_LONG(1)}}};
	for (size_t i = 0; i < 2; i++) {
		struct dec d;
		span_with_tags(&d, odd[i], 1, "odd kind");
		cr_expect_eq(d.b.spans[0].kind, KT_KIND_INTERNAL);
		cr_expect_not_null(attr_of(&d.b.spans[0], "span.kind"));
		kt_arena_free(&d.a);
	}
}

Test(jaeger_mapping, status)
{
	static const struct {
		struct jw_kv tags[3];
		size_t n;
		enum kt_status_code code;
		const char *msg;
		size_t attrs;
	} cases[] = {
		{{{"error", JW_BOOL(true)},
		  {"otel.status_description", JW_STR("boom")},
		  {"otel.status_code", JW_STR("OK")}},
		 3, KT_STATUS_ERROR, "boom", 0},
		{{{"error", JW_BOOL(false)}, {"otel.status_description", JW_STR("boom")}},
		 2, KT_STATUS_UNSET, "", 2},
		{{{"otel.status_code", JW_STR("ok")}, {"otel.status_description", JW_STR("fine")}},
		 2, KT_STATUS_OK, "fine", 0},
		{{{"otel.status_code", JW_STR("ERROR")}}, 1, KT_STATUS_ERROR, "", 0},
		/* only a bool error tag counts */
		{{{"error", JW_STR("true")}}, 1, KT_STATUS_UNSET, "", 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dec d;
		span_with_tags(&d, cases[i].tags, cases[i].n, "status");
		const struct kt_span *s = &d.b.spans[0];
		cr_expect_eq(s->status_code, cases[i].code, "case %zu", i);
		cr_expect_str_eq(s->status_message.ptr, cases[i].msg, "case %zu", i);
		cr_expect_eq(s->attrs.n, cases[i].attrs, "case %zu", i);
		kt_arena_free(&d.a);
	}
}

Test(jaeger_mapping, repeated_keys_keep_first_place_last_value)
{
	static const struct jw_kv tags[] = {
		{"a", JW_LONG(1)},	   {"b", JW_STR("x")},	   {"a", JW_STR("second")},
		{"c", JW_BOOL(true)},	   {"a", JW_DOUBLE(2.5)},
	};
	struct dec d;
	span_with_tags(&d, tags, 5, "dups");
	const struct kt_kvlist *l = &d.b.spans[0].attrs;
	cr_assert_eq(l->n, 3);
	cr_expect_str_eq(l->kv[0].key.ptr, "a");
	cr_expect_eq(l->kv[0].value.type, KT_VAL_F64);
	cr_expect_eq(l->kv[0].value.f, 2.5);
	cr_expect_str_eq(l->kv[1].key.ptr, "b");
	cr_expect_str_eq(l->kv[2].key.ptr, "c");
	kt_arena_free(&d.a);
}

static void refs_mixed(struct tcw *w)
{
	jw_list(w, 6, 3);
	jw_ref(w, 1, 0x1111, 0x2222, 5); /* FOLLOWS_FROM, same trace */
	jw_ref(w, 0, 0x9999, 0x2222, 6); /* CHILD_OF, another trace */
	jw_ref(w, 0, 0x1111, 0x2222, 7); /* CHILD_OF, same trace: the parent */
}

static void refs_follows_only(struct tcw *w)
{
	jw_list(w, 6, 1);
	jw_ref(w, 1, 0x1111, 0x2222, 5);
}

Test(jaeger_mapping, parent_and_links_from_references)
{
	struct jw_span s0 = base;
	s0.parent = 0;
	struct tcw w;
	struct dec d;
	one_span(&w, &s0, refs_mixed);
	expect_ok(&d, &w, "refs");
	const struct kt_span *s = &d.b.spans[0];
	cr_expect_eq(s->parent_span_id, 7);
	cr_assert_eq(s->n_links, 2);
	cr_expect(s->links_present);
	cr_expect_eq(s->links[0].ctx.span_id, 5);
	cr_expect_eq(s->links[0].ctx.trace_id.hi, 0x2222);
	cr_expect_eq(s->links[0].ctx.trace_id.lo, 0x1111);
	cr_expect_str_eq(s->links[0].attrs.kv[0].key.ptr, "opentracing.ref_type");
	cr_expect_str_eq(s->links[0].attrs.kv[0].value.s.ptr, "follows_from");
	cr_expect_eq(s->links[1].ctx.span_id, 6);
	cr_expect_eq(s->links[1].ctx.trace_id.lo, 0x9999);
	cr_expect_str_eq(s->links[1].attrs.kv[0].value.s.ptr, "child_of");
	kt_arena_free(&d.a);
	tcw_free(&w);

	/* Only FOLLOWS_FROM: it names the parent and stays a link. */
	one_span(&w, &s0, refs_follows_only);
	expect_ok(&d, &w, "follows");
	cr_expect_eq(d.b.spans[0].parent_span_id, 5);
	cr_expect_eq(d.b.spans[0].n_links, 1);
	kt_arena_free(&d.a);
	tcw_free(&w);

	/* An explicit parent wins; CHILD_OF references to other spans are links. */
	one_span(&w, &base, refs_mixed);
	expect_ok(&d, &w, "explicit parent");
	cr_expect_eq(d.b.spans[0].parent_span_id, 0x4444);
	cr_expect_eq(d.b.spans[0].n_links, 3);
	kt_arena_free(&d.a);
	tcw_free(&w);

	/* No parent, no references: a root span without links. */
	one_span(&w, &s0, NULL);
	expect_ok(&d, &w, "root");
	cr_expect_eq(d.b.spans[0].parent_span_id, 0);
	cr_expect_eq(d.b.spans[0].n_links, 0);
	cr_expect_not(d.b.spans[0].links_present);
	cr_expect_not(d.b.spans[0].events_present);
	kt_arena_free(&d.a);
	tcw_free(&w);
}

static void logs(struct tcw *w)
{
	jw_list(w, 11, 3);
	/* no "event" field */
	jw_log(w, 1700000000000001, 1);
	jw_tag(w, "message", JW_STR("hello"));
	tcw_stop(w);
	/* "event" not a string: kept as an attribute */
	jw_log(w, 0, 1);
	jw_tag(w, "event", JW_LONG(3));
	tcw_stop(w);
	/* "event" twice: the last value names it; fields before timestamp */
	tcw_struct(w);
	jw_list(w, 2, 3);
	jw_tag(w, "event", JW_STR("first"));
	jw_tag(w, "k", JW_BOOL(false));
	jw_tag(w, "event", JW_STR("second"));
	tcw_field(w, 1, T_I64);
	tcw_i64(w, 5);
	tcw_stop(w);
}

Test(jaeger_mapping, logs_to_events)
{
	struct tcw w;
	struct dec d;
	one_span(&w, &base, logs);
	expect_ok(&d, &w, "logs");
	const struct kt_span *s = &d.b.spans[0];
	cr_assert_eq(s->n_events, 3);
	cr_expect(s->events_present);
	cr_expect_str_eq(s->events[0].name.ptr, "");
	cr_expect_eq(s->events[0].time_unix_nano, 1700000000000001000ull);
	cr_expect_eq(s->events[0].attrs.n, 1);
	cr_expect_str_eq(s->events[1].name.ptr, "");
	cr_expect_eq(s->events[1].attrs.n, 1);
	cr_expect_str_eq(s->events[1].attrs.kv[0].key.ptr, "event");
	cr_expect_str_eq(s->events[2].name.ptr, "second");
	cr_expect_eq(s->events[2].time_unix_nano, 5000);
	cr_expect_eq(s->events[2].attrs.n, 1);
	kt_arena_free(&d.a);
	tcw_free(&w);
}

Test(jaeger_mapping, binary_tags_as_base64)
{
	static const uint8_t bytes[] = {0, 1, 2, 3, 0xff};
	static const char *const keys[] = {"b0", "b1", "b2", "b3", "b4", "b5"};
	static const char *const want[] = {"", "AA==", "AAE=", "AAEC", "AAECAw==", "AAECA/8="};
	struct jw_kv tags[6];
	for (size_t n = 0; n < 6; n++)
		tags[n] = (struct jw_kv){keys[n], JW_BIN(bytes, n)};
	struct dec d;
	span_with_tags(&d, tags, 6, "binary");
	const struct kt_kvlist *l = &d.b.spans[0].attrs;
	cr_assert_eq(l->n, 6);
	for (size_t i = 0; i < 6; i++) {
		cr_expect_eq(l->kv[i].value.type, KT_VAL_STRING);
		cr_expect_str_eq(l->kv[i].value.s.ptr, want[i]);
		cr_expect_eq(l->kv[i].value.s.len, strlen(want[i]));
	}
	kt_arena_free(&d.a);
}

static void absent_values(struct tcw *w)
{
	jw_list(w, 10, 4);
	for (int t = 0; t < 4; t++) {
		char key[2] = {(char)('a' + t), 0};
		tcw_struct(w);
		tcw_field(w, 1, T_BIN);
		tcw_str(w, key);
		tcw_field(w, 2, T_I32);
		tcw_i32(w, t);
		tcw_stop(w);
	}
}

Test(jaeger_mapping, absent_tag_values_are_zero)
{
	struct tcw w;
	struct dec d;
	one_span(&w, &base, absent_values);
	expect_ok(&d, &w, "absent");
	const struct kt_kvlist *l = &d.b.spans[0].attrs;
	cr_assert_eq(l->n, 4);
	cr_expect(l->kv[0].value.type == KT_VAL_STRING && l->kv[0].value.s.len == 0);
	cr_expect(l->kv[1].value.type == KT_VAL_F64 && l->kv[1].value.f == 0);
	cr_expect(l->kv[2].value.type == KT_VAL_BOOL && !l->kv[2].value.b);
	cr_expect(l->kv[3].value.type == KT_VAL_I64 && l->kv[3].value.i == 0);
	kt_arena_free(&d.a);
	tcw_free(&w);
}

Test(jaeger_mapping, flags_times_ids)
{
	static const int32_t flags[] = {0, 1, 2, 3, -1};
	static const uint8_t want[] = {0, 1, 0, 1, 1};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct jw_span s0 = base;
		s0.flags = flags[i];
		s0.trace_lo = -1;
		s0.trace_hi = INT64_MIN;
		s0.span_id = -2;
		s0.start = 0;
		s0.duration = 0;
		struct tcw w;
		struct dec d;
		one_span(&w, &s0, NULL);
		expect_ok(&d, &w, "flags");
		const struct kt_span *s = &d.b.spans[0];
		char hex[33];
		cr_expect_eq(s->ctx.trace_flags, want[i], "flags %d", flags[i]);
		kt_trace_id_hex(&s->ctx.trace_id, hex);
		cr_expect_str_eq(hex, "8000000000000000ffffffffffffffff");
		kt_span_id_hex(s->ctx.span_id, hex);
		cr_expect_str_eq(hex, "fffffffffffffffe");
		cr_expect_eq(s->start_unix_nano, 0);
		cr_expect_eq(s->end_unix_nano, 0);
		kt_arena_free(&d.a);
		tcw_free(&w);
	}
}

/* Process tags: renames, service.name override, absent serviceName. */
static void process_case(const char *service, void (*tags)(struct tcw *), struct dec *d)
{
	struct tcw w;
	tcw_init(&w);
	tcw_header(&w, 4, 7, "emitBatch");
	tcw_struct(&w);
	tcw_field(&w, 1, T_STRUCT);
	tcw_struct(&w);
	tcw_field(&w, 2, T_LIST); /* spans before process */
	tcw_list(&w, T_STRUCT, 2);
	jw_span(&w, &base);
	tcw_stop(&w);
	jw_span(&w, &base);
	tcw_stop(&w);
	tcw_field_long(&w, 1, T_STRUCT);
	tcw_struct(&w);
	tcw_field(&w, 1, T_BIN);
	tcw_str(&w, service);
	tcw_field(&w, 2, T_LIST);
	tags(&w);
	tcw_stop(&w);
	jw_end(&w);
	expect_ok(d, &w, "process");
	cr_expect_eq(d->b.seqid, 7);
	cr_assert_eq(d->b.n_spans, 2);
	for (size_t i = 0; i < 2; i++) {
		cr_expect(d->b.spans[i].resource_present);
		cr_expect_eq(d->b.spans[i].resource.kv, d->b.resource.kv);
		cr_expect_eq(d->b.spans[i].resource.n, d->b.resource.n);
	}
	tcw_free(&w);
}

static void tags_override(struct tcw *w)
{
	tcw_list(w, T_STRUCT, 4);
	jw_tag(w, "hostname", JW_STR("h1"));
	jw_tag(w, "host.name", JW_STR("h2"));
	jw_tag(w, "jaeger.version", JW_LONG(2));
	jw_tag(w, "service.name", JW_STR("override"));
}

static void tags_none(struct tcw *w)
{
	tcw_list(w, T_STRUCT, 1);
	jw_tag(w, "hostname", JW_STR("h1"));
}

Test(jaeger_mapping, process_to_resource)
{
	struct dec d;
	process_case("svc", tags_override, &d);
	const struct kt_kvlist *r = &d.b.resource;
	cr_assert_eq(r->n, 4);
	cr_expect_str_eq(r->kv[0].key.ptr, "service.name");
	cr_expect_str_eq(r->kv[0].value.s.ptr, "override");
	cr_expect_str_eq(r->kv[1].key.ptr, "hostname"); /* host.name present: kept as is */
	cr_expect_str_eq(r->kv[2].key.ptr, "host.name");
	cr_expect_str_eq(r->kv[3].key.ptr, "opencensus.exporterversion");
	cr_expect_str_eq(r->kv[3].value.s.ptr, "Jaeger-");
	cr_expect_str_eq(d.b.service_name.ptr, "svc");
	kt_arena_free(&d.a);

	process_case("", tags_none, &d);
	cr_assert_eq(d.b.resource.n, 1);
	cr_expect_str_eq(d.b.resource.kv[0].key.ptr, "host.name");
	kt_arena_free(&d.a);
}

/* Unknown fields of every type, everywhere, in any order, long-form ids. */
static void unknown_value(struct tcw *w, int16_t id)
{
	tcw_field_long(w, id, T_MAP);
	tcw_map(w, T_BIN, T_LIST, 2);
	tcw_str(w, "k1");
	tcw_list(w, T_I32, 2);
	tcw_i32(w, -5);
	tcw_i32(w, 5);
	tcw_str(w, "k2");
	tcw_list(w, T_BOOL, 3);
	tcw_byte(w, 1);
	tcw_byte(w, 0);
	tcw_byte(w, 2);
	tcw_field_long(w, (int16_t)(id + 1), T_SET);
	tcw_list_long(w, T_DOUBLE, 1);
	tcw_double(w, 1.5);
	tcw_field_long(w, (int16_t)(id + 2), T_STRUCT);
	tcw_struct(w);
	tcw_field(w, 1, T_UUID);
	tcw_bytes(w, "0123456789abcdef", 16);
	tcw_field(w, 2, T_BYTE);
	tcw_byte(w, 0x80);
	tcw_field(w, 3, T_I16);
	tcw_i32(w, -32768);
	tcw_bool_field(w, 4, true);
	tcw_field(w, 5, T_MAP);
	tcw_map(w, 0, 0, 0);
	tcw_field_long(w, -3, T_LIST);
	tcw_list(w, T_STRUCT, 1);
	tcw_struct(w);
	tcw_stop(w);
	tcw_stop(w);
}

static void span_unknown(struct tcw *w)
{
	tcw_bool_field(w, 12, true); /* Span.incomplete (newer IDL) */
	unknown_value(w, 100);
	jw_list(w, 10, 1);
	tcw_struct(w);
	unknown_value(w, 9);
	tcw_field_long(w, 2, T_I32);
	tcw_i32(w, 3);
	tcw_field_long(w, 1, T_BIN);
	tcw_str(w, "k");
	tcw_field(w, 6, T_I64);
	tcw_i64(w, 42);
	tcw_stop(w);
}

Test(jaeger_mapping, unknown_fields_are_skipped)
{
	struct tcw w;
	tcw_init(&w);
	tcw_header(&w, 1, 0, "emitBatch"); /* CALL is accepted too */
	tcw_struct(&w);
	unknown_value(&w, 5);
	tcw_field_long(&w, 1, T_STRUCT);
	tcw_struct(&w);
	tcw_field(&w, 3, T_I64); /* Batch.seqNo */
	tcw_i64(&w, 9);
	unknown_value(&w, 4);
	tcw_field_long(&w, 1, T_STRUCT);
	tcw_struct(&w);
	unknown_value(&w, 3);
	tcw_field_long(&w, 1, T_BIN);
	tcw_str(&w, "svc");
	tcw_stop(&w);
	tcw_field_long(&w, 2, T_LIST);
	tcw_list(&w, T_STRUCT, 1);
	/* Span fields in reverse order */
	tcw_struct(&w);
	span_unknown(&w);
	tcw_field_long(&w, 9, T_I64);
	tcw_i64(&w, 10);
	tcw_field_long(&w, 8, T_I64);
	tcw_i64(&w, 20);
	tcw_field_long(&w, 7, T_I32);
	tcw_i32(&w, 1);
	tcw_field_long(&w, 5, T_BIN);
	tcw_str(&w, "reversed");
	tcw_field_long(&w, 4, T_I64);
	tcw_i64(&w, 0);
	tcw_field_long(&w, 3, T_I64);
	tcw_i64(&w, 3);
	tcw_field_long(&w, 2, T_I64);
	tcw_i64(&w, 2);
	tcw_field_long(&w, 1, T_I64);
	tcw_i64(&w, 1);
	tcw_stop(&w);
	tcw_stop(&w);
	tcw_stop(&w);
	struct dec d;
	expect_ok(&d, &w, "unknown fields");
	cr_expect_eq(d.b.msg_type, KT_TC_CALL);
	cr_expect_eq(d.b.seqid, 0);
	cr_assert_eq(d.b.n_spans, 1);
	const struct kt_span *s = &d.b.spans[0];
	cr_expect_str_eq(s->name.ptr, "reversed");
	cr_expect_eq(s->ctx.trace_id.lo, 1);
	cr_expect_eq(s->ctx.trace_id.hi, 2);
	cr_expect_eq(s->ctx.span_id, 3);
	cr_expect_eq(s->start_unix_nano, 20000);
	cr_expect_eq(s->end_unix_nano, 30000);
	cr_assert_eq(s->attrs.n, 1);
	cr_expect_eq(s->attrs.kv[0].value.i, 42);
	kt_arena_free(&d.a);
	tcw_free(&w);
}

Test(jaeger_mapping, empty_batch)
{
	struct tcw w;
	tcw_init(&w);
	jw_begin(&w, "svc", 0);
	jw_end(&w);
	struct dec d;
	expect_ok(&d, &w, "empty");
	cr_expect_eq(d.b.n_spans, 0);
	cr_expect_eq(d.b.resource.n, 1);
	kt_arena_free(&d.a);
	tcw_free(&w);
}

/* ------------------------------------------------------------ hostile input */

/* An unknown field that makes a struct longer than the smallest valid one. */
static void pad(struct tcw *w)
{
	tcw_field(w, 50, T_BIN);
	tcw_str(w, "padding to pass the minimum size");
}

/*
 * A message whose one span gets `extra` fields fails with needle; through
 * the stream, the message after it still decodes unless a length swallows it.
 */
static void span_fails_then(void (*extra)(struct tcw *), const char *needle, bool next_survives)
{
	struct tcw w;
	one_span(&w, &base, extra);
	expect_fail(&w, needle, needle);
	/* The stream reports it and goes on with the next message. */
	size_t n;
	uint8_t *p = vec("jaeger_emitbatch_compact_2.bin", &n);
	tcw_bytes(&w, p, n);
	static const size_t map[] = {1};
	struct got g = {.map = map};
	struct kt_jaeger_stream s;
	kt_jaeger_stream_init(&s, NULL, &ops, &g);
	kt_jaeger_stream_push(&s, w.p, w.n);
	kt_jaeger_stream_finish(&s);
	cr_expect_eq(g.batches, next_survives ? 1 : 0, "%s: %s", needle, g.all_errors);
	cr_expect_eq(g.mismatches, 0, "%s", g.diff);
	cr_expect_geq(g.errors, 1);
	if (next_survives)
		cr_expect(strstr(g.all_errors, needle), "%s: %s", needle, g.all_errors);
	expect_accounted(&s);
	kt_jaeger_stream_free(&s);
	free(p);
	tcw_free(&w);
}

static void span_fails(void (*extra)(struct tcw *), const char *needle)
{
	span_fails_then(extra, needle, true);
}

static void huge_tags(struct tcw *w)
{
	tcw_field(w, 10, T_LIST);
	tcw_list_long(w, T_STRUCT, 0x7fffffff);
}

static void negative_tags(struct tcw *w)
{
	tcw_field(w, 10, T_LIST);
	tcw_list_long(w, T_STRUCT, 0x80000000u);
}

static void long_size(struct tcw *w)
{
	tcw_field(w, 10, T_LIST);
	tcw_byte(w, 0xfc);
	tcw_bytes(w, "\xff\xff\xff\xff\x80\x01", 6);
}

static void huge_map(struct tcw *w)
{
	tcw_field(w, 50, T_MAP);
	tcw_map(w, T_I64, T_I64, 100000);
}

Test(jaeger_hostile, huge_counts)
{
	span_fails(huge_tags, "list of 2147483647 elements");
	span_fails(negative_tags, "negative as an i32");
	span_fails(long_size, "longer than 5 bytes");
	span_fails(huge_map, "map of 100000 elements");
}

static void deep_lists(struct tcw *w)
{
	tcw_field(w, 50, T_LIST);
	for (int i = 0; i < 100; i++)
		tcw_list(w, T_LIST, 1);
	tcw_list(w, T_I32, 0);
}

static void deep_structs(struct tcw *w)
{
	tcw_field(w, 50, T_STRUCT);
	for (int i = 0; i < 100; i++) {
		tcw_struct(w);
		tcw_field(w, 1, T_STRUCT);
	}
	for (int i = 0; i <= 100; i++)
		tcw_stop(w);
}

static void deep_maps(struct tcw *w)
{
	tcw_field(w, 50, T_MAP);
	for (int i = 0; i < 100; i++) {
		tcw_map(w, T_I32, T_MAP, 1);
		tcw_i32(w, i);
	}
	tcw_map(w, 0, 0, 0);
}

Test(jaeger_hostile, deep_nesting)
{
	span_fails(deep_lists, "nesting deeper than 64");
	span_fails(deep_structs, "nesting deeper than 64");
	span_fails(deep_maps, "nesting deeper than 64");
}

static void str_2_31(struct tcw *w)
{
	tcw_field(w, 50, T_BIN);
	tcw_varint(w, 1ull << 31);
}

static void str_2_31_minus_1(struct tcw *w)
{
	tcw_field(w, 50, T_BIN);
	tcw_varint(w, (1ull << 31) - 1);
	tcw_str(w, "short");
}

static void str_past_end(struct tcw *w)
{
	tcw_field_long(w, 5, T_BIN);
	tcw_varint(w, 1000);
	tcw_str(w, "short");
}

Test(jaeger_hostile, string_lengths)
{
	span_fails(str_2_31, "binary length 2147483648");
	span_fails(str_2_31_minus_1, "binary length 2147483647");
	span_fails_then(str_past_end, "binary length 1000", false);
}

static void w_trace_as_string(struct tcw *w)
{
	tcw_field_long(w, 1, T_BIN);
	tcw_str(w, "x");
}
static void w_tags_struct(struct tcw *w)
{
	tcw_field(w, 10, T_STRUCT);
	tcw_struct(w);
	tcw_stop(w);
}
static void w_tags_of_i64(struct tcw *w)
{
	tcw_field(w, 10, T_LIST);
	tcw_list(w, T_I64, 1);
	tcw_i64(w, 1);
}
static void w_vtype_i64(struct tcw *w)
{
	jw_list(w, 10, 1);
	tcw_struct(w);
	tcw_field(w, 1, T_BIN);
	tcw_str(w, "k");
	tcw_field(w, 2, T_I64);
	tcw_i64(w, 0);
	tcw_stop(w);
}
static void w_vbool_i32(struct tcw *w)
{
	jw_list(w, 10, 1);
	tcw_struct(w);
	tcw_field(w, 1, T_BIN);
	tcw_str(w, "k");
	tcw_field(w, 2, T_I32);
	tcw_i32(w, 2);
	tcw_field(w, 5, T_I32);
	tcw_i32(w, 1);
	tcw_stop(w);
}
static void w_flags_bool(struct tcw *w)
{
	tcw_bool_field(w, 7, true);
}

Test(jaeger_hostile, wrong_types)
{
	span_fails(w_trace_as_string, "traceIdLow: expected i64, found binary");
	span_fails(w_tags_struct, "tags: expected list, found struct");
	span_fails(w_tags_of_i64, "tags: list of i64, want a list of struct");
	span_fails(w_vtype_i64, "tags[0].vType: expected i32, found i64");
	span_fails(w_vbool_i32, "tags[0].vBool: expected bool, found i32");
	span_fails(w_flags_bool, "flags: expected i32, found bool");
}

static void bad_utf8_name(struct tcw *w)
{
	tcw_field_long(w, 5, T_BIN);
	tcw_str(w, "ok\xff");
}
static void bad_utf8_key(struct tcw *w)
{
	jw_list(w, 10, 1);
	jw_tag(w, "\xc0\x80", JW_STR("v"));
}
static void bad_utf8_value(struct tcw *w)
{
	jw_list(w, 10, 1);
	jw_tag(w, "k", JW_STR("\xed\xa0\x80"));
}
static void bad_utf8_log(struct tcw *w)
{
	jw_list(w, 11, 1);
	jw_log(w, 1, 1);
	jw_tag(w, "event", JW_STR("\xf4\x90\x80\x80"));
	tcw_stop(w);
}

Test(jaeger_hostile, invalid_utf8)
{
	span_fails(bad_utf8_name, "operationName: invalid UTF-8");
	span_fails(bad_utf8_key, "tags[0].key: invalid UTF-8");
	span_fails(bad_utf8_value, "tags[0].vStr: invalid UTF-8");
	span_fails(bad_utf8_log, "logs[0].fields[0].vStr: invalid UTF-8");
	/* Bytes that are not UTF-8 in an unused vStr or in a binary tag are fine. */
}

static void vtype_range(struct tcw *w)
{
	jw_list(w, 10, 1);
	tcw_struct(w);
	tcw_field(w, 1, T_BIN);
	tcw_str(w, "k");
	tcw_field(w, 2, T_I32);
	tcw_i32(w, 5);
	tcw_stop(w);
}
static void reftype_range(struct tcw *w)
{
	jw_list(w, 6, 1);
	jw_ref(w, 2, 1, 1, 1);
}
static void ref_missing(struct tcw *w)
{
	jw_list(w, 6, 1);
	tcw_struct(w);
	tcw_field(w, 1, T_I32);
	tcw_i32(w, 0);
	pad(w);
	tcw_stop(w);
}
static void tag_missing_type(struct tcw *w)
{
	jw_list(w, 10, 1);
	tcw_struct(w);
	tcw_field(w, 1, T_BIN);
	tcw_str(w, "k");
	tcw_stop(w);
}
static void log_missing_fields(struct tcw *w)
{
	jw_list(w, 11, 1);
	tcw_struct(w);
	tcw_field(w, 1, T_I64);
	tcw_i64(w, 1);
	tcw_stop(w);
}
static void log_negative_time(struct tcw *w)
{
	jw_list(w, 11, 1);
	jw_log(w, -1, 0);
	tcw_stop(w);
}

Test(jaeger_hostile, values_and_required_fields)
{
	span_fails(vtype_range, "tags[0].vType: TagType 5 out of range 0..4");
	span_fails(reftype_range, "references[0].refType: SpanRefType 2 out of range 0..1");
	span_fails(ref_missing, "references[0]: missing required field 2 (traceIdLow)");
	span_fails(tag_missing_type, "tags[0]: missing required field 2 (vType)");
	span_fails(log_missing_fields, "logs[0]: missing required field 2 (fields)");
	span_fails(log_negative_time, "logs[0].timestamp: time -1 us out of range");
}

Test(jaeger_hostile, span_times_and_required_fields)
{
	struct {
		int64_t start, duration;
		const char *needle;
	} cases[] = {
		{-1, 0, "startTime: time -1 us out of range"},
		{0, -1, "duration: negative duration -1 us"},
		{INT64_MAX, 1, "duration: start + duration overflows"},
		{(int64_t)(UINT64_MAX / 1000) + 1, 0,
		 "startTime: time 18446744073709552 us out of range"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jw_span s0 = base;
		s0.start = cases[i].start;
		s0.duration = cases[i].duration;
		struct tcw w;
		one_span(&w, &s0, NULL);
		expect_fail(&w, cases[i].needle, cases[i].needle);
		tcw_free(&w);
	}
	/* A span without spanId; a batch without process; args without batch. */
	struct tcw w;
	tcw_init(&w);
	jw_begin(&w, "svc", 1);
	tcw_struct(&w);
	tcw_field(&w, 1, T_I64);
	tcw_i64(&w, 1);
	pad(&w);
	tcw_stop(&w);
	jw_end(&w);
	expect_fail(&w, "batch.spans[0]: missing required field 2 (traceIdHigh)", "span");
	tcw_free(&w);

	tcw_init(&w);
	tcw_header(&w, 4, 1, "emitBatch");
	tcw_struct(&w);
	tcw_field(&w, 1, T_STRUCT);
	tcw_struct(&w);
	jw_list(&w, 2, 0);
	jw_end(&w);
	expect_fail(&w, "batch: missing required field 1 (process)", "batch");
	tcw_free(&w);

	tcw_init(&w);
	tcw_header(&w, 4, 1, "emitBatch");
	tcw_struct(&w);
	tcw_stop(&w);
	expect_fail(&w, "missing required field 1 (batch)", "args");
	tcw_free(&w);
}

static void varint_11(struct tcw *w)
{
	tcw_field(w, 50, T_I64);
	tcw_bytes(w, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x80\x01", 11);
}
static void varint_i64_overflow(struct tcw *w)
{
	tcw_field(w, 50, T_I64);
	tcw_bytes(w, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
}
static void varint_i32_overflow(struct tcw *w)
{
	tcw_field(w, 50, T_I32);
	tcw_bytes(w, "\xff\xff\xff\xff\x10", 5);
}
static void id_out_of_range(struct tcw *w)
{
	tcw_byte(w, T_I32);
	tcw_varint(w, 80000); /* zigzag 40000 */
	tcw_i32(w, 1);
}
static void id_overflow(struct tcw *w)
{
	tcw_field_long(w, 32767, T_I32);
	tcw_i32(w, 1);
	tcw_byte(w, 0x15);
	tcw_i32(w, 1);
}
static void bad_field_type(struct tcw *w)
{
	tcw_byte(w, 0x1e);
}
static void bad_elem_type(struct tcw *w)
{
	tcw_field(w, 50, T_LIST);
	tcw_byte(w, 0x10);
}
static void bad_bool_elem(struct tcw *w)
{
	tcw_field(w, 50, T_LIST);
	tcw_list(w, T_BOOL, 1);
	tcw_byte(w, 3);
}

Test(jaeger_hostile, malformed_wire)
{
	span_fails(varint_11, "longer than 10 bytes");
	span_fails(varint_i64_overflow, "overflows 64 bits");
	span_fails(varint_i32_overflow, "overflows 32 bits");
	span_fails(id_out_of_range, "i16 at offset");
	span_fails(id_overflow, "field id overflows i16");
	span_fails(bad_field_type, "invalid field type 14");
	span_fails(bad_elem_type, "invalid element type 0");
	span_fails(bad_bool_elem, "bool element 0x03");
}

Test(jaeger_hostile, message_header)
{
	struct {
		uint8_t id, tv;
		const char *name;
		const char *needle;
	} cases[] = {
		{0x80, 0x81, "emitBatch", "protocol id 0x80"},
		{0x82, 0x82, "emitBatch", "compact protocol version 2"},
		{0x82, 0xa1, "emitBatch", "message type 5"},
		{0x82, 0x41, "emitBatch", "message type 2, want ONEWAY"},
		{0x82, 0x81, "emitZipkinBatch", "method \"emitZipkinBatch\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tcw w;
		tcw_init(&w);
		tcw_byte(&w, cases[i].id);
		tcw_byte(&w, cases[i].tv);
		tcw_varint(&w, 1);
		tcw_str(&w, cases[i].name);
		tcw_byte(&w, 0);
		expect_fail(&w, cases[i].needle, cases[i].needle);
		tcw_free(&w);
	}
	struct tcw w;
	tcw_init(&w);
	tcw_byte(&w, 0x82);
	tcw_byte(&w, 0x81);
	tcw_varint(&w, 1);
	tcw_varint(&w, 300);
	for (int i = 0; i < 300; i++)
		tcw_byte(&w, 'a');
	expect_fail(&w, "method name of 300 bytes", "long name");
	tcw_free(&w);

	expect_fail_lim(&(struct tcw){0}, NULL, ARENA_LIMIT, "truncated", "empty");
	struct dec d;
	kt_arena_init(&d.a, ARENA_LIMIT);
	cr_expect_eq(kt_jaeger_decode(NULL, 0, NULL, &d.a, &d.b, NULL), -1);
	kt_arena_free(&d.a);
}

static void many_tags(struct tcw *w)
{
	jw_list(w, 10, 3);
	jw_tag(w, "a", JW_LONG(1));
	jw_tag(w, "b", JW_LONG(1));
	jw_tag(w, "c", JW_LONG(1));
}

static void many_logs_refs(struct tcw *w)
{
	jw_list(w, 6, 2);
	jw_ref(w, 1, 1, 1, 1);
	jw_ref(w, 1, 1, 1, 2);
}

Test(jaeger_hostile, limits)
{
	struct kt_jaeger_limits lim;
	struct tcw w;

	kt_jaeger_limits_default(&lim);
	lim.max_tags = 2;
	one_span(&w, &base, many_tags);
	expect_fail_lim(&w, &lim, ARENA_LIMIT, "tags: 3 elements, more than the limit of 2", "tags");
	tcw_free(&w);

	kt_jaeger_limits_default(&lim);
	lim.max_refs = 1;
	one_span(&w, &base, many_logs_refs);
	expect_fail_lim(&w, &lim, ARENA_LIMIT, "references: 2 elements, more than the limit of 1",
			"refs");
	tcw_free(&w);

	kt_jaeger_limits_default(&lim);
	lim.max_spans = 1;
	tcw_init(&w);
	jw_begin(&w, "svc", 2);
	jw_span(&w, &base);
	tcw_stop(&w);
	jw_span(&w, &base);
	tcw_stop(&w);
	jw_end(&w);
	expect_fail_lim(&w, &lim, ARENA_LIMIT, "spans: 2 elements, more than the limit of 1",
			"spans");
	/* The arena limit. */
	expect_fail_lim(&w, NULL, 600, "arena limit reached", "arena");
	tcw_free(&w);
}

/* ------------------------------------------------------------ list limits at their bound */

static uint32_t count_n; /* elements the builders below write */

static void n_span_tags(struct tcw *w)
{
	char key[16];
	jw_list(w, 10, count_n);
	for (uint32_t i = 0; i < count_n; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		jw_tag(w, key, JW_LONG(i));
	}
}

static void n_logs(struct tcw *w)
{
	jw_list(w, 11, count_n);
	for (uint32_t i = 0; i < count_n; i++) {
		jw_log(w, 1700000000000000 + i, 0);
		tcw_stop(w);
	}
}

static void n_log_fields(struct tcw *w)
{
	char key[16];
	jw_list(w, 11, 1);
	jw_log(w, 1700000000000000, count_n);
	for (uint32_t i = 0; i < count_n; i++) {
		snprintf(key, sizeof(key), "f%u", i);
		jw_tag(w, key, JW_LONG(i));
	}
	tcw_stop(w);
}

static void n_refs(struct tcw *w)
{
	jw_list(w, 6, count_n);
	for (uint32_t i = 0; i < count_n; i++)
		jw_ref(w, 1, 1, 1, (int64_t)i + 1);
}

enum lim_kind { LIM_SPAN_TAGS, LIM_LOG_FIELDS, LIM_PROCESS_TAGS, LIM_LOGS, LIM_REFS, LIM_SPANS };

/* A message with n elements of the kind. */
static void counted(struct tcw *w, enum lim_kind k, uint32_t n)
{
	char key[16];
	count_n = n;
	switch (k) {
	case LIM_SPAN_TAGS:
		one_span(w, &base, n_span_tags);
		break;
	case LIM_LOG_FIELDS:
		one_span(w, &base, n_log_fields);
		break;
	case LIM_LOGS:
		one_span(w, &base, n_logs);
		break;
	case LIM_REFS:
		one_span(w, &base, n_refs);
		break;
	case LIM_SPANS:
		tcw_init(w);
		jw_begin(w, "svc", n);
		for (uint32_t i = 0; i < n; i++) {
			jw_span(w, &base);
			tcw_stop(w);
		}
		jw_end(w);
		break;
	case LIM_PROCESS_TAGS:
		tcw_init(w);
		tcw_header(w, 4, 1, "emitBatch");
		tcw_struct(w); /* emitBatch_args */
		tcw_field(w, 1, T_STRUCT);
		tcw_struct(w); /* Batch */
		tcw_field(w, 1, T_STRUCT);
		tcw_struct(w); /* Process */
		tcw_field(w, 1, T_BIN);
		tcw_str(w, "svc");
		jw_list(w, 2, n);
		for (uint32_t i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "p%u", i);
			jw_tag(w, key, JW_LONG(i));
		}
		tcw_stop(w); /* Process */
		jw_list(w, 2, 1);
		jw_span(w, &base);
		tcw_stop(w);
		jw_end(w);
		break;
	}
}

/* What a decoded message shows of its n elements. */
static size_t counted_got(const struct kt_jaeger_batch *b, enum lim_kind k)
{
	switch (k) {
	case LIM_SPAN_TAGS:
		return b->spans[0].attrs.n;
	case LIM_LOG_FIELDS:
		return b->spans[0].events[0].attrs.n;
	case LIM_LOGS:
		return b->spans[0].n_events;
	case LIM_SPANS:
		return b->n_spans;
	case LIM_PROCESS_TAGS:
		return b->resource.n - 1; /* and service.name */
	case LIM_REFS:
		break;
	}
	return count_n;
}

Test(jaeger_hostile, limits_at_their_bounds)
{
	static const struct {
		enum lim_kind k;
		const char *what;
	} kinds[] = {
		{ LIM_SPAN_TAGS, "tags" }, { LIM_LOG_FIELDS, "fields" }, { LIM_PROCESS_TAGS, "tags" },
		{ LIM_LOGS, "logs" },	    { LIM_REFS, "references" },	  { LIM_SPANS, "spans" },
	};
	static const uint32_t limits[] = { 1, 7 };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		for (size_t j = 0; j < 2; j++) {
			uint32_t limit = limits[j];
			struct kt_jaeger_limits lim;
			kt_jaeger_limits_default(&lim);
			switch (kinds[i].k) {
			case LIM_SPAN_TAGS:
			case LIM_LOG_FIELDS:
			case LIM_PROCESS_TAGS:
				lim.max_tags = limit;
				break;
			case LIM_LOGS:
				lim.max_logs = limit;
				break;
			case LIM_REFS:
				lim.max_refs = limit;
				break;
			case LIM_SPANS:
				lim.max_spans = limit;
				break;
			}
			/* Exactly the limit decodes. */
			struct tcw w;
			counted(&w, kinds[i].k, limit);
			struct dec d;
			decode(&d, w.p, w.n, &lim, ARENA_LIMIT);
			cr_expect_eq(d.rc, 0, "%zu %s at a limit of %u: %s", (size_t)limit,
				     kinds[i].what, limit, d.err.msg);
			if (d.rc == 0)
				cr_expect_eq(counted_got(&d.b, kinds[i].k), limit, "kind %zu", i);
			kt_arena_free(&d.a);
			tcw_free(&w);
			/* One more does not. */
			char needle[96];
			snprintf(needle, sizeof(needle), "%s: %u elements, more than the limit of %u",
				 kinds[i].what, limit + 1, limit);
			counted(&w, kinds[i].k, limit + 1);
			expect_fail_lim(&w, &lim, ARENA_LIMIT, needle, kinds[i].what);
			tcw_free(&w);
		}
	}
}

/*
 * The densest valid messages within the stream's cap decode within the
 * stream's arena sizing (64 x the message + 64 KiB): minimal tags, logs,
 * references, spans.
 */
Test(jaeger_hostile, densest_messages_fit_the_arena)
{
	for (int kind = 0; kind < 4; kind++) {
		struct kt_jaeger_limits lim;
		kt_jaeger_limits_default(&lim);
		lim.max_tags = lim.max_logs = lim.max_refs = lim.max_spans = 100000;
		struct tcw w;
		tcw_init(&w);
		static const uint32_t counts[] = {12000, 12000, 7000, 3800};
		uint32_t n = counts[kind];
		jw_begin(&w, "", kind == 3 ? n : 1);
		for (uint32_t sp = 0; sp < (kind == 3 ? n : 1); sp++) {
			struct jw_span s0 = base;
			s0.start = s0.duration = 0;
			s0.trace_lo = s0.trace_hi = s0.span_id = s0.parent = 0;
			s0.name = "";
			jw_span(&w, &s0);
			if (kind < 3) {
				tcw_field(&w, kind == 0 ? 10 : kind == 1 ? 11 : 6, T_LIST);
				tcw_list(&w, T_STRUCT, n);
			}
			for (uint32_t i = 0; kind < 3 && i < n; i++) {
				tcw_struct(&w);
				if (kind == 0) { /* Tag: key "", vType 3 */
					tcw_field(&w, 1, T_BIN);
					tcw_str(&w, "");
					tcw_field(&w, 2, T_I32);
					tcw_i32(&w, 3);
				} else if (kind == 1) { /* Log: timestamp 0, no fields */
					tcw_field(&w, 1, T_I64);
					tcw_i64(&w, 0);
					jw_list(&w, 2, 0);
				} else { /* SpanRef to span 1 */
					tcw_field(&w, 1, T_I32);
					tcw_i32(&w, 1);
					tcw_field(&w, 2, T_I64);
					tcw_i64(&w, 0);
					tcw_field(&w, 3, T_I64);
					tcw_i64(&w, 0);
					tcw_field(&w, 4, T_I64);
					tcw_i64(&w, 1);
				}
				tcw_stop(&w);
			}
			tcw_stop(&w);
		}
		jw_end(&w);
		cr_assert_leq(w.n, KT_JAEGER_DEFAULT_MAX_MESSAGE, "kind %d: %zu bytes", kind, w.n);
		struct dec d;
		decode(&d, w.p, w.n, &lim, w.n * 64 + (64u << 10));
		cr_expect_eq(d.rc, 0, "kind %d (%zu bytes): %s", kind, w.n, d.err.msg);
		kt_arena_free(&d.a);
		tcw_free(&w);
	}
}

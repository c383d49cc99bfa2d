/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata 1.x: one Agent.emitBatch message (jaeger.thrift / agent.thrift,
 * Thrift compact protocol) -> struct kt_span, one per Jaeger span
 * (jaeger_map.h). Mapping and limits: docs/decoders.md "Kata 1.x: Jaeger
 * thrift compact".
 *
 * Fields may come in any order and unknown fields (newer IDLs add some) are
 * skipped; a known field with another wire type, a missing required field,
 * an enum value out of range, invalid UTF-8 or a time out of range fails the
 * whole message with a message naming the field.
 */
#include "kata1/jaeger_map.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base64.h"
#include "model/decode_ctx.h"
#include "base/utf8.h"

/* Smallest valid encodings (required fields only, one-byte varints). */
#define MIN_TAG	 5  /* key, vType, stop */
#define MIN_LOG	 5  /* timestamp, fields, stop */
#define MIN_REF	 9  /* refType, traceIdLow, traceIdHigh, spanId, stop */
#define MIN_SPAN 17 /* 8 required fields, stop */

enum tag_type {
	TAG_STRING = 0,
	TAG_DOUBLE = 1,
	TAG_BOOL = 2,
	TAG_LONG = 3,
	TAG_BINARY = 4,
};

enum ref_type {
	REF_CHILD_OF = 0,
	REF_FOLLOWS_FROM = 1,
};

static const char empty[] = "";

struct jd {
	struct kt_dctx d;
	struct kt_tc_reader r;
	const struct kt_jaeger_limits *lim;
};

void kt_jaeger_limits_default(struct kt_jaeger_limits *l)
{
	l->max_message = KT_JAEGER_DEFAULT_MAX_MESSAGE;
	l->arena_limit = 0;
	l->max_spans = 4096;
	l->max_tags = 1024;
	l->max_logs = 1024;
	l->max_refs = 256;
}

/* ------------------------------------------------------------ wire helpers */

/* The reader failed: its message, under the current field path. */
static int rfail(struct jd *j)
{
	kt_dctx_set_error(&j->d, "%s", j->r.msg);
	return -1;
}

static int want_type(struct jd *j, const struct kt_tc_field *f, enum kt_tc_type want)
{
	enum kt_tc_type got = f->type == KT_TC_BOOL_FALSE ? KT_TC_BOOL_TRUE : f->type;
	if (got == want)
		return 0;
	char b1[16], b2[16];
	return kt_dctx_fail(&j->d, "expected %s, found %s at offset %zu",
			    kt_tc_type_name(want, b1, sizeof(b1)), kt_tc_type_name(got, b2, sizeof(b2)),
			    j->r.pos);
}

static int rd_i64(struct jd *j, const struct kt_tc_field *f, int64_t *v)
{
	if (want_type(j, f, KT_TC_I64))
		return -1;
	return kt_tc_read_i64(&j->r, v) ? rfail(j) : 0;
}

static int rd_i32(struct jd *j, const struct kt_tc_field *f, int32_t *v)
{
	if (want_type(j, f, KT_TC_I32))
		return -1;
	return kt_tc_read_i32(&j->r, v) ? rfail(j) : 0;
}

static int rd_double(struct jd *j, const struct kt_tc_field *f, double *v)
{
	if (want_type(j, f, KT_TC_DOUBLE))
		return -1;
	return kt_tc_read_double(&j->r, v) ? rfail(j) : 0;
}

static int rd_raw(struct jd *j, const struct kt_tc_field *f, const uint8_t **p, size_t *n)
{
	if (want_type(j, f, KT_TC_BINARY))
		return -1;
	return kt_tc_read_binary(&j->r, p, n) ? rfail(j) : 0;
}

/* Validated UTF-8, copied into the arena. */
static int to_str(struct jd *j, const uint8_t *p, size_t n, struct kt_str *out)
{
	size_t bad = kt_utf8_check(p, n);
	if (bad != n)
		return kt_dctx_fail(&j->d, "invalid UTF-8 at offset %zu",
				    (size_t)(p - j->r.p) + bad);
	return kt_dctx_str(&j->d, p, n, out);
}

static int rd_str(struct jd *j, const struct kt_tc_field *f, struct kt_str *out)
{
	const uint8_t *p;
	size_t n;
	return rd_raw(j, f, &p, &n) || to_str(j, p, n, out) ? -1 : 0;
}

static uint32_t bit(int16_t id)
{
	return id > 0 && id < 32 ? 1u << id : 0;
}

/*
 * A struct: each field whose id has a name in names[1..n_names) is read by
 * fn under that name in the error path; other fields are skipped. Then every
 * field named in `required` must have been present.
 */
typedef int (*field_fn)(struct jd *j, void *ctx, const struct kt_tc_field *f);

static int rd_struct(struct jd *j, const char *const *names, size_t n_names, uint32_t required,
		     field_fn fn, void *ctx)
{
	struct kt_tc_struct st;
	struct kt_tc_field f;
	uint32_t seen = 0;

	if (kt_tc_struct_begin(&j->r, &st))
		return rfail(j);
	for (;;) {
		if (kt_tc_read_field(&j->r, &st, &f))
			return rfail(j);
		if (f.type == KT_TC_STOP)
			break;
		if (f.id < 1 || (size_t)f.id >= n_names || !names[f.id]) {
			if (kt_tc_skip_field(&j->r, &f))
				return rfail(j);
			continue;
		}
		size_t mark = kt_dctx_field(&j->d, names[f.id]);
		if (fn(j, ctx, &f))
			return -1;
		kt_dctx_pop(&j->d, mark);
		seen |= bit(f.id);
	}
	kt_tc_leave(&j->r);
	for (size_t i = 1; i < n_names; i++)
		if ((required >> i & 1) && !(seen >> i & 1))
			return kt_dctx_fail(&j->d, "missing required field %zu (%s)", i, names[i]);
	return 0;
}

#define FIELDS(names) names, sizeof(names) / sizeof(names[0])

/*
 * list<struct> into a new array of *n items of `size` bytes, each read by
 * item. The count is bounded by max and by the bytes left at min_elem bytes
 * an element (its smallest valid encoding), which bounds what the elements
 * can make us allocate.
 */
static int rd_structs(struct jd *j, const struct kt_tc_field *f, size_t min_elem, uint32_t max,
		      size_t size, int (*item)(struct jd *, void *), void **out, size_t *n)
{
	struct kt_tc_list l;
	char b[16];
	if (want_type(j, f, KT_TC_LIST))
		return -1;
	if (kt_tc_read_list(&j->r, &l, 1))
		return rfail(j);
	if (l.elem != KT_TC_STRUCT)
		return kt_dctx_fail(&j->d, "list of %s, want a list of struct",
				    kt_tc_type_name(l.elem, b, sizeof(b)));
	if (l.size > max)
		return kt_dctx_fail(&j->d, "%u elements, more than the limit of %u", l.size, max);
	if (l.size > (j->r.n - j->r.pos) / min_elem)
		return kt_dctx_fail(&j->d,
				    "truncated: %u elements of at least %zu bytes at offset %zu "
				    "cannot fit in the %zu bytes left",
				    l.size, min_elem, j->r.pos, j->r.n - j->r.pos);
	char *arr = kt_dctx_alloc(&j->d, l.size, size);
	if (!arr)
		return -1;
	for (size_t i = 0; i < l.size; i++) {
		size_t mark = kt_dctx_index(&j->d, i);
		if (item(j, arr + i * size))
			return -1;
		kt_dctx_pop(&j->d, mark);
	}
	kt_tc_leave(&j->r);
	*out = arr;
	*n = l.size;
	return 0;
}

/* µs since the epoch -> ns; negative or beyond u64 ns fails. */
static int micros(struct jd *j, int64_t us, uint64_t *ns)
{
	if (us < 0 || (uint64_t)us > UINT64_MAX / 1000)
		return kt_dctx_fail(&j->d, "time %lld us out of range", (long long)us);
	*ns = (uint64_t)us * 1000;
	return 0;
}

/* ------------------------------------------------------------ attributes */

static int base64(struct jd *j, const uint8_t *p, size_t n, struct kt_str *out)
{
	char *s = kt_dctx_alloc(&j->d, KT_BASE64_ENCODED_LEN(n) + 1, 1);
	if (!s)
		return -1;
	out->ptr = s;
	out->len = kt_base64_encode(p, n, s);
	return 0;
}

/* Tag { 1: key, 2: vType, 3: vStr, 4: vDouble, 5: vBool, 6: vLong, 7: vBinary } */
static const char *const tag_fields[] = {NULL,	    "key",   "vType", "vStr",
					 "vDouble", "vBool", "vLong", "vBinary"};

struct tag_wire {
	struct kt_kv *kv;
	int32_t vtype;
	const uint8_t *str, *bin;
	size_t str_n, bin_n;
	double dbl;
	bool b;
	int64_t lng;
};

static int tag_field(struct jd *j, void *ctx, const struct kt_tc_field *f)
{
	struct tag_wire *t = ctx;
	switch (f->id) {
	case 1:
		return rd_str(j, f, &t->kv->key);
	case 2:
		return rd_i32(j, f, &t->vtype);
	case 3:
		return rd_raw(j, f, &t->str, &t->str_n);
	case 4:
		return rd_double(j, f, &t->dbl);
	case 5:
		t->b = f->bool_value;
		return want_type(j, f, KT_TC_BOOL_TRUE);
	case 6:
		return rd_i64(j, f, &t->lng);
	default:
		return rd_raw(j, f, &t->bin, &t->bin_n);
	}
}

/* A tag as an attribute; an absent value field reads as its zero value, as Thrift's getters do. */
static int rd_tag(struct jd *j, void *item)
{
	struct tag_wire t = {.kv = item, .str = (const uint8_t *)empty, .bin = (const uint8_t *)empty};
	struct kt_value *v = &t.kv->value;
	if (rd_struct(j, FIELDS(tag_fields), bit(1) | bit(2), tag_field, &t))
		return -1;
	size_t mark = kt_dctx_field(&j->d, tag_fields[t.vtype == TAG_STRING ? 3 : 2]);
	switch (t.vtype) {
	case TAG_STRING:
		v->type = KT_VAL_STRING;
		if (to_str(j, t.str, t.str_n, &v->s))
			return -1;
		break;
	case TAG_DOUBLE:
		v->type = KT_VAL_F64;
		v->f = t.dbl;
		break;
	case TAG_BOOL:
		v->type = KT_VAL_BOOL;
		v->b = t.b;
		break;
	case TAG_LONG:
		v->type = KT_VAL_I64;
		v->i = t.lng;
		break;
	case TAG_BINARY:
		/* No bytes type in the span model: base64, as older collectors did. */
		v->type = KT_VAL_STRING;
		if (base64(j, t.bin, t.bin_n, &v->s))
			return -1;
		break;
	default:
		return kt_dctx_fail(&j->d, "TagType %d out of range 0..4", (int)t.vtype);
	}
	kt_dctx_pop(&j->d, mark);
	return 0;
}

/*
 * Keys are unique in OpenTelemetry: a repeated key keeps its first place and
 * takes its last value (what a map's put does). Sorting an index keeps this
 * n log n however many keys a hostile list repeats.
 */
struct key_ref {
	const struct kt_str *key;
	size_t idx;
};

static int ref_cmp(const void *x, const void *y)
{
	const struct key_ref *a = x, *b = y;
	size_t n = a->key->len < b->key->len ? a->key->len : b->key->len;
	int r = n ? memcmp(a->key->ptr, b->key->ptr, n) : 0;
	if (!r)
		r = (a->key->len > b->key->len) - (a->key->len < b->key->len);
	if (!r)
		r = (a->idx > b->idx) - (a->idx < b->idx);
	return r;
}

static bool same_key(const struct key_ref *a, const struct key_ref *b)
{
	return a->key->len == b->key->len &&
	       (a->key->len == 0 || memcmp(a->key->ptr, b->key->ptr, a->key->len) == 0);
}

static int unique_keys(struct jd *j, struct kt_kvlist *l)
{
	if (l->n < 2)
		return 0;
	struct key_ref *refs = kt_dctx_alloc(&j->d, l->n, sizeof(*refs));
	bool *gone = refs ? kt_dctx_alloc(&j->d, l->n, sizeof(*gone)) : NULL;
	if (!gone)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		refs[i] = (struct key_ref){&l->kv[i].key, i};
	qsort(refs, l->n, sizeof(*refs), ref_cmp);
	for (size_t g = 0, e; g < l->n; g = e) {
		for (e = g + 1; e < l->n && same_key(&refs[g], &refs[e]); e++)
			gone[refs[e].idx] = true;
		if (e - g > 1)
			l->kv[refs[g].idx].value = l->kv[refs[e - 1].idx].value;
	}
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++)
		if (!gone[i])
			l->kv[k++] = l->kv[i];
	l->n = k;
	return 0;
}

/* list<Tag> -> unique attributes. */
static int rd_tags(struct jd *j, const struct kt_tc_field *f, struct kt_kvlist *out)
{
	void *arr;
	if (rd_structs(j, f, MIN_TAG, j->lim->max_tags, sizeof(*out->kv), rd_tag, &arr, &out->n))
		return -1;
	out->kv = arr;
	return unique_keys(j, out);
}

static struct kt_kv *find(struct kt_kvlist *l, const char *key)
{
	return (struct kt_kv *)kt_kvlist_find(l, key);
}

static void drop(struct kt_kvlist *l, struct kt_kv *kv)
{
	size_t i = (size_t)(kv - l->kv);
	memmove(kv, kv + 1, (l->n - i - 1) * sizeof(*kv));
	l->n--;
}

/* The value of key if it is a string, removed from l; NULL otherwise. */
static const struct kt_str *take_str(struct kt_kvlist *l, const char *key, struct kt_str *out)
{
	struct kt_kv *kv = find(l, key);
	if (!kv || kv->value.type != KT_VAL_STRING)
		return NULL;
	*out = kv->value.s;
	drop(l, kv);
	return out;
}

/* ------------------------------------------------------------ logs, references */

/* Log { 1: timestamp, 2: fields } -> event; an "event" string field names it. */
static const char *const log_fields[] = {NULL, "timestamp", "fields"};

struct log_wire {
	struct kt_event *e;
	int64_t ts;
};

static int log_field(struct jd *j, void *ctx, const struct kt_tc_field *f)
{
	struct log_wire *l = ctx;
	return f->id == 1 ? rd_i64(j, f, &l->ts) : rd_tags(j, f, &l->e->attrs);
}

static int rd_log(struct jd *j, void *item)
{
	struct log_wire l = {.e = item};
	if (rd_struct(j, FIELDS(log_fields), bit(1) | bit(2), log_field, &l))
		return -1;
	size_t mark = kt_dctx_field(&j->d, log_fields[1]);
	if (micros(j, l.ts, &l.e->time_unix_nano))
		return -1;
	kt_dctx_pop(&j->d, mark);
	if (!take_str(&l.e->attrs, "event", &l.e->name))
		l.e->name = (struct kt_str){empty, 0};
	return 0;
}

/* SpanRef { 1: refType, 2: traceIdLow, 3: traceIdHigh, 4: spanId } */
static const char *const ref_fields[] = {NULL, "refType", "traceIdLow", "traceIdHigh", "spanId"};

struct jref {
	int32_t type;
	struct kt_trace_id trace_id;
	uint64_t span_id;
};

static int ref_field(struct jd *j, void *ctx, const struct kt_tc_field *f)
{
	struct jref *ref = ctx;
	int64_t v;
	if (f->id == 1) {
		if (rd_i32(j, f, &ref->type))
			return -1;
		if (ref->type != REF_CHILD_OF && ref->type != REF_FOLLOWS_FROM)
			return kt_dctx_fail(&j->d, "SpanRefType %d out of range 0..1", (int)ref->type);
		return 0;
	}
	if (rd_i64(j, f, &v))
		return -1;
	*(f->id == 2 ? &ref->trace_id.lo : f->id == 3 ? &ref->trace_id.hi : &ref->span_id) =
		(uint64_t)v;
	return 0;
}

static int rd_ref(struct jd *j, void *item)
{
	return rd_struct(j, FIELDS(ref_fields), bit(1) | bit(2) | bit(3) | bit(4), ref_field, item);
}

/* ------------------------------------------------------------ span */

/* Span { 1..11 }, see docs/decoders.md */
enum {
	SPAN_TRACE_LO = 1,
	SPAN_TRACE_HI,
	SPAN_ID,
	SPAN_PARENT,
	SPAN_NAME,
	SPAN_REFS,
	SPAN_FLAGS,
	SPAN_START,
	SPAN_DURATION,
	SPAN_TAGS,
	SPAN_LOGS,
};

static const char *const span_fields[] = {
	NULL,	 "traceIdLow", "traceIdHigh", "spanId",	  "parentSpanId", "operationName",
	"references", "flags",	    "startTime",	"duration", "tags",	  "logs",
};

struct jspan {
	struct kt_span *s;
	int64_t i64[SPAN_DURATION + 1]; /* the i64 fields, by id */
	int32_t flags;
	struct jref *refs;
	size_t n_refs;
};

static bool same_trace(const struct jref *r, const struct kt_trace_id *t)
{
	return r->trace_id.hi == t->hi && r->trace_id.lo == t->lo;
}

/*
 * parentSpanId, or else the first CHILD_OF reference into the same trace,
 * or else the first FOLLOWS_FROM one (Jaeger's model.Span.ParentSpanID).
 */
static uint64_t parent_of(const struct jspan *js, const struct kt_trace_id *t)
{
	const struct jref *follows = NULL;
	if (js->i64[SPAN_PARENT])
		return (uint64_t)js->i64[SPAN_PARENT];
	for (size_t i = 0; i < js->n_refs; i++) {
		if (!same_trace(&js->refs[i], t))
			continue;
		if (js->refs[i].type == REF_CHILD_OF)
			return js->refs[i].span_id;
		if (!follows)
			follows = &js->refs[i];
	}
	return follows ? follows->span_id : 0;
}

/* References other than the CHILD_OF one naming the parent become links. */
static int links(struct jd *j, const struct jspan *js, struct kt_span *s)
{
	static const char ref_type_key[] = "opentracing.ref_type";
	static const char *const ref_names[] = {"child_of", "follows_from"};
	size_t k = 0;
	if (!(s->links = kt_dctx_alloc(&j->d, js->n_refs, sizeof(*s->links))))
		return -1;
	for (size_t i = 0; i < js->n_refs; i++) {
		const struct jref *r = &js->refs[i];
		if (r->type == REF_CHILD_OF && r->span_id == s->parent_span_id)
			continue;
		struct kt_link *l = &s->links[k++];
		l->ctx.trace_id = r->trace_id;
		l->ctx.span_id = r->span_id;
		if (!(l->attrs.kv = kt_dctx_alloc(&j->d, 1, sizeof(*l->attrs.kv))))
			return -1;
		l->attrs.n = 1;
		l->attrs.kv[0].key = (struct kt_str){ref_type_key, sizeof(ref_type_key) - 1};
		l->attrs.kv[0].value.type = KT_VAL_STRING;
		l->attrs.kv[0].value.s = (struct kt_str){ref_names[r->type], strlen(ref_names[r->type])};
	}
	s->n_links = k;
	s->links_present = k > 0;
	return 0;
}

static bool str_ieq(struct kt_str s, const char *lit)
{
	return s.len == strlen(lit) && strncasecmp(s.ptr, lit, s.len) == 0;
}

/* span.kind, error, otel.status_code / otel.status_description tags. */
static void kind_and_status(struct kt_span *s)
{
	static const char *const kinds[] = {
		[KT_KIND_CLIENT] = "client",	 [KT_KIND_SERVER] = "server",
		[KT_KIND_PRODUCER] = "producer", [KT_KIND_CONSUMER] = "consumer",
		[KT_KIND_INTERNAL] = "internal",
	};
	struct kt_kv *kv = find(&s->attrs, "span.kind");
	s->kind = KT_KIND_INTERNAL;
	for (int k = 0; kv && kv->value.type == KT_VAL_STRING && k <= KT_KIND_INTERNAL; k++) {
		if (kt_str_eq(kv->value.s, kinds[k])) {
			s->kind = (enum kt_span_kind)k;
			drop(&s->attrs, kv);
			break;
		}
	}

	struct kt_str msg;
	bool set = false;
	kv = find(&s->attrs, "error");
	if (kv && kv->value.type == KT_VAL_BOOL && kv->value.b) {
		drop(&s->attrs, kv);
		s->status_code = KT_STATUS_ERROR;
		set = true;
	}
	kv = find(&s->attrs, "otel.status_code");
	if (kv) {
		if (!set) {
			set = true;
			if (kv->value.type == KT_VAL_STRING && str_ieq(kv->value.s, "OK"))
				s->status_code = KT_STATUS_OK;
			else if (kv->value.type == KT_VAL_STRING && str_ieq(kv->value.s, "ERROR"))
				s->status_code = KT_STATUS_ERROR;
		}
		drop(&s->attrs, kv);
	}
	s->status_message = (struct kt_str){empty, 0};
	if (set && take_str(&s->attrs, "otel.status_description", &msg))
		s->status_message = msg;
}

static int span_field(struct jd *j, void *ctx, const struct kt_tc_field *f)
{
	struct jspan *js = ctx;
	void *arr;
	switch (f->id) {
	case SPAN_NAME:
		return rd_str(j, f, &js->s->name);
	case SPAN_REFS:
		if (rd_structs(j, f, MIN_REF, j->lim->max_refs, sizeof(*js->refs), rd_ref, &arr,
			       &js->n_refs))
			return -1;
		js->refs = arr;
		return 0;
	case SPAN_FLAGS:
		return rd_i32(j, f, &js->flags);
	case SPAN_TAGS:
		return rd_tags(j, f, &js->s->attrs);
	case SPAN_LOGS:
		if (rd_structs(j, f, MIN_LOG, j->lim->max_logs, sizeof(*js->s->events), rd_log, &arr,
			       &js->s->n_events))
			return -1;
		js->s->events = arr;
		js->s->events_present = js->s->n_events > 0;
		return 0;
	default:
		return rd_i64(j, f, &js->i64[f->id]);
	}
}

static int rd_span(struct jd *j, void *item)
{
	const uint32_t required = bit(SPAN_TRACE_LO) | bit(SPAN_TRACE_HI) | bit(SPAN_ID) |
				  bit(SPAN_PARENT) | bit(SPAN_NAME) | bit(SPAN_FLAGS) |
				  bit(SPAN_START) | bit(SPAN_DURATION);
	struct jspan js = {.s = item};
	struct kt_span *s = js.s;
	if (rd_struct(j, FIELDS(span_fields), required, span_field, &js))
		return -1;

	int64_t start = js.i64[SPAN_START], duration = js.i64[SPAN_DURATION];
	s->ctx.trace_id.hi = (uint64_t)js.i64[SPAN_TRACE_HI];
	s->ctx.trace_id.lo = (uint64_t)js.i64[SPAN_TRACE_LO];
	s->ctx.span_id = (uint64_t)js.i64[SPAN_ID];
	s->ctx.trace_flags = (uint8_t)(js.flags & 1); /* sampled; Jaeger's debug bit is not W3C's */
	s->parent_span_id = parent_of(&js, &s->ctx.trace_id);

	size_t mark = kt_dctx_field(&j->d, span_fields[SPAN_DURATION]);
	if (duration < 0)
		return kt_dctx_fail(&j->d, "negative duration %lld us", (long long)duration);
	if (start > INT64_MAX - duration)
		return kt_dctx_fail(&j->d, "start + duration overflows");
	kt_dctx_pop(&j->d, mark);
	kt_dctx_field(&j->d, span_fields[SPAN_START]);
	if (micros(j, start, &s->start_unix_nano) ||
	    micros(j, start + duration, &s->end_unix_nano))
		return -1;
	kt_dctx_pop(&j->d, mark);
	kt_dctx_field(&j->d, span_fields[SPAN_REFS]);
	if (links(j, &js, s))
		return -1;
	kt_dctx_pop(&j->d, mark);
	kind_and_status(s);
	return 0;
}

/* ------------------------------------------------------------ process, batch */

/* Renames OpenTelemetry's Jaeger receiver applies to process tags. */
static int process_renames(struct jd *j, struct kt_kvlist *res)
{
	static const char host_name[] = "host.name", exporter[] = "opencensus.exporterversion";
	struct kt_kv *kv = find(res, "hostname");
	if (kv && !find(res, host_name))
		kv->key = (struct kt_str){host_name, sizeof(host_name) - 1};
	kv = find(res, "jaeger.version");
	if (kv && !find(res, exporter)) {
		struct kt_str v = kv->value.type == KT_VAL_STRING ? kv->value.s
								  : (struct kt_str){empty, 0};
		char *s = kt_dctx_alloc(&j->d, v.len + 8, 1);
		if (!s)
			return -1;
		memcpy(s, "Jaeger-", 7);
		memcpy(s + 7, v.ptr, v.len);
		kv->key = (struct kt_str){exporter, sizeof(exporter) - 1};
		kv->value.type = KT_VAL_STRING;
		kv->value.s = (struct kt_str){s, v.len + 7};
	}
	return 0;
}

/* Process { 1: serviceName, 2: tags } -> resource: service.name, then the tags. */
static const char *const process_fields[] = {NULL, "serviceName", "tags"};

struct process_wire {
	struct kt_jaeger_batch *b;
	struct kt_kvlist tags;
};

static int process_field(struct jd *j, void *ctx, const struct kt_tc_field *f)
{
	struct process_wire *p = ctx;
	return f->id == 1 ? rd_str(j, f, &p->b->service_name) : rd_tags(j, f, &p->tags);
}

static int rd_process(struct jd *j, struct kt_jaeger_batch *b)
{
	static const char service_key[] = "service.name";
	struct process_wire p = {.b = b};
	if (rd_struct(j, FIELDS(process_fields), bit(1), process_field, &p))
		return -1;

	struct kt_kvlist *res = &b->resource;
	res->n = 0;
	if (!(res->kv = kt_dctx_alloc(&j->d, p.tags.n + 1, sizeof(*res->kv))))
		return -1;
	if (b->service_name.len) {
		res->kv[res->n].key = (struct kt_str){service_key, sizeof(service_key) - 1};
		res->kv[res->n].value.type = KT_VAL_STRING;
		res->kv[res->n++].value.s = b->service_name;
	}
	for (size_t i = 0; i < p.tags.n; i++)
		res->kv[res->n++] = p.tags.kv[i];
	/* A "service.name" tag overrides serviceName, as a later put would. */
	if (unique_keys(j, res))
		return -1;
	return process_renames(j, res);
}

/* Batch { 1: process, 2: spans } (newer IDLs: 3: seqNo, 4: stats, skipped) */
static const char *const batch_fields[] = {NULL, "process", "spans"};

static int batch_field(struct jd *j, void *ctx, const struct kt_tc_field *f)
{
	struct kt_jaeger_batch *b = ctx;
	void *arr;
	if (f->id == 1)
		return want_type(j, f, KT_TC_STRUCT) || rd_process(j, b) ? -1 : 0;
	if (rd_structs(j, f, MIN_SPAN, j->lim->max_spans, sizeof(*b->spans), rd_span, &arr,
		       &b->n_spans))
		return -1;
	b->spans = arr;
	return 0;
}

/* emitBatch_args { 1: Batch batch } */
static const char *const args_fields[] = {NULL, "batch"};

static int args_field(struct jd *j, void *ctx, const struct kt_tc_field *f)
{
	struct kt_jaeger_batch *b = ctx;
	if (want_type(j, f, KT_TC_STRUCT) ||
	    rd_struct(j, FIELDS(batch_fields), bit(1) | bit(2), batch_field, b))
		return -1;
	for (size_t i = 0; i < b->n_spans; i++) {
		b->spans[i].resource_present = true;
		b->spans[i].resource = b->resource;
	}
	return 0;
}

static bool is_emit_batch(const uint8_t *name, size_t n)
{
	return n == 9 && memcmp(name, "emitBatch", 9) == 0;
}

static int rd_message(struct jd *j, struct kt_jaeger_batch *b)
{
	struct kt_tc_msg_header h;
	if (kt_tc_read_message_begin(&j->r, &h))
		return rfail(j);
	if (h.type != KT_TC_ONEWAY && h.type != KT_TC_CALL)
		return kt_dctx_fail(&j->d, "message type %d, want ONEWAY (4) or CALL (1)",
				    (int)h.type);
	if (!is_emit_batch(h.name, h.name_len)) {
		char buf[40];
		struct kt_str name = {(const char *)h.name, h.name_len};
		return kt_dctx_fail(&j->d, "method \"%s\", want \"emitBatch\"",
				    kt_dctx_preview(name, buf, sizeof(buf)));
	}
	b->msg_type = h.type;
	b->version = h.version;
	b->seqid = h.seqid;
	if (kt_dctx_str(&j->d, h.name, h.name_len, &b->method))
		return -1;
	return rd_struct(j, FIELDS(args_fields), bit(1), args_field, b);
}

int kt_jaeger_decode(const uint8_t *p, size_t n, const struct kt_jaeger_limits *lim,
		     struct kt_arena *a, struct kt_jaeger_batch *out, struct kt_decode_error *err)
{
	struct kt_jaeger_limits def;
	struct jd j;

	if (!lim) {
		kt_jaeger_limits_default(&def);
		lim = &def;
	}
	j.lim = lim;
	kt_dctx_init(&j.d, a, err);
	kt_tc_reader_init(&j.r, p, n, 0);
	memset(out, 0, sizeof(*out));
	if (rd_message(&j, out) == 0) {
		if (j.r.pos == n)
			return 0;
		kt_dctx_pop(&j.d, 0);
		kt_dctx_set_error(&j.d, "%zu trailing bytes after the message", n - j.r.pos);
	}
	memset(out, 0, sizeof(*out));
	return -1;
}

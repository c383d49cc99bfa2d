/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bincode-era decoder (Kata 2.2 .. 3.28): bincode 1.3 `serialize` of an
 * opentelemetry 0.14 SpanData, i.e. fixed-width little-endian integers,
 * u64 lengths and counts, u32 enum variant indices, one-byte Option tags,
 * no field names. Layout and grammar: docs/decoders.md.
 *
 * Every length and count is checked against the bytes that remain before
 * anything is allocated, so a frame can never make us allocate more than a
 * small multiple of its own size (and never more than the arena limit).
 */
#include <string.h>

#include "agent/attr_order.h"
#include "agent/decode.h"
#include "base/byte_order.h"
#include "model/decode_ctx.h"
#include "base/utf8.h"

/* Smallest encodings, used to bound counts by the remaining input. */
#define MIN_STR	   8	   /* u64 length */
#define MIN_VALUE  (4 + 1) /* variant + bool */
#define MIN_KV	   (MIN_STR + MIN_VALUE)
#define MIN_TIME   12
#define MIN_CTX	   (16 + 8 + 1 + 1 + 1)
#define MIN_EVENT  (MIN_STR + MIN_TIME + 8 + 4)
#define MIN_LINK   (MIN_CTX + 8 + 4)

struct bc {
	struct kt_dctx d;
	const uint8_t *p;
	size_t n;
	size_t pos;
};

static size_t left(const struct bc *c)
{
	return c->n - c->pos;
}

static int take(struct bc *c, size_t k, const uint8_t **out)
{
	if (left(c) < k) {
		kt_dctx_set_error(&c->d, "truncated: %zu bytes needed at offset %zu, %zu left", k,
				  c->pos, left(c));
		return -1;
	}
	*out = c->p + c->pos;
	c->pos += k;
	return 0;
}

static int rd_u8(struct bc *c, uint8_t *v)
{
	const uint8_t *b;
	if (take(c, 1, &b))
		return -1;
	*v = b[0];
	return 0;
}

static int rd_u32(struct bc *c, uint32_t *v)
{
	const uint8_t *b;
	if (take(c, 4, &b))
		return -1;
	*v = kt_le32(b);
	return 0;
}

static int rd_u64(struct bc *c, uint64_t *v)
{
	const uint8_t *b;
	if (take(c, 8, &b))
		return -1;
	*v = kt_le64(b);
	return 0;
}

/* bool and Option tags: exactly 0 or 1, as bincode itself insists. */
static int rd_flag(struct bc *c, bool *v, const char *what)
{
	uint8_t b;
	if (rd_u8(c, &b))
		return -1;
	if (b > 1)
		return kt_dctx_fail(&c->d, "invalid %s byte 0x%02x at offset %zu", what, b,
				    c->pos - 1);
	*v = b;
	return 0;
}

static int rd_variant(struct bc *c, uint32_t max, uint32_t *v, const char *what)
{
	if (rd_u32(c, v))
		return -1;
	if (*v > max)
		return kt_dctx_fail(&c->d, "%s variant index %u out of range 0..%u", what, *v, max);
	return 0;
}

/* u64 element count, each element at least min_size bytes on the wire. */
static int rd_count(struct bc *c, size_t min_size, size_t *out)
{
	uint64_t v;
	if (rd_u64(c, &v))
		return -1;
	if (v > left(c) / min_size)
		return kt_dctx_fail(&c->d,
				    "count %llu at offset %zu cannot fit in the %zu bytes left",
				    (unsigned long long)v, c->pos - 8, left(c));
	*out = (size_t)v;
	return 0;
}

static int rd_str(struct bc *c, struct kt_str *out)
{
	uint64_t len;
	const uint8_t *b;
	if (rd_u64(c, &len))
		return -1;
	if (len > left(c))
		return kt_dctx_fail(&c->d,
				    "string length %llu at offset %zu exceeds the %zu bytes left",
				    (unsigned long long)len, c->pos - 8, left(c));
	if (take(c, (size_t)len, &b))
		return -1;
	size_t bad = kt_utf8_check(b, (size_t)len);
	if (bad != len)
		return kt_dctx_fail(&c->d, "invalid UTF-8 at offset %zu", (size_t)(b - c->p) + bad);
	return kt_dctx_str(&c->d, b, (size_t)len, out);
}

/* SystemTime: u64 seconds, u32 nanoseconds -> unix nanoseconds. */
static int rd_time(struct bc *c, uint64_t *ns)
{
	uint64_t secs;
	uint32_t nanos;
	if (rd_u64(c, &secs) || rd_u32(c, &nanos))
		return -1;
	return kt_dctx_time(&c->d, secs, nanos, ns);
}

static double f64_bits(uint64_t bits)
{
	double f;
	memcpy(&f, &bits, sizeof(f));
	return f;
}

static int rd_array(struct bc *c, struct kt_value *v)
{
	uint32_t var;
	if (rd_variant(c, 3, &var, "Array"))
		return -1;
	static const size_t elem_size[] = {1, 8, 8, MIN_STR};
	size_t n;
	if (rd_count(c, elem_size[var], &n))
		return -1;
	v->type = KT_VAL_ARRAY_BOOL + var;
	v->arr.n = n;
	switch (var) {
	case 0:
		if (!(v->arr.b = kt_dctx_alloc(&c->d, n, sizeof(bool))))
			return -1;
		for (size_t i = 0; i < n; i++) {
			size_t mark = kt_dctx_index(&c->d, i);
			if (rd_flag(c, &v->arr.b[i], "bool"))
				return -1;
			kt_dctx_pop(&c->d, mark);
		}
		return 0;
	case 1:
		if (!(v->arr.i = kt_dctx_alloc(&c->d, n, sizeof(int64_t))))
			return -1;
		for (size_t i = 0; i < n; i++) {
			uint64_t u;
			if (rd_u64(c, &u))
				return -1;
			v->arr.i[i] = (int64_t)u;
		}
		return 0;
	case 2:
		if (!(v->arr.f = kt_dctx_alloc(&c->d, n, sizeof(double))))
			return -1;
		for (size_t i = 0; i < n; i++) {
			uint64_t u;
			if (rd_u64(c, &u))
				return -1;
			v->arr.f[i] = f64_bits(u);
		}
		return 0;
	default:
		if (!(v->arr.s = kt_dctx_alloc(&c->d, n, sizeof(struct kt_str))))
			return -1;
		for (size_t i = 0; i < n; i++) {
			size_t mark = kt_dctx_index(&c->d, i);
			if (rd_str(c, &v->arr.s[i]))
				return -1;
			kt_dctx_pop(&c->d, mark);
		}
		return 0;
	}
}

static int rd_value(struct bc *c, struct kt_value *v)
{
	uint32_t var;
	uint64_t u;
	if (rd_variant(c, 4, &var, "Value"))
		return -1;
	switch (var) {
	case 0:
		v->type = KT_VAL_BOOL;
		return rd_flag(c, &v->b, "bool");
	case 1:
		v->type = KT_VAL_I64;
		if (rd_u64(c, &u))
			return -1;
		v->i = (int64_t)u;
		return 0;
	case 2:
		v->type = KT_VAL_F64;
		if (rd_u64(c, &u))
			return -1;
		v->f = f64_bits(u); /* NaN and infinities keep their bits */
		return 0;
	case 3:
		v->type = KT_VAL_STRING;
		return rd_str(c, &v->s);
	default:
		return rd_array(c, v);
	}
}

static int rd_kv(struct bc *c, struct kt_kv *kv)
{
	size_t mark = kt_dctx_field(&c->d, "key");
	if (rd_str(c, &kv->key))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "value");
	if (rd_value(c, &kv->value))
		return -1;
	kt_dctx_pop(&c->d, mark);
	return 0;
}

/* Vec<KeyValue>, HashMap<Key, Value> and BTreeMap<Key, Value> share a shape. */
static int rd_kvs(struct bc *c, struct kt_kvlist *l)
{
	if (rd_count(c, MIN_KV, &l->n))
		return -1;
	if (!(l->kv = kt_dctx_alloc(&c->d, l->n, sizeof(*l->kv))))
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		size_t mark = kt_dctx_index(&c->d, i);
		if (rd_kv(c, &l->kv[i]))
			return -1;
		kt_dctx_pop(&c->d, mark);
	}
	return 0;
}

static int rd_trace_state(struct bc *c, struct kt_span_context *ctx)
{
	if (rd_flag(c, &ctx->trace_state_present, "Option tag"))
		return -1;
	if (!ctx->trace_state_present)
		return 0;
	size_t n;
	if (rd_count(c, 2 * MIN_STR, &n))
		return -1;
	ctx->trace_state_n = n;
	if (!(ctx->trace_state = kt_dctx_alloc(&c->d, n, sizeof(*ctx->trace_state))))
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t mark = kt_dctx_index(&c->d, i);
		kt_dctx_field(&c->d, "key");
		if (rd_str(c, &ctx->trace_state[i].key))
			return -1;
		kt_dctx_pop(&c->d, mark + 1);
		kt_dctx_field(&c->d, "value");
		if (rd_str(c, &ctx->trace_state[i].value))
			return -1;
		kt_dctx_pop(&c->d, mark);
	}
	return 0;
}

static int rd_ctx(struct bc *c, struct kt_span_context *ctx)
{
	const uint8_t *b;
	size_t mark = kt_dctx_field(&c->d, "trace_id");
	if (take(c, 16, &b))
		return -1;
	ctx->trace_id.lo = kt_le64(b); /* u128 little-endian: low half first */
	ctx->trace_id.hi = kt_le64(b + 8);
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "span_id");
	if (rd_u64(c, &ctx->span_id))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "trace_flags");
	if (rd_u8(c, &ctx->trace_flags))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "is_remote");
	if (rd_flag(c, &ctx->is_remote, "bool"))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "trace_state");
	if (rd_trace_state(c, ctx))
		return -1;
	kt_dctx_pop(&c->d, mark);
	return 0;
}

static int rd_attributes(struct bc *c, struct kt_span *s)
{
	struct kt_kvlist map;
	size_t m, mark = kt_dctx_field(&c->d, "map");
	if (rd_kvs(c, &map))
		return -1;
	kt_dctx_pop(&c->d, mark);

	kt_dctx_field(&c->d, "evict_list");
	if (rd_count(c, MIN_STR, &m))
		return -1;
	struct kt_str *evict = kt_dctx_alloc(&c->d, m, sizeof(*evict));
	if (!evict)
		return -1;
	for (size_t i = 0; i < m; i++) {
		size_t m2 = kt_dctx_index(&c->d, i);
		if (rd_str(c, &evict[i]))
			return -1;
		kt_dctx_pop(&c->d, m2);
	}
	kt_dctx_pop(&c->d, mark);

	kt_dctx_field(&c->d, "max_len");
	if (rd_u32(c, &s->attrs_max_len))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "dropped_count");
	if (rd_u32(c, &s->attrs_dropped))
		return -1;
	kt_dctx_pop(&c->d, mark);

	kt_dctx_field(&c->d, "map");
	if (kt_attr_order(&c->d, map.kv, map.n, evict, m, &s->attrs))
		return -1;
	kt_dctx_pop(&c->d, mark);
	return 0;
}

static int rd_event(struct bc *c, struct kt_event *e)
{
	size_t mark = kt_dctx_field(&c->d, "name");
	if (rd_str(c, &e->name))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "timestamp");
	if (rd_time(c, &e->time_unix_nano))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "attributes");
	if (rd_kvs(c, &e->attrs))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "dropped_attributes_count");
	if (rd_u32(c, &e->dropped_attributes_count))
		return -1;
	kt_dctx_pop(&c->d, mark);
	return 0;
}

static int rd_link(struct bc *c, struct kt_link *l)
{
	size_t mark = kt_dctx_field(&c->d, "span_context");
	if (rd_ctx(c, &l->ctx))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "attributes");
	if (rd_kvs(c, &l->attrs))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "dropped_attributes_count");
	if (rd_u32(c, &l->dropped_attributes_count))
		return -1;
	kt_dctx_pop(&c->d, mark);
	return 0;
}

/* EvictedQueue<T>: Option<VecDeque<T>>, max_len u32, dropped_count u32. */
static int rd_queue(struct bc *c, bool *present, size_t *n, void **items, size_t item_size,
		    size_t min_size, int (*rd_item)(struct bc *, void *), uint32_t *max_len,
		    uint32_t *dropped)
{
	size_t mark = kt_dctx_field(&c->d, "queue");
	if (rd_flag(c, present, "Option tag"))
		return -1;
	if (*present) {
		if (rd_count(c, min_size, n))
			return -1;
		char *arr = kt_dctx_alloc(&c->d, *n, item_size);
		if (!arr)
			return -1;
		for (size_t i = 0; i < *n; i++) {
			size_t m2 = kt_dctx_index(&c->d, i);
			if (rd_item(c, arr + i * item_size))
				return -1;
			kt_dctx_pop(&c->d, m2);
		}
		*items = arr;
	}
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "max_len");
	if (rd_u32(c, max_len))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "dropped_count");
	if (rd_u32(c, dropped))
		return -1;
	kt_dctx_pop(&c->d, mark);
	return 0;
}

static int rd_event_item(struct bc *c, void *e)
{
	return rd_event(c, e);
}

static int rd_link_item(struct bc *c, void *l)
{
	return rd_link(c, l);
}

static int rd_resource(struct bc *c, struct kt_span *s)
{
	if (rd_flag(c, &s->resource_present, "Option tag"))
		return -1;
	if (!s->resource_present)
		return 0;
	size_t mark = kt_dctx_field(&c->d, "attrs");
	/* BTreeMap: already sorted on the wire; kept in wire order. */
	if (rd_kvs(c, &s->resource) || kt_kv_unique(&c->d, s->resource.kv, s->resource.n))
		return -1;
	kt_dctx_pop(&c->d, mark);
	return 0;
}

static int rd_span(struct bc *c, struct kt_span *s)
{
	uint32_t var;
	void *items;
	size_t mark = kt_dctx_field(&c->d, "span_context");
	if (rd_ctx(c, &s->ctx))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "parent_span_id");
	if (rd_u64(c, &s->parent_span_id))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "span_kind");
	if (rd_variant(c, KT_KIND_INTERNAL, &var, "SpanKind"))
		return -1;
	s->kind = (enum kt_span_kind)var;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "name");
	if (rd_str(c, &s->name))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "start_time");
	if (rd_time(c, &s->start_unix_nano))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "end_time");
	if (rd_time(c, &s->end_unix_nano))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "attributes");
	if (rd_attributes(c, s))
		return -1;
	kt_dctx_pop(&c->d, mark);

	kt_dctx_field(&c->d, "events");
	items = NULL;
	if (rd_queue(c, &s->events_present, &s->n_events, &items, sizeof(struct kt_event),
		     MIN_EVENT, rd_event_item, &s->events_max_len, &s->events_dropped))
		return -1;
	s->events = items;
	kt_dctx_pop(&c->d, mark);

	kt_dctx_field(&c->d, "links");
	items = NULL;
	if (rd_queue(c, &s->links_present, &s->n_links, &items, sizeof(struct kt_link), MIN_LINK,
		     rd_link_item, &s->links_max_len, &s->links_dropped))
		return -1;
	s->links = items;
	kt_dctx_pop(&c->d, mark);

	kt_dctx_field(&c->d, "status_code");
	if (rd_variant(c, KT_STATUS_ERROR, &var, "StatusCode"))
		return -1;
	s->status_code = (enum kt_status_code)var;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "status_message");
	if (rd_str(c, &s->status_message))
		return -1;
	kt_dctx_pop(&c->d, mark);
	kt_dctx_field(&c->d, "resource");
	if (rd_resource(c, s))
		return -1;
	kt_dctx_pop(&c->d, mark);
	return 0;
}

int kt_decode_bincode(const uint8_t *p, size_t n, struct kt_arena *a, struct kt_span *out,
		      struct kt_decode_error *err)
{
	struct bc c = {.p = p, .n = n, .pos = 0};
	kt_dctx_init(&c.d, a, err);
	memset(out, 0, sizeof(*out));
	if (!p && n)
		return kt_dctx_fail(&c.d, "no payload");
	if (rd_span(&c, out) == 0) {
		if (c.pos == n)
			return 0;
		kt_dctx_pop(&c.d, 0);
		kt_dctx_set_error(&c.d, "format mismatch: %zu trailing bytes after a complete span",
				  n - c.pos);
	}
	memset(out, 0, sizeof(*out));
	return -1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reference JSON-era decoder, for tests only: the json-c based decoder that
 * user/agent/decode_json.c replaced, kept unchanged in behaviour as the
 * oracle of the unit tests and of fuzz_decode_json_diff.
 *
 * JSON-era decoder (Kata >= 3.29): serde_json::to_vec of an opentelemetry
 * 0.17 SpanData. Structs are objects read by key name (unknown keys are
 * ignored), newtypes are their inner value, Value/Array are externally
 * tagged ({"I64":5}), SpanKind/StatusCode are strings, the u128 trace id is
 * a bare integer of up to 39 digits. Details: docs/decoders.md.
 *
 * json-c builds the tree; json_scan checks the text strictly and supplies
 * what json-c loses (numbers beyond 64 bits, duplicate keys, keys holding
 * U+0000). Both are matched into a small tree of our own (struct jv) whose
 * numbers keep their source text, so that every integer is parsed exactly
 * and never through a double.
 */
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/attr_order.h"
#include "agent/decode.h"
#include "tests/oracle/decode_json_ref.h"
#include "model/decode_ctx.h"
#include "base/json_scan.h"

/*
 * What json-c 0.16 allocates while it parses, measured on x86_64: an object
 * costs about 800 bytes (its hash table starts with 16 slots), an array
 * about 160, any other value about 64, and string text is held twice.
 */
#define JSONC_OBJECT_COST 800
#define JSONC_ARRAY_COST  160
#define JSONC_VALUE_COST  64

/* SpanData nests containers 7 deep (links.queue[].span_context.trace_state[][]). */
#define JSON_MAX_DEPTH 16

/* The estimate of json-c's tree for n bytes the scan sc counted (counts never exceed n). */
static uint64_t tree_cost(size_t n, const struct kt_json_scan *sc)
{
	return 2 * (uint64_t)n + (uint64_t)sc->n_objs * JSONC_OBJECT_COST +
	       (uint64_t)sc->n_arrays * JSONC_ARRAY_COST + (uint64_t)sc->n_values * JSONC_VALUE_COST;
}

uint64_t kt_decode_json_ref_cost(const uint8_t *p, size_t n)
{
	struct kt_json_scan sc;
	char err[200];
	uint64_t cost = 0;
	if (kt_json_scan(p, n, JSON_MAX_DEPTH, &sc, err, sizeof(err)) == 0)
		cost = tree_cost(n, &sc);
	kt_json_scan_free(&sc);
	return cost;
}

typedef unsigned __int128 u128;

enum jv_type {
	JV_NULL,
	JV_BOOL,
	JV_NUM,
	JV_STR,
	JV_ARR,
	JV_OBJ
};

static const char *const jv_names[] = {"null", "boolean", "number", "string", "array", "object"};

struct jv {
	enum jv_type t;
	union {
		bool b;
		struct {
			const char *txt; /* source text, not NUL-terminated */
			size_t len;
			double d; /* json-c's value of a number with '.' or exponent */
		} num;
		struct kt_str s; /* json-c's string: valid until the tree is put */
		struct {
			size_t n;
			struct jv *v;
		} arr;
		struct {
			size_t n;
			struct kt_str *k; /* arena copies, NUL-terminated */
			struct jv *v;
		} obj;
	};
};

struct jc {
	struct kt_dctx d;
	const uint8_t *src;
	struct kt_json_scan scan;
	size_t ni, ki, oi; /* next number, key, object of the scan */
};

/* ------------------------------------------------------------ tree */

/* Where build() is, for messages: a chain of keys and indices up to the root. */
struct bpath {
	const struct bpath *up;
	const struct kt_str *key; /* NULL: array index */
	size_t idx;
};

static void render(struct jc *c, const struct bpath *bp)
{
	if (!bp)
		return;
	render(c, bp->up);
	if (!bp->key) {
		kt_dctx_index(&c->d, bp->idx);
		return;
	}
	/* Struct fields read better as .name; anything else is shown as a map key. */
	bool ident = bp->key->len > 0;
	for (size_t i = 0; i < bp->key->len; i++) {
		char ch = bp->key->ptr[i];
		if (!(ch == '_' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z')))
			ident = false;
	}
	if (ident)
		kt_dctx_field(&c->d, bp->key->ptr);
	else
		kt_dctx_key(&c->d, *bp->key);
}

static int build(struct jc *c, struct json_object *o, struct jv *out, const struct bpath *bp);

static int decode_key(struct jc *c, const struct kt_json_key *raw, struct kt_str *out)
{
	const uint8_t *p = c->src + raw->off;
	char *k = kt_dctx_alloc(&c->d, raw->len + 1, 1);
	if (!k)
		return -1;
	size_t len = raw->len;
	if (memchr(p, '\\', raw->len))
		len = kt_json_unescape(p, raw->len, k);
	else
		memcpy(k, p, raw->len);
	k[len] = '\0';
	out->ptr = k;
	out->len = len;
	return 0;
}

static int build_key(struct jc *c, const char *jkey, struct kt_str *out)
{
	if (c->ki >= c->scan.n_keys)
		return kt_dctx_fail(&c->d, "JSON parsers disagree on object keys");
	if (decode_key(c, &c->scan.keys[c->ki++], out))
		return -1;
	/* json-c's copy ends at the first U+0000; up to there they must agree. */
	size_t jlen = strlen(jkey);
	if (jlen != strnlen(out->ptr, out->len) || memcmp(jkey, out->ptr, jlen) != 0)
		return kt_dctx_fail(&c->d, "JSON parsers disagree on object keys");
	return 0;
}

/*
 * json-c merged `members` keys into fewer entries: name a repeated key. Keys
 * that differ only after a U+0000 are merged by json-c too; they are refused
 * all the same, since json-c kept only one of the values.
 */
static int duplicate(struct jc *c, size_t obj, size_t members)
{
	struct kt_kv *kv = kt_dctx_alloc(&c->d, members, sizeof(*kv));
	if (!kv)
		return -1;
	size_t k = 0;
	for (size_t i = c->ki; i < c->scan.n_keys && k < members; i++)
		if (c->scan.keys[i].obj == obj && decode_key(c, &c->scan.keys[i], &kv[k++].key))
			return -1;
	if (kt_kv_unique(&c->d, kv, k))
		return -1;
	return kt_dctx_fail(&c->d, "keys equal up to a U+0000 are not supported");
}

static int build_object(struct jc *c, struct json_object *o, struct jv *out, const struct bpath *bp)
{
	size_t n = (size_t)json_object_object_length(o);
	if (c->oi >= c->scan.n_objs)
		return kt_dctx_fail(&c->d, "JSON parsers disagree on objects");
	size_t obj = c->oi++, members = c->scan.members[obj];
	/* json-c keeps one entry per distinct key. */
	if (n != members) {
		render(c, bp);
		return duplicate(c, obj, members);
	}
	out->t = JV_OBJ;
	out->obj.n = n;
	out->obj.k = kt_dctx_alloc(&c->d, n, sizeof(*out->obj.k));
	out->obj.v = out->obj.k ? kt_dctx_alloc(&c->d, n, sizeof(*out->obj.v)) : NULL;
	if (!out->obj.v)
		return -1;
	struct json_object_iterator it = json_object_iter_begin(o);
	struct json_object_iterator end = json_object_iter_end(o);
	/* Entries come in insertion order, i.e. document order. */
	for (size_t i = 0; i < n && !json_object_iter_equal(&it, &end); i++) {
		struct bpath here = {.up = bp, .key = &out->obj.k[i]};
		if (build_key(c, json_object_iter_peek_name(&it), &out->obj.k[i]) ||
		    build(c, json_object_iter_peek_value(&it), &out->obj.v[i], &here))
			return -1;
		json_object_iter_next(&it);
	}
	return 0;
}

/* Pre-order walk in document order, in step with the scan's records. */
static int build(struct jc *c, struct json_object *o, struct jv *out, const struct bpath *bp)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		out->t = JV_NULL;
		return 0;
	case json_type_boolean:
		out->t = JV_BOOL;
		out->b = json_object_get_boolean(o);
		return 0;
	case json_type_int:
	case json_type_double: {
		if (c->ni >= c->scan.n_nums)
			return kt_dctx_fail(&c->d, "JSON parsers disagree on numbers");
		struct kt_json_span sp = c->scan.nums[c->ni++];
		out->t = JV_NUM;
		out->num.txt = (const char *)c->src + sp.off;
		out->num.len = sp.len;
		out->num.d = json_object_get_double(o);
		return 0;
	}
	case json_type_string:
		out->t = JV_STR;
		out->s.ptr = json_object_get_string(o);
		out->s.len = (size_t)json_object_get_string_len(o);
		return 0;
	case json_type_array: {
		size_t n = json_object_array_length(o);
		out->t = JV_ARR;
		out->arr.n = n;
		if (!(out->arr.v = kt_dctx_alloc(&c->d, n, sizeof(*out->arr.v))))
			return -1;
		for (size_t i = 0; i < n; i++) {
			struct bpath here = {.up = bp, .idx = i};
			if (build(c, json_object_array_get_idx(o, i), &out->arr.v[i], &here))
				return -1;
		}
		return 0;
	}
	case json_type_object:
		return build_object(c, o, out, bp);
	}
	return kt_dctx_fail(&c->d, "unexpected JSON type");
}

/* ------------------------------------------------------------ scalars */

static int type_error(struct jc *c, const char *want, const struct jv *v)
{
	return kt_dctx_fail(&c->d, "expected %s, found %s", want, jv_names[v->t]);
}

static int want(struct jc *c, const struct jv *v, enum jv_type t)
{
	return v->t == t ? 0 : type_error(c, jv_names[t], v);
}

static bool is_integer(const struct jv *v)
{
	return v->t == JV_NUM && !memchr(v->num.txt, '.', v->num.len) &&
	       !memchr(v->num.txt, 'e', v->num.len) && !memchr(v->num.txt, 'E', v->num.len);
}

/* Digits of an integer token -> value; false on overflow past max. */
static bool digits(const char *p, size_t len, u128 max, u128 *out)
{
	u128 v = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(p[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* The magnitude of a number token (sign apart) -> value; false on overflow past max. */
static bool magnitude(const struct jv *v, u128 max, u128 *out)
{
	bool neg = v->num.txt[0] == '-';
	return digits(v->num.txt + neg, v->num.len - neg, max, out);
}

static int out_of_range(struct jc *c, const struct jv *v, const char *tname)
{
	return kt_dctx_fail(&c->d, "%.*s out of range for %s",
			    (int)(v->num.len > 48 ? 48 : v->num.len), v->num.txt, tname);
}

static int get_uint(struct jc *c, const struct jv *v, u128 max, const char *tname, u128 *out)
{
	if (!is_integer(v))
		return type_error(c, "integer", v);
	if (v->num.txt[0] == '-' || !digits(v->num.txt, v->num.len, max, out))
		return out_of_range(c, v, tname);
	return 0;
}

static int get_u64(struct jc *c, const struct jv *v, uint64_t *out)
{
	u128 x;
	if (get_uint(c, v, UINT64_MAX, "u64", &x))
		return -1;
	*out = (uint64_t)x;
	return 0;
}

static int get_u32(struct jc *c, const struct jv *v, uint32_t *out)
{
	u128 x;
	if (get_uint(c, v, UINT32_MAX, "u32", &x))
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static int get_i64(struct jc *c, const struct jv *v, int64_t *out)
{
	if (!is_integer(v))
		return type_error(c, "integer", v);
	bool neg = v->num.txt[0] == '-';
	u128 mag;
	if (!magnitude(v, neg ? (u128)INT64_MAX + 1 : (u128)INT64_MAX, &mag))
		return out_of_range(c, v, "i64");
	/* -(2^63) has no positive twin: negate in unsigned arithmetic. */
	*out = neg ? (int64_t)(0 - (uint64_t)mag) : (int64_t)mag;
	return 0;
}

/*
 * F64. serde_json writes NaN and the infinities as null, so null decodes
 * to NaN (the sign and kind of the original value are lost upstream).
 */
static int get_f64(struct jc *c, const struct jv *v, double *out)
{
	if (v->t == JV_NULL) {
		*out = NAN;
		return 0;
	}
	if (v->t != JV_NUM)
		return type_error(c, "number or null", v);
	if (!is_integer(v)) {
		*out = v->num.d;
	} else {
		/* An integer where a float belongs: round to nearest, as serde_json does. */
		u128 mag;
		if (magnitude(v, UINT64_MAX, &mag)) {
			*out = v->num.txt[0] == '-' ? -(double)(uint64_t)mag : (double)(uint64_t)mag;
		} else {
			/* Only a sign and digits: strtod rounds the same and ignores the locale. */
			struct kt_str t;
			if (kt_dctx_str(&c->d, v->num.txt, v->num.len, &t))
				return -1;
			*out = strtod(t.ptr, NULL);
		}
	}
	if (!isfinite(*out))
		return kt_dctx_fail(&c->d, "number out of range for f64");
	return 0;
}

static int get_bool(struct jc *c, const struct jv *v, bool *out)
{
	if (want(c, v, JV_BOOL))
		return -1;
	*out = v->b;
	return 0;
}

static int get_str(struct jc *c, const struct jv *v, struct kt_str *out)
{
	/* The scan validated the raw UTF-8 and every escape. */
	if (want(c, v, JV_STR))
		return -1;
	return kt_dctx_str(&c->d, v->s.ptr, v->s.len, out);
}

static int get_enum(struct jc *c, const struct jv *v, const char *const *names, size_t n,
		    uint32_t *out)
{
	if (want(c, v, JV_STR))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (kt_str_eq(v->s, names[i])) {
			*out = (uint32_t)i;
			return 0;
		}
	}
	char buf[40];
	return kt_dctx_fail(&c->d, "unknown variant \"%s\"",
			    kt_dctx_preview(v->s, buf, sizeof(buf)));
}

/* ------------------------------------------------------------ structure */

static const struct jv *member(const struct jv *o, const char *name)
{
	for (size_t i = 0; i < o->obj.n; i++)
		if (kt_str_eq(o->obj.k[i], name))
			return &o->obj.v[i];
	return NULL;
}

/* Required member: pushes its name; fails (path included) when absent. */
static const struct jv *field(struct jc *c, const struct jv *o, const char *name, size_t *mark)
{
	*mark = kt_dctx_field(&c->d, name);
	const struct jv *v = member(o, name);
	if (!v)
		kt_dctx_set_error(&c->d, "missing field");
	return v;
}

/*
 * The required member `name` of object o, decoded by dec(c, member, ...)
 * with its name on the path; the calling function returns -1 when the
 * member is missing or does not decode.
 */
#define TRY_FIELD(c, o, name, dec, ...)                                                       \
	do {                                                                                  \
		size_t mark_;                                                                 \
		const struct jv *f_ = field(c, o, name, &mark_);                              \
		if (!f_ || dec(c, f_, __VA_ARGS__))                                           \
			return -1;                                                            \
		kt_dctx_pop(&(c)->d, mark_);                                                  \
	} while (0)

static int dec_time(struct jc *c, const struct jv *v, uint64_t *ns)
{
	uint64_t secs;
	uint32_t nanos;
	if (want(c, v, JV_OBJ))
		return -1;
	TRY_FIELD(c, v, "secs_since_epoch", get_u64, &secs);
	TRY_FIELD(c, v, "nanos_since_epoch", get_u32, &nanos);
	return kt_dctx_time(&c->d, secs, nanos, ns);
}

/*
 * An externally tagged enum, {"<Variant>": value}: *var is the variant's
 * index in variants[0..n), *x its value. The variant is entered on the path;
 * *mark leaves it.
 */
static int tagged(struct jc *c, const struct jv *v, const char *const *variants, size_t n,
		  uint32_t *var, const struct jv **x, size_t *mark)
{
	if (want(c, v, JV_OBJ))
		return -1;
	if (v->obj.n != 1)
		return kt_dctx_fail(&c->d, "expected an object with one key, found %zu keys",
				    v->obj.n);
	struct jv tag = {.t = JV_STR, .s = v->obj.k[0]};
	if (get_enum(c, &tag, variants, n, var))
		return -1;
	*x = &v->obj.v[0];
	*mark = kt_dctx_field(&c->d, variants[*var]);
	return 0;
}

/*
 * The variants of a Value; an Array has the first four, the scalars, in the
 * order of enum kt_value_type (KT_VAL_BOOL + var, KT_VAL_ARRAY_BOOL + var).
 */
static const char *const value_variants[] = {"Bool", "I64", "F64", "String", "Array"};
static const size_t scalar_size[] = {sizeof(bool), sizeof(int64_t), sizeof(double),
				     sizeof(struct kt_str)};

/* The scalar of variant var: x into *out, a bool, int64_t, double or struct kt_str. */
static int get_scalar(struct jc *c, const struct jv *x, uint32_t var, void *out)
{
	switch (var) {
	case 0:
		return get_bool(c, x, out);
	case 1:
		return get_i64(c, x, out);
	case 2:
		return get_f64(c, x, out);
	default:
		return get_str(c, x, out);
	}
}

/* Array: {"Bool":[…]}, {"I64":[…]}, {"F64":[…]}, {"String":[…]}. */
static int dec_array(struct jc *c, const struct jv *v, struct kt_value *out)
{
	uint32_t var;
	const struct jv *a;
	size_t mark;
	if (tagged(c, v, value_variants, 4, &var, &a, &mark) || want(c, a, JV_ARR))
		return -1;
	size_t n = a->arr.n;
	out->type = KT_VAL_ARRAY_BOOL + var;
	out->arr.n = n;
	char *items = kt_dctx_alloc(&c->d, n, scalar_size[var]);
	if (!items)
		return -1;
	out->arr.b = (bool *)items;
	for (size_t i = 0; i < n; i++) {
		size_t m2 = kt_dctx_index(&c->d, i);
		if (get_scalar(c, &a->arr.v[i], var, items + i * scalar_size[var]))
			return -1;
		kt_dctx_pop(&c->d, m2);
	}
	kt_dctx_pop(&c->d, mark);
	return 0;
}

/* Externally tagged Value: {"Bool":true}, {"I64":5}, {"Array":{"F64":[…]}} … */
static int dec_value(struct jc *c, const struct jv *v, struct kt_value *out)
{
	uint32_t var;
	const struct jv *x;
	size_t mark;
	if (tagged(c, v, value_variants, 5, &var, &x, &mark))
		return -1;
	if (var == 4) {
		kt_dctx_pop(&c->d, mark);
		return dec_array(c, x, out);
	}
	void *const dst[] = {&out->b, &out->i, &out->f, &out->s};
	out->type = KT_VAL_BOOL + var;
	if (get_scalar(c, x, var, dst[var]))
		return -1;
	kt_dctx_pop(&c->d, mark);
	return 0;
}

static int new_kvlist(struct jc *c, size_t n, struct kt_kvlist *out)
{
	out->n = n;
	out->kv = kt_dctx_alloc(&c->d, n, sizeof(*out->kv));
	return out->kv ? 0 : -1;
}

/* Vec<KeyValue>: [{"key":"k","value":{…}}, …] */
static int dec_kv_array(struct jc *c, const struct jv *v, struct kt_kvlist *out)
{
	if (want(c, v, JV_ARR) || new_kvlist(c, v->arr.n, out))
		return -1;
	for (size_t i = 0; i < out->n; i++) {
		const struct jv *e = &v->arr.v[i];
		size_t mark = kt_dctx_index(&c->d, i);
		if (want(c, e, JV_OBJ))
			return -1;
		TRY_FIELD(c, e, "key", get_str, &out->kv[i].key);
		TRY_FIELD(c, e, "value", dec_value, &out->kv[i].value);
		kt_dctx_pop(&c->d, mark);
	}
	return 0;
}

/* HashMap / BTreeMap<Key, Value>: {"k":{…}, …}, kept in document order. */
static int dec_kv_object(struct jc *c, const struct jv *v, struct kt_kvlist *out)
{
	if (want(c, v, JV_OBJ) || new_kvlist(c, v->obj.n, out))
		return -1;
	for (size_t i = 0; i < out->n; i++) {
		size_t mark = kt_dctx_key(&c->d, v->obj.k[i]);
		out->kv[i].key = v->obj.k[i]; /* already an arena copy */
		if (dec_value(c, &v->obj.v[i], &out->kv[i].value))
			return -1;
		kt_dctx_pop(&c->d, mark);
	}
	return 0;
}

static int dec_trace_state(struct jc *c, const struct jv *v, struct kt_span_context *ctx)
{
	if (v->t == JV_NULL)
		return 0;
	if (v->t != JV_ARR)
		return type_error(c, "array or null", v);
	ctx->trace_state_present = true;
	ctx->trace_state_n = v->arr.n;
	if (!(ctx->trace_state = kt_dctx_alloc(&c->d, v->arr.n, sizeof(*ctx->trace_state))))
		return -1;
	for (size_t i = 0; i < v->arr.n; i++) {
		const struct jv *e = &v->arr.v[i];
		size_t mark = kt_dctx_index(&c->d, i);
		if (e->t != JV_ARR || e->arr.n != 2)
			return kt_dctx_fail(&c->d, "expected a [key, value] pair");
		if (get_str(c, &e->arr.v[0], &ctx->trace_state[i].key) ||
		    get_str(c, &e->arr.v[1], &ctx->trace_state[i].value))
			return -1;
		kt_dctx_pop(&c->d, mark);
	}
	return 0;
}

static int dec_ctx(struct jc *c, const struct jv *v, struct kt_span_context *ctx)
{
	u128 id, flags;
	if (want(c, v, JV_OBJ))
		return -1;
	TRY_FIELD(c, v, "trace_id", get_uint, ~(u128)0, "u128", &id);
	ctx->trace_id.hi = (uint64_t)(id >> 64);
	ctx->trace_id.lo = (uint64_t)id;
	TRY_FIELD(c, v, "span_id", get_u64, &ctx->span_id);
	TRY_FIELD(c, v, "trace_flags", get_uint, UINT8_MAX, "u8", &flags);
	ctx->trace_flags = (uint8_t)flags;
	TRY_FIELD(c, v, "is_remote", get_bool, &ctx->is_remote);
	TRY_FIELD(c, v, "trace_state", dec_trace_state, ctx);
	return 0;
}

static int dec_attributes(struct jc *c, const struct jv *v, struct kt_span *s)
{
	const struct jv *ev;
	struct kt_kvlist kvs;
	size_t mark;
	if (want(c, v, JV_OBJ))
		return -1;
	TRY_FIELD(c, v, "map", dec_kv_object, &kvs);
	if (!(ev = field(c, v, "evict_list", &mark)) || want(c, ev, JV_ARR))
		return -1;
	struct kt_str *evict = kt_dctx_alloc(&c->d, ev->arr.n, sizeof(*evict));
	if (!evict)
		return -1;
	for (size_t i = 0; i < ev->arr.n; i++) {
		size_t m2 = kt_dctx_index(&c->d, i);
		if (want(c, &ev->arr.v[i], JV_STR))
			return -1;
		evict[i] = ev->arr.v[i].s; /* only compared, never kept */
		kt_dctx_pop(&c->d, m2);
	}
	kt_dctx_pop(&c->d, mark);
	TRY_FIELD(c, v, "max_len", get_u32, &s->attrs_max_len);
	TRY_FIELD(c, v, "dropped_count", get_u32, &s->attrs_dropped);
	kt_dctx_field(&c->d, "map");
	if (kt_attr_order(&c->d, kvs.kv, kvs.n, evict, ev->arr.n, &s->attrs))
		return -1;
	kt_dctx_pop(&c->d, mark);
	return 0;
}

static int dec_event(struct jc *c, const struct jv *v, struct kt_event *e)
{
	if (want(c, v, JV_OBJ))
		return -1;
	TRY_FIELD(c, v, "name", get_str, &e->name);
	TRY_FIELD(c, v, "timestamp", dec_time, &e->time_unix_nano);
	TRY_FIELD(c, v, "attributes", dec_kv_array, &e->attrs);
	TRY_FIELD(c, v, "dropped_attributes_count", get_u32, &e->dropped_attributes_count);
	return 0;
}

static int dec_link(struct jc *c, const struct jv *v, struct kt_link *l)
{
	if (want(c, v, JV_OBJ))
		return -1;
	TRY_FIELD(c, v, "span_context", dec_ctx, &l->ctx);
	TRY_FIELD(c, v, "attributes", dec_kv_array, &l->attrs);
	TRY_FIELD(c, v, "dropped_attributes_count", get_u32, &l->dropped_attributes_count);
	return 0;
}

/* Decodes one element of an EvictedQueue into item. */
typedef int (*queue_item_fn)(struct jc *c, const struct jv *v, void *item);

static int dec_event_item(struct jc *c, const struct jv *v, void *item)
{
	return dec_event(c, v, item);
}

static int dec_link_item(struct jc *c, const struct jv *v, void *item)
{
	return dec_link(c, v, item);
}

/*
 * EvictedQueue: {"queue": null | [...], "max_len": u32, "dropped_count": u32}.
 * queue is an Option: serde also takes a missing one as None. The elements
 * (each item_size bytes) go to *items.
 */
static int dec_queue(struct jc *c, const struct jv *v, bool *present, uint32_t *max_len,
		     uint32_t *dropped, size_t *n, void **items, size_t item_size, queue_item_fn one)
{
	if (want(c, v, JV_OBJ))
		return -1;
	const struct jv *q = member(v, "queue");
	size_t mark = kt_dctx_field(&c->d, "queue");
	if (q && q->t != JV_NULL && q->t != JV_ARR)
		return type_error(c, "array or null", q);
	kt_dctx_pop(&c->d, mark);
	TRY_FIELD(c, v, "max_len", get_u32, max_len);
	TRY_FIELD(c, v, "dropped_count", get_u32, dropped);
	*present = q && q->t == JV_ARR;
	if (!*present)
		return 0;
	*n = q->arr.n;
	char *out = kt_dctx_alloc(&c->d, q->arr.n, item_size);
	if (!(*items = out))
		return -1;
	for (size_t i = 0; i < q->arr.n; i++) {
		mark = kt_dctx_field(&c->d, "queue");
		kt_dctx_index(&c->d, i);
		if (one(c, &q->arr.v[i], out + i * item_size))
			return -1;
		kt_dctx_pop(&c->d, mark);
	}
	return 0;
}

static int dec_events(struct jc *c, const struct jv *v, struct kt_span *s)
{
	void *items = NULL;
	int rc = dec_queue(c, v, &s->events_present, &s->events_max_len, &s->events_dropped,
			   &s->n_events, &items, sizeof(*s->events), dec_event_item);
	s->events = items;
	return rc;
}

static int dec_links(struct jc *c, const struct jv *v, struct kt_span *s)
{
	void *items = NULL;
	int rc = dec_queue(c, v, &s->links_present, &s->links_max_len, &s->links_dropped,
			   &s->n_links, &items, sizeof(*s->links), dec_link_item);
	s->links = items;
	return rc;
}

/* Option<Resource>: null (or absent) is None; duplicates were refused in build. */
static int dec_resource(struct jc *c, const struct jv *v, struct kt_span *s)
{
	if (!v || v->t == JV_NULL)
		return 0;
	if (v->t != JV_OBJ)
		return type_error(c, "object or null", v);
	s->resource_present = true;
	TRY_FIELD(c, v, "attrs", dec_kv_object, &s->resource);
	return 0;
}

static int dec_span(struct jc *c, const struct jv *v, struct kt_span *s)
{
	static const char *const kinds[] = {"Client", "Server", "Producer", "Consumer", "Internal"};
	static const char *const codes[] = {"Unset", "Ok", "Error"};
	uint32_t kind, code;

	if (want(c, v, JV_OBJ))
		return -1;
	TRY_FIELD(c, v, "span_context", dec_ctx, &s->ctx);
	TRY_FIELD(c, v, "parent_span_id", get_u64, &s->parent_span_id);
	TRY_FIELD(c, v, "span_kind", get_enum, kinds, 5, &kind);
	s->kind = (enum kt_span_kind)kind;
	TRY_FIELD(c, v, "name", get_str, &s->name);
	TRY_FIELD(c, v, "start_time", dec_time, &s->start_unix_nano);
	TRY_FIELD(c, v, "end_time", dec_time, &s->end_unix_nano);
	TRY_FIELD(c, v, "attributes", dec_attributes, s);
	TRY_FIELD(c, v, "events", dec_events, s);
	TRY_FIELD(c, v, "links", dec_links, s);
	TRY_FIELD(c, v, "status_code", get_enum, codes, 3, &code);
	s->status_code = (enum kt_status_code)code;
	TRY_FIELD(c, v, "status_message", get_str, &s->status_message);
	size_t mark = kt_dctx_field(&c->d, "resource");
	if (dec_resource(c, member(v, "resource"), s))
		return -1;
	kt_dctx_pop(&c->d, mark);
	return 0;
}

/* ------------------------------------------------------------ entry */

/* json-c's tree of the document; a top-level null is a NULL tree, not an error. */
static int parse(struct jc *c, const uint8_t *p, size_t n, struct json_object **root)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	*root = NULL;
	if (!tok)
		return kt_dctx_fail(&c->d, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	*root = json_tokener_parse_ex(tok, (const char *)p, (int)n);
	enum json_tokener_error e = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (e == json_tokener_success && end == n)
		return 0;
	json_object_put(*root);
	*root = NULL;
	return kt_dctx_fail(&c->d, "invalid JSON at offset %zu: %s", end,
			    e == json_tokener_success	 ? "trailing data"
			    : e == json_tokener_continue ? "unexpected end of input"
							 : json_tokener_error_desc(e));
}

int kt_decode_json_ref(const uint8_t *p, size_t n, struct kt_arena *a, struct kt_span *out,
		       struct kt_decode_error *err)
{
	struct jc c = {.src = p};
	struct json_object *root = NULL;
	struct jv top;
	int rc = -1;

	kt_dctx_init(&c.d, a, err);
	memset(out, 0, sizeof(*out));
	if (n > INT_MAX) {
		kt_dctx_set_error(&c.d, "payload of %zu bytes too large for the JSON parser", n);
		goto out;
	}
	/* The strict scan first: it is cheap and refuses what json-c would take. */
	if (kt_json_scan(p, n, JSON_MAX_DEPTH, &c.scan, c.d.err->msg, sizeof(c.d.err->msg)))
		goto out;
	/*
	 * json-c's tree is not allocated from the arena, but it is charged
	 * against its limit: a frame of 16 MiB of "[{},{},...]" would cost
	 * json-c gigabytes.
	 */
	if (a->limit) {
		const struct kt_json_scan *sc = &c.scan;
		uint64_t cost = tree_cost(n, sc);
		if (a->used > a->limit || cost > a->limit - a->used) {
			kt_dctx_set_error(
				&c.d,
				"arena limit reached (%zu of %zu bytes used, parsing %zu JSON "
				"values needs about %llu bytes)",
				a->used, a->limit, sc->n_values, (unsigned long long)cost);
			goto out;
		}
	}
	/* json-c wants a delimiter after a bare top-level scalar; refuse it first. */
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	uint8_t first = i < n ? p[i] : 0; /* the scan saw a value, so i < n */
	if (first != '{') {
		kt_dctx_set_error(&c.d, "expected object, found %s",
				  first == '['			 ? "array"
				  : first == '"'		 ? "string"
				  : first == 'n'		 ? "null"
				  : first == 't' || first == 'f' ? "boolean"
								 : "number");
		goto out;
	}
	if (parse(&c, p, n, &root) || build(&c, root, &top, NULL))
		goto out;
	if (c.ni != c.scan.n_nums || c.ki != c.scan.n_keys || c.oi != c.scan.n_objs) {
		kt_dctx_set_error(&c.d, "JSON parsers disagree on the document");
		goto out;
	}
	rc = dec_span(&c, &top, out);
out:
	json_object_put(root);
	kt_json_scan_free(&c.scan);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON-era decoder (Kata >= 3.29): serde_json::to_vec of an opentelemetry
 * 0.17 SpanData. Structs are objects read by key name (unknown keys are
 * ignored), newtypes are their inner value, Value/Array are externally
 * tagged ({"I64":5}), SpanKind/StatusCode are strings, the u128 trace id is
 * a bare integer of up to 39 digits. Details: docs/decoders.md.
 *
 * One pass over the text, no tree: a strict lexer (the grammar and UTF-8
 * rules of base/json_scan.c) is driven by the shape of SpanData, and every
 * value goes straight to its place in struct kt_span, in the arena. The
 * elements of an array are gathered on a scratch stack while it is read
 * (its length is not known before its ']') and copied to the arena at its
 * end. Only a payload that fails is looked at again, by json_scan, so that
 * a failure says what the former two-pass decoder said: a fault in the
 * text itself first, then the memory estimate, then the field.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/attr_order.h"
#include "agent/decode.h"
#include "base/json_scan.h"
#include "base/utf8.h"
#include "model/decode_ctx.h"

/*
 * What a json-c tree of the document would cost (json-c 0.16 on x86_64:
 * about 800 bytes per object, 160 per array, 64 per other value, string text
 * twice). The decoder no longer builds one, but a payload is still refused
 * when that estimate exceeds the arena's limit: the limit keeps meaning the
 * same thing, and a frame such as 16 MiB of "[{},{},...]" is refused.
 */
#define JSONC_OBJECT_COST 800
#define JSONC_ARRAY_COST  160
#define JSONC_VALUE_COST  64

/* SpanData nests containers 9 deep at most (events...attributes[].value.Array.F64[]). */
#define JSON_MAX_DEPTH 16

/* The scratch stack starts with this many bytes, then doubles. */
/*
 * The scratch stack starts in the decoder's own stack frame: a span's
 * pending elements fit there, and it moves to the heap only past this.
 */
#define SCRATCH_LOCAL 4096

typedef unsigned __int128 u128;

enum jt {
	JT_NULL,
	JT_BOOL,
	JT_NUM,
	JT_STR,
	JT_ARR,
	JT_OBJ,
	JT_BAD, /* no value starts with this byte */
};

static const char *const jt_names[] = {"null", "boolean", "number", "string", "array", "object"};

/* Bytes a string holds as they are: printable ASCII but '"' and '\'. */
static const uint8_t plain[256] = {
	[0x20 ... 0x21] = 1,
	[0x23 ... 0x5b] = 1,
	[0x5d ... 0x7f] = 1,
};

/* Pending elements of the arrays being read, and keys of the objects being read. */
struct scratch {
	unsigned char *buf; /* `local` until it outgrows it */
	unsigned char *local;
	size_t len, cap;
	size_t max; /* what the arena could still take; beyond it the decode fails */
};

struct jd {
	struct kt_dctx d;
	const uint8_t *p;   /* next byte */
	const uint8_t *end; /* past the payload */
	unsigned depth;	    /* open containers */
	/* values of the document, as json_scan counts them, for the cost estimate */
	size_t n_objs, n_arrays, n_values;
	bool syntax; /* the failure is in the text: json_scan will say where */
	void *empty; /* the arena block every empty list points to */
	struct scratch t;
};

/* A string token: its text between the quotes, and its length once unescaped. */
struct jstr {
	const uint8_t *raw;
	size_t raw_len;
	size_t len;
	bool esc;
};

/* A number token. */
struct jnum {
	const uint8_t *txt;
	size_t len;
	bool integer; /* no fraction, no exponent */
	bool neg;
	bool small; /* at most 19 digits: mag is the magnitude */
	uint64_t mag;
};

/* ------------------------------------------------------------ lexer */

/* A fault of the text: the message comes from json_scan (explain()). */
static int bad(struct jd *j)
{
	j->syntax = true;
	return -1;
}

static inline void ws(struct jd *j)
{
	while (j->p < j->end &&
	       (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* The type of the value at the cursor (whitespace already skipped). */
static inline enum jt peek(const struct jd *j)
{
	if (j->p >= j->end)
		return JT_BAD;
	switch (*j->p) {
	case '{':
		return JT_OBJ;
	case '[':
		return JT_ARR;
	case '"':
		return JT_STR;
	case 't':
	case 'f':
		return JT_BOOL;
	case 'n':
		return JT_NULL;
	case '-':
	case '0' ... '9':
		return JT_NUM;
	default:
		return JT_BAD;
	}
}

static int type_error(struct jd *j, const char *want, enum jt got)
{
	if (got == JT_BAD)
		return bad(j);
	return kt_dctx_fail(&j->d, "expected %s, found %s", want, jt_names[got]);
}

/*
 * The string at the cursor (on its '"'), checked as json_scan checks it:
 * no control characters, valid escapes (surrogates in pairs), strict UTF-8.
 * Counts as a value unless it is a key.
 */
static int lex_string(struct jd *j, struct jstr *s)
{
	const uint8_t *q = j->p + 1, *e = j->end;
	size_t shrink = 0;
	bool esc = false;
	for (;;) {
		while (q < e && plain[*q])
			q++;
		if (q >= e)
			return bad(j);
		uint8_t c = *q;
		if (c == '"')
			break;
		if (c == '\\') {
			if (e - q < 2)
				return bad(j);
			esc = true;
			if (kt_json_escape_byte(q[1]) >= 0) {
				q += 2;
				shrink += 1;
				continue;
			}
			if (q[1] != 'u')
				return bad(j);
			size_t used;
			long cp = kt_json_u_escape(q, (size_t)(e - q), &used);
			if (cp < 0)
				return bad(j);
			q += used;
			shrink += used - kt_utf8_len((uint32_t)cp); /* text less its UTF-8 */
			continue;
		}
		if (c < 0x20)
			return bad(j);
		size_t k = kt_utf8_decode(q, (size_t)(e - q), NULL);
		if (!k)
			return bad(j);
		q += k;
	}
	s->raw = j->p + 1;
	s->raw_len = (size_t)(q - s->raw);
	s->len = s->raw_len - shrink;
	s->esc = esc;
	j->p = q + 1;
	return 0;
}

static inline bool isdig(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int lex_number(struct jd *j, struct jnum *nm)
{
	const uint8_t *q = j->p, *e = j->end;
	nm->txt = q;
	nm->neg = *q == '-';
	q += nm->neg;
	if (q >= e || !isdig(*q))
		return bad(j);
	const uint8_t *d0 = q;
	uint64_t v = 0;
	if (*q == '0') {
		q++;
		if (q < e && isdig(*q))
			return bad(j);
	} else {
		while (q < e && isdig(*q))
			v = v * 10 + (uint64_t)(*q++ - '0'); /* wraps past 19 digits: unused then */
	}
	nm->small = q - d0 <= 19;
	nm->mag = v;
	nm->integer = true;
	if (q < e && *q == '.') {
		q++;
		if (q >= e || !isdig(*q))
			return bad(j);
		while (q < e && isdig(*q))
			q++;
		nm->integer = false;
	}
	if (q < e && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < e && (*q == '+' || *q == '-'))
			q++;
		if (q >= e || !isdig(*q))
			return bad(j);
		while (q < e && isdig(*q))
			q++;
		nm->integer = false;
	}
	nm->len = (size_t)(q - nm->txt);
	j->p = q;
	j->n_values++;
	return 0;
}

static int lex_lit(struct jd *j, const char *lit, size_t len)
{
	if ((size_t)(j->end - j->p) < len || memcmp(j->p, lit, len) != 0)
		return bad(j);
	j->p += len;
	j->n_values++;
	return 0;
}

/* '{' or '[' at the cursor. */
static int open_container(struct jd *j, bool obj)
{
	if (j->depth >= JSON_MAX_DEPTH)
		return bad(j);
	j->depth++;
	j->p++;
	j->n_values++;
	if (obj)
		j->n_objs++;
	else
		j->n_arrays++;
	return 0;
}

/*
 * 1 when a value may start here. json-c, which the decoder used to build on,
 * refused a value inside JSON_MAX_DEPTH containers (only an empty container
 * may be that deep): so does this decoder. json_scan does not check it;
 * explain() finds it again with value_too_deep().
 */
static inline int value_level_ok(struct jd *j)
{
	return j->depth < JSON_MAX_DEPTH ? 1 : bad(j);
}

/*
 * The next member of an object: 1 with its key (the cursor on its value),
 * 0 at the closing '}', -1 on a fault. *first: no member read yet.
 */
static int obj_key(struct jd *j, bool *first, struct jstr *k)
{
	ws(j);
	if (j->p >= j->end)
		return bad(j);
	if (*j->p == '}') {
		j->p++;
		j->depth--;
		return 0;
	}
	if (!*first) {
		if (*j->p != ',')
			return bad(j);
		j->p++;
		ws(j);
		if (j->p >= j->end)
			return bad(j);
	}
	*first = false;
	if (*j->p != '"' || lex_string(j, k))
		return bad(j);
	ws(j);
	if (j->p >= j->end || *j->p != ':')
		return bad(j);
	j->p++;
	ws(j);
	return value_level_ok(j);
}

/* The next element of an array: 1 (the cursor on it), 0 at the closing ']', -1. */
static int arr_item(struct jd *j, bool *first)
{
	ws(j);
	if (j->p >= j->end)
		return bad(j);
	if (*j->p == ']' && *first) {
		j->p++;
		j->depth--;
		return 0;
	}
	if (!*first) {
		if (*j->p == ']') {
			j->p++;
			j->depth--;
			return 0;
		}
		if (*j->p != ',')
			return bad(j);
		j->p++;
		ws(j);
	}
	*first = false;
	return value_level_ok(j);
}

/* ------------------------------------------------------------ scratch stack */

static int scratch_reserve(struct jd *j, size_t more)
{
	struct scratch *t = &j->t;
	if (t->cap - t->len >= more)
		return 0;
	/*
	 * Every pending element or key stands for a value the cost estimate
	 * charges more than the bytes it takes here (64 for a scalar, 800 for
	 * an object): past the arena's room the estimate has failed already.
	 */
	if (more > t->max || t->len > t->max - more)
		return kt_dctx_fail(&j->d,
				    "arena limit reached (%zu of %zu bytes used, %zu bytes of "
				    "pending elements)",
				    j->d.a->used, j->d.a->limit, t->len + more);
	size_t cap = t->cap;
	while (cap - t->len < more)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	unsigned char *b = t->buf == t->local ? malloc(cap) : realloc(t->buf, cap);
	if (!b)
		return kt_dctx_fail(&j->d, "out of memory");
	if (t->buf == t->local)
		memcpy(b, t->local, t->len);
	t->buf = b;
	t->cap = cap;
	return 0;
}

static int scratch_push(struct jd *j, const void *src, size_t size)
{
	if (scratch_reserve(j, size))
		return -1;
	memcpy(j->t.buf + j->t.len, src, size);
	j->t.len += size;
	return 0;
}

/* The one block every empty list points to (non-NULL, as the arena gives for 0 bytes). */
static void *empty_list(struct jd *j)
{
	if (!j->empty)
		j->empty = kt_dctx_alloc(&j->d, 0, 1);
	return j->empty;
}

/* The n elements of size bytes pending from offset base -> an arena array; pops them. */
static int finish(struct jd *j, size_t base, size_t n, size_t size, void **out)
{
	void *d = n ? kt_dctx_alloc(&j->d, n, size) : empty_list(j);
	if (!d)
		return -1;
	if (n)
		memcpy(d, j->t.buf + base, n * size);
	j->t.len = base;
	*out = d;
	return 0;
}

/* ------------------------------------------------------------ strings and keys */

/* Arena copy of a string token, unescaped and NUL-terminated. */
static int put_str(struct jd *j, const struct jstr *s, struct kt_str *out)
{
	if (!s->esc)
		return kt_dctx_str(&j->d, s->raw, s->len, out);
	char *d = kt_arena_alloc(j->d.a, s->len + 1);
	if (!d)
		return kt_dctx_fail(
			&j->d, "arena limit reached (%zu of %zu bytes used, string of %zu bytes)",
			j->d.a->used, j->d.a->limit, s->len);
	size_t k = kt_json_unescape(s->raw, s->raw_len, d);
	d[k] = '\0';
	out->ptr = d;
	out->len = k;
	return 0;
}

/* The text of a key: in place when it has no escape, else an arena copy. */
static int key_str(struct jd *j, const struct jstr *k, struct kt_str *out)
{
	if (!k->esc) {
		out->ptr = (const char *)k->raw;
		out->len = k->len;
		return 0;
	}
	return put_str(j, k, out);
}

struct fname {
	const char *name;
	size_t len;
};

#define F(s) {s, sizeof(s) - 1}

/* Index of the key in names[0..n) (hint tried first), or -1. */
static int match_name(const struct jstr *k, const struct fname *f, size_t n, size_t hint)
{
	const uint8_t *kp = k->raw;
	char buf[32];
	if (k->esc) {
		if (k->len > sizeof(buf))
			return -1;
		kt_json_unescape(k->raw, k->raw_len, buf);
		kp = (const uint8_t *)buf;
	}
	if (hint < n && f[hint].len == k->len && memcmp(f[hint].name, kp, k->len) == 0)
		return (int)hint;
	for (size_t i = 0; i < n; i++)
		if (f[i].len == k->len && memcmp(f[i].name, kp, k->len) == 0)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------ duplicate keys */

/*
 * json-c, which the decoder used to build on, cuts a key at its first
 * U+0000 and keeps one value per key: keys that are equal up to a U+0000
 * could not be told apart, and are still refused.
 */
struct kpref {
	const char *p;
	size_t n;
};

static size_t prefix_len(struct kt_str k)
{
	const char *z = k.len ? memchr(k.ptr, '\0', k.len) : NULL;
	return z ? (size_t)(z - k.ptr) : k.len;
}

static int kpref_cmp(const void *x, const void *y)
{
	const struct kpref *a = x, *b = y;
	size_t n = a->n < b->n ? a->n : b->n;
	int r = n ? memcmp(a->p, b->p, n) : 0;
	if (r)
		return r;
	return (a->n > b->n) - (a->n < b->n);
}

/* Two of the n keys (struct kt_str) at scratch offset off clash: say which. */
static int report_clash(struct jd *j, size_t off, size_t n)
{
	struct kt_kv *kv = kt_dctx_alloc(&j->d, n, sizeof(*kv));
	if (!kv)
		return -1;
	for (size_t i = 0; i < n; i++)
		memcpy(&kv[i].key, j->t.buf + off + i * sizeof(struct kt_str),
		       sizeof(struct kt_str));
	if (kt_kv_unique(&j->d, kv, n))
		return -1;
	return kt_dctx_fail(&j->d, "keys equal up to a U+0000 are not supported");
}

/* Fails when two of the n keys (struct kt_str) at scratch offset off are equal up to a U+0000. */
static int check_keys(struct jd *j, size_t off, size_t n)
{
	if (n < 2)
		return 0;
	size_t poff = j->t.len;
	if (scratch_reserve(j, n * sizeof(struct kpref)))
		return -1;
	struct kpref *pr = (struct kpref *)(void *)(j->t.buf + poff);
	for (size_t i = 0; i < n; i++) {
		struct kt_str k;
		memcpy(&k, j->t.buf + off + i * sizeof(k), sizeof(k));
		pr[i].p = k.ptr;
		pr[i].n = prefix_len(k);
	}
	bool clash = false;
	if (n <= 8) {
		for (size_t a = 1; a < n && !clash; a++)
			for (size_t b = 0; b < a && !clash; b++)
				clash = kpref_cmp(&pr[a], &pr[b]) == 0;
	} else {
		qsort(pr, n, sizeof(*pr), kpref_cmp);
		for (size_t a = 1; a < n && !clash; a++)
			clash = kpref_cmp(&pr[a - 1], &pr[a]) == 0;
	}
	return clash ? report_clash(j, off, n) : 0;
}

/* ------------------------------------------------------------ skipping */

static int skip_value(struct jd *j);

/* An object no field is read from: checked all the same, keys included. */
static int skip_object(struct jd *j)
{
	size_t base = j->t.len, n = 0;
	bool first = true;
	struct jstr k;
	int r;
	if (open_container(j, true))
		return -1;
	while ((r = obj_key(j, &first, &k)) == 1) {
		struct kt_str ks;
		if (key_str(j, &k, &ks) || scratch_push(j, &ks, sizeof(ks)))
			return -1;
		n++;
		size_t mark = kt_dctx_key(&j->d, ks);
		if (skip_value(j))
			return -1;
		kt_dctx_pop(&j->d, mark);
	}
	if (r < 0)
		return -1;
	r = check_keys(j, base, n);
	j->t.len = base;
	return r;
}

static int skip_value(struct jd *j)
{
	switch (peek(j)) {
	case JT_STR: {
		struct jstr s;
		j->n_values++;
		return lex_string(j, &s);
	}
	case JT_NUM: {
		struct jnum nm;
		return lex_number(j, &nm);
	}
	case JT_BOOL:
		return *j->p == 't' ? lex_lit(j, "true", 4) : lex_lit(j, "false", 5);
	case JT_NULL:
		return lex_lit(j, "null", 4);
	case JT_ARR: {
		bool first = true;
		int r;
		size_t i = 0;
		if (open_container(j, false))
			return -1;
		while ((r = arr_item(j, &first)) == 1) {
			size_t mark = kt_dctx_index(&j->d, i++);
			if (skip_value(j))
				return -1;
			kt_dctx_pop(&j->d, mark);
		}
		return r;
	}
	case JT_OBJ:
		return skip_object(j);
	default:
		return bad(j);
	}
}

/* ------------------------------------------------------------ structs */

/* An object read as a struct: its known fields by name, the others skipped. */
struct sobj {
	uint32_t seen;	  /* fields met */
	size_t base;	  /* scratch offset of the unknown keys */
	size_t n_unknown; /* unknown keys */
	size_t next;	  /* the field expected next (serde writes them in order) */
	bool first;
};

#define SO_END	(-1)
#define SO_FAIL (-2)

static int struct_open(struct jd *j, struct sobj *o)
{
	enum jt t = peek(j);
	if (t != JT_OBJ)
		return type_error(j, "object", t);
	o->seen = 0;
	o->base = j->t.len;
	o->n_unknown = 0;
	o->next = 0;
	o->first = true;
	return open_container(j, true);
}

/* The index of the next known field (the cursor on its value), SO_END or SO_FAIL. */
static int struct_field(struct jd *j, struct sobj *o, const struct fname *f, size_t n)
{
	for (;;) {
		struct jstr k;
		int r = obj_key(j, &o->first, &k);
		if (r <= 0)
			return r == 0 ? SO_END : SO_FAIL;
		int i = match_name(&k, f, n, o->next);
		if (i >= 0) {
			if (o->seen & (1u << i)) {
				kt_dctx_set_error(&j->d, "duplicate key \"%s\"", f[i].name);
				return SO_FAIL;
			}
			o->seen |= 1u << i;
			o->next = (size_t)i + 1;
			return i;
		}
		struct kt_str ks;
		if (key_str(j, &k, &ks) || scratch_push(j, &ks, sizeof(ks)))
			return SO_FAIL;
		o->n_unknown++;
		size_t mark = kt_dctx_key(&j->d, ks);
		if (skip_value(j))
			return SO_FAIL;
		kt_dctx_pop(&j->d, mark);
	}
}

/* After SO_END: unknown keys must not clash, required fields must be there. */
static int struct_close(struct jd *j, struct sobj *o, const struct fname *f, size_t n,
			uint32_t required)
{
	if (o->n_unknown) {
		size_t k = o->n_unknown;
		for (size_t i = 0; i < n; i++) {
			if (o->seen & (1u << i)) {
				struct kt_str s = {f[i].name, f[i].len};
				if (scratch_push(j, &s, sizeof(s)))
					return -1;
				k++;
			}
		}
		int r = check_keys(j, o->base, k);
		j->t.len = o->base;
		if (r)
			return -1;
	}
	uint32_t missing = required & ~o->seen;
	if (missing) {
		size_t i = (size_t)__builtin_ctz(missing);
		kt_dctx_field(&j->d, f[i].name);
		return kt_dctx_fail(&j->d, "missing field");
	}
	return 0;
}

#define ALL(n) ((uint32_t)((1u << (n)) - 1))

/* ------------------------------------------------------------ scalars */

static int out_of_range(struct jd *j, const struct jnum *nm, const char *tname)
{
	return kt_dctx_fail(&j->d, "%.*s out of range for %s",
			    (int)(nm->len > 48 ? 48 : nm->len), (const char *)nm->txt, tname);
}

/* Digits of an integer token -> value; false on overflow past max. */
static bool digits(const uint8_t *p, size_t len, u128 max, u128 *out)
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

/* An integer token, its magnitude at most max. */
static int get_int(struct jd *j, struct jnum *nm)
{
	enum jt t = peek(j);
	if (t != JT_NUM)
		return type_error(j, "integer", t);
	if (lex_number(j, nm))
		return -1;
	if (!nm->integer)
		return kt_dctx_fail(&j->d, "expected integer, found number");
	return 0;
}

static int get_uint(struct jd *j, u128 max, const char *tname, u128 *out)
{
	struct jnum nm;
	if (get_int(j, &nm))
		return -1;
	if (nm.neg)
		return out_of_range(j, &nm, tname);
	if (nm.small) {
		if (nm.mag > max)
			return out_of_range(j, &nm, tname);
		*out = nm.mag;
		return 0;
	}
	if (!digits(nm.txt, nm.len, max, out))
		return out_of_range(j, &nm, tname);
	return 0;
}

static int get_u64(struct jd *j, uint64_t *out)
{
	u128 x;
	if (get_uint(j, UINT64_MAX, "u64", &x))
		return -1;
	*out = (uint64_t)x;
	return 0;
}

static int get_u32(struct jd *j, uint32_t *out)
{
	u128 x;
	if (get_uint(j, UINT32_MAX, "u32", &x))
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static int get_i64(struct jd *j, int64_t *out)
{
	struct jnum nm;
	if (get_int(j, &nm))
		return -1;
	u128 max = nm.neg ? (u128)INT64_MAX + 1 : (u128)INT64_MAX, mag = nm.mag;
	if (nm.small ? nm.mag > max : !digits(nm.txt + nm.neg, nm.len - nm.neg, max, &mag))
		return out_of_range(j, &nm, "i64");
	/* -(2^63) has no positive twin: negate in unsigned arithmetic. */
	*out = nm.neg ? (int64_t)(0 - (uint64_t)mag) : (int64_t)mag;
	return 0;
}

/* strtod of the token, through a NUL-terminated copy (on the scratch stack if long). */
static int number_strtod(struct jd *j, const struct jnum *nm, double *out)
{
	char buf[80];
	if (nm->len < sizeof(buf)) {
		memcpy(buf, nm->txt, nm->len);
		buf[nm->len] = '\0';
		*out = strtod(buf, NULL);
		return 0;
	}
	if (scratch_reserve(j, nm->len + 1))
		return -1;
	char *t = (char *)j->t.buf + j->t.len;
	memcpy(t, nm->txt, nm->len);
	t[nm->len] = '\0';
	*out = strtod(t, NULL);
	return 0;
}

/*
 * F64. serde_json writes NaN and the infinities as null, so null decodes
 * to NaN (the sign and kind of the original value are lost upstream).
 * Other numbers are rounded to the nearest double, as strtod does.
 */
static int get_f64(struct jd *j, double *out)
{
	enum jt t = peek(j);
	if (t == JT_NULL) {
		*out = NAN;
		return lex_lit(j, "null", 4);
	}
	if (t != JT_NUM)
		return type_error(j, "number or null", t);
	struct jnum nm;
	if (lex_number(j, &nm))
		return -1;
	u128 mag = nm.mag;
	if (nm.integer &&
	    (nm.small || digits(nm.txt + nm.neg, nm.len - nm.neg, UINT64_MAX, &mag))) {
		/* An integer where a float belongs: round to nearest, as serde_json does. */
		*out = nm.neg ? -(double)(uint64_t)mag : (double)(uint64_t)mag;
	} else if (number_strtod(j, &nm, out)) {
		return -1;
	}
	if (!isfinite(*out))
		return kt_dctx_fail(&j->d, "number out of range for f64");
	return 0;
}

static int get_bool(struct jd *j, bool *out)
{
	enum jt t = peek(j);
	if (t != JT_BOOL)
		return type_error(j, "boolean", t);
	*out = *j->p == 't';
	return *out ? lex_lit(j, "true", 4) : lex_lit(j, "false", 5);
}

static int get_str(struct jd *j, struct kt_str *out)
{
	enum jt t = peek(j);
	struct jstr s;
	if (t != JT_STR)
		return type_error(j, "string", t);
	j->n_values++;
	if (lex_string(j, &s))
		return -1;
	return put_str(j, &s, out);
}

/* A variant name (a key or a string) not among the known ones. */
static int unknown_variant(struct jd *j, const struct jstr *s)
{
	struct kt_str v;
	char buf[40];
	if (key_str(j, s, &v))
		return -1;
	return kt_dctx_fail(&j->d, "unknown variant \"%s\"", kt_dctx_preview(v, buf, sizeof(buf)));
}

static int get_enum(struct jd *j, const struct fname *names, size_t n, uint32_t *out)
{
	enum jt t = peek(j);
	struct jstr s;
	if (t != JT_STR)
		return type_error(j, "string", t);
	j->n_values++;
	if (lex_string(j, &s))
		return -1;
	int i = match_name(&s, names, n, 0);
	if (i < 0)
		return unknown_variant(j, &s);
	*out = (uint32_t)i;
	return 0;
}

/* ------------------------------------------------------------ values */

static const struct fname value_variants[] = {F("Bool"), F("I64"), F("F64"), F("String"),
					      F("Array")};
static const size_t scalar_size[] = {sizeof(bool), sizeof(int64_t), sizeof(double),
				     sizeof(struct kt_str)};

/* The scalar of variant var into *out: a bool, int64_t, double or struct kt_str. */
static int get_scalar(struct jd *j, uint32_t var, void *out)
{
	switch (var) {
	case 0:
		return get_bool(j, out);
	case 1:
		return get_i64(j, out);
	case 2:
		return get_f64(j, out);
	default:
		return get_str(j, out);
	}
}

/*
 * An externally tagged enum with a second key k (its value next): say
 * whether keys repeat, else how many there are. first is the first key.
 */
static int tagged_extra(struct jd *j, const struct jstr *first, struct jstr *k, size_t mark)
{
	size_t base = j->t.len, n = 0;
	bool more = false;
	struct kt_str ks;
	kt_dctx_pop(&j->d, mark);
	if (key_str(j, first, &ks) || scratch_push(j, &ks, sizeof(ks)))
		return -1;
	n++;
	int r = 1;
	do {
		if (key_str(j, k, &ks) || scratch_push(j, &ks, sizeof(ks)) || skip_value(j))
			return -1;
		n++;
	} while ((r = obj_key(j, &more, k)) == 1);
	if (r < 0 || check_keys(j, base, n))
		return -1;
	j->t.len = base;
	return kt_dctx_fail(&j->d, "expected an object with one key, found %zu keys", n);
}

/*
 * {"<Variant>": value} at the cursor, variants[0..n): reads the key, sets
 * *var, enters the variant on the path (*mark leaves it); the cursor is then
 * on the value. tagged_end() reads the '}'.
 */
static int tagged_begin(struct jd *j, const struct fname *variants, size_t n, struct jstr *k,
			uint32_t *var, size_t *mark)
{
	enum jt t = peek(j);
	bool first = true;
	if (t != JT_OBJ)
		return type_error(j, "object", t);
	if (open_container(j, true))
		return -1;
	int r = obj_key(j, &first, k);
	if (r < 0)
		return -1;
	if (r == 0)
		return kt_dctx_fail(&j->d, "expected an object with one key, found 0 keys");
	*mark = j->d.depth;
	int i = match_name(k, variants, n, 3);
	if (i < 0) {
		struct jstr k2;
		bool more = false;
		if (skip_value(j) || (r = obj_key(j, &more, &k2)) < 0)
			return -1;
		if (r == 1)
			return tagged_extra(j, k, &k2, *mark);
		return unknown_variant(j, k);
	}
	*var = (uint32_t)i;
	kt_dctx_field(&j->d, variants[i].name);
	return 0;
}

static int tagged_end(struct jd *j, const struct jstr *k, size_t mark)
{
	struct jstr k2;
	bool more = false;
	int r = obj_key(j, &more, &k2);
	if (r <= 0)
		return r;
	return tagged_extra(j, k, &k2, mark);
}

/* Array: {"Bool":[…]}, {"I64":[…]}, {"F64":[…]}, {"String":[…]}. */
static int dec_array(struct jd *j, struct kt_value *out)
{
	uint32_t var;
	size_t mark;
	struct jstr k;
	if (tagged_begin(j, value_variants, 4, &k, &var, &mark))
		return -1;
	enum jt t = peek(j);
	if (t != JT_ARR)
		return type_error(j, "array", t);
	if (open_container(j, false))
		return -1;
	size_t base = j->t.len, n = 0, size = scalar_size[var];
	bool first = true;
	int r;
	while ((r = arr_item(j, &first)) == 1) {
		union {
			bool b;
			int64_t i;
			double f;
			struct kt_str s;
		} x;
		size_t m2 = kt_dctx_index(&j->d, n);
		if (get_scalar(j, var, &x) || scratch_push(j, &x, size))
			return -1;
		kt_dctx_pop(&j->d, m2);
		n++;
	}
	void *items;
	if (r < 0 || finish(j, base, n, size, &items))
		return -1;
	out->type = KT_VAL_ARRAY_BOOL + var;
	out->arr.n = n;
	out->arr.b = items;
	kt_dctx_pop(&j->d, mark);
	return tagged_end(j, &k, mark);
}

/* Externally tagged Value: {"Bool":true}, {"I64":5}, {"Array":{"F64":[…]}} … */
static int dec_value(struct jd *j, struct kt_value *out)
{
	uint32_t var;
	size_t mark;
	struct jstr k;
	if (tagged_begin(j, value_variants, 5, &k, &var, &mark))
		return -1;
	if (var == 4) {
		kt_dctx_pop(&j->d, mark);
		if (dec_array(j, out))
			return -1;
	} else {
		void *const dst[] = {&out->b, &out->i, &out->f, &out->s};
		out->type = KT_VAL_BOOL + var;
		if (get_scalar(j, var, dst[var]))
			return -1;
		kt_dctx_pop(&j->d, mark);
	}
	return tagged_end(j, &k, mark);
}

/* Vec<KeyValue>: [{"key":"k","value":{…}}, …] */
static int dec_kv_array(struct jd *j, struct kt_kvlist *out)
{
	static const struct fname f[] = {F("key"), F("value")};
	enum jt t = peek(j);
	if (t != JT_ARR)
		return type_error(j, "array", t);
	if (open_container(j, false))
		return -1;
	size_t base = j->t.len, n = 0;
	bool first = true;
	int r;
	while ((r = arr_item(j, &first)) == 1) {
		struct kt_kv kv;
		struct sobj o;
		int i;
		memset(&kv, 0, sizeof(kv));
		size_t mark = kt_dctx_index(&j->d, n);
		if (struct_open(j, &o))
			return -1;
		while ((i = struct_field(j, &o, f, 2)) >= 0) {
			size_t m2 = kt_dctx_field(&j->d, f[i].name);
			if (i == 0 ? get_str(j, &kv.key) : dec_value(j, &kv.value))
				return -1;
			kt_dctx_pop(&j->d, m2);
		}
		if (i == SO_FAIL || struct_close(j, &o, f, 2, ALL(2)) ||
		    scratch_push(j, &kv, sizeof(kv)))
			return -1;
		kt_dctx_pop(&j->d, mark);
		n++;
	}
	void *items;
	if (r < 0 || finish(j, base, n, sizeof(struct kt_kv), &items))
		return -1;
	out->n = n;
	out->kv = items;
	return 0;
}

/*
 * HashMap / BTreeMap<Key, Value>: {"k":{…}, …}, kept in document order.
 * Keys equal up to a U+0000 fail; exact repeats too when exact (the
 * attribute map has them refused by kt_attr_order).
 */
static int dec_kv_object(struct jd *j, struct kt_kvlist *out, bool exact)
{
	enum jt t = peek(j);
	if (t != JT_OBJ)
		return type_error(j, "object", t);
	if (open_container(j, true))
		return -1;
	size_t base = j->t.len, n = 0;
	bool first = true, nul = false;
	struct jstr k;
	int r;
	while ((r = obj_key(j, &first, &k)) == 1) {
		struct kt_kv kv;
		memset(&kv, 0, sizeof(kv));
		if (put_str(j, &k, &kv.key))
			return -1;
		nul |= k.esc && kv.key.len && memchr(kv.key.ptr, '\0', kv.key.len);
		size_t mark = kt_dctx_key(&j->d, kv.key);
		if (dec_value(j, &kv.value))
			return -1;
		kt_dctx_pop(&j->d, mark);
		if (scratch_push(j, &kv, sizeof(kv)))
			return -1;
		n++;
	}
	if (r < 0)
		return -1;
	if (n > 1 && (nul || exact)) {
		size_t koff = j->t.len;
		if (scratch_reserve(j, n * sizeof(struct kt_str)))
			return -1;
		for (size_t i = 0; i < n; i++)
			memcpy(j->t.buf + koff + i * sizeof(struct kt_str),
			       j->t.buf + base + i * sizeof(struct kt_kv), sizeof(struct kt_str));
		j->t.len += n * sizeof(struct kt_str);
		if (check_keys(j, koff, n))
			return -1;
		j->t.len = koff;
	}
	void *items;
	if (finish(j, base, n, sizeof(struct kt_kv), &items))
		return -1;
	out->n = n;
	out->kv = items;
	return 0;
}

/* ------------------------------------------------------------ SpanData */

static int dec_time(struct jd *j, uint64_t *ns)
{
	static const struct fname f[] = {F("secs_since_epoch"), F("nanos_since_epoch")};
	uint64_t secs = 0;
	uint32_t nanos = 0;
	struct sobj o;
	int i;
	if (struct_open(j, &o))
		return -1;
	while ((i = struct_field(j, &o, f, 2)) >= 0) {
		size_t mark = kt_dctx_field(&j->d, f[i].name);
		if (i == 0 ? get_u64(j, &secs) : get_u32(j, &nanos))
			return -1;
		kt_dctx_pop(&j->d, mark);
	}
	if (i == SO_FAIL || struct_close(j, &o, f, 2, ALL(2)))
		return -1;
	return kt_dctx_time(&j->d, secs, nanos, ns);
}

static int dec_trace_state(struct jd *j, struct kt_span_context *ctx)
{
	enum jt t = peek(j);
	if (t == JT_NULL)
		return lex_lit(j, "null", 4);
	if (t != JT_ARR)
		return type_error(j, "array or null", t);
	if (open_container(j, false))
		return -1;
	size_t base = j->t.len, n = 0;
	bool first = true;
	int r;
	while ((r = arr_item(j, &first)) == 1) {
		struct kt_tracestate_entry e;
		bool f2 = true;
		size_t mark = kt_dctx_index(&j->d, n);
		if (peek(j) != JT_ARR)
			return peek(j) == JT_BAD ? bad(j)
						 : kt_dctx_fail(&j->d, "expected a [key, value] pair");
		if (open_container(j, false))
			return -1;
		for (int k = 0; k < 2; k++) {
			if ((r = arr_item(j, &f2)) < 0)
				return -1;
			if (r == 0)
				return kt_dctx_fail(&j->d, "expected a [key, value] pair");
			if (get_str(j, k ? &e.value : &e.key))
				return -1;
		}
		if ((r = arr_item(j, &f2)) < 0)
			return -1;
		if (r == 1)
			return kt_dctx_fail(&j->d, "expected a [key, value] pair");
		if (scratch_push(j, &e, sizeof(e)))
			return -1;
		kt_dctx_pop(&j->d, mark);
		n++;
	}
	void *items;
	if (r < 0 || finish(j, base, n, sizeof(struct kt_tracestate_entry), &items))
		return -1;
	ctx->trace_state_present = true;
	ctx->trace_state_n = n;
	ctx->trace_state = items;
	return 0;
}

static int dec_ctx(struct jd *j, struct kt_span_context *ctx)
{
	static const struct fname f[] = {F("trace_id"), F("span_id"), F("trace_flags"),
					 F("is_remote"), F("trace_state")};
	struct sobj o;
	int i;
	if (struct_open(j, &o))
		return -1;
	while ((i = struct_field(j, &o, f, 5)) >= 0) {
		size_t mark = kt_dctx_field(&j->d, f[i].name);
		u128 x;
		int r;
		switch (i) {
		case 0:
			r = get_uint(j, ~(u128)0, "u128", &x);
			ctx->trace_id.hi = (uint64_t)(x >> 64);
			ctx->trace_id.lo = (uint64_t)x;
			break;
		case 1:
			r = get_u64(j, &ctx->span_id);
			break;
		case 2:
			r = get_uint(j, UINT8_MAX, "u8", &x);
			ctx->trace_flags = (uint8_t)x;
			break;
		case 3:
			r = get_bool(j, &ctx->is_remote);
			break;
		default:
			r = dec_trace_state(j, ctx);
			break;
		}
		if (r)
			return -1;
		kt_dctx_pop(&j->d, mark);
	}
	return i == SO_FAIL || struct_close(j, &o, f, 5, ALL(5)) ? -1 : 0;
}

static int dec_attributes(struct jd *j, struct kt_span *s)
{
	static const struct fname f[] = {F("map"), F("evict_list"), F("max_len"),
					 F("dropped_count")};
	struct kt_kvlist map = {0};
	struct kt_str *evict = NULL;
	size_t n_evict = 0;
	struct sobj o;
	int i;
	if (struct_open(j, &o))
		return -1;
	while ((i = struct_field(j, &o, f, 4)) >= 0) {
		size_t mark = kt_dctx_field(&j->d, f[i].name);
		int r = 0;
		if (i == 0) {
			r = dec_kv_object(j, &map, false);
		} else if (i == 1) {
			enum jt t = peek(j);
			bool first = true;
			size_t base = j->t.len;
			if (t != JT_ARR)
				return type_error(j, "array", t);
			if (open_container(j, false))
				return -1;
			while ((r = arr_item(j, &first)) == 1) {
				struct jstr e;
				struct kt_str ks;
				size_t m2 = kt_dctx_index(&j->d, n_evict);
				if ((t = peek(j)) != JT_STR)
					return type_error(j, "string", t);
				j->n_values++;
				/* only compared, never kept: in place unless escaped */
				if (lex_string(j, &e) || key_str(j, &e, &ks) ||
				    scratch_push(j, &ks, sizeof(ks)))
					return -1;
				kt_dctx_pop(&j->d, m2);
				n_evict++;
			}
			void *items;
			r = r < 0 || finish(j, base, n_evict, sizeof(*evict), &items) ? -1 : 0;
			evict = r ? NULL : items;
		} else {
			r = get_u32(j, i == 2 ? &s->attrs_max_len : &s->attrs_dropped);
		}
		if (r)
			return -1;
		kt_dctx_pop(&j->d, mark);
	}
	if (i == SO_FAIL || struct_close(j, &o, f, 4, ALL(4)))
		return -1;
	size_t mark = kt_dctx_field(&j->d, "map");
	if (kt_attr_order(&j->d, map.kv, map.n, evict, n_evict, &s->attrs))
		return -1;
	kt_dctx_pop(&j->d, mark);
	return 0;
}

static int dec_event(struct jd *j, struct kt_event *e)
{
	static const struct fname f[] = {F("name"), F("timestamp"), F("attributes"),
					 F("dropped_attributes_count")};
	struct sobj o;
	int i;
	if (struct_open(j, &o))
		return -1;
	while ((i = struct_field(j, &o, f, 4)) >= 0) {
		size_t mark = kt_dctx_field(&j->d, f[i].name);
		int r;
		switch (i) {
		case 0:
			r = get_str(j, &e->name);
			break;
		case 1:
			r = dec_time(j, &e->time_unix_nano);
			break;
		case 2:
			r = dec_kv_array(j, &e->attrs);
			break;
		default:
			r = get_u32(j, &e->dropped_attributes_count);
			break;
		}
		if (r)
			return -1;
		kt_dctx_pop(&j->d, mark);
	}
	return i == SO_FAIL || struct_close(j, &o, f, 4, ALL(4)) ? -1 : 0;
}

static int dec_link(struct jd *j, struct kt_link *l)
{
	static const struct fname f[] = {F("span_context"), F("attributes"),
					 F("dropped_attributes_count")};
	struct sobj o;
	int i;
	if (struct_open(j, &o))
		return -1;
	while ((i = struct_field(j, &o, f, 3)) >= 0) {
		size_t mark = kt_dctx_field(&j->d, f[i].name);
		int r = i == 0	 ? dec_ctx(j, &l->ctx)
			: i == 1 ? dec_kv_array(j, &l->attrs)
				 : get_u32(j, &l->dropped_attributes_count);
		if (r)
			return -1;
		kt_dctx_pop(&j->d, mark);
	}
	return i == SO_FAIL || struct_close(j, &o, f, 3, ALL(3)) ? -1 : 0;
}

/*
 * EvictedQueue: {"queue": null | [...], "max_len": u32, "dropped_count": u32}.
 * queue is an Option: serde also takes a missing one as None.
 */
static int dec_queue(struct jd *j, bool links, struct kt_span *s)
{
	static const struct fname f[] = {F("queue"), F("max_len"), F("dropped_count")};
	struct sobj o;
	int i;
	if (struct_open(j, &o))
		return -1;
	while ((i = struct_field(j, &o, f, 3)) >= 0) {
		size_t mark = kt_dctx_field(&j->d, f[i].name);
		int r;
		if (i == 0) {
			enum jt t = peek(j);
			if (t == JT_NULL) {
				r = lex_lit(j, "null", 4);
			} else if (t != JT_ARR) {
				return type_error(j, "array or null", t);
			} else {
				size_t base = j->t.len, n = 0;
				bool first = true;
				if (open_container(j, false))
					return -1;
				while ((r = arr_item(j, &first)) == 1) {
					size_t m2 = kt_dctx_index(&j->d, n);
					if (links) {
						struct kt_link l;
						memset(&l, 0, sizeof(l));
						r = dec_link(j, &l) || scratch_push(j, &l, sizeof(l));
					} else {
						struct kt_event e;
						memset(&e, 0, sizeof(e));
						r = dec_event(j, &e) || scratch_push(j, &e, sizeof(e));
					}
					if (r)
						return -1;
					kt_dctx_pop(&j->d, m2);
					n++;
				}
				void *items;
				if (r < 0 || finish(j, base, n,
						    links ? sizeof(struct kt_link)
							  : sizeof(struct kt_event),
						    &items))
					return -1;
				if (links) {
					s->links_present = true;
					s->n_links = n;
					s->links = items;
				} else {
					s->events_present = true;
					s->n_events = n;
					s->events = items;
				}
			}
		} else if (links) {
			r = get_u32(j, i == 1 ? &s->links_max_len : &s->links_dropped);
		} else {
			r = get_u32(j, i == 1 ? &s->events_max_len : &s->events_dropped);
		}
		if (r)
			return -1;
		kt_dctx_pop(&j->d, mark);
	}
	return i == SO_FAIL || struct_close(j, &o, f, 3, 6) ? -1 : 0;
}

/* Option<Resource>: null is None. */
static int dec_resource(struct jd *j, struct kt_span *s)
{
	static const struct fname f[] = {F("attrs")};
	enum jt t = peek(j);
	struct sobj o;
	int i;
	if (t == JT_NULL)
		return lex_lit(j, "null", 4);
	if (t != JT_OBJ)
		return type_error(j, "object or null", t);
	if (struct_open(j, &o))
		return -1;
	while ((i = struct_field(j, &o, f, 1)) >= 0) {
		size_t mark = kt_dctx_field(&j->d, f[i].name);
		if (dec_kv_object(j, &s->resource, true))
			return -1;
		kt_dctx_pop(&j->d, mark);
	}
	if (i == SO_FAIL || struct_close(j, &o, f, 1, 1))
		return -1;
	s->resource_present = true;
	return 0;
}

static int dec_span(struct jd *j, struct kt_span *s)
{
	static const struct fname f[] = {
		F("span_context"), F("parent_span_id"), F("span_kind"),	     F("name"),
		F("start_time"),   F("end_time"),	F("attributes"),     F("events"),
		F("links"),	   F("status_code"),	F("status_message"), F("resource"),
	};
	static const struct fname kinds[] = {F("Client"), F("Server"), F("Producer"),
					     F("Consumer"), F("Internal")};
	static const struct fname codes[] = {F("Unset"), F("Ok"), F("Error")};
	struct sobj o;
	int i;
	uint32_t e;
	if (struct_open(j, &o))
		return -1;
	while ((i = struct_field(j, &o, f, 12)) >= 0) {
		size_t mark = kt_dctx_field(&j->d, f[i].name);
		int r;
		switch (i) {
		case 0:
			r = dec_ctx(j, &s->ctx);
			break;
		case 1:
			r = get_u64(j, &s->parent_span_id);
			break;
		case 2:
			r = get_enum(j, kinds, 5, &e);
			s->kind = (enum kt_span_kind)e;
			break;
		case 3:
			r = get_str(j, &s->name);
			break;
		case 4:
			r = dec_time(j, &s->start_unix_nano);
			break;
		case 5:
			r = dec_time(j, &s->end_unix_nano);
			break;
		case 6:
			r = dec_attributes(j, s);
			break;
		case 7:
			r = dec_queue(j, false, s);
			break;
		case 8:
			r = dec_queue(j, true, s);
			break;
		case 9:
			r = get_enum(j, codes, 3, &e);
			s->status_code = (enum kt_status_code)e;
			break;
		case 10:
			r = get_str(j, &s->status_message);
			break;
		default:
			r = dec_resource(j, s);
			break;
		}
		if (r)
			return -1;
		kt_dctx_pop(&j->d, mark);
	}
	return i == SO_FAIL || struct_close(j, &o, f, 12, ALL(11)) ? -1 : 0;
}

/* ------------------------------------------------------------ entry */

/* The json-c tree estimate against the arena's room at the start; false if it fits. */
static bool over_estimate(struct jd *j, size_t used0, size_t n, size_t objs, size_t arrays,
			  size_t values)
{
	struct kt_arena *a = j->d.a;
	if (!a->limit)
		return false;
	/* Counts are bounded by n <= INT_MAX: no overflow in 64 bits. */
	uint64_t cost = 2 * (uint64_t)n + (uint64_t)objs * JSONC_OBJECT_COST +
			(uint64_t)arrays * JSONC_ARRAY_COST + (uint64_t)values * JSONC_VALUE_COST;
	if (used0 <= a->limit && cost <= a->limit - used0)
		return false;
	j->d.depth = 0;
	kt_dctx_set_error(&j->d,
			  "arena limit reached (%zu of %zu bytes used, parsing %zu JSON values "
			  "needs about %llu bytes)",
			  used0, a->limit, values, (unsigned long long)cost);
	return true;
}

/*
 * The offset of the first value inside JSON_MAX_DEPTH containers in a text
 * json_scan accepted (so nested at most that deep), or n if there is none.
 */
static size_t value_too_deep(const uint8_t *p, size_t n)
{
	bool arr[JSON_MAX_DEPTH + 1];
	size_t depth = 0;
	uint8_t prev = 0; /* the last structural character */
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		bool starts = c != ']' && c != '}' &&
			      (prev == '[' || prev == ':' || (prev == ',' && depth && arr[depth - 1]));
		if (starts && depth >= JSON_MAX_DEPTH)
			return i;
		if (c == '"') {
			/* the string (key or value), escapes included */
			for (i++; i < n && p[i] != '"'; i++)
				if (p[i] == '\\')
					i++;
			prev = '"';
			continue;
		}
		if (c == '[' || c == '{') {
			if (depth <= JSON_MAX_DEPTH)
				arr[depth] = c == '[';
			depth++;
		} else if (c == ']' || c == '}') {
			depth--;
		}
		prev = c;
	}
	return n;
}

/*
 * The payload failed: say why as the two-pass decoder did. A fault in the
 * text (json_scan's message) comes first, then the estimate, then what
 * the pass found.
 */
static void explain(struct jd *j, const uint8_t *p, size_t n, size_t used0)
{
	struct kt_json_scan sc;
	char msg[sizeof(j->d.err->msg)];
	if (kt_json_scan(p, n, JSON_MAX_DEPTH, &sc, msg, sizeof(msg))) {
		memcpy(j->d.err->msg, msg, sizeof(msg));
		kt_json_scan_free(&sc);
		return;
	}
	bool over = over_estimate(j, used0, n, sc.n_objs, sc.n_arrays, sc.n_values);
	kt_json_scan_free(&sc);
	if (over)
		return;
	/* Then the top level must be an object (said by the pass), then json-c's depth. */
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	if (i < n && p[i] != '{')
		return;
	size_t deep = value_too_deep(p, n);
	j->d.depth = 0;
	if (deep < n)
		kt_dctx_set_error(&j->d, "invalid JSON at offset %zu: nesting too deep", deep);
	else if (j->syntax)
		kt_dctx_set_error(&j->d, "invalid JSON at offset %zu: refused by the decoder",
				  (size_t)(j->p - p));
}

int kt_decode_json(const uint8_t *p, size_t n, struct kt_arena *a, struct kt_span *out,
		   struct kt_decode_error *err)
{
	_Alignas(16) unsigned char scratch[SCRATCH_LOCAL];
	struct jd j = {.p = p, .end = p + n};
	j.t.buf = j.t.local = scratch;
	j.t.cap = sizeof(scratch);
	size_t used0 = a->used;
	int rc;

	kt_dctx_init(&j.d, a, err);
	memset(out, 0, sizeof(*out));
	if (n > INT_MAX) {
		kt_dctx_set_error(&j.d, "payload of %zu bytes too large for the JSON parser", n);
		return -1;
	}
	j.t.max = !a->limit ? SIZE_MAX / 2 : used0 > a->limit ? 0 : a->limit - used0;
	ws(&j);
	rc = dec_span(&j, out);
	if (rc == 0) {
		ws(&j);
		if (j.p != j.end)
			rc = bad(&j);
	}
	if (rc == 0) {
		if (over_estimate(&j, used0, n, j.n_objs, j.n_arrays, j.n_values))
			rc = -1;
	} else {
		explain(&j, p, n, used0);
	}
	if (j.t.buf != j.t.local)
		free(j.t.buf);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

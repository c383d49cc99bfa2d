/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Thrift compact protocol reader and message scanner (thrift_compact.h).
 *
 * Skipping and scanning share one iterative step over an explicit stack of
 * open containers, so hostile nesting costs a bounded array, never C stack.
 * A step reads one token (a field header with a scalar value or a container
 * header, a list element, a stop byte) and changes the stack only once the
 * whole token has been read: after KT_TC_MORE the scanner resumes at the
 * token's first byte with its stack intact.
 */
#include "kata1/thrift_compact.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_NAME 255

static void set_msg(char *msg, size_t size, const char *fmt, va_list ap)
{
	vsnprintf(msg, size, fmt, ap);
}

int kt_tc_fail(struct kt_tc_reader *r, const char *fmt, ...)
{
	if (r->status != KT_TC_OK)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	set_msg(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->status = KT_TC_BAD;
	return -1;
}

void kt_tc_reader_init(struct kt_tc_reader *r, const uint8_t *p, size_t n, size_t cap)
{
	r->p = p;
	r->n = p ? n : 0;
	r->growing = cap != 0;
	r->cap = cap < r->n ? r->n : cap;
	r->pos = 0;
	r->depth = 0;
	r->status = KT_TC_OK;
	r->need = 0;
	r->msg[0] = '\0';
}

/* The input ends before byte `need` (a total): MORE, or BAD past cap. */
static int short_input(struct kt_tc_reader *r, size_t need)
{
	if (need > r->cap) {
		if (!r->growing)
			return kt_tc_fail(r, "truncated: %zu bytes needed at offset %zu, %zu left",
					  need - r->pos, r->pos, r->n - r->pos);
		return kt_tc_fail(r,
				  "%zu bytes needed at offset %zu: "
				  "past the message size limit of %zu bytes",
				  need - r->pos, r->pos, r->cap);
	}
	r->status = KT_TC_MORE;
	r->need = need;
	snprintf(r->msg, sizeof(r->msg), "need more bytes: %zu at least, %zu available", need,
		 r->n);
	return -1;
}

static int take(struct kt_tc_reader *r, size_t k, const uint8_t **out)
{
	*out = NULL;
	if (r->status != KT_TC_OK)
		return -1;
	if (k > r->n - r->pos)
		return short_input(r, k > SIZE_MAX - r->pos ? SIZE_MAX : r->pos + k);
	*out = r->p + r->pos;
	r->pos += k;
	return 0;
}

static int byte(struct kt_tc_reader *r, uint8_t *v)
{
	*v = 0;
	if (r->status != KT_TC_OK)
		return -1;
	if (r->pos >= r->n)
		return short_input(r, r->pos + 1);
	*v = r->p[r->pos++];
	return 0;
}

/* Unsigned LEB128 of at most `bits` bits (32 or 64). */
static int varint(struct kt_tc_reader *r, unsigned bits, uint64_t *out)
{
	const unsigned max_bytes = (bits + 6) / 7;
	size_t start = r->pos;
	uint64_t v = 0;
	if (r->status != KT_TC_OK)
		return -1;
	for (unsigned i = 0;; i++) {
		if (i == max_bytes)
			return kt_tc_fail(r, "varint at offset %zu longer than %u bytes", start,
					  max_bytes);
		if (r->pos >= r->n)
			return short_input(r, r->pos + 1);
		uint8_t b = r->p[r->pos++];
		if (7 * i + 7 > bits && (b & 0x7f) >> (bits - 7 * i))
			return kt_tc_fail(r, "varint at offset %zu overflows %u bits", start, bits);
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			break;
	}
	*out = v;
	return 0;
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

int kt_tc_read_i64(struct kt_tc_reader *r, int64_t *v)
{
	uint64_t u;
	if (varint(r, 64, &u))
		return -1;
	*v = unzigzag(u);
	return 0;
}

int kt_tc_read_i32(struct kt_tc_reader *r, int32_t *v)
{
	uint64_t u;
	if (varint(r, 32, &u))
		return -1;
	*v = (int32_t)unzigzag(u);
	return 0;
}

int kt_tc_read_i16(struct kt_tc_reader *r, int16_t *v)
{
	size_t start = r->pos;
	int32_t w;
	if (kt_tc_read_i32(r, &w))
		return -1;
	if (w < INT16_MIN || w > INT16_MAX)
		return kt_tc_fail(r, "i16 at offset %zu out of range: %d", start, (int)w);
	*v = (int16_t)w;
	return 0;
}

int kt_tc_read_byte(struct kt_tc_reader *r, int8_t *v)
{
	uint8_t b;
	if (byte(r, &b))
		return -1;
	*v = (int8_t)b;
	return 0;
}

int kt_tc_read_bool_elem(struct kt_tc_reader *r, bool *v)
{
	uint8_t b;
	if (byte(r, &b))
		return -1;
	if (b > 2)
		return kt_tc_fail(r, "bool element 0x%02x at offset %zu", b, r->pos - 1);
	*v = b == 1;
	return 0;
}

int kt_tc_read_double(struct kt_tc_reader *r, double *v)
{
	const uint8_t *b;
	if (take(r, 8, &b))
		return -1;
	uint64_t bits = 0;
	for (int i = 7; i >= 0; i--)
		bits = bits << 8 | b[i];
	memcpy(v, &bits, sizeof(*v));
	return 0;
}

/* Varint length, checked against what the message may still hold. */
static int length(struct kt_tc_reader *r, uint64_t *len, const char *what)
{
	size_t start = r->pos;
	if (varint(r, 32, len))
		return -1;
	if (*len > INT32_MAX)
		return kt_tc_fail(r, "%s length %llu at offset %zu is negative as an i32", what,
				  (unsigned long long)*len, start);
	if (*len <= r->cap - r->pos)
		return 0;
	if (r->growing)
		return kt_tc_fail(r,
				  "%s length %llu at offset %zu: "
				  "past the message size limit of %zu bytes",
				  what, (unsigned long long)*len, start, r->cap);
	return kt_tc_fail(r, "truncated: %s length %llu at offset %zu exceeds the %zu bytes left",
			  what, (unsigned long long)*len, start, r->cap - r->pos);
}

int kt_tc_read_binary(struct kt_tc_reader *r, const uint8_t **p, size_t *len)
{
	uint64_t n;
	if (length(r, &n, "binary") || take(r, (size_t)n, p))
		return -1;
	*len = (size_t)n;
	return 0;
}

int kt_tc_read_message_begin(struct kt_tc_reader *r, struct kt_tc_msg_header *h)
{
	uint8_t id, tv;
	uint64_t seq, len;
	if (byte(r, &id))
		return -1;
	if (id != KT_TC_PROTOCOL_ID)
		return kt_tc_fail(r, "protocol id 0x%02x at offset %zu, want 0x82", id, r->pos - 1);
	if (byte(r, &tv))
		return -1;
	if ((tv & 0x1f) != KT_TC_VERSION)
		return kt_tc_fail(r, "compact protocol version %u, want 1", tv & 0x1f);
	if ((tv >> 5) < KT_TC_CALL || (tv >> 5) > KT_TC_ONEWAY)
		return kt_tc_fail(r, "message type %u, want 1..4", tv >> 5);
	/* seqid: an i32 sent as a plain varint, not zigzag. */
	if (varint(r, 32, &seq) || length(r, &len, "name"))
		return -1;
	if (len > MAX_NAME)
		return kt_tc_fail(r, "method name of %llu bytes", (unsigned long long)len);
	if (take(r, (size_t)len, &h->name))
		return -1;
	h->type = (enum kt_tc_msg_type)(tv >> 5);
	h->version = tv & 0x1f;
	h->seqid = (int32_t)(uint32_t)seq;
	h->name_len = (size_t)len;
	return 0;
}

static int enter(struct kt_tc_reader *r)
{
	if (r->depth >= KT_TC_MAX_DEPTH)
		return kt_tc_fail(r, "nesting deeper than %d at offset %zu", KT_TC_MAX_DEPTH,
				  r->pos);
	r->depth++;
	return 0;
}

void kt_tc_leave(struct kt_tc_reader *r)
{
	if (r->depth)
		r->depth--;
}

int kt_tc_struct_begin(struct kt_tc_reader *r, struct kt_tc_struct *st)
{
	if (r->status != KT_TC_OK)
		return -1;
	st->last_id = 0;
	return enter(r);
}

static bool valid_field_type(unsigned t)
{
	return t >= KT_TC_BOOL_TRUE && t <= KT_TC_UUID;
}

/* Element types: bool may be written as 1 or 2; reported as 1. */
static int elem_type(struct kt_tc_reader *r, unsigned t, enum kt_tc_type *out)
{
	if (!valid_field_type(t))
		return kt_tc_fail(r, "invalid element type %u at offset %zu", t, r->pos - 1);
	*out = t == KT_TC_BOOL_FALSE ? KT_TC_BOOL_TRUE : (enum kt_tc_type)t;
	return 0;
}

/* Field header without touching st: the caller commits the new id. */
static int field_header(struct kt_tc_reader *r, int16_t last_id, struct kt_tc_field *f)
{
	uint8_t b;
	if (byte(r, &b))
		return -1;
	f->bool_value = false;
	if (b == 0) {
		f->type = KT_TC_STOP;
		f->id = 0;
		return 0;
	}
	unsigned t = b & 0x0f, delta = b >> 4;
	if (!valid_field_type(t))
		return kt_tc_fail(r, "invalid field type %u at offset %zu", t, r->pos - 1);
	if (delta) {
		if (last_id > INT16_MAX - (int)delta)
			return kt_tc_fail(r, "field id overflows i16 at offset %zu", r->pos - 1);
		f->id = (int16_t)(last_id + (int)delta);
	} else if (kt_tc_read_i16(r, &f->id)) {
		return -1;
	}
	f->type = (enum kt_tc_type)t;
	f->bool_value = t == KT_TC_BOOL_TRUE;
	return 0;
}

int kt_tc_read_field(struct kt_tc_reader *r, struct kt_tc_struct *st, struct kt_tc_field *f)
{
	if (field_header(r, st->last_id, f))
		return -1;
	if (f->type != KT_TC_STOP)
		st->last_id = f->id;
	return 0;
}

/* Smallest encoding of one element of type t. */
static size_t elem_min(enum kt_tc_type t)
{
	return t == KT_TC_DOUBLE ? 8 : t == KT_TC_UUID ? 16 : 1;
}

static int count_fits(struct kt_tc_reader *r, uint64_t count, size_t min_elem, size_t start,
		      const char *what)
{
	if (min_elem == 0)
		min_elem = 1;
	if (count <= (r->cap - r->pos) / min_elem)
		return 0;
	if (r->growing)
		return kt_tc_fail(r,
				  "%s of %llu elements at offset %zu: "
				  "past the message size limit of %zu bytes",
				  what, (unsigned long long)count, start, r->cap);
	return kt_tc_fail(r,
			  "truncated: %s of %llu elements at offset %zu "
			  "cannot fit in the %zu bytes left",
			  what, (unsigned long long)count, start, r->cap - r->pos);
}

static int list_header(struct kt_tc_reader *r, struct kt_tc_list *l, size_t min_elem)
{
	size_t start = r->pos;
	uint8_t b;
	uint64_t size;
	if (byte(r, &b) || elem_type(r, b & 0x0f, &l->elem))
		return -1;
	size = b >> 4;
	if (size == 15) {
		if (varint(r, 32, &size))
			return -1;
		if (size > INT32_MAX)
			return kt_tc_fail(r, "list size %llu at offset %zu is negative as an i32",
					  (unsigned long long)size, start);
	}
	if (min_elem < elem_min(l->elem))
		min_elem = elem_min(l->elem);
	if (count_fits(r, size, min_elem, start, "list"))
		return -1;
	l->size = (uint32_t)size;
	return 0;
}

static int map_header(struct kt_tc_reader *r, struct kt_tc_map *m)
{
	size_t start = r->pos;
	uint64_t size;
	uint8_t b;
	if (varint(r, 32, &size))
		return -1;
	if (size > INT32_MAX)
		return kt_tc_fail(r, "map size %llu at offset %zu is negative as an i32",
				  (unsigned long long)size, start);
	m->key = m->value = KT_TC_STOP;
	if (size) {
		if (byte(r, &b) || elem_type(r, b >> 4, &m->key) || elem_type(r, b & 0x0f, &m->value))
			return -1;
		if (count_fits(r, size, elem_min(m->key) + elem_min(m->value), start, "map"))
			return -1;
	}
	m->size = (uint32_t)size;
	return 0;
}

int kt_tc_read_list(struct kt_tc_reader *r, struct kt_tc_list *l, size_t min_elem)
{
	if (list_header(r, l, min_elem))
		return -1;
	return enter(r);
}

int kt_tc_read_map(struct kt_tc_reader *r, struct kt_tc_map *m)
{
	if (map_header(r, m))
		return -1;
	return enter(r);
}

const char *kt_tc_type_name(enum kt_tc_type t, char *buf, size_t size)
{
	static const char *const names[] = {
		[KT_TC_STOP] = "stop",	   [KT_TC_BOOL_TRUE] = "bool", [KT_TC_BOOL_FALSE] = "bool",
		[KT_TC_BYTE] = "byte",	   [KT_TC_I16] = "i16",	       [KT_TC_I32] = "i32",
		[KT_TC_I64] = "i64",	   [KT_TC_DOUBLE] = "double",  [KT_TC_BINARY] = "binary",
		[KT_TC_LIST] = "list",	   [KT_TC_SET] = "set",	       [KT_TC_MAP] = "map",
		[KT_TC_STRUCT] = "struct", [KT_TC_UUID] = "uuid",
	};
	if ((unsigned)t < sizeof(names) / sizeof(names[0]))
		return names[t];
	snprintf(buf, size, "type %u", (unsigned)t);
	return buf;
}

/* ------------------------------------------------------------ skipping and scanning */

enum {
	F_STRUCT = 1,
	F_LIST,
	F_MAP,
};

/*
 * One value of type t (in a field when in_field: bools then have no bytes).
 * Scalars are consumed; a container's header is read and, unless empty, the
 * frame to push is returned in *push (*pushed set).
 */
static int value(struct kt_tc_reader *r, enum kt_tc_type t, bool in_field, struct kt_tc_frame *push,
		 bool *pushed)
{
	const uint8_t *b;
	uint64_t u;
	size_t len;
	bool v;
	struct kt_tc_list l;
	struct kt_tc_map m;

	*pushed = false;
	switch (t) {
	case KT_TC_BOOL_TRUE:
	case KT_TC_BOOL_FALSE:
		return in_field ? 0 : kt_tc_read_bool_elem(r, &v);
	case KT_TC_BYTE:
		return take(r, 1, &b);
	case KT_TC_I16:
	case KT_TC_I32:
		return varint(r, 32, &u);
	case KT_TC_I64:
		return varint(r, 64, &u);
	case KT_TC_DOUBLE:
		return take(r, 8, &b);
	case KT_TC_UUID:
		return take(r, 16, &b);
	case KT_TC_BINARY:
		return kt_tc_read_binary(r, &b, &len);
	case KT_TC_LIST:
	case KT_TC_SET:
		if (list_header(r, &l, 1))
			return -1;
		*push = (struct kt_tc_frame){.kind = F_LIST, .t1 = l.elem, .left = l.size};
		*pushed = l.size > 0;
		return 0;
	case KT_TC_MAP:
		if (map_header(r, &m))
			return -1;
		/* left counts keys and values: a key is due when it is even. */
		*push = (struct kt_tc_frame){
			.kind = F_MAP, .t1 = m.key, .t2 = m.value, .left = 2 * m.size};
		*pushed = m.size > 0;
		return 0;
	case KT_TC_STRUCT:
		*push = (struct kt_tc_frame){.kind = F_STRUCT};
		*pushed = true;
		return 0;
	default:
		return kt_tc_fail(r, "cannot skip a value of type %u", (unsigned)t);
	}
}

/* Pushes fr if the reader's depth plus the stack allows. */
static int push_frame(struct kt_tc_reader *r, struct kt_tc_frame *stack, unsigned *depth,
		      const struct kt_tc_frame *fr)
{
	if (r->depth + *depth >= KT_TC_MAX_DEPTH)
		return kt_tc_fail(r, "nesting deeper than %d at offset %zu", KT_TC_MAX_DEPTH,
				  r->pos);
	stack[(*depth)++] = *fr;
	return 0;
}

/* One token of the innermost open container (*depth > 0). */
static int step(struct kt_tc_reader *r, struct kt_tc_frame *stack, unsigned *depth)
{
	struct kt_tc_frame *top = &stack[*depth - 1], fr;
	struct kt_tc_field f;
	bool pushed;

	if (top->kind == F_STRUCT) {
		if (field_header(r, top->last_id, &f))
			return -1;
		if (f.type == KT_TC_STOP) {
			(*depth)--;
			return 0;
		}
		if (value(r, f.type, true, &fr, &pushed))
			return -1;
		if (pushed && push_frame(r, stack, depth, &fr))
			return -1;
		top->last_id = f.id;
		return 0;
	}
	if (top->left == 0) {
		(*depth)--;
		return 0;
	}
	enum kt_tc_type t = top->kind == F_MAP && top->left % 2 == 1 ? top->t2 : top->t1;
	if (value(r, t, false, &fr, &pushed))
		return -1;
	if (pushed && push_frame(r, stack, depth, &fr))
		return -1;
	top->left--;
	return 0;
}

int kt_tc_skip_field(struct kt_tc_reader *r, const struct kt_tc_field *f)
{
	struct kt_tc_frame stack[KT_TC_MAX_DEPTH], fr;
	unsigned depth = 0;
	bool pushed;

	if (r->status != KT_TC_OK)
		return -1;
	if (value(r, f->type, true, &fr, &pushed))
		return -1;
	if (pushed && push_frame(r, stack, &depth, &fr))
		return -1;
	while (depth)
		if (step(r, stack, &depth))
			return -1;
	return 0;
}

void kt_tc_scan_init(struct kt_tc_scan *s, size_t max_len)
{
	s->max_len = max_len;
	s->pos = 0;
	s->need = 0;
	s->header_done = false;
	s->depth = 0;
	s->msg[0] = '\0';
}

static enum kt_tc_status scan_fail(struct kt_tc_scan *s, const struct kt_tc_reader *r)
{
	if (r->status == KT_TC_MORE) {
		s->need = r->need;
		return KT_TC_MORE;
	}
	memcpy(s->msg, r->msg, sizeof(s->msg));
	return KT_TC_BAD;
}

enum kt_tc_status kt_tc_scan_message(struct kt_tc_scan *s, const uint8_t *p, size_t n,
				     size_t *end)
{
	struct kt_tc_reader r;
	struct kt_tc_msg_header h;

	if (n > s->max_len)
		n = s->max_len; /* bytes past the limit cannot belong to the message */
	if (n < s->need)
		return KT_TC_MORE;
	kt_tc_reader_init(&r, p, n, s->max_len);
	r.pos = s->pos;
	if (!s->header_done) {
		if (kt_tc_read_message_begin(&r, &h))
			return scan_fail(s, &r);
		s->header_done = true;
		s->pos = r.pos;
		s->stack[0] = (struct kt_tc_frame){.kind = F_STRUCT};
		s->depth = 1;
	}
	/*
	 * A token that fails leaves the stack as it was (step commits last)
	 * and s->pos at its start.
	 */
	while (s->depth) {
		if (step(&r, s->stack, &s->depth))
			return scan_fail(s, &r);
		s->pos = r.pos;
	}
	*end = s->pos;
	return KT_TC_OK;
}

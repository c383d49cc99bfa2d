/* SPDX-License-Identifier: Apache-2.0 */
#include "tc_writer.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

void tcw_init(struct tcw *w)
{
	memset(w, 0, sizeof(*w));
}

void tcw_free(struct tcw *w)
{
	free(w->p);
	memset(w, 0, sizeof(*w));
}

uint8_t *tcw_copy(const struct tcw *w)
{
	uint8_t *d = malloc(w->n ? w->n : 1);
	cr_assert_not_null(d);
	if (w->n)
		memcpy(d, w->p, w->n);
	return d;
}

void tcw_bytes(struct tcw *w, const void *p, size_t n)
{
	if (w->n + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->n + n)
			cap *= 2;
		w->p = realloc(w->p, cap);
		cr_assert_not_null(w->p);
		w->cap = cap;
	}
	if (n)
		memcpy(w->p + w->n, p, n);
	w->n += n;
}

void tcw_byte(struct tcw *w, uint8_t b)
{
	tcw_bytes(w, &b, 1);
}

void tcw_varint(struct tcw *w, uint64_t v)
{
	while (v >= 0x80) {
		tcw_byte(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	tcw_byte(w, (uint8_t)v);
}

void tcw_i32(struct tcw *w, int32_t v)
{
	tcw_varint(w, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

void tcw_i64(struct tcw *w, int64_t v)
{
	tcw_varint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void tcw_double(struct tcw *w, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	for (int i = 0; i < 8; i++)
		tcw_byte(w, (uint8_t)(bits >> (8 * i)));
}

void tcw_bin(struct tcw *w, const void *p, size_t n)
{
	tcw_varint(w, n);
	tcw_bytes(w, p, n);
}

void tcw_str(struct tcw *w, const char *s)
{
	tcw_bin(w, s, strlen(s));
}

void tcw_header(struct tcw *w, unsigned type, uint32_t seqid, const char *name)
{
	tcw_byte(w, 0x82);
	tcw_byte(w, (uint8_t)(type << 5 | 1));
	tcw_varint(w, seqid);
	tcw_str(w, name);
}

static int16_t *last_id(struct tcw *w)
{
	cr_assert_gt(w->depth, 0, "field outside a struct");
	return &w->last[w->depth - 1];
}

void tcw_field(struct tcw *w, int16_t id, uint8_t type)
{
	int delta = id - *last_id(w);
	if (delta > 0 && delta <= 15) {
		tcw_byte(w, (uint8_t)(delta << 4 | type));
		*last_id(w) = id;
	} else {
		tcw_field_long(w, id, type);
	}
}

void tcw_field_long(struct tcw *w, int16_t id, uint8_t type)
{
	tcw_byte(w, type);
	tcw_i32(w, id);
	*last_id(w) = id;
}

void tcw_bool_field(struct tcw *w, int16_t id, bool v)
{
	tcw_field(w, id, v ? 1 : 2);
}

void tcw_struct(struct tcw *w)
{
	cr_assert_lt(w->depth, TCW_DEPTH);
	w->last[w->depth++] = 0;
}

void tcw_stop(struct tcw *w)
{
	tcw_byte(w, 0);
	if (w->depth > 0)
		w->depth--;
}

void tcw_list(struct tcw *w, uint8_t elem, uint32_t size)
{
	if (size <= 14)
		tcw_byte(w, (uint8_t)(size << 4 | elem));
	else
		tcw_list_long(w, elem, size);
}

void tcw_list_long(struct tcw *w, uint8_t elem, uint32_t size)
{
	tcw_byte(w, (uint8_t)(0xf0 | elem));
	tcw_varint(w, size);
}

void tcw_map(struct tcw *w, uint8_t key, uint8_t value, uint32_t size)
{
	tcw_varint(w, size);
	if (size)
		tcw_byte(w, (uint8_t)(key << 4 | value));
}

/* ------------------------------------------------------------ Jaeger */

enum { T_I32 = 5, T_I64 = 6, T_DOUBLE = 7, T_BIN = 8, T_LIST = 9, T_STRUCT = 12 };

void jw_begin(struct tcw *w, const char *service, uint32_t n_spans)
{
	tcw_header(w, 4, 1, "emitBatch");
	tcw_struct(w); /* emitBatch_args */
	tcw_field(w, 1, T_STRUCT);
	tcw_struct(w); /* Batch */
	tcw_field(w, 1, T_STRUCT);
	tcw_struct(w); /* Process */
	tcw_field(w, 1, T_BIN);
	tcw_str(w, service);
	jw_list(w, 2, 0);
	tcw_stop(w);
	jw_list(w, 2, n_spans);
}

void jw_end(struct tcw *w)
{
	tcw_stop(w); /* Batch */
	tcw_stop(w); /* emitBatch_args */
}

void jw_span(struct tcw *w, const struct jw_span *s)
{
	const int64_t ids[] = {s->trace_lo, s->trace_hi, s->span_id, s->parent};
	tcw_struct(w);
	for (int16_t i = 0; i < 4; i++) {
		tcw_field(w, (int16_t)(i + 1), T_I64);
		tcw_i64(w, ids[i]);
	}
	tcw_field(w, 5, T_BIN);
	tcw_str(w, s->name ? s->name : "op");
	tcw_field(w, 7, T_I32);
	tcw_i32(w, s->flags);
	tcw_field(w, 8, T_I64);
	tcw_i64(w, s->start);
	tcw_field(w, 9, T_I64);
	tcw_i64(w, s->duration);
}

void jw_one_span(struct tcw *w, const struct jw_span *s, void (*extra)(struct tcw *w))
{
	jw_begin(w, "svc", 1);
	jw_span(w, s);
	if (extra)
		extra(w);
	tcw_stop(w);
	jw_end(w);
}

void jw_tag(struct tcw *w, const char *key, struct jw_value v)
{
	tcw_struct(w);
	tcw_field(w, 1, T_BIN);
	tcw_str(w, key);
	tcw_field(w, 2, T_I32);
	tcw_i32(w, v.type);
	switch (v.type) {
	case 0:
		tcw_field(w, 3, T_BIN);
		tcw_str(w, v.s);
		break;
	case 1:
		tcw_field(w, 4, T_DOUBLE);
		tcw_double(w, v.d);
		break;
	case 2:
		tcw_bool_field(w, 5, v.b);
		break;
	case 3:
		tcw_field(w, 6, T_I64);
		tcw_i64(w, v.l);
		break;
	default:
		tcw_field(w, 7, T_BIN);
		tcw_bin(w, v.p, v.n);
		break;
	}
	tcw_stop(w);
}

void jw_list(struct tcw *w, int16_t field, uint32_t n)
{
	tcw_field(w, field, T_LIST);
	tcw_list(w, T_STRUCT, n);
}

void jw_tags(struct tcw *w, int16_t field, const struct jw_kv *kv, size_t n)
{
	jw_list(w, field, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		jw_tag(w, kv[i].key, kv[i].v);
}

void jw_log(struct tcw *w, int64_t ts, uint32_t n_fields)
{
	tcw_struct(w);
	tcw_field(w, 1, T_I64);
	tcw_i64(w, ts);
	jw_list(w, 2, n_fields);
}

void jw_ref(struct tcw *w, int32_t type, int64_t trace_lo, int64_t trace_hi, int64_t span_id)
{
	tcw_struct(w);
	tcw_field(w, 1, T_I32);
	tcw_i32(w, type);
	tcw_field(w, 2, T_I64);
	tcw_i64(w, trace_lo);
	tcw_field(w, 3, T_I64);
	tcw_i64(w, trace_hi);
	tcw_field(w, 4, T_I64);
	tcw_i64(w, span_id);
	tcw_stop(w);
}

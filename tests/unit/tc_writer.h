/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper: a Thrift compact protocol writer for hand-built messages,
 * well-formed or deliberately not (every primitive is exposed, long forms
 * can be forced). Also the Jaeger structs the decoder tests need.
 */
#ifndef KT_TEST_TC_WRITER_H
#define KT_TEST_TC_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCW_DEPTH 256

struct tcw {
	uint8_t *p;
	size_t n, cap;
	int depth;
	int16_t last[TCW_DEPTH];
};

void tcw_init(struct tcw *w);
void tcw_free(struct tcw *w);
/* An exact-size heap copy (ASan sees any read past the end); free() it. */
uint8_t *tcw_copy(const struct tcw *w);

void tcw_byte(struct tcw *w, uint8_t b);
void tcw_bytes(struct tcw *w, const void *p, size_t n);
void tcw_varint(struct tcw *w, uint64_t v);
void tcw_i32(struct tcw *w, int32_t v); /* zigzag varint (i16 too) */
void tcw_i64(struct tcw *w, int64_t v);
void tcw_double(struct tcw *w, double v);
void tcw_bin(struct tcw *w, const void *p, size_t n);
void tcw_str(struct tcw *w, const char *s);

/* 0x82, (type << 5) | 1, seqid varint, name. */
void tcw_header(struct tcw *w, unsigned type, uint32_t seqid, const char *name);
/* Field header in the innermost struct: short form when the delta allows. */
void tcw_field(struct tcw *w, int16_t id, uint8_t type);
void tcw_field_long(struct tcw *w, int16_t id, uint8_t type);
void tcw_bool_field(struct tcw *w, int16_t id, bool v);
/* A struct value starts (field ids restart at 0); tcw_stop ends it. */
void tcw_struct(struct tcw *w);
void tcw_stop(struct tcw *w);
/* List or set header: short form for sizes up to 14 unless forced long. */
void tcw_list(struct tcw *w, uint8_t elem, uint32_t size);
void tcw_list_long(struct tcw *w, uint8_t elem, uint32_t size);
void tcw_map(struct tcw *w, uint8_t key, uint8_t value, uint32_t size);

/* ---- Jaeger (jaeger.thrift field ids) */

/* Header, emitBatch_args, Batch, Process{service, no tags}, spans list header. */
void jw_begin(struct tcw *w, const char *service, uint32_t n_spans);
/* Stop Batch and emitBatch_args. */
void jw_end(struct tcw *w);

struct jw_span {
	int64_t trace_lo, trace_hi, span_id, parent;
	const char *name;
	int32_t flags;
	int64_t start, duration;
};
/* Span struct with its required fields; optional fields may follow; tcw_stop ends it. */
void jw_span(struct tcw *w, const struct jw_span *s);
/* A whole emitBatch (service "svc") with one span; extra (optional) writes more span fields. */
void jw_one_span(struct tcw *w, const struct jw_span *s, void (*extra)(struct tcw *w));

/* A tag value: JW_STR("x"), JW_DOUBLE(0.5), JW_BOOL(true), JW_LONG(-3), JW_BIN(p, n). */
struct jw_value {
	int32_t type; /* TagType */
	const char *s;
	double d;
	bool b;
	int64_t l;
	const void *p;
	size_t n;
};
#define JW_STR(v)	((struct jw_value){.type = 0, .s = (v)})
#define JW_DOUBLE(v)	((struct jw_value){.type = 1, .d = (v)})
#define JW_BOOL(v)	((struct jw_value){.type = 2, .b = (v)})
#define JW_LONG(v)	((struct jw_value){.type = 3, .l = (v)})
#define JW_BIN(ptr, len) ((struct jw_value){.type = 4, .p = (ptr), .n = (len)})

struct jw_kv {
	const char *key;
	struct jw_value v;
};

/* A Tag struct (an element of a list<Tag>). */
void jw_tag(struct tcw *w, const char *key, struct jw_value v);
/* Field `field` of the current struct: a list of n structs (the caller writes them). */
void jw_list(struct tcw *w, int16_t field, uint32_t n);
/* Field `field`: a list<Tag> of the given tags. */
void jw_tags(struct tcw *w, int16_t field, const struct jw_kv *kv, size_t n);
/* A Log struct: its timestamp and the header of n fields (tags); tcw_stop ends it. */
void jw_log(struct tcw *w, int64_t ts, uint32_t n_fields);
/* SpanRef struct. */
void jw_ref(struct tcw *w, int32_t type, int64_t trace_lo, int64_t trace_hi, int64_t span_id);

#endif

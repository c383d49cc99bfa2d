/* SPDX-License-Identifier: Apache-2.0 */
/*
 * State shared by the span decoders: the output arena, the error slot and
 * the path of the field being decoded, so that every error names its field
 * ("links.queue[1].span_context.trace_id: ..."). The path is a stack of
 * segments, rendered only when an error is reported: entering a field or an
 * element costs a store, whatever the size of the frame.
 */
#ifndef KT_DECODE_CTX_H
#define KT_DECODE_CTX_H

#include <stddef.h>

#include "base/arena.h"
#include "model/span.h"

#define KT_DPATH_MAX 16

/* Why a payload did not decode: the field's path and what was wrong with it. */
struct kt_decode_error {
	char msg[200];
};

struct kt_dseg {
	enum {
		KT_SEG_FIELD,
		KT_SEG_INDEX,
		KT_SEG_KEY
	} kind;
	const char *field; /* KT_SEG_FIELD: a static name */
	size_t index;	   /* KT_SEG_INDEX */
	struct kt_str key; /* KT_SEG_KEY: a map key, shown quoted */
};

struct kt_dctx {
	struct kt_arena *a;
	struct kt_decode_error *err;
	struct kt_decode_error spare; /* used when the caller passed no err */
	size_t depth;		      /* may exceed KT_DPATH_MAX; the excess is not kept */
	struct kt_dseg seg[KT_DPATH_MAX];
};

void kt_dctx_init(struct kt_dctx *d, struct kt_arena *a, struct kt_decode_error *err);

/*
 * Enter a struct field, an element, a map entry; each returns the mark for
 * kt_dctx_pop. Inline: decoders call them for every field they read. Only
 * the member the kind names is stored; the others are never read.
 */
static inline size_t kt_dctx_field(struct kt_dctx *d, const char *name)
{
	if (d->depth < KT_DPATH_MAX) {
		d->seg[d->depth].kind = KT_SEG_FIELD;
		d->seg[d->depth].field = name;
	}
	return d->depth++;
}

static inline size_t kt_dctx_index(struct kt_dctx *d, size_t i)
{
	if (d->depth < KT_DPATH_MAX) {
		d->seg[d->depth].kind = KT_SEG_INDEX;
		d->seg[d->depth].index = i;
	}
	return d->depth++;
}

static inline size_t kt_dctx_key(struct kt_dctx *d, struct kt_str key)
{
	if (d->depth < KT_DPATH_MAX) {
		d->seg[d->depth].kind = KT_SEG_KEY;
		d->seg[d->depth].key = key;
	}
	return d->depth++;
}

static inline void kt_dctx_pop(struct kt_dctx *d, size_t mark)
{
	d->depth = mark;
}

/* err->msg = "<path>: <message>". */
void kt_dctx_set_error(struct kt_dctx *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same, as an expression worth -1 (visibly, so compilers see the error paths). */
#define kt_dctx_fail(d, ...) (kt_dctx_set_error((d), __VA_ARGS__), -1)

/* Zeroed array from the arena; fails with a message when the limit is hit. */
void *kt_dctx_alloc(struct kt_dctx *d, size_t nmemb, size_t size);
/* The error of kt_dctx_str: -1. */
int kt_dctx_str_fail(struct kt_dctx *d, size_t n);

/* NUL-terminated arena copy of n bytes (already validated UTF-8). Inline: once per string. */
static inline int kt_dctx_str(struct kt_dctx *d, const void *p, size_t n, struct kt_str *out)
{
	char *s = kt_arena_memdup0(d->a, p, n);
	if (!s)
		return kt_dctx_str_fail(d, n);
	out->ptr = s;
	out->len = n;
	return 0;
}
/* SystemTime (seconds, nanoseconds) -> unix nanoseconds; fails when out of range. */
int kt_dctx_time(struct kt_dctx *d, uint64_t secs, uint32_t nanos, uint64_t *ns);

/* Printable, truncated rendering of s for messages (control bytes as '?'). */
const char *kt_dctx_preview(struct kt_str s, char *buf, size_t size);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Agent span payload decoders: one frame payload -> struct kt_span.
 * Every byte is untrusted: decoders never read out of bounds, allocate only
 * from the given arena (bounded), and fail with a message naming the field.
 */
#ifndef KT_DECODE_H
#define KT_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "model/decode_ctx.h"
#include "model/span.h"

enum kt_format {
	KT_FORMAT_AUTO = 0,
	KT_FORMAT_JSON,    /* Kata >= 3.29: serde_json of opentelemetry 0.17 SpanData */
	KT_FORMAT_BINCODE, /* Kata 2.2 .. 3.28: bincode 1.3 of opentelemetry 0.14 SpanData */
};

/* The 28 bytes every JSON-era payload starts with. */
#define KT_JSON_PREFIX "{\"span_context\":{\"trace_id\":"
#define KT_JSON_PREFIX_LEN 28

/* JSON when the payload starts with KT_JSON_PREFIX, bincode otherwise. */
enum kt_format kt_sniff_format(const uint8_t *p, size_t n);

/* Returns 0 on success; -1 with err->msg set. out is zeroed first. */
int kt_decode_json(const uint8_t *p, size_t n, struct kt_arena *a, struct kt_span *out,
		   struct kt_decode_error *err);
int kt_decode_bincode(const uint8_t *p, size_t n, struct kt_arena *a, struct kt_span *out,
		      struct kt_decode_error *err);
/* fmt AUTO sniffs per payload. *used (optional) receives the format tried. */
int kt_decode_span(enum kt_format fmt, const uint8_t *p, size_t n, struct kt_arena *a,
		   struct kt_span *out, enum kt_format *used, struct kt_decode_error *err);

/*
 * The arena a payload of n bytes may decode into: the decoded form is a
 * small multiple of the wire form, and a hostile frame gets no more.
 */
static inline size_t kt_decode_arena_limit(size_t n)
{
	return n * 16 + (64u << 10);
}

const char *kt_format_name(enum kt_format f);
/* "auto", "json", "bincode"; returns -1 on anything else. */
int kt_format_parse(const char *s, enum kt_format *out);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A decoded span on its way to the exporters, and the origin it came from.
 *
 * The origin describes the transport a span arrived on (socket path,
 * hypervisor process, sandbox id). It becomes the katatrace.* part of the
 * OTLP resource and is shared by every span of a connection (refcounted,
 * since the connection may close before its spans are exported).
 */
#ifndef KT_SPAN_RECORD_H
#define KT_SPAN_RECORD_H

#include <stdint.h>

#include "arena.h"
#include "span.h"

struct kt_origin {
	int refs; /* atomic */
	uint64_t id; /* unique per origin, groups spans into ResourceSpans */
	struct kt_arena arena;
	struct kt_kvlist attrs; /* resource attributes from the transport */
	const char *sandbox_id; /* NULL when the path is not one of Kata's */
	const char *label;      /* short text for logs: "unix:/run/..._10240 #ino" */
};

struct kt_span_record {
	struct kt_span_record *next;
	struct kt_arena arena; /* owns everything span points to */
	struct kt_span span;
	struct kt_origin *origin; /* one reference held; may be NULL */
};

/* attrs are copied; returns NULL on ENOMEM. refs starts at 1. */
struct kt_origin *kt_origin_new(const struct kt_kvlist *attrs, const char *sandbox_id,
				const char *label);
struct kt_origin *kt_origin_get(struct kt_origin *o);
void kt_origin_put(struct kt_origin *o);

/* Allocates an empty record whose arena is limited to arena_limit bytes. */
struct kt_span_record *kt_span_record_new(size_t arena_limit);
/* Frees the record, its arena and its origin reference. */
void kt_span_record_free(struct kt_span_record *r);
void kt_span_record_free_list(struct kt_span_record *head);

#endif

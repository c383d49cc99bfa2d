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

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "model/span.h"

struct kt_origin {
	int refs; /* atomic */
	uint64_t id; /* unique per origin, groups spans into ResourceSpans */
	struct kt_arena arena;
	struct kt_kvlist attrs; /* resource attributes from the transport */
	const char *sandbox_id; /* NULL when the path is not one of Kata's */
	const char *label;      /* short text for logs: "unix:/run/..._10240 #ino" */
	/*
	 * The instrumentation scope of its records; NULL: the exporter's for
	 * their kind (the agent's spans, the journal's log records). A
	 * service.name among attrs is the service of its records too.
	 */
	const char *scope_name;
};

/*
 * One arena several records share: the spans of one decoded batch (Kata
 * 1.x Jaeger) are exported, and freed, one by one.
 */
struct kt_shared_arena {
	int refs; /* atomic */
	struct kt_arena arena;
};

/* Who made the span: decides what user/traces/trace_stitch.c may do with it. */
enum kt_span_source {
	KT_SPAN_FROM_AGENT = 0, /* decoded from a guest's stream */
	KT_SPAN_FROM_RPC,	/* synthesised from captured ttrpc calls */
	KT_SPAN_FROM_HOST,	/* synthesised from kernel events (VM, vsock) */
	KT_SPAN_FROM_STITCH,	/* synthesised parent (user/traces/trace_stitch.c) */
};

struct kt_span_record {
	struct kt_span_record *next;
	enum kt_span_source source;
	struct kt_arena arena; /* owns everything span points to (unless shared) */
	struct kt_shared_arena *shared; /* else: span lives here; one reference held */
	struct kt_span span;
	struct kt_origin *origin; /* one reference held; may be NULL */
};

/* attrs are copied; returns NULL on ENOMEM. refs starts at 1. */
struct kt_origin *kt_origin_new(const struct kt_kvlist *attrs, const char *sandbox_id,
				const char *label);
/* Sets o's scope_name (copied), before o is shared; false on ENOMEM. */
bool kt_origin_set_scope(struct kt_origin *o, const char *scope_name);
struct kt_origin *kt_origin_get(struct kt_origin *o);
void kt_origin_put(struct kt_origin *o);

/* Allocates an empty record whose arena is limited to arena_limit bytes. */
struct kt_span_record *kt_span_record_new(size_t arena_limit);
/*
 * Takes a's memory over (a is left empty and reusable); refs starts at 1.
 * NULL on ENOMEM (a untouched).
 */
struct kt_shared_arena *kt_shared_arena_adopt(struct kt_arena *a);
void kt_shared_arena_put(struct kt_shared_arena *s);
/* A record for span, which lives in s (one more reference taken). */
struct kt_span_record *kt_span_record_new_shared(struct kt_shared_arena *s,
						 const struct kt_span *span);
/*
 * Gives a span the host made the resource service.name = name (copied into
 * the record's arena). false on ENOMEM.
 */
bool kt_span_record_set_service(struct kt_span_record *r, const char *name);
/* Frees the record, its arena (or shared reference) and its origin reference. */
void kt_span_record_free(struct kt_span_record *r);
void kt_span_record_free_list(struct kt_span_record *head);

#endif

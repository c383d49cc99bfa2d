/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata 1.x traces, the mapping: one complete jaeger-client-go
 * Agent.emitBatch message (Thrift compact protocol) -> struct kt_span
 * values, one per Jaeger span, mapped as OpenTelemetry's Jaeger receiver
 * maps them (the table is in docs/decoders.md). Where messages begin and end
 * in a connection's bytes is decode_jaeger.h's business (the stream).
 *
 * Every byte is untrusted: nothing is read out of bounds; what a message can
 * make the decoder allocate is bounded by its size and the limits below, in
 * the caller's arena (whose own limit applies); a failure names the field
 * ("batch.spans[0].traceIdLow: expected i64, found binary ...") and leaves
 * nothing behind in the result.
 */
#ifndef KT_JAEGER_MAP_H
#define KT_JAEGER_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "kata1/thrift_compact.h"
#include "model/decode_ctx.h"
#include "model/span.h"

/* The largest UDP datagram jaeger-client-go writes is 65000 bytes. */
#define KT_JAEGER_DEFAULT_MAX_MESSAGE (64u << 10)

struct kt_jaeger_limits {
	/* For the stream (decode_jaeger.h): */
	size_t max_message; /* bytes of one message (stream buffer); >= KT_JAEGER_MIN_MESSAGE_CAP */
	size_t arena_limit; /* arena bytes per message in the stream; 0: 64 x its size + 64 KiB */
	/* For each message: */
	uint32_t max_spans; /* per batch */
	uint32_t max_tags;  /* per span, per log, and process tags */
	uint32_t max_logs;  /* per span */
	uint32_t max_refs;  /* per span */
};

void kt_jaeger_limits_default(struct kt_jaeger_limits *l);

/* One decoded emitBatch message. */
struct kt_jaeger_batch {
	enum kt_tc_msg_type msg_type; /* KT_TC_ONEWAY as jaeger-client-go sends it (or CALL) */
	uint8_t version;
	int32_t seqid;
	struct kt_str method;	    /* "emitBatch" */
	struct kt_str service_name; /* Process.serviceName as sent */
	struct kt_kvlist resource;  /* Process as resource attributes; each span's resource */
	size_t n_spans;
	struct kt_span *spans;
};

/*
 * Decode exactly one message, p[0..n) (trailing bytes are an error), into a
 * (whose limit applies). lim NULL: defaults (only the per-message counts are
 * used here: max_spans, max_tags, max_logs, max_refs). Returns 0, or -1 with
 * err->msg "<path>: <problem>" and *out zeroed.
 */
int kt_jaeger_decode(const uint8_t *p, size_t n, const struct kt_jaeger_limits *lim,
		     struct kt_arena *a, struct kt_jaeger_batch *out, struct kt_decode_error *err);

#endif

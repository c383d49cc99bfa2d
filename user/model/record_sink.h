/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the spans and log records a stage makes go: one interface between
 * a stage and whatever follows it, so that no stage names the next. The
 * daemon connects the protocols and the VM spans to the trace stitcher,
 * and the stitcher to the export queue; tests connect a collector.
 *
 * A sink takes ownership of each record it is given. rpc_request tells
 * what follows that a host-side RPC of a sandbox has been requested, before
 * its answer (the agent's spans of it may come first); it returns the span
 * id the call's span is to have, 0 to let the span builder choose.
 */
#ifndef KT_RECORD_SINK_H
#define KT_RECORD_SINK_H

#include <stdbool.h>
#include <stdint.h>

#include "model/log_record.h"
#include "model/span.h"
#include "model/span_record.h"

/* A host-side RPC request, as far as traces care (rpc/ttrpc_rpc.h has the whole call). */
struct kt_rpc_request {
	struct kt_str service; /* "grpc.AgentService" */
	struct kt_str method;  /* "CreateContainer" */
	uint64_t start_unix_ns;
	bool has_traceparent; /* the caller traces it: trace_id is its trace */
	struct kt_trace_id trace_id;
};

struct kt_record_sink {
	void (*span)(void *ctx, struct kt_span_record *r);
	void (*log)(void *ctx, struct kt_log_record *r); /* NULL: log records are dropped */
	uint64_t (*rpc_request)(void *ctx, const char *sandbox_id, const struct kt_rpc_request *rq,
				uint64_t now_ns); /* NULL: 0 */
	void *ctx;
};

/* false: there is no log sink, r was freed. */
static inline bool kt_sink_log(const struct kt_record_sink *s, struct kt_log_record *r)
{
	if (s->log) {
		s->log(s->ctx, r);
		return true;
	}
	kt_log_record_free(r);
	return false;
}

static inline uint64_t kt_sink_rpc_request(const struct kt_record_sink *s, const char *sandbox_id,
					   const struct kt_rpc_request *rq, uint64_t now_ns)
{
	return s->rpc_request ? s->rpc_request(s->ctx, sandbox_id, rq, now_ns) : 0;
}

#endif

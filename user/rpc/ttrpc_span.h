/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A finished ttrpc call (user/rpc/ttrpc_rpc.h) as a span (user/model/span.h), the
 * host-side stand-in for the Go runtime's ttrpc client span
 * (docs/decoders.md, "ttrpc", has the full mapping):
 *
 *   name    "ttrpc.<Method>" (with full_name "<service>/<method>"), kind
 *           CLIENT, start/end from capture times
 *   attrs   rpc.system="ttrpc", rpc.service, rpc.method,
 *           rpc.grpc.status_code (int), katatrace.rpc.stream_id,
 *           katatrace.rpc.request.size, katatrace.rpc.response.size (with a
 *           response), katatrace.rpc.timeout_ns (when set),
 *           katatrace.rpc.end, katatrace.rpc.long_poll=true (long-poll
 *           methods only), katatrace.synthesized=true
 *   status  ERROR with the status message when the code is not 0, else UNSET
 *   ids     with a valid traceparent: its trace id, span id = its parent-id
 *           (the runtime's span for this very call, which the agent's RPC
 *           span names as parent), no parent, its flags and tracestate;
 *           without: the sandbox's trace id, a fresh random span id, parent =
 *           the sandbox's root span id.
 */
#ifndef KT_TTRPC_SPAN_H
#define KT_TTRPC_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "model/span.h"
#include "rpc/ttrpc_rpc.h"

#define KT_TTRPC_SPAN_MAX_EXTRA 8

struct kt_ttrpc_span_opts {
	/*
	 * Ids for calls without a valid traceparent (kt_sandbox_ids
	 * derives them from a sandbox id). A zero trace id gives each such
	 * span a random trace id of its own; parent 0 makes it a root span.
	 */
	struct kt_trace_id sandbox_trace_id;
	uint64_t sandbox_parent_span_id;
	/*
	 * Long-poll calls (WaitProcess, ReadStdout, ...) last as long as what
	 * they wait for; true skips them instead of building a span.
	 */
	bool drop_long_poll;
	/* Name the span "<service>/<method>" (containerd's calls to its shims). */
	bool full_name;
	/*
	 * Room for this many more attributes: the caller appends them at
	 * out->attrs.kv[out->attrs.n++] (at most KT_TTRPC_SPAN_MAX_EXTRA).
	 */
	size_t extra_attrs;
	/* Fresh non-zero span ids; NULL: from getrandom(2). */
	uint64_t (*new_span_id)(void *ctx);
	void *new_span_id_ctx;
};

enum kt_ttrpc_span_result {
	KT_TTRPC_SPAN_FAILED = -1, /* the arena's limit was reached; *out is zeroed */
	KT_TTRPC_SPAN_BUILT = 0,
	KT_TTRPC_SPAN_SKIPPED = 1, /* a long-poll call with drop_long_poll */
};

/* Builds the span of call c into *out; everything it points to lives in a. */
enum kt_ttrpc_span_result kt_ttrpc_span_build(const struct kt_ttrpc_call *c,
					      const struct kt_ttrpc_span_opts *o,
					      struct kt_arena *a, struct kt_span *out);

#endif

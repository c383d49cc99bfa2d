/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One trace per sandbox. Sits between the pipeline and the export queue
 * and sees every span of a sandbox: the agent's, the synthesised ttrpc
 * calls and the hypervisor's (docs/traces.md has the rules and examples).
 *
 *  - Collation. Without runtime tracing the agent's spans live in traces of
 *    their own. A trace of the agent that no observed ttrpc request named
 *    (traceparent) is moved into the sandbox's trace (kt_sandbox_ids;
 *    the original id is kept as katatrace.agent.trace_id); its root spans
 *    get a parent: the host-side ttrpc.<Method> span of the call they
 *    served (an agent RPC span "create_container" within a CreateContainer
 *    call, give or take skew_ns), else the sandbox's root span. Requests
 *    are announced when they are seen (kt_stitch_rpc_request), long before
 *    their span exists; a root of the agent that arrives before its request
 *    waits up to hold_ns.
 *  - Completion. When a sandbox ends (kt_stitch_sandbox_end), every parent
 *    span id that spans referred to but that never arrived gets a
 *    synthesised span (katatrace.synthesized=true) covering its children,
 *    so backends show whole traces instead of "missing root span". The
 *    sandbox's root span, when the VM's own span never came, is one of them.
 *
 * Spans without a sandbox pass straight through. Memory is bounded per
 * sandbox and in the number of sandboxes; beyond, spans pass through and
 * are counted (stats: stitch_untracked).
 */
#ifndef KT_TRACE_STITCH_H
#define KT_TRACE_STITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/span_record.h"
#include "model/record_sink.h"

struct kt_stitch_cfg {
	bool collate;	       /* move the agent's own traces into the sandbox trace */
	bool complete;	       /* synthesise missing parents when a sandbox ends */
	uint64_t hold_ns;      /* how long a root of the agent may wait for its request */
	uint64_t grace_ns;     /* after a sandbox's end, for spans still in flight */
	uint64_t skew_ns;      /* guest/host clock difference tolerated when matching */
	size_t max_sandboxes;  /* sandboxes tracked at once */
	size_t max_spans;      /* span ids remembered per sandbox */
};

#define KT_STITCH_DEFAULTS                                                                   \
	{                                                                                     \
		.collate = true, .complete = true, .hold_ns = 1000000000ull,                  \
		.grace_ns = 5000000000ull, .skew_ns = 1000000000ull, .max_sandboxes = 4096,  \
		.max_spans = 1u << 16,                                                        \
	}

struct kt_stitch;

/* Spans leave through out's span function (copied). */
struct kt_stitch *kt_stitch_new(const struct kt_stitch_cfg *cfg,
				const struct kt_record_sink *out);
/* Takes r over; it reaches out now or, held, by a later call. */
void kt_stitch_span(struct kt_stitch *s, struct kt_span_record *r, uint64_t now_ns);
/*
 * A host-side RPC request of sandbox_id was seen (a struct kt_record_sink's
 * rpc_request). Returns the span id its span is to have, 0 to leave the
 * choice to the span builder.
 */
uint64_t kt_stitch_rpc_request(struct kt_stitch *s, const char *sandbox_id,
			       const struct kt_rpc_request *c, uint64_t now_ns);
/* The sandbox is gone (its directory removed, its hypervisor exited). */
void kt_stitch_sandbox_end(struct kt_stitch *s, const char *sandbox_id, uint64_t now_ns);
/* Releases spans held past their time; completes sandboxes past their grace. */
void kt_stitch_tick(struct kt_stitch *s, uint64_t now_ns);
/*
 * Releases everything held. complete: also ends every sandbox now (the end
 * of an offline input, where nothing more can arrive).
 */
void kt_stitch_flush(struct kt_stitch *s, bool complete);
size_t kt_stitch_sandboxes(const struct kt_stitch *s);
void kt_stitch_free(struct kt_stitch *s);

#endif

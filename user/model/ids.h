/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Trace and span ids the host makes: a sandbox's own trace and root span,
 * derived from its id (docs/traces.md), and random span ids. Every span of a
 * sandbox that is not in a trace of its own lands in the sandbox's trace.
 */
#ifndef KT_IDS_H
#define KT_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "model/span.h"

/*
 * A trace id and a root span id for a sandbox, derived from its id: the
 * same sandbox id always gives the same (non-zero) ids, so spans of one
 * sandbox share a trace across restarts of katatrace-bpf.
 */
void kt_sandbox_ids(const char *sandbox_id, size_t len, struct kt_trace_id *trace_id,
		    uint64_t *root_span_id);

/* A random non-zero span id (getrandom(2); a mixed clock if that fails). */
uint64_t kt_random_span_id(void);

#endif

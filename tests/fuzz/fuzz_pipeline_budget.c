/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline under a small memory budget and tight connection caps
 * (user/base/mem_budget.c, user/stream/conn_limits.c, user/stream/pipeline.c): the input picks
 * the budget, then drives up to 8 connections on the agent's port, the
 * Jaeger and journal ports, a hypervisor's ttrpc socket and a shim socket,
 * with capture records in both directions: bytes at the next offset or
 * ahead of it, gaps, lost-record flags, closes, ticks. Some decoded spans
 * and logs are kept for a while, as an export queue would.
 *
 * Always: the bytes charged never exceed the budget; the pipeline's
 * connection count stays within the caps; once every connection is
 * finished and every record freed, every charge has been credited (the
 * pool is back to 0).
 */
#include "pipeline_ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ops o;
	ops_init(&o, data, size);
	struct kt_pipeline *p = ops_pipeline(&o);

	while (o.c.p < o.c.end) {
		unsigned op = next_byte(&o.c), conn = next_byte(&o.c) % CONNS;
		if (!ops_record(&o, p, op, conn))
			kept_free(&o.k); /* the exporter catches up */
		ops_check(&o, p);
	}
	ops_finish(&o, p);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "stream/protocols.h"

size_t kt_protocols_standard(const struct kt_protocols_cfg *cfg,
			     struct kt_protocol_choice out[KT_MAX_PROTOCOLS])
{
	size_t n = 0;
	/* A shim's socket first: its directory says more than its name. */
	out[n++] = (struct kt_protocol_choice){ &kt_task_protocol, &cfg->rpc };
	out[n++] = (struct kt_protocol_choice){ &kt_ttrpc_protocol, &cfg->rpc };
	/* One decoder per port: the journal's wins a port set for both. */
	out[n++] = (struct kt_protocol_choice){ &kt_journal_protocol, &cfg->journal };
	out[n++] = (struct kt_protocol_choice){ &kt_jaeger_protocol, &cfg->jaeger };
	out[n++] = (struct kt_protocol_choice){ &kt_agent_protocol, &cfg->agent };
	return n;
}

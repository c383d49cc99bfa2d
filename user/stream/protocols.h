/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stream stage's routing table: the protocols a connection may speak,
 * in the order they are asked (model/conn_protocol.h), with their
 * configurations. The standard set: the runtime's ttrpc to the agent and
 * containerd's Task API on the sockets and ports they use, the Kata 1.x
 * journal and Jaeger ports, and last the agent's trace frames, which take
 * every other connection.
 */
#ifndef KT_PROTOCOLS_H
#define KT_PROTOCOLS_H

#include <stddef.h>

#include "agent/agent_protocol.h"
#include "agent/framer.h"
#include "kata1/jaeger_protocol.h"
#include "kata1/journal_protocol.h"
#include "model/conn_protocol.h"
#include "model/kata_ports.h"
#include "rpc/rpc_protocol.h"

#define KT_MAX_PROTOCOLS 5

struct kt_protocols_cfg {
	struct kt_rpc_cfg rpc;         /* ttrpc and containerd's Task API */
	struct kt_journal_cfg journal; /* Kata 1.x guest journal */
	struct kt_jaeger_cfg jaeger;   /* Kata 1.x Jaeger spans */
	struct kt_agent_cfg agent;     /* the agent's trace frames */
};

#define KT_PROTOCOLS_DEFAULTS                                                                 \
	{                                                                                      \
		.rpc = { .ttrpc_vsock_port = KT_AGENT_TTRPC_PORT },                            \
		.journal = { .port = KT_KATA1_JOURNAL_PORT },                                  \
		.jaeger = { .port = KT_KATA1_JAEGER_PORT },                                    \
		.agent = { .format = KT_FORMAT_AUTO, .max_frame = KT_DEFAULT_MAX_FRAME },      \
	}

/* The standard set from cfg, which must outlive it; returns how many (<= KT_MAX_PROTOCOLS). */
size_t kt_protocols_standard(const struct kt_protocols_cfg *cfg,
			     struct kt_protocol_choice out[KT_MAX_PROTOCOLS]);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kata agent's trace stream as a protocol of the stream stage
 * (model/conn_protocol.h): the bytes towards the listener are cut into
 * frames (agent/framer.h), each frame decoded into one span (agent/decode.h)
 * and handed to the record sink with the connection's origin. It takes any
 * connection: the stream asks it last.
 */
#ifndef KT_AGENT_PROTOCOL_H
#define KT_AGENT_PROTOCOL_H

#include <stdint.h>

#include "agent/decode.h"
#include "model/conn_protocol.h"

struct kt_agent_cfg {
	enum kt_format format; /* --format */
	uint64_t max_frame;    /* --max-frame: largest payload */
};

extern const struct kt_protocol kt_agent_protocol;

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata 1.x agents' Jaeger spans as a protocol of the stream stage
 * (model/conn_protocol.h): connections to the Jaeger port carry thrift
 * compact emitBatch messages (kata1/decode_jaeger.h); every span of a
 * decoded batch goes to the record sink with the connection's origin.
 */
#ifndef KT_JAEGER_PROTOCOL_H
#define KT_JAEGER_PROTOCOL_H

#include "model/conn_protocol.h"

struct kt_jaeger_cfg {
	unsigned port; /* --jaeger-port: vsock port, and unix listeners "*_<port>"; 0 off */
};

extern const struct kt_protocol kt_jaeger_protocol;

#endif

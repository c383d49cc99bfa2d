/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kata 1.x guest journal as a protocol of the stream stage
 * (model/conn_protocol.h): connections to the journal port carry syslog
 * records (kata1/journal_stream.h), each exported as an OTLP log record
 * (kata1/journal_log.h) through the record sink. journald sends a record in
 * one write, so a connection silent for KT_JOURNAL_FLUSH_NS has its last
 * record complete.
 */
#ifndef KT_JOURNAL_PROTOCOL_H
#define KT_JOURNAL_PROTOCOL_H

#include "model/conn_protocol.h"

#define KT_JOURNAL_FLUSH_NS 1000000000ull

struct kt_journal_cfg {
	unsigned port; /* --journal-port: vsock port, and unix listeners "*_<port>"; 0 off */
};

extern const struct kt_protocol kt_journal_protocol;

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The vsock ports Kata's agent uses, by default (docs/operations.md). */
#ifndef KT_KATA_PORTS_H
#define KT_KATA_PORTS_H

#define KT_AGENT_TRACE_PORT 10240  /* the agent sends its spans to this host port */
#define KT_AGENT_TTRPC_PORT 1024   /* the agent serves the runtime's ttrpc on this guest port */
#define KT_KATA1_JAEGER_PORT 6831  /* Kata 1.x: Jaeger thrift compact spans */
#define KT_KATA1_JOURNAL_PORT 5140 /* Kata 1.x: the guest journal (syslog records) */

#endif

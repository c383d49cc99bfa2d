/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --metrics-address HOST:PORT, where the metrics server (daemon/metrics_http.h)
 * listens: HOST is an IPv4 address, an IPv6 address in brackets ([::1]), a
 * name (resolved at start-up: the first of its addresses that binds) or
 * empty (":2112": every address, IPv6 and IPv4); PORT 0..65535, 0 for one
 * the kernel picks (the log says which). The socket is bound at start-up,
 * while the daemon is still root, like the sink's listeners; the server
 * thread takes it once the daemon runs unprivileged.
 */
#ifndef KT_METRICS_ADDR_H
#define KT_METRICS_ADDR_H

#include <stddef.h>

struct kt_metrics_addr {
	char host[256]; /* without brackets; "" for every address */
	char port[6];
};

/* 0, or -1 with why (for a usage error). */
int kt_metrics_addr_parse(const char *s, struct kt_metrics_addr *out, char *why, size_t whylen);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Caps on concurrent connections, in total and per sandbox
 * (--max-connections, --max-sandbox-connections; docs/operations.md,
 * "Memory budget"). Each connection is counted in its group: the sandbox
 * it belongs to, or what stands for the sandbox until it is known (a guest
 * CID, a socket path). A connection beyond either cap is refused; the
 * connections already followed are never displaced by a newer one.
 *
 * Groups are 64-bit hashes of their key (kt_conn_group); group 0 counts
 * only towards the total. The table is sized from max_total at init and
 * never grows.
 */
#ifndef KT_CONN_LIMITS_H
#define KT_CONN_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#define KT_DEFAULT_MAX_CONNECTIONS 8192
#define KT_DEFAULT_MAX_SANDBOX_CONNECTIONS 64

enum kt_conn_admit {
	KT_CONN_ADMITTED,
	KT_CONN_OVER_TOTAL, /* max_total connections are followed */
	KT_CONN_OVER_GROUP, /* max_per_group connections of this group are */
};

struct kt_conn_group_slot; /* private */

struct kt_conn_limits {
	size_t max_total, max_per_group;
	size_t total;
	struct kt_conn_group_slot *slots;
	size_t mask; /* slots - 1 (a power of two) */
};

/* max_total and max_per_group >= 1. -1 on ENOMEM. */
int kt_conn_limits_init(struct kt_conn_limits *l, size_t max_total, size_t max_per_group);
void kt_conn_limits_free(struct kt_conn_limits *l);
/* The group of a key (a sandbox id, "cid:3", a path); never 0. */
uint64_t kt_conn_group(const char *key);
/* Counts one more connection of group, unless a cap says no. */
enum kt_conn_admit kt_conn_limits_take(struct kt_conn_limits *l, uint64_t group);
/* A connection that was admitted ended. */
void kt_conn_limits_put(struct kt_conn_limits *l, uint64_t group);
/* Connections of a group now. */
size_t kt_conn_limits_count(const struct kt_conn_limits *l, uint64_t group);
/* The flag whose cap refused a connection ("--max-connections", ...), for messages. */
const char *kt_conn_admit_reason(enum kt_conn_admit a);

#endif

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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/stream_record.h"

#define KT_DEFAULT_MAX_CONNECTIONS 8192
#define KT_DEFAULT_MAX_SANDBOX_CONNECTIONS 64
/* Refused connections are logged at most this often, with a count of the others. */
#define KT_REFUSAL_LOG_NS 1000000000ull

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

/*
 * Connections refused, remembered so that their capture records are
 * ignored quietly until they close: 4-way sets, the oldest of a set
 * replaced (a forgotten one is refused again at its next record, if the
 * caps still say so). Fixed size: a guest cannot grow it.
 */
#define KT_REFUSED_SETS 1024 /* power of two */
#define KT_REFUSED_WAYS 4

struct kt_refused_set {
	struct kt_conn_id id[KT_REFUSED_WAYS];
	bool used[KT_REFUSED_WAYS];
	unsigned next; /* way to replace */
};

struct kt_refused {
	struct kt_refused_set sets[KT_REFUSED_SETS];
};

void kt_refused_remember(struct kt_refused *r, const struct kt_conn_id *id);
bool kt_refused_has(const struct kt_refused *r, const struct kt_conn_id *id);
void kt_refused_forget(struct kt_refused *r, const struct kt_conn_id *id);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Discovery's hash table: its sandboxes by id, its inotify watches by watch
 * descriptor, its OCI bundles by path and by owning sandbox.
 *
 * Takes: nodes embedded in the caller's structures (struct kt_id_node), each
 * with a 64-bit hash of its key (kt_id_hash of a string, or a number as it
 * is). Gives: the nodes of one hash (a chain to walk and compare keys on),
 * the node of a string key, removal, and a walk over all nodes that may
 * remove the node it is at. The table owns no node and never allocates one;
 * its buckets double as it fills (when that fails, the chains just get
 * longer). Not thread-safe.
 */
#ifndef KT_ID_TABLE_H
#define KT_ID_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct kt_id_node {
	struct kt_id_node *next;
	uint64_t hash;
};

struct kt_id_table {
	struct kt_id_node **b;
	size_t nb, n; /* buckets (a power of 2), nodes */
};

/* The container of a node: KT_ID_OF(n, struct sandbox, node). */
#define KT_ID_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* FNV-1a of a string key. */
uint64_t kt_id_hash(const char *s);

/* 0, or -1 when out of memory. */
int kt_id_table_init(struct kt_id_table *t);
/* Frees the buckets (not the nodes). */
void kt_id_table_free(struct kt_id_table *t);
void kt_id_table_add(struct kt_id_table *t, struct kt_id_node *n, uint64_t hash);
/* Removes n if it is in t. */
void kt_id_table_del(struct kt_id_table *t, struct kt_id_node *n);
/* The first node of the chain hash is on (every node of that hash is on it; others may be). */
struct kt_id_node *kt_id_table_chain(const struct kt_id_table *t, uint64_t hash);
/*
 * The node whose string key is key; the key lies key_off bytes after the
 * node in its structure.
 */
struct kt_id_node *kt_id_table_find_str(const struct kt_id_table *t, const char *key, ptrdiff_t key_off);
/* Calls fn on every node (fn may delete it). */
void kt_id_table_each(struct kt_id_table *t, void (*fn)(struct kt_id_node *n, void *arg), void *arg);

#endif

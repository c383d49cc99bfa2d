/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/sandbox_registry.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024 /* power of two */

struct node {
	struct node *next;
	struct kt_sandbox_entry e;
};

struct kt_sandbox_registry {
	struct node *by_id[BUCKETS];
	uint64_t linger_ns;
	uint64_t next_gen;
	size_t live;
};

static size_t id_hash(const char *id)
{
	uint64_t h = 1469598103934665603ull;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	return (size_t)(h ^ (h >> 32)) & (BUCKETS - 1);
}

struct kt_sandbox_registry *kt_registry_new(uint64_t linger_ns)
{
	struct kt_sandbox_registry *r = calloc(1, sizeof(*r));
	if (r)
		r->linger_ns = linger_ns;
	return r;
}

static struct node *find(const struct kt_sandbox_registry *r, const char *id)
{
	for (struct node *n = r->by_id[id_hash(id)]; n; n = n->next)
		if (strcmp(n->e.meta.id, id) == 0)
			return n;
	return NULL;
}

int kt_registry_put(struct kt_sandbox_registry *r, const struct kt_sandbox_meta *m)
{
	struct node *n = find(r, m->id);
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n)
			return -1;
		size_t b = id_hash(m->id);
		n->next = r->by_id[b];
		r->by_id[b] = n;
		r->live++;
	} else if (n->e.gone_ns) {
		n->e.gone_ns = 0; /* the same id again */
		r->live++;
	} else if (memcmp(&n->e.meta, m, sizeof(*m)) == 0) {
		return 0;
	}
	n->e.meta = *m;
	n->e.gen = ++r->next_gen;
	return 0;
}

void kt_registry_gone(struct kt_sandbox_registry *r, const char *id, uint64_t now_ns)
{
	struct node *n = find(r, id);
	if (n && !n->e.gone_ns) {
		n->e.gone_ns = now_ns ? now_ns : 1;
		r->live--;
	}
}

void kt_registry_tick(struct kt_sandbox_registry *r, uint64_t now_ns)
{
	for (size_t b = 0; b < BUCKETS; b++) {
		for (struct node **pp = &r->by_id[b]; *pp;) {
			struct node *n = *pp;
			if (n->e.gone_ns && now_ns - n->e.gone_ns >= r->linger_ns) {
				*pp = n->next;
				free(n);
			} else {
				pp = &n->next;
			}
		}
	}
}

const struct kt_sandbox_entry *kt_registry_by_id(const struct kt_sandbox_registry *r,
						 const char *id)
{
	struct node *n = r ? find(r, id) : NULL;
	return n ? &n->e : NULL;
}

/*
 * Linear: it runs once per new vsock connection. A CID is unique among live
 * sandboxes; a lingering one may share it with its successor, which wins.
 */
const struct kt_sandbox_entry *kt_registry_by_cid(const struct kt_sandbox_registry *r,
						  uint32_t cid)
{
	const struct kt_sandbox_entry *best = NULL;
	if (!r || !cid)
		return NULL;
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct node *n = r->by_id[b]; n; n = n->next)
			if (n->e.meta.guest_cid == cid && !n->e.meta.hvsock_path[0] &&
			    (!best || (best->gone_ns && !n->e.gone_ns)))
				best = &n->e;
	return best;
}

/* Linear too: once per hypervisor that exits. A live sandbox wins over a lingering one. */
const struct kt_sandbox_entry *kt_registry_by_pid(const struct kt_sandbox_registry *r,
						  uint32_t pid)
{
	const struct kt_sandbox_entry *best = NULL;
	if (!r || !pid)
		return NULL;
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct node *n = r->by_id[b]; n; n = n->next)
			if (n->e.meta.hypervisor_pid == pid &&
			    (!best || (best->gone_ns && !n->e.gone_ns)))
				best = &n->e;
	return best;
}

uint64_t kt_registry_version(const struct kt_sandbox_registry *r)
{
	return r ? r->next_gen : 0;
}

size_t kt_registry_live(const struct kt_sandbox_registry *r)
{
	return r ? r->live : 0;
}

void kt_registry_free(struct kt_sandbox_registry *r)
{
	if (!r)
		return;
	for (size_t b = 0; b < BUCKETS; b++) {
		while (r->by_id[b]) {
			struct node *n = r->by_id[b];
			r->by_id[b] = n->next;
			free(n);
		}
	}
	free(r);
}

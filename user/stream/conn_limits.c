/* SPDX-License-Identifier: Apache-2.0 */
#include "stream/conn_limits.h"

#include <stdlib.h>

/* Open addressing, linear probing, backward-shift deletion; count 0 = empty. */
struct kt_conn_group_slot {
	uint64_t group;
	size_t count;
};

int kt_conn_limits_init(struct kt_conn_limits *l, size_t max_total, size_t max_per_group)
{
	size_t n = 16;
	l->max_total = max_total ? max_total : 1;
	l->max_per_group = max_per_group ? max_per_group : 1;
	l->total = 0;
	/* At most max_total groups are in use: the table stays at most half full. */
	while (n < 2 * l->max_total && n < ((size_t)1 << 40))
		n *= 2;
	l->slots = calloc(n, sizeof(*l->slots));
	l->mask = n - 1;
	return l->slots ? 0 : -1;
}

void kt_conn_limits_free(struct kt_conn_limits *l)
{
	free(l->slots);
	l->slots = NULL;
}

uint64_t kt_conn_group(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h ? h : 1;
}

static size_t home(const struct kt_conn_limits *l, uint64_t group)
{
	return (size_t)((group ^ (group >> 31)) * 0x9e3779b97f4a7c15ull) & l->mask;
}

/* The slot holding group, or the empty slot where it would go. */
static struct kt_conn_group_slot *find(const struct kt_conn_limits *l, uint64_t group)
{
	size_t i = home(l, group);
	while (l->slots[i].count && l->slots[i].group != group)
		i = (i + 1) & l->mask;
	return &l->slots[i];
}

size_t kt_conn_limits_count(const struct kt_conn_limits *l, uint64_t group)
{
	return group ? find(l, group)->count : 0;
}

enum kt_conn_admit kt_conn_limits_take(struct kt_conn_limits *l, uint64_t group)
{
	if (l->total >= l->max_total)
		return KT_CONN_OVER_TOTAL;
	if (group) {
		struct kt_conn_group_slot *s = find(l, group);
		if (s->count >= l->max_per_group)
			return KT_CONN_OVER_GROUP;
		s->group = group;
		s->count++;
	}
	l->total++;
	return KT_CONN_ADMITTED;
}

void kt_conn_limits_put(struct kt_conn_limits *l, uint64_t group)
{
	if (l->total)
		l->total--;
	if (!group)
		return;
	struct kt_conn_group_slot *s = find(l, group);
	if (!s->count || --s->count)
		return;
	/* Emptied: move later members of the probe run back over the hole. */
	size_t hole = (size_t)(s - l->slots);
	for (size_t i = (hole + 1) & l->mask; l->slots[i].count; i = (i + 1) & l->mask) {
		size_t h = home(l, l->slots[i].group);
		/* Stays if its home lies cyclically in (hole, i]. */
		if (hole <= i ? (hole < h && h <= i) : (hole < h || h <= i))
			continue;
		l->slots[hole] = l->slots[i];
		l->slots[i].count = 0;
		hole = i;
	}
}

const char *kt_conn_admit_reason(enum kt_conn_admit a)
{
	switch (a) {
	case KT_CONN_OVER_TOTAL:
		return "--max-connections";
	case KT_CONN_OVER_GROUP:
		return "--max-sandbox-connections";
	default:
		return "admitted";
	}
}

/* ------------------------------------------------------------ refused connections */

static bool id_eq(const struct kt_conn_id *x, const struct kt_conn_id *y)
{
	return x->endpoint == y->endpoint && x->port == y->port && x->transport == y->transport;
}

static size_t set_index(const struct kt_conn_id *id)
{
	uint64_t h = id->endpoint * 0x9e3779b97f4a7c15ull ^ id->port * 0xc2b2ae3d27d4eb4full ^ id->transport;
	return (size_t)(h ^ (h >> 29)) & (KT_REFUSED_SETS - 1);
}

/* The way holding id, or -1. */
static int way_of(const struct kt_refused_set *s, const struct kt_conn_id *id)
{
	for (int w = 0; w < KT_REFUSED_WAYS; w++)
		if (s->used[w] && id_eq(&s->id[w], id))
			return w;
	return -1;
}

bool kt_refused_has(const struct kt_refused *r, const struct kt_conn_id *id)
{
	return way_of(&r->sets[set_index(id)], id) >= 0;
}

void kt_refused_forget(struct kt_refused *r, const struct kt_conn_id *id)
{
	struct kt_refused_set *s = &r->sets[set_index(id)];
	int w = way_of(s, id);
	if (w >= 0)
		s->used[w] = false;
}

void kt_refused_remember(struct kt_refused *r, const struct kt_conn_id *id)
{
	struct kt_refused_set *s = &r->sets[set_index(id)];
	int w = way_of(s, id);
	for (int i = 0; w < 0 && i < KT_REFUSED_WAYS; i++)
		if (!s->used[i])
			w = i;
	if (w < 0) {
		w = (int)s->next;
		s->next = (s->next + 1) % KT_REFUSED_WAYS;
	}
	s->id[w] = *id;
	s->used[w] = true;
}

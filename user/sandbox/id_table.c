/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/id_table.h"

#include <stdlib.h>
#include <string.h>

uint64_t kt_id_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

int kt_id_table_init(struct kt_id_table *t)
{
	t->nb = 64;
	t->n = 0;
	t->b = calloc(t->nb, sizeof(*t->b));
	return t->b ? 0 : -1;
}

void kt_id_table_free(struct kt_id_table *t)
{
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}

void kt_id_table_add(struct kt_id_table *t, struct kt_id_node *n, uint64_t h)
{
	if (t->n >= t->nb) {
		/* double; on failure the chains just get longer */
		struct kt_id_node **nb = calloc(t->nb * 2, sizeof(*nb));
		if (nb) {
			for (size_t i = 0; i < t->nb; i++)
				for (struct kt_id_node *c = t->b[i], *next; c; c = next) {
					next = c->next;
					c->next = nb[c->hash & (t->nb * 2 - 1)];
					nb[c->hash & (t->nb * 2 - 1)] = c;
				}
			free(t->b);
			t->b = nb;
			t->nb *= 2;
		}
	}
	n->hash = h;
	n->next = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = n;
	t->n++;
}

void kt_id_table_del(struct kt_id_table *t, struct kt_id_node *n)
{
	struct kt_id_node **pp = &t->b[n->hash & (t->nb - 1)];
	while (*pp && *pp != n)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = n->next;
		t->n--;
	}
}

struct kt_id_node *kt_id_table_chain(const struct kt_id_table *t, uint64_t h)
{
	return t->b[h & (t->nb - 1)];
}

struct kt_id_node *kt_id_table_find_str(const struct kt_id_table *t, const char *key, ptrdiff_t key_off)
{
	uint64_t h = kt_id_hash(key);
	for (struct kt_id_node *n = t->b[h & (t->nb - 1)]; n; n = n->next)
		if (n->hash == h && strcmp((const char *)n + key_off, key) == 0)
			return n;
	return NULL;
}

void kt_id_table_each(struct kt_id_table *t, void (*fn)(struct kt_id_node *n, void *arg), void *arg)
{
	for (size_t i = 0; i < t->nb; i++)
		for (struct kt_id_node *n = t->b[i], *next; n; n = next) {
			next = n->next;
			fn(n, arg);
		}
}

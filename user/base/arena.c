/* SPDX-License-Identifier: Apache-2.0 */
#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KT_ARENA_ALIGN 16
#define KT_ARENA_MIN_CHUNK 4096

struct kt_arena_chunk {
	struct kt_arena_chunk *next;
	size_t cap;
	size_t pos;
	_Alignas(KT_ARENA_ALIGN) unsigned char mem[];
};

void kt_arena_init(struct kt_arena *a, size_t limit)
{
	a->head = NULL;
	a->used = 0;
	a->limit = limit;
	a->acct = NULL;
	a->budget_hit = false;
}

static size_t chunk_size(const struct kt_arena_chunk *c)
{
	return sizeof(*c) + c->cap;
}

bool kt_arena_charge(struct kt_arena *a, struct kt_mem_acct *acct)
{
	size_t total = 0;
	for (const struct kt_arena_chunk *c = a->head; c; c = c->next)
		total += chunk_size(c);
	if (!kt_mem_charge(acct, total))
		return false;
	a->acct = acct;
	return true;
}

/*
 * A new head chunk with room for need more bytes (within the limit, which
 * the caller checked). Out of line: it runs once or twice per span, and
 * keeps bump()'s common path free of a call frame.
 */
static __attribute__((noinline)) struct kt_arena_chunk *grow(struct kt_arena *a, size_t need)
{
	struct kt_arena_chunk *c = a->head;
	/* Grow geometrically with the arena so big spans cost few mallocs. */
	size_t cap = KT_ARENA_MIN_CHUNK;
	if (c && c->cap < (SIZE_MAX >> 2))
		cap = c->cap * 2;
	/* never more than the limit still allows: capacity is what is charged */
	if (a->limit && cap > a->limit - a->used)
		cap = a->limit - a->used;
	if (cap < need)
		cap = need;
	if (cap > SIZE_MAX - sizeof(*c))
		return NULL;
	if (!kt_mem_charge(a->acct, sizeof(*c) + cap)) {
		a->budget_hit = true;
		return NULL;
	}
	struct kt_arena_chunk *n = malloc(sizeof(*n) + cap);
	if (!n) {
		kt_mem_credit(a->acct, sizeof(*n) + cap);
		return NULL;
	}
	n->next = c;
	n->cap = cap;
	n->pos = 0;
	a->head = n;
	return n;
}

/* size bytes, 16-byte aligned, not zeroed: callers that overwrite them all skip the memset. */
static inline void *bump(struct kt_arena *a, size_t size)
{
	if (size > SIZE_MAX - KT_ARENA_ALIGN)
		return NULL;
	size_t need = (size + KT_ARENA_ALIGN - 1) & ~(size_t)(KT_ARENA_ALIGN - 1);
	if (need == 0)
		need = KT_ARENA_ALIGN;
	if (a->limit && (need > a->limit || a->used > a->limit - need))
		return NULL;

	struct kt_arena_chunk *c = a->head;
	if ((!c || c->cap - c->pos < need) && !(c = grow(a, need)))
		return NULL;
	void *p = c->mem + c->pos;
	c->pos += need;
	a->used += need;
	return p;
}

void *kt_arena_alloc(struct kt_arena *a, size_t size)
{
	void *p = bump(a, size);
	if (p)
		memset(p, 0, size);
	return p;
}

void *kt_arena_calloc(struct kt_arena *a, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	return kt_arena_alloc(a, nmemb * size);
}

char *kt_arena_memdup0(struct kt_arena *a, const void *src, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	char *p = bump(a, n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, src, n);
	p[n] = '\0';
	return p;
}

void kt_arena_free(struct kt_arena *a)
{
	struct kt_arena_chunk *c = a->head;
	while (c) {
		struct kt_arena_chunk *next = c->next;
		kt_mem_free(a->acct, c, chunk_size(c));
		c = next;
	}
	a->head = NULL;
	a->used = 0;
}

void kt_arena_reset(struct kt_arena *a)
{
	a->budget_hit = false;
	if (a->head && a->head->next) {
		size_t fill = a->used;
		kt_arena_free(a);
		/* a first chunk is sized to fit its first allocation */
		if (!bump(a, fill)) {
			kt_arena_free(a);
			a->budget_hit = false;
			return;
		}
	}
	if (a->head)
		a->head->pos = 0;
	a->used = 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "base/arena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Its macros do nothing in a build without ASan. */
#include <sanitizer/asan_interface.h>

#define KT_ARENA_ALIGN 16

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

/*
 * Freed chunks of the smallest size wait here for the next grow(), at most
 * KT_ARENA_CACHE_CHUNKS of them. A span is decoded into its arena on one
 * thread and freed on the export thread: through malloc that is a lock both
 * threads contend for on every span (these chunks are too large for its
 * per-thread cache), and, each time a batch is freed, a heap top given back
 * to the kernel and faulted in again for the next batch. Cached chunks are
 * free memory, outside every budget; under ASan their bytes are poisoned, so
 * that a use after free still fails as it would after free().
 */
static struct {
	pthread_mutex_t lock;
	struct kt_arena_chunk *head;
	size_t n;
} cache = { PTHREAD_MUTEX_INITIALIZER, NULL, 0 };

static struct kt_arena_chunk *cache_take(void)
{
	pthread_mutex_lock(&cache.lock);
	struct kt_arena_chunk *c = cache.head;
	if (c) {
		cache.head = c->next;
		cache.n--;
	}
	pthread_mutex_unlock(&cache.lock);
	if (c)
		ASAN_UNPOISON_MEMORY_REGION(c->mem, c->cap);
	return c;
}

/* false: the cache is full or c is not of the smallest size (free it) */
static bool cache_give(struct kt_arena_chunk *c)
{
	if (c->cap != KT_ARENA_MIN_CHUNK)
		return false;
	ASAN_POISON_MEMORY_REGION(c->mem, c->cap);
	pthread_mutex_lock(&cache.lock);
	bool kept = cache.n < KT_ARENA_CACHE_CHUNKS;
	if (kept) {
		c->next = cache.head;
		cache.head = c;
		cache.n++;
	}
	pthread_mutex_unlock(&cache.lock);
	if (!kept)
		ASAN_UNPOISON_MEMORY_REGION(c->mem, c->cap);
	return kept;
}

/*
 * A fork (the broker) while another thread holds the lock would leave the
 * child a lock nobody unlocks: the fork waits for it, as malloc's does.
 */
static void cache_lock(void)
{
	pthread_mutex_lock(&cache.lock);
}

static void cache_unlock(void)
{
	pthread_mutex_unlock(&cache.lock);
}

__attribute__((constructor)) static void cache_atfork(void)
{
	pthread_atfork(cache_lock, cache_unlock, cache_unlock);
}

size_t kt_arena_cached_chunks(void)
{
	pthread_mutex_lock(&cache.lock);
	size_t n = cache.n;
	pthread_mutex_unlock(&cache.lock);
	return n;
}

void kt_arena_cache_drop(void)
{
	pthread_mutex_lock(&cache.lock);
	struct kt_arena_chunk *c = cache.head;
	cache.head = NULL;
	cache.n = 0;
	pthread_mutex_unlock(&cache.lock);
	while (c) {
		struct kt_arena_chunk *next = c->next;
		ASAN_UNPOISON_MEMORY_REGION(c->mem, c->cap);
		free(c);
		c = next;
	}
}

/* c (chunk_size(c) bytes charged to acct) back to the cache or to malloc */
static void chunk_free(struct kt_mem_acct *acct, struct kt_arena_chunk *c)
{
	size_t n = chunk_size(c);
	if (cache_give(c))
		kt_mem_credit(acct, n);
	else
		kt_mem_free(acct, c, n);
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
	struct kt_arena_chunk *n = cap == KT_ARENA_MIN_CHUNK ? cache_take() : NULL;
	if (!n)
		n = malloc(sizeof(*n) + cap);
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
		chunk_free(a->acct, c);
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

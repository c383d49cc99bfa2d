/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bump allocator: everything decoded from one frame lives in one arena and is
 * released at once when the span has been exported. A byte limit bounds what a
 * hostile frame can make us allocate.
 */
#ifndef KT_ARENA_H
#define KT_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#include "base/mem_budget.h"

/* The smallest chunk an arena allocates; what a small span's arena holds. */
#define KT_ARENA_MIN_CHUNK 4096
/*
 * Freed chunks of the smallest size are kept for reuse, process-wide, up to
 * this many (about 4 MiB: two export batches of one-chunk spans), so that
 * decoding a span on one thread and freeing it on another costs no malloc.
 */
#define KT_ARENA_CACHE_CHUNKS 1024

struct kt_arena_chunk;

struct kt_arena {
	struct kt_arena_chunk *head;
	size_t used;  /* bytes handed out, including alignment */
	size_t limit; /* 0 = no limit */
	/*
	 * Charged for every chunk (mem_budget.h), credited when the arena is
	 * freed (from any thread); NULL: unaccounted. A refused charge fails
	 * the allocation like the limit does, and sets budget_hit.
	 */
	struct kt_mem_acct *acct;
	bool budget_hit;
};

/* An empty, unaccounted arena. */
void kt_arena_init(struct kt_arena *a, size_t limit);
/*
 * From now on a's chunks are charged to acct, those it already has
 * included; false (a unchanged and unaccounted) when they do not fit.
 */
bool kt_arena_charge(struct kt_arena *a, struct kt_mem_acct *acct);
/* Zeroed, 16-byte aligned memory; NULL on overflow, limit or ENOMEM. */
void *kt_arena_alloc(struct kt_arena *a, size_t size);
/* nmemb * size with overflow check. */
void *kt_arena_calloc(struct kt_arena *a, size_t nmemb, size_t size);
/* Copy of n bytes plus a terminating NUL (the bytes may contain NULs). */
char *kt_arena_memdup0(struct kt_arena *a, const void *src, size_t n);
void kt_arena_free(struct kt_arena *a);

/*
 * a emptied for reuse, its memory kept (nothing allocated from it is valid
 * any more; its limit and accounting unchanged): for an arena filled and
 * emptied over and over (the export thread's request arena), so that once
 * it has grown to the largest fill, filling it again allocates nothing. A
 * single chunk is kept as it is; several (a grew during the last fill) are
 * replaced by one as large as that fill took. Falls back to kt_arena_free
 * when memory or the budget refuses that chunk.
 */
void kt_arena_reset(struct kt_arena *a);

/* How many freed chunks wait for reuse (at most KT_ARENA_CACHE_CHUNKS). */
size_t kt_arena_cached_chunks(void);
/* Frees the chunks that wait for reuse. */
void kt_arena_cache_drop(void);

#endif

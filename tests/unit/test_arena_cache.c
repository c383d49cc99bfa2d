/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arena's cache of freed chunks (user/base/arena.c): a freed chunk of the
 * smallest size is handed to the next arena that grows, on any thread, with
 * no malloc; the cache never holds more than KT_ARENA_CACHE_CHUNKS; larger
 * chunks go back to malloc; the budget is credited all the same; and a cached
 * chunk is poisoned, so that ASan still catches a use after free.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sanitizer/asan_interface.h>
#include <string.h>

#include "alloc_count.h"
#include "base/arena.h"
#include "base/mem_budget.h"
#include "charged_arena.h"

/* A span-sized arena: one chunk of the smallest size. */
static void *one_chunk(struct kt_arena *a)
{
	kt_arena_init(a, 0);
	void *p = kt_arena_alloc(a, 1000);
	cr_assert_not_null(p);
	memset(p, 0xab, 1000);
	return p;
}

Test(arena_cache, a_freed_chunk_is_reused_without_malloc)
{
	kt_arena_cache_drop();
	struct kt_arena a, b;
	void *first = one_chunk(&a);
	kt_arena_free(&a);
	cr_assert_eq(kt_arena_cached_chunks(), 1);

	kt_alloc_count_begin();
	void *again = one_chunk(&b);
	size_t mallocs = kt_alloc_count_end();
	cr_expect_eq(again, first, "the cached chunk is handed out again");
	cr_expect_eq(mallocs, 0, "%zu allocations for a cached chunk", mallocs);
	cr_expect_eq(kt_arena_cached_chunks(), 0);
	unsigned char *q = kt_arena_alloc(&b, 100);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(q[i], 0, "memory from a cached chunk is zeroed");
	kt_arena_free(&b);
	kt_arena_cache_drop();
	cr_expect_eq(kt_arena_cached_chunks(), 0);
}

Test(arena_cache, holds_at_most_its_limit)
{
	kt_arena_cache_drop();
	enum { N = KT_ARENA_CACHE_CHUNKS + 10 };
	static struct kt_arena arenas[N];
	for (int i = 0; i < N; i++)
		one_chunk(&arenas[i]);
	for (int i = 0; i < N; i++)
		kt_arena_free(&arenas[i]);
	cr_expect_eq(kt_arena_cached_chunks(), KT_ARENA_CACHE_CHUNKS);
	kt_arena_cache_drop();
}

Test(arena_cache, larger_chunks_go_back_to_malloc)
{
	kt_arena_cache_drop();
	struct kt_arena a;
	kt_arena_init(&a, 0);
	/* the first chunk is sized to fit; the second doubles */
	cr_assert_not_null(kt_arena_alloc(&a, 3 * KT_ARENA_MIN_CHUNK));
	cr_assert_not_null(kt_arena_alloc(&a, KT_ARENA_MIN_CHUNK));
	kt_arena_free(&a);
	cr_expect_eq(kt_arena_cached_chunks(), 0);

	/* an arena whose limit makes its chunk smaller */
	kt_arena_init(&a, 64);
	cr_assert_not_null(kt_arena_alloc(&a, 64));
	kt_arena_free(&a);
	cr_expect_eq(kt_arena_cached_chunks(), 0);
}

Test(arena_cache, the_budget_is_credited_for_a_cached_chunk)
{
	kt_arena_cache_drop();
	struct kt_mem_pool pool;
	struct kt_mem_acct acct;
	struct kt_arena a;
	charged_arena(&a, &acct, &pool);
	cr_assert_not_null(kt_arena_alloc(&a, 10));
	cr_assert_gt(kt_mem_held(&acct), KT_ARENA_MIN_CHUNK);
	kt_arena_free(&a);
	cr_expect_eq(kt_arena_cached_chunks(), 1);
	cr_expect_eq(kt_mem_held(&acct), 0, "%zu bytes still charged", kt_mem_held(&acct));
	cr_expect_eq(kt_mem_used(&pool), 0);

	/* taken from the cache, it is charged again */
	kt_arena_init(&a, 0);
	cr_assert(kt_arena_charge(&a, &acct));
	cr_assert_not_null(kt_arena_alloc(&a, 10));
	cr_expect_eq(kt_arena_cached_chunks(), 0);
	cr_expect_gt(kt_mem_held(&acct), KT_ARENA_MIN_CHUNK);
	kt_arena_free(&a);
	kt_arena_cache_drop();
}

Test(arena_cache, a_cached_chunk_is_poisoned)
{
	kt_arena_cache_drop();
	struct kt_arena a, b;
	unsigned char *p = one_chunk(&a);
	cr_assert_not(__asan_address_is_poisoned(p), "in use, the chunk is not poisoned");
	kt_arena_free(&a);
	cr_expect(__asan_address_is_poisoned(p), "a cached chunk is poisoned");
	cr_expect(__asan_address_is_poisoned(p + KT_ARENA_MIN_CHUNK - 1));
	unsigned char *q = one_chunk(&b);
	cr_assert_eq(q, p);
	cr_expect_not(__asan_address_is_poisoned(q + KT_ARENA_MIN_CHUNK - 1),
		      "handed out again, all of it is usable");
	kt_arena_free(&b);
	kt_arena_cache_drop();
}

static void *free_it(void *arg)
{
	kt_arena_free(arg);
	return NULL;
}

Test(arena_cache, freed_on_one_thread_reused_on_another)
{
	kt_arena_cache_drop();
	struct kt_arena a, b;
	void *p = one_chunk(&a);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, free_it, &a), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_expect_eq(kt_arena_cached_chunks(), 1);
	cr_expect_eq(one_chunk(&b), p);
	kt_arena_free(&b);
	kt_arena_cache_drop();
}

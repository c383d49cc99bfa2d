/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kt_arena_reset (user/base/arena.c): the arena is empty afterwards,
 * hands out zeroed memory within its limit again, and the same fill again
 * takes no allocation, whether the last fill needed one chunk or several.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "alloc_count.h"
#include "base/arena.h"
#include "base/mem_budget.h"
#include "charged_arena.h"

/* 100 blocks of size bytes, each filled with 0xff; false when one is refused. */
static bool fill(struct kt_arena *a, size_t size)
{
	for (int i = 0; i < 100; i++) {
		unsigned char *p = kt_arena_alloc(a, size);
		if (!p)
			return false;
		for (size_t k = 0; k < size; k++)
			cr_assert_eq(p[k], 0, "memory handed out again is zeroed");
		memset(p, 0xff, size);
	}
	return true;
}

Test(arena_reset, the_same_fill_again_allocates_nothing)
{
	static const size_t sizes[] = { 8, 100, 5000 }; /* one chunk, several, one per block */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct kt_arena a;
		kt_arena_init(&a, 0);
		cr_assert(fill(&a, sizes[i]));
		kt_arena_reset(&a);
		cr_assert_eq(a.used, 0);
		kt_alloc_count_begin();
		bool ok = fill(&a, sizes[i]);
		kt_arena_reset(&a);
		size_t n = kt_alloc_count_end();
		cr_assert(ok);
		cr_expect_eq(n, 0, "blocks of %zu bytes: %zu allocations the second time", sizes[i],
			     n);
		kt_arena_free(&a);
	}
}

Test(arena_reset, the_limit_still_holds)
{
	struct kt_arena a;
	kt_arena_init(&a, 100 * 112);
	cr_assert(fill(&a, 100)); /* 112 bytes each, rounded: exactly the limit */
	cr_assert_null(kt_arena_alloc(&a, 1));
	kt_arena_reset(&a);
	cr_assert_eq(a.limit, 100 * 112);
	cr_assert(fill(&a, 100));
	cr_assert_null(kt_arena_alloc(&a, 1));
	kt_arena_free(&a);
}

Test(arena_reset, accounted_memory_stays_charged_until_freed)
{
	struct kt_mem_pool pool;
	struct kt_mem_acct acct;
	struct kt_arena a;
	charged_arena(&a, &acct, &pool);
	cr_assert(fill(&a, 1000));
	kt_arena_reset(&a);
	cr_assert_geq(kt_mem_held(&acct), 100 * 1008, "the kept chunk is still charged");
	kt_arena_free(&a);
	cr_assert_eq(kt_mem_held(&acct), 0);
}

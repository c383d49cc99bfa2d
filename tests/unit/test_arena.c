/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arena's byte limit (user/base/arena.c) at its exact boundary: every
 * allocation counts rounded up to 16 bytes, one that brings the count
 * exactly to the limit succeeds, one byte more fails and changes nothing.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "base/arena.h"

static void expect_aligned(const void *p)
{
	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p % 16, 0, "%p is not 16-byte aligned", p);
}

Test(arena, one_allocation_of_exactly_the_limit)
{
	struct kt_arena a;
	kt_arena_init(&a, 64);
	void *p = kt_arena_alloc(&a, 64);
	expect_aligned(p);
	cr_assert_eq(a.used, 64);
	cr_assert_null(kt_arena_alloc(&a, 1), "one byte over the limit");
	cr_assert_null(kt_arena_alloc(&a, 0), "an empty allocation counts 16 bytes");
	cr_assert_eq(a.used, 64);
	kt_arena_free(&a);

	kt_arena_init(&a, 64);
	cr_assert_null(kt_arena_alloc(&a, 65));
	cr_assert_eq(a.used, 0, "a refused allocation counts nothing");
	expect_aligned(kt_arena_alloc(&a, 49)); /* rounded up to 64: still fits */
	cr_assert_eq(a.used, 64);
	kt_arena_free(&a);
}

Test(arena, allocations_filling_the_limit_exactly)
{
	struct kt_arena a;
	kt_arena_init(&a, 64);
	expect_aligned(kt_arena_alloc(&a, 48));
	expect_aligned(kt_arena_alloc(&a, 16));
	cr_assert_eq(a.used, 64);
	cr_assert_null(kt_arena_alloc(&a, 1));
	cr_assert_eq(a.used, 64);
	kt_arena_free(&a);

	/* Four 1-byte allocations take 16 bytes each. */
	kt_arena_init(&a, 64);
	for (int i = 0; i < 4; i++) {
		expect_aligned(kt_arena_alloc(&a, 1));
		cr_assert_eq(a.used, 16 * (size_t)(i + 1));
	}
	cr_assert_null(kt_arena_alloc(&a, 1), "a fifth 1-byte allocation");
	kt_arena_free(&a);

	/* 17 bytes take 32. */
	kt_arena_init(&a, 32);
	expect_aligned(kt_arena_alloc(&a, 17));
	cr_assert_eq(a.used, 32);
	cr_assert_null(kt_arena_alloc(&a, 1));
	kt_arena_free(&a);
}

Test(arena, limit_not_a_multiple_of_16)
{
	/* 48 + 15 bytes asked are 63, but they take 64: over a limit of 63. */
	struct kt_arena a;
	kt_arena_init(&a, 63);
	expect_aligned(kt_arena_alloc(&a, 48));
	cr_assert_null(kt_arena_alloc(&a, 15));
	cr_assert_eq(a.used, 48);
	kt_arena_free(&a);

	/* A limit of 65 holds 64. */
	kt_arena_init(&a, 65);
	expect_aligned(kt_arena_alloc(&a, 48));
	expect_aligned(kt_arena_alloc(&a, 16));
	cr_assert_eq(a.used, 64);
	cr_assert_null(kt_arena_alloc(&a, 1));
	kt_arena_free(&a);

	/* Below 16 nothing fits. */
	kt_arena_init(&a, 15);
	cr_assert_null(kt_arena_alloc(&a, 1));
	kt_arena_free(&a);
	kt_arena_init(&a, 16);
	expect_aligned(kt_arena_alloc(&a, 16));
	kt_arena_free(&a);
}

Test(arena, memdup0_and_calloc_at_the_limit)
{
	/* memdup0 takes n + 1 bytes: 15 fit in 16, 16 do not. */
	struct kt_arena a;
	kt_arena_init(&a, 16);
	char *s = kt_arena_memdup0(&a, "0123456789abcde", 15);
	cr_assert_not_null(s);
	cr_assert_str_eq(s, "0123456789abcde");
	kt_arena_free(&a);
	kt_arena_init(&a, 16);
	cr_assert_null(kt_arena_memdup0(&a, "0123456789abcdef", 16));
	kt_arena_free(&a);

	/* calloc: nmemb * size against the limit, and its overflow. */
	kt_arena_init(&a, 96);
	cr_assert_not_null(kt_arena_calloc(&a, 4, 24));
	cr_assert_eq(a.used, 96);
	kt_arena_free(&a);
	kt_arena_init(&a, 96);
	cr_assert_null(kt_arena_calloc(&a, 97, 1));
	cr_assert_null(kt_arena_calloc(&a, SIZE_MAX / 2 + 1, 2));
	cr_assert_null(kt_arena_alloc(&a, SIZE_MAX));
	cr_assert_eq(a.used, 0);
	kt_arena_free(&a);
}

Test(arena, no_limit)
{
	struct kt_arena a;
	kt_arena_init(&a, 0);
	for (int i = 0; i < 100; i++)
		expect_aligned(kt_arena_alloc(&a, 4096 + (size_t)i));
	cr_assert_gt(a.used, 100 * 4096);
	kt_arena_free(&a);
	cr_assert_eq(a.used, 0);
	cr_assert_null(a.head);
}

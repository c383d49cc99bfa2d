/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An empty, unlimited arena charged to acct, which draws on a 1 MiB pool:
 * for the tests of what an arena charges and credits.
 */
#ifndef KT_TEST_CHARGED_ARENA_H
#define KT_TEST_CHARGED_ARENA_H

#include <criterion/criterion.h>

#include "base/arena.h"
#include "base/mem_budget.h"

static inline void charged_arena(struct kt_arena *a, struct kt_mem_acct *acct,
				 struct kt_mem_pool *pool)
{
	kt_mem_pool_init(pool, 1 << 20);
	kt_mem_acct_init(acct, pool);
	kt_arena_init(a, 0);
	cr_assert(kt_arena_charge(a, acct));
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
#include "base/mem_budget.h"

#include <stdlib.h>
#include <string.h>

void kt_mem_pool_init(struct kt_mem_pool *p, size_t limit)
{
	memset(p, 0, sizeof(*p));
	p->limit = limit;
}

void kt_mem_acct_init(struct kt_mem_acct *a, struct kt_mem_pool *pool)
{
	memset(a, 0, sizeof(*a));
	a->pool = pool;
}

/* used + n within the limit: takes it. Credits may run concurrently. */
static bool try_take(struct kt_mem_pool *p, size_t n)
{
	size_t used = __atomic_load_n(&p->used, __ATOMIC_RELAXED);
	do {
		if (n > p->limit || used > p->limit - n)
			return false;
	} while (!__atomic_compare_exchange_n(&p->used, &used, used + n, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	/* the highest seen, whichever thread charged it */
	size_t peak = __atomic_load_n(&p->peak, __ATOMIC_RELAXED);
	while (used + n > peak && !__atomic_compare_exchange_n(&p->peak, &peak, used + n, true,
							       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	return true;
}

bool kt_mem_charge(struct kt_mem_acct *a, size_t n)
{
	if (!a)
		return true;
	struct kt_mem_pool *p = a->pool;
	if (p && !try_take(p, n)) {
		if (p->reclaim && !p->reclaiming) {
			p->reclaiming = true;
			p->reclaim(p->reclaim_ctx, a, n);
			p->reclaiming = false;
		}
		if (!try_take(p, n)) {
			__atomic_fetch_add(&p->refused, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&a->refused, 1, __ATOMIC_RELAXED);
			return false;
		}
	}
	__atomic_fetch_add(&a->held, n, __ATOMIC_RELAXED);
	return true;
}

bool kt_mem_try_charge(struct kt_mem_acct *a, size_t n)
{
	if (!a)
		return true;
	if (a->pool && !try_take(a->pool, n)) {
		__atomic_fetch_add(&a->pool->refused, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&a->refused, 1, __ATOMIC_RELAXED);
		return false;
	}
	__atomic_fetch_add(&a->held, n, __ATOMIC_RELAXED);
	return true;
}

void kt_mem_credit(struct kt_mem_acct *a, size_t n)
{
	if (!a || !n)
		return;
	__atomic_fetch_sub(&a->held, n, __ATOMIC_RELAXED);
	if (a->pool)
		__atomic_fetch_sub(&a->pool->used, n, __ATOMIC_RELAXED);
}

size_t kt_mem_held(const struct kt_mem_acct *a)
{
	return a ? __atomic_load_n(&a->held, __ATOMIC_RELAXED) : 0;
}

size_t kt_mem_used(const struct kt_mem_pool *p)
{
	return __atomic_load_n(&p->used, __ATOMIC_RELAXED);
}

void *kt_mem_malloc(struct kt_mem_acct *a, size_t n)
{
	if (!kt_mem_charge(a, n))
		return NULL;
	void *p = malloc(n);
	if (!p)
		kt_mem_credit(a, n);
	return p;
}

void *kt_mem_calloc(struct kt_mem_acct *a, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	void *p = kt_mem_malloc(a, nmemb * size);
	if (p)
		memset(p, 0, nmemb * size);
	return p;
}

void *kt_mem_realloc(struct kt_mem_acct *a, void *p, size_t old, size_t n)
{
	if (n > old && !kt_mem_charge(a, n - old))
		return NULL;
	void *q = realloc(p, n);
	if (!q) {
		if (n > old)
			kt_mem_credit(a, n - old);
		return NULL;
	}
	if (n < old)
		kt_mem_credit(a, old - n);
	return q;
}

void kt_mem_free(struct kt_mem_acct *a, void *p, size_t n)
{
	if (!p)
		return;
	free(p);
	kt_mem_credit(a, n);
}

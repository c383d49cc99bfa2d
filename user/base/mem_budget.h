/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One memory budget for everything a guest can make the daemon hold
 * (--memory-budget; docs/operations.md, "Memory budget").
 *
 * A pool has a limit; accounts draw on it. Every buffer whose size a
 * guest's bytes decide (reassembly, partial frames, decoder buffers,
 * per-connection state, decoded spans and logs waiting for export) is
 * charged to an account before it is allocated or grown, and credited
 * when it shrinks or is freed. A charge succeeds only while the pool stays
 * within its limit (exactly at the limit is within). When it would not,
 * the pool first calls its reclaimer, which may make room by shedding
 * other accounts' data; if there is still no room the charge is refused,
 * nothing is allocated, and the caller drops what it was about to keep,
 * as if those bytes had been lost.
 *
 * An account without a pool only counts: offline decoding, unit tests and
 * fuzz targets run unbudgeted unless they give one. A NULL account is
 * allowed wherever an account is taken and means "unaccounted".
 *
 * Threads: charges, and the reclaimer they may call, run on one thread
 * (the capture loop); kt_mem_try_charge(), which calls no reclaimer, may
 * run on another (the ring buffer's drain). Credits may come from any
 * thread: decoded spans are freed by the export thread.
 */
#ifndef KT_MEM_BUDGET_H
#define KT_MEM_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KT_DEFAULT_MEMORY_BUDGET ((size_t)256 << 20)

struct kt_mem_acct;

/*
 * Asked to make room for `need` more bytes for `requester` (which must
 * not be touched). It may shed other accounts; the pool checks again.
 */
typedef void (*kt_mem_reclaim_fn)(void *ctx, const struct kt_mem_acct *requester, size_t need);

struct kt_mem_pool {
	size_t limit;
	size_t used;     /* atomic */
	size_t peak;     /* atomic: highest used seen by a charge */
	uint64_t refused; /* atomic: charges refused */
	kt_mem_reclaim_fn reclaim;
	void *reclaim_ctx;
	bool reclaiming; /* a reclaim is under way: no nesting */
};

struct kt_mem_acct {
	struct kt_mem_pool *pool; /* NULL: count only */
	size_t held;              /* atomic: bytes charged and not yet credited */
	uint64_t refused;         /* atomic: this account's refused charges */
};

void kt_mem_pool_init(struct kt_mem_pool *p, size_t limit);
void kt_mem_acct_init(struct kt_mem_acct *a, struct kt_mem_pool *pool);

/* Reserves n bytes; false (nothing reserved) when the pool has no room for them. */
bool kt_mem_charge(struct kt_mem_acct *a, size_t n);
/*
 * The same without asking the reclaimer: for data that must not make the
 * pool shed others' (the burst buffer), refused as soon as it does not fit.
 */
bool kt_mem_try_charge(struct kt_mem_acct *a, size_t n);
/* Gives n bytes back (from any thread). */
void kt_mem_credit(struct kt_mem_acct *a, size_t n);
size_t kt_mem_held(const struct kt_mem_acct *a);
size_t kt_mem_used(const struct kt_mem_pool *p);

/* malloc/calloc/realloc/free that charge and credit a (NULL: plain). */
void *kt_mem_malloc(struct kt_mem_acct *a, size_t n);
void *kt_mem_calloc(struct kt_mem_acct *a, size_t nmemb, size_t size);
/* old is the size p was allocated with; on failure p is untouched. */
void *kt_mem_realloc(struct kt_mem_acct *a, void *p, size_t old, size_t n);
void kt_mem_free(struct kt_mem_acct *a, void *p, size_t n);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The connections within the memory budget (base/mem_budget.h,
 * docs/operations.md "Memory budget"): when a charge does not fit, the
 * connections holding the most buffered bytes lose them, largest first.
 */
#include <inttypes.h>
#include <stddef.h>

#include "base/stats.h"
#include "stream/conn.h"

void kt_conn_report_refused(struct kt_conn *c)
{
	uint64_t r = __atomic_load_n(&c->pending.refused, __ATOMIC_RELAXED);
	if (r == c->refused_seen)
		return;
	KT_STAT_ADD(mem_refused, r - c->refused_seen);
	c->refused_seen = r;
	kt_conn_say(c, KT_LOG_WARN, "--memory-budget of %zu bytes reached while this connection "
		    "held the most: its pending data was dropped",
		    c->p->cfg.mem_pool ? c->p->cfg.mem_pool->limit : 0);
}

/* The connection holding the most buffered bytes, not yet shed in this reclaim. */
static struct kt_conn *largest_pending(struct kt_pipeline *p, const struct kt_conn *skip)
{
	struct kt_conn *best = NULL;
	size_t most = 0;
	for (struct kt_conn *c = p->lru_head; c; c = c->next) {
		if (c == p->active || c == skip || c->shed_gen == p->reclaim_gen)
			continue;
		size_t h = kt_mem_held(&c->pending);
		if (h > most) {
			most = h;
			best = c;
		}
	}
	return best;
}

/* Drops what a connection holds for later: partial messages, out-of-order bytes. */
static void shed(struct kt_pipeline *p, struct kt_conn *c)
{
	size_t before = kt_mem_held(&c->pending);
	uint64_t dropped = kt_reasm_shed(&c->reasm);
	if (c->have_back)
		dropped += kt_reasm_shed(&c->back);
	if (c->pstate)
		dropped += c->proto->proto->shed(c->pstate);
	size_t after = kt_mem_held(&c->pending);
	c->shed_gen = p->reclaim_gen;
	KT_STAT_INC(mem_shed);
	KT_STAT_ADD(mem_shed_bytes, before - after);
	kt_conn_say(c, KT_LOG_WARN, "--memory-budget of %zu bytes reached: this connection held "
		    "the most (%zu bytes); its pending data (%" PRIu64 " bytes of stream) was dropped",
		    p->cfg.mem_pool->limit, before, dropped);
}

/*
 * A connection asking for room for its own buffers is refused instead (it
 * drops its own data) once it would hold as much as the largest other; the
 * connection being fed is never shed under it.
 */
void kt_conn_reclaim(void *pipeline, const struct kt_mem_acct *req, size_t need)
{
	struct kt_pipeline *p = pipeline;
	const struct kt_mem_pool *pool = p->cfg.mem_pool;
	const struct kt_conn *self = NULL;
	size_t floor = 0;

	if (req != &p->state && req != p->cfg.records_acct) {
		self = (const struct kt_conn *)((const char *)req - offsetof(struct kt_conn, pending));
		floor = kt_mem_held(req) + need;
	}
	p->reclaim_gen++;
	while (need > pool->limit || kt_mem_used(pool) > pool->limit - need) {
		struct kt_conn *v = largest_pending(p, self);
		if (!v || kt_mem_held(&v->pending) <= floor)
			return;
		shed(p, v);
	}
}

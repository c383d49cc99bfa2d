/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memory budget (mem_budget.h) and the connection caps (conn_limits.h):
 * charges exactly at the limit and one byte over, reclaim, credits from
 * frees; every component that holds guest bytes charges what it holds,
 * gives it all back, and sheds its pending data without a callback.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "stream/conn_limits.h"
#include "kata1/decode_jaeger.h"
#include "agent/framer.h"
#include "kata1/journal_stream.h"
#include "base/diag.h"
#include "base/mem_budget.h"
#include "base/pb_budget.h"
#include "stream/reasm.h"
#include "rpc/ttrpc_frame.h"

/* ------------------------------------------------------------ pool and accounts */

/* A pool of `limit` bytes with one account. */
struct pool_acct {
	struct kt_mem_pool pool;
	struct kt_mem_acct a;
};

static struct kt_mem_acct *pool_acct(struct pool_acct *o, size_t limit)
{
	kt_mem_pool_init(&o->pool, limit);
	kt_mem_acct_init(&o->a, &o->pool);
	return &o->a;
}

Test(mem_budget, charge_exactly_at_the_limit_then_one_byte_over)
{
	struct kt_mem_pool pool;
	struct kt_mem_acct a, b;
	kt_mem_pool_init(&pool, 1000);
	kt_mem_acct_init(&a, &pool);
	kt_mem_acct_init(&b, &pool);

	cr_assert(kt_mem_charge(&a, 600));
	cr_assert(kt_mem_charge(&b, 400), "exactly at the limit is within it");
	cr_expect_eq(kt_mem_used(&pool), 1000);
	cr_assert_not(kt_mem_charge(&b, 1), "one byte over is refused");
	cr_expect_eq(kt_mem_used(&pool), 1000, "a refused charge takes nothing");
	cr_expect_eq(kt_mem_held(&b), 400);
	cr_expect_eq(b.refused, 1);
	cr_expect_eq(a.refused, 0);
	cr_expect_eq(pool.refused, 1);
	kt_mem_credit(&a, 1);
	cr_assert(kt_mem_charge(&b, 1), "a credited byte can be charged again");
	cr_expect_eq(kt_mem_held(&a), 599);
	cr_expect_eq(kt_mem_held(&b), 401);
	cr_expect_eq(pool.peak, 1000);
	cr_assert_not(kt_mem_charge(&a, 1001), "more than the whole limit");
	cr_assert_not(kt_mem_charge(&a, SIZE_MAX), "no wrap-around");
	kt_mem_credit(&a, 599);
	kt_mem_credit(&b, 401);
	cr_expect_eq(kt_mem_used(&pool), 0);
}

Test(mem_budget, no_pool_only_counts_and_null_is_unaccounted)
{
	struct kt_mem_acct a;
	kt_mem_acct_init(&a, NULL);
	cr_assert(kt_mem_charge(&a, SIZE_MAX / 2));
	cr_expect_eq(kt_mem_held(&a), SIZE_MAX / 2);
	kt_mem_credit(&a, SIZE_MAX / 2);
	cr_expect_eq(kt_mem_held(&a), 0);
	cr_assert(kt_mem_charge(NULL, 123));
	void *p = kt_mem_malloc(NULL, 64);
	cr_assert_not_null(p);
	kt_mem_free(NULL, p, 64);
}

struct reclaimer {
	struct kt_mem_acct *victim;
	size_t give_back;
	int calls;
	const struct kt_mem_acct *asked_for;
	size_t need;
	struct kt_mem_acct *nested; /* charged from inside the reclaim */
	bool nested_ok;
};

static void do_reclaim(void *ctx, const struct kt_mem_acct *req, size_t need)
{
	struct reclaimer *r = ctx;
	r->calls++;
	r->asked_for = req;
	r->need = need;
	if (r->nested)
		r->nested_ok = kt_mem_charge(r->nested, 1);
	if (r->victim)
		kt_mem_credit(r->victim, r->give_back);
}

Test(mem_budget, reclaim_makes_room_or_the_charge_is_refused)
{
	struct kt_mem_pool pool;
	struct kt_mem_acct big, small;
	kt_mem_pool_init(&pool, 100);
	kt_mem_acct_init(&big, &pool);
	kt_mem_acct_init(&small, &pool);
	struct reclaimer r = { .victim = &big, .give_back = 30 };
	pool.reclaim = do_reclaim;
	pool.reclaim_ctx = &r;

	cr_assert(kt_mem_charge(&big, 90));
	cr_assert(kt_mem_charge(&small, 10));
	cr_expect_eq(r.calls, 0, "no reclaim while the charge fits");
	cr_assert(kt_mem_charge(&small, 30), "30 shed, 30 fit");
	cr_expect_eq(r.calls, 1);
	cr_expect_eq(r.asked_for, &small);
	cr_expect_eq(r.need, 30);
	cr_expect_eq(kt_mem_held(&big), 60);
	cr_expect_eq(kt_mem_used(&pool), 100);

	r.give_back = 5;
	cr_assert_not(kt_mem_charge(&small, 6), "5 shed, 6 do not fit");
	cr_expect_eq(r.calls, 2);
	cr_expect_eq(kt_mem_used(&pool), 95);
	cr_expect_eq(small.refused, 1);

	/* A charge made while reclaiming does not reclaim again. */
	r.victim = NULL;
	r.nested = &small;
	cr_assert_not(kt_mem_charge(&small, 50));
	cr_expect_eq(r.calls, 3);
	cr_expect(r.nested_ok, "the nested charge fitted without a reclaim");
	cr_expect_eq(kt_mem_used(&pool), 96);
}

Test(mem_budget, realloc_charges_growth_and_credits_shrinking)
{
	struct pool_acct o;
	struct kt_mem_acct *a = pool_acct(&o, 4096);
	char *p = kt_mem_malloc(a, 1000);
	cr_assert_not_null(p);
	memset(p, 'x', 1000);
	char *q = kt_mem_realloc(a, p, 1000, 4096);
	cr_assert_not_null(q, "growing to exactly the limit");
	cr_expect_eq(kt_mem_held(a), 4096);
	cr_expect_eq(q[999], 'x');
	cr_assert_null(kt_mem_realloc(a, q, 4096, 4097), "one byte over");
	cr_expect_eq(kt_mem_held(a), 4096, "a refused growth leaves the buffer as it was");
	cr_expect_eq(q[999], 'x');
	q = kt_mem_realloc(a, q, 4096, 10);
	cr_assert_not_null(q);
	cr_expect_eq(kt_mem_held(a), 10);
	int *z = kt_mem_calloc(a, 4, sizeof(int));
	cr_assert_not_null(z);
	cr_expect(z[0] == 0 && z[3] == 0);
	cr_assert_null(kt_mem_calloc(a, SIZE_MAX / 2, 4), "nmemb * size overflow");
	kt_mem_free(a, z, 4 * sizeof(int));
	kt_mem_free(a, q, 10);
	cr_expect_eq(kt_mem_used(&o.pool), 0);
}

/* ------------------------------------------------------------ connection caps */

Test(conn_limits, total_and_group_caps_exactly)
{
	struct kt_conn_limits l;
	cr_assert_eq(kt_conn_limits_init(&l, 5, 3), 0);
	uint64_t a = kt_conn_group("sandbox-a"), b = kt_conn_group("sandbox-b");
	cr_assert_neq(a, b);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(kt_conn_limits_take(&l, a), KT_CONN_ADMITTED, "a #%d", i + 1);
	cr_expect_eq(kt_conn_limits_take(&l, a), KT_CONN_OVER_GROUP, "the 4th of a group");
	cr_expect_eq(kt_conn_limits_count(&l, a), 3);
	cr_assert_eq(kt_conn_limits_take(&l, b), KT_CONN_ADMITTED);
	cr_assert_eq(kt_conn_limits_take(&l, 0), KT_CONN_ADMITTED, "group 0: the total only");
	cr_expect_eq(l.total, 5);
	cr_expect_eq(kt_conn_limits_take(&l, b), KT_CONN_OVER_TOTAL, "the 6th in all");
	cr_expect_eq(kt_conn_limits_take(&l, 0), KT_CONN_OVER_TOTAL);
	kt_conn_limits_put(&l, a);
	cr_expect_eq(kt_conn_limits_take(&l, a), KT_CONN_ADMITTED, "room again after one ended");
	kt_conn_limits_put(&l, 0);
	cr_expect_eq(kt_conn_limits_take(&l, b), KT_CONN_ADMITTED);
	cr_expect_eq(kt_conn_limits_count(&l, b), 2);
	cr_expect_str_eq(kt_conn_admit_reason(KT_CONN_OVER_GROUP), "--max-sandbox-connections");
	cr_expect_str_eq(kt_conn_admit_reason(KT_CONN_OVER_TOTAL), "--max-connections");
	kt_conn_limits_free(&l);
}

/* Random takes and puts against plain counters: deletion keeps every group findable. */
Test(conn_limits, many_groups_against_a_model)
{
	enum { GROUPS = 300, TOTAL = 256, PER = 4 };
	struct kt_conn_limits l;
	size_t model[GROUPS] = { 0 }, total = 0;
	uint64_t g[GROUPS];
	cr_assert_eq(kt_conn_limits_init(&l, TOTAL, PER), 0);
	for (int i = 0; i < GROUPS; i++) {
		char key[32];
		snprintf(key, sizeof(key), "cid:%d", i);
		g[i] = kt_conn_group(key);
	}
	uint64_t x = 88172645463325252ull;
	for (int step = 0; step < 200000; step++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int i = (int)(x % GROUPS);
		if (x >> 60 & 1) {
			enum kt_conn_admit want = total >= TOTAL	 ? KT_CONN_OVER_TOTAL
						  : model[i] >= PER ? KT_CONN_OVER_GROUP
								    : KT_CONN_ADMITTED;
			cr_assert_eq(kt_conn_limits_take(&l, g[i]), want, "step %d", step);
			if (want == KT_CONN_ADMITTED)
				model[i]++, total++;
		} else if (model[i]) {
			kt_conn_limits_put(&l, g[i]);
			model[i]--, total--;
		}
		cr_assert_eq(kt_conn_limits_count(&l, g[i]), model[i], "step %d", step);
	}
	for (int i = 0; i < GROUPS; i++)
		cr_assert_eq(kt_conn_limits_count(&l, g[i]), model[i]);
	cr_expect_eq(l.total, total);
	kt_conn_limits_free(&l);
}

/* Refused connections: remembered until forgotten; a full set forgets its oldest. */
Test(conn_limits, refused_connections_remembered_in_sets)
{
	static struct kt_refused r;
	struct kt_conn_id ids[4 * KT_REFUSED_SETS + 1];
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		ids[i] = (struct kt_conn_id){ .endpoint = 1000 + i, .transport = KT_TRANSPORT_UNIX };
	for (size_t i = 0; i < 200; i++)
		kt_refused_remember(&r, &ids[i]);
	for (size_t i = 0; i < 200; i++)
		cr_assert(kt_refused_has(&r, &ids[i]), "200 fit: %zu", i);
	struct kt_conn_id other = ids[0];
	other.transport = KT_TRANSPORT_VSOCK;
	cr_expect_not(kt_refused_has(&r, &other), "the transport is part of the id");
	kt_refused_forget(&r, &ids[7]);
	cr_expect_not(kt_refused_has(&r, &ids[7]));
	cr_expect(kt_refused_has(&r, &ids[8]));
	/* More than the table holds: every set keeps its last four, never more. */
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		kt_refused_remember(&r, &ids[i]);
	size_t kept = 0;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		kept += kt_refused_has(&r, &ids[i]);
	cr_expect_leq(kept, 4 * KT_REFUSED_SETS);
	cr_expect(kt_refused_has(&r, &ids[sizeof(ids) / sizeof(ids[0]) - 1]), "the newest kept");
}

Test(conn_limits, refusal_messages_rate_limited)
{
	struct kt_diag_limit l = { .interval_ns = 1000 };
	uint64_t held = 99;
	cr_assert(kt_diag_limit_pass(&l, 5000, &held), "the first one");
	cr_expect_eq(held, 0);
	cr_expect_not(kt_diag_limit_pass(&l, 5999, &held), "within the interval");
	cr_expect_not(kt_diag_limit_pass(&l, 5500, &held));
	cr_assert(kt_diag_limit_pass(&l, 6000, &held), "exactly one interval later");
	cr_expect_eq(held, 2, "with a count of those held back");
	cr_assert(kt_diag_limit_pass(&l, 9000, &held));
	cr_expect_eq(held, 0);
}

/* ------------------------------------------------------------ arena */

Test(mem_budget, arena_chunks_are_charged_and_a_refusal_fails_like_the_limit)
{
	struct pool_acct o;
	struct kt_mem_acct *a = pool_acct(&o, 16384);
	struct kt_arena ar;
	kt_arena_init(&ar, 0);
	ar.acct = a;
	cr_assert_not_null(kt_arena_alloc(&ar, 100));
	size_t first = kt_mem_held(a);
	cr_assert_gt(first, 100);
	cr_assert_not_null(kt_arena_alloc(&ar, 5000), "a second chunk");
	cr_assert_gt(kt_mem_held(a), first + 5000);
	cr_expect_not(ar.budget_hit);
	cr_assert_null(kt_arena_alloc(&ar, 16384), "no room for another chunk");
	cr_expect(ar.budget_hit);
	kt_arena_free(&ar);
	cr_expect_eq(kt_mem_held(a), 0);
	cr_expect_eq(kt_mem_used(&o.pool), 0);

	/* An arena filled unaccounted is charged whole, or not at all. */
	struct kt_arena b;
	kt_arena_init(&b, 0);
	cr_assert_not_null(kt_arena_alloc(&b, 20000));
	cr_assert_not(kt_arena_charge(&b, a), "more than the budget");
	cr_expect_null(b.acct);
	cr_expect_eq(kt_mem_used(&o.pool), 0);
	kt_arena_free(&b);
	cr_assert_not_null(kt_arena_alloc(&b, 1000));
	cr_assert(kt_arena_charge(&b, a));
	cr_expect_gt(kt_mem_held(a), 1000);
	kt_arena_free(&b);
	cr_expect_eq(kt_mem_used(&o.pool), 0);
}

Test(mem_budget, arena_chunks_stay_within_the_arena_limit)
{
	struct kt_mem_acct a;
	kt_mem_acct_init(&a, NULL);
	struct kt_arena ar;
	kt_arena_init(&ar, 10000);
	ar.acct = &a;
	for (int i = 0; i < 9; i++)
		cr_assert_not_null(kt_arena_alloc(&ar, 1000));
	/* 4 KiB, then at most what the limit still allows: never a doubled 8 KiB chunk */
	cr_expect_leq(kt_mem_held(&a), 10000 + 3 * 64);
	kt_arena_free(&ar);
}

/* ------------------------------------------------------------ reassembly */

struct sink {
	uint8_t data[1 << 16];
	size_t n;
	uint64_t gaps, gap_bytes;
};

static void r_data(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	struct sink *s = ctx;
	(void)off;
	cr_assert_leq(s->n + n, sizeof(s->data));
	memcpy(s->data + s->n, p, n);
	s->n += n;
}

static void r_gap(void *ctx, uint64_t off, uint64_t len)
{
	struct sink *s = ctx;
	(void)off;
	s->gaps++;
	s->gap_bytes += len;
}

static const struct kt_reasm_ops rops = { r_data, r_gap };

Test(mem_budget, reasm_charges_pending_and_sheds_them_as_gaps)
{
	struct pool_acct o;
	struct kt_mem_acct *a = pool_acct(&o, 1 << 20);
	struct kt_reasm_cfg cfg = { .max_pending = 1 << 20, .hole_timeout_ns = 1000000000ull };
	struct kt_reasm r;
	struct sink s = { .n = 0 };
	uint8_t buf[3000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	kt_reasm_init(&r, &cfg, &rops, &s);
	r.acct = a;

	kt_reasm_data(&r, 1000, buf + 1000, 1000, false, 1); /* hole [0, 1000) */
	kt_reasm_data(&r, 2500, buf + 2500, 500, false, 1); /* hole [2000, 2500) */
	cr_expect_eq(r.pending_bytes, 1500);
	cr_expect_gt(kt_mem_held(a), 1500);
	size_t with_data = kt_mem_held(a);

	cr_expect_eq(kt_reasm_shed(&r), 1500, "the pending bytes given back");
	cr_expect_eq(r.pending_bytes, 0);
	cr_expect_eq(kt_mem_held(a), with_data - 1500, "two remembered ranges remain");
	cr_expect_eq(s.n, 0, "no callback while shedding");
	cr_expect_eq(s.gaps, 0);

	/* The holes fill; the shed ranges come out as gaps, the rest as data. */
	kt_reasm_data(&r, 0, buf, 1000, false, 2);
	kt_reasm_data(&r, 2000, buf + 2000, 500, false, 2);
	kt_reasm_data(&r, 3000, buf + 3000 - 3000, 0, false, 2);
	cr_expect_eq(s.n, 1500);
	cr_expect(!memcmp(s.data, buf, 1000) && !memcmp(s.data + 1000, buf + 2000, 500));
	cr_expect_eq(s.gap_bytes, 1500);
	cr_expect_eq(r.next, 3000);
	kt_reasm_data(&r, 1500, buf + 1500, 100, false, 3);
	cr_expect_eq(r.dup_bytes, 100, "bytes of a shed range arriving late are duplicates");
	kt_reasm_free(&r);
	cr_expect_eq(kt_mem_held(a), 0);
}

Test(mem_budget, reasm_refused_charge_declares_the_hole_and_delivers)
{
	struct pool_acct o;
	struct kt_mem_acct *a = pool_acct(&o, 600);
	struct kt_reasm_cfg cfg = { .max_pending = 1 << 20, .hole_timeout_ns = 1000000000ull };
	struct kt_reasm r;
	struct sink s = { .n = 0 };
	uint8_t buf[2000] = { 0 };
	kt_reasm_init(&r, &cfg, &rops, &s);
	r.acct = a;
	kt_reasm_data(&r, 1000, buf, 1000, false, 1);
	cr_expect_eq(a->refused, 1, "1000 bytes do not fit 600");
	cr_expect_eq(s.gap_bytes, 1000, "the hole below is declared");
	cr_expect_eq(s.n, 1000, "and the record delivered directly");
	cr_expect_eq(kt_mem_held(a), 0);
	kt_reasm_free(&r);
}

/* ------------------------------------------------------------ framer */

struct frames {
	size_t n, last_len;
	uint64_t skipped;
};

static void f_frame(void *ctx, const uint8_t *p, size_t n)
{
	struct frames *f = ctx;
	(void)p;
	f->n++;
	f->last_len = n;
}

static void f_resynced(void *ctx, uint64_t skipped)
{
	((struct frames *)ctx)->skipped += skipped;
}

static bool f_validate(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	return n == 200 && p[0] == '{';
}

static const struct kt_framer_ops fops = { .frame = f_frame, .resynced = f_resynced,
					   .validate = f_validate };

static size_t frame(uint8_t *out, size_t len, uint8_t fill)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	memset(out + 8, fill, len);
	if (len)
		out[8] = '{';
	/* the resync filter's bincode bytes */
	if (len > 27)
		out[8 + 24] = out[8 + 25] = out[8 + 26] = 0;
	return 8 + len;
}

/*
 * A framer (1 MiB frames) charging an account of a pool of `limit` bytes,
 * and a 200-byte frame its validation accepts.
 */
struct framer_budget {
	struct kt_mem_pool pool;
	struct kt_mem_acct a;
	struct frames got;
	struct kt_framer f;
	uint8_t small[8 + 200];
	size_t sn;
};

static void framer_budget(struct framer_budget *t, size_t limit)
{
	memset(t, 0, sizeof(*t));
	kt_mem_pool_init(&t->pool, limit);
	kt_mem_acct_init(&t->a, &t->pool);
	kt_framer_init(&t->f, 1 << 20, &fops, &t->got);
	t->f.acct = &t->a;
	t->sn = frame(t->small, 200, 's');
}

Test(mem_budget, framer_charges_the_partial_frame_and_sheds_it)
{
	static struct framer_budget t;
	framer_budget(&t, 1 << 20);
	struct kt_mem_acct *a = &t.a;
	struct kt_framer *f = &t.f;
	static uint8_t big[8 + 300000];
	const uint8_t *small = t.small;
	size_t sn = t.sn;
	frame(big, 300000, 'b');

	kt_framer_push(f, big, 100000); /* a partial frame */
	cr_expect_geq(kt_mem_held(a), 100000 - 8);
	cr_expect_eq(kt_mem_held(a), f->cap, "the buffer is what is charged");
	cr_expect_eq(kt_framer_shed(f), 100000, "header and payload bytes dropped");
	cr_expect_eq(kt_mem_held(a), 0);
	cr_expect_eq(t.got.n, 0);
	/* The rest of the dropped frame is skipped; the next frame is found. */
	kt_framer_push(f, big + 100000, sizeof(big) - 100000);
	kt_framer_push(f, small, sn);
	kt_framer_push(f, small, sn);
	cr_expect_eq(t.got.n, 2, "both small frames after the resync");
	cr_expect_eq(t.got.last_len, 200);
	cr_expect_eq(t.got.skipped, sizeof(big), "the dropped frame, all of it");
	kt_framer_free(f);
	cr_expect_eq(kt_mem_held(a), 0);
}

Test(mem_budget, framer_refused_growth_drops_the_frame_and_the_buffer)
{
	static struct framer_budget t;
	framer_budget(&t, 64 << 10);
	struct kt_mem_acct *a = &t.a;
	struct kt_framer *f = &t.f;
	static uint8_t big[8 + 200000];
	const uint8_t *small = t.small;
	size_t sn = t.sn;
	frame(big, 200000, 'b');
	/* first a frame that fits, split so that it is buffered */
	kt_framer_push(f, small, 100);
	kt_framer_push(f, small + 100, sn - 100);
	cr_expect_eq(t.got.n, 1);
	for (size_t at = 0; at < 150000; at += 1000)
		kt_framer_push(f, big + at, 1000);
	cr_expect_gt(a->refused, 0, "the frame outgrew 64 KiB");
	cr_expect_leq(kt_mem_held(a), 64 << 10);
	cr_expect_leq(f->cap, 64 << 10);
	kt_framer_push(f, big + 150000, sizeof(big) - 150000);
	kt_framer_push(f, small, sn);
	kt_framer_push(f, small, sn);
	cr_expect_eq(t.got.n, 3, "framing resumes after the dropped frame");
	cr_expect_eq(kt_framer_finish(f), 0);
	kt_framer_free(f);
	cr_expect_eq(kt_mem_held(a), 0);
}

/* ------------------------------------------------------------ ttrpc, Jaeger, journal */

static void t_frame(void *ctx, const struct kt_ttrpc_frame *fr)
{
	(void)fr;
	(*(int *)ctx)++;
}

static void t_error(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

Test(mem_budget, ttrpc_partial_frame_charged_and_shed)
{
	struct pool_acct o;
	struct kt_mem_acct *a = pool_acct(&o, 1 << 20);
	static const struct kt_ttrpc_framer_ops ops = { .frame = t_frame, .error = t_error };
	int frames = 0;
	struct kt_ttrpc_framer f;
	kt_ttrpc_framer_init(&f, KT_TTRPC_TO_CLIENT, KT_TTRPC_HS_NONE, 0, "t", &ops, &frames);
	f.acct = a;
	static uint8_t msg[10 + 100000];
	msg[0] = 0, msg[1] = 1, msg[2] = 0x86, msg[3] = 0xa0; /* 100000 */
	msg[7] = 1, msg[8] = KT_TTRPC_RESPONSE;
	struct kt_ttrpc_time t = { 1, 0 };
	kt_ttrpc_framer_push(&f, msg, 50000, t);
	cr_expect_geq(kt_mem_held(a), 50000 - 10);
	cr_expect_eq(kt_ttrpc_framer_shed(&f), 50000);
	cr_expect_eq(kt_mem_held(a), 0);
	kt_ttrpc_framer_push(&f, msg + 50000, sizeof(msg) - 50000, t);
	cr_expect_eq(frames, 0, "no resynchronisation in ttrpc: the direction is dead");
	cr_expect_eq(f.state, KT_TTRPC_FS_DEAD);
	kt_ttrpc_framer_free(&f);
	cr_expect_eq(kt_mem_held(a), 0);
}

Test(mem_budget, jaeger_and_journal_buffers_charged_and_shed)
{
	struct pool_acct o;
	struct kt_mem_acct *a = pool_acct(&o, 1 << 20);

	struct kt_jaeger_stream j;
	kt_jaeger_stream_init(&j, NULL, NULL, NULL);
	j.buf_acct = a;
	/* the start of an emitBatch message (0x82, ONEWAY, "emitBatch"), then nothing */
	static const uint8_t start[] = { 0x82, 0x81, 0x00, 0x09, 'e', 'm', 'i', 't', 'B',
					 'a',  't',  'c',  'h',  0x1c };
	kt_jaeger_stream_push(&j, start, sizeof(start));
	cr_expect_eq(kt_mem_held(a), j.cap);
	cr_expect_gt(kt_mem_held(a), 0);
	cr_expect_eq(kt_jaeger_stream_shed(&j), sizeof(start));
	cr_expect_eq(kt_mem_held(a), 0);
	kt_jaeger_stream_free(&j);

	struct kt_journal_stream js;
	kt_journal_init(&js, 0, NULL, NULL);
	js.acct = a;
	static const char rec[] = "<13>Dec  6 09:00:00 host app: hello";
	kt_journal_push(&js, (const uint8_t *)rec, sizeof(rec) - 1, 0);
	cr_expect_gt(kt_mem_held(a), sizeof(rec));
	cr_expect_eq(kt_journal_shed(&js), sizeof(rec) - 1, "the pending record dropped");
	cr_expect_eq(kt_mem_held(a), 0);
	cr_expect_eq(js.records, 0, "nothing emitted by shedding");
	kt_journal_free(&js);
	cr_expect_eq(kt_mem_used(&o.pool), 0);
}

Test(mem_budget, protobuf_budget_also_charges_the_account)
{
	struct pool_acct o;
	struct kt_mem_acct *a = pool_acct(&o, 1000);
	struct kt_pb_budget b = { .limit = 1 << 20, .acct = a };
	ProtobufCAllocator al = kt_pb_budget_allocator(&b);
	void *p = al.alloc(al.allocator_data, 500);
	cr_assert_not_null(p);
	cr_expect_gt(kt_mem_held(a), 500);
	cr_assert_null(al.alloc(al.allocator_data, 600), "within its own limit, not the pool's");
	cr_expect(b.hit);
	al.free(al.allocator_data, p);
	cr_expect_eq(kt_mem_held(a), 0);
	cr_expect_eq(b.used, 0);
}

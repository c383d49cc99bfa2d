/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "stream/reasm.h"

/* Stream byte at any offset, so records can be built anywhere in 2^64. */
static uint8_t pat(uint64_t off)
{
	uint64_t x = off * 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return (uint8_t)(x ^ (x >> 17));
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

enum { EV_DATA, EV_GAP };

struct ev {
	int kind;
	uint64_t off;
	uint64_t len;
};

struct rec {
	struct ev *ev;
	size_t nev, cap;
	uint64_t cursor;   /* end of the last event */
	bool started;
	bool tiled;        /* every event starts where the previous ended */
	bool bytes_ok;     /* every delivered byte is the stream's byte */
	uint64_t data_bytes;
	uint64_t gap_bytes;
};

static void rec_push(struct rec *r, int kind, uint64_t off, uint64_t len)
{
	if (r->started && off != r->cursor)
		r->tiled = false;
	r->started = true;
	r->cursor = off + len;
	if (r->nev == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->ev = realloc(r->ev, r->cap * sizeof(*r->ev));
		cr_assert_not_null(r->ev);
	}
	r->ev[r->nev++] = (struct ev){kind, off, len};
}

static void on_data(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	struct rec *r = ctx;
	cr_assert_gt(n, 0);
	for (size_t i = 0; i < n; i++)
		if (p[i] != pat(off + i))
			r->bytes_ok = false;
	r->data_bytes += n;
	rec_push(r, EV_DATA, off, n);
}

static void on_gap(void *ctx, uint64_t off, uint64_t len)
{
	struct rec *r = ctx;
	cr_assert_gt(len, 0);
	r->gap_bytes += len;
	rec_push(r, EV_GAP, off, len);
}

static const struct kt_reasm_ops ops = {.data = on_data, .gap = on_gap};

struct fixture {
	struct kt_reasm r;
	struct rec rec;
};

static void fx_init(struct fixture *fx, size_t max_pending, uint64_t timeout)
{
	memset(fx, 0, sizeof(*fx));
	fx->rec.tiled = true;
	fx->rec.bytes_ok = true;
	struct kt_reasm_cfg cfg = {.max_pending = max_pending, .hole_timeout_ns = timeout};
	kt_reasm_init(&fx->r, &cfg, &ops, &fx->rec);
}

static void fx_fini(struct fixture *fx)
{
	kt_reasm_free(&fx->r);
	cr_assert_null(fx->r.pending);
	free(fx->rec.ev);
}

static void data_at(struct fixture *fx, uint64_t off, size_t n, bool loss, uint64_t now)
{
	uint8_t *b = malloc(n ? n : 1);
	cr_assert_not_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = pat(off + i);
	kt_reasm_data(&fx->r, off, b, n, loss, now);
	free(b);
}

static void expect_events(const struct rec *r, const struct ev *want, size_t n)
{
	cr_assert_eq(r->nev, n, "events: got %zu, want %zu", r->nev, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(r->ev[i].kind, want[i].kind, "event %zu kind", i);
		cr_assert_eq(r->ev[i].off, want[i].off, "event %zu off %llu want %llu", i,
			     (unsigned long long)r->ev[i].off, (unsigned long long)want[i].off);
		cr_assert_eq(r->ev[i].len, want[i].len, "event %zu len %llu want %llu", i,
			     (unsigned long long)r->ev[i].len, (unsigned long long)want[i].len);
	}
	cr_assert(r->tiled);
	cr_assert(r->bytes_ok);
}

struct chunk {
	uint64_t off;
	size_t len;
};

/* Cuts [start, end) into records of 1..maxlen bytes. */
static size_t cut(struct chunk **out, uint64_t start, uint64_t end, size_t maxlen, uint64_t *seed)
{
	size_t n = 0, cap = 16;
	struct chunk *c = malloc(cap * sizeof(*c));
	for (uint64_t o = start; o < end;) {
		size_t len = 1 + (size_t)(rng(seed) % maxlen);
		if (len > end - o)
			len = (size_t)(end - o);
		if (n == cap)
			c = realloc(c, (cap *= 2) * sizeof(*c));
		c[n++] = (struct chunk){o, len};
		o += len;
	}
	*out = c;
	return n;
}

static void shuffle(struct chunk *c, size_t n, uint64_t *seed)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(rng(seed) % i);
		struct chunk t = c[i - 1];
		c[i - 1] = c[j];
		c[j] = t;
	}
}

/* Delivered exactly [start, end), no gap, nothing left. */
static void expect_whole(const struct fixture *fx, uint64_t start, uint64_t end)
{
	const struct rec *r = &fx->rec;
	cr_assert(r->tiled);
	cr_assert(r->bytes_ok);
	cr_assert_eq(r->gap_bytes, 0);
	cr_assert_eq(r->data_bytes, end - start);
	cr_assert_eq(r->ev[0].off, start);
	cr_assert_eq(r->cursor, end);
	cr_assert_eq(fx->r.next, end);
	cr_assert_eq(fx->r.pending_bytes, 0);
	cr_assert_eq(fx->r.pending_segs, 0);
	cr_assert_eq(fx->r.gaps, 0);
}

Test(reasm, in_order)
{
	struct fixture fx;
	uint64_t seed = 1;
	struct chunk *c;
	size_t n = cut(&c, 0, 100000, 3000, &seed);

	fx_init(&fx, 1 << 20, 1000);
	for (size_t i = 0; i < n; i++)
		data_at(&fx, c[i].off, c[i].len, false, i);
	expect_whole(&fx, 0, 100000);
	cr_assert_eq(fx.rec.nev, n, "in-order records are delivered as they come");
	cr_assert_eq(fx.r.dup_bytes, 0);
	free(c);
	fx_fini(&fx);
}

Test(reasm, reversed)
{
	struct fixture fx;
	uint64_t seed = 2;
	struct chunk *c;
	size_t n = cut(&c, 0, 50000, 700, &seed);

	fx_init(&fx, 1 << 20, 1000);
	for (size_t i = n; i-- > 0;) {
		data_at(&fx, c[i].off, c[i].len, false, 0);
		if (i)
			cr_assert_eq(fx.rec.nev, 0, "nothing before offset 0 arrives");
	}
	expect_whole(&fx, 0, 50000);
	free(c);
	fx_fini(&fx);
}

Test(reasm, shuffled)
{
	static const uint64_t seeds[] = {3, 17, 4242, 0xdeadbeef, 99991};
	for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
		struct fixture fx;
		uint64_t seed = seeds[k];
		struct chunk *c;
		size_t n = cut(&c, 0, 65536, 40 + k * 400, &seed); /* < 4096 records */

		shuffle(c, n, &seed);
		fx_init(&fx, 1 << 20, 1000);
		for (size_t i = 0; i < n; i++)
			data_at(&fx, c[i].off, c[i].len, false, 0);
		expect_whole(&fx, 0, 65536);
		free(c);
		fx_fini(&fx);
	}
}

Test(reasm, duplicated_and_overlapping)
{
	static const uint64_t seeds[] = {5, 6, 7, 8};
	for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
		struct fixture fx;
		uint64_t seed = seeds[k];
		const uint64_t len = 40000;
		/* Two independent cuts plus random overlapping windows. */
		struct chunk *a, *b;
		size_t na = cut(&a, 0, len, 900, &seed);
		size_t nb = cut(&b, 0, len, 1300, &seed);
		size_t n = na + nb + 200;
		struct chunk *c = malloc(n * sizeof(*c));
		memcpy(c, a, na * sizeof(*c));
		memcpy(c + na, b, nb * sizeof(*c));
		uint64_t sent = len * 2;
		for (size_t i = na + nb; i < n; i++) {
			uint64_t off = rng(&seed) % len;
			size_t l = 1 + (size_t)(rng(&seed) % 2000);
			if (l > len - off)
				l = (size_t)(len - off);
			c[i] = (struct chunk){off, l};
			sent += l;
		}
		shuffle(c, n, &seed);
		fx_init(&fx, 1 << 20, 1000);
		for (size_t i = 0; i < n; i++)
			data_at(&fx, c[i].off, c[i].len, false, 0);
		expect_whole(&fx, 0, len);
		cr_assert_eq(fx.r.dup_bytes, sent - len);
		free(a);
		free(b);
		free(c);
		fx_fini(&fx);
	}
}

Test(reasm, overlap_with_pending_is_trimmed)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	data_at(&fx, 100, 100, false, 0); /* pending [100,200) */
	data_at(&fx, 50, 200, false, 0);  /* [50,100) and [200,250) new */
	cr_assert_eq(fx.r.dup_bytes, 100);
	cr_assert_eq(fx.r.pending_bytes, 200);
	cr_assert_eq(fx.r.pending_segs, 3);
	data_at(&fx, 0, 60, false, 0);
	cr_assert_eq(fx.r.dup_bytes, 110);
	expect_whole(&fx, 0, 250);
	fx_fini(&fx);
}

Test(reasm, prior_loss)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	data_at(&fx, 0, 100, false, 0);
	data_at(&fx, 150, 50, false, 0); /* pending */
	data_at(&fx, 300, 100, true, 0); /* everything before 300 is settled */
	data_at(&fx, 400, 10, false, 0);
	data_at(&fx, 120, 10, false, 0); /* too late */
	const struct ev want[] = {
		{EV_DATA, 0, 100}, {EV_GAP, 100, 50},  {EV_DATA, 150, 50},
		{EV_GAP, 200, 100}, {EV_DATA, 300, 100}, {EV_DATA, 400, 10},
	};
	expect_events(&fx.rec, want, sizeof(want) / sizeof(want[0]));
	cr_assert_eq(fx.r.gaps, 2);
	cr_assert_eq(fx.r.gap_bytes, 150);
	cr_assert_eq(fx.r.dup_bytes, 10);
	fx_fini(&fx);
}

Test(reasm, prior_loss_at_next_is_no_gap)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	data_at(&fx, 0, 100, false, 0);
	data_at(&fx, 100, 100, true, 0);
	data_at(&fx, 50, 100, true, 0); /* below next: only duplicates */
	const struct ev want[] = {{EV_DATA, 0, 100}, {EV_DATA, 100, 100}};
	expect_events(&fx.rec, want, 2);
	cr_assert_eq(fx.r.dup_bytes, 100);
	fx_fini(&fx);
}

Test(reasm, explicit_gap)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	data_at(&fx, 0, 100, false, 0);
	kt_reasm_gap(&fx.r, 100, 100, 0);
	data_at(&fx, 200, 100, false, 0);
	kt_reasm_gap(&fx.r, 0, 150, 0); /* already settled: ignored */
	const struct ev want[] = {{EV_DATA, 0, 100}, {EV_GAP, 100, 100}, {EV_DATA, 200, 100}};
	expect_events(&fx.rec, want, 3);
	cr_assert_eq(fx.r.gaps, 1);
	cr_assert_eq(fx.r.gap_bytes, 100);
	fx_fini(&fx);
}

Test(reasm, gap_before_its_preceding_data)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	kt_reasm_gap(&fx.r, 100, 100, 0); /* remembered */
	data_at(&fx, 200, 50, false, 0);
	cr_assert_eq(fx.rec.nev, 0);
	cr_assert_eq(fx.r.pending_segs, 2);
	data_at(&fx, 0, 100, false, 0);
	const struct ev want[] = {{EV_DATA, 0, 100}, {EV_GAP, 100, 100}, {EV_DATA, 200, 50}};
	expect_events(&fx.rec, want, 3);
	cr_assert_eq(fx.r.pending_segs, 0);
	fx_fini(&fx);
}

Test(reasm, gap_overlapping_partly_settled_and_pending)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	data_at(&fx, 0, 100, false, 0);
	data_at(&fx, 150, 20, false, 0);  /* pending [150,170) */
	kt_reasm_gap(&fx.r, 50, 200, 0);  /* [50,100) settled; [150,170) holds data */
	data_at(&fx, 160, 100, false, 0); /* [160,250) already claimed */
	const struct ev want[] = {
		{EV_DATA, 0, 100}, {EV_GAP, 100, 50}, {EV_DATA, 150, 20},
		{EV_GAP, 170, 80}, {EV_DATA, 250, 10},
	};
	expect_events(&fx.rec, want, 5);
	cr_assert_eq(fx.r.dup_bytes, 90);
	fx_fini(&fx);
}

Test(reasm, adjacent_missing_ranges_are_one_gap)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	data_at(&fx, 0, 10, false, 0);
	kt_reasm_gap(&fx.r, 30, 10, 0);
	kt_reasm_gap(&fx.r, 20, 10, 0);
	kt_reasm_gap(&fx.r, 45, 5, 0);
	kt_reasm_finish(&fx.r); /* hole [10,20) joins [20,40); [40,45) joins [45,50) */
	const struct ev want[] = {{EV_DATA, 0, 10}, {EV_GAP, 10, 40}};
	expect_events(&fx.rec, want, 2);
	cr_assert_eq(fx.r.gaps, 1);
	fx_fini(&fx);
}

Test(reasm, max_pending_overflow)
{
	struct fixture fx;
	fx_init(&fx, 1000, 1000);
	data_at(&fx, 0, 100, false, 0);
	data_at(&fx, 200, 500, false, 0);
	data_at(&fx, 800, 400, false, 0); /* 900 pending: fits */
	cr_assert_eq(fx.rec.nev, 1);
	data_at(&fx, 1300, 200, false, 0); /* 1100: the lowest hole goes */
	const struct ev want[] = {{EV_DATA, 0, 100}, {EV_GAP, 100, 100}, {EV_DATA, 200, 500}};
	expect_events(&fx.rec, want, 3);
	cr_assert_eq(fx.r.pending_bytes, 600);
	kt_reasm_finish(&fx.r);
	const struct ev all[] = {
		{EV_DATA, 0, 100},  {EV_GAP, 100, 100},  {EV_DATA, 200, 500}, {EV_GAP, 700, 100},
		{EV_DATA, 800, 400}, {EV_GAP, 1200, 100}, {EV_DATA, 1300, 200},
	};
	expect_events(&fx.rec, all, 7);
	cr_assert_eq(fx.r.pending_bytes, 0);
	fx_fini(&fx);
}

Test(reasm, record_larger_than_max_pending)
{
	struct fixture fx;
	fx_init(&fx, 1000, 1000);
	data_at(&fx, 0, 100, false, 0);
	data_at(&fx, 5000, 10, false, 0); /* pending, above the big one */
	data_at(&fx, 500, 2500, false, 0);
	const struct ev want[] = {{EV_DATA, 0, 100}, {EV_GAP, 100, 400}, {EV_DATA, 500, 2500}};
	expect_events(&fx.rec, want, 3);
	cr_assert_eq(fx.r.pending_bytes, 10);
	data_at(&fx, 3000, 2000, false, 0); /* contiguous: delivered with what follows */
	const struct ev more[] = {
		{EV_DATA, 0, 100}, {EV_GAP, 100, 400}, {EV_DATA, 500, 2500},
		{EV_DATA, 3000, 2000}, {EV_DATA, 5000, 10},
	};
	expect_events(&fx.rec, more, 5);
	fx_fini(&fx);
}

Test(reasm, zero_max_pending_declares_at_once)
{
	struct fixture fx;
	fx_init(&fx, 0, 1000);
	data_at(&fx, 10, 10, false, 0);
	const struct ev want[] = {{EV_GAP, 0, 10}, {EV_DATA, 10, 10}};
	expect_events(&fx.rec, want, 2);
	fx_fini(&fx);
}

Test(reasm, segment_cap)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	/* 1-byte records at every other offset, the first byte missing. */
	size_t k;
	for (k = 1; fx.rec.nev == 0; k++) {
		data_at(&fx, 2 * k, 1, false, 0);
		cr_assert_leq(fx.r.pending_segs, 4096);
	}
	cr_assert_gt(k, 1000);
	const struct ev want[] = {{EV_GAP, 0, 2}, {EV_DATA, 2, 1}};
	expect_events(&fx.rec, want, 2);
	fx_fini(&fx);
}

Test(reasm, pending_bytes_exactly_at_max_pending)
{
	struct fixture fx;
	/* One record of exactly max_pending bytes waits. */
	fx_init(&fx, 1000, 1000);
	data_at(&fx, 10, 1000, false, 0);
	cr_assert_eq(fx.rec.nev, 0, "exactly max_pending declared a hole");
	cr_assert_eq(fx.r.pending_bytes, 1000);
	cr_assert_eq(fx.r.pending_segs, 1);
	fx_fini(&fx);

	/* One byte more: the hole below it is declared, the record delivered. */
	fx_init(&fx, 1000, 1000);
	data_at(&fx, 10, 1001, false, 0);
	const struct ev over[] = {{EV_GAP, 0, 10}, {EV_DATA, 10, 1001}};
	expect_events(&fx.rec, over, 2);
	cr_assert_eq(fx.r.pending_bytes, 0);
	fx_fini(&fx);

	/* Two records filling the budget exactly wait; one byte more does not. */
	fx_init(&fx, 1000, 1000);
	data_at(&fx, 10, 400, false, 0);
	data_at(&fx, 420, 600, false, 0);
	cr_assert_eq(fx.rec.nev, 0, "exactly max_pending declared a hole");
	cr_assert_eq(fx.r.pending_bytes, 1000);
	data_at(&fx, 1030, 1, false, 0);
	const struct ev first[] = {{EV_GAP, 0, 10}, {EV_DATA, 10, 400}};
	expect_events(&fx.rec, first, 2);
	cr_assert_eq(fx.r.pending_bytes, 601);
	kt_reasm_finish(&fx.r);
	const struct ev all[] = {
		{EV_GAP, 0, 10},     {EV_DATA, 10, 400},  {EV_GAP, 410, 10},
		{EV_DATA, 420, 600}, {EV_GAP, 1020, 10},  {EV_DATA, 1030, 1},
	};
	expect_events(&fx.rec, all, 6);
	fx_fini(&fx);
}

Test(reasm, pending_items_exactly_at_the_cap)
{
	struct fixture fx;
	/* 4096 pending data pieces wait; the 4097th declares the lowest hole. */
	fx_init(&fx, 1 << 20, 1000);
	for (uint64_t k = 1; k <= 4096; k++)
		data_at(&fx, 2 * k, 1, false, 0);
	cr_assert_eq(fx.rec.nev, 0, "4096 items declared a hole");
	cr_assert_eq(fx.r.pending_segs, 4096);
	cr_assert_eq(fx.r.pending_bytes, 4096);
	data_at(&fx, 2 * 4097, 1, false, 0);
	const struct ev want[] = {{EV_GAP, 0, 2}, {EV_DATA, 2, 1}};
	expect_events(&fx.rec, want, 2);
	cr_assert_eq(fx.r.pending_segs, 4096);
	fx_fini(&fx);

	/* Remembered GAP ranges are items too, though they hold no bytes. */
	fx_init(&fx, 0, 1000);
	for (uint64_t k = 1; k <= 4096; k++)
		kt_reasm_gap(&fx.r, 2 * k, 1, 0);
	cr_assert_eq(fx.rec.nev, 0, "4096 GAP ranges declared a hole");
	cr_assert_eq(fx.r.pending_segs, 4096);
	kt_reasm_gap(&fx.r, 2 * 4097, 1, 0);
	const struct ev gaps[] = {{EV_GAP, 0, 3}};
	expect_events(&fx.rec, gaps, 1);
	cr_assert_eq(fx.r.pending_segs, 4096);
	fx_fini(&fx);
}

Test(reasm, timeout)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	data_at(&fx, 0, 100, false, 0);
	data_at(&fx, 500, 100, false, 20); /* oldest */
	data_at(&fx, 300, 100, false, 600);
	data_at(&fx, 800, 100, false, 700);
	cr_assert_eq(fx.r.pending_since_ns, 20);
	kt_reasm_tick(&fx.r, 1019);
	cr_assert_eq(fx.rec.nev, 1);
	kt_reasm_tick(&fx.r, 1020); /* up to and including the oldest */
	const struct ev want[] = {
		{EV_DATA, 0, 100}, {EV_GAP, 100, 200}, {EV_DATA, 300, 100},
		{EV_GAP, 400, 100}, {EV_DATA, 500, 100},
	};
	expect_events(&fx.rec, want, 5);
	cr_assert_eq(fx.r.pending_since_ns, 700);
	kt_reasm_tick(&fx.r, 1699);
	cr_assert_eq(fx.rec.nev, 5);
	data_at(&fx, 600, 100, false, 1700); /* fills one hole on time */
	kt_reasm_tick(&fx.r, 1700);
	const struct ev more[] = {
		{EV_DATA, 0, 100}, {EV_GAP, 100, 200}, {EV_DATA, 300, 100}, {EV_GAP, 400, 100},
		{EV_DATA, 500, 100}, {EV_DATA, 600, 100}, {EV_GAP, 700, 100}, {EV_DATA, 800, 100},
	};
	expect_events(&fx.rec, more, 8);
	cr_assert_null(fx.r.pending);
	fx_fini(&fx);
}

Test(reasm, timeout_of_remembered_gap)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	data_at(&fx, 0, 10, false, 0);
	kt_reasm_gap(&fx.r, 20, 10, 5);
	kt_reasm_tick(&fx.r, 1005);
	const struct ev want[] = {{EV_DATA, 0, 10}, {EV_GAP, 10, 20}};
	expect_events(&fx.rec, want, 2);
	fx_fini(&fx);
}

Test(reasm, finish)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	data_at(&fx, 0, 10, false, 0);
	data_at(&fx, 40, 10, false, 0);
	data_at(&fx, 20, 10, false, 0);
	kt_reasm_gap(&fx.r, 60, 10, 0);
	kt_reasm_finish(&fx.r);
	const struct ev want[] = {
		{EV_DATA, 0, 10}, {EV_GAP, 10, 10}, {EV_DATA, 20, 10},
		{EV_GAP, 30, 10}, {EV_DATA, 40, 10}, {EV_GAP, 50, 20},
	};
	expect_events(&fx.rec, want, 6);
	cr_assert_eq(fx.r.gaps, 3);
	cr_assert_eq(fx.r.gap_bytes, 40);
	cr_assert_null(fx.r.pending);
	kt_reasm_finish(&fx.r); /* idempotent */
	cr_assert_eq(fx.rec.nev, 6);
	fx_fini(&fx);
}

Test(reasm, free_with_pending)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	data_at(&fx, 10, 10, false, 0);
	kt_reasm_gap(&fx.r, 30, 10, 0);
	data_at(&fx, 50, 1000, false, 0);
	fx_fini(&fx); /* nothing leaks (ASan) */
}

Test(reasm, offsets_near_2_64)
{
	static const uint64_t seeds[] = {11, 12, 13};
	const uint64_t start = UINT64_MAX - 20000;
	for (size_t k = 0; k < 3; k++) {
		struct fixture fx;
		uint64_t seed = seeds[k];
		struct chunk *c;
		size_t n = cut(&c, start, UINT64_MAX, 500, &seed);

		shuffle(c, n, &seed);
		fx_init(&fx, 1 << 20, 1000);
		kt_reasm_gap(&fx.r, 0, start, 0);
		cr_assert_eq(fx.r.next, start);
		cr_assert_eq(fx.rec.nev, 1);
		fx.rec.nev = 0;
		fx.rec.gap_bytes = 0;
		for (size_t i = 0; i < n; i++)
			data_at(&fx, c[i].off, c[i].len, false, 0);
		cr_assert_eq(fx.r.next, UINT64_MAX);
		fx.r.gaps = 0;
		expect_whole(&fx, start, UINT64_MAX);
		free(c);
		fx_fini(&fx);
	}
}

Test(reasm, records_past_2_64_are_clipped)
{
	struct fixture fx;
	fx_init(&fx, 1 << 20, 1000);
	fx.r.next = UINT64_MAX - 100;
	data_at(&fx, UINT64_MAX - 50, 200, false, 0); /* pending, clipped to 50 */
	cr_assert_eq(fx.r.pending_bytes, 50);
	kt_reasm_gap(&fx.r, UINT64_MAX - 70, UINT64_MAX, 0);
	data_at(&fx, UINT64_MAX - 100, 30, false, 0);
	data_at(&fx, UINT64_MAX - 10, 5, true, 0); /* already delivered */
	const struct ev want[] = {
		{EV_DATA, UINT64_MAX - 100, 30}, {EV_GAP, UINT64_MAX - 70, 20},
		{EV_DATA, UINT64_MAX - 50, 50},
	};
	expect_events(&fx.rec, want, 3);
	cr_assert_eq(fx.r.next, UINT64_MAX);
	cr_assert_eq(fx.r.dup_bytes, 5);
	kt_reasm_gap(&fx.r, UINT64_MAX, 10, 0);
	data_at(&fx, UINT64_MAX, 10, true, 0);
	kt_reasm_tick(&fx.r, UINT64_MAX);
	kt_reasm_finish(&fx.r);
	cr_assert_eq(fx.rec.nev, 3);
	fx_fini(&fx);
}

Test(reasm, prior_loss_with_random_loss)
{
	/* In-order records, some lost: the next one carries prior_loss. */
	uint64_t seed = 77;
	struct fixture fx;
	struct chunk *c;
	size_t n = cut(&c, 0, 200000, 4000, &seed);
	uint64_t lost = 0, gaps = 0;
	bool loss = false, prev_lost = false;

	fx_init(&fx, 1 << 16, 1000);
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && rng(&seed) % 5 == 0) {
			lost += c[i].len;
			gaps += !prev_lost;
			prev_lost = loss = true;
			continue;
		}
		data_at(&fx, c[i].off, c[i].len, loss, 0);
		prev_lost = loss = false;
	}
	cr_assert(fx.rec.tiled);
	cr_assert(fx.rec.bytes_ok);
	cr_assert_eq(fx.r.next, 200000);
	cr_assert_eq(fx.r.gap_bytes, lost);
	cr_assert_eq(fx.r.gaps, gaps);
	cr_assert_eq(fx.rec.data_bytes + lost, 200000);
	free(c);
	fx_fini(&fx);
}

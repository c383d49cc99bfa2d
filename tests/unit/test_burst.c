/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The burst buffer (stream/burst.h): first in, first out, byte for byte;
 * bounded by its limit and by the memory budget, every chunk it takes
 * charged and given back; what does not fit is dropped and counted, and the
 * next record of a stream that lost one says so (KT_F_PRIOR_LOSS).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem_budget.h"
#include "bpf/stream_record.h"
#include "stream/burst.h"

/* A DATA record of conn endpoint ep, n payload bytes, each the byte `fill`. */
static size_t data_rec(struct kt_rec_data *r, uint64_t ep, uint64_t off, size_t n, uint8_t fill)
{
	memset(&r->hdr, 0, sizeof(r->hdr));
	r->hdr.type = KT_REC_DATA;
	r->hdr.conn.endpoint = ep;
	r->hdr.conn.transport = KT_TRANSPORT_UNIX;
	r->hdr.offset = off;
	r->hdr.len = (uint32_t)n;
	memset(r->data, fill, n);
	return sizeof(r->hdr) + n;
}

static size_t marker_rec(struct kt_rec_hdr *h, uint32_t type, uint64_t ep)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->conn.endpoint = ep;
	h->conn.transport = KT_TRANSPORT_UNIX;
	return sizeof(*h);
}

Test(burst, records_come_out_in_order_byte_for_byte)
{
	struct kt_burst *b = kt_burst_new(4u << 20, NULL);
	static struct kt_rec_data r;
	cr_assert(b);
	cr_assert(kt_burst_empty(b));
	/* read while it fills: three in, two out */
	unsigned next_out = 0;
	for (unsigned i = 0; i < 3000; i++) {
		size_t n = 1 + (i * 7919u) % 512;
		cr_assert(kt_burst_push(b, &r, data_rec(&r, 1, i, n, (uint8_t)i)), "record %u", i);
		for (unsigned k = 0; k < (i % 3 == 2 ? 2u : 0u); k++) {
			size_t got;
			const struct kt_rec_data *h = kt_burst_peek(b, &got);
			cr_assert(h);
			cr_assert_eq(h->hdr.offset, next_out);
			cr_assert_eq(h->data[0], (uint8_t)next_out);
			next_out++;
			kt_burst_pop(b);
		}
	}
	kt_burst_free(b);

	/* sizes that cross chunk boundaries, odd ones (padding) among them */
	uint64_t off;
	b = kt_burst_new(256u << 20, NULL);
	off = 0;
	for (unsigned i = 0; i < 2000; i++) {
		size_t n = 1 + (i * 7919u) % KT_CHUNK_SIZE;
		cr_assert(kt_burst_push(b, &r, data_rec(&r, 1, off, n, (uint8_t)i)));
		off += n;
	}
	off = 0;
	for (unsigned i = 0; i < 2000; i++) {
		size_t n = 1 + (i * 7919u) % KT_CHUNK_SIZE, got;
		const struct kt_rec_data *h = kt_burst_peek(b, &got);
		cr_assert(h, "record %u", i);
		cr_assert_eq(got, sizeof(h->hdr) + n);
		cr_assert_eq(h->hdr.offset, off);
		cr_assert_eq(h->hdr.len, n);
		cr_assert_eq(h->hdr.flags, 0);
		for (size_t k = 0; k < n; k++)
			if (h->data[k] != (uint8_t)i)
				cr_assert_fail("record %u byte %zu", i, k);
		off += n;
		kt_burst_pop(b);
	}
	cr_assert(kt_burst_empty(b));
	size_t got;
	cr_assert_null(kt_burst_peek(b, &got));
	struct kt_burst_stats st;
	kt_burst_stats(b, &st);
	cr_expect_eq(st.records_in, 2000);
	cr_expect_eq(st.records_dropped, 0);
	cr_expect_eq(st.bytes, 0);
	kt_burst_free(b);
}

Test(burst, bounded_by_its_limit_dropped_records_counted)
{
	const size_t limit = 1u << 20;
	struct kt_burst *b = kt_burst_new(limit, NULL);
	static struct kt_rec_data r;
	size_t sz = data_rec(&r, 1, 0, 4096, 0xab);
	unsigned in = 0, out = 0;
	for (unsigned i = 0; i < 1000; i++) {
		r.hdr.offset = (uint64_t)i * 4096;
		if (kt_burst_push(b, &r, sz))
			in++;
		else
			out++;
	}
	struct kt_burst_stats st;
	kt_burst_stats(b, &st);
	cr_assert_gt(out, 0, "1000 records of 4 KiB do not fit in 1 MiB");
	cr_expect_eq(st.records_in, in);
	cr_expect_eq(st.records_dropped, out);
	cr_expect_eq(st.bytes_dropped, (uint64_t)out * sz);
	cr_expect_leq(st.bytes, limit, "held %zu of %zu", st.bytes, limit);
	cr_expect_eq(st.peak, st.bytes);
	/* DATA records leave a reserve: a connection's end still fits */
	struct kt_rec_hdr h;
	cr_expect(kt_burst_push(b, &h, marker_rec(&h, KT_REC_CLOSE, 2)));
	cr_expect(kt_burst_push(b, &h, marker_rec(&h, KT_REC_CONN, 3)));
	/* emptied, it takes records again */
	size_t got;
	while (kt_burst_peek(b, &got))
		kt_burst_pop(b);
	cr_assert(kt_burst_push(b, &r, sz));
	kt_burst_free(b);
}

Test(burst, the_next_record_of_a_stream_that_lost_one_says_so)
{
	struct kt_burst *b = kt_burst_new(KT_MIN_BURST_BUFFER, NULL);
	static struct kt_rec_data r;
	size_t sz = data_rec(&r, 7, 0, KT_CHUNK_SIZE, 1);
	unsigned pushed = 0;
	while (kt_burst_push(b, &r, sz)) {
		r.hdr.offset += KT_CHUNK_SIZE;
		pushed++;
	}
	cr_assert_gt(pushed, 0);
	/* another stream's record is not flagged when it gets in */
	size_t got;
	while (kt_burst_peek(b, &got))
		kt_burst_pop(b);
	struct kt_rec_data other;
	cr_assert(kt_burst_push(b, &other, data_rec(&other, 8, 0, 10, 2)));
	r.hdr.offset += KT_CHUNK_SIZE; /* the dropped one, then the next one */
	cr_assert(kt_burst_push(b, &r, sz));
	const struct kt_rec_hdr *h = kt_burst_peek(b, &got);
	cr_assert_eq(h->conn.endpoint, 8);
	cr_expect_eq(h->flags & KT_F_PRIOR_LOSS, 0);
	kt_burst_pop(b);
	h = kt_burst_peek(b, &got);
	cr_assert_eq(h->conn.endpoint, 7);
	cr_expect_neq(h->flags & KT_F_PRIOR_LOSS, 0, "the hole is declared at once");
	kt_burst_pop(b);
	/* only once */
	r.hdr.offset += KT_CHUNK_SIZE;
	cr_assert(kt_burst_push(b, &r, sz));
	h = kt_burst_peek(b, &got);
	cr_expect_eq(h->flags & KT_F_PRIOR_LOSS, 0);
	struct kt_burst_stats st;
	kt_burst_stats(b, &st);
	cr_expect_eq(st.marked_losses, 1);
	cr_expect_eq(st.records_dropped, 1);
	kt_burst_free(b);
}

Test(burst, chunks_are_charged_to_the_budget_and_given_back)
{
	struct kt_mem_pool pool;
	struct kt_mem_acct a;
	kt_mem_pool_init(&pool, 3u << 20);
	kt_mem_acct_init(&a, &pool);
	/* its own limit is above the pool's: the pool bounds it */
	struct kt_burst *b = kt_burst_new(64u << 20, &a);
	static struct kt_rec_data r;
	size_t sz = data_rec(&r, 1, 0, 8000, 3);
	unsigned in = 0;
	while (kt_burst_push(b, &r, sz))
		in++;
	cr_assert_gt(in, 100);
	cr_expect_leq(kt_mem_used(&pool), pool.limit);
	cr_expect_gt(kt_mem_held(&a), 2u << 20, "the chunks holding the records are charged");
	cr_expect_eq(kt_mem_held(&a), kt_mem_used(&pool));
	struct kt_burst_stats st;
	kt_burst_stats(b, &st);
	cr_expect_eq(st.records_dropped, 1);
	cr_expect_leq(st.bytes, kt_mem_held(&a));
	size_t got;
	while (kt_burst_peek(b, &got))
		kt_burst_pop(b);
	cr_expect_leq(kt_mem_held(&a), 5 * ((1u << 20) + 64),
		      "emptied: at most five chunks kept (four emptied ones, the writer's next)");
	kt_burst_free(b);
	cr_expect_eq(kt_mem_held(&a), 0);
	cr_expect_eq(kt_mem_used(&pool), 0);
}

/* A reclaimer that must not be called: the burst buffer never makes others shed. */
static void no_reclaim(void *ctx, const struct kt_mem_acct *req, size_t need)
{
	(void)ctx;
	(void)req;
	(void)need;
	cr_assert_fail("the burst buffer asked the pool to shed");
}

Test(burst, never_makes_the_budget_shed_other_data)
{
	struct kt_mem_pool pool;
	struct kt_mem_acct a, other;
	kt_mem_pool_init(&pool, 2u << 20);
	pool.reclaim = no_reclaim;
	kt_mem_acct_init(&a, &pool);
	kt_mem_acct_init(&other, &pool);
	cr_assert(kt_mem_charge(&other, (2u << 20) - 100));
	struct kt_burst *b = kt_burst_new(16u << 20, &a);
	static struct kt_rec_data r;
	cr_expect_not(kt_burst_push(b, &r, data_rec(&r, 1, 0, 100, 0)));
	cr_expect_eq(kt_mem_held(&other), (2u << 20) - 100);
	kt_burst_free(b);
}

Test(burst, oversize_and_runt_records_are_dropped_not_copied)
{
	struct kt_burst *b = kt_burst_new(1u << 20, NULL);
	static uint8_t big[sizeof(struct kt_rec_data) + 64];
	memset(big, 0, sizeof(big));
	cr_expect_not(kt_burst_push(b, big, sizeof(big)));
	uint8_t runt[4] = { 1, 2, 3, 4 };
	cr_expect(kt_burst_push(b, runt, sizeof(runt)), "a short record passes as it is");
	size_t got;
	const uint8_t *p = kt_burst_peek(b, &got);
	cr_assert_eq(got, 4);
	cr_expect_arr_eq(p, runt, 4);
	kt_burst_free(b);
}

/* The drain's thread writes while the capture loop reads: nothing lost, nothing reordered. */
struct writer_arg {
	struct kt_burst *b;
	unsigned n;
	unsigned dropped;
};

static void *writer(void *arg)
{
	struct writer_arg *w = arg;
	static struct kt_rec_data r;
	for (unsigned i = 0; i < w->n; i++) {
		size_t n = 16 + (i * 131u) % 3000;
		size_t sz = data_rec(&r, 5, i, n, (uint8_t)i);
		while (!kt_burst_push(w->b, &r, sz))
			w->dropped++; /* full: the reader makes room */
	}
	return NULL;
}

Test(burst, one_thread_writes_while_another_reads)
{
	struct writer_arg w = { .b = kt_burst_new(256u << 10, NULL), .n = 20000 };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, writer, &w), 0);
	for (unsigned i = 0; i < w.n;) {
		size_t got;
		const struct kt_rec_data *h = kt_burst_peek(w.b, &got);
		if (!h)
			continue;
		cr_assert_eq(h->hdr.offset, i, "record %u came as %llu", i,
			     (unsigned long long)h->hdr.offset);
		cr_assert_eq(h->data[h->hdr.len - 1], (uint8_t)i);
		kt_burst_pop(w.b);
		i++;
	}
	pthread_join(th, NULL);
	cr_expect(kt_burst_empty(w.b));
	kt_burst_free(w.b);
}

Test(burst, records_of_two_kinds_keep_their_order)
{
	struct kt_burst *b = kt_burst_new(1u << 20, NULL);
	static struct kt_rec_data r;
	const char ev[] = "a VM event";
	bool was_empty;
	cr_assert(kt_burst_push_ex(b, KT_BURST_CAPTURE, &r, data_rec(&r, 1, 0, 100, 1), &was_empty));
	cr_expect(was_empty);
	cr_assert(kt_burst_push_ex(b, KT_BURST_VM_EVENT, ev, sizeof(ev), &was_empty));
	cr_expect_not(was_empty);
	cr_assert(kt_burst_push_ex(b, KT_BURST_CAPTURE, &r, data_rec(&r, 1, 100, 100, 2), &was_empty));
	size_t got;
	uint32_t kind;
	const struct kt_rec_data *h = kt_burst_peek_kind(b, &got, &kind);
	cr_assert_eq(kind, KT_BURST_CAPTURE);
	cr_expect_eq(h->hdr.offset, 0);
	kt_burst_pop(b);
	const char *e = kt_burst_peek_kind(b, &got, &kind);
	cr_assert_eq(kind, KT_BURST_VM_EVENT);
	cr_assert_eq(got, sizeof(ev));
	cr_expect_str_eq(e, ev);
	kt_burst_pop(b);
	h = kt_burst_peek_kind(b, &got, &kind);
	cr_assert_eq(kind, KT_BURST_CAPTURE);
	cr_expect_eq(h->hdr.offset, 100);
	kt_burst_pop(b);
	cr_expect(kt_burst_empty(b));
	kt_burst_free(b);
}

Test(burst, pop_peek_is_a_pop_then_a_peek)
{
	struct kt_burst *b = kt_burst_new(1u << 20, NULL);
	static struct kt_rec_data r;
	for (unsigned i = 0; i < 500; i++)
		cr_assert(kt_burst_push(b, &r, data_rec(&r, 1, i, 1 + i % 700, (uint8_t)i)));
	size_t got;
	uint32_t kind;
	const struct kt_rec_data *h = kt_burst_peek_kind(b, &got, &kind);
	for (unsigned i = 0; i < 500; i++) {
		cr_assert(h, "record %u", i);
		cr_assert_eq(h->hdr.offset, i);
		cr_assert_eq(kind, KT_BURST_CAPTURE);
		h = kt_burst_pop_peek(b, &got, &kind);
	}
	cr_expect_null(h);
	cr_expect(kt_burst_empty(b));
	kt_burst_free(b);
}

Test(burst, a_floor_keeps_records_flowing_when_the_budget_is_full)
{
	struct kt_mem_pool pool;
	struct kt_mem_acct a, other;
	kt_mem_pool_init(&pool, 2u << 20);
	kt_mem_acct_init(&a, &pool);
	kt_mem_acct_init(&other, &pool);
	cr_assert(kt_mem_charge(&other, 2u << 20)); /* guests' data fills it */
	struct kt_burst *b = kt_burst_new(64u << 20, &a);
	kt_burst_set_floor(b, 3u << 20);
	static struct kt_rec_data r;
	size_t sz = data_rec(&r, 1, 0, 8000, 3);
	unsigned in = 0;
	while (kt_burst_push(b, &r, sz))
		in++;
	cr_expect_gt(in, 100, "about the floor's worth of records got in (%u)", in);
	cr_expect_leq((size_t)in * sz, 3u << 20);
	cr_expect_eq(kt_mem_held(&a), 0, "nothing charged: the budget had no room");
	size_t got;
	while (kt_burst_peek(b, &got))
		kt_burst_pop(b);
	kt_burst_free(b);
	cr_expect_eq(kt_mem_used(&pool), 2u << 20);
}

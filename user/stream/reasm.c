/* SPDX-License-Identifier: Apache-2.0 */
#include "stream/reasm.h"

#include <stdlib.h>
#include <string.h>

/*
 * Pending items are capped in number as well as in bytes: without it a run
 * of tiny out-of-order records (or GAP ranges, which hold no bytes) would
 * grow the list, and every insertion walks it. Reaching the cap declares a
 * hole exactly as exceeding max_pending does.
 */
#define KT_REASM_MAX_SEGS 4096

/*
 * One pending item: copied bytes, or a remembered GAP range. Doubly linked;
 * the head's prev is the tail, so appends (the usual out-of-order case) do
 * not walk the list.
 */
struct kt_reasm_seg {
	struct kt_reasm_seg *next; /* NULL at the tail */
	struct kt_reasm_seg *prev;
	uint64_t off;
	uint64_t len;
	uint64_t ts_ns; /* arrival */
	bool gap;
	uint8_t data[]; /* len bytes unless gap */
};

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t seg_end(const struct kt_reasm_seg *s)
{
	return s->off + s->len;
}

static struct kt_reasm_seg *seg_tail(const struct kt_reasm *r)
{
	return r->pending ? r->pending->prev : NULL;
}

/* Inserts s before succ (at the tail when succ is NULL). */
static void seg_link(struct kt_reasm *r, struct kt_reasm_seg *s, struct kt_reasm_seg *succ)
{
	struct kt_reasm_seg *head = r->pending;

	if (!head) {
		s->next = NULL;
		s->prev = s;
		r->pending = s;
	} else if (!succ) {
		struct kt_reasm_seg *t = head->prev;
		t->next = s;
		s->prev = t;
		s->next = NULL;
		head->prev = s;
	} else {
		s->next = succ;
		s->prev = succ->prev;
		if (succ == head)
			r->pending = s;
		else
			succ->prev->next = s;
		succ->prev = s;
	}
	if (r->pending_segs == 0 || s->ts_ns < r->pending_since_ns)
		r->pending_since_ns = s->ts_ns;
	r->pending_segs++;
	if (!s->gap)
		r->pending_bytes += s->len;
}

static struct kt_reasm_seg *seg_pop(struct kt_reasm *r)
{
	struct kt_reasm_seg *s = r->pending;

	r->pending = s->next;
	if (r->pending)
		r->pending->prev = s->prev;
	r->pending_segs--;
	if (!s->gap)
		r->pending_bytes -= s->len;
	return s;
}

/* The first pending item ending after off, or NULL. Walks from the tail. */
static struct kt_reasm_seg *seg_ending_after(const struct kt_reasm *r, uint64_t off)
{
	struct kt_reasm_seg *s = seg_tail(r);

	if (!s || seg_end(s) <= off)
		return NULL;
	while (s != r->pending && seg_end(s->prev) > off)
		s = s->prev;
	return s;
}

static size_t seg_size(const struct kt_reasm_seg *s)
{
	return sizeof(*s) + (s->gap ? 0 : (size_t)s->len);
}

static void seg_free(struct kt_reasm *r, struct kt_reasm_seg *s)
{
	kt_mem_free(r->acct, s, seg_size(s));
}

static struct kt_reasm_seg *seg_oldest(const struct kt_reasm *r)
{
	struct kt_reasm_seg *o = r->pending;

	for (struct kt_reasm_seg *s = r->pending; s; s = s->next)
		if (s->ts_ns < o->ts_ns)
			o = s;
	return o;
}

static void refresh_since(struct kt_reasm *r)
{
	r->pending_since_ns = r->pending ? seg_oldest(r)->ts_ns : 0;
}

static void emit_gap(struct kt_reasm *r, uint64_t len)
{
	if (!len)
		return;
	uint64_t off = r->next;
	r->next += len;
	r->gaps++;
	r->gap_bytes += len;
	if (r->ops->gap)
		r->ops->gap(r->ctx, off, len);
}

static void emit_data(struct kt_reasm *r, const uint8_t *p, size_t n)
{
	uint64_t off = r->next;
	r->next += n;
	if (r->ops->data)
		r->ops->data(r->ctx, off, p, n);
}

/*
 * Moves delivery forward. A gap of `lead` bytes at next comes first; then
 * pending items that start below `to` are consumed (holes before them become
 * gaps), then whatever is contiguous. With hole_to, the hole up to `to`
 * itself is declared too. Adjacent missing ranges are reported as one gap.
 */
static void release(struct kt_reasm *r, uint64_t lead, uint64_t to, bool hole_to)
{
	uint64_t cur = r->next + lead; /* end of the missing range so far */
	bool removed = false;
	struct kt_reasm_seg *s;

	while ((s = r->pending) && (s->off == cur || s->off < to)) {
		seg_pop(r);
		removed = true;
		if (s->gap) {
			cur = seg_end(s);
		} else {
			emit_gap(r, s->off - r->next);
			emit_data(r, s->data, (size_t)s->len);
			cur = r->next;
		}
		seg_free(r, s);
	}
	if (hole_to && cur < to)
		cur = to;
	emit_gap(r, cur - r->next);
	if (removed)
		refresh_since(r);
}

/* Delivers the range at next (data, or a gap), then whatever it makes contiguous. */
static void deliver(struct kt_reasm *r, const uint8_t *p, uint64_t len, bool gap)
{
	if (gap) {
		release(r, len, 0, false);
	} else {
		emit_data(r, p, (size_t)len);
		release(r, 0, 0, false);
	}
}

/*
 * Takes the unclaimed range [off, off + len) (off >= next, overlapping no
 * pending item, succ the first item after it). Delivered at once when it is
 * next; otherwise kept, after declaring the lowest holes while a limit would
 * be exceeded.
 */
static void place(struct kt_reasm *r, uint64_t off, const uint8_t *p, uint64_t len, bool gap,
		  uint64_t now, struct kt_reasm_seg *succ)
{
	for (;;) {
		if (off == r->next) {
			deliver(r, p, len, gap);
			return;
		}
		uint64_t bytes = gap ? 0 : len;
		if (r->pending_segs < KT_REASM_MAX_SEGS &&
		    bytes <= r->cfg.max_pending - r->pending_bytes)
			break;
		/*
		 * Over a limit. Nothing else is released here, so succ stays
		 * valid: releases stop at the first hole, which is below off.
		 */
		struct kt_reasm_seg *h = r->pending;
		if (h && h->off < off)
			release(r, 0, h->off + 1, false);
		else
			release(r, 0, off, true);
	}

	struct kt_reasm_seg *s = kt_mem_malloc(r->acct, sizeof(*s) + (gap ? 0 : (size_t)len));
	if (!s) {
		/* Cannot hold it: the range is as good as lost. */
		release(r, 0, off, true);
		deliver(r, p, len, gap);
		return;
	}
	s->off = off;
	s->len = len;
	s->ts_ns = now;
	s->gap = gap;
	if (!gap)
		memcpy(s->data, p, (size_t)len);
	seg_link(r, s, succ);
}

/*
 * A DATA or GAP (p == NULL) record, already clipped so that off + len does
 * not wrap. Parts below next or inside pending items were claimed first and
 * are dropped; the remaining pieces are placed in order.
 */
static void add(struct kt_reasm *r, uint64_t off, const uint8_t *p, uint64_t len, bool gap,
		uint64_t now)
{
	uint64_t end = off + len;

	while (off < end) {
		uint64_t step;
		if (off < r->next) {
			step = min_u64(end, r->next) - off;
			if (!gap)
				r->dup_bytes += step;
		} else {
			struct kt_reasm_seg *s = seg_ending_after(r, off);
			if (s && s->off <= off) {
				step = min_u64(end, seg_end(s)) - off;
				if (!gap)
					r->dup_bytes += step;
			} else {
				step = (s ? min_u64(end, s->off) : end) - off;
				place(r, off, p, step, gap, now, s);
			}
		}
		off += step;
		if (!gap)
			p += step;
	}
}

static uint64_t clip(uint64_t off, uint64_t len)
{
	return len > UINT64_MAX - off ? UINT64_MAX - off : len;
}

void kt_reasm_init(struct kt_reasm *r, const struct kt_reasm_cfg *cfg,
		   const struct kt_reasm_ops *ops, void *ctx)
{
	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	r->ops = ops;
	r->ctx = ctx;
}

void kt_reasm_data(struct kt_reasm *r, uint64_t off, const uint8_t *p, size_t n, bool prior_loss,
		   uint64_t now_ns)
{
	if (prior_loss && off > r->next)
		release(r, 0, off, true);
	if (n)
		add(r, off, p, clip(off, n), false, now_ns);
}

void kt_reasm_gap(struct kt_reasm *r, uint64_t off, uint64_t len, uint64_t now_ns)
{
	add(r, off, NULL, clip(off, len), true, now_ns);
}

void kt_reasm_tick(struct kt_reasm *r, uint64_t now_ns)
{
	while (r->pending && now_ns >= r->pending_since_ns &&
	       now_ns - r->pending_since_ns >= r->cfg.hole_timeout_ns)
		release(r, 0, seg_oldest(r)->off + 1, false);
}

size_t kt_reasm_shed(struct kt_reasm *r)
{
	size_t freed = 0;
	struct kt_reasm_seg *s = r->pending;

	while (s) {
		struct kt_reasm_seg *next = s->next;
		if (!s->gap) {
			bool head = s == r->pending, alone = s->prev == s;
			size_t len = (size_t)s->len;
			s->gap = true;
			r->pending_bytes -= len;
			/* Shrinking in place is the rule; a move is relinked. */
			struct kt_reasm_seg *g = realloc(s, sizeof(*s));
			if (g && g != s) {
				if (alone)
					g->prev = g;
				if (head)
					r->pending = g;
				else
					g->prev->next = g;
				if (g->next)
					g->next->prev = g;
				else if (!alone)
					r->pending->prev = g;
			}
			kt_mem_credit(r->acct, len);
			freed += len;
		}
		s = next;
	}
	return freed;
}

void kt_reasm_walk(const struct kt_reasm *r,
		   void (*seg)(void *ctx, uint64_t off, const uint8_t *p, uint64_t len), void *ctx)
{
	for (const struct kt_reasm_seg *s = r->pending; s; s = s->next)
		seg(ctx, s->off, s->gap ? NULL : s->data, s->len);
}

void kt_reasm_finish(struct kt_reasm *r)
{
	release(r, 0, UINT64_MAX, false);
}

void kt_reasm_free(struct kt_reasm *r)
{
	while (r->pending)
		seg_free(r, seg_pop(r));
	r->pending_since_ns = 0;
}

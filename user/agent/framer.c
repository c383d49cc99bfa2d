/* SPDX-License-Identifier: Apache-2.0 */
#include "agent/framer.h"

#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"
#include "base/byte_order.h"

/* Payload bytes the resync filter reads: the JSON prefix covers bincode's. */
#define KT_SCAN_FILTER KT_JSON_PREFIX_LEN
/* Header plus filter bytes needed before a position can be judged. */
#define KT_SCAN_PROBE (KT_FRAME_HDR_LEN + KT_SCAN_FILTER)
/*
 * Candidates awaiting their payload. False candidates inside bincode
 * payloads are common and often announce megabytes, so a later candidate
 * must not wait behind them; a full table only pauses the scan.
 */
#define KT_SCAN_MAX_CANDS 1024
/* Bytes appended to the scan window at once when no candidate is waiting. */
#define KT_SCAN_SLICE (64u << 10)
/* Smallest allocation, and the largest buffer kept between frames. */
#define KT_BUF_MIN 4096
#define KT_BUF_KEEP (64u << 10)
/* Keeps every offset computation far from wrapping. */
#define KT_MAX_PAYLOAD_CLAMP ((uint64_t)SIZE_MAX >> 2)

struct kt_framer_cand {
	size_t pos; /* header position in the window */
	size_t end; /* pos + header + announced payload */
};

struct kt_framer_scan {
	size_t pos; /* next window position to judge */
	size_t n;
	struct kt_framer_cand c[KT_SCAN_MAX_CANDS];
};

static const uint8_t empty_payload[1];

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/*
 * Makes room for want bytes without moving existing ones when cap already
 * suffices (the replay after a resync reads from the buffer itself).
 * Doubling keeps the allocation within twice the bytes actually received;
 * limit is the most the current frame or window can need.
 */
static bool grow(struct kt_framer *f, size_t want, size_t limit)
{
	if (want <= f->cap)
		return true;
	size_t cap = f->cap ? f->cap : KT_BUF_MIN;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if (cap > limit)
		cap = limit > want ? limit : want;
	uint8_t *b = kt_mem_realloc(f->acct, f->buf, f->cap, cap);
	if (!b)
		return false;
	f->buf = b;
	f->cap = cap;
	return true;
}

static void release_buf(struct kt_framer *f)
{
	kt_mem_free(f->acct, f->buf, f->cap);
	f->buf = NULL;
	f->cap = 0;
	f->have = 0;
}

static void end_scan(struct kt_framer *f)
{
	kt_mem_free(f->acct, f->scan, sizeof(*f->scan));
	f->scan = NULL;
}

static void go_dead(struct kt_framer *f)
{
	f->state = KT_FRAMER_DEAD;
	f->hdr_have = 0;
	f->skipped = 0;
	end_scan(f);
	release_buf(f);
}

static void deliver(struct kt_framer *f, const uint8_t *p, size_t n)
{
	if (f->ops->frame)
		f->ops->frame(f->ctx, n ? p : empty_payload, n);
}

/* Cheap necessary condition for a frame payload, from its first bytes. */
static bool plausible_payload(const uint8_t *p)
{
	if (!memcmp(p, KT_JSON_PREFIX, KT_JSON_PREFIX_LEN))
		return true;
	/* bincode SpanContext: trace_flags, is_remote, trace_state tag. */
	return p[24] <= 1 && p[25] <= 1 && p[26] <= 1;
}

static bool plausible_len(const struct kt_framer *f, uint64_t len)
{
	return len >= KT_FRAME_MIN_PAYLOAD && len <= f->max_payload;
}

/*
 * Drops the current window and candidates; the next byte starts afresh.
 * The candidate table comes with the next byte (resync_push).
 */
static void enter_resync(struct kt_framer *f, uint64_t dropped)
{
	f->state = KT_FRAMER_RESYNC;
	f->hdr_have = 0;
	f->skipped += dropped;
	f->have = 0;
	if (f->scan) {
		f->scan->pos = 0;
		f->scan->n = 0;
	}
}

static void resync_push(struct kt_framer *f, const uint8_t *p, size_t n);

/*
 * Synced input. p may point into f->buf (the bytes after a resynced frame):
 * that happens only with have == 0, and then bytes are either delivered in
 * place or moved to the front of the buffer, which already holds them.
 */
static void synced_push(struct kt_framer *f, const uint8_t *p, size_t n)
{
	while (n) {
		switch (f->state) {
		case KT_FRAMER_START:
		case KT_FRAMER_HEADER: {
			size_t take = min_size(n, KT_FRAME_HDR_LEN - f->hdr_have);
			memcpy(f->hdr + f->hdr_have, p, take);
			f->hdr_have += take;
			p += take;
			n -= take;
			if (f->hdr_have < KT_FRAME_HDR_LEN)
				return;
			uint64_t len = kt_be64(f->hdr);
			if (f->state == KT_FRAMER_START && !plausible_len(f, len)) {
				/* Capture began mid-stream: a frame may start inside the header. */
				uint8_t hdr[KT_FRAME_HDR_LEN];
				memcpy(hdr, f->hdr, sizeof(hdr));
				enter_resync(f, 0);
				resync_push(f, hdr, sizeof(hdr));
				synced_push(f, p, n);
				return;
			}
			f->hdr_have = 0;
			if (len > f->max_payload) {
				go_dead(f);
				if (f->ops->oversize)
					f->ops->oversize(f->ctx, len);
				return;
			}
			f->need = len;
			f->have = 0;
			f->state = KT_FRAMER_PAYLOAD;
			if (len == 0) {
				f->state = KT_FRAMER_HEADER;
				deliver(f, NULL, 0);
			}
			break;
		}
		case KT_FRAMER_PAYLOAD: {
			size_t need = (size_t)f->need;
			if (f->have == 0 && n >= need) {
				/* Whole payload in the input: no copy. */
				f->state = KT_FRAMER_HEADER;
				deliver(f, p, need);
				p += need;
				n -= need;
				break;
			}
			size_t take = min_size(n, need - f->have);
			if (!grow(f, f->have + take, need)) {
				/*
				 * No memory (or budget): as if these bytes were lost.
				 * p is not in the buffer: bytes there always fit it.
				 */
				enter_resync(f, KT_FRAME_HDR_LEN + f->have + take);
				release_buf(f);
				p += take;
				n -= take;
				break;
			}
			memmove(f->buf + f->have, p, take);
			f->have += take;
			p += take;
			n -= take;
			if (f->have == need) {
				f->state = KT_FRAMER_HEADER;
				f->have = 0;
				deliver(f, f->buf, need);
			}
			break;
		}
		case KT_FRAMER_RESYNC:
			resync_push(f, p, n);
			return;
		case KT_FRAMER_DEAD:
			return;
		}
	}
}

static void drop_cand(struct kt_framer_scan *s, size_t i)
{
	memmove(&s->c[i], &s->c[i + 1], (s->n - i - 1) * sizeof(s->c[0]));
	s->n--;
}

/*
 * Judges new window positions, then validates candidates whose payload is
 * complete, in stream order. Returns the index of the accepted candidate,
 * or -1.
 */
static long scan_window(struct kt_framer *f)
{
	struct kt_framer_scan *s = f->scan;

	for (;;) {
		while (s->n < KT_SCAN_MAX_CANDS && f->have - s->pos >= KT_SCAN_PROBE) {
			const uint8_t *h = f->buf + s->pos;
			uint64_t len = kt_be64(h);
			if (plausible_len(f, len) && plausible_payload(h + KT_FRAME_HDR_LEN)) {
				s->c[s->n].pos = s->pos;
				s->c[s->n].end = s->pos + KT_FRAME_HDR_LEN + (size_t)len;
				s->n++;
			}
			s->pos++;
		}
		bool dropped = false;
		for (size_t i = 0; i < s->n;) {
			struct kt_framer_cand *c = &s->c[i];
			if (c->end > f->have) {
				i++;
				continue;
			}
			const uint8_t *pl = f->buf + c->pos + KT_FRAME_HDR_LEN;
			size_t len = c->end - c->pos - KT_FRAME_HDR_LEN;
			if (f->ops->validate && f->ops->validate(f->ctx, pl, len))
				return (long)i;
			drop_cand(s, i);
			dropped = true;
		}
		/* Freed table slots let the scan go on over bytes already here. */
		if (!dropped || s->n == KT_SCAN_MAX_CANDS || f->have - s->pos < KT_SCAN_PROBE)
			return -1;
	}
}

/* Discards window bytes no candidate or unjudged position needs. */
static void compact(struct kt_framer *f)
{
	struct kt_framer_scan *s = f->scan;
	size_t start = s->n ? s->c[0].pos : s->pos;

	if (!start)
		return;
	memmove(f->buf, f->buf + start, f->have - start);
	f->have -= start;
	f->skipped += start;
	s->pos -= start;
	for (size_t i = 0; i < s->n; i++) {
		s->c[i].pos -= start;
		s->c[i].end -= start;
	}
}

static void resync_accept(struct kt_framer *f, size_t idx, const uint8_t *p, size_t n)
{
	struct kt_framer_cand c = f->scan->c[idx];
	uint64_t skipped = f->skipped + c.pos;
	size_t have = f->have;

	deliver(f, f->buf + c.pos + KT_FRAME_HDR_LEN, c.end - c.pos - KT_FRAME_HDR_LEN);
	if (f->ops->resynced)
		f->ops->resynced(f->ctx, skipped);
	end_scan(f);
	f->skipped = 0;
	f->state = KT_FRAMER_HEADER;
	f->hdr_have = 0;
	f->have = 0;
	/* Bytes already windowed after the frame, then the rest of the input. */
	synced_push(f, f->buf + c.end, have - c.end);
	synced_push(f, p, n);
}

static void resync_push(struct kt_framer *f, const uint8_t *p, size_t n)
{
	struct kt_framer_scan *s = f->scan;
	/* Largest window: a candidate's frame, or a probe plus a slice. */
	size_t limit = KT_FRAME_HDR_LEN + (size_t)f->max_payload + KT_SCAN_PROBE;

	while (n) {
		if (!s && (s = f->scan = kt_mem_malloc(f->acct, sizeof(*s))) != NULL) {
			s->pos = 0;
			s->n = 0;
		}
		if (!s) {
			f->skipped += f->have + n;
			f->have = 0;
			return;
		}
		compact(f);
		/*
		 * Take no more than the nearest candidate end, so a frame
		 * found complete usually ends the window.
		 */
		size_t room = min_size(KT_SCAN_SLICE, limit - f->have);
		for (size_t i = 0; i < s->n; i++)
			room = min_size(room, s->c[i].end - f->have);
		size_t take = min_size(n, room);
		if (!grow(f, f->have + take, limit)) {
			f->skipped += f->have + n;
			f->have = 0;
			s->pos = 0;
			s->n = 0;
			release_buf(f);
			return;
		}
		memcpy(f->buf + f->have, p, take);
		f->have += take;
		p += take;
		n -= take;
		long idx = scan_window(f);
		if (idx >= 0) {
			resync_accept(f, (size_t)idx, p, n);
			return;
		}
	}
}

void kt_framer_init(struct kt_framer *f, uint64_t max_payload, const struct kt_framer_ops *ops,
		    void *ctx)
{
	memset(f, 0, sizeof(*f));
	f->ops = ops;
	f->ctx = ctx;
	f->max_payload = max_payload > KT_MAX_PAYLOAD_CLAMP ? KT_MAX_PAYLOAD_CLAMP : max_payload;
	f->state = KT_FRAMER_START;
}

void kt_framer_push(struct kt_framer *f, const uint8_t *p, size_t n)
{
	synced_push(f, p, n);
	/* One huge frame should not pin its buffer for the connection's life. */
	if (f->state == KT_FRAMER_HEADER && f->cap > KT_BUF_KEEP)
		release_buf(f);
}

void kt_framer_gap(struct kt_framer *f)
{
	switch (f->state) {
	case KT_FRAMER_START:
	case KT_FRAMER_HEADER:
		enter_resync(f, f->hdr_have);
		break;
	case KT_FRAMER_PAYLOAD:
		enter_resync(f, KT_FRAME_HDR_LEN + f->have);
		break;
	case KT_FRAMER_RESYNC:
		enter_resync(f, f->have);
		break;
	case KT_FRAMER_DEAD:
		break;
	}
}

uint64_t kt_framer_shed(struct kt_framer *f)
{
	uint64_t dropped = 0;

	switch (f->state) {
	case KT_FRAMER_PAYLOAD:
		dropped = KT_FRAME_HDR_LEN + f->have;
		break;
	case KT_FRAMER_RESYNC:
		dropped = f->have;
		break;
	default:
		break; /* between frames: only an idle buffer to give back */
	}
	if (f->state == KT_FRAMER_PAYLOAD || f->state == KT_FRAMER_RESYNC) {
		f->state = KT_FRAMER_RESYNC;
		f->hdr_have = 0;
		f->skipped += dropped;
	}
	end_scan(f);
	release_buf(f);
	return dropped;
}

uint64_t kt_framer_finish(struct kt_framer *f)
{
	uint64_t lost = 0;

	switch (f->state) {
	case KT_FRAMER_START:
	case KT_FRAMER_HEADER:
		lost = f->hdr_have;
		break;
	case KT_FRAMER_PAYLOAD:
		lost = KT_FRAME_HDR_LEN + f->have;
		break;
	case KT_FRAMER_RESYNC:
		lost = f->skipped + f->have;
		break;
	case KT_FRAMER_DEAD:
		break;
	}
	const struct kt_framer_ops *ops = f->ops;
	void *ctx = f->ctx;
	uint64_t max = f->max_payload;
	struct kt_mem_acct *acct = f->acct;
	kt_framer_free(f);
	kt_framer_init(f, max, ops, ctx);
	f->acct = acct;
	return lost;
}

bool kt_framer_unfinished(const struct kt_framer *f,
			  void (*put)(void *ctx, const uint8_t *p, size_t n), void *ctx)
{
	switch (f->state) {
	case KT_FRAMER_START:
	case KT_FRAMER_HEADER:
		if (f->hdr_have)
			put(ctx, f->hdr, f->hdr_have);
		return true;
	case KT_FRAMER_PAYLOAD:
		/* the header stays in hdr while its payload is read */
		put(ctx, f->hdr, KT_FRAME_HDR_LEN);
		if (f->have)
			put(ctx, f->buf, f->have);
		return true;
	case KT_FRAMER_RESYNC:
	case KT_FRAMER_DEAD:
		break;
	}
	return false;
}

void kt_framer_free(struct kt_framer *f)
{
	end_scan(f);
	release_buf(f);
	f->hdr_have = 0;
	f->skipped = 0;
}

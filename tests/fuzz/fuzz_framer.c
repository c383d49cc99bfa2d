/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Framer fuzzer. Two modes:
 *  - raw: pushes of input bytes (and of well-formed frames and arbitrary
 *    headers built from the input), gaps and finishes;
 *  - stream: a sequence of valid frames is cut into pushes and lost ranges
 *    chosen by the input; exactly the frames that arrived whole must come
 *    out, in order.
 * Always: a frame delivered while resyncing is the payload validate() just
 * accepted; no frame exceeds max_payload; oversize ends the stream; every
 * pushed byte is framed, reported skipped or returned by finish; buffers
 * stay within max_payload + header + filter and twice the bytes received.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"
#include "agent/framer.h"
#include "fuzz_check.h"

struct state {
	struct kt_framer f;
	uint64_t pushed;   /* bytes pushed since the stream (re)started */
	uint64_t framed;   /* header + payload bytes of delivered frames */
	uint64_t skipped;  /* sum of resynced() reports */
	uint64_t total_pushed;
	bool dead_seen;    /* oversize reported in this stream */
	bool after_resync_frame;
	const uint8_t *validated;
	size_t validated_len;
	/* stream mode: the payloads expected, in order */
	const uint8_t **want;
	size_t *want_len;
	size_t nwant, got;
	bool stream_mode;
};

static struct state st;

static uint8_t checksum(const uint8_t *p, size_t n)
{
	unsigned s = 0;
	for (size_t i = 0; i < n; i++)
		s += p[i];
	return (uint8_t)('A' + s % 26);
}

static bool payload_ok(const uint8_t *p, size_t len)
{
	if (len < KT_JSON_PREFIX_LEN + 1 || p[len - 1] != checksum(p, len - 1))
		return false;
	return !memcmp(p, KT_JSON_PREFIX, KT_JSON_PREFIX_LEN) ||
	       (p[24] <= 1 && p[25] <= 1 && p[26] <= 1);
}

static void make_payload(uint8_t *p, size_t len, unsigned idx, bool json)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)('a' + (idx * 7 + i) % 26);
	if (json && len >= KT_JSON_PREFIX_LEN)
		memcpy(p, KT_JSON_PREFIX, KT_JSON_PREFIX_LEN);
	if (!json && len > 27) {
		p[24] = 1;
		p[25] = 0;
		p[26] = 1;
	}
	if (len)
		p[len - 1] = checksum(p, len - 1);
}

static void on_frame(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	CHECK(p != NULL);
	CHECK(n <= st.f.max_payload);
	if (st.f.state == KT_FRAMER_RESYNC) {
		CHECK(p == st.validated && n == st.validated_len);
		st.after_resync_frame = true;
	} else {
		st.after_resync_frame = false;
	}
	st.validated = NULL;
	st.framed += KT_FRAME_HDR_LEN + n;
	if (st.stream_mode) {
		/* Frames come out in order, each one of those sent. */
		while (st.got < st.nwant &&
		       (st.want_len[st.got] != n || memcmp(st.want[st.got], p, n)))
			st.got++;
		CHECK(st.got < st.nwant);
		st.got++;
	}
}

static void on_oversize(void *ctx, uint64_t len)
{
	(void)ctx;
	CHECK(!st.dead_seen);
	CHECK(len > st.f.max_payload);
	st.dead_seen = true;
}

static void on_resynced(void *ctx, uint64_t skipped)
{
	(void)ctx;
	CHECK(st.after_resync_frame);
	st.after_resync_frame = false;
	st.skipped += skipped;
}

static bool on_validate(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	CHECK(st.f.state == KT_FRAMER_RESYNC);
	CHECK(n >= KT_FRAME_MIN_PAYLOAD && n <= st.f.max_payload);
	bool ok = payload_ok(p, n);
	st.validated = ok ? p : NULL;
	st.validated_len = ok ? n : 0;
	return ok;
}

static const struct kt_framer_ops ops = {
	.frame = on_frame,
	.oversize = on_oversize,
	.resynced = on_resynced,
	.validate = on_validate,
};

struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned get8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static unsigned get16(struct in *in)
{
	unsigned lo = get8(in);
	return lo | get8(in) << 8;
}

static void check_bounds(void)
{
	const struct kt_framer *f = &st.f;
	size_t limit = KT_FRAME_HDR_LEN + (size_t)f->max_payload + KT_FRAME_HDR_LEN +
		       KT_JSON_PREFIX_LEN;
	CHECK(f->hdr_have < KT_FRAME_HDR_LEN);
	CHECK(f->have <= f->cap);
	CHECK(f->cap <= limit || f->cap <= 4096);
	CHECK(f->cap <= 4096 || f->cap <= 2 * st.total_pushed);
	CHECK((f->buf == NULL) == (f->cap == 0));
	if (f->state == KT_FRAMER_DEAD)
		CHECK(f->buf == NULL && st.dead_seen);
	if (f->state != KT_FRAMER_RESYNC)
		CHECK(f->scan == NULL && f->skipped == 0);
	if (f->state == KT_FRAMER_PAYLOAD)
		CHECK(f->need <= f->max_payload && f->have < f->need);
	if (!st.dead_seen)
		CHECK(st.framed + st.skipped <= st.pushed);
}

static void push(const uint8_t *p, size_t n)
{
	st.pushed += n;
	st.total_pushed += n;
	kt_framer_push(&st.f, p, n);
	check_bounds();
}

static void finish(void)
{
	uint64_t rest = kt_framer_finish(&st.f);
	if (!st.dead_seen)
		CHECK(st.framed + st.skipped + rest == st.pushed);
	else
		CHECK(rest == 0);
	CHECK(st.f.state == KT_FRAMER_START && !st.f.buf && !st.f.scan);
	st.pushed = st.framed = st.skipped = 0;
	st.dead_seen = false;
}

static void put_hdr(uint8_t *h, uint64_t len)
{
	for (int i = 0; i < 8; i++)
		h[i] = (uint8_t)(len >> (56 - 8 * i));
}

static void raw_mode(struct in *in)
{
	static uint8_t frame[70000 + 8];
	unsigned idx = 0;

	while (in->n) {
		unsigned op = get8(in);
		switch (op % 6) {
		case 0:
		case 1: { /* input bytes */
			size_t n = (op & 0x80) ? get16(in) : get8(in);
			if (n > in->n)
				n = in->n;
			push(in->p, n);
			in->p += n;
			in->n -= n;
			break;
		}
		case 2: { /* a well-formed frame, pushed in two parts */
			size_t len = (op & 0x80) ? get16(in) : get8(in) + KT_FRAME_MIN_PAYLOAD - 10;
			size_t cut = get16(in) % (len + 9);
			put_hdr(frame, len);
			make_payload(frame + 8, len, idx++, op & 0x40);
			push(frame, cut);
			push(frame + cut, len + 8 - cut);
			break;
		}
		case 3: { /* an arbitrary header */
			uint64_t len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | get8(in);
			if (op & 0x80)
				len >>= get8(in) % 64;
			put_hdr(frame, len);
			push(frame, 8);
			break;
		}
		case 4:
			kt_framer_gap(&st.f);
			check_bounds();
			break;
		case 5:
			if (op & 0x80)
				finish();
			else
				kt_framer_gap(&st.f);
			break;
		}
	}
}

static void stream_mode(struct in *in)
{
	enum { NF = 32 };
	size_t len[NF], start[NF + 1], total = 0;
	for (int i = 0; i < NF; i++) {
		unsigned v = get16(in);
		len[i] = KT_FRAME_MIN_PAYLOAD + ((v & 0xc000) == 0xc000 ? v % 70000 : v % 1500);
		start[i] = total;
		total += 8 + len[i];
	}
	start[NF] = total;
	uint8_t *s = malloc(total);
	bool *lost = calloc(total, 1);
	const uint8_t *want[NF];
	size_t want_len[NF];
	for (int i = 0; i < NF; i++) {
		put_hdr(s + start[i], len[i]);
		make_payload(s + start[i] + 8, len[i], (unsigned)i, get8(in) & 1);
	}
	/* Decide pushes and losses first: the expected frames follow from them. */
	struct step {
		size_t n;
		bool lost;
	} *plan = NULL;
	size_t nplan = 0, cap = 0;
	for (size_t o = 0; o < total;) {
		unsigned op = get8(in);
		size_t n = op & 0x80 ? get16(in) : (op & 0x3f) + 1;
		if (!n || !in->n)
			n = total - o; /* input exhausted: the rest in one push */
		if (nplan == cap) {
			cap = cap ? 2 * cap : 64;
			plan = realloc(plan, cap * sizeof(*plan));
		}
		if (n > total - o)
			n = total - o;
		plan[nplan++] = (struct step){n, (op & 0x40) && in->n};
		if (plan[nplan - 1].lost)
			memset(lost + o, 1, n);
		o += n;
	}
	st.stream_mode = true;
	st.want = want;
	st.want_len = want_len;
	st.nwant = 0;
	for (int i = 0; i < NF; i++)
		if (!memchr(lost + start[i], 1, start[i + 1] - start[i])) {
			want[st.nwant] = s + start[i] + 8;
			want_len[st.nwant++] = len[i];
		}
	size_t o = 0;
	for (size_t k = 0; k < nplan; k++) {
		if (plan[k].lost) {
			kt_framer_gap(&st.f);
			check_bounds();
		} else {
			push(s + o, plan[k].n);
		}
		o += plan[k].n;
	}
	free(plan);
	/* Matching ran while frames came; the count must be exact too. */
	size_t framed_count = 0;
	for (size_t i = 0; i < st.nwant; i++)
		framed_count += KT_FRAME_HDR_LEN + want_len[i];
	CHECK(st.framed == framed_count);
	finish();
	free(s);
	free(lost);
	st.stream_mode = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t maxes[] = {0, 125, 126, 200, 1000, 70000, KT_DEFAULT_MAX_FRAME,
					 UINT64_MAX};
	struct in in = {data, size};
	unsigned mode = get8(&in);

	memset(&st, 0, sizeof(st));
	if (mode & 1) {
		kt_framer_init(&st.f, KT_DEFAULT_MAX_FRAME, &ops, NULL);
		stream_mode(&in);
	} else {
		kt_framer_init(&st.f, maxes[(mode >> 1) & 7], &ops, NULL);
		raw_mode(&in);
		finish();
	}
	kt_framer_free(&st.f);
	return 0;
}

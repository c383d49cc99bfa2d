/* SPDX-License-Identifier: Apache-2.0 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"
#include "agent/framer.h"

/*
 * Synthetic frames: a JSON-era payload starts with the real prefix, a
 * bincode-shaped one has 0/1 at bytes 24..26; the rest is printable text
 * derived from the frame number and the last byte is a checksum. validate()
 * accepts exactly those, standing in for a complete decode.
 */
enum shape { SHAPE_JSON, SHAPE_BINCODE };

static uint8_t checksum(const uint8_t *p, size_t n)
{
	unsigned s = 0;
	for (size_t i = 0; i < n; i++)
		s += p[i];
	return (uint8_t)('A' + s % 26);
}

static void make_payload(uint8_t *p, size_t len, unsigned idx, enum shape shape)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)('a' + (idx * 7 + i) % 26);
	if (shape == SHAPE_JSON && len >= KT_JSON_PREFIX_LEN)
		memcpy(p, KT_JSON_PREFIX, KT_JSON_PREFIX_LEN);
	if (shape == SHAPE_BINCODE && len > 27) {
		p[24] = 1;
		p[25] = 0;
		p[26] = 0;
	}
	if (len)
		p[len - 1] = checksum(p, len - 1);
}

static bool payload_ok(const uint8_t *p, size_t len)
{
	if (len < KT_JSON_PREFIX_LEN + 1 || p[len - 1] != checksum(p, len - 1))
		return false;
	return !memcmp(p, KT_JSON_PREFIX, KT_JSON_PREFIX_LEN) ||
	       (p[24] <= 1 && p[25] <= 1 && p[26] <= 1);
}

struct buf {
	uint8_t *p;
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->n + n + 1);
	cr_assert_not_null(b->p);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_hdr(struct buf *b, uint64_t len)
{
	uint8_t h[8];
	for (int i = 0; i < 8; i++)
		h[i] = (uint8_t)(len >> (56 - 8 * i));
	put(b, h, 8);
}

static void put_frame(struct buf *b, size_t len, unsigned idx, enum shape shape)
{
	uint8_t *p = malloc(len + 1);
	make_payload(p, len, idx, shape);
	put_hdr(b, len);
	put(b, p, len);
	free(p);
}

struct rec {
	struct buf *frames;
	size_t nframes;
	uint64_t resynced[256];
	size_t nresynced;
	uint64_t oversize[4];
	size_t noversize;
	size_t validates;
	size_t bad_frames; /* delivered from resync without passing validate */
	const uint8_t *validated;
	size_t validated_len;
	struct kt_framer *f;
};

static void on_frame(void *ctx, const uint8_t *p, size_t n)
{
	struct rec *r = ctx;
	cr_assert_not_null(p);
	if (r->f->state == KT_FRAMER_RESYNC && (p != r->validated || n != r->validated_len))
		r->bad_frames++;
	r->frames = realloc(r->frames, (r->nframes + 1) * sizeof(*r->frames));
	struct buf *b = &r->frames[r->nframes++];
	b->p = malloc(n + 1);
	memcpy(b->p, p, n);
	b->n = n;
}

static void on_oversize(void *ctx, uint64_t len)
{
	struct rec *r = ctx;
	cr_assert_lt(r->noversize, 4);
	r->oversize[r->noversize++] = len;
}

static void on_resynced(void *ctx, uint64_t skipped)
{
	struct rec *r = ctx;
	cr_assert_lt(r->nresynced, 256);
	r->resynced[r->nresynced++] = skipped;
}

/* When set, validate() accepts exactly these payloads instead. */
static const struct buf *known;
static size_t nknown;

static bool is_known(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < nknown; i++)
		if (known[i].n == n && !memcmp(known[i].p, p, n))
			return true;
	return false;
}

static bool on_validate(void *ctx, const uint8_t *p, size_t n)
{
	struct rec *r = ctx;
	r->validates++;
	bool ok = known ? is_known(p, n) : payload_ok(p, n);
	r->validated = ok ? p : NULL;
	r->validated_len = ok ? n : 0;
	return ok;
}

static const struct kt_framer_ops ops = {
	.frame = on_frame,
	.oversize = on_oversize,
	.resynced = on_resynced,
	.validate = on_validate,
};

struct fixture {
	struct kt_framer f;
	struct rec rec;
};

static void fx_init(struct fixture *fx, uint64_t max)
{
	memset(fx, 0, sizeof(*fx));
	fx->rec.f = &fx->f;
	kt_framer_init(&fx->f, max, &ops, &fx->rec);
}

static void fx_reset_rec(struct fixture *fx)
{
	for (size_t i = 0; i < fx->rec.nframes; i++)
		free(fx->rec.frames[i].p);
	free(fx->rec.frames);
	memset(&fx->rec, 0, sizeof(fx->rec));
	fx->rec.f = &fx->f;
}

static void fx_fini(struct fixture *fx)
{
	kt_framer_free(&fx->f);
	cr_assert_null(fx->f.buf);
	cr_assert_null(fx->f.scan);
	cr_assert_eq(fx->rec.bad_frames, 0);
	fx_reset_rec(fx);
}

static void expect_frame(const struct fixture *fx, size_t i, size_t len, unsigned idx,
			 enum shape shape)
{
	cr_assert_lt(i, fx->rec.nframes, "frame %zu missing (%zu delivered)", i,
		     fx->rec.nframes);
	uint8_t *p = malloc(len + 1);
	make_payload(p, len, idx, shape);
	cr_assert_eq(fx->rec.frames[i].n, len, "frame %zu: %zu bytes, want %zu", i,
		     fx->rec.frames[i].n, len);
	cr_assert(!memcmp(fx->rec.frames[i].p, p, len), "frame %zu content", i);
	free(p);
}

static void push_chunks(struct kt_framer *f, const uint8_t *p, size_t n, size_t chunk)
{
	for (size_t o = 0; o < n; o += chunk)
		kt_framer_push(f, p + o, n - o < chunk ? n - o : chunk);
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

Test(framer, one_frame_split_at_every_byte)
{
	struct buf s = {0};
	put_frame(&s, 300, 1, SHAPE_JSON);
	for (size_t k = 0; k <= s.n; k++) {
		struct fixture fx;
		fx_init(&fx, KT_DEFAULT_MAX_FRAME);
		kt_framer_push(&fx.f, s.p, k);
		kt_framer_push(&fx.f, s.p + k, s.n - k);
		cr_assert_eq(fx.rec.nframes, 1, "split at %zu", k);
		expect_frame(&fx, 0, 300, 1, SHAPE_JSON);
		cr_assert_eq(fx.f.state, KT_FRAMER_HEADER);
		cr_assert_eq(kt_framer_finish(&fx.f), 0);
		fx_fini(&fx);
	}
	free(s.p);
}

Test(framer, back_to_back)
{
	static const size_t lens[] = {126, 300, 1000, 130, 70000, 127, 5000};
	const size_t nl = sizeof(lens) / sizeof(lens[0]);
	struct buf s = {0};
	for (size_t i = 0; i < nl; i++)
		put_frame(&s, lens[i], (unsigned)i, i % 2 ? SHAPE_BINCODE : SHAPE_JSON);
	static const size_t chunks[] = {1, 2, 7, 8, 9, 133, 4096, 1 << 20};
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct fixture fx;
		fx_init(&fx, KT_DEFAULT_MAX_FRAME);
		push_chunks(&fx.f, s.p, s.n, chunks[c]);
		cr_assert_eq(fx.rec.nframes, nl, "chunk %zu", chunks[c]);
		for (size_t i = 0; i < nl; i++)
			expect_frame(&fx, i, lens[i], (unsigned)i,
				     i % 2 ? SHAPE_BINCODE : SHAPE_JSON);
		cr_assert_eq(fx.rec.validates, 0, "synced frames are not validated");
		cr_assert_eq(kt_framer_finish(&fx.f), 0);
		fx_fini(&fx);
	}
	free(s.p);
}

Test(framer, short_frames_when_synced)
{
	struct fixture fx;
	struct buf s = {0};
	put_frame(&s, 200, 0, SHAPE_JSON);
	put_hdr(&s, 0);
	put_frame(&s, 5, 1, SHAPE_JSON);
	put_frame(&s, 200, 2, SHAPE_JSON);
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	push_chunks(&fx.f, s.p, s.n, 3);
	cr_assert_eq(fx.rec.nframes, 4);
	cr_assert_eq(fx.rec.frames[1].n, 0);
	expect_frame(&fx, 2, 5, 1, SHAPE_JSON);
	expect_frame(&fx, 3, 200, 2, SHAPE_JSON);
	fx_fini(&fx);
	free(s.p);
}

static void oversize_case(uint64_t bad, uint64_t max)
{
	struct fixture fx;
	struct buf s = {0};
	put_frame(&s, 200, 0, SHAPE_JSON);
	put_frame(&s, (size_t)max, 1, SHAPE_JSON); /* exactly max: fine */
	put_hdr(&s, bad);
	put_frame(&s, 200, 2, SHAPE_JSON);
	put_frame(&s, 200, 3, SHAPE_JSON);
	fx_init(&fx, max);
	push_chunks(&fx.f, s.p, s.n, 11);
	cr_assert_eq(fx.rec.nframes, 2);
	cr_assert_eq(fx.rec.noversize, 1);
	cr_assert_eq(fx.rec.oversize[0], bad);
	cr_assert_eq(fx.f.state, KT_FRAMER_DEAD);
	cr_assert_null(fx.f.buf);
	kt_framer_gap(&fx.f);
	kt_framer_push(&fx.f, s.p, s.n);
	cr_assert_eq(fx.f.state, KT_FRAMER_DEAD);
	cr_assert_eq(fx.rec.nframes, 2);
	cr_assert_eq(fx.rec.nresynced, 0);
	cr_assert_eq(kt_framer_finish(&fx.f), 0);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, oversize_2_63)
{
	oversize_case(1ull << 63, 1u << 20);
}

Test(framer, oversize_max_plus_one)
{
	oversize_case(1001, 1000);
}

Test(framer, oversize_u64_max)
{
	oversize_case(UINT64_MAX, 500);
}

/*
 * The first header of a stream announcing `first` bytes, then a frame of
 * 200: a length in [KT_FRAME_MIN_PAYLOAD, max_payload] is taken as is,
 * anything else means capture began mid-stream (resync, never oversize).
 */
static void first_header_case(size_t first, bool taken)
{
	const uint64_t max = 1000;
	struct buf s = {0};
	put_frame(&s, first, 1, SHAPE_JSON);
	put_frame(&s, 200, 2, SHAPE_JSON);
	static const size_t chunks[] = {1, 7, 100000};
	for (size_t c = 0; c < 3; c++) {
		struct fixture fx;
		fx_init(&fx, max);
		push_chunks(&fx.f, s.p, s.n, chunks[c]);
		cr_assert_eq(fx.rec.noversize, 0, "first header %zu", first);
		if (taken) {
			cr_assert_eq(fx.rec.nframes, 2, "first header %zu, chunk %zu", first,
				     chunks[c]);
			cr_assert_eq(fx.rec.nresynced, 0, "first header %zu", first);
			cr_assert_eq(fx.rec.validates, 0, "first header %zu", first);
			expect_frame(&fx, 0, first, 1, SHAPE_JSON);
			expect_frame(&fx, 1, 200, 2, SHAPE_JSON);
		} else {
			cr_assert_eq(fx.rec.nframes, 1, "first header %zu, chunk %zu", first,
				     chunks[c]);
			cr_assert_eq(fx.rec.nresynced, 1, "first header %zu", first);
			cr_assert_eq(fx.rec.resynced[0], 8 + first);
			expect_frame(&fx, 0, 200, 2, SHAPE_JSON);
		}
		cr_assert_eq(kt_framer_finish(&fx.f), 0);
		fx_fini(&fx);
	}
	free(s.p);
}

Test(framer, first_header_at_the_plausible_bounds)
{
	first_header_case(KT_FRAME_MIN_PAYLOAD, true);
	first_header_case(KT_FRAME_MIN_PAYLOAD - 1, false);
	first_header_case(1000, true); /* max_payload */
	first_header_case(1001, false);
}

/*
 * After a gap: junk, a frame announcing `len`, then a frame of 200. Only a
 * length in [KT_FRAME_MIN_PAYLOAD, max_payload] makes a candidate.
 */
static void resync_candidate_case(size_t len, bool found)
{
	const uint64_t max = 1000;
	struct buf s = {0};
	put(&s, "xyz", 3);
	put_frame(&s, len, 1, SHAPE_JSON);
	put_frame(&s, 200, 2, SHAPE_JSON);
	static const size_t chunks[] = {1, 7, 100000};
	for (size_t c = 0; c < 3; c++) {
		struct fixture fx;
		fx_init(&fx, max);
		kt_framer_gap(&fx.f);
		push_chunks(&fx.f, s.p, s.n, chunks[c]);
		cr_assert_eq(fx.rec.noversize, 0);
		cr_assert_eq(fx.rec.nresynced, 1, "candidate %zu, chunk %zu", len, chunks[c]);
		cr_assert_eq(fx.rec.validates, 1, "candidate %zu, chunk %zu", len, chunks[c]);
		if (found) {
			cr_assert_eq(fx.rec.nframes, 2, "candidate %zu, chunk %zu", len, chunks[c]);
			cr_assert_eq(fx.rec.resynced[0], 3);
			expect_frame(&fx, 0, len, 1, SHAPE_JSON);
			expect_frame(&fx, 1, 200, 2, SHAPE_JSON);
		} else {
			cr_assert_eq(fx.rec.nframes, 1, "candidate %zu, chunk %zu", len, chunks[c]);
			cr_assert_eq(fx.rec.resynced[0], 3 + 8 + len);
			expect_frame(&fx, 0, 200, 2, SHAPE_JSON);
		}
		fx_fini(&fx);
	}
	free(s.p);
}

Test(framer, resync_candidates_at_the_plausible_bounds)
{
	resync_candidate_case(KT_FRAME_MIN_PAYLOAD, true);
	resync_candidate_case(KT_FRAME_MIN_PAYLOAD - 1, false);
	resync_candidate_case(1000, true); /* max_payload */
	resync_candidate_case(1001, false);
}

Test(framer, synced_header_at_max_payload)
{
	/* After a first frame: exactly max_payload is a frame, one more is oversize. */
	for (int over = 0; over < 2; over++) {
		const uint64_t max = 1000;
		struct buf s = {0};
		put_frame(&s, 200, 0, SHAPE_JSON);
		put_frame(&s, (size_t)max + (size_t)over, 1, SHAPE_JSON);
		put_frame(&s, 200, 2, SHAPE_JSON);
		struct fixture fx;
		fx_init(&fx, max);
		push_chunks(&fx.f, s.p, s.n, 13);
		if (over) {
			cr_assert_eq(fx.rec.nframes, 1);
			cr_assert_eq(fx.rec.noversize, 1);
			cr_assert_eq(fx.rec.oversize[0], max + 1);
			cr_assert_eq(fx.f.state, KT_FRAMER_DEAD);
		} else {
			cr_assert_eq(fx.rec.noversize, 0);
			cr_assert_eq(fx.rec.nframes, 3);
			expect_frame(&fx, 1, (size_t)max, 1, SHAPE_JSON);
			cr_assert_eq(fx.f.state, KT_FRAMER_HEADER);
		}
		fx_fini(&fx);
		free(s.p);
	}
	/* max_payload is clamped to a quarter of the address space, not below. */
	const uint64_t clamp = (uint64_t)SIZE_MAX >> 2;
	struct kt_framer f;
	kt_framer_init(&f, UINT64_MAX, &ops, NULL);
	cr_assert_eq(f.max_payload, clamp);
	kt_framer_init(&f, clamp + 1, &ops, NULL);
	cr_assert_eq(f.max_payload, clamp);
	kt_framer_init(&f, clamp, &ops, NULL);
	cr_assert_eq(f.max_payload, clamp);
	kt_framer_init(&f, clamp - 1, &ops, NULL);
	cr_assert_eq(f.max_payload, clamp - 1);
}

Test(framer, buffers_at_their_bounds)
{
	/* A partial payload never takes more memory than its frame announces. */
	struct buf s = {0};
	put_frame(&s, 200, 0, SHAPE_JSON);
	struct fixture fx;
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	kt_framer_push(&fx.f, s.p, 8 + 100);
	cr_assert_eq(fx.f.state, KT_FRAMER_PAYLOAD);
	cr_assert_leq(fx.f.cap, 200, "cap %zu for a 200-byte frame", fx.f.cap);
	kt_framer_push(&fx.f, s.p + 108, s.n - 108);
	cr_assert_eq(fx.rec.nframes, 1);
	fx_fini(&fx);
	free(s.p);

	/* A buffer of exactly 64 KiB is kept between frames; a larger one is not. */
	for (size_t len = 65536; len <= 65537; len++) {
		s = (struct buf){0};
		put_frame(&s, len, 1, SHAPE_JSON);
		fx_init(&fx, KT_DEFAULT_MAX_FRAME);
		kt_framer_push(&fx.f, s.p, 1000);
		kt_framer_push(&fx.f, s.p + 1000, s.n - 1000);
		cr_assert_eq(fx.rec.nframes, 1);
		cr_assert_eq(fx.f.state, KT_FRAMER_HEADER);
		if (len == 65536)
			cr_assert_not_null(fx.f.buf, "a 64 KiB buffer was released");
		else
			cr_assert_null(fx.f.buf, "a buffer of %zu bytes was kept", fx.f.cap);
		fx_fini(&fx);
		free(s.p);
	}

	/*
	 * While resyncing, the window never exceeds max_payload + 8 (a header)
	 * + 36 (a header and the filter bytes), and a candidate announcing
	 * exactly max_payload is still found.
	 */
	const uint64_t max = 200;
	s = (struct buf){0};
	put(&s, "xyz", 3);
	put_frame(&s, (size_t)max, 3, SHAPE_JSON);
	fx_init(&fx, max);
	kt_framer_gap(&fx.f);
	for (size_t i = 0; i < s.n; i++) {
		kt_framer_push(&fx.f, s.p + i, 1);
		cr_assert_leq(fx.f.cap, max + 8 + 36, "window %zu after %zu bytes", fx.f.cap, i + 1);
	}
	cr_assert_eq(fx.rec.nframes, 1);
	expect_frame(&fx, 0, (size_t)max, 3, SHAPE_JSON);
	cr_assert_eq(fx.rec.resynced[0], 3);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, implausible_start_resyncs)
{
	/* Capture began inside a payload: its last 77 bytes, then frames. */
	struct buf s = {0};
	put_frame(&s, 400, 9, SHAPE_JSON);
	size_t tail = 77;
	struct buf t = {0};
	put(&t, s.p + s.n - tail, tail);
	put_frame(&t, 300, 1, SHAPE_JSON);
	put_frame(&t, 150, 2, SHAPE_BINCODE);
	put_frame(&t, 200, 3, SHAPE_JSON);
	static const size_t chunks[] = {1, 5, 64, 100000};
	for (size_t c = 0; c < 4; c++) {
		struct fixture fx;
		fx_init(&fx, KT_DEFAULT_MAX_FRAME);
		push_chunks(&fx.f, t.p, t.n, chunks[c]);
		cr_assert_eq(fx.rec.noversize, 0);
		cr_assert_eq(fx.rec.nresynced, 1);
		cr_assert_eq(fx.rec.resynced[0], tail);
		cr_assert_eq(fx.rec.nframes, 3, "chunk %zu: %zu frames", chunks[c],
			     fx.rec.nframes);
		expect_frame(&fx, 0, 300, 1, SHAPE_JSON);
		expect_frame(&fx, 1, 150, 2, SHAPE_BINCODE);
		expect_frame(&fx, 2, 200, 3, SHAPE_JSON);
		cr_assert_eq(fx.f.state, KT_FRAMER_HEADER);
		fx_fini(&fx);
	}
	free(s.p);
	free(t.p);
}

Test(framer, huge_first_header_is_not_oversize)
{
	struct fixture fx;
	struct buf s = {0};
	put_hdr(&s, 1ull << 63);
	put_frame(&s, 300, 1, SHAPE_JSON);
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	kt_framer_push(&fx.f, s.p, s.n);
	cr_assert_eq(fx.rec.noversize, 0);
	cr_assert_eq(fx.rec.nresynced, 1);
	cr_assert_eq(fx.rec.resynced[0], 8);
	cr_assert_eq(fx.rec.nframes, 1);
	expect_frame(&fx, 0, 300, 1, SHAPE_JSON);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, frame_inside_implausible_header)
{
	/* The first 3 bytes are debris; the frame's header starts inside. */
	struct buf s = {0};
	put(&s, "\xff\xfe\xfd", 3);
	put_frame(&s, 250, 4, SHAPE_JSON);
	struct fixture fx;
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	push_chunks(&fx.f, s.p, s.n, 1);
	cr_assert_eq(fx.rec.nframes, 1);
	cr_assert_eq(fx.rec.resynced[0], 3);
	expect_frame(&fx, 0, 250, 4, SHAPE_JSON);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, gap_mid_payload)
{
	struct buf s = {0};
	put_frame(&s, 300, 0, SHAPE_JSON);
	size_t b_start = s.n;
	put_frame(&s, 500, 1, SHAPE_JSON);
	size_t c_start = s.n;
	put_frame(&s, 200, 2, SHAPE_BINCODE);
	put_frame(&s, 180, 3, SHAPE_JSON);
	/* B: its header and 100 payload bytes arrive, 250 are lost, 150 arrive. */
	size_t cut = b_start + 8 + 100, resume = cut + 250;
	static const size_t chunks[] = {1, 3, 50, 4096};
	for (size_t c = 0; c < 4; c++) {
		struct fixture fx;
		fx_init(&fx, KT_DEFAULT_MAX_FRAME);
		push_chunks(&fx.f, s.p, cut, chunks[c]);
		kt_framer_gap(&fx.f);
		cr_assert_eq(fx.f.state, KT_FRAMER_RESYNC);
		push_chunks(&fx.f, s.p + resume, s.n - resume, chunks[c]);
		cr_assert_eq(fx.rec.nframes, 3);
		expect_frame(&fx, 0, 300, 0, SHAPE_JSON);
		expect_frame(&fx, 1, 200, 2, SHAPE_BINCODE);
		expect_frame(&fx, 2, 180, 3, SHAPE_JSON);
		cr_assert_eq(fx.rec.nresynced, 1);
		cr_assert_eq(fx.rec.resynced[0], (cut - b_start) + (c_start - resume));
		cr_assert_eq(kt_framer_finish(&fx.f), 0);
		fx_fini(&fx);
	}
	free(s.p);
}

Test(framer, gap_at_frame_boundary)
{
	struct buf s = {0};
	put_frame(&s, 300, 0, SHAPE_JSON);
	size_t b = s.n;
	put_frame(&s, 300, 1, SHAPE_JSON);
	struct fixture fx;
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	kt_framer_push(&fx.f, s.p, b);
	kt_framer_gap(&fx.f);
	kt_framer_push(&fx.f, s.p + b, s.n - b);
	cr_assert_eq(fx.rec.nframes, 2);
	cr_assert_eq(fx.rec.resynced[0], 0);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, gap_before_first_byte_resyncs)
{
	struct buf s = {0};
	put_frame(&s, 300, 0, SHAPE_JSON);
	struct fixture fx;
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	kt_framer_gap(&fx.f);
	kt_framer_push(&fx.f, s.p, s.n);
	cr_assert_eq(fx.rec.nframes, 1);
	cr_assert_eq(fx.rec.validates, 1);
	cr_assert_eq(fx.rec.nresynced, 1);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, gap_during_resync)
{
	struct buf s = {0};
	put_frame(&s, 300, 0, SHAPE_JSON);
	put_frame(&s, 300, 1, SHAPE_JSON);
	put_frame(&s, 300, 2, SHAPE_JSON);
	struct fixture fx;
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	kt_framer_gap(&fx.f);
	kt_framer_push(&fx.f, s.p + 10, 200); /* inside frame 0 */
	kt_framer_gap(&fx.f);
	kt_framer_push(&fx.f, s.p + 320, 50); /* inside frame 1 */
	kt_framer_gap(&fx.f);
	kt_framer_push(&fx.f, s.p + 596, 20); /* the tail of frame 1 */
	kt_framer_push(&fx.f, s.p + 616, s.n - 616);
	cr_assert_eq(fx.rec.nframes, 1);
	expect_frame(&fx, 0, 300, 2, SHAPE_JSON);
	cr_assert_eq(fx.rec.resynced[0], 200 + 50 + 20);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, candidate_failing_validate_is_skipped)
{
	struct buf s = {0};
	/* Passes the filter (JSON prefix, plausible length), bad checksum. */
	size_t bad_len = 200;
	put_hdr(&s, bad_len);
	uint8_t *p = malloc(bad_len);
	make_payload(p, bad_len, 5, SHAPE_JSON);
	p[bad_len - 1] ^= 0x20;
	put(&s, p, bad_len);
	free(p);
	put_frame(&s, 300, 6, SHAPE_JSON);
	struct fixture fx;
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	kt_framer_gap(&fx.f);
	push_chunks(&fx.f, s.p, s.n, 7);
	cr_assert_eq(fx.rec.validates, 2);
	cr_assert_eq(fx.rec.nframes, 1);
	expect_frame(&fx, 0, 300, 6, SHAPE_JSON);
	cr_assert_eq(fx.rec.resynced[0], 8 + bad_len);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, filter_rejects_without_validating)
{
	/* Plausible lengths whose payloads fit neither shape. */
	struct buf s = {0};
	for (int i = 0; i < 5; i++) {
		put_hdr(&s, 150);
		uint8_t junk[150];
		memset(junk, 2, sizeof(junk));
		put(&s, junk, sizeof(junk));
	}
	put_frame(&s, 300, 6, SHAPE_BINCODE);
	struct fixture fx;
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	kt_framer_gap(&fx.f);
	push_chunks(&fx.f, s.p, s.n, 13);
	cr_assert_eq(fx.rec.validates, 1);
	cr_assert_eq(fx.rec.nframes, 1);
	cr_assert_eq(fx.rec.resynced[0], 5 * 158);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, later_frame_not_blocked_by_large_candidate)
{
	/* A candidate announcing 5 MB must not hold back the frame after it. */
	struct buf s = {0};
	put_hdr(&s, 5u << 20);
	uint8_t p[100];
	make_payload(p, sizeof(p), 1, SHAPE_JSON);
	put(&s, p, sizeof(p));
	put_frame(&s, 300, 2, SHAPE_JSON);
	put_frame(&s, 300, 3, SHAPE_JSON);
	struct fixture fx;
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	kt_framer_gap(&fx.f);
	push_chunks(&fx.f, s.p, s.n, 17);
	cr_assert_eq(fx.rec.nframes, 2);
	expect_frame(&fx, 0, 300, 2, SHAPE_JSON);
	expect_frame(&fx, 1, 300, 3, SHAPE_JSON);
	cr_assert_eq(fx.rec.resynced[0], 108);
	cr_assert_eq(fx.rec.validates, 1);
	cr_assert_lt(fx.f.cap, 64u << 10);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, finish_mid_frame)
{
	struct buf s = {0};
	put_frame(&s, 300, 0, SHAPE_JSON);
	put_frame(&s, 300, 1, SHAPE_JSON);
	struct fixture fx;
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	kt_framer_push(&fx.f, s.p, 308 + 58);
	cr_assert_eq(kt_framer_finish(&fx.f), 58);
	cr_assert_eq(fx.rec.nframes, 1);
	cr_assert_null(fx.f.buf);
	/* finish leaves the framer ready for a new stream */
	kt_framer_push(&fx.f, s.p, 3);
	cr_assert_eq(kt_framer_finish(&fx.f), 3);
	kt_framer_push(&fx.f, s.p, s.n);
	cr_assert_eq(kt_framer_finish(&fx.f), 0);
	cr_assert_eq(fx.rec.nframes, 3);
	/* while resyncing: every byte since sync was lost */
	kt_framer_push(&fx.f, s.p, 100);
	kt_framer_gap(&fx.f);
	kt_framer_push(&fx.f, s.p + 200, 40);
	cr_assert_eq(kt_framer_finish(&fx.f), 140);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, hostile_header_without_data)
{
	struct buf s = {0};
	put_frame(&s, 200, 0, SHAPE_JSON);
	put_hdr(&s, KT_DEFAULT_MAX_FRAME);
	put(&s, "0123456789", 10);
	struct fixture fx;
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	kt_framer_push(&fx.f, s.p, s.n);
	cr_assert_eq(fx.f.state, KT_FRAMER_PAYLOAD);
	cr_assert_leq(fx.f.cap, 4096, "cap %zu", fx.f.cap);
	/* Growth follows the bytes that arrive. */
	uint8_t *more = calloc(1, 100000);
	kt_framer_push(&fx.f, more, 100000);
	cr_assert_leq(fx.f.cap, 2 * 100010, "cap %zu", fx.f.cap);
	cr_assert_eq(kt_framer_finish(&fx.f), 8 + 100010);
	free(more);

	/* The same as the first header of a stream. */
	kt_framer_push(&fx.f, s.p + 208, 18);
	cr_assert_eq(fx.f.state, KT_FRAMER_PAYLOAD);
	cr_assert_leq(fx.f.cap, 4096);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, resync_window_stays_bounded)
{
	/* Candidates announcing max_payload, fed a long run of filler. */
	const uint64_t max = 100000;
	struct fixture fx;
	fx_init(&fx, max);
	kt_framer_gap(&fx.f);
	struct buf s = {0};
	uint8_t p[200];
	make_payload(p, sizeof(p), 0, SHAPE_JSON);
	for (int i = 0; i < 50; i++) {
		put_hdr(&s, max);
		put(&s, p, sizeof(p));
	}
	uint8_t *fill = malloc(1 << 20);
	memset(fill, 'x', 1 << 20);
	kt_framer_push(&fx.f, s.p, s.n);
	cr_assert_leq(fx.f.cap, 2 * s.n);
	for (int i = 0; i < 4; i++) {
		kt_framer_push(&fx.f, fill, 1 << 20);
		cr_assert_leq(fx.f.cap, KT_FRAME_HDR_LEN + max + 64, "cap %zu", fx.f.cap);
	}
	cr_assert_eq(fx.rec.validates, 50);
	cr_assert_eq(fx.rec.nframes, 0);
	cr_assert_eq(kt_framer_finish(&fx.f), s.n + (4u << 20));
	fx_fini(&fx);
	free(fill);
	free(s.p);
}

Test(framer, big_buffer_released_after_frame)
{
	struct buf s = {0};
	put_frame(&s, 300000, 0, SHAPE_JSON);
	put_frame(&s, 300, 1, SHAPE_JSON);
	struct fixture fx;
	fx_init(&fx, KT_DEFAULT_MAX_FRAME);
	push_chunks(&fx.f, s.p, s.n, 1000);
	cr_assert_eq(fx.rec.nframes, 2);
	cr_assert_leq(fx.f.cap, 64u << 10);
	fx_fini(&fx);
	free(s.p);
}

Test(framer, random_loss_delivers_exactly_the_intact_frames)
{
	/*
	 * Frames of printable text create no false candidates, so after any
	 * loss exactly the frames that arrive whole are delivered, in order.
	 */
	size_t total_frames = 0, total_resyncs = 0, total_validates = 0;
	for (uint64_t seed0 = 1; seed0 <= 40; seed0++) {
		uint64_t seed = seed0 * 0x9e3779b97f4a7c15ull;
		struct buf s = {0};
		size_t nf = 60, starts[61];
		for (size_t i = 0; i < nf; i++) {
			starts[i] = s.n;
			size_t len = 126 + (size_t)(rng(&seed) % (i % 10 == 9 ? 20000 : 900));
			put_frame(&s, len, (unsigned)i, rng(&seed) % 2 ? SHAPE_JSON : SHAPE_BINCODE);
		}
		starts[nf] = s.n;
		bool *lost = calloc(s.n, 1);
		struct fixture fx;
		fx_init(&fx, KT_DEFAULT_MAX_FRAME);
		uint64_t pushed = 0, framed = 0, skipped = 0;
		for (size_t o = 0; o < s.n;) {
			size_t len = 1 + (size_t)(rng(&seed) % 3000);
			if (len > s.n - o)
				len = s.n - o;
			if (rng(&seed) % 6 == 0) {
				memset(lost + o, 1, len);
				kt_framer_gap(&fx.f);
			} else {
				kt_framer_push(&fx.f, s.p + o, len);
				pushed += len;
			}
			o += len;
		}
		uint64_t rest = kt_framer_finish(&fx.f);
		size_t k = 0;
		for (size_t i = 0; i < nf; i++) {
			bool whole = !memchr(lost + starts[i], 1, starts[i + 1] - starts[i]);
			if (!whole)
				continue;
			size_t len = starts[i + 1] - starts[i] - 8;
			cr_assert_lt(k, fx.rec.nframes, "seed %llu: frame %zu not delivered",
				     (unsigned long long)seed0, i);
			cr_assert_eq(fx.rec.frames[k].n, len);
			cr_assert(!memcmp(fx.rec.frames[k].p, s.p + starts[i] + 8, len));
			framed += 8 + len;
			k++;
		}
		cr_assert_eq(k, fx.rec.nframes, "seed %llu", (unsigned long long)seed0);
		for (size_t i = 0; i < fx.rec.nresynced; i++)
			skipped += fx.rec.resynced[i];
		cr_assert_eq(pushed, framed + skipped + rest, "every pushed byte accounted for");
		cr_assert_eq(fx.rec.validates, fx.rec.nresynced, "no false candidate");
		total_frames += fx.rec.nframes;
		total_resyncs += fx.rec.nresynced;
		total_validates += fx.rec.validates;
		fx_fini(&fx);
		free(lost);
		free(s.p);
	}
	cr_log_info("%zu frames, %zu resyncs, %zu validations", total_frames, total_resyncs,
		    total_validates);
	cr_assert_gt(total_resyncs, 100);
	cr_assert_gt(total_frames, 1000);
}

static struct buf read_vector(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", KT_TEST_VECTORS, name);
	FILE *fp = fopen(path, "rb");
	cr_assert_not_null(fp, "%s", path);
	struct buf b = {0};
	uint8_t tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		put(&b, tmp, n);
	fclose(fp);
	return b;
}

static uint64_t be64_at(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Recorded agent streams: a loss anywhere inside frame k must resync on
 * frame k + 1 at once. Bincode payloads are full of positions that pass the
 * filter and announce megabytes; none may hold the real frame back.
 */
static void resync_in_vector(const char *name)
{
	struct buf s = read_vector(name);
	struct buf fr[64];
	size_t start[65], nf = 0;
	for (size_t o = 0; o < s.n; nf++) {
		cr_assert_lt(nf, 64);
		size_t len = (size_t)be64_at(s.p + o);
		start[nf] = o;
		fr[nf] = (struct buf){s.p + o + 8, len};
		o += 8 + len;
	}
	start[nf] = s.n;
	known = fr;
	nknown = nf;
	for (size_t k = 0; k + 1 < nf; k++) {
		for (size_t cut = start[k] + 1; cut < start[k + 1]; cut += 7) {
			size_t resume = cut + (cut * 31 % 40); /* lose 0..39 bytes */
			if (resume > start[k + 1])
				resume = start[k + 1];
			struct fixture fx;
			fx_init(&fx, KT_DEFAULT_MAX_FRAME);
			kt_framer_push(&fx.f, s.p, cut);
			kt_framer_gap(&fx.f);
			push_chunks(&fx.f, s.p + resume, s.n - resume, 61);
			cr_assert_eq(fx.rec.nframes, nf - 1, "%s: cut at %zu in frame %zu: %zu frames",
				     name, cut, k, fx.rec.nframes);
			for (size_t i = 0; i < k; i++)
				cr_assert_eq(fx.rec.frames[i].n, fr[i].n);
			for (size_t i = k + 1; i < nf; i++) {
				cr_assert_eq(fx.rec.frames[i - 1].n, fr[i].n);
				cr_assert(!memcmp(fx.rec.frames[i - 1].p, fr[i].p, fr[i].n));
			}
			cr_assert_eq(fx.rec.resynced[0], (cut - start[k]) + (start[k + 1] - resume));
			cr_assert_eq(kt_framer_finish(&fx.f), 0);
			fx_fini(&fx);
		}
	}
	known = NULL;
	free(s.p);
}

Test(framer, resync_in_recorded_bincode_stream)
{
	resync_in_vector("framed_stream_otel014_bincode.bin");
}

Test(framer, resync_in_recorded_json_stream)
{
	resync_in_vector("framed_stream_otel017_json.bin");
}

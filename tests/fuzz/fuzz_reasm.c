/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reassembler fuzzer. The input is a configuration and a sequence of ops
 * (DATA at an offset, GAP, tick, clock jump, finish). A shadow model checks
 * that delivered bytes are the stream's bytes at their offsets, that data and
 * gap callbacks tile the stream from its start without overlap, that a
 * byte first offered as data is never declared missing (and one first
 * declared by a GAP record never delivered), and that every received byte
 * is delivered, counted as duplicate or still pending.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream/reasm.h"
#include "fuzz_check.h"

#define WINDOW (1u << 17) /* offsets base .. base + WINDOW carry the model */
#define MAX_LEN 4096

enum claim { UNSEEN = 0, CLAIM_DATA, CLAIM_GAP };

struct model {
	uint64_t base;
	uint64_t cursor; /* end of the last callback */
	uint64_t delivered;
	uint64_t gap_bytes;
	uint64_t gaps;
	uint8_t claim[WINDOW];
};

static struct model m;

static uint8_t pat(uint64_t off)
{
	uint64_t x = off * 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return (uint8_t)(x ^ (x >> 17));
}

/* Window index of [off, off + len), which must lie inside the window. */
static size_t win(uint64_t off, uint64_t len)
{
	CHECK(off >= m.base && off - m.base <= WINDOW && len <= WINDOW - (off - m.base));
	return (size_t)(off - m.base);
}

static void on_data(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	(void)ctx;
	CHECK(n > 0 && off == m.cursor);
	size_t w = win(off, n);
	for (size_t i = 0; i < n; i++) {
		CHECK(p[i] == pat(off + i));
		CHECK(m.claim[w + i] == CLAIM_DATA);
	}
	m.cursor += n;
	m.delivered += n;
}

static void on_gap(void *ctx, uint64_t off, uint64_t len)
{
	(void)ctx;
	CHECK(len > 0 && off == m.cursor);
	size_t w = win(off, len);
	for (uint64_t i = 0; i < len; i++)
		CHECK(m.claim[w + i] != CLAIM_DATA);
	m.cursor += len;
	m.gap_bytes += len;
	m.gaps++;
}

static const struct kt_reasm_ops ops = {.data = on_data, .gap = on_gap};

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

/* Claims the part of [off, off + len) at or above next that nobody claimed. */
static void claim(const struct kt_reasm *r, uint64_t off, uint64_t len, enum claim c)
{
	uint64_t lo = off, hi = off + len; /* len is clipped: no wrap */
	uint64_t wend = m.base > UINT64_MAX - WINDOW ? UINT64_MAX : m.base + WINDOW;

	if (lo < r->next)
		lo = r->next;
	if (lo < m.base)
		lo = m.base;
	if (hi > wend)
		hi = wend;
	for (uint64_t x = lo; x < hi; x++)
		if (m.claim[x - m.base] == UNSEEN)
			m.claim[x - m.base] = (uint8_t)c;
}

static uint64_t clip(uint64_t off, uint64_t len)
{
	return len > UINT64_MAX - off ? UINT64_MAX - off : len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t pendings[] = {0, 1, 16, 100, 1000, 4096, 65536, 1 << 20};
	static const uint64_t timeouts[] = {0, 1, 100, 10000};
	static const uint64_t bases[] = {0, 1000, 1ull << 63, UINT64_MAX - 70000,
					 UINT64_MAX - 5000, UINT64_MAX - 1};
	struct in in = {data, size};
	unsigned cfgb = get8(&in);
	struct kt_reasm_cfg cfg = {
		.max_pending = pendings[cfgb & 7],
		.hole_timeout_ns = timeouts[(cfgb >> 3) & 3],
	};
	memset(&m, 0, sizeof(m));
	m.base = bases[(cfgb >> 5) % 6];
	m.cursor = m.base;

	struct kt_reasm r;
	kt_reasm_init(&r, &cfg, &ops, NULL);
	r.next = m.base;
	uint64_t now = get16(&in);
	uint64_t data_in = 0;
	static uint8_t buf[MAX_LEN * 4];

	while (in.n) {
		unsigned op = get8(&in);
		switch (op % 8) {
		case 0:
		case 1:
		case 2:
		case 3: { /* DATA */
			uint64_t off = m.base + get16(&in);
			size_t len = get8(&in);
			if (op & 0x10)
				len = len * 16 + get8(&in);
			if ((op & 0x20) && m.base >= 256)
				off -= get8(&in); /* below base: already settled */
			bool loss = op & 0x40;
			now += get8(&in);
			size_t n = (size_t)clip(off, len);
			for (size_t i = 0; i < n; i++)
				buf[i] = pat(off + i);
			/* Record bytes are at or above off: a prior-loss flush is below. */
			claim(&r, off, n, CLAIM_DATA);
			kt_reasm_data(&r, off, buf, len, loss, now);
			data_in += n;
			break;
		}
		case 4:
		case 5: { /* GAP */
			uint64_t off = m.base + get16(&in);
			uint64_t len = get8(&in);
			if (op & 0x10)
				len = len * 16 + get8(&in);
			/* Up to 2^64 only where that stays inside the model window. */
			if ((op & 0x20) && m.base > UINT64_MAX - WINDOW)
				len = UINT64_MAX;
			claim(&r, off, clip(off, len), CLAIM_GAP);
			kt_reasm_gap(&r, off, len, now);
			break;
		}
		case 6: /* time passes */
			now += (op & 0x10) ? get16(&in) * 16ull : get8(&in);
			if (op & 0x20)
				now = get16(&in); /* clock steps back */
			kt_reasm_tick(&r, now);
			break;
		case 7:
			kt_reasm_finish(&r);
			CHECK(!r.pending && r.pending_bytes == 0 && r.pending_segs == 0);
			break;
		}
		CHECK(r.next == m.cursor);
		CHECK(r.pending_bytes <= cfg.max_pending);
		CHECK(r.pending_segs <= 4096);
		CHECK((r.pending != NULL) == (r.pending_segs != 0));
		CHECK(data_in == m.delivered + r.dup_bytes + r.pending_bytes);
		CHECK(r.gap_bytes == m.gap_bytes && r.gaps == m.gaps);
	}
	kt_reasm_finish(&r);
	CHECK(r.next == m.cursor && !r.pending && r.pending_segs == 0 && r.pending_bytes == 0);
	CHECK(data_in == m.delivered + r.dup_bytes);
	kt_reasm_free(&r);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spool segment parser fuzzer. The first byte picks the mode: the rest of
 * the input parsed as a segment file as it is, or read as a list of records
 * that are encoded into a valid segment which is then cut short at one
 * place and has one byte changed at another (a crash mid-write, a bad
 * sector). Always: the valid prefix lies within the input and is a header
 * plus whole records, the records lie within it with sequence numbers
 * strictly increasing above after_seq, the input is wholly valid exactly at
 * END, re-parsing the prefix gives END and the same records, and a callback
 * that stops at record k stops there. Built segments: the records parsed
 * are the ones encoded, all of them when the segment is intact, those
 * before the damage when it is not (one changed byte always fails a CRC-32).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/spool.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BUILT (1u << 16)
#define MAX_RECORDS 64

struct seen {
	const uint8_t *base; /* the parsed buffer */
	size_t n;
	uint64_t after, last, records, bytes, digest;
	uint64_t stop_at; /* return non-zero at this record (1-based); 0 never */
	/* built mode: what was encoded */
	const uint64_t *want_seq;
	const uint32_t *want_type;
	const size_t *want_off, *want_len;
	size_t want_n;
	const uint8_t *want_base;
};

static int on_record(void *ctx, uint32_t type, uint64_t seq, const void *p, size_t n)
{
	struct seen *s = ctx;
	const uint8_t *b = p;
	CHECK(b >= s->base + KT_SPOOL_SEG_HDR + KT_SPOOL_REC_HDR && b + n <= s->base + s->n);
	CHECK(seq > s->after && seq > s->last);
	if (s->want_n) {
		CHECK(s->records < s->want_n);
		size_t i = (size_t)s->records;
		CHECK(seq == s->want_seq[i] && type == s->want_type[i] && n == s->want_len[i]);
		CHECK(memcmp(p, s->want_base + s->want_off[i], n) == 0);
	}
	s->last = seq;
	s->records++;
	s->bytes += KT_SPOOL_REC_HDR + n;
	s->digest = (s->digest ^ seq ^ type ^ n) * 0x100000001b3ull;
	for (size_t i = 0; i < n; i++)
		s->digest = (s->digest ^ b[i]) * 0x100000001b3ull;
	return s->stop_at && s->records == s->stop_at ? 7 : 0;
}

/* Parses and checks the invariants every input must satisfy; returns the result. */
static struct kt_spool_parse check(const uint8_t *p, size_t n, uint64_t after, struct seen *s)
{
	struct kt_spool_parse pr;
	s->base = p;
	s->n = n;
	s->after = after;
	kt_spool_parse_segment(p, n, after, on_record, s, &pr);
	CHECK(pr.valid <= n);
	CHECK(pr.valid == 0 || pr.valid >= KT_SPOOL_SEG_HDR);
	CHECK(pr.records == s->records);
	CHECK(pr.last_seq == s->last);
	CHECK(pr.valid == 0 ? pr.records == 0 : pr.valid == KT_SPOOL_SEG_HDR + s->bytes);
	CHECK((pr.stop == KT_SPOOL_END) == (pr.valid == n && pr.valid > 0) ||
	      pr.stop == KT_SPOOL_STOPPED);
	CHECK(pr.stop == KT_SPOOL_END || pr.why);
	if (pr.records)
		CHECK(pr.first_seq > after);
	return pr;
}

static void reparse(const uint8_t *p, const struct kt_spool_parse *pr, uint64_t after,
		    const struct seen *first)
{
	if (!pr->valid)
		return;
	struct seen s = {0};
	struct kt_spool_parse again = check(p, pr->valid, after, &s);
	CHECK(again.stop == KT_SPOOL_END);
	CHECK(again.valid == pr->valid && again.records == pr->records);
	CHECK(s.digest == first->digest);
	/* a callback stopping at record k stops exactly there */
	if (pr->records) {
		struct seen t = {.stop_at = 1 + first->digest % pr->records};
		struct kt_spool_parse st = check(p, pr->valid, after, &t);
		CHECK(st.stop == KT_SPOOL_STOPPED && st.cb_ret == 7 && st.records == t.stop_at);
	}
}

static void raw(const uint8_t *p, size_t n, uint64_t after)
{
	struct seen s = {0};
	struct kt_spool_parse pr = check(p, n, after, &s);
	reparse(p, &pr, after, &s);
}

static uint8_t buf[MAX_BUILT];

static void built(const uint8_t *in, size_t n, uint64_t after)
{
	/* header: cut (2 bytes), flip position (2), flip xor (1), first seq step (1) */
	if (n < 6)
		return;
	size_t cut = (size_t)(in[0] | in[1] << 8), flip = (size_t)(in[2] | in[3] << 8);
	uint8_t x = in[4];
	uint64_t seq = after + 1 + in[5] % 4;
	in += 6;
	n -= 6;
	uint64_t seqs[MAX_RECORDS];
	uint32_t types[MAX_RECORDS];
	size_t offs[MAX_RECORDS], lens[MAX_RECORDS], ends[MAX_RECORDS];
	size_t k = 0, at = KT_SPOOL_SEG_HDR;
	kt_spool_encode_segment(buf, seq);
	/* each record: type (1), length (1), gap to the next seq (1), payload */
	while (n >= 3 && k < MAX_RECORDS) {
		size_t len = in[1] < n - 3 ? in[1] : n - 3;
		if (at + KT_SPOOL_REC_HDR + len > sizeof(buf))
			break;
		types[k] = in[0];
		seqs[k] = seq;
		kt_spool_encode_record(buf + at, types[k], seq, in + 3, (uint32_t)len);
		memcpy(buf + at + KT_SPOOL_REC_HDR, in + 3, len);
		offs[k] = at + KT_SPOOL_REC_HDR;
		lens[k] = len;
		at += KT_SPOOL_REC_HDR + len;
		ends[k] = at;
		seq += 1 + in[2] % 3;
		in += 3 + len;
		n -= 3 + len;
		k++;
	}
	struct seen s = {.want_seq = seqs, .want_type = types, .want_off = offs,
			 .want_len = lens, .want_n = k, .want_base = buf};
	struct kt_spool_parse pr = check(buf, at, after, &s);
	CHECK(pr.stop == KT_SPOOL_END && pr.records == k && pr.valid == at);

	/* cut short: exactly the whole records before the cut, a torn tail after them */
	size_t c = cut % (at + 1);
	size_t whole = 0;
	while (whole < k && ends[whole] <= c)
		whole++;
	struct seen t = {.want_seq = seqs, .want_type = types, .want_off = offs,
			 .want_len = lens, .want_n = k, .want_base = buf};
	pr = check(buf, c, after, &t);
	CHECK(pr.records == whole);
	if (c < KT_SPOOL_SEG_HDR)
		CHECK(pr.stop == KT_SPOOL_TORN && pr.valid == 0);
	else
		CHECK(pr.stop == (c == (whole ? ends[whole - 1] : KT_SPOOL_SEG_HDR)
					  ? KT_SPOOL_END : KT_SPOOL_TORN));
	reparse(buf, &pr, after, &t);

	/* one byte changed: the records before it, none from it on */
	if (!x)
		return;
	size_t f = flip % at;
	size_t before = 0;
	while (before < k && ends[before] <= f)
		before++;
	buf[f] ^= x;
	struct seen u = {.want_seq = seqs, .want_type = types, .want_off = offs,
			 .want_len = lens, .want_n = k, .want_base = buf};
	pr = check(buf, at, after, &u);
	CHECK(pr.records == (f < KT_SPOOL_SEG_HDR ? 0 : before));
	CHECK(pr.stop != KT_SPOOL_END);
	reparse(buf, &pr, after, &u);
	buf[f] ^= x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint64_t after = (data[0] >> 1) & 7; /* a few values of the sequence floor */
	if (data[0] & 1)
		built(data + 1, size - 1, after);
	else
		raw(data + 1, size - 1, after);
	return 0;
}

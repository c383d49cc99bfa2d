/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata 1.x: the emitBatch stream of one connection (decode_jaeger.h):
 * message starts, message ends (kt_tc_scan_message), resynchronisation and
 * the buffer. Each complete message is decoded by jaeger_map.c.
 */
#include "kata1/decode_jaeger.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int kt_jaeger_message_start(const uint8_t *p, size_t n)
{
	static const uint8_t name[] = "\x09" "emitBatch"; /* length, then the name */
	size_t i;

	if (n < 1)
		return -1;
	if (p[0] != KT_TC_PROTOCOL_ID)
		return 0;
	if (n < 2)
		return -1;
	if (p[1] != (KT_TC_ONEWAY << 5 | KT_TC_VERSION) && p[1] != (KT_TC_CALL << 5 | KT_TC_VERSION))
		return 0;
	/* seqid: a varint of at most 5 bytes and 32 bits, as the reader wants it */
	for (i = 2;; i++) {
		if (i >= n)
			return -1;
		if (i == 7 || (i == 6 && (p[i] & 0x7f) >> 4))
			return 0;
		if (!(p[i] & 0x80))
			break;
	}
	for (size_t k = 0; k < sizeof(name) - 1; k++) {
		if (++i >= n)
			return -1;
		if (p[i] != name[k])
			return 0;
	}
	return 1;
}

/* ------------------------------------------------------------ stream */

static size_t arena_for(const struct kt_jaeger_limits *l, size_t len)
{
	return l->arena_limit ? l->arena_limit : len * 64 + (64u << 10);
}

static void report(struct kt_jaeger_stream *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void report(struct kt_jaeger_stream *s, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->errors++;
	if (s->ops && s->ops->error)
		s->ops->error(s->ctx, msg);
}

void kt_jaeger_stream_init(struct kt_jaeger_stream *s, const struct kt_jaeger_limits *lim,
			   const struct kt_jaeger_stream_ops *ops, void *ctx)
{
	memset(s, 0, sizeof(*s));
	if (lim)
		s->lim = *lim;
	else
		kt_jaeger_limits_default(&s->lim);
	if (s->lim.max_message < KT_JAEGER_MIN_MESSAGE_CAP)
		s->lim.max_message = KT_JAEGER_MIN_MESSAGE_CAP;
	s->ops = ops;
	s->ctx = ctx;
}

/* Consume k pending bytes as skipped; the first of a run records why. */
static void skip_bytes(struct kt_jaeger_stream *s, size_t k, const char *why)
{
	if (!s->skipping) {
		s->skipping = true;
		s->skip_run = 0;
		s->skip_from = s->offset;
		snprintf(s->skip_reason, sizeof(s->skip_reason), "%s", why);
	}
	s->off += k;
	s->offset += k;
	s->skip_run += k;
	s->skipped_bytes += k;
}

/* The end of a run of skipped bytes: one report for the whole run. */
static void end_skip(struct kt_jaeger_stream *s, const char *until)
{
	if (s->skipping && s->skip_run)
		report(s, "%s: skipped %llu bytes from stream offset %llu %s", s->skip_reason,
		       (unsigned long long)s->skip_run, (unsigned long long)s->skip_from, until);
	s->skipping = false;
	s->skip_run = 0;
}

static void deliver(struct kt_jaeger_stream *s, const uint8_t *p, size_t len)
{
	struct kt_arena a;
	struct kt_jaeger_batch b;
	struct kt_decode_error err;

	s->message_bytes += len;
	kt_arena_init(&a, arena_for(&s->lim, len));
	a.acct = s->arena_acct;
	if (kt_jaeger_decode(p, len, &s->lim, &a, &b, &err) == 0) {
		s->messages++;
		s->spans += b.n_spans;
		if (s->ops && s->ops->batch)
			s->ops->batch(s->ctx, &b, &a);
	} else {
		s->bad_messages++;
		report(s, "message of %zu bytes at stream offset %llu skipped: %s", len,
		       (unsigned long long)s->offset, err.msg);
	}
	kt_arena_free(&a);
	s->off += len;
	s->offset += len;
}

/* Cut and decode every complete message the buffer holds. */
static void process(struct kt_jaeger_stream *s)
{
	char why[sizeof(s->skip_reason)];
	size_t end;

	while (s->have > s->off) {
		const uint8_t *p = s->buf + s->off;
		size_t avail = s->have - s->off;
		if (!s->scanning) {
			int start = kt_jaeger_message_start(p, avail);
			if (start < 0)
				return;
			if (start == 0) {
				/* Only a 0x82 can begin a message. */
				const uint8_t *q = memchr(p + 1, KT_TC_PROTOCOL_ID, avail - 1);
				skip_bytes(s, q ? (size_t)(q - p) : avail,
					   "bytes that are not an emitBatch message");
				continue;
			}
			snprintf(why, sizeof(why), "before the message at stream offset %llu",
				 (unsigned long long)s->offset);
			end_skip(s, why);
			s->scanning = true;
			kt_tc_scan_init(&s->scan, s->lim.max_message);
		}
		enum kt_tc_status st = kt_tc_scan_message(&s->scan, p, avail, &end);
		if (st == KT_TC_MORE)
			return;
		s->scanning = false;
		if (st == KT_TC_OK) {
			deliver(s, p, end);
			continue;
		}
		/* Not a message after all: look for the next start past its first byte. */
		snprintf(why, sizeof(why), "malformed message at stream offset %llu: %s",
			 (unsigned long long)s->offset, s->scan.msg);
		skip_bytes(s, 1, why);
	}
}

/* Room for `want` bytes in buf (want <= max_message). */
static bool reserve(struct kt_jaeger_stream *s, size_t want)
{
	if (want <= s->cap)
		return true;
	size_t cap = s->cap ? s->cap : 4096;
	while (cap < want)
		cap *= 2;
	if (cap > s->lim.max_message)
		cap = s->lim.max_message;
	uint8_t *b = kt_mem_realloc(s->buf_acct, s->buf, s->cap, cap);
	if (!b)
		return false;
	s->buf = b;
	s->cap = cap;
	return true;
}

/* Pending bytes are given up (gap, end of stream, no memory). */
static uint64_t drop_pending(struct kt_jaeger_stream *s, const char *why)
{
	uint64_t rest = s->have - s->off;
	if (s->skipping && !s->scanning) {
		/* at most the first bytes of a start that never completed */
		s->skip_run += rest;
		s->skipped_bytes += rest;
		rest = 0;
		end_skip(s, why);
	} else if (rest) {
		s->dropped_bytes += rest;
		report(s, "%llu bytes of an incomplete message at stream offset %llu dropped %s",
		       (unsigned long long)rest, (unsigned long long)s->offset, why);
	}
	s->offset += s->have - s->off;
	s->off = s->have = 0;
	s->scanning = false;
	s->skipping = false;
	s->skip_run = 0;
	return rest;
}

void kt_jaeger_stream_push(struct kt_jaeger_stream *s, const uint8_t *p, size_t n)
{
	if (!p)
		n = 0;
	s->pushed += n;
	while (n) {
		if (s->off) {
			memmove(s->buf, s->buf + s->off, s->have - s->off);
			s->have -= s->off;
			s->off = 0;
		}
		/*
		 * process() never leaves a full buffer: a message start or a
		 * message as long as max_message is always decided. Should it,
		 * the bytes are dropped rather than the loop spinning.
		 */
		size_t k = s->lim.max_message - s->have;
		if (k > n)
			k = n;
		if (!k) {
			drop_pending(s, "(buffer full)");
			continue;
		}
		if (!reserve(s, s->have + k)) {
			drop_pending(s, "(out of memory or memory budget)");
			s->dropped_bytes += n;
			s->offset += n;
			report(s, "out of memory or memory budget: %zu bytes dropped", n);
			return;
		}
		memcpy(s->buf + s->have, p, k);
		s->have += k;
		p += k;
		n -= k;
		process(s);
	}
}

uint64_t kt_jaeger_stream_gap(struct kt_jaeger_stream *s)
{
	uint64_t rest = drop_pending(s, "before a gap in the stream");
	/* What follows a gap is most likely the rest of a message. */
	s->skipping = true;
	s->skip_run = 0;
	s->skip_from = s->offset;
	snprintf(s->skip_reason, sizeof(s->skip_reason), "bytes after a gap in the stream");
	return rest;
}

uint64_t kt_jaeger_stream_finish(struct kt_jaeger_stream *s)
{
	return drop_pending(s, "at the end of the stream");
}

uint64_t kt_jaeger_stream_shed(struct kt_jaeger_stream *s)
{
	uint64_t rest = s->have - s->off;
	s->dropped_bytes += rest;
	s->offset += rest;
	s->off = s->have = 0;
	s->scanning = false;
	/* What follows is most likely the rest of a message: as after a gap. */
	s->skipping = true;
	s->skip_run = 0;
	s->skip_from = s->offset;
	snprintf(s->skip_reason, sizeof(s->skip_reason),
		 "bytes after a message dropped for the memory budget");
	kt_mem_free(s->buf_acct, s->buf, s->cap);
	s->buf = NULL;
	s->cap = 0;
	return rest;
}

void kt_jaeger_stream_free(struct kt_jaeger_stream *s)
{
	kt_mem_free(s->buf_acct, s->buf, s->cap);
	s->buf = NULL;
	s->cap = s->off = s->have = 0;
}

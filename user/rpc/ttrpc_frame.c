/* SPDX-License-Identifier: Apache-2.0 */
#include "rpc/ttrpc_frame.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/byte_order.h"
#include "base/utf8.h"

/* Cloud Hypervisor reads this many bytes of the command before looking for '\n'. */
#define KT_HS_MIN_READ 10
/* Smallest payload buffer, and the largest one kept between frames. */
#define KT_TTRPC_BUF_MIN 1024
#define KT_TTRPC_BUF_KEEP (64u << 10)

static const uint8_t no_payload[1];

static const char *dir_name(enum kt_ttrpc_dir d)
{
	return d == KT_TTRPC_TO_SERVER ? "client->server" : "server->client";
}

static void drop_buf(struct kt_ttrpc_framer *f)
{
	kt_mem_free(f->acct, f->buf, f->cap);
	f->buf = NULL;
	f->cap = 0;
	f->have = 0;
}

__attribute__((format(printf, 2, 3))) static void die(struct kt_ttrpc_framer *f,
						      const char *fmt, ...)
{
	char why[160], msg[512];
	va_list ap;

	f->state = KT_TTRPC_FS_DEAD;
	f->hdr_have = 0;
	f->line_len = 0;
	drop_buf(f);
	if (!f->ops->error)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s %s: %s; ttrpc stream dropped", f->label ? f->label : "?",
		 dir_name(f->dir), why);
	f->ops->error(f->ctx, msg);
}

/* ------------------------------------------------------------ handshake */

static bool is_space(uint8_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Next white-space separated word of line[*pos..n); false when none is left. */
static bool next_word(const uint8_t *line, size_t n, size_t *pos, const uint8_t **w, size_t *wn)
{
	size_t i = *pos;
	while (i < n && is_space(line[i]))
		i++;
	if (i == n)
		return false;
	size_t start = i;
	while (i < n && !is_space(line[i]))
		i++;
	*w = line + start;
	*wn = i - start;
	*pos = i;
	return true;
}

/* A decimal u32 as Rust's str::parse::<u32> reads it: optional '+', digits. */
static bool parse_u32(const uint8_t *w, size_t n, uint32_t *out)
{
	if (n && w[0] == '+') {
		w++;
		n--;
	}
	if (!n)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (w[i] < '0' || w[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(w[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

static bool word_is(const uint8_t *w, size_t n, const char *lit, bool any_case)
{
	size_t k = strlen(lit);
	if (n != k)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = w[i];
		if (any_case && c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)lit[i])
			return false;
	}
	return true;
}

/*
 * Has the line ended? Client side: the shortest prefix of at least
 * KT_HS_MIN_READ bytes that ends in '\n', or KT_TTRPC_HS_MAX bytes. Server
 * side: the first '\n'.
 */
static bool line_done(const struct kt_ttrpc_framer *f)
{
	size_t n = f->line_len;
	if (n == KT_TTRPC_HS_MAX)
		return true;
	if (f->dir == KT_TTRPC_TO_SERVER && n < KT_HS_MIN_READ)
		return false;
	return n && f->line[n - 1] == '\n';
}

/* Parses the complete line; false after reporting the problem. */
static bool parse_line(struct kt_ttrpc_framer *f)
{
	const uint8_t *line = f->line, *w1, *w2;
	size_t n = f->line_len, pos = 0, n1, n2;
	bool client = f->dir == KT_TTRPC_TO_SERVER;
	const char *want = client ? "\"CONNECT <port>\"" : "\"OK <port>\"";

	if (!client && line[n - 1] != '\n') {
		die(f, "handshake answer longer than %d bytes", KT_TTRPC_HS_MAX);
		return false;
	}
	if (kt_utf8_check(line, n) != n) {
		die(f, "handshake line is not UTF-8");
		return false;
	}
	if (!next_word(line, n, &pos, &w1, &n1) ||
	    !word_is(w1, n1, client ? "connect" : "OK", client) ||
	    !next_word(line, n, &pos, &w2, &n2)) {
		die(f, "handshake line is not %s", want);
		return false;
	}
	if (!parse_u32(w2, n2, &f->port)) {
		die(f, "handshake line %s: port is not a decimal u32", want);
		return false;
	}
	f->have_port = true;
	return true;
}

/* Consumes handshake bytes; returns how many of p[0..n) it took. */
static size_t handshake_push(struct kt_ttrpc_framer *f, const uint8_t *p, size_t n)
{
	size_t used = 0;
	while (used < n && !line_done(f))
		f->line[f->line_len++] = p[used++];
	if (!line_done(f))
		return used;
	if (!parse_line(f))
		return n;
	f->state = KT_TTRPC_FS_HEADER;
	if (f->ops->handshake)
		f->ops->handshake(f->ctx, f->dir, f->port);
	return used;
}

/* ------------------------------------------------------------ frames */

static void deliver(struct kt_ttrpc_framer *f, const uint8_t *payload, struct kt_ttrpc_time t)
{
	f->cur.payload = f->cur.length ? payload : no_payload;
	f->cur.last = t;
	f->state = KT_TTRPC_FS_HEADER;
	f->have = 0;
	f->frames++;
	if (f->ops->frame)
		f->ops->frame(f->ctx, &f->cur);
	f->cur.payload = NULL;
}

/*
 * Room for `want` payload bytes: twice what is held (so the buffer stays
 * within twice the bytes that arrived), never more than the frame needs.
 */
static bool reserve(struct kt_ttrpc_framer *f, size_t want)
{
	if (want <= f->cap)
		return true;
	size_t cap = 2 * f->cap > want ? 2 * f->cap : want;
	if (cap < KT_TTRPC_BUF_MIN)
		cap = KT_TTRPC_BUF_MIN;
	if (cap > f->cur.length)
		cap = f->cur.length;
	void *b = kt_mem_realloc(f->acct, f->buf, f->cap, cap);
	if (b) {
		f->buf = b;
		f->cap = cap;
	}
	return b != NULL;
}

/* Header bytes; returns how many of p[0..n) it took. */
static size_t header_push(struct kt_ttrpc_framer *f, const uint8_t *p, size_t n,
			  struct kt_ttrpc_time t)
{
	size_t take = KT_TTRPC_HDR_LEN - f->hdr_have;
	if (take > n)
		take = n;
	if (f->hdr_have == 0)
		f->cur.first = t;
	memcpy(f->hdr + f->hdr_have, p, take);
	f->hdr_have += take;
	if (f->hdr_have < KT_TTRPC_HDR_LEN)
		return take;
	f->hdr_have = 0;
	f->cur.length = kt_be32(f->hdr);
	f->cur.stream_id = kt_be32(f->hdr + 4);
	f->cur.type = f->hdr[8];
	f->cur.flags = f->hdr[9];
	if (f->cur.length > f->max_payload) {
		die(f, "frame of %u bytes on stream %u exceeds the %u-byte ttrpc limit",
		    f->cur.length, f->cur.stream_id, f->max_payload);
		return n;
	}
	f->have = 0;
	f->state = KT_TTRPC_FS_PAYLOAD;
	if (f->cur.length == 0)
		deliver(f, NULL, t);
	return take;
}

/* Payload bytes; returns how many of p[0..n) it took. */
static size_t payload_push(struct kt_ttrpc_framer *f, const uint8_t *p, size_t n,
			   struct kt_ttrpc_time t)
{
	size_t need = f->cur.length - f->have;
	if (f->have == 0 && n >= need) {
		deliver(f, p, t); /* the whole payload is in this chunk: no copy */
		return need;
	}
	size_t take = n < need ? n : need;
	if (!reserve(f, f->have + take)) {
		die(f, "no memory (or memory budget) left for a %u-byte frame", f->cur.length);
		return n;
	}
	memcpy(f->buf + f->have, p, take);
	f->have += take;
	if (f->have == f->cur.length)
		deliver(f, f->buf, t);
	return take;
}

void kt_ttrpc_framer_init(struct kt_ttrpc_framer *f, enum kt_ttrpc_dir dir, enum kt_ttrpc_hs hs,
			  uint32_t max_payload, const char *label,
			  const struct kt_ttrpc_framer_ops *ops, void *ctx)
{
	memset(f, 0, sizeof(*f));
	f->dir = dir;
	f->hs = hs;
	f->max_payload = (max_payload == 0 || max_payload > KT_TTRPC_MAX_PAYLOAD)
				 ? KT_TTRPC_MAX_PAYLOAD
				 : max_payload;
	f->label = label;
	f->ops = ops;
	f->ctx = ctx;
	f->state = KT_TTRPC_FS_START;
}

void kt_ttrpc_framer_push(struct kt_ttrpc_framer *f, const uint8_t *p, size_t n,
			  struct kt_ttrpc_time t)
{
	f->bytes += n;
	while (n) {
		size_t used = 0;
		switch (f->state) {
		case KT_TTRPC_FS_START:
			/* A header starts with the high byte of a length < 16 MiB. */
			f->state = (f->hs == KT_TTRPC_HS_AUTO && p[0] != 0) ? KT_TTRPC_FS_HANDSHAKE
									    : KT_TTRPC_FS_HEADER;
			continue;
		case KT_TTRPC_FS_HANDSHAKE:
			used = handshake_push(f, p, n);
			break;
		case KT_TTRPC_FS_HEADER:
			used = header_push(f, p, n, t);
			break;
		case KT_TTRPC_FS_PAYLOAD:
			used = payload_push(f, p, n, t);
			break;
		case KT_TTRPC_FS_DEAD:
			return;
		}
		p += used;
		n -= used;
	}
	/* One large frame should not pin its buffer for the connection's life. */
	if (f->state == KT_TTRPC_FS_HEADER && f->cap > KT_TTRPC_BUF_KEEP)
		drop_buf(f);
}

void kt_ttrpc_framer_gap(struct kt_ttrpc_framer *f)
{
	if (f->state != KT_TTRPC_FS_DEAD)
		die(f, "bytes lost in capture, framing cannot resume");
}

uint64_t kt_ttrpc_framer_pending(const struct kt_ttrpc_framer *f)
{
	switch (f->state) {
	case KT_TTRPC_FS_HANDSHAKE:
		return f->line_len;
	case KT_TTRPC_FS_HEADER:
		return f->hdr_have;
	case KT_TTRPC_FS_PAYLOAD:
		return KT_TTRPC_HDR_LEN + (uint64_t)f->have;
	default:
		return 0;
	}
}

bool kt_ttrpc_framer_unfinished(const struct kt_ttrpc_framer *f,
				void (*put)(void *ctx, const uint8_t *p, size_t n), void *ctx)
{
	switch (f->state) {
	case KT_TTRPC_FS_START:
		return true;
	case KT_TTRPC_FS_HANDSHAKE:
		if (f->line_len)
			put(ctx, f->line, f->line_len);
		return true;
	case KT_TTRPC_FS_HEADER:
		if (f->hdr_have)
			put(ctx, f->hdr, f->hdr_have);
		return true;
	case KT_TTRPC_FS_PAYLOAD:
		/* the header stays in hdr while its payload is read */
		put(ctx, f->hdr, KT_TTRPC_HDR_LEN);
		if (f->have)
			put(ctx, f->buf, f->have);
		return true;
	case KT_TTRPC_FS_DEAD:
		break;
	}
	return false;
}

uint64_t kt_ttrpc_framer_shed(struct kt_ttrpc_framer *f)
{
	uint64_t dropped = 0;
	if (f->state == KT_TTRPC_FS_PAYLOAD) {
		dropped = KT_TTRPC_HDR_LEN + (uint64_t)f->have;
		f->state = KT_TTRPC_FS_DEAD;
	}
	drop_buf(f);
	return dropped;
}

void kt_ttrpc_framer_free(struct kt_ttrpc_framer *f)
{
	drop_buf(f);
	f->state = KT_TTRPC_FS_DEAD;
}

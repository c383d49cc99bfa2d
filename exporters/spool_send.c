/* SPDX-License-Identifier: Apache-2.0 */
#include "exporters/spool_send.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/byte_order.h"
#include "base/diag.h"

/* A FIFO of records in sequence order, with the bytes it holds. */
struct fifo {
	struct kt_spool_req *head, *tail;
	size_t bytes;
};

struct kt_spool_send {
	struct kt_spool *s;
	size_t bound;
	uint64_t done; /* the highest sequence number done (acknowledged) */
	/*
	 * Read back from the disk, oldest first, then the most recently
	 * appended (consecutive sequence numbers: appends come from this
	 * thread only and a failed one takes no number).
	 */
	struct fifo back, cache;
};

void kt_spool_req_encode(uint8_t hdr[KT_SPOOL_REQ_HDR], uint32_t count)
{
	kt_put_le32(hdr, count);
}

bool kt_spool_req_decode(const void *p, size_t n, uint32_t *count, const uint8_t **body,
			 size_t *body_len)
{
	const uint8_t *b = p;
	if (n < KT_SPOOL_REQ_HDR)
		return false;
	*count = kt_le32(b);
	*body = b + KT_SPOOL_REQ_HDR;
	*body_len = n - KT_SPOOL_REQ_HDR;
	return true;
}

/* What a record costs in memory. */
static size_t cost(const struct kt_spool_req *r)
{
	return sizeof(*r) + r->len;
}

static void fifo_push(struct fifo *f, struct kt_spool_req *r)
{
	r->next = NULL;
	if (f->tail)
		f->tail->next = r;
	else
		f->head = r;
	f->tail = r;
	f->bytes += cost(r);
}

static void fifo_pop(struct fifo *f)
{
	struct kt_spool_req *r = f->head;
	f->head = r->next;
	if (!f->head)
		f->tail = NULL;
	f->bytes -= cost(r);
	free(r);
}

static void fifo_clear(struct fifo *f)
{
	while (f->head)
		fifo_pop(f);
}

/* Forgets the records up to seq (done, or deleted by the spool's bound). */
static void fifo_drop_upto(struct fifo *f, uint64_t seq)
{
	while (f->head && f->head->seq <= seq)
		fifo_pop(f);
}

struct kt_spool_send *kt_spool_send_new(struct kt_spool *s, size_t cache_bytes)
{
	struct kt_spool_send *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return NULL;
	ss->s = s;
	ss->bound = cache_bytes;
	struct kt_spool_stats st;
	kt_spool_stats(s, &st);
	ss->done = st.acked;
	return ss;
}

void kt_spool_send_free(struct kt_spool_send *ss)
{
	if (!ss)
		return;
	fifo_clear(&ss->back);
	fifo_clear(&ss->cache);
	free(ss);
}

size_t kt_spool_send_held(const struct kt_spool_send *ss)
{
	return ss->back.bytes + ss->cache.bytes;
}

static struct kt_spool_req *req_new(uint32_t type, size_t len)
{
	struct kt_spool_req *r = malloc(sizeof(*r) + len);
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->len = len;
	return r;
}

int kt_spool_send_append(struct kt_spool_send *ss, uint32_t type, uint32_t count,
			 const ProtobufCMessage *m)
{
	size_t body_len = protobuf_c_message_get_packed_size(m);
	struct kt_spool_req *r = req_new(type, KT_SPOOL_REQ_HDR + body_len);
	if (!r)
		return -ENOMEM;
	kt_spool_req_encode(r->data, count);
	protobuf_c_message_pack(m, r->data + KT_SPOOL_REQ_HDR);
	r->count = count;
	r->body = r->data + KT_SPOOL_REQ_HDR;
	r->body_len = body_len;
	int err = kt_spool_append(ss->s, type, r->data, r->len, &r->seq);
	if (err) {
		free(r);
		return err;
	}
	/* Within the bound the oldest cached records give way: they are on disk. */
	fifo_push(&ss->cache, r);
	while (ss->cache.head && kt_spool_send_held(ss) > ss->bound)
		fifo_pop(&ss->cache);
	return 0;
}

/* What a read back collects: the oldest records, within the bound. */
struct collect {
	struct kt_spool_send *ss;
	int err;
};

static int collect_one(void *ctx, uint32_t type, uint64_t seq, const void *p, size_t n)
{
	struct collect *c = ctx;
	struct kt_spool_send *ss = c->ss;
	/* The first record always, then as many as fit the bound. */
	if (ss->back.head && ss->back.bytes + sizeof(struct kt_spool_req) + n > ss->bound)
		return 1;
	struct kt_spool_req *r = req_new(type, n);
	if (!r) {
		c->err = -ENOMEM;
		return 1;
	}
	memcpy(r->data, p, n);
	r->seq = seq;
	if (!kt_spool_req_decode(r->data, n, &r->count, &r->body, &r->body_len)) {
		r->body = NULL; /* too short: the queue drops it */
		r->count = 0;
	}
	fifo_push(&ss->back, r);
	return 0;
}

const struct kt_spool_req *kt_spool_send_next(struct kt_spool_send *ss, int *err)
{
	*err = 0;
	struct kt_spool_stats st;
	kt_spool_stats(ss->s, &st);
	/* Records the spool deleted to stay within its bound (counted there) are not sent. */
	fifo_drop_upto(&ss->back, st.dropped_last_seq);
	fifo_drop_upto(&ss->cache, st.dropped_last_seq);
	if (ss->back.head)
		return ss->back.head;
	/* Next in line unless records before it wait on disk (gone: done or deleted). */
	struct kt_spool_req *c = ss->cache.head;
	uint64_t gone = ss->done > st.dropped_last_seq ? ss->done : st.dropped_last_seq;
	if ((c && c->seq <= gone + 1) || st.records == 0)
		return c;
	/*
	 * Older records wait on disk. The cached ones are on disk too: they
	 * give their room to reading ahead, so that each read of a segment
	 * brings up to the bound's worth of records rather than one.
	 */
	fifo_clear(&ss->cache);
	struct collect col = { .ss = ss };
	int rc = kt_spool_replay(ss->s, ss->done, collect_one, &col);
	if (rc < 0 || col.err) {
		*err = rc < 0 ? rc : col.err;
		return ss->back.head;
	}
	if (ss->back.head)
		return ss->back.head;
	/*
	 * The spool counts records none of which can be read (damaged since
	 * open, skipped by replay): they are past delivery.
	 */
	if (st.next_seq > ss->done + 1) {
		kt_warn("export: spool: records %llu..%llu could not be read back: skipping them",
			(unsigned long long)ss->done + 1, (unsigned long long)st.next_seq - 1);
		kt_spool_send_done(ss, st.next_seq - 1);
	}
	return NULL;
}

void kt_spool_send_done(struct kt_spool_send *ss, uint64_t seq)
{
	kt_spool_ack(ss->s, seq);
	if (seq > ss->done)
		ss->done = seq;
	fifo_drop_upto(&ss->back, seq);
	fifo_drop_upto(&ss->cache, seq);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A connection's stream state written as ring buffer records, for the
 * process that takes the capture over (stream/pipeline.h,
 * kt_pipeline_handover; docs/stream.md "Handing connections over").
 */
#include <string.h>

#include "stream/conn.h"

/* Longest range one GAP record can say. */
#define KT_GAP_REC_MAX UINT32_MAX

/* Where records go, and the DATA record being filled. */
struct out {
	void (*emit)(void *ctx, const void *rec, size_t size);
	void *ctx;
	struct kt_rec_hdr base; /* the connection's header fields */
	uint64_t counted;       /* counting pass: bytes put */
	bool counting;
	struct kt_rec_data *rec; /* the pipeline's: too large for the stack */
};

/*
 * The writer as the pipeline knows it, so the other side attributes the
 * records alike. Records of the answers carry it as the answerer only when
 * the answerer named the connection here too.
 */
static struct kt_rec_hdr hdr_of(const struct out *o, uint32_t type, uint8_t dir,
				const struct kt_conn *c)
{
	struct kt_rec_hdr h = o->base;
	h.type = type;
	h.dir = dir;
	if (!c->pid || (dir == KT_DIR_TO_CLIENT && !c->server_writer))
		h.flags |= KT_F_TASK_IS_READER;
	return h;
}

static void flush(struct out *o)
{
	if (!o->rec->hdr.len)
		return;
	o->emit(o->ctx, o->rec, sizeof(o->rec->hdr) + o->rec->hdr.len);
	o->rec->hdr.offset += o->rec->hdr.len;
	o->rec->hdr.len = 0;
}

/* Bytes at the current DATA offset, cut into records of KT_CHUNK_SIZE at most. */
static void put(void *ctx, const uint8_t *p, size_t n)
{
	struct out *o = ctx;
	if (o->counting) {
		o->counted += n;
		return;
	}
	while (n) {
		size_t take = KT_CHUNK_SIZE - o->rec->hdr.len;
		take = take < n ? take : n;
		memcpy(o->rec->data + o->rec->hdr.len, p, take);
		o->rec->hdr.len += (uint32_t)take;
		p += take;
		n -= take;
		if (o->rec->hdr.len == KT_CHUNK_SIZE)
			flush(o);
	}
}

static void data_at(struct out *o, uint64_t off, const uint8_t *p, uint64_t len)
{
	o->rec->hdr.offset = off;
	o->rec->hdr.len = 0;
	put(o, p, (size_t)len);
	flush(o);
}

static void gap_at(struct out *o, uint64_t off, uint64_t len)
{
	struct kt_rec_hdr h = o->rec->hdr;
	h.type = KT_REC_GAP;
	h.flags &= ~(uint32_t)KT_F_PRIOR_LOSS;
	while (len) {
		h.offset = off;
		h.len = len > KT_GAP_REC_MAX ? KT_GAP_REC_MAX : (uint32_t)len;
		o->emit(o->ctx, &h, sizeof(h));
		off += h.len;
		len -= h.len;
	}
}

static void pending_seg(void *ctx, uint64_t off, const uint8_t *p, uint64_t len)
{
	if (p)
		data_at(ctx, off, p, len);
	else
		gap_at(ctx, off, len);
}

/*
 * Where the direction's protocol needs its bytes from, and whether bytes
 * before that are lost to it. A connection whose protocol was never chosen,
 * or that no protocol takes, needs nothing before next.
 */
static uint64_t resume_point(const struct kt_conn *c, const struct kt_reasm *r,
			     enum kt_dir dir, struct out *o, bool *loss)
{
	*loss = false;
	if (!c->decided || !c->proto)
		return r->next;
	const struct kt_protocol *proto = c->proto->proto;
	o->counting = true;
	o->counted = 0;
	bool known = c->pstate && proto->unfinished &&
		     proto->unfinished(c->pstate, dir, put, o) && o->counted <= r->next;
	o->counting = false;
	if (!known) {
		*loss = true;
		return r->next;
	}
	return r->next - o->counted;
}

static void direction(const struct kt_conn *c, const struct kt_reasm *r, enum kt_dir dir,
		      bool closed, struct out *o)
{
	bool loss;
	uint64_t at = resume_point(c, r, dir, o, &loss);
	struct kt_rec_hdr h = hdr_of(o, KT_REC_RESUME, (uint8_t)dir, c);
	h.offset = at;
	if (loss)
		h.flags |= KT_F_PRIOR_LOSS;
	o->emit(o->ctx, &h, sizeof(h));

	o->rec->hdr = hdr_of(o, KT_REC_DATA, (uint8_t)dir, c);
	if (!loss && at < r->next) {
		o->rec->hdr.offset = at;
		o->rec->hdr.len = 0;
		c->proto->proto->unfinished(c->pstate, dir, put, o);
		flush(o);
	}
	kt_reasm_walk(r, pending_seg, o);
	if (closed) {
		struct kt_rec_hdr e = hdr_of(o, KT_REC_CLOSE, (uint8_t)dir, c);
		o->emit(o->ctx, &e, sizeof(e));
	}
}

static void conn_record(const struct kt_conn *c, struct out *o)
{
	struct kt_rec_conn rc;
	memset(&rc, 0, sizeof(rc));
	rc.hdr = hdr_of(o, KT_REC_CONN, KT_DIR_TO_SERVER, c);
	size_t n = strnlen(c->path, sizeof(rc.path));
	memcpy(rc.path, c->path, n);
	rc.path_len = (uint32_t)n;
	o->emit(o->ctx, &rc, sizeof(rc));
}

static void copy_name(char *dst, const char *src)
{
	memcpy(dst, src, strnlen(src, KT_COMM_LEN));
}

void kt_conn_handover_records(const struct kt_conn *c,
			      void (*emit)(void *ctx, const void *rec, size_t size), void *ctx)
{
	struct out o = { .emit = emit, .ctx = ctx, .rec = &c->p->handover_rec };
	o.base.conn = c->id;
	o.base.ts_ns = c->cur_ts; /* the last capture time it has */
	o.base.tgid = c->pid;
	copy_name(o.base.pcomm, c->comm);
	copy_name(o.base.comm, c->thread);

	conn_record(c, &o);
	/* a one-way connection's CLOSE ends it: only a both-ways one is here half closed */
	direction(c, &c->reasm, KT_DIR_TO_SERVER, c->have_back && c->closed_fwd, &o);
	if (c->have_back)
		direction(c, &c->back, KT_DIR_TO_CLIENT, c->closed_back, &o);
}

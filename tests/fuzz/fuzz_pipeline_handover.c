/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Takeover (kt_pipeline_handover, user/stream/conn_handover.c): the records
 * of fuzz_pipeline_budget, plus RESUME records with any fields, and at any
 * point the pipeline hands its connections over as records, is freed, and
 * a new pipeline on the same budget is fed those records and goes on.
 *
 * Always: the handed-over pipeline holds nothing and has no connection
 * left; every handed-over record is well formed (a header, DATA no larger
 * than its chunk); the bytes charged never exceed the budget; the
 * connection count stays within the caps; once every connection is
 * finished and every record freed, the pool is back to 0.
 */
#include "pipeline_ops.h"

struct recs {
	uint8_t *b;
	size_t n, cap;
};

static void capture(void *ctx, const void *r, size_t size)
{
	struct recs *o = ctx;
	const struct kt_rec_hdr *h = r;
	CHECK(size >= sizeof(*h));
	CHECK(h->type != KT_REC_DATA || (h->len <= KT_CHUNK_SIZE && size == sizeof(*h) + h->len));
	if (o->n + sizeof(size) + size > o->cap) {
		o->cap = (o->n + sizeof(size) + size) * 2;
		o->b = realloc(o->b, o->cap);
		CHECK(o->b);
	}
	memcpy(o->b + o->n, &size, sizeof(size));
	memcpy(o->b + o->n + sizeof(size), r, size);
	o->n += sizeof(size) + size;
}

/* p's connections go to a new pipeline, through records. */
static struct kt_pipeline *take_over(struct kt_pipeline *p, struct ops *o)
{
	static _Alignas(8) uint8_t buf[sizeof(struct kt_rec_conn) + sizeof(struct kt_rec_data)];
	struct recs r = { 0 };
	size_t before = kt_pipeline_conn_count(p);
	CHECK(kt_pipeline_handover(p, capture, &r) == before);
	CHECK(kt_pipeline_conn_count(p) == 0);
	CHECK(kt_pipeline_held(p) == 0);
	kt_pipeline_free(p);
	p = ops_pipeline(o);
	size_t size;
	for (size_t at = 0; at < r.n; at += sizeof(size) + size) {
		memcpy(&size, r.b + at, sizeof(size));
		CHECK(size <= sizeof(buf));
		memcpy(buf, r.b + at + sizeof(size), size);
		kt_pipeline_record(p, buf, size, o->now);
	}
	free(r.b);
	return p;
}

/* Operation 7: a RESUME with any fields, a takeover, or the exporter catching up. */
static struct kt_pipeline *op7(struct kt_pipeline *p, struct ops *o, unsigned op, unsigned conn)
{
	if (op & 0x40) { /* a RESUME, any fields */
		struct kt_rec_hdr *h = hdr(conn, KT_REC_RESUME, (uint8_t)next_byte(&o->c));
		h->flags = next_byte(&o->c);
		for (int i = 0; i < 8; i++)
			h->offset = h->offset << 8 | next_byte(&o->c);
		kt_pipeline_record(p, rec, sizeof(*h), o->now);
		return p;
	}
	if (op & 0x20)
		return take_over(p, o);
	kept_free(&o->k); /* the exporter catches up */
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ops o;
	ops_init(&o, data, size);
	struct kt_pipeline *p = ops_pipeline(&o);

	while (o.c.p < o.c.end) {
		unsigned op = next_byte(&o.c), conn = next_byte(&o.c) % CONNS;
		if (!ops_record(&o, p, op, conn))
			p = op7(p, &o, op, conn);
		ops_check(&o, p);
	}
	ops_finish(&o, p);
	return 0;
}

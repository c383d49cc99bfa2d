/* SPDX-License-Identifier: Apache-2.0 */
#include "pipeline_records.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "bpf/stream_record.h"

void collect(void *ctx, struct kt_span_record *r)
{
	struct got *g = ctx;
	cr_assert_lt(g->n, MAX_GOT);
	const struct kt_kv *kv = r->origin ? kt_kvlist_find(&r->origin->attrs, "katatrace.socket.path")
					   : NULL;
	snprintf(g->path[g->n], sizeof(g->path[0]), "%s", kv ? kv->value.s.ptr : "");
	g->r[g->n++] = r;
}

void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		kt_span_record_free(g->r[i]);
	g->n = 0;
}

size_t spans_of(const struct got *g, const char *path, const struct kt_span **out)
{
	size_t n = 0;
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->path[i], path) == 0)
			out[n++] = &g->r[i]->span;
	return n;
}

uint8_t recbuf[sizeof(struct kt_rec_hdr) + KT_CHUNK_SIZE];

struct kt_rec_hdr *hdr_for(uint64_t conn, uint32_t type)
{
	struct kt_rec_hdr *h = (struct kt_rec_hdr *)recbuf;
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->conn.endpoint = conn;
	h->conn.transport = KT_TRANSPORT_UNIX;
	h->dir = KT_DIR_TO_SERVER;
	h->tgid = 4242;
	memcpy(h->pcomm, "cloud-hyperviso", 15);
	return h;
}

void rec_conn(struct kt_pipeline *p, uint64_t conn, const char *path)
{
	struct kt_rec_conn c;
	memset(&c, 0, sizeof(c));
	memcpy(&c.hdr, hdr_for(conn, KT_REC_CONN), sizeof(c.hdr));
	c.path_len = (uint32_t)strlen(path);
	memcpy(c.path, path, c.path_len);
	kt_pipeline_record(p, &c, sizeof(c), 0);
}

void rec_data(struct kt_pipeline *p, uint64_t conn, uint64_t off, const uint8_t *d,
		     size_t n, uint32_t flags, uint64_t now)
{
	struct kt_rec_hdr *h = hdr_for(conn, KT_REC_DATA);
	h->offset = off;
	h->len = (uint32_t)n;
	h->flags = flags;
	memcpy(h + 1, d, n);
	kt_pipeline_record(p, recbuf, sizeof(*h) + n, now);
}

void rec_gap(struct kt_pipeline *p, uint64_t conn, uint64_t off, uint64_t n)
{
	struct kt_rec_hdr *h = hdr_for(conn, KT_REC_GAP);
	h->offset = off;
	h->len = (uint32_t)n;
	h->flags = KT_F_OVER_CAP;
	kt_pipeline_record(p, recbuf, sizeof(*h), 0);
}

void rec_close(struct kt_pipeline *p, uint64_t conn, uint64_t off)
{
	struct kt_rec_hdr *h = hdr_for(conn, KT_REC_CLOSE);
	h->offset = off;
	kt_pipeline_record(p, recbuf, sizeof(*h), 0);
}

struct kt_pipeline *collecting_pipeline(struct got *g)
{
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = g });
	cr_assert_not_null(p);
	return p;
}

const char *stream_file(enum kt_era era)
{
	return era == KT_ERA_JSON ? "framed_stream_otel017_json.bin"
				  : "framed_stream_otel014_bincode.bin";
}

size_t frame_offsets(const uint8_t *s, size_t n, size_t *offs)
{
	size_t k = 0;
	for (size_t at = 0; at + 8 <= n; k++) {
		offs[k] = at;
		uint64_t len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | s[at + i];
		at += 8 + len;
	}
	return k;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers for the pipeline's record path: ring buffer records of one
 * unix connection (direction to the listener, written by a stand-in
 * hypervisor, pid 4242) and a span sink that keeps every record with the
 * socket path of its origin.
 */
#ifndef KT_TEST_PIPELINE_RECORDS_H
#define KT_TEST_PIPELINE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "expect_span.h"
#include "stream/pipeline.h"
#include "bpf/stream_record.h"

#define MAX_GOT 256

struct got {
	struct kt_span_record *r[MAX_GOT];
	char path[MAX_GOT][128];
	size_t n;
};

/* A kt_span_sink_fn: keeps r in the struct got at ctx. */
void collect(void *ctx, struct kt_span_record *r);
void got_free(struct got *g);
/* Spans of one path, in arrival order. */
size_t spans_of(const struct got *g, const char *path, const struct kt_span **out);

/* The record buffer the rec_* helpers fill, and its header for conn. */
extern uint8_t recbuf[sizeof(struct kt_rec_hdr) + KT_CHUNK_SIZE];
struct kt_rec_hdr *hdr_for(uint64_t conn, uint32_t type);

void rec_conn(struct kt_pipeline *p, uint64_t conn, const char *path);
void rec_data(struct kt_pipeline *p, uint64_t conn, uint64_t off, const uint8_t *d, size_t n,
	      uint32_t flags, uint64_t now);
/* A GAP record (over the per-write cap). */
void rec_gap(struct kt_pipeline *p, uint64_t conn, uint64_t off, uint64_t n);
void rec_close(struct kt_pipeline *p, uint64_t conn, uint64_t off);

/* A pipeline with the default configuration whose spans go to g. */
struct kt_pipeline *collecting_pipeline(struct got *g);
/* The golden multi-frame stream of era (a file under the test vectors). */
const char *stream_file(enum kt_era era);
/* Offsets of each frame's header in a stream; their count. */
size_t frame_offsets(const uint8_t *s, size_t n, size_t *offs);

#endif

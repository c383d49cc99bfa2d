/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The export queue's requests in the disk spool (exporters/spool.h), and
 * what the export thread holds of them in memory to send them in order.
 *
 * A spooled record is one packed OTLP request behind the number of spans or
 * log records it holds (the layout: docs/spool.md, "Records of the export
 * queue"), typed KT_SPOOL_REQ_TRACES or KT_SPOOL_REQ_LOGS. In memory: the
 * most recently spooled records (so that a collector that keeps up is sent
 * from memory and the disk is never read back), and those read back from
 * the disk when older ones are due; together at most cache_bytes plus one
 * record. The export thread's alone: no locking here (the spool has its own).
 */
#ifndef KT_SPOOL_SEND_H
#define KT_SPOOL_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "exporters/spool.h"

/* Record types (the spool's caller-given type). */
enum kt_spool_req_type {
	KT_SPOOL_REQ_TRACES = 1, /* ExportTraceServiceRequest */
	KT_SPOOL_REQ_LOGS = 2,   /* ExportLogsServiceRequest */
};

/* The payload: count (4 bytes, little-endian), then the packed request. */
#define KT_SPOOL_REQ_HDR 4u

/* Encodes the payload header; decodes it (false: shorter than the header). */
void kt_spool_req_encode(uint8_t hdr[KT_SPOOL_REQ_HDR], uint32_t count);
bool kt_spool_req_decode(const void *p, size_t n, uint32_t *count, const uint8_t **body,
			 size_t *body_len);

/* A record held in memory, as the spool holds it. */
struct kt_spool_req {
	struct kt_spool_req *next;
	uint64_t seq;
	uint32_t type;
	uint32_t count;      /* spans or log records in the request */
	const uint8_t *body; /* the packed request, in data */
	size_t body_len;
	size_t len; /* of data: the whole payload */
	uint8_t data[];
};

struct kt_spool_send;

/* The spool is the caller's (closed after kt_spool_send_free). NULL on ENOMEM. */
struct kt_spool_send *kt_spool_send_new(struct kt_spool *s, size_t cache_bytes);
void kt_spool_send_free(struct kt_spool_send *ss);

/*
 * Packs m behind count into a record of type and appends it to the spool,
 * keeping it in memory within the bound. 0, -ENOMEM, or kt_spool_append's
 * -errno (nothing stored: the caller still has the request).
 */
int kt_spool_send_append(struct kt_spool_send *ss, uint32_t type, uint32_t count,
			 const ProtobufCMessage *m);

/*
 * The oldest record not yet done: from memory, or read back from the disk
 * (kt_spool_replay) when older ones wait there. NULL when there is none,
 * with *err 0, or -errno when the disk could not be read (try later). The
 * record stays valid until the next call of any function here.
 */
const struct kt_spool_req *kt_spool_send_next(struct kt_spool_send *ss, int *err);

/* The record of seq that next() returned was delivered or dropped: acknowledged, forgotten. */
void kt_spool_send_done(struct kt_spool_send *ss, uint64_t seq);

/* Bytes held in memory now (records, read back and cached). */
size_t kt_spool_send_held(const struct kt_spool_send *ss);

#endif

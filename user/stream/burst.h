/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The burst buffer: capture records between the kernel ring buffer and the
 * pipeline (docs/capture.md, "Draining the ring buffer").
 *
 * The daemon's drain step only copies records from the ring buffer into
 * this FIFO, which is as fast as memory copies, so a burst of writes on a
 * captured socket meets a ring buffer that is emptied as fast as it fills;
 * decoding takes records from the other end at its own pace.
 *
 * Bounded twice: by its own limit (--burst-buffer, bytes of records held)
 * and by the memory budget, which its memory is charged to in chunks as
 * they are taken and credited as they are emptied, up to four emptied
 * chunks kept for the next records (it never makes the budget shed other
 * data: a charge that does not fit is refused). A record
 * that fits neither is dropped and counted; a lost DATA or GAP record
 * marks its stream so that the next record of that stream and direction
 * that gets in carries KT_F_PRIOR_LOSS, as after a loss in the kernel: the
 * reassembler declares the hole at once and the stream resynchronises.
 * Records without payload (CONN, GAP, CLOSE) may use a reserve the DATA
 * records may not, so that a connection's identity and end are kept while
 * its bytes overflow.
 *
 * Threads: one at a time writes (the drain, capture/drain.h, which
 * serialises its writers), one reads (the capture loop); the reader's
 * record stays valid until it pops it. Its
 * chunks are charged with kt_mem_try_charge(), which may run beside the
 * capture loop's charges.
 */
#ifndef KT_BURST_H
#define KT_BURST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem_budget.h"

#define KT_DEFAULT_BURST_BUFFER ((size_t)128 << 20)
/* The smallest --burst-buffer: room for a few of the largest records. */
#define KT_MIN_BURST_BUFFER ((size_t)64 << 10)

struct kt_burst_stats {
	uint64_t records_in;      /* records taken */
	uint64_t records_dropped; /* records dropped: no room */
	uint64_t bytes_dropped;   /* their size */
	uint64_t marked_losses;   /* records that carried a loss mark out */
	size_t bytes;             /* bytes of records held now */
	size_t peak;              /* most bytes held at once */
};

struct kt_burst;

/*
 * What a record is, so that records of several ring buffers keep the order
 * they were read in: capture records (struct kt_rec_*), the only ones with
 * streams, or another kind the reader tells apart (VM events).
 */
enum { KT_BURST_CAPTURE = 0, KT_BURST_VM_EVENT = 1 };

/* limit: bytes of records held at most; acct: what its memory is charged to (NULL: none). */
struct kt_burst *kt_burst_new(size_t limit, struct kt_mem_acct *acct);
void kt_burst_free(struct kt_burst *b);
/*
 * Up to `bytes` of chunks are held even when the memory budget has no room
 * (not charged to it): records keep flowing while guests' data fills the
 * budget, as they did through the ring buffer alone (the daemon sets the
 * ring buffer's size). 0 by default.
 */
void kt_burst_set_floor(struct kt_burst *b, size_t bytes);

/*
 * Copies one ring buffer record in (size bytes, any struct kt_rec_*).
 * False when there was no room: the record is dropped and counted.
 */
bool kt_burst_push(struct kt_burst *b, const void *rec, size_t size);
/*
 * A record of any kind; *was_empty: it held no record just before (whether
 * or not this one got in).
 */
bool kt_burst_push_ex(struct kt_burst *b, uint32_t kind, const void *rec, size_t size,
		      bool *was_empty);

/* The oldest record, valid until the next kt_burst_pop(); NULL when empty. */
const void *kt_burst_peek(struct kt_burst *b, size_t *size);
const void *kt_burst_peek_kind(struct kt_burst *b, size_t *size, uint32_t *kind);
void kt_burst_pop(struct kt_burst *b);
/* kt_burst_pop() then kt_burst_peek_kind(), taking the lock once. */
const void *kt_burst_pop_peek(struct kt_burst *b, size_t *size, uint32_t *kind);

bool kt_burst_empty(struct kt_burst *b);
size_t kt_burst_bytes(struct kt_burst *b); /* bytes of records held */
void kt_burst_stats(struct kt_burst *b, struct kt_burst_stats *out);

#endif

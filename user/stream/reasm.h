/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stream reassembler: turns capture records (offset, bytes) of one direction
 * of one connection into an in-order byte stream.
 *
 * Records may arrive out of order, duplicated, overlapping, or never (lost
 * in the ring buffer, over the per-write cap, unreadable). Bytes at the
 * expected offset are delivered at once; later bytes wait in a bounded
 * pending set. A hole is declared (ops->gap) when it is proven (an explicit
 * GAP record, a record flagged KT_F_PRIOR_LOSS), when pending bytes exceed
 * max_pending, when the oldest pending record is older than hole_timeout_ns,
 * or at finish. After a gap, delivery continues from the next pending byte.
 */
#ifndef KT_REASM_H
#define KT_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem_budget.h"

struct kt_reasm_ops {
	/* In-order bytes starting at stream offset off. */
	void (*data)(void *ctx, uint64_t off, const uint8_t *p, size_t n);
	/* Bytes [off, off + len) will never be delivered. */
	void (*gap)(void *ctx, uint64_t off, uint64_t len);
};

struct kt_reasm_cfg {
	size_t max_pending;       /* bytes held out of order before declaring a hole */
	uint64_t hole_timeout_ns; /* age of the oldest pending record before the same */
};

struct kt_reasm_seg; /* private */

struct kt_reasm {
	struct kt_reasm_cfg cfg;
	const struct kt_reasm_ops *ops;
	void *ctx;
	uint64_t next;            /* offset of the next byte to deliver */
	struct kt_reasm_seg *pending; /* sorted by offset, non-overlapping */
	size_t pending_bytes;
	size_t pending_segs;      /* data segments and remembered GAP ranges */
	uint64_t pending_since_ns; /* arrival time of the oldest pending segment */
	/*
	 * Charged for every pending item (mem_budget.h); may be set after
	 * init (NULL: unaccounted). A refused charge is handled like
	 * max_pending: the holes below the record are declared and the
	 * record is delivered directly, or given up if it cannot be.
	 */
	struct kt_mem_acct *acct;
	/* statistics */
	uint64_t dup_bytes;  /* bytes received again and discarded */
	uint64_t gap_bytes;  /* bytes declared missing */
	uint64_t gaps;
};

void kt_reasm_init(struct kt_reasm *r, const struct kt_reasm_cfg *cfg,
		   const struct kt_reasm_ops *ops, void *ctx);
/* A DATA record. prior_loss: bytes before off in this stream were lost. */
void kt_reasm_data(struct kt_reasm *r, uint64_t off, const uint8_t *p, size_t n, bool prior_loss,
		   uint64_t now_ns);
/* A GAP record: [off, off + len) was sent but will never be captured. */
void kt_reasm_gap(struct kt_reasm *r, uint64_t off, uint64_t len, uint64_t now_ns);
/* Declares a hole if the oldest pending segment has waited too long. */
void kt_reasm_tick(struct kt_reasm *r, uint64_t now_ns);
/*
 * Memory pressure: the pending bytes are dropped, their ranges remembered
 * as missing (declared as gaps when delivery reaches them), without any
 * callback. Returns the bytes given back.
 */
size_t kt_reasm_shed(struct kt_reasm *r);
/*
 * Read-only walk over the pending items in offset order (for handing the
 * stream to another process): each data piece as seg(off, bytes, len), each
 * remembered GAP range as seg(off, NULL, len). Nothing is delivered or freed.
 */
void kt_reasm_walk(const struct kt_reasm *r,
		   void (*seg)(void *ctx, uint64_t off, const uint8_t *p, uint64_t len), void *ctx);
/* End of stream: every remaining hole is a gap, everything pending delivered. */
void kt_reasm_finish(struct kt_reasm *r);
void kt_reasm_free(struct kt_reasm *r);

#endif

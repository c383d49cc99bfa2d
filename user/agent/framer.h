/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata agent trace framing: each span is an 8-byte big-endian payload length
 * followed by the payload (docs/decoders.md "Framing").
 *
 * States:
 *  - start: the first header of a stream. If its length is implausible
 *    (< KT_FRAME_MIN_PAYLOAD or > max_payload) capture began mid-stream, so
 *    the framer resynchronises instead of rejecting the stream.
 *  - synced: frames are cut by their headers. A header above max_payload
 *    rejects the stream for good (ops->oversize); a payload that does not
 *    decode is the consumer's business (the framing is still intact).
 *  - resync: after a gap (or an implausible start) bytes are scanned for the
 *    next provable frame: a plausible header whose payload passes
 *    ops->validate (a complete, exact decode). Bytes before it are skipped
 *    and reported through ops->resynced.
 *  - dead: everything is ignored until finish.
 * Memory held is bounded by max_payload + a header (+ the 36 bytes the
 * resync filter looks at), and grows only as bytes actually arrive.
 */
#ifndef KT_FRAMER_H
#define KT_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem_budget.h"

#define KT_FRAME_HDR_LEN 8
/* Smallest possible bincode SpanData (126 bytes, §2.5); JSON is larger. */
#define KT_FRAME_MIN_PAYLOAD 126
#define KT_DEFAULT_MAX_FRAME (16u << 20)

struct kt_framer_ops {
	/* One complete frame payload; valid only during the call. */
	void (*frame)(void *ctx, const uint8_t *payload, size_t len);
	/* A synced header announced len > max_payload: the stream is now dead. */
	void (*oversize)(void *ctx, uint64_t len);
	/*
	 * A provable frame was found after skipping `skipped` damaged bytes;
	 * called right after that frame's ops->frame.
	 */
	void (*resynced)(void *ctx, uint64_t skipped);
	/* During resync: does this candidate payload decode completely? */
	bool (*validate)(void *ctx, const uint8_t *payload, size_t len);
};

struct kt_framer_scan; /* private */

enum kt_framer_state {
	KT_FRAMER_START,
	KT_FRAMER_HEADER,
	KT_FRAMER_PAYLOAD,
	KT_FRAMER_RESYNC,
	KT_FRAMER_DEAD,
};

struct kt_framer {
	const struct kt_framer_ops *ops;
	void *ctx;
	uint64_t max_payload;
	enum kt_framer_state state;
	uint8_t hdr[KT_FRAME_HDR_LEN];
	size_t hdr_have;
	uint64_t need; /* payload length of the current frame */
	uint8_t *buf;  /* payload (synced) or scan window (resync) */
	size_t have;
	size_t cap;
	uint64_t skipped; /* bytes discarded in the current resync */
	struct kt_framer_scan *scan; /* resync candidates */
	/*
	 * Charged for the buffer and the candidate table (mem_budget.h); may
	 * be set after init (NULL: unaccounted). A refused charge drops the
	 * partial frame or scan window as a gap would.
	 */
	struct kt_mem_acct *acct;
};

void kt_framer_init(struct kt_framer *f, uint64_t max_payload, const struct kt_framer_ops *ops,
		    void *ctx);
/* Contiguous in-order stream bytes. */
void kt_framer_push(struct kt_framer *f, const uint8_t *p, size_t n);
/* Bytes were lost before the next push: drop the partial frame, resync. */
void kt_framer_gap(struct kt_framer *f);
/*
 * Memory pressure: the partial frame or resync window is dropped as a gap
 * would drop it, and every buffer is released, without any callback.
 * Returns the bytes of stream dropped.
 */
uint64_t kt_framer_shed(struct kt_framer *f);
/*
 * End of stream. Returns the number of buffered bytes of an incomplete frame
 * that were discarded (0 when the stream ended on a frame boundary).
 */
uint64_t kt_framer_finish(struct kt_framer *f);
/*
 * The bytes of the frame begun and not complete yet, exactly as received
 * (the header bytes so far, then the payload bytes so far), put in order;
 * nothing between frames. False when the framer is not at a known frame
 * boundary (resynchronising or dead): then nothing is put. Changes nothing.
 * A framer fed these bytes from its start carries on as this one would,
 * but for its first header's plausibility check (see "start" above).
 */
bool kt_framer_unfinished(const struct kt_framer *f,
			  void (*put)(void *ctx, const uint8_t *p, size_t n), void *ctx);
void kt_framer_free(struct kt_framer *f);

#endif

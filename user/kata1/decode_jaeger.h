/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata 1.x traces, the stream: jaeger-client-go's Agent.emitBatch messages
 * (Thrift compact protocol), relayed by socat over VSOCK port 6831 without
 * framing, back to back and cut wherever a read() cut them.
 *
 * struct kt_jaeger_stream takes the bytes of one connection in any chunks,
 * finds where each message begins (kt_jaeger_message_start) and ends (the
 * compact scanner of thrift_compact.h), hands each complete message to
 * kt_jaeger_decode (jaeger_map.h, included here: the mapping to struct
 * kt_span) and resynchronises after damage: bytes that are not a message are
 * skipped to the next plausible message start, a message that does not
 * decode is skipped whole. The result does not depend on the chunking. Every
 * byte is untrusted: the stream buffers at most max_message bytes, each
 * message's arena is bounded, every problem is reported once, with the
 * stream offsets it concerns, and counted.
 */
#ifndef KT_DECODE_JAEGER_H
#define KT_DECODE_JAEGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "kata1/jaeger_map.h"
#include "kata1/thrift_compact.h"

#define KT_JAEGER_PORT 6831 /* guest UDP port, and the VSOCK port socat connects to */
#define KT_JAEGER_MIN_MESSAGE_CAP 64

/*
 * Is p[0..n) the start of an emitBatch message: 0x82, ONEWAY or CALL version
 * 1, a seqid, the name "emitBatch"? 1 yes, 0 no, -1 cannot tell yet (n too
 * short). Used to resynchronise a stream.
 */
int kt_jaeger_message_start(const uint8_t *p, size_t n);

/* ------------------------------------------------------------ stream */

struct kt_jaeger_stream_ops {
	/*
	 * A decoded message; b and everything it points to live in *a. The
	 * callee may keep them by taking the arena over (copy *a, then
	 * kt_arena_init(a, 0)); otherwise the arena is freed after the call.
	 */
	void (*batch)(void *ctx, const struct kt_jaeger_batch *b, struct kt_arena *a);
	/*
	 * A problem, once per incident: a complete message that does not decode
	 * (it is skipped whole), bytes that are not a message (skipped up to the
	 * next message start; the message says how many), a message larger than
	 * max_message, bytes lost or cut off by a gap or the end of the stream.
	 */
	void (*error)(void *ctx, const char *msg);
};

struct kt_jaeger_stream {
	const struct kt_jaeger_stream_ops *ops;
	void *ctx;
	struct kt_jaeger_limits lim;
	uint8_t *buf; /* pending bytes: buf[off..have) */
	size_t off, have, cap;
	uint64_t offset; /* stream offset of buf[off] */
	struct kt_tc_scan scan; /* over the message starting at buf[off] */
	bool scanning;		/* buf[off] is a message start being scanned */
	bool skipping;		/* looking for the next message start */
	uint64_t skip_run;	/* bytes skipped in this run */
	uint64_t skip_from;	/* stream offset where the run began */
	char skip_reason[200];
	/* counters */
	uint64_t pushed;	/* bytes pushed */
	uint64_t messages;	/* messages decoded */
	uint64_t spans;		/* spans in them */
	uint64_t bad_messages;	/* complete messages that did not decode */
	uint64_t message_bytes; /* bytes of all complete messages, decoded or not */
	uint64_t skipped_bytes; /* bytes skipped looking for a message start */
	uint64_t dropped_bytes; /* bytes of partial messages dropped at a gap or the end */
	uint64_t errors;	/* problems reported (through ops->error if set) */
	/*
	 * Memory accounts (mem_budget.h), set after init (NULL: unaccounted):
	 * buf_acct for the pending bytes, arena_acct for each message's
	 * decoded arena (which ops->batch may keep). A refused buffer charge
	 * drops the pending bytes as a gap does; a refused arena charge skips
	 * the message.
	 */
	struct kt_mem_acct *buf_acct, *arena_acct;
};

/* lim NULL: defaults; a max_message below KT_JAEGER_MIN_MESSAGE_CAP is raised to it. */
void kt_jaeger_stream_init(struct kt_jaeger_stream *s, const struct kt_jaeger_limits *lim,
			   const struct kt_jaeger_stream_ops *ops, void *ctx);
/* Contiguous in-order bytes of the connection. */
void kt_jaeger_stream_push(struct kt_jaeger_stream *s, const uint8_t *p, size_t n);
/*
 * Bytes were lost before the next push: a partial message is dropped and the
 * decoder looks for the next message start. Returns the bytes dropped.
 */
uint64_t kt_jaeger_stream_gap(struct kt_jaeger_stream *s);
/*
 * End of the connection: returns the bytes of an incomplete message dropped
 * (0 when the stream ended on a message boundary). The stream can be reused.
 */
uint64_t kt_jaeger_stream_finish(struct kt_jaeger_stream *s);
/*
 * Memory pressure: the pending bytes are dropped as a gap drops them and
 * the buffer released, without any callback. Returns the bytes dropped.
 */
uint64_t kt_jaeger_stream_shed(struct kt_jaeger_stream *s);
void kt_jaeger_stream_free(struct kt_jaeger_stream *s);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc stream framing, one instance per direction of a runtime <-> agent
 * connection (docs/decoders.md, "ttrpc").
 *
 * A frame is a 10-byte header (u32 BE payload length, u32 BE stream id,
 * u8 type, u8 flags) and the payload. ttrpc refuses payloads over 4 MiB;
 * a larger announced length ends the stream (ops->error, then every later
 * byte is ignored).
 *
 * On hybrid vsock (Firecracker, Cloud Hypervisor, Dragonball) the client
 * first sends "CONNECT <port>\n" to the hypervisor's socket and the
 * hypervisor answers "OK <port>\n"; with KT_TTRPC_HS_AUTO a direction may
 * start with that line, which is parsed (ops->handshake) and stripped
 * before framing starts. A frame header always starts with a zero byte
 * (lengths are below 16 MiB), so the line is told apart by its first byte.
 * The command line follows Cloud Hypervisor's parser: the bytes up to the
 * first '\n', or the first 32 bytes when none of them is '\n'; words split
 * on white space; "connect" in any case, then the port in decimal (u32);
 * further words are ignored. The answer must be "OK" and a decimal port,
 * '\n'-terminated within 32 bytes.
 *
 * Bytes arrive in chunks of any size, each with its capture time; a frame
 * carries the time of the chunk its first byte came in and of the chunk
 * that completed it. Memory held is at most the largest payload seen so
 * far (allocated as bytes arrive, never from the announced length alone).
 */
#ifndef KT_TTRPC_FRAME_H
#define KT_TTRPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem_budget.h"

#define KT_TTRPC_HDR_LEN 10
#define KT_TTRPC_MAX_PAYLOAD (4u << 20) /* ttrpc's messageLengthMax */
#define KT_TTRPC_HS_MAX 32		/* longest handshake line */

enum kt_ttrpc_type {
	KT_TTRPC_REQUEST = 1,
	KT_TTRPC_RESPONSE = 2,
	KT_TTRPC_DATA = 3, /* streaming RPCs; the Kata agent has none */
};

/* Which way the bytes go. Requests go to the server (the agent). */
enum kt_ttrpc_dir {
	KT_TTRPC_TO_SERVER = 0, /* runtime -> agent: "CONNECT", requests */
	KT_TTRPC_TO_CLIENT = 1, /* agent -> runtime: "OK", responses */
};

enum kt_ttrpc_hs {
	KT_TTRPC_HS_NONE, /* plain vsock: frames from the first byte */
	KT_TTRPC_HS_AUTO, /* a leading handshake line is accepted (hybrid vsock) */
};

/* A capture time: CLOCK_MONOTONIC and the offset that makes it wall time. */
struct kt_ttrpc_time {
	uint64_t mono_ns;
	int64_t realtime_off_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
};

struct kt_ttrpc_frame {
	uint32_t length;
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
	const uint8_t *payload; /* length bytes, valid only during ops->frame */
	struct kt_ttrpc_time first; /* chunk holding the first header byte */
	struct kt_ttrpc_time last;  /* chunk holding the last byte */
};

struct kt_ttrpc_framer_ops {
	void (*frame)(void *ctx, const struct kt_ttrpc_frame *f);
	/* The handshake line was parsed: the port it names. */
	void (*handshake)(void *ctx, enum kt_ttrpc_dir dir, uint32_t port);
	/*
	 * The stream is dead from here on. msg names the connection (the
	 * label given at init) and the direction.
	 */
	void (*error)(void *ctx, const char *msg);
};

enum kt_ttrpc_framer_state {
	KT_TTRPC_FS_START,     /* nothing seen yet */
	KT_TTRPC_FS_HANDSHAKE, /* inside the handshake line */
	KT_TTRPC_FS_HEADER,
	KT_TTRPC_FS_PAYLOAD,
	KT_TTRPC_FS_DEAD,
};

struct kt_ttrpc_framer {
	const struct kt_ttrpc_framer_ops *ops;
	void *ctx;
	const char *label; /* the connection, for messages; not owned */
	enum kt_ttrpc_dir dir;
	enum kt_ttrpc_hs hs;
	uint32_t max_payload;
	enum kt_ttrpc_framer_state state;
	uint8_t line[KT_TTRPC_HS_MAX];
	size_t line_len;
	bool have_port;
	uint32_t port; /* from the handshake line */
	uint8_t hdr[KT_TTRPC_HDR_LEN];
	size_t hdr_have;
	struct kt_ttrpc_frame cur; /* header fields of the frame being read */
	uint8_t *buf;
	size_t have;
	size_t cap;
	uint64_t frames; /* delivered */
	uint64_t bytes;	 /* pushed, handshake included */
	/*
	 * Charged for the payload buffer (mem_budget.h); may be set after
	 * init (NULL: unaccounted). A refused charge ends the stream as an
	 * oversize frame does.
	 */
	struct kt_mem_acct *acct;
};

/*
 * max_payload 0 means KT_TTRPC_MAX_PAYLOAD; larger values are clamped to it.
 * label must outlive the framer.
 */
void kt_ttrpc_framer_init(struct kt_ttrpc_framer *f, enum kt_ttrpc_dir dir, enum kt_ttrpc_hs hs,
			  uint32_t max_payload, const char *label,
			  const struct kt_ttrpc_framer_ops *ops, void *ctx);
/* In-order stream bytes that arrived at time t. */
void kt_ttrpc_framer_push(struct kt_ttrpc_framer *f, const uint8_t *p, size_t n,
			  struct kt_ttrpc_time t);
/*
 * Bytes were lost: the stream cannot be framed any more (ttrpc frames carry
 * nothing to resynchronise on). Reports ops->error once; later bytes are
 * ignored.
 */
void kt_ttrpc_framer_gap(struct kt_ttrpc_framer *f);
/*
 * Bytes of an incomplete frame (or handshake line) held at the end of the
 * stream; 0 on a frame boundary. Does not change the state.
 */
uint64_t kt_ttrpc_framer_pending(const struct kt_ttrpc_framer *f);
/*
 * Those bytes exactly as received, put in order: the handshake line so far,
 * or the header bytes so far, or the whole header then the payload bytes so
 * far; nothing between frames. False when the stream is dead (nothing put).
 * Changes nothing. A framer of the same direction and handshake mode fed
 * these bytes from its start carries on as this one would (a header starts
 * with a zero byte, so it is not taken for a handshake line).
 */
bool kt_ttrpc_framer_unfinished(const struct kt_ttrpc_framer *f,
				void (*put)(void *ctx, const uint8_t *p, size_t n), void *ctx);
/*
 * Memory pressure: a partial frame is dropped and the stream is dead from
 * here on (nothing to resynchronise on), without any callback; an idle
 * buffer is released. Returns the bytes of stream dropped.
 */
uint64_t kt_ttrpc_framer_shed(struct kt_ttrpc_framer *f);
void kt_ttrpc_framer_free(struct kt_ttrpc_framer *f);

#endif

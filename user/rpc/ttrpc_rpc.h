/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc calls of one runtime <-> agent connection (docs/decoders.md,
 * "ttrpc"): both directions are framed (user/rpc/ttrpc_frame.h), requests
 * (client -> server, type 1) are decoded and kept by stream id, responses
 * (server -> client, type 2) are matched to them in any order, and each
 * finished call is handed to the caller as a struct kt_ttrpc_call.
 *
 * Every call that was requested is reported exactly once: with its response,
 * or without one when the connection ends, when it grows older than its age
 * limit, when the table of outstanding calls is full (the oldest ordinary
 * call makes room), or when a new request reuses its stream id. Such calls
 * carry status UNKNOWN and a message saying why.
 *
 * Both directions are untrusted input: protobuf decoding allocates through a
 * bounded allocator, strings are checked for UTF-8, names and trace state
 * are length-capped, the outstanding table is bounded. Problems are counted
 * in struct kt_ttrpc_stats and, where worth a log line, reported through
 * ops->error (the caller rate-limits).
 */
#ifndef KT_TTRPC_RPC_H
#define KT_TTRPC_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/grpc_code.h"
#include "model/span.h"
#include "rpc/ttrpc_frame.h"

#define KT_TTRPC_DEFAULT_MAX_OUTSTANDING 4096
#define KT_TTRPC_DEFAULT_MAX_AGE_NS (600ull * 1000000000ull) /* 10 minutes */
#define KT_TTRPC_DEFAULT_UNPACK_LIMIT (16u << 20)
#define KT_TTRPC_MAX_NAME 256	    /* service and method, bytes */
#define KT_TTRPC_MAX_TRACESTATE 512 /* tracestate, bytes (values joined) */
#define KT_TTRPC_TRACESTATE_MAX_MEMBERS 32
#define KT_TTRPC_TRACEPARENT_LEN 55
#define KT_TTRPC_MAX_NOTE 1024	    /* bytes ops->note may keep per call */


/* How a call ended. */
enum kt_ttrpc_end {
	KT_TTRPC_END_RESPONSE,	   /* its response was decoded */
	KT_TTRPC_END_BAD_RESPONSE, /* a response came but did not decode */
	KT_TTRPC_END_CLOSED,	   /* the connection ended first */
	KT_TTRPC_END_EXPIRED,	   /* outstanding longer than its age limit */
	KT_TTRPC_END_EVICTED,	   /* the outstanding table was full */
	KT_TTRPC_END_REPLACED,	   /* a new request reused its stream id */
};

/* "response", "bad_response", "connection_closed", "expired", "evicted", "replaced". */
const char *kt_ttrpc_end_name(enum kt_ttrpc_end e);

/* A finished call. Everything it points to is valid only during ops->call. */
struct kt_ttrpc_call {
	struct kt_str service; /* UTF-8, NUL-terminated: "grpc.AgentService" */
	struct kt_str method;  /* "CreateContainer" */
	uint32_t stream_id;
	int64_t timeout_nano;	/* Request.timeout_nano (0: none) */
	uint64_t request_size;	/* bytes of Request.payload */
	uint64_t response_size; /* bytes of Response.payload (0 without a response) */
	/* First byte of the request frame; last byte of the response frame (or
	 * the moment the call was given up). end >= start. */
	uint64_t start_mono_ns, end_mono_ns;
	uint64_t start_unix_ns, end_unix_ns;
	enum kt_ttrpc_end end;
	int32_t status_code;	     /* google.rpc.Status.code; UNKNOWN without a response */
	struct kt_str status_message; /* UTF-8; why, for calls without a response */
	size_t status_details;	     /* google.rpc.Status.details entries (not decoded) */
	bool long_poll;		     /* the method is in the long-poll list */
	/* W3C trace context from the request metadata (strictly valid only). */
	bool has_traceparent;
	struct kt_trace_id trace_id;
	uint64_t parent_span_id; /* parent-id field: the runtime's span of this call */
	uint8_t trace_flags;
	bool has_tracestate; /* only with a traceparent, and one member at least */
	struct kt_str tracestate; /* W3C-valid list, values of repeated keys joined by ',' */
	uint64_t span_id; /* what ops->request returned for it (0: nothing) */
	struct kt_str note; /* what ops->note kept of the request (NUL-terminated); empty without */
};

/* A decoded request, as ops->note sees it; valid only during that call. */
struct kt_ttrpc_request {
	struct kt_str service; /* non-empty UTF-8, not NUL-terminated */
	struct kt_str method;
	uint32_t stream_id;
	const uint8_t *payload; /* Request.payload: the serialized <Method>Request */
	size_t payload_len;
};

struct kt_ttrpc_conn_ops {
	void (*call)(void *ctx, const struct kt_ttrpc_call *c);
	/*
	 * Optional: a request was registered (c has no end, status or
	 * response yet). The span id it returns travels with the call to
	 * ops->call (span_id), so others can refer to the call's span before
	 * its response arrives.
	 */
	uint64_t (*request)(void *ctx, const struct kt_ttrpc_call *c);
	/* A dead stream or an undecodable request; names the connection. */
	void (*error)(void *ctx, const char *msg);
	/*
	 * Optional: what to remember of a request until its call is reported
	 * (the payload is gone by then). Writes at most cap bytes to note and
	 * returns how many; they come back as kt_ttrpc_call.note.
	 */
	size_t (*note)(void *ctx, const struct kt_ttrpc_request *r, uint8_t *note, size_t cap);
};

struct kt_ttrpc_cfg {
	enum kt_ttrpc_hs handshake; /* KT_TTRPC_HS_AUTO for hybrid vsock */
	uint32_t max_payload;	    /* 0: KT_TTRPC_MAX_PAYLOAD (also the maximum) */
	size_t max_outstanding;	    /* 0: the default; at most 1 << 20 */
	uint64_t max_age_ns;	    /* ordinary calls; 0: no limit */
	uint64_t long_poll_max_age_ns; /* long-poll calls; 0: no limit */
	/*
	 * NULL-terminated method names of calls that block until something
	 * happens in the guest; NULL: kt_ttrpc_default_long_poll. Not copied:
	 * it must outlive the connection.
	 */
	const char *const *long_poll;
	size_t unpack_limit; /* bytes protobuf-c may allocate per message; 0: default */
	/*
	 * Memory accounts (mem_budget.h; NULL: unaccounted): buf_acct for the
	 * two directions' partial frames, state_acct for the connection, its
	 * outstanding calls and decoding. A refused charge is handled as the
	 * corresponding allocation failure.
	 */
	struct kt_mem_acct *buf_acct, *state_acct;
};

/* WaitProcess, ReadStdout, ReadStderr, GetOOMEvent. */
extern const char *const kt_ttrpc_default_long_poll[];

#define KT_TTRPC_CFG_DEFAULT                                                               \
	((struct kt_ttrpc_cfg){ .handshake = KT_TTRPC_HS_AUTO,                              \
				.max_outstanding = KT_TTRPC_DEFAULT_MAX_OUTSTANDING,        \
				.max_age_ns = KT_TTRPC_DEFAULT_MAX_AGE_NS })

struct kt_ttrpc_stats {
	uint64_t frames[2];	    /* by enum kt_ttrpc_dir */
	uint64_t requests;	    /* decoded and registered */
	uint64_t responses;	    /* matched to a request */
	uint64_t calls;		    /* reported through ops->call */
	uint64_t unmatched_responses; /* no outstanding request with that stream id */
	uint64_t bad_requests;	      /* did not decode: not registered */
	uint64_t bad_responses;	      /* matched but did not decode */
	uint64_t other_frames;	      /* data frames, unknown types, wrong direction */
	uint64_t no_response;	      /* calls reported without a response */
	uint64_t evicted;	      /* ... of which because the table was full */
	uint64_t expired;	      /* ... because they were too old */
	uint64_t replaced;	      /* ... because their stream id was reused */
	uint64_t traceparent_invalid; /* present but not strictly valid (or repeated) */
	uint64_t tracestate_invalid;  /* present with a valid traceparent, but dropped */
	uint64_t stream_errors;	      /* directions that died (oversize, handshake, gap) */
	uint64_t truncated_bytes;     /* bytes of incomplete frames at close */
};

struct kt_ttrpc_conn;

/* label names the connection in messages (copied). NULL on ENOMEM. */
struct kt_ttrpc_conn *kt_ttrpc_conn_new(const struct kt_ttrpc_cfg *cfg, const char *label,
					const struct kt_ttrpc_conn_ops *ops, void *ctx);
/*
 * In-order bytes of one direction, captured at time t. Calls may finish
 * during the push (responses, and age limits checked against t).
 */
void kt_ttrpc_conn_push(struct kt_ttrpc_conn *c, enum kt_ttrpc_dir dir, const uint8_t *p,
			size_t n, struct kt_ttrpc_time t);
/* Bytes of that direction were lost: it stops decoding (see kt_ttrpc_framer_gap). */
void kt_ttrpc_conn_gap(struct kt_ttrpc_conn *c, enum kt_ttrpc_dir dir);
/* Reports calls older than their age limit at time t. */
void kt_ttrpc_conn_tick(struct kt_ttrpc_conn *c, struct kt_ttrpc_time t);
/*
 * The connection ended at time t: every outstanding call is reported
 * without a response ("connection closed"). Later pushes are ignored.
 */
void kt_ttrpc_conn_close(struct kt_ttrpc_conn *c, struct kt_ttrpc_time t);
/*
 * The partial frame (or handshake line) of that direction, as
 * kt_ttrpc_framer_unfinished puts it; false once the direction or the
 * connection is dead.
 */
bool kt_ttrpc_conn_unfinished(const struct kt_ttrpc_conn *c, enum kt_ttrpc_dir dir,
			      void (*put)(void *ctx, const uint8_t *p, size_t n), void *ctx);
/* Frees the connection; outstanding calls not closed are dropped unreported. */
void kt_ttrpc_conn_free(struct kt_ttrpc_conn *c);
/*
 * Memory pressure: each direction's partial frame is dropped and that
 * direction stops decoding (kt_ttrpc_framer_shed); outstanding calls stay
 * and end with the connection. Returns the bytes of stream dropped.
 */
uint64_t kt_ttrpc_conn_shed(struct kt_ttrpc_conn *c);

const struct kt_ttrpc_stats *kt_ttrpc_conn_stats(const struct kt_ttrpc_conn *c);
size_t kt_ttrpc_conn_outstanding(const struct kt_ttrpc_conn *c);
/* The port of the hybrid-vsock handshake line of that direction, if one was seen. */
bool kt_ttrpc_conn_port(const struct kt_ttrpc_conn *c, enum kt_ttrpc_dir dir, uint32_t *port);

/*
 * W3C trace context, version 00 only: exactly 55 bytes
 * "00-<32 hex>-<16 hex>-<2 hex>", lower-case hex, trace id and parent id
 * not all zero.
 */
bool kt_ttrpc_traceparent_parse(const uint8_t *s, size_t n, struct kt_trace_id *trace_id,
				uint64_t *parent_id, uint8_t *flags);
/*
 * W3C tracestate: list members "key=value" separated by ',' with optional
 * spaces and tabs, empty members skipped, at most 32 members, keys unique
 * and of the W3C key grammar, values of printable ASCII without ',' and
 * '=' and not ending in a space. Returns the member count, or -1 when the
 * list is invalid. With out (room for KT_TTRPC_TRACESTATE_MAX_MEMBERS),
 * the members are stored there, pointing into s (not NUL-terminated).
 */
int kt_ttrpc_tracestate_parse(const char *s, size_t n, struct kt_tracestate_entry *out);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contract between the stream stage (stream/pipeline.h) and the
 * protocols (agent/, rpc/, kata1/). The stream owns each connection: its
 * table entry, reassembly, attribution to a sandbox, memory accounts. It
 * hands the protocol the connection speaks the in-order bytes of each
 * direction, the gaps in them and the end; the protocol turns them into
 * spans and log records, which leave through the record sink. The stream
 * knows nothing of what a protocol's bytes mean; a protocol knows nothing
 * of capture, of the connection table or of other connections.
 *
 * Choosing: when a connection's first bytes arrive, the stream asks the
 * protocols in order whether they take it (accepts, from what is known of
 * the connection then); the first that does serves it to its end.
 */
#ifndef KT_CONN_PROTOCOL_H
#define KT_CONN_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/diag.h"
#include "base/mem_budget.h"
#include "bpf/stream_record.h"
#include "model/record_sink.h"
#include "model/span_record.h"

/* What is known of a connection when its protocol is chosen. */
struct kt_conn_facts {
	uint32_t transport;   /* enum kt_transport; 0: a file or a direct feed */
	const char *path;     /* unix: the listener's path ("" unknown) */
	uint32_t vsock_port;  /* vsock: the port of the listening end */
	bool guest_listens;   /* vsock: the guest's end listens (the host dialled) */
};

/* Is the connection to port (vsock: that port listens; unix: a listener "*_<port>")? */
static inline bool kt_conn_to_port(const struct kt_conn_facts *f, unsigned port)
{
	if (!port)
		return false;
	if (f->transport == KT_TRANSPORT_VSOCK)
		return f->vsock_port == port;
	if (f->transport != KT_TRANSPORT_UNIX || !f->path)
		return false;
	char suffix[16];
	size_t n = strlen(f->path), k = (size_t)snprintf(suffix, sizeof(suffix), "_%u", port);
	return n >= k && strcmp(f->path + n - k, suffix) == 0;
}

/* What the stream gives a protocol for one connection; valid until its end. */
struct kt_conn_env {
	void *conn; /* the stream's connection, passed back to the functions below */
	const struct kt_record_sink *sink;
	struct kt_mem_acct *buffers; /* partial messages; shed under memory pressure */
	struct kt_mem_acct *state;   /* the protocol's structures for this connection */
	struct kt_mem_acct *records; /* decoded spans and log records until freed */
	const char *label;           /* names the connection in messages */
	int64_t realtime_off_ns;     /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	/* The resource of the records it makes, brought up to date (no reference taken). */
	struct kt_origin *(*origin)(void *conn);
	/* Its sandbox's id, looked up as origin does; NULL while unknown. */
	const char *(*sandbox_id)(void *conn);
	/* A message about its data, with the connection and sandbox; warnings rate-limited. */
	void (*say)(void *conn, enum kt_log_level lvl, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
};

/* The writers a protocol names as its peer (below). */
#define KT_PEER_HYPERVISOR "katatrace.hypervisor"
#define KT_PEER_SHIM "katatrace.shim"

struct kt_protocol {
	const char *name; /* for messages: "agent", "ttrpc", ... */
	/* Does it serve this connection? cfg is its own configuration. */
	bool (*accepts)(const void *cfg, const struct kt_conn_facts *f);
	/* Both directions are its input; else only the bytes towards the listening end. */
	bool both_ways;
	/* katatrace.transport of its connections; NULL: the capture's ("hybrid-vsock", "vsock"). */
	const char *transport;
	/*
	 * Who writes the bytes it decodes, as resource attributes <peer>.pid and
	 * <peer>.comm: KT_PEER_HYPERVISOR (relaying the guest) or KT_PEER_SHIM.
	 */
	const char *peer;
	/* Its state for a new connection; NULL without memory (the bytes are then ignored). */
	void *(*open)(const void *cfg, const struct kt_conn_facts *f, const struct kt_conn_env *env);
	/* In-order bytes of one direction, captured at ts_ns (CLOCK_MONOTONIC; 0 unknown). */
	void (*push)(void *st, enum kt_dir dir, const uint8_t *p, size_t n, uint64_t ts_ns);
	/* Bytes of that direction before the next push were lost. */
	void (*gap)(void *st, enum kt_dir dir);
	/* Every 100 ms or so; may be NULL. */
	void (*tick)(void *st, uint64_t now_ns);
	/* Memory pressure: partial messages dropped, buffers released; bytes of stream dropped. */
	uint64_t (*shed)(void *st);
	/*
	 * The end: whatever can still be made is made, then st is freed.
	 * Returns the bytes of a message left unfinished (0 on a boundary).
	 */
	uint64_t (*end)(void *st, uint64_t now_ns);
	/*
	 * For handing the connection to another process (stream/pipeline.h,
	 * kt_pipeline_handover); both may be NULL.
	 *
	 * unfinished: the bytes of dir it holds that are not a complete
	 * message yet (the start of the next message, exactly as received),
	 * put in order. False when it is not at a known message boundary
	 * (resynchronising, dead, or it cannot say): then nothing is put.
	 * Changes nothing. NULL: it cannot say.
	 *
	 * handed_over: the connection goes on elsewhere: st is freed without
	 * reporting what is still open (calls awaiting an answer are dropped,
	 * not reported as ended); returns how many such calls were dropped.
	 * NULL: end is called instead and what it returns ignored.
	 */
	bool (*unfinished)(void *st, enum kt_dir dir,
			   void (*put)(void *ctx, const uint8_t *p, size_t n), void *ctx);
	uint64_t (*handed_over)(void *st);
};

/* A protocol with its configuration, as the stream's routing table holds them. */
struct kt_protocol_choice {
	const struct kt_protocol *proto;
	const void *cfg;
};

#endif

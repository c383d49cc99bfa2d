/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stream stage: capture records (or bytes fed directly) in, records of
 * each connection's protocol out. Keeps one entry per connection (capped in
 * all and per sandbox), reassembles each direction in order, finds who is
 * behind the connection (its sandbox, pod and hypervisor: the resource of
 * its records), chooses the protocol it speaks (stream/protocols.h) and
 * hands that protocol its bytes; the spans and log records the protocol
 * makes go to the record sink. Everything held for a connection is charged
 * to the memory budget. Errors stay inside their connection: a hostile
 * stream cannot disturb the others.
 *
 * Fed by the BPF ring buffer (kt_pipeline_record) or directly with bytes
 * (kt_pipeline_open/feed/close: socket capture and offline decoding).
 */
#ifndef KT_PIPELINE_H
#define KT_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem_budget.h"
#include "bpf/stream_record.h"
#include "model/record_sink.h"
#include "sandbox/sandbox_registry.h"
#include "sandbox/vsock_owner.h"
#include "stream/conn_limits.h"
#include "stream/protocols.h"
#include "stream/reasm.h"

struct kt_pipeline_cfg {
	struct kt_reasm_cfg reasm;
	/*
	 * Connections followed at once, in all and per sandbox
	 * (conn_limits.h): a newer one beyond either is refused, counted and
	 * logged, and its records are ignored until it closes.
	 */
	size_t max_conns, max_sandbox_conns;
	/*
	 * The memory budget (mem_budget.h; NULL: none). Everything held for a
	 * connection is charged to it: its buffers to the connection's own
	 * account, which the pipeline sheds from (largest first) when another
	 * charge needs room, its state to the pipeline's. Decoded spans and
	 * log records are charged to records_acct until they are freed
	 * (possibly after the pipeline); both must outlive every record.
	 * The pipeline becomes the pool's reclaimer.
	 */
	struct kt_mem_pool *mem_pool;
	struct kt_mem_acct *records_acct;
	uint64_t idle_timeout_ns; /* a connection silent this long is finished (0: never) */
	const char *run_root;     /* prefix of Kata's runtime paths ("" = /) */
	const char *proc_root;    /* where /proc is ("/proc") */
	/* The protocols connections may speak, and their settings (copied). */
	struct kt_protocols_cfg protocols;
	/* sandboxes discovered on the node (pod names, CIDs); may be NULL */
	const struct kt_sandbox_registry *registry;
	/*
	 * Who is behind a guest CID (vsock_owner.h). NULL: kt_vsock_owner_lookup
	 * here, with run_root and proc_root. The daemon asks its broker, since
	 * an unprivileged process may not read a hypervisor's /proc entries.
	 */
	bool (*owner_lookup)(void *ctx, uint32_t cid, const char *writer_comm,
			     struct kt_vsock_owner *out);
	void *owner_ctx;
};

#define KT_PIPELINE_DEFAULTS                                                                   \
	{                                                                                       \
		.reasm = { .max_pending = 8u << 20, .hole_timeout_ns = 2000000000ull },         \
		.max_conns = KT_DEFAULT_MAX_CONNECTIONS,                                        \
		.max_sandbox_conns = KT_DEFAULT_MAX_SANDBOX_CONNECTIONS,                        \
		.idle_timeout_ns = 600000000000ull, .run_root = "", .proc_root = "/proc",       \
		.protocols = KT_PROTOCOLS_DEFAULTS,                                             \
	}

/* Static facts about a connection fed directly. */
struct kt_conn_info {
	struct kt_conn_id id;
	const char *path;      /* socket path or file name; may be NULL */
	uint32_t pid;          /* peer (hypervisor) process, 0 if unknown */
	const char *comm;      /* its name, may be NULL */
	const char *transport; /* katatrace.transport value, e.g. "hybrid-vsock" */
};
/* For transport "vsock", id.transport is KT_TRANSPORT_VSOCK and id.endpoint/id.port
 * follow bpf/stream_record.h (CID << 32 | guest port, host port, with
 * KT_VSOCK_GUEST_LISTENS when the guest port is the listener). */

struct kt_pipeline;
struct kt_conn;
struct kt_sandbox_registry;

/* Spans, log records and RPC requests go to sink (copied). */
struct kt_pipeline *kt_pipeline_new(const struct kt_pipeline_cfg *cfg,
				    const struct kt_record_sink *sink);
/*
 * One ring buffer record (any struct kt_rec_*). KT_REC_RESUME (handover) is
 * applied only to a connection that exists and whose direction has neither
 * delivered nor kept any byte; any other is ignored and counted
 * (resume_ignored).
 */
void kt_pipeline_record(struct kt_pipeline *p, const void *rec, size_t size, uint64_t now_ns);

/* NULL when the connection is refused (limits, memory budget): do not feed it. */
struct kt_conn *kt_pipeline_open(struct kt_pipeline *p, const struct kt_conn_info *info);
/* In-order bytes towards the listening end. */
void kt_pipeline_feed(struct kt_pipeline *p, struct kt_conn *c, const uint8_t *data, size_t n);
/* End of stream; c is freed. */
void kt_pipeline_close(struct kt_pipeline *p, struct kt_conn *c);

/*
 * Periodic work: declares overdue reassembly holes, lets each protocol do
 * its own (a journal connection's record ends after a silence), finishes
 * connections idle too long.
 */
void kt_pipeline_tick(struct kt_pipeline *p, uint64_t now_ns);
/*
 * Takeover: hands every connection fed by records to another process as
 * ring buffer records (bpf/stream_record.h) passed to emit, which that
 * process feeds to its kt_pipeline_record before anything from the ring
 * buffer (docs/stream.md "Handing connections over"). Oldest first, each
 * connection's records are: CONN (its id, path and writer, so it is
 * attributed alike), then per direction a KT_REC_RESUME at the first byte
 * its protocol still needs, DATA with the bytes of the message begun, DATA
 * and GAP for what waits out of order, and CLOSE for a direction already
 * closed. Then the connection leaves this pipeline silently: nothing is
 * reported as truncated or lost, its limits and memory go back.
 *
 * Not carried: connections fed directly (kt_pipeline_open/feed), which stay;
 * RPC calls awaiting their answer, which are dropped unreported (counted in
 * handover_calls_dropped): the other side pairs only calls it sees whole.
 * Feeding the records back into this pipeline undoes a failed takeover.
 * Returns the connections handed over.
 */
size_t kt_pipeline_handover(struct kt_pipeline *p,
			    void (*emit)(void *ctx, const void *rec, size_t size), void *ctx);
/* Finishes every connection (shutdown). */
void kt_pipeline_finish_all(struct kt_pipeline *p);
size_t kt_pipeline_conn_count(const struct kt_pipeline *p);
/* Bytes held for connections now: their buffers, and their state. */
size_t kt_pipeline_held(const struct kt_pipeline *p);
void kt_pipeline_free(struct kt_pipeline *p);

#endif

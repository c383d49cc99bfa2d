/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stream stage's connection and pipeline, shared by its files (not
 * outside stream/): pipeline.c keeps the table and routes bytes to the
 * protocol each connection speaks, conn_origin.c finds who is behind a
 * connection and makes its resource, conn_budget.c keeps the connections
 * within the memory budget, conn_handover.c writes a connection's state as
 * records for another process.
 */
#ifndef KT_STREAM_CONN_H
#define KT_STREAM_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/diag.h"
#include "base/mem_budget.h"
#include "bpf/stream_record.h"
#include "model/conn_protocol.h"
#include "model/record_sink.h"
#include "sandbox/sandbox_path.h"
#include "stream/conn_limits.h"
#include "stream/pipeline.h"
#include "stream/protocols.h"
#include "stream/reasm.h"

#define KT_CONN_HASH_BUCKETS 16384 /* power of two */

struct kt_conn {
	struct kt_pipeline *p;
	struct kt_conn *hnext;       /* hash chain */
	struct kt_conn *prev, *next; /* activity list, most recent first */
	struct kt_conn_id id;
	char path[KT_PATH_MAX + 1];
	const char *transport; /* katatrace.transport */
	const char *path_key;  /* resource attribute naming path */
	char label[KT_PATH_MAX + 48];

	/* who is behind it (conn_origin.c) */
	uint32_t pid;                   /* process that sent the bytes */
	char comm[KT_COMM_LEN + 1];     /* its name */
	char thread[KT_COMM_LEN + 1];   /* name of the sending thread (vsock: vhost-<pid>) */
	uint32_t vsock_cid, vsock_port; /* vsock: guest CID, the listening port */
	bool have_sandbox;
	struct kt_sandbox_ref sandbox;
	char hypervisor[32];      /* discovery's name, which sandbox.hypervisor may point at */
	bool server_writer;       /* both ways: pid/comm are the answering end's */
	struct kt_origin *origin; /* built at the first record */
	uint64_t reg_version;     /* registry version when the origin was last checked */
	uint64_t reg_gen;         /* generation of the registry entry the origin used */

	/* its bytes, and the protocol they go to */
	struct kt_reasm reasm;	/* towards the listening end */
	struct kt_reasm back;	/* towards the connecting end (both-ways protocols) */
	bool have_back;
	bool closed_fwd, closed_back; /* both ways: each end's close seen */
	bool decided;                 /* its protocol was chosen */
	const struct kt_protocol_choice *proto; /* NULL: none (no memory): bytes only counted */
	void *pstate;                 /* the protocol's state */
	struct kt_conn_env env;       /* what the protocol is given */
	uint64_t cur_ts;              /* capture time of the record being fed */
	uint64_t fed;                 /* bytes fed directly */
	bool direct;                  /* fed by kt_pipeline_feed: its owner closes it */
	uint64_t last_ns;             /* last record (CLOCK_MONOTONIC) */
	unsigned errors_logged;
	/* stream ranges of this connection known to be missing, and their bytes */
	uint64_t gaps, gap_bytes;

	/* limits (conn_budget.c) */
	uint64_t group;             /* conn_limits.h: its sandbox, or what stands for it */
	struct kt_mem_acct pending; /* its buffers (mem_budget.h) */
	uint64_t refused_seen;      /* pending.refused already reported */
	uint64_t shed_gen;          /* the reclaim that last shed it */
};

struct kt_pipeline {
	struct kt_pipeline_cfg cfg;
	struct kt_protocol_choice protocols[KT_MAX_PROTOCOLS];
	size_t n_protocols;
	int64_t realtime_off; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	struct kt_record_sink sink;
	struct kt_conn *buckets[KT_CONN_HASH_BUCKETS];
	struct kt_conn *lru_head, *lru_tail;
	size_t n_conns;
	struct kt_conn_limits limits;
	struct kt_mem_acct state; /* every connection's struct and protocol state */
	struct kt_conn *active;   /* the connection being fed: never shed under it */
	uint64_t reclaim_gen;
	struct kt_refused refused; /* until they close */
	struct kt_diag_limit refusal_log;
	struct kt_rec_data handover_rec; /* the DATA record kt_pipeline_handover fills */
};

/* A message about a connection's data; warnings are rate-limited per connection. */
void kt_conn_say(void *conn, enum kt_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- conn_origin.c */

/* A vsock connection the host dialled to a port the guest listens on (the agent's ttrpc). */
bool kt_conn_guest_listens(const struct kt_conn *c);
void kt_conn_set_label(struct kt_conn *c);
/* The listener's path; the sandbox it names. */
void kt_conn_set_path(struct kt_conn *c, const char *path, size_t n);
/* The process that sent the bytes, once: the first sender names the connection. */
void kt_conn_set_writer(struct kt_conn *c, uint32_t pid, const char *comm, size_t n);
/* The record's task, when it is the sender (not a local reader). */
void kt_conn_writer_from_record(struct kt_conn *c, const struct kt_rec_hdr *h);
/* A both-ways connection's answering end writes: it, not the client, names the connection. */
void kt_conn_answerer_from_record(struct kt_conn *c, const struct kt_rec_hdr *h);
/*
 * The connection's resource for a record, up to date: who is behind it is
 * looked up again when discovery learnt more since (vsock: the CID's
 * owner names its sandbox). No reference is taken.
 */
struct kt_origin *kt_conn_resource(void *conn);
/* Its sandbox's id after that lookup; NULL while unknown. */
const char *kt_conn_sandbox_id(void *conn);
/* Does discovery list the connection's sandbox as running? */
bool kt_conn_sandbox_live(const struct kt_conn *c);

/* ---- conn_budget.c */

/* The pool's reclaimer (mem_budget.h): sheds the connections holding the most. */
void kt_conn_reclaim(void *pipeline, const struct kt_mem_acct *requester, size_t need);
/* The connection's own charges the budget refused since the last call: counted and said. */
void kt_conn_report_refused(struct kt_conn *c);

/* ---- conn_handover.c */

/*
 * The records that recreate c's stream state in another pipeline
 * (kt_pipeline_handover): CONN, then per direction RESUME, the protocol's
 * unfinished bytes, the pending segments and GAP ranges, and CLOSE for a
 * direction already closed. c is not changed.
 */
void kt_conn_handover_records(const struct kt_conn *c,
			      void (*emit)(void *ctx, const void *rec, size_t size), void *ctx);

#endif

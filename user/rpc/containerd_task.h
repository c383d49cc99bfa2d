/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd's calls to its shims (docs/decoders.md, "containerd shim Task
 * API"). containerd (1.5 and later) dials each shim's unix socket,
 * /run/containerd/s/<sha256 hex>, and speaks plain ttrpc on it (no
 * handshake line) as the client; the shim (containerd-shim-runc-v2,
 * containerd-shim-kata-v2, ...) answers. The connections are decoded by
 * rpc/ttrpc_rpc.c like the runtime's calls to the agent; this file adds
 * what is particular to them:
 *
 *   ids     the container id (field 1 of every Task request) and the exec
 *           id (field 2 of the requests that address one process), read
 *           from the request payload with proto/containerd/task.proto and
 *           kept with the outstanding call as its note (kt_task_note)
 *   span    name "<service>/<method>" ("containerd.task.v2.Task/Create"),
 *           every attribute of a ttrpc span (user/rpc/ttrpc_span.h) plus
 *           katatrace.container.id and katatrace.exec.id (non-empty only)
 *   poll    Task/Wait blocks until the process exits: long poll
 *   trace   a valid traceparent in the request metadata wins; else the
 *           trace of the sandbox the container belongs to, when the sandbox
 *           registry knows it (a Kata sandbox id is its pod sandbox
 *           container's id, and one shim serves one sandbox, so the
 *           connection remembers it for the pod's other containers); else
 *           the trace derived from the container id itself, so that all
 *           calls about one container share a trace
 *
 * Payloads are untrusted: decoded with a bounded allocator, ids accepted
 * only as UTF-8 without control characters of at most KT_TASK_MAX_ID bytes.
 */
#ifndef KT_TASK_API_H
#define KT_TASK_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "sandbox/sandbox_registry.h"
#include "model/span.h"
#include "rpc/ttrpc_rpc.h"
#include "rpc/ttrpc_span.h"

#define KT_TASK_MAX_ID 256
/* Where containerd 1.5 and later (and 2.x by default) put shim sockets. */
#define KT_TASK_DEFAULT_SOCKET_DIR "/run/containerd/s/"
/* Bytes protobuf-c may allocate to decode one request's ids. */
#define KT_TASK_UNPACK_LIMIT (64u << 10)

/* Methods of the Task service that block until something happens: Wait. */
extern const char *const kt_task_long_poll[];

/* True for containerd's shim Task service of any version, "containerd.task.v2.Task". */
bool kt_task_is_service(struct kt_str service);

/*
 * The ids of a Task API request, as a note for its outstanding call
 * (struct kt_ttrpc_conn_ops.note): "<id>\0<exec id>". Returns the note's
 * length, 0 when there is nothing to keep (another service, a method
 * without ids, an empty id, or an error). *why is set (a static string)
 * when the payload did not decode or an id was not acceptable, else NULL.
 */
size_t kt_task_note(const struct kt_ttrpc_request *r, uint8_t *note, size_t cap, const char **why);

/* The ids kept in a call's note; false when it holds none. Both NUL-terminated. */
bool kt_task_note_ids(struct kt_str note, struct kt_str *id, struct kt_str *exec_id);

/* Per shim connection: the sandbox its calls were found to belong to. */
struct kt_task_conn;
struct kt_task_conn *kt_task_conn_new(void);
void kt_task_conn_free(struct kt_task_conn *t);
/* The sandbox the connection learnt from the registry; "" none yet. */
const char *kt_task_conn_sandbox(const struct kt_task_conn *t);

/*
 * The span of a finished call on a shim socket (see above). reg may be
 * NULL; new_span_id as in struct kt_ttrpc_span_opts (NULL: random).
 */
enum kt_ttrpc_span_result kt_task_span_build(struct kt_task_conn *t, const struct kt_ttrpc_call *c,
					     const struct kt_sandbox_registry *reg,
					     uint64_t (*new_span_id)(void *ctx), void *ctx,
					     struct kt_arena *a, struct kt_span *out);

/*
 * A shim socket directory as a capture prefix: run_root (may be "") + dir,
 * ending in '/'. dir must be absolute. Returns 0, or -1 (why set) when it
 * is not absolute or the prefix would not fit in cap bytes (NUL included).
 */
int kt_task_socket_prefix(const char *run_root, const char *dir, char *out, size_t cap,
			  const char **why);

/* Does path start with one of the n prefixes? */
bool kt_task_socket_match(const char *path, const char *const *prefixes, size_t n);

#endif

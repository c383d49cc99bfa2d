/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc as protocols of the stream stage (model/conn_protocol.h): both
 * directions of a connection are framed and decoded (rpc/ttrpc_rpc.h), each
 * finished call becomes a CLIENT span, each request is announced through
 * the record sink's rpc_request before its answer.
 *
 *  - kt_ttrpc_protocol: the runtime's calls to the agent, through a
 *    hypervisor's hybrid-vsock socket (after a "CONNECT <port>" line) or
 *    over vsock to the agent's port: ttrpc.<Method> spans
 *    (rpc/ttrpc_span.h) in the sandbox's trace.
 *  - kt_task_protocol: containerd's calls to its shims, plain ttrpc on the
 *    shims' sockets: "<service>/<method>" spans (rpc/task_api.h).
 */
#ifndef KT_RPC_PROTOCOL_H
#define KT_RPC_PROTOCOL_H

#include <stddef.h>

#include "model/conn_protocol.h"
#include "sandbox/sandbox_registry.h"

struct kt_rpc_cfg {
	/* Unix listeners whose path ends with one of these: a hypervisor's socket ("/clh.sock"). */
	const char *const *ttrpc_sockets;
	size_t n_ttrpc_sockets;
	/* vsock connections to this guest port (the agent's listener; 0: none). */
	unsigned ttrpc_vsock_port;
	/* Unix listeners under these directories: containerd's shim sockets. */
	const char *const *shim_socket_dirs;
	size_t n_shim_socket_dirs;
	/* Sandboxes known on the node: a shim call's container id names its sandbox. */
	const struct kt_sandbox_registry *registry;
};

extern const struct kt_protocol kt_ttrpc_protocol;
extern const struct kt_protocol kt_task_protocol;

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sink mode: the listener the agent's traffic needs. For each --socket-path
 * P it binds P_<port> (as kata-trace-forwarder does), and AF_VSOCK
 * (cid, port) for QEMU guests; accepts any number of concurrent connections
 * and drains them. With BPF capture the bytes read
 * are discarded (the kernel side already captured them); with socket
 * capture they are fed to the pipeline.
 */
#ifndef KT_SINK_H
#define KT_SINK_H

#include <stdbool.h>
#include <stddef.h>

struct kt_pipeline;

struct kt_sink_cfg {
	const char *const *socket_paths;
	size_t n_paths;
	unsigned port;
	bool feed; /* --capture socket */
	/*
	 * Also listen on AF_VSOCK (vsock_cid, port), as kata-trace-forwarder
	 * does for QEMU guests. Where the host has no vsock, or another
	 * listener holds the port, this is skipped with a message, unless
	 * vsock_required.
	 */
	bool vsock;
	unsigned vsock_cid;
	bool vsock_required;
};

struct kt_sink;

/* Binds every listener; NULL (errors logged) if one cannot be bound. */
struct kt_sink *kt_sink_start(const struct kt_sink_cfg *cfg, int epfd, struct kt_pipeline *p);
size_t kt_sink_connections(const struct kt_sink *s);
/* Closes listeners and connections and removes the socket files. */
void kt_sink_stop(struct kt_sink *s);

#endif

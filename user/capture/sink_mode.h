/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sink mode: serving the listeners the agent's traffic needs. The broker
 * (user/daemon/broker.c) binds them — <uds>_<port> for every --socket-path and
 * every discovered hybrid-vsock sandbox, AF_VSOCK (cid, port) for QEMU
 * guests — and hands the fds over; the sink accepts concurrent connections
 * up to the connection caps and drains them. With BPF capture the bytes read
 * are discarded (the kernel side already captured them); with socket
 * capture they are fed to the pipeline.
 */
#ifndef KT_SINK_MODE_H
#define KT_SINK_MODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kt_pipeline;

struct kt_sink_cfg {
	bool feed; /* --capture socket */
	/*
	 * Connections served at once (conn_limits.h), in all and per listener
	 * (a sandbox's socket) or guest CID; one beyond is closed at once,
	 * counted and logged. 0: the defaults.
	 */
	size_t max_conns, max_listener_conns;
};

struct kt_sink;

struct kt_sink *kt_sink_new(const struct kt_sink_cfg *cfg, int epfd, struct kt_pipeline *p);
/*
 * Serves the listening socket fd (taken over; closed on error). key names
 * it for kt_sink_remove_listener; label is its unix path or a vsock text;
 * port is the vsock port it listens on.
 */
int kt_sink_add_listener(struct kt_sink *s, int fd, uint64_t key, const char *label, bool vsock,
			 unsigned port);
/*
 * Stops accepting on the listener (what is queued is accepted first);
 * connections it accepted drain until their peer ends them.
 */
void kt_sink_remove_listener(struct kt_sink *s, uint64_t key);
size_t kt_sink_listeners(const struct kt_sink *s);
size_t kt_sink_connections(const struct kt_sink *s);
/* Closes listeners and connections; the broker removes the socket files. */
void kt_sink_stop(struct kt_sink *s);

/*
 * Takeover (docs/takeover.md). A paused sink neither accepts nor reads:
 * what peers send waits in the kernel's socket buffers, and new
 * connections in the listeners' backlogs, for whichever daemon serves
 * next; a listener announced meanwhile is closed (the new daemon's broker
 * binds it). kt_sink_each() names every listener and connection;
 * kt_sink_let_go() then closes this process's copies only, never ending a
 * connection the new daemon holds. kt_sink_adopt_conn() serves a
 * connection handed over, labelled with its listener's label (BPF
 * capture only: its bytes are not fed).
 */
void kt_sink_pause(struct kt_sink *s, bool pause);
typedef void (*kt_sink_listener_fn)(void *ctx, int fd, const char *label, bool vsock,
				    unsigned port);
typedef void (*kt_sink_conn_fn)(void *ctx, int fd, const char *label);
void kt_sink_each(const struct kt_sink *s, kt_sink_listener_fn on_listener_fd,
		  kt_sink_conn_fn on_conn_fd, void *ctx);
int kt_sink_adopt_conn(struct kt_sink *s, int fd, const char *label, bool vsock);
void kt_sink_let_go(struct kt_sink *s);

#endif

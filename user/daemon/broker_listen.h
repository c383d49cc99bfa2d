/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The listeners the broker binds for the daemon to serve (sink mode): the
 * start-up ones (every --socket-path as <path>_<port>, AF_VSOCK on the
 * agent's, the Jaeger and the journal port) and the <uds>_<port> of each
 * hybrid-vsock sandbox discovery finds. Binding itself is
 * capture/listen_sock.h; this is the set of what is bound.
 *
 * Each listener gets a key (1, 2, ..., never reused) and is announced
 * (ops->announce) with the fd the set keeps: the callee passes a copy on,
 * the set's own stays open until the listener is dropped. A unix path is
 * bound once: binding it again while it is bound does nothing. Dropping a
 * unix listener withdraws its key first (ops->withdraw), then removes its
 * socket file, but only if the file there is still the one bound (same
 * device and inode: a new sandbox or another listener may have replaced
 * it), then closes the fd. kt_listeners_free() drops everything the same
 * way, without withdrawing. vsock listeners have no file.
 *
 * Not thread-safe; the callbacks must not call kt_listeners_*.
 */
#ifndef KT_BROKER_LISTEN_H
#define KT_BROKER_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/broker.h"

struct kt_listener_ops {
	void (*announce)(void *ctx, uint64_t key, int fd, const char *label, bool vsock,
			 unsigned port);
	void (*withdraw)(void *ctx, uint64_t key);
	/* The daemon's control socket (kt_listeners_bind_control). */
	void (*announce_control)(void *ctx, int fd, const char *path);
};

struct kt_bound; /* private */

struct kt_listeners {
	const struct kt_listener_ops *ops;
	void *ctx;
	unsigned vsock_cid; /* the AF_VSOCK address listened on */
	struct kt_bound *bound;
	uint64_t next_key;
};

void kt_listeners_init(struct kt_listeners *l, unsigned vsock_cid,
		       const struct kt_listener_ops *ops, void *ctx);
/*
 * Binds and announces a listener: the unix socket path, or with vsock
 * AF_VSOCK (vsock_cid, port) and path only its label. 0, or -1 with why
 * in err (errno as kt_listen_vsock() leaves it).
 */
int kt_listeners_bind(struct kt_listeners *l, const char *path, bool vsock, unsigned port,
		      char *err, size_t errlen);
/*
 * Binds the daemon's control socket at path, root's only
 * (kt_listen_unix_private), and announces it. It is dropped, its file
 * removed, like the others. 0, or -1 with why in err.
 */
int kt_listeners_bind_control(struct kt_listeners *l, const char *path, char *err, size_t errlen);
/* Drops the unix listener at path, if there is one. */
void kt_listeners_unbind(struct kt_listeners *l, const char *path);
/*
 * The start-up listeners of cfg (sink mode): 0, or -1 with why in err
 * when one that must exist cannot be bound: a --socket-path listener, or
 * the agent's vsock port when cfg->vsock_required. Any other vsock port
 * that cannot be bound is logged (a warning when another listener has
 * it: the capture works beside it) and left out.
 */
int kt_listeners_start(struct kt_listeners *l, const struct kt_broker_cfg *cfg, char *err,
		       size_t errlen);
void kt_listeners_free(struct kt_listeners *l);
/*
 * Takeover: keeps and announces a listener the old daemon served (fd
 * taken over; the socket file at path as it is now is the one bound), so
 * that binding the same path or vsock port later does nothing.
 */
int kt_listeners_adopt(struct kt_listeners *l, int fd, const char *path, bool vsock,
		       unsigned port, bool control, char *err, size_t errlen);
/* An adopted (or bound) control socket is among them. */
bool kt_listeners_have_control(const struct kt_listeners *l);
/* Closes every listener without removing any socket file (handed over). */
void kt_listeners_forget(struct kt_listeners *l);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker: a small child process that keeps the privileges the daemon
 * gives up. The daemon parses untrusted guest bytes, so after start-up it
 * runs as an unprivileged user with no capabilities (daemon/privdrop.h);
 * the few jobs that need root stay here, and none of them reads guest data:
 *
 *  - binding the daemon's control socket (daemon/control_server.h), root's
 *    only, at start; its listening fd goes to the daemon too;
 *  - binding listeners: every --socket-path and AF_VSOCK at start, and the
 *    <uds>_<port> of each hybrid-vsock sandbox discovery finds, in
 *    root-owned sandbox directories; the listening fd goes to the daemon
 *    over a unix socketpair (SCM_RIGHTS), which accepts and reads;
 *    removing those socket files again (daemon/broker_listen.h);
 *  - discovery (sandbox/discovery.h): inotify on Kata's root-owned runtime
 *    directories, persist.json and OCI bundles; results go to the daemon
 *    as sandbox descriptions (daemon/broker_discovery.h);
 *  - the kernel: reading the BPF counters and attaching the vsock capture
 *    when its transport modules appear (capture/capture.h), both of which
 *    need the bpf() syscall beyond map fds on some kernels;
 *  - looking up who is behind a guest CID (sandbox/vsock_owner.h).
 *
 * It keeps uid 0 with only CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_CHOWN,
 * CAP_FOWNER (sockets in other users' directories), CAP_BPF, CAP_PERFMON,
 * CAP_SYS_ADMIN, CAP_SYS_RESOURCE, CAP_SYSLOG (late BPF attach) and
 * no_new_privs, and exits when the daemon does (PR_SET_PDEATHSIG), when it
 * asks, or once the daemon's end of the socketpair is gone; on its way out
 * it removes the socket files it bound.
 *
 * This file: the broker process and the daemon's side of the socketpair,
 * whose messages are daemon/broker_wire.h. The daemon learns what the
 * broker says only in kt_broker_start() (up to READY) and
 * kt_broker_dispatch(); a message that arrives while kt_broker_owner()
 * waits for its answer is kept, in order, for the next dispatch (at most
 * 4096: beyond, it is delivered at once rather than lost).
 */
#ifndef KT_BROKER_H
#define KT_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "sandbox/discovery.h"
#include "sandbox/sandbox_meta.h"
#include "bpf/stream_record.h"
#include "sandbox/vsock_owner.h"

struct kt_capture;

/* A listener the old daemon served, handed over (takeover: docs/takeover.md). */
struct kt_adopted_listener {
	int fd;
	bool vsock, control;
	unsigned port;
	char path[KT_PATH_MAX];
};

struct kt_broker_cfg {
	/* sink mode: bind these at start (each as <path>_<port>) */
	const char *const *socket_paths;
	size_t n_paths;
	unsigned port;
	unsigned jaeger_port; /* also AF_VSOCK on this port in sink mode (0: no) */
	unsigned journal_port; /* the same for the Kata 1.x journal (0: no) */
	bool sink;           /* bind listeners (sink mode), for discovered sandboxes too */
	bool vsock;          /* also AF_VSOCK (vsock_cid, port) in sink mode */
	unsigned vsock_cid;
	bool vsock_required; /* --vsock-cid given: failing to listen is fatal */
	bool discover;       /* watch the run root */
	const struct kt_discovery_config *discovery;
	struct kt_capture *capture; /* may be NULL (--capture socket) */
	const char *run_root;       /* for CID owner lookups ("" = /) */
	const char *control_path;   /* the control socket; NULL: none */
	/*
	 * Listeners taken over, kept and announced before anything is bound:
	 * the broker owns these fds (the daemon closes its copies after
	 * kt_broker_start, which forks).
	 */
	const struct kt_adopted_listener *adopted;
	size_t n_adopted;
	/*
	 * Descriptors the daemon holds that the broker must not keep a copy
	 * of (connections taken over: a copy would keep them open after the
	 * daemon closes them); closed in the broker at once.
	 */
	const int *not_inherited;
	size_t n_not_inherited;
};

/* What the broker tells the daemon; called from kt_broker_dispatch(). */
struct kt_broker_ops {
	/* A listening socket to serve (fd is the daemon's to close). */
	void (*listen)(void *ctx, uint64_t key, int fd, const char *label, bool vsock, unsigned port);
	void (*unlisten)(void *ctx, uint64_t key);
	void (*sandbox)(void *ctx, const struct kt_sandbox_meta *m);
	void (*sandbox_gone)(void *ctx, const char *id);
	void (*counters)(void *ctx, const uint64_t c[KT_CNT__MAX]);
	/* The control socket's listening fd (the daemon's to close), bound at path. */
	void (*control)(void *ctx, int fd, const char *path);
};

struct kt_broker;

/*
 * Forks the broker, which binds the start-up listeners and reports the
 * sandboxes that exist already; returns once it is ready (ops called for
 * each), or NULL (errors logged) when it could not bind what it must.
 * Call before any thread exists.
 */
struct kt_broker *kt_broker_start(const struct kt_broker_cfg *cfg, const struct kt_broker_ops *ops,
				  void *ctx);
/* For the daemon's poll loop: readable when messages wait. */
int kt_broker_fd(const struct kt_broker *b);
/* Reads every waiting message; returns -1 once the broker is gone. */
int kt_broker_dispatch(struct kt_broker *b);
/*
 * Who is behind a guest CID, looked up by the broker (vsock_owner.h): the
 * hypervisor's /proc entries may be closed to the unprivileged daemon.
 * Waits for the answer (bounded); other messages meanwhile are kept for
 * the next kt_broker_dispatch(). Returns what kt_vsock_owner_lookup does.
 */
bool kt_broker_owner(struct kt_broker *b, uint32_t cid, const char *writer_comm,
		     struct kt_vsock_owner *out);
/* The answer arrives later through ops->counters. */
void kt_broker_request_counters(struct kt_broker *b);
/*
 * Asks for the counters one last time, tells the broker to remove its
 * socket files and exit, delivers what it still sends, and reaps it.
 */
void kt_broker_stop(struct kt_broker *b);
int kt_broker_pid(const struct kt_broker *b);
/*
 * Takeover: pause holds discovery and late attaches still, after
 * delivering everything the broker announced before (0, or -1 when it
 * does not answer in time); resume lets them go on. Paused, the broker
 * has sent copies of its vsock capture's descriptors (it attaches that
 * capture, late when the transport appears): kt_broker_capture_fds names
 * them, as kt_capture_each_fd does the daemon's, until the resume or the
 * stop closes them.
 */
int kt_broker_pause(struct kt_broker *b, bool pause);
void kt_broker_capture_fds(const struct kt_broker *b, kt_capture_fd_fn fn, void *ctx);
/* kt_broker_stop() for a daemon that handed its listeners over: no socket file is removed. */
void kt_broker_stop_handed(struct kt_broker *b);
/*
 * After kt_broker_dispatch() said it is gone: how the broker ended ("was
 * killed by signal 9 (Killed)", "exited with status 1"), into buf. Reaps
 * it, waiting a little for its exit to follow the end of its socket. True
 * when it stopped as told (exit status 0: what it does on SIGTERM, the
 * daemon being alive), false for any other end.
 */
bool kt_broker_exit_text(struct kt_broker *b, char *buf, size_t n);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's side of the control socket (control/control_wire.h,
 * docs/probes.md "Through the daemon"). The broker binds the socket, root's
 * only (mode 0600 in a 0700 directory), and hands the listening fd to the
 * daemon, which serves it unprivileged: a probe, running as root, connects,
 * says Hello (its target, its probes, its resource) and is given an id;
 * from then on its Records join the daemon's own pipeline through the sink
 * (the sandbox traces, then the one export queue), with an origin made from
 * its Hello. `probe list` and `probe stop ID` connect for one question each.
 *
 * Every peer must be uid 0 (SO_PEERCRED), checked again here because the
 * daemon's socket file is not the only way to reach it. A peer that is not,
 * connections beyond KT_CONTROL_MAX_CONNS, and messages that are malformed
 * or out of place close the connection with a logged reason and a counter
 * (control_refused, control_errors); records that cannot be used are
 * counted (probe_rejected) and the rest go on. The daemon never waits for a
 * peer: answers are written without blocking, and a peer that does not read
 * them is dropped. A takeover hands each probe's connection and state to the
 * new daemon between two of its messages (kt_control_pause and the rest
 * below); the probe is not told.
 */
#ifndef KT_CONTROL_SERVER_H
#define KT_CONTROL_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "model/record_sink.h"

/* Probes and questions served at once. */
#define KT_CONTROL_MAX_CONNS 32

struct kt_control_cfg {
	int epfd;		    /* the daemon's loop */
	struct kt_record_sink sink; /* where the probes' records go */
	/*
	 * A new daemon's Takeover request (daemon/takeover.h): the connection's
	 * socket (blocking use is fine; the handler closes it) and the
	 * request, valid during the call. NULL: refused.
	 */
	void (*takeover)(void *ctx, int sock, const void *request);
	void *takeover_ctx;
};

struct kt_control;

struct kt_control *kt_control_new(const struct kt_control_cfg *cfg);
/* Serves the listening socket fd (taken over) bound at path. */
void kt_control_listen(struct kt_control *c, int fd, const char *path);
/* Probes being served. */
size_t kt_control_probes(const struct kt_control *c);
/*
 * The daemon is stopping: no new connections; every probe is told to stop,
 * and what they still send is taken until each has closed or timeout_ms
 * has passed.
 */
void kt_control_shutdown(struct kt_control *c, int timeout_ms);
void kt_control_free(struct kt_control *c);
/* The listening socket (-1: none) and its path, for a takeover. */
int kt_control_listener(const struct kt_control *c, const char **path);

/*
 * Takeover (daemon/takeover.h): probes go to the new daemon with their
 * connections, at a message boundary, and never notice.
 *
 * kt_control_pause: each connection is read until no message of it is left
 * half-read (at most timeout_ms in all; one still inside a message then is
 * not handed over), then no more: what it sends next waits in its socket
 * for the new daemon. hand is given each one's connection and state (a
 * packed ProbeState; the empty one for a connection that has not said
 * hello yet, which the new daemon serves from its first message) and says
 * whether it took them.
 * kt_control_resume: the takeover failed; every probe is read again.
 * kt_control_handed: it was committed; the probes handed over leave this
 * daemon silently (its copy of each connection closed; the count is
 * returned), the others are read again and end with it.
 */
typedef bool (*kt_control_hand_fn)(void *ctx, int fd, const void *state, size_t len);
void kt_control_pause(struct kt_control *c, int timeout_ms, kt_control_hand_fn hand, void *ctx);
void kt_control_resume(struct kt_control *c);
size_t kt_control_handed(struct kt_control *c);
/*
 * The new daemon serves a probe handed over: its connection fd (taken on
 * success, the caller's otherwise) and its packed ProbeState, checked as a
 * hello is; it keeps its id, and ids given later are higher. 0, or -1 with
 * why in err (counted in control_errors).
 */
int kt_control_adopt_probe(struct kt_control *c, int fd, const void *state, size_t len,
			   char *err, size_t errlen);
/*
 * A new daemon whose takeover failed: it lets go of every connection and
 * its listener without a word (the old daemon serves them on); later
 * calls of kt_control_shutdown() do nothing.
 */
void kt_control_let_go(struct kt_control *c);

#endif

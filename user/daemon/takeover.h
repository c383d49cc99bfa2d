/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Takeover (docs/takeover.md): `katatrace-bpf run --takeover` started while
 * another daemon runs takes over what it serves without closing anything.
 * This is the exchange on the control socket, both ends:
 *
 *   new                                   old (its control socket)
 *   Takeover{version, layout, mode}  -->
 *                                         pauses: broker, sink, ring buffer;
 *                                         its connections' state as records
 *                                    <--  TakeoverOffer{fds, state_bytes}
 *                                    <--  FdBatch x N (SCM_RIGHTS), StateChunk x M
 *   adopts, starts its broker
 *   TakeoverCommit                   -->
 *                                         lets go, spools what it holds
 *                                    <--  TakeoverDone{spooled}; exits 0
 *   opens the spool, serves
 *
 * or Error{message} instead of the offer when the old daemon refuses. Until
 * it reads the commit the old daemon can resume as if nothing happened:
 * the new one closing the connection, an error, or KT_TAKEOVER_COMMIT_MS
 * without a commit all make it take its records back and serve on.
 *
 * Every message is bounded (control/control_wire.h); the counts in the
 * offer bound what follows (KT_TAKEOVER_FDS_MAX descriptors,
 * KT_TAKEOVER_STATE_MAX bytes of state), and the new daemon checks each
 * batch against them.
 */
#ifndef KT_TAKEOVER_H
#define KT_TAKEOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "daemon/broker.h"

/* Both ends must say the same: a different build is refused. */
#define KT_TAKEOVER_VERSION 1
/* How long the old daemon waits for the commit, and the new one for the old one's offer and done. */
#define KT_TAKEOVER_COMMIT_MS 60000
#define KT_TAKEOVER_REPLY_MS 30000
/* Descriptors one takeover may carry: connections, listeners, BPF objects. */
#define KT_TAKEOVER_FDS_MAX 16384
/* Bytes of one probe's state (its hello and counters). */
#define KT_TAKEOVER_PROBE_STATE_MAX (256u << 10)
/* Bytes of connection state one takeover may carry. */
#define KT_TAKEOVER_STATE_MAX (1ull << 31)

/* The layout both ends' capture records and maps have (compared as text). */
void kt_takeover_layout(char *buf, size_t n);

enum kt_handed_kind {
	KT_HANDED_LISTENER,
	KT_HANDED_CONNECTION,
	KT_HANDED_CONTROL,
	KT_HANDED_METRICS,
	KT_HANDED_BPF,
	KT_HANDED_PROBE,
};

/* One descriptor and what it is. */
struct kt_handed {
	enum kt_handed_kind kind;
	int fd; /* -1 once taken */
	bool vsock;
	unsigned port;
	char label[KT_PATH_MAX + 32];
	struct kt_capture_handed bpf; /* KT_HANDED_BPF (its fd is the same) */
	/* KT_HANDED_PROBE: the probe's state, a packed ProbeState (the handover's) */
	uint8_t *probe;
	size_t probe_len;
};

/* What one side hands or was handed. */
struct kt_handover {
	int sock;          /* the control connection, open until done */
	uint32_t peer_pid; /* the other daemon */
	struct kt_handed *fds;
	size_t n_fds, cap_fds;
	uint8_t *state;    /* ring-buffer-format records, each after its u32 length */
	size_t state_len, state_cap;
	uint64_t connections;
	bool incomplete; /* a descriptor or record could not be added: not to be offered */
};

void kt_handover_init(struct kt_handover *h);
/*
 * Adds a descriptor (not duplicated: the caller's stays valid until sent);
 * NULL, and incomplete set, beyond KT_TAKEOVER_FDS_MAX or without memory.
 */
struct kt_handed *kt_handover_add(struct kt_handover *h, enum kt_handed_kind kind, int fd,
				  const char *label);
/*
 * Appends one record to the state; -1, and incomplete set, without memory
 * or beyond KT_TAKEOVER_STATE_MAX.
 */
int kt_handover_add_record(struct kt_handover *h, const void *rec, size_t size);
/*
 * Calls fn for each record of the state, in order; -1 (with the offset in
 * *bad) when the state is not a sequence of well-formed lengths.
 */
int kt_handover_each_record(const struct kt_handover *h,
			    void (*fn)(void *ctx, const void *rec, size_t size), void *ctx,
			    size_t *bad);
/*
 * Attaches a probe's packed ProbeState (copied) to e; -1, and incomplete set,
 * without memory or beyond KT_TAKEOVER_PROBE_STATE_MAX.
 */
int kt_handover_set_probe(struct kt_handover *h, struct kt_handed *e, const void *state,
			  size_t len);
/* Frees it; closes received descriptors not taken when close_fds. */
void kt_handover_free(struct kt_handover *h, bool close_fds);

/* ------------------------------------------------------------ the old daemon */

/* Is the request acceptable for a daemon in mode/capture? NULL, or why not. */
const char *kt_takeover_check(const void *takeover_msg, const char *mode, const char *capture);
/* The offer of h as a packed Message (malloc'd; NULL without memory). */
uint8_t *kt_takeover_pack_offer(const struct kt_handover *h, size_t *len);
/* A packed offer's descriptions into out (their fds -1 until received). 0, or -1 with why. */
int kt_handover_take_offer(const uint8_t *packed, size_t n, struct kt_handover *out, char *err,
			   size_t errlen);
/* Sends the offer, the descriptors and the state on h->sock. 0, or -1 with why in err. */
int kt_takeover_offer(struct kt_handover *h, char *err, size_t errlen);
/*
 * Waits up to timeout_ms (KT_TAKEOVER_COMMIT_MS) for the commit. 1:
 * committed; -1 with why in err (the new daemon failed, went away or said
 * nothing in time).
 */
int kt_takeover_await_commit(struct kt_handover *h, int timeout_ms, char *err, size_t errlen);
/* Says it let go of everything (best effort: the new daemon may have gone). */
void kt_takeover_done(struct kt_handover *h, uint64_t spooled);
/* Refuses with a reason. */
void kt_takeover_refuse(int sock, const char *why);

/* ------------------------------------------------------------ the new daemon */

struct kt_takeover_ask {
	const char *control_path;
	const char *mode, *capture;
};

/*
 * Asks the daemon at ask->control_path to hand over: 1 with everything
 * received in *out; 0 when no daemon answers there (nothing to take
 * over); -1 with why in err (refused, or the exchange broke: the old
 * daemon then serves on).
 */
int kt_takeover_request(const struct kt_takeover_ask *ask, struct kt_handover *out, char *err,
			size_t errlen);
/*
 * What kt_takeover_request() does once it has asked: reads the offer, its
 * descriptors and its state from sock into *out (initialized here; sock
 * becomes out->sock). 0 with everything received; -1 with why in err,
 * *out then freed: the descriptors received closed, and sock with them.
 */
int kt_takeover_receive(int sock, struct kt_handover *out, char *err, size_t errlen);
/*
 * Commits and waits for the old daemon to let go (its done, or its end):
 * 0 with what it left in the spool in *spooled, -1 with why in err.
 */
int kt_takeover_commit(struct kt_handover *h, uint64_t *spooled, char *err, size_t errlen);

#endif

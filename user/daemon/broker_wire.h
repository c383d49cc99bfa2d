/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker's wire protocol: the messages on the SOCK_SEQPACKET
 * socketpair between the daemon and its privileged broker (daemon/broker.h).
 *
 * Every message is one struct kt_bmsg, sent whole as one datagram; at
 * most one file descriptor rides along (SCM_RIGHTS): LISTEN and CONTROL have
 * one. The encoders below fill a message completely (zeroed first, every
 * string cut to fit and NUL-terminated). Receiving checks the datagram:
 * one of another size, or truncated (data or control), reads as type 0,
 * which nobody acts on, and the fd it carried is closed; every message
 * received has its text NUL-terminated, and an owner answer is decoded
 * into a sandbox id only if it is a plausible one. A sandbox description
 * arrives as sent: its receiver checks it (kt_sandbox_meta_valid()).
 *
 * Broker -> daemon:
 *   READY                       start-up done (listeners bound, sandboxes reported)
 *   FATAL     text              start-up failed: why
 *   LISTEN    key, fd, text, vsock, port   a listening socket to serve; text: its label
 *   UNLISTEN  key               stop serving it
 *   SANDBOX   meta              a sandbox appeared or its description changed
 *   GONE      text              the sandbox with this id is gone
 *   COUNTERS  counters          the BPF counters, when asked
 *   OWNER     key, vsock (found), meta.hypervisor_pid, meta.id, meta.hypervisor, text (comm)
 *                               the answer to WANT_OWNER key
 *   CONTROL   fd, text          the daemon's control socket, bound at text
 * Daemon -> broker:
 *   WANT_COUNTERS, QUIT, WANT_OWNER key, cid, text (writer comm, "" for none)
 */
#ifndef KT_BROKER_WIRE_H
#define KT_BROKER_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "bpf/stream_record.h"
#include "sandbox/sandbox_meta.h"
#include "sandbox/vsock_owner.h"

enum kt_bmsg_type {
	/* broker -> daemon */
	KT_BMSG_READY = 1,
	KT_BMSG_FATAL,
	KT_BMSG_LISTEN,
	KT_BMSG_UNLISTEN,
	KT_BMSG_SANDBOX,
	KT_BMSG_GONE,
	KT_BMSG_COUNTERS,
	KT_BMSG_OWNER,
	KT_BMSG_CONTROL,
	KT_BMSG_PAUSED, /* after PAUSE: nothing more is announced until RESUME */
	KT_BMSG_CAPTURE_FD, /* before PAUSED: a descriptor of its vsock capture; text "object\nname\nstrategy" */
	/* daemon -> broker */
	KT_BMSG_WANT_COUNTERS = 64,
	KT_BMSG_QUIT,
	KT_BMSG_WANT_OWNER,
	KT_BMSG_PAUSE,     /* takeover: discovery and late attaches hold still */
	KT_BMSG_RESUME,
	KT_BMSG_QUIT_KEEP, /* quit, leaving the socket files to the new daemon's broker */
};

struct kt_bmsg {
	uint32_t type;
	uint32_t vsock; /* LISTEN: a vsock listener; OWNER: something was found */
	uint32_t port;  /* LISTEN: its vsock port */
	uint32_t cid;   /* WANT_OWNER: the guest CID asked about */
	uint64_t key;
	char text[KT_PATH_MAX + 256]; /* label, sandbox id, process name or error */
	uint64_t counters[KT_CNT__MAX];
	struct kt_sandbox_meta meta;
};

/* Sends m (with fd unless it is -1); 0, or -1 when the peer is gone. */
int kt_bmsg_send(int sock, const struct kt_bmsg *m, int fd);
/*
 * Receives one message (flags: MSG_DONTWAIT or 0). Returns 1 with a
 * message in m and *fd the descriptor it carried (-1: none; the caller's
 * to close), 0 when none is waiting (or interrupted), -1 when the peer is
 * gone.
 */
int kt_bmsg_recv(int sock, struct kt_bmsg *m, int *fd, int flags);

/*
 * One end of the socketpair with a message to fill (the messages are too
 * big to build on every stack). Once a send fails the peer is gone:
 * broken stays set and nothing more is sent.
 */
struct kt_bchan {
	int sock;
	bool broken;
	struct kt_bmsg m;
};

/* Sends ch->m (with fd unless it is -1). */
void kt_bchan_send(struct kt_bchan *ch, int fd);

/* A message of type with key and text (NULL: none); the rest zero. */
void kt_bmsg_text(struct kt_bmsg *m, enum kt_bmsg_type type, uint64_t key, const char *text);
void kt_bmsg_listen(struct kt_bmsg *m, uint64_t key, const char *label, bool vsock, unsigned port);
void kt_bmsg_sandbox(struct kt_bmsg *m, const struct kt_sandbox_meta *meta);
void kt_bmsg_want_owner(struct kt_bmsg *m, uint64_t key, uint32_t cid, const char *writer_comm);
void kt_bmsg_owner(struct kt_bmsg *m, uint64_t key, bool found, const struct kt_vsock_owner *o);

/* WANT_OWNER: the writer's name, or NULL for none. */
const char *kt_bmsg_writer_comm(const struct kt_bmsg *m);
/*
 * OWNER: fills out (zeroed first): the pid and process name as sent, the
 * hypervisor as one of the static names hypervisors.h knows (NULL if
 * none), the sandbox id only if it is a plausible one. Returns whether
 * the broker found anything.
 */
bool kt_bmsg_owner_decode(struct kt_bmsg *m, struct kt_vsock_owner *out);

#endif

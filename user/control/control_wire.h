/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket's wire (proto/katatrace/control/v1/control.proto): a
 * unix stream socket, root's only, on which a probe hands its records to the
 * running daemon and `probe list` / `probe stop` ask about the probes it
 * serves (docs/probes.md, "Through the daemon").
 *
 * A message is a packed katatrace.control.v1.Message after its length, a
 * 4-byte big-endian number of at most KT_CONTROL_MSG_MAX. kt_ctl_send()
 * writes one whole (blocking); struct kt_ctl_reader collects the bytes of
 * a non-blocking socket and hands out each complete message, unpacked with
 * a bounded allocator: a length beyond the limit, or bytes that do not
 * unpack, is an error after which the stream cannot be trusted (the caller
 * closes it). kt_ctl_recv() waits for one message on a blocking client.
 */
#ifndef KT_CONTROL_WIRE_H
#define KT_CONTROL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/pb_budget.h"
#include "katatrace/control/v1/control.pb-c.h"

/* Where the daemon listens, under --run-root. */
#define KT_CONTROL_SOCKET "/run/katatrace-bpf/control.sock"
/* Largest message either side sends or accepts. */
#define KT_CONTROL_MSG_MAX (8u << 20)
/* Descriptors one message may carry (below the kernel's SCM_MAX_FD, 253). */
#define KT_CTL_FDS_MAX 240
/* What unpacking one message may allocate. */
#define KT_CONTROL_UNPACK_MAX (4u * KT_CONTROL_MSG_MAX)

typedef Katatrace__Control__V1__Message kt_ctl_msg;

#define KT_CTL_MSG_INIT KATATRACE__CONTROL__V1__MESSAGE__INIT

/*
 * Packs and writes m whole. 0, or -1 with why in err (the peer is gone:
 * EPIPE; a message beyond KT_CONTROL_MSG_MAX: EMSGSIZE; errno is kept).
 */
int kt_ctl_send(int fd, const kt_ctl_msg *m, char *err, size_t errlen);
/* kt_ctl_send() of a message packed already (n bytes). */
int kt_ctl_send_packed(int fd, const uint8_t *packed, size_t n, char *err, size_t errlen);
/*
 * kt_ctl_send() with n_fds (at most KT_CTL_FDS_MAX) descriptors attached
 * to the message's first bytes (SCM_RIGHTS; the caller keeps its copies).
 */
int kt_ctl_send_fds(int fd, const kt_ctl_msg *m, const int *fds, size_t n_fds, char *err,
		    size_t errlen);
/*
 * The same without waiting, for a side that must not block on its peer:
 * -1 with EAGAIN when the socket did not take the message whole (the
 * stream is then broken: close it).
 */
int kt_ctl_send_now(int fd, const kt_ctl_msg *m, char *err, size_t errlen);

struct kt_ctl_reader {
	/*
	 * Descriptors received (SCM_RIGHTS), those of the message handed out
	 * last first (fds_handed of them); closed unless taken before the
	 * next message is asked for.
	 */
	int fds[KT_CTL_FDS_MAX];
	size_t n_fds, fds_handed;
	uint8_t *buf;
	size_t len, cap;
	struct kt_pb_budget budget; /* of the message handed out last */
	ProtobufCAllocator alloc;
	kt_ctl_msg *msg;	    /* handed out last; freed by the next call */
};

void kt_ctl_reader_init(struct kt_ctl_reader *r);
void kt_ctl_reader_free(struct kt_ctl_reader *r);
/*
 * Reads what fd has (non-blocking). 1: bytes came; 0: none waiting; -1: end
 * of stream or an error (errno).
 */
int kt_ctl_reader_fill(struct kt_ctl_reader *r, int fd);
/*
 * Feeds bytes as if read (for tests and fuzzing). -1 when the reader cannot
 * hold them (ENOMEM).
 */
int kt_ctl_reader_feed(struct kt_ctl_reader *r, const void *p, size_t n);
/*
 * The next complete message: 1 with *out (the reader's, valid until its next
 * call), 0 when it is not all there yet, -1 with why in err when the stream
 * is broken (a length beyond KT_CONTROL_MSG_MAX, a message that does not
 * unpack or has no body).
 */
int kt_ctl_reader_next(struct kt_ctl_reader *r, kt_ctl_msg **out, char *err, size_t errlen);
/*
 * The descriptors that came with the message handed out last, in order,
 * into out (at most max): the caller's to close. Those not taken are
 * closed by the next kt_ctl_reader_next() or kt_ctl_reader_free().
 */
size_t kt_ctl_reader_take_fds(struct kt_ctl_reader *r, int *out, size_t max);
/* Bytes held of a message not complete yet. */
static inline size_t kt_ctl_reader_pending(const struct kt_ctl_reader *r)
{
	return r->len;
}

/*
 * Waits up to timeout_ms for one message on fd (blocking or not): 1 with
 * *out, unpacked by r (valid until r's next call); 0 on timeout; -1 with why
 * in err (the peer closed: errno EPIPE or ECONNRESET; or a broken stream).
 */
int kt_ctl_recv(struct kt_ctl_reader *r, int fd, int timeout_ms, kt_ctl_msg **out, char *err,
		size_t errlen);

/* The name of a body case ("hello", "records"), for messages about it. */
const char *kt_ctl_body_name(int body_case);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
#include "control/control_wire.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/byte_order.h"
#include "base/fd_io.h"
#include "base/clock.h"

#define LEN_BYTES 4
/* A reader's buffer starts at this and doubles up to a whole message. */
#define READER_MIN (64u << 10)

static const char *const body_names[] = {
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_HELLO] = "hello",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_WELCOME] = "welcome",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_RECORDS] = "records",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_LIST] = "list",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_PROBE_LIST] = "probe list",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_STOP_PROBE] = "stop probe",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_STOPPED] = "stopped",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_STOP] = "stop",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_ERROR] = "error",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER] = "takeover",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER_OFFER] = "takeover offer",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_FD_BATCH] = "fd batch",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_STATE_CHUNK] = "state chunk",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER_COMMIT] = "takeover commit",
	[KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER_DONE] = "takeover done",
};

const char *kt_ctl_body_name(int c)
{
	if (c > 0 && (size_t)c < sizeof(body_names) / sizeof(body_names[0]) && body_names[c])
		return body_names[c];
	return "no body";
}

static int write_all(int fd, const uint8_t *p, size_t n, bool wait)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && wait) {
				/* a non-blocking socket: wait until it takes more */
				struct pollfd pf = { .fd = fd, .events = POLLOUT };
				if (poll(&pf, 1, -1) < 0 && errno != EINTR)
					return -1;
				continue;
			}
			return -1;
		}
		p += w;
		n -= (size_t)w;
		if (n && !wait) {
			errno = EAGAIN;
			return -1;
		}
	}
	return 0;
}

/* The first bytes of buf with fds attached (SCM_RIGHTS); the bytes sent, or -1. */
static ssize_t send_with_fds(int fd, const uint8_t *buf, size_t n, const int *fds, size_t n_fds)
{
	union {
		char b[KT_FDS_CTL_SPACE(KT_CTL_FDS_MAX)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	kt_fds_attach(&mh, ctl.b, fds, n_fds);
	for (;;) {
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w >= 0 || (errno != EINTR && errno != EAGAIN))
			return w;
		if (errno == EAGAIN) {
			/* a non-blocking socket: wait until it takes the first bytes */
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			if (poll(&pf, 1, -1) < 0 && errno != EINTR)
				return -1;
		}
	}
}

static int send_msg_fds(int fd, const kt_ctl_msg *m, bool wait, const int *fds, size_t n_fds,
			char *err, size_t errlen);

static int send_msg(int fd, const kt_ctl_msg *m, bool wait, char *err, size_t errlen)
{
	return send_msg_fds(fd, m, wait, NULL, 0, err, errlen);
}

static int send_msg_fds(int fd, const kt_ctl_msg *m, bool wait, const int *fds, size_t n_fds,
			char *err, size_t errlen)
{
	if (n_fds > KT_CTL_FDS_MAX) {
		snprintf(err, errlen, "%zu descriptors in one message: at most %d", n_fds,
			 KT_CTL_FDS_MAX);
		errno = EINVAL;
		return -1;
	}
	size_t n = katatrace__control__v1__message__get_packed_size(m);
	if (n > KT_CONTROL_MSG_MAX) {
		snprintf(err, errlen, "a %s message of %zu bytes is larger than the control socket's %u",
			 kt_ctl_body_name(m->body_case), n, KT_CONTROL_MSG_MAX);
		errno = EMSGSIZE;
		return -1;
	}
	uint8_t *buf = malloc(LEN_BYTES + n);
	if (!buf) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		errno = ENOMEM;
		return -1;
	}
	kt_put_be32(buf, (uint32_t)n);
	katatrace__control__v1__message__pack(m, buf + LEN_BYTES);
	size_t first = 0;
	int rc = 0;
	if (n_fds) {
		/* the descriptors travel with the first bytes; the rest follows as usual */
		ssize_t w = send_with_fds(fd, buf, LEN_BYTES + n, fds, n_fds);
		if (w < 0)
			rc = -1;
		else
			first = (size_t)w;
	}
	if (rc == 0)
		rc = write_all(fd, buf + first, LEN_BYTES + n - first, wait);
	int e = errno;
	free(buf);
	if (rc) {
		snprintf(err, errlen, "%s", strerror(e));
		errno = e;
	}
	return rc;
}

int kt_ctl_send(int fd, const kt_ctl_msg *m, char *err, size_t errlen)
{
	return send_msg(fd, m, true, err, errlen);
}

int kt_ctl_send_packed(int fd, const uint8_t *packed, size_t n, char *err, size_t errlen)
{
	uint8_t len[LEN_BYTES];
	if (n > KT_CONTROL_MSG_MAX) {
		snprintf(err, errlen, "a message of %zu bytes is larger than the control socket's %u", n,
			 KT_CONTROL_MSG_MAX);
		errno = EMSGSIZE;
		return -1;
	}
	kt_put_be32(len, (uint32_t)n);
	if (write_all(fd, len, sizeof(len), true) || write_all(fd, packed, n, true)) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

int kt_ctl_send_fds(int fd, const kt_ctl_msg *m, const int *fds, size_t n_fds, char *err,
		    size_t errlen)
{
	return send_msg_fds(fd, m, true, fds, n_fds, err, errlen);
}

int kt_ctl_send_now(int fd, const kt_ctl_msg *m, char *err, size_t errlen)
{
	return send_msg(fd, m, false, err, errlen);
}

void kt_ctl_reader_init(struct kt_ctl_reader *r)
{
	memset(r, 0, sizeof(*r));
	r->budget.limit = KT_CONTROL_UNPACK_MAX;
	r->alloc = kt_pb_budget_allocator(&r->budget);
}

static void drop_msg(struct kt_ctl_reader *r)
{
	if (r->msg)
		katatrace__control__v1__message__free_unpacked(r->msg, &r->alloc);
	r->msg = NULL;
}

/* Closes the first n descriptors received and moves the others up. */
static void close_fds(struct kt_ctl_reader *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (r->fds[i] >= 0)
			close(r->fds[i]);
	memmove(r->fds, r->fds + n, (r->n_fds - n) * sizeof(r->fds[0]));
	r->n_fds -= n;
}

size_t kt_ctl_reader_take_fds(struct kt_ctl_reader *r, int *out, size_t max)
{
	size_t n = r->fds_handed < max ? r->fds_handed : max;
	memcpy(out, r->fds, n * sizeof(int));
	for (size_t i = 0; i < n; i++)
		r->fds[i] = -1;
	return n;
}

void kt_ctl_reader_free(struct kt_ctl_reader *r)
{
	drop_msg(r);
	close_fds(r, r->n_fds);
	r->fds_handed = 0;
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

/* Room for n more bytes, never beyond one whole message. */
static int reserve(struct kt_ctl_reader *r, size_t n)
{
	if (r->cap - r->len >= n)
		return 0;
	size_t want = r->len + n, cap = r->cap ? r->cap : READER_MIN;
	if (want > LEN_BYTES + KT_CONTROL_MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	while (cap < want)
		cap *= 2;
	if (cap > LEN_BYTES + KT_CONTROL_MSG_MAX)
		cap = LEN_BYTES + KT_CONTROL_MSG_MAX;
	uint8_t *b = realloc(r->buf, cap);
	if (!b) {
		errno = ENOMEM;
		return -1;
	}
	r->buf = b;
	r->cap = cap;
	return 0;
}

int kt_ctl_reader_feed(struct kt_ctl_reader *r, const void *p, size_t n)
{
	/* nothing to copy; a reader that has read nothing has no buffer yet */
	if (n == 0)
		return 0;
	if (reserve(r, n))
		return -1;
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return 0;
}

/* How many bytes the message being read still lacks. */
static size_t missing(const struct kt_ctl_reader *r)
{
	if (r->len < LEN_BYTES)
		return LEN_BYTES - r->len;
	size_t n = kt_be32(r->buf);
	if (n > KT_CONTROL_MSG_MAX)
		return 0; /* nothing more to read: kt_ctl_reader_next() says why */
	return LEN_BYTES + n > r->len ? LEN_BYTES + n - r->len : 0;
}

/*
 * Reads up to want bytes; descriptors that come with them are kept in
 * r->fds for the message they belong to, or closed beyond KT_CTL_FDS_MAX.
 */
static ssize_t recv_fds(struct kt_ctl_reader *r, int fd, size_t want)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * KT_CTL_FDS_MAX)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = r->buf + r->len, .iov_len = want };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const uint8_t *data = CMSG_DATA(cm);
		for (size_t i = 0; i < k; i++) {
			int got;
			memcpy(&got, data + i * sizeof(int), sizeof(int));
			if (r->n_fds < KT_CTL_FDS_MAX)
				r->fds[r->n_fds++] = got;
			else
				close(got);
		}
	}
	return n;
}

int kt_ctl_reader_fill(struct kt_ctl_reader *r, int fd)
{
	bool got = false;
	for (;;) {
		/* Read no further than the end of the message: the next one waits in the socket. */
		size_t want = missing(r);
		if (want == 0)
			return 1;
		if (reserve(r, want))
			return -1;
		ssize_t n = recv_fds(r, fd, want);
		if (n > 0) {
			r->len += (size_t)n;
			got = true;
			continue;
		}
		if (n == 0) {
			errno = r->len ? EPROTO : 0;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return got ? 1 : 0;
		return -1;
	}
}

int kt_ctl_reader_next(struct kt_ctl_reader *r, kt_ctl_msg **out, char *err, size_t errlen)
{
	drop_msg(r);
	/* what the message handed out last carried and its reader did not take */
	close_fds(r, r->fds_handed);
	r->fds_handed = 0;
	if (r->len < LEN_BYTES)
		return 0;
	size_t n = kt_be32(r->buf);
	if (n > KT_CONTROL_MSG_MAX) {
		snprintf(err, errlen, "a message of %zu bytes announced: more than %u", n,
			 KT_CONTROL_MSG_MAX);
		return -1;
	}
	if (r->len < LEN_BYTES + n)
		return 0;
	r->budget.used = 0;
	r->budget.hit = false;
	r->msg = katatrace__control__v1__message__unpack(&r->alloc, n, r->buf + LEN_BYTES);
	memmove(r->buf, r->buf + LEN_BYTES + n, r->len - LEN_BYTES - n);
	r->len -= LEN_BYTES + n;
	if (!r->msg) {
		snprintf(err, errlen, "a message of %zu bytes that does not unpack%s", n,
			 r->budget.hit ? " within the memory allowed" : "");
		return -1;
	}
	if (r->msg->body_case == KATATRACE__CONTROL__V1__MESSAGE__BODY__NOT_SET) {
		snprintf(err, errlen, "a message without a body (unknown to this version?)");
		drop_msg(r);
		return -1;
	}
	*out = r->msg;
	r->fds_handed = r->n_fds;
	return 1;
}

int kt_ctl_recv(struct kt_ctl_reader *r, int fd, int timeout_ms, kt_ctl_msg **out, char *err,
		size_t errlen)
{
	uint64_t deadline = kt_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		int rc = kt_ctl_reader_next(r, out, err, errlen);
		if (rc)
			return rc;
		/* waits what is left of timeout_ms: none at all for 0, but looks once */
		uint64_t now = kt_mono_ns();
		int wait_ms = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int p = poll(&pf, 1, wait_ms);
		if (p < 0 && errno != EINTR) {
			snprintf(err, errlen, "%s", strerror(errno));
			return -1;
		}
		if (p == 0 && wait_ms == 0)
			return 0;
		if (p <= 0)
			continue;
		if (kt_ctl_reader_fill(r, fd) < 0) {
			snprintf(err, errlen, "%s", errno == EMSGSIZE ? "a message too large"
					     : errno ? strerror(errno)
						     : "the other side closed the connection");
			if (!errno)
				errno = EPIPE;
			return -1;
		}
	}
}

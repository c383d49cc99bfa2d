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

static int send_msg(int fd, const kt_ctl_msg *m, bool wait, char *err, size_t errlen)
{
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
	int rc = write_all(fd, buf, LEN_BYTES + n, wait);
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

void kt_ctl_reader_free(struct kt_ctl_reader *r)
{
	drop_msg(r);
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
		ssize_t n = recv(fd, r->buf + r->len, want, MSG_DONTWAIT);
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

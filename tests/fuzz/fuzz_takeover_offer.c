/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Takeover, the new daemon's side (kt_takeover_receive,
 * user/daemon/takeover.c): what an old daemon writes after the ask, from
 * hostile bytes, over a real unix socketpair.
 *
 * The input: 8 bytes of plan, then the bytes the old daemon writes, read
 * as length-prefixed control messages (a 4-byte big-endian length, then
 * the packed Message) as far as they go. Message i (i < 8) carries
 * plan[i] % 8 descriptors (SCM_RIGHTS, with its first bytes), whatever it
 * is; what does not parse as a frame is written as it is. The writing end
 * is closed after the last byte, so that the reader sees the end at once
 * and never waits for KT_TAKEOVER_REPLY_MS.
 *
 * Always: no crash, no leak (LSan), no descriptor left open; received, the
 * handover holds at most what the offer may announce, each entry a valid
 * descriptor of a known kind with bpf.fd the same, labels and names
 * NUL-terminated, the state a whole number of well-formed records or not
 * (both are the caller's to judge) within KT_TAKEOVER_STATE_MAX; refused,
 * the handover is empty and its socket closed. A probe's state (PROBE) is
 * within KT_TAKEOVER_PROBE_STATE_MAX, and a control server given it with a
 * connection (kt_control_adopt_probe) serves it or refuses it, taking the
 * connection only when it serves it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/byte_order.h"
#include "daemon/control_server.h"
#include "daemon/takeover.h"
#include "fuzz_check.h"
#include "tests/unit/fd_count.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PLAN 8
/* What fits a unix socket's buffer at once, so that one thread writes it all before reading. */
#define INPUT_MAX (64u << 10)
#define FDS_PER_MSG 8

static int devnull = -1;

static int count_fds(void)
{
	int n = fd_count();
	CHECK(n >= 0);
	return n;
}

/* Writes n bytes without waiting, with k descriptors on the first of them; false when the socket is full. */
static bool put(int fd, const uint8_t *p, size_t n, size_t k)
{
	int fds[FDS_PER_MSG];
	for (size_t i = 0; i < k; i++)
		fds[i] = devnull;
	while (n) {
		union {
			char b[CMSG_SPACE(sizeof(int) * FDS_PER_MSG)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = (void *)p, .iov_len = n };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (k) {
			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.b;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * k);
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * k);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * k);
		}
		ssize_t w = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
		k = 0; /* sent with the first bytes */
	}
	return true;
}

static void check_received(const struct kt_handover *h)
{
	CHECK(h->n_fds <= KT_TAKEOVER_FDS_MAX);
	CHECK(h->n_fds <= h->cap_fds || h->n_fds == 0);
	CHECK(h->state_len <= KT_TAKEOVER_STATE_MAX);
	CHECK(h->state_len <= h->state_cap || h->state_len == 0);
	CHECK(h->state_len == 0 || h->state != NULL);
	for (size_t i = 0; i < h->n_fds; i++) {
		const struct kt_handed *e = &h->fds[i];
		CHECK((unsigned)e->kind <= KT_HANDED_PROBE);
		CHECK(e->kind == KT_HANDED_PROBE ? e->probe && e->probe_len <= KT_TAKEOVER_PROBE_STATE_MAX
						 : e->probe == NULL);
		CHECK(e->fd >= 0);
		CHECK(fcntl(e->fd, F_GETFD) >= 0);
		CHECK(e->bpf.fd == e->fd);
		CHECK(memchr(e->label, '\0', sizeof(e->label)) != NULL);
		CHECK(memchr(e->bpf.object, '\0', sizeof(e->bpf.object)) != NULL);
		CHECK(memchr(e->bpf.name, '\0', sizeof(e->bpf.name)) != NULL);
		CHECK(memchr(e->bpf.strategy, '\0', sizeof(e->bpf.strategy)) != NULL);
		for (size_t j = 0; j < i; j++)
			CHECK(h->fds[j].fd != e->fd);
	}
}

/* Each probe's state, given to a control server with a connection of its own. */
static void adopt_probes(const struct kt_handover *h)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	CHECK(epfd >= 0);
	struct kt_control *c = kt_control_new(&(struct kt_control_cfg){ .epfd = epfd });
	CHECK(c != NULL);
	size_t served = 0;
	for (size_t i = 0; i < h->n_fds; i++) {
		const struct kt_handed *e = &h->fds[i];
		if (e->kind != KT_HANDED_PROBE)
			continue;
		int sv[2];
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
		char err[256];
		err[0] = '\0';
		if (kt_control_adopt_probe(c, sv[0], e->probe, e->probe_len, err, sizeof(err)) == 0) {
			served++;
		} else {
			CHECK(err[0] != '\0');
			CHECK(fcntl(sv[0], F_GETFD) >= 0); /* still the caller's */
			close(sv[0]);
		}
		close(sv[1]);
	}
	/* a state without a hello is a connection served from its first message: no probe yet */
	CHECK(kt_control_probes(c) <= served);
	kt_control_free(c);
	close(epfd);
}

static void count_rec(void *ctx, const void *rec, size_t size)
{
	(void)rec;
	*(size_t *)ctx += 4 + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < PLAN || size > INPUT_MAX)
		return 0;
	if (devnull < 0) {
		devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		CHECK(devnull >= 0);
	}
	const uint8_t *plan = data;
	data += PLAN;
	size -= PLAN;
	int before = count_fds();

	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	int buf = 1 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	size_t off = 0;
	bool whole = true;
	for (size_t i = 0; off < size && whole; i++) {
		size_t n = size - off;
		if (n >= 4) {
			size_t len = kt_be32(data + off);
			if (len <= n - 4)
				n = 4 + len;
		}
		size_t k = i < PLAN ? plan[i] % FDS_PER_MSG : 0;
		whole = put(sv[1], data + off, n, k);
		off += n;
	}
	close(sv[1]); /* the reader sees the end after the last byte */

	struct kt_handover out;
	char err[512];
	err[0] = '\0';
	int rc = kt_takeover_receive(sv[0], &out, err, sizeof(err));
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc == 0) {
		CHECK(out.sock == sv[0]);
		check_received(&out);
		adopt_probes(&out);
		size_t walked = 0, bad = 0;
		if (kt_handover_each_record(&out, count_rec, &walked, &bad) == 0)
			CHECK(walked == out.state_len);
		else
			CHECK(bad == walked && bad < out.state_len);
		kt_handover_free(&out, true);
	} else {
		CHECK(rc == -1);
		CHECK(err[0] != '\0');
		CHECK(out.sock == -1 && out.n_fds == 0 && out.fds == NULL && out.state == NULL);
	}
	CHECK(out.sock == -1);
	CHECK(fcntl(sv[0], F_GETFD) == -1); /* the handover's, closed with it */
	CHECK(count_fds() == before);
	return 0;
}

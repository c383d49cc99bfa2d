/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/sd_notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/fd_io.h"

/* The first descriptor systemd passes (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START 3
/* More than any store this daemon asks for (FileDescriptorStoreMax=). */
#define LISTEN_FDS_MAX 65536

bool kt_sd_notify_available(void)
{
	const char *p = getenv("NOTIFY_SOCKET");
	return p && (p[0] == '/' || p[0] == '@');
}

int kt_sd_notify(const char *state, int fd)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t plen = path ? strlen(path) : 0;
	if (!plen || plen >= sizeof(a.sun_path) || (path[0] != '/' && path[0] != '@')) {
		errno = ENOENT;
		return -1;
	}
	memcpy(a.sun_path, path, plen);
	if (a.sun_path[0] == '@')
		a.sun_path[0] = '\0'; /* an abstract socket */
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct iovec iov = { .iov_base = (void *)state, .iov_len = strlen(state) };
	union {
		char b[KT_FDS_CTL_SPACE(1)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_name = &a,
			     .msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen),
			     .msg_iov = &iov,
			     .msg_iovlen = 1 };
	kt_fds_attach(&mh, ctl.b, &fd, fd >= 0 ? 1 : 0);
	ssize_t w = sendmsg(s, &mh, MSG_NOSIGNAL);
	int e = errno;
	close(s);
	errno = e;
	return w < 0 ? -1 : 0;
}

int kt_sd_store_fd(int fd, const char *name)
{
	char state[320];
	/*
	 * FDPOLL=0: systemd otherwise drops a stored descriptor that reports
	 * EPOLLHUP or EPOLLERR. Every BPF map but the ring buffer reports
	 * EPOLLERR to epoll, and a connection whose peer hangs up while the
	 * daemon is away reports EPOLLHUP (its last bytes would go with it);
	 * kept, the next start adopts the maps and reads the bytes and the end.
	 */
	snprintf(state, sizeof(state), "FDSTORE=1\nFDNAME=%s\nFDPOLL=0", name);
	return kt_sd_notify(state, fd);
}

struct kt_sd_fd *kt_sd_listen_fds(size_t *n)
{
	*n = 0;
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	struct kt_sd_fd *out = NULL;
	char *end;
	if (!pid || !fds || strtol(pid, &end, 10) != (long)getpid() || *end)
		goto done;
	long count = strtol(fds, &end, 10);
	if (*end || count <= 0 || count > LISTEN_FDS_MAX)
		goto done;
	out = calloc((size_t)count, sizeof(*out));
	if (!out)
		goto done;
	const char *p = names ? names : "";
	for (long i = 0; i < count; i++) {
		int fd = LISTEN_FDS_START + (int)i;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		out[i].fd = fd;
		size_t len = strcspn(p, ":");
		snprintf(out[i].name, sizeof(out[i].name), "%.*s", (int)(len < 255 ? len : 255), p);
		p += len + (p[len] == ':');
	}
	*n = (size_t)count;
done:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return out;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "capture/listen_sock.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <unistd.h>

/* A socket file nobody listens on is left over from a previous run. */
static int remove_stale(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	int e = errno;
	close(fd);
	if (r == 0)
		return -EADDRINUSE;
	if (e != ECONNREFUSED)
		return -e;
	return unlink(path) ? -errno : 0;
}

/* Binds and listens at path, replacing a stale socket file; the fd or -1 with why. */
static int bind_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t n = strlen(path);

	if (n >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "socket path %s is longer than %zu bytes", path,
			 sizeof(a.sun_path) - 1);
		return -1;
	}
	int r = remove_stale(path);
	if (r == -EADDRINUSE) {
		snprintf(err, errlen,
			 "%s is in use by another listener (a kata-trace-forwarder?); stop it or run "
			 "with --mode tap to capture beside it",
			 path);
		return -1;
	}
	if (r) {
		snprintf(err, errlen, "cannot use %s: %s", path, strerror(-r));
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memcpy(a.sun_path, path, n + 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128)) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int kt_listen_unix(const char *path, char *err, size_t errlen)
{
	int fd = bind_unix(path, err, errlen);
	if (fd < 0)
		return -1;
	/*
	 * The hypervisor connects as the owner of the sandbox directory (e.g. a
	 * jailer uid): hand the socket to that owner rather than to the world.
	 */
	char dir[PATH_MAX];
	struct stat st;
	snprintf(dir, sizeof(dir), "%s", path);
	if (stat(dirname(dir), &st) == 0 && chown(path, st.st_uid, st.st_gid) == 0)
		chmod(path, 0660);
	return fd;
}

int kt_listen_unix_private(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	/* Its own directory, root's alone, made if missing (its parent must exist). */
	if (mkdir(dirname(dir), 0700) && errno != EEXIST) {
		snprintf(err, errlen, "cannot make the directory of %s: %s", path, strerror(errno));
		return -1;
	}
	mode_t old = umask(0177); /* never reachable by others, even for an instant */
	int fd = bind_unix(path, err, errlen);
	umask(old);
	if (fd >= 0 && (chown(path, geteuid(), getegid()) || chmod(path, 0600))) {
		snprintf(err, errlen, "cannot make %s root's alone: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

int kt_listen_vsock(unsigned cid, unsigned port, char *err, size_t errlen)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "no AF_VSOCK on this host (%s)", strerror(e));
		errno = e;
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128)) {
		int e = errno;
		close(fd);
		if (e == EADDRINUSE)
			snprintf(err, errlen,
				 "vsock port %u is in use by another listener (a kata-trace-forwarder?)",
				 port);
		else
			snprintf(err, errlen, "cannot listen on vsock port %u: %s", port,
				 strerror(e));
		errno = e;
		return -1;
	}
	return fd;
}

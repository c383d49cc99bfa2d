/* SPDX-License-Identifier: Apache-2.0 */
#include "base/safe_open.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int kt_open_beneath(int rootfd, const char *rel, int flags)
{
	static bool no_openat2;
	flags |= O_NOFOLLOW | O_CLOEXEC;
	if (!rel[0])
		return openat(rootfd, ".", flags);
	if (!no_openat2) {
		struct open_how how = {
			.flags = (uint64_t)flags,
			.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
		};
		long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return (int)fd;
		no_openat2 = true; /* old kernel, or a seccomp filter without it */
	}
	/* one component at a time, none of them a symbolic link */
	int dir = rootfd;
	char comp[NAME_MAX + 1];
	for (;;) {
		size_t n = strcspn(rel, "/");
		if (n == 0 || n > NAME_MAX || (n <= 2 && strncmp(rel, "..", n) == 0)) {
			if (dir != rootfd)
				close(dir);
			errno = EINVAL;
			return -1;
		}
		memcpy(comp, rel, n);
		comp[n] = '\0';
		bool last = rel[n] == '\0';
		int fd = openat(dir, comp, last ? flags : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int saved = errno;
		if (dir != rootfd)
			close(dir);
		errno = saved;
		if (fd < 0 || last)
			return fd;
		dir = fd;
		rel += n + 1;
	}
}

char *kt_read_regular(int fd, size_t max, size_t *len, const char **why)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return NULL;
	}
	if ((uint64_t)st.st_size > max) {
		*why = "larger than the limit";
		return NULL;
	}
	/* one byte more than stat says, to see a file that grows meanwhile */
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf) {
		*why = "out of memory";
		return NULL;
	}
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*why = strerror(errno);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == cap) {
		*why = "changed while being read";
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

char *kt_read_beneath(int rootfd, const char *rel, size_t max, size_t *len, const char **why)
{
	*why = NULL;
	int fd = kt_open_beneath(rootfd, rel, O_RDONLY | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			*why = errno == ELOOP ? "a symbolic link on the way" : strerror(errno);
		return NULL;
	}
	char *buf = kt_read_regular(fd, max, len, why);
	close(fd);
	return buf;
}

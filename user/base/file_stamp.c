/* SPDX-License-Identifier: Apache-2.0 */
#include "base/file_stamp.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/safe_open.h"

void kt_file_stamp_of(const struct stat *st, struct kt_file_stamp *s)
{
	memset(s, 0, sizeof(*s));
	if (!S_ISREG(st->st_mode))
		return;
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->size = (uint64_t)st->st_size;
	s->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	s->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

void kt_file_stamp_get(int rootfd, const char *rel, struct kt_file_stamp *s)
{
	struct stat st;
	int fd = kt_open_beneath(rootfd, rel, O_PATH);
	memset(s, 0, sizeof(*s));
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0)
		kt_file_stamp_of(&st, s);
	close(fd);
}

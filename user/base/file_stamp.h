/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File stamps: whether a file's content may have changed, from stat alone,
 * so that a file is read again only when it did.
 *
 * Takes: a stat, or a directory descriptor and a path below it (opened with
 * kt_open_beneath: no symbolic link followed). Gives: a plain struct that
 * compares as bytes (memcmp): device, inode, size, mtime and ctime of a
 * regular file; all zero for anything else or nothing.
 */
#ifndef KT_FILE_STAMP_H
#define KT_FILE_STAMP_H

#include <stdint.h>
#include <sys/stat.h>

/* Identity of a file's content as far as stat tells; all zero: absent. */
struct kt_file_stamp {
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
};

/* The stamp of regular file rel below rootfd (zero if absent or not a regular file). */
void kt_file_stamp_get(int rootfd, const char *rel, struct kt_file_stamp *st);
/* The same from a stat. */
void kt_file_stamp_of(const struct stat *st, struct kt_file_stamp *s);

#endif

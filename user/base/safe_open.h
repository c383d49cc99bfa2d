/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening and reading files below a directory without following symbolic
 * links, for a privileged process reading paths others can write.
 *
 * Takes: a directory descriptor and a path relative to it (no leading '/'),
 * or a descriptor already open. Gives: a descriptor reached through no
 * symbolic link and never above the directory (openat2 RESOLVE_NO_SYMLINKS |
 * RESOLVE_BENEATH; one O_NOFOLLOW component at a time where the kernel or a
 * seccomp filter refuses openat2), and the whole content of a regular file
 * up to a limit, NUL-terminated. FIFOs and devices are refused without
 * blocking (O_NONBLOCK), a file that grows while it is read is refused.
 */
#ifndef KT_SAFE_OPEN_H
#define KT_SAFE_OPEN_H

#include <stddef.h>

/*
 * Opens rel (relative to the directory rootfd, without a leading '/'; ""
 * is rootfd itself) following no symbolic link on the way. flags as for
 * openat (O_PATH, O_RDONLY, O_DIRECTORY...); O_NOFOLLOW and O_CLOEXEC are
 * added. Returns the descriptor, or -1 with errno.
 */
int kt_open_beneath(int rootfd, const char *rel, int flags);

/*
 * Reads regular file fd (at most max bytes) into a NUL-terminated buffer
 * the caller frees; *len its length. NULL with the reason in *why (static
 * text) when it is not a regular file, is larger than max, changed while
 * being read, or on an error.
 */
char *kt_read_regular(int fd, size_t max, size_t *len, const char **why);

/*
 * Opens rel below rootfd (kt_open_beneath, non-blocking) and reads it
 * (kt_read_regular). NULL with *why NULL when it is absent (ENOENT,
 * ENOTDIR), else with the reason in *why.
 */
char *kt_read_beneath(int rootfd, const char *rel, size_t max, size_t *len, const char **why);

#endif

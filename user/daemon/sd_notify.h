/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two halves of systemd's protocol the daemon speaks, without
 * libsystemd (sd_notify(3), sd_listen_fds(3)): notification datagrams to
 * $NOTIFY_SOCKET, here to keep descriptors in the service's file
 * descriptor store (FDSTORE=1, FileDescriptorStoreMax=), and the
 * descriptors systemd passes back to the next start ($LISTEN_PID,
 * $LISTEN_FDS, $LISTEN_FDNAMES, from descriptor 3 on).
 */
#ifndef KT_SD_NOTIFY_H
#define KT_SD_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

/* Started by systemd with a notification socket. */
bool kt_sd_notify_available(void);
/*
 * Sends the state text (e.g. "READY=1"), with fd attached unless -1.
 * 0, or -1 with errno (no $NOTIFY_SOCKET: ENOENT).
 */
int kt_sd_notify(const char *state, int fd);
/* Keeps fd in the store under name (FDSTORE=1, FDNAME=name). */
int kt_sd_store_fd(int fd, const char *name);

/* A descriptor systemd passed at start, with its name. */
struct kt_sd_fd {
	int fd;
	char name[256];
};

/*
 * The descriptors passed to this process (close-on-exec set, the LISTEN_*
 * variables removed); NULL with *n 0 when there are none. free() it.
 */
struct kt_sd_fd *kt_sd_listen_fds(size_t *n);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small descriptor chores done the same way everywhere: writing a buffer
 * whole, and attaching descriptors to a message (SCM_RIGHTS) for
 * sendmsg(2).
 */
#ifndef KT_FD_IO_H
#define KT_FD_IO_H

#include <stddef.h>
#include <sys/socket.h>

/* Writes n bytes of p to a blocking fd (retrying EINTR). 0, or -1 with errno. */
int kt_write_all(int fd, const void *p, size_t n);

/*
 * Room for n descriptors' control message: a buffer of KT_FDS_CTL_SPACE(n)
 * bytes, aligned as struct cmsghdr.
 */
#define KT_FDS_CTL_SPACE(n) CMSG_SPACE(sizeof(int) * (n))
/*
 * Attaches fds[0..n) to mh, its control message built in ctl (at least
 * KT_FDS_CTL_SPACE(n) bytes, zeroed here). n == 0: no control message.
 */
void kt_fds_attach(struct msghdr *mh, void *ctl, const int *fds, size_t n);

#endif

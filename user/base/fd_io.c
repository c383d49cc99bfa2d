/* SPDX-License-Identifier: Apache-2.0 */
#include "base/fd_io.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

int kt_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

void kt_fds_attach(struct msghdr *mh, void *ctl, const int *fds, size_t n)
{
	if (!n) {
		mh->msg_control = NULL;
		mh->msg_controllen = 0;
		return;
	}
	memset(ctl, 0, KT_FDS_CTL_SPACE(n));
	mh->msg_control = ctl;
	mh->msg_controllen = KT_FDS_CTL_SPACE(n);
	struct cmsghdr *cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
}

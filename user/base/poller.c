/* SPDX-License-Identifier: Apache-2.0 */
#include "base/poller.h"

#include <errno.h>
#include <stddef.h>
#include <sys/epoll.h>

int kt_poll_add(int epfd, int fd, struct kt_poll_handler *h)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = h };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

void kt_poll_del(int epfd, int fd)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

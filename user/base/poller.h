/* SPDX-License-Identifier: Apache-2.0 */
/* epoll dispatch: each registered fd carries the handler to call. */
#ifndef KT_POLLER_H
#define KT_POLLER_H

#include <stdint.h>

struct kt_poll_handler {
	void (*fn)(struct kt_poll_handler *h, uint32_t events);
};

/* EPOLLIN registration; returns 0 or -errno. */
int kt_poll_add(int epfd, int fd, struct kt_poll_handler *h);
void kt_poll_del(int epfd, int fd);

#endif

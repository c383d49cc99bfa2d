/* SPDX-License-Identifier: Apache-2.0 */
#include "sink.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <unistd.h>

#include "log.h"
#include "pipeline.h"
#include "poller.h"

#define READ_BUF (64u << 10)

struct sink_listener;

struct sink_conn {
	struct kt_poll_handler h; /* first: the epoll cookie */
	struct kt_sink *sink;
	struct sink_conn *prev, *next;
	int fd;
	struct kt_conn *pc; /* pipeline connection when feeding */
	char label[KT_PATH_MAX]; /* the listener's, which may go first */
};

struct sink_listener {
	struct kt_poll_handler h;
	struct kt_sink *sink;
	struct sink_listener *next;
	uint64_t key;
	int fd;
	bool vsock;
	unsigned port;
	char label[KT_PATH_MAX]; /* unix path, or "vsock port N" */
};

struct kt_sink {
	struct kt_sink_cfg cfg;
	int epfd;
	struct kt_pipeline *p;
	struct sink_listener *listeners;
	size_t n_listeners;
	struct sink_conn *conns;
	size_t n_conns;
	uint64_t next_id;
	uint8_t *buf;
};

static void conn_close(struct sink_conn *c)
{
	struct kt_sink *s = c->sink;

	kt_poll_del(s->epfd, c->fd);
	close(c->fd);
	if (c->pc)
		kt_pipeline_close(s->p, c->pc);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	free(c);
}

static void on_conn(struct kt_poll_handler *h, uint32_t events)
{
	struct sink_conn *c = (struct sink_conn *)h;
	struct kt_sink *s = c->sink;
	(void)events;

	/* Bounded per wakeup so one busy peer cannot starve the others. */
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(c->fd, s->buf, READ_BUF);
		if (n > 0) {
			if (c->pc)
				kt_pipeline_feed(s->p, c->pc, s->buf, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0)
			kt_debug("sink %s: read: %s", c->label, strerror(errno));
		conn_close(c);
		return;
	}
}

static void peer_comm(pid_t pid, char *out, size_t n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(out, (int)n, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

static void on_listener(struct kt_poll_handler *h, uint32_t events)
{
	struct sink_listener *l = (struct sink_listener *)h;
	struct kt_sink *s = l->sink;
	(void)events;

	for (;;) {
		struct sockaddr_vm vm = { 0 };
		socklen_t alen = sizeof(vm);
		int fd = accept4(l->fd, l->vsock ? (struct sockaddr *)&vm : NULL,
				 l->vsock ? &alen : NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				kt_warn("sink %s: accept: %s", l->label, strerror(errno));
			return;
		}
		struct sink_conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->h.fn = on_conn;
		c->sink = s;
		c->fd = fd;
		memcpy(c->label, l->label, sizeof(c->label));
		struct ucred cred = { 0 };
		socklen_t cl = sizeof(cred);
		if (!l->vsock)
			getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
		if (s->cfg.feed && l->vsock) {
			struct kt_conn_info info = {
				.id = { .a = (uint64_t)vm.svm_cid << 32 | vm.svm_port,
					.b = l->port,
					.transport = KT_TRANSPORT_VSOCK },
				.transport = "vsock",
			};
			c->pc = kt_pipeline_open(s->p, &info);
		} else if (s->cfg.feed) {
			char comm[32];
			peer_comm(cred.pid, comm, sizeof(comm));
			/* High bit: never equal to a kernel socket inode. */
			struct kt_conn_info info = {
				.id = { .a = (1ull << 63) | ++s->next_id,
					.transport = KT_TRANSPORT_UNIX },
				.path = l->label,
				.pid = (uint32_t)cred.pid,
				.comm = comm,
				.transport = "hybrid-vsock",
			};
			c->pc = kt_pipeline_open(s->p, &info);
		}
		if (kt_poll_add(s->epfd, fd, &c->h)) {
			close(fd);
			if (c->pc)
				kt_pipeline_close(s->p, c->pc);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
		if (l->vsock)
			kt_debug("sink %s: connection from cid %u port %u", l->label, vm.svm_cid,
				 vm.svm_port);
		else
			kt_debug("sink %s: connection from pid %d", l->label, (int)cred.pid);
	}
}

struct kt_sink *kt_sink_new(const struct kt_sink_cfg *cfg, int epfd, struct kt_pipeline *p)
{
	struct kt_sink *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->epfd = epfd;
	s->p = p;
	s->buf = malloc(READ_BUF);
	if (!s->buf) {
		free(s);
		return NULL;
	}
	return s;
}

int kt_sink_add_listener(struct kt_sink *s, int fd, uint64_t key, const char *label, bool vsock,
			 unsigned port)
{
	struct sink_listener *l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return -1;
	}
	l->h.fn = on_listener;
	l->sink = s;
	l->key = key;
	l->fd = fd;
	l->vsock = vsock;
	l->port = port;
	snprintf(l->label, sizeof(l->label), "%s", label);
	if (kt_poll_add(s->epfd, fd, &l->h)) {
		kt_err("sink %s: cannot poll the listener", l->label);
		close(fd);
		free(l);
		return -1;
	}
	l->next = s->listeners;
	s->listeners = l;
	s->n_listeners++;
	kt_info("sink: listening on %s", l->label);
	return 0;
}

static void listener_free(struct kt_sink *s, struct sink_listener *l)
{
	kt_poll_del(s->epfd, l->fd);
	close(l->fd);
	free(l);
	s->n_listeners--;
}

void kt_sink_remove_listener(struct kt_sink *s, uint64_t key)
{
	for (struct sink_listener **pp = &s->listeners; *pp; pp = &(*pp)->next) {
		struct sink_listener *l = *pp;
		if (l->key != key)
			continue;
		/* Connections already accepted drain on: the agent's last spans. */
		on_listener(&l->h, 0);
		kt_info("sink: no longer listening on %s", l->label);
		*pp = l->next;
		listener_free(s, l);
		return;
	}
}

size_t kt_sink_listeners(const struct kt_sink *s)
{
	return s ? s->n_listeners : 0;
}

size_t kt_sink_connections(const struct kt_sink *s)
{
	return s ? s->n_conns : 0;
}

void kt_sink_stop(struct kt_sink *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	while (s->listeners) {
		struct sink_listener *l = s->listeners;
		s->listeners = l->next;
		listener_free(s, l);
	}
	free(s->buf);
	free(s);
}

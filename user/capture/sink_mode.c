/* SPDX-License-Identifier: Apache-2.0 */
#include "capture/sink_mode.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <unistd.h>

#include "base/clock.h"
#include "stream/conn_limits.h"
#include "base/diag.h"
#include "stream/pipeline.h"
#include "base/poller.h"
#include "base/stats.h"

#define READ_BUF (64u << 10)

struct sink_listener;

struct sink_conn {
	struct kt_poll_handler h; /* first: the epoll cookie */
	struct kt_sink *sink;
	struct sink_conn *prev, *next;
	int fd;
	struct kt_conn *pc; /* pipeline connection when feeding */
	uint64_t group;     /* conn_limits.h: its listener (a sandbox) or guest CID */
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
	bool paused; /* handing over: neither accepting nor reading */
	struct kt_pipeline *p;
	struct sink_listener *listeners;
	size_t n_listeners;
	struct sink_conn *conns;
	size_t n_conns;
	uint64_t next_id;
	uint8_t *buf;
	struct kt_conn_limits limits;
	struct kt_diag_limit refusal_log;
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
	kt_conn_limits_put(&s->limits, c->group);
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

static void refused(struct kt_sink *s, const struct sink_listener *l, enum kt_conn_admit a,
		    unsigned cid)
{
	uint64_t held_back;
	KT_STAT_INC(sink_refused);
	if (!kt_diag_limit_pass(&s->refusal_log, kt_mono_ns(), &held_back))
		return;
	char from[32] = "", more[64] = "";
	if (l->vsock)
		snprintf(from, sizeof(from), " from cid %u", cid);
	if (held_back)
		snprintf(more, sizeof(more), " (%llu more refused since the last message)",
			 (unsigned long long)held_back);
	kt_warn("sink %s: connection%s closed: %s (%zu) reached%s", l->label, from,
		kt_conn_admit_reason(a),
		a == KT_CONN_OVER_TOTAL ? s->limits.max_total : s->limits.max_per_group, more);
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
		/* Beyond the caps the peer is hung up on: a guest cannot pile up connections. */
		char key[32];
		snprintf(key, sizeof(key), "cid:%u", vm.svm_cid);
		uint64_t group = kt_conn_group(l->vsock ? key : l->label);
		enum kt_conn_admit a = kt_conn_limits_take(&s->limits, group);
		if (a != KT_CONN_ADMITTED) {
			close(fd);
			refused(s, l, a, l->vsock ? vm.svm_cid : 0);
			continue;
		}
		struct sink_conn *c = calloc(1, sizeof(*c));
		if (!c) {
			kt_conn_limits_put(&s->limits, group);
			close(fd);
			continue;
		}
		c->group = group;
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
				.id = { .endpoint = (uint64_t)vm.svm_cid << 32 | vm.svm_port,
					.port = l->port,
					.transport = KT_TRANSPORT_VSOCK },
				.transport = "vsock",
			};
			c->pc = kt_pipeline_open(s->p, &info);
		} else if (s->cfg.feed) {
			char comm[32];
			peer_comm(cred.pid, comm, sizeof(comm));
			/* High bit: never equal to a kernel socket inode. */
			struct kt_conn_info info = {
				.id = { .endpoint = (1ull << 63) | ++s->next_id,
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
			kt_conn_limits_put(&s->limits, group);
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
	s->refusal_log.interval_ns = KT_REFUSAL_LOG_NS;
	s->buf = malloc(READ_BUF);
	if (!s->buf || kt_conn_limits_init(&s->limits, cfg->max_conns ? cfg->max_conns
								       : KT_DEFAULT_MAX_CONNECTIONS,
					    cfg->max_listener_conns
						    ? cfg->max_listener_conns
						    : KT_DEFAULT_MAX_SANDBOX_CONNECTIONS)) {
		free(s->buf);
		free(s);
		return NULL;
	}
	return s;
}

int kt_sink_add_listener(struct kt_sink *s, int fd, uint64_t key, const char *label, bool vsock,
			 unsigned port)
{
	/* a paused sink is being handed over: the new daemon's broker binds from now on */
	if (s->paused) {
		close(fd);
		return -1;
	}
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

/* The listeners and the sink itself (its connections gone already). */
static void sink_free(struct kt_sink *s)
{
	while (s->listeners) {
		struct sink_listener *l = s->listeners;
		s->listeners = l->next;
		listener_free(s, l);
	}
	kt_conn_limits_free(&s->limits);
	free(s->buf);
	free(s);
}

void kt_sink_stop(struct kt_sink *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	sink_free(s);
}

/* ------------------------------------------------------------ takeover */

int kt_sink_adopt_conn(struct kt_sink *s, int fd, const char *label, bool vsock)
{
	(void)vsock;
	struct sink_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -1;
	}
	/* handed over: it was admitted once, so it is not refused now */
	c->group = kt_conn_group(label);
	kt_conn_limits_take(&s->limits, c->group);
	c->h.fn = on_conn;
	c->sink = s;
	c->fd = fd;
	snprintf(c->label, sizeof(c->label), "%s", label);
	if (kt_poll_add(s->epfd, fd, &c->h)) {
		kt_conn_limits_put(&s->limits, c->group);
		close(fd);
		free(c);
		return -1;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	return 0;
}

void kt_sink_pause(struct kt_sink *s, bool pause)
{
	if (!s || s->paused == pause)
		return;
	s->paused = pause;
	for (struct sink_listener *l = s->listeners; l; l = l->next)
		if (pause)
			kt_poll_del(s->epfd, l->fd);
		else if (kt_poll_add(s->epfd, l->fd, &l->h))
			kt_err("sink %s: cannot poll the listener again", l->label);
	for (struct sink_conn *c = s->conns; c; c = c->next)
		if (pause)
			kt_poll_del(s->epfd, c->fd);
		else if (kt_poll_add(s->epfd, c->fd, &c->h))
			kt_err("sink %s: cannot poll a connection again", c->label);
}

void kt_sink_each(const struct kt_sink *s, kt_sink_listener_fn on_listener_fd,
		  kt_sink_conn_fn on_conn_fd, void *ctx)
{
	if (!s)
		return;
	for (const struct sink_listener *l = s->listeners; l; l = l->next)
		on_listener_fd(ctx, l->fd, l->label, l->vsock, l->port);
	for (const struct sink_conn *c = s->conns; c; c = c->next)
		on_conn_fd(ctx, c->fd, c->label);
}

void kt_sink_let_go(struct kt_sink *s)
{
	if (!s)
		return;
	/* this process's references only: the peers keep their connections */
	while (s->conns) {
		struct sink_conn *c = s->conns;
		s->conns = c->next;
		kt_poll_del(s->epfd, c->fd);
		close(c->fd);
		free(c);
	}
	s->n_conns = 0;
	sink_free(s);
}

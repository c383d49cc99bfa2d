/* SPDX-License-Identifier: Apache-2.0 */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
	struct sink_listener *l;
	struct sink_conn *prev, *next;
	int fd;
	struct kt_conn *pc; /* pipeline connection when feeding */
};

struct sink_listener {
	struct kt_poll_handler h;
	struct kt_sink *sink;
	int fd;
	bool vsock;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix path, or a label */
};

struct kt_sink {
	struct kt_sink_cfg cfg;
	int epfd;
	struct kt_pipeline *p;
	struct sink_listener *listeners;
	size_t n_listeners;
	struct sink_listener vsock;
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
			kt_debug("sink %s: read: %s", c->l->path, strerror(errno));
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
				kt_warn("sink %s: accept: %s", l->path, strerror(errno));
			return;
		}
		struct sink_conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->h.fn = on_conn;
		c->sink = s;
		c->l = l;
		c->fd = fd;
		struct ucred cred = { 0 };
		socklen_t cl = sizeof(cred);
		if (!l->vsock)
			getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl);
		if (s->cfg.feed && l->vsock) {
			struct kt_conn_info info = {
				.id = { .a = (uint64_t)vm.svm_cid << 32 | vm.svm_port,
					.b = s->cfg.port,
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
				.path = l->path,
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
			kt_debug("sink %s: connection from cid %u port %u", l->path, vm.svm_cid,
				 vm.svm_port);
		else
			kt_debug("sink %s: connection from pid %d", l->path, (int)cred.pid);
	}
}

/* A socket file nobody listens on is left over from a previous run. */
static int remove_stale(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	int e = errno;
	close(fd);
	if (r == 0)
		return -EADDRINUSE;
	if (e != ECONNREFUSED)
		return -e;
	return unlink(path) ? -errno : 0;
}

static int listen_on(struct kt_sink *s, struct sink_listener *l, const char *base)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int n = snprintf(l->path, sizeof(l->path), "%s_%u", base, s->cfg.port);
	if (n < 0 || (size_t)n >= sizeof(l->path)) {
		kt_err("sink: socket path %s_%u is longer than %zu bytes", base, s->cfg.port,
		       sizeof(l->path) - 1);
		return -1;
	}
	int err = remove_stale(l->path);
	if (err == -EADDRINUSE) {
		kt_err("sink: %s is in use by another listener (a kata-trace-forwarder?); "
		       "stop it or run with --mode tap to capture beside it",
		       l->path);
		return -1;
	}
	if (err) {
		kt_err("sink: cannot use %s: %s", l->path, strerror(-err));
		return -1;
	}
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memcpy(a.sun_path, l->path, (size_t)n + 1);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(l->fd, 128)) {
		kt_err("sink: cannot listen on %s: %s", l->path, strerror(errno));
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
		return -1;
	}
	/*
	 * The hypervisor connects as the owner of the sandbox directory (e.g. a
	 * jailer uid): hand the socket to that owner rather than to the world.
	 */
	char dir[sizeof(l->path)];
	struct stat st;
	memcpy(dir, l->path, (size_t)n + 1);
	if (stat(dirname(dir), &st) == 0 && chown(l->path, st.st_uid, st.st_gid) == 0)
		chmod(l->path, 0660);
	l->h.fn = on_listener;
	l->sink = s;
	if (kt_poll_add(s->epfd, l->fd, &l->h)) {
		close(l->fd);
		unlink(l->path);
		l->fd = -1;
		return -1;
	}
	kt_info("sink: listening on %s", l->path);
	return 0;
}

/* 0: listening; 1: skipped (said why); -1: error. */
static int listen_vsock(struct kt_sink *s, struct sink_listener *l)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = s->cfg.vsock_cid,
				 .svm_port = s->cfg.port };
	if (s->cfg.vsock_cid == VMADDR_CID_ANY)
		snprintf(l->path, sizeof(l->path), "vsock port %u", s->cfg.port);
	else
		snprintf(l->path, sizeof(l->path), "vsock cid %u port %u", s->cfg.vsock_cid,
			 s->cfg.port);
	l->vsock = true;
	l->fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		kt_log(s->cfg.vsock_required ? KT_LOG_ERROR : KT_LOG_INFO,
		       "sink: no AF_VSOCK on this host (%s): not listening on %s", strerror(errno),
		       l->path);
		return s->cfg.vsock_required ? -1 : 1;
	}
	if (bind(l->fd, (struct sockaddr *)&a, sizeof(a)) || listen(l->fd, 128)) {
		int e = errno;
		close(l->fd);
		l->fd = -1;
		if (e == EADDRINUSE && !s->cfg.vsock_required) {
			kt_warn("sink: %s is in use by another listener (a kata-trace-forwarder?): "
				"capturing beside it",
				l->path);
			return 1;
		}
		kt_log(s->cfg.vsock_required ? KT_LOG_ERROR : KT_LOG_WARN,
		       "sink: cannot listen on %s: %s", l->path, strerror(e));
		return s->cfg.vsock_required ? -1 : 1;
	}
	l->h.fn = on_listener;
	l->sink = s;
	if (kt_poll_add(s->epfd, l->fd, &l->h)) {
		close(l->fd);
		l->fd = -1;
		return -1;
	}
	kt_info("sink: listening on %s", l->path);
	return 0;
}

struct kt_sink *kt_sink_start(const struct kt_sink_cfg *cfg, int epfd, struct kt_pipeline *p)
{
	struct kt_sink *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->epfd = epfd;
	s->p = p;
	s->buf = malloc(READ_BUF);
	s->listeners = calloc(cfg->n_paths ? cfg->n_paths : 1, sizeof(*s->listeners));
	if (!s->buf || !s->listeners)
		goto fail;
	s->vsock.fd = -1;
	for (size_t i = 0; i < cfg->n_paths; i++) {
		s->listeners[i].fd = -1;
		if (listen_on(s, &s->listeners[i], cfg->socket_paths[i]))
			goto fail;
		s->n_listeners++;
	}
	if (cfg->vsock && listen_vsock(s, &s->vsock) < 0)
		goto fail;
	return s;
fail:
	kt_sink_stop(s);
	return NULL;
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
	for (size_t i = 0; i < s->n_listeners; i++) {
		struct sink_listener *l = &s->listeners[i];
		if (l->fd >= 0) {
			kt_poll_del(s->epfd, l->fd);
			close(l->fd);
			unlink(l->path);
		}
	}
	if (s->vsock.fd >= 0) {
		kt_poll_del(s->epfd, s->vsock.fd);
		close(s->vsock.fd);
	}
	free(s->listeners);
	free(s->buf);
	free(s);
}

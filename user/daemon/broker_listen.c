/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/broker_listen.h"

#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/listen_sock.h"
#include "base/diag.h"

struct kt_bound {
	struct kt_bound *next;
	uint64_t key;
	int fd;       /* our copy of the listener */
	bool vsock;
	bool control;
	unsigned port; /* vsock */
	dev_t dev;    /* the socket file as bound: only that one is removed */
	ino_t ino;
	char path[KT_PATH_MAX];
};

void kt_listeners_init(struct kt_listeners *l, unsigned vsock_cid,
		       const struct kt_listener_ops *ops, void *ctx)
{
	memset(l, 0, sizeof(*l));
	l->vsock_cid = vsock_cid;
	l->ops = ops;
	l->ctx = ctx;
}

static struct kt_bound *find(struct kt_listeners *l, const char *path)
{
	for (struct kt_bound *b = l->bound; b; b = b->next)
		if (!b->vsock && strcmp(b->path, path) == 0)
			return b;
	return NULL;
}

/* Removes the socket file only if it is still the one we bound. */
static void unlink_ours(const struct kt_bound *b)
{
	struct stat ps;
	if (b->vsock || lstat(b->path, &ps) != 0)
		return;
	if (S_ISSOCK(ps.st_mode) && ps.st_dev == b->dev && ps.st_ino == b->ino)
		unlink(b->path);
}

/* Keeps a listener just bound (fd) in the set; NULL (fd closed, err said) without memory. */
static struct kt_bound *keep(struct kt_listeners *l, int fd, const char *path, bool vsock,
			     char *err, size_t errlen)
{
	struct kt_bound *b = calloc(1, sizeof(*b));
	if (!b) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	b->key = ++l->next_key;
	b->fd = fd;
	b->vsock = vsock;
	snprintf(b->path, sizeof(b->path), "%s", path);
	struct stat st;
	if (!vsock && lstat(path, &st) == 0) {
		b->dev = st.st_dev;
		b->ino = st.st_ino;
	}
	b->next = l->bound;
	l->bound = b;
	return b;
}

static struct kt_bound *find_vsock(struct kt_listeners *l, unsigned port)
{
	for (struct kt_bound *b = l->bound; b; b = b->next)
		if (b->vsock && b->port == port)
			return b;
	return NULL;
}

int kt_listeners_bind(struct kt_listeners *l, const char *path, bool vsock, unsigned port,
		      char *err, size_t errlen)
{
	if (vsock ? find_vsock(l, port) != NULL : find(l, path) != NULL)
		return 0;
	int fd = vsock ? kt_listen_vsock(l->vsock_cid, port, err, errlen)
		       : kt_listen_unix(path, err, errlen);
	if (fd < 0)
		return -1;
	struct kt_bound *b = keep(l, fd, path, vsock, err, errlen);
	if (!b)
		return -1;
	b->port = port;
	l->ops->announce(l->ctx, b->key, fd, path, vsock, port);
	return 0;
}

int kt_listeners_adopt(struct kt_listeners *l, int fd, const char *path, bool vsock,
		       unsigned port, bool control, char *err, size_t errlen)
{
	if (vsock ? find_vsock(l, port) != NULL : find(l, path) != NULL) {
		close(fd);
		snprintf(err, errlen, "%s handed over twice", path);
		return -1;
	}
	struct kt_bound *b = keep(l, fd, path, vsock, err, errlen);
	if (!b)
		return -1;
	b->port = port;
	b->control = control;
	if (control)
		l->ops->announce_control(l->ctx, fd, path);
	else
		l->ops->announce(l->ctx, b->key, fd, path, vsock, port);
	return 0;
}

bool kt_listeners_have_control(const struct kt_listeners *l)
{
	for (const struct kt_bound *b = l->bound; b; b = b->next)
		if (b->control)
			return true;
	return false;
}

void kt_listeners_forget(struct kt_listeners *l)
{
	while (l->bound) {
		struct kt_bound *b = l->bound;
		l->bound = b->next;
		close(b->fd);
		free(b);
	}
}

int kt_listeners_bind_control(struct kt_listeners *l, const char *path, char *err, size_t errlen)
{
	if (find(l, path)) {
		snprintf(err, errlen, "%s is a listener already", path);
		return -1;
	}
	int fd = kt_listen_unix_private(path, err, errlen);
	if (fd < 0)
		return -1;
	struct kt_bound *b = keep(l, fd, path, false, err, errlen);
	if (!b)
		return -1;
	b->control = true;
	l->ops->announce_control(l->ctx, fd, path);
	return 0;
}

void kt_listeners_unbind(struct kt_listeners *l, const char *path)
{
	for (struct kt_bound **pp = &l->bound; *pp; pp = &(*pp)->next) {
		struct kt_bound *b = *pp;
		if (b->vsock || strcmp(b->path, path) != 0)
			continue;
		l->ops->withdraw(l->ctx, b->key);
		unlink_ours(b);
		close(b->fd);
		*pp = b->next;
		free(b);
		return;
	}
}

int kt_listeners_start(struct kt_listeners *l, const struct kt_broker_cfg *cfg, char *err,
		       size_t errlen)
{
	for (size_t i = 0; i < cfg->n_paths; i++) {
		char path[KT_PATH_MAX + 16];
		snprintf(path, sizeof(path), "%s_%u", cfg->socket_paths[i], cfg->port);
		if (strlen(path) >= KT_PATH_MAX) {
			snprintf(err, errlen, "socket path %s is longer than %d bytes", path,
				 KT_PATH_MAX - 1);
			return -1;
		}
		if (kt_listeners_bind(l, path, false, cfg->port, err, errlen))
			return -1;
	}
	unsigned ports[3] = { cfg->port, cfg->jaeger_port, cfg->journal_port };
	for (int i = 0; cfg->vsock && i < 3; i++) {
		char label[64];
		if (!ports[i])
			continue;
		if (cfg->vsock_cid == VMADDR_CID_ANY)
			snprintf(label, sizeof(label), "vsock port %u", ports[i]);
		else
			snprintf(label, sizeof(label), "vsock cid %u port %u", cfg->vsock_cid,
				 ports[i]);
		if (kt_listeners_bind(l, label, true, ports[i], err, errlen)) {
			/* --vsock-cid makes the agent's port a must, not the legacy one */
			if (cfg->vsock_required && i == 0)
				return -1;
			kt_diag(errno == EADDRINUSE ? KT_LOG_WARN : KT_LOG_INFO,
			       "sink: %s: not listening on %s%s", err, label,
			       errno == EADDRINUSE ? " (capturing beside it)" : "");
		}
	}
	return 0;
}

void kt_listeners_free(struct kt_listeners *l)
{
	while (l->bound) {
		struct kt_bound *b = l->bound;
		l->bound = b->next;
		unlink_ours(b);
		close(b->fd);
		free(b);
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/broker.h"

#include <errno.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "capture/capture.h"
#include "base/clock.h"
#include "capture/listen_sock.h"
#include "base/log.h"
#include "daemon/privdrop.h"
#include "sandbox/hypervisors.h"

#define READY_TIMEOUT_MS 30000
#define OWNER_TIMEOUT_MS 2000
#define STASH_MAX 4096
#define STOP_TIMEOUT_MS 5000

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

enum msg_type {
	/* broker -> daemon */
	M_READY = 1,
	M_FATAL,
	M_LISTEN,
	M_UNLISTEN,
	M_SANDBOX,
	M_GONE,
	M_COUNTERS,
	M_OWNER,
	/* daemon -> broker */
	M_WANT_COUNTERS = 64,
	M_QUIT,
	M_WANT_OWNER,
};

/* One fixed-size message per SOCK_SEQPACKET datagram; fds ride along. */
struct msg {
	uint32_t type;
	uint32_t vsock; /* LISTEN: a vsock listener; OWNER: something was found */
	uint32_t port;  /* LISTEN: its vsock port */
	uint32_t cid;   /* WANT_OWNER: the guest CID asked about */
	uint64_t key;
	char text[KT_PATH_MAX + 256]; /* label, sandbox id or error */
	uint64_t counters[KT_CNT__MAX];
	struct kt_sandbox_meta meta;
};

/* A message that arrived while waiting for an answer, kept for later. */
struct stashed {
	struct stashed *next;
	int fd;
	struct msg m;
};

struct kt_broker {
	int sock;
	pid_t pid;
	const struct kt_broker_ops *ops;
	void *ctx;
	struct msg m;
	struct stashed *stash, **stash_tail;
	size_t n_stash;
	uint64_t next_query;
};

/* ------------------------------------------------------------ transport */

static int send_msg(int sock, const struct msg *m, int fd)
{
	struct iovec iov = { (void *)m, sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*m) ? 0 : -1;
}

/* 1: a message (fd -1 or the fd it carried); 0: none waiting; -1: peer gone. */
static int recv_msg(int sock, struct msg *m, int *fd, int flags)
{
	struct iovec iov = { m, sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	*fd = -1;
	ssize_t n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (n == 0)
		return -1;
	if (n != (ssize_t)sizeof(*m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		m->type = 0; /* ignored */
	}
	return 1;
}

/* ------------------------------------------------------------ the broker process */

struct bound {
	struct bound *next;
	uint64_t key;
	int fd;       /* our copy of the listener */
	bool vsock;
	dev_t dev;    /* the socket file as bound: only that one is removed */
	ino_t ino;
	char path[KT_PATH_MAX];
};

struct child {
	const struct kt_broker_cfg *cfg;
	int sock, ep;
	struct kt_discovery *disc;
	struct bound *bound;
	uint64_t next_key;
	bool quit;
	struct msg m;
};

static void say(struct child *c, enum msg_type type, uint64_t key, const char *text, int fd)
{
	memset(&c->m, 0, sizeof(c->m));
	c->m.type = type;
	c->m.key = key;
	if (text)
		snprintf(c->m.text, sizeof(c->m.text), "%s", text);
	if (send_msg(c->sock, &c->m, fd))
		c->quit = true; /* the daemon is gone */
}

static struct bound *bound_find(struct child *c, const char *path)
{
	for (struct bound *b = c->bound; b; b = b->next)
		if (!b->vsock && strcmp(b->path, path) == 0)
			return b;
	return NULL;
}

/*
 * Removes the socket file only if it is still the one we bound (a new
 * sandbox or another listener may have replaced it since).
 */
static void unlink_ours(const struct bound *b)
{
	struct stat ps;
	if (b->vsock || lstat(b->path, &ps) != 0)
		return;
	if (S_ISSOCK(ps.st_mode) && ps.st_dev == b->dev && ps.st_ino == b->ino)
		unlink(b->path);
}

static int bind_and_send(struct child *c, const char *path, bool vsock, unsigned port, char *err,
			 size_t errlen)
{
	if (!vsock && bound_find(c, path))
		return 0;
	int fd = vsock ? kt_listen_vsock(c->cfg->vsock_cid, port, err, errlen)
		       : kt_listen_unix(path, err, errlen);
	if (fd < 0)
		return -1;
	struct bound *b = calloc(1, sizeof(*b));
	if (!b) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	b->key = ++c->next_key;
	b->fd = fd;
	b->vsock = vsock;
	snprintf(b->path, sizeof(b->path), "%s", path);
	struct stat st;
	if (!vsock && lstat(path, &st) == 0) {
		b->dev = st.st_dev;
		b->ino = st.st_ino;
	}
	b->next = c->bound;
	c->bound = b;
	memset(&c->m, 0, sizeof(c->m));
	c->m.type = M_LISTEN;
	c->m.key = b->key;
	c->m.vsock = vsock;
	c->m.port = port;
	snprintf(c->m.text, sizeof(c->m.text), "%s", path);
	if (send_msg(c->sock, &c->m, fd))
		c->quit = true;
	return 0;
}

static void unbind(struct child *c, const char *path)
{
	for (struct bound **pp = &c->bound; *pp; pp = &(*pp)->next) {
		struct bound *b = *pp;
		if (b->vsock || strcmp(b->path, path) != 0)
			continue;
		say(c, M_UNLISTEN, b->key, NULL, -1);
		unlink_ours(b);
		close(b->fd);
		*pp = b->next;
		free(b);
		return;
	}
}

static void unbind_all(struct child *c)
{
	while (c->bound) {
		struct bound *b = c->bound;
		c->bound = b->next;
		unlink_ours(b);
		close(b->fd);
		free(b);
	}
}

static void on_discovery(const struct kt_disc_event *e, void *ctx)
{
	struct child *c = ctx;
	char err[KT_PATH_MAX + 200];

	switch (e->type) {
	case KT_DISC_SANDBOX_UP:
	case KT_DISC_SANDBOX_UPDATE:
		memset(&c->m, 0, sizeof(c->m));
		c->m.type = M_SANDBOX;
		c->m.meta = e->meta;
		if (send_msg(c->sock, &c->m, -1))
			c->quit = true;
		break;
	case KT_DISC_SANDBOX_DOWN:
		say(c, M_GONE, 0, e->meta.id, -1);
		break;
	case KT_DISC_LISTEN:
		if (c->cfg->sink && bind_and_send(c, e->path, false, e->port, err, sizeof(err)))
			kt_warn("sandbox %s: %s", e->meta.id, err);
		break;
	case KT_DISC_UNLISTEN:
		if (c->cfg->sink)
			unbind(c, e->path);
		break;
	}
}

static void answer(struct child *c)
{
	struct msg in;
	int fd;
	for (;;) {
		int r = recv_msg(c->sock, &in, &fd, MSG_DONTWAIT);
		if (fd >= 0)
			close(fd);
		if (r == 0)
			return;
		if (r < 0) {
			c->quit = true;
			return;
		}
		if (in.type == M_WANT_COUNTERS) {
			memset(&c->m, 0, sizeof(c->m));
			c->m.type = M_COUNTERS;
			if (c->cfg->capture && kt_capture_counters(c->cfg->capture, c->m.counters) == 0 &&
			    send_msg(c->sock, &c->m, -1))
				c->quit = true;
		} else if (in.type == M_WANT_OWNER) {
			struct kt_vsock_owner o;
			in.text[sizeof(in.text) - 1] = '\0';
			bool found = kt_vsock_owner_lookup(in.cid, in.text[0] ? in.text : NULL,
							   c->cfg->run_root, "/proc", &o);
			memset(&c->m, 0, sizeof(c->m));
			c->m.type = M_OWNER;
			c->m.key = in.key;
			c->m.vsock = found;
			c->m.meta.hypervisor_pid = o.pid;
			snprintf(c->m.meta.id, sizeof(c->m.meta.id), "%s", o.sandbox);
			snprintf(c->m.meta.hypervisor, sizeof(c->m.meta.hypervisor), "%s",
				 o.hypervisor ? o.hypervisor : "");
			snprintf(c->m.text, sizeof(c->m.text), "%s", o.comm);
			if (send_msg(c->sock, &c->m, -1))
				c->quit = true;
		} else if (in.type == M_QUIT) {
			c->quit = true;
			return;
		}
	}
}

static int child_setup(struct child *c)
{
	char err[KT_PATH_MAX + 200];
	const struct kt_broker_cfg *cfg = c->cfg;

	if (cfg->sink) {
		for (size_t i = 0; i < cfg->n_paths; i++) {
			char path[KT_PATH_MAX + 16];
			snprintf(path, sizeof(path), "%s_%u", cfg->socket_paths[i], cfg->port);
			if (strlen(path) >= KT_PATH_MAX) {
				snprintf(err, sizeof(err), "socket path %s is longer than %d bytes", path,
					 KT_PATH_MAX - 1);
				goto fatal;
			}
			if (bind_and_send(c, path, false, cfg->port, err, sizeof(err)))
				goto fatal;
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
			if (bind_and_send(c, label, true, ports[i], err, sizeof(err))) {
				/* --vsock-cid makes the agent's port a must, not the legacy one */
				if (cfg->vsock_required && i == 0)
					goto fatal;
				kt_log(errno == EADDRINUSE ? KT_LOG_WARN : KT_LOG_INFO,
				       "sink: %s: not listening on %s%s", err, label,
				       errno == EADDRINUSE ? " (capturing beside it)" : "");
			}
		}
	}
	if (cfg->discover) {
		char why[200];
		c->disc = kt_discovery_new(cfg->discovery, on_discovery, c, why, sizeof(why));
		if (!c->disc) {
			snprintf(err, sizeof(err), "sandbox discovery: %s", why);
			goto fatal;
		}
		kt_discovery_scan(c->disc);
	}
	say(c, M_READY, 0, NULL, -1);
	return 0;
fatal:
	say(c, M_FATAL, 0, err, -1);
	return -1;
}

static void child_loop(struct child *c)
{
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	int sfd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = { { 1, 0 }, { 1, 0 } };
	timerfd_settime(tfd, 0, &its, NULL);
	struct pollfd pf[4] = {
		{ .fd = c->sock, .events = POLLIN },
		{ .fd = tfd, .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = c->disc ? kt_discovery_fd(c->disc) : -1, .events = POLLIN },
	};
	while (!c->quit) {
		if (poll(pf, 4, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			answer(c);
		if (pf[2].revents)
			break;
		if (pf[3].revents)
			kt_discovery_dispatch(c->disc);
		if (pf[1].revents) {
			uint64_t n;
			if (read(tfd, &n, sizeof(n)) == sizeof(n)) {
				if (c->disc)
					kt_discovery_tick(c->disc, kt_mono_ns());
				if (c->cfg->capture)
					kt_capture_tick(c->cfg->capture, kt_mono_ns());
			}
		}
	}
}

static void child_main(const struct kt_broker_cfg *cfg, int sock)
{
	static const int keep[] = { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_CHOWN, CAP_FOWNER,
				    CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SYS_RESOURCE,
				    CAP_SYSLOG };
	struct child c = { .cfg = cfg, .sock = sock };
	char err[256];

	prctl(PR_SET_NAME, "katatrace-brokr", 0, 0, 0);
	if (geteuid() == 0 && kt_keep_only_caps(keep, sizeof(keep) / sizeof(keep[0]), err,
						sizeof(err)))
		kt_warn("broker: %s", err);
	if (child_setup(&c) == 0)
		child_loop(&c);
	unbind_all(&c);
	kt_discovery_free(c.disc);
	close(sock);
}

/* ------------------------------------------------------------ the daemon side */

static int deliver(struct kt_broker *b, int fd)
{
	const struct msg *m = &b->m;
	switch (m->type) {
	case M_LISTEN:
		if (fd < 0)
			return 0;
		b->ops->listen(b->ctx, m->key, fd, m->text, m->vsock, m->port);
		return 0;
	case M_UNLISTEN:
		b->ops->unlisten(b->ctx, m->key);
		break;
	case M_SANDBOX:
		b->ops->sandbox(b->ctx, &m->meta);
		break;
	case M_GONE:
		b->ops->sandbox_gone(b->ctx, m->text);
		break;
	case M_COUNTERS:
		b->ops->counters(b->ctx, m->counters);
		break;
	case M_FATAL:
		kt_err("%s", m->text);
		break;
	default:
		break;
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

static void reap(struct kt_broker *b)
{
	if (b->pid > 0) {
		for (int i = 0; i < STOP_TIMEOUT_MS / 10; i++) {
			pid_t r = waitpid(b->pid, NULL, WNOHANG);
			if (r == b->pid || (r < 0 && errno == ECHILD))
				break;
			usleep(10000);
		}
		b->pid = 0;
	}
}

struct kt_broker *kt_broker_start(const struct kt_broker_cfg *cfg, const struct kt_broker_ops *ops,
				  void *ctx)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		kt_err("broker: socketpair: %s", strerror(errno));
		return NULL;
	}
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		kt_err("broker: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		/* Never outlive the daemon: it is the one that asks us to clean up. */
		prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
		if (getppid() == parent)
			child_main(cfg, sv[1]);
		_exit(0);
	}
	close(sv[1]);
	struct kt_broker *b = calloc(1, sizeof(*b));
	if (!b) {
		close(sv[0]);
		return NULL;
	}
	b->sock = sv[0];
	b->pid = pid;
	b->stash_tail = &b->stash;
	b->ops = ops;
	b->ctx = ctx;
	/* Until READY: the start-up listeners and the sandboxes running now. */
	uint64_t deadline = kt_mono_ns() + READY_TIMEOUT_MS * 1000000ull;
	for (;;) {
		int fd;
		struct pollfd pf = { .fd = b->sock, .events = POLLIN };
		uint64_t now = kt_mono_ns();
		if (now >= deadline || poll(&pf, 1, (int)((deadline - now) / 1000000)) == 0) {
			kt_err("broker: not ready after %d s", READY_TIMEOUT_MS / 1000);
			break;
		}
		int r = recv_msg(b->sock, &b->m, &fd, 0);
		if (r < 0) {
			kt_err("broker: exited during start-up");
			break;
		}
		if (r == 0)
			continue;
		if (b->m.type == M_READY)
			return b;
		deliver(b, fd);
		if (b->m.type == M_FATAL)
			break;
	}
	kt_broker_stop(b);
	return NULL;
}

int kt_broker_fd(const struct kt_broker *b)
{
	return b->sock;
}

int kt_broker_pid(const struct kt_broker *b)
{
	return b ? b->pid : 0;
}

int kt_broker_dispatch(struct kt_broker *b)
{
	while (b->stash) {
		struct stashed *st = b->stash;
		b->stash = st->next;
		if (!b->stash)
			b->stash_tail = &b->stash;
		b->n_stash--;
		b->m = st->m;
		deliver(b, st->fd);
		free(st);
	}
	for (int i = 0; i < 64; i++) {
		int fd;
		int r = recv_msg(b->sock, &b->m, &fd, MSG_DONTWAIT);
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		deliver(b, fd);
	}
	return 0;
}

static void stash(struct kt_broker *b, int fd)
{
	struct stashed *st = b->n_stash < STASH_MAX ? malloc(sizeof(*st)) : NULL;
	if (!st) {
		/* Cannot keep it: deliver now rather than lose a listener. */
		deliver(b, fd);
		return;
	}
	st->next = NULL;
	st->fd = fd;
	st->m = b->m;
	*b->stash_tail = st;
	b->stash_tail = &st->next;
	b->n_stash++;
}

bool kt_broker_owner(struct kt_broker *b, uint32_t cid, const char *writer_comm,
		     struct kt_vsock_owner *out)
{
	memset(out, 0, sizeof(*out));
	if (!b || b->sock < 0)
		return false;
	uint64_t q = ++b->next_query;
	memset(&b->m, 0, sizeof(b->m));
	b->m.type = M_WANT_OWNER;
	b->m.key = q;
	b->m.cid = cid;
	if (writer_comm)
		snprintf(b->m.text, sizeof(b->m.text), "%s", writer_comm);
	if (send_msg(b->sock, &b->m, -1))
		return false;
	uint64_t deadline = kt_mono_ns() + OWNER_TIMEOUT_MS * 1000000ull;
	for (;;) {
		int fd;
		struct pollfd pf = { .fd = b->sock, .events = POLLIN };
		uint64_t now = kt_mono_ns();
		if (now >= deadline || poll(&pf, 1, (int)((deadline - now) / 1000000)) <= 0) {
			kt_warn("broker: no answer about guest CID %u", cid);
			return false;
		}
		int r = recv_msg(b->sock, &b->m, &fd, MSG_DONTWAIT);
		if (r < 0)
			return false;
		if (r == 0)
			continue;
		if (b->m.type != M_OWNER || b->m.key != q) {
			stash(b, fd);
			continue;
		}
		if (fd >= 0)
			close(fd);
		struct kt_sandbox_meta *m = &b->m.meta;
		m->id[sizeof(m->id) - 1] = '\0';
		m->hypervisor[sizeof(m->hypervisor) - 1] = '\0';
		out->pid = m->hypervisor_pid;
		memcpy(out->comm, b->m.text, sizeof(out->comm) - 1);
		out->comm[sizeof(out->comm) - 1] = '\0';
		/* a static string, as kt_vsock_owner.hypervisor must be */
		out->hypervisor = kt_hv_of_kata_type(m->hypervisor);
		if (kt_sandbox_id_valid(m->id, strlen(m->id)))
			snprintf(out->sandbox, sizeof(out->sandbox), "%s", m->id);
		return b->m.vsock != 0;
	}
}

void kt_broker_request_counters(struct kt_broker *b)
{
	struct msg *m = &b->m;
	memset(m, 0, sizeof(*m));
	m->type = M_WANT_COUNTERS;
	send_msg(b->sock, m, -1);
}

void kt_broker_stop(struct kt_broker *b)
{
	if (!b)
		return;
	if (b->sock >= 0) {
		kt_broker_request_counters(b);
		memset(&b->m, 0, sizeof(b->m));
		b->m.type = M_QUIT;
		send_msg(b->sock, &b->m, -1);
		/* Deliver what it still says (the counters) until it hangs up. */
		uint64_t deadline = kt_mono_ns() + STOP_TIMEOUT_MS * 1000000ull;
		for (;;) {
			int fd;
			struct pollfd pf = { .fd = b->sock, .events = POLLIN };
			uint64_t now = kt_mono_ns();
			if (now >= deadline || poll(&pf, 1, (int)((deadline - now) / 1000000)) <= 0)
				break;
			if (recv_msg(b->sock, &b->m, &fd, MSG_DONTWAIT) < 0)
				break;
			if (b->m.type == M_COUNTERS)
				deliver(b, fd);
			else if (fd >= 0)
				close(fd);
		}
		close(b->sock);
		b->sock = -1;
	}
	reap(b);
	while (b->stash) {
		struct stashed *st = b->stash;
		b->stash = st->next;
		if (st->fd >= 0)
			close(st->fd);
		free(st);
	}
	free(b);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/broker.h"

#include <errno.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/broker_discovery.h"
#include "daemon/broker_listen.h"
#include "daemon/broker_wire.h"
#include "daemon/privdrop.h"
#include "capture/capture.h"
#include "base/clock.h"
#include "base/diag.h"

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

/* A message that arrived while waiting for an answer, kept for later. */
struct stashed {
	struct stashed *next;
	int fd;
	struct kt_bmsg m;
};

struct kt_broker {
	int sock;
	pid_t pid;
	const struct kt_broker_ops *ops;
	void *ctx;
	struct kt_bmsg m;
	struct stashed *stash, **stash_tail;
	size_t n_stash;
	uint64_t next_query;
	/* paused: copies of the broker's vsock capture descriptors */
	struct kt_capture_handed *capture_fds;
	size_t n_capture_fds;
};

/* ------------------------------------------------------------ the broker process */

struct child {
	const struct kt_broker_cfg *cfg;
	struct kt_bchan ch; /* to the daemon */
	struct kt_listeners listeners;
	struct kt_broker_disc *disc;
	bool quit;
	bool paused;     /* takeover under way: nothing is discovered or attached */
	bool keep_files; /* handed over: the socket files stay */
};

static void announce(void *ctx, uint64_t key, int fd, const char *label, bool vsock, unsigned port)
{
	struct child *c = ctx;
	kt_bmsg_listen(&c->ch.m, key, label, vsock, port);
	kt_bchan_send(&c->ch, fd);
}

static void withdraw(void *ctx, uint64_t key)
{
	struct child *c = ctx;
	kt_bmsg_text(&c->ch.m, KT_BMSG_UNLISTEN, key, NULL);
	kt_bchan_send(&c->ch, -1);
}

static void announce_control(void *ctx, int fd, const char *path)
{
	struct child *c = ctx;
	kt_bmsg_text(&c->ch.m, KT_BMSG_CONTROL, 0, path);
	kt_bchan_send(&c->ch, fd);
}

static const struct kt_listener_ops listener_ops = { announce, withdraw, announce_control };

/* A descriptor of its vsock capture, for the daemon to hand over (PAUSE). */
static void send_capture_fd(void *ctx, const char *object, const char *name, const char *strategy,
			    int fd)
{
	struct child *c = ctx;
	char text[sizeof(((struct kt_capture_handed *)0)->object) +
		  sizeof(((struct kt_capture_handed *)0)->name) +
		  sizeof(((struct kt_capture_handed *)0)->strategy)];
	snprintf(text, sizeof(text), "%s\n%s\n%s", object, name, strategy);
	kt_bmsg_text(&c->ch.m, KT_BMSG_CAPTURE_FD, 0, text);
	kt_bchan_send(&c->ch, fd);
}

/* The daemon's requests. */
static void answer(struct child *c)
{
	struct kt_bmsg in;
	int fd;
	for (;;) {
		int r = kt_bmsg_recv(c->ch.sock, &in, &fd, MSG_DONTWAIT);
		if (fd >= 0)
			close(fd);
		if (r == 0)
			return;
		if (r < 0) {
			c->quit = true;
			return;
		}
		if (in.type == KT_BMSG_WANT_COUNTERS) {
			kt_bmsg_text(&c->ch.m, KT_BMSG_COUNTERS, 0, NULL);
			if (c->cfg->capture && kt_capture_counters(c->cfg->capture, c->ch.m.counters) == 0)
				kt_bchan_send(&c->ch, -1);
		} else if (in.type == KT_BMSG_WANT_OWNER) {
			struct kt_vsock_owner o;
			bool found = kt_vsock_owner_lookup(in.cid, kt_bmsg_writer_comm(&in),
							   c->cfg->run_root, "/proc", &o);
			kt_bmsg_owner(&c->ch.m, in.key, found, &o);
			kt_bchan_send(&c->ch, -1);
		} else if (in.type == KT_BMSG_QUIT || in.type == KT_BMSG_QUIT_KEEP) {
			c->keep_files = in.type == KT_BMSG_QUIT_KEEP;
			c->quit = true;
			return;
		} else if (in.type == KT_BMSG_PAUSE) {
			c->paused = true;
			/* the vsock capture is this process's: the daemon hands it on */
			kt_capture_each_vsock_fd(c->cfg->capture, send_capture_fd, c);
			kt_bmsg_text(&c->ch.m, KT_BMSG_PAUSED, 0, NULL);
			kt_bchan_send(&c->ch, -1);
		} else if (in.type == KT_BMSG_RESUME) {
			c->paused = false;
		}
	}
}

static int child_setup(struct child *c)
{
	char err[KT_PATH_MAX + 200];
	const struct kt_broker_cfg *cfg = c->cfg;

	/* Taken over: served before anything is bound, so nothing is bound twice. */
	for (size_t i = 0; i < cfg->n_adopted; i++) {
		const struct kt_adopted_listener *a = &cfg->adopted[i];
		if (kt_listeners_adopt(&c->listeners, a->fd, a->path, a->vsock, a->port, a->control,
				       err, sizeof(err)))
			kt_warn("takeover: %s", err);
	}
	if (cfg->sink && kt_listeners_start(&c->listeners, cfg, err, sizeof(err)))
		goto fatal;
	/* Without it the daemon works on; probes then export by themselves. */
	if (cfg->control_path && !kt_listeners_have_control(&c->listeners) &&
	    kt_listeners_bind_control(&c->listeners, cfg->control_path, err, sizeof(err)))
		kt_warn("control socket: %s: probes cannot export through this daemon", err);
	if (cfg->discover) {
		char why[200];
		c->disc = kt_broker_disc_start(cfg->discovery, cfg->sink, &c->listeners, &c->ch, why,
					       sizeof(why));
		if (!c->disc) {
			snprintf(err, sizeof(err), "sandbox discovery: %s", why);
			goto fatal;
		}
	}
	kt_bmsg_text(&c->ch.m, KT_BMSG_READY, 0, NULL);
	kt_bchan_send(&c->ch, -1);
	return 0;
fatal:
	kt_bmsg_text(&c->ch.m, KT_BMSG_FATAL, 0, err);
	kt_bchan_send(&c->ch, -1);
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
		{ .fd = c->ch.sock, .events = POLLIN },
		{ .fd = tfd, .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = c->disc ? kt_broker_disc_fd(c->disc) : -1, .events = POLLIN },
	};
	int disc_fd = pf[3].fd;
	while (!c->quit && !c->ch.broken) {
		/* paused: inotify's events wait in its queue */
		pf[3].fd = c->paused ? -1 : disc_fd;
		if (poll(pf, 4, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents) {
			answer(c);
			continue; /* paused or not, from now on */
		}
		if (pf[2].revents)
			break;
		if (pf[3].revents)
			kt_broker_disc_dispatch(c->disc);
		if (pf[1].revents) {
			uint64_t n;
			if (read(tfd, &n, sizeof(n)) == sizeof(n) && !c->paused) {
				if (c->disc)
					kt_broker_disc_tick(c->disc, kt_mono_ns());
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
	struct child c = { .cfg = cfg, .ch = { .sock = sock } };
	char err[256];

	for (size_t i = 0; i < cfg->n_not_inherited; i++)
		close(cfg->not_inherited[i]);
	kt_listeners_init(&c.listeners, cfg->vsock_cid, &listener_ops, &c);
	prctl(PR_SET_NAME, "katatrace-brokr", 0, 0, 0);
	kt_diag_set_component("broker"); /* its log lines (--log-format json) say who wrote them */
	if (geteuid() == 0 && kt_keep_only_caps(keep, sizeof(keep) / sizeof(keep[0]), err,
						sizeof(err)))
		kt_warn("broker: %s", err);
	if (child_setup(&c) == 0)
		child_loop(&c);
	if (c.keep_files)
		kt_listeners_forget(&c.listeners);
	else
		kt_listeners_free(&c.listeners);
	kt_broker_disc_free(c.disc);
	close(sock);
}

/* ------------------------------------------------------------ the daemon side */

static int deliver(struct kt_broker *b, int fd)
{
	const struct kt_bmsg *m = &b->m;
	switch (m->type) {
	case KT_BMSG_LISTEN:
		if (fd < 0)
			return 0;
		b->ops->listen(b->ctx, m->key, fd, m->text, m->vsock, m->port);
		return 0;
	case KT_BMSG_UNLISTEN:
		b->ops->unlisten(b->ctx, m->key);
		break;
	case KT_BMSG_CONTROL:
		if (fd < 0)
			return 0;
		b->ops->control(b->ctx, fd, m->text);
		return 0;
	case KT_BMSG_SANDBOX:
		b->ops->sandbox(b->ctx, &m->meta);
		break;
	case KT_BMSG_GONE:
		b->ops->sandbox_gone(b->ctx, m->text);
		break;
	case KT_BMSG_COUNTERS:
		b->ops->counters(b->ctx, m->counters);
		break;
	case KT_BMSG_FATAL:
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
		int r = kt_bmsg_recv(b->sock, &b->m, &fd, 0);
		if (r < 0) {
			kt_err("broker: exited during start-up");
			break;
		}
		if (r == 0)
			continue;
		if (b->m.type == KT_BMSG_READY)
			return b;
		deliver(b, fd);
		if (b->m.type == KT_BMSG_FATAL)
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

bool kt_broker_exit_text(struct kt_broker *b, char *buf, size_t n)
{
	int st = 0;
	pid_t r = 0;
	/* Its socket closes as it dies; its exit status follows within moments. */
	for (int i = 0; b->pid > 0 && i < STOP_TIMEOUT_MS / 10; i++) {
		r = waitpid(b->pid, &st, WNOHANG);
		if (r != 0)
			break;
		usleep(10000);
	}
	if (r > 0 && r == b->pid) {
		b->pid = 0; /* reaped */
		if (WIFSIGNALED(st)) {
			snprintf(buf, n, "was killed by signal %d (%s)", WTERMSIG(st),
				 strsignal(WTERMSIG(st)));
			return false;
		}
		snprintf(buf, n, "exited with status %d", WEXITSTATUS(st));
		return WEXITSTATUS(st) == 0;
	}
	snprintf(buf, n, "closed its socket");
	return false;
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
		int r = kt_bmsg_recv(b->sock, &b->m, &fd, MSG_DONTWAIT);
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
	kt_bmsg_want_owner(&b->m, q, cid, writer_comm);
	if (kt_bmsg_send(b->sock, &b->m, -1))
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
		int r = kt_bmsg_recv(b->sock, &b->m, &fd, MSG_DONTWAIT);
		if (r < 0)
			return false;
		if (r == 0)
			continue;
		if (b->m.type != KT_BMSG_OWNER || b->m.key != q) {
			stash(b, fd);
			continue;
		}
		if (fd >= 0)
			close(fd);
		return kt_bmsg_owner_decode(&b->m, out);
	}
}

static void drop_capture_fds(struct kt_broker *b)
{
	for (size_t i = 0; i < b->n_capture_fds; i++)
		close(b->capture_fds[i].fd);
	free(b->capture_fds);
	b->capture_fds = NULL;
	b->n_capture_fds = 0;
}

/* src into dst[n]; false when it does not fit. */
static bool copy_field(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);
	if (len >= n)
		return false;
	memcpy(dst, src, len + 1);
	return true;
}

/* CAPTURE_FD: "object\nname\nstrategy" with its descriptor, kept until the resume or the stop. */
static void keep_capture_fd(struct kt_broker *b, int fd)
{
	struct kt_capture_handed h = { .fd = fd };
	char *name = strchr(b->m.text, '\n');
	char *strategy = name ? strchr(name + 1, '\n') : NULL;
	bool ok = fd >= 0 && strategy;
	if (ok) {
		*name++ = '\0';
		*strategy++ = '\0';
		ok = copy_field(h.object, sizeof(h.object), b->m.text) &&
		     copy_field(h.name, sizeof(h.name), name) &&
		     copy_field(h.strategy, sizeof(h.strategy), strategy);
	}
	struct kt_capture_handed *more =
		ok ? realloc(b->capture_fds, (b->n_capture_fds + 1) * sizeof(*more)) : NULL;
	if (!more) {
		/* not handed over: the new daemon attaches vsock capture anew */
		kt_warn("broker: a vsock capture descriptor that cannot be kept (%s)",
			fd < 0 ? "none came" : ok ? strerror(ENOMEM) : "malformed");
		if (fd >= 0)
			close(fd);
		return;
	}
	b->capture_fds = more;
	b->capture_fds[b->n_capture_fds++] = h;
}

int kt_broker_pause(struct kt_broker *b, bool pause)
{
	if (!b || b->sock < 0)
		return -1;
	/* copies from an earlier pause: only the last one's are handed over */
	drop_capture_fds(b);
	/* what it announced before PAUSED is delivered first: no listener is left behind */
	if (pause)
		kt_broker_dispatch(b);
	kt_bmsg_text(&b->m, pause ? KT_BMSG_PAUSE : KT_BMSG_RESUME, 0, NULL);
	if (kt_bmsg_send(b->sock, &b->m, -1))
		return -1;
	if (!pause)
		return 0;
	/* then until PAUSED (read here, not by a dispatch, which would not know it) */
	uint64_t deadline = kt_mono_ns() + OWNER_TIMEOUT_MS * 1000000ull;
	for (;;) {
		int fd;
		struct pollfd pf = { .fd = b->sock, .events = POLLIN };
		uint64_t now = kt_mono_ns();
		if (now >= deadline || poll(&pf, 1, (int)((deadline - now) / 1000000)) <= 0)
			return -1;
		int r = kt_bmsg_recv(b->sock, &b->m, &fd, MSG_DONTWAIT);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		if (b->m.type == KT_BMSG_PAUSED) {
			if (fd >= 0)
				close(fd);
			return 0;
		}
		if (b->m.type == KT_BMSG_CAPTURE_FD) {
			keep_capture_fd(b, fd);
			continue;
		}
		deliver(b, fd);
	}
}

void kt_broker_capture_fds(const struct kt_broker *b, kt_capture_fd_fn fn, void *ctx)
{
	for (size_t i = 0; b && i < b->n_capture_fds; i++) {
		const struct kt_capture_handed *h = &b->capture_fds[i];
		fn(ctx, h->object, h->name, h->strategy, h->fd);
	}
}

void kt_broker_request_counters(struct kt_broker *b)
{
	kt_bmsg_text(&b->m, KT_BMSG_WANT_COUNTERS, 0, NULL);
	kt_bmsg_send(b->sock, &b->m, -1);
}

static void stop(struct kt_broker *b, enum kt_bmsg_type quit);

void kt_broker_stop(struct kt_broker *b)
{
	stop(b, KT_BMSG_QUIT);
}

void kt_broker_stop_handed(struct kt_broker *b)
{
	stop(b, KT_BMSG_QUIT_KEEP);
}

static void stop(struct kt_broker *b, enum kt_bmsg_type quit)
{
	if (!b)
		return;
	if (b->sock >= 0) {
		kt_broker_request_counters(b);
		kt_bmsg_text(&b->m, quit, 0, NULL);
		kt_bmsg_send(b->sock, &b->m, -1);
		/* Deliver what it still says (the counters) until it hangs up. */
		uint64_t deadline = kt_mono_ns() + STOP_TIMEOUT_MS * 1000000ull;
		for (;;) {
			int fd;
			struct pollfd pf = { .fd = b->sock, .events = POLLIN };
			uint64_t now = kt_mono_ns();
			if (now >= deadline || poll(&pf, 1, (int)((deadline - now) / 1000000)) <= 0)
				break;
			if (kt_bmsg_recv(b->sock, &b->m, &fd, MSG_DONTWAIT) < 0)
				break;
			if (b->m.type == KT_BMSG_COUNTERS)
				deliver(b, fd);
			else if (fd >= 0)
				close(fd);
		}
		close(b->sock);
		b->sock = -1;
	}
	reap(b);
	drop_capture_fds(b);
	while (b->stash) {
		struct stashed *st = b->stash;
		b->stash = st->next;
		if (st->fd >= 0)
			close(st->fd);
		free(st);
	}
	free(b);
}

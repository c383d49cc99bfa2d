/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/control_server.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capture/probe_capture.h"
#include "control/control_wire.h"
#include "control/records_in.h"
#include "model/attrs.h"
#include "sandbox/sandbox_path.h"
#include "base/clock.h"
#include "base/diag.h"
#include "base/pb_budget.h"
#include "base/poller.h"
#include "base/stats.h"
#include "base/utf8.h"

/* Limits of a Hello: what a probe may say about itself. */
#define HELLO_TEXT_MAX 1024
#define HELLO_PROBES_MAX 64
#define HELLO_RESOURCE_MAX 32
/* The words of `probe list` kept per probe. */
#define PROBES_TEXT_MAX 2048

typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;

enum role { ROLE_NEW, ROLE_PROBE };

struct conn {
	struct conn *next;
	struct kt_control *c;
	struct kt_poll_handler h;
	int fd;
	pid_t pid;
	enum role role;
	bool broken; /* an answer could not be written: closed at its next event */
	bool paused; /* a takeover: not read (out of the loop) */
	bool handed; /* ... and handed over: this daemon only drops its copy */
	struct kt_ctl_reader in;
	/* a probe's */
	uint64_t id;
	struct kt_origin *origin;
	char target[HELLO_TEXT_MAX + 1];
	char sandbox_id[KT_SANDBOX_ID_MAX + 1];
	char **probes;
	size_t n_probes;
	uint8_t *hello; /* packed, for a takeover */
	size_t hello_len;
	uint64_t started_unix_ns;
	uint64_t spans, logs, rejected;
};

struct kt_control {
	struct kt_control_cfg cfg;
	int listen_fd;
	char path[256];
	struct kt_poll_handler listen_h;
	struct conn *conns;
	size_t n_conns;
	uint64_t next_id;
	bool stopping;
};

struct kt_control *kt_control_new(const struct kt_control_cfg *cfg)
{
	struct kt_control *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->listen_fd = -1;
	return c;
}

static const char *who(const struct conn *k, char *buf, size_t n)
{
	if (k->role == ROLE_PROBE)
		snprintf(buf, n, "probe %llu (pid %d)", (unsigned long long)k->id, (int)k->pid);
	else
		snprintf(buf, n, "control connection of pid %d", (int)k->pid);
	return buf;
}

static void conn_close(struct conn *k)
{
	struct kt_control *c = k->c;
	for (struct conn **pp = &c->conns; *pp; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	}
	c->n_conns--;
	if (k->role == ROLE_PROBE)
		kt_info("probe %llu (pid %d) ended: %llu spans, %llu log records%s", (unsigned long long)k->id,
			(int)k->pid, (unsigned long long)k->spans, (unsigned long long)k->logs,
			k->rejected ? " (some rejected: see above)" : "");
	kt_poll_del(c->cfg.epfd, k->fd);
	close(k->fd);
	kt_ctl_reader_free(&k->in);
	if (k->origin)
		kt_origin_put(k->origin);
	for (size_t i = 0; i < k->n_probes; i++)
		free(k->probes[i]);
	free(k->probes);
	free(k->hello);
	free(k);
}

/* A connection whose peer broke the protocol: said, counted, closed. */
static void conn_fail(struct conn *k, const char *why)
{
	char w[64];
	if (!k->broken) {
		kt_warn("control socket: %s: %s: closed", who(k, w, sizeof(w)), why);
		KT_STAT_INC(control_errors);
	}
	conn_close(k);
}

/*
 * An answer, written at once. When it cannot be, the connection is broken:
 * shut down here and closed at its own next event (never by another's, whose
 * event may be waiting in the same batch).
 */
static bool reply(struct conn *k, const kt_ctl_msg *m)
{
	char err[128];
	if (k->broken)
		return false;
	if (kt_ctl_send_now(k->fd, m, err, sizeof(err)) == 0)
		return true;
	char w[64];
	kt_warn("control socket: %s: cannot answer (%s): closed", who(k, w, sizeof(w)),
		errno == EAGAIN ? "it does not read" : err);
	KT_STAT_INC(control_errors);
	k->broken = true;
	shutdown(k->fd, SHUT_RDWR);
	return false;
}

static bool reply_error(struct conn *k, const char *text)
{
	Katatrace__Control__V1__Error e = KATATRACE__CONTROL__V1__ERROR__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	e.message = (char *)text;
	m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_ERROR;
	m.error = &e;
	return reply(k, &m);
}

static bool utf8_text(const char *s, size_t max)
{
	size_t n = strlen(s);
	return n <= max && kt_utf8_check((const uint8_t *)s, n) == n;
}

/* Resource attributes the daemon sets itself. */
static bool daemon_key(struct kt_str key)
{
	return kt_str_eq(key, "service.name") || kt_str_eq(key, "katatrace.probe.id");
}

/* The probe's resource: what it said, its service, its id; NULL with why. */
static struct kt_origin *probe_origin(struct conn *k, const Katatrace__Control__V1__Hello *h,
				      const char **why)
{
	struct kt_arena a;
	struct kt_attrs b;
	struct kt_origin *o = NULL;
	kt_arena_init(&a, 64u << 10);
	if (!kt_attrs_init(&b, &a, HELLO_RESOURCE_MAX + 2)) {
		*why = strerror(ENOMEM);
		goto out;
	}
	const char *service = h->service_name[0] ? h->service_name : KT_PROBE_SERVICE_NAME;
	kt_attrs_copy(&b, "service.name", (struct kt_str){ service, strlen(service) });
	for (size_t i = 0; i < h->n_resource; i++) {
		const pb_kv *kv = h->resource[i];
		const Opentelemetry__Proto__Common__V1__AnyValue *v = kv->value;
		size_t kn = kv->key.len;
		if (!kn || memchr(kv->key.data, 0, kn) || kt_utf8_check(kv->key.data, kn) != kn || !v) {
			*why = "a resource attribute without a key or a value";
			goto out;
		}
		struct kt_str key = kt_attrs_dup(&b, (const char *)kv->key.data, kn);
		if (daemon_key(key))
			continue;
		struct kt_kvlist so_far = kt_attrs_list(&b);
		if (kt_kvlist_find(&so_far, key.ptr)) {
			*why = "a resource attribute named twice";
			goto out;
		}
		switch (v->value_case) {
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
			if (kt_utf8_check(v->string_value.data, v->string_value.len) != v->string_value.len) {
				*why = "a resource attribute that is not UTF-8";
				goto out;
			}
			kt_attrs_data_str(&b, key,
					  kt_attrs_dup(&b, (const char *)v->string_value.data,
						       v->string_value.len));
			break;
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
			kt_attrs_data_int(&b, key, v->int_value);
			break;
		default:
			*why = "a resource attribute that is neither a string nor an integer";
			goto out;
		}
	}
	kt_attrs_int(&b, "katatrace.probe.id", (int64_t)k->id);
	if (b.failed) {
		*why = "a resource too large";
		goto out;
	}
	struct kt_kvlist l = kt_attrs_list(&b);
	char label[64];
	snprintf(label, sizeof(label), "probe %llu", (unsigned long long)k->id);
	o = kt_origin_new(&l, k->sandbox_id[0] ? k->sandbox_id : NULL, label);
	if (!o || !kt_origin_set_scope(o, KT_PROBE_SCOPE_NAME)) {
		if (o)
			kt_origin_put(o);
		o = NULL;
		*why = strerror(ENOMEM);
	}
out:
	kt_arena_free(&a);
	return o;
}

/* Is h a hello a probe may say? NULL, or why not. */
static const char *hello_check(const Katatrace__Control__V1__Hello *h)
{
	if (!utf8_text(h->target, HELLO_TEXT_MAX) || !utf8_text(h->service_name, 256))
		return "a target or service name that is not UTF-8 text of a sensible length";
	if (h->sandbox_id[0] && !kt_sandbox_id_valid(h->sandbox_id, strlen(h->sandbox_id)))
		return "a sandbox id that is not one";
	if (h->n_probes > HELLO_PROBES_MAX || h->n_resource > HELLO_RESOURCE_MAX)
		return "more probes or resource attributes than a probe has";
	for (size_t i = 0; i < h->n_probes; i++)
		if (!utf8_text(h->probes[i], HELLO_TEXT_MAX))
			return "a probe that is not UTF-8 text of a sensible length";
	return NULL;
}

/* k becomes probe k->id, as h (checked) says; NULL, or why it cannot. */
static const char *probe_setup(struct conn *k, const Katatrace__Control__V1__Hello *h)
{
	const char *why = NULL;
	snprintf(k->target, sizeof(k->target), "%s", h->target);
	snprintf(k->sandbox_id, sizeof(k->sandbox_id), "%s", h->sandbox_id);
	k->origin = probe_origin(k, h, &why);
	k->probes = calloc(h->n_probes ? h->n_probes : 1, sizeof(*k->probes));
	for (size_t i = 0; k->probes && i < h->n_probes; i++)
		if ((k->probes[k->n_probes] = strdup(h->probes[i])))
			k->n_probes++;
	k->hello_len = katatrace__control__v1__hello__get_packed_size(h);
	k->hello = malloc(k->hello_len ? k->hello_len : 1);
	if (k->hello)
		katatrace__control__v1__hello__pack(h, k->hello);
	if (!k->origin || !k->probes || !k->hello)
		return why ? why : strerror(ENOMEM);
	k->role = ROLE_PROBE;
	return NULL;
}

static bool on_hello(struct conn *k, const Katatrace__Control__V1__Hello *h)
{
	const char *why = k->role != ROLE_NEW ? "a second hello" : hello_check(h);
	if (why) {
		reply_error(k, why);
		return false;
	}
	k->id = k->c->next_id + 1; /* taken once the hello is accepted */
	why = probe_setup(k, h);
	if (why) {
		reply_error(k, why);
		return false;
	}
	k->c->next_id = k->id;
	k->started_unix_ns = kt_mono_to_unix(kt_mono_ns(), kt_mono_to_unix_offset());
	kt_info("probe %llu (pid %d): %s, %zu probe%s%s%s", (unsigned long long)k->id, (int)k->pid,
		k->target, k->n_probes, k->n_probes == 1 ? "" : "s", k->sandbox_id[0] ? ", sandbox " : "",
		k->sandbox_id);

	Katatrace__Control__V1__Welcome w = KATATRACE__CONTROL__V1__WELCOME__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	w.probe_id = k->id;
	w.daemon_pid = (uint32_t)getpid();
	m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_WELCOME;
	m.welcome = &w;
	return reply(k, &m);
}

static void on_records(struct conn *k, const Katatrace__Control__V1__Records *r)
{
	struct kt_records_in st = { 0 };
	char why[256] = "";
	kt_records_in_spans(r->traces, k->origin, &k->c->cfg.sink, &st);
	snprintf(why, sizeof(why), "%s", st.why);
	kt_records_in_logs(r->logs, k->origin, &k->c->cfg.sink, &st);
	if (!why[0])
		snprintf(why, sizeof(why), "%s", st.why);
	k->spans += st.spans;
	k->logs += st.logs;
	k->rejected += st.rejected;
	KT_STAT_ADD(probe_spans, st.spans);
	KT_STAT_ADD(probe_logs, st.logs);
	KT_STAT_ADD(probe_rejected, st.rejected);
	if (st.rejected)
		kt_warn("probe %llu (pid %d): %llu records rejected, the first for %s",
			(unsigned long long)k->id, (int)k->pid, (unsigned long long)st.rejected, why);
}

static bool on_list(struct conn *k)
{
	struct kt_control *c = k->c;
	size_t n = 0;
	for (struct conn *p = c->conns; p; p = p->next)
		n += p->role == ROLE_PROBE;
	Katatrace__Control__V1__ProbeInfo *infos = calloc(n ? n : 1, sizeof(*infos));
	Katatrace__Control__V1__ProbeInfo **ptrs = calloc(n ? n : 1, sizeof(*ptrs));
	if (!infos || !ptrs) {
		free(infos);
		free(ptrs);
		return reply_error(k, strerror(ENOMEM));
	}
	size_t i = 0;
	for (struct conn *p = c->conns; p; p = p->next) {
		if (p->role != ROLE_PROBE)
			continue;
		Katatrace__Control__V1__ProbeInfo *pi = &infos[i];
		katatrace__control__v1__probe_info__init(pi);
		pi->id = p->id;
		pi->pid = (uint32_t)p->pid;
		pi->target = p->target;
		pi->n_probes = p->n_probes;
		pi->probes = p->probes;
		pi->sandbox_id = p->sandbox_id;
		pi->started_unix_nano = p->started_unix_ns;
		pi->spans = p->spans;
		pi->log_records = p->logs;
		pi->rejected = p->rejected;
		ptrs[i++] = pi;
	}
	/* Oldest first: the order of their ids. */
	for (size_t a = 1; a < i; a++)
		for (size_t b = a; b > 0 && ptrs[b - 1]->id > ptrs[b]->id; b--) {
			Katatrace__Control__V1__ProbeInfo *t = ptrs[b];
			ptrs[b] = ptrs[b - 1];
			ptrs[b - 1] = t;
		}
	Katatrace__Control__V1__ProbeList pl = KATATRACE__CONTROL__V1__PROBE_LIST__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	pl.n_probes = i;
	pl.probes = ptrs;
	m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_PROBE_LIST;
	m.probe_list = &pl;
	bool ok = reply(k, &m);
	free(ptrs);
	free(infos);
	return ok;
}

/* Tells a probe to end; false when it had to be closed instead. */
static bool tell_stop(struct conn *p, const char *reason)
{
	Katatrace__Control__V1__Stop s = KATATRACE__CONTROL__V1__STOP__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	s.reason = (char *)reason;
	m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_STOP;
	m.stop = &s;
	return reply(p, &m);
}

static bool on_stop_probe(struct conn *k, uint64_t id)
{
	struct conn *p = k->c->conns;
	while (p && !(p->role == ROLE_PROBE && p->id == id))
		p = p->next;
	if (p) {
		char reason[96];
		snprintf(reason, sizeof(reason), "probe stop %llu (pid %d)", (unsigned long long)id,
			 (int)k->pid);
		kt_info("probe %llu (pid %d): stopped by pid %d", (unsigned long long)id, (int)p->pid,
			(int)k->pid);
		tell_stop(p, reason); /* p may be k: a probe may stop itself */
	}
	Katatrace__Control__V1__Stopped st = KATATRACE__CONTROL__V1__STOPPED__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	st.probe_id = id;
	st.found = p != NULL;
	m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_STOPPED;
	m.stopped = &st;
	return reply(k, &m);
}

/*
 * A new daemon asks to take over: the connection leaves the table, its
 * socket goes to the daemon's handler (which closes it), or a refusal.
 */
static void on_takeover(struct conn *k, const Katatrace__Control__V1__Takeover *t)
{
	struct kt_control *c = k->c;
	if (k->role != ROLE_NEW || !c->cfg.takeover || c->stopping) {
		const char *why = c->stopping ? "this daemon is stopping"
				  : k->role != ROLE_NEW ? "a probe cannot take over"
							: "this daemon cannot be taken over";
		reply_error(k, why);
		conn_fail(k, why);
		return;
	}
	int fd = dup(k->fd);
	conn_close(k);
	if (fd < 0) {
		kt_warn("control socket: takeover: %s", strerror(errno));
		return;
	}
	c->cfg.takeover(c->cfg.takeover_ctx, fd, t);
}

/* One message; false when the connection was closed or is broken. */
static bool dispatch(struct conn *k, const kt_ctl_msg *m)
{
	switch (m->body_case) {
	case KATATRACE__CONTROL__V1__MESSAGE__BODY_HELLO:
		if (!on_hello(k, m->hello)) {
			conn_fail(k, "its hello was refused");
			return false;
		}
		return true;
	case KATATRACE__CONTROL__V1__MESSAGE__BODY_RECORDS:
		if (k->role != ROLE_PROBE) {
			reply_error(k, "records before hello");
			conn_fail(k, "records before hello");
			return false;
		}
		on_records(k, m->records);
		return true;
	case KATATRACE__CONTROL__V1__MESSAGE__BODY_LIST:
		if (on_list(k))
			return true;
		break;
	case KATATRACE__CONTROL__V1__MESSAGE__BODY_STOP_PROBE:
		if (on_stop_probe(k, m->stop_probe->probe_id))
			return true;
		break;
	case KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER:
		on_takeover(k, m->takeover);
		return false;
	default: {
		char why[96];
		snprintf(why, sizeof(why), "a %s message, which only the daemon sends",
			 kt_ctl_body_name(m->body_case));
		reply_error(k, why);
		conn_fail(k, why);
		return false;
	}
	}
	conn_close(k); /* broken: an answer could not be written */
	return false;
}

/* Everything the peer sent; false when the connection was closed. */
static bool conn_read(struct conn *k)
{
	int r = kt_ctl_reader_fill(&k->in, k->fd);
	for (;;) {
		kt_ctl_msg *m;
		char err[160];
		int n = kt_ctl_reader_next(&k->in, &m, err, sizeof(err));
		if (n < 0) {
			reply_error(k, err);
			conn_fail(k, err);
			return false;
		}
		if (n == 0)
			break;
		if (!dispatch(k, m))
			return false;
	}
	if (k->broken) {
		conn_close(k);
		return false;
	}
	if (r < 0) {
		if (errno && errno != ECONNRESET) {
			char why[96];
			snprintf(why, sizeof(why), "%s", errno == EPROTO ? "it closed inside a message"
								 : strerror(errno));
			conn_fail(k, why);
		} else {
			conn_close(k);
		}
		return false;
	}
	return true;
}

static void on_conn(struct kt_poll_handler *h, uint32_t events)
{
	struct conn *k = (struct conn *)((char *)h - offsetof(struct conn, h));
	(void)events;
	conn_read(k);
}

/* A connection served from now on; NULL (fd left to the caller) when it cannot be. */
static struct conn *conn_new(struct kt_control *c, int fd, pid_t pid)
{
	struct conn *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->c = c;
	k->fd = fd;
	k->pid = pid;
	k->h.fn = on_conn;
	kt_ctl_reader_init(&k->in);
	if (kt_poll_add(c->cfg.epfd, fd, &k->h)) {
		kt_ctl_reader_free(&k->in);
		free(k);
		return NULL;
	}
	k->next = c->conns;
	c->conns = k;
	c->n_conns++;
	return k;
}

static void on_accept(struct kt_poll_handler *h, uint32_t events)
{
	struct kt_control *c = (struct kt_control *)((char *)h - offsetof(struct kt_control, listen_h));
	(void)events;
	for (;;) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				kt_warn("control socket %s: accept: %s", c->path, strerror(errno));
			if (errno != EINTR)
				return;
			continue;
		}
		struct ucred cr = { .pid = 0, .uid = (uid_t)-1 };
		socklen_t len = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len)) {
			kt_warn("control socket %s: a peer whose credentials cannot be read (%s): refused",
				c->path, strerror(errno));
			KT_STAT_INC(control_refused);
			close(fd);
			continue;
		}
		if (cr.uid != 0) {
			kt_warn("control socket %s: refused pid %d (uid %u): only root may use it",
				c->path, (int)cr.pid, (unsigned)cr.uid);
			KT_STAT_INC(control_refused);
			close(fd);
			continue;
		}
		if (c->n_conns >= KT_CONTROL_MAX_CONNS || c->stopping) {
			kt_warn("control socket %s: refused pid %d: %s", c->path, (int)cr.pid,
				c->stopping ? "the daemon is stopping"
					    : "as many connections as it serves already");
			KT_STAT_INC(control_refused);
			close(fd);
			continue;
		}
		if (!conn_new(c, fd, cr.pid))
			close(fd);
	}
}

void kt_control_listen(struct kt_control *c, int fd, const char *path)
{
	if (c->listen_fd >= 0 || c->stopping) {
		close(fd);
		return;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->listen_fd = fd;
	c->listen_h.fn = on_accept;
	if (kt_poll_add(c->cfg.epfd, fd, &c->listen_h)) {
		kt_warn("control socket %s: cannot serve it: %s", path, strerror(errno));
		close(fd);
		c->listen_fd = -1;
		return;
	}
	kt_info("control socket: %s (probes through this daemon: katatrace-bpf probe)", path);
}

size_t kt_control_probes(const struct kt_control *c)
{
	size_t n = 0;
	for (const struct conn *k = c ? c->conns : NULL; k; k = k->next)
		n += k->role == ROLE_PROBE;
	return n;
}

void kt_control_shutdown(struct kt_control *c, int timeout_ms)
{
	if (!c || c->stopping)
		return;
	c->stopping = true;
	if (c->listen_fd >= 0) {
		kt_poll_del(c->cfg.epfd, c->listen_fd);
		close(c->listen_fd);
		c->listen_fd = -1;
	}
	for (struct conn *k = c->conns, *next; k; k = next) {
		next = k->next;
		if (k->role == ROLE_PROBE)
			tell_stop(k, "the daemon is stopping");
		else
			conn_close(k);
	}
	/* What the probes still send, until each has closed. */
	uint64_t deadline = kt_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	for (struct conn *k = c->conns; ep >= 0 && k; k = k->next)
		epoll_ctl(ep, EPOLL_CTL_ADD, k->fd, &(struct epoll_event){ .events = EPOLLIN, .data.ptr = k });
	while (ep >= 0 && c->conns) {
		uint64_t now = kt_mono_ns();
		if (now >= deadline)
			break;
		struct epoll_event ev[8];
		int n = epoll_wait(ep, ev, 8, (int)((deadline - now) / 1000000 + 1));
		for (int i = 0; i < n; i++)
			conn_read(ev[i].data.ptr); /* a closed one leaves the set with its fd */
	}
	if (ep >= 0)
		close(ep);
	while (c->conns) {
		char w[64];
		kt_warn("control socket: %s did not finish in time: closed", who(c->conns, w, sizeof(w)));
		conn_close(c->conns);
	}
}

void kt_control_free(struct kt_control *c)
{
	if (!c)
		return;
	while (c->conns)
		conn_close(c->conns);
	if (c->listen_fd >= 0) {
		kt_poll_del(c->cfg.epfd, c->listen_fd);
		close(c->listen_fd);
	}
	free(c);
}

int kt_control_listener(const struct kt_control *c, const char **path)
{
	*path = c->path;
	return c->listen_fd;
}

/* ------------------------------------------------------------ takeover */

/*
 * Reads k until no message is left half-read, or the deadline: what it
 * sent whole before is this daemon's, what follows the new one's. false:
 * k was closed (it ended, or broke the protocol); *whole false: still
 * inside a message at the deadline.
 */
static bool conn_settle(struct conn *k, uint64_t deadline, bool *whole)
{
	while (kt_ctl_reader_pending(&k->in) > 0) {
		uint64_t now = kt_mono_ns();
		if (now >= deadline) {
			*whole = false;
			return true;
		}
		struct pollfd pf = { .fd = k->fd, .events = POLLIN };
		if (poll(&pf, 1, (int)((deadline - now) / 1000000 + 1)) > 0 && !conn_read(k))
			return false;
	}
	*whole = true;
	return true;
}

/*
 * k's state as a packed ProbeState (malloc'd), NULL without memory; a
 * connection that has not said hello yet (a probe starting, probe list)
 * has the empty one.
 */
static uint8_t *probe_state(const struct conn *k, size_t *len)
{
	Katatrace__Control__V1__ProbeState st = KATATRACE__CONTROL__V1__PROBE_STATE__INIT;
	if (k->role == ROLE_PROBE &&
	    !(st.hello = katatrace__control__v1__hello__unpack(NULL, k->hello_len, k->hello)))
		return NULL;
	st.id = k->id;
	st.pid = (uint32_t)k->pid;
	st.started_unix_nano = k->started_unix_ns;
	st.spans = k->spans;
	st.log_records = k->logs;
	st.rejected = k->rejected;
	*len = katatrace__control__v1__probe_state__get_packed_size(&st);
	uint8_t *out = malloc(*len ? *len : 1);
	if (out)
		katatrace__control__v1__probe_state__pack(&st, out);
	if (st.hello)
		katatrace__control__v1__hello__free_unpacked(st.hello, NULL);
	return out;
}

void kt_control_pause(struct kt_control *c, int timeout_ms, kt_control_hand_fn hand, void *ctx)
{
	uint64_t deadline = kt_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (struct conn *k = c ? c->conns : NULL, *next; k; k = next) {
		next = k->next;
		if (k->broken)
			continue;
		bool whole;
		if (!conn_settle(k, deadline, &whole))
			continue; /* it ended meanwhile */
		kt_poll_del(c->cfg.epfd, k->fd);
		k->paused = true;
		if (!whole) {
			char w[64];
			kt_warn("takeover: %s is inside a message: not handed over; it ends when this "
				"daemon stops",
				who(k, w, sizeof(w)));
			continue;
		}
		size_t len;
		uint8_t *st = probe_state(k, &len);
		k->handed = st && hand(ctx, k->fd, st, len);
		free(st);
	}
}

void kt_control_resume(struct kt_control *c)
{
	for (struct conn *k = c ? c->conns : NULL; k; k = k->next) {
		if (!k->paused)
			continue;
		k->paused = k->handed = false;
		if (kt_poll_add(c->cfg.epfd, k->fd, &k->h)) {
			kt_warn("control socket: probe %llu (pid %d): cannot be served again: %s",
				(unsigned long long)k->id, (int)k->pid, strerror(errno));
			k->broken = true;
			shutdown(k->fd, SHUT_RDWR);
		}
	}
}

size_t kt_control_handed(struct kt_control *c)
{
	size_t n = 0;
	for (struct conn *k = c ? c->conns : NULL, *next; k; k = next) {
		next = k->next;
		if (k->handed) {
			if (k->role == ROLE_PROBE)
				kt_info("probe %llu (pid %d) handed over: %llu spans, %llu log records "
					"here",
					(unsigned long long)k->id, (int)k->pid,
					(unsigned long long)k->spans, (unsigned long long)k->logs);
			/* the connection is the new daemon's: only this copy closes, unannounced */
			k->role = ROLE_NEW;
			conn_close(k);
			n++;
		}
	}
	kt_control_resume(c); /* those not handed over end with this daemon */
	return n;
}

int kt_control_adopt_probe(struct kt_control *c, int fd, const void *state, size_t len,
			   char *err, size_t errlen)
{
	struct kt_pb_budget budget = { .limit = KT_CONTROL_UNPACK_MAX };
	ProtobufCAllocator alloc = kt_pb_budget_allocator(&budget);
	Katatrace__Control__V1__ProbeState *st =
		katatrace__control__v1__probe_state__unpack(&alloc, len, state);
	struct ucred cr = { .pid = 0, .uid = (uid_t)-1 };
	socklen_t crlen = sizeof(cr);
	const char *why = NULL;
	struct conn *k = NULL;
	/* no hello yet (and so no id): a connection to serve from its first message */
	bool fresh = st && !st->hello && st->id == 0;
	if (!st || (!fresh && (!st->hello || st->id == 0)))
		why = "its state does not unpack";
	else if (!(why = fresh ? NULL : hello_check(st->hello)) &&
		 (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) || cr.uid != 0))
		why = "its peer is not root";
	for (struct conn *o = c->conns; !why && !fresh && o; o = o->next)
		if (o->role == ROLE_PROBE && o->id == st->id)
			why = "its id is taken";
	if (!why && c->n_conns >= KT_CONTROL_MAX_CONNS)
		why = "as many connections as this daemon serves already";
	if (!why && !(k = conn_new(c, fd, cr.pid)))
		why = strerror(errno ? errno : ENOMEM);
	if (!why && fresh) {
		kt_debug("control connection of pid %d taken over before its first message",
			 (int)k->pid);
		katatrace__control__v1__probe_state__free_unpacked(st, &alloc);
		return 0;
	}
	if (!why) {
		k->id = st->id;
		why = probe_setup(k, st->hello);
		if (why) {
			/* the caller keeps the descriptor */
			kt_poll_del(c->cfg.epfd, fd);
			k->fd = -1;
			k->role = ROLE_NEW;
			conn_close(k);
		}
	}
	if (why) {
		snprintf(err, errlen, "probe %llu: %s", st ? (unsigned long long)st->id : 0ull, why);
		KT_STAT_INC(control_errors);
		if (st)
			katatrace__control__v1__probe_state__free_unpacked(st, &alloc);
		return -1;
	}
	k->started_unix_ns = st->started_unix_nano;
	k->spans = st->spans;
	k->logs = st->log_records;
	k->rejected = st->rejected;
	if (c->next_id < k->id)
		c->next_id = k->id;
	kt_info("probe %llu (pid %d): %s, taken over with its connection", (unsigned long long)k->id,
		(int)k->pid, k->target);
	katatrace__control__v1__probe_state__free_unpacked(st, &alloc);
	return 0;
}

void kt_control_let_go(struct kt_control *c)
{
	if (!c)
		return;
	/* nothing is said or shut down: the old daemon still serves all of it */
	while (c->conns) {
		c->conns->role = ROLE_NEW;
		conn_close(c->conns);
	}
	if (c->listen_fd >= 0) {
		kt_poll_del(c->cfg.epfd, c->listen_fd);
		close(c->listen_fd);
		c->listen_fd = -1;
	}
	c->stopping = true;
}

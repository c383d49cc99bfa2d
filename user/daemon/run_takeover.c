/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Both sides of a takeover for `run` (daemon/takeover.h has the exchange,
 * docs/takeover.md the whole story): the old daemon pausing, handing over
 * and letting go, or resuming when the new one fails; the new daemon
 * adopting what it was handed at each step of its start-up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/diag.h"
#include "base/stats.h"
#include "capture/capture.h"
#include "capture/drain.h"
#include "capture/sink_mode.h"
#include "daemon/broker.h"
#include "daemon/control_server.h"
#include "daemon/run_daemon.h"
#include "daemon/sd_notify.h"
#include "daemon/takeover_store.h"
#include "exporters/export_queue.h"
#include "exporters/spool.h"
#include "stream/pipeline.h"
#include "traces/trace_stitch.h"
#include "katatrace/control/v1/control.pb-c.h"

/*
 * How long a pausing daemon reads probes caught inside a message (a probe
 * writes each message whole, so this is only ever a short wait).
 */
#define CONTROL_SETTLE_MS 1000

static const char *mode_name(const struct kt_config *cfg)
{
	return cfg->mode == KT_MODE_TAP ? "tap" : "sink";
}

static const char *capture_name(const struct kt_config *cfg)
{
	return cfg->capture == KT_CAPTURE_BPF ? "bpf" : "socket";
}

/* ------------------------------------------------------------ the old daemon */

static void add_record(void *ctx, const void *rec, size_t size)
{
	kt_handover_add_record(ctx, rec, size); /* a failure marks it incomplete */
}

static void add_listener(void *ctx, int fd, const char *label, bool vsock, unsigned port)
{
	struct kt_handed *e = kt_handover_add(ctx, KT_HANDED_LISTENER, fd, label);
	if (e) {
		e->vsock = vsock;
		e->port = port;
	}
}

static void add_conn(void *ctx, int fd, const char *label)
{
	kt_handover_add(ctx, KT_HANDED_CONNECTION, fd, label);
}

static void add_bpf(void *ctx, const char *object, const char *name, const char *strategy, int fd)
{
	struct kt_handed *e = kt_handover_add(ctx, KT_HANDED_BPF, fd, name);
	if (!e)
		return;
	snprintf(e->bpf.object, sizeof(e->bpf.object), "%s", object);
	snprintf(e->bpf.name, sizeof(e->bpf.name), "%s", name);
	snprintf(e->bpf.strategy, sizeof(e->bpf.strategy), "%s", strategy);
}

/* A probe's connection and state (control_server.h); false when it cannot go along. */
static bool add_probe(void *ctx, int fd, const void *state, size_t len)
{
	struct kt_handover *h = ctx;
	struct kt_handed *e = kt_handover_add(h, KT_HANDED_PROBE, fd, "probe");
	return e && kt_handover_set_probe(h, e, state, len) == 0;
}

static void refeed(void *ctx, const void *rec, size_t size)
{
	struct daemon *d = ctx;
	kt_pipeline_record(d->pipeline, rec, size, kt_mono_ns());
}

/*
 * Pauses this daemon (broker, sink, ring buffer) and puts everything it
 * serves into h; NULL, or why it cannot (resume() undoes either way).
 */
static const char *pause_and_gather(struct daemon *d, struct kt_handover *h)
{
	/* what the broker announced is served first: no listener is left behind */
	if (d->broker && kt_broker_pause(d->broker, true))
		return "the broker does not answer";
	kt_sink_pause(d->sink, true);
	/* probes: what they sent whole is this daemon's, the rest the new one's */
	kt_control_pause(d->control, CONTROL_SETTLE_MS, add_probe, h);
	/* the ring buffer: what this daemon read it decodes; the rest is the new one's */
	kt_drain_stop(d->drain);
	while (kt_run_decode_burst(d, SIZE_MAX))
		;
	h->connections = kt_pipeline_handover(d->pipeline, add_record, h);
	kt_sink_each(d->sink, add_listener, add_conn, h);
	const char *path;
	int cfd = d->control ? kt_control_listener(d->control, &path) : -1;
	if (cfd >= 0)
		kt_handover_add(h, KT_HANDED_CONTROL, cfd, path);
	if (d->metrics_keep_fd >= 0)
		kt_handover_add(h, KT_HANDED_METRICS, d->metrics_keep_fd, d->cfg->metrics_address);
	kt_capture_each_fd(d->capture, add_bpf, h);
	kt_broker_capture_fds(d->broker, add_bpf, h); /* its vsock capture */
	return h->incomplete ? "what it serves does not fit the takeover's limits" : NULL;
}

/* The takeover failed before its commit: everything as it was. */
static void resume(struct daemon *d, struct kt_handover *h, const char *why)
{
	/* h->sock < 0: systemd's store, and the stop goes on as usual */
	if (h->sock >= 0)
		kt_warn("takeover by pid %u failed: %s; this daemon serves on", h->peer_pid, why);
	KT_STAT_INC(takeovers_failed);
	size_t bad = 0;
	if (kt_handover_each_record(h, refeed, d, &bad))
		kt_err("takeover: the connections' state is damaged at byte %zu", bad);
	kt_sink_pause(d->sink, false);
	kt_control_resume(d->control);
	if (d->drain && kt_drain_start_thread(d->drain))
		d->stop = true; /* logged: without its drain the daemon cannot go on */
	if (d->broker)
		kt_broker_pause(d->broker, false);
	for (size_t i = 0; i < h->n_fds; i++)
		h->fds[i].fd = -1; /* this daemon's own */
	kt_handover_free(h, false);
}

void kt_run_give_over(void *daemon, int sock, const void *request)
{
	struct daemon *d = daemon;
	const Katatrace__Control__V1__Takeover *t = request;
	const char *why = kt_takeover_check(t, mode_name(d->cfg), capture_name(d->cfg));
	char err[256];

	if (!why && (!d->drain || !d->capture))
		why = "this daemon has no BPF capture to hand over";
	if (!why && d->given)
		why = "this daemon is handing over already";
	if (why) {
		kt_warn("takeover by pid %u refused: %s", t->pid, why);
		KT_STAT_INC(takeovers_refused);
		kt_takeover_refuse(sock, why);
		close(sock);
		return;
	}
	struct kt_handover *h = malloc(sizeof(*h));
	if (!h) {
		kt_takeover_refuse(sock, "out of memory");
		close(sock);
		return;
	}
	kt_handover_init(h);
	h->sock = sock;
	h->peer_pid = t->pid;
	kt_info("takeover: pid %u takes over; pausing", t->pid);
	why = pause_and_gather(d, h);
	if (why)
		kt_takeover_refuse(sock, why);
	else if (kt_takeover_offer(h, err, sizeof(err)))
		why = err;
	if (!why && kt_takeover_await_commit(h, KT_TAKEOVER_COMMIT_MS, err, sizeof(err)) < 0)
		why = err;
	if (why) {
		resume(d, h, why);
		free(h);
		return;
	}
	kt_info("takeover: pid %u committed: %llu connections, %zu descriptors handed over; "
		"letting go",
		h->peer_pid, (unsigned long long)h->connections, h->n_fds);
	KT_STAT_INC(takeovers_given);
	kt_control_handed(d->control);
	d->given = h;
	d->stop = true;
}

int kt_run_store_with_systemd(struct daemon *d)
{
	char err[256];
	if (!d->drain || !d->capture || d->given || !kt_sd_notify_available())
		return -1;
	struct kt_handover *h = malloc(sizeof(*h));
	if (!h)
		return -1;
	kt_handover_init(h);
	kt_info("fd store: handing everything to systemd for the next start");
	const char *why = pause_and_gather(d, h);
	if (!why && kt_handover_to_store(h, err, sizeof(err)))
		why = err;
	if (why) {
		/* a stop as usual: what systemd may hold already is not used without the state */
		kt_err("fd store: %s; stopping as usual", why);
		resume(d, h, why);
		free(h);
		return -1;
	}
	kt_info("fd store: %llu connections, %zu descriptors and %zu bytes of state stored",
		(unsigned long long)h->connections, h->n_fds, h->state_len);
	KT_STAT_INC(takeovers_given);
	kt_control_handed(d->control);
	d->given = h;
	d->stored = true;
	return 0;
}

void kt_run_let_go(struct daemon *d)
{
	struct kt_handover *h = d->given;
	/* the descriptors stay the new daemon's: this process only drops its copies */
	kt_sink_let_go(d->sink);
	d->sink = NULL;
	kt_broker_stop_handed(d->broker);
	d->broker = NULL;
	kt_capture_let_go(d->capture);
	if (d->stitch)
		kt_stitch_flush(d->stitch, false);
	kt_export_queue_stop_handover(d->queue);
	d->queue = NULL;
	uint64_t spooled = 0;
	if (d->spool) {
		struct kt_spool_stats ss;
		kt_spool_stats(d->spool, &ss);
		spooled = ss.records;
		kt_spool_close(d->spool);
		d->spool = NULL;
	}
	if (h->sock >= 0) {
		kt_takeover_done(h, spooled);
		kt_info("takeover: handed over to pid %u; %llu export requests left in the spool "
			"for it",
			h->peer_pid, (unsigned long long)spooled);
	} else {
		kt_info("fd store: let go; %llu export requests left in the spool for the next start",
			(unsigned long long)spooled);
	}
	for (size_t i = 0; i < h->n_fds; i++)
		h->fds[i].fd = -1;
	kt_handover_free(h, false);
	free(h);
	d->given = NULL;
	d->handed_over = true;
}

/* ------------------------------------------------------------ the new daemon */

int kt_run_take_request(struct daemon *d)
{
	char err[512];
	if (d->cfg->fd_store) {
		int rc = kt_handover_from_store(&d->taken, err, sizeof(err));
		if (rc > 0) {
			d->taking = true;
			kt_info("fd store: the last run left %llu connections, %zu descriptors, %zu "
				"bytes of state: taking them over",
				(unsigned long long)d->taken.connections, d->taken.n_fds,
				d->taken.state_len);
			return 0;
		}
		/* nobody to go back to: start afresh */
		if (rc < 0)
			kt_err("fd store: %s; starting as usual", err);
	}
	if (!d->cfg->takeover)
		return 0;
	struct kt_takeover_ask ask = {
		.control_path = d->cfg->control_socket,
		.mode = mode_name(d->cfg),
		.capture = capture_name(d->cfg),
	};
	if (!ask.control_path) {
		kt_err("--takeover: no --control-socket to find the running daemon on");
		return -1;
	}
	int rc = kt_takeover_request(&ask, &d->taken, err, sizeof(err));
	if (rc == 0) {
		kt_info("takeover: no daemon answers on %s: starting as usual", ask.control_path);
		return 0;
	}
	if (rc < 0) {
		kt_err("takeover: %s; the running daemon serves on", err);
		return -1;
	}
	d->taking = true;
	kt_info("takeover: pid %u hands over %llu connections, %zu descriptors, %zu bytes of "
		"state",
		d->taken.peer_pid, (unsigned long long)d->taken.connections, d->taken.n_fds,
		d->taken.state_len);
	return 0;
}

/* The first handed descriptor of kind (its fd taken: -1 left), or -1. */
static int take_one(struct daemon *d, enum kt_handed_kind kind, const char **label)
{
	for (size_t i = 0; i < d->taken.n_fds; i++) {
		struct kt_handed *e = &d->taken.fds[i];
		if (e->kind != kind || e->fd < 0)
			continue;
		int fd = e->fd;
		e->fd = -1;
		if (label)
			*label = e->label;
		return fd;
	}
	return -1;
}

int kt_run_take_metrics(struct daemon *d)
{
	const char *label;
	if (!d->taking)
		return -1;
	int fd = take_one(d, KT_HANDED_METRICS, &label);
	if (fd < 0)
		return -1;
	if (!d->cfg->metrics_address || strcmp(label, d->cfg->metrics_address) != 0) {
		/* another address now: the old listener goes with the old daemon */
		close(fd);
		return -1;
	}
	return fd;
}

void kt_run_take_connections(struct daemon *d)
{
	const char *label;
	int fd;
	while (d->taking && (fd = take_one(d, KT_HANDED_CONNECTION, &label)) >= 0)
		kt_sink_adopt_conn(d->sink, fd, label, false);
	/* probes go on exporting through this daemon, with their ids */
	for (size_t i = 0; d->taking && i < d->taken.n_fds; i++) {
		struct kt_handed *e = &d->taken.fds[i];
		char err[256];
		if (e->kind != KT_HANDED_PROBE || e->fd < 0)
			continue;
		if (kt_control_adopt_probe(d->control, e->fd, e->probe, e->probe_len, err, sizeof(err)))
			kt_warn("takeover: %s: not taken over (it ends when the old daemon lets go)", err);
		else
			e->fd = -1;
	}
}

struct kt_capture *kt_run_take_capture(struct daemon *d, const void *capture_cfg)
{
	size_t n = 0;
	struct kt_capture_handed *h = calloc(d->taken.n_fds ? d->taken.n_fds : 1, sizeof(*h));
	if (!h)
		return NULL;
	for (size_t i = 0; i < d->taken.n_fds; i++)
		if (d->taken.fds[i].kind == KT_HANDED_BPF && d->taken.fds[i].fd >= 0)
			h[n++] = d->taken.fds[i].bpf;
	char err[256];
	struct kt_capture *c = kt_capture_adopt(capture_cfg, h, n, err, sizeof(err));
	if (c) {
		/* the capture holds them now */
		for (size_t i = 0; i < d->taken.n_fds; i++)
			if (d->taken.fds[i].kind == KT_HANDED_BPF)
				d->taken.fds[i].fd = -1;
		kt_info("takeover: the capture's %zu BPF maps and links adopted: the programs "
			"stay attached",
			n);
	} else {
		kt_err("takeover: %s", err);
	}
	free(h);
	return c;
}

int *kt_run_take_private_fds(struct daemon *d, size_t *n)
{
	*n = 0;
	/* room for the caller's own too */
	int *fds = calloc(d->taken.n_fds + 2, sizeof(int));
	if (!fds)
		return NULL;
	if (d->taken.sock >= 0)
		fds[(*n)++] = d->taken.sock;
	for (size_t i = 0; i < d->taken.n_fds; i++) {
		const struct kt_handed *e = &d->taken.fds[i];
		if ((e->kind == KT_HANDED_CONNECTION || e->kind == KT_HANDED_METRICS ||
		     e->kind == KT_HANDED_PROBE) &&
		    e->fd >= 0)
			fds[(*n)++] = e->fd;
	}
	return fds;
}

struct kt_adopted_listener *kt_run_take_listeners(struct daemon *d, size_t *n)
{
	*n = 0;
	struct kt_adopted_listener *a = calloc(d->taken.n_fds ? d->taken.n_fds : 1, sizeof(*a));
	if (!a)
		return NULL;
	for (size_t i = 0; i < d->taken.n_fds; i++) {
		struct kt_handed *e = &d->taken.fds[i];
		if ((e->kind != KT_HANDED_LISTENER && e->kind != KT_HANDED_CONTROL) || e->fd < 0)
			continue;
		struct kt_adopted_listener *l = &a[(*n)++];
		l->fd = e->fd;
		l->vsock = e->vsock;
		l->port = e->port;
		l->control = e->kind == KT_HANDED_CONTROL;
		size_t len = strnlen(e->label, sizeof(l->path) - 1);
		memcpy(l->path, e->label, len);
		l->path[len] = '\0';
	}
	return a;
}

/*
 * Taken from systemd's store: systemd lets go of its copies, so that a
 * connection or a listener this daemon closes later is closed for good.
 */
static void forget_stored(const struct kt_handover *h)
{
	char state[128];
	for (size_t i = 0; i < h->n_fds; i++) {
		snprintf(state, sizeof(state), "FDSTOREREMOVE=1\nFDNAME=" KT_STORE_FD_PREFIX "%zu", i);
		kt_sd_notify(state, -1);
	}
	kt_sd_notify("FDSTOREREMOVE=1\nFDNAME=" KT_STORE_STATE, -1);
}

int kt_run_take_commit(struct daemon *d)
{
	char err[256];
	size_t bad = 0;
	/* before any ring buffer record: the connections go on where the old daemon stopped */
	if (kt_handover_each_record(&d->taken, refeed, d, &bad))
		kt_warn("takeover: the connections' state ends in a damaged record at byte %zu; "
			"the rest is ignored",
			bad);
	uint64_t spooled = 0;
	if (d->taken.sock < 0)
		forget_stored(&d->taken);
	/* from the fd store: the old daemon is gone, its spool closed */
	int rc = d->taken.sock < 0 ? 0 : kt_takeover_commit(&d->taken, &spooled, err, sizeof(err));
	if (rc)
		kt_err("takeover: %s", err);
	else
		kt_info("takeover: pid %u let go; %llu export requests wait in the spool",
			d->taken.peer_pid, (unsigned long long)spooled);
	kt_handover_free(&d->taken, true);
	/* failed, it never served: what it adopted stays as the old daemon left it */
	d->taking = rc != 0;
	return rc;
}

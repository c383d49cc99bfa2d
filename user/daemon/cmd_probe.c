/* SPDX-License-Identifier: Apache-2.0 */
/*
 * katatrace-bpf probe TARGET: resolves the target (daemon/probe_target.h),
 * expands the variables of its specs and program, attaches the span probes
 * (capture/probe_capture.h) and runs bpftrace (capture/bpftrace_run.h), and
 * exports what they give, until Ctrl-C, --duration, the end of the target,
 * or `probe stop`. A sandbox's or pod's spans and log records go into the
 * sandbox's trace, under its kata.vm span.
 *
 * Where they go: when a daemon listens on the control socket (and the
 * command line names no exporter of its own, or says --export-via daemon),
 * the probe says Hello and its export queue's exporter hands each request to
 * the daemon (daemon/control_client.h), whose pipeline exports it with its
 * own; the daemon may tell it to stop. Otherwise it exports by itself, with
 * run's exporter options, to the console by default.
 *
 * Exit status: 0 when it ran; 1 when the target, a probe or bpftrace failed,
 * or the daemon it exported through went away (the message names it); 2 for
 * a spec or program the command line got wrong (a malformed spec, an
 * unknown variable, $container_pid).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "daemon/control_client.h"
#include "daemon/probe_target.h"
#include "capture/attach.h"
#include "capture/bpftrace_run.h"
#include "capture/probe_capture.h"
#include "capture/probe_spec.h"
#include "exporters/export_queue.h"
#include "model/attrs.h"
#include "model/ids.h"
#include "sandbox/sandbox_procs.h"
#include "base/clock.h"
#include "base/diag.h"
#include "base/poller.h"
#include "base/stats.h"

/* Largest bpftrace program file read (-f). */
#define PROGRAM_FILE_MAX (1u << 20)
/* How often the end of the target and of --duration are looked for. */
#define TICK_MS 250

enum { EXIT_RAN = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

struct probe {
	const struct kt_config *cfg;
	struct kt_probe_target target;
	struct kt_probe_spec specs[2 * KT_MAX_PROBE_SPECS];
	size_t n_specs;
	char *program; /* bpftrace's, variables expanded */
	struct kt_origin *origin;
	struct kt_trace_id trace_id; /* the sandbox's trace; zero without a sandbox */
	uint64_t parent_span_id;     /* its kata.vm span */
	struct kt_export_queue *q;
	/* through the daemon: its control socket, the id it gave, what it said last */
	int ctl_fd;
	struct kt_ctl_reader ctl_in;
	struct kt_poll_handler ctl_h;
	uint64_t probe_id;
	uint32_t daemon_pid;
	bool daemon_lost; /* it closed the socket before we were done: exit 1 */
	char stop_reason[160];
	struct kt_probe_capture *cap;
	struct kt_bpftrace_run *bt;
	int epfd, sig_fd, tick_fd;
	struct kt_poll_handler sig_h, tick_h, cap_h, bt_h;
	uint32_t pids[KT_TARGET_MAX_PIDS]; /* the target's, for the probes' filter */
	size_t n_pids;
	uint64_t deadline_ns; /* 0: none */
	const char *stopped_by; /* why the run ended */
	char ended[KT_SANDBOX_ID_MAX + 96]; /* the target's end, said */
};

/* ------------------------------------------------------------ records */

static void to_queue(void *ctx, struct kt_span_record *r)
{
	struct probe *p = ctx;
	kt_export_queue_push(p->q, r);
}

/* Log records join the sandbox's trace too: they belong to its kata.vm span. */
static void log_to_queue(void *ctx, struct kt_log_record *r)
{
	struct probe *p = ctx;
	if (p->parent_span_id && !r->log.span_id) {
		r->log.trace_id = p->trace_id;
		r->log.span_id = p->parent_span_id;
	}
	kt_export_queue_push_log(p->q, r);
}

static struct kt_record_sink sink_of(struct probe *p)
{
	return (struct kt_record_sink){ .span = to_queue, .log = log_to_queue, .ctx = p };
}

/* The resource of everything the probe makes: who was probed. */
static struct kt_origin *probe_origin(const struct probe *p)
{
	const struct kt_probe_target *t = &p->target;
	const struct kt_sandbox_meta *m = t->sandbox.id[0] ? &t->sandbox : NULL;
	struct kt_kv kv[16];
	struct kt_attrs b; /* values kept as given: the origin copies them */
	kt_attrs_init_on(&b, kv, sizeof(kv) / sizeof(kv[0]), NULL);
	kt_attrs_cstr(&b, "service.name", KT_PROBE_SERVICE_NAME);
	kt_attrs_cstr(&b, "katatrace.transport", "probe");
	kt_attrs_cstr(&b, "katatrace.probe.target", p->cfg->probe_target);
	kt_sandbox_meta_pod_attrs(&b, m);
	if (m) {
		kt_attrs_cstr(&b, "katatrace.sandbox.id", m->id);
		if (m->hypervisor[0])
			kt_attrs_cstr(&b, "katatrace.hypervisor.name", m->hypervisor);
	}
	if (t->hypervisor_pid)
		kt_attrs_int(&b, "katatrace.hypervisor.pid", t->hypervisor_pid);
	struct kt_kvlist l = kt_attrs_list(&b);
	char label[256];
	snprintf(label, sizeof(label), "probe %s", p->cfg->probe_target);
	struct kt_origin *o = kt_origin_new(&l, m ? m->id : NULL, label);
	if (o && !kt_origin_set_scope(o, KT_PROBE_SCOPE_NAME)) {
		kt_origin_put(o);
		o = NULL;
	}
	return o;
}

/* ------------------------------------------------------------ through the daemon */

/* Hello: the target, the probes, the resource (without service.name, which is said apart). */
static int say_hello(struct probe *p, char *err, size_t errlen)
{
	const struct kt_config *cfg = p->cfg;
	Katatrace__Control__V1__Hello h = KATATRACE__CONTROL__V1__HELLO__INIT;
	char words[2 * KT_MAX_PROBE_SPECS + 1][KT_PROBE_SPEC_MAX + 8];
	char *probes[2 * KT_MAX_PROBE_SPECS + 1];
	size_t n = 0;
	for (size_t i = 0; i < p->n_specs; i++, n++) {
		snprintf(words[n], sizeof(words[n]), "%s %s",
			 p->specs[i].role == KT_PROBE_SPAN ? "span" : "event", p->specs[i].text);
		probes[n] = words[n];
	}
	if (p->program) {
		snprintf(words[n], sizeof(words[n]), "bpftrace %s",
			 cfg->program_file ? cfg->program_file : "-e");
		probes[n] = words[n];
		n++;
	}
	struct kt_arena a;
	kt_arena_init(&a, 1u << 20);
	Opentelemetry__Proto__Common__V1__KeyValue **kvs = NULL;
	size_t n_kvs = 0;
	if (kt_otlp_attrs(&p->origin->attrs, NULL, &n_kvs, &kvs, &a)) {
		kt_arena_free(&a);
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -1;
	}
	size_t keep = 0;
	for (size_t i = 0; i < n_kvs; i++)
		if (!(kvs[i]->key.len == 12 && memcmp(kvs[i]->key.data, "service.name", 12) == 0))
			kvs[keep++] = kvs[i];
	h.target = (char *)cfg->probe_target;
	h.n_probes = n;
	h.probes = probes;
	h.sandbox_id = p->target.sandbox.id;
	h.service_name = KT_PROBE_SERVICE_NAME;
	h.n_resource = keep;
	h.resource = kvs;

	kt_ctl_msg q = KT_CTL_MSG_INIT, *ans;
	q.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_HELLO;
	q.hello = &h;
	int rc = kt_control_ask(p->ctl_fd, &p->ctl_in, &q, &ans, err, errlen);
	kt_arena_free(&a);
	if (rc)
		return -1;
	if (ans->body_case != KATATRACE__CONTROL__V1__MESSAGE__BODY_WELCOME) {
		snprintf(err, errlen, "the daemon answered hello with %s", kt_ctl_body_name(ans->body_case));
		return -1;
	}
	p->probe_id = ans->welcome->probe_id;
	p->daemon_pid = ans->welcome->daemon_pid;
	return 0;
}

/*
 * Through the daemon, if one listens and the command line lets it: the
 * exporter that hands requests to it. NULL with *rc 0 when the probe is to
 * export by itself, with *rc EXIT_FAILED (said) when it cannot do either.
 */
static struct kt_exporter *daemon_exporter(struct probe *p, int *rc)
{
	const struct kt_config *cfg = p->cfg;
	char err[512];
	*rc = 0;
	if (cfg->export_via == KT_VIA_SELF)
		return NULL;
	if (!cfg->control_socket) {
		if (cfg->export_via == KT_VIA_DAEMON) {
			kt_err("--export-via daemon: no control socket (--control-socket none)");
			*rc = EXIT_FAILED;
		}
		return NULL;
	}
	p->ctl_fd = kt_control_connect(cfg->control_socket, err, sizeof(err));
	if (p->ctl_fd < 0) {
		if (cfg->export_via == KT_VIA_DAEMON || !kt_control_absent(errno)) {
			kt_err("%s%s", err, cfg->export_via == KT_VIA_DAEMON ? "" : " (--export-via self exports without it)");
			*rc = EXIT_FAILED;
		} else {
			kt_debug("%s: exporting by itself", err);
		}
		return NULL;
	}
	struct kt_exporter *e = NULL;
	if (say_hello(p, err, sizeof(err)) == 0)
		e = kt_control_exporter_new(p->ctl_fd);
	else
		kt_err("the daemon on %s: %s", cfg->control_socket, err);
	if (!e)
		*rc = EXIT_FAILED;
	return e;
}

/* The daemon speaks only to say stop; its end of the socket closing ends the probe too. */
static void on_control(struct kt_poll_handler *h, uint32_t events)
{
	struct probe *p = (struct probe *)((char *)h - offsetof(struct probe, ctl_h));
	(void)events;
	int r = kt_ctl_reader_fill(&p->ctl_in, p->ctl_fd);
	for (;;) {
		kt_ctl_msg *m;
		char err[256];
		int n = kt_ctl_reader_next(&p->ctl_in, &m, err, sizeof(err));
		if (n == 0)
			break;
		if (n < 0) {
			kt_err("the daemon's control socket: %s", err);
			r = -1;
			break;
		}
		if (m->body_case == KATATRACE__CONTROL__V1__MESSAGE__BODY_STOP) {
			snprintf(p->stop_reason, sizeof(p->stop_reason), "%s",
				 m->stop->reason[0] ? m->stop->reason : "the daemon");
			if (!p->stopped_by)
				p->stopped_by = p->stop_reason;
		} else {
			kt_warn("the daemon's control socket: a %s message ignored",
				kt_ctl_body_name(m->body_case));
		}
	}
	if (r < 0) {
		kt_poll_del(p->epfd, p->ctl_fd);
		if (!p->stopped_by) {
			kt_err("the daemon (pid %u) closed its control socket: the probe ends",
			       (unsigned)p->daemon_pid);
			p->daemon_lost = true;
			p->stopped_by = "the daemon's end";
		}
	}
}

/* ------------------------------------------------------------ set-up */

/* Every --span and --event, variables expanded, parsed. EXIT_USAGE with a message. */
static int parse_specs(struct probe *p)
{
	const struct kt_config *cfg = p->cfg;
	for (int role = KT_PROBE_SPAN; role <= KT_PROBE_EVENT; role++) {
		const char *const *list = role == KT_PROBE_SPAN ? cfg->span_specs : cfg->event_specs;
		size_t n = role == KT_PROBE_SPAN ? cfg->n_span_specs : cfg->n_event_specs;
		for (size_t i = 0; i < n; i++) {
			char text[KT_PROBE_SPEC_MAX + 1], err[512];
			if (kt_probe_vars_expand(list[i], &p->target, text, sizeof(text), err,
						 sizeof(err)) ||
			    kt_probe_spec_parse(text, (enum kt_probe_role)role, &p->specs[p->n_specs],
						err, sizeof(err))) {
				kt_err("%s %s: %s", role == KT_PROBE_SPAN ? "--span" : "--event", list[i],
				       err);
				return EXIT_USAGE;
			}
			p->n_specs++;
		}
	}
	return 0;
}

/* The bpftrace program (-e, or -f read whole), its variables expanded. */
static int load_program(struct probe *p)
{
	const struct kt_config *cfg = p->cfg;
	const char *src = cfg->program;
	char *file_text = NULL;
	if (cfg->program_file) {
		FILE *f = fopen(cfg->program_file, "r");
		if (!f) {
			kt_err("--program-file %s: %s", cfg->program_file, strerror(errno));
			return EXIT_FAILED;
		}
		file_text = malloc(PROGRAM_FILE_MAX + 1);
		size_t n = file_text ? fread(file_text, 1, PROGRAM_FILE_MAX + 1, f) : 0;
		fclose(f);
		if (!file_text || n > PROGRAM_FILE_MAX) {
			kt_err("--program-file %s: %s", cfg->program_file,
			       file_text ? "larger than 1 MiB" : strerror(ENOMEM));
			free(file_text);
			return EXIT_FAILED;
		}
		file_text[n] = '\0';
		src = file_text;
	}
	if (!src)
		return 0;
	/* Expansion only ever grows a program by pids and ids: room for twice the text. */
	size_t cap = 2 * strlen(src) + 4096;
	char err[512];
	p->program = malloc(cap);
	int rc = !p->program ? -1
			     : kt_probe_vars_expand_ex(src, &p->target, 0, p->program, cap, err,
						       sizeof(err));
	free(file_text);
	if (rc) {
		kt_err("bpftrace program: %s", p->program ? err : strerror(ENOMEM));
		return EXIT_USAGE;
	}
	return 0;
}

static int start_probes(struct probe *p)
{
	char err[1024];

	if (p->n_specs) {
		struct kt_probe_capture_cfg cc = {
			.specs = p->specs,
			.n_specs = p->n_specs,
			.nargs = p->cfg->probe_args,
			.pids = p->pids,
			.n_pids = p->n_pids,
			.sink = sink_of(p),
			.origin = p->origin,
			.trace_id = p->trace_id,
			.parent_span_id = p->parent_span_id,
		};
		p->cap = kt_probe_capture_open(&cc, err, sizeof(err));
		if (!p->cap) {
			kt_err("%s", err);
			return EXIT_FAILED;
		}
	}
	if (p->program) {
		struct kt_bpftrace_spec bs = { .program = p->program, .origin = p->origin };
		if (kt_bpftrace_start(&bs, &p->bt, err, sizeof(err))) {
			kt_err("%s", err);
			return EXIT_FAILED;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ the loop */

static struct probe *of(struct kt_poll_handler *h, size_t off)
{
	return (struct probe *)((char *)h - off);
}

static void on_signal(struct kt_poll_handler *h, uint32_t events)
{
	struct probe *p = of(h, offsetof(struct probe, sig_h));
	struct signalfd_siginfo si;
	(void)events;
	while (read(p->sig_fd, &si, sizeof(si)) == sizeof(si))
		if (!p->stopped_by)
			p->stopped_by = strsignal((int)si.ssi_signo);
}

static void on_capture(struct kt_poll_handler *h, uint32_t events)
{
	struct probe *p = of(h, offsetof(struct probe, cap_h));
	(void)events;
	kt_probe_capture_consume(p->cap);
}

static void on_bpftrace(struct kt_poll_handler *h, uint32_t events)
{
	struct probe *p = of(h, offsetof(struct probe, bt_h));
	const struct kt_record_sink sink = sink_of(p);
	(void)events;
	if (kt_bpftrace_read(p->bt, &sink) <= 0 && !p->stopped_by) {
		/* bpftrace ended by itself (exit(), or an error said at stop) */
		kt_poll_del(p->epfd, kt_bpftrace_fd(p->bt));
		p->stopped_by = "bpftrace ended";
	}
}

/* Is a process still there (and not a zombie waiting to be reaped)? */
static bool alive(uint32_t pid)
{
	return kt_proc_state("/proc", pid, NULL) == KT_PROC_LIVE;
}

/* Has the target ended? Says how into p->ended. */
static bool target_ended(struct probe *p)
{
	const struct kt_probe_target *t = &p->target;
	switch (t->kind) {
	case KT_TARGET_PID:
		if (alive(t->pid))
			return false;
		snprintf(p->ended, sizeof(p->ended), "process %u ended", t->pid);
		return true;
	case KT_TARGET_SANDBOX:
	case KT_TARGET_POD: {
		uint32_t pid = t->hypervisor_pid ? t->hypervisor_pid : t->shim_pid;
		if (!pid || alive(pid))
			return false;
		snprintf(p->ended, sizeof(p->ended), "sandbox %s ended (its %s, process %u, exited)",
			 t->sandbox.id, t->hypervisor_pid ? "hypervisor" : "shim", pid);
		return true;
	}
	case KT_TARGET_NODE:
		break;
	}
	return false;
}

static void on_tick(struct kt_poll_handler *h, uint32_t events)
{
	struct probe *p = of(h, offsetof(struct probe, tick_h));
	uint64_t n;
	(void)events;
	if (read(p->tick_fd, &n, sizeof(n)) != sizeof(n) || p->stopped_by)
		return;
	if (p->deadline_ns && kt_mono_ns() >= p->deadline_ns)
		p->stopped_by = "--duration";
	else if (target_ended(p))
		p->stopped_by = p->ended;
}

static int setup_loop(struct probe *p)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -1;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	p->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->epfd < 0 || p->sig_fd < 0 || p->tick_fd < 0)
		return -1;
	struct itimerspec its = { { 0, TICK_MS * 1000000L }, { 0, TICK_MS * 1000000L } };
	if (timerfd_settime(p->tick_fd, 0, &its, NULL))
		return -1;
	p->sig_h.fn = on_signal;
	p->tick_h.fn = on_tick;
	return kt_poll_add(p->epfd, p->sig_fd, &p->sig_h) || kt_poll_add(p->epfd, p->tick_fd, &p->tick_h)
		       ? -1
		       : 0;
}

static void run_loop(struct probe *p)
{
	if (p->cap) {
		p->cap_h.fn = on_capture;
		kt_poll_add(p->epfd, kt_probe_capture_fd(p->cap), &p->cap_h);
	}
	if (p->bt) {
		p->bt_h.fn = on_bpftrace;
		kt_poll_add(p->epfd, kt_bpftrace_fd(p->bt), &p->bt_h);
	}
	if (p->ctl_fd >= 0) {
		p->ctl_h.fn = on_control;
		kt_poll_add(p->epfd, p->ctl_fd, &p->ctl_h);
	}
	if (p->cfg->duration_s)
		p->deadline_ns = kt_mono_ns() + (uint64_t)p->cfg->duration_s * 1000000000ull;
	while (!p->stopped_by) {
		struct epoll_event ev[8];
		int n = epoll_wait(p->epfd, ev, 8, -1);
		if (n < 0 && errno != EINTR) {
			kt_err("epoll_wait: %s", strerror(errno));
			p->stopped_by = "an error";
		}
		for (int i = 0; i < n; i++) {
			struct kt_poll_handler *h = ev[i].data.ptr;
			h->fn(h, ev[i].events);
		}
	}
}

/* ------------------------------------------------------------ the command */

static void say_ready(const struct probe *p)
{
	const struct kt_probe_target *t = &p->target;
	const struct kt_sandbox_meta *m = &t->sandbox;
	char what[KT_SANDBOX_ID_MAX + 2 * KT_META_STR + 32], pids[128] = "";
	if (m->id[0] && m->pod_name[0])
		snprintf(what, sizeof(what), "sandbox %s (pod %s/%s)", m->id, m->pod_namespace,
			 m->pod_name);
	else if (m->id[0])
		snprintf(what, sizeof(what), "sandbox %s", m->id);
	else if (t->kind == KT_TARGET_PID)
		snprintf(what, sizeof(what), "process %u", t->pid);
	else
		snprintf(what, sizeof(what), "the node");
	size_t n = p->n_pids;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(pids);
		snprintf(pids + l, sizeof(pids) - l, "%s%u", i ? "," : "pids ", p->pids[i]);
	}
	/* bpftrace programs filter themselves ($pid and the like): only the probes are filtered here */
	kt_info("ready: probing %s with %zu probe%s%s%s%s", what, p->n_specs,
		p->n_specs == 1 ? "" : "s", p->bt ? " and a bpftrace program" : "",
		p->n_specs ? ", filter: " : "", !p->n_specs ? "" : n ? pids : "none (every process)");
}

static void summary(const struct probe *p)
{
	struct kt_probe_totals t = { 0 };
	if (p->cap)
		kt_probe_capture_totals(p->cap, &t);
	const struct kt_bpftrace_totals *bt = p->bt ? kt_bpftrace_run_totals(p->bt) : NULL;
	uint64_t records = bt ? bt->records : 0, lost = t.lost + (bt ? bt->lost_events : 0);
	uint64_t spans_exported = KT_STAT_GET(spans_exported), logs_exported = KT_STAT_GET(logs_exported);
	/* --log-format json: the same line, its numbers as fields too */
	kt_report(stderr,
		  kt_report_counts(7, "hits", t.hits, "spans", t.spans, "events", t.events,
				   "bpftrace_records", records, "lost", lost, "spans_exported",
				   spans_exported, "logs_exported", logs_exported),
		  "katatrace-bpf probe summary: stopped by %s; hits %llu, spans %llu, events %llu, "
		  "bpftrace records %llu, lost %llu, spans exported %llu, log records exported %llu",
		  p->stopped_by ? p->stopped_by : "-", (unsigned long long)t.hits,
		  (unsigned long long)t.spans, (unsigned long long)t.events,
		  (unsigned long long)records, (unsigned long long)lost,
		  (unsigned long long)spans_exported, (unsigned long long)logs_exported);
}

static int finish(struct probe *p, int rc)
{
	char err[1024];
	if (p->bt) {
		const struct kt_record_sink sink = sink_of(p);
		int status = kt_bpftrace_stop(p->bt, &sink, err, sizeof(err));
		/* interrupted by us is how a bpftrace program normally ends */
		if (status != 0 && status != 128 + SIGINT && !rc) {
			kt_err("%s", err);
			rc = EXIT_FAILED;
		}
	}
	if (p->cap)
		kt_probe_capture_consume(p->cap); /* what is still in the ring buffer */
	if (p->q)
		kt_export_queue_stop(p->q); /* through the daemon: the last records reach it here */
	if (p->stopped_by)
		summary(p);
	if (p->ctl_fd >= 0)
		close(p->ctl_fd);
	kt_ctl_reader_free(&p->ctl_in);
	if (p->daemon_lost && !rc)
		rc = EXIT_FAILED;
	if (p->cap)
		kt_probe_capture_close(p->cap);
	if (p->bt)
		kt_bpftrace_free(p->bt);
	if (p->origin)
		kt_origin_put(p->origin);
	free(p->program);
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->sig_fd >= 0)
		close(p->sig_fd);
	if (p->tick_fd >= 0)
		close(p->tick_fd);
	return rc;
}

int kt_cmd_probe(const struct kt_config *cfg)
{
	if (cfg->probe_action == KT_PROBE_LIST)
		return kt_cmd_probe_list(cfg);
	if (cfg->probe_action == KT_PROBE_STOP)
		return kt_cmd_probe_stop(cfg);

	struct probe p = { .cfg = cfg, .epfd = -1, .sig_fd = -1, .tick_fd = -1, .ctl_fd = -1 };
	char err[1024];
	int rc;

	kt_ctl_reader_init(&p.ctl_in);
	struct kt_target_env env = {
		.run_root = cfg->run_root,
		.proc_root = "/proc",
		.bundle_patterns = cfg->n_bundle_paths ? cfg->bundle_paths : NULL,
		.n_bundle_patterns = cfg->n_bundle_paths,
	};
	if (kt_probe_target_resolve(cfg->probe_target, &env, &p.target, err, sizeof(err))) {
		kt_err("%s", err);
		return EXIT_FAILED;
	}
	if ((rc = parse_specs(&p)) || (rc = load_program(&p)))
		return finish(&p, rc);
	if (p.target.sandbox.id[0])
		kt_sandbox_ids(p.target.sandbox.id, strlen(p.target.sandbox.id), &p.trace_id,
			       &p.parent_span_id);
	p.origin = probe_origin(&p);
	p.n_pids = kt_probe_target_pids(&p.target, p.pids, KT_TARGET_MAX_PIDS);

	if (!p.origin) {
		kt_err("%s", strerror(ENOMEM));
		return finish(&p, EXIT_FAILED);
	}
	const char *what = NULL;
	char through[128];
	struct kt_exporter *e = daemon_exporter(&p, &rc);
	if (rc)
		return finish(&p, rc);
	if (e) {
		snprintf(through, sizeof(through), "the daemon (pid %u) as probe %llu",
			 (unsigned)p.daemon_pid, (unsigned long long)p.probe_id);
		what = through;
	} else if (!(e = kt_exporter_from_config(cfg, &what))) {
		return finish(&p, EXIT_FAILED);
	}
	struct kt_export_queue_cfg qc = KT_EXPORT_QUEUE_DEFAULTS;
	qc.batch_max = cfg->batch_size;
	qc.batch_timeout_ms = cfg->batch_timeout_ms;
	qc.queue_max = cfg->queue_size;
	qc.resource.service_name = KT_PROBE_SERVICE_NAME;
	p.q = kt_export_queue_start(e, &qc);
	if (!p.q) {
		e->destroy(e);
		return finish(&p, EXIT_FAILED);
	}
	kt_mount_bpf_filesystems();
	kt_libbpf_log_init();
	if (setup_loop(&p)) {
		kt_err("cannot set up the event loop: %s", strerror(errno));
		return finish(&p, EXIT_FAILED);
	}
	if ((rc = start_probes(&p)))
		return finish(&p, rc);
	kt_info("exporting to %s", what);
	say_ready(&p);
	run_loop(&p);
	kt_info("stopping: %s", p.stopped_by);
	return finish(&p, EXIT_RAN);
}

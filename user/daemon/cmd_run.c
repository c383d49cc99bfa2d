/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon: capture (BPF ring buffer or sink sockets) -> pipeline ->
 * export queue, driven by one epoll loop; signals arrive via signalfd so
 * shutdown happens in the loop, in order: drain the kernel ring buffer,
 * close listeners, finish every stream, flush the exporter, print a summary.
 *
 * Start-up runs as root: exporter (its output file), the metrics socket,
 * BPF programs, then the broker (user/daemon/broker.h), which binds the
 * listeners and discovers the sandboxes; then the daemon drops to --user
 * with no capabilities before any thread exists, and only then reads guest
 * data. The ring buffer's drain thread (capture/drain.h), the export
 * thread and the metrics server's start after that; the
 * tick publishes what the metrics show of the loop's state (base/metrics.h).
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon/broker.h"
#include "daemon/commands.h"
#include "daemon/run_daemon.h"
#include "daemon/control_server.h"
#include "daemon/metrics_addr.h"
#include "daemon/metrics_http.h"
#include "sandbox/discovery.h"
#include "sandbox/hypervisors.h"
#include "exporters/export_queue.h"
#include "daemon/privdrop.h"
#include "daemon/spool_dir.h"
#include "sandbox/sandbox_registry.h"
#include "base/clock.h"
#include "base/diag.h"
#include "base/metrics.h"
#include "stream/pipeline.h"
#include "base/poller.h"
#include "capture/sink_mode.h"
#include "traces/trace_stitch.h"
#include "base/stats.h"
#include "capture/capture.h"
#include "capture/drain.h"
#include "capture/vm_capture.h"
#include "stream/burst.h"
#include "traces/vm_spans.h"

#define TICK_MS 100
/* How long the daemon waits for its own stop signal after its broker stopped as told. */
#define BROKER_STOP_GRACE_MS 1000
/* Record bytes decoded between two looks at the ring buffer. */
#define DECODE_SLICE (256u << 10)
/* At shutdown, how long probes exporting through the daemon may take to send their last records. */
#define CONTROL_DRAIN_MS 3000
/* The hypervisors' hybrid-vsock sockets (WIRE-FORMATS §3.2): runtime -> agent ttrpc. */
static const char *const *const ttrpc_sockets = kt_hv_sockets;
#define N_TTRPC_SOCKETS kt_n_hv_sockets
/* With a metrics server, the kernel's counters are read this often (ticks). */
#define KERNEL_COUNTERS_TICKS (1000 / TICK_MS)
/* A sandbox that went away still names the spans that arrive after it. */
#define KT_SANDBOX_LINGER_NS (120ull * 1000000000ull)


static void to_queue(void *ctx, struct kt_span_record *r)
{
	struct daemon *d = ctx;
	if (d->queue)
		kt_export_queue_push(d->queue, r);
	else
		kt_span_record_free(r); /* start-up failed */
}

/* Every span passes the sandbox traces (trace_stitch.h) on its way to the queue. */
static void to_stitch(void *ctx, struct kt_span_record *r)
{
	struct daemon *d = ctx;
	if (d->stitch)
		kt_stitch_span(d->stitch, r, kt_mono_ns());
	else
		to_queue(d, r);
}

static void log_to_queue(void *ctx, struct kt_log_record *r)
{
	struct daemon *d = ctx;
	if (d->queue)
		kt_export_queue_push_log(d->queue, r);
	else
		kt_log_record_free(r); /* start-up failed */
}

/* The sandbox's trace learns of the call when it is requested. */
static uint64_t rpc_to_stitch(void *ctx, const char *sandbox_id, const struct kt_rpc_request *rq,
			      uint64_t now_ns)
{
	struct daemon *d = ctx;
	return d->stitch ? kt_stitch_rpc_request(d->stitch, sandbox_id, rq, now_ns) : 0;
}

/* The Kata 1.x ports in use: 0 when off or the same as the agent's port. */
static unsigned legacy_port(const struct kt_config *cfg, unsigned port)
{
	return port != cfg->vsock_port ? port : 0;
}

static void broker_drain(struct daemon *d);

bool kt_run_decode_burst(struct daemon *d, size_t budget)
{
	const void *rec;
	size_t size, done = 0;
	uint32_t kind;
	rec = kt_burst_peek_kind(d->burst, &size, &kind);
	while (rec) {
		if (kind == KT_BURST_VM_EVENT)
			kt_vm_spans_record(d->vm, rec, size);
		else
			kt_pipeline_record(d->pipeline, rec, size, kt_mono_ns());
		done += size;
		if (done >= budget) {
			kt_burst_pop(d->burst);
			break;
		}
		rec = kt_burst_pop_peek(d->burst, &size, &kind);
	}
	if (!kt_burst_empty(d->burst))
		return true;
	kt_drain_emptied(d->drain); /* a drop is said again when it fills again */
	return false;
}

/*
 * A slice of the records waiting in the burst buffer: the loop looks at
 * its other events between two, so a backlog never holds them up long.
 */
static void capture_step(struct daemon *d)
{
	/*
	 * Sink mode: the daemon reads the sockets itself, and those reads are
	 * the writers' flow control. It reads on (handles its events) only once
	 * the ring buffer was emptied after the last reads, and the backlog is
	 * back under the ring buffer's size: a writer faster than decoding waits
	 * instead of filling the ring buffer or the burst buffer.
	 */
	bool sink = d->cfg->mode == KT_MODE_SINK;
	if (sink)
		kt_drain_help(d->drain, true);
	if (kt_burst_empty(d->burst))
		return;
	broker_drain(d); /* before the records: they meet a current registry */
	size_t backlog = sink ? d->cfg->ringbuf_bytes : SIZE_MAX;
	do
		kt_drain_help(d->drain, sink); /* the thread may be waiting for a CPU */
	while (kt_run_decode_burst(d, DECODE_SLICE) && kt_burst_bytes(d->burst) > backlog);
}

/* Records came into an empty burst buffer. */
static void on_drain(struct kt_poll_handler *h, uint32_t events)
{
	struct daemon *d = (struct daemon *)((char *)h - offsetof(struct daemon, drain_h));
	(void)events;
	kt_drain_ack(d->drain);
}


static void on_counters(void *ctx, const uint64_t c[KT_CNT__MAX])
{
	struct daemon *d = ctx;
	kt_stats_kernel(c);
	/* Read every second for the metrics: said again only when they moved. */
	bool moved = memcmp(c, d->kernel, sizeof(d->kernel)) != 0;
	bool vm_loss = c[KT_CNT_VM_PROCS_FULL] != d->kernel[KT_CNT_VM_PROCS_FULL] ||
		       c[KT_CNT_VM_CONNS_FULL] != d->kernel[KT_CNT_VM_CONNS_FULL] ||
		       c[KT_CNT_VM_RB_FAIL] != d->kernel[KT_CNT_VM_RB_FAIL];
	memcpy(d->kernel, c, sizeof(d->kernel));
	if (!moved)
		return;
	if (vm_loss)
		kt_warn("vm events: %llu hypervisors and %llu vsock connections not followed "
			"(tables full), %llu events lost",
			(unsigned long long)c[KT_CNT_VM_PROCS_FULL],
			(unsigned long long)c[KT_CNT_VM_CONNS_FULL],
			(unsigned long long)c[KT_CNT_VM_RB_FAIL]);
	kt_debug("kernel counters: %llu bytes, %llu gap bytes, %llu lost records, "
		 "%llu untracked connections, %llu bytes from page frags",
		 (unsigned long long)c[KT_CNT_BYTES], (unsigned long long)c[KT_CNT_GAP_BYTES],
		 (unsigned long long)KT_STAT_GET(lost_records), (unsigned long long)c[KT_CNT_STREAM_FULL],
		 (unsigned long long)c[KT_CNT_FRAG_BYTES]);
}

/* The BPF counters are read by the broker: the bpf() syscall may need privilege. */
static void update_kernel_counters(struct daemon *d)
{
	if (d->broker && d->capture)
		kt_broker_request_counters(d->broker);
}

/* ------------------------------------------------------------ broker reports */

static void on_listen(void *ctx, uint64_t key, int fd, const char *label, bool vsock,
		      unsigned port)
{
	struct daemon *d = ctx;
	if (!d->sink) {
		close(fd);
		return;
	}
	kt_sink_add_listener(d->sink, fd, key, label, vsock, port);
}

static void on_unlisten(void *ctx, uint64_t key)
{
	struct daemon *d = ctx;
	if (d->sink)
		kt_sink_remove_listener(d->sink, key);
}

static void on_sandbox(void *ctx, const struct kt_sandbox_meta *m)
{
	struct daemon *d = ctx;
	if (!kt_sandbox_meta_valid(m)) {
		kt_warn("broker: malformed sandbox description ignored");
		return;
	}
	bool known = kt_registry_by_id(d->registry, m->id) != NULL;
	if (kt_registry_put(d->registry, m) == 0 && !known)
		kt_info("sandbox %s: %s%s%s%s%s", m->id, m->hypervisor[0] ? m->hypervisor : "hypervisor ?",
			m->pod_name[0] ? ", pod " : "", m->pod_namespace,
			m->pod_name[0] ? "/" : "", m->pod_name);
}

static void on_sandbox_gone(void *ctx, const char *id)
{
	struct daemon *d = ctx;
	kt_info("sandbox %s: gone", id);
	kt_registry_gone(d->registry, id, kt_mono_ns());
	kt_stitch_sandbox_end(d->stitch, id, kt_mono_ns());
}

static void on_control(void *ctx, int fd, const char *path)
{
	struct daemon *d = ctx;
	if (d->control)
		kt_control_listen(d->control, fd, path);
	else
		close(fd);
}

static bool owner_via_broker(void *ctx, uint32_t cid, const char *writer_comm,
			     struct kt_vsock_owner *out)
{
	struct daemon *d = ctx;
	if (!d->broker) {
		memset(out, 0, sizeof(*out));
		return false;
	}
	return kt_broker_owner(d->broker, cid, writer_comm, out);
}

static const struct kt_broker_ops broker_ops = {
	.listen = on_listen,
	.unlisten = on_unlisten,
	.sandbox = on_sandbox,
	.sandbox_gone = on_sandbox_gone,
	.counters = on_counters,
	.control = on_control,
};

/* The signals waiting in the signal fd (non-blocking): SIGHUP dumps, the others stop. */
static void read_signals(struct daemon *d)
{
	struct signalfd_siginfo si;
	while (d->sig_fd >= 0 && read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			update_kernel_counters(d);
			kt_stats_dump(stderr);
			continue;
		}
		kt_info("%s: shutting down", strsignal((int)si.ssi_signo));
		kt_metrics_set_state(KT_RUN_STOPPING);
		d->stop = true;
	}
}

/*
 * A fault the daemon cannot serve through: /readyz says so at once, the
 * loop ends, everything captured is flushed as on SIGTERM, and the exit
 * status is KT_EXIT_FAULT, so that a supervisor restarts it rather than
 * keep a daemon that looks alive and serves no new sandbox.
 */
static void fail(struct daemon *d, const char *why)
{
	if (d->fault)
		return;
	d->fault = why;
	kt_metrics_set_failing(why);
	d->stop = true;
}

/* Everything the broker said: before ring buffer records, so they meet a current registry. */
static void broker_drain(struct daemon *d)
{
	if (d->broker && kt_broker_dispatch(d->broker) < 0) {
		/* Nothing new could be bound or discovered any more. */
		char how[96];
		int pid = kt_broker_pid(d->broker);
		bool told = kt_broker_exit_text(d->broker, how, sizeof(how));
		kt_poll_del(d->epfd, kt_broker_fd(d->broker));
		kt_broker_stop(d->broker);
		d->broker = NULL;
		/* Stopped with it (a signal to both, say): a stop, not a fault. */
		read_signals(d);
		/*
		 * A stop of both (pkill, a runtime signalling the group) signals them one
		 * after the other: a broker that stopped as told may be ahead of
		 * the daemon's own signal, which gets a moment to arrive.
		 */
		if (!d->stop && told && d->sig_fd >= 0) {
			struct pollfd p = { .fd = d->sig_fd, .events = POLLIN };
			if (poll(&p, 1, BROKER_STOP_GRACE_MS) > 0)
				read_signals(d);
		}
		if (d->stop) {
			kt_info("broker (pid %d) %s as the daemon stops", pid, how);
			return;
		}
		kt_err("broker (pid %d) %s: no sandbox can be discovered or given a listener from now "
		       "on; flushing what was captured, then exiting with status %d so that it is "
		       "restarted",
		       pid, how, KT_EXIT_FAULT);
		fail(d, "the broker exited");
	}
}

static void on_broker(struct kt_poll_handler *h, uint32_t events)
{
	struct daemon *d = (struct daemon *)((char *)h - offsetof(struct daemon, broker_h));
	(void)events;
	broker_drain(d);
}

static void publish_spool(const struct daemon *d)
{
	if (!d->spool)
		return;
	struct kt_spool_stats ss;
	kt_spool_stats(d->spool, &ss);
	KT_GAUGE_SET(spool_bytes, ss.bytes);
	KT_GAUGE_SET(spool_requests, ss.records);
	KT_GAUGE_SET(spool_dropped, ss.dropped_records);
	KT_GAUGE_SET(spool_write_errors, ss.write_errors + ss.sync_errors);
	KT_GAUGE_SET(spool_corrupt, ss.corrupt_files);
}

/* What the metrics' gauges show: published for the metrics server's thread. */
static void publish_gauges(struct daemon *d)
{
	size_t queued[KT_REC__N];
	kt_export_queue_depth(d->queue, queued);
	KT_GAUGE_SET(sandboxes, kt_registry_live(d->registry));
	KT_GAUGE_SET(connections, kt_pipeline_conn_count(d->pipeline));
	KT_GAUGE_SET(sink_listeners, kt_sink_listeners(d->sink));
	KT_GAUGE_SET(sink_connections, kt_sink_connections(d->sink));
	KT_GAUGE_SET(queue[KT_REC_SPANS], queued[KT_REC_SPANS]);
	KT_GAUGE_SET(queue[KT_REC_LOGS], queued[KT_REC_LOGS]);
	KT_GAUGE_SET(queue_capacity, d->cfg->queue_size);
	KT_GAUGE_SET(memory_used, kt_mem_used(&d->mem));
	KT_GAUGE_SET(memory_peak, d->mem.peak);
	KT_GAUGE_SET(memory_budget, d->mem.limit);
	publish_spool(d);
	if (d->burst) {
		struct kt_burst_stats bs;
		kt_burst_stats(d->burst, &bs);
		KT_GAUGE_SET(burst_bytes, bs.bytes);
		KT_GAUGE_SET(burst_peak, bs.peak);
	}
}

static void on_signal(struct kt_poll_handler *h, uint32_t events)
{
	struct daemon *d = (struct daemon *)((char *)h - offsetof(struct daemon, sig_h));
	(void)events;
	read_signals(d);
}

static void on_tick(struct kt_poll_handler *h, uint32_t events)
{
	struct daemon *d = (struct daemon *)((char *)h - offsetof(struct daemon, tick_h));
	uint64_t n;
	(void)events;
	if (read(d->tick_fd, &n, sizeof(n)) != sizeof(n))
		return;
	broker_drain(d); /* what arrived during an owner lookup */
	kt_pipeline_tick(d->pipeline, kt_mono_ns());
	kt_registry_tick(d->registry, kt_mono_ns());
	kt_stitch_tick(d->stitch, kt_mono_ns());
	d->ticks++;
	if (d->metrics) {
		kt_metrics_heartbeat(kt_mono_ns());
		publish_gauges(d);
		if (d->ticks % KERNEL_COUNTERS_TICKS == 0)
			update_kernel_counters(d);
	}
	unsigned every = d->cfg->stats_interval_s * (1000 / TICK_MS);
	if (every && d->ticks % every == 0) {
		update_kernel_counters(d);
		kt_info("stats: %zu connections, %zu sandboxes, %zu listeners, %zu sink connections; "
			"memory budget: %zu of %zu bytes held (%zu for connections, %zu for spans "
			"and logs, %zu in the burst buffer), peak %zu",
			kt_pipeline_conn_count(d->pipeline), kt_registry_live(d->registry),
			kt_sink_listeners(d->sink), kt_sink_connections(d->sink),
			kt_mem_used(&d->mem), d->mem.limit, kt_pipeline_held(d->pipeline),
			kt_mem_held(&d->records), kt_mem_held(&d->burst_acct), d->mem.peak);
		kt_stats_summary(stderr, KT_STATS_RUNNING);
	}
}


static int setup_signals(struct daemon *d)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -1;
	signal(SIGPIPE, SIG_IGN);
	d->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sig_fd < 0)
		return -1;
	d->sig_h.fn = on_signal;
	return kt_poll_add(d->epfd, d->sig_fd, &d->sig_h);
}

static int setup_tick(struct daemon *d)
{
	struct itimerspec its = { .it_interval = { 0, TICK_MS * 1000000L },
				  .it_value = { 0, TICK_MS * 1000000L } };
	d->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->tick_fd < 0 || timerfd_settime(d->tick_fd, 0, &its, NULL))
		return -1;
	d->tick_h.fn = on_tick;
	return kt_poll_add(d->epfd, d->tick_fd, &d->tick_h);
}

static void on_running_vm(void *ctx, const struct kt_vm_running *r)
{
	struct daemon *d = ctx;
	if (kt_vm_capture_track(kt_capture_vm(d->capture), r->pid) == 0)
		kt_vm_spans_running(d->vm, r->pid, r->start_boot_ns, r->exe, r->args, r->args_len);
}

/*
 * VM events go through the drain and the burst buffer behind the capture's
 * records, in the order they were read; hypervisors running now are followed too.
 */
static int setup_vm_events(struct daemon *d)
{
	struct kt_vm_capture *vc = kt_capture_vm(d->capture);
	if (!vc) {
		kt_vm_spans_free(d->vm);
		d->vm = NULL;
		return 0;
	}
	if (kt_drain_add_vm_events(d->drain, kt_vm_capture_ringbuf_fd(vc)))
		return -1;
	/* Still root: /proc of every hypervisor is readable. */
	kt_vm_scan_running("/proc", on_running_vm, d);
	return 0;
}

static int setup_bpf(struct daemon *d)
{
	const struct kt_config *cfg = d->cfg;
	unsigned ports[3] = { cfg->vsock_port };
	size_t n_ports = 1;
	if (legacy_port(cfg, cfg->jaeger_port))
		ports[n_ports++] = cfg->jaeger_port;
	if (legacy_port(cfg, cfg->journal_port) && cfg->journal_port != cfg->jaeger_port)
		ports[n_ports++] = cfg->journal_port;
	/* --capture-path prefixes, then containerd's shim socket directories */
	const char *prefixes[KT_MAX_CAPTURE_PATHS + KT_MAX_SHIM_SOCKET_DIRS];
	size_t n_prefixes = 0;
	for (size_t i = 0; i < cfg->n_capture_paths; i++)
		prefixes[n_prefixes++] = cfg->capture_paths[i];
	for (size_t i = 0; i < cfg->n_shim_socket_dirs; i++)
		prefixes[n_prefixes++] = cfg->shim_socket_dirs[i];
	/*
	 * Listeners named <uds>_<port> (every --socket-path, every Kata
	 * sandbox) match the port suffix; --capture-path adds prefixes for
	 * listeners named otherwise, and containerd's shim sockets are matched
	 * by their directory. vsock: connections to host port <port>, and the
	 * runtime's to the agent's ttrpc port in each guest.
	 */
	unsigned guest_ports[1] = { cfg->ttrpc_vsock_port };
	struct kt_capture_cfg cc = {
		.attach = cfg->attach,
		.ports = ports,
		.n_ports = n_ports,
		.prefixes = prefixes,
		.n_prefixes = n_prefixes,
		.suffixes = ttrpc_sockets,
		.n_suffixes = cfg->ttrpc ? N_TTRPC_SOCKETS : 0,
		.ringbuf_bytes = (uint32_t)cfg->ringbuf_bytes,
		/* the drain (capture/drain.h) is woken once a batch waits */
		.wakeup_bytes = kt_capture_batched_wakeup((uint32_t)cfg->ringbuf_bytes),
		.vsock = true,
		.vm_events = d->vm != NULL,
		.guest_ports = guest_ports,
		.n_guest_ports = cfg->ttrpc && cfg->ttrpc_vsock_port ? 1 : 0,
	};
	kt_mount_bpf_filesystems();
	kt_libbpf_log_init();
	kt_mem_acct_init(&d->burst_acct, &d->mem);
	d->burst = kt_burst_new(cfg->burst_bytes, &d->burst_acct);
	if (!d->burst) {
		kt_err("burst buffer: no memory");
		return -1;
	}
	/* as much as the ring buffer holds flows even when guests' data fills the budget */
	kt_burst_set_floor(d->burst, cfg->ringbuf_bytes);
	/* taken over: the old daemon's programs stay attached, its ring buffer goes on */
	d->capture = d->taking ? kt_run_take_capture(d, &cc) : kt_capture_start(&cc);
	if (!d->capture)
		return -1;
	/* Its thread starts once the privileges are dropped (no thread before). */
	d->drain = kt_drain_new(kt_capture_ringbuf_fd(d->capture), d->burst,
				KT_CAPTURE_LOOK_MS);
	if (!d->drain)
		return -1;
	d->drain_h.fn = on_drain;
	if (kt_poll_add(d->epfd, kt_drain_event_fd(d->drain), &d->drain_h))
		return -1;
	return setup_vm_events(d);
}

static int start_broker(struct daemon *d)
{
	const struct kt_config *cfg = d->cfg;
	uint32_t port = cfg->vsock_port;
	struct kt_discovery_config dc = {
		.run_root = cfg->run_root,
		.templates = cfg->n_sandbox_paths ? cfg->sandbox_paths : NULL,
		.ntemplates = cfg->n_sandbox_paths,
		.bundle_patterns = cfg->n_bundle_paths ? cfg->bundle_paths : NULL,
		.nbundle_patterns = cfg->n_bundle_paths,
		.ports = &port,
		.nports = 1,
	};
	struct kt_broker_cfg bc = {
		.socket_paths = cfg->socket_paths,
		.n_paths = cfg->n_socket_paths,
		.port = cfg->vsock_port,
		.jaeger_port = legacy_port(cfg, cfg->jaeger_port),
		.journal_port = cfg->journal_port != cfg->jaeger_port
					? legacy_port(cfg, cfg->journal_port)
					: 0,
		.sink = cfg->mode == KT_MODE_SINK,
		.vsock = true,
		.vsock_cid = cfg->vsock_cid,
		.vsock_required = cfg->vsock_cid_set,
		.discover = cfg->discovery,
		.discovery = &dc,
		.capture = d->capture,
		.run_root = cfg->run_root,
		.control_path = cfg->control_socket,
	};
	size_t n_adopted = 0;
	struct kt_adopted_listener *adopted = d->taking ? kt_run_take_listeners(d, &n_adopted) : NULL;
	bc.adopted = adopted;
	bc.n_adopted = n_adopted;
	/* the broker needs neither the metrics listener nor what only the daemon serves */
	size_t n_private = 0;
	int *private_fds = kt_run_take_private_fds(d, &n_private);
	if (private_fds && d->metrics_fd >= 0)
		private_fds[n_private++] = d->metrics_fd;
	bc.not_inherited = private_fds;
	bc.n_not_inherited = private_fds ? n_private : 0;
	d->broker = kt_broker_start(&bc, &broker_ops, d);
	/* the broker keeps them; this process's copies close with the handover */
	free(adopted);
	free(private_fds);
	if (!d->broker)
		return -1;
	/* vsock capture is the broker's from now on: it reattaches it when it can do better */
	kt_capture_give_vsock(d->capture);
	d->broker_h.fn = on_broker;
	return kt_poll_add(d->epfd, kt_broker_fd(d->broker), &d->broker_h);
}

/* --metrics-address: bound now, while still root (a port below 1024 may be asked for). */
static int bind_metrics(struct daemon *d)
{
	struct kt_metrics_addr a;
	char why[256], bound[128];
	if (!d->cfg->metrics_address)
		return 0;
	if (kt_metrics_addr_parse(d->cfg->metrics_address, &a, why, sizeof(why)) ||
	    (d->metrics_fd = kt_metrics_listen(&a, bound, sizeof(bound), why, sizeof(why))) < 0) {
		kt_err("--metrics-address %s: %s", d->cfg->metrics_address, why);
		return -1;
	}
	kt_info("metrics: http://%s/metrics, /healthz, /readyz", bound);
	return 0;
}

static int drop_privileges(struct daemon *d)
{
	const struct kt_config *cfg = d->cfg;
	char err[256];
	uid_t uid;
	gid_t gid;

	if (kt_user_lookup(cfg->user, &uid, &gid, err, sizeof(err))) {
		kt_err("%s", err);
		return -1;
	}
	if (uid == 0) {
		kt_warn("--user %s: keeping every privilege", cfg->user);
		return 0;
	}
	if (geteuid() != 0) {
		kt_info("running as uid %u already: no privileges to drop", (unsigned)geteuid());
		return 0;
	}
	if (kt_drop_to_user(uid, gid, err, sizeof(err))) {
		kt_err("cannot drop privileges: %s", err);
		return -1;
	}
	kt_info("running as %s (uid %u), no capabilities; broker pid %d keeps what binding "
		"sockets and discovery need",
		cfg->user, (unsigned)uid, kt_broker_pid(d->broker));
	return 0;
}

/*
 * --after-handover wait: everything is the new daemon's; this process
 * stays until it is told to stop, so that a supervisor which restarts
 * whatever exits (a pod's kubelet) does not start it again to take
 * everything back.
 */
static void wait_for_stop(struct daemon *d)
{
	kt_info("takeover: handed over; waiting for a stop signal (--after-handover wait)");
	struct pollfd pf = { .fd = d->sig_fd, .events = POLLIN };
	struct signalfd_siginfo si;
	while (d->sig_fd >= 0) {
		if (poll(&pf, 1, -1) < 0 && errno != EINTR)
			return;
		if (read(d->sig_fd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGHUP)
			return;
	}
}

int kt_cmd_run(const struct kt_config *cfg)
{
	struct daemon d = { .cfg = cfg, .sig_fd = -1, .tick_fd = -1, .metrics_fd = -1,
			    .metrics_keep_fd = -1, .taken = { .sock = -1 } };
	int status = 1;
	const char *what = NULL;

	/*
	 * Buffers a guest can grow (partial frames up to --max-frame) come from
	 * mmap and go back to the system when freed, whatever was freed before:
	 * glibc's adaptive threshold would serve them from the heap, whose
	 * freed space is not returned, so the process would keep its peak.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	kt_mem_pool_init(&d.mem, cfg->memory_budget);
	kt_mem_acct_init(&d.records, &d.mem);
	if (cfg->capture == KT_CAPTURE_BPF && cfg->memory_budget < cfg->burst_bytes)
		kt_info("--burst-buffer %llu is above --memory-budget %llu: a burst is bounded by "
			"the budget's room",
			(unsigned long long)cfg->burst_bytes, (unsigned long long)cfg->memory_budget);
	if (cfg->memory_budget < cfg->max_frame)
		kt_warn("--memory-budget %llu is below --max-frame %llu: the largest frames "
			"cannot be held",
			(unsigned long long)cfg->memory_budget, (unsigned long long)cfg->max_frame);

	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d.epfd < 0 || setup_signals(&d) || setup_tick(&d)) {
		kt_err("cannot set up the event loop: %s", strerror(errno));
		goto out;
	}
	kt_metrics_set_state(KT_RUN_STARTING);
	/* Before anything is bound: the running daemon hands over what it binds. */
	if ((cfg->takeover || cfg->fd_store) && kt_run_take_request(&d))
		goto out;
	if ((d.metrics_fd = kt_run_take_metrics(&d)) >= 0)
		kt_info("metrics: http://%s/metrics, /healthz, /readyz (taken over)",
			cfg->metrics_address);
	else if (bind_metrics(&d))
		goto out;
	/*
	 * Opened while still privileged, then handed to --user; replayed first.
	 * Taking over: once the old daemon has closed it (below).
	 */
	if (!d.taking && !kt_spool_dir_open(cfg, &d.spool))
		goto out;
	/* Created (output file opened) while still privileged; its thread starts later. */
	struct kt_exporter *e = kt_exporter_from_config(cfg, &what);
	if (!e)
		goto out;
	struct kt_export_queue_cfg qc = KT_EXPORT_QUEUE_DEFAULTS;
	qc.batch_max = cfg->batch_size;
	qc.batch_timeout_ms = cfg->batch_timeout_ms;
	qc.queue_max = cfg->queue_size;
	qc.resource.service_name = cfg->service_name;
	qc.spool = d.spool;

	d.registry = kt_registry_new(KT_SANDBOX_LINGER_NS);
	struct kt_stitch_cfg tc = KT_STITCH_DEFAULTS;
	tc.collate = cfg->collate;
	tc.complete = cfg->complete_traces;
	tc.grace_ns = cfg->complete_delay_ms * 1000000ull;
	tc.skew_ns = cfg->clock_skew_ms * 1000000ull;
	d.stitch = kt_stitch_new(&tc, &(struct kt_record_sink){ .span = to_queue, .ctx = &d });
	/* What the protocols and the VM spans make goes through the sandbox traces. */
	const struct kt_record_sink to_traces = {
		.span = to_stitch, .log = log_to_queue, .rpc_request = rpc_to_stitch, .ctx = &d
	};
	struct kt_pipeline_cfg pc = KT_PIPELINE_DEFAULTS;
	pc.protocols.agent.format = cfg->format;
	pc.protocols.agent.max_frame = cfg->max_frame;
	pc.mem_pool = &d.mem;
	pc.records_acct = &d.records;
	pc.max_conns = cfg->max_connections;
	pc.max_sandbox_conns = cfg->max_sandbox_connections;
	pc.run_root = cfg->run_root;
	pc.registry = d.registry;
	pc.protocols.rpc = (struct kt_rpc_cfg){
		.ttrpc_sockets = ttrpc_sockets,
		.n_ttrpc_sockets = cfg->ttrpc ? N_TTRPC_SOCKETS : 0,
		.ttrpc_vsock_port = cfg->ttrpc ? cfg->ttrpc_vsock_port : 0,
		.shim_socket_dirs = cfg->shim_socket_dirs,
		.n_shim_socket_dirs = cfg->n_shim_socket_dirs,
		.registry = d.registry,
	};
	pc.protocols.jaeger.port = legacy_port(cfg, cfg->jaeger_port);
	/* one decoder per port: the Jaeger one wins a shared port */
	pc.protocols.journal.port = cfg->journal_port != cfg->jaeger_port
					    ? legacy_port(cfg, cfg->journal_port)
					    : 0;
	pc.owner_lookup = owner_via_broker;
	pc.owner_ctx = &d;
	d.pipeline = d.registry && d.stitch ? kt_pipeline_new(&pc, &to_traces) : NULL;
	if (!d.pipeline) {
		e->destroy(e);
		goto out;
	}
	if (cfg->vm_spans && cfg->capture == KT_CAPTURE_BPF) {
		struct kt_vm_spans_cfg vc = {
			.registry = d.registry,
			.run_root = cfg->run_root,
			.owner_lookup = owner_via_broker,
			.owner_ctx = &d,
		};
		d.vm = kt_vm_spans_new(&vc, &to_traces);
	}
	/* Probes' records go the way of everything else: through the sandbox traces. */
	d.control = kt_control_new(&(struct kt_control_cfg){
		.epfd = d.epfd, .sink = to_traces, .takeover = kt_run_give_over, .takeover_ctx = &d });
	if (!d.control) {
		e->destroy(e);
		goto out;
	}
	if (cfg->mode == KT_MODE_SINK) {
		struct kt_sink_cfg sc = {
			.feed = cfg->capture == KT_CAPTURE_SOCKET,
			.max_conns = cfg->max_connections,
			.max_listener_conns = cfg->max_sandbox_connections,
		};
		d.sink = kt_sink_new(&sc, d.epfd, d.pipeline);
		if (!d.sink) {
			e->destroy(e);
			goto out;
		}
	}
	if ((cfg->capture == KT_CAPTURE_BPF && setup_bpf(&d)) || start_broker(&d)) {
		e->destroy(e);
		goto out;
	}
	/* after the broker's fork, which must not keep them open */
	kt_run_take_connections(&d);
	/* Everything adopted: the old daemon lets go, its spool is this daemon's now. */
	if (d.taking) {
		if (kt_run_take_commit(&d) || !kt_spool_dir_open(cfg, &d.spool)) {
			e->destroy(e);
			goto out;
		}
		qc.spool = d.spool;
	}
	if (drop_privileges(&d)) {
		e->destroy(e);
		goto out;
	}
	if (d.drain && kt_drain_start_thread(d.drain)) {
		e->destroy(e);
		goto out;
	}
	d.queue = kt_export_queue_start(e, &qc);
	if (!d.queue) {
		e->destroy(e);
		goto out;
	}
	/* Unprivileged now; the programs are attached (or the sink set up), the exporter runs. */
	if (d.metrics_fd >= 0) {
		publish_gauges(&d);
		kt_metrics_heartbeat(kt_mono_ns());
		/* a copy stays with the daemon: a takeover hands the listener on */
		d.metrics_keep_fd = fcntl(d.metrics_fd, F_DUPFD_CLOEXEC, 0);
		d.metrics = kt_metrics_http_start(d.metrics_fd);
		d.metrics_fd = -1;
		if (!d.metrics)
			goto out;
		update_kernel_counters(&d);
	}
	if (d.sink && kt_sink_listeners(d.sink) == 0 && !cfg->discovery)
		kt_info("sink: no listener: hybrid-vsock sockets *_%u are captured where another "
			"process listens",
			cfg->vsock_port);
	char desc[96] = "socket";
	if (d.capture)
		kt_capture_describe(d.capture, desc, sizeof(desc));
	if (d.capture && cfg->n_shim_socket_dirs)
		kt_info("containerd shim sockets: %s%s%s%s%s%s%s", cfg->shim_socket_dirs[0],
			cfg->n_shim_socket_dirs > 1 ? ", " : "",
			cfg->n_shim_socket_dirs > 1 ? cfg->shim_socket_dirs[1] : "",
			cfg->n_shim_socket_dirs > 2 ? ", " : "",
			cfg->n_shim_socket_dirs > 2 ? cfg->shim_socket_dirs[2] : "",
			cfg->n_shim_socket_dirs > 3 ? ", " : "",
			cfg->n_shim_socket_dirs > 3 ? cfg->shim_socket_dirs[3] : "");
	kt_info("ready: %s mode, capture %s, %zu sandboxes, exporting to %s",
		cfg->mode == KT_MODE_TAP ? "tap" : "sink", desc, kt_registry_live(d.registry), what);
	kt_metrics_set_state(KT_RUN_READY);

	while (!d.stop) {
		struct epoll_event ev[32];
		/* Records waiting in the burst buffer: a look at the events, then more decoding. */
		int timeout = d.drain && !kt_burst_empty(d.burst) ? 0 : -1;
		int n = epoll_wait(d.epfd, ev, 32, timeout);
		if (n < 0 && errno != EINTR) {
			kt_err("epoll: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct kt_poll_handler *h = ev[i].data.ptr;
			h->fn(h, ev[i].events);
		}
		/* handed over: the ring buffer is the new daemon's from here */
		if (d.drain && !d.given)
			capture_step(&d);
	}
	status = d.fault ? KT_EXIT_FAULT : 0;
	/* Stopped under systemd: the next start takes everything over from its store. */
	if (cfg->fd_store && !d.fault && !d.given)
		kt_run_store_with_systemd(&d);
out:
	/* /readyz says no from here on (failing: since the fault), /healthz once the loop has ended. */
	if (!d.fault)
		kt_metrics_set_state(KT_RUN_STOPPING);
	kt_metrics_loop_ended();
	/* Everything the kernel captured so far is still decoded and exported. */
	if (d.drain && !d.given) {
		/*
		 * The drain's thread stops; between slices the ring buffer is
		 * looked at again until it is found empty (a writer that never
		 * stops: a bounded number of times).
		 */
		broker_drain(&d);
		unsigned looks = 0;
		bool more = kt_drain_stop(d.drain) > 0;
		while (kt_run_decode_burst(&d, DECODE_SLICE) || more)
			more = more && looks++ < 256 && kt_drain_once(d.drain) > 0;
	}
	/*
	 * Probes are told to stop; what they still send is taken. A takeover
	 * that failed here leaves them, unannounced, to the old daemon.
	 */
	if (d.taking)
		kt_control_let_go(d.control);
	kt_control_shutdown(d.control, CONTROL_DRAIN_MS);
	kt_vm_spans_finish(d.vm);
	if (d.given)
		kt_run_let_go(&d); /* nothing handed over is closed; the spool is left to the new daemon */
	kt_sink_stop(d.sink);
	/*
	 * Last kernel counters, socket files removed, broker reaped; a takeover
	 * that failed in this daemon leaves the files to the old one.
	 */
	if (d.taking)
		kt_broker_stop_handed(d.broker);
	else
		kt_broker_stop(d.broker);
	if (d.pipeline)
		kt_pipeline_free(d.pipeline);
	/* Waiting roots go now; sandboxes still running are not complete yet. */
	if (d.stitch)
		kt_stitch_flush(d.stitch, false);
	kt_export_queue_stop(d.queue);
	publish_spool(&d); /* what the last scrapes see */
	kt_spool_close(d.spool);
	d.spool = NULL;
	/* Scrapes went on while the queue drained: its last counts are in. */
	if (d.handed_over)
		kt_metrics_http_let_go(d.metrics);
	else
		kt_metrics_http_stop(d.metrics);
	if (d.metrics_fd >= 0)
		close(d.metrics_fd);
	kt_control_free(d.control);
	kt_stitch_free(d.stitch);
	kt_vm_spans_free(d.vm);
	kt_registry_free(d.registry);
	kt_drain_free(d.drain);
	kt_capture_stop(d.capture);
	kt_burst_free(d.burst);
	kt_handover_free(&d.taken, true);
	/* stored: systemd is stopping it, and waits */
	if (d.handed_over && !d.stored && cfg->after_handover == KT_AFTER_HANDOVER_WAIT)
		wait_for_stop(&d);
	if (d.metrics_keep_fd >= 0)
		close(d.metrics_keep_fd);
	if (d.sig_fd >= 0)
		close(d.sig_fd);
	if (d.tick_fd >= 0)
		close(d.tick_fd);
	if (d.epfd >= 0)
		close(d.epfd);
	if (status == 0 || d.fault) {
		kt_report(stderr,
			  kt_report_counts(2, "memory_peak", (uint64_t)d.mem.peak, "memory_budget",
					   (uint64_t)d.mem.limit),
			  "katatrace-bpf memory: peak %zu of --memory-budget %zu bytes held",
			  d.mem.peak, d.mem.limit);
		kt_stats_summary(stderr, KT_STATS_FINAL);
	}
	return status;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon: capture (BPF ring buffer or sink sockets) -> pipeline ->
 * export queue, driven by one epoll loop; signals arrive via signalfd so
 * shutdown happens in the loop, in order: drain the kernel ring buffer,
 * close listeners, finish every stream, flush the exporter, print a summary.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "export_queue.h"
#include "clock.h"
#include "log.h"
#include "pipeline.h"
#include "poller.h"
#include "sink.h"
#include "stats.h"
#include "capture.h"

#define TICK_MS 100

struct daemon {
	const struct kt_config *cfg;
	int epfd;
	struct kt_export_queue *queue;
	struct kt_pipeline *pipeline;
	struct kt_capture *capture;
	struct ring_buffer *rb;
	struct kt_sink *sink;
	struct kt_poll_handler sig_h, tick_h, rb_h;
	int sig_fd, tick_fd;
	bool stop;
	unsigned ticks;
};

static void to_queue(void *ctx, struct kt_span_record *r)
{
	kt_export_queue_push(ctx, r);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct daemon *d = ctx;
	kt_pipeline_record(d->pipeline, data, size, kt_mono_ns());
	return 0;
}

static void update_kernel_counters(struct daemon *d)
{
	uint64_t c[KT_CNT__MAX];
	if (d->capture && kt_capture_counters(d->capture, c) == 0) {
		__atomic_store_n(&kt_stats.lost_records, c[KT_CNT_RB_FAIL], __ATOMIC_RELAXED);
		kt_debug("kernel counters: %llu bytes, %llu gap bytes, %llu lost records, "
			 "%llu untracked connections, %llu bytes from page frags",
			 (unsigned long long)c[KT_CNT_BYTES], (unsigned long long)c[KT_CNT_GAP_BYTES],
			 (unsigned long long)c[KT_CNT_RB_FAIL],
			 (unsigned long long)c[KT_CNT_STREAM_FULL],
			 (unsigned long long)c[KT_CNT_FRAG_BYTES]);
	}
}

static void on_signal(struct kt_poll_handler *h, uint32_t events)
{
	struct daemon *d = (struct daemon *)((char *)h - offsetof(struct daemon, sig_h));
	struct signalfd_siginfo si;
	(void)events;
	while (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			update_kernel_counters(d);
			kt_stats_dump(stderr);
			continue;
		}
		kt_info("%s: shutting down", strsignal((int)si.ssi_signo));
		d->stop = true;
	}
}

static void on_tick(struct kt_poll_handler *h, uint32_t events)
{
	struct daemon *d = (struct daemon *)((char *)h - offsetof(struct daemon, tick_h));
	uint64_t n;
	(void)events;
	if (read(d->tick_fd, &n, sizeof(n)) != sizeof(n))
		return;
	kt_pipeline_tick(d->pipeline, kt_mono_ns());
	if (d->capture)
		kt_capture_tick(d->capture);
	d->ticks++;
	unsigned every = d->cfg->stats_interval_s * (1000 / TICK_MS);
	if (every && d->ticks % every == 0) {
		update_kernel_counters(d);
		kt_info("stats: %zu connections, %zu sink connections", kt_pipeline_conn_count(d->pipeline),
			kt_sink_connections(d->sink));
		kt_stats_summary(stderr);
	}
}

static void on_ringbuf(struct kt_poll_handler *h, uint32_t events)
{
	struct daemon *d = (struct daemon *)((char *)h - offsetof(struct daemon, rb_h));
	(void)events;
	int n = ring_buffer__consume(d->rb);
	if (n < 0 && n != -EINTR)
		kt_warn("ring buffer: %s", strerror(-n));
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

static int setup_bpf(struct daemon *d)
{
	const struct kt_config *cfg = d->cfg;
	unsigned ports[1] = { cfg->vsock_port };
	/*
	 * Listeners named <uds>_<port> (every --socket-path, every Kata
	 * sandbox) match the port suffix; --capture-path adds prefixes for
	 * listeners named otherwise. vsock: connections to host port <port>.
	 */
	struct kt_capture_cfg cc = {
		.attach = cfg->attach,
		.ports = ports,
		.n_ports = 1,
		.prefixes = cfg->capture_paths,
		.n_prefixes = cfg->n_capture_paths,
		.ringbuf_bytes = (uint32_t)cfg->ringbuf_bytes,
		.vsock = true,
	};
	kt_mount_bpf_filesystems();
	kt_libbpf_log_init();
	d->capture = kt_capture_start(&cc);
	if (!d->capture)
		return -1;
	d->rb = ring_buffer__new(kt_capture_ringbuf_fd(d->capture), on_record, d, NULL);
	if (!d->rb) {
		kt_err("ring buffer: %s", strerror(errno));
		return -1;
	}
	d->rb_h.fn = on_ringbuf;
	return kt_poll_add(d->epfd, ring_buffer__epoll_fd(d->rb), &d->rb_h);
}

int kt_cmd_run(const struct kt_config *cfg)
{
	struct daemon d = { .cfg = cfg, .sig_fd = -1, .tick_fd = -1 };
	int status = 1;
	const char *what = NULL;

	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d.epfd < 0 || setup_signals(&d) || setup_tick(&d)) {
		kt_err("cannot set up the event loop: %s", strerror(errno));
		goto out;
	}
	struct kt_exporter *e = kt_exporter_from_config(cfg, &what);
	if (!e)
		goto out;
	struct kt_export_queue_cfg qc = KT_EXPORT_QUEUE_DEFAULTS;
	qc.batch_max = cfg->batch_size;
	qc.batch_timeout_ms = cfg->batch_timeout_ms;
	qc.queue_max = cfg->queue_size;
	qc.resource.service_name = cfg->service_name;
	d.queue = kt_export_queue_start(e, &qc);
	if (!d.queue) {
		e->destroy(e);
		goto out;
	}
	struct kt_pipeline_cfg pc = KT_PIPELINE_DEFAULTS;
	pc.format = cfg->format;
	pc.max_frame = cfg->max_frame;
	pc.run_root = cfg->run_root;
	d.pipeline = kt_pipeline_new(&pc, to_queue, d.queue);
	if (!d.pipeline)
		goto out;

	if (cfg->capture == KT_CAPTURE_BPF && setup_bpf(&d))
		goto out;
	if (cfg->mode == KT_MODE_SINK) {
		struct kt_sink_cfg sc = {
			.socket_paths = cfg->socket_paths,
			.n_paths = cfg->n_socket_paths,
			.port = cfg->vsock_port,
			.feed = cfg->capture == KT_CAPTURE_SOCKET,
			.vsock = true,
			.vsock_cid = cfg->vsock_cid,
			.vsock_required = cfg->vsock_cid_set,
		};
		d.sink = kt_sink_start(&sc, d.epfd, d.pipeline);
		if (!d.sink)
			goto out;
		if (cfg->n_socket_paths == 0)
			kt_info("sink: no --socket-path given: hybrid-vsock sockets *_%u are captured "
				"where another process listens",
				cfg->vsock_port);
	}
	char desc[96] = "socket";
	if (d.capture)
		kt_capture_describe(d.capture, desc, sizeof(desc));
	kt_info("ready: %s mode, capture %s, exporting to %s",
		cfg->mode == KT_MODE_TAP ? "tap" : "sink", desc, what);

	while (!d.stop) {
		struct epoll_event ev[32];
		int n = epoll_wait(d.epfd, ev, 32, -1);
		if (n < 0 && errno != EINTR) {
			kt_err("epoll: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct kt_poll_handler *h = ev[i].data.ptr;
			h->fn(h, ev[i].events);
		}
	}
	status = 0;
out:
	/* Everything the kernel captured so far is still decoded and exported. */
	if (d.rb)
		ring_buffer__consume(d.rb);
	update_kernel_counters(&d);
	kt_sink_stop(d.sink);
	if (d.pipeline)
		kt_pipeline_free(d.pipeline);
	kt_export_queue_stop(d.queue);
	ring_buffer__free(d.rb);
	kt_capture_stop(d.capture);
	if (d.sig_fd >= 0)
		close(d.sig_fd);
	if (d.tick_fd >= 0)
		close(d.tick_fd);
	if (d.epfd >= 0)
		close(d.epfd);
	if (status == 0)
		kt_stats_summary(stderr);
	return status;
}

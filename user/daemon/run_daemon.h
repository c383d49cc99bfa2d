/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state of `katatrace-bpf run` (daemon/cmd_run.c), shared with the
 * takeover's two sides (daemon/run_takeover.c), and the few steps of the
 * loop both use. Not for other files.
 */
#ifndef KT_RUN_DAEMON_H
#define KT_RUN_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem_budget.h"
#include "base/poller.h"
#include "bpf/stream_record.h"
#include "daemon/config.h"
#include "daemon/takeover.h"

struct daemon {
	const struct kt_config *cfg;
	int epfd;
	struct kt_export_queue *queue;
	struct kt_pipeline *pipeline;
	struct kt_capture *capture;
	struct kt_sink *sink;
	struct kt_broker *broker;
	struct kt_sandbox_registry *registry;
	struct kt_stitch *stitch;
	struct kt_vm_spans *vm; /* NULL: --no-vm-spans or no BPF */
	struct kt_control *control; /* probes exporting through the daemon */
	uint64_t kernel[KT_CNT__MAX];  /* the kernel's counters, as last read */
	int metrics_fd;                /* --metrics-address, bound at start-up */
	int metrics_keep_fd;           /* a copy of it, to hand over (-1: none) */
	struct kt_metrics_http *metrics; /* its server, once running */
	struct kt_mem_pool mem;      /* --memory-budget */
	struct kt_mem_acct records;  /* decoded spans and logs until they are freed */
	/* --burst-buffer: records read from the ring buffer, not decoded yet */
	struct kt_burst *burst;
	struct kt_mem_acct burst_acct;
	struct kt_drain *drain; /* its thread fills the burst buffer */
	struct kt_poll_handler sig_h, tick_h, broker_h, drain_h;
	int sig_fd, tick_fd;
	bool stop;
	const char *fault; /* why the loop stopped on its own (KT_EXIT_FAULT), or NULL */
	struct kt_spool *spool; /* --spool-dir; closed after the export queue stops */
	unsigned ticks;
	/*
	 * Takeover. given: this daemon handed everything over (committed) and
	 * stops without closing what it handed. taken: what the old daemon
	 * handed this one, while it starts.
	 */
	struct kt_handover *given;
	bool handed_over; /* given, and let go: the last steps keep what is shared */
	bool stored;      /* given to systemd's descriptor store, not to a new daemon */
	struct kt_handover taken;
	bool taking;
};

/* Decodes up to budget bytes of records from the burst buffer; true when some are left. */
bool kt_run_decode_burst(struct daemon *d, size_t budget);

/* The old daemon: a new one asks on the control socket (control_server.h's takeover). */
void kt_run_give_over(void *daemon, int sock, const void *request);
/*
 * --fd-store, told to stop under systemd: everything it would hand over
 * goes to the service's descriptor store (takeover_store.h), then it lets
 * go as after a takeover. 0, or -1 (logged) when it stops as usual.
 */
int kt_run_store_with_systemd(struct daemon *d);
/*
 * The old daemon's last steps once committed, in place of a stop's:
 * nothing handed over is closed; what it holds is spooled; done is said.
 */
void kt_run_let_go(struct daemon *d);

/*
 * The new daemon, before anything is bound: what --fd-store finds in
 * systemd's store, or with --takeover what the running daemon hands over.
 * 0 with d->taken filled and d->taking set, or nothing to take over (not
 * set); -1 when the takeover failed (logged; the old daemon serves on).
 */
int kt_run_take_request(struct daemon *d);
/* The handed metrics listener when it is --metrics-address's (-1: none). */
int kt_run_take_metrics(struct daemon *d);
/* The handed sink connections, to the sink. */
void kt_run_take_connections(struct daemon *d);
/* The handed BPF objects as the capture (NULL: failed, logged). */
struct kt_capture *kt_run_take_capture(struct daemon *d, const void *capture_cfg);
/*
 * What the broker must not inherit: the handed connections, the metrics
 * listener, the control connection (free() it; room for one more).
 * Call before the connections are taken.
 */
int *kt_run_take_private_fds(struct daemon *d, size_t *n);
/* The handed listeners for the broker (its cfg points into the returned array; free() it). */
struct kt_adopted_listener *kt_run_take_listeners(struct daemon *d, size_t *n);
/* The connections' state into the pipeline, the commit, the old daemon's done. -1: failed. */
int kt_run_take_commit(struct daemon *d);

#endif

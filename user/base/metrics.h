/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's metrics (--metrics-address, served by daemon/metrics_http.c):
 * one table, kt_metrics[], says of each metric its name, type, help, labels
 * and where its value comes from; the Prometheus text exposition is written
 * from it, and docs/operations.md lists the same metrics (a unit test checks
 * the two against each other).
 *
 * Counters come from base/stats.h, which any thread bumps with relaxed
 * atomics. Gauges describe what the main thread holds (connections,
 * sandboxes, the export queue, the memory budget): its tick publishes them
 * here, into atomics, and the HTTP thread reads only those, never the main
 * thread's structures. The same for the daemon's state, which /healthz and
 * /readyz answer from.
 */
#ifndef KT_METRICS_H
#define KT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/prom_text.h"
#include "base/stats.h"

/* What the main thread publishes (KT_GAUGE_SET), read by the metrics' writer. */
struct kt_gauges {
	uint64_t sandboxes;          /* sandboxes the registry holds, running */
	uint64_t connections;        /* connections followed */
	uint64_t sink_listeners;     /* listening sockets the sink serves */
	uint64_t sink_connections;   /* connections the sink drains */
	uint64_t queue[KT_REC__N];   /* records waiting for export, by kt_record_kind */
	uint64_t queue_capacity;     /* --queue-size: the bound of each */
	uint64_t memory_used;        /* bytes held against --memory-budget */
	uint64_t memory_peak;
	uint64_t memory_budget;      /* --memory-budget */
	uint64_t burst_bytes;        /* records waiting in the burst buffer */
	uint64_t burst_peak;         /* the most that waited there */
	/* the disk spool (--spool-dir; exporters/spool.h) */
	uint64_t spool_bytes;        /* its files' bytes */
	uint64_t spool_requests;     /* export requests in it, not yet sent */
	uint64_t spool_dropped;      /* requests it dropped, oldest first, to stay within --spool-size */
	uint64_t spool_write_errors; /* appends and syncs that failed (a full or read-only disk) */
	uint64_t spool_corrupt;      /* damaged files set aside at start-up */
};

extern struct kt_gauges kt_gauges;

#define KT_GAUGE_SET(field, v) __atomic_store_n(&kt_gauges.field, (uint64_t)(v), __ATOMIC_RELAXED)

/* Where a metric's value comes from. */
enum kt_metric_source {
	KT_METRIC_VALUE, /* one sample: *value */
	KT_METRIC_BY,    /* one sample per label value: label = values[i], value[i] or *values_of[i] */
	KT_METRIC_WRITE, /* samples written by write() */
};

struct kt_metric {
	const char *name;
	enum kt_prom_type type;
	const char *help;
	/* The label names, comma-separated ("" for none): for the docs and their check. */
	const char *labels;
	/* Where the value comes from, in words (for the docs). */
	const char *from;
	enum kt_metric_source source;
	const uint64_t *value;             /* VALUE; BY: n values in a row (or values_of) */
	const uint64_t *const *values_of;  /* BY: n values that are not in a row */
	const char *label;                 /* BY: the label's name */
	const char *const *label_values;   /* BY: n of them */
	size_t n;
	void (*write)(struct kt_text *t, const struct kt_metric *m); /* WRITE */
};

/* Every metric, in the order of the exposition. */
extern const struct kt_metric kt_metrics[];
extern const size_t kt_n_metrics;

/* The metric named name; NULL when there is none. */
const struct kt_metric *kt_metric_find(const char *name);

/*
 * The exposition of every metric, NUL-terminated and malloc'ed (the
 * caller frees it), its length in *len; NULL when memory ran out.
 */
char *kt_metrics_exposition(size_t *len);

/* ------------------------------------------------------------ the daemon's state */

enum kt_run_state {
	KT_RUN_STARTING, /* before the programs are attached and the exporter runs */
	KT_RUN_READY,    /* capturing and exporting */
	KT_RUN_STOPPING, /* shutdown has begun */
	KT_RUN_FAILING,  /* a fault it cannot serve through: it flushes and exits non-zero */
};

/* How long the loop may go without a tick and still be called healthy. */
#define KT_HEALTH_STALE_NS (10ull * 1000000000ull)

void kt_metrics_set_state(enum kt_run_state s);
enum kt_run_state kt_metrics_state(void);
/* KT_RUN_FAILING, and why (a string that lives as long as the process). */
void kt_metrics_set_failing(const char *why);
const char *kt_metrics_failing_why(void);
/* The main loop runs (its tick says so, now, each time) / has ended. */
void kt_metrics_heartbeat(uint64_t mono_ns);
void kt_metrics_loop_ended(void);
/* /readyz: ready, and not stopping. */
bool kt_metrics_ready(void);
/* /healthz: the loop runs and its last tick is under KT_HEALTH_STALE_NS old. */
bool kt_metrics_healthy(uint64_t now_ns);

#endif

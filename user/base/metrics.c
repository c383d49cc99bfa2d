/* SPDX-License-Identifier: Apache-2.0 */
#include "base/metrics.h"

#include <stdlib.h>
#include <string.h>

struct kt_gauges kt_gauges;

/* ------------------------------------------------------------ writers */

static uint64_t get(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* katatrace_export_{failures,retries}_total: a row per status the exporter noted. */
static void write_export_statuses(struct kt_text *t, const struct kt_metric *m, bool retried)
{
	uint32_t n = __atomic_load_n(&kt_stats.n_export_status, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n && i < KT_EXPORT_STATUSES; i++) {
		const struct kt_export_status *r = &kt_stats.export_status[i];
		struct kt_prom_label l[2] = { { "exporter", kt_stats_exporter() },
					      { "status", r->name } };
		kt_prom_sample(t, m->name, l, 2, get(retried ? &r->retried : &r->failed));
	}
}

static void write_export_failures(struct kt_text *t, const struct kt_metric *m)
{
	write_export_statuses(t, m, false);
}

static void write_export_retries(struct kt_text *t, const struct kt_metric *m)
{
	write_export_statuses(t, m, true);
}

static void write_export_duration(struct kt_text *t, const struct kt_metric *m)
{
	for (size_t k = 0; k < KT_REC__N; k++) {
		const struct kt_latency *l = &kt_stats.export_latency[k];
		struct kt_prom_label lb[2] = { { "exporter", kt_stats_exporter() },
					       { "kind", kt_record_kind_names[k] } };
		kt_prom_histogram_ns(t, m->name, lb, 2, kt_latency_bounds_ns, KT_LATENCY_BUCKETS,
				     l->buckets, get(&l->sum_ns));
	}
}

/* ------------------------------------------------------------ the table */

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A counter of kt_stats without labels. */
#define STAT(nm, field, hlp, frm)                                                                 \
	{ .name = (nm), .type = KT_PROM_COUNTER, .help = (hlp), .labels = "", .from = (frm),       \
	  .source = KT_METRIC_VALUE, .value = &kt_stats.field }
/* A counter of kt_stats split by one label: an array of it and the label's values. */
#define STAT_BY(nm, array, lbl, names, hlp, frm)                                                  \
	{ .name = (nm), .type = KT_PROM_COUNTER, .help = (hlp), .labels = (lbl), .from = (frm),    \
	  .source = KT_METRIC_BY, .value = kt_stats.array, .label = (lbl),                         \
	  .label_values = (names), .n = ARRAY_LEN(kt_stats.array) }
/* Counters of kt_stats shown as one family, a label value each. */
#define STATS_AS_ONE(nm, arr, lbl, names, hlp, frm)                                               \
	{ .name = (nm), .type = KT_PROM_COUNTER, .help = (hlp), .labels = (lbl), .from = (frm),    \
	  .source = KT_METRIC_BY, .values_of = (arr), .label = (lbl), .label_values = (names),     \
	  .n = ARRAY_LEN(arr) }
/* A gauge the main thread publishes. */
#define GAUGE(nm, field, hlp, frm)                                                                \
	{ .name = (nm), .type = KT_PROM_GAUGE, .help = (hlp), .labels = "", .from = (frm),         \
	  .source = KT_METRIC_VALUE, .value = &kt_gauges.field }

/* frames_oversize and frames_truncated, as one family. */
static const uint64_t *const frames_rejected[] = { &kt_stats.frames_oversize,
						    &kt_stats.frames_truncated };
static const char *const frames_rejected_reasons[] = { "oversize", "truncated" };

/* takeovers_given, _refused and _failed, as one family. */
static const uint64_t *const takeovers[] = { &kt_stats.takeovers_given, &kt_stats.takeovers_refused,
					     &kt_stats.takeovers_failed };
static const char *const takeover_results[] = { "given", "refused", "failed" };

const struct kt_metric kt_metrics[] = {
	/* capture */
	STAT("katatrace_captured_bytes_total", bytes_captured,
	     "Payload bytes received from the capture (BPF records or the sink's reads).",
	     "kt_stats.bytes_captured: stream/pipeline.c"),
	STAT("katatrace_captured_bytes_to_client_total", bytes_to_client,
	     "Of those, bytes towards the connecting end (answers; decoded only by ttrpc).",
	     "kt_stats.bytes_to_client: stream/pipeline.c"),
	STAT("katatrace_capture_records_total", records, "Capture records read from the ring buffer.",
	     "kt_stats.records: stream/pipeline.c"),
	STAT_BY("katatrace_ringbuf_records_lost_total", ringbuf_lost, "program",
		kt_bpf_program_names,
		"Records a BPF program could not write: its ring buffer was full "
		"(raise --ring-buffer-size).",
		"kernel counters KT_CNT_RB_FAIL, KT_CNT_VSOCK_RB_FAIL, KT_CNT_VM_RB_FAIL, read "
		"through the broker every second (kt_stats_kernel)"),
	STAT("katatrace_burst_buffer_records_dropped_total", burst_dropped,
	     "Capture records dropped because the burst buffer was full (raise --burst-buffer): "
	     "each is a gap in its connection's stream.",
	     "kt_stats.burst_dropped: daemon/cmd_run.c (stream/burst.c)"),
	STAT("katatrace_burst_buffer_dropped_bytes_total", burst_dropped_bytes,
	     "Bytes of those records.", "kt_stats.burst_dropped_bytes: daemon/cmd_run.c"),
	GAUGE("katatrace_burst_buffer_bytes", burst_bytes,
	      "Capture records read from the ring buffer and not decoded yet.",
	      "stream/burst.c, published by the daemon's tick"),
	GAUGE("katatrace_burst_buffer_peak_bytes", burst_peak,
	      "The most that waited in the burst buffer so far (--burst-buffer bounds it).",
	      "stream/burst.c, published by the daemon's tick"),
	STAT_BY("katatrace_bpf_table_full_total", bpf_table_full, "table", kt_bpf_table_names,
		"What the kernel side did not follow because its BPF table was full: a "
		"connection's bytes, a hypervisor, a vsock connection.",
		"kernel counters KT_CNT_STREAM_FULL, KT_CNT_VM_PROCS_FULL, KT_CNT_VM_CONNS_FULL"),
	/* connections and streams */
	STAT("katatrace_connections_total", connections, "Connections seen.",
	     "kt_stats.connections: stream/pipeline.c"),
	STAT("katatrace_connections_refused_total", conns_refused,
	     "Connections not followed: --max-connections, --max-sandbox-connections or the "
	     "memory budget.",
	     "kt_stats.conns_refused: stream/pipeline.c"),
	STAT("katatrace_refused_connection_bytes_total", refused_bytes,
	     "Payload bytes captured on connections not followed, ignored.",
	     "kt_stats.refused_bytes: stream/pipeline.c"),
	STAT("katatrace_sink_connections_refused_total", sink_refused,
	     "Connections the sink hung up on at once (connection caps).",
	     "kt_stats.sink_refused: capture/sink_mode.c"),
	STAT("katatrace_stream_gaps_total", gaps,
	     "Stream ranges known to be missing (records lost, over the per-write cap, unreadable).",
	     "kt_stats.gaps: stream/pipeline.c"),
	STAT("katatrace_stream_gap_bytes_total", gap_bytes, "Bytes in those ranges.",
	     "kt_stats.gap_bytes: stream/pipeline.c"),
	STAT("katatrace_stream_resyncs_total", resyncs,
	     "Streams resynchronised at a later frame boundary.", "kt_stats.resyncs: agent/"),
	/* frames and decoding */
	STAT("katatrace_frames_total", frames, "Complete frames.",
	     "kt_stats.frames: agent/, kata1/, daemon/cmd_decode.c"),
	STATS_AS_ONE("katatrace_frames_rejected_total", frames_rejected, "reason",
		     frames_rejected_reasons,
		     "Frames not decoded: a header over --max-frame (the stream is dropped), or a "
		     "frame cut short by the end of its stream.",
		     "kt_stats.frames_oversize (agent/), frames_truncated (stream/pipeline.c)"),
	STAT_BY("katatrace_decode_errors_total", decode_errors_by, "format", kt_decode_format_names,
		"Frames and messages that did not decode, by format.",
		"kt_stats.decode_errors_by (kt_stat_decode_error): agent/, kata1/, rpc/"),
	/* spans */
	STAT("katatrace_spans_decoded_total", spans_decoded,
	     "Spans decoded: the agent's, RPC spans, VM spans.", "kt_stats.spans_decoded"),
	STAT("katatrace_spans_exported_total", spans_exported, "Spans the exporter accepted.",
	     "kt_stats.spans_exported: exporters/export_queue.c"),
	STAT_BY("katatrace_spans_dropped_total", spans_dropped_by, "reason", kt_drop_reason_names,
		"Spans dropped, by reason.", "kt_stats.spans_dropped_by (kt_stat_drop)"),
	STAT("katatrace_spans_collated_total", spans_collated,
	     "Agent spans moved into their sandbox's trace.", "kt_stats.spans_collated: traces/"),
	STAT("katatrace_parents_synthesized_total", parents_synthesized,
	     "Missing parent spans synthesised when a sandbox ended.",
	     "kt_stats.parents_synthesized: traces/"),
	STAT("katatrace_stitch_untracked_spans_total", stitch_untracked,
	     "Spans not tracked for trace completion (its limits).",
	     "kt_stats.stitch_untracked: traces/"),
	/* log records */
	STAT("katatrace_log_records_decoded_total", logs_decoded,
	     "Log records decoded (Kata 1.x guest journal).", "kt_stats.logs_decoded: kata1/"),
	STAT("katatrace_log_records_exported_total", logs_exported,
	     "Log records the exporter accepted.", "kt_stats.logs_exported: exporters/"),
	STAT_BY("katatrace_log_records_dropped_total", logs_dropped_by, "reason",
		kt_drop_reason_names, "Log records dropped, by reason.",
		"kt_stats.logs_dropped_by (kt_stat_drop)"),
	/* export */
	{ .name = "katatrace_export_failures_total", .type = KT_PROM_COUNTER,
	  .help = "Failed export attempts, by the exporter's status: a gRPC status name, an HTTP "
		  "status, or what failed below them (connect, resolve, timeout, tls, transport, "
		  "write, out_of_memory, not_http2, unknown; other beyond 15 statuses).",
	  .labels = "exporter,status", .from = "kt_stats.export_status (kt_stat_export_failed, "
					     "exporters/export_queue.c)",
	  .source = KT_METRIC_WRITE, .write = write_export_failures },
	{ .name = "katatrace_export_retries_total", .type = KT_PROM_COUNTER,
	  .help = "Export attempts made again, by the status of the failure before them.",
	  .labels = "exporter,status", .from = "kt_stats.export_status (kt_stat_export_retried)",
	  .source = KT_METRIC_WRITE, .write = write_export_retries },
	{ .name = "katatrace_export_duration_seconds", .type = KT_PROM_HISTOGRAM,
	  .help = "How long export attempts took, failed ones too.",
	  .labels = "exporter,kind", .from = "kt_stats.export_latency (kt_stat_export_latency)",
	  .source = KT_METRIC_WRITE, .write = write_export_duration },
	{ .name = "katatrace_export_queue_records", .type = KT_PROM_GAUGE,
	  .help = "Spans and log records waiting for export.", .labels = "kind",
	  .from = "the export queue's lists, published by the daemon's tick",
	  .source = KT_METRIC_BY, .value = kt_gauges.queue, .label = "kind",
	  .label_values = kt_record_kind_names, .n = KT_REC__N },
	GAUGE("katatrace_export_queue_capacity_records", queue_capacity,
	      "How many of each kind may wait (--queue-size); beyond, new ones are dropped.",
	      "--queue-size"),
	/* the disk spool */
	GAUGE("katatrace_spool_bytes", spool_bytes,
	      "Bytes of the disk spool's files (--spool-dir, bounded by --spool-size).",
	      "exporters/spool.c, published by the daemon's tick"),
	GAUGE("katatrace_spool_requests", spool_requests,
	      "Export requests in the disk spool not sent yet.",
	      "exporters/spool.c, published by the daemon's tick"),
	{ .name = "katatrace_spool_dropped_requests_total", .type = KT_PROM_COUNTER,
	  .help = "Export requests the disk spool dropped, the oldest first, to stay within "
		  "--spool-size.",
	  .labels = "", .from = "exporters/spool.c, published by the daemon's tick",
	  .source = KT_METRIC_VALUE, .value = &kt_gauges.spool_dropped },
	{ .name = "katatrace_spool_write_errors_total", .type = KT_PROM_COUNTER,
	  .help = "Writes and syncs of the disk spool that failed (a full, read-only or failing "
		  "disk); the requests are sent from memory.",
	  .labels = "", .from = "exporters/spool.c, published by the daemon's tick",
	  .source = KT_METRIC_VALUE, .value = &kt_gauges.spool_write_errors },
	{ .name = "katatrace_spool_corrupt_files_total", .type = KT_PROM_COUNTER,
	  .help = "Damaged spool files set aside (renamed .corrupt) at start-up.",
	  .labels = "", .from = "exporters/spool.c, at start-up",
	  .source = KT_METRIC_VALUE, .value = &kt_gauges.spool_corrupt },
	/* the node */
	GAUGE("katatrace_sandboxes", sandboxes, "Sandboxes discovered and running.",
	      "sandbox/sandbox_registry.c, published by the daemon's tick"),
	GAUGE("katatrace_connections", connections, "Connections followed now.",
	      "stream/pipeline.c, published by the daemon's tick"),
	GAUGE("katatrace_sink_listeners", sink_listeners, "Listening sockets the sink serves.",
	      "capture/sink_mode.c, published by the daemon's tick"),
	GAUGE("katatrace_sink_connections", sink_connections, "Connections the sink drains now.",
	      "capture/sink_mode.c, published by the daemon's tick"),
	/* the memory budget */
	GAUGE("katatrace_memory_budget_bytes", memory_budget,
	      "What guests may make the daemon hold (--memory-budget).", "--memory-budget"),
	GAUGE("katatrace_memory_budget_used_bytes", memory_used,
	      "Bytes held against the memory budget now: connections' buffers and state, spans "
	      "and log records until exported.",
	      "base/mem_budget.c, published by the daemon's tick"),
	GAUGE("katatrace_memory_budget_peak_bytes", memory_peak,
	      "The most held against the memory budget so far.",
	      "base/mem_budget.c, published by the daemon's tick"),
	STAT("katatrace_memory_budget_sheds_total", mem_shed,
	     "Times a connection's pending data was dropped to make room in the memory budget.",
	     "kt_stats.mem_shed: stream/conn_budget.c"),
	STAT("katatrace_memory_budget_shed_bytes_total", mem_shed_bytes,
	     "Bytes those connections held.", "kt_stats.mem_shed_bytes: stream/conn_budget.c"),
	STAT("katatrace_memory_budget_refusals_total", mem_refused,
	     "Charges the memory budget refused: the growing stream's data, a span, a log record "
	     "or a new connection dropped.",
	     "kt_stats.mem_refused"),
	/* VM events */
	STAT("katatrace_vm_events_total", vm_events,
	     "VM events read (hypervisor exec and exit, vsock connections).",
	     "kt_stats.vm_events: traces/vm_spans.c"),
	STAT("katatrace_vm_events_malformed_total", vm_events_bad, "VM events malformed (ignored).",
	     "kt_stats.vm_events_bad: traces/vm_spans.c"),
	/* probes through the control socket */
	STAT("katatrace_probe_spans_total", probe_spans,
	     "Spans probes handed to the daemon over the control socket.",
	     "kt_stats.probe_spans: daemon/control_server.c"),
	STAT("katatrace_probe_log_records_total", probe_logs,
	     "Log records probes handed to the daemon over the control socket.",
	     "kt_stats.probe_logs: daemon/control_server.c"),
	STAT("katatrace_probe_records_rejected_total", probe_rejected,
	     "Records from probes that could not be used (malformed, over the limits).",
	     "kt_stats.probe_rejected: daemon/control_server.c"),
	STAT("katatrace_control_connections_refused_total", control_refused,
	     "Control socket connections refused: not root, or too many at once.",
	     "kt_stats.control_refused: daemon/control_server.c"),
	STAT("katatrace_control_protocol_errors_total", control_errors,
	     "Control socket connections closed for a malformed or misplaced message, or for "
	     "not reading the answers.",
	     "kt_stats.control_errors: daemon/control_server.c"),
	/* takeovers (run --takeover) */
	STATS_AS_ONE("katatrace_takeovers_total", takeovers, "result", takeover_results,
		     "Takeovers another daemon asked this one for, by result: given (everything "
		     "handed over; this daemon then exits or waits), refused (another build, mode "
		     "or capture), failed (broken off before the commit; this daemon served on).",
		     "kt_stats.takeovers_given, takeovers_refused, takeovers_failed: "
		     "daemon/run_takeover.c"),
	STAT("katatrace_handover_resumes_ignored_total", resume_ignored,
	     "Handed-over connection states this daemon could not use (an unknown connection, or "
	     "one whose bytes it had already seen).",
	     "kt_stats.resume_ignored: stream/pipeline.c"),
	STAT("katatrace_handover_calls_dropped_total", handover_calls_dropped,
	     "RPC calls open when their connection was handed over: the new daemon makes spans "
	     "only of calls it sees whole.",
	     "kt_stats.handover_calls_dropped: stream/pipeline.c"),
	/* this server */
	STAT_BY("katatrace_http_requests_total", http_requests, "handler", kt_http_handler_names,
		"Requests the metrics server answered, by handler.",
		"kt_stats.http_requests: daemon/metrics_http.c"),
	STAT_BY("katatrace_http_bad_requests_total", http_bad_requests, "reason",
		kt_http_bad_names,
		"Requests the metrics server refused, and connections closed without a request "
		"to answer.",
		"kt_stats.http_bad_requests: daemon/metrics_http.c"),
};

const size_t kt_n_metrics = ARRAY_LEN(kt_metrics);

const struct kt_metric *kt_metric_find(const char *name)
{
	for (size_t i = 0; i < kt_n_metrics; i++)
		if (strcmp(kt_metrics[i].name, name) == 0)
			return &kt_metrics[i];
	return NULL;
}

static void write_metric(struct kt_text *t, const struct kt_metric *m)
{
	kt_prom_family(t, m->name, m->type, m->help);
	switch (m->source) {
	case KT_METRIC_VALUE:
		kt_prom_sample(t, m->name, NULL, 0, get(m->value));
		break;
	case KT_METRIC_BY:
		for (size_t i = 0; i < m->n; i++) {
			struct kt_prom_label l = { m->label, m->label_values[i] };
			kt_prom_sample(t, m->name, &l, 1,
				       get(m->values_of ? m->values_of[i] : &m->value[i]));
		}
		break;
	case KT_METRIC_WRITE:
		m->write(t, m);
		break;
	}
}

char *kt_metrics_exposition(size_t *len)
{
	struct kt_text t = { 0 };
	for (size_t i = 0; i < kt_n_metrics; i++)
		write_metric(&t, &kt_metrics[i]);
	if (t.oom || !t.p) {
		free(t.p);
		return NULL;
	}
	*len = t.len;
	return t.p;
}

/* ------------------------------------------------------------ the daemon's state */

static int run_state = KT_RUN_STARTING;
static uint64_t heartbeat_ns; /* the loop's last tick; 0: the loop does not run */

void kt_metrics_set_state(enum kt_run_state s)
{
	__atomic_store_n(&run_state, (int)s, __ATOMIC_RELEASE);
}

enum kt_run_state kt_metrics_state(void)
{
	return (enum kt_run_state)__atomic_load_n(&run_state, __ATOMIC_ACQUIRE);
}

static const char *failing_why;

void kt_metrics_set_failing(const char *why)
{
	__atomic_store_n(&failing_why, why, __ATOMIC_RELEASE);
	kt_metrics_set_state(KT_RUN_FAILING);
}

const char *kt_metrics_failing_why(void)
{
	const char *why = __atomic_load_n(&failing_why, __ATOMIC_ACQUIRE);
	return why ? why : "";
}

void kt_metrics_heartbeat(uint64_t mono_ns)
{
	__atomic_store_n(&heartbeat_ns, mono_ns ? mono_ns : 1, __ATOMIC_RELEASE);
}

void kt_metrics_loop_ended(void)
{
	__atomic_store_n(&heartbeat_ns, 0, __ATOMIC_RELEASE);
}

bool kt_metrics_ready(void)
{
	return kt_metrics_state() == KT_RUN_READY;
}

bool kt_metrics_healthy(uint64_t now_ns)
{
	uint64_t beat = __atomic_load_n(&heartbeat_ns, __ATOMIC_ACQUIRE);
	return beat && (now_ns < beat || now_ns - beat < KT_HEALTH_STALE_NS);
}

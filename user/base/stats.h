/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process-wide counters. Every error path that drops or rejects something
 * bumps one of these; the summary printed on exit and the periodic stats log
 * read them. Updated with relaxed atomics from any thread.
 */
#ifndef KT_STATS_H
#define KT_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "bpf/stream_record.h"

#define KT_STATS_FIELDS(X)                                                                 \
	X(bytes_captured, "payload bytes received from capture")                            \
	X(bytes_to_client, "of which towards the connecting end (not decoded)")              \
	X(records, "capture records read")                                                   \
	X(lost_records, "capture records lost (ring buffer full)")                           \
	X(burst_dropped, "capture records dropped: the burst buffer was full (--burst-buffer)") \
	X(burst_dropped_bytes, "bytes of those records")                                    \
	X(gap_bytes, "stream bytes known to be missing")                                     \
	X(gaps, "stream gaps (lost, over-cap or unreadable data)")                           \
	X(resyncs, "streams resynchronised at a later frame boundary")                       \
	X(resume_ignored, "handed-over RESUME records ignored (unknown or started connection)") \
	X(handover_calls_dropped, "RPC calls open when their connection was handed over (unreported)") \
	X(connections, "connections seen")                                                   \
	X(conns_refused, "connections not followed (connection caps, memory budget)")        \
	X(refused_bytes, "payload bytes of those connections, ignored")                      \
	X(sink_refused, "connections the sink closed at once (connection caps)")            \
	X(frames, "complete frames")                                                         \
	X(frames_truncated, "frames cut short by end of stream")                             \
	X(frames_oversize, "frames over --max-frame (stream dropped)")                       \
	X(decode_errors, "frames that failed to decode (the sum of decode_errors_by)")       \
	X(spans_decoded, "spans decoded")                                                    \
	X(spans_exported, "spans accepted by the exporter")                                  \
	X(spans_dropped, "spans dropped (the sum of spans_dropped_by)")                      \
	X(spans_collated, "agent spans moved into their sandbox's trace")                   \
	X(parents_synthesized, "missing parent spans synthesised when a sandbox ended")       \
	X(stitch_untracked, "spans not tracked for trace completion (limits)")              \
	X(export_errors, "failed export attempts (the sum over export_status)")              \
	X(export_retries, "export attempts retried (the sum over export_status)")            \
	X(logs_decoded, "log records decoded (Kata 1.x journal)")                           \
	X(logs_exported, "log records accepted by the exporter")                            \
	X(logs_dropped, "log records dropped (the sum of logs_dropped_by)")                  \
	X(spool_append_failed, "export requests the disk spool could not store (sent from memory)") \
	X(spool_left, "export requests left in the disk spool at shutdown, for the next start") \
	X(vm_events, "VM events read (hypervisor exec/exit, vsock connections)")             \
	X(vm_events_bad, "VM events malformed (ignored)")                                   \
	X(mem_shed, "times a connection's pending data was dropped for --memory-budget")     \
	X(mem_shed_bytes, "bytes those connections held")                                    \
	X(mem_refused, "allocations refused by --memory-budget (data, a span or a log dropped)") \
	X(bpftrace_lines, "lines of bpftrace output read")                                    \
	X(bpftrace_records, "log records made from bpftrace output")                          \
	X(bpftrace_bad_lines, "bpftrace output lines ignored (malformed, unknown or too long)") \
	X(bpftrace_lost_events, "events bpftrace reported lost (its perf buffer was full)")    \
	X(probe_spans, "spans probes handed to the daemon (control socket)")                \
	X(probe_logs, "log records probes handed to the daemon")                             \
	X(probe_rejected, "records from probes that could not be used (malformed)")          \
	X(control_refused, "control socket connections refused (not root, too many)")        \
	X(control_errors, "control socket connections closed for a malformed message")        \
	X(takeovers_given, "takeovers this daemon handed everything over in (it then exits)")  \
	X(takeovers_refused, "takeovers refused (another build, mode or capture)")             \
	X(takeovers_failed, "takeovers that failed before their commit (this daemon served on)")

/*
 * Counters split by cause. A total above that has a split (spans_dropped,
 * logs_dropped, decode_errors, lost_records, export_errors, export_retries)
 * is bumped together with its part by the functions below, never alone, so
 * that it stays the sum of its parts. Each list gives the enum's suffix, the
 * label value the metrics show (base/metrics.c) and what it means.
 */

/* Why a span or a log record was dropped. */
#define KT_DROP_REASONS(X)                                                                        \
	X(QUEUE_FULL, queue_full, "the export queue was full (--queue-size)")                      \
	X(EXPORT_FAILED, export_failed, "the exporter failed permanently (e.g. HTTP 400, gRPC "    \
					"INVALID_ARGUMENT)")                                       \
	X(SHUTDOWN, shutdown_timeout, "still queued or retried when the shutdown timeout ran out") \
	X(UNSUPPORTED, unsupported, "the exporter cannot send this kind of record")               \
	X(MEMORY_BUDGET, memory_budget, "no room left in --memory-budget")                         \
	X(NO_MEMORY, no_memory, "an allocation failed, or the record outgrew its own limit")

enum kt_drop_reason {
#define KT_STATS_ENUM(e, name, desc) KT_DROP_##e,
	KT_DROP_REASONS(KT_STATS_ENUM)
#undef KT_STATS_ENUM
	KT_DROP__N
};

/* What is dropped or exported: spans, or log records. */
enum kt_record_kind { KT_REC_SPANS, KT_REC_LOGS, KT_REC__N };

/* The format of a frame (or message) that did not decode. */
#define KT_DECODE_FORMATS(X)                                                                      \
	X(AGENT_JSON, agent_json, "the agent's spans, JSON era")                                  \
	X(AGENT_BINCODE, agent_bincode, "the agent's spans, bincode era")                         \
	X(JAEGER_THRIFT, jaeger_thrift, "Kata 1.x Jaeger thrift batches")                          \
	X(TTRPC, ttrpc, "ttrpc frames, requests and responses (runtime to agent)")                \
	X(CONTAINERD_TASK, containerd_task, "containerd's Task API requests to a shim")

enum kt_decode_format {
#define KT_STATS_ENUM(e, name, desc) KT_DFMT_##e,
	KT_DECODE_FORMATS(KT_STATS_ENUM)
#undef KT_STATS_ENUM
	KT_DFMT__N
};

/* The daemon's BPF programs that write records to a ring buffer. */
#define KT_BPF_PROGRAMS(X)                                                                        \
	X(UNIX_CAPTURE, unix_capture, "hybrid vsock and shim sockets (bpf/unix_capture.bpf.c)")   \
	X(VSOCK_CAPTURE, vsock_capture, "vsock packets (bpf/vsock_capture.bpf.c)")                \
	X(VM_EVENTS, vm_events, "hypervisor and vsock connection events (bpf/vm_events.bpf.c)")

enum kt_bpf_program {
#define KT_STATS_ENUM(e, name, desc) KT_PROG_##e,
	KT_BPF_PROGRAMS(KT_STATS_ENUM)
#undef KT_STATS_ENUM
	KT_PROG__N
};

/* The BPF tables that can be full: what was not followed then. */
#define KT_BPF_TABLES(X)                                                                          \
	X(STREAMS, streams, "a connection's bytes (unix and vsock capture)")                      \
	X(HYPERVISORS, hypervisors, "a hypervisor process (VM events)")                           \
	X(VSOCK_CONNECTIONS, vsock_connections, "a vsock connection (VM events)")

enum kt_bpf_table {
#define KT_STATS_ENUM(e, name, desc) KT_TABLE_##e,
	KT_BPF_TABLES(KT_STATS_ENUM)
#undef KT_STATS_ENUM
	KT_TABLE__N
};

/* What the metrics server (--metrics-address) answers, and the requests it refuses. */
#define KT_HTTP_HANDLERS(X)                                                                       \
	X(METRICS, metrics, "/metrics")                                                            \
	X(HEALTHZ, healthz, "/healthz")                                                            \
	X(READYZ, readyz, "/readyz")

enum kt_http_handler {
#define KT_STATS_ENUM(e, name, desc) KT_HTTP_##e,
	KT_HTTP_HANDLERS(KT_STATS_ENUM)
#undef KT_STATS_ENUM
	KT_HTTP__N
};

#define KT_HTTP_BAD_REASONS(X)                                                                    \
	X(NOT_FOUND, not_found, "a path the server does not serve (404)")                         \
	X(METHOD, method, "a method other than GET and HEAD (405)")                                \
	X(BODY, body, "a request with a body (400)")                                               \
	X(UNANSWERED, unanswered, "a connection closed without a request to answer: malformed, "   \
				  "too large, too slow (10 s) or empty")

enum kt_http_bad {
#define KT_STATS_ENUM(e, name, desc) KT_HTTP_BAD_##e,
	KT_HTTP_BAD_REASONS(KT_STATS_ENUM)
#undef KT_STATS_ENUM
	KT_HTTP_BAD__N
};

/*
 * Failed export attempts by the exporter's status: a gRPC status name
 * (UNAVAILABLE), an HTTP status (503) or what went wrong below them
 * (connect, timeout, tls, ...; exporters/exporter.h). The first
 * KT_EXPORT_STATUSES - 1 statuses seen get a row each, later ones share
 * the row "other".
 */
#define KT_EXPORT_STATUSES 16
#define KT_EXPORT_STATUS_LEN 24
struct kt_export_status {
	char name[KT_EXPORT_STATUS_LEN]; /* written once, before the row is published */
	uint64_t failed;  /* attempts that failed with it */
	uint64_t retried; /* attempts made again after it */
};

/* How long export attempts take: KT_LATENCY_BUCKETS bounds (kt_latency_bounds_ns). */
#define KT_LATENCY_BUCKETS 11
extern const uint64_t kt_latency_bounds_ns[KT_LATENCY_BUCKETS];
struct kt_latency {
	uint64_t sum_ns;
	/*
	 * Per bucket, not cumulative: [i] above bound i - 1 and up to bound i,
	 * [KT_LATENCY_BUCKETS] above the last. Their sum is the count.
	 */
	uint64_t buckets[KT_LATENCY_BUCKETS + 1];
};

struct kt_stats {
#define KT_STATS_DECL(name, desc) uint64_t name;
	KT_STATS_FIELDS(KT_STATS_DECL)
#undef KT_STATS_DECL
	uint64_t spans_dropped_by[KT_DROP__N];
	uint64_t logs_dropped_by[KT_DROP__N];
	uint64_t decode_errors_by[KT_DFMT__N];
	uint64_t ringbuf_lost[KT_PROG__N];       /* kernel counters, as last read */
	uint64_t bpf_table_full[KT_TABLE__N];    /* the same */
	uint64_t http_requests[KT_HTTP__N];      /* answered 200 or 503 */
	uint64_t http_bad_requests[KT_HTTP_BAD__N];
	struct kt_export_status export_status[KT_EXPORT_STATUSES];
	uint32_t n_export_status; /* rows published (release/acquire) */
	struct kt_latency export_latency[KT_REC__N];
};

extern struct kt_stats kt_stats;

#define KT_STAT_ADD(field, n) __atomic_fetch_add(&kt_stats.field, (uint64_t)(n), __ATOMIC_RELAXED)
#define KT_STAT_INC(field) KT_STAT_ADD(field, 1)
#define KT_STAT_GET(field) __atomic_load_n(&kt_stats.field, __ATOMIC_RELAXED)

/* The label values of the lists above, by enum value. */
extern const char *const kt_drop_reason_names[KT_DROP__N];
extern const char *const kt_decode_format_names[KT_DFMT__N];
extern const char *const kt_bpf_program_names[KT_PROG__N];
extern const char *const kt_bpf_table_names[KT_TABLE__N];
extern const char *const kt_http_handler_names[KT_HTTP__N];
extern const char *const kt_http_bad_names[KT_HTTP_BAD__N];
extern const char *const kt_record_kind_names[KT_REC__N]; /* "spans", "logs" */

/* n records of kind k dropped for why: the total and its part. */
void kt_stat_drop(enum kt_record_kind k, enum kt_drop_reason why, uint64_t n);
/* A frame of format f did not decode: decode_errors and its part. */
void kt_stat_decode_error(enum kt_decode_format f);
/*
 * The kernel's counters (summed over CPUs), as the broker read them:
 * lost_records (both capture programs), ringbuf_lost, bpf_table_full.
 */
void kt_stats_kernel(const uint64_t c[KT_CNT__MAX]);
/*
 * An export attempt failed with status (NULL or "": "unknown"): export_errors
 * and its row. retried: an attempt after one that failed with status
 * (export_retries and its row).
 */
void kt_stat_export_failed(const char *status);
void kt_stat_export_retried(const char *status);
/* An export attempt of kind k took ns. */
void kt_stat_export_latency(enum kt_record_kind k, uint64_t ns);
/*
 * The exporter the export statuses and latencies are of (its name, a
 * static string; one per process): set when the export queue starts.
 */
void kt_stats_set_exporter(const char *name);
const char *kt_stats_exporter(void); /* "" until set */

enum kt_stats_when {
	KT_STATS_RUNNING, /* --stats-interval: "katatrace-bpf running totals: ..." */
	KT_STATS_FINAL,	  /* at exit: "katatrace-bpf summary: ..." */
};

/*
 * The summary line, after a logs line where there were any and a limits
 * line where a limit was hit: at the exit the summary is the log's last line.
 * With --log-format json each is a JSON line on stderr (kt_report), the
 * counters it names also as members ("spans_exported": 64).
 */
void kt_stats_summary(FILE *out, enum kt_stats_when when);
/*
 * Every counter, one "name value  # description" per line; with
 * --log-format json one line, "katatrace-bpf counters", every counter a member.
 */
void kt_stats_dump(FILE *out);

#endif

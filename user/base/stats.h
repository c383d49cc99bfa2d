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

#define KT_STATS_FIELDS(X)                                                                 \
	X(bytes_captured, "payload bytes received from capture")                            \
	X(bytes_to_client, "of which towards the connecting end (not decoded)")              \
	X(records, "capture records read")                                                   \
	X(lost_records, "capture records lost (ring buffer full)")                           \
	X(gap_bytes, "stream bytes known to be missing")                                     \
	X(gaps, "stream gaps (lost, over-cap or unreadable data)")                           \
	X(resyncs, "streams resynchronised at a later frame boundary")                       \
	X(connections, "connections seen")                                                   \
	X(conns_refused, "connections not followed (connection caps, memory budget)")        \
	X(sink_refused, "connections the sink closed at once (connection caps)")            \
	X(frames, "complete frames")                                                         \
	X(frames_truncated, "frames cut short by end of stream")                             \
	X(frames_oversize, "frames over --max-frame (stream dropped)")                       \
	X(decode_errors, "frames that failed to decode")                                     \
	X(spans_decoded, "spans decoded")                                                    \
	X(spans_exported, "spans accepted by the exporter")                                  \
	X(spans_dropped, "spans dropped (queue full or exporter failure)")                   \
	X(spans_collated, "agent spans moved into their sandbox's trace")                   \
	X(parents_synthesized, "missing parent spans synthesised when a sandbox ended")       \
	X(stitch_untracked, "spans not tracked for trace completion (limits)")              \
	X(export_errors, "failed export attempts")                                           \
	X(export_retries, "export attempts retried")                                         \
	X(logs_decoded, "log records decoded (Kata 1.x journal)")                           \
	X(logs_exported, "log records accepted by the exporter")                            \
	X(logs_dropped, "log records dropped (queue full or exporter failure)") \
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
	X(control_errors, "control socket connections closed for a malformed message")

struct kt_stats {
#define KT_STATS_DECL(name, desc) uint64_t name;
	KT_STATS_FIELDS(KT_STATS_DECL)
#undef KT_STATS_DECL
};

extern struct kt_stats kt_stats;

#define KT_STAT_ADD(field, n) __atomic_fetch_add(&kt_stats.field, (uint64_t)(n), __ATOMIC_RELAXED)
#define KT_STAT_INC(field) KT_STAT_ADD(field, 1)
#define KT_STAT_GET(field) __atomic_load_n(&kt_stats.field, __ATOMIC_RELAXED)

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

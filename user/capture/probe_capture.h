/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Span probes: loads bpf/probe_span.bpf.c, attaches every probe spec
 * (capture/probe_spec.h), and turns what its ring buffer brings into span
 * records (--span: one per call) and log records (--event: one per hit),
 * delivered through a record sink.
 *
 * Takes the parsed specs (a spec's index is its probe id, the BPF cookie of
 * its attachments), the number of integer arguments to report, the process
 * ids to report (none: every process), the sink, the resource and the trace
 * and parent span ids to put the spans under (zero: a fresh trace for the
 * run, spans as its roots). Gives the ring buffer's fd for the caller's
 * epoll, and totals for a summary.
 *
 * Attaching:
 *  - uprobe: the function's entry and return sites come from
 *    kt_func_returns (capture/func_returns.h). A C function gets a uprobe at
 *    its entry and a uretprobe; a Go function (the executable is Go) a uprobe
 *    at its entry and one on each RET instruction instead of a uretprobe, and
 *    its arguments are read by Go's register ABI. An --event on a function
 *    kt_func_returns cannot describe (no RET: it never returns) is attached by
 *    its symbol, its arguments read by the C ABI; such a --span is refused.
 *  - kprobe: a kprobe and a kretprobe. A kernel without kprobes is said so.
 *  - tracepoint: one program at each; for the syscalls category the
 *    arguments come from sys_enter_* (as many as the syscall has) and the
 *    return value from sys_exit_*, other categories are timed only.
 * Any spec that cannot be attached fails the whole open, with a one-line
 * message that starts with the spec and says why: no such binary, no such
 * symbol in it, no kprobes on this kernel, no such kernel function, no such
 * tracepoint.
 *
 * Span and log record attributes: code.function.name (uprobe, kprobe),
 * katatrace.probe.spec, thread.id, thread.name, process.pid,
 * process.executable.path (readlink of /proc/PID/exe, once per pid, cached
 * for KT_PROBE_EXE_CACHE pids; absent when the process ended before its
 * first record was read), katatrace.probe.return_value (spans, and
 * sys_exit_* events), katatrace.probe.arg0..argN-1, katatrace.probe.depth
 * (a call nested in a call of the same probe on its thread). Spans are
 * INTERNAL; times are the kernel's CLOCK_MONOTONIC stamps made Unix times.
 *
 * Records come from our own BPF program, but each is still checked before
 * use: a record shorter than struct kt_probe_rec, of an unknown type or
 * probe id, or with more than KT_PROBE_MAX_ARGS arguments is dropped and
 * counted.
 *
 * Needs root (CAP_BPF, CAP_PERFMON) and mounts tracefs when it is missing.
 * One thread: consume and close from the thread that opened.
 */
#ifndef KT_PROBE_CAPTURE_H
#define KT_PROBE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/probe_span.h"
#include "capture/probe_spec.h"
#include "model/record_sink.h"
#include "model/span.h"
#include "model/span_record.h"

/*
 * What the probes' records are known by in a backend: the service.name and
 * the instrumentation scope of their resource (set on their origin).
 */
#define KT_PROBE_SERVICE_NAME "katatrace-probe"
#define KT_PROBE_SCOPE_NAME "katatrace-bpf/probe"

/* Processes whose executable path is remembered at once. */
#define KT_PROBE_EXE_CACHE 32

struct kt_probe_capture_cfg {
	const struct kt_probe_spec *specs; /* at most KT_PROBE_MAX_PROBES */
	size_t n_specs;
	unsigned nargs; /* --args N: 0..KT_PROBE_MAX_ARGS */
	const uint32_t *pids; /* tgids to report, at most KT_PROBE_MAX_PIDS; none: every process */
	size_t n_pids;
	struct kt_record_sink sink;
	struct kt_origin *origin;     /* every record's resource and scope; one reference taken; may be NULL */
	struct kt_trace_id trace_id;  /* zero: a fresh trace for this run */
	uint64_t parent_span_id;      /* 0: the spans are roots */
	const char *proc_root;        /* NULL: "/proc" */
	uint32_t ringbuf_bytes;       /* 0: KT_PROBE_RINGBUF; else a power of two of pages */
};

struct kt_probe_totals {
	uint64_t hits;       /* entries and event hits of the reported processes */
	uint64_t spans;      /* span records delivered */
	uint64_t events;     /* log records delivered */
	uint64_t lost;       /* records the ring buffer had no room for */
	uint64_t unmatched;  /* returns without an entry */
	uint64_t abandoned;  /* entries whose call could no longer return */
	uint64_t too_deep;   /* calls nested deeper than KT_PROBE_DEPTH: no span */
	uint64_t table_full; /* entries not kept: too many calls in flight */
	uint64_t dropped;    /* records not delivered: malformed, no memory, no log sink */
};

struct kt_probe_capture;

/* NULL with a one-line message in err when a spec cannot be attached or BPF cannot be used. */
struct kt_probe_capture *kt_probe_capture_open(const struct kt_probe_capture_cfg *cfg, char *err,
					       size_t errlen);
/* The ring buffer's epoll fd: readable when records wait. */
int kt_probe_capture_fd(const struct kt_probe_capture *c);
/* Delivers every waiting record; how many were read, or -1. */
int kt_probe_capture_consume(struct kt_probe_capture *c);
/* Waits up to timeout_ms for records, then delivers them; how many, or -1. */
int kt_probe_capture_poll(struct kt_probe_capture *c, int timeout_ms);
/* The trace the spans are in (the configured one, or this run's). */
struct kt_trace_id kt_probe_capture_trace_id(const struct kt_probe_capture *c);
void kt_probe_capture_totals(const struct kt_probe_capture *c, struct kt_probe_totals *t);
/* Detaches everything; records still waiting are not delivered. */
void kt_probe_capture_close(struct kt_probe_capture *c);

#endif

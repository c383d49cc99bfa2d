/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * probe_span: ad-hoc probes on a sandbox's host processes and the kernel,
 * turned into spans (an entry and its return on one thread) and events (one
 * hit of one probe point). Shared by bpf/probe_span.bpf.c and
 * user/capture/probe_capture.c: the ring buffer record, the BPF cookie that
 * tells a program which probe fired, and the limits.
 *
 * One program per role serves every probe: the loader attaches it once per
 * probe point with a cookie (kt_probe_cookie) that carries the probe's id
 * (the index of its spec), how many arguments to read and how to read them.
 *
 * Filter: when the loader switches it on, only the processes whose tgid is
 * in the "probe_pids" map are reported; otherwise every process is.
 *
 * Entry state is kept per (thread, probe id): a stack of up to
 * KT_PROBE_DEPTH frames, so nested calls of one function on one thread
 * (recursion) each get their own span. A call nested deeper than that gives
 * no span (counted, KT_CNT_PROBE_TOO_DEEP); the calls around it still do. A
 * return pops the top frame; a return with no frame (the call began before
 * the probe was attached, or its state was evicted) is counted
 * (KT_CNT_PROBE_UNMATCHED). At an entry, frames of calls that can no longer
 * be running (the stack pointer is at or above theirs: longjmp, a panic, an
 * exception) are dropped and counted (KT_CNT_PROBE_ABANDONED). Go functions
 * are keyed by goroutine instead of thread (a goroutine may move between
 * threads), and a Go function entered again at the same depth of its
 * goroutine's stack with no return since its last entry is the same call
 * restarted after its stack grew (runtime.morestack restarts the function
 * from its prologue): its first entry is kept.
 */
#ifndef KT_PROBE_SPAN_H
#define KT_PROBE_SPAN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define KT_PROBE_MAX_PROBES 64       /* specs of one run: probe ids are 0..63 */
#define KT_PROBE_MAX_ARGS 6          /* integer arguments read per call (--args N) */
#define KT_PROBE_MAX_PIDS 256        /* tgids in the filter */
#define KT_PROBE_MAX_IN_FLIGHT 8192  /* (thread, probe) pairs inside a call at once (LRU) */
#define KT_PROBE_DEPTH 4             /* nested calls of one probe on one thread kept */
#define KT_PROBE_RINGBUF (4u << 20)  /* ring buffer bytes unless the loader sets more */
#define KT_PROBE_COMM_LEN 16

/*
 * The BPF cookie of every attachment: bits 0..15 the probe id, bits 16..19
 * how many arguments to read (0..KT_PROBE_MAX_ARGS), and how to read them.
 */
#define KT_PROBE_COOKIE_ID_MASK 0xffffull
#define KT_PROBE_COOKIE_NARGS_SHIFT 16
#define KT_PROBE_COOKIE_NARGS_MASK 0xfull
/* Go's register ABI (x86-64: arguments in ax, bx, cx, di, si, r8; the goroutine in r14). */
#define KT_PROBE_C_GO (1ull << 24)
/* A tracepoint of the syscalls category: the arguments (sys_enter_*) from its record. */
#define KT_PROBE_C_SYS_ARGS (1ull << 25)
/* A tracepoint of the syscalls category: the return value (sys_exit_*) from its record. */
#define KT_PROBE_C_SYS_RET (1ull << 26)

static inline __u64 kt_probe_cookie(__u32 probe_id, __u32 nargs, __u64 flags)
{
	return ((__u64)probe_id & KT_PROBE_COOKIE_ID_MASK) |
	       (((__u64)nargs & KT_PROBE_COOKIE_NARGS_MASK) << KT_PROBE_COOKIE_NARGS_SHIFT) | flags;
}

enum kt_probe_rec_type {
	KT_PROBE_REC_SPAN = 1,  /* a call: its entry and its return */
	KT_PROBE_REC_EVENT = 2, /* one hit of a single probe point */
};

/* kt_probe_rec.flags */
#define KT_PROBE_F_RET 0x1 /* ret holds the return value */
#define KT_PROBE_F_GO 0x2  /* a Go function: keyed by goroutine, tid is the entry's thread */

/* The only record of the ring buffer ("probe_events"). */
struct kt_probe_rec {
	__u32 type;     /* enum kt_probe_rec_type */
	__u32 probe_id; /* the cookie's probe id: the index of the spec */
	__u32 tid;      /* thread at the entry (the hit) */
	__u32 tgid;     /* its process */
	__u64 start_ns; /* CLOCK_MONOTONIC: the entry, or the hit */
	__u64 end_ns;   /* the return; start_ns for an event */
	__s64 ret;      /* KT_PROBE_F_RET: rax at the return, or the syscall's result */
	__u64 args[KT_PROBE_MAX_ARGS]; /* the first nargs: raw 64-bit registers / syscall args */
	__u32 nargs;
	__u32 flags; /* KT_PROBE_F_* */
	__u32 depth; /* calls of the same probe this one is nested in (0: outermost) */
	__u32 _pad;
	char comm[KT_PROBE_COMM_LEN]; /* the thread's name at the return (the hit) */
};

#endif /* KT_PROBE_SPAN_H */

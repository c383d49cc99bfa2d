// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Span probes (bpf/probe_span.h): ad-hoc uprobes, kprobes and tracepoints
 * whose hits become spans (an entry and its return on one thread) or events
 * (one hit of one point). Every program serves every probe of its role: the
 * BPF cookie of the attachment says which probe fired and how to read it.
 *
 *  - kt_probe_entry: the entry of a uprobe or kprobe span (its time and up to
 *    6 integer arguments from the registers, by the C ABI or Go's);
 *  - kt_probe_return: the uretprobe / kretprobe of a span (rax);
 *  - kt_probe_ret_site: a uprobe on one RET instruction of a function, the
 *    return side of Go functions, where a uretprobe would corrupt a goroutine
 *    whose stack moves (rax holds the return value there);
 *  - kt_probe_tp_enter / kt_probe_tp_exit: a pair of tracepoints; for the
 *    syscalls category the arguments come from the sys_enter_* record and the
 *    return value from the sys_exit_* one, other categories are timed only;
 *  - kt_probe_event, kt_probe_tp_event: one record per hit.
 *
 * Only the filtered processes (tgids in probe_pids) are reported while
 * filter_on is set.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "counters.bpf.h"
#include "probe_span.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

_Static_assert((KT_PROBE_DEPTH & (KT_PROBE_DEPTH - 1)) == 0, "KT_PROBE_DEPTH: a power of two");

/* Set by the loader before it loads the object: report only the tgids of probe_pids. */
const volatile __u32 filter_on = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, KT_PROBE_RINGBUF);
} probe_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KT_PROBE_MAX_PIDS);
	__type(key, __u32);
	__type(value, __u8);
} probe_pids SEC(".maps");

/* Who a call belongs to: a thread (pid_tgid), or a goroutine (its g) for Go. */
struct probe_key {
	__u64 owner;
	__u32 probe_id;
	__u32 _pad;
};

struct frame {
	__u64 start_ns;
	/* How deep the stack was at the entry: larger is deeper (see stack_height) */
	__u64 height;
	__u64 args[KT_PROBE_MAX_ARGS];
	__u32 tid;
	__u32 nargs;
};

struct inflight {
	__u32 depth; /* calls entered and not returned; frames beyond KT_PROBE_DEPTH are not kept */
	__u32 _pad;
	/*
	 * The height of the latest entry, until a return: a Go function that
	 * enters again at it was restarted by runtime.morestack (which happens
	 * in its prologue, before it calls anything), at any depth. 0: none.
	 */
	__u64 entered_height;
	struct frame f[KT_PROBE_DEPTH];
};

/* LRU: the state of threads that died inside a call ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KT_PROBE_MAX_IN_FLIGHT);
	__type(key, struct probe_key);
	__type(value, struct inflight);
} probe_inflight SEC(".maps");

static __always_inline bool wanted(__u32 tgid)
{
	if (!filter_on)
		return true;
	return bpf_map_lookup_elem(&probe_pids, &tgid) != NULL;
}

static __always_inline __u32 cookie_id(__u64 c)
{
	return (__u32)(c & KT_PROBE_COOKIE_ID_MASK);
}

static __always_inline __u32 cookie_nargs(__u64 c)
{
	__u32 n = (__u32)((c >> KT_PROBE_COOKIE_NARGS_SHIFT) & KT_PROBE_COOKIE_NARGS_MASK);
	return n < KT_PROBE_MAX_ARGS ? n : KT_PROBE_MAX_ARGS;
}

/* ------------------------------------------------------------ registers */

/*
 * Registers are read with the _CORE macros (bpf_probe_read_kernel of
 * CO-RE-relocated fields): plain loads from ctx may be merged by the
 * compiler into a load at a computed offset, which the verifier refuses.
 * libbpf before 1.2 names five argument registers; the sixth of the C ABI:
 */
#ifndef PT_REGS_PARM6_CORE
#if defined(__TARGET_ARCH_x86)
#define PT_REGS_PARM6_CORE(x) BPF_CORE_READ(__PT_REGS_CAST(x), r9)
#elif defined(__TARGET_ARCH_arm64)
#define PT_REGS_PARM6_CORE(x) BPF_CORE_READ(__PT_REGS_CAST(x), regs[5])
#else
#define PT_REGS_PARM6_CORE(x) 0
#endif
#endif

/* Who a call belongs to and how deep the stack is, for the entry-state rules of probe_span.h. */
struct owner {
	__u64 key;    /* pid_tgid, or the goroutine */
	__u64 height; /* grows with the stack's depth */
};

#if defined(__TARGET_ARCH_x86)
/* Go's internal ABI on x86-64: integer arguments in ax, bx, cx, di, si, r8, ...; g in r14. */
static __always_inline void go_args(struct pt_regs *ctx, __u64 *a)
{
	a[0] = BPF_CORE_READ(ctx, ax);
	a[1] = BPF_CORE_READ(ctx, bx);
	a[2] = BPF_CORE_READ(ctx, cx);
	a[3] = BPF_CORE_READ(ctx, di);
	a[4] = BPF_CORE_READ(ctx, si);
	a[5] = BPF_CORE_READ(ctx, r8);
}

/* g.stack.hi: the second word of the runtime's g (struct g starts with stack{lo, hi}). */
static __always_inline bool go_owner(struct pt_regs *ctx, struct owner *o)
{
	__u64 g = BPF_CORE_READ(ctx, r14), hi = 0;
	if (!g || bpf_probe_read_user(&hi, sizeof(hi), (void *)(g + 8)) || !hi)
		return false;
	o->key = g;
	o->height = hi - PT_REGS_SP_CORE(ctx); /* kept when the runtime copies the stack elsewhere */
	return true;
}
#else
static __always_inline void go_args(struct pt_regs *ctx, __u64 *a)
{
	for (int i = 0; i < KT_PROBE_MAX_ARGS; i++)
		a[i] = 0;
}

static __always_inline bool go_owner(struct pt_regs *ctx, struct owner *o)
{
	return false;
}
#endif

static __always_inline void c_args(struct pt_regs *ctx, __u64 *a)
{
	a[0] = PT_REGS_PARM1_CORE(ctx);
	a[1] = PT_REGS_PARM2_CORE(ctx);
	a[2] = PT_REGS_PARM3_CORE(ctx);
	a[3] = PT_REGS_PARM4_CORE(ctx);
	a[4] = PT_REGS_PARM5_CORE(ctx);
	a[5] = PT_REGS_PARM6_CORE(ctx);
}

static __always_inline void regs_owner(struct pt_regs *ctx, __u64 cookie, struct owner *o)
{
	if ((cookie & KT_PROBE_C_GO) && go_owner(ctx, o))
		return;
	o->key = bpf_get_current_pid_tgid();
	o->height = 0 - (__u64)PT_REGS_SP_CORE(ctx); /* the stack grows down */
}

/* ------------------------------------------------------------ spans */

static __always_inline void frame_fill(struct frame *f, __u64 now, __u64 height, __u32 tid,
				       const __u64 *args, __u32 nargs)
{
	f->start_ns = now;
	f->height = height;
	f->tid = tid;
	f->nargs = nargs;
	for (int i = 0; i < KT_PROBE_MAX_ARGS; i++)
		f->args[i] = args[i];
}

/*
 * Frame d (< KT_PROBE_DEPTH) of e. The mask comes after a barrier: the
 * compiler would drop it as redundant, and the verifier would not see the bound.
 */
static __always_inline struct frame *frame_at(struct inflight *e, __u32 d)
{
	barrier_var(d);
	return &e->f[d & (KT_PROBE_DEPTH - 1)];
}

static __always_inline void on_entry(__u64 cookie, const struct owner *o, const __u64 *args,
				     __u32 nargs)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();
	__u32 tgid = pid_tgid >> 32;

	if (!wanted(tgid))
		return;
	struct probe_key key = { .owner = o->key, .probe_id = cookie_id(cookie) };
	struct inflight *e = bpf_map_lookup_elem(&probe_inflight, &key);
	if (!e) {
		struct inflight fresh;
		__builtin_memset(&fresh, 0, sizeof(fresh));
		fresh.depth = 1;
		fresh.entered_height = o->height;
		frame_fill(&fresh.f[0], now, o->height, (__u32)pid_tgid, args, nargs);
		count(KT_CNT_PROBE_HITS, 1);
		if (bpf_map_update_elem(&probe_inflight, &key, &fresh, BPF_NOEXIST))
			count(KT_CNT_PROBE_TABLE_FULL, 1);
		return;
	}
	if ((cookie & KT_PROBE_C_GO) && e->entered_height == o->height)
		return; /* the same call, restarted after its stack grew */
	count(KT_CNT_PROBE_HITS, 1);

	__u32 d = e->depth;
	/* Calls that can no longer be running: their stack is not above ours. */
	for (int i = 0; i < KT_PROBE_DEPTH; i++) {
		if (d == 0 || d > KT_PROBE_DEPTH)
			break;
		struct frame *top = frame_at(e, d - 1);
		if (top->height < o->height)
			break; /* a live outer call: this one nests in it */
		d--;
		count(KT_CNT_PROBE_ABANDONED, 1);
	}
	if (d < KT_PROBE_DEPTH)
		frame_fill(frame_at(e, d), now, o->height, (__u32)pid_tgid, args, nargs);
	else
		count(KT_CNT_PROBE_TOO_DEEP, 1);
	e->depth = d + 1;
	e->entered_height = o->height;
}

static __always_inline void on_return(__u64 cookie, __u64 owner, __s64 ret, bool has_ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();

	if (!wanted(pid_tgid >> 32))
		return;
	struct probe_key key = { .owner = owner, .probe_id = cookie_id(cookie) };
	struct inflight *e = bpf_map_lookup_elem(&probe_inflight, &key);
	if (!e || e->depth == 0) {
		count(KT_CNT_PROBE_UNMATCHED, 1);
		return;
	}
	__u32 d = e->depth - 1;
	e->depth = d;
	e->entered_height = 0;
	if (d < KT_PROBE_DEPTH) { /* else its entry was counted as too deep */
		struct frame *f = frame_at(e, d);
		struct kt_probe_rec *r = bpf_ringbuf_reserve(&probe_events, sizeof(*r), 0);
		if (!r) {
			count(KT_CNT_PROBE_RB_FAIL, 1);
		} else {
			r->type = KT_PROBE_REC_SPAN;
			r->probe_id = key.probe_id;
			r->tid = f->tid;
			r->tgid = pid_tgid >> 32;
			r->start_ns = f->start_ns;
			r->end_ns = now;
			r->ret = has_ret ? ret : 0;
			for (int i = 0; i < KT_PROBE_MAX_ARGS; i++)
				r->args[i] = f->args[i];
			r->nargs = f->nargs;
			r->flags = (has_ret ? KT_PROBE_F_RET : 0) |
				   (cookie & KT_PROBE_C_GO ? KT_PROBE_F_GO : 0);
			r->depth = d;
			r->_pad = 0;
			bpf_get_current_comm(r->comm, sizeof(r->comm));
			bpf_ringbuf_submit(r, 0);
		}
	}
	if (d == 0)
		bpf_map_delete_elem(&probe_inflight, &key);
}

SEC("kprobe") /* attached as a uprobe or a kprobe */
int kt_probe_entry(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 args[KT_PROBE_MAX_ARGS];
	struct owner o;

	regs_owner(ctx, cookie, &o);
	if (cookie & KT_PROBE_C_GO)
		go_args(ctx, args);
	else
		c_args(ctx, args);
	on_entry(cookie, &o, args, cookie_nargs(cookie));
	return 0;
}

SEC("kretprobe") /* attached as a uretprobe or a kretprobe */
int kt_probe_return(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct owner o;

	regs_owner(ctx, cookie, &o);
	on_return(cookie, o.key, (__s64)PT_REGS_RC_CORE(ctx), true);
	return 0;
}

SEC("uprobe") /* at a RET instruction: the frame is gone, rax holds the result */
int kt_probe_ret_site(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct owner o;

	regs_owner(ctx, cookie, &o);
	on_return(cookie, o.key, (__s64)PT_REGS_RC_CORE(ctx), true);
	return 0;
}

/* ------------------------------------------------------------ tracepoint pairs */

/* A syscall tracepoint's arguments (sys_enter_*: args[] after the syscall number). */
static __always_inline void sys_args(void *ctx, __u64 *a, __u32 n)
{
	struct trace_event_raw_sys_enter *rec = ctx;
	for (int i = 0; i < KT_PROBE_MAX_ARGS; i++) {
		a[i] = 0;
		/* Read, not loaded: a record holds only its own syscall's arguments. */
		if ((__u32)i < n)
			bpf_probe_read_kernel(&a[i], sizeof(a[i]), &rec->args[i]);
	}
}

static __always_inline __s64 sys_ret(void *ctx)
{
	struct trace_event_raw_sys_exit *rec = ctx;
	__s64 ret = 0;
	bpf_probe_read_kernel(&ret, sizeof(ret), &rec->ret);
	return ret;
}

SEC("tracepoint")
int kt_probe_tp_enter(void *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 args[KT_PROBE_MAX_ARGS] = {};
	__u32 n = 0;
	struct owner o = { .key = bpf_get_current_pid_tgid(), .height = 0 };

	if (cookie & KT_PROBE_C_SYS_ARGS) {
		n = cookie_nargs(cookie);
		sys_args(ctx, args, n);
	}
	on_entry(cookie, &o, args, n);
	return 0;
}

SEC("tracepoint")
int kt_probe_tp_exit(void *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	bool has_ret = (cookie & KT_PROBE_C_SYS_RET) != 0;

	on_return(cookie, bpf_get_current_pid_tgid(), has_ret ? sys_ret(ctx) : 0, has_ret);
	return 0;
}

/* ------------------------------------------------------------ events */

static __always_inline void emit_event(__u64 cookie, const __u64 *args, __u32 nargs, __s64 ret,
				       bool has_ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();

	if (!wanted(pid_tgid >> 32))
		return;
	count(KT_CNT_PROBE_HITS, 1);
	struct kt_probe_rec *r = bpf_ringbuf_reserve(&probe_events, sizeof(*r), 0);
	if (!r) {
		count(KT_CNT_PROBE_RB_FAIL, 1);
		return;
	}
	r->type = KT_PROBE_REC_EVENT;
	r->probe_id = cookie_id(cookie);
	r->tid = (__u32)pid_tgid;
	r->tgid = pid_tgid >> 32;
	r->start_ns = now;
	r->end_ns = now;
	r->ret = has_ret ? ret : 0;
	for (int i = 0; i < KT_PROBE_MAX_ARGS; i++)
		r->args[i] = args[i];
	r->nargs = nargs;
	r->flags = (has_ret ? KT_PROBE_F_RET : 0) | (cookie & KT_PROBE_C_GO ? KT_PROBE_F_GO : 0);
	r->depth = 0;
	r->_pad = 0;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, 0);
}

SEC("kprobe") /* attached as a uprobe or a kprobe */
int kt_probe_event(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 args[KT_PROBE_MAX_ARGS];

	if (cookie & KT_PROBE_C_GO)
		go_args(ctx, args);
	else
		c_args(ctx, args);
	emit_event(cookie, args, cookie_nargs(cookie), 0, false);
	return 0;
}

SEC("tracepoint")
int kt_probe_tp_event(void *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 args[KT_PROBE_MAX_ARGS] = {};
	__u32 n = 0;
	bool has_ret = (cookie & KT_PROBE_C_SYS_RET) != 0;

	if (cookie & KT_PROBE_C_SYS_ARGS) {
		n = cookie_nargs(cookie);
		sys_args(ctx, args, n);
	}
	emit_event(cookie, args, n, has_ret ? sys_ret(ctx) : 0, has_ret);
	return 0;
}

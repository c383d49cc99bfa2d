// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The copy floor of bench_write_cost: the least any in-kernel capture of a
 * write must do. On sock_send_length, for the benchmark's own 64-byte and
 * 4 KiB writes only, it reserves a record of the capture's size (its
 * header and the payload) in a ring buffer of the capture's size, reads
 * the payload from the syscall's buffer into it and submits it, waking the
 * reader as the capture does (past the same threshold). No verdict, no
 * stream state, no task identity: what is left between this and the
 * capture is the capture's own work.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "stream_record.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The benchmark's write sizes: a record's size must be known to the verifier. */
#define FLOOR_SMALL 64
#define FLOOR_LARGE 4096

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, KT_RINGBUF_DEFAULT_BYTES);
} floor_events SEC(".maps");

const volatile __u32 floor_tgid = 0;	  /* the benchmark's process */
const volatile __u64 floor_wakeup_bytes = 0; /* the capture's threshold */

/* The capture's wakeup policy (stream_emit.bpf.h, rb_flags). */
static __always_inline __u64 floor_flags(__u64 size)
{
	return bpf_ringbuf_query(&floor_events, BPF_RB_AVAIL_DATA) + size >= floor_wakeup_bytes
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

/* One record of `size` payload bytes read from `from`; size a constant. */
#define COPY_RECORD(size, from)                                            \
	do {                                                               \
		struct {                                                   \
			struct kt_rec_hdr hdr;                             \
			__u8 data[size];                                   \
		} *r = bpf_ringbuf_reserve(&floor_events, sizeof(*r), 0);  \
		if (!r)                                                    \
			return 0;                                          \
		r->hdr.type = KT_REC_DATA;                                 \
		r->hdr.len = size;                                         \
		if (bpf_probe_read_user(r->data, sizeof(r->data), from)) { \
			bpf_ringbuf_discard(r, 0);                         \
			return 0;                                          \
		}                                                          \
		bpf_ringbuf_submit(r, floor_flags(sizeof(*r)));            \
	} while (0)

SEC("tp_btf/sock_send_length")
int BPF_PROG(kt_copy_floor, struct sock *sk, int ret, int flags)
{
	if ((ret != FLOOR_SMALL && ret != FLOOR_LARGE) ||
	    bpf_get_current_pid_tgid() >> 32 != floor_tgid)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	const void *buf = (const void *)PT_REGS_PARM2_CORE_SYSCALL(regs);
	if (ret == FLOOR_SMALL)
		COPY_RECORD(FLOOR_SMALL, buf);
	else
		COPY_RECORD(FLOOR_LARGE, buf);
	return 0;
}

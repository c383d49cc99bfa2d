/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vm_events: what the kernel says about the VMs themselves, without any
 * runtime tracing. Shared by bpf/vm_events.bpf.c and userspace
 * (user/capture/capture.c loads it, user/traces/vm_spans.c turns the events into spans).
 *
 *  - hypervisor processes: exec (a binary whose name the loader listed in
 *    "hv_names"), exit (exit code, KVM exits counted while it ran);
 *  - vsock connections between a guest (CID > 2) and the host: opened at
 *    REQUEST, payload bytes of each direction, ended at SHUTDOWN from both
 *    sides or RST.
 *
 * Only tracepoints: sched_process_exec/exit (tp_btf), kvm_exit and the
 * vsock transport's virtio_transport_{recv,alloc}_pkt (raw_tp, attached
 * when the kvm and vsock modules are there).
 */
#ifndef KT_VM_EVENTS_H
#define KT_VM_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define KT_VM_HV_NAMES 16     /* entries of the "hv_names" array map */
#define KT_VM_HV_NAME_LEN 32  /* bytes of one name (NUL included for exact ones) */
#define KT_VM_FILENAME_LEN 256
#define KT_VM_ARGS_LEN 2048   /* command line bytes copied at exec (NUL-separated) */
#define KT_VM_MAX_PROCS 4096  /* hypervisor processes tracked at once */
#define KT_VM_MAX_CONNS 8192  /* vsock connections tracked at once */
#define KT_VM_RINGBUF (1u << 20)

/*
 * One hypervisor binary name. The name of the executed file (NUL-padded to
 * KT_VM_HV_NAME_LEN) matches when the bytes mask selects equal s: its first
 * len bytes for a prefix ("qemu-system-"), or with the terminating NUL
 * counted in len, the whole name ("firecracker"). Compared as 64-bit words.
 */
struct kt_vm_hv_name {
	__u32 len; /* 0: unused slot */
	__u32 _pad;
	char s[KT_VM_HV_NAME_LEN];
	__u64 mask[KT_VM_HV_NAME_LEN / 8]; /* 0xff per byte of s that counts */
};

enum kt_vm_event_type {
	KT_VM_EXEC = 1,       /* struct kt_vm_exec */
	KT_VM_EXIT = 2,       /* struct kt_vm_exit */
	KT_VM_VSOCK_OPEN = 3, /* struct kt_vm_vsock (bytes 0) */
	KT_VM_VSOCK_END = 4,  /* struct kt_vm_vsock */
};

struct kt_vm_event_hdr {
	__u32 type; /* enum kt_vm_event_type */
	__u32 pid;  /* tgid of the hypervisor (vsock: 0) */
	__u64 ts_ns; /* CLOCK_MONOTONIC */
};

struct kt_vm_exec {
	struct kt_vm_event_hdr hdr;
	__u32 filename_len; /* bytes of filename, without the NUL */
	__u32 args_len;     /* bytes of args copied (arguments NUL-separated) */
	char comm[16];
	char exe[KT_VM_HV_NAME_LEN]; /* name of the executable file (its dentry) */
	char filename[KT_VM_FILENAME_LEN];
	char args[KT_VM_ARGS_LEN];
};

/* kt_vm_exit.flags */
#define KT_VM_F_EXEC_SEEN 0x1 /* tracked from its exec (else: seeded by the loader) */
#define KT_VM_F_KVM 0x2       /* kvm_exit was attached while it ran */

struct kt_vm_exit {
	struct kt_vm_event_hdr hdr;
	__u32 exit_code; /* task->exit_code: status << 8 | signal (| 0x80 core) */
	__u32 flags;     /* KT_VM_F_* */
	__u64 start_ns;  /* exec time (CLOCK_MONOTONIC); 0 when seeded */
	__u64 kvm_exits;
	char comm[16];
};

/* Value of the "vm_procs" map (key: tgid). The loader seeds running ones. */
struct kt_vm_proc {
	__u64 start_ns;
	__u64 kvm_exits;
	__u32 flags;
	__u32 _pad;
};

/* "kvm_on" array map, key 0: kvm_exit is attached (set by the loader). */

enum kt_vm_initiator {
	KT_VM_INIT_UNKNOWN = 0, /* REQUEST not seen: open before capture started */
	KT_VM_INIT_GUEST = 1,
	KT_VM_INIT_HOST = 2,
};

enum kt_vm_end {
	KT_VM_END_NONE = 0, /* still open (OPEN events) */
	KT_VM_END_SHUTDOWN = 1,
	KT_VM_END_RST = 2,
};

/* Key of the "vm_conns" map. */
struct kt_vm_conn_key {
	__u32 guest_cid;
	__u32 guest_port;
	__u32 host_port;
	__u32 _pad;
};

/* Direction indices of the byte counts. */
#define KT_VM_TO_HOST 0
#define KT_VM_TO_GUEST 1

/* SHUTDOWN flags seen per side (virtio_vsock_hdr flags: RCV 1, SEND 2). */
#define KT_VM_SHUT_GUEST 0x1
#define KT_VM_SHUT_HOST 0x2

struct kt_vm_conn {
	__u64 start_ns;
	__u64 bytes[2]; /* KT_VM_TO_HOST, KT_VM_TO_GUEST */
	__u32 initiator; /* enum kt_vm_initiator */
	__u32 shut;      /* KT_VM_SHUT_* */
};

struct kt_vm_vsock {
	struct kt_vm_event_hdr hdr; /* ts_ns: the event's time */
	struct kt_vm_conn_key key;
	__u64 start_ns;
	__u64 bytes[2];
	__u32 initiator; /* enum kt_vm_initiator */
	__u32 end;       /* enum kt_vm_end */
};

#endif /* KT_VM_EVENTS_H */

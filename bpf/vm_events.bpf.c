// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Events about the VMs themselves (bpf/vm_events.h): hypervisor processes
 * from exec to exit with their KVM exit count, and every vsock connection
 * between a guest and the host with its byte counts.
 *
 * Only tracepoints, so it works wherever BPF does: sched_process_exec/exit
 * as tp_btf (vmlinux BTF), kvm_exit and virtio_transport_{recv,alloc}_pkt
 * as raw_tp, since they live in modules (kvm, the vsock transport) that may
 * load later and whose arguments are plain numbers (the vsock ones) or
 * need none (kvm_exit counts the current process).
 *
 * Events go to a ring buffer of their own, not the stream capture's: they
 * are few, but each one is a whole span, and a burst of captured bytes
 * must not crowd an exit out.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "counters.bpf.h"
#include "stream_record.h"
#include "vm_events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define VMADDR_CID_HOST 2
#define VSOCK_SHUTDOWN_RCV 1
#define VSOCK_SHUTDOWN_SEND 2
#define OP_REQUEST 1
#define OP_RST 3
#define OP_SHUTDOWN 4
#define OP_RW 5

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, KT_VM_RINGBUF);
} vm_events SEC(".maps");

/* Hypervisor binary names, filled by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KT_VM_HV_NAMES);
	__type(key, __u32);
	__type(value, struct kt_vm_hv_name);
} hv_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KT_VM_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct kt_vm_proc);
} vm_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KT_VM_MAX_CONNS);
	__type(key, struct kt_vm_conn_key);
	__type(value, struct kt_vm_conn);
} vm_conns SEC(".maps");

/* Key 0: non-zero once the loader has attached kvm_exit. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} kvm_on SEC(".maps");

/*
 * Key 0: this kernel's own CID when it is itself a guest (set by the
 * loader): its packets to its host are not a guest's.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} local_cid SEC(".maps");

/* The exec event under construction: too big for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kt_vm_exec);
} exec_scratch SEC(".maps");

static __always_inline void output(void *ev, __u64 size)
{
	if (bpf_ringbuf_output(&vm_events, ev, size, 0))
		count(KT_CNT_VM_RB_FAIL, 1);
}

/* ------------------------------------------------------------ processes */

/* Is exe (NUL-padded) one of hv_names? Word compares: few verifier states. */
static __always_inline bool hv_name_match(const char *exe)
{
	__u64 w[KT_VM_HV_NAME_LEN / 8];
	bool any = false;

	__builtin_memcpy(w, exe, sizeof(w));
#pragma unroll
	for (__u32 i = 0; i < KT_VM_HV_NAMES; i++) {
		__u32 k = i;
		struct kt_vm_hv_name *n = bpf_map_lookup_elem(&hv_names, &k);
		if (!n || !n->len)
			continue;
		__u64 s[KT_VM_HV_NAME_LEN / 8], diff = 0;
		__builtin_memcpy(s, n->s, sizeof(s));
#pragma unroll
		for (__u32 j = 0; j < KT_VM_HV_NAME_LEN / 8; j++)
			diff |= (w[j] ^ s[j]) & n->mask[j];
		any |= diff == 0;
	}
	return any;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(kt_vm_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 zero = 0;
	struct kt_vm_exec *e = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!e)
		return 0;

	/* The executable's own name (its dentry): the basename, symbolic links resolved. */
	__builtin_memset(e->exe, 0, sizeof(e->exe));
	const unsigned char *name = BPF_CORE_READ(bprm, file, f_path.dentry, d_name.name);
	if (bpf_probe_read_kernel_str(e->exe, sizeof(e->exe), name) <= 0 || !hv_name_match(e->exe))
		return 0;
	long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	if (n <= 0)
		n = 1;

	__u32 tgid = BPF_CORE_READ(p, tgid);
	__u64 now = bpf_ktime_get_ns();
	struct kt_vm_proc proc = { .start_ns = now, .flags = KT_VM_F_EXEC_SEEN };
	/* A tracked process that execs a hypervisor again starts afresh. */
	if (bpf_map_update_elem(&vm_procs, &tgid, &proc, BPF_ANY)) {
		count(KT_CNT_VM_PROCS_FULL, 1);
		return 0;
	}
	e->hdr.type = KT_VM_EXEC;
	e->hdr.pid = tgid;
	e->hdr.ts_ns = now;
	e->filename_len = (__u32)n - 1;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	/* The new image's arguments, on its fresh stack (present, just written). */
	unsigned long start = BPF_CORE_READ(p, mm, arg_start);
	unsigned long end = BPF_CORE_READ(p, mm, arg_end);
	__u64 len = end > start ? end - start : 0;
	if (len > KT_VM_ARGS_LEN)
		len = KT_VM_ARGS_LEN;
	e->args_len = 0;
	if (len && bpf_probe_read_user(e->args, len, (void *)start) == 0)
		e->args_len = (__u32)len;
	output(e, sizeof(*e));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(kt_vm_exit, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct kt_vm_proc *proc = bpf_map_lookup_elem(&vm_procs, &tgid);
	if (!proc)
		return 0;
	/* signal->live has already been decremented for p: 0 once the last thread goes. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;

	struct kt_vm_exit e = {};
	e.hdr.type = KT_VM_EXIT;
	e.hdr.pid = tgid;
	e.hdr.ts_ns = bpf_ktime_get_ns();
	e.exit_code = BPF_CORE_READ(p, exit_code);
	if (!e.exit_code)
		e.exit_code = BPF_CORE_READ(p, signal, group_exit_code);
	e.start_ns = proc->start_ns;
	e.kvm_exits = proc->kvm_exits;
	e.flags = proc->flags;
	__u32 zero = 0;
	__u32 *kvm = bpf_map_lookup_elem(&kvm_on, &zero);
	if (kvm && *kvm)
		e.flags |= KT_VM_F_KVM;
	BPF_CORE_READ_STR_INTO(&e.comm, p, group_leader, comm);
	output(&e, sizeof(e));
	bpf_map_delete_elem(&vm_procs, &tgid);
	return 0;
}

/* Every VM exit of a vCPU thread, counted for its process. */
SEC("raw_tp/kvm_exit")
int kt_vm_kvm_exit(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct kt_vm_proc *proc = bpf_map_lookup_elem(&vm_procs, &tgid);
	if (proc)
		__sync_fetch_and_add(&proc->kvm_exits, 1);
	return 0;
}

/* ------------------------------------------------------------ vsock connections */

static __always_inline void conn_event(const struct kt_vm_conn_key *k, const struct kt_vm_conn *c,
				       __u32 type, __u32 end)
{
	struct kt_vm_vsock e = {};
	e.hdr.type = type;
	e.hdr.ts_ns = bpf_ktime_get_ns();
	e.key = *k;
	e.start_ns = c->start_ns;
	e.bytes[0] = c->bytes[0];
	e.bytes[1] = c->bytes[1];
	e.initiator = c->initiator;
	e.end = end;
	output(&e, sizeof(e));
}

static __always_inline struct kt_vm_conn *conn_new(const struct kt_vm_conn_key *k, __u32 initiator)
{
	struct kt_vm_conn c = { .start_ns = bpf_ktime_get_ns(), .initiator = initiator };

	if (bpf_map_update_elem(&vm_conns, k, &c, BPF_ANY)) {
		count(KT_CNT_VM_CONNS_FULL, 1);
		return NULL;
	}
	conn_event(k, &c, KT_VM_VSOCK_OPEN, KT_VM_END_NONE);
	return bpf_map_lookup_elem(&vm_conns, k);
}

static __always_inline void conn_end(const struct kt_vm_conn_key *k, struct kt_vm_conn *c, __u32 end)
{
	conn_event(k, c, KT_VM_VSOCK_END, end);
	bpf_map_delete_elem(&vm_conns, k);
}

/*
 * One packet between (src_cid, src_port) and (dst_cid, dst_port): the
 * host's own (alloc_pkt) or one it received (recv_pkt). Only those with a
 * guest on one side (CID > 2): loopback and local traffic are not VMs'.
 */
static __always_inline void on_pkt(__u64 src_cid, __u64 src_port, __u64 dst_cid, __u64 dst_port,
				   __u64 len, __u64 op, __u64 flags)
{
	struct kt_vm_conn_key k = {};
	__u32 dir;

	if (src_cid > VMADDR_CID_HOST && dst_cid <= VMADDR_CID_HOST) {
		k.guest_cid = (__u32)src_cid;
		k.guest_port = (__u32)src_port;
		k.host_port = (__u32)dst_port;
		dir = KT_VM_TO_HOST;
	} else if (dst_cid > VMADDR_CID_HOST && src_cid <= VMADDR_CID_HOST) {
		k.guest_cid = (__u32)dst_cid;
		k.guest_port = (__u32)dst_port;
		k.host_port = (__u32)src_port;
		dir = KT_VM_TO_GUEST;
	} else {
		return;
	}
	__u32 zero = 0;
	__u32 *own = bpf_map_lookup_elem(&local_cid, &zero);
	if (own && *own == k.guest_cid)
		return;

	struct kt_vm_conn *c;
	switch (op) {
	case OP_REQUEST:
		conn_new(&k, dir == KT_VM_TO_HOST ? KT_VM_INIT_GUEST : KT_VM_INIT_HOST);
		return;
	case OP_RW:
		c = bpf_map_lookup_elem(&vm_conns, &k);
		if (!c)
			c = conn_new(&k, KT_VM_INIT_UNKNOWN);
		if (c && len)
			__sync_fetch_and_add(&c->bytes[dir & 1], len);
		return;
	case OP_SHUTDOWN:
		c = bpf_map_lookup_elem(&vm_conns, &k);
		if (!c)
			return;
		c->shut |= dir == KT_VM_TO_HOST ? KT_VM_SHUT_GUEST : KT_VM_SHUT_HOST;
		/* Closed for good: one side shut both ways, or both sides sent theirs. */
		if ((flags & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND)) ==
			    (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND) ||
		    c->shut == (KT_VM_SHUT_GUEST | KT_VM_SHUT_HOST))
			conn_end(&k, c, KT_VM_END_SHUTDOWN);
		return;
	case OP_RST:
		c = bpf_map_lookup_elem(&vm_conns, &k);
		if (c)
			conn_end(&k, c, KT_VM_END_RST);
		return;
	}
}

/* (src_cid, src_port, dst_cid, dst_port, len, type, op, flags, ...): packets the host receives. */
SEC("raw_tp/virtio_transport_recv_pkt")
int kt_vm_vsock_recv(__u64 *ctx)
{
	on_pkt(ctx[0], ctx[1], ctx[2], ctx[3], ctx[4], ctx[6], ctx[7]);
	return 0;
}

/* The same arguments: packets the host sends. */
SEC("raw_tp/virtio_transport_alloc_pkt")
int kt_vm_vsock_alloc(__u64 *ctx)
{
	on_pkt(ctx[0], ctx[1], ctx[2], ctx[3], ctx[4], ctx[6], ctx[7]);
	return 0;
}

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * For the tracepoint strategy: sock_send_length / sock_recv_length give the
 * socket and the byte count but not the buffer. The buffer is in the current
 * syscall's arguments, read from the task's saved user registers; the
 * syscall's file descriptor must be this very socket, or the bytes are not
 * claimed (reported as a gap instead).
 */
#ifndef KT_SYSCALL_SRC_BPF_H
#define KT_SYSCALL_SRC_BPF_H

#include "stream_emit.bpf.h"

#if defined(__TARGET_ARCH_x86)
#define NR_read 0
#define NR_write 1
#define NR_readv 19
#define NR_writev 20
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define syscall_nr(regs) BPF_CORE_READ(regs, orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define NR_read 63
#define NR_write 64
#define NR_readv 65
#define NR_writev 66
#define NR_sendto 206
#define NR_recvfrom 207
#define NR_sendmsg 211
#define NR_recvmsg 212
#define syscall_nr(regs) BPF_CORE_READ((struct user_pt_regs *)(regs), syscallno)
#else
#error "syscall numbers: unsupported architecture"
#endif

/* Is fd, in the current task, the file of socket sock? */
static __always_inline bool fd_is(struct socket *sock, long fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return false;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return false;
	return BPF_CORE_READ(f, private_data) == sock;
}

/*
 * Locates the user buffer of the syscall sending on (recv: receiving from)
 * sk: write/sendto/read/recvfrom use one buffer, writev/readv an iovec
 * array, sendmsg/recvmsg a msghdr's iovec array.
 */
static __always_inline bool syscall_src(struct sock *sk, struct kt_src *src, bool recv)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
	long nr = syscall_nr(regs);
	long fd = PT_REGS_PARM1_CORE_SYSCALL(regs);
	__u64 arg2 = PT_REGS_PARM2_CORE_SYSCALL(regs);

	if (!fd_is(BPF_CORE_READ(sk, sk_socket), fd))
		return false;
	src->skip = 0;
	if (recv ? nr == NR_read || nr == NR_recvfrom : nr == NR_write || nr == NR_sendto) {
		src->kind = KT_SRC_UBUF;
		src->base = arg2;
		return true;
	}
	if (recv ? nr == NR_readv : nr == NR_writev) {
		src->kind = KT_SRC_IOV_USER;
		src->base = arg2;
		src->nseg = PT_REGS_PARM3_CORE_SYSCALL(regs);
		return true;
	}
	if (recv ? nr == NR_recvmsg : nr == NR_sendmsg) {
		struct user_msghdr m;
		if (bpf_probe_read_user(&m, sizeof(m), (void *)arg2))
			return false;
		src->kind = KT_SRC_IOV_USER;
		src->base = (__u64)m.msg_iov;
		src->nseg = m.msg_iovlen;
		return true;
	}
	return false; /* sendmmsg/recvmmsg, splice, io_uring, kernel users */
}

#endif /* KT_SYSCALL_SRC_BPF_H */

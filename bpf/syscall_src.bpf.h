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
#define syscall_nr(regs) ((regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define NR_read 63
#define NR_write 64
#define NR_readv 65
#define NR_writev 66
#define NR_sendto 206
#define NR_recvfrom 207
#define NR_sendmsg 211
#define NR_recvmsg 212
#define syscall_nr(regs) ((regs)->syscallno)
#else
#error "syscall numbers: unsupported architecture"
#endif

/*
 * These run on every captured send, so they read the kernel's structures
 * directly through BTF-typed pointers (the tracepoint's socket, the
 * current task, its saved registers): a plain load each, where a
 * BPF_CORE_READ is a helper call. Field offsets still relocate (CO-RE:
 * vmlinux.h's types carry preserve_access_index). Only what BTF cannot
 * type (an element of the fd array, read as a bare address) goes through
 * bpf_probe_read_kernel.
 */

/* Is fd, in task t, the file of socket sock? */
static __always_inline bool fd_is(struct task_struct *t, struct socket *sock, long fd)
{
	struct files_struct *files = t->files;
	struct file *f = NULL;

	if (!files || !sock)
		return false;
	struct fdtable *fdt = files->fdt;
	if (!fdt || fd < 0 || fd >= fdt->max_fds)
		return false;
	struct file **fds = fdt->fd;
	/* the element is read as a bare address; the socket's own file is a load */
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return false;
	return f == sock->file;
}

/*
 * Locates the user buffer of the syscall sending on (recv: receiving from)
 * sk: write/sendto/read/recvfrom use one buffer, writev/readv an iovec
 * array, sendmsg/recvmsg a msghdr's iovec array. sk is the tracepoint's
 * own (BTF-typed) socket.
 */
static __always_inline bool syscall_src(struct sock *sk, struct kt_src *src, bool recv)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
	if (!regs)
		return false;
	long nr = syscall_nr(regs);
	long fd = PT_REGS_PARM1_SYSCALL(regs);
	__u64 arg2 = PT_REGS_PARM2_SYSCALL(regs);

	if (!fd_is(t, sk->sk_socket, fd))
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
		src->nseg = PT_REGS_PARM3_SYSCALL(regs);
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

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vsock_tail: one program a tracepoint for both captures. Where the
 * hybrid-vsock (unix) and the vsock capture both use the tracepoints
 * (sock_send_length, sock_recv_length), only the unix capture's programs
 * are attached there; they hand AF_VSOCK sockets on to the vsock capture's
 * programs by tail call. Every other send and read on the node then pays
 * one program's dispatch, not two.
 *
 * Shared between unix_capture.bpf.c (the program arrays it calls through),
 * vsock_capture.bpf.c (whose tracepoint programs are called) and the loader
 * (user/capture/capture.c, which fills the slots instead of attaching the
 * vsock programs, and empties them when it attaches the vsock capture
 * otherwise).
 *
 * One program array a tracepoint, of one slot each: a program array takes
 * only programs of the hook its first user was loaded for. An empty slot
 * (no vsock capture yet, or one attached by other means) makes the call
 * fall through, and the unix program returns. The slots live as long as
 * some process holds the array (a descriptor: the takeover hands it on).
 */
#ifndef KT_VSOCK_TAIL_H
#define KT_VSOCK_TAIL_H

#define KT_VSOCK_TAIL_SEND_MAP "vsock_tail_send" /* sock_send_length */
#define KT_VSOCK_TAIL_RECV_MAP "vsock_tail_recv" /* sock_recv_length */
#define KT_VSOCK_TAIL_SLOT 0

#endif /* KT_VSOCK_TAIL_H */

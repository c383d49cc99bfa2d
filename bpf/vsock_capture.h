/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vsock_capture: capture AF_VSOCK streams between guests and the host (QEMU
 * with vhost-vsock; vsock_loopback). Shared between vsock_capture.bpf.c and
 * the loader (user/capture/capture.c).
 *
 * A connection is (guest CID, guest port, host port). Directions follow the
 * listening end: for a host port (the agent's trace port 10240, where the
 * guest connects to the host) guest->host is KT_DIR_TO_SERVER; for a guest
 * port (the agent's ttrpc port 1024, where the runtime connects to the
 * guest) host->guest is, and the key carries KT_VSOCK_GUEST_LISTENS
 * (stream_record.h). A packet that fits both (guest port 1024 talking to
 * host port 10240) belongs to the host's listener.
 */
#ifndef KT_VSOCK_CAPTURE_H
#define KT_VSOCK_CAPTURE_H

#include "stream_record.h"

#define KT_VSOCK_MAX_PORTS 8

/*
 * Host ports to capture are the keys of the "vsock_ports" hash map, guest
 * ports those of "vsock_guest_ports".
 */

/* virtio_vsock_hdr.op */
#define KT_VSOCK_OP_REQUEST 1
#define KT_VSOCK_OP_RESPONSE 2
#define KT_VSOCK_OP_RST 3
#define KT_VSOCK_OP_SHUTDOWN 4
#define KT_VSOCK_OP_RW 5
/* virtio_vsock_hdr.flags for SHUTDOWN */
#define KT_VSOCK_SHUTDOWN_SEND 2

static inline __u64 kt_vsock_endpoint(__u32 cid, __u32 guest_port)
{
	return (__u64)cid << 32 | guest_port;
}

/* conn.port of a connection to a port the guest listens on. */
static inline __u64 kt_vsock_port_guest_listens(__u32 host_port)
{
	return KT_VSOCK_GUEST_LISTENS | host_port;
}

#endif /* KT_VSOCK_CAPTURE_H */

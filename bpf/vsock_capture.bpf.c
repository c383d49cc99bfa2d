// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Capture of standard vsock traffic (QEMU + vhost_vsock, vsock_loopback):
 * streams between a guest and a host port the host listens on (the agent's
 * trace port 10240 by default), and between the host and a guest port the
 * guest listens on (the agent's ttrpc port 1024, which the runtime dials).
 *
 * Attach strategies (the loader enables one set):
 *  - fentry / kprobe on virtio_transport_recv_pkt: every packet the host
 *    receives, in order, with its header (CIDs, ports, op) and payload. Two
 *    layouts, told apart by CO-RE: struct virtio_vsock_pkt (header pkt->hdr,
 *    payload pkt->buf) on older kernels, struct sk_buff (header at
 *    skb->head, payload at skb->data, or in page frags for large packets on
 *    newer kernels) since the sk_buff conversion. Host-to-guest packets are
 *    seen at vhost_transport_send_pkt when vhost_vsock is loaded.
 *  - tracepoints: tp_btf/sock_recv_length on the host's AF_VSOCK socket that
 *    reads the stream (bytes from the read syscall's buffer), and
 *    sock_send_length for what the host sends to a guest. Works without the
 *    virtio modules' symbols, wherever something on the host reads (for a
 *    guest port: the host's client socket, both ways). Where the unix
 *    capture uses the tracepoints too, these programs are not attached:
 *    its programs reach them by tail call (vsock_tail.h).
 */
/* records lost here are counted apart from the other capture program's */
#define KT_EMIT_RB_FAIL KT_CNT_VSOCK_RB_FAIL
#include "stream_emit.bpf.h"
#include "syscall_src.bpf.h"
#include "vsock_capture.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_VSOCK 40
#define SOCK_STREAM 1
#define RCV_SHUTDOWN 1
#define VIRTIO_VSOCK_TYPE_STREAM 1
#define VMADDR_CID_LOCAL 1
#define VMADDR_CID_HOST 2

/* Host ports whose connections are captured (value unused). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KT_VSOCK_MAX_PORTS);
	__type(key, __u32);
	__type(value, __u8);
} vsock_ports SEC(".maps");

/* Guest ports whose connections are captured: the host is the client. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KT_VSOCK_MAX_PORTS);
	__type(key, __u32);
	__type(value, __u8);
} vsock_guest_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KT_MAX_STREAMS);
	__type(key, struct kt_conn_id);
	__type(value, struct kt_stream_state);
} vstreams SEC(".maps");

/* Layout before the sk_buff conversion (CO-RE flavour). */
struct virtio_vsock_pkt___old {
	struct virtio_vsock_hdr hdr;
	void *buf;
	u32 len;
} __attribute__((preserve_access_index));

/* Page frags of a nonlinear skb (kernels with netmem-based frags). */
struct skb_frag___netmem {
	unsigned long netmem;
	unsigned int len;
	unsigned int offset;
} __attribute__((preserve_access_index));

extern const void vmemmap_base __ksym __weak;
extern const void page_offset_base __ksym __weak;

static __always_inline bool host_port(__u32 port)
{
	return bpf_map_lookup_elem(&vsock_ports, &port) != NULL;
}

static __always_inline bool guest_port(__u32 port)
{
	return bpf_map_lookup_elem(&vsock_guest_ports, &port) != NULL;
}

/* Key and direction of a packet or socket between (cid_a, port_a) -> (cid_b, port_b). */
static __always_inline bool conn_for(__u32 src_cid, __u32 src_port, __u32 dst_cid, __u32 dst_port,
				     struct kt_conn_id *conn, __u8 *dir)
{
	conn->transport = KT_TRANSPORT_VSOCK;
	conn->_pad = 0;
	if (host_port(dst_port)) {
		conn->endpoint = kt_vsock_endpoint(src_cid, src_port);
		conn->port = dst_port;
		*dir = KT_DIR_TO_SERVER;
		return true;
	}
	if (host_port(src_port)) {
		conn->endpoint = kt_vsock_endpoint(dst_cid, dst_port);
		conn->port = src_port;
		*dir = KT_DIR_TO_CLIENT;
		return true;
	}
	/* The guest listens: the host sends the requests. */
	if (guest_port(dst_port)) {
		conn->endpoint = kt_vsock_endpoint(dst_cid, dst_port);
		conn->port = kt_vsock_port_guest_listens(src_port);
		*dir = KT_DIR_TO_SERVER;
		return true;
	}
	if (guest_port(src_port)) {
		conn->endpoint = kt_vsock_endpoint(src_cid, src_port);
		conn->port = kt_vsock_port_guest_listens(dst_port);
		*dir = KT_DIR_TO_CLIENT;
		return true;
	}
	return false;
}

/* Stream state; created with a CONN record (fresh: a new connection). */
static __always_inline struct kt_stream_state *vstream(const struct kt_conn_id *conn, __u8 dir,
							bool fresh, __u32 flags)
{
	struct kt_stream_state *st;

	if (fresh)
		bpf_map_delete_elem(&vstreams, conn);
	else if ((st = bpf_map_lookup_elem(&vstreams, conn)))
		return st;

	struct kt_stream_state zero_st = {};
	if (bpf_map_update_elem(&vstreams, conn, &zero_st, BPF_NOEXIST) == 0) {
		__u32 k = 0;
		struct kt_rec_conn *c = bpf_map_lookup_elem(&conn_scratch, &k);
		if (c) {
			__builtin_memset(c, 0, sizeof(*c));
			c->hdr.type = KT_REC_CONN;
			c->hdr.flags = flags;
			c->hdr.conn = *conn;
			c->hdr.dir = dir;
			fill_task(&c->hdr, true);
			if (bpf_ringbuf_output(&events, c, sizeof(*c), rb_flags(sizeof(*c))))
				count(KT_EMIT_RB_FAIL, 1);
		}
	}
	st = bpf_map_lookup_elem(&vstreams, conn);
	if (!st)
		count(KT_CNT_STREAM_FULL, 1);
	return st;
}

static __always_inline void vclose(const struct kt_conn_id *conn, __u8 dir)
{
	struct kt_stream_state *st = bpf_map_lookup_elem(&vstreams, conn);

	if (st)
		emit_close(conn, dir, st->offset[dir & 1]);
}

/* ------------------------------------------------------------ packets */

/* Nonlinear skb: the payload (past the linear part) is in page frags. */
static __always_inline void emit_frags(const struct kt_conn_id *conn, __u8 dir,
				       struct sk_buff *skb, __u64 base_off, __u32 linear,
				       __u32 total, __u32 *lost)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u64 end = BPF_CORE_READ(skb, end); /* offset from head on 64-bit */
	struct skb_shared_info *shi = (void *)(head + end);
	__u8 nr = BPF_CORE_READ(shi, nr_frags);
	__u64 vmemmap = 0, direct = 0;
	__u64 done = linear;

	if (&vmemmap_base && &page_offset_base) {
		bpf_probe_read_kernel(&vmemmap, sizeof(vmemmap), &vmemmap_base);
		bpf_probe_read_kernel(&direct, sizeof(direct), &page_offset_base);
	}
	if (bpf_core_type_exists(struct skb_frag___netmem) && vmemmap && direct) {
		for (__u32 i = 0; i < 17; i++) { /* MAX_SKB_FRAGS */
			if (i >= nr || done >= total)
				break;
			struct skb_frag___netmem *f =
				(void *)&shi->frags[0] + i * bpf_core_type_size(struct skb_frag___netmem);
			__u64 page = BPF_CORE_READ(f, netmem) & ~1ULL;
			__u32 flen = BPF_CORE_READ(f, len), foff = BPF_CORE_READ(f, offset);
			__u64 pfn = (page - vmemmap) / bpf_core_type_size(struct page);
			struct kt_src src = { .kind = KT_SRC_KBUF,
					      .base = direct + pfn * 4096 + foff };
			if (flen > total - done)
				flen = total - done;
			emit_range(conn, dir, &src, flen, base_off + done, lost, 0);
			count(KT_CNT_FRAG_BYTES, flen);
			done += flen;
		}
	}
	if (done < total) {
		struct kt_rec_data *rec = data_buf();
		if (rec)
			send_marker(&rec->hdr, KT_REC_GAP, KT_F_UNREADABLE, base_off + done,
				    total - done, lost);
		count(KT_CNT_GAP_BYTES, total - done);
	}
}

static __always_inline void on_packet(void *p)
{
	struct virtio_vsock_hdr hdr;
	__u64 payload;
	__u32 len, data_len = 0;
	struct sk_buff *skb = NULL;

	if (bpf_core_type_exists(struct virtio_vsock_pkt___old)) {
		struct virtio_vsock_pkt___old *pkt = p;
		bpf_probe_read_kernel(&hdr, sizeof(hdr),
				      (void *)pkt +
					      bpf_core_field_offset(struct virtio_vsock_pkt___old, hdr));
		payload = (__u64)BPF_CORE_READ(pkt, buf);
		len = BPF_CORE_READ(pkt, len);
	} else {
		skb = p;
		bpf_probe_read_kernel(&hdr, sizeof(hdr), BPF_CORE_READ(skb, head));
		payload = (__u64)BPF_CORE_READ(skb, data);
		len = BPF_CORE_READ(skb, len);
		data_len = BPF_CORE_READ(skb, data_len);
	}
	if (hdr.type != VIRTIO_VSOCK_TYPE_STREAM)
		return;

	struct kt_conn_id conn;
	__u8 dir;
	if (!conn_for((__u32)hdr.src_cid, hdr.src_port, (__u32)hdr.dst_cid, hdr.dst_port, &conn,
		      &dir))
		return;

	switch (hdr.op) {
	case KT_VSOCK_OP_REQUEST:
		vstream(&conn, dir, true, 0);
		return;
	case KT_VSOCK_OP_RW: {
		if (len == 0)
			return;
		struct kt_stream_state *st = vstream(&conn, dir, false, 0);
		if (!st)
			return;
		dir &= 1;
		if (!data_len) {
			struct kt_src src = { .kind = KT_SRC_KBUF, .base = payload };
			emit_stream(&conn, dir, &src, len, &st->offset[dir], &st->lost[dir]);
			return;
		}
		/* Nonlinear: linear part first, then the frags. */
		__u64 base_off = __sync_fetch_and_add(&st->offset[dir], len);
		__u32 lost = st->lost[dir];
		__u32 linear = len > data_len ? len - data_len : 0;
		struct kt_src src = { .kind = KT_SRC_KBUF, .base = payload };
		if (linear)
			emit_range(&conn, dir, &src, linear, base_off, &lost, 0);
		emit_frags(&conn, dir, skb, base_off, linear, len, &lost);
		st->lost[dir] = lost;
		return;
	}
	case KT_VSOCK_OP_SHUTDOWN:
		if (hdr.flags & KT_VSOCK_SHUTDOWN_SEND)
			vclose(&conn, dir);
		return;
	case KT_VSOCK_OP_RST:
		vclose(&conn, KT_DIR_TO_SERVER);
		vclose(&conn, KT_DIR_TO_CLIENT);
		bpf_map_delete_elem(&vstreams, &conn);
		return;
	}
}

SEC("fentry/virtio_transport_recv_pkt")
int BPF_PROG(kt_vs_fentry_recv, void *t, void *pkt)
{
	on_packet(pkt);
	return 0;
}

SEC("fentry/vhost_transport_send_pkt")
int BPF_PROG(kt_vs_fentry_send, void *pkt)
{
	on_packet(pkt);
	return 0;
}

SEC("kprobe/virtio_transport_recv_pkt")
int BPF_KPROBE(kt_vs_kprobe_recv, void *t, void *pkt)
{
	on_packet(pkt);
	return 0;
}

SEC("kprobe/vhost_transport_send_pkt")
int BPF_KPROBE(kt_vs_kprobe_send, void *pkt)
{
	on_packet(pkt);
	return 0;
}

/* ------------------------------------------------------------ tracepoints */

/* Key of the stream an AF_VSOCK socket carries; reading: bytes sk receives. */
static __always_inline bool sock_conn(struct sock *sk, bool reading, struct kt_conn_id *conn,
				      __u8 *dir, __u32 *remote_cid)
{
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_family) != AF_VSOCK ||
	    BPF_CORE_READ(sk, sk_type) != SOCK_STREAM)
		return false;
	struct vsock_sock *vsk = (struct vsock_sock *)sk;
	__u32 lcid = BPF_CORE_READ(vsk, local_addr.svm_cid);
	__u32 lport = BPF_CORE_READ(vsk, local_addr.svm_port);
	__u32 rcid = BPF_CORE_READ(vsk, remote_addr.svm_cid);
	__u32 rport = BPF_CORE_READ(vsk, remote_addr.svm_port);

	*remote_cid = rcid;
	/* Bytes sk reads flow remote -> local; bytes it sends local -> remote. */
	if (reading)
		return conn_for(rcid, rport, lcid, lport, conn, dir);
	return conn_for(lcid, lport, rcid, rport, conn, dir);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(kt_vs_tp_recv, struct sock *sk, int ret, int flags)
{
	struct kt_conn_id conn;
	__u8 dir;
	__u32 rcid;

	/* every read on the node passes here: a plain load first */
	if (ret < 0 || !sk || sk->__sk_common.skc_family != AF_VSOCK ||
	    !sock_conn(sk, true, &conn, &dir, &rcid))
		return 0;
	dir &= 1;
	if (ret == 0) {
		if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown) & RCV_SHUTDOWN) {
			vclose(&conn, dir);
			bpf_map_delete_elem(&vstreams, &conn);
		}
		return 0;
	}
	struct kt_stream_state *st = vstream(&conn, dir, false, KT_F_TASK_IS_READER);
	if (!st)
		return 0;
	struct kt_src src = {};
	if (syscall_src(sk, &src, true))
		emit_stream_flagged(&conn, dir, &src, ret, &st->offset[dir], &st->lost[dir],
				    KT_F_TASK_IS_READER);
	else
		emit_unsupported(&conn, dir, ret, &st->offset[dir], &st->lost[dir]);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(kt_vs_tp_send, struct sock *sk, int ret, int flags)
{
	struct kt_conn_id conn;
	__u8 dir;
	__u32 rcid;

	/*
	 * A local peer's reads are captured on its side: only guests' are not
	 * (what the host sends to a guest: answers on a host port, the
	 * runtime's requests to a guest port).
	 */
	if (ret <= 0 || !sk || sk->__sk_common.skc_family != AF_VSOCK ||
	    !sock_conn(sk, false, &conn, &dir, &rcid) || rcid == VMADDR_CID_LOCAL ||
	    rcid == VMADDR_CID_HOST)
		return 0;
	dir &= 1;
	struct kt_stream_state *st = vstream(&conn, dir, false, 0);
	if (!st)
		return 0;
	struct kt_src src = {};
	if (syscall_src(sk, &src, false))
		emit_stream(&conn, dir, &src, ret, &st->offset[dir], &st->lost[dir]);
	else
		emit_unsupported(&conn, dir, ret, &st->offset[dir], &st->lost[dir]);
	return 0;
}

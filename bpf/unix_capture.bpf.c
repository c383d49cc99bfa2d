// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Capture of hybrid-vsock traffic: bytes written on AF_UNIX stream
 * connections whose server end is bound to a matching path (by default
 * "*_10240", where Firecracker / Cloud Hypervisor relay the agent's traces).
 *
 * Three attach strategies share the matching and emitting code; the loader
 * enables exactly one set of programs:
 *  - fentry/fexit on unix_stream_sendmsg / unix_stream_recvmsg
 *  - kprobe/kretprobe on the same functions
 *  - tracepoints: tp_btf/sock_send_length and sock_recv_length (kernel >= 6.5).
 *    The tracepoint has the socket but not the buffer, so the buffer comes
 *    from the syscall's own arguments (pt_regs of the current task), checked
 *    against the socket through the fd table. Only socket sends pay; a
 *    syscall-wide hook would make every write() on the node pay. Where the
 *    vsock capture uses the same tracepoints, these programs hand AF_VSOCK
 *    sockets on to it by tail call (vsock_tail.h): one program a
 *    tracepoint.
 * End of stream is seen by the reader: a 0-byte read after the peer shut
 * down its sending side.
 */
/* records lost here are counted apart from the other capture program's */
#define KT_EMIT_RB_FAIL KT_CNT_RB_FAIL
#include "stream_emit.bpf.h"
#include "syscall_src.bpf.h"
#include "unix_capture.h"
#include "vsock_tail.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_UNIX 1
#define AF_VSOCK 40
#define SOCK_STREAM 1
#define RCV_SHUTDOWN 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kt_unix_match);
} match_cfg SEC(".maps");

/* sock address -> verdict; LRU so dead sockets age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KT_UNIX_MAX_VERDICTS);
	__type(key, __u64);
	__type(value, struct kt_unix_verdict);
} verdicts SEC(".maps");

/*
 * The tracepoint strategy's verdicts, in the socket itself (socket-local
 * storage, freed with it): a send on a socket decided once costs one
 * lookup, whatever the socket. Tracing programs may use it on the socket
 * the tracepoint hands them; the other strategies keep the hash map above.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct kt_unix_verdict);
} sk_verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KT_MAX_STREAMS);
	__type(key, struct kt_conn_id);
	__type(value, struct kt_stream_state);
} streams SEC(".maps");

/* The vsock capture's tracepoint programs, when they are reached from here (vsock_tail.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vsock_tail_send SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vsock_tail_recv SEC(".maps");

/* fentry/kprobe: the send's iterator as it was on entry, by thread. */
struct send_entry {
	__u64 sk;
	struct kt_src src;
	__u32 unsupported;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KT_UNIX_MAX_IN_FLIGHT);
	__type(key, __u32);
	__type(value, struct send_entry);
} send_entries SEC(".maps");

/* kprobe: the socket of a recv in flight, by thread. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KT_UNIX_MAX_IN_FLIGHT);
	__type(key, __u32);
	__type(value, __u64);
} recv_entries SEC(".maps");

/* Older layouts, for CO-RE. */
struct iov_iter___pre64 {
	const struct iovec *iov;
} __attribute__((preserve_access_index));

struct sock___ino {
	unsigned long sk_ino; /* kernels that cache the inode number in struct sock */
} __attribute__((preserve_access_index));

static __always_inline __u64 sock_ino(struct sock *sk)
{
	if (bpf_core_field_exists(((struct sock___ino *)sk)->sk_ino)) {
		__u64 ino = BPF_CORE_READ((struct sock___ino *)sk, sk_ino);
		if (ino)
			return ino;
	}
	struct socket *sock = BPF_CORE_READ(sk, sk_socket);
	if (!sock)
		return 0;
	/* struct socket_alloc { struct socket socket; struct inode vfs_inode; } */
	struct inode *inode =
		(void *)sock + bpf_core_field_offset(struct socket_alloc, vfs_inode);
	return BPF_CORE_READ(inode, i_ino);
}

struct match_ctx {
	bool ok;
	bool untimed; /* the matching entry's connections carry no time */
};

static __always_inline struct kt_rec_conn *conn_buf(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&conn_scratch, &zero);
}

static __always_inline struct kt_unix_match *match_cfg_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&match_cfg, &zero);
}

/* bpf_loop callbacks: one pattern each, so the verifier checks one body. */
static long match_suffix(__u64 i, void *data)
{
	struct match_ctx *mc = data;
	struct kt_unix_match *m = match_cfg_get();
	struct kt_rec_conn *c = conn_buf();

	if (!m || !c || i >= KT_MAX_SUFFIXES || i >= m->n_suffix)
		return 1;
	__u32 plen = c->path_len, sl = m->suffix[i].len;
	if (sl == 0 || sl > KT_SUFFIX_MAX || sl > plen || plen > KT_PATH_MAX)
		return 0;
	__u32 start = plen - sl;
	for (__u32 j = 0; j < KT_SUFFIX_MAX; j++) {
		if (j >= sl)
			break;
		__u32 idx = start + j;
		/* Keep the compiler from hoisting path + start out of the check. */
		asm volatile("" : "+r"(idx));
		if (idx >= KT_PATH_MAX || c->path[idx] != m->suffix[i].s[j])
			return 0;
	}
	mc->ok = true;
	mc->untimed = (m->untimed_suffixes >> i) & 1;
	return 1;
}

static long match_prefix(__u64 i, void *data)
{
	struct match_ctx *mc = data;
	struct kt_unix_match *m = match_cfg_get();
	struct kt_rec_conn *c = conn_buf();

	if (!m || !c || i >= KT_MAX_PREFIXES || i >= m->n_prefix)
		return 1;
	__u32 plen = c->path_len, pl = m->prefix[i].len;
	if (pl == 0 || pl > KT_PATH_MAX || pl > plen)
		return 0;
	for (__u32 j = 0; j < KT_PATH_MAX; j++) {
		if (j >= pl)
			break;
		if (c->path[j] != m->prefix[i].s[j])
			return 0;
	}
	mc->ok = true;
	return 1;
}

/*
 * Does the path in the conn scratch record match the configuration? If so,
 * *untimed says whether the matching entry's connections carry no time.
 */
static __always_inline bool path_matches(__u8 *untimed)
{
	struct match_ctx mc = {};

	bpf_loop(KT_MAX_SUFFIXES, match_suffix, &mc, 0);
	if (!mc.ok)
		bpf_loop(KT_MAX_PREFIXES, match_prefix, &mc, 0);
	*untimed = mc.untimed;
	return mc.ok;
}

/* Reads the bound path of sk into c->path; false if sk has none. */
static __always_inline bool read_path(struct sock *sk, struct kt_rec_conn *c)
{
	struct unix_address *addr = BPF_CORE_READ((struct unix_sock *)sk, addr);

	c->path_len = 0;
	if (!addr)
		return false;
	long n = bpf_probe_read_kernel_str(c->path, sizeof(c->path), &addr->name[0].sun_path);
	/* n counts the NUL; abstract names start with NUL and never match. */
	if (n <= 1)
		return false;
	c->path_len = n - 1;
	return true;
}

/* Has sk been released by its owner (closed: SOCK_DEAD)? */
static __always_inline bool sock_dead(struct sock *sk)
{
	unsigned long flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	return flags & (1ul << bpf_core_enum_value(enum sock_flags, SOCK_DEAD));
}

/*
 * Does v, found under the address of a socket whose inode is ino and whose
 * peer is peer, describe that socket? Sockets die and their addresses are
 * reused, a server end's by a later client, say: an entry is believed only
 * when the socket's identity matches. A server end taught by its client
 * before it was accepted has no inode of its own yet (v->ino 0): it is
 * recognised by its peer, the client whose inode v names, or a peer that
 * has been closed since (whose inode can no longer be read). A new client
 * at that address has an unaccepted peer instead, which is neither.
 */
static __always_inline bool verdict_is_of(const struct kt_unix_verdict *v, __u64 ino,
					  struct sock *peer)
{
	if (v->peer != (__u64)peer)
		return false;
	if (v->ino)
		return v->ino == ino;
	if (!v->match || v->dir != KT_DIR_TO_CLIENT || !peer)
		return false;
	__u64 peer_ino = sock_ino(peer);
	if (peer_ino)
		return peer_ino == v->client_ino;
	return sock_dead(peer);
}

/*
 * Verdict for the socket sk: does it belong to a captured connection, and in
 * which direction does it write? Cached per socket. *final (if given) says
 * whether the answer holds for the rest of the socket's life: false while
 * it cannot be decided yet (not connected, identity unreadable).
 */
static __always_inline struct kt_unix_verdict *unix_verdict_final(struct sock *sk, bool *final)
{
	bool dummy;
	if (!final)
		final = &dummy;
	*final = false;
	if (!sk)
		return NULL;
	if (BPF_CORE_READ(sk, __sk_common.skc_family) != AF_UNIX ||
	    BPF_CORE_READ(sk, sk_type) != SOCK_STREAM) {
		*final = true;
		return NULL;
	}

	__u64 key = (__u64)sk;
	__u64 ino = sock_ino(sk);
	struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
	struct kt_unix_verdict *v = bpf_map_lookup_elem(&verdicts, &key);
	if (v && verdict_is_of(v, ino, peer)) {
		if (!v->ino)
			v->ino = ino;
		*final = v->ino != 0;
		return v->match ? v : NULL;
	}

	struct kt_rec_conn *c = conn_buf();
	if (!c || !peer)
		return NULL; /* not connected: decide later */

	struct kt_unix_verdict nv = { .ino = ino, .peer = (__u64)peer };
	__u8 untimed = 0;
	if (read_path(peer, c) && path_matches(&untimed)) {
		/* sk connected to a matching listener: sk is the client end. */
		nv.match = 1;
		nv.dir = KT_DIR_TO_SERVER;
		nv.untimed = untimed;
		nv.client_ino = ino;
		/*
		 * Teach the server end now: by the time it reads end-of-stream
		 * the client may be gone and its identity unreadable.
		 */
		struct kt_unix_verdict sv = {
			.ino = sock_ino(peer),
			.peer = key,
			.client_ino = ino,
			.match = 1,
			.dir = KT_DIR_TO_CLIENT,
			.untimed = untimed,
		};
		__u64 pkey = (__u64)peer;
		if (ino)
			bpf_map_update_elem(&verdicts, &pkey, &sv, BPF_ANY);
	} else if (read_path(sk, c) && path_matches(&untimed)) {
		/* sk was accepted by a matching listener. */
		nv.match = 1;
		nv.dir = KT_DIR_TO_CLIENT;
		nv.untimed = untimed;
		nv.client_ino = sock_ino(peer);
	}
	if (nv.match && (!nv.client_ino || !ino))
		return NULL; /* identity not readable: do not cache */
	bpf_map_update_elem(&verdicts, &key, &nv, BPF_ANY);
	v = bpf_map_lookup_elem(&verdicts, &key);
	*final = v && ino;
	return v && v->match ? v : NULL;
}

#define unix_verdict(sk) unix_verdict_final(sk, NULL)

/* Stream state of the connection; created (with a CONN record) on first use. */
static __always_inline struct kt_stream_state *stream_state(struct sock *sk,
							     const struct kt_unix_verdict *v,
							     const struct kt_conn_id *conn)
{
	struct kt_stream_state *st = bpf_map_lookup_elem(&streams, conn);
	if (st)
		return st;

	struct kt_stream_state zero_st = {};
	if (bpf_map_update_elem(&streams, conn, &zero_st, BPF_NOEXIST) == 0) {
		struct kt_rec_conn *c = conn_buf();
		if (c) {
			struct sock *server = sk;
			if (v->dir == KT_DIR_TO_SERVER)
				server = BPF_CORE_READ((struct unix_sock *)sk, peer);
			__builtin_memset(&c->hdr, 0, sizeof(c->hdr));
			c->hdr.type = KT_REC_CONN;
			c->hdr.conn = *conn;
			c->hdr.dir = v->dir;
			fill_task(&c->hdr, true);
			c->server_ino = server ? sock_ino(server) : 0;
			if (!server || !read_path(server, c))
				c->path_len = 0;
			if (bpf_ringbuf_output(&events, c, sizeof(*c), rb_flags(sizeof(*c))))
				count(KT_EMIT_RB_FAIL, 1);
		}
	}
	st = bpf_map_lookup_elem(&streams, conn);
	if (!st)
		count(KT_CNT_STREAM_FULL, 1);
	return st;
}

static __always_inline void conn_of(const struct kt_unix_verdict *v, struct kt_conn_id *conn)
{
	conn->endpoint = v->client_ino;
	conn->port = 0;
	conn->transport = KT_TRANSPORT_UNIX;
	conn->_pad = 0;
}

/* ret bytes sent on sk, whose verdict v says it is captured (direct: emit_range_via). */
static __always_inline void capture_send_via(struct sock *sk, const struct kt_unix_verdict *v,
					     const struct kt_src *src, long ret, bool unsupported,
					     bool direct)
{
	struct kt_conn_id conn;
	conn_of(v, &conn);
	struct kt_stream_state *st = stream_state(sk, v, &conn);
	if (!st)
		return;
	__u8 dir = v->dir & 1;
	if (unsupported)
		emit_unsupported(&conn, dir, ret, &st->offset[dir], &st->lost[dir]);
	else
		emit_stream_via(&conn, dir, src, ret, &st->offset[dir], &st->lost[dir],
				v->untimed ? KT_F_UNTIMED : 0, direct);
}

#define capture_send_as(sk, v, src, ret, unsupported) \
	capture_send_via(sk, v, src, ret, unsupported, false)

static __always_inline void capture_send(struct sock *sk, const struct kt_src *src, long ret,
					 bool unsupported)
{
	if (ret <= 0)
		return;
	struct kt_unix_verdict *v = unix_verdict(sk);
	if (v)
		capture_send_as(sk, v, src, ret, unsupported);
}

/* A read returned 0 on sk: the peer will send no more. */
static __always_inline void capture_recv_end(struct sock *sk)
{
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_shutdown) & RCV_SHUTDOWN) {
		struct kt_unix_verdict *v = unix_verdict(sk);
		if (!v)
			return;
		struct kt_conn_id conn;
		conn_of(v, &conn);
		struct kt_stream_state *st = bpf_map_lookup_elem(&streams, &conn);
		if (!st)
			return;
		__u8 dir = (v->dir ^ 1) & 1; /* the direction sk reads */
		if (st->closed & (1u << dir))
			return;
		emit_close(&conn, dir, st->offset[dir]);
		st->closed |= 1u << dir;
		/*
		 * Forget the connection once nothing more can come: both ends
		 * closed, or the other direction never carried a byte (agent
		 * traces). A two-way stream (ttrpc) whose client half-closed
		 * keeps its offsets for the answers still to come.
		 */
		if (st->closed == 3 || st->offset[dir ^ 1] == 0)
			bpf_map_delete_elem(&streams, &conn);
	}
}

/* ------------------------------------------------------------ fentry / kprobe */

/* Snapshot of msg->msg_iter on entry (it is advanced by the time we return). */
static __always_inline void save_send(struct socket *sock, struct msghdr *msg)
{
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!unix_verdict(sk))
		return;

	struct send_entry e = { .sk = (__u64)sk };
	struct iov_iter *it = (void *)msg + bpf_core_field_offset(struct msghdr, msg_iter);
	__u8 type = BPF_CORE_READ(it, iter_type);

	e.src.skip = BPF_CORE_READ(it, iov_offset);
	if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
	    type == bpf_core_enum_value(enum iter_type, ITER_UBUF)) {
		e.src.kind = KT_SRC_UBUF;
		e.src.base = (__u64)BPF_CORE_READ(it, ubuf);
	} else if (type == bpf_core_enum_value(enum iter_type, ITER_IOVEC)) {
		e.src.kind = KT_SRC_IOV_KERNEL;
		e.src.nseg = BPF_CORE_READ(it, nr_segs);
		if (bpf_core_field_exists(it->__iov))
			e.src.base = (__u64)BPF_CORE_READ(it, __iov);
		else
			e.src.base = (__u64)BPF_CORE_READ((struct iov_iter___pre64 *)it, iov);
	} else {
		e.unsupported = 1; /* kernel buffers, pages (splice): not copied */
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&send_entries, &tid, &e, BPF_ANY);
}

static __always_inline void finish_send(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct send_entry *e = bpf_map_lookup_elem(&send_entries, &tid);
	if (!e)
		return;
	struct send_entry copy = *e;
	bpf_map_delete_elem(&send_entries, &tid);
	capture_send((struct sock *)copy.sk, &copy.src, ret, copy.unsupported);
}

SEC("fentry/unix_stream_sendmsg")
int BPF_PROG(kt_fentry_send, struct socket *sock, struct msghdr *msg, size_t len)
{
	save_send(sock, msg);
	return 0;
}

SEC("fexit/unix_stream_sendmsg")
int BPF_PROG(kt_fexit_send, struct socket *sock, struct msghdr *msg, size_t len, int ret)
{
	finish_send(ret);
	return 0;
}

SEC("fexit/unix_stream_recvmsg")
int BPF_PROG(kt_fexit_recv, struct socket *sock, struct msghdr *msg, size_t size, int flags,
	     int ret)
{
	if (ret == 0 && size > 0)
		capture_recv_end(BPF_CORE_READ(sock, sk));
	return 0;
}

SEC("kprobe/unix_stream_sendmsg")
int BPF_KPROBE(kt_kprobe_send, struct socket *sock, struct msghdr *msg)
{
	save_send(sock, msg);
	return 0;
}

SEC("kretprobe/unix_stream_sendmsg")
int BPF_KRETPROBE(kt_kretprobe_send, int ret)
{
	finish_send(ret);
	return 0;
}

SEC("kprobe/unix_stream_recvmsg")
int BPF_KPROBE(kt_kprobe_recv, struct socket *sock, struct msghdr *msg, size_t size)
{
	if (size == 0)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 sk = (__u64)BPF_CORE_READ(sock, sk);
	bpf_map_update_elem(&recv_entries, &tid, &sk, BPF_ANY);
	return 0;
}

SEC("kretprobe/unix_stream_recvmsg")
int BPF_KRETPROBE(kt_kretprobe_recv, int ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *sk = bpf_map_lookup_elem(&recv_entries, &tid);
	if (!sk)
		return 0;
	__u64 s = *sk;
	bpf_map_delete_elem(&recv_entries, &tid);
	if (ret == 0)
		capture_recv_end((struct sock *)s);
	return 0;
}

/* ------------------------------------------------------------ tracepoints */

/*
 * Every send on the node passes here: a plain load tells the family, and a
 * unix socket's verdict, decided at its first send, is in the socket
 * itself. Only the first send of a socket (and every send of a captured
 * one) does more. An AF_VSOCK socket goes on to the vsock capture's
 * program, when it is reached from here (vsock_tail.h).
 */
static __always_inline int tp_send(void *ctx, struct sock *sk, int ret, bool direct)
{
	struct kt_src src = {};

	/* what is never captured is turned away by loads alone, before any lookup */
	if (ret <= 0 || !sk)
		return 0;
	__u16 family = sk->__sk_common.skc_family;
	if (family == AF_VSOCK) {
		bpf_tail_call(ctx, &vsock_tail_send, KT_VSOCK_TAIL_SLOT);
		return 0;
	}
	if (family != AF_UNIX || sk->sk_type != SOCK_STREAM)
		return 0;
	struct kt_unix_verdict *v = bpf_sk_storage_get(&sk_verdicts, sk, NULL, 0);
	if (!v) {
		bool final;
		struct kt_unix_verdict *lv = unix_verdict_final(sk, &final);
		struct kt_unix_verdict nv = {};
		if (lv)
			nv = *lv;
		if (final)
			v = bpf_sk_storage_get(&sk_verdicts, sk, &nv,
					       BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!v)
			v = lv; /* undecided, or no room: the hash map's answer */
	}
	if (!v || !v->match)
		return 0;
	bool ok = syscall_src(sk, &src, false);
	capture_send_via(sk, v, &src, ret, !ok, direct);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(kt_tp_send, struct sock *sk, int ret, int flags)
{
	return tp_send(ctx, sk, ret, false);
}

/*
 * The same, reading the bytes straight into the ring buffer: loaded instead
 * of kt_tp_send where the kernel has bpf_probe_read_user_dynptr
 * (user/capture/capture.c, "program variants").
 */
SEC("tp_btf/sock_send_length")
int BPF_PROG(kt_tp_send_direct, struct sock *sk, int ret, int flags)
{
	return tp_send(ctx, sk, ret, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(kt_tp_recv, struct sock *sk, int ret, int flags)
{
	if (ret < 0 || !sk)
		return 0;
	if (sk->__sk_common.skc_family == AF_VSOCK) {
		bpf_tail_call(ctx, &vsock_tail_recv, KT_VSOCK_TAIL_SLOT);
		return 0;
	}
	if (ret == 0)
		capture_recv_end(sk);
	return 0;
}

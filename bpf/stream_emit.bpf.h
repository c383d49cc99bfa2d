/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kernel-side stream emitter shared by the capture programs: numbers the
 * bytes of each direction, copies them from the writer's buffers into ring
 * buffer records (split into KT_CHUNK_SIZE pieces), and reports what it
 * could not copy as GAP records, so userspace always knows what is missing.
 */
#ifndef KT_STREAM_EMIT_BPF_H
#define KT_STREAM_EMIT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "counters.bpf.h"
#include "stream_record.h"

/*
 * The counter of records this program could not write (each program its
 * own, so that a loss is told per program): defined before the include.
 */
#ifndef KT_EMIT_RB_FAIL
#error "define KT_EMIT_RB_FAIL (the program's lost-records counter) before including stream_emit.bpf.h"
#endif

/* Sized by the loader before load (--ring-buffer-size). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, KT_RINGBUF_DEFAULT_BYTES);
} events SEC(".maps");

/*
 * Wakeup policy (docs/capture.md, "Draining the ring buffer"), set by the
 * loader before load. 0: the kernel's own (the reader is woken by the
 * first record it has not seen, so a reader that keeps up is woken once
 * per write). Otherwise records are written without a wakeup until this
 * many bytes wait in the ring buffer, and that record wakes the reader: a
 * captured write stops paying for a wakeup each, and the reader, which
 * also looks every few milliseconds on its own, batches.
 */
const volatile __u64 kt_wakeup_bytes = 0;

/* Record under construction; per CPU because it is too big for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kt_rec_data);
} data_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kt_rec_conn);
} conn_scratch SEC(".maps");

/* Per-connection kernel state: next byte offset of each direction. */
struct kt_stream_state {
	__u64 offset[2];
	__u32 lost[2]; /* a record of this direction was lost: flag the next one */
	__u32 closed;  /* bit per direction whose end of stream was reported */
	__u32 _pad;
};

/* Where the bytes of one send live. */
enum kt_src_kind {
	KT_SRC_UBUF = 1,       /* one user buffer */
	KT_SRC_IOV_USER = 2,   /* struct iovec array in user memory */
	KT_SRC_IOV_KERNEL = 3, /* struct iovec array copied into the kernel */
	KT_SRC_KBUF = 4,       /* one kernel buffer (a packet's payload) */
};

struct kt_src {
	__u64 base; /* UBUF: data; IOV: the iovec array */
	__u64 nseg; /* IOV: number of iovecs */
	__u64 skip; /* bytes of the first segment already consumed */
	__u32 kind;
};

/*
 * The writer's identity and, unless the stream is untimed (KT_F_UNTIMED),
 * the time, in every record's header. This runs on every captured send, so
 * the thread's and its process's names are read as plain loads through the
 * BTF-typed current task (two 8-byte loads each; the kernel keeps comm
 * NUL-padded) rather than by helper calls.
 */
static __always_inline void copy_comm(char *dst, const char *src)
{
	const __u64 *s = (const __u64 *)src;
	__u64 *d = (__u64 *)dst;

	d[0] = s[0];
	d[1] = s[1];
}

static __always_inline void fill_task(struct kt_rec_hdr *h, bool timed)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 id = bpf_get_current_pid_tgid();

	h->tid = (__u32)id;
	h->tgid = id >> 32;
	copy_comm(h->comm, t->comm);
	copy_comm(h->pcomm, t->group_leader->comm);
	h->ts_ns = timed ? bpf_ktime_get_ns() : 0;
}

/*
 * The flags of a record of `size` bytes about to be written
 * (kt_wakeup_bytes): every record that leaves the threshold's worth of
 * bytes waiting wakes the reader. Waking only on the record that crosses
 * it, which costs fewer interrupts, measured records lost in tap mode's
 * burst (3 rounds of 14 against none of 8 in A/B runs of make bench): a
 * reader that falls behind is prodded again until it catches up.
 */
static __always_inline __u64 rb_flags(__u64 size)
{
	if (!kt_wakeup_bytes)
		return 0;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size >= kt_wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/*
 * Outputs one record. *lost carries "a record of this stream was lost" from
 * one record to the next: the first record that gets through after a loss
 * says so (KT_F_PRIOR_LOSS), so userspace declares the hole at once.
 */
static __always_inline void send_rec(struct kt_rec_hdr *h, __u64 size, __u32 *lost)
{
	if (*lost)
		h->flags |= KT_F_PRIOR_LOSS;
	if (bpf_ringbuf_output(&events, h, size, rb_flags(size))) {
		count(KT_EMIT_RB_FAIL, 1);
		*lost = 1;
	} else {
		*lost = 0;
	}
}

/* A header-only record (GAP or CLOSE) from the template h. */
static __always_inline void send_marker(struct kt_rec_hdr *h, __u32 type, __u32 flags, __u64 off,
					__u64 len, __u32 *lost)
{
	h->type = type;
	h->flags = flags;
	h->offset = off;
	h->len = len > 0xffffffffULL ? 0xffffffffU : (__u32)len;
	send_rec(h, sizeof(*h), lost);
}

static __always_inline struct kt_rec_data *data_buf(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&data_scratch, &zero);
}

/*
 * State of one emit_range() walk, carried across bpf_loop iterations. It
 * lives in a per-CPU map rather than on the stack: the verifier does not
 * track map contents value by value, so it checks the loop body once
 * instead of once per distinct walk state.
 */
struct emit_walk {
	struct kt_src src;
	__u64 total, done, base_off;
	__u64 seg, seg_left, ptr;
	__u32 lost;
	__u32 flags; /* extra KT_F_* for every record */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct emit_walk);
} walk_scratch SEC(".maps");

static __always_inline struct emit_walk *walk_buf(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&walk_scratch, &zero);
}

/*
 * Moves the walk to the bytes of its next record: 0 when they are ready
 * (*n of them at w->ptr), 1 when the walk is over, -1 when a segment was
 * skipped (empty, or consumed before the send) and the walk goes on.
 */
static __always_inline int walk_next(struct emit_walk *w, __u64 *n)
{
	if (w->done >= w->total)
		return 1;
	if (w->seg_left == 0) {
		struct iovec iov;
		const struct iovec *p = (const struct iovec *)w->src.base + w->seg;
		long err;

		if (w->src.kind == KT_SRC_UBUF || w->src.kind == KT_SRC_KBUF ||
		    w->seg >= w->src.nseg)
			return 1;
		if (w->src.kind == KT_SRC_IOV_KERNEL)
			err = bpf_probe_read_kernel(&iov, sizeof(iov), p);
		else
			err = bpf_probe_read_user(&iov, sizeof(iov), p);
		if (err)
			return 1;
		w->seg++;
		if (iov.iov_len <= w->src.skip) {
			w->src.skip -= iov.iov_len;
			return -1;
		}
		w->ptr = (__u64)iov.iov_base + w->src.skip;
		w->seg_left = iov.iov_len - w->src.skip;
		w->src.skip = 0;
	}

	*n = w->total - w->done;
	if (*n > w->seg_left)
		*n = w->seg_left;
	if (*n > KT_CHUNK_SIZE)
		*n = KT_CHUNK_SIZE;
	return *n ? 0 : 1;
}

static __always_inline void walk_advance(struct emit_walk *w, __u64 n)
{
	w->done += n;
	w->ptr += n;
	w->seg_left -= n;
}

/* The header of the walk's next record, n bytes at stream offset off, as DATA. */
static __always_inline void data_header(struct kt_rec_hdr *h, const struct emit_walk *w,
					__u64 off, __u64 n)
{
	h->type = KT_REC_DATA;
	h->flags = w->flags;
	h->offset = off;
	h->len = n;
}

/* The walk's next n bytes as one record, copied through the per-CPU record. */
static __always_inline void emit_copied(struct emit_walk *w, struct kt_rec_data *rec, __u64 n)
{
	__u64 off = w->base_off + w->done;
	long err = w->src.kind == KT_SRC_KBUF
			   ? bpf_probe_read_kernel(rec->data, n, (const void *)w->ptr)
			   : bpf_probe_read_user(rec->data, n, (const void *)w->ptr);
	if (err) {
		send_marker(&rec->hdr, KT_REC_GAP, KT_F_UNREADABLE | w->flags, off, n, &w->lost);
		count(KT_CNT_GAP_BYTES, n);
		return;
	}
	data_header(&rec->hdr, w, off, n);
	send_rec(&rec->hdr, sizeof(rec->hdr) + n, &w->lost);
	if (!w->lost)
		count(KT_CNT_BYTES, n);
}

/*
 * Where the kernel can read user memory into a ring buffer reservation
 * (bpf_probe_read_user_dynptr), a user buffer's bytes go there directly:
 * one copy instead of two. Only programs loaded on such kernels call
 * emit_chunk_direct (the loader picks them: user/capture/kernel_features.h).
 */
extern int bpf_probe_read_user_dynptr(struct bpf_dynptr *dptr, __u32 off, __u32 size,
				      const void *unsafe_ptr__ign) __ksym __weak;

/* The walk's next n user bytes as one record read straight into the ring buffer. */
static __always_inline void emit_reserved(struct emit_walk *w, struct kt_rec_data *rec, __u64 n)
{
	struct bpf_dynptr dp;
	__u64 off = w->base_off + w->done, size = sizeof(rec->hdr) + n;
	__u64 flags = rb_flags(size);

	if (bpf_ringbuf_reserve_dynptr(&events, size, 0, &dp)) {
		bpf_ringbuf_discard_dynptr(&dp, 0); /* a failed reservation must be released too */
		count(KT_EMIT_RB_FAIL, 1);
		w->lost = 1;
		return;
	}
	if (bpf_probe_read_user_dynptr(&dp, sizeof(rec->hdr), n, (const void *)w->ptr)) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		send_marker(&rec->hdr, KT_REC_GAP, KT_F_UNREADABLE | w->flags, off, n, &w->lost);
		count(KT_CNT_GAP_BYTES, n);
		return;
	}
	data_header(&rec->hdr, w, off, n);
	if (w->lost)
		rec->hdr.flags |= KT_F_PRIOR_LOSS;
	bpf_dynptr_write(&dp, 0, &rec->hdr, sizeof(rec->hdr), 0);
	bpf_ringbuf_submit_dynptr(&dp, flags);
	w->lost = 0;
	count(KT_CNT_BYTES, n);
}

/*
 * One record: up to KT_CHUNK_SIZE bytes of the current segment. direct is a
 * constant in each callback below: emit_chunk never names the kfunc.
 */
static __always_inline long emit_chunk_via(bool direct)
{
	struct emit_walk *w = walk_buf();
	struct kt_rec_data *rec = data_buf();
	__u64 n = 0;

	if (!w || !rec)
		return 1;
	int next = walk_next(w, &n);
	if (next)
		return next > 0;
	if (direct && w->src.kind != KT_SRC_KBUF)
		emit_reserved(w, rec, n);
	else
		emit_copied(w, rec, n);
	walk_advance(w, n);
	return 0;
}

static long emit_chunk(__u64 i, void *data)
{
	return emit_chunk_via(false);
}

static long emit_chunk_direct(__u64 i, void *data)
{
	return emit_chunk_via(true);
}

/*
 * The per-CPU record with its header filled for a record of conn, dir
 * whose flags will be `flags` (KT_F_UNTIMED: no time).
 */
static __always_inline struct kt_rec_data *start_record(const struct kt_conn_id *conn, __u8 dir,
							__u32 flags)
{
	struct kt_rec_data *rec = data_buf();

	if (!rec)
		return NULL;
	rec->hdr.conn = *conn;
	rec->hdr.dir = dir;
	fill_task(&rec->hdr, !(flags & KT_F_UNTIMED));
	return rec;
}

/*
 * The common captured send, one user buffer of at most one record's bytes,
 * read straight into the ring buffer with its header written in place: no
 * walk state, no bpf_loop, no per-CPU record to fill and copy. The same
 * records as the walk would write (emit_reserved).
 */
static __always_inline void emit_one_direct(const struct kt_conn_id *conn, __u8 dir, __u64 ptr,
					    __u64 n, __u64 off, __u32 *lost, __u32 flags)
{
	struct bpf_dynptr dp;
	__u64 size = sizeof(struct kt_rec_hdr) + n;
	__u64 wake = rb_flags(size);
	struct kt_rec_hdr *h;

	if (bpf_ringbuf_reserve_dynptr(&events, size, 0, &dp)) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		count(KT_EMIT_RB_FAIL, 1);
		*lost = 1;
		return;
	}
	if (bpf_probe_read_user_dynptr(&dp, sizeof(*h), n, (const void *)ptr)) {
		bpf_ringbuf_discard_dynptr(&dp, 0);
		struct kt_rec_data *rec = start_record(conn, dir, flags);
		if (rec)
			send_marker(&rec->hdr, KT_REC_GAP, KT_F_UNREADABLE | flags, off, n, lost);
		count(KT_CNT_GAP_BYTES, n);
		return;
	}
	h = bpf_dynptr_data(&dp, 0, sizeof(*h));
	if (!h) { /* cannot happen: the reservation holds a header */
		bpf_ringbuf_discard_dynptr(&dp, 0);
		count(KT_EMIT_RB_FAIL, 1);
		*lost = 1;
		return;
	}
	/* every byte of the header: the reservation is not zeroed */
	h->type = KT_REC_DATA;
	h->flags = flags | (*lost ? KT_F_PRIOR_LOSS : 0);
	h->conn = *conn;
	h->offset = off;
	h->len = n;
	h->dir = dir;
	h->_pad[0] = h->_pad[1] = h->_pad[2] = 0;
	fill_task(h, !(flags & KT_F_UNTIMED));
	bpf_ringbuf_submit_dynptr(&dp, wake);
	*lost = 0;
	count(KT_CNT_BYTES, n);
}

/*
 * Emits the `total` bytes described by src as stream bytes
 * [base_off, base_off + total) of direction dir of conn. *lost carries the
 * stream's loss flag in and out. direct: user bytes are read straight into
 * the ring buffer (emit_chunk_direct; a constant, and only in programs the
 * loader picks where the kernel can).
 */
static __always_inline void emit_range_via(const struct kt_conn_id *conn, __u8 dir,
					   const struct kt_src *src, __u64 total, __u64 base_off,
					   __u32 *lost, __u32 flags, bool direct)
{
	/* direct is a constant where this is inlined */
	if (direct && src->kind == KT_SRC_UBUF && total <= KT_CHUNK_SIZE) {
		emit_one_direct(conn, dir, src->base + src->skip, total, base_off, lost, flags);
		return;
	}
	struct kt_rec_data *rec = start_record(conn, dir, flags);
	struct emit_walk *w = walk_buf();
	if (!rec || !w)
		return;

	*w = (struct emit_walk){
		.src = *src,
		.total = total,
		.base_off = base_off,
		.lost = *lost,
		.flags = flags,
	};
	if (src->kind == KT_SRC_UBUF || src->kind == KT_SRC_KBUF) {
		w->ptr = src->base + src->skip;
		w->seg_left = total;
	}
	/* direct is a constant where this is inlined: each program names one callback */
	if (direct)
		bpf_loop(KT_MAX_CHUNKS_PER_WRITE, emit_chunk_direct, NULL, 0);
	else
		bpf_loop(KT_MAX_CHUNKS_PER_WRITE, emit_chunk, NULL, 0);

	rec = data_buf();
	w = walk_buf();
	if (!rec || !w)
		return;
	if (w->done < total) {
		send_marker(&rec->hdr, KT_REC_GAP, KT_F_OVER_CAP | flags, base_off + w->done,
			    total - w->done, &w->lost);
		count(KT_CNT_GAP_BYTES, total - w->done);
	}
	*lost = w->lost;
}

#define emit_range(conn, dir, src, total, base_off, lost, flags) \
	emit_range_via(conn, dir, src, total, base_off, lost, flags, false)

/*
 * Emits `total` bytes sent in direction dir of conn, described by src.
 * st_off/st_lost belong to the connection's kernel state for that direction.
 */
static __always_inline void emit_stream_via(const struct kt_conn_id *conn, __u8 dir,
					    const struct kt_src *src, __u64 total, __u64 *st_off,
					    __u32 *st_lost, __u32 flags, bool direct)
{
	if (total == 0)
		return;
	/* Reserve the byte range first: concurrent writers get disjoint ranges. */
	__u64 base_off = __sync_fetch_and_add(st_off, total);
	emit_range_via(conn, dir, src, total, base_off, st_lost, flags, direct);
}

#define emit_stream_flagged(conn, dir, src, total, st_off, st_lost, flags) \
	emit_stream_via(conn, dir, src, total, st_off, st_lost, flags, false)
#define emit_stream(conn, dir, src, total, st_off, st_lost) \
	emit_stream_via(conn, dir, src, total, st_off, st_lost, 0, false)

/* A send whose bytes cannot be located (e.g. splice): keep offsets honest. */
static __always_inline void emit_unsupported(const struct kt_conn_id *conn, __u8 dir,
					     __u64 total, __u64 *st_off, __u32 *st_lost)
{
	if (total == 0)
		return;
	__u64 base_off = __sync_fetch_and_add(st_off, total);
	struct kt_rec_data *rec = start_record(conn, dir, 0);
	if (!rec)
		return;
	__u32 lost = *st_lost;
	send_marker(&rec->hdr, KT_REC_GAP, KT_F_UNSUPPORTED, base_off, total, &lost);
	*st_lost = lost;
	count(KT_CNT_GAP_BYTES, total);
}

static __always_inline void emit_close(const struct kt_conn_id *conn, __u8 dir, __u64 off)
{
	__u32 lost = 0;
	struct kt_rec_data *rec = start_record(conn, dir, 0);

	if (rec)
		send_marker(&rec->hdr, KT_REC_CLOSE, 0, off, 0, &lost);
}

#endif /* KT_STREAM_EMIT_BPF_H */

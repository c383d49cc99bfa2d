/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Ring-buffer records shared by every capture program and the loader.
 *
 * A captured connection is a pair of byte streams (one per direction). The
 * kernel side numbers every byte of each direction with a 64-bit offset, so
 * userspace can reassemble out-of-order records and prove where bytes are
 * missing. Plain C: included by BPF (vmlinux.h types) and by userspace.
 */
#ifndef KT_STREAM_RECORD_H
#define KT_STREAM_RECORD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Payload bytes per DATA record; a write larger than this is split. */
#define KT_CHUNK_SIZE 16384
/*
 * Records one write may produce. Together with KT_CHUNK_SIZE this is the
 * documented per-write capture cap (KT_CHUNK_SIZE * KT_MAX_CHUNKS_PER_WRITE
 * bytes = 4 MiB, less when a writev has many small segments); the rest of a
 * larger write is reported as a GAP record with KT_F_OVER_CAP, never
 * silently dropped.
 */
#define KT_MAX_CHUNKS_PER_WRITE 256
/* The ring buffer's size unless the loader sets another (--ring-buffer-size). */
#define KT_RINGBUF_DEFAULT_BYTES (16u << 20)
/* Connections whose stream offsets the kernel side keeps at once (LRU) per capture path. */
#define KT_MAX_STREAMS 8192
#define KT_PATH_MAX 108 /* sizeof(sockaddr_un.sun_path) */
#define KT_COMM_LEN 16

enum kt_rec_type {
	KT_REC_CONN = 1,  /* first sight of a connection: path/addresses */
	KT_REC_DATA = 2,  /* len payload bytes at offset follow the header */
	KT_REC_GAP = 3,   /* len bytes at offset were sent but not captured */
	KT_REC_CLOSE = 4, /* no more bytes will flow in direction dir */
	/*
	 * Userspace only, never produced by the kernel: a daemon handing its
	 * connections to another (stream/pipeline.h, kt_pipeline_handover)
	 * says that direction dir of this connection continues at offset (a
	 * plain header, len 0). With KT_F_PRIOR_LOSS, bytes before offset that
	 * the protocol would have needed are lost (it was not at a message
	 * boundary); without, the bytes at offset start a message.
	 */
	KT_REC_RESUME = 5,
};

enum kt_transport {
	KT_TRANSPORT_UNIX = 1,  /* hybrid vsock: AF_UNIX stream */
	KT_TRANSPORT_VSOCK = 2, /* AF_VSOCK / vhost-vsock */
};

/* Direction relative to the listening ("server") end of the connection. */
enum kt_dir {
	KT_DIR_TO_SERVER = 0, /* e.g. hypervisor -> <uds>_10240 listener */
	KT_DIR_TO_CLIENT = 1,
};

/* Record flags. */
#define KT_F_PRIOR_LOSS 0x1 /* a record before this one in the stream was lost */
#define KT_F_OVER_CAP 0x2   /* GAP: write exceeded the per-write cap */
#define KT_F_UNREADABLE 0x4 /* GAP: payload not readable (fault, kernel iter) */
#define KT_F_UNSUPPORTED 0x8 /* GAP: sent by a syscall the probe cannot decode */
#define KT_F_TASK_IS_READER 0x10 /* tid/tgid/comm are the local reader, not the sender */
/*
 * No capture time (ts_ns 0): the stream's protocol carries its own times
 * (the agent's spans, Kata 1.x's Jaeger and journal), so the clock is not
 * read. On a virtual machine whose TSC the kernel does not trust, each clock
 * read is an atomic operation on a line every CPU's clock reads share, the
 * largest part of a captured small write's cost (docs/capture.md, "Capture
 * time").
 */
#define KT_F_UNTIMED 0x20

/*
 * Connection identity, constant over the connection's life and equal for
 * both directions. unix: endpoint = inode of the client end, port = 0.
 * vsock: endpoint = guest CID << 32 | guest port, port = host port, with
 * KT_VSOCK_GUEST_LISTENS added when the guest end is the listening one
 * (the agent's ttrpc port): a host port may be a listener's or any
 * ephemeral one, so the role is part of the key.
 */
#define KT_VSOCK_GUEST_LISTENS (1ull << 32)

struct kt_conn_id {
	__u64 endpoint;
	__u64 port;
	__u32 transport; /* enum kt_transport */
	__u32 _pad;
};

struct kt_rec_hdr {
	__u32 type;  /* enum kt_rec_type */
	__u32 flags; /* KT_F_* */
	struct kt_conn_id conn;
	__u64 ts_ns;  /* CLOCK_MONOTONIC; 0 with KT_F_UNTIMED */
	__u64 offset; /* DATA/GAP: stream offset of the first byte */
	__u32 len;    /* DATA: payload bytes following; GAP: bytes missing */
	__u32 tid;    /* writer thread */
	__u32 tgid;   /* writer process */
	__u8 dir;     /* enum kt_dir */
	__u8 _pad[3];
	char comm[KT_COMM_LEN];  /* writer thread name */
	char pcomm[KT_COMM_LEN]; /* writer process (group leader) name */
};

struct kt_rec_conn {
	struct kt_rec_hdr hdr;
	__u64 server_ino; /* unix: inode of the server end, 0 if not accepted yet */
	__u32 path_len;
	char path[KT_PATH_MAX]; /* unix: bound path of the server end */
};

struct kt_rec_data {
	struct kt_rec_hdr hdr;
	__u8 data[KT_CHUNK_SIZE];
};

/* Per-CPU counters, index into the "counters" map. */
enum kt_counter {
	KT_CNT_RB_FAIL = 0,   /* unix_capture: ring buffer reservation failures (lost records) */
	KT_CNT_BYTES,         /* payload bytes captured */
	KT_CNT_GAP_BYTES,     /* bytes reported as gaps */
	KT_CNT_STREAM_FULL,   /* new connection not tracked: stream map full */
	KT_CNT_FRAG_BYTES,    /* vsock: payload bytes read from page frags */
	KT_CNT_VM_PROCS_FULL, /* vm_events: a hypervisor not tracked, table full */
	KT_CNT_VM_CONNS_FULL, /* vm_events: a vsock connection not tracked, table full */
	KT_CNT_VM_RB_FAIL,    /* vm_events: events lost, their ring buffer full */
	KT_CNT_PROBE_HITS,       /* probe_span: entries and events of the filtered processes */
	KT_CNT_PROBE_RB_FAIL,    /* probe_span: records lost, their ring buffer full */
	KT_CNT_PROBE_UNMATCHED,  /* probe_span: returns without an entry */
	KT_CNT_PROBE_ABANDONED,  /* probe_span: entries whose call can no longer return */
	KT_CNT_PROBE_TOO_DEEP,   /* probe_span: nested calls beyond KT_PROBE_DEPTH (no span) */
	KT_CNT_PROBE_TABLE_FULL, /* probe_span: entries not kept, the in-flight table full */
	KT_CNT_VSOCK_RB_FAIL,    /* vsock_capture: the same as KT_CNT_RB_FAIL (one ring buffer) */
	KT_CNT__MAX,
};

#endif /* KT_STREAM_RECORD_H */

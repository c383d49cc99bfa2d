/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * unix_capture: capture AF_UNIX stream bytes of hybrid-vsock connections.
 * Shared between unix_capture.bpf.c and the loader (user/unix_loader.c).
 */
#ifndef KT_UNIX_CAPTURE_H
#define KT_UNIX_CAPTURE_H

#include "stream_record.h"

#define KT_MAX_SUFFIXES 8
#define KT_SUFFIX_MAX 16
#define KT_MAX_PREFIXES 8

/*
 * Which connections to capture: those whose server end is bound to a path
 * that ends with one of the suffixes (e.g. "_10240") or starts with one of
 * the prefixes. Single entry of the "match_cfg" array map, so the loader can
 * change it while running.
 */
struct kt_unix_match {
	__u32 n_suffix;
	__u32 n_prefix;
	struct {
		__u32 len;
		char s[KT_SUFFIX_MAX];
	} suffix[KT_MAX_SUFFIXES];
	struct {
		__u32 len;
		char s[KT_PATH_MAX];
	} prefix[KT_MAX_PREFIXES];
};

/* Cached per-socket verdict; the inode guards against socket address reuse. */
struct kt_unix_verdict {
	__u64 ino;
	__u8 match;
	__u8 dir; /* direction of bytes written by this socket */
	__u8 _pad[6];
	struct kt_conn_id conn;
};

/* Per-connection kernel state: next byte offset of each direction. */
struct kt_stream_state {
	__u64 offset[2];
	__u32 lost[2];   /* a record of this direction was lost */
	__u32 closed[2];
};

#endif /* KT_UNIX_CAPTURE_H */

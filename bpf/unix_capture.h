/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * unix_capture: capture AF_UNIX stream bytes of hybrid-vsock connections.
 * Shared between unix_capture.bpf.c and the loader (user/capture/capture.c).
 *
 * A connection is identified by the inode of its client end (the end that
 * connected: the hypervisor for guest-initiated ports such as 10240). Socket
 * inode numbers come from a global counter, so one inode names one
 * connection for the lifetime of the host.
 */
#ifndef KT_UNIX_CAPTURE_H
#define KT_UNIX_CAPTURE_H

#include "stream_record.h"

#define KT_MAX_SUFFIXES 8
#define KT_SUFFIX_MAX 16
#define KT_MAX_PREFIXES 8
/* Sockets whose verdict (capture or not) is remembered (LRU: dead ones age out). */
#define KT_UNIX_MAX_VERDICTS 16384
/* Sends and receives in flight at once, by thread (fentry/kprobe entry state). */
#define KT_UNIX_MAX_IN_FLIGHT 4096

/*
 * Which connections to capture: those whose server end is bound to a path
 * that ends with one of the suffixes (e.g. "_10240") or starts with one of
 * the prefixes. Single entry of the "match_cfg" array map, so the loader can
 * change it while running. Bit i of untimed_suffixes: the records of
 * connections that suffix i matches carry no time (KT_F_UNTIMED); those of
 * connections a prefix matches are always timed.
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
	/* last: a daemon taking over keeps the old programs' layout of what precedes */
	__u32 untimed_suffixes;
};

/*
 * Cached per-socket verdict. ino and peer guard against reuse of the sock
 * address by a later socket; ino is 0 for a server end cached before it was
 * accepted (learnt from its client's first write).
 */
struct kt_unix_verdict {
	__u64 ino;
	__u64 peer;
	__u64 client_ino; /* connection id */
	__u8 match;
	__u8 dir;     /* direction of the bytes this socket writes */
	__u8 untimed; /* its records carry no time (KT_F_UNTIMED) */
	__u8 _pad[5];
};

#endif /* KT_UNIX_CAPTURE_H */

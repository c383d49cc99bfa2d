/* SPDX-License-Identifier: Apache-2.0 */
/* Attach strategies shared by every capture program. */
#ifndef KT_ATTACH_H
#define KT_ATTACH_H

enum kt_attach {
	KT_ATTACH_AUTO = 0,
	KT_ATTACH_FENTRY,     /* fentry/fexit (BPF trampolines) */
	KT_ATTACH_KPROBE,     /* kprobe/kretprobe */
	KT_ATTACH_TRACEPOINT, /* tp_btf tracepoints (+ syscall arguments) */
};

/* Order tried by "auto": cheapest and most precise first. */
#define KT_ATTACH_ORDER { KT_ATTACH_FENTRY, KT_ATTACH_KPROBE, KT_ATTACH_TRACEPOINT }

const char *kt_attach_name(enum kt_attach a);
int kt_attach_parse(const char *s, enum kt_attach *out);

/* Mounts tracefs (/sys/kernel/tracing) and bpffs (/sys/fs/bpf) if absent. */
void kt_mount_bpf_filesystems(void);

/* Routes libbpf's messages into our log (warnings at debug, the rest at trace). */
void kt_libbpf_log_init(void);

#endif

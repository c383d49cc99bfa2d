/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The probe points of `katatrace-bpf probe`, as written after --span and
 * --event (variables such as $pid already expanded by the caller):
 *
 *   --span  uprobe:BINARY:SYMBOL         a function of an executable or library,
 *                                        from its entry to its return
 *           kprobe:FUNCTION              a kernel function, the same
 *           tracepoint:CATEGORY:ENTER/EXIT  from one tracepoint to the other
 *                                        on the same thread, such as
 *                                        syscalls:sys_enter_openat/sys_exit_openat
 *   --event uprobe:BINARY:SYMBOL, kprobe:FUNCTION, tracepoint:CATEGORY:NAME
 *                                        one record per hit
 *
 * BINARY is an absolute path; SYMBOL runs from the last ':' to the end (a
 * symbol has no ':'), so BINARY may hold ':'. FUNCTION is a kernel symbol
 * (letters, digits, '_', '.': "vhost_vsock_handle_tx_kick",
 * "foo.isra.0"); CATEGORY and tracepoint names are letters, digits and '_'.
 * In the syscalls category a pair must be sys_enter_X/sys_exit_X.
 *
 * Only the text is checked here; whether the binary, the symbol, the
 * function or the tracepoint exists is found out when it is attached
 * (capture/probe_capture.h). Every error is one line that starts with the
 * spec as written (control characters shown as '?').
 */
#ifndef KT_PROBE_SPEC_H
#define KT_PROBE_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#define KT_PROBE_SPEC_MAX 1024    /* bytes of a whole spec */
#define KT_PROBE_SYMBOL_MAX 256   /* bytes of SYMBOL and FUNCTION */
#define KT_PROBE_TP_NAME_MAX 64   /* bytes of CATEGORY, NAME, ENTER and EXIT */

enum kt_probe_kind {
	KT_PROBE_UPROBE = 1,
	KT_PROBE_KPROBE,
	KT_PROBE_TRACEPOINT,
};

enum kt_probe_role {
	KT_PROBE_SPAN = 1, /* --span: entry and return */
	KT_PROBE_EVENT,    /* --event: one hit */
};

struct kt_probe_spec {
	enum kt_probe_kind kind;
	enum kt_probe_role role;
	char text[KT_PROBE_SPEC_MAX + 1];   /* as written */
	char binary[KT_PROBE_SPEC_MAX + 1]; /* uprobe: BINARY */
	char symbol[KT_PROBE_SYMBOL_MAX + 1]; /* uprobe: SYMBOL; kprobe: FUNCTION */
	char category[KT_PROBE_TP_NAME_MAX + 1]; /* tracepoint */
	char tp[KT_PROBE_TP_NAME_MAX + 1];       /* NAME, or ENTER of a pair */
	char tp_exit[KT_PROBE_TP_NAME_MAX + 1];  /* EXIT of a pair; "" for an event */
};

/* 0, or -1 with a one-line message in err. */
int kt_probe_spec_parse(const char *s, enum kt_probe_role role, struct kt_probe_spec *out,
			char *err, size_t errlen);

/*
 * What the spans (or the log records' bodies) of a spec are called: the
 * symbol or kernel function; the syscall of a syscalls pair ("openat"); else
 * the tracepoint, "CATEGORY:NAME" (the ENTER one of a pair).
 */
const char *kt_probe_spec_name(const struct kt_probe_spec *s, char *buf, size_t n);

/* The syscall of a syscalls tracepoint ("openat" for sys_enter_openat/sys_exit_openat), else NULL. */
const char *kt_probe_spec_syscall(const struct kt_probe_spec *s);

#endif

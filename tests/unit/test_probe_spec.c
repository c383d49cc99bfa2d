/* SPDX-License-Identifier: Apache-2.0 */
/* The probe specs of --span and --event (user/capture/probe_spec.h): every form and every error. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "capture/probe_spec.h"

static struct kt_probe_spec parse_ok(const char *s, enum kt_probe_role role)
{
	struct kt_probe_spec p;
	char err[512] = "";
	int rc = kt_probe_spec_parse(s, role, &p, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s: %s", s, err);
	cr_assert_str_eq(p.text, s);
	cr_assert_eq(p.role, role);
	return p;
}

static void parse_err(const char *s, enum kt_probe_role role, const char *want)
{
	struct kt_probe_spec p;
	char err[2048] = "";
	memset(&p, 0xa5, sizeof(p));
	cr_assert_eq(kt_probe_spec_parse(s, role, &p, err, sizeof(err)), -1, "%s parsed", s);
	cr_assert_str_eq(err, want);
	cr_assert_eq(p.kind, 0, "%s: the spec is left empty", s);
	cr_assert_eq(p.text[0], '\0');
}

static const char *name_of(const struct kt_probe_spec *p)
{
	static char buf[KT_PROBE_SPEC_MAX + 1];
	return kt_probe_spec_name(p, buf, sizeof(buf));
}

Test(probe_spec, uprobe_forms)
{
	for (int r = KT_PROBE_SPAN; r <= KT_PROBE_EVENT; r++) {
		struct kt_probe_spec p = parse_ok("uprobe:/usr/bin/qemu-system-x86_64:qemu_main", r);
		cr_assert_eq(p.kind, KT_PROBE_UPROBE);
		cr_assert_str_eq(p.binary, "/usr/bin/qemu-system-x86_64");
		cr_assert_str_eq(p.symbol, "qemu_main");
		cr_assert_str_eq(name_of(&p), "qemu_main");
		cr_assert_null(kt_probe_spec_syscall(&p));
	}
	/* A BINARY with ':' in it: SYMBOL is what follows the last one. */
	struct kt_probe_spec p = parse_ok("uprobe:/opt/a:b/shim:main", KT_PROBE_SPAN);
	cr_assert_str_eq(p.binary, "/opt/a:b/shim");
	cr_assert_str_eq(p.symbol, "main");
	/* Go and C++ symbols as they are in .symtab. */
	p = parse_ok("uprobe:/usr/bin/containerd-shim-kata-v2:github.com/kata-containers/"
		     "kata-containers/src/runtime/virtcontainers.(*Sandbox).Start",
		     KT_PROBE_SPAN);
	cr_assert_str_eq(p.symbol, "github.com/kata-containers/kata-containers/src/runtime/"
				   "virtcontainers.(*Sandbox).Start");
	p = parse_ok("uprobe:/lib/x86_64-linux-gnu/libstdc++.so.6:_ZNSt6thread4joinEv", KT_PROBE_EVENT);
	cr_assert_str_eq(p.binary, "/lib/x86_64-linux-gnu/libstdc++.so.6");
	cr_assert_str_eq(p.symbol, "_ZNSt6thread4joinEv");
	p = parse_ok("uprobe:/proc/4242/exe:virtio_queue_notify", KT_PROBE_SPAN);
	cr_assert_str_eq(p.binary, "/proc/4242/exe");
}

Test(probe_spec, kprobe_forms)
{
	for (int r = KT_PROBE_SPAN; r <= KT_PROBE_EVENT; r++) {
		struct kt_probe_spec p = parse_ok("kprobe:vhost_vsock_handle_tx_kick", r);
		cr_assert_eq(p.kind, KT_PROBE_KPROBE);
		cr_assert_str_eq(p.symbol, "vhost_vsock_handle_tx_kick");
		cr_assert_str_eq(name_of(&p), "vhost_vsock_handle_tx_kick");
	}
	struct kt_probe_spec p = parse_ok("kprobe:tcp_v4_connect.cold", KT_PROBE_SPAN);
	cr_assert_str_eq(p.symbol, "tcp_v4_connect.cold");
	p = parse_ok("kprobe:_raw_spin_lock", KT_PROBE_EVENT);
	cr_assert_str_eq(p.symbol, "_raw_spin_lock");
}

Test(probe_spec, tracepoint_pairs_and_events)
{
	struct kt_probe_spec p =
		parse_ok("tracepoint:syscalls:sys_enter_openat/sys_exit_openat", KT_PROBE_SPAN);
	cr_assert_eq(p.kind, KT_PROBE_TRACEPOINT);
	cr_assert_str_eq(p.category, "syscalls");
	cr_assert_str_eq(p.tp, "sys_enter_openat");
	cr_assert_str_eq(p.tp_exit, "sys_exit_openat");
	cr_assert_str_eq(kt_probe_spec_syscall(&p), "openat");
	cr_assert_str_eq(name_of(&p), "openat");

	p = parse_ok("tracepoint:sched:sched_process_fork/sched_process_exit", KT_PROBE_SPAN);
	cr_assert_str_eq(p.category, "sched");
	cr_assert_str_eq(p.tp, "sched_process_fork");
	cr_assert_str_eq(p.tp_exit, "sched_process_exit");
	cr_assert_null(kt_probe_spec_syscall(&p));
	cr_assert_str_eq(name_of(&p), "sched:sched_process_fork");

	p = parse_ok("tracepoint:kvm:kvm_exit", KT_PROBE_EVENT);
	cr_assert_str_eq(p.category, "kvm");
	cr_assert_str_eq(p.tp, "kvm_exit");
	cr_assert_str_eq(p.tp_exit, "");
	cr_assert_str_eq(name_of(&p), "kvm:kvm_exit");

	p = parse_ok("tracepoint:syscalls:sys_enter_ioctl", KT_PROBE_EVENT);
	cr_assert_str_eq(kt_probe_spec_syscall(&p), "ioctl");
	cr_assert_str_eq(name_of(&p), "syscalls:sys_enter_ioctl");
	p = parse_ok("tracepoint:syscalls:sys_exit_ioctl", KT_PROBE_EVENT);
	cr_assert_str_eq(kt_probe_spec_syscall(&p), "ioctl");
	/* Not a syscall's tracepoint, though in the category. */
	p = parse_ok("tracepoint:syscalls:something_else", KT_PROBE_EVENT);
	cr_assert_null(kt_probe_spec_syscall(&p));
}

Test(probe_spec, lengths_at_their_limits)
{
	char s[2 * KT_PROBE_SPEC_MAX], want[2 * KT_PROBE_SPEC_MAX + 64];
	char sym[KT_PROBE_SYMBOL_MAX + 2];

	/* SYMBOL and FUNCTION: 256 bytes taken, 257 refused. */
	memset(sym, 's', sizeof(sym));
	sym[KT_PROBE_SYMBOL_MAX] = '\0';
	snprintf(s, sizeof(s), "uprobe:/bin/x:%s", sym);
	cr_assert_eq(strlen(parse_ok(s, KT_PROBE_SPAN).symbol), KT_PROBE_SYMBOL_MAX);
	snprintf(s, sizeof(s), "kprobe:%s", sym);
	cr_assert_eq(strlen(parse_ok(s, KT_PROBE_EVENT).symbol), KT_PROBE_SYMBOL_MAX);
	sym[KT_PROBE_SYMBOL_MAX] = 's';
	sym[KT_PROBE_SYMBOL_MAX + 1] = '\0';
	snprintf(s, sizeof(s), "uprobe:/bin/x:%s", sym);
	snprintf(want, sizeof(want), "%s: SYMBOL longer than 256 bytes", s);
	parse_err(s, KT_PROBE_SPAN, want);
	snprintf(s, sizeof(s), "kprobe:%s", sym);
	snprintf(want, sizeof(want), "%s: FUNCTION longer than 256 bytes", s);
	parse_err(s, KT_PROBE_EVENT, want);

	/* Tracepoint parts: 64 bytes taken, 65 refused. */
	char n64[KT_PROBE_TP_NAME_MAX + 2];
	memset(n64, 'n', sizeof(n64));
	n64[KT_PROBE_TP_NAME_MAX] = '\0';
	snprintf(s, sizeof(s), "tracepoint:%s:%s", n64, n64);
	struct kt_probe_spec p = parse_ok(s, KT_PROBE_EVENT);
	cr_assert_eq(strlen(p.category), KT_PROBE_TP_NAME_MAX);
	cr_assert_eq(strlen(p.tp), KT_PROBE_TP_NAME_MAX);
	snprintf(s, sizeof(s), "tracepoint:c:a/%s", n64);
	cr_assert_eq(strlen(parse_ok(s, KT_PROBE_SPAN).tp_exit), KT_PROBE_TP_NAME_MAX);
	n64[KT_PROBE_TP_NAME_MAX] = 'n';
	n64[KT_PROBE_TP_NAME_MAX + 1] = '\0';
	snprintf(s, sizeof(s), "tracepoint:%s:x", n64);
	snprintf(want, sizeof(want), "%s: CATEGORY longer than 64 bytes", s);
	parse_err(s, KT_PROBE_EVENT, want);
	snprintf(s, sizeof(s), "tracepoint:c:%s", n64);
	snprintf(want, sizeof(want), "%s: NAME longer than 64 bytes", s);
	parse_err(s, KT_PROBE_EVENT, want);
	snprintf(s, sizeof(s), "tracepoint:c:%s/b", n64);
	snprintf(want, sizeof(want), "%s: ENTER longer than 64 bytes", s);
	parse_err(s, KT_PROBE_SPAN, want);
	snprintf(s, sizeof(s), "tracepoint:c:a/%s", n64);
	snprintf(want, sizeof(want), "%s: EXIT longer than 64 bytes", s);
	parse_err(s, KT_PROBE_SPAN, want);

	/* The whole spec: 1024 bytes taken, 1025 refused (its first 40 bytes shown). */
	memset(s, 0, sizeof(s));
	strcpy(s, "uprobe:/");
	memset(s + 8, 'd', KT_PROBE_SPEC_MAX - 8 - 2);
	strcat(s, ":f");
	cr_assert_eq(strlen(s), KT_PROBE_SPEC_MAX);
	cr_assert_eq(strlen(parse_ok(s, KT_PROBE_SPAN).binary), KT_PROBE_SPEC_MAX - 2 - 7);
	memmove(s + 9, s + 8, strlen(s + 8) + 1);
	cr_assert_eq(strlen(s), KT_PROBE_SPEC_MAX + 1);
	parse_err(s, KT_PROBE_SPAN,
		  "uprobe:/dddddddddddddddddddddddddddddddd...: longer than 1024 bytes");
}

Test(probe_spec, malformed_specs)
{
	static const struct {
		const char *spec;
		enum kt_probe_role role;
		const char *err;
	} cases[] = {
		{ "", KT_PROBE_SPAN,
		  "empty probe spec (uprobe:BINARY:SYMBOL, kprobe:FUNCTION or "
		  "tracepoint:CATEGORY:ENTER/EXIT)" },
		{ "", KT_PROBE_EVENT,
		  "empty probe spec (uprobe:BINARY:SYMBOL, kprobe:FUNCTION or "
		  "tracepoint:CATEGORY:NAME)" },
		{ "work", KT_PROBE_SPAN,
		  "work: not a probe spec (uprobe:BINARY:SYMBOL, kprobe:FUNCTION or "
		  "tracepoint:CATEGORY:ENTER/EXIT)" },
		{ "work", KT_PROBE_EVENT,
		  "work: not a probe spec (uprobe:BINARY:SYMBOL, kprobe:FUNCTION or "
		  "tracepoint:CATEGORY:NAME)" },
		{ "uretprobe:/bin/x:f", KT_PROBE_SPAN,
		  "uretprobe:/bin/x:f: unknown probe kind \"uretprobe\" (uprobe, kprobe or "
		  "tracepoint; --span probes the return too)" },
		{ "kretprobe:f", KT_PROBE_EVENT,
		  "kretprobe:f: unknown probe kind \"kretprobe\" (uprobe, kprobe or tracepoint; "
		  "--span probes the return too)" },
		{ "UPROBE:/bin/x:f", KT_PROBE_SPAN,
		  "UPROBE:/bin/x:f: unknown probe kind \"UPROBE\" (uprobe, kprobe or tracepoint; "
		  "--span probes the return too)" },
		{ ":/bin/x:f", KT_PROBE_SPAN,
		  ":/bin/x:f: unknown probe kind \"\" (uprobe, kprobe or tracepoint; --span probes "
		  "the return too)" },
		{ "uprobe:/bin/x\tf:g", KT_PROBE_SPAN, "uprobe:/bin/x?f:g: control character in the spec" },
		{ "kprobe:f\n", KT_PROBE_EVENT, "kprobe:f?: control character in the spec" },
		{ "kprobe:f\x7f", KT_PROBE_EVENT, "kprobe:f?: control character in the spec" },
		/* uprobe */
		{ "uprobe:", KT_PROBE_SPAN, "uprobe:: expected uprobe:BINARY:SYMBOL" },
		{ "uprobe:/bin/x", KT_PROBE_SPAN, "uprobe:/bin/x: expected uprobe:BINARY:SYMBOL" },
		{ "uprobe::work", KT_PROBE_SPAN, "uprobe::work: empty BINARY" },
		{ "uprobe:bin/x:work", KT_PROBE_EVENT, "uprobe:bin/x:work: BINARY must be an absolute path" },
		{ "uprobe:x:work", KT_PROBE_SPAN, "uprobe:x:work: BINARY must be an absolute path" },
		{ "uprobe:/bin/x:", KT_PROBE_SPAN, "uprobe:/bin/x:: empty SYMBOL" },
		{ "uprobe:/bin/x:f:", KT_PROBE_EVENT, "uprobe:/bin/x:f:: empty SYMBOL" },
		/* kprobe */
		{ "kprobe:", KT_PROBE_SPAN, "kprobe:: empty FUNCTION" },
		{ "kprobe:a:b", KT_PROBE_SPAN, "kprobe:a:b: expected kprobe:FUNCTION" },
		{ "kprobe:a-b", KT_PROBE_EVENT,
		  "kprobe:a-b: FUNCTION may hold only letters, digits, '_' and '.'" },
		{ "kprobe:a b", KT_PROBE_SPAN,
		  "kprobe:a b: FUNCTION may hold only letters, digits, '_' and '.'" },
		{ "kprobe:../x", KT_PROBE_SPAN,
		  "kprobe:../x: FUNCTION may hold only letters, digits, '_' and '.'" },
		{ "kprobe:9lives", KT_PROBE_SPAN, "kprobe:9lives: FUNCTION must start with a letter or '_'" },
		{ "kprobe:.cold", KT_PROBE_EVENT, "kprobe:.cold: FUNCTION must start with a letter or '_'" },
		/* tracepoint */
		{ "tracepoint:", KT_PROBE_SPAN, "tracepoint:: expected tracepoint:CATEGORY:ENTER/EXIT" },
		{ "tracepoint:syscalls", KT_PROBE_EVENT,
		  "tracepoint:syscalls: expected tracepoint:CATEGORY:NAME" },
		{ "tracepoint:a:b:c", KT_PROBE_EVENT, "tracepoint:a:b:c: expected tracepoint:CATEGORY:NAME" },
		{ "tracepoint::sys_enter_read", KT_PROBE_EVENT, "tracepoint::sys_enter_read: empty CATEGORY" },
		{ "tracepoint:sys-calls:x", KT_PROBE_EVENT,
		  "tracepoint:sys-calls:x: CATEGORY may hold only letters, digits and '_'" },
		{ "tracepoint:../x:y", KT_PROBE_EVENT,
		  "tracepoint:../x:y: CATEGORY may hold only letters, digits and '_'" },
		{ "tracepoint:kvm:", KT_PROBE_EVENT, "tracepoint:kvm:: empty NAME" },
		{ "tracepoint:kvm:kvm.exit", KT_PROBE_EVENT,
		  "tracepoint:kvm:kvm.exit: NAME may hold only letters, digits and '_'" },
		{ "tracepoint:syscalls:sys_enter_read/sys_exit_read", KT_PROBE_EVENT,
		  "tracepoint:syscalls:sys_enter_read/sys_exit_read: --event takes one tracepoint, "
		  "tracepoint:CATEGORY:NAME" },
		{ "tracepoint:syscalls:sys_enter_read", KT_PROBE_SPAN,
		  "tracepoint:syscalls:sys_enter_read: --span needs a pair of tracepoints, "
		  "tracepoint:CATEGORY:ENTER/EXIT" },
		{ "tracepoint:syscalls:/sys_exit_read", KT_PROBE_SPAN,
		  "tracepoint:syscalls:/sys_exit_read: empty ENTER" },
		{ "tracepoint:syscalls:sys_enter_read/", KT_PROBE_SPAN,
		  "tracepoint:syscalls:sys_enter_read/: empty EXIT" },
		{ "tracepoint:sched:a/b/c", KT_PROBE_SPAN,
		  "tracepoint:sched:a/b/c: EXIT may hold only letters, digits and '_'" },
		{ "tracepoint:sched:a-b/c", KT_PROBE_SPAN,
		  "tracepoint:sched:a-b/c: ENTER may hold only letters, digits and '_'" },
		{ "tracepoint:sched:sched_switch/sched_switch", KT_PROBE_SPAN,
		  "tracepoint:sched:sched_switch/sched_switch: ENTER and EXIT are the same tracepoint" },
		{ "tracepoint:syscalls:sys_enter_openat/sys_exit_read", KT_PROBE_SPAN,
		  "tracepoint:syscalls:sys_enter_openat/sys_exit_read: in the syscalls category a "
		  "pair is sys_enter_X/sys_exit_X" },
		{ "tracepoint:syscalls:sys_exit_read/sys_enter_read", KT_PROBE_SPAN,
		  "tracepoint:syscalls:sys_exit_read/sys_enter_read: in the syscalls category a "
		  "pair is sys_enter_X/sys_exit_X" },
		{ "tracepoint:syscalls:sys_enter_/sys_exit_", KT_PROBE_SPAN,
		  "tracepoint:syscalls:sys_enter_/sys_exit_: in the syscalls category a pair is "
		  "sys_enter_X/sys_exit_X" },
		{ "tracepoint:syscalls:sys_enter_read/sys_exit_readv", KT_PROBE_SPAN,
		  "tracepoint:syscalls:sys_enter_read/sys_exit_readv: in the syscalls category a "
		  "pair is sys_enter_X/sys_exit_X" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_err(cases[i].spec, cases[i].role, cases[i].err);
}

Test(probe_spec, error_fits_a_short_buffer)
{
	struct kt_probe_spec p;
	char err[16];
	memset(err, 'x', sizeof(err));
	cr_assert_eq(kt_probe_spec_parse("uprobe:/bin/x:", KT_PROBE_SPAN, &p, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "uprobe:/bin/x::"); /* of "uprobe:/bin/x:: empty SYMBOL" */
	cr_assert_eq(kt_probe_spec_parse("kprobe:", KT_PROBE_SPAN, &p, err, 1), -1);
	cr_assert_str_eq(err, "");
}

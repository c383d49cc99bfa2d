/* SPDX-License-Identifier: Apache-2.0 */
/* kata.vm and vsock.connection spans from kernel events (user/traces/vm_spans.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "model/ids.h"
#include "sandbox/sandbox_registry.h"
#include "model/span_record.h"
#include "base/stats.h"
#include "rpc/ttrpc_span.h"
#include "traces/vm_spans.h"

#define SB "0123456789abcdef0123456789abcdef"

static const struct kt_kv *find(const struct kt_span *s, const char *k)
{
	return kt_kvlist_find(&s->attrs, k);
}

static int64_t int_attr(const struct kt_span *s, const char *k)
{
	const struct kt_kv *kv = find(s, k);
	cr_assert_not_null(kv, "attribute %s", k);
	cr_assert_eq(kv->value.type, KT_VAL_I64, "%s is an int", k);
	return kv->value.i;
}

static const char *str_attr(const struct kt_kvlist *l, const char *k)
{
	const struct kt_kv *kv = kt_kvlist_find(l, k);
	cr_assert_not_null(kv, "attribute %s", k);
	cr_assert_eq(kv->value.type, KT_VAL_STRING, "%s is a string", k);
	return kv->value.s.ptr;
}

static bool bool_attr(const struct kt_span *s, const char *k)
{
	const struct kt_kv *kv = find(s, k);
	cr_assert_not_null(kv, "attribute %s", k);
	cr_assert_eq(kv->value.type, KT_VAL_BOOL, "%s is a bool", k);
	return kv->value.b;
}

Test(vm_spans, vm_span_ids_are_the_sandbox_root)
{
	struct kt_arena a;
	struct kt_span s;
	struct kt_vm_info vm = { .pid = 4242, .start_unix_ns = 1000, .end_unix_ns = 5000,
				 .start_observed = true, .exit_status = 3 << 8, .kvm_counted = true,
				 .kvm_exits = 77, .exe = "qemu-system-x86_64", .hypervisor = "qemu",
				 .sandbox_id = SB };
	kt_arena_init(&a, 1 << 16);
	cr_assert_eq(kt_vm_span_build(&vm, &a, &s), 0);
	struct kt_trace_id t;
	uint64_t root;
	kt_sandbox_ids(SB, strlen(SB), &t, &root);
	cr_expect(s.ctx.trace_id.hi == t.hi && s.ctx.trace_id.lo == t.lo);
	cr_expect_eq(s.ctx.span_id, root);
	/* The documented derivation, computed elsewhere (tests/receiver/lib/sandbox-ids.js). */
	char hex[33], shex[17];
	kt_trace_id_hex(&s.ctx.trace_id, hex);
	kt_span_id_hex(s.ctx.span_id, shex);
	cr_expect_str_eq(hex, "d347a4dadf60b19f631ecf807e0c313a");
	cr_expect_str_eq(shex, "f019a32da8f8fcf7");
	cr_expect_eq(s.parent_span_id, 0);
	cr_expect(kt_str_eq(s.name, "kata.vm"));
	cr_expect_eq(s.kind, KT_KIND_INTERNAL);
	cr_expect_eq(s.start_unix_nano, 1000);
	cr_expect_eq(s.end_unix_nano, 5000);
	cr_expect_eq(s.status_code, KT_STATUS_UNSET);
	cr_expect_eq(int_attr(&s, "process.pid"), 4242);
	cr_expect_eq(int_attr(&s, "process.exit.code"), 3);
	cr_expect_eq(int_attr(&s, "katatrace.kvm.exits"), 77);
	cr_expect_str_eq(str_attr(&s.attrs, "process.executable.name"), "qemu-system-x86_64");
	cr_expect_str_eq(str_attr(&s.attrs, "katatrace.hypervisor"), "qemu");
	cr_expect(bool_attr(&s, "katatrace.synthesized"));
	cr_expect_null(find(&s, "katatrace.vm.exit_signal"));
	cr_expect_null(find(&s, "katatrace.vm.start_observed"));
	cr_expect_null(find(&s, "katatrace.sandbox.unknown"));
	kt_arena_free(&a);
}

Test(vm_spans, killed_running_no_kvm)
{
	struct kt_arena a;
	struct kt_span s;
	struct kt_vm_info vm = { .pid = 7, .start_unix_ns = 900, .end_unix_ns = 100,
				 .exit_status = 9, .exe = "cloud-hypervisor",
				 .hypervisor = "cloud-hypervisor", .sandbox_id = SB };
	kt_arena_init(&a, 1 << 16);
	cr_assert_eq(kt_vm_span_build(&vm, &a, &s), 0);
	cr_expect_eq(int_attr(&s, "katatrace.vm.exit_signal"), 9);
	cr_expect_eq(int_attr(&s, "process.exit.code"), 128 + 9);
	cr_expect_eq(s.status_code, KT_STATUS_ERROR);
	cr_expect_not(bool_attr(&s, "katatrace.vm.start_observed"));
	cr_expect_null(find(&s, "katatrace.kvm.exits"), "not counted: absent, not 0");
	cr_expect_geq(s.end_unix_nano, s.start_unix_nano, "never ends before it starts");
	kt_arena_free(&a);
}

Test(vm_spans, unknown_sandbox_gets_its_own_trace)
{
	struct kt_arena a;
	struct kt_span s1, s2;
	struct kt_vm_info vm = { .pid = 1, .exe = "firecracker", .hypervisor = "firecracker" };
	kt_arena_init(&a, 1 << 16);
	cr_assert_eq(kt_vm_span_build(&vm, &a, &s1), 0);
	cr_assert_eq(kt_vm_span_build(&vm, &a, &s2), 0);
	cr_expect(bool_attr(&s1, "katatrace.sandbox.unknown"));
	cr_expect(s1.ctx.trace_id.hi || s1.ctx.trace_id.lo);
	cr_expect_neq(s1.ctx.span_id, 0);
	cr_expect(s1.ctx.trace_id.hi != s2.ctx.trace_id.hi || s1.ctx.trace_id.lo != s2.ctx.trace_id.lo);
	kt_arena_free(&a);
}

Test(vm_spans, arena_limit_fails_cleanly)
{
	struct kt_arena a;
	struct kt_span s;
	struct kt_vm_info vm = { .pid = 1, .exe = "qemu-kvm", .sandbox_id = SB };
	kt_arena_init(&a, 64);
	cr_expect_eq(kt_vm_span_build(&vm, &a, &s), -1);
	kt_arena_free(&a);
}

Test(vm_spans, vsock_span_under_the_sandbox_root)
{
	struct kt_arena a;
	struct kt_span s;
	struct kt_vsock_conn_info c = { .guest_cid = 3, .guest_port = 1025, .host_port = 10240,
					.initiator = KT_VM_INIT_GUEST, .end = KT_VM_END_SHUTDOWN,
					.bytes_known = true, .bytes_to_host = 1234,
					.bytes_to_guest = 56, .start_unix_ns = 10, .end_unix_ns = 20,
					.sandbox_id = SB };
	kt_arena_init(&a, 1 << 16);
	cr_assert_eq(kt_vsock_span_build(&c, &a, &s), 0);
	struct kt_trace_id t;
	uint64_t root;
	kt_sandbox_ids(SB, strlen(SB), &t, &root);
	cr_expect(s.ctx.trace_id.hi == t.hi && s.ctx.trace_id.lo == t.lo);
	cr_expect_eq(s.parent_span_id, root);
	cr_expect(s.ctx.span_id != 0 && s.ctx.span_id != root);
	cr_expect(kt_str_eq(s.name, "vsock.connection"));
	cr_expect_eq(s.kind, KT_KIND_INTERNAL);
	cr_expect_eq(int_attr(&s, "katatrace.vsock.guest_cid"), 3);
	cr_expect_eq(int_attr(&s, "katatrace.vsock.guest_port"), 1025);
	cr_expect_eq(int_attr(&s, "katatrace.vsock.host_port"), 10240);
	cr_expect_eq(int_attr(&s, "katatrace.vsock.bytes_to_host"), 1234);
	cr_expect_eq(int_attr(&s, "katatrace.vsock.bytes_to_guest"), 56);
	cr_expect_str_eq(str_attr(&s.attrs, "katatrace.vsock.initiator"), "guest");
	cr_expect_str_eq(str_attr(&s.attrs, "katatrace.vsock.end"), "shutdown");
	cr_expect(bool_attr(&s, "katatrace.synthesized"));

	c.initiator = KT_VM_INIT_UNKNOWN;
	c.end = KT_VM_END_NONE;
	c.bytes_known = false;
	c.sandbox_id = NULL;
	cr_assert_eq(kt_vsock_span_build(&c, &a, &s), 0);
	cr_expect_str_eq(str_attr(&s.attrs, "katatrace.vsock.end"), "untracked");
	cr_expect_null(find(&s, "katatrace.vsock.initiator"));
	cr_expect_null(find(&s, "katatrace.vsock.bytes_to_host"));
	cr_expect_not(bool_attr(&s, "katatrace.vsock.start_observed"));
	cr_expect(bool_attr(&s, "katatrace.sandbox.unknown"));
	cr_expect_eq(s.parent_span_id, 0);
	kt_arena_free(&a);
}

#define ARGS(lit) lit, sizeof(lit)

Test(vm_spans, cmdline_sandbox_and_cid)
{
	char sb[KT_SANDBOX_ID_MAX + 1];
	uint32_t cid;

	kt_vm_cmdline_parse(ARGS("qemu-system-x86_64\0-name\0sandbox-" SB ",debug-threads=on\0"
				 "-device\0vhost-vsock-pci,disable-modern=false,guest-cid=12\0"),
			    "", sb, &cid);
	cr_expect_str_eq(sb, SB);
	cr_expect_eq(cid, 12);
	/* Cloud Hypervisor: the sandbox's directory in its API socket path, under the run root. */
	kt_vm_cmdline_parse(ARGS("cloud-hypervisor\0--api-socket\0/tmp/rr/run/vc/vm/" SB "/clh-api.sock\0"),
			    "/tmp/rr", sb, &cid);
	cr_expect_str_eq(sb, SB);
	cr_expect_eq(cid, 0);
	/* A path outside the run root names nothing. */
	kt_vm_cmdline_parse(ARGS("cloud-hypervisor\0--api-socket\0/run/vc/vm/" SB "/clh-api.sock\0"),
			    "/tmp/rr", sb, &cid);
	cr_expect_str_eq(sb, "");
	/* Runtime-rs layout inside a property. */
	kt_vm_cmdline_parse(ARGS("firecracker\0--config\0x=/run/kata/abc-1/root/fc.json\0"), "", sb, &cid);
	cr_expect_str_eq(sb, "abc-1");
}

Test(vm_spans, cmdline_hostile)
{
	char sb[KT_SANDBOX_ID_MAX + 1];
	uint32_t cid;
	kt_vm_cmdline_parse(ARGS("qemu\0-name\0"), "", sb, &cid); /* -name last */
	cr_expect_str_eq(sb, "");
	kt_vm_cmdline_parse(ARGS("qemu\0-name\0sandbox-../x\0guest-cid=2\0"), "", sb, &cid);
	cr_expect_str_eq(sb, "");
	cr_expect_eq(cid, 0, "the host's CID is no guest's");
	kt_vm_cmdline_parse(ARGS("x\0guest-cid=99999999999\0nguest-cid=5\0guest-cid=5x\0"), "", sb, &cid);
	cr_expect_eq(cid, 0);
	/* No terminating NUL, an argument longer than any buffer. */
	static char big[3 * KT_VM_ARGS_LEN];
	memset(big, 'a', sizeof(big));
	memcpy(big, "-name", 6);
	kt_vm_cmdline_parse(big, sizeof(big), "", sb, &cid);
	cr_expect_str_eq(sb, "");
	kt_vm_cmdline_parse(NULL, 0, NULL, sb, &cid);
	cr_expect_str_eq(sb, "");
}

/* ------------------------------------------------------------ events to spans */

struct sink {
	struct kt_span_record *r[8];
	int n;
};

static void to_sink(void *ctx, struct kt_span_record *r)
{
	struct sink *s = ctx;
	cr_assert_lt(s->n, 8);
	s->r[s->n++] = r;
}

static void drain(struct sink *s)
{
	for (int i = 0; i < s->n; i++)
		kt_span_record_free(s->r[i]);
	s->n = 0;
}

static struct kt_vm_exec exec_ev(uint32_t pid, const char *exe, const char *args, size_t n)
{
	struct kt_vm_exec e;
	memset(&e, 0, sizeof(e));
	e.hdr.type = KT_VM_EXEC;
	e.hdr.pid = pid;
	e.hdr.ts_ns = 1000;
	snprintf(e.exe, sizeof(e.exe), "%s", exe);
	memcpy(e.args, args, n);
	e.args_len = (uint32_t)n;
	return e;
}

static struct kt_vm_exit exit_ev(uint32_t pid, uint32_t code, uint32_t flags)
{
	struct kt_vm_exit e;
	memset(&e, 0, sizeof(e));
	e.hdr.type = KT_VM_EXIT;
	e.hdr.pid = pid;
	e.hdr.ts_ns = 5000;
	e.start_ns = 1000;
	e.exit_code = code;
	e.flags = flags;
	e.kvm_exits = 11;
	return e;
}

Test(vm_spans, events_registry_and_cmdline)
{
	struct sink out = { 0 };
	struct kt_sandbox_registry *reg = kt_registry_new(1000);
	struct kt_sandbox_meta m;
	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "reg-sb");
	snprintf(m.pod_name, sizeof(m.pod_name), "web-0");
	snprintf(m.hypervisor, sizeof(m.hypervisor), "qemu");
	m.hypervisor_pid = 50;
	m.guest_cid = 9;
	cr_assert_eq(kt_registry_put(reg, &m), 0);
	struct kt_vm_spans_cfg cfg = { .registry = reg, .run_root = "" };
	struct kt_vm_spans *v = kt_vm_spans_new(&cfg, &(struct kt_record_sink){ .span = to_sink, .ctx = &out });
	cr_assert_not_null(v);

	/* pid 50: the registry knows it (pid file), and wins over the command line. */
	struct kt_vm_exec e = exec_ev(50, "qemu-system-x86_64", ARGS("q\0-name\0sandbox-other\0"));
	kt_vm_spans_record(v, &e, sizeof(e));
	struct kt_vm_exit x = exit_ev(50, 0, KT_VM_F_EXEC_SEEN | KT_VM_F_KVM);
	kt_vm_spans_record(v, &x, sizeof(x));
	cr_assert_eq(out.n, 1);
	struct kt_span_record *r = out.r[0];
	cr_expect_str_eq(r->origin->sandbox_id, "reg-sb");
	cr_expect_str_eq(str_attr(&r->origin->attrs, "k8s.pod.name"), "web-0");
	cr_expect_str_eq(str_attr(&r->origin->attrs, "katatrace.sandbox.id"), "reg-sb");
	cr_expect_str_eq(str_attr(&r->span.resource, "service.name"), "kata");
	cr_expect_eq(int_attr(&r->span, "katatrace.kvm.exits"), 11);
	cr_expect_gt(r->span.start_unix_nano, 1600000000000000000ull);
	cr_expect_eq(r->span.end_unix_nano - r->span.start_unix_nano, 4000);
	drain(&out);

	/* pid 51: only its command line names the sandbox; no KVM. */
	e = exec_ev(51, "cloud-hypervisor", ARGS("c\0--api-socket\0/run/vc/vm/clh-sb/clh-api.sock\0"));
	kt_vm_spans_record(v, &e, sizeof(e));
	x = exit_ev(51, 2 << 8, KT_VM_F_EXEC_SEEN);
	kt_vm_spans_record(v, &x, sizeof(x));
	cr_assert_eq(out.n, 1);
	cr_expect_str_eq(out.r[0]->origin->sandbox_id, "clh-sb");
	cr_expect_eq(int_attr(&out.r[0]->span, "process.exit.code"), 2);
	cr_expect_null(find(&out.r[0]->span, "katatrace.kvm.exits"));
	drain(&out);

	/* Running before us: the start time from /proc, start_observed=false. */
	kt_vm_spans_running(v, 52, 0, "firecracker", NULL, 0);
	x = exit_ev(52, 0, 0);
	kt_vm_spans_record(v, &x, sizeof(x));
	cr_assert_eq(out.n, 1);
	cr_expect_not(bool_attr(&out.r[0]->span, "katatrace.vm.start_observed"));
	cr_expect(bool_attr(&out.r[0]->span, "katatrace.sandbox.unknown"));
	cr_expect_null(out.r[0]->origin->sandbox_id);
	cr_expect_str_eq(str_attr(&out.r[0]->span.attrs, "katatrace.hypervisor"), "firecracker");
	drain(&out);

	/* Malformed: counted, nothing built. */
	uint64_t bad = KT_STAT_GET(vm_events_bad);
	kt_vm_spans_record(v, &x, sizeof(x) - 1);
	kt_vm_spans_record(v, &x, 3);
	uint32_t junk[4] = { 99, 0, 0, 0 };
	kt_vm_spans_record(v, junk, sizeof(junk));
	cr_expect_eq(KT_STAT_GET(vm_events_bad), bad + 3);
	cr_expect_eq(out.n, 0);

	/* vsock: CID 9 is reg-sb's; one ends, one is still open at shutdown. */
	struct kt_vm_vsock c;
	memset(&c, 0, sizeof(c));
	c.hdr.type = KT_VM_VSOCK_OPEN;
	c.key = (struct kt_vm_conn_key){ .guest_cid = 9, .guest_port = 1024, .host_port = 10240 };
	c.initiator = KT_VM_INIT_GUEST;
	c.start_ns = 100;
	kt_vm_spans_record(v, &c, sizeof(c));
	c.key.guest_port = 1025;
	kt_vm_spans_record(v, &c, sizeof(c));
	c.hdr.type = KT_VM_VSOCK_END;
	c.hdr.ts_ns = 900;
	c.bytes[KT_VM_TO_HOST] = 4096;
	c.end = KT_VM_END_RST;
	kt_vm_spans_record(v, &c, sizeof(c));
	cr_assert_eq(out.n, 1);
	struct kt_trace_id t;
	uint64_t root;
	kt_sandbox_ids("reg-sb", 6, &t, &root);
	cr_expect_eq(out.r[0]->span.parent_span_id, root);
	cr_expect_eq(int_attr(&out.r[0]->span, "katatrace.vsock.bytes_to_host"), 4096);
	cr_expect_str_eq(str_attr(&out.r[0]->span.attrs, "katatrace.vsock.end"), "rst");
	drain(&out);
	kt_vm_spans_finish(v);
	cr_assert_eq(out.n, 1);
	cr_expect_eq(int_attr(&out.r[0]->span, "katatrace.vsock.guest_port"), 1024);
	cr_expect_str_eq(str_attr(&out.r[0]->span.attrs, "katatrace.vsock.end"), "untracked");
	drain(&out);
	kt_vm_spans_free(v);
	kt_registry_free(reg);
}

/*
 * A vsock connection's sandbox is the one its CID belonged to when it
 * began: a connection the guest never answered ends at shutdown, after
 * its hypervisor is gone, and still lands in the sandbox's trace.
 */
Test(vm_spans, vsock_sandbox_from_the_connection_start)
{
	struct sink out = { 0 };
	struct kt_vm_spans_cfg cfg = { .run_root = "" };
	struct kt_vm_spans *v = kt_vm_spans_new(&cfg, &(struct kt_record_sink){ .span = to_sink, .ctx = &out });
	cr_assert_not_null(v);
	struct kt_vm_exec e = exec_ev(60, "qemu-system-x86_64",
				      ARGS("q\0-name\0sandbox-sb7\0-device\0vhost-vsock-pci,guest-cid=7\0"));
	kt_vm_spans_record(v, &e, sizeof(e));
	struct kt_vm_vsock c;
	memset(&c, 0, sizeof(c));
	c.hdr.type = KT_VM_VSOCK_OPEN;
	c.key = (struct kt_vm_conn_key){ .guest_cid = 7, .guest_port = 1024, .host_port = 50000 };
	c.initiator = KT_VM_INIT_HOST;
	c.start_ns = 2000;
	kt_vm_spans_record(v, &c, sizeof(c));
	struct kt_vm_exit x = exit_ev(60, 0, KT_VM_F_EXEC_SEEN);
	kt_vm_spans_record(v, &x, sizeof(x));
	cr_assert_eq(out.n, 1, "the VM's span");
	drain(&out);
	kt_vm_spans_finish(v);
	cr_assert_eq(out.n, 1, "the connection's span at shutdown");
	struct kt_trace_id t;
	uint64_t root;
	kt_sandbox_ids("sb7", 3, &t, &root);
	cr_expect_str_eq(str_attr(&out.r[0]->span.attrs, "katatrace.vsock.end"), "untracked");
	cr_expect_eq(out.r[0]->span.parent_span_id, root, "under the sandbox's root");
	cr_expect(out.r[0]->span.ctx.trace_id.hi == t.hi && out.r[0]->span.ctx.trace_id.lo == t.lo);
	cr_expect_null(find(&out.r[0]->span, "katatrace.sandbox.unknown"));
	cr_expect_str_eq(out.r[0]->origin->sandbox_id, "sb7");
	drain(&out);
	kt_vm_spans_free(v);
}

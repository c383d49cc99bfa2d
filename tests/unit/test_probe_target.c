/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A probe's target on a fake run root and /proc: sandbox/, pod/ (CRI
 * annotations in containerd bundles, the same pod name in two namespaces,
 * one pod carried by two sandboxes, a pod without Kata), pid/ (a
 * hypervisor, a shim, a virtiofsd, a state file's hypervisor, an unrelated
 * process, a gone one), node; the process ids filtered on (a QEMU's vhost
 * worker kernel threads among them); and the variables of specs and
 * bpftrace programs with every error they make.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "daemon/probe_target.h"
#include "fs_fixture.h"

#define Q "qemu-sb-0001"  /* Go runtime, QEMU, pod prod/web-0 */
#define C "clh-sb-0002"   /* Go runtime, Cloud Hypervisor, pod dev/web-0 */
#define R "rs-sb-0003"    /* runtime-rs, Dragonball, pod kube-system/coredns-0 */
#define D1 "dup-sb-0004"  /* Go runtime, pod prod/dup-0 (a stale sandbox of it) */
#define D2 "dup-sb-0005"  /* Go runtime, pod prod/dup-0 */
#define N "runc-sb-0006"  /* pod prod/plain-0 run by runc: bundles only */
#define ALL_SANDBOXES C ", " D1 ", " D2 ", " Q ", " R
#define ALL_PODS "dev/web-0, kube-system/coredns-0, prod/dup-0, prod/web-0"

#define CTRD "run/containerd/io.containerd.runtime.v2.task/k8s.io/"

static char err[512];

/* containerd's CRI annotations of a pod's sandbox container and of one of its containers. */
static void pod_bundles(const char *sandbox, const char *ns, const char *name, const char *container_id,
			const char *container)
{
	char rel[256], doc[1024];
	snprintf(rel, sizeof(rel), CTRD "%s/config.json", sandbox);
	snprintf(doc, sizeof(doc),
		 "{\"ociVersion\":\"1.1.0\",\"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\","
		 "\"io.kubernetes.cri.sandbox-id\":\"%s\",\"io.kubernetes.cri.sandbox-name\":\"%s\","
		 "\"io.kubernetes.cri.sandbox-namespace\":\"%s\",\"io.kubernetes.cri.sandbox-uid\":\"uid-%s\"}}",
		 sandbox, name, ns, sandbox);
	FX_PUT_STR(rel, doc);
	snprintf(rel, sizeof(rel), CTRD "%s/config.json", container_id);
	snprintf(doc, sizeof(doc),
		 "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
		 "\"io.kubernetes.cri.sandbox-id\":\"%s\",\"io.kubernetes.cri.container-name\":\"%s\","
		 "\"io.kubernetes.cri.sandbox-name\":\"%s\",\"io.kubernetes.cri.sandbox-namespace\":\"%s\"}}",
		 sandbox, container, name, ns);
	FX_PUT_STR(rel, doc);
}

static void host(void)
{
	fx_root_make("target");
	FX_PROC(1, 0, 'S', "/sbin/init");
	FX_PROC(3000, 1, 'S', "/bin/bash", "-c", "sleep 100; echo sandbox-" Q);
	FX_PROC(1200, 3000, 'Z', NULL);

	/* Q: Go runtime, QEMU */
	FX_PUT_STR("run/vc/sbs/" Q "/persist.json",
		   "{\"HypervisorState\":{\"Pid\":1001,\"Type\":\"qemu\"},\"AgentState\":{\"URL\":\"vsock://3:1024\"}}");
	FX_PUT_STR("run/vc/vm/" Q "/pid", "1001\n");
	pod_bundles(Q, "prod", "web-0", "q-app", "app");
	FX_PROC(900, 1, 'S', "/usr/local/bin/containerd-shim-kata-v2", "-namespace", "k8s.io", "-address",
		"/run/containerd/containerd.sock", "-publish-binary", "/usr/bin/containerd", "-id", Q);
	FX_PROC(950, 1, 'S', "/usr/local/bin/containerd-shim-kata-v2", "-namespace", "k8s.io", "-address",
		"/run/containerd/containerd.sock", "-publish-binary", "/usr/bin/containerd", "-id", Q, "start");
	FX_PROC(1001, 900, 'S', "/opt/kata/bin/qemu-system-x86_64", "-name", "sandbox-" Q ",debug-threads=on", "-qmp",
		"unix:{R}/run/vc/vm/" Q "/qmp.sock,server=on,wait=off");
	FX_PROC(1100, 900, 'S', "/opt/kata/libexec/virtiofsd", "--syslog",
		"--shared-dir={R}/run/kata-containers/shared/sandboxes/" Q "/shared", "--fd=3");
	FX_PROC(1101, 1100, 'S', "/opt/kata/libexec/virtiofsd", "--syslog",
		"--shared-dir={R}/run/kata-containers/shared/sandboxes/" Q "/shared", "--fd=3");
	/* its vhost-vsock worker, a kernel thread of its own (Linux before 6.4) */
	fx_kthread(1010, 'S', "vhost-1001");

	/* C: Go runtime, Cloud Hypervisor; the same pod name in another namespace */
	fx_mkdirs("run/vc/vm/" C);
	FX_PUT_STR("run/vc/sbs/" C "/persist.json", "{\"HypervisorState\":{\"Pid\":701,\"Type\":\"clh\"}}");
	pod_bundles(C, "dev", "web-0", "c-app", "app");
	FX_PROC(700, 1, 'S', "containerd-shim-kata-v2", "-namespace", "k8s.io", "-id", C);
	FX_PROC(701, 700, 'S', "/opt/kata/bin/cloud-hypervisor", "--api-socket", "{R}/run/vc/vm/" C "/clh-api.sock");
	FX_PROC(702, 700, 'S', "/opt/kata/libexec/virtiofsd", "--socket-path={R}/run/vc/vm/" C "/virtiofsd.sock",
		"--shared-dir={R}/run/kata-containers/shared/sandboxes/" C "/shared");

	/* R: runtime-rs, Dragonball inside the shim */
	FX_PUT_STR("run/kata/" R "/state.json", "{\"hypervisor\":{\"hypervisor_type\":\"dragonball\",\"pid\":500}}");
	pod_bundles(R, "kube-system", "coredns-0", "r-dns", "coredns");
	FX_PROC(500, 1, 'S', "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2", "-namespace", "k8s.io", "-id", R);

	/* D1, D2: two sandboxes of one pod; D1's hypervisor known only by its state file */
	FX_PUT_STR("run/vc/sbs/" D1 "/persist.json", "{\"HypervisorState\":{\"Pid\":1300,\"Type\":\"qemu\"}}");
	FX_PUT_STR("run/vc/sbs/" D2 "/persist.json", "{\"HypervisorState\":{\"Type\":\"qemu\"}}");
	pod_bundles(D1, "prod", "dup-0", "d1-app", "app");
	pod_bundles(D2, "prod", "dup-0", "d2-app", "app");
	FX_PROC(1300, 1, 'S', "/opt/kata/bin/qemu-system-x86_64", "-machine", "q35");

	/* N: a pod the CRI runs without Kata */
	pod_bundles(N, "prod", "plain-0", "n-app", "app");
	fx_mkdirs("run/containerd/io.containerd.runtime.v2.task/k8s.io/" N "/rootfs");
}

static void teardown(void)
{
	fx_root_remove();
}

TestSuite(probe_target, .init = host, .fini = teardown);
TestSuite(probe_vars);

static struct kt_target_env env(void)
{
	return (struct kt_target_env){ .run_root = fx_root, .proc_root = fx_proc_root() };
}

static struct kt_probe_target resolve_ok(const char *spec)
{
	struct kt_target_env e = env();
	struct kt_probe_target t;
	err[0] = '\0';
	cr_assert_eq(kt_probe_target_resolve(spec, &e, &t, err, sizeof(err)), 0, "%s: %s", spec, err);
	cr_expect_str_eq(err, "", "%s", spec);
	return t;
}

/* The error of spec must be exactly want (printf format, fx_root for each %s). */
static void resolve_fails(const char *spec, const char *want_fmt)
{
	char want[sizeof(err)];
	struct kt_target_env e = env();
	struct kt_probe_target t;
	snprintf(want, sizeof(want), want_fmt, fx_root, fx_root);
	cr_expect_eq(kt_probe_target_resolve(spec, &e, &t, err, sizeof(err)), -1, "%s", spec);
	cr_expect_str_eq(err, want, "%s", spec);
	cr_expect_null(memchr(err, '\n', strlen(err)), "one line");
}

static void expect_pids(const struct kt_probe_target *t, const uint32_t *want, size_t n)
{
	uint32_t pids[KT_TARGET_MAX_PIDS];
	size_t got = kt_probe_target_pids(t, pids, KT_TARGET_MAX_PIDS);
	cr_expect_eq(got, n);
	for (size_t i = 0; i < n && i < got; i++)
		cr_expect_eq(pids[i], want[i], "pid %zu", i);
}

/* ------------------------------------------------------------ targets */

Test(probe_target, node)
{
	struct kt_probe_target t = resolve_ok("node");
	cr_expect_eq(t.kind, KT_TARGET_NODE);
	cr_expect_str_eq(t.sandbox.id, "");
	cr_expect_eq(t.pid + t.hypervisor_pid + t.shim_pid + t.virtiofsd_pid, 0);
	expect_pids(&t, NULL, 0);
}

Test(probe_target, go_runtime_qemu_sandbox)
{
	struct kt_probe_target t = resolve_ok("sandbox/" Q);
	cr_expect_eq(t.kind, KT_TARGET_SANDBOX);
	cr_expect_str_eq(t.sandbox.id, Q);
	cr_expect_str_eq(t.sandbox.hypervisor, "qemu");
	cr_expect_str_eq(t.sandbox.runtime, "go");
	cr_expect_eq(t.sandbox.guest_cid, 3);
	cr_expect_str_eq(t.sandbox.pod_namespace, "prod");
	cr_expect_str_eq(t.sandbox.pod_name, "web-0");
	cr_expect_eq(t.hypervisor_pid, 1001);
	cr_expect_eq(t.shim_pid, 900, "the serving shim, not the start invocation 950");
	cr_expect_eq(t.virtiofsd_pid, 1101);
	cr_expect_eq(t.n_vhost, 1);
	cr_expect_eq(t.vhost_pids[0], 1010);
	expect_pids(&t, (const uint32_t[]){ 1001, 900, 1101, 1010 }, 4);
	/* fewer slots: the first ones */
	uint32_t two[2];
	cr_expect_eq(kt_probe_target_pids(&t, two, 2), 2);
	cr_expect_eq(two[0], 1001);
	cr_expect_eq(two[1], 900);
}

Test(probe_target, cloud_hypervisor_by_pod)
{
	struct kt_probe_target t = resolve_ok("pod/dev/web-0");
	cr_expect_eq(t.kind, KT_TARGET_POD);
	cr_expect_str_eq(t.sandbox.id, C);
	cr_expect_str_eq(t.sandbox.hypervisor, "cloud-hypervisor");
	cr_expect_str_eq(t.sandbox.container_names, "app");
	expect_pids(&t, (const uint32_t[]){ 701, 700, 702 }, 3);

	/* the same name in the other namespace is the other sandbox */
	t = resolve_ok("pod/prod/web-0");
	cr_expect_str_eq(t.sandbox.id, Q);
	cr_expect_str_eq(t.sandbox.pod_uid, "uid-" Q);
	expect_pids(&t, (const uint32_t[]){ 1001, 900, 1101, 1010 }, 4);
}

Test(probe_target, vhost_workers_fill_the_filter_up_to_its_bound)
{
	/* eight vhost workers for one QEMU: the five lowest join its three processes */
	for (unsigned pid = 1040; pid < 1047; pid++)
		fx_kthread(pid, 'S', "vhost-1001");
	struct kt_probe_target t = resolve_ok("sandbox/" Q);
	cr_expect_eq(t.n_vhost, KT_PROCS_VHOST_MAX);
	expect_pids(&t, (const uint32_t[]){ 1001, 900, 1101, 1010, 1040, 1041, 1042, 1043 }, KT_TARGET_MAX_PIDS);
}

Test(probe_target, runtime_rs_dragonball)
{
	struct kt_probe_target t = resolve_ok("sandbox/" R);
	cr_expect_str_eq(t.sandbox.runtime, "rs");
	cr_expect_str_eq(t.sandbox.hypervisor, "dragonball");
	cr_expect_eq(t.hypervisor_pid, 500);
	cr_expect_eq(t.shim_pid, 500);
	cr_expect_eq(t.virtiofsd_pid, 0);
	expect_pids(&t, (const uint32_t[]){ 500 }, 1); /* once */
	t = resolve_ok("pod/kube-system/coredns-0");
	cr_expect_str_eq(t.sandbox.id, R);
}

Test(probe_target, sandbox_errors)
{
	resolve_fails("sandbox/nope", "no sandbox nope under %s/run/vc or %s/run/kata; sandboxes there: " ALL_SANDBOXES);
	/* bundles alone make no Kata sandbox */
	resolve_fails("sandbox/" N, "no sandbox " N " under %s/run/vc or %s/run/kata; sandboxes there: " ALL_SANDBOXES);
	resolve_fails("sandbox/../x", "sandbox/../x: not a sandbox id ([A-Za-z0-9_.-], 1 to 128 characters)");
	resolve_fails("sandbox/", "sandbox/: not a sandbox id ([A-Za-z0-9_.-], 1 to 128 characters)");
	resolve_fails("sandbox/a\nb", "sandbox/a?b: not a sandbox id ([A-Za-z0-9_.-], 1 to 128 characters)");
}

Test(probe_target, pod_errors)
{
	resolve_fails("pod/prod/dup-0", "pod prod/dup-0 is carried by 2 Kata sandboxes: " D1 ", " D2
					 "; name one with sandbox/ID");
	resolve_fails("pod/prod/plain-0", "pod prod/plain-0 is not a Kata pod: its sandbox " N
					   " runs without Kata's runtime (no Kata directory under %s/run/vc or %s/run/kata)");
	resolve_fails("pod/prod/nope", "no pod prod/nope: no sandbox's CRI annotations name it; Kata pods: " ALL_PODS);
	resolve_fails("pod/web-0", "pod/web-0: expected pod/NAMESPACE/NAME");
	resolve_fails("pod//web-0", "pod//web-0: expected pod/NAMESPACE/NAME");
	resolve_fails("pod/prod/", "pod/prod/: expected pod/NAMESPACE/NAME");
	resolve_fails("pod/prod/web-0/x", "pod/prod/web-0/x: expected pod/NAMESPACE/NAME");
}

Test(probe_target, unknown_forms)
{
	const char *want = "unknown target \"%s\": expected node, sandbox/ID, pod/NAMESPACE/NAME or pid/PID";
	const char *specs[] = { "", "nodes", "Node", "pods/prod/web-0", "sandbox", "12345" };
	char fmt[256];
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		snprintf(fmt, sizeof(fmt), want, specs[i]);
		resolve_fails(specs[i], fmt);
	}
	/* a long one is cut, control characters shown as '?' */
	char spec[200];
	memset(spec, 'x', sizeof(spec) - 1);
	spec[sizeof(spec) - 1] = '\0';
	spec[3] = '\t';
	snprintf(fmt, sizeof(fmt), want, "xxx?xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...");
	resolve_fails(spec, fmt);
}

Test(probe_target, pid_of_a_hypervisor)
{
	struct kt_probe_target t = resolve_ok("pid/1001");
	cr_expect_eq(t.kind, KT_TARGET_PID);
	cr_expect_eq(t.pid, 1001);
	cr_expect_str_eq(t.sandbox.id, Q);
	cr_expect_eq(t.hypervisor_pid, 1001);
	cr_expect_eq(t.shim_pid, 900);
	cr_expect_eq(t.virtiofsd_pid, 1101);
	expect_pids(&t, (const uint32_t[]){ 1001 }, 1); /* that process alone, not its vhost worker */

	/* the shim, virtiofsd's waiting parent, Cloud Hypervisor by its API socket */
	cr_expect_str_eq(resolve_ok("pid/900").sandbox.id, Q);
	t = resolve_ok("pid/1100");
	cr_expect_str_eq(t.sandbox.id, Q);
	cr_expect_eq(t.virtiofsd_pid, 1101);
	expect_pids(&t, (const uint32_t[]){ 1100 }, 1);
	cr_expect_str_eq(resolve_ok("pid/701").sandbox.id, C);
	cr_expect_str_eq(resolve_ok("pid/500").sandbox.id, R);
	/* a hypervisor whose command line names nothing: its sandbox's state file */
	t = resolve_ok("pid/1300");
	cr_expect_str_eq(t.sandbox.id, D1);
	cr_expect_eq(t.hypervisor_pid, 1300);
}

Test(probe_target, pid_of_no_sandbox)
{
	/* mentions the sandbox, is none of its processes */
	struct kt_probe_target t = resolve_ok("pid/3000");
	cr_expect_eq(t.pid, 3000);
	cr_expect_str_eq(t.sandbox.id, "");
	cr_expect_eq(t.hypervisor_pid + t.shim_pid + t.virtiofsd_pid, 0);
	expect_pids(&t, (const uint32_t[]){ 3000 }, 1);
	/* containerd's short-lived start invocation */
	cr_expect_str_eq(resolve_ok("pid/950").sandbox.id, "");
	cr_expect_str_eq(resolve_ok("pid/1").sandbox.id, "");
}

Test(probe_target, pid_errors)
{
	resolve_fails("pid/4242", "no process 4242");
	resolve_fails("pid/1200", "process 1200 is gone (it exited and was not reaped yet)");
	resolve_fails("pid/4194303", "no process 4194303");
	resolve_fails("pid/4194304", "pid/4194304: not a process id (1 to 4194303)");
	resolve_fails("pid/0", "pid/0: not a process id (1 to 4194303)");
	resolve_fails("pid/0900", "pid/0900: not a process id (1 to 4194303)");
	resolve_fails("pid/-1", "pid/-1: not a process id (1 to 4194303)");
	resolve_fails("pid/", "pid/: not a process id (1 to 4194303)");
	resolve_fails("pid/self", "pid/self: not a process id (1 to 4194303)");
}

Test(probe_target, error_lists_at_their_bound)
{
	char id[32], want[1024];
	/* 8 more sandboxes: 13 in all, 8 listed */
	for (int i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "run/kata/a-%d", i);
		fx_mkdirs(id);
	}
	snprintf(want, sizeof(want),
		 "no sandbox nope under %%s/run/vc or %%s/run/kata; sandboxes there: a-0, a-1, a-2, a-3, a-4, a-5, a-6, "
		 "a-7 and %d more",
		 5);
	resolve_fails("sandbox/nope", want);
	fx_rmrf("run");
	/* exactly 8: all listed */
	for (int i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "run/kata/a-%d", i);
		fx_mkdirs(id);
	}
	resolve_fails("sandbox/nope",
		      "no sandbox nope under %s/run/vc or %s/run/kata; sandboxes there: a-0, a-1, a-2, a-3, a-4, a-5, a-6, a-7");
	fx_rmrf("run");
	fx_mkdirs("run");
	resolve_fails("sandbox/nope", "no sandbox nope under %s/run/vc or %s/run/kata; sandboxes there: none");
	resolve_fails("pod/a/b", "no pod a/b: no sandbox's CRI annotations name it; Kata pods: none");
}

Test(probe_target, bundle_patterns_of_the_environment)
{
	static const char *const patterns[] = { "/run/pods/{ID}/config.json" };
	struct kt_target_env e = env();
	struct kt_probe_target t;
	FX_PUT_STR("run/pods/" D2 "/config.json",
		   "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\","
		   "\"io.kubernetes.cri.sandbox-name\":\"elsewhere\",\"io.kubernetes.cri.sandbox-namespace\":\"ops\"}}");
	e.bundle_patterns = patterns;
	e.n_bundle_patterns = 1;
	cr_assert_eq(kt_probe_target_resolve("pod/ops/elsewhere", &e, &t, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(t.sandbox.id, D2);
	/* the default patterns are not read then */
	cr_expect_eq(kt_probe_target_resolve("pod/prod/web-0", &e, &t, err, sizeof(err)), -1);
	resolve_fails("pod/ops/elsewhere",
		      "no pod ops/elsewhere: no sandbox's CRI annotations name it; Kata pods: " ALL_PODS);
}

Test(probe_target, run_root_missing)
{
	struct kt_target_env e = env();
	struct kt_probe_target t;
	char root[300], want[700];
	snprintf(root, sizeof(root), "%s/absent", fx_root);
	e.run_root = root;
	cr_expect_eq(kt_probe_target_resolve("sandbox/" Q, &e, &t, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "cannot look for sandboxes: run root '%s': No such file or directory", root);
	cr_expect_str_eq(err, want);
}

/* ------------------------------------------------------------ variables */

static struct kt_probe_target sandbox_target(void)
{
	struct kt_probe_target t;
	memset(&t, 0, sizeof(t));
	t.kind = KT_TARGET_SANDBOX;
	snprintf(t.sandbox.id, sizeof(t.sandbox.id), "%s", Q);
	t.hypervisor_pid = 1001;
	t.shim_pid = 900;
	t.virtiofsd_pid = 1101;
	return t;
}

static char out[512];

static void expands(const struct kt_probe_target *t, unsigned flags, const char *in, const char *want)
{
	err[0] = '\0';
	cr_expect_eq(kt_probe_vars_expand_ex(in, t, flags, out, sizeof(out), err, sizeof(err)), 0, "%s: %s", in, err);
	cr_expect_str_eq(out, want, "%s", in);
	cr_expect_str_eq(err, "");
}

static void expand_fails(const struct kt_probe_target *t, unsigned flags, const char *in, const char *want)
{
	memset(out, 'z', sizeof(out));
	cr_expect_eq(kt_probe_vars_expand_ex(in, t, flags, out, sizeof(out), err, sizeof(err)), -1, "%s", in);
	cr_expect_str_eq(err, want, "%s", in);
	cr_expect_str_eq(out, "", "%s: out emptied", in);
}

Test(probe_vars, every_variable)
{
	struct kt_probe_target t = sandbox_target();
	expands(&t, KT_VARS_STRICT, "uprobe:/proc/$hypervisor_pid/exe:kvm_vcpu_ioctl pid=$hypervisor_pid",
		"uprobe:/proc/1001/exe:kvm_vcpu_ioctl pid=1001");
	expands(&t, KT_VARS_STRICT, "$sandbox_id $hypervisor_pid $shim_pid $virtiofsd_pid",
		Q " 1001 900 1101");
	expands(&t, KT_VARS_STRICT, "${sandbox_id}/${shim_pid}_x${virtiofsd_pid}", Q "/900_x1101");
	expands(&t, KT_VARS_STRICT, "", "");
	expands(&t, KT_VARS_STRICT, "no variables", "no variables");
	/* $$, and a $ without a name */
	expands(&t, KT_VARS_STRICT, "$$shim_pid costs $$5, $1 $# 5$ $", "$shim_pid costs $5, $1 $# 5$ $");
	expands(&t, KT_VARS_STRICT, "$$$shim_pid", "$900");

	struct kt_probe_target p;
	memset(&p, 0, sizeof(p));
	p.kind = KT_TARGET_PID;
	p.pid = 3000;
	expands(&p, KT_VARS_STRICT, "pid == $pid || pid == ${pid}", "pid == 3000 || pid == 3000");
	/* a pid/ target in a sandbox has both */
	t.kind = KT_TARGET_PID;
	t.pid = 1100;
	expands(&t, KT_VARS_STRICT, "$pid $virtiofsd_pid $sandbox_id", "1100 1101 " Q);
	expands(&t, 0, "$pid $virtiofsd_pid $sandbox_id", "1100 1101 " Q);
}

Test(probe_vars, bpftrace_programs_keep_their_own)
{
	struct kt_probe_target t = sandbox_target();
	expands(&t, 0,
		"tracepoint:kvm:kvm_exit /pid == $hypervisor_pid/ { $x = args.exit_reason; @[$x, $1] = count(); "
		"$pid_seen = pid; ${y} }",
		"tracepoint:kvm:kvm_exit /pid == 1001/ { $x = args.exit_reason; @[$x, $1] = count(); "
		"$pid_seen = pid; ${y} }");
	/* a program's own variable named like one of ours */
	expands(&t, 0, "$$pid = pid; printf(\"%d\", $$pid)", "$pid = pid; printf(\"%d\", $pid)");
	/* malformed braces are the program's */
	expands(&t, 0, "printf(\"${\"); ${} ${1} ${x", "printf(\"${\"); ${} ${1} ${x");
}

Test(probe_vars, strict_errors)
{
	struct kt_probe_target t = sandbox_target();
	const char *has = "this target has $sandbox_id, $hypervisor_pid, $shim_pid, $virtiofsd_pid";
	char want[512];
	snprintf(want, sizeof(want), "$hypervisorpid: unknown variable; %s", has);
	expand_fails(&t, KT_VARS_STRICT, "pid=$hypervisorpid", want);
	snprintf(want, sizeof(want), "$pid_x: unknown variable; %s", has);
	expand_fails(&t, KT_VARS_STRICT, "$pid_x", want);
	snprintf(want, sizeof(want), "$Sandbox_id: unknown variable; %s", has);
	expand_fails(&t, KT_VARS_STRICT, "${Sandbox_id}", want);
	expand_fails(&t, KT_VARS_STRICT, "a ${shim_pid", "malformed ${ at byte 2: expected ${NAME}, NAME of letters, digits and _");
	expand_fails(&t, KT_VARS_STRICT, "${}", "malformed ${ at byte 0: expected ${NAME}, NAME of letters, digits and _");
	expand_fails(&t, KT_VARS_STRICT, "x${1}", "malformed ${ at byte 1: expected ${NAME}, NAME of letters, digits and _");
	/* the default is strict */
	cr_expect_eq(kt_probe_vars_expand("$nope", &t, out, sizeof(out), err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "$nope: unknown variable; %s", has);
	cr_expect_str_eq(err, want);
	cr_expect_eq(kt_probe_vars_expand("$shim_pid", &t, out, sizeof(out), err, sizeof(err)), 0);
	cr_expect_str_eq(out, "900");
}

Test(probe_vars, container_pid)
{
	struct kt_probe_target t = sandbox_target();
	expand_fails(&t, KT_VARS_STRICT, "pid == $container_pid",
		     "$container_pid: the containers of sandbox " Q " run inside its VM and have no host process id; "
		     "this target has $sandbox_id, $hypervisor_pid, $shim_pid, $virtiofsd_pid");
	/* in a bpftrace program too, with the way to name a variable of its own */
	expand_fails(&t, 0, "${container_pid}",
		     "$container_pid: the containers of sandbox " Q " run inside its VM and have no host process id; "
		     "this target has $sandbox_id, $hypervisor_pid, $shim_pid, $virtiofsd_pid (a bpftrace variable "
		     "of that name is written $$container_pid)");
	t.kind = KT_TARGET_POD;
	t.virtiofsd_pid = 0;
	expand_fails(&t, KT_VARS_STRICT, "$container_pid",
		     "$container_pid: the containers of sandbox " Q " run inside its VM and have no host process id; "
		     "this target has $sandbox_id, $hypervisor_pid, $shim_pid");

	struct kt_probe_target n;
	memset(&n, 0, sizeof(n));
	n.kind = KT_TARGET_NODE;
	expand_fails(&n, KT_VARS_STRICT, "$container_pid",
		     "$container_pid: target node selects no container; this target has none");
	n.kind = KT_TARGET_PID;
	n.pid = 3000;
	expand_fails(&n, KT_VARS_STRICT, "$container_pid",
		     "$container_pid: target pid/3000 selects no container; this target has $pid");
}

Test(probe_vars, values_the_target_lacks)
{
	struct kt_probe_target t = sandbox_target();
	t.virtiofsd_pid = 0;
	expand_fails(&t, KT_VARS_STRICT, "$virtiofsd_pid",
		     "$virtiofsd_pid: sandbox " Q " has no virtiofsd process; this target has $sandbox_id, "
		     "$hypervisor_pid, $shim_pid");
	t.shim_pid = 0;
	expand_fails(&t, KT_VARS_STRICT, "$shim_pid",
		     "$shim_pid: sandbox " Q " has no runtime shim process; this target has $sandbox_id, $hypervisor_pid");
	t.hypervisor_pid = 0;
	expand_fails(&t, KT_VARS_STRICT, "$hypervisor_pid",
		     "$hypervisor_pid: sandbox " Q " has no hypervisor process; this target has $sandbox_id");
	expand_fails(&t, KT_VARS_STRICT, "$pid",
		     "$pid: sandbox " Q " is not one process: $pid is a pid/PID target's; this target has $sandbox_id");
	expand_fails(&t, 0, "$pid = 1;",
		     "$pid: sandbox " Q " is not one process: $pid is a pid/PID target's; this target has $sandbox_id "
		     "(a bpftrace variable of that name is written $$pid)");

	struct kt_probe_target n;
	memset(&n, 0, sizeof(n));
	n.kind = KT_TARGET_NODE;
	expand_fails(&n, KT_VARS_STRICT, "$sandbox_id", "$sandbox_id: target node selects no sandbox; this target has none");
	expand_fails(&n, 0, "$hypervisor_pid",
		     "$hypervisor_pid: target node selects no sandbox; this target has none (a bpftrace variable of "
		     "that name is written $$hypervisor_pid)");
	expand_fails(&n, KT_VARS_STRICT, "$pid",
		     "$pid: target node is not one process: $pid is a pid/PID target's; this target has none");
	expands(&n, 0, "$x $1", "$x $1");
	n.kind = KT_TARGET_PID;
	n.pid = 3000;
	expand_fails(&n, KT_VARS_STRICT, "$shim_pid",
		     "$shim_pid: process 3000 belongs to no Kata sandbox; this target has $pid");
}

Test(probe_vars, output_buffer_at_its_bound)
{
	struct kt_probe_target t = sandbox_target();
	const char *in = "pid == $hypervisor_pid && ${sandbox_id}";
	const char *want = "pid == 1001 && " Q;
	size_t need = strlen(want) + 1;
	char buf[64];
	cr_assert_lt(need, sizeof(buf));
	memset(buf, 'z', sizeof(buf));
	cr_expect_eq(kt_probe_vars_expand(in, &t, buf, need, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(buf, want);
	cr_expect_eq(buf[need], 'z', "nothing written past the buffer");

	char msg[128];
	memset(buf, 'z', sizeof(buf));
	cr_expect_eq(kt_probe_vars_expand(in, &t, buf, need - 1, err, sizeof(err)), -1);
	snprintf(msg, sizeof(msg), "the expanded text needs %zu bytes, %zu available", need, need - 1);
	cr_expect_str_eq(err, msg);
	cr_expect_eq(buf[0], '\0');
	cr_expect_eq(buf[need - 1], 'z', "nothing written past the buffer");
	/* no buffer at all */
	cr_expect_eq(kt_probe_vars_expand("", &t, buf, 0, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "the expanded text needs 1 bytes, 0 available");
	cr_expect_eq(kt_probe_vars_expand("", &t, buf, 1, err, sizeof(err)), 0);
	cr_expect_str_eq(buf, "");
	/* an error message cut to its buffer */
	char small[8];
	cr_expect_eq(kt_probe_vars_expand("$nope", &t, buf, sizeof(buf), small, sizeof(small)), -1);
	cr_expect_str_eq(small, "$nope: ");
}

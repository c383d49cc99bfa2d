/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A sandbox's host processes from a fake /proc and run root: the command
 * lines Kata's runtimes start (QEMU, Cloud Hypervisor, jailed Firecracker,
 * Dragonball inside the runtime-rs shim), the serving shim beside
 * containerd's short-lived start and delete invocations, virtiofsd's parent
 * and child, state-file pids alive, stale and zombie, the hypervisor's vhost
 * worker kernel threads (and what only looks like one), and the
 * command-line read limit at its bound.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_fixture.h"
#include "sandbox/sandbox_procs.h"

#define QID "5f0c1a9e7b2d4c6e8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"
#define OTHER "other-sandbox"

static void setup(void)
{
	fx_root_make("procs");
}

static void teardown(void)
{
	fx_root_remove();
}

TestSuite(sandbox_procs, .init = setup, .fini = teardown);
TestSuite(proc_classify);

/* A description as discovery would give it. */
static struct kt_sandbox_meta meta(const char *id, const char *hv, uint32_t hv_pid)
{
	struct kt_sandbox_meta m;
	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%s", id);
	snprintf(m.hypervisor, sizeof(m.hypervisor), "%s", hv);
	m.hypervisor_pid = hv_pid;
	return m;
}

static struct kt_sandbox_procs find(const struct kt_sandbox_meta *m)
{
	struct kt_sandbox_procs p;
	cr_assert_eq(kt_sandbox_procs_find(fx_proc_root(), fx_root, m, &p), 0);
	return p;
}

/* ------------------------------------------------------------ one command line */

#define ARGS(s) s, sizeof(s) /* a literal's arguments, the last one's NUL included */

static enum kt_proc_role classify(const char *args, size_t n, char *id)
{
	return kt_proc_classify(args, n, "", id);
}

Test(proc_classify, hypervisors)
{
	char id[KT_SANDBOX_ID_MAX + 1];
	cr_expect_eq(classify(ARGS("/opt/kata/bin/qemu-system-x86_64\0-name\0sandbox-" QID ",debug-threads=on\0"
				   "-qmp\0unix:/run/vc/vm/" OTHER "/qmp.sock,server=on,wait=off"),
			      id),
		     KT_PROC_HYPERVISOR);
	cr_expect_str_eq(id, QID, "-name wins over a path");
	cr_expect_eq(classify(ARGS("qemu-kvm\0-qmp\0unix:/run/vc/vm/" QID "/qmp.sock,server=on,wait=off"), id),
		     KT_PROC_HYPERVISOR);
	cr_expect_str_eq(id, QID);
	cr_expect_eq(classify(ARGS("/usr/bin/cloud-hypervisor\0--api-socket\0/run/vc/vm/" QID "/clh-api.sock"), id),
		     KT_PROC_HYPERVISOR);
	cr_expect_str_eq(id, QID);
	cr_expect_eq(classify(ARGS("cloud-hypervisor\0--api-socket\0path=/run/kata/" QID "/ch-api.sock"), id),
		     KT_PROC_HYPERVISOR);
	cr_expect_str_eq(id, QID);
	/* Firecracker exec'd by Kata's jailer: its paths are inside the chroot */
	cr_expect_eq(classify(ARGS("/firecracker\0--id=" QID "\0--start-time-us=1\0--config-file\0/fcConfig.json"), id),
		     KT_PROC_HYPERVISOR);
	cr_expect_str_eq(id, QID);
	cr_expect_eq(classify(ARGS("firecracker\0--id\0" QID), id), KT_PROC_HYPERVISOR);
	cr_expect_str_eq(id, QID);
	/* unjailed: its API socket in its directory */
	cr_expect_eq(classify(ARGS("firecracker\0--api-sock\0/run/vc/firecracker/" QID "/root/run/firecracker.socket"),
			      id),
		     KT_PROC_HYPERVISOR);
	cr_expect_str_eq(id, QID);
	/* --id is Firecracker's only */
	cr_expect_eq(classify(ARGS("cloud-hypervisor\0--id=" QID), id), KT_PROC_HYPERVISOR);
	cr_expect_str_eq(id, "");
	cr_expect_eq(classify(ARGS("firecracker\0--id=../x"), id), KT_PROC_HYPERVISOR);
	cr_expect_str_eq(id, "");
}

Test(proc_classify, shims)
{
	char id[KT_SANDBOX_ID_MAX + 1];
	/* the serving shim containerd's start invocation forks */
	cr_expect_eq(classify(ARGS("/usr/local/bin/containerd-shim-kata-v2\0-namespace\0k8s.io\0-address\0"
				   "/run/containerd/containerd.sock\0-publish-binary\0/usr/bin/containerd\0-id\0" QID "\0-debug"),
			      id),
		     KT_PROC_SHIM);
	cr_expect_str_eq(id, QID);
	cr_expect_eq(classify(ARGS("containerd-shim-kata-v2\0-namespace\0k8s.io\0-address\0/run/c.sock\0-publish-binary\0"
				   "/usr/bin/containerd\0-id\0" QID "\0start"),
			      id),
		     KT_PROC_SHIM_ACTION);
	cr_expect_str_eq(id, QID);
	cr_expect_eq(classify(ARGS("containerd-shim-kata-v2\0-namespace\0k8s.io\0-address\0/run/c.sock\0-publish-binary\0"
				   "/usr/bin/containerd\0-bundle\0/run/containerd/io.containerd.runtime.v2.task/k8s.io/" QID
				   "\0-id\0" QID "\0delete"),
			      id),
		     KT_PROC_SHIM_ACTION);
	cr_expect_str_eq(id, QID);
	/* Go's other spellings; kata-deploy's per-class names */
	cr_expect_eq(classify(ARGS("containerd-shim-kata-qemu-v2\0--namespace=k8s.io\0--id=" QID), id), KT_PROC_SHIM);
	cr_expect_str_eq(id, QID);
	cr_expect_eq(classify(ARGS("containerd-shim-kata-v2\0-id\0" QID "\0--"), id), KT_PROC_SHIM);
	cr_expect_eq(classify(ARGS("containerd-shim-kata-v2\0-id\0" QID "\0--\0start"), id), KT_PROC_SHIM_ACTION);
	/* a flag's value named "start" is no action */
	cr_expect_eq(classify(ARGS("containerd-shim-kata-v2\0-namespace\0start\0-id\0" QID), id), KT_PROC_SHIM);
	cr_expect_str_eq(id, QID);
	/* -id without its value */
	cr_expect_eq(classify(ARGS("containerd-shim-kata-v2\0-id"), id), KT_PROC_SHIM);
	cr_expect_str_eq(id, "");
	/* runc's shim is no Kata shim */
	cr_expect_eq(classify(ARGS("containerd-shim-runc-v2\0-namespace\0k8s.io\0-id\0" QID), id), KT_PROC_OTHER);
	cr_expect_str_eq(id, "");
}

Test(proc_classify, virtiofsd_and_others)
{
	char id[KT_SANDBOX_ID_MAX + 1];
	/* the Go runtime passes the socket as a descriptor */
	cr_expect_eq(classify(ARGS("/opt/kata/libexec/virtiofsd\0--syslog\0--cache=auto\0--shared-dir=/run/kata-containers/"
				   "shared/sandboxes/" QID "/shared\0--fd=3\0--thread-pool-size=1"),
			      id),
		     KT_PROC_VIRTIOFSD);
	cr_expect_str_eq(id, QID);
	cr_expect_eq(classify(ARGS("/usr/libexec/virtiofsd\0--socket-path=/run/vc/vm/" QID "/vhost-fs.sock\0-o\0cache=auto"),
			      id),
		     KT_PROC_VIRTIOFSD);
	cr_expect_str_eq(id, QID);
	/* the C virtiofsd's -o source= */
	cr_expect_eq(classify(ARGS("virtiofsd\0-o\0source=/run/kata-containers/shared/sandboxes/" QID "\0--fd=3"), id),
		     KT_PROC_VIRTIOFSD);
	cr_expect_str_eq(id, QID);
	cr_expect_eq(classify(ARGS("virtiofsd\0--shared-dir=/srv"), id), KT_PROC_VIRTIOFSD);
	cr_expect_str_eq(id, "");
	/* other programs that mention a sandbox are nothing of it */
	cr_expect_eq(classify(ARGS("bash\0-c\0ls /run/vc/vm/" QID "/; echo sandbox-" QID), id), KT_PROC_OTHER);
	cr_expect_str_eq(id, "");
	cr_expect_eq(classify(ARGS("virtiofsd.sh\0--socket-path=/run/vc/vm/" QID "/vhost-fs.sock"), id), KT_PROC_OTHER);
	/* nothing, or an unterminated list */
	cr_expect_eq(classify("", 0, id), KT_PROC_OTHER);
	cr_expect_eq(classify("qemu-kvm", 8, id), KT_PROC_OTHER);
}

Test(proc_classify, kata_paths_in_arguments)
{
	struct kt_sandbox_ref ref;
	const char *shared[] = {
		"--shared-dir=/run/kata-containers/shared/sandboxes/" QID "/shared",
		"source=/run/kata-containers/shared/sandboxes/" QID ",cache=auto",
		"/run/kata-containers/shared/sandboxes/" QID,
	};
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		cr_expect(kt_sandbox_from_arg(shared[i], "", &ref), "%s", shared[i]);
		cr_expect_str_eq(ref.id, QID, "%s", shared[i]);
		cr_expect_null(ref.hypervisor);
	}
	cr_expect_not(kt_sandbox_from_arg("/run/kata-containers/shared/sandboxes/", "", &ref));
	cr_expect_not(kt_sandbox_from_arg("/run/kata-containers/shared/sandboxes/../x", "", &ref));
	cr_expect_not(kt_sandbox_from_arg("/run/kata-containers/shared/" QID "/x", "", &ref));
	cr_expect_str_eq(ref.id, "");
	/* runtime paths anywhere in the argument, under the run root only */
	cr_expect(kt_sandbox_from_arg("unix:/host/run/vc/vm/" QID "/clh.sock,server=on", "/host", &ref));
	cr_expect_str_eq(ref.id, QID);
	cr_expect_str_eq(ref.hypervisor, "cloud-hypervisor");
	cr_expect_not(kt_sandbox_from_arg("unix:/run/vc/vm/" QID "/clh.sock", "/host", &ref));
	cr_expect(kt_sandbox_from_arg("x=/host/run/kata-containers/shared/sandboxes/" QID "/rw", "/host", &ref));
	cr_expect_str_eq(ref.id, QID);
	/* the first of several */
	cr_expect(kt_sandbox_from_arg("/run/foo/x:/run/kata/" OTHER "/a:/run/kata/" QID "/b", "", &ref));
	cr_expect_str_eq(ref.id, OTHER);
}

Test(proc_classify, executables)
{
	cr_expect(kt_shim_exe_match("containerd-shim-kata-v2"));
	cr_expect(kt_shim_exe_match("containerd-shim-kata-clh-v2"));
	cr_expect(kt_shim_exe_match("containerd-shim-kata-x-v2"));
	cr_expect_not(kt_shim_exe_match("containerd-shim-kata--v2"));
	cr_expect_not(kt_shim_exe_match("containerd-shim-kata-v2x"));
	cr_expect_not(kt_shim_exe_match("containerd-shim-runc-v2"));
	cr_expect_not(kt_shim_exe_match("containerd-shim"));
	cr_expect(kt_virtiofsd_exe_match("virtiofsd"));
	cr_expect_not(kt_virtiofsd_exe_match("virtiofsd-helper"));
	cr_expect_eq(kt_pid_parse("1"), 1);
	cr_expect_eq(kt_pid_parse("4194303"), 4194303);
	cr_expect_eq(kt_pid_parse("4194304"), 0);
	cr_expect_eq(kt_pid_parse("0"), 0);
	cr_expect_eq(kt_pid_parse("012"), 0);
	cr_expect_eq(kt_pid_parse("+12"), 0);
	cr_expect_eq(kt_pid_parse("12a"), 0);
	cr_expect_eq(kt_pid_parse(""), 0);
	cr_expect_eq(kt_pid_parse("99999999999999999999"), 0);
}

/* ------------------------------------------------------------ a sandbox's processes */

/* A Go-runtime QEMU sandbox with everything around it that must not be taken for it. */
static void go_qemu_host(void)
{
	FX_PUT_STR("run/vc/sbs/" QID "/persist.json", "{\"HypervisorState\":{\"Pid\":1001,\"Type\":\"qemu\"}}");
	fx_mkdirs("run/vc/vm/" QID);
	FX_PROC(1, 0, 'S', "/sbin/init");
	FX_PROC(2, 0, 'S', NULL); /* kthreadd: no command line */
	FX_PROC(900, 1, 'S', "/usr/local/bin/containerd-shim-kata-v2", "-namespace", "k8s.io", "-address",
		"/run/containerd/containerd.sock", "-publish-binary", "/usr/bin/containerd", "-id", QID);
	/* containerd starting the shim for another container of the pod: short-lived */
	FX_PROC(950, 1, 'S', "/usr/local/bin/containerd-shim-kata-v2", "-namespace", "k8s.io", "-address",
		"/run/containerd/containerd.sock", "-publish-binary", "/usr/bin/containerd", "-id", QID, "start");
	FX_PROC(1001, 900, 'S', "/opt/kata/bin/qemu-system-x86_64", "-name", "sandbox-" QID ",debug-threads=on", "-qmp",
		"unix:{R}/run/vc/vm/" QID "/qmp.sock,server=on,wait=off", "-pidfile", "{R}/run/vc/vm/" QID "/pid");
	/* virtiofsd's sandboxing parent and the child serving the files */
	FX_PROC(1100, 900, 'S', "/opt/kata/libexec/virtiofsd", "--syslog", "--cache=auto",
		"--shared-dir={R}/run/kata-containers/shared/sandboxes/" QID "/shared", "--fd=3");
	FX_PROC(1101, 1100, 'S', "/opt/kata/libexec/virtiofsd", "--syslog", "--cache=auto",
		"--shared-dir={R}/run/kata-containers/shared/sandboxes/" QID "/shared", "--fd=3");
	/* another sandbox's */
	FX_PROC(2000, 1, 'S', "/opt/kata/bin/qemu-system-x86_64", "-name", "sandbox-" OTHER);
	FX_PROC(2001, 1, 'S', "/usr/local/bin/containerd-shim-kata-v2", "-id", OTHER);
	FX_PROC(2002, 1, 'S', "/opt/kata/libexec/virtiofsd",
		"--shared-dir={R}/run/kata-containers/shared/sandboxes/" OTHER "/shared");
	/* a path of the sandbox without the run root is not under this run root */
	FX_PROC(2003, 1, 'S', "/opt/kata/libexec/virtiofsd", "--shared-dir=/run/kata-containers/shared/sandboxes/" QID);
	/* an operator looking at it */
	FX_PROC(3000, 1, 'S', "/bin/bash", "-c", "cat {R}/run/vc/vm/" QID "/pid; echo sandbox-" QID);
}

Test(sandbox_procs, go_runtime_qemu)
{
	go_qemu_host();
	struct kt_sandbox_meta m = meta(QID, "qemu", 1001);
	struct kt_sandbox_procs p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 1001);
	cr_expect_eq(p.shim_pid, 900, "the serving shim, not the start invocation");
	cr_expect_eq(p.virtiofsd_pid, 1101, "the child that serves the files");
	cr_expect_eq(p.flags, 0);

	m = meta(OTHER, "", 0);
	p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 2000);
	cr_expect_eq(p.shim_pid, 2001);
	cr_expect_eq(p.virtiofsd_pid, 2002);
}

Test(sandbox_procs, command_line_wins_over_a_stale_state_file)
{
	go_qemu_host();
	FX_PROC(1500, 1, 'S', "/usr/sbin/sshd", "-D"); /* the pid reused */
	struct kt_sandbox_meta m = meta(QID, "qemu", 1500);
	struct kt_sandbox_procs p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 1001);
	cr_expect_eq(p.flags, 0);
}

Test(sandbox_procs, only_a_start_invocation_is_no_shim)
{
	FX_PROC(950, 1, 'S', "containerd-shim-kata-v2", "-namespace", "k8s.io", "-id", QID, "start");
	FX_PROC(951, 1, 'S', "containerd-shim-kata-v2", "-namespace", "k8s.io", "-bundle", "/b", "-id", QID, "delete");
	struct kt_sandbox_meta m = meta(QID, "", 0);
	struct kt_sandbox_procs p = find(&m);
	cr_expect_eq(p.shim_pid, 0);
	cr_expect_eq(p.hypervisor_pid, 0);
	cr_expect_eq(p.virtiofsd_pid, 0);
}

Test(sandbox_procs, cloud_hypervisor)
{
	fx_mkdirs("run/vc/vm/" QID);
	FX_PROC(700, 1, 'S', "containerd-shim-kata-v2", "-namespace", "default", "-id", QID, "-address", "/run/c.sock");
	FX_PROC(701, 700, 'S', "/opt/kata/bin/cloud-hypervisor", "--api-socket", "{R}/run/vc/vm/" QID "/clh-api.sock");
	FX_PROC(702, 700, 'S', "/opt/kata/libexec/virtiofsd", "--socket-path={R}/run/vc/vm/" QID "/virtiofsd.sock",
		"--shared-dir={R}/run/kata-containers/shared/sandboxes/" QID "/shared");
	struct kt_sandbox_meta m = meta(QID, "cloud-hypervisor", 0);
	struct kt_sandbox_procs p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 701);
	cr_expect_eq(p.shim_pid, 700);
	cr_expect_eq(p.virtiofsd_pid, 702);
	cr_expect_eq(p.flags, 0);
}

Test(sandbox_procs, jailed_firecracker)
{
	fx_mkdirs("run/vc/firecracker/" QID "/root");
	FX_PROC(800, 1, 'S', "containerd-shim-kata-v2", "-id", QID);
	/* still the jailer: not the hypervisor yet */
	FX_PROC(801, 800, 'S', "/opt/kata/bin/jailer", "--id", QID, "--exec-file", "/opt/kata/bin/firecracker");
	FX_PROC(802, 800, 'S', "/firecracker", "--id=" QID, "--start-time-us=12", "--config-file", "/fcConfig.json");
	struct kt_sandbox_meta m = meta(QID, "firecracker", 0);
	struct kt_sandbox_procs p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 802);
	cr_expect_eq(p.shim_pid, 800);
	cr_expect_eq(p.virtiofsd_pid, 0);
}

Test(sandbox_procs, runtime_rs_state_file_pid)
{
	fx_mkdirs("run/kata/" QID);
	FX_PROC(600, 1, 'S', "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2", "-namespace", "k8s.io", "-id", QID);
	/* a hypervisor whose command line names no sandbox (its socket passed as a descriptor) */
	FX_PROC(601, 600, 'S', "/opt/kata/bin/cloud-hypervisor", "--api-socket", "fd=3");
	FX_PROC(602, 600, 'S', "/opt/kata/libexec/virtiofsd", "--socket-path={R}/run/kata/" QID "/root/virtiofsd.sock",
		"--shared-dir={R}/run/kata-containers/shared/sandboxes/" QID "/rw");
	struct kt_sandbox_meta m = meta(QID, "cloud-hypervisor", 601);
	struct kt_sandbox_procs p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 601);
	cr_expect_eq(p.flags, KT_PROCS_HV_FROM_STATE);
	cr_expect_eq(p.shim_pid, 600);
	cr_expect_eq(p.virtiofsd_pid, 602);

	/* the state file's process gone, or a zombie: no hypervisor */
	m = meta(QID, "cloud-hypervisor", 640);
	p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 0);
	cr_expect_eq(p.flags, 0);
	FX_PROC(641, 600, 'Z', NULL);
	m = meta(QID, "cloud-hypervisor", 641);
	p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 0);
}

Test(sandbox_procs, dragonball_runs_in_the_shim)
{
	fx_mkdirs("run/kata/" QID "/root");
	FX_PROC(500, 1, 'S', "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2", "-namespace", "k8s.io", "-id", QID);
	struct kt_sandbox_meta m = meta(QID, "dragonball", 0);
	struct kt_sandbox_procs p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 500);
	cr_expect_eq(p.shim_pid, 500);
	cr_expect_eq(p.flags, KT_PROCS_HV_IN_SHIM);
}

Test(sandbox_procs, several_candidates)
{
	/* two unrelated virtiofsd naming the sandbox: the lowest pid; a chain of three: the deepest */
	FX_PROC(410, 1, 'S', "virtiofsd", "--shared-dir={R}/run/kata-containers/shared/sandboxes/" QID "/a");
	FX_PROC(400, 1, 'S', "virtiofsd", "--shared-dir={R}/run/kata-containers/shared/sandboxes/" QID "/b");
	struct kt_sandbox_meta m = meta(QID, "", 0);
	cr_expect_eq(find(&m).virtiofsd_pid, 400);
	FX_PROC(420, 410, 'S', "virtiofsd", "--shared-dir={R}/run/kata-containers/shared/sandboxes/" QID "/a");
	FX_PROC(405, 420, 'S', "virtiofsd", "--shared-dir={R}/run/kata-containers/shared/sandboxes/" QID "/a");
	cr_expect_eq(find(&m).virtiofsd_pid, 405);
}

Test(sandbox_procs, no_sandbox_and_no_proc)
{
	go_qemu_host();
	struct kt_sandbox_meta m = meta("", "", 0);
	struct kt_sandbox_procs p;
	cr_expect_eq(kt_sandbox_procs_find(fx_proc_root(), fx_root, &m, &p), 0);
	cr_expect_eq(p.hypervisor_pid + p.shim_pid + p.virtiofsd_pid, 0, "no sandbox names \"\"");
	m = meta(QID, "", 0);
	cr_expect_eq(kt_sandbox_procs_find(fx_at("no-proc"), fx_root, &m, &p), -1);
}

/* ------------------------------------------------------------ vhost workers */

Test(proc_classify, vhost_worker_names)
{
	cr_expect_eq(kt_vhost_worker_owner("vhost-1001"), 1001);
	cr_expect_eq(kt_vhost_worker_owner("vhost-4194303"), 4194303);
	cr_expect_eq(kt_vhost_worker_owner("vhost-4194304"), 0);
	cr_expect_eq(kt_vhost_worker_owner("vhost-"), 0);
	cr_expect_eq(kt_vhost_worker_owner("vhost-01001"), 0);
	cr_expect_eq(kt_vhost_worker_owner("vhost-1001x"), 0);
	cr_expect_eq(kt_vhost_worker_owner("vhost-+1"), 0);
	cr_expect_eq(kt_vhost_worker_owner("vhost1001"), 0);
	cr_expect_eq(kt_vhost_worker_owner("Vhost-1001"), 0);
	cr_expect_eq(kt_vhost_worker_owner("kworker/0:1"), 0);
	cr_expect_eq(kt_vhost_worker_owner(""), 0);
}

/*
 * Before Linux 6.4 each vhost device of QEMU has a kernel thread of its
 * own named after the QEMU thread that took ownership of the device.
 */
Test(sandbox_procs, vhost_worker_kernel_threads)
{
	go_qemu_host();
	fx_kthread(2, 'S', "kthreadd");
	fx_kthread(30, 'I', "kworker/0:1");
	fx_kthread(1010, 'S', "vhost-1001");   /* vhost-vsock, owned by QEMU's main thread */
	fx_mkdirs("proc/1001/task/1001");
	fx_mkdirs("proc/1001/task/1005");
	fx_kthread(1011, 'I', "vhost-1005");   /* vhost-net, owned by another QEMU thread */
	fx_kthread(2010, 'S', "vhost-2000");   /* the other sandbox's QEMU */
	fx_kthread(1012, 'S', "vhost-1006");   /* a thread that is not QEMU's */
	fx_kthread(1013, 'Z', "vhost-1001");   /* exited */
	FX_PROC(1014, 1, 'S', "vhost-1001");   /* a program that names itself so: it has a command line */
	/* no command line, but no kernel thread either (flags 0x400100) */
	fx_put("proc/1015/cmdline", "", 0);
	FX_PUT_STR("proc/1015/stat", "1015 (vhost-1001) S 1 1015 1015 0 -1 4194560 0 0 0 0 1 2 0 0 20 0 1 0 9 0 0\n");
	/* a stat cut short */
	fx_put("proc/1016/cmdline", "", 0);
	FX_PUT_STR("proc/1016/stat", "1016 (vhost-1001) S 2");

	struct kt_sandbox_meta m = meta(QID, "qemu", 1001);
	struct kt_sandbox_procs p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 1001);
	cr_expect_eq(p.n_vhost, 2);
	cr_expect_eq(p.vhost_found, 2);
	cr_expect_eq(p.vhost_pids[0], 1010);
	cr_expect_eq(p.vhost_pids[1], 1011);
	cr_expect_eq(p.shim_pid, 900, "the rest as without workers");
	cr_expect_eq(p.virtiofsd_pid, 1101);

	m = meta(OTHER, "", 0);
	p = find(&m);
	cr_expect_eq(p.n_vhost, 1);
	cr_expect_eq(p.vhost_pids[0], 2010);
}

/* From Linux 6.4 a vhost worker is a thread of QEMU: its tgid already is the hypervisor's. */
Test(sandbox_procs, vhost_workers_inside_the_hypervisor)
{
	go_qemu_host();
	fx_mkdirs("proc/1001/task/1001");
	FX_PUT_STR("proc/1001/task/1020/comm", "vhost-1001\n");
	struct kt_sandbox_meta m = meta(QID, "qemu", 1001);
	struct kt_sandbox_procs p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 1001);
	cr_expect_eq(p.n_vhost, 0);
	cr_expect_eq(p.vhost_found, 0);
}

Test(sandbox_procs, vhost_workers_kept_lowest_first)
{
	go_qemu_host();
	/* seven workers, listed highest first: the five lowest are kept, all seven counted */
	for (unsigned pid = 1046; pid >= 1040; pid--)
		fx_kthread(pid, 'S', "vhost-1001");
	struct kt_sandbox_meta m = meta(QID, "qemu", 1001);
	struct kt_sandbox_procs p = find(&m);
	cr_expect_eq(p.vhost_found, 7);
	cr_expect_eq(p.n_vhost, KT_PROCS_VHOST_MAX);
	for (size_t i = 0; i < KT_PROCS_VHOST_MAX; i++)
		cr_expect_eq(p.vhost_pids[i], 1040 + i, "worker %zu", i);
}

Test(sandbox_procs, vhost_workers_need_a_hypervisor)
{
	/* the state file's hypervisor, alive: its workers too */
	fx_mkdirs("run/kata/" QID);
	FX_PROC(601, 1, 'S', "/opt/kata/bin/qemu-system-x86_64", "-machine", "q35");
	fx_kthread(610, 'S', "vhost-601");
	struct kt_sandbox_meta m = meta(QID, "qemu", 601);
	struct kt_sandbox_procs p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 601);
	cr_expect_eq(p.flags, KT_PROCS_HV_FROM_STATE);
	cr_expect_eq(p.n_vhost, 1);
	cr_expect_eq(p.vhost_pids[0], 610);
	/* no hypervisor found: no workers, whatever their names */
	m = meta(QID, "qemu", 0);
	p = find(&m);
	cr_expect_eq(p.hypervisor_pid, 0);
	cr_expect_eq(p.n_vhost, 0);
	cr_expect_eq(p.vhost_found, 0);
}

/* ------------------------------------------------------------ /proc reads */

Test(sandbox_procs, process_states)
{
	uint32_t ppid;
	FX_PROC(10, 7, 'S', "sleep", "1");
	FX_PROC(11, 10, 'Z', NULL);
	/* a name with ") " in it: the state follows the last ')' */
	FX_PUT_STR("proc/12/stat", "12 (a) b) R 10 12 12\n");
	cr_expect_eq(kt_proc_state(fx_proc_root(), 10, &ppid), KT_PROC_LIVE);
	cr_expect_eq(ppid, 7);
	cr_expect_eq(kt_proc_state(fx_proc_root(), 11, &ppid), KT_PROC_ZOMBIE);
	cr_expect_eq(ppid, 10);
	cr_expect_eq(kt_proc_state(fx_proc_root(), 12, &ppid), KT_PROC_LIVE);
	cr_expect_eq(ppid, 10);
	cr_expect_eq(kt_proc_state(fx_proc_root(), 13, &ppid), KT_PROC_ABSENT);
	cr_expect_eq(ppid, 0);
	cr_expect_eq(kt_proc_state(fx_proc_root(), 0, NULL), KT_PROC_ABSENT);
	/* a directory without a readable stat is still a process */
	fx_mkdirs("proc/14");
	cr_expect_eq(kt_proc_state(fx_proc_root(), 14, &ppid), KT_PROC_LIVE);
	/* the real /proc: this process */
	cr_expect_eq(kt_proc_state("/proc", (uint32_t)getpid(), &ppid), KT_PROC_LIVE);
	cr_expect_eq(ppid, (uint32_t)getppid());
}

/*
 * A command line of total bytes (NULs included) whose last argument is
 * "sandbox-<QID>" after "-name", the rest filler.
 */
static void long_qemu(unsigned pid, size_t total)
{
	static const char head[] = "qemu-system-x86_64\0-append\0";
	static const char tail[] = "-name\0sandbox-" QID;
	char *buf = malloc(total);
	size_t fill = total - (sizeof(head) - 1) - sizeof(tail) - 1; /* filler and its NUL */
	cr_assert_not_null(buf);
	memcpy(buf, head, sizeof(head) - 1);
	memset(buf + sizeof(head) - 1, 'x', fill);
	buf[sizeof(head) - 1 + fill] = '\0';
	memcpy(buf + sizeof(head) + fill, tail, sizeof(tail));
	cr_assert_eq(sizeof(head) + fill + sizeof(tail), total);
	char rel[64];
	snprintf(rel, sizeof(rel), "proc/%u/cmdline", pid);
	fx_put(rel, buf, total);
	free(buf);
}

Test(sandbox_procs, command_line_read_limit)
{
	char id[KT_SANDBOX_ID_MAX + 1];
	long_qemu(100, KT_PROCS_CMDLINE_MAX);
	cr_expect_eq(kt_proc_of_pid(fx_proc_root(), fx_root, 100, id), KT_PROC_HYPERVISOR);
	cr_expect_str_eq(id, QID, "a command line of exactly the limit is read whole");
	/* one byte more: the last argument is cut, and dropped rather than read as another id */
	long_qemu(100, KT_PROCS_CMDLINE_MAX + 1);
	cr_expect_eq(kt_proc_of_pid(fx_proc_root(), fx_root, 100, id), KT_PROC_HYPERVISOR);
	cr_expect_str_eq(id, "");
	struct kt_sandbox_meta m = meta(QID, "", 0);
	cr_expect_eq(find(&m).hypervisor_pid, 0);
	/* an unterminated last argument (a process that rewrote its arguments) still counts */
	fx_put("proc/101/cmdline", "qemu-kvm\0-name\0sandbox-" QID, sizeof("qemu-kvm\0-name\0sandbox-" QID) - 1);
	cr_expect_eq(kt_proc_of_pid(fx_proc_root(), fx_root, 101, id), KT_PROC_HYPERVISOR);
	cr_expect_str_eq(id, QID);
	/* gone */
	cr_expect_eq(kt_proc_of_pid(fx_proc_root(), fx_root, 102, id), KT_PROC_OTHER);
	cr_expect_str_eq(id, "");
}

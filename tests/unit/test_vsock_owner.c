/* SPDX-License-Identifier: Apache-2.0 */
/* Guest CID -> hypervisor process and sandbox, on a fake /proc and /run. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/vsock_owner.h"

static char root[256];

static void put(const char *rel, const void *data, size_t n)
{
	char path[512], cmd[600];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	cr_assert_eq(system(cmd), 0);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	fwrite(data, 1, n, f);
	fclose(f);
}

#define PUT_STR(rel, s) put(rel, s, sizeof(s) - 1)

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/kt-owner.XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	/* a QEMU for CID 3, another for CID 33, and an unrelated process */
	PUT_STR("proc/4242/comm", "qemu-system-x86\n");
	PUT_STR("proc/4242/cmdline", "/usr/bin/qemu-system-x86_64\0-name\0sandbox-0123abcd,debug-threads=on\0"
				      "-device\0vhost-vsock-pci,disable-modern=false,vhostfd=3,id=vsock-3,guest-cid=3\0");
	PUT_STR("proc/5000/comm", "qemu-system-x86\n");
	PUT_STR("proc/5000/cmdline", "qemu\0-name\0sandbox-other\0-device\0vhost-vsock-pci,guest-cid=33\0");
	PUT_STR("proc/77/comm", "bash\n");
	PUT_STR("proc/77/cmdline", "bash\0-c\0echo guest-cid=3x\0");
	/* Kata's persisted state for a sandbox on CID 7, hypervisor pid 6000 */
	PUT_STR("run/vc/sbs/sb7/persist.json",
		"{\"AgentState\":{\"URL\":\"vsock://7:1024\"},\"HypervisorState\":{\"Pid\":6000}}");
	PUT_STR("proc/6000/comm", "qemu-system-x86\n");
	PUT_STR("proc/6000/cmdline", "qemu\0-machine\0q35\0");
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	system(cmd);
}

static const char *proc(void)
{
	static char p[300];
	snprintf(p, sizeof(p), "%s/proc", root);
	return p;
}

TestSuite(vsock_owner, .init = setup, .fini = teardown);

Test(vsock_owner, from_the_vhost_worker_name)
{
	struct kt_vsock_owner o;
	cr_assert(kt_vsock_owner_lookup(3, "vhost-4242", root, proc(), &o));
	cr_expect_eq(o.pid, 4242);
	cr_expect_str_eq(o.comm, "qemu-system-x86");
	cr_expect_str_eq(o.hypervisor, "qemu");
	cr_expect_str_eq(o.sandbox, "0123abcd");
}

Test(vsock_owner, from_the_qemu_command_line)
{
	struct kt_vsock_owner o;
	/* no worker name: the process with guest-cid=3 (not 33, not "3x") */
	cr_assert(kt_vsock_owner_lookup(3, "kworker/1:2", root, proc(), &o));
	cr_expect_eq(o.pid, 4242);
	cr_expect_str_eq(o.sandbox, "0123abcd");
	cr_assert(kt_vsock_owner_lookup(33, NULL, root, proc(), &o));
	cr_expect_eq(o.pid, 5000);
	cr_expect_str_eq(o.sandbox, "other");
}

Test(vsock_owner, from_kata_persist_json)
{
	struct kt_vsock_owner o;
	cr_assert(kt_vsock_owner_lookup(7, NULL, root, proc(), &o));
	cr_expect_str_eq(o.sandbox, "sb7");
	cr_expect_eq(o.pid, 6000);
	cr_expect_str_eq(o.hypervisor, "qemu");
}

Test(vsock_owner, unknown_and_local_cids)
{
	struct kt_vsock_owner o;
	cr_expect_not(kt_vsock_owner_lookup(9, NULL, root, proc(), &o));
	cr_expect_eq(o.pid, 0);
	cr_expect_str_eq(o.sandbox, "");
	/* loopback and host: nothing behind them, whatever the thread is called */
	cr_expect_not(kt_vsock_owner_lookup(1, "vhost-4242", root, proc(), &o));
	cr_expect_not(kt_vsock_owner_lookup(2, NULL, root, proc(), &o));
}

Test(vsock_owner, hypervisor_names)
{
	cr_expect_str_eq(kt_hypervisor_from_comm("qemu-system-x86"), "qemu");
	cr_expect_str_eq(kt_hypervisor_from_comm("cloud-hyperviso"), "cloud-hypervisor");
	cr_expect_str_eq(kt_hypervisor_from_comm("firecracker"), "firecracker");
	cr_expect_null(kt_hypervisor_from_comm("bash"));
}

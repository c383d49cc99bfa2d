/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/vsock_owner.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/hypervisors.h"
#include "sandbox/kata_dirs.h"
#include "sandbox/qemu_args.h"
#include "sandbox/sandbox_meta.h"

#define CMDLINE_MAX (64u << 10)

const char *kt_hypervisor_from_comm(const char *comm)
{
	return kt_hv_of_comm(comm);
}

/* Reads a small /proc file; returns its length or -1. NUL-terminated. */
static long read_small(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (long)n;
}

/* The sandbox of a QEMU command line (NUL-separated): its "-name sandbox-<id>". */
static void sandbox_from_cmdline(const char *cmd, long n, char *out)
{
	for (long i = 0; i < n;) {
		const char *arg = cmd + i;
		i += (long)strlen(arg) + 1;
		if (kt_qemu_arg_is_name(arg)) {
			if (i < n)
				kt_qemu_name_sandbox(cmd + i, out);
			return;
		}
	}
}

/* Does a command line configure a vsock device with this guest CID? */
static bool cmdline_has_cid(const char *cmd, long n, uint32_t cid)
{
	for (long i = 0; i < n;) {
		const char *arg = cmd + i;
		if (kt_qemu_arg_guest_cid(arg) == cid)
			return true;
		i += (long)strlen(arg) + 1;
	}
	return false;
}

static void fill_from_pid(const char *proc_root, struct kt_vsock_owner *o)
{
	char path[128];
	char *buf = malloc(CMDLINE_MAX);
	if (!buf)
		return;
	snprintf(path, sizeof(path), "%s/%u/comm", proc_root, o->pid);
	if (read_small(path, buf, sizeof(o->comm)) < 0) {
		kt_debug("vsock owner: %s: %s", path, strerror(errno));
	} else {
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(o->comm, sizeof(o->comm), "%s", buf);
		o->hypervisor = kt_hypervisor_from_comm(o->comm);
	}
	snprintf(path, sizeof(path), "%s/%u/cmdline", proc_root, o->pid);
	long n = read_small(path, buf, CMDLINE_MAX);
	if (n > 0 && !o->sandbox[0])
		sandbox_from_cmdline(buf, n, o->sandbox);
	free(buf);
}

/* Kata's persist.json files: the sandbox whose agent URL has this CID. */
static void from_persist(uint32_t cid, const char *run_root, struct kt_vsock_owner *o)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s" KT_KATA_GO_SBS_DIR, run_root);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	struct kt_sandbox_meta m;
	while ((e = readdir(d))) {
		/* persist.json and the pid file only: no bundles */
		if (kt_sandbox_meta_fill_ex(run_root, e->d_name, NULL, 0, &m) != 0 || m.guest_cid != cid)
			continue;
		memcpy(o->sandbox, m.id, sizeof(o->sandbox));
		if (!o->pid)
			o->pid = m.hypervisor_pid;
		break;
	}
	closedir(d);
}

/* A process whose command line sets guest-cid=<cid>. */
static uint32_t pid_from_proc(uint32_t cid, const char *proc_root)
{
	DIR *d = opendir(proc_root);
	char *buf = malloc(CMDLINE_MAX);
	uint32_t found = 0;
	struct dirent *e;

	while (d && buf && !found && (e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		char path[300];
		snprintf(path, sizeof(path), "%s/%s/cmdline", proc_root, e->d_name);
		long n = read_small(path, buf, CMDLINE_MAX);
		if (n > 0 && cmdline_has_cid(buf, n, cid))
			found = (uint32_t)strtoul(e->d_name, NULL, 10);
	}
	free(buf);
	if (d)
		closedir(d);
	return found;
}

bool kt_vsock_owner_lookup(uint32_t cid, const char *writer_comm, const char *run_root,
			   const char *proc_root, struct kt_vsock_owner *out)
{
	unsigned pid;
	char rest;

	memset(out, 0, sizeof(*out));
	if (!run_root)
		run_root = "";
	if (!proc_root)
		proc_root = "/proc";
	/* Host-local CIDs (0 hypervisor, 1 loopback, 2 host) have no guest behind them. */
	if (cid <= 2)
		return false;
	if (writer_comm && sscanf(writer_comm, "vhost-%u%c", &pid, &rest) == 1)
		out->pid = pid;
	from_persist(cid, run_root, out);
	if (!out->pid)
		out->pid = pid_from_proc(cid, proc_root);
	if (out->pid)
		fill_from_pid(proc_root, out);
	return out->pid || out->sandbox[0];
}

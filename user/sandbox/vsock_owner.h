/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who is behind a guest CID on this host: the hypervisor process and the
 * Kata sandbox (WIRE-FORMATS §4.1, §4.2). Sources, in order:
 *  1. the vhost worker that moved the packet: its name is "vhost-<pid>"
 *     where pid is the QEMU process that owns the device;
 *  2. Kata's persisted sandbox state, <run-root>/run/vc/sbs/<id>/persist.json
 *     ("AgentState":{"URL":"vsock://<cid>:1024"}, "HypervisorState":{"Pid":N});
 *  3. a process whose command line has guest-cid=<cid> (the QEMU device).
 * With a pid, /proc/<pid>/cmdline gives the sandbox id from QEMU's
 * "-name sandbox-<id>" and /proc/<pid>/comm the process name.
 */
#ifndef KT_VSOCK_OWNER_H
#define KT_VSOCK_OWNER_H

#include <stdbool.h>
#include <stdint.h>

#include "sandbox/sandbox_path.h"

struct kt_vsock_owner {
	uint32_t pid;          /* 0: unknown */
	char comm[16];         /* process name, "" if unknown */
	const char *hypervisor; /* "qemu", "firecracker", ... or NULL */
	char sandbox[KT_SANDBOX_ID_MAX + 1]; /* "" if unknown */
};

/*
 * writer_comm: name of the task that moved the bytes (may be NULL).
 * run_root: prefix of Kata's /run paths ("" for /). proc_root: "/proc"
 * normally (tests point it elsewhere). Returns true if anything was found.
 */
bool kt_vsock_owner_lookup(uint32_t cid, const char *writer_comm, const char *run_root,
			   const char *proc_root, struct kt_vsock_owner *out);

/* "qemu" for "qemu-system-x86", "cloud-hypervisor" for "cloud-hyperviso", ... */
const char *kt_hypervisor_from_comm(const char *comm);

#endif

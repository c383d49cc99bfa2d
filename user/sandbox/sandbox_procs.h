/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Kata sandbox's host processes, from /proc: its hypervisor, its runtime
 * shim, its virtiofsd, and the hypervisor's vhost worker kernel threads. Also the one place that spells the executables of
 * the shim and of virtiofsd (the hypervisors' are in sandbox/hypervisors.h).
 *
 * Takes: a proc root ("/proc"; a fake tree in tests), the run root (the
 * prefix of Kata's /run paths, "" for /: paths in command lines are matched
 * with it in front, as discovery and the VM spans do), and what is known of
 * the sandbox (struct kt_sandbox_meta: its id, its state file's hypervisor
 * pid, its hypervisor). Gives: their process ids, 0 for one not found.
 *
 * How each is found, in one pass over <proc_root>/<pid>/cmdline (the
 * NUL-separated arguments; argv[0]'s base name is the executable):
 *
 *  hypervisor   an executable of the hypervisor table (kt_hv_exe_match:
 *               qemu-system-*, qemu-kvm, cloud-hypervisor, firecracker,
 *               stratovirt) whose arguments name the sandbox: QEMU's
 *               "-name sandbox-<id>" (sandbox/qemu_args.h); else a path
 *               in one of the sandbox's Kata directories in any argument
 *               (kt_sandbox_from_arg: Cloud Hypervisor's --api-socket
 *               /run/vc/vm/<id>/clh-api.sock, QEMU's -qmp
 *               unix:/run/vc/vm/<id>/qmp.sock, runtime-rs's /run/kata/<id>/...,
 *               a jail /run/vc/firecracker/<id>/root/...); else the value of
 *               the hypervisor's id option (Firecracker started by Kata's
 *               jailer: --id=<id>, its other paths being inside the chroot).
 *               When no command line names it: the state file's pid
 *               (persist.json HypervisorState.Pid, state.json hypervisor.pid,
 *               QEMU's pid file) if that process is alive. A live process
 *               named by its command line wins over the state file's pid
 *               (which may be stale). Dragonball runs inside the runtime-rs
 *               shim: its hypervisor is the shim.
 *  shim         containerd-shim-kata-v2 (also containerd-shim-kata-*-v2, the
 *               per-runtime-class names kata-deploy installs; runtime-rs
 *               runs the same names) whose flags say -id <id> (Go's flag
 *               syntax: -id <id>, -id=<id>, --id ...). containerd also runs
 *               short-lived invocations with the same flags and an action
 *               argument ("... -id <id> start", "... -bundle B -id <id>
 *               delete"); the sandbox's shim is the serving one, whose
 *               arguments are flags only.
 *  virtiofsd    an executable named virtiofsd (any directory:
 *               /usr/libexec/virtiofsd, /opt/kata/libexec/virtiofsd) whose
 *               arguments hold a path of the sandbox: the shared directory
 *               KT_KATA_SHARED_DIR/<id>/... (--shared-dir=, or the C
 *               virtiofsd's -o source=; the Go runtime passes the socket as
 *               --fd=N) or a socket in its Kata directory (--socket-path=
 *               /run/vc/vm/<id>/vhost-fs.sock for QEMU,
 *               /run/vc/vm/<id>/virtiofsd.sock for Cloud Hypervisor,
 *               /run/kata/<id>/... for runtime-rs).
 *
 *  vhost workers  the kernel threads that move the virtqueues of the
 *               hypervisor's vhost devices (vhost-vsock, vhost-net) when they
 *               are processes of their own: an entry of the proc root with
 *               no command line, PF_KTHREAD in its stat flags, not a zombie,
 *               and the name (stat's comm) "vhost-<pid>", <pid> the
 *               hypervisor's or one of its threads' (<proc_root>/<hv>/task/
 *               <pid>): the thread that took the device's ownership. Linux
 *               makes them so before 6.4; from 6.4 on a vhost worker is a
 *               thread of the hypervisor (a vhost_task), absent from the
 *               proc root's listing and under the hypervisor's own tgid,
 *               so none is found. What /proc shows decides, not a kernel
 *               version.
 *
 * virtiofsd forks a child that serves the file system while its parent
 * waits (its sandboxing), both with the same command line: of several
 * candidates for one role, one whose parent is also a candidate is taken
 * (the deepest), then the lowest pid. Zombies have an empty command line
 * and are never candidates.
 *
 * Bounded: a command line is read up to KT_PROCS_CMDLINE_MAX bytes (a cut
 * last argument is dropped), /proc/<pid>/stat up to KT_PROCS_STAT_MAX, at
 * most KT_PROCS_SCAN_MAX entries of the proc root, KT_PROCS_CANDIDATES
 * candidates per role, KT_PROCS_VHOST_SEEN vhost workers of any hypervisor
 * remembered during the pass, KT_PROCS_VHOST_MAX of the sandbox's kept
 * (the lowest pids; vhost_found counts them all). Files are opened below the proc root without
 * following symbolic links (base/safe_open.h).
 */
#ifndef KT_SANDBOX_PROCS_H
#define KT_SANDBOX_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox_meta.h"
#include "sandbox/sandbox_path.h"

#define KT_PROCS_CMDLINE_MAX (64u << 10)
#define KT_PROCS_STAT_MAX 1024u
#define KT_PROCS_SCAN_MAX (1u << 22) /* the kernel's PID_MAX_LIMIT */
#define KT_PROCS_CANDIDATES 8
#define KT_PID_MAX ((1u << 22) - 1)  /* the largest pid a kernel gives (PID_MAX_LIMIT - 1) */
#define KT_PROCS_VHOST_MAX 5         /* a sandbox's vhost worker threads kept */
#define KT_PROCS_VHOST_SEEN 65536    /* vhost worker threads of the node remembered in one pass */
#define KT_PROCS_VHOST_PREFIX "vhost-" /* a vhost worker's name: this, then its owner's pid */

/* The runtime shim: a base name starting so and ending in KT_SHIM_EXE_SUFFIX. */
#define KT_SHIM_EXE "containerd-shim-kata-v2"
#define KT_SHIM_EXE_PREFIX "containerd-shim-kata-"
#define KT_SHIM_EXE_SUFFIX "-v2"
#define KT_VIRTIOFSD_EXE "virtiofsd"

/* A pid as /proc names it: decimal, no sign or leading zero, 1 .. KT_PID_MAX; 0 for anything else. */
uint32_t kt_pid_parse(const char *s);

/* What a process is to a sandbox. */
enum kt_proc_role {
	KT_PROC_OTHER = 0,
	KT_PROC_HYPERVISOR,
	KT_PROC_SHIM,        /* the serving shim */
	KT_PROC_SHIM_ACTION, /* a shim invocation with an action (start, delete): not the sandbox's */
	KT_PROC_VIRTIOFSD,
};

/* Is base (an executable's base name) the runtime shim's? virtiofsd's? */
bool kt_shim_exe_match(const char *base);
bool kt_virtiofsd_exe_match(const char *base);

/*
 * The role of a command line (args: n bytes of NUL-separated arguments,
 * argv[0] first) and the sandbox it names (into sandbox, "" if none), by
 * the rules above; run_root prefixes the paths looked for.
 */
enum kt_proc_role kt_proc_classify(const char *args, size_t n, const char *run_root,
				   char sandbox[KT_SANDBOX_ID_MAX + 1]);

enum kt_proc_state {
	KT_PROC_ABSENT = 0, /* no <proc_root>/<pid> */
	KT_PROC_ZOMBIE,     /* exited, not reaped yet */
	KT_PROC_LIVE,
};

/* Whether process pid is there; *ppid (may be NULL) its parent's pid, 0 if unknown. */
enum kt_proc_state kt_proc_state(const char *proc_root, uint32_t pid, uint32_t *ppid);

/*
 * The role of process pid and the sandbox its command line names (0 ..
 * KT_PROC_OTHER with "" when it has none, is gone or cannot be read).
 */
enum kt_proc_role kt_proc_of_pid(const char *proc_root, const char *run_root, uint32_t pid,
				 char sandbox[KT_SANDBOX_ID_MAX + 1]);

#define KT_PROCS_HV_FROM_STATE 0x1u /* hypervisor_pid is the state file's (no command line named it) */
#define KT_PROCS_HV_IN_SHIM 0x2u    /* the hypervisor runs inside the shim (Dragonball) */

struct kt_sandbox_procs {
	uint32_t hypervisor_pid; /* 0: not found */
	uint32_t shim_pid;
	uint32_t virtiofsd_pid;
	uint32_t flags;          /* KT_PROCS_* */
	uint32_t vhost_pids[KT_PROCS_VHOST_MAX]; /* the hypervisor's vhost worker kernel threads, lowest first */
	size_t n_vhost;          /* in vhost_pids */
	size_t vhost_found;      /* found: more than n_vhost when some did not fit */
};

/*
 * The owner's pid in a vhost worker's name ("vhost-1234": 1234), 0 when
 * comm is no such name.
 */
uint32_t kt_vhost_worker_owner(const char *comm);

/*
 * Sandbox m->id's processes (out zeroed first), in one pass over
 * proc_root (the vhost workers of the hypervisor found are checked
 * against its task directory afterwards). Returns 0, or -1 with errno when proc_root cannot be read.
 */
int kt_sandbox_procs_find(const char *proc_root, const char *run_root, const struct kt_sandbox_meta *m,
			  struct kt_sandbox_procs *out);

#endif

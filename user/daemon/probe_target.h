/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a probe is pointed at, and the names its specs may use.
 *
 * Takes a TARGET as written on the command line:
 *   node                 every process of the node (no filter)
 *   sandbox/ID           a Kata sandbox by id
 *   pod/NAMESPACE/NAME   a Kata pod, through the pods' CRI annotations
 *   pid/PID              one process (of a sandbox or not)
 * Gives the sandbox it belongs to with its description, the host
 * processes of that sandbox (hypervisor, runtime shim, virtiofsd) and the
 * process ids the kernel side filters on.
 *
 * Variables in probe specs and bpftrace programs ($name or ${name}):
 * $sandbox_id, $hypervisor_pid, $shim_pid, $virtiofsd_pid, and $pid for a
 * pid/ target. $container_pid on a Kata target is an error saying why:
 * the container's processes run inside the VM and have no host pid.
 *
 * Every error is one line naming the thing (the target, the sandbox, the
 * pod, the process, the variable) and saying what exists instead.
 */
#ifndef KT_PROBE_TARGET_H
#define KT_PROBE_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox_meta.h"

enum kt_target_kind {
	KT_TARGET_NODE,
	KT_TARGET_SANDBOX,
	KT_TARGET_POD,
	KT_TARGET_PID,
};

/* Where a target is looked up: "" / "/proc" normally, a fake tree in tests. */
struct kt_target_env {
	const char *run_root;   /* prefix of Kata's and the CRI's /run paths ("" for /) */
	const char *proc_root;  /* "/proc" */
	const char *const *bundle_patterns; /* NULL: the defaults (sandbox/oci_bundle.h) */
	size_t n_bundle_patterns;
};

/* Most process ids a target filters on. */
#define KT_TARGET_MAX_PIDS 8

struct kt_probe_target {
	enum kt_target_kind kind;
	uint32_t pid;                      /* pid/: the process */
	struct kt_sandbox_meta sandbox;    /* sandbox.id "" for node, or a pid of no sandbox */
	uint32_t hypervisor_pid;           /* 0: not found */
	uint32_t shim_pid;
	uint32_t virtiofsd_pid;
};

/* 0, or -1 with err (the exit status of the probe command is then non-zero). */
int kt_probe_target_resolve(const char *spec, const struct kt_target_env *env,
			    struct kt_probe_target *out, char *err, size_t errlen);

/*
 * The process ids to filter on, into pids (at most max): a pid/ target's
 * process; a sandbox's or pod's hypervisor, shim and virtiofsd (those
 * found). 0 for node: no filter.
 */
size_t kt_probe_target_pids(const struct kt_probe_target *t, uint32_t *pids, size_t max);

/*
 * in with its variables replaced, into out. -1 with err for an unknown
 * variable, one the target has no value for, $container_pid, or an out too
 * small.
 */
int kt_probe_vars_expand(const char *in, const struct kt_probe_target *t, char *out, size_t outlen,
			 char *err, size_t errlen);

#endif

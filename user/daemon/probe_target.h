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
 * processes of that sandbox (hypervisor, runtime shim, virtiofsd, the
 * hypervisor's vhost worker kernel threads) and the process ids the kernel
 * side filters on.
 *
 * How a target is resolved (docs/discovery.md, "How a probe's target is
 * found"): the sandboxes are those discovery finds under the run root
 * (sandbox/discovery.h: a Kata directory or state file, with what their
 * files and the CRI bundles say, struct kt_sandbox_meta); their host
 * processes come from /proc (sandbox/sandbox_procs.h, which documents how
 * each is recognised).
 *   sandbox/ID  ID must be a valid sandbox id and a sandbox of the run root.
 *   pod/NS/NAME the one sandbox whose pod namespace and name (CRI
 *               annotations) are NS and NAME. A pod that only a CRI bundle
 *               knows, its sandbox having no Kata directory, is not a Kata
 *               pod; several sandboxes carrying the pod is an error listing
 *               them.
 *   pid/PID     /proc/PID must exist and not be a zombie. It belongs to a
 *               sandbox when its command line makes it one's hypervisor,
 *               shim or virtiofsd, or when it is a sandbox's state-file
 *               hypervisor pid; the sandbox's other processes are then found
 *               too. Otherwise sandbox.id is "".
 *   node        no sandbox, no process, no filter.
 *
 * Variables in probe specs and bpftrace programs (probe_vars.c):
 *   $sandbox_id, $hypervisor_pid, $shim_pid, $virtiofsd_pid (a sandbox's,
 *   when found), $pid (a pid/ target's process); $NAME or ${NAME}, NAME
 *   being [A-Za-z_][A-Za-z0-9_]* taken whole ("$pid_x" is the name pid_x,
 *   "${pid}_x" is $pid then "_x").
 *   $$ is a literal $. A $ not followed by a letter, '_' or '{' is itself
 *   ("$1", "$#", "5$"), so bpftrace's positional parameters pass.
 *   A known name without a value on the target is always an error that
 *   says why and lists the names the target has; so is $container_pid,
 *   which no Kata target has: the container's processes run inside the VM
 *   and have no host pid.
 *   Any other name: KT_VARS_STRICT (--span/--event specs) makes it an
 *   error, as it does a malformed ${...}; without it (bpftrace programs,
 *   whose own $x scratch variables must survive) it is left as written.
 *   A bpftrace variable that shares a known name is written $$name.
 *
 * Every error is one line naming the thing (the target, the sandbox, the
 * pod, the process, the variable) and saying what exists instead; lists
 * in errors are sorted and hold at most KT_TARGET_LIST_MAX names.
 */
#ifndef KT_PROBE_TARGET_H
#define KT_PROBE_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox_meta.h"
#include "sandbox/sandbox_procs.h"

enum kt_target_kind {
	KT_TARGET_NODE,
	KT_TARGET_SANDBOX,
	KT_TARGET_POD,
	KT_TARGET_PID,
};

/* Where a target is looked up: "" / "/proc" normally, a fake tree in tests. */
struct kt_target_env {
	const char *run_root;   /* prefix of Kata's and the CRI's /run paths ("" or NULL for /);
				   also of the paths in the processes' command lines */
	const char *proc_root;  /* "/proc" (NULL: "/proc") */
	const char *const *bundle_patterns; /* NULL: the defaults (sandbox/oci_bundle.h) */
	size_t n_bundle_patterns;
};

/* Most process ids a target filters on: hypervisor, shim, virtiofsd and the vhost workers kept. */
#define KT_TARGET_MAX_PIDS 8
_Static_assert(3 + KT_PROCS_VHOST_MAX <= KT_TARGET_MAX_PIDS, "a sandbox's processes fit the filter");
/* Most names an error lists (sandboxes, pods, variables); "and N more" after. */
#define KT_TARGET_LIST_MAX 8

struct kt_probe_target {
	enum kt_target_kind kind;
	uint32_t pid;                      /* pid/: the process */
	struct kt_sandbox_meta sandbox;    /* sandbox.id "" for node, or a pid of no sandbox */
	uint32_t hypervisor_pid;           /* 0: not found */
	uint32_t shim_pid;
	uint32_t virtiofsd_pid;
	uint32_t vhost_pids[KT_PROCS_VHOST_MAX]; /* the hypervisor's vhost worker kernel threads */
	size_t n_vhost;
};

/*
 * spec into out (zeroed first). 0, or -1 with err (the exit status of the
 * probe command is then non-zero). env NULL: the host's (/, /proc, the
 * default bundle patterns).
 */
int kt_probe_target_resolve(const char *spec, const struct kt_target_env *env,
			    struct kt_probe_target *out, char *err, size_t errlen);

/*
 * The process ids to filter on, into pids (at most max): a pid/ target's
 * process; a sandbox's or pod's hypervisor, shim and virtiofsd (those
 * found), then its hypervisor's vhost worker kernel threads (which, before
 * Linux 6.4, are processes of their own: a filter on the hypervisor's tgid
 * alone would miss everything they do). 0 for node: no filter.
 */
size_t kt_probe_target_pids(const struct kt_probe_target *t, uint32_t *pids, size_t max);

/* kt_probe_vars_expand_ex flags */
#define KT_VARS_STRICT 0x1u /* an unknown $name or a malformed ${...} is an error (specs) */

/*
 * in with its variables replaced, into out (outlen bytes, the NUL
 * included), by the rules above. 0, or -1 with err for a variable the
 * target has no value for, $container_pid, an unknown one or a malformed
 * ${...} under KT_VARS_STRICT, or an out too small (err says how many bytes
 * it needs); out is then "" when outlen allows.
 */
int kt_probe_vars_expand_ex(const char *in, const struct kt_probe_target *t, unsigned flags, char *out,
			    size_t outlen, char *err, size_t errlen);

/* kt_probe_vars_expand_ex with KT_VARS_STRICT: for --span and --event specs. */
int kt_probe_vars_expand(const char *in, const struct kt_probe_target *t, char *out, size_t outlen,
			 char *err, size_t errlen);

#endif

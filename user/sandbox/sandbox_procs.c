/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/sandbox_procs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/safe_open.h"
#include "sandbox/hypervisors.h"
#include "sandbox/qemu_args.h"

/* ---------------------------------------------------------------- executables */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);
	return n >= sl && memcmp(s + n - sl, suffix, sl) == 0;
}

bool kt_shim_exe_match(const char *base)
{
	const size_t pl = sizeof(KT_SHIM_EXE_PREFIX) - 1, sl = sizeof(KT_SHIM_EXE_SUFFIX) - 1;
	size_t n = strlen(base);
	if (strcmp(base, KT_SHIM_EXE) == 0)
		return true;
	/* containerd-shim-kata-<handler>-v2 */
	return n > pl + sl && strncmp(base, KT_SHIM_EXE_PREFIX, pl) == 0 && ends_with(base, n, KT_SHIM_EXE_SUFFIX);
}

bool kt_virtiofsd_exe_match(const char *base)
{
	return strcmp(base, KT_VIRTIOFSD_EXE) == 0;
}

/* ---------------------------------------------------------------- command lines */

/* Walks NUL-separated arguments: arg is each in turn; args[n] must be '\0'. */
#define EACH_ARG(arg, args, n, from) \
	for (const char *arg = (from); arg < (args) + (n); arg += strlen(arg) + 1)

static bool set_id(char sandbox[KT_SANDBOX_ID_MAX + 1], const char *v)
{
	size_t n = strlen(v);
	if (!kt_sandbox_id_valid(v, n))
		return false;
	memcpy(sandbox, v, n + 1);
	return true;
}

/* QEMU's -name first, then a Kata path, then the hypervisor's id option. */
static void hypervisor_sandbox(const char *args, size_t n, const char *first, const char *run_root,
			       const struct kt_hypervisor *hv, char sandbox[KT_SANDBOX_ID_MAX + 1])
{
	char by_option[KT_SANDBOX_ID_MAX + 1] = "";
	const char *opt = hv ? hv->id_option : NULL;
	size_t ol = opt ? strlen(opt) : 0;
	bool after_name = false, after_opt = false;
	struct kt_sandbox_ref ref;

	ref.id[0] = '\0';
	EACH_ARG(arg, args, n, first)
	{
		if (after_name && kt_qemu_name_sandbox(arg, sandbox))
			return;
		after_name = kt_qemu_arg_is_name(arg);
		if (!ref.id[0])
			kt_sandbox_from_arg(arg, run_root, &ref);
		if (opt && !by_option[0]) {
			if (after_opt)
				set_id(by_option, arg);
			else if (strncmp(arg, opt, ol) == 0 && arg[ol] == '=')
				set_id(by_option, arg + ol + 1);
			after_opt = strcmp(arg, opt) == 0;
		}
	}
	memcpy(sandbox, ref.id[0] ? ref.id : by_option, KT_SANDBOX_ID_MAX + 1);
}

/*
 * containerd's shim flags (its shim library, Go's flag syntax): those that
 * take a value; every other flag is a boolean (-debug, -v).
 */
static const char *const shim_value_flags[] = { "namespace", "address", "publish-binary", "id", "bundle", "socket" };
#define SHIM_ID_FLAG "id"

static bool shim_value_flag(const char *name)
{
	for (size_t i = 0; i < sizeof(shim_value_flags) / sizeof(shim_value_flags[0]); i++)
		if (strcmp(name, shim_value_flags[i]) == 0)
			return true;
	return false;
}

/* The -id flag's value; an argument that is no flag (an action: start, delete) makes an invocation. */
static enum kt_proc_role shim_sandbox(const char *args, size_t n, const char *first,
				      char sandbox[KT_SANDBOX_ID_MAX + 1])
{
	const char *end = args + n;
	for (const char *arg = first; arg < end; arg += strlen(arg) + 1) {
		if (arg[0] != '-' || arg[1] == '\0')
			return KT_PROC_SHIM_ACTION; /* Go's flags end at the first other argument */
		if (strcmp(arg, "--") == 0) {
			const char *next = arg + 3;
			return next < end ? KT_PROC_SHIM_ACTION : KT_PROC_SHIM;
		}
		const char *name = arg + (arg[1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);
		bool is_id = nl == sizeof(SHIM_ID_FLAG) - 1 && strncmp(name, SHIM_ID_FLAG, nl) == 0;
		if (eq) {
			if (is_id && !set_id(sandbox, eq + 1))
				sandbox[0] = '\0';
			continue;
		}
		if (!shim_value_flag(name))
			continue;
		arg += strlen(arg) + 1; /* its value */
		if (arg >= end)
			break;
		if (is_id && !set_id(sandbox, arg))
			sandbox[0] = '\0';
	}
	return KT_PROC_SHIM;
}

static void path_sandbox(const char *args, size_t n, const char *first, const char *run_root,
			 char sandbox[KT_SANDBOX_ID_MAX + 1])
{
	struct kt_sandbox_ref ref;
	EACH_ARG(arg, args, n, first)
	{
		if (kt_sandbox_from_arg(arg, run_root, &ref)) {
			memcpy(sandbox, ref.id, sizeof(ref.id));
			return;
		}
	}
}

enum kt_proc_role kt_proc_classify(const char *args, size_t n, const char *run_root,
				   char sandbox[KT_SANDBOX_ID_MAX + 1])
{
	sandbox[0] = '\0';
	if (n == 0 || args[n - 1] != '\0')
		return KT_PROC_OTHER;
	if (!run_root)
		run_root = "";
	const char *slash = strrchr(args, '/');
	const char *base = slash ? slash + 1 : args;
	const char *first = args + strlen(args) + 1; /* after argv[0] */

	if (kt_hv_exe_match(base)) {
		hypervisor_sandbox(args, n, first, run_root, kt_hv_find(kt_hv_of_exe(base)), sandbox);
		return KT_PROC_HYPERVISOR;
	}
	if (kt_shim_exe_match(base))
		return shim_sandbox(args, n, first, sandbox);
	if (kt_virtiofsd_exe_match(base)) {
		path_sandbox(args, n, first, run_root, sandbox);
		return KT_PROC_VIRTIOFSD;
	}
	return KT_PROC_OTHER;
}

/* ---------------------------------------------------------------- /proc */

/*
 * <pid>/<name> below procfd into buf (cap bytes, NUL-terminated); the
 * length, or -1 with errno. A file longer than cap - 1 is cut: *cut.
 */
static long read_proc(int procfd, uint32_t pid, const char *name, char *buf, size_t cap, bool *cut)
{
	char rel[32];
	size_t n = 0;

	snprintf(rel, sizeof(rel), "%u/%s", pid, name);
	int fd = kt_open_beneath(procfd, rel, O_RDONLY);
	if (fd < 0)
		return -1;
	/* /proc files have no size: read until the end or the cap */
	while (n < cap - 1) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	char extra;
	*cut = n == cap - 1 && read(fd, &extra, 1) == 1;
	close(fd);
	buf[n] = '\0';
	return (long)n;
}

/*
 * The arguments of pid, NUL-separated, the last one terminated too: a
 * command line cut at the limit loses its last (partial) argument. 0 for
 * none (a kernel thread, a zombie, gone).
 */
static size_t read_cmdline(int procfd, uint32_t pid, char *buf)
{
	bool cut;
	long n = read_proc(procfd, pid, "cmdline", buf, KT_PROCS_CMDLINE_MAX + 1, &cut);
	if (n <= 0)
		return 0;
	size_t len = (size_t)n;
	if (cut) {
		while (len && buf[len - 1] != '\0')
			len--;
		return len;
	}
	/* a process that rewrote its arguments may leave the last one unterminated */
	return buf[len - 1] == '\0' ? len : len + 1;
}

uint32_t kt_pid_parse(const char *s)
{
	uint32_t v = 0;
	if (s[0] < '1' || s[0] > '9')
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > KT_PID_MAX / 10)
			return 0;
		v = v * 10 + (uint32_t)(*s - '0');
	}
	return v <= KT_PID_MAX ? v : 0;
}

static enum kt_proc_state state_at(int procfd, uint32_t pid, uint32_t *ppid)
{
	char buf[KT_PROCS_STAT_MAX + 1], rel[16];
	bool cut;

	if (ppid)
		*ppid = 0;
	snprintf(rel, sizeof(rel), "%u", pid);
	int dfd = kt_open_beneath(procfd, rel, O_PATH | O_DIRECTORY);
	if (dfd < 0)
		return KT_PROC_ABSENT;
	close(dfd);
	/* "pid (comm) S ppid ...": comm may hold ')' and spaces, so from the last ')' */
	if (read_proc(procfd, pid, "stat", buf, sizeof(buf), &cut) <= 0)
		return KT_PROC_LIVE;
	const char *p = strrchr(buf, ')');
	char st;
	unsigned long pp;
	if (!p || sscanf(p + 1, " %c %lu", &st, &pp) != 2)
		return KT_PROC_LIVE;
	if (ppid && pp <= KT_PID_MAX)
		*ppid = (uint32_t)pp;
	return st == 'Z' || st == 'X' ? KT_PROC_ZOMBIE : KT_PROC_LIVE;
}

static int open_proc(const char *proc_root)
{
	return open(proc_root && proc_root[0] ? proc_root : "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

enum kt_proc_state kt_proc_state(const char *proc_root, uint32_t pid, uint32_t *ppid)
{
	int procfd = open_proc(proc_root);
	if (ppid)
		*ppid = 0;
	if (procfd < 0 || pid == 0 || pid > KT_PID_MAX) {
		if (procfd >= 0)
			close(procfd);
		return KT_PROC_ABSENT;
	}
	enum kt_proc_state s = state_at(procfd, pid, ppid);
	close(procfd);
	return s;
}

enum kt_proc_role kt_proc_of_pid(const char *proc_root, const char *run_root, uint32_t pid,
				 char sandbox[KT_SANDBOX_ID_MAX + 1])
{
	enum kt_proc_role role = KT_PROC_OTHER;
	char *buf = malloc(KT_PROCS_CMDLINE_MAX + 1);
	int procfd = open_proc(proc_root);

	sandbox[0] = '\0';
	if (buf && procfd >= 0 && pid && pid <= KT_PID_MAX) {
		size_t n = read_cmdline(procfd, pid, buf);
		if (n)
			role = kt_proc_classify(buf, n, run_root, sandbox);
	}
	if (procfd >= 0)
		close(procfd);
	free(buf);
	return role;
}

/* ---------------------------------------------------------------- vhost workers */

/* task_struct's flags: a kernel thread (include/linux/sched.h). */
#define PF_KTHREAD_FLAG 0x00200000u

uint32_t kt_vhost_worker_owner(const char *comm)
{
	const size_t pl = sizeof(KT_PROCS_VHOST_PREFIX) - 1;
	return strncmp(comm, KT_PROCS_VHOST_PREFIX, pl) == 0 ? kt_pid_parse(comm + pl) : 0;
}

/* The vhost workers of every hypervisor met in one pass: (worker, owner) pairs. */
struct vhost_seen {
	struct {
		uint32_t pid, owner;
	} *w;
	size_t n, cap;
};

/*
 * pid, which has no command line (a kernel thread or a zombie): remembered
 * when stat says it is a live kernel thread named "vhost-<owner>".
 */
static void vhost_look(int procfd, uint32_t pid, struct vhost_seen *vs)
{
	char buf[KT_PROCS_STAT_MAX + 1], comm[KT_PROCS_STAT_MAX + 1];
	unsigned int flags;
	bool cut;
	char st;

	if (vs->n == KT_PROCS_VHOST_SEEN || read_proc(procfd, pid, "stat", buf, sizeof(buf), &cut) <= 0)
		return;
	/* "pid (comm) S ppid pgrp session tty_nr tpgid flags ..." */
	const char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren ||
	    sscanf(close_paren + 1, " %c %*d %*d %*d %*d %*d %u", &st, &flags) != 2)
		return;
	if (!(flags & PF_KTHREAD_FLAG) || st == 'Z' || st == 'X')
		return;
	size_t cl = (size_t)(close_paren - open_paren - 1);
	memcpy(comm, open_paren + 1, cl);
	comm[cl] = '\0';
	uint32_t owner = kt_vhost_worker_owner(comm);
	if (!owner)
		return;
	if (vs->n == vs->cap) {
		size_t cap = vs->cap ? 2 * vs->cap : 16;
		void *w = realloc(vs->w, cap * sizeof(*vs->w));
		if (!w)
			return;
		vs->w = w;
		vs->cap = cap;
	}
	vs->w[vs->n].pid = pid;
	vs->w[vs->n].owner = owner;
	vs->n++;
}

/* Is tid hv or one of its threads? */
static bool thread_of(int procfd, uint32_t hv, uint32_t tid)
{
	char rel[48];
	if (tid == hv)
		return true;
	snprintf(rel, sizeof(rel), "%u/task/%u", hv, tid);
	int fd = kt_open_beneath(procfd, rel, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* The workers owned by the hypervisor into out, the lowest pids kept. */
static void vhost_keep(int procfd, const struct vhost_seen *vs, struct kt_sandbox_procs *out)
{
	for (size_t i = 0; i < vs->n; i++) {
		uint32_t pid = vs->w[i].pid;
		if (!thread_of(procfd, out->hypervisor_pid, vs->w[i].owner))
			continue;
		out->vhost_found++;
		size_t at = out->n_vhost;
		while (at > 0 && out->vhost_pids[at - 1] > pid)
			at--;
		if (at == KT_PROCS_VHOST_MAX)
			continue;
		if (out->n_vhost == KT_PROCS_VHOST_MAX)
			out->n_vhost--; /* the highest goes */
		memmove(&out->vhost_pids[at + 1], &out->vhost_pids[at], (out->n_vhost - at) * sizeof(uint32_t));
		out->vhost_pids[at] = pid;
		out->n_vhost++;
	}
}

/* ---------------------------------------------------------------- a sandbox's processes */

struct candidates {
	uint32_t pid[KT_PROCS_CANDIDATES];
	size_t n;
};

static void add(struct candidates *c, uint32_t pid)
{
	if (c->n < KT_PROCS_CANDIDATES)
		c->pid[c->n++] = pid;
}

/* The deepest candidate (most ancestors among the others), then the lowest pid. */
static uint32_t pick(int procfd, const struct candidates *c)
{
	uint32_t ppid[KT_PROCS_CANDIDATES], best = 0;
	size_t best_depth = 0;

	if (c->n <= 1)
		return c->n ? c->pid[0] : 0;
	for (size_t i = 0; i < c->n; i++)
		state_at(procfd, c->pid[i], &ppid[i]);
	for (size_t i = 0; i < c->n; i++) {
		size_t depth = 0, at = i;
		/* up the chain of parents that are candidates (at most n steps: no loop) */
		for (size_t step = 0; step < c->n; step++) {
			size_t j = 0;
			while (j < c->n && c->pid[j] != ppid[at])
				j++;
			if (j == c->n)
				break;
			depth++;
			at = j;
		}
		if (!best || depth > best_depth || (depth == best_depth && c->pid[i] < best)) {
			best = c->pid[i];
			best_depth = depth;
		}
	}
	return best;
}

int kt_sandbox_procs_find(const char *proc_root, const char *run_root, const struct kt_sandbox_meta *m,
			  struct kt_sandbox_procs *out)
{
	struct candidates hv = { 0 }, shim = { 0 }, vfs = { 0 };
	struct vhost_seen vs = { 0 };
	char id[KT_SANDBOX_ID_MAX + 1];
	size_t left = KT_PROCS_SCAN_MAX;
	struct dirent *e;

	memset(out, 0, sizeof(*out));
	if (!m->id[0])
		return 0; /* no sandbox: none of its processes */
	int procfd = open_proc(proc_root);
	if (procfd < 0)
		return -1;
	int lfd = dup(procfd);
	DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
	char *buf = malloc(KT_PROCS_CMDLINE_MAX + 1);
	if (!d || !buf) {
		int saved = d || lfd < 0 ? errno : ENOMEM;
		if (d)
			closedir(d);
		else if (lfd >= 0)
			close(lfd);
		free(buf);
		close(procfd);
		errno = saved ? saved : ENOMEM;
		return -1;
	}
	while (left-- && (e = readdir(d))) {
		uint32_t pid = kt_pid_parse(e->d_name);
		size_t n = pid ? read_cmdline(procfd, pid, buf) : 0;
		if (!n) {
			if (pid)
				vhost_look(procfd, pid, &vs);
			continue;
		}
		enum kt_proc_role role = kt_proc_classify(buf, n, run_root, id);
		if (!id[0] || strcmp(id, m->id) != 0)
			continue;
		if (role == KT_PROC_HYPERVISOR)
			add(&hv, pid);
		else if (role == KT_PROC_SHIM)
			add(&shim, pid);
		else if (role == KT_PROC_VIRTIOFSD)
			add(&vfs, pid);
	}
	closedir(d);
	free(buf);

	out->hypervisor_pid = pick(procfd, &hv);
	out->shim_pid = pick(procfd, &shim);
	out->virtiofsd_pid = pick(procfd, &vfs);
	if (!out->hypervisor_pid) {
		const struct kt_hypervisor *h = kt_hv_find(m->hypervisor);
		if (h && h->in_shim && out->shim_pid) {
			out->hypervisor_pid = out->shim_pid;
			out->flags |= KT_PROCS_HV_IN_SHIM;
		} else if (m->hypervisor_pid && state_at(procfd, m->hypervisor_pid, NULL) == KT_PROC_LIVE) {
			out->hypervisor_pid = m->hypervisor_pid;
			out->flags |= KT_PROCS_HV_FROM_STATE;
		}
	}
	if (out->hypervisor_pid)
		vhost_keep(procfd, &vs, out);
	free(vs.w);
	close(procfd);
	return 0;
}

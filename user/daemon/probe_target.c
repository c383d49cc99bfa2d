/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/probe_target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/diag.h"
#include "sandbox/discovery.h"
#include "sandbox/kata_dirs.h"
#include "sandbox/oci_bundle.h"
#include "sandbox/sandbox_procs.h"

#define NODE "node"
#define SANDBOX_PREFIX "sandbox/"
#define POD_PREFIX "pod/"
#define PID_PREFIX "pid/"
#define FORMS NODE ", " SANDBOX_PREFIX "ID, " POD_PREFIX "NAMESPACE/NAME or " PID_PREFIX "PID"
#define SHOWN_MAX 80 /* bytes of a bad target repeated in its error */

/* s as one printable line: control characters become '?', cut at SHOWN_MAX bytes. */
static const char *shown(const char *s, char out[SHOWN_MAX + 4])
{
	size_t n = 0;
	for (; s[n] && n < SHOWN_MAX; n++)
		out[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
	strcpy(out + n, s[n] ? "..." : "");
	return out;
}

/* ---------------------------------------------------------------- name lists */

/* The KT_TARGET_LIST_MAX smallest names seen (sorted, each once), and how many there were. */
struct name_list {
	char name[KT_TARGET_LIST_MAX][2 * KT_META_STR];
	size_t n, total;
};

static void list_add(struct name_list *l, const char *name)
{
	size_t at = 0;
	while (at < l->n && strcmp(l->name[at], name) < 0)
		at++;
	if (at < l->n && strcmp(l->name[at], name) == 0)
		return;
	l->total++;
	if (at == KT_TARGET_LIST_MAX)
		return;
	if (l->n == KT_TARGET_LIST_MAX)
		l->n--; /* the largest goes */
	memmove(l->name[at + 1], l->name[at], (l->n - at) * sizeof(l->name[0]));
	snprintf(l->name[at], sizeof(l->name[at]), "%s", name);
	l->n++;
}

/* "a, b, c" and " and N more"; empty_text for none. */
static const char *list_text(const struct name_list *l, const char *empty_text, char *out, size_t cap)
{
	size_t at = 0;
	out[0] = '\0';
	if (!l->n)
		snprintf(out, cap, "%s", empty_text);
	for (size_t i = 0; i < l->n && at < cap; i++)
		at += (size_t)snprintf(out + at, cap - at, "%s%s", i ? ", " : "", l->name[i]);
	if (l->total > l->n && at < cap)
		snprintf(out + at, cap - at, " and %zu more", l->total - l->n);
	return out;
}

/* ---------------------------------------------------------------- the sandboxes of the run root */

struct scan {
	/* what is looked for: an id, a pod, a process (its sandbox or its state-file pid) */
	const char *id;
	const char *ns, *name;
	uint32_t pid;
	/* what was found */
	struct kt_sandbox_meta meta; /* the first match */
	size_t matches;
	struct name_list matched; /* the matches' ids */
	struct name_list all;     /* every sandbox's id, or every Kata pod */
};

static void on_sandbox(const struct kt_disc_event *ev, void *ctx)
{
	struct scan *s = ctx;
	const struct kt_sandbox_meta *m = &ev->meta;
	bool match;

	if (ev->type != KT_DISC_SANDBOX_UP)
		return;
	if (s->ns) {
		char pod[2 * KT_META_STR];
		match = strcmp(m->pod_namespace, s->ns) == 0 && strcmp(m->pod_name, s->name) == 0;
		if (m->pod_name[0]) {
			snprintf(pod, sizeof(pod), "%s/%s", m->pod_namespace, m->pod_name);
			list_add(&s->all, pod);
		}
	} else {
		match = (s->id && strcmp(m->id, s->id) == 0) || (s->pid && m->hypervisor_pid == s->pid);
		list_add(&s->all, m->id);
	}
	if (!match)
		return;
	if (!s->matches++)
		s->meta = *m;
	list_add(&s->matched, m->id);
}

/* Reports every sandbox of the run root to on_sandbox (one discovery scan). */
static int scan_run_root(const struct kt_target_env *env, struct scan *s, char *err, size_t errlen)
{
	struct kt_discovery_config cfg = {
		.run_root = env->run_root,
		.bundle_patterns = env->bundle_patterns,
		.nbundle_patterns = env->n_bundle_patterns,
	};
	char why[256] = "";
	struct kt_discovery *d = kt_discovery_new(&cfg, on_sandbox, s, why, sizeof(why));
	if (!d) {
		kt_errf(err, errlen, "cannot look for sandboxes: %s", why);
		return -1;
	}
	kt_discovery_scan(d);
	kt_discovery_free(d);
	return 0;
}

/* "<run root>/run/vc or <run root>/run/kata", for errors. */
static const char *kata_dirs(const struct kt_target_env *env, char *out, size_t cap)
{
	const char *r = env->run_root ? env->run_root : "";
	snprintf(out, cap, "%s" KT_KATA_GO_DIR " or %s" KT_KATA_RS_DIR, r, r);
	return out;
}

/* ---------------------------------------------------------------- CRI bundles of non-Kata pods */

struct bundle_scan {
	const char *ns, *name;
	struct name_list owners; /* sandbox ids whose bundles carry the pod */
};

static void on_bundle(void *ctx, const char *bundle_id, int dirfd, const char *name, const char *rel,
		      const struct stat *st)
{
	struct bundle_scan *b = ctx;
	struct kt_bundle_info info;
	bool own;
	(void)st;
	if (kt_bundle_read(dirfd, name, rel, &info, KT_LOG_DEBUG) != 0 || strcmp(info.pod_namespace, b->ns) != 0 ||
	    strcmp(info.pod_name, b->name) != 0)
		return;
	const char *owner = kt_bundle_owner(bundle_id, &info, &own);
	if (owner)
		list_add(&b->owners, owner);
}

static void pod_bundles(const struct kt_target_env *env, struct bundle_scan *b)
{
	const char *root = env->run_root && env->run_root[0] ? env->run_root : "/";
	const char *const *patterns = env->bundle_patterns ? env->bundle_patterns : kt_bundle_default_patterns;
	size_t n = env->bundle_patterns ? env->n_bundle_patterns : kt_bundle_default_npatterns;
	size_t budget = KT_META_BUNDLES_MAX;
	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return;
	kt_bundle_walk(rootfd, patterns, n, NULL, &budget, on_bundle, b);
	close(rootfd);
}

/* ---------------------------------------------------------------- targets */

static int find_procs(const struct kt_target_env *env, struct kt_probe_target *out, char *err, size_t errlen)
{
	struct kt_sandbox_procs p;
	if (kt_sandbox_procs_find(env->proc_root, env->run_root, &out->sandbox, &p) != 0) {
		kt_errf(err, errlen, "cannot read %s: %s", env->proc_root ? env->proc_root : "/proc", strerror(errno));
		return -1;
	}
	out->hypervisor_pid = p.hypervisor_pid;
	out->shim_pid = p.shim_pid;
	out->virtiofsd_pid = p.virtiofsd_pid;
	memcpy(out->vhost_pids, p.vhost_pids, sizeof(out->vhost_pids));
	out->n_vhost = p.n_vhost;
	if (out->kind != KT_TARGET_PID && p.vhost_found > p.n_vhost)
		kt_warn("sandbox %s: its hypervisor %u has %zu vhost worker threads; the probes' filter takes the "
			"first %zu (lowest pids), so what the others do is not reported",
			out->sandbox.id, p.hypervisor_pid, p.vhost_found, p.n_vhost);
	return 0;
}

static int resolve_sandbox(const char *id, const struct kt_target_env *env, struct kt_probe_target *out, char *err,
			   size_t errlen)
{
	char dirs[2 * 4096], list[KT_TARGET_LIST_MAX * 2 * KT_META_STR], b[SHOWN_MAX + 4];
	struct scan *s;

	if (!kt_sandbox_id_valid(id, strlen(id))) {
		kt_errf(err, errlen, SANDBOX_PREFIX "%s: not a sandbox id ([A-Za-z0-9_.-], 1 to %d characters)", shown(id, b),
		     KT_SANDBOX_ID_MAX);
		return -1;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		kt_errf(err, errlen, "out of memory");
		return -1;
	}
	s->id = id;
	int rc = scan_run_root(env, s, err, errlen);
	if (rc == 0 && !s->matches) {
		kt_errf(err, errlen, "no sandbox %s under %s; sandboxes there: %s", id, kata_dirs(env, dirs, sizeof(dirs)),
		     list_text(&s->all, "none", list, sizeof(list)));
		rc = -1;
	}
	if (rc == 0) {
		out->sandbox = s->meta;
		rc = find_procs(env, out, err, errlen);
	}
	free(s);
	return rc;
}

static int resolve_pod(const char *ns_name, const struct kt_target_env *env, struct kt_probe_target *out, char *err,
		       size_t errlen)
{
	char ns[KT_META_STR], dirs[2 * 4096], list[KT_TARGET_LIST_MAX * 2 * KT_META_STR], b[SHOWN_MAX + 4];
	const char *slash = strchr(ns_name, '/');
	const char *name = slash ? slash + 1 : "";
	size_t nsl = slash ? (size_t)(slash - ns_name) : 0;

	if (!slash || !nsl || !name[0] || strchr(name, '/') || nsl >= sizeof(ns) || strlen(name) >= KT_META_STR ||
	    !kt_meta_text_clean(ns_name, strlen(ns_name))) {
		kt_errf(err, errlen, POD_PREFIX "%s: expected " POD_PREFIX "NAMESPACE/NAME", shown(ns_name, b));
		return -1;
	}
	memcpy(ns, ns_name, nsl);
	ns[nsl] = '\0';

	struct scan *s = calloc(1, sizeof(*s));
	struct bundle_scan *bs = calloc(1, sizeof(*bs));
	int rc = -1;
	if (!s || !bs) {
		kt_errf(err, errlen, "out of memory");
		goto out;
	}
	s->ns = bs->ns = ns;
	s->name = bs->name = name;
	if (scan_run_root(env, s, err, errlen) != 0)
		goto out;
	if (s->matches > 1) {
		kt_errf(err, errlen, "pod %s/%s is carried by %zu Kata sandboxes: %s; name one with " SANDBOX_PREFIX "ID", ns,
		     name, s->matches, list_text(&s->matched, "", list, sizeof(list)));
		goto out;
	}
	if (s->matches == 0) {
		pod_bundles(env, bs);
		if (bs->owners.n) {
			/* the CRI knows the pod, Kata does not: another runtime runs it */
			kt_errf(err, errlen,
			     "pod %s/%s is not a Kata pod: its sandbox %s runs without Kata's runtime (no Kata directory "
			     "under %s)",
			     ns, name, list_text(&bs->owners, "", list, sizeof(list)), kata_dirs(env, dirs, sizeof(dirs)));
		} else {
			kt_errf(err, errlen, "no pod %s/%s: no sandbox's CRI annotations name it; Kata pods: %s", ns, name,
			     list_text(&s->all, "none", list, sizeof(list)));
		}
		goto out;
	}
	out->sandbox = s->meta;
	rc = find_procs(env, out, err, errlen);
out:
	free(s);
	free(bs);
	return rc;
}

static int resolve_pid(const char *text, const struct kt_target_env *env, struct kt_probe_target *out, char *err,
		       size_t errlen)
{
	char b[SHOWN_MAX + 4], id[KT_SANDBOX_ID_MAX + 1];
	uint32_t pid = kt_pid_parse(text);

	if (!pid) {
		kt_errf(err, errlen, PID_PREFIX "%s: not a process id (1 to %u)", shown(text, b), KT_PID_MAX);
		return -1;
	}
	switch (kt_proc_state(env->proc_root, pid, NULL)) {
	case KT_PROC_ABSENT:
		kt_errf(err, errlen, "no process %u", pid);
		return -1;
	case KT_PROC_ZOMBIE:
		kt_errf(err, errlen, "process %u is gone (it exited and was not reaped yet)", pid);
		return -1;
	case KT_PROC_LIVE:
		break;
	}
	out->pid = pid;

	/* its sandbox: the one its command line names, else one whose state file has its pid */
	enum kt_proc_role role = kt_proc_of_pid(env->proc_root, env->run_root, pid, id);
	struct scan *s = calloc(1, sizeof(*s));
	if (!s) {
		kt_errf(err, errlen, "out of memory");
		return -1;
	}
	if (role != KT_PROC_OTHER && role != KT_PROC_SHIM_ACTION && id[0])
		s->id = id;
	else
		s->pid = pid;
	int rc = scan_run_root(env, s, err, errlen);
	if (rc == 0 && s->matches == 1) {
		out->sandbox = s->meta;
		rc = find_procs(env, out, err, errlen);
	}
	/* several sandboxes' state files with this pid: stale ones; belongs to none */
	free(s);
	return rc;
}

int kt_probe_target_resolve(const char *spec, const struct kt_target_env *env, struct kt_probe_target *out,
			    char *err, size_t errlen)
{
	static const struct kt_target_env host = { "", "/proc", NULL, 0 };
	char b[SHOWN_MAX + 4];

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	if (!env)
		env = &host;
	if (!spec)
		spec = "";
	if (strcmp(spec, NODE) == 0) {
		out->kind = KT_TARGET_NODE;
		return 0;
	}
	if (strncmp(spec, SANDBOX_PREFIX, strlen(SANDBOX_PREFIX)) == 0) {
		out->kind = KT_TARGET_SANDBOX;
		return resolve_sandbox(spec + strlen(SANDBOX_PREFIX), env, out, err, errlen);
	}
	if (strncmp(spec, POD_PREFIX, strlen(POD_PREFIX)) == 0) {
		out->kind = KT_TARGET_POD;
		return resolve_pod(spec + strlen(POD_PREFIX), env, out, err, errlen);
	}
	if (strncmp(spec, PID_PREFIX, strlen(PID_PREFIX)) == 0) {
		out->kind = KT_TARGET_PID;
		return resolve_pid(spec + strlen(PID_PREFIX), env, out, err, errlen);
	}
	kt_errf(err, errlen, "unknown target \"%s\": expected " FORMS, shown(spec, b));
	return -1;
}

size_t kt_probe_target_pids(const struct kt_probe_target *t, uint32_t *pids, size_t max)
{
	uint32_t all[3 + KT_PROCS_VHOST_MAX] = { t->hypervisor_pid, t->shim_pid, t->virtiofsd_pid };
	size_t n = 0, n_all = 3;

	if (t->kind == KT_TARGET_NODE)
		return 0;
	if (t->kind == KT_TARGET_PID) {
		if (max && t->pid)
			pids[n++] = t->pid;
		return n;
	}
	for (size_t i = 0; i < t->n_vhost && i < KT_PROCS_VHOST_MAX; i++)
		all[n_all++] = t->vhost_pids[i];
	for (size_t i = 0; i < n_all && n < max; i++) {
		bool seen = !all[i];
		for (size_t j = 0; j < n && !seen; j++)
			seen = pids[j] == all[i]; /* Dragonball: the hypervisor is the shim */
		if (!seen)
			pids[n++] = all[i];
	}
	return n;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/sandbox_meta.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/safe_open.h"
#include "base/utf8.h"
#include "sandbox/hypervisors.h"
#include "sandbox/kata_dirs.h"
#include "sandbox/meta_json.h"
#include "sandbox/path_pattern.h"

#define FIELD(f) { offsetof(struct kt_sandbox_meta, f), sizeof(((struct kt_sandbox_meta *)0)->f) }

/* The string fields of struct kt_sandbox_meta. */
static const struct {
	size_t off, size;
} meta_strings[] = {
	FIELD(id), FIELD(hypervisor), FIELD(runtime), FIELD(hvsock_path),
	FIELD(pod_name), FIELD(pod_namespace), FIELD(pod_uid), FIELD(container_names),
};
#define N_META_STRINGS (sizeof(meta_strings) / sizeof(meta_strings[0]))

/* ---------------------------------------------------------------- strings */

/* Printable UTF-8 without control characters? */
bool kt_meta_text_clean(const char *s, size_t n)
{
	if (kt_utf8_check((const uint8_t *)s, n) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* Copies s[0..n) into out[cap] if it is non-empty, fits and is clean text. */
bool kt_meta_str_set(char *out, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap || !kt_meta_text_clean(s, n))
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

bool kt_sandbox_meta_valid(const struct kt_sandbox_meta *m)
{
	for (size_t i = 0; i < N_META_STRINGS; i++) {
		const char *s = (const char *)m + meta_strings[i].off;
		const char *end = memchr(s, '\0', meta_strings[i].size);
		if (!end || !kt_meta_text_clean(s, (size_t)(end - s)))
			return false;
	}
	return kt_sandbox_id_valid(m->id, strlen(m->id));
}

void kt_meta_merge(struct kt_sandbox_meta *dst, const struct kt_sandbox_meta *src)
{
	for (size_t i = 0; i < N_META_STRINGS; i++) {
		char *d = (char *)dst + meta_strings[i].off;
		const char *s = (const char *)src + meta_strings[i].off;
		if (!d[0] && s[0])
			memcpy(d, s, meta_strings[i].size);
	}
	if (!dst->hypervisor_pid)
		dst->hypervisor_pid = src->hypervisor_pid;
	if (!dst->guest_cid)
		dst->guest_cid = src->guest_cid;
	dst->flags |= src->flags;
}

/* ---------------------------------------------------------------- persist.json, state.json */

/* Decimal digits only, no sign or leading zero, value <= max. */
static bool parse_u32(const char *s, size_t n, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 10 || (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* AgentState.URL: "vsock://<cid>:<port>" or "hvsock://<uds>:<port>". */
static void parse_agent_url(const char *url, const char *run_root, struct kt_sandbox_meta *m)
{
	const char *colon = strrchr(url, ':');
	uint32_t port, cid;

	if (!colon || !parse_u32(colon + 1, strlen(colon + 1), 0xffffffffu, &port))
		return;
	if (strncmp(url, "vsock://", 8) == 0) {
		/* host-local CIDs 0..2 and VMADDR_CID_ANY are no guest's */
		if (parse_u32(url + 8, (size_t)(colon - url - 8), 0xfffffffeu, &cid) && cid > 2) {
			m->guest_cid = cid;
			m->flags |= KT_META_VSOCK;
		}
	} else if (strncmp(url, "hvsock://", 9) == 0) {
		const char *path = url + 9;
		size_t pl = (size_t)(colon - path), rl = strlen(run_root);
		m->flags |= KT_META_HYBRID_VSOCK;
		if (pl > 1 && path[0] == '/' && rl + pl < sizeof(m->hvsock_path) && kt_meta_text_clean(path, pl)) {
			memcpy(m->hvsock_path, run_root, rl);
			memcpy(m->hvsock_path + rl, path, pl);
			m->hvsock_path[rl + pl] = '\0';
		}
	}
}

static void set_hypervisor(struct kt_sandbox_meta *m, json_object *o, const char *key)
{
	char type[KT_META_HV];
	const char *name;
	if (!m->hypervisor[0] && kt_meta_json_str(o, key, type, sizeof(type)) && (name = kt_hv_of_kata_type(type)))
		snprintf(m->hypervisor, sizeof(m->hypervisor), "%s", name);
}

int kt_meta_parse_persist(const char *buf, size_t len, const char *run_root, struct kt_sandbox_meta *m)
{
	const char *why;
	json_object *root = kt_meta_json_parse(buf, len, &why);
	if (!root)
		return -1;
	json_object *hs = kt_meta_json_obj(root, "HypervisorState"), *as = kt_meta_json_obj(root, "AgentState");
	json_object *rs = kt_meta_json_obj(root, "hypervisor");
	if (hs || as) {
		/* Go runtime, virtcontainers/persist/api: Go field names */
		char url[KT_META_PATH + 32];
		snprintf(m->runtime, sizeof(m->runtime), "go");
		m->flags |= KT_META_HAVE_PERSIST;
		if (!m->hypervisor_pid)
			m->hypervisor_pid = kt_meta_json_pid(hs, "Pid");
		set_hypervisor(m, hs, "Type");
		set_hypervisor(m, kt_meta_json_obj(root, "Config"), "HypervisorType");
		if (kt_meta_json_str(as, "URL", url, sizeof(url)))
			parse_agent_url(url, run_root ? run_root : "", m);
	} else if (rs) {
		/* runtime-rs: serde field names of its HypervisorState */
		snprintf(m->runtime, sizeof(m->runtime), "rs");
		m->flags |= KT_META_HAVE_PERSIST;
		if (!m->hypervisor_pid)
			m->hypervisor_pid = kt_meta_json_pid(rs, "pid");
		set_hypervisor(m, rs, "hypervisor_type");
	}
	json_object_put(root);
	return 0;
}

/* ---------------------------------------------------------------- bundles */

/* Inserts name into the sorted comma-separated list (once). */
static void names_add(char *list, size_t cap, const char *name, uint32_t *flags)
{
	size_t nl = strlen(name), ll = strlen(list);
	char *p = list;

	while (*p) {
		size_t tl = strcspn(p, ",");
		int c = strncmp(p, name, tl < nl ? tl : nl);
		if (c == 0 && tl == nl)
			return; /* already there */
		if (c > 0 || (c == 0 && tl > nl))
			break; /* insert before this one */
		p += tl;
		if (*p == ',')
			p++;
	}
	size_t need = ll + nl + (ll ? 1 : 0);
	if (need >= cap) {
		*flags |= KT_META_NAMES_TRUNCATED;
		return;
	}
	size_t at = (size_t)(p - list);
	if (at < ll) {
		/* before an existing name: "name," then the rest */
		memmove(list + at + nl + 1, list + at, ll - at + 1);
		memcpy(list + at, name, nl);
		list[at + nl] = ',';
	} else {
		if (ll)
			list[ll++] = ',';
		memcpy(list + ll, name, nl + 1);
	}
}

bool kt_meta_apply_bundle(struct kt_sandbox_meta *m, const char *bundle_id, const struct kt_bundle_info *b)
{
	/* the same sizes: a value that fits the bundle's field fits the sandbox's */
	_Static_assert(sizeof(m->pod_name) == sizeof(b->pod_name) && sizeof(m->pod_namespace) == sizeof(b->pod_namespace) &&
			       sizeof(m->pod_uid) == sizeof(b->pod_uid),
		       "pod fields of bundles and sandboxes");
	bool own;
	const char *owner = kt_bundle_owner(bundle_id, b, &own);
	if (!owner || strcmp(owner, m->id) != 0)
		return false;
	struct {
		char *dst;
		const char *src;
		size_t cap;
	} pod[] = {
		{ m->pod_name, b->pod_name, sizeof(m->pod_name) },
		{ m->pod_namespace, b->pod_namespace, sizeof(m->pod_namespace) },
		{ m->pod_uid, b->pod_uid, sizeof(m->pod_uid) },
	};
	for (size_t i = 0; i < sizeof(pod) / sizeof(pod[0]); i++)
		if (pod[i].src[0] && (own || !pod[i].dst[0]))
			strncpy(pod[i].dst, pod[i].src, pod[i].cap - 1); /* zero-padded: metas compare as bytes */
	if (own) {
		m->flags |= KT_META_HAVE_BUNDLE;
	} else {
		m->flags |= KT_META_HAVE_CONTAINERS;
		if (b->container_name[0] && b->kind != KT_BUNDLE_SANDBOX)
			names_add(m->container_names, sizeof(m->container_names), b->container_name, &m->flags);
	}
	return true;
}

/* ---------------------------------------------------------------- files */

static void bad_file(enum kt_log_level lvl, const char *run_root, const char *rel, const char *why)
{
	if (kt_log_level >= lvl)
		kt_diag(lvl, "%s/%s: %s; ignored", run_root ? run_root : "", rel, why);
}

/* The QEMU pid file: a decimal pid, maybe with a newline. */
static uint32_t parse_pidfile(const char *buf, size_t len)
{
	uint32_t pid;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	return parse_u32(buf, len, INT32_MAX, &pid) && pid ? pid : 0;
}

/* A file that says something about a sandbox, relative to the run root. */
struct source {
	char rel[KT_PATTERN_MAX + KT_SANDBOX_ID_MAX + 1];
	bool pidfile; /* a hypervisor's pid file, else a state file (JSON) */
};

static void source_add(struct source *src, size_t *n, const char *pattern, const char *id, bool pidfile)
{
	if (*n < KT_META_SOURCES_MAX && kt_path_pattern_expand(pattern, id, src[*n].rel, sizeof(src[*n].rel)) == 0)
		src[(*n)++].pidfile = pidfile;
}

/*
 * The files of sandbox id, in the order they are merged (what the first
 * says wins): Go's persist.json, runtime-rs's state.json, the state.json in
 * a jailed hypervisor's chroot, the hypervisors' pid files.
 */
static size_t sources(const char *id, struct source *src)
{
	char jailed[KT_PATTERN_MAX];
	size_t n = 0;

	source_add(src, &n, KT_KATA_GO_SBS_DIR "/{ID}/" KT_KATA_GO_STATE, id, false);
	source_add(src, &n, KT_KATA_RS_DIR "/{ID}/" KT_KATA_RS_STATE, id, false);
	for (size_t i = 0; i < kt_n_hypervisors; i++)
		if (kt_hypervisors[i].jail &&
		    (size_t)snprintf(jailed, sizeof(jailed), KT_KATA_RS_DIR "/%s/{ID}/root/" KT_KATA_RS_STATE, kt_hypervisors[i].jail) <
			    sizeof(jailed))
			source_add(src, &n, jailed, id, false);
	for (size_t i = 0; i < kt_n_hv_layouts; i++)
		if (kt_hv_layouts[i].file == KT_HV_PIDFILE)
			source_add(src, &n, kt_hv_layouts[i].path, id, true);
	return n;
}

bool kt_meta_files_refresh(struct kt_meta_files *f, int rootfd, const char *run_root, const char *id,
			   enum kt_log_level lvl)
{
	struct kt_file_stamp now[KT_META_SOURCES_MAX];
	struct source src[KT_META_SOURCES_MAX];
	size_t n = sources(id, src);

	memset(now, 0, sizeof(now));
	for (size_t i = 0; i < n; i++)
		kt_file_stamp_get(rootfd, src[i].rel, &now[i]);
	if (memcmp(now, f->stamp, sizeof(now)) == 0)
		return false;
	memcpy(f->stamp, now, sizeof(now));

	struct kt_sandbox_meta m;
	memset(&m, 0, sizeof(m));
	for (size_t i = 0; i < n; i++) {
		const char *why;
		size_t len;
		if (!now[i].ino)
			continue;
		char *buf = kt_read_beneath(rootfd, src[i].rel, src[i].pidfile ? KT_META_PIDFILE_MAX : KT_META_PERSIST_MAX,
					    &len, &why);
		if (!buf) {
			if (why)
				bad_file(lvl, run_root, src[i].rel, why);
			continue;
		}
		if (len == 0) {
			/* just created, not written yet: the write will come as a change */
		} else if (src[i].pidfile) {
			uint32_t pid = parse_pidfile(buf, len);
			if (pid) {
				m.flags |= KT_META_HAVE_PIDFILE;
				if (!m.hypervisor_pid)
					m.hypervisor_pid = pid;
			} else {
				bad_file(lvl, run_root, src[i].rel, "not a process id");
			}
		} else {
			struct kt_sandbox_meta p;
			memset(&p, 0, sizeof(p));
			if (kt_meta_parse_persist(buf, len, run_root, &p) == 0)
				kt_meta_merge(&m, &p);
			else
				bad_file(lvl, run_root, src[i].rel, "malformed JSON or over the limits");
		}
		free(buf);
	}
	bool changed = memcmp(&m, &f->m, sizeof(m)) != 0;
	f->m = m;
	return changed;
}

/* ---------------------------------------------------------------- fill */

struct fill_ctx {
	struct kt_sandbox_meta *m;
	const char *run_root;
};

static void fill_bundle(void *ctx, const char *bundle_id, int dirfd, const char *name, const char *rel,
			const struct stat *st)
{
	struct fill_ctx *c = ctx;
	struct kt_bundle_info b;
	char shown[4200];
	(void)st;
	snprintf(shown, sizeof(shown), "%s/%s", c->run_root, rel);
	if (kt_bundle_read(dirfd, name, shown, &b, KT_LOG_DEBUG) == 0)
		kt_meta_apply_bundle(c->m, bundle_id, &b);
}

/* "go" or "rs" from which of Kata's directories the sandbox has. */
static void runtime_from_dirs(int rootfd, const char *id, struct kt_sandbox_meta *m)
{
	static const struct {
		const char *fmt, *runtime;
	} dirs[] = {
		{ KT_KATA_GO_VM_DIR "/%s", "go" },
		{ KT_KATA_GO_SBS_DIR "/%s", "go" },
		{ KT_KATA_RS_DIR "/%s", "rs" },
	};
	for (size_t i = 0; !m->runtime[0] && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char rel[KT_SANDBOX_ID_MAX + 32];
		snprintf(rel, sizeof(rel), dirs[i].fmt, id);
		/* relative to the run root */
		int fd = kt_open_beneath(rootfd, rel + 1, O_PATH | O_DIRECTORY);
		if (fd >= 0) {
			snprintf(m->runtime, sizeof(m->runtime), "%s", dirs[i].runtime);
			close(fd);
		}
	}
}

int kt_sandbox_meta_fill_ex(const char *run_root, const char *id, const char *const *bundle_patterns,
			    size_t n_patterns, struct kt_sandbox_meta *m)
{
	memset(m, 0, sizeof(*m));
	if (!id || !kt_sandbox_id_valid(id, strlen(id)))
		return -1;
	memcpy(m->id, id, strlen(id) + 1);
	if (!run_root)
		run_root = "";
	int rootfd = open(run_root[0] ? run_root : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -1;

	struct kt_meta_files *files = calloc(1, sizeof(*files));
	if (files) {
		kt_meta_files_refresh(files, rootfd, run_root, id, KT_LOG_DEBUG);
		kt_meta_merge(m, &files->m);
		free(files);
	}
	struct fill_ctx c = { m, run_root };
	size_t budget = KT_META_BUNDLES_MAX;
	kt_bundle_walk(rootfd, bundle_patterns, n_patterns, NULL, &budget, fill_bundle, &c);
	runtime_from_dirs(rootfd, id, m);
	close(rootfd);
	return 0;
}

int kt_sandbox_meta_fill(const char *run_root, const char *id, struct kt_sandbox_meta *m)
{
	return kt_sandbox_meta_fill_ex(run_root, id, kt_bundle_default_patterns, kt_bundle_default_npatterns, m);
}

void kt_sandbox_meta_pod_attrs(struct kt_attrs *b, const struct kt_sandbox_meta *m)
{
	if (!m)
		return;
	if (m->pod_name[0])
		kt_attrs_cstr(b, "k8s.pod.name", m->pod_name);
	if (m->pod_namespace[0])
		kt_attrs_cstr(b, "k8s.namespace.name", m->pod_namespace);
	if (m->pod_uid[0])
		kt_attrs_cstr(b, "k8s.pod.uid", m->pod_uid);
	if (m->container_names[0])
		kt_attrs_cstr(b, "katatrace.k8s.container.names", m->container_names);
}

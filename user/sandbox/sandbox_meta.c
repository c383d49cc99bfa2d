/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/sandbox_meta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/json_scan.h"
#include "base/utf8.h"
#include "sandbox/hypervisors.h"

#define FIELD(f) { offsetof(struct kt_sandbox_meta, f), sizeof(((struct kt_sandbox_meta *)0)->f) }

/* The string fields of struct kt_sandbox_meta. */
static const struct {
	size_t off, size;
} meta_strings[] = {
	FIELD(id), FIELD(hypervisor), FIELD(runtime), FIELD(hvsock_path),
	FIELD(pod_name), FIELD(pod_namespace), FIELD(pod_uid), FIELD(container_names),
};
#define N_META_STRINGS (sizeof(meta_strings) / sizeof(meta_strings[0]))

const char *const kt_bundle_default_patterns[] = {
	"/run/containerd/io.containerd.runtime.v2.task/*/{ID}/config.json",
	"/run/containers/storage/overlay-containers/{ID}/userdata/config.json",
};
const size_t kt_bundle_default_npatterns = sizeof(kt_bundle_default_patterns) / sizeof(kt_bundle_default_patterns[0]);

/* ---------------------------------------------------------------- strings */

/* Printable UTF-8 without control characters? */
static bool clean_text(const char *s, size_t n)
{
	if (kt_utf8_check((const uint8_t *)s, n) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* Copies s[0..n) into out[cap] if it is non-empty, fits and is clean text. */
static bool set_str(char *out, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap || !clean_text(s, n))
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
		if (!end || !clean_text(s, (size_t)(end - s)))
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

/* ---------------------------------------------------------------- JSON */

/* One JSON object from buf, or NULL with the reason in *why. */
static json_object *parse_object(const char *buf, size_t len, const char **why)
{
	if (len > KT_META_CONFIG_MAX) {
		*why = "too large";
		return NULL;
	}
	/* RFC 8259 first: json-c alone lets NaN, single quotes and surrogates through */
	struct kt_json_scan scan;
	char err[96];
	memset(&scan, 0, sizeof(scan));
	int bad = kt_json_scan((const uint8_t *)buf, len, KT_META_JSON_DEPTH, &scan, err, sizeof(err));
	kt_json_scan_free(&scan);
	if (bad) {
		*why = "not RFC 8259 JSON";
		return NULL;
	}
	struct json_tokener *tok = json_tokener_new_ex(KT_META_JSON_DEPTH);
	if (!tok) {
		*why = "out of memory";
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	if (o && (e != json_tokener_success || json_tokener_get_parse_end(tok) != len)) {
		json_object_put(o);
		o = NULL;
	}
	if (!o)
		*why = e == json_tokener_continue ? "truncated JSON" : json_tokener_error_desc(e);
	else if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
		*why = "not a JSON object";
	}
	json_tokener_free(tok);
	return o;
}

static json_object *get_obj(json_object *o, const char *key)
{
	json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_object))
		return v;
	return NULL;
}

/* The string at key, copied into out when it is clean and fits. */
static bool get_str(json_object *o, const char *key, char *out, size_t cap)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return false;
	return set_str(out, cap, json_object_get_string(v), (size_t)json_object_get_string_len(v));
}

/* A process id at key (1..INT32_MAX), or 0. */
static uint32_t get_pid(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	int64_t pid = json_object_get_int64(v);
	return pid > 0 && pid <= INT32_MAX ? (uint32_t)pid : 0;
}

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
		if (pl > 1 && path[0] == '/' && rl + pl < sizeof(m->hvsock_path) && clean_text(path, pl)) {
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
	if (!m->hypervisor[0] && get_str(o, key, type, sizeof(type)) && (name = kt_hv_of_kata_type(type)))
		snprintf(m->hypervisor, sizeof(m->hypervisor), "%s", name);
}

int kt_meta_parse_persist(const char *buf, size_t len, const char *run_root, struct kt_sandbox_meta *m)
{
	const char *why;
	json_object *root = parse_object(buf, len, &why);
	if (!root)
		return -1;
	json_object *hs = get_obj(root, "HypervisorState"), *as = get_obj(root, "AgentState");
	json_object *rs = get_obj(root, "hypervisor");
	if (hs || as) {
		/* Go runtime, virtcontainers/persist/api: Go field names */
		char url[KT_META_PATH + 32];
		snprintf(m->runtime, sizeof(m->runtime), "go");
		m->flags |= KT_META_HAVE_PERSIST;
		if (!m->hypervisor_pid)
			m->hypervisor_pid = get_pid(hs, "Pid");
		set_hypervisor(m, hs, "Type");
		set_hypervisor(m, get_obj(root, "Config"), "HypervisorType");
		if (get_str(as, "URL", url, sizeof(url)))
			parse_agent_url(url, run_root ? run_root : "", m);
	} else if (rs) {
		/* runtime-rs: serde field names of its HypervisorState */
		snprintf(m->runtime, sizeof(m->runtime), "rs");
		m->flags |= KT_META_HAVE_PERSIST;
		if (!m->hypervisor_pid)
			m->hypervisor_pid = get_pid(rs, "pid");
		set_hypervisor(m, rs, "hypervisor_type");
	}
	json_object_put(root);
	return 0;
}

/* ---------------------------------------------------------------- bundles */

enum { IN_ANN, IN_LABELS, IN_ANN_OF_SANDBOX };

struct ann_key {
	const char *key;
	int where; /* IN_ANN, IN_LABELS (the CRI-O labels JSON), IN_ANN_OF_SANDBOX */
};

/* The first of keys that gives a clean string that fits. */
static void first_str(json_object *ann, json_object *labels, bool sandbox, const struct ann_key *keys, char *out,
		      size_t cap)
{
	for (; keys->key; keys++) {
		json_object *o = keys->where == IN_LABELS ? labels : ann;
		if (keys->where == IN_ANN_OF_SANDBOX && !sandbox)
			continue;
		if (get_str(o, keys->key, out, cap))
			return;
	}
}

/* CRI-O keeps the kubelet's labels as a JSON text in one annotation. */
static json_object *crio_labels(json_object *ann)
{
	json_object *v;
	const char *why;
	if (!json_object_object_get_ex(ann, "io.kubernetes.cri-o.Labels", &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return parse_object(json_object_get_string(v), (size_t)json_object_get_string_len(v), &why);
}

int kt_meta_parse_bundle(const char *buf, size_t len, struct kt_bundle_info *b)
{
	static const struct ann_key type_keys[] = {
		{ "io.kubernetes.cri.container-type", IN_ANN },
		{ "io.kubernetes.cri-o.ContainerType", IN_ANN },
		{ NULL, 0 },
	};
	static const struct ann_key sandbox_keys[] = {
		{ "io.kubernetes.cri.sandbox-id", IN_ANN },
		{ "io.kubernetes.cri-o.SandboxID", IN_ANN },
		{ NULL, 0 },
	};
	static const struct ann_key name_keys[] = {
		{ "io.kubernetes.cri.sandbox-name", IN_ANN },
		{ "io.kubernetes.pod.name", IN_ANN },
		{ "io.kubernetes.pod.name", IN_LABELS },
		{ "io.kubernetes.cri-o.KubeName", IN_ANN_OF_SANDBOX },
		{ NULL, 0 },
	};
	static const struct ann_key ns_keys[] = {
		{ "io.kubernetes.cri.sandbox-namespace", IN_ANN },
		{ "io.kubernetes.pod.namespace", IN_ANN },
		{ "io.kubernetes.pod.namespace", IN_LABELS },
		{ "io.kubernetes.cri-o.Namespace", IN_ANN_OF_SANDBOX },
		{ NULL, 0 },
	};
	static const struct ann_key uid_keys[] = {
		{ "io.kubernetes.cri.sandbox-uid", IN_ANN },
		{ "io.kubernetes.pod.uid", IN_ANN },
		{ "io.kubernetes.pod.uid", IN_LABELS },
		{ NULL, 0 },
	};
	static const struct ann_key container_keys[] = {
		{ "io.kubernetes.cri.container-name", IN_ANN },
		{ "io.kubernetes.container.name", IN_ANN },
		{ "io.kubernetes.container.name", IN_LABELS },
		{ NULL, 0 },
	};
	const char *why;
	char type[16] = "";

	memset(b, 0, sizeof(*b));
	json_object *root = parse_object(buf, len, &why);
	if (!root)
		return -1;
	json_object *ann = get_obj(root, "annotations");
	if (ann) {
		json_object *labels = crio_labels(ann);
		first_str(ann, NULL, false, type_keys, type, sizeof(type));
		if (strcmp(type, "sandbox") == 0)
			b->kind = KT_BUNDLE_SANDBOX;
		else if (strcmp(type, "container") == 0)
			b->kind = KT_BUNDLE_CONTAINER;
		bool sandbox = b->kind == KT_BUNDLE_SANDBOX;
		first_str(ann, labels, sandbox, sandbox_keys, b->sandbox_id, sizeof(b->sandbox_id));
		if (!kt_sandbox_id_valid(b->sandbox_id, strlen(b->sandbox_id)))
			b->sandbox_id[0] = '\0';
		first_str(ann, labels, sandbox, name_keys, b->pod_name, sizeof(b->pod_name));
		first_str(ann, labels, sandbox, ns_keys, b->pod_namespace, sizeof(b->pod_namespace));
		first_str(ann, labels, sandbox, uid_keys, b->pod_uid, sizeof(b->pod_uid));
		/* the list is comma-separated: a name with a comma is not one */
		if (!sandbox)
			first_str(ann, labels, false, container_keys, b->container_name, sizeof(b->container_name));
		if (strchr(b->container_name, ','))
			b->container_name[0] = '\0';
		json_object_put(labels);
	}
	json_object_put(root);
	return 0;
}

const char *kt_bundle_owner(const char *bundle_id, const struct kt_bundle_info *b, bool *own)
{
	const char *owner = b->sandbox_id[0] ? b->sandbox_id : bundle_id;
	*own = false;
	if (!b->sandbox_id[0] && b->kind == KT_BUNDLE_CONTAINER)
		return NULL; /* a container of an unknown sandbox */
	*own = b->kind != KT_BUNDLE_CONTAINER && strcmp(owner, bundle_id) == 0;
	return owner;
}

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

/* ---------------------------------------------------------------- patterns */

int kt_path_pattern_check(const char *p, bool allow_star, char *err, size_t errlen)
{
	size_t ids = 0, comps = 0;
	const char *last = NULL;

	if (!p || p[0] != '/') {
		snprintf(err, errlen, "'%s': not an absolute path", p ? p : "");
		return -1;
	}
	if (strlen(p) > KT_PATTERN_MAX) {
		snprintf(err, errlen, "'%s': longer than %d characters", p, KT_PATTERN_MAX);
		return -1;
	}
	for (const char *c = p + 1; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
		size_t n = strcspn(c, "/");
		last = c;
		comps++;
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
			snprintf(err, errlen, "'%s': empty, '.' or '..' path component", p);
			return -1;
		}
		if (n == 4 && strncmp(c, "{ID}", 4) == 0) {
			ids++;
		} else if (n == 1 && c[0] == '*' && allow_star) {
			/* any directory */
		} else if (memchr(c, '{', n) || memchr(c, '}', n) || memchr(c, '*', n)) {
			snprintf(err, errlen, "'%s': {ID}%s must be a whole path component", p,
				 allow_star ? " and *" : "");
			return -1;
		}
	}
	if (ids != 1) {
		snprintf(err, errlen, "'%s': {ID} must appear exactly once (found %zu)", p, ids);
		return -1;
	}
	if (comps > KT_PATTERN_COMPONENTS) {
		snprintf(err, errlen, "'%s': more than %d path components", p, KT_PATTERN_COMPONENTS);
		return -1;
	}
	if (strcmp(last, "{ID}") == 0 || strcmp(last, "*") == 0) {
		snprintf(err, errlen, "'%s': must end in a file name after {ID}", p);
		return -1;
	}
	return 0;
}

int kt_bundle_pattern_check(const char *pattern, char *err, size_t errlen)
{
	return kt_path_pattern_check(pattern, true, err, errlen);
}

/* ---------------------------------------------------------------- files */

int kt_open_beneath(int rootfd, const char *rel, int flags)
{
	static bool no_openat2;
	flags |= O_NOFOLLOW | O_CLOEXEC;
	if (!rel[0])
		return openat(rootfd, ".", flags);
	if (!no_openat2) {
		struct open_how how = {
			.flags = (uint64_t)flags,
			.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
		};
		long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return (int)fd;
		no_openat2 = true; /* old kernel, or a seccomp filter without it */
	}
	/* one component at a time, none of them a symbolic link */
	int dir = rootfd;
	char comp[NAME_MAX + 1];
	for (;;) {
		size_t n = strcspn(rel, "/");
		if (n == 0 || n > NAME_MAX || (n <= 2 && strncmp(rel, "..", n) == 0)) {
			if (dir != rootfd)
				close(dir);
			errno = EINVAL;
			return -1;
		}
		memcpy(comp, rel, n);
		comp[n] = '\0';
		bool last = rel[n] == '\0';
		int fd = openat(dir, comp, last ? flags : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int saved = errno;
		if (dir != rootfd)
			close(dir);
		errno = saved;
		if (fd < 0 || last)
			return fd;
		dir = fd;
		rel += n + 1;
	}
}

void kt_file_stamp_of(const struct stat *st, struct kt_file_stamp *s)
{
	memset(s, 0, sizeof(*s));
	if (!S_ISREG(st->st_mode))
		return;
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->size = (uint64_t)st->st_size;
	s->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	s->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

void kt_file_stamp_get(int rootfd, const char *rel, struct kt_file_stamp *s)
{
	struct stat st;
	int fd = kt_open_beneath(rootfd, rel, O_PATH);
	memset(s, 0, sizeof(*s));
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0)
		kt_file_stamp_of(&st, s);
	close(fd);
}

/*
 * Reads regular file fd (at most max bytes) into a NUL-terminated buffer.
 * Returns it, or NULL with the reason in *why.
 */
static char *read_fd(int fd, size_t max, size_t *len, const char **why)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return NULL;
	}
	if ((uint64_t)st.st_size > max) {
		*why = "larger than the limit";
		return NULL;
	}
	/* one byte more than stat says, to see a file that grows meanwhile */
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf) {
		*why = "out of memory";
		return NULL;
	}
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*why = strerror(errno);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == cap) {
		*why = "changed while being read";
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Opens and reads rel below rootfd; NULL if absent (*why NULL) or bad. */
static char *read_beneath(int rootfd, const char *rel, size_t max, size_t *len, const char **why)
{
	*why = NULL;
	int fd = kt_open_beneath(rootfd, rel, O_RDONLY | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			*why = errno == ELOOP ? "a symbolic link on the way" : strerror(errno);
		return NULL;
	}
	char *buf = read_fd(fd, max, len, why);
	close(fd);
	return buf;
}

static void bad_file(enum kt_log_level lvl, const char *run_root, const char *rel, const char *why)
{
	if (kt_log_level >= lvl)
		kt_log(lvl, "%s/%s: %s; ignored", run_root ? run_root : "", rel, why);
}

/* The QEMU pid file: a decimal pid, maybe with a newline. */
static uint32_t parse_pidfile(const char *buf, size_t len)
{
	uint32_t pid;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	return parse_u32(buf, len, INT32_MAX, &pid) && pid ? pid : 0;
}

enum { SRC_PERSIST_GO, SRC_STATE_RS, SRC_STATE_RS_JAILED, SRC_PIDFILE, SRC_N };

static const char *const meta_sources[SRC_N] = {
	[SRC_PERSIST_GO] = "run/vc/sbs/%s/persist.json",
	[SRC_STATE_RS] = "run/kata/%s/state.json",
	[SRC_STATE_RS_JAILED] = "run/kata/firecracker/%s/root/state.json",
	[SRC_PIDFILE] = "run/vc/vm/%s/pid",
};

bool kt_meta_files_refresh(struct kt_meta_files *f, int rootfd, const char *run_root, const char *id,
			   enum kt_log_level lvl)
{
	_Static_assert(sizeof(f->stamp) / sizeof(f->stamp[0]) == SRC_N, "one stamp per source");
	struct kt_file_stamp now[SRC_N];
	char rel[SRC_N][KT_SANDBOX_ID_MAX + 64];

	for (int i = 0; i < SRC_N; i++) {
		snprintf(rel[i], sizeof(rel[i]), meta_sources[i], id);
		kt_file_stamp_get(rootfd, rel[i], &now[i]);
	}
	if (memcmp(now, f->stamp, sizeof(now)) == 0)
		return false;
	memcpy(f->stamp, now, sizeof(now));

	struct kt_sandbox_meta m;
	memset(&m, 0, sizeof(m));
	for (int i = 0; i < SRC_N; i++) {
		const char *why;
		size_t len;
		if (!now[i].ino)
			continue;
		char *buf = read_beneath(rootfd, rel[i], i == SRC_PIDFILE ? KT_META_PIDFILE_MAX : KT_META_PERSIST_MAX,
					 &len, &why);
		if (!buf) {
			if (why)
				bad_file(lvl, run_root, rel[i], why);
			continue;
		}
		if (len == 0) {
			/* just created, not written yet: the write will come as a change */
		} else if (i == SRC_PIDFILE) {
			uint32_t pid = parse_pidfile(buf, len);
			if (pid) {
				m.flags |= KT_META_HAVE_PIDFILE;
				if (!m.hypervisor_pid)
					m.hypervisor_pid = pid;
			} else {
				bad_file(lvl, run_root, rel[i], "not a process id");
			}
		} else {
			struct kt_sandbox_meta p;
			memset(&p, 0, sizeof(p));
			if (kt_meta_parse_persist(buf, len, run_root, &p) == 0)
				kt_meta_merge(&m, &p);
			else
				bad_file(lvl, run_root, rel[i], "malformed JSON or over the limits");
		}
		free(buf);
	}
	bool changed = memcmp(&m, &f->m, sizeof(m)) != 0;
	f->m = m;
	return changed;
}

/* ---------------------------------------------------------------- walking */

struct walk {
	const char *only_id;
	kt_bundle_fn fn;
	void *ctx;
	size_t *budget;
	size_t entries; /* directory entries still allowed */
	size_t found;
	char rel[4096];
};

static void walk_dir(struct walk *w, int dirfd, size_t rel_len, const char *pat, const char *bundle_id);

/* Descends into directory name of dirfd for the rest of the pattern. */
static void walk_into(struct walk *w, int dirfd, size_t rel_len, const char *name, const char *pat,
		      const char *bundle_id)
{
	size_t nl = strlen(name);
	if (rel_len + nl + 2 >= sizeof(w->rel))
		return;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	size_t at = rel_len;
	if (at)
		w->rel[at++] = '/';
	memcpy(w->rel + at, name, nl + 1);
	walk_dir(w, fd, at + nl, pat, bundle_id);
	close(fd);
}

static void walk_dir(struct walk *w, int dirfd, size_t rel_len, const char *pat, const char *bundle_id)
{
	size_t n = strcspn(pat, "/");
	char comp[NAME_MAX + 1];

	if (*w->budget == 0 || n == 0 || n > NAME_MAX)
		return;
	memcpy(comp, pat, n);
	comp[n] = '\0';
	if (pat[n] == '\0') {
		/* the file itself */
		struct stat st;
		if (fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
		    rel_len + n + 2 >= sizeof(w->rel))
			return;
		size_t at = rel_len;
		if (at)
			w->rel[at++] = '/';
		memcpy(w->rel + at, comp, n + 1);
		(*w->budget)--;
		w->found++;
		w->fn(w->ctx, bundle_id, dirfd, comp, w->rel, &st);
		w->rel[rel_len] = '\0';
		return;
	}
	const char *rest = pat + n + 1;
	bool is_id = strcmp(comp, "{ID}") == 0;
	if (is_id && w->only_id) {
		walk_into(w, dirfd, rel_len, w->only_id, rest, w->only_id);
		w->rel[rel_len] = '\0';
		return;
	}
	if (!is_id && strcmp(comp, "*") != 0) {
		walk_into(w, dirfd, rel_len, comp, rest, bundle_id);
		w->rel[rel_len] = '\0';
		return;
	}
	int lfd = dup(dirfd);
	DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
	if (!d) {
		if (lfd >= 0)
			close(lfd);
		return;
	}
	struct dirent *e;
	while (*w->budget && w->entries && (e = readdir(d))) {
		w->entries--;
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		if (is_id && !kt_sandbox_id_valid(e->d_name, strlen(e->d_name)))
			continue;
		walk_into(w, dirfd, rel_len, e->d_name, rest, is_id ? e->d_name : bundle_id);
		w->rel[rel_len] = '\0';
	}
	closedir(d);
}

size_t kt_bundle_walk(int rootfd, const char *const *patterns, size_t n, const char *only_id, size_t *budget,
		      kt_bundle_fn fn, void *ctx)
{
	struct walk *w = calloc(1, sizeof(*w));
	char err[160];
	size_t found;

	if (!w)
		return 0;
	if (only_id && !kt_sandbox_id_valid(only_id, strlen(only_id))) {
		free(w);
		return 0;
	}
	w->only_id = only_id;
	w->fn = fn;
	w->ctx = ctx;
	w->budget = budget;
	w->entries = 4 * (size_t)KT_META_BUNDLES_MAX;
	for (size_t i = 0; i < n; i++) {
		if (kt_bundle_pattern_check(patterns[i], err, sizeof(err)) != 0)
			continue;
		int fd = kt_open_beneath(rootfd, "", O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			continue;
		w->rel[0] = '\0';
		walk_dir(w, fd, 0, patterns[i] + 1, "");
		close(fd);
	}
	found = w->found;
	free(w);
	return found;
}

int kt_bundle_read(int dirfd, const char *name, const char *rel, struct kt_bundle_info *b, enum kt_log_level lvl)
{
	const char *why = NULL;
	size_t len;
	char *buf = NULL;
	int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);

	memset(b, 0, sizeof(*b));
	if (fd < 0)
		return -1; /* gone meanwhile, or a symbolic link */
	buf = read_fd(fd, KT_META_CONFIG_MAX, &len, &why);
	close(fd);
	if (!buf) {
		bad_file(lvl, "", rel, why);
		return -1;
	}
	int rc = len ? kt_meta_parse_bundle(buf, len, b) : -1;
	if (rc != 0 && len)
		bad_file(lvl, "", rel, "malformed JSON or over the limits");
	free(buf);
	return rc;
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
		{ "run/vc/vm/%s", "go" },
		{ "run/vc/sbs/%s", "go" },
		{ "run/kata/%s", "rs" },
	};
	for (size_t i = 0; !m->runtime[0] && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char rel[KT_SANDBOX_ID_MAX + 32];
		snprintf(rel, sizeof(rel), dirs[i].fmt, id);
		int fd = kt_open_beneath(rootfd, rel, O_PATH | O_DIRECTORY);
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

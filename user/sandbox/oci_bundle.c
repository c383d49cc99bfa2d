/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/oci_bundle.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/safe_open.h"
#include "sandbox/meta_json.h"
#include "sandbox/path_pattern.h"
#include "sandbox/sandbox_meta.h"

const char *const kt_bundle_default_patterns[] = {
	"/run/containerd/io.containerd.runtime.v2.task/*/{ID}/config.json",
	"/run/containers/storage/overlay-containers/{ID}/userdata/config.json",
};
const size_t kt_bundle_default_npatterns = sizeof(kt_bundle_default_patterns) / sizeof(kt_bundle_default_patterns[0]);

/* ---------------------------------------------------------------- annotations */

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
		if (kt_meta_json_str(o, keys->key, out, cap))
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
	return kt_meta_json_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v), &why);
}

int kt_bundle_parse(const char *buf, size_t len, struct kt_bundle_info *b)
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
	json_object *root = kt_meta_json_parse(buf, len, &why);
	if (!root)
		return -1;
	json_object *ann = kt_meta_json_obj(root, "annotations");
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

/* ---------------------------------------------------------------- patterns */

int kt_bundle_pattern_check(const char *pattern, char *err, size_t errlen)
{
	return kt_path_pattern_check(pattern, true, err, errlen);
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

/* rel is shown after a '/', as sandbox_meta.c shows its files after the run root. */
static void bad_file(enum kt_log_level lvl, const char *rel, const char *why)
{
	if (kt_log_level >= lvl)
		kt_diag(lvl, "/%s: %s; ignored", rel, why);
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
	buf = kt_read_regular(fd, KT_META_CONFIG_MAX, &len, &why);
	close(fd);
	if (!buf) {
		bad_file(lvl, rel, why);
		return -1;
	}
	int rc = len ? kt_bundle_parse(buf, len, b) : -1;
	if (rc != 0 && len)
		bad_file(lvl, rel, "malformed JSON or over the limits");
	free(buf);
	return rc;
}

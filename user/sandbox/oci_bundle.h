/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI bundles: the config.json the container manager writes for every
 * container, whose annotations say which pod a container belongs to.
 *
 * Takes: bundle patterns (path_pattern.h syntax plus "*" for any directory,
 * {ID} the container id) and a directory descriptor of the run root; or the
 * text of one config.json. Gives: every config.json the patterns match
 * (walked without following symbolic links, ids checked, at most *budget
 * files and 4 * KT_META_BUNDLES_MAX directory entries), and what its
 * annotations say as a plain struct:
 *
 *   containerd CRI  io.kubernetes.cri.{container-type,sandbox-id,
 *                   sandbox-name,sandbox-namespace,sandbox-uid,container-name}
 *   CRI-O           io.kubernetes.cri-o.{ContainerType,SandboxID,KubeName,
 *                   Namespace,Labels}, io.kubernetes.{pod.name,pod.namespace,
 *                   pod.uid,container.name}
 *
 * Strings are clean text that fits, else empty. A file over
 * KT_META_CONFIG_MAX or malformed is logged (naming it) and gives nothing.
 * sandbox_meta.h adds a bundle's information to a sandbox's description
 * (kt_meta_apply_bundle).
 */
#ifndef KT_OCI_BUNDLE_H
#define KT_OCI_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "base/diag.h"
#include "sandbox/sandbox_path.h"

#define KT_BUNDLE_STR 256 /* a pod's name or namespace, a container's name */
#define KT_BUNDLE_UID 64  /* a pod's uid */

enum kt_bundle_kind {
	KT_BUNDLE_UNKNOWN = 0, /* no container-type annotation */
	KT_BUNDLE_SANDBOX = 1, /* the pod sandbox (pause) container */
	KT_BUNDLE_CONTAINER = 2,
};

/* What one OCI bundle's annotations say ("" where they say nothing). */
struct kt_bundle_info {
	uint32_t kind; /* enum kt_bundle_kind */
	char sandbox_id[KT_SANDBOX_ID_MAX + 1];
	char pod_name[KT_BUNDLE_STR];
	char pod_namespace[KT_BUNDLE_STR];
	char pod_uid[KT_BUNDLE_UID];
	char container_name[KT_BUNDLE_STR];
};

/* config.json text into b (zeroed first). Returns 0, or -1 if malformed. */
int kt_bundle_parse(const char *buf, size_t len, struct kt_bundle_info *b);

/*
 * The sandbox a bundle belongs to: the sandbox-id annotation, else the
 * bundle's own id (a Kata sandbox id is its pod sandbox container's id).
 * *own: the bundle is that sandbox's own (not one of its containers).
 * NULL for a container of an unknown sandbox.
 */
const char *kt_bundle_owner(const char *bundle_id, const struct kt_bundle_info *b, bool *own);

/*
 * A bundle pattern is an absolute path (relative to run_root) whose
 * components are names, "*" (any directory) or exactly one "{ID}" (the
 * container id), ending in a file name, e.g.
 * "/run/containerd/io.containerd.runtime.v2.task/ * /{ID}/config.json"
 * (without the spaces). Returns 0, or -1 with a message in err.
 */
int kt_bundle_pattern_check(const char *pattern, char *err, size_t errlen);

/* containerd's and CRI-O's (docs/discovery.md). */
extern const char *const kt_bundle_default_patterns[];
extern const size_t kt_bundle_default_npatterns;

/*
 * Called for each regular file a pattern matches: rel is its path relative
 * to run_root (no leading '/'), st its stat.
 */
typedef void (*kt_bundle_fn)(void *ctx, const char *bundle_id, int dirfd, const char *name, const char *rel,
			     const struct stat *st);

/*
 * Walks the patterns below rootfd (no symbolic links followed, ids
 * checked), calling fn for at most *budget files; *budget is decreased.
 * only_id: just the bundles of that container id (NULL: all). Returns the
 * number of files passed to fn.
 */
size_t kt_bundle_walk(int rootfd, const char *const *patterns, size_t n, const char *only_id, size_t *budget,
		      kt_bundle_fn fn, void *ctx);

/*
 * Reads and parses config.json name in dirfd (at most KT_META_CONFIG_MAX
 * bytes); rel names it in logs (at lvl). Returns 0 or -1.
 */
int kt_bundle_read(int dirfd, const char *name, const char *rel, struct kt_bundle_info *b,
		   enum kt_log_level lvl);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What is known about one Kata sandbox (docs/discovery.md), and how it is
 * read from the files Kata and the container manager leave on the host.
 *
 * Takes: a run root and a sandbox id; or the text of a state file; or what
 * other sources say (a bundle, another description). Gives: struct
 * kt_sandbox_meta, from
 *
 *  <run_root>/run/vc/sbs/<id>/persist.json   Go runtime state (persistapi):
 *      AgentState.URL "vsock://<cid>:1024" or "hvsock://<uds>:1024",
 *      HypervisorState.Pid, HypervisorState.Type (else Config.HypervisorType)
 *  <run_root>/run/kata/<id>/state.json       runtime-rs state (a jailed
 *      hypervisor's in its chroot, sandbox/hypervisors.h):
 *      hypervisor.hypervisor_type, hypervisor.pid
 *  the hypervisors' pid files (sandbox/hypervisors.h: QEMU's
 *      <run_root>/run/vc/vm/<id>/pid)
 *  OCI bundles under the bundle patterns (sandbox/oci_bundle.h): pod name,
 *      namespace and uid, the containers' names
 *
 * struct kt_sandbox_meta is plain fixed-size data (no pointers) so that a
 * privileged helper can send it as bytes; every string in it is
 * NUL-terminated, valid UTF-8 without control characters, and empty when
 * unknown. Values that do not fit their field are dropped, not cut.
 *
 * Everything is bounded: file sizes (KT_META_*_MAX), JSON nesting
 * (KT_META_JSON_DEPTH, sandbox/meta_json.h), bundles per scan
 * (KT_META_BUNDLES_MAX). Files are opened without following symbolic links
 * anywhere below run_root (base/safe_open.h), FIFOs and devices are
 * refused. A malformed or oversized file is logged (naming it) and
 * contributes nothing.
 */
#ifndef KT_SANDBOX_META_H
#define KT_SANDBOX_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "base/file_stamp.h"
#include "base/diag.h"
#include "model/attrs.h"
#include "sandbox/oci_bundle.h"
#include "sandbox/sandbox_path.h"

#define KT_META_STR 256
#define KT_META_PATH 256   /* a path as this process sees it (run_root included) */
#define KT_META_NAMES 1024
#define KT_META_HV 24

#define KT_META_PERSIST_MAX (1u << 20)  /* persist.json */
#define KT_META_CONFIG_MAX (4u << 20)   /* an OCI bundle's config.json */
#define KT_META_PIDFILE_MAX 64u
#define KT_META_JSON_DEPTH 32
#define KT_META_BUNDLES_MAX 16384       /* config.json files looked at per scan */
#define KT_META_SOURCES_MAX 8           /* state and pid files of one sandbox */

/* kt_sandbox_meta.flags */
#define KT_META_HAVE_PERSIST 0x01u    /* a persist.json was read */
#define KT_META_HAVE_PIDFILE 0x02u    /* a hypervisor's pid file (QEMU's) was read */
#define KT_META_HAVE_BUNDLE 0x04u     /* the pod sandbox's own OCI bundle was read */
#define KT_META_HAVE_CONTAINERS 0x08u /* at least one container bundle of the sandbox */
#define KT_META_VSOCK 0x10u           /* the agent is on standard vsock (guest_cid) */
#define KT_META_HYBRID_VSOCK 0x20u    /* the agent is on hybrid vsock (hvsock_path) */
#define KT_META_NAMES_TRUNCATED 0x40u /* container names did not all fit */

struct kt_sandbox_meta {
	uint32_t flags;
	uint32_t hypervisor_pid;            /* 0: unknown */
	uint32_t guest_cid;                 /* 0: unknown (or hybrid vsock) */
	char id[KT_SANDBOX_ID_MAX + 1];
	char hypervisor[KT_META_HV];        /* "qemu", "cloud-hypervisor", "firecracker",
					       "dragonball", "stratovirt"; "" unknown */
	char runtime[8];                    /* "go", "rs", "" */
	char hvsock_path[KT_META_PATH];     /* hybrid vsock uds (no _<port>), run_root
					       prefixed; "" for standard vsock/unknown */
	char pod_name[KT_META_STR];
	char pod_namespace[KT_META_STR];
	char pod_uid[64];
	char container_names[KT_META_NAMES]; /* sorted, comma-separated CRI names, "" none */
};

/*
 * Fills m (zeroed first) for sandbox id from the files above, with the
 * default bundle patterns. run_root: prefix of the host paths ("" or NULL
 * for /). Repeatable: call again later to pick up files written since.
 * Returns 0, or -1 when id is not a plausible sandbox id or run_root cannot
 * be opened (m then holds only what could be set).
 */
int kt_sandbox_meta_fill(const char *run_root, const char *id, struct kt_sandbox_meta *m);
/* The same with a list of bundle patterns (see kt_bundle_pattern_check). */
int kt_sandbox_meta_fill_ex(const char *run_root, const char *id, const char *const *bundle_patterns,
			    size_t n_patterns, struct kt_sandbox_meta *m);

/*
 * For a receiver of the bytes: every string field is NUL-terminated inside
 * its array and valid UTF-8, and id is a plausible sandbox id.
 */
bool kt_sandbox_meta_valid(const struct kt_sandbox_meta *m);

/* The rule for every string of a description: valid UTF-8 without control characters. */
bool kt_meta_text_clean(const char *s, size_t n);
/* Copies s[0..n) into out[cap] if it is non-empty, fits and is clean text. */
bool kt_meta_str_set(char *out, size_t cap, const char *s, size_t n);

/* ---------------------------------------------------------------- parsers */

/*
 * persist.json (Go) or state.json (runtime-rs) text into m: only the fields the
 * file has are set (guest_cid, hvsock_path with run_root prefixed,
 * hypervisor_pid, hypervisor, runtime, flags). Returns 0, or -1 if the text
 * is not a JSON object within the limits.
 */
int kt_meta_parse_persist(const char *buf, size_t len, const char *run_root, struct kt_sandbox_meta *m);

/*
 * Adds what bundle says to m when it belongs to m->id: pod fields (the
 * sandbox's own bundle wins over its containers'), the container's name
 * into container_names, HAVE_BUNDLE / HAVE_CONTAINERS. Returns true if the
 * bundle belongs to m->id.
 */
bool kt_meta_apply_bundle(struct kt_sandbox_meta *m, const char *bundle_id, const struct kt_bundle_info *b);

/*
 * Copies into dst every field dst does not have yet (empty string, zero
 * number) from src, and ORs the flags.
 */
void kt_meta_merge(struct kt_sandbox_meta *dst, const struct kt_sandbox_meta *src);

/*
 * The pod's attributes m knows, for a resource: k8s.pod.name,
 * k8s.namespace.name, k8s.pod.uid, katatrace.k8s.container.names. Values
 * are kept as given (they must outlive the list). Nothing for a NULL m.
 */
void kt_sandbox_meta_pod_attrs(struct kt_attrs *b, const struct kt_sandbox_meta *m);

/* ---------------------------------------------------------------- files */

/* The state files and pid files of one sandbox, re-read only when changed. */
struct kt_meta_files {
	struct kt_file_stamp stamp[KT_META_SOURCES_MAX];
	struct kt_sandbox_meta m; /* what they say (id not set) */
};

/*
 * Re-reads the files whose stamp differs from f's; malformed files are
 * logged at lvl. Returns true if f->m changed.
 */
bool kt_meta_files_refresh(struct kt_meta_files *f, int rootfd, const char *run_root, const char *id,
			   enum kt_log_level lvl);

#endif

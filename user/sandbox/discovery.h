/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Discovery of Kata sandboxes under a run root, with inotify
 * (docs/discovery.md). Independent of any event loop: poll
 * kt_discovery_fd() for input, call kt_discovery_dispatch() when it is
 * readable and kt_discovery_tick() now and then; results come as calls of
 * the callback, each with a plain fixed-size struct kt_disc_event (no
 * pointers: it can be sent as bytes to another process).
 *
 * Takes: a run root, templates that say where a sandbox leaves files
 * (sandbox/disc_template.h; by default Kata's layouts, kt_hv_layouts in
 * sandbox/hypervisors.h), OCI bundle patterns (sandbox/oci_bundle.h) and
 * the vsock ports of the trace listeners. Gives: for each sandbox, when it
 * is up, what is known about it (struct kt_sandbox_meta, kept current) and
 * where a hybrid-vsock trace listener has to exist, and when it is gone.
 * This file reconciles what inotify and rescans show with what was
 * reported; its tables are sandbox/id_table.h.
 *
 * Watched: every existing directory on the way to each template's directory
 * of ids (a missing one is picked up when it is created), that directory,
 * and each sandbox's directories between {ID} and the file. Nothing below
 * the run root is reached through a symbolic link.
 *
 * Events, per sandbox:
 *   SANDBOX_UP      a directory of the sandbox exists for the first time;
 *                   meta as complete as the files allow
 *   SANDBOX_UPDATE  meta changed (a state file written, pid file, a
 *                   container bundle appeared or went): only on change
 *   LISTEN          a hybrid listener <uds>_<port> should exist now (one
 *                   event per configured port)
 *   UNLISTEN        it should not any more
 *   SANDBOX_DOWN    no directory of the sandbox is left (after UNLISTENs)
 *
 * The ambiguity rule. A sandbox directory can belong to several templates
 * (/run/vc/vm/{ID}/ is Cloud Hypervisor's and QEMU's, /run/kata/{ID}/ is
 * runtime-rs Cloud Hypervisor's and unjailed Firecracker's). The listener
 * has to exist before the agent connects, which is before the hypervisor's
 * socket shows which template applies, so:
 *  - LISTEN for every hybrid candidate whose directory exists, as soon as
 *    it exists (restricted to one hypervisor once a marker or a state file
 *    names it);
 *  - when a candidate's socket appears (or Go's persist.json gives its path),
 *    the sandbox is resolved to it: UNLISTEN the other candidates;
 *  - when the sandbox turns out to use standard vsock (a qemu/stratovirt
 *    marker appears, persist.json has a vsock:// agent URL, or persist.json
 *    or runtime-rs's state.json names QEMU or StratoVirt), UNLISTEN every
 *    candidate;
 *  - these decisions hold until the sandbox is down; a resolved listener
 *    is withdrawn when its socket disappears again (the VM stopped) or its
 *    directory does.
 *
 * Bounded: at most KT_DISC_MAX_SANDBOXES sandboxes, KT_DISC_MAX_TEMPLATES
 * templates; files as in sandbox_meta.h. An inotify queue overflow makes a
 * full rescan that reports only differences; when a watch cannot be added
 * (fs.inotify.max_user_watches) it is logged once and every tick rescans.
 *
 * Not thread-safe. The callback must not call kt_discovery_* functions.
 */
#ifndef KT_DISCOVERY_H
#define KT_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/disc_template.h"
#include "sandbox/oci_bundle.h"
#include "sandbox/sandbox_meta.h"

#define KT_DISC_MAX_TEMPLATES 32
#define KT_DISC_MAX_PORTS 8
#define KT_DISC_MAX_SANDBOXES 65536
#define KT_DISC_PATH_MAX 256 /* a listener path as this process sees it */
#define KT_DISC_DEFAULT_PORT 10240
#define KT_DISC_DEFAULT_RESCAN_MS 2000

enum kt_disc_event_type {
	KT_DISC_SANDBOX_UP = 1,
	KT_DISC_SANDBOX_UPDATE = 2,
	KT_DISC_LISTEN = 3,
	KT_DISC_UNLISTEN = 4,
	KT_DISC_SANDBOX_DOWN = 5,
};

struct kt_disc_event {
	uint32_t type;                 /* enum kt_disc_event_type */
	uint32_t port;                 /* LISTEN, UNLISTEN: the vsock port */
	char path[KT_DISC_PATH_MAX];   /* LISTEN, UNLISTEN: <uds>_<port> ("" otherwise) */
	char hypervisor[KT_META_HV];   /* LISTEN, UNLISTEN: the candidate's hypervisor */
	struct kt_sandbox_meta meta;   /* the sandbox (DOWN, UNLISTEN: as last reported) */
};

typedef void (*kt_disc_cb)(const struct kt_disc_event *ev, void *ctx);

struct kt_discovery_config {
	const char *run_root;               /* "" or NULL: / */
	const char *const *templates;       /* NULL: Kata's layouts (kt_hv_layouts) */
	size_t ntemplates;
	const char *const *bundle_patterns; /* NULL: kt_bundle_default_patterns;
					       non-NULL with 0: no bundles */
	size_t nbundle_patterns;
	const uint32_t *ports;              /* NULL or 0 ports: KT_DISC_DEFAULT_PORT */
	size_t nports;
	uint32_t rescan_ms;                 /* bundle rescan period; 0: default */
};

struct kt_discovery;

/* NULL with a message in err on a bad configuration or no memory. */
struct kt_discovery *kt_discovery_new(const struct kt_discovery_config *cfg, kt_disc_cb cb, void *ctx,
				      char *err, size_t errlen);

/*
 * The inotify descriptor to poll for input (non-blocking), or -1 when
 * inotify is unavailable: then only kt_discovery_tick() finds changes.
 */
int kt_discovery_fd(const struct kt_discovery *d);

/*
 * Start-up: watches what exists and reports every sandbox already there,
 * with its listeners. Call once after kt_discovery_new().
 */
void kt_discovery_scan(struct kt_discovery *d);

/* Reads what inotify has (never blocks) and reports it. Returns the number of inotify events read. */
int kt_discovery_dispatch(struct kt_discovery *d);

/*
 * Periodic work (bundle rescan; full rescan when watches failed): due every
 * rescan_ms. now_ns: CLOCK_MONOTONIC (clock.h). Returns the nanoseconds
 * until it is due again.
 */
uint64_t kt_discovery_tick(struct kt_discovery *d, uint64_t now_ns);

/* What an inotify queue overflow does: rescan everything, report differences. */
void kt_discovery_rescan(struct kt_discovery *d);

/* Sandboxes currently up. */
size_t kt_discovery_count(const struct kt_discovery *d);

/* Frees everything; reports nothing (the owner closes its listeners). */
void kt_discovery_free(struct kt_discovery *d);

#endif

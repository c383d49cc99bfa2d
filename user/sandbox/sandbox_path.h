/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sandbox identity from Kata's runtime paths (WIRE-FORMATS §3.2):
 *   /run/vc/vm/<id>/...                Go runtime, the VM's directory
 *   /run/vc/sbs/<id>/...               Go runtime, the sandbox's state
 *   /run/vc/<jail>/<id>/root/...       Go runtime, a jailed VMM
 *   /run/kata/<jail>/<id>/...          runtime-rs, a jailed VMM
 *   /run/kata/<id>/...                 runtime-rs
 * e.g. /run/vc/vm/<id>/clh.sock_10240, /run/kata/<id>/root/kata.hvsock_10240.
 * Which hypervisor a path shows comes from the one table
 * (sandbox/hypervisors.h): the hypervisor jailed in <jail>, the one whose
 * hybrid-vsock socket layout the rest of the path is (a listener
 * <socket>_<port> too), or the one whose socket name it starts with when
 * no other hypervisor uses that name.
 */
#ifndef KT_SANDBOX_PATH_H
#define KT_SANDBOX_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define KT_SANDBOX_ID_MAX 128

struct kt_sandbox_ref {
	char id[KT_SANDBOX_ID_MAX + 1];
	const char *hypervisor; /* a hybrid-vsock hypervisor ("cloud-hypervisor", ...) or NULL */
};

/*
 * Parses path; root is the runtime directory prefix ("" for the real /run).
 * Returns false when the path is not a Kata sandbox path or the id is not a
 * plausible identifier ([A-Za-z0-9_.-], 1..KT_SANDBOX_ID_MAX, not "." / "..").
 */
bool kt_sandbox_from_path(const char *path, const char *root, struct kt_sandbox_ref *out);

/*
 * The sandbox of the first Kata path inside one command-line argument, root
 * prefixed: a path above (at the argument's start or anywhere in it:
 * "--api-socket=/run/vc/vm/<id>/clh-api.sock",
 * "unix:/run/vc/vm/<id>/qmp.sock,server=on"), or one in the sandbox's
 * directory shared with the guest (KT_KATA_SHARED_DIR/<id>, ended by '/',
 * ',' or the argument's end: virtiofsd's --shared-dir). out->hypervisor as
 * kt_sandbox_from_path says (NULL for a shared directory).
 */
bool kt_sandbox_from_arg(const char *arg, const char *root, struct kt_sandbox_ref *out);

/* Is id[0..n) a plausible sandbox identifier (the rule above)? */
bool kt_sandbox_id_valid(const char *id, size_t n);

#endif

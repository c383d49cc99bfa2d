/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sandbox identity from Kata's runtime paths (WIRE-FORMATS §3.2):
 *   /run/vc/vm/<id>/clh.sock_10240                     Go runtime, Cloud Hypervisor
 *   /run/vc/firecracker/<id>/root/kata.hvsock_10240    Go runtime, Firecracker (jailer)
 *   /run/vc/<hypervisor>/<id>/root/...                 Go runtime, other jailed VMMs
 *   /run/kata/<id>/root/kata.hvsock_10240              runtime-rs, Dragonball
 *   /run/kata/<id>/ch-vm.sock_10240                    runtime-rs, Cloud Hypervisor
 *   /run/kata/firecracker/<id>/root/kata.hvsock_10240  runtime-rs, Firecracker (jailed)
 */
#ifndef KT_SANDBOX_PATH_H
#define KT_SANDBOX_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define KT_SANDBOX_ID_MAX 128

struct kt_sandbox_ref {
	char id[KT_SANDBOX_ID_MAX + 1];
	const char *hypervisor; /* "cloud-hypervisor", "firecracker", "dragonball" or NULL */
};

/*
 * Parses path; root is the runtime directory prefix ("" for the real /run).
 * Returns false when the path is not a Kata sandbox path or the id is not a
 * plausible identifier ([A-Za-z0-9_.-], 1..KT_SANDBOX_ID_MAX, not "." / "..").
 */
bool kt_sandbox_from_path(const char *path, const char *root, struct kt_sandbox_ref *out);

/* Is id[0..n) a plausible sandbox identifier (the rule above)? */
bool kt_sandbox_id_valid(const char *id, size_t n);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the daemon knows about each sandbox on the node, as the broker's
 * discovery reported it (sandbox/discovery.c): looked up by sandbox id (from a
 * hybrid-vsock socket path) or by guest CID (standard vsock) when a
 * connection's resource attributes are built. A sandbox that went away
 * stays a while, since its last spans may still be on their way.
 */
#ifndef KT_SANDBOX_REGISTRY_H
#define KT_SANDBOX_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox_meta.h"

struct kt_sandbox_entry {
	struct kt_sandbox_meta meta;
	uint64_t gen;     /* changes whenever meta does */
	uint64_t gone_ns; /* 0 while the sandbox exists */
};

struct kt_sandbox_registry;

struct kt_sandbox_registry *kt_registry_new(uint64_t linger_ns);
/* Adds or replaces (an update). */
int kt_registry_put(struct kt_sandbox_registry *r, const struct kt_sandbox_meta *m);
/* The sandbox is gone: forgotten linger_ns after now_ns. */
void kt_registry_gone(struct kt_sandbox_registry *r, const char *id, uint64_t now_ns);
void kt_registry_tick(struct kt_sandbox_registry *r, uint64_t now_ns);
/* NULL if unknown. Valid until the next put/gone/tick. */
const struct kt_sandbox_entry *kt_registry_by_id(const struct kt_sandbox_registry *r,
						 const char *id);
const struct kt_sandbox_entry *kt_registry_by_cid(const struct kt_sandbox_registry *r,
						  uint32_t cid);
/* The sandbox whose hypervisor process is pid (persist.json, QEMU's pid file). */
const struct kt_sandbox_entry *kt_registry_by_pid(const struct kt_sandbox_registry *r,
						  uint32_t pid);
/* Changes with every put that changed something. */
uint64_t kt_registry_version(const struct kt_sandbox_registry *r);
/* Sandboxes that exist now (not the lingering ones). */
size_t kt_registry_live(const struct kt_sandbox_registry *r);
void kt_registry_free(struct kt_sandbox_registry *r);

#endif

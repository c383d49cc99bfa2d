/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hypervisors Kata runs, and every name each goes by: ours (the
 * katatrace.hypervisor* attributes), Kata's configuration type, the process
 * name (comm) it runs as, and the executables it is installed as. The one
 * table: the BPF program's list of hypervisor executables is filled from it,
 * and discovery, sandbox metadata and the VM spans look names up here.
 */
#ifndef KT_HYPERVISORS_H
#define KT_HYPERVISORS_H

#include <stdbool.h>
#include <stddef.h>

struct kt_hypervisor {
	const char *name; /* ours: "qemu", "cloud-hypervisor", ... */
	const char *kata; /* Kata's type name in its configuration: "clh", ... */
	const char *comm; /* a prefix of the process name (comm is cut at 15 bytes) */
};

extern const struct kt_hypervisor kt_hypervisors[];
extern const size_t kt_n_hypervisors;

/*
 * The executables that are hypervisors (basename of the executed file); a
 * trailing '*' makes a prefix. Dragonball runs inside the runtime-rs shim,
 * so it has none.
 */
extern const char *const kt_hv_exes[];
extern const size_t kt_n_hv_exes;

/* Is basename one of kt_hv_exes? */
bool kt_hv_exe_match(const char *basename);
/* Our name for a hypervisor executable ("qemu" for "qemu-system-x86_64"); NULL if not one. */
const char *kt_hv_of_exe(const char *basename);
/* Our name for Kata's type name ("clh") or ours; NULL if unknown. */
const char *kt_hv_of_kata_type(const char *kata_type);
/* Our name for a process name ("cloud-hyperviso"); NULL if unknown. */
const char *kt_hv_of_comm(const char *comm);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hypervisors Kata runs, and every fact about each that the tracer
 * relies on: the names it goes by (ours for the katatrace.hypervisor*
 * attributes, Kata's configuration type, the process name, the executables),
 * how its agent is reached (hybrid vsock through a unix socket, or standard
 * vsock), where Kata jails it, and where Kata's runtimes leave its files for
 * a sandbox (WIRE-FORMATS §3.2). The one table: nothing else in the tree
 * spells a hypervisor's name, socket or directory.
 *
 * Takes: names seen elsewhere (an executable, a comm, a Kata type name, a
 * path below a runtime directory). Gives: our name for them, and the
 * layouts that discovery (its default templates), sandbox_path.c (ids and
 * hypervisors from paths), the sandbox metadata (the pid file, the jail's
 * state.json), the BPF program (hypervisor executables) and the runtime's
 * ttrpc capture (hybrid-vsock socket names) are built from.
 */
#ifndef KT_HYPERVISORS_H
#define KT_HYPERVISORS_H

#include <stdbool.h>
#include <stddef.h>

struct kt_hypervisor {
	const char *name; /* ours: "qemu", "cloud-hypervisor", ... */
	const char *kata; /* Kata's type name in its configuration: "clh", ... */
	const char *comm; /* a prefix of the process name (comm is cut at 15 bytes) */
	bool hybrid;      /* the agent is behind a hybrid-vsock unix socket; else standard vsock */
	/*
	 * The directory Kata's jailer chroots it in, below a runtime's
	 * directory: its files are in /run/vc/<jail>/<id>/root/ (Go) or
	 * /run/kata/<jail>/<id>/root/ (runtime-rs); NULL: not jailed.
	 */
	const char *jail;
	/*
	 * An option whose value is the sandbox id on the hypervisor's command
	 * line when no path there names the sandbox ("--id": Kata's jailer
	 * passes its --id on to Firecracker as --id=<id>); NULL: none.
	 */
	const char *id_option;
	bool in_shim; /* runs inside the runtime shim: no process of its own */
};

/* In the order their names are listed (kt_hv_names). */
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
/* The entry for Kata's type name or ours; NULL if unknown. */
const struct kt_hypervisor *kt_hv_find(const char *name);
/* Is name (ours or Kata's) a hypervisor whose agent is on standard vsock? */
bool kt_hv_std_vsock(const char *name);
/* The hypervisor Kata jails in directory name ("firecracker"); NULL if none. */
const char *kt_hv_of_jail(const char *name);
/*
 * Our names, comma-separated in table order ("cloud-hypervisor, firecracker,
 * ..."), into out (cut to cap). Returns out.
 */
const char *kt_hv_names(char *out, size_t cap);

/* ---------------------------------------------------------------- layouts */

enum kt_hv_file {
	KT_HV_SOCKET = 1,  /* the hypervisor's hybrid-vsock socket: listener <path>_<port> */
	KT_HV_MARKER = 2,  /* a file that shows the sandbox (and its hypervisor, if any) */
	KT_HV_PIDFILE = 3, /* a marker holding the hypervisor's pid (decimal) */
};

/*
 * Where Kata's runtimes leave a file of a sandbox, with {ID} for the sandbox
 * id (one whole path component). Their order is the default discovery
 * templates' (docs/discovery.md).
 */
struct kt_hv_layout {
	const struct kt_hypervisor *hv; /* NULL: any (the file shows only the sandbox) */
	enum kt_hv_file file;
	const char *path; /* absolute, as on the host: "/run/vc/vm/{ID}/clh.sock" */
};

extern const struct kt_hv_layout kt_hv_layouts[];
extern const size_t kt_n_hv_layouts;

/*
 * The file names of the hybrid-vsock sockets, '/' first ("/clh.sock"), each
 * once: the runtime talks ttrpc to the agent through them (WIRE-FORMATS
 * §3.2), so a listener path ending in one carries ttrpc.
 */
extern const char *const kt_hv_sockets[];
extern const size_t kt_n_hv_sockets;

/*
 * The hypervisor whose hybrid-vsock socket file rest is, rest being the path
 * below a sandbox's {ID} directory in directory dir (dir_len bytes of it,
 * "/run/kata"): a socket layout of dir whose file starts rest
 * ("root/kata.hvsock_10240" below /run/kata/{ID}/ is Dragonball's), else a
 * socket file name that only one hypervisor uses, starting rest
 * ("clh.sock_10240"). A prefix, so that a listener <socket>_<port> names its
 * socket's hypervisor. NULL if none.
 */
const char *kt_hv_of_socket(const char *dir, size_t dir_len, const char *rest);

#endif

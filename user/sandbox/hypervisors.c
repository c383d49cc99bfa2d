/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/hypervisors.h"

#include <stdio.h>
#include <string.h>

#include "sandbox/kata_dirs.h"

enum { CLH, FIRECRACKER, DRAGONBALL, QEMU, STRATOVIRT, N_HV };

/* The jail directory of a jailed Firecracker (the jailer's --exec-file name). */
#define FC_JAIL "firecracker"

const struct kt_hypervisor kt_hypervisors[] = {
	/* comm is cut at 15 bytes */
	[CLH] = { "cloud-hypervisor", "clh", "cloud-hyperviso", true, NULL, NULL, false },
	[FIRECRACKER] = { "firecracker", "firecracker", "firecracker", true, FC_JAIL, "--id", false },
	/* runtime-rs runs Dragonball in-process */
	[DRAGONBALL] = { "dragonball", "dragonball", "containerd-shim", true, NULL, NULL, true },
	[QEMU] = { "qemu", "qemu", "qemu", false, NULL, NULL, false },
	[STRATOVIRT] = { "stratovirt", "stratovirt", "stratovirt", false, NULL, NULL, false },
};
const size_t kt_n_hypervisors = sizeof(kt_hypervisors) / sizeof(kt_hypervisors[0]);
_Static_assert(sizeof(kt_hypervisors) / sizeof(kt_hypervisors[0]) == N_HV, "one entry per hypervisor");

const char *const kt_hv_exes[] = {
	"qemu-system-*", "qemu-kvm", "cloud-hypervisor", "firecracker", "stratovirt",
};
const size_t kt_n_hv_exes = sizeof(kt_hv_exes) / sizeof(kt_hv_exes[0]);

/* The hybrid-vsock sockets' file names. */
#define CLH_SOCK "/clh.sock"   /* Go runtime's Cloud Hypervisor */
#define HVSOCK "/kata.hvsock"  /* Firecracker, Dragonball */
#define CH_VM_SOCK "/ch-vm.sock" /* runtime-rs's Cloud Hypervisor */

const char *const kt_hv_sockets[] = { CLH_SOCK, HVSOCK, CH_VM_SOCK };
const size_t kt_n_hv_sockets = sizeof(kt_hv_sockets) / sizeof(kt_hv_sockets[0]);

#define HV(i) (&kt_hypervisors[i])

const struct kt_hv_layout kt_hv_layouts[] = {
	/* Go runtime (containerd-shim-kata-v2) */
	{ HV(CLH), KT_HV_SOCKET, KT_KATA_GO_VM_DIR "/{ID}" CLH_SOCK },
	{ HV(FIRECRACKER), KT_HV_SOCKET, KT_KATA_GO_DIR "/" FC_JAIL "/{ID}/root" HVSOCK },
	{ HV(QEMU), KT_HV_MARKER, KT_KATA_GO_VM_DIR "/{ID}/qmp.sock" },
	{ HV(QEMU), KT_HV_PIDFILE, KT_KATA_GO_VM_DIR "/{ID}/pid" },
	{ HV(STRATOVIRT), KT_HV_MARKER, KT_KATA_GO_VM_DIR "/{ID}/qmp.socket" },
	{ NULL, KT_HV_MARKER, KT_KATA_GO_SBS_DIR "/{ID}/" KT_KATA_GO_STATE },
	/* runtime-rs */
	{ HV(DRAGONBALL), KT_HV_SOCKET, KT_KATA_RS_DIR "/{ID}/root" HVSOCK },
	{ HV(CLH), KT_HV_SOCKET, KT_KATA_RS_DIR "/{ID}" CH_VM_SOCK },
	{ HV(FIRECRACKER), KT_HV_SOCKET, KT_KATA_RS_DIR "/" FC_JAIL "/{ID}/root" HVSOCK },
	{ HV(FIRECRACKER), KT_HV_SOCKET, KT_KATA_RS_DIR "/{ID}" HVSOCK },
};
const size_t kt_n_hv_layouts = sizeof(kt_hv_layouts) / sizeof(kt_hv_layouts[0]);

bool kt_hv_exe_match(const char *basename)
{
	for (size_t i = 0; basename && i < kt_n_hv_exes; i++) {
		const char *e = kt_hv_exes[i];
		size_t n = strlen(e);
		if (n && e[n - 1] == '*' ? strncmp(basename, e, n - 1) == 0 : strcmp(basename, e) == 0)
			return true;
	}
	return false;
}

const char *kt_hv_of_exe(const char *basename)
{
	if (!kt_hv_exe_match(basename))
		return NULL;
	if (strncmp(basename, kt_hypervisors[QEMU].name, strlen(kt_hypervisors[QEMU].name)) == 0)
		return kt_hypervisors[QEMU].name; /* qemu-system-*, qemu-kvm */
	for (size_t i = 0; i < kt_n_hv_exes; i++)
		if (strcmp(basename, kt_hv_exes[i]) == 0)
			return kt_hv_exes[i]; /* static */
	return NULL;
}

const struct kt_hypervisor *kt_hv_find(const char *name)
{
	for (size_t i = 0; name && i < kt_n_hypervisors; i++)
		if (strcmp(name, kt_hypervisors[i].kata) == 0 || strcmp(name, kt_hypervisors[i].name) == 0)
			return &kt_hypervisors[i];
	return NULL;
}

const char *kt_hv_of_kata_type(const char *kata_type)
{
	const struct kt_hypervisor *h = kt_hv_find(kata_type);
	return h ? h->name : NULL;
}

const char *kt_hv_of_comm(const char *comm)
{
	for (size_t i = 0; comm && i < kt_n_hypervisors; i++)
		if (strncmp(comm, kt_hypervisors[i].comm, strlen(kt_hypervisors[i].comm)) == 0)
			return kt_hypervisors[i].name;
	return NULL;
}

bool kt_hv_std_vsock(const char *name)
{
	const struct kt_hypervisor *h = kt_hv_find(name);
	return h && !h->hybrid;
}

const char *kt_hv_of_jail(const char *name)
{
	for (size_t i = 0; name && i < kt_n_hypervisors; i++)
		if (kt_hypervisors[i].jail && strcmp(name, kt_hypervisors[i].jail) == 0)
			return kt_hypervisors[i].name;
	return NULL;
}

const char *kt_hv_names(char *out, size_t cap)
{
	size_t at = 0;
	if (cap)
		out[0] = '\0';
	for (size_t i = 0; i < kt_n_hypervisors && at < cap; i++) {
		int n = snprintf(out + at, cap - at, "%s%s", i ? ", " : "", kt_hypervisors[i].name);
		if (n < 0)
			break;
		at += (size_t)n;
	}
	return out;
}

/* The file name of a layout's path ("clh.sock"). */
static const char *file_name(const char *path)
{
	return strrchr(path, '/') + 1;
}

const char *kt_hv_of_socket(const char *dir, size_t dir_len, const char *rest)
{
	const char *hv = NULL;
	size_t users = 0;

	/* a socket of a layout of that directory */
	for (size_t i = 0; i < kt_n_hv_layouts; i++) {
		const struct kt_hv_layout *l = &kt_hv_layouts[i];
		const char *id = strstr(l->path, "/{ID}/");
		if (l->file != KT_HV_SOCKET || (size_t)(id - l->path) != dir_len || strncmp(l->path, dir, dir_len) != 0)
			continue;
		if (strncmp(rest, id + 6, strlen(id + 6)) == 0)
			return l->hv->name;
	}
	/* a socket file name only one hypervisor uses */
	for (size_t i = 0; i < kt_n_hv_layouts; i++) {
		const struct kt_hv_layout *l = &kt_hv_layouts[i];
		const char *name = file_name(l->path);
		if (l->file != KT_HV_SOCKET || strncmp(rest, name, strlen(name)) != 0 || hv == l->hv->name)
			continue;
		hv = l->hv->name;
		users++;
	}
	return users == 1 ? hv : NULL;
}

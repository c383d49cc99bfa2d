/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/hypervisors.h"

#include <string.h>

const struct kt_hypervisor kt_hypervisors[] = {
	{ "qemu", "qemu", "qemu" },
	{ "cloud-hypervisor", "clh", "cloud-hyperviso" }, /* comm is cut at 15 bytes */
	{ "firecracker", "firecracker", "firecracker" },
	{ "dragonball", "dragonball", "containerd-shim" }, /* runtime-rs runs Dragonball in-process */
	{ "stratovirt", "stratovirt", "stratovirt" },
};
const size_t kt_n_hypervisors = sizeof(kt_hypervisors) / sizeof(kt_hypervisors[0]);

const char *const kt_hv_exes[] = {
	"qemu-system-*", "qemu-kvm", "cloud-hypervisor", "firecracker", "stratovirt",
};
const size_t kt_n_hv_exes = sizeof(kt_hv_exes) / sizeof(kt_hv_exes[0]);

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
	if (strncmp(basename, "qemu", 4) == 0)
		return "qemu";
	for (size_t i = 0; i < kt_n_hv_exes; i++)
		if (strcmp(basename, kt_hv_exes[i]) == 0)
			return kt_hv_exes[i]; /* static */
	return NULL;
}

const char *kt_hv_of_kata_type(const char *kata_type)
{
	for (size_t i = 0; kata_type && i < kt_n_hypervisors; i++)
		if (strcmp(kata_type, kt_hypervisors[i].kata) == 0 ||
		    strcmp(kata_type, kt_hypervisors[i].name) == 0)
			return kt_hypervisors[i].name;
	return NULL;
}

const char *kt_hv_of_comm(const char *comm)
{
	for (size_t i = 0; comm && i < kt_n_hypervisors; i++)
		if (strncmp(comm, kt_hypervisors[i].comm, strlen(kt_hypervisors[i].comm)) == 0)
			return kt_hypervisors[i].name;
	return NULL;
}

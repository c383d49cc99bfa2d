/* SPDX-License-Identifier: Apache-2.0 */
#include "capture/kernel_features.h"

#include <bpf/btf.h>

bool kt_kernel_has_kfunc(const char *name)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return false; /* no BTF: no kfunc either */
	bool has = btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	return has;
}

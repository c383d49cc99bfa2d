/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sandbox ids from Kata's runtime paths (sandbox/sandbox_path.c) at their
 * length limit: 128 characters are an id, 129 are not, in every layout; the
 * hypervisor of every socket layout of the one table (sandbox/hypervisors.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/hypervisors.h"
#include "sandbox/kata_dirs.h"
#include "sandbox/sandbox_path.h"

static const char *const layouts[] = {
	"/run/vc/vm/%s/clh.sock_10240",
	"/run/vc/sbs/%s/persist.json",
	"/run/vc/firecracker/%s/root/kata.hvsock_10240",
	"/run/kata/%s/root/kata.hvsock_10240",
	"/run/kata/%s/ch-vm.sock_10240",
	"/run/kata/firecracker/%s/root/kata.hvsock_10240",
};

Test(sandbox_path, ids_of_128_characters)
{
	char id[KT_SANDBOX_ID_MAX + 2];
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	cr_expect(kt_sandbox_id_valid(id, KT_SANDBOX_ID_MAX));
	cr_expect_not(kt_sandbox_id_valid(id, KT_SANDBOX_ID_MAX + 1));
	cr_expect_not(kt_sandbox_id_valid(id, 0));
	cr_expect(kt_sandbox_id_valid(id, 1));

	for (size_t len = KT_SANDBOX_ID_MAX; len <= KT_SANDBOX_ID_MAX + 1; len++) {
		id[len] = '\0';
		for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
			char path[512];
			snprintf(path, sizeof(path), layouts[i], id);
			/* Also under a runtime directory prefix. */
			char rooted[600];
			snprintf(rooted, sizeof(rooted), "/tmp/root%s", path);
			for (int r = 0; r < 2; r++) {
				struct kt_sandbox_ref ref;
				bool ok = r ? kt_sandbox_from_path(rooted, "/tmp/root", &ref)
					    : kt_sandbox_from_path(path, "", &ref);
				if (len == KT_SANDBOX_ID_MAX) {
					cr_expect(ok, "%s", path);
					cr_expect_str_eq(ref.id, id, "%s", path);
				} else {
					/*
					 * Never that id. Under /run/kata/firecracker/ the
					 * parser then falls back to the runtime-rs layout
					 * and takes "firecracker" itself as the id, so
					 * only there something is returned.
					 */
					cr_expect(!ok || memcmp(ref.id, id, sizeof(ref.id)) != 0,
						  "129 characters taken: %s", path);
					if (i != 5)
						cr_expect_not(ok, "%s", path);
				}
			}
		}
		id[len] = 'a';
	}
}

/*
 * Every hybrid-vsock socket of Kata's layouts (sandbox/hypervisors.h), and
 * its trace listener, names its sandbox and its hypervisor; the ttrpc socket
 * names are those sockets' file names, each once.
 */
Test(sandbox_path, hypervisor_layouts)
{
	static const char id[] = "0123abcd";
	size_t sockets = 0;

	for (size_t i = 0; i < kt_n_hv_layouts; i++) {
		const struct kt_hv_layout *l = &kt_hv_layouts[i];
		const char *at = strstr(l->path, "{ID}");
		char path[512];
		cr_assert_not_null(at, "%s", l->path);
		if (l->file != KT_HV_SOCKET)
			continue;
		cr_assert_not_null(l->hv, "%s", l->path);
		cr_expect(l->hv->hybrid, "%s: a socket of %s", l->path, l->hv->name);
		for (int listener = 0; listener < 2; listener++) {
			snprintf(path, sizeof(path), "%.*s%s%s%s", (int)(at - l->path), l->path, id, at + 4,
				 listener ? "_10240" : "");
			struct kt_sandbox_ref ref;
			cr_expect(kt_sandbox_from_path(path, "", &ref), "%s", path);
			cr_expect_str_eq(ref.id, id, "%s", path);
			cr_expect(ref.hypervisor && strcmp(ref.hypervisor, l->hv->name) == 0, "%s: %s, not %s", path,
				  ref.hypervisor ? ref.hypervisor : "none", l->hv->name);
		}
		/* its file name is a ttrpc socket */
		const char *name = strrchr(l->path, '/');
		size_t k = 0;
		while (k < kt_n_hv_sockets && strcmp(kt_hv_sockets[k], name) != 0)
			k++;
		cr_expect_lt(k, kt_n_hv_sockets, "%s: %s is no ttrpc socket", l->path, name);
		sockets++;
	}
	cr_expect_gt(sockets, 0);
	for (size_t k = 0; k < kt_n_hv_sockets; k++) {
		size_t users = 0;
		for (size_t i = 0; i < kt_n_hv_layouts; i++)
			users += kt_hv_layouts[i].file == KT_HV_SOCKET &&
				 strcmp(strrchr(kt_hv_layouts[i].path, '/'), kt_hv_sockets[k]) == 0;
		cr_expect_gt(users, 0, "%s: no layout's socket", kt_hv_sockets[k]);
		for (size_t j = 0; j < k; j++)
			cr_expect_str_neq(kt_hv_sockets[j], kt_hv_sockets[k]);
	}
}

/* The names a hypervisor goes by, and the hypervisors of Kata's run directories. */
Test(sandbox_path, hypervisor_names)
{
	char names[256];
	cr_expect_str_eq(kt_hv_names(names, sizeof(names)), "cloud-hypervisor, firecracker, dragonball, qemu, stratovirt");
	cr_expect_str_eq(kt_hv_names(names, 6), "cloud");
	for (size_t i = 0; i < kt_n_hypervisors; i++) {
		const struct kt_hypervisor *h = &kt_hypervisors[i];
		cr_expect_eq(kt_hv_find(h->name), h);
		cr_expect_eq(kt_hv_find(h->kata), h);
		cr_expect_str_eq(kt_hv_of_kata_type(h->kata), h->name);
		cr_expect_eq(kt_hv_std_vsock(h->name), !h->hybrid);
		if (h->jail)
			cr_expect_str_eq(kt_hv_of_jail(h->jail), h->name);
	}
	cr_expect_null(kt_hv_find("any"));
	cr_expect_null(kt_hv_find(""));
	cr_expect_not(kt_hv_std_vsock("any"));
	cr_expect_null(kt_hv_of_jail("vm"));
	cr_expect_null(kt_hv_of_jail(NULL));

	struct kt_sandbox_ref ref;
	/* a path of another layout of the directory names no hypervisor */
	cr_expect(kt_sandbox_from_path("/run/vc/vm/abc/qmp.sock", "", &ref));
	cr_expect_null(ref.hypervisor);
	/* a socket name two hypervisors use names none outside their layouts */
	cr_expect(kt_sandbox_from_path("/run/vc/vm/abc/kata.hvsock_10240", "", &ref));
	cr_expect_null(ref.hypervisor);
	/* one only Cloud Hypervisor uses names it anywhere */
	cr_expect(kt_sandbox_from_path("/run/kata/abc/clh.sock_10240", "", &ref));
	cr_expect_str_eq(ref.hypervisor, "cloud-hypervisor");
	cr_expect(kt_sandbox_from_path("/run/vc/sbs/abc/ch-vm.sock", "", &ref));
	cr_expect_str_eq(ref.hypervisor, "cloud-hypervisor");
	/* jailed in a directory of no hypervisor: the sandbox, not the hypervisor */
	cr_expect(kt_sandbox_from_path("/run/vc/acrn/abc/root/x.sock", "", &ref));
	cr_expect_str_eq(ref.id, "abc");
	cr_expect_null(ref.hypervisor);
}

Test(kata_dirs, runtime_of_a_path)
{
	cr_assert_str_eq(kt_kata_runtime_of("/run/vc/vm/{ID}/clh.sock"), "go");
	cr_assert_str_eq(kt_kata_runtime_of("/run/vc/firecracker/{ID}/root/kata.hvsock"), "go");
	cr_assert_str_eq(kt_kata_runtime_of("/run/kata/{ID}/ch-vm.sock"), "rs");
	cr_assert_str_eq(kt_kata_runtime_of("/run/vcx/vm/a"), "");
	cr_assert_str_eq(kt_kata_runtime_of("/run/katas/a"), "");
	cr_assert_str_eq(kt_kata_runtime_of("/run/vc"), "");
	cr_assert_str_eq(kt_kata_runtime_of("/var/run/vc/vm/a"), "");
}

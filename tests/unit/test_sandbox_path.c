/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sandbox ids from Kata's runtime paths (user/sandbox_path.c) at their
 * length limit: 128 characters are an id, 129 are not, in every layout.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

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

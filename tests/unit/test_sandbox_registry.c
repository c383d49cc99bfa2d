/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's table of discovered sandboxes, and --user parsing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "daemon/privdrop.h"
#include "sandbox/sandbox_registry.h"

static struct kt_sandbox_meta meta(const char *id, uint32_t cid, const char *hvsock)
{
	struct kt_sandbox_meta m;
	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%s", id);
	snprintf(m.hvsock_path, sizeof(m.hvsock_path), "%s", hvsock);
	m.guest_cid = cid;
	return m;
}

Test(registry, put_update_gone_linger_expire)
{
	struct kt_sandbox_registry *r = kt_registry_new(100);
	struct kt_sandbox_meta a = meta("a", 5, ""), b = meta("b", 6, "");
	cr_assert_eq(kt_registry_put(r, &a), 0);
	cr_assert_eq(kt_registry_put(r, &b), 0);
	cr_expect_eq(kt_registry_live(r), 2);
	const struct kt_sandbox_entry *e = kt_registry_by_id(r, "a");
	cr_assert_not_null(e);
	uint64_t gen = e->gen;
	snprintf(a.pod_name, sizeof(a.pod_name), "p");
	cr_assert_eq(kt_registry_put(r, &a), 0);
	e = kt_registry_by_id(r, "a");
	cr_expect_neq(e->gen, gen, "a changed entry has a new generation");
	cr_expect_str_eq(e->meta.pod_name, "p");

	kt_registry_gone(r, "a", 1000);
	cr_expect_eq(kt_registry_live(r), 1);
	kt_registry_tick(r, 1050);
	cr_expect_not_null(kt_registry_by_id(r, "a"), "lingers for late spans");
	cr_expect_not_null(kt_registry_by_cid(r, 5));
	kt_registry_tick(r, 1100);
	cr_expect_null(kt_registry_by_id(r, "a"));
	cr_expect_null(kt_registry_by_cid(r, 5));
	cr_expect_eq(kt_registry_by_cid(r, 6), kt_registry_by_id(r, "b"));
	kt_registry_gone(r, "nope", 1); /* unknown: nothing */
	cr_expect_eq(kt_registry_live(r), 1);
	kt_registry_free(r);
}

Test(registry, cid_lookup_prefers_the_live_sandbox_and_ignores_hybrid)
{
	struct kt_sandbox_registry *r = kt_registry_new(1000);
	struct kt_sandbox_meta old = meta("old", 7, ""), cur = meta("new", 7, "");
	struct kt_sandbox_meta hy = meta("hy", 3, "/run/vc/vm/hy/clh.sock");
	kt_registry_put(r, &old);
	kt_registry_gone(r, "old", 10);
	kt_registry_put(r, &cur);
	kt_registry_put(r, &hy);
	const struct kt_sandbox_entry *e = kt_registry_by_cid(r, 7);
	cr_assert_not_null(e);
	cr_expect_str_eq(e->meta.id, "new");
	cr_expect_null(kt_registry_by_cid(r, 3), "hybrid-vsock CIDs are per VM, not per host");
	cr_expect_null(kt_registry_by_cid(r, 0));
	/* the same id again after it went: live again */
	kt_registry_put(r, &old);
	cr_expect_eq(kt_registry_live(r), 3);
	kt_registry_free(r);
}

Test(registry, many_sandboxes)
{
	struct kt_sandbox_registry *r = kt_registry_new(0);
	char id[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "sb-%d", i);
		struct kt_sandbox_meta m = meta(id, (uint32_t)(100 + i), "");
		cr_assert_eq(kt_registry_put(r, &m), 0);
	}
	cr_expect_eq(kt_registry_live(r), 5000);
	cr_expect_str_eq(kt_registry_by_cid(r, 4099)->meta.id, "sb-3999");
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "sb-%d", i);
		kt_registry_gone(r, id, 5);
	}
	kt_registry_tick(r, 5);
	cr_expect_eq(kt_registry_live(r), 0);
	cr_expect_null(kt_registry_by_id(r, "sb-1"));
	kt_registry_free(r);
}

Test(privdrop, user_lookup)
{
	uid_t u;
	gid_t g;
	char err[128];
	cr_assert_eq(kt_user_lookup("root", &u, &g, err, sizeof(err)), 0);
	cr_expect_eq(u, 0);
	cr_assert_eq(kt_user_lookup("nobody", &u, &g, err, sizeof(err)), 0);
	cr_expect_eq(u, 65534);
	cr_assert_eq(kt_user_lookup("1234", &u, &g, err, sizeof(err)), 0);
	cr_expect(u == 1234 && g == 1234);
	cr_assert_eq(kt_user_lookup("1234:99", &u, &g, err, sizeof(err)), 0);
	cr_expect(u == 1234 && g == 99);
	cr_expect_eq(kt_user_lookup("1234:x", &u, &g, err, sizeof(err)), -1);
	cr_expect_eq(kt_user_lookup("no-such-user-here", &u, &g, err, sizeof(err)), -1);
	cr_expect(strstr(err, "no-such-user-here") != NULL, "the error names the user: %s", err);
}

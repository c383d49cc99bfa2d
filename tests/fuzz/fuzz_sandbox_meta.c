/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the persist.json and OCI bundle parsers and what their
 * results feed (bundle ownership, the container-name list). Always: a
 * failed parse sets nothing; every string that comes out is NUL-terminated
 * inside its field, valid UTF-8 without control characters, so the meta
 * stays kt_sandbox_meta_valid; the name list stays sorted, without
 * duplicates or empty names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/oci_bundle.h"
#include "sandbox/sandbox_meta.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const char *s, size_t cap)
{
	CHECK(memchr(s, '\0', cap) != NULL);
}

static void check_names(const char *list)
{
	const char *prev = NULL;
	size_t prev_len = 0;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		CHECK(n > 0);
		if (prev) {
			int c = strncmp(prev, p, prev_len < n ? prev_len : n);
			CHECK(c < 0 || (c == 0 && prev_len < n));
		}
		prev = p;
		prev_len = n;
		p += n;
		if (*p == ',')
			p++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct kt_sandbox_meta m, empty;
	struct kt_bundle_info b;
	bool own;

	memset(&m, 0, sizeof(m));
	memcpy(m.id, "sandbox", 8);
	empty = m;
	if (kt_meta_parse_persist(buf, size, "/host", &m) != 0)
		CHECK(memcmp(&m, &empty, sizeof(m)) == 0);
	CHECK(kt_sandbox_meta_valid(&m));
	CHECK(m.guest_cid == 0 || (m.guest_cid > 2 && m.guest_cid != UINT32_MAX));
	CHECK(m.hypervisor_pid <= INT32_MAX);
	CHECK(!m.hvsock_path[0] || strncmp(m.hvsock_path, "/host/", 6) == 0);

	if (kt_bundle_parse(buf, size, &b) == 0) {
		check_field(b.sandbox_id, sizeof(b.sandbox_id));
		check_field(b.pod_name, sizeof(b.pod_name));
		check_field(b.pod_namespace, sizeof(b.pod_namespace));
		check_field(b.pod_uid, sizeof(b.pod_uid));
		check_field(b.container_name, sizeof(b.container_name));
		CHECK(!strchr(b.container_name, ','));
		CHECK(!b.sandbox_id[0] || kt_sandbox_id_valid(b.sandbox_id, strlen(b.sandbox_id)));
		const char *owner = kt_bundle_owner("bundle", &b, &own);
		CHECK(!own || (owner && strcmp(owner, "bundle") == 0));
		/* as the sandbox's own bundle and as several of its containers */
		memcpy(m.id, "bundle", 7);
		kt_meta_apply_bundle(&m, "bundle", &b);
		b.kind = KT_BUNDLE_CONTAINER;
		if (!b.sandbox_id[0])
			memcpy(b.sandbox_id, "bundle", 7);
		memcpy(m.id, b.sandbox_id, sizeof(m.id));
		for (int i = 0; i < 4; i++) {
			CHECK(kt_meta_apply_bundle(&m, "c", &b));
			memset(b.container_name, 0, sizeof(b.container_name));
			b.container_name[0] = (char)('a' + i);
		}
		CHECK(kt_sandbox_meta_valid(&m));
		check_names(m.container_names);
	} else {
		CHECK(b.kind == KT_BUNDLE_UNKNOWN && !b.sandbox_id[0] && !b.pod_name[0]);
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/disc_template.h"

#include <stdio.h>
#include <string.h>

#include "sandbox/hypervisors.h"

const char *const kt_disc_default_templates[] = {
	/* Go runtime (containerd-shim-kata-v2), WIRE-FORMATS §3.2 */
	"cloud-hypervisor=/run/vc/vm/{ID}/clh.sock",
	"firecracker=/run/vc/firecracker/{ID}/root/kata.hvsock",
	"qemu=/run/vc/vm/{ID}/qmp.sock",
	"qemu=/run/vc/vm/{ID}/pid",
	"stratovirt=/run/vc/vm/{ID}/qmp.socket",
	"any=/run/vc/sbs/{ID}/persist.json",
	/* runtime-rs */
	"dragonball=/run/kata/{ID}/root/kata.hvsock",
	"cloud-hypervisor=/run/kata/{ID}/ch-vm.sock",
	"firecracker=/run/kata/firecracker/{ID}/root/kata.hvsock",
	"firecracker=/run/kata/{ID}/kata.hvsock",
};
const size_t kt_disc_default_ntemplates = sizeof(kt_disc_default_templates) / sizeof(kt_disc_default_templates[0]);

static const struct {
	const char *name;
	bool hybrid; /* has a hybrid-vsock socket (the default kind) */
	bool vsock;  /* uses standard vsock */
} hv_kinds[] = {
	{ "cloud-hypervisor", true, false }, { "firecracker", true, false }, { "dragonball", true, false },
	{ "qemu", false, true },	     { "stratovirt", false, true },  { "any", false, false },
};

int kt_disc_template_parse(const char *spec, struct kt_disc_template *out, char *err, size_t errlen)
{
	const char *eq = spec ? strchr(spec, '=') : NULL;
	char hv[32];

	memset(out, 0, sizeof(*out));
	if (!eq) {
		snprintf(err, errlen, "'%s': expected HYPERVISOR=PATH", spec ? spec : "");
		return -1;
	}
	size_t hl = (size_t)(eq - spec);
	if (hl >= sizeof(hv))
		hl = sizeof(hv) - 1;
	memcpy(hv, spec, hl);
	hv[hl] = '\0';
	char *kind = strchr(hv, ':');
	if (kind)
		*kind++ = '\0';
	const char *name = kt_hv_of_kata_type(hv);
	size_t k = 0;
	while (k < sizeof(hv_kinds) / sizeof(hv_kinds[0]) && strcmp(hv_kinds[k].name, name ? name : hv) != 0)
		k++;
	if (k == sizeof(hv_kinds) / sizeof(hv_kinds[0])) {
		snprintf(err, errlen,
			 "'%s': unknown hypervisor '%s' (cloud-hypervisor, firecracker, dragonball, qemu, "
			 "stratovirt or any)",
			 spec, hv);
		return -1;
	}
	out->kind = hv_kinds[k].hybrid ? KT_DISC_HYBRID : KT_DISC_MARKER;
	if (kind && strcmp(kind, "marker") == 0) {
		out->kind = KT_DISC_MARKER;
	} else if (kind && strcmp(kind, "hybrid") == 0) {
		if (!hv_kinds[k].hybrid) {
			snprintf(err, errlen, "'%s': %s has no hybrid-vsock socket (use it as a marker)", spec,
				 hv_kinds[k].name);
			return -1;
		}
	} else if (kind) {
		snprintf(err, errlen, "'%s': unknown kind '%s' (hybrid or marker)", spec, kind);
		return -1;
	}
	if (kt_path_pattern_check(eq + 1, false, err, errlen) != 0)
		return -1;
	if (strcmp(hv_kinds[k].name, "any") != 0)
		snprintf(out->hypervisor, sizeof(out->hypervisor), "%s", hv_kinds[k].name);
	snprintf(out->path, sizeof(out->path), "%s", eq + 1);
	return 0;
}

bool kt_disc_vsock_hypervisor(const char *hv)
{
	for (size_t k = 0; k < sizeof(hv_kinds) / sizeof(hv_kinds[0]); k++)
		if (strcmp(hv_kinds[k].name, hv) == 0)
			return hv_kinds[k].vsock;
	return false;
}

void kt_disc_tmpl_init(struct kt_disc_tmpl *m, const struct kt_disc_template *t)
{
	const char *id = strstr(t->path, "/{ID}/"); /* checked by the parser */
	size_t pl = (size_t)(id - t->path);

	m->t = *t;
	if (pl)
		memcpy(m->parent, t->path + 1, pl - 1);
	m->parent[pl ? pl - 1 : 0] = '\0';
	snprintf(m->below, sizeof(m->below), "%s", id + 6);
	const char *slash = strrchr(m->below, '/');
	m->below_dir_len = slash ? (size_t)(slash - m->below) : 0;
	m->runtime = strncmp(t->path, "/run/vc/", 8) == 0 ? "go" : strncmp(t->path, "/run/kata/", 10) == 0 ? "rs" : "";
	m->vsock = t->kind == KT_DISC_MARKER && kt_disc_vsock_hypervisor(t->hypervisor);
}

int kt_disc_tmpl_rel(const struct kt_disc_tmpl *m, const char *id, enum kt_disc_part part, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s%s%s%s%s", m->parent, m->parent[0] ? "/" : "", id,
			 part == KT_DISC_FILE ? "/" : "", part == KT_DISC_FILE ? m->below : "");
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}

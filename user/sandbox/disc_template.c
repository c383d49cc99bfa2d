/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/disc_template.h"

#include <stdio.h>
#include <string.h>

#include "sandbox/kata_dirs.h"

/* Not a hypervisor: a marker that only shows the sandbox exists. */
#define ANY "any"

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
	const struct kt_hypervisor *h = kt_hv_find(hv);
	if (!h && strcmp(hv, ANY) != 0) {
		char names[128];
		snprintf(err, errlen, "'%s': unknown hypervisor '%s' (%s or " ANY ")", spec, hv,
			 kt_hv_names(names, sizeof(names)));
		return -1;
	}
	bool hybrid = h && h->hybrid; /* has a hybrid-vsock socket (the default kind) */
	out->kind = hybrid ? KT_DISC_HYBRID : KT_DISC_MARKER;
	if (kind && strcmp(kind, "marker") == 0) {
		out->kind = KT_DISC_MARKER;
	} else if (kind && strcmp(kind, "hybrid") == 0) {
		if (!hybrid) {
			snprintf(err, errlen, "'%s': %s has no hybrid-vsock socket (use it as a marker)", spec,
				 h ? h->name : ANY);
			return -1;
		}
	} else if (kind) {
		snprintf(err, errlen, "'%s': unknown kind '%s' (hybrid or marker)", spec, kind);
		return -1;
	}
	if (kt_path_pattern_check(eq + 1, false, err, errlen) != 0)
		return -1;
	if (h)
		snprintf(out->hypervisor, sizeof(out->hypervisor), "%s", h->name);
	snprintf(out->path, sizeof(out->path), "%s", eq + 1);
	return 0;
}

int kt_disc_template_of_layout(const struct kt_hv_layout *l, struct kt_disc_template *out, char *err,
			       size_t errlen)
{
	char spec[KT_PATTERN_MAX + 64];
	if ((size_t)snprintf(spec, sizeof(spec), "%s:%s=%s", l->hv ? l->hv->name : ANY,
			     l->file == KT_HV_SOCKET ? "hybrid" : "marker", l->path) >= sizeof(spec)) {
		memset(out, 0, sizeof(*out));
		snprintf(err, errlen, "'%s': longer than %d characters", l->path, KT_PATTERN_MAX);
		return -1;
	}
	return kt_disc_template_parse(spec, out, err, errlen);
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
	m->runtime = kt_kata_runtime_of(t->path);
	m->vsock = t->kind == KT_DISC_MARKER && kt_hv_std_vsock(t->hypervisor);
}

int kt_disc_tmpl_rel(const struct kt_disc_tmpl *m, const char *id, enum kt_disc_part part, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s%s%s%s%s", m->parent, m->parent[0] ? "/" : "", id,
			 part == KT_DISC_FILE ? "/" : "", part == KT_DISC_FILE ? m->below : "");
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}

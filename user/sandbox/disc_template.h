/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Discovery templates: where a sandbox leaves a file, with {ID} for the
 * sandbox id (docs/discovery.md, "Templates"):
 *   HYPERVISOR=PATH            e.g. cloud-hypervisor=/run/vc/vm/{ID}/clh.sock
 *   HYPERVISOR:KIND=PATH       KIND is hybrid or marker
 * PATH is a path pattern (path_pattern.h: absolute, relative to the run
 * root, {ID} one whole component followed by a file name). HYPERVISOR is
 * one of sandbox/hypervisors.h, by our name or Kata's (clh), or any (a
 * marker that only shows the sandbox exists). A hypervisor with a
 * hybrid-vsock socket is hybrid by default (PATH is that socket, the trace
 * listener PATH_<port>); the others are always markers of a sandbox on
 * standard vsock. A marker of a hybrid hypervisor says which hypervisor the
 * sandbox runs.
 *
 * Takes: a template's text, or one of Kata's layouts (kt_hv_layouts, the
 * defaults). Gives: the template as plain data, or a message saying what is
 * wrong with the text; and the template taken apart for discovery: its
 * directory of ids, the path below {ID}, its directories, and the paths it
 * gives for one sandbox id.
 */
#ifndef KT_DISC_TEMPLATE_H
#define KT_DISC_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/hypervisors.h"
#include "sandbox/path_pattern.h"
#include "sandbox/sandbox_meta.h"

enum kt_disc_kind {
	KT_DISC_HYBRID = 1, /* the hypervisor's hybrid-vsock socket */
	KT_DISC_MARKER = 2, /* a file that shows the sandbox (and maybe its hypervisor) */
};

struct kt_disc_template {
	uint32_t kind;                 /* enum kt_disc_kind */
	char hypervisor[KT_META_HV];   /* "" for any */
	char path[KT_PATTERN_MAX + 1]; /* absolute, one {ID} component */
};

/*
 * Parses "HYPERVISOR[:KIND]=PATH". Returns 0, or -1 with a message in err
 * (no '=', unknown hypervisor or kind, a hybrid qemu, a relative path,
 * {ID} missing, repeated or not a whole component, no file after {ID}).
 */
int kt_disc_template_parse(const char *spec, struct kt_disc_template *out, char *err, size_t errlen);

/*
 * The template of one of Kata's layouts (the defaults are every one of
 * kt_hv_layouts, in order). Returns 0, or -1 with a message in err.
 */
int kt_disc_template_of_layout(const struct kt_hv_layout *l, struct kt_disc_template *out, char *err,
			       size_t errlen);

/* A template taken apart. */
struct kt_disc_tmpl {
	struct kt_disc_template t;
	char parent[KT_PATTERN_MAX]; /* the directory of ids, relative: "run/vc/vm" */
	char below[KT_PATTERN_MAX];  /* after "{ID}/": "root/kata.hvsock" */
	size_t below_dir_len;        /* its directory part ("root": 4; 0: none) */
	const char *runtime;         /* "go", "rs", "" */
	bool vsock;                  /* a marker of a standard-vsock hypervisor */
};

/* Takes apart t (a template kt_disc_template_parse accepted). */
void kt_disc_tmpl_init(struct kt_disc_tmpl *m, const struct kt_disc_template *t);

enum kt_disc_part {
	KT_DISC_ID_DIR, /* the sandbox's {ID} directory */
	KT_DISC_FILE,   /* the file */
};

/* A path of template m for sandbox id, relative to the run root. 0, or -1 if it does not fit cap. */
int kt_disc_tmpl_rel(const struct kt_disc_tmpl *m, const char *id, enum kt_disc_part part, char *out, size_t cap);

#endif

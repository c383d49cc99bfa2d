/* SPDX-License-Identifier: Apache-2.0 */
#include "capture/attach.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "base/diag.h"

#define TRACEFS_MAGIC 0x74726163
#define BPF_FS_MAGIC 0xcafe4a11

static const char *const attach_names[] = { "auto", "fentry", "kprobe", "tracepoint" };

const char *kt_attach_name(enum kt_attach a)
{
	return (unsigned)a < sizeof(attach_names) / sizeof(attach_names[0]) ? attach_names[a] : "?";
}

int kt_attach_parse(const char *s, enum kt_attach *out)
{
	for (unsigned i = 0; i < sizeof(attach_names) / sizeof(attach_names[0]); i++) {
		if (strcmp(s, attach_names[i]) == 0) {
			*out = (enum kt_attach)i;
			return 0;
		}
	}
	return -1;
}

static void ensure_mounted(const char *dir, const char *type, long magic)
{
	struct statfs st;
	struct stat sb;

	if (statfs(dir, &st) == 0 && (long)st.f_type == magic)
		return;
	if (stat(dir, &sb) != 0) {
		/* No mount point: the kernel lacks the feature (e.g. no tracing). */
		kt_debug("%s: %s absent, not mounting %s", dir, strerror(errno), type);
		return;
	}
	if (mount(type, dir, type, 0, NULL) == 0)
		kt_info("mounted %s at %s", type, dir);
	else
		kt_warn("cannot mount %s at %s: %s", type, dir, strerror(errno));
}

void kt_mount_bpf_filesystems(void)
{
	ensure_mounted("/sys/kernel/tracing", "tracefs", TRACEFS_MAGIC);
	ensure_mounted("/sys/fs/bpf", "bpf", BPF_FS_MAGIC);
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/*
	 * Probing strategies makes libbpf warn about every one the kernel refuses;
	 * the loader says which failed and why in one line, so keep these for
	 * --log-level debug (verifier logs included).
	 */
	enum kt_log_level lvl = level == LIBBPF_WARN ? KT_LOG_DEBUG : KT_LOG_TRACE;
	char *msg = NULL;

	if (lvl > kt_log_level || vasprintf(&msg, fmt, ap) < 0)
		return 0;
	/* Verifier logs arrive as one multi-line message: one log line each. */
	char *save = NULL;
	for (char *line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		kt_diag(lvl, "libbpf: %s", line);
	free(msg);
	return 0;
}

void kt_libbpf_log_init(void)
{
	libbpf_set_print(libbpf_log);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/spool_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/diag.h"
#include "daemon/commands.h"
#include "daemon/privdrop.h"

/* Hands dir and the files in it (not following links) to uid:gid. */
static int hand_over(const char *dir, uid_t uid, gid_t gid)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fchown(fd, uid, gid) ? -errno : 0;
	int dup_fd = rc ? -1 : dup(fd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!rc && !d)
		rc = -errno;
	for (struct dirent *e; d && !rc && (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fchownat(fd, e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) && errno != ENOENT)
			rc = -errno;
	}
	if (d)
		closedir(d);
	close(fd);
	return rc;
}

bool kt_spool_dir_open(const struct kt_config *cfg, struct kt_spool **out)
{
	*out = NULL;
	if (!cfg->spool_dir)
		return true;
	struct kt_exporter_choice ch;
	int bad = kt_exporter_resolve(cfg, &ch);
	free(ch.endpoint);
	if (bad)
		return false;
	if (ch.kind != KT_EXPORTER_OTLP_HTTP && ch.kind != KT_EXPORTER_OTLP_GRPC) {
		/* A unit that always asks for a spool still runs without a collector. */
		kt_warn("--spool-dir %s: not used: the %s exporter writes at once, it waits for no "
			"collector",
			cfg->spool_dir, ch.kind == KT_EXPORTER_FILE ? "file" : "console");
		return true;
	}
	char err[256];
	struct kt_spool_cfg sc = { .dir = cfg->spool_dir, .max_bytes = cfg->spool_size };
	struct kt_spool *s = kt_spool_open(&sc, err, sizeof(err));
	if (!s) {
		kt_err("--spool-dir: %s", err);
		return false;
	}
	uid_t uid;
	gid_t gid;
	if (geteuid() == 0 && !kt_user_lookup(cfg->user, &uid, &gid, err, sizeof(err)) && uid) {
		/*
		 * A disk gone read-only (say) keeps what it holds readable: it is
		 * still sent first; what cannot be written to it later is sent from
		 * memory and counted. Tracing goes on either way.
		 */
		int rc = hand_over(cfg->spool_dir, uid, gid);
		if (rc)
			kt_warn("--spool-dir %s: cannot hand it to %s (%s): what it holds is sent, "
				"but nothing new can be stored in it; requests go from memory",
				cfg->spool_dir, cfg->user, strerror(-rc));
	}
	struct kt_spool_stats st;
	kt_spool_stats(s, &st);
	kt_info("spool: %s, %llu of %llu bytes held, %llu requests to send first",
		cfg->spool_dir, (unsigned long long)st.bytes, (unsigned long long)cfg->spool_size,
		(unsigned long long)st.records);
	*out = s;
	return true;
}

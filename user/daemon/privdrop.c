/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NOBODY_ID 65534

int kt_user_lookup(const char *spec, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long u = strtoul(spec, &end, 10);
	if (*spec >= '0' && *spec <= '9' && !errno && (*end == '\0' || *end == ':') &&
	    u < UINT32_MAX) {
		*uid = (uid_t)u;
		*gid = (gid_t)u;
		if (*end == ':') {
			const char *g = end + 1;
			unsigned long gv = strtoul(g, &end, 10);
			if (!*g || *end || gv >= UINT32_MAX) {
				snprintf(err, errlen, "--user %s: bad group id", spec);
				return -1;
			}
			*gid = (gid_t)gv;
		}
		return 0;
	}
	FILE *f = fopen("/etc/passwd", "re");
	if (f) {
		struct passwd *pw;
		while ((pw = fgetpwent(f))) {
			if (strcmp(pw->pw_name, spec) == 0) {
				*uid = pw->pw_uid;
				*gid = pw->pw_gid;
				fclose(f);
				return 0;
			}
		}
		fclose(f);
	}
	if (strcmp(spec, "nobody") == 0) {
		*uid = NOBODY_ID;
		*gid = NOBODY_ID;
		return 0;
	}
	snprintf(err, errlen, "--user %s: no such user in /etc/passwd", spec);
	return -1;
}

static int last_cap(void)
{
	int last = CAP_LAST_CAP;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last;
}

static bool kept(int cap, const int *keep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (keep[i] == cap)
			return true;
	return false;
}

/*
 * Bounding set first (it needs CAP_SETPCAP), then ambient, then permitted
 * and effective. bound: what stays in the bounding set.
 */
static int set_caps(const int *keep, size_t n, const int *bound, size_t n_bound, char *err,
		    size_t errlen)
{
	for (int c = 0; c <= last_cap(); c++) {
		if (kept(c, bound, n_bound) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL) {
			snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s", c,
				 strerror(errno));
			return -1;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL) {
		snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
		return -1;
	}
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct cur[_LINUX_CAPABILITY_U32S_3] = { 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { 0 };
	if (syscall(SYS_capget, &h, cur)) {
		snprintf(err, errlen, "cannot read capabilities: %s", strerror(errno));
		return -1;
	}
	/* Only what we hold can be kept (a container may grant less). */
	for (size_t i = 0; i < n; i++) {
		uint32_t bit = 1u << (keep[i] % 32);
		if (keep[i] / 32 < _LINUX_CAPABILITY_U32S_3 && (cur[keep[i] / 32].permitted & bit)) {
			d[keep[i] / 32].effective |= bit;
			d[keep[i] / 32].permitted |= bit;
		}
	}
	if (syscall(SYS_capset, &h, d)) {
		snprintf(err, errlen, "cannot set capabilities: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int kt_drop_to_user(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (set_caps((const int[]){ CAP_SETUID, CAP_SETGID }, 2, NULL, 0, err, errlen))
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) || setgroups(0, NULL) ||
	    setresgid(gid, gid, gid) || setresuid(uid, uid, uid)) {
		snprintf(err, errlen, "cannot become uid %u gid %u: %s", (unsigned)uid,
			 (unsigned)gid, strerror(errno));
		return -1;
	}
	/* Changing uid cleared permitted and effective; make sure, and lock. */
	if (set_caps(NULL, 0, NULL, 0, err, errlen))
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	if (getuid() != uid || geteuid() != uid || getgid() != gid) {
		snprintf(err, errlen, "still uid %u after the switch to %u", (unsigned)geteuid(),
			 (unsigned)uid);
		return -1;
	}
	return 0;
}

int kt_keep_only_caps(const int *keep, size_t n, char *err, size_t errlen)
{
	if (set_caps(keep, n, keep, n, err, errlen))
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	return 0;
}

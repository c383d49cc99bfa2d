/* SPDX-License-Identifier: Apache-2.0 */
#define _XOPEN_SOURCE 700
#include "fs_fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

char fx_root[64];

void fx_root_make(const char *tag)
{
	snprintf(fx_root, sizeof(fx_root), "/tmp/kt-%s.XXXXXX", tag);
	cr_assert_not_null(mkdtemp(fx_root));
}

const char *fx_at(const char *rel)
{
	static char buf[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", fx_root, rel);
	return buf[i];
}

void fx_mkdirs(const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s", fx_at(rel));
	for (char *s = p + strlen(fx_root) + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		cr_assert(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", p, strerror(errno));
		*s = c;
		if (!c)
			break;
	}
}

static void parent_of(const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s", rel);
	char *slash = strrchr(p, '/');
	if (slash) {
		*slash = '\0';
		fx_mkdirs(p);
	}
}

void fx_put(const char *rel, const void *data, size_t n)
{
	parent_of(rel);
	FILE *f = fopen(fx_at(rel), "wb");
	cr_assert_not_null(f, "%s", fx_at(rel));
	cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

void fx_mksock(const char *rel)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	parent_of(rel);
	cr_assert_lt(strlen(fx_at(rel)), sizeof(a.sun_path));
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", fx_at(rel));
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind %s: %s", a.sun_path, strerror(errno));
	close(fd);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void fx_rmrf(const char *rel)
{
	nftw(fx_at(rel), rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fx_proc_root(void)
{
	static char p[128];
	snprintf(p, sizeof(p), "%s/proc", fx_root);
	return p;
}

void fx_proc(unsigned pid, unsigned ppid, char state, const char *const *args)
{
	char rel[64], cmd[8192], comm[16] = "";
	size_t n = 0;

	for (size_t i = 0; args && args[i]; i++) {
		for (const char *a = args[i]; *a;) {
			size_t take = strncmp(a, "{R}", 3) == 0 ? strlen(fx_root) : 1;
			cr_assert_lt(n + take + 1, sizeof(cmd));
			memcpy(cmd + n, take == 1 ? a : fx_root, take);
			n += take;
			a += take == 1 ? 1 : 3;
		}
		cmd[n++] = '\0';
	}
	if (args && args[0]) {
		const char *slash = strrchr(args[0], '/');
		snprintf(comm, sizeof(comm), "%s", slash ? slash + 1 : args[0]);
	}
	snprintf(rel, sizeof(rel), "proc/%u/cmdline", pid);
	fx_put(rel, cmd, n);
	snprintf(rel, sizeof(rel), "proc/%u/comm", pid);
	snprintf(cmd, sizeof(cmd), "%s\n", comm);
	FX_PUT_STR(rel, cmd);
	snprintf(rel, sizeof(rel), "proc/%u/stat", pid);
	snprintf(cmd, sizeof(cmd), "%u (%s) %c %u %u %u 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 100 1000 10\n", pid, comm,
		 state, ppid, pid, pid);
	FX_PUT_STR(rel, cmd);
}

void fx_root_remove(void)
{
	if (fx_root[0])
		nftw(fx_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	fx_root[0] = '\0';
}

void fx_kthread(unsigned pid, char state, const char *name)
{
	char rel[64], text[256];
	snprintf(rel, sizeof(rel), "proc/%u/cmdline", pid);
	fx_put(rel, "", 0);
	snprintf(rel, sizeof(rel), "proc/%u/comm", pid);
	snprintf(text, sizeof(text), "%s\n", name);
	FX_PUT_STR(rel, text);
	/* flags 0x208040: PF_KTHREAD | PF_NOFREEZE | PF_FORKNOEXEC */
	snprintf(rel, sizeof(rel), "proc/%u/stat", pid);
	snprintf(text, sizeof(text), "%u (%s) %c 2 0 0 0 -1 2129984 0 0 0 0 0 5 0 0 20 0 1 0 90 0 0\n", pid, name,
		 state);
	FX_PUT_STR(rel, text);
}

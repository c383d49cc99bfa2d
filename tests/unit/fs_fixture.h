/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A temporary directory standing in for the host's root in tests: files,
 * directories and unix socket files are made under it by relative path.
 * Failures are criterion assertions.
 */
#ifndef KT_FS_FIXTURE_H
#define KT_FS_FIXTURE_H

#include <stddef.h>
#include <string.h>

extern char fx_root[64];

/* mkdtemp /tmp/kt-<tag>.XXXXXX into fx_root; fx_root_remove() deletes it all. */
void fx_root_make(const char *tag);
void fx_root_remove(void);

/* fx_root/rel (one of a few rotating buffers). */
const char *fx_at(const char *rel);

/* mkdir -p, a file with data, a bound unix socket (as a hypervisor leaves it), rm -rf. */
void fx_mkdirs(const char *rel);
void fx_put(const char *rel, const void *data, size_t n);
#define FX_PUT_STR(rel, s) fx_put(rel, s, strlen(s))
void fx_mksock(const char *rel);
void fx_rmrf(const char *rel);

/*
 * A process in the fake /proc at fx_root/proc: <pid>/cmdline (args, NULL
 * ended, each NUL-terminated; "{R}" in an argument becomes fx_root, the
 * run root the process's paths are under), <pid>/comm (argv[0]'s base name,
 * cut at 15 bytes) and <pid>/stat (state and ppid). No args: an empty
 * cmdline (a kernel thread or a zombie).
 */
void fx_proc(unsigned pid, unsigned ppid, char state, const char *const *args);
#define FX_PROC(pid, ppid, state, ...) fx_proc(pid, ppid, state, (const char *const[]){ __VA_ARGS__, NULL })
/*
 * A kernel thread in the fake /proc, as kthreadd's children show: an empty
 * cmdline, <pid>/comm name, and a stat with ppid 2, the state given and
 * PF_KTHREAD among its flags.
 */
void fx_kthread(unsigned pid, char state, const char *name);
/* fx_root/proc */
const char *fx_proc_root(void);

#endif

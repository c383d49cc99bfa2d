/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Least privilege. The daemon parses every byte a guest sends; once the
 * BPF programs are attached and its listeners handed over it needs no
 * privilege at all, so it becomes an unprivileged user with an empty
 * capability set (permitted, effective, inheritable, ambient, bounding)
 * and no_new_privs. The broker keeps root with only the capabilities
 * its few jobs need (user/daemon/broker.c).
 */
#ifndef KT_PRIVDROP_H
#define KT_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

/*
 * "nobody", any name in /etc/passwd, or "UID[:GID]". Names are read from
 * /etc/passwd directly (no NSS, so the static build can do it too); "nobody"
 * without an entry is 65534:65534. Returns 0 or -1 with a message in err.
 */
int kt_user_lookup(const char *spec, uid_t *uid, gid_t *gid, char *err, size_t errlen);

/* Becomes uid:gid with no supplementary groups and no capabilities. */
int kt_drop_to_user(uid_t uid, gid_t gid, char *err, size_t errlen);

/* Keeps the identity but only the capabilities in keep (CAP_* numbers). */
int kt_keep_only_caps(const int *keep, size_t n, char *err, size_t errlen);

#endif

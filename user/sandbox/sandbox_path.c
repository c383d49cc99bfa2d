/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/sandbox_path.h"

#include <string.h>

#include "sandbox/hypervisors.h"
#include "sandbox/kata_dirs.h"

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* Copies the path component at p into out; returns the rest (after '/'). */
static const char *component(const char *p, char *out, size_t outsz, size_t *len)
{
	size_t n = 0;
	while (p[n] && p[n] != '/')
		n++;
	*len = n;
	if (n < outsz) {
		memcpy(out, p, n);
		out[n] = '\0';
	} else {
		out[0] = '\0';
	}
	return p[n] == '/' ? p + n + 1 : NULL;
}

bool kt_sandbox_id_valid(const char *id, size_t n)
{
	if (n == 0 || n > KT_SANDBOX_ID_MAX || (id[0] == '.' && (n == 1 || (n == 2 && id[1] == '.'))))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!id_char(id[i]))
			return false;
	return true;
}

static const char *after_prefix(const char *path, const char *root, const char *prefix)
{
	size_t rl = strlen(root), pl = strlen(prefix);
	if (strncmp(path, root, rl) != 0 || strncmp(path + rl, prefix, pl) != 0)
		return NULL;
	return path + rl + pl;
}

bool kt_sandbox_from_path(const char *path, const char *root, struct kt_sandbox_ref *out)
{
	char first[KT_SANDBOX_ID_MAX + 2], second[KT_SANDBOX_ID_MAX + 2];
	size_t n1, n2;
	const char *rest;

	out->id[0] = '\0';
	out->hypervisor = NULL;

	if ((rest = after_prefix(path, root, KT_KATA_GO_DIR "/"))) {
		rest = component(rest, first, sizeof(first), &n1);
		if (!rest)
			return false;
		/* /run/vc/vm/<id>/..., /run/vc/sbs/<id>/... : the sandbox's VM and state directories */
		const char *dir = NULL;
		if (strcmp(first, KT_KATA_GO_VM) == 0)
			dir = KT_KATA_GO_VM_DIR;
		else if (strcmp(first, KT_KATA_GO_SBS) == 0)
			dir = KT_KATA_GO_SBS_DIR;
		if (dir) {
			const char *tail = component(rest, second, sizeof(second), &n2);
			if (!tail || !kt_sandbox_id_valid(second, n2))
				return false;
			memcpy(out->id, second, n2 + 1);
			out->hypervisor = kt_hv_of_socket(dir, strlen(dir), tail);
			return true;
		}
		/* /run/vc/<jail>/<id>/root/... : jailed VMM */
		const char *tail = component(rest, second, sizeof(second), &n2);
		if (!tail || strncmp(tail, "root/", 5) != 0 || !kt_sandbox_id_valid(second, n2))
			return false;
		memcpy(out->id, second, n2 + 1);
		out->hypervisor = kt_hv_of_jail(first);
		return true;
	}
	if ((rest = after_prefix(path, root, KT_KATA_RS_DIR "/"))) {
		rest = component(rest, first, sizeof(first), &n1);
		if (!rest)
			return false;
		/* /run/kata/<jail>/<id>/... : jailed VMM */
		const char *jailed = kt_hv_of_jail(first);
		if (jailed) {
			const char *tail = component(rest, second, sizeof(second), &n2);
			if (tail && kt_sandbox_id_valid(second, n2)) {
				memcpy(out->id, second, n2 + 1);
				out->hypervisor = jailed;
				return true;
			}
		}
		/* /run/kata/<id>/... */
		if (!kt_sandbox_id_valid(first, n1))
			return false;
		memcpy(out->id, first, n1 + 1);
		out->hypervisor = kt_hv_of_socket(KT_KATA_RS_DIR, strlen(KT_KATA_RS_DIR), rest);
		return true;
	}
	return false;
}

/* root + KT_KATA_SHARED_DIR "/<id>" at p, the id ended by '/', ',' or the end. */
static bool shared_dir_id(const char *p, const char *root, struct kt_sandbox_ref *out)
{
	const char *rest = after_prefix(p, root, KT_KATA_SHARED_DIR "/");
	if (!rest)
		return false;
	size_t n = strcspn(rest, "/,");
	if (!kt_sandbox_id_valid(rest, n))
		return false;
	memcpy(out->id, rest, n);
	out->id[n] = '\0';
	out->hypervisor = NULL;
	return true;
}

bool kt_sandbox_from_arg(const char *arg, const char *root, struct kt_sandbox_ref *out)
{
	/* every "/run/" in the argument with the run root just before it */
	size_t rl = strlen(root);
	out->id[0] = '\0';
	out->hypervisor = NULL;
	for (const char *p = arg; (p = strstr(p, "/run/")); p++) {
		if ((size_t)(p - arg) < rl || strncmp(p - rl, root, rl) != 0)
			continue;
		if (kt_sandbox_from_path(p - rl, root, out) || shared_dir_id(p - rl, root, out))
			return true;
	}
	return false;
}

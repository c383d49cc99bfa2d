/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/sandbox_path.h"

#include <string.h>

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

static const char *hypervisor_from_file(const char *rest)
{
	if (!rest)
		return NULL;
	if (strncmp(rest, "clh.sock", 8) == 0 || strncmp(rest, "ch-vm.sock", 10) == 0)
		return "cloud-hypervisor";
	return NULL;
}

bool kt_sandbox_from_path(const char *path, const char *root, struct kt_sandbox_ref *out)
{
	char first[KT_SANDBOX_ID_MAX + 2], second[KT_SANDBOX_ID_MAX + 2];
	size_t n1, n2;
	const char *rest;

	out->id[0] = '\0';
	out->hypervisor = NULL;

	if ((rest = after_prefix(path, root, "/run/vc/"))) {
		rest = component(rest, first, sizeof(first), &n1);
		if (!rest)
			return false;
		/* /run/vc/vm/<id>/... : the sandbox's VM directory */
		if (strcmp(first, "vm") == 0 || strcmp(first, "sbs") == 0) {
			const char *tail = component(rest, second, sizeof(second), &n2);
			if (!tail || !kt_sandbox_id_valid(second, n2))
				return false;
			memcpy(out->id, second, n2 + 1);
			out->hypervisor = hypervisor_from_file(tail);
			return true;
		}
		/* /run/vc/<hypervisor binary>/<id>/root/... : jailed VMM */
		const char *tail = component(rest, second, sizeof(second), &n2);
		if (!tail || strncmp(tail, "root/", 5) != 0 || !kt_sandbox_id_valid(second, n2))
			return false;
		memcpy(out->id, second, n2 + 1);
		if (strcmp(first, "firecracker") == 0)
			out->hypervisor = "firecracker";
		return true;
	}
	if ((rest = after_prefix(path, root, "/run/kata/"))) {
		rest = component(rest, first, sizeof(first), &n1);
		if (!rest)
			return false;
		if (strcmp(first, "firecracker") == 0) {
			const char *tail = component(rest, second, sizeof(second), &n2);
			if (tail && kt_sandbox_id_valid(second, n2)) {
				memcpy(out->id, second, n2 + 1);
				out->hypervisor = "firecracker";
				return true;
			}
		}
		if (!kt_sandbox_id_valid(first, n1))
			return false;
		memcpy(out->id, first, n1 + 1);
		if (strncmp(rest, "root/kata.hvsock", 16) == 0)
			out->hypervisor = "dragonball";
		else if (strncmp(rest, "kata.hvsock", 11) == 0)
			out->hypervisor = "firecracker";
		else
			out->hypervisor = hypervisor_from_file(rest);
		return true;
	}
	return false;
}

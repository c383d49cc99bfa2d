/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/qemu_args.h"

#include <stdlib.h>
#include <string.h>

#define NAME_FLAG "-name"
#define NAME_PREFIX "sandbox-" /* Kata names its VM sandbox-<id> */
#define CID_PROPERTY "guest-cid="

bool kt_qemu_arg_is_name(const char *arg)
{
	return strcmp(arg, NAME_FLAG) == 0;
}

bool kt_qemu_name_sandbox(const char *value, char out[KT_SANDBOX_ID_MAX + 1])
{
	const size_t pl = sizeof(NAME_PREFIX) - 1;
	if (strncmp(value, NAME_PREFIX, pl) != 0)
		return false;
	value += pl;
	size_t idl = strcspn(value, ",");
	if (!kt_sandbox_id_valid(value, idl))
		return false;
	memcpy(out, value, idl);
	out[idl] = '\0';
	return true;
}

uint32_t kt_qemu_arg_guest_cid(const char *arg)
{
	const size_t pl = sizeof(CID_PROPERTY) - 1;
	/* The first whole property: "guest-cid=" at the start or after a ','. */
	for (const char *p = strstr(arg, CID_PROPERTY); p; p = strstr(p + 1, CID_PROPERTY)) {
		if (p != arg && p[-1] != ',')
			continue;
		const char *digits = p + pl;
		if (*digits < '0' || *digits > '9')
			return 0;
		char *end;
		unsigned long v = strtoul(digits, &end, 10);
		if ((*end != '\0' && *end != ',') || v <= 2 || v >= UINT32_MAX)
			return 0;
		return (uint32_t)v;
	}
	return 0;
}

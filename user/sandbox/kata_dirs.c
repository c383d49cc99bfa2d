/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/kata_dirs.h"

#include <string.h>

static int below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

const char *kt_kata_runtime_of(const char *path)
{
	if (below(path, KT_KATA_GO_DIR))
		return "go";
	if (below(path, KT_KATA_RS_DIR))
		return "rs";
	return "";
}

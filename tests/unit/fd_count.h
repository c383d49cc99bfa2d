/* SPDX-License-Identifier: Apache-2.0 */
/* How many descriptors this process has open (from /proc/self/fd); -1 when it cannot be read. */
#ifndef KT_TEST_FD_COUNT_H
#define KT_TEST_FD_COUNT_H

#include <dirent.h>

static inline int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

#endif

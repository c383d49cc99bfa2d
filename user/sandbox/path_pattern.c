/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/path_pattern.h"

#include <stdio.h>
#include <string.h>

int kt_path_pattern_check(const char *p, bool allow_star, char *err, size_t errlen)
{
	size_t ids = 0, comps = 0;
	const char *last = NULL;

	if (!p || p[0] != '/') {
		snprintf(err, errlen, "'%s': not an absolute path", p ? p : "");
		return -1;
	}
	if (strlen(p) > KT_PATTERN_MAX) {
		snprintf(err, errlen, "'%s': longer than %d characters", p, KT_PATTERN_MAX);
		return -1;
	}
	for (const char *c = p + 1; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
		size_t n = strcspn(c, "/");
		last = c;
		comps++;
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
			snprintf(err, errlen, "'%s': empty, '.' or '..' path component", p);
			return -1;
		}
		if (n == 4 && strncmp(c, "{ID}", 4) == 0) {
			ids++;
		} else if (n == 1 && c[0] == '*' && allow_star) {
			/* any directory */
		} else if (memchr(c, '{', n) || memchr(c, '}', n) || memchr(c, '*', n)) {
			snprintf(err, errlen, "'%s': {ID}%s must be a whole path component", p,
				 allow_star ? " and *" : "");
			return -1;
		}
	}
	if (ids != 1) {
		snprintf(err, errlen, "'%s': {ID} must appear exactly once (found %zu)", p, ids);
		return -1;
	}
	if (comps > KT_PATTERN_COMPONENTS) {
		snprintf(err, errlen, "'%s': more than %d path components", p, KT_PATTERN_COMPONENTS);
		return -1;
	}
	if (strcmp(last, "{ID}") == 0 || strcmp(last, "*") == 0) {
		snprintf(err, errlen, "'%s': must end in a file name after {ID}", p);
		return -1;
	}
	return 0;
}

int kt_path_pattern_expand(const char *pattern, const char *id, char *out, size_t cap)
{
	const char *at = strstr(pattern, "{ID}");
	if (pattern[0] == '/')
		pattern++;
	if (!at || at < pattern)
		return -1;
	int n = snprintf(out, cap, "%.*s%s%s", (int)(at - pattern), pattern, id, at + 4);
	return n >= 0 && (size_t)n < cap ? 0 : -1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the records of a fuzz target hold, hashed (two runs over the same
 * input, whole and in chunks, must make the same records) and their text
 * checked: NUL-terminated, valid UTF-8. A violation traps.
 */
#ifndef KT_FUZZ_STR_CHECK_H
#define KT_FUZZ_STR_CHECK_H

#include <stdint.h>

#include "base/utf8.h"
#include "fuzz_check.h"
#include "model/span.h"

static inline uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x100000001b3ull;
	return h ^ (h >> 29);
}

static inline uint64_t check_str(uint64_t h, struct kt_str s)
{
	CHECK(s.ptr != NULL && s.ptr[s.len] == '\0');
	CHECK(kt_utf8_check((const uint8_t *)s.ptr, s.len) == s.len);
	h = mix(h, s.len);
	for (size_t i = 0; i < s.len; i++)
		h = mix(h, (uint8_t)s.ptr[i]);
	return h;
}

#endif

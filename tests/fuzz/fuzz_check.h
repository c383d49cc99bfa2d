/* SPDX-License-Identifier: Apache-2.0 */
/* CHECK(cond): an invariant of a fuzz target; a violation traps (a crash to libFuzzer). */
#ifndef KT_FUZZ_CHECK_H
#define KT_FUZZ_CHECK_H

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

#endif

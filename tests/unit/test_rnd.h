/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper: a reproducible xorshift64 sequence. Each criterion test runs
 * in its own process, so every test starts from the same seed.
 */
#ifndef KT_TEST_RND_H
#define KT_TEST_RND_H

#include <stdint.h>

static uint64_t test_rnd_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t rnd(void)
{
	test_rnd_state ^= test_rnd_state << 13;
	test_rnd_state ^= test_rnd_state >> 7;
	test_rnd_state ^= test_rnd_state << 17;
	return test_rnd_state;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
#include "model/ids.h"

#include <sys/random.h>
#include <time.h>

/* splitmix64's finaliser: spreads every input bit over the output. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t kt_random_span_id(void)
{
	static uint64_t counter;
	uint64_t v = 0;

	while (v == 0) {
		if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			v = mix64((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^
				  __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) << 52);
		}
	}
	return v;
}

/* FNV-1a over the id, then mixed with a different constant per output word. */
static uint64_t derive(const char *s, size_t n, uint64_t salt)
{
	uint64_t h = 0xcbf29ce484222325ull ^ salt;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 0x100000001b3ull;
	}
	uint64_t v = mix64(h + salt);
	return v ? v : 1;
}

void kt_sandbox_ids(const char *sandbox_id, size_t len, struct kt_trace_id *trace_id,
			  uint64_t *root_span_id)
{
	trace_id->hi = derive(sandbox_id, len, 0x6b617461ull);	     /* "kata" */
	trace_id->lo = derive(sandbox_id, len, 0x7472616365ull);    /* "trace" */
	*root_span_id = derive(sandbox_id, len, 0x73616e64626f78ull); /* "sandbox" */
}

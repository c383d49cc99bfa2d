/* SPDX-License-Identifier: Apache-2.0 */
/* The monotonic clock every stage times with (ring buffer records carry it too). */
#ifndef KT_CLOCK_H
#define KT_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds: the clock of ring buffer records and timers. */
static inline uint64_t kt_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif

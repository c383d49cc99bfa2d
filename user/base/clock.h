/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The monotonic clock every stage times with (ring buffer records carry it
 * too: bpf_ktime_get_ns is CLOCK_MONOTONIC), and its conversion to Unix time.
 */
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

/*
 * CLOCK_REALTIME - CLOCK_MONOTONIC now, in ns: measured once by whoever turns
 * kernel times into span times, then added by kt_mono_to_unix.
 */
static inline int64_t kt_mono_to_unix_offset(void)
{
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	uint64_t mono = kt_mono_ns();
	return (int64_t)((uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec) - (int64_t)mono;
}

/* A CLOCK_MONOTONIC time as Unix time (modulo 2^64: a kernel time is not checked). */
static inline uint64_t kt_mono_to_unix(uint64_t mono_ns, int64_t offset)
{
	return mono_ns + (uint64_t)offset;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the benchmark programs share: a clock, reading a file, and the rows
 * of the final table. A program prints its details as text and each figure
 * as one row (tests/bench/bench.sh collects the rows and prints the table):
 *
 *   ROW<TAB>figure<TAB>measured<TAB>baseline<TAB>ratio<TAB>goal<TAB>check<TAB>value<TAB>target
 *
 * check is ge, le, eq or none: whether value must be >= target, <= target
 * or == target for the goal to be met.
 */
#ifndef KT_BENCH_UTIL_H
#define KT_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole file, or exit(2). */
static inline uint8_t *bench_slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	size_t cap = 1 << 16, len = 0, r;
	uint8_t *b = malloc(cap);
	while (b && (r = fread(b + len, 1, cap - len, f)) > 0) {
		len += r;
		if (len == cap)
			b = realloc(b, cap *= 2);
	}
	fclose(f);
	if (!b) {
		fprintf(stderr, "%s: out of memory\n", path);
		exit(2);
	}
	*n = len;
	return b;
}

static inline void bench_row(const char *figure, const char *measured, const char *baseline,
			     double ratio, const char *goal, const char *check, double value,
			     double target)
{
	printf("ROW\t%s\t%s\t%s\t%.6g\t%s\t%s\t%.6g\t%.6g\n", figure, measured, baseline, ratio,
	       goal, check, value, target);
	fflush(stdout);
}

/*
 * A row whose goal has a limit: the same figure for the least any
 * implementation must do (`limit_name`, e.g. "copy floor"), measured in the
 * same run. When the goal is missed and the limit misses it as well, the
 * verdict says so: the goal is beyond what this machine allows.
 */
static inline void bench_row_limit(const char *figure, const char *measured, const char *baseline,
				   double ratio, const char *goal, const char *check, double value,
				   double target, const char *limit_name, double limit)
{
	printf("ROW\t%s\t%s\t%s\t%.6g\t%s\t%s\t%.6g\t%.6g\t%s=%.6g\n", figure, measured,
	       baseline, ratio, goal, check, value, target, limit_name, limit);
	fflush(stdout);
}

/* Keeps the compiler from dropping a copy nobody reads. */
static inline void bench_clobber(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

#endif

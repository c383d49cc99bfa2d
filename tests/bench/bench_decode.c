/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoder throughput per era, each beside memcpy of the same bytes, in
 * interleaved rounds (decode, copy, decode, copy, ...), best of ROUNDS:
 * the golden `child` span in both eras (tracing-opentelemetry's attribute
 * set) and a realistic 808-byte JSON span (tests/bench/spangen.c). A span
 * is decoded as the daemon decodes it: a fresh arena with the daemon's
 * limit, kt_decode_span(), the arena freed.
 *
 * Usage: bench_decode VECTORS_DIR SPANS_FILE [ROUNDS]
 *        bench_decode --file SPANS_FILE   every frame of the file, once,
 *                                         in process: "inproc spans N bytes B seconds S"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"
#include "base/diag.h"
#include "bench_util.h"

static int decode_one(enum kt_format f, const uint8_t *p, size_t n)
{
	struct kt_arena a;
	struct kt_span s;
	struct kt_decode_error err;
	kt_arena_init(&a, kt_decode_arena_limit(n));
	int rc = kt_decode_span(f, p, n, &a, &s, NULL, &err);
	if (rc)
		fprintf(stderr, "bench_decode: %s\n", err.msg);
	kt_arena_free(&a);
	return rc;
}

static double time_decode(enum kt_format f, const uint8_t *p, size_t n, long iters)
{
	double t0 = bench_now();
	for (long i = 0; i < iters; i++)
		if (decode_one(f, p, n))
			exit(1);
	return bench_now() - t0;
}

static double time_copy(uint8_t *dst, const uint8_t *p, size_t n, long iters)
{
	double t0 = bench_now();
	for (long i = 0; i < iters; i++) {
		memcpy(dst, p, n);
		bench_clobber(dst);
	}
	return bench_now() - t0;
}

/* Iterations that take about `secs`. */
static long calibrate(double (*probe)(long, void *), void *ctx, double secs)
{
	long iters = 64;
	for (;;) {
		double t = probe(iters, ctx);
		if (t > secs / 8 || iters > (1L << 30))
			return (long)((double)iters * secs / (t > 0 ? t : 1e-9)) + 1;
		iters *= 4;
	}
}

struct job {
	enum kt_format f;
	const uint8_t *p;
	size_t n;
	uint8_t *dst;
};

static double probe_decode(long iters, void *ctx)
{
	struct job *j = ctx;
	return time_decode(j->f, j->p, j->n, iters);
}

static double probe_copy(long iters, void *ctx)
{
	struct job *j = ctx;
	return time_copy(j->dst, j->p, j->n, iters);
}

static void bench_case(const char *figure, enum kt_format f, const uint8_t *p, size_t n,
		       int rounds, double goal_mbs)
{
	struct job j = { f, p, n, malloc(n) };
	long di = calibrate(probe_decode, &j, 0.04), ci = calibrate(probe_copy, &j, 0.02);
	double best_d = 1e30, best_c = 1e30;
	for (int r = 0; r < rounds; r++) {
		double d = time_decode(f, p, n, di) / (double)di;
		double c = time_copy(j.dst, p, n, ci) / (double)ci;
		if (d < best_d)
			best_d = d;
		if (c < best_c)
			best_c = c;
	}
	double mbs = (double)n / best_d / 1e6, cmbs = (double)n / best_c / 1e6;
	char measured[96], baseline[96], goal[32];
	snprintf(measured, sizeof(measured), "%.0f MB/s, %.0fk spans/s", mbs, 1.0 / best_d / 1e3);
	snprintf(baseline, sizeof(baseline), "memcpy %.0f MB/s", cmbs);
	snprintf(goal, sizeof(goal), ">= %.0f MB/s", goal_mbs);
	printf("  %-40s %5zu B  %8.2f us/span  %7.0f MB/s   memcpy %8.0f MB/s  (%ld + %ld iterations a round)\n",
	       figure, n, best_d * 1e6, mbs, cmbs, di, ci);
	bench_row(figure, measured, baseline, mbs / cmbs, goal, "ge", mbs, goal_mbs);
	free(j.dst);
}

/* The first frame's payload of a framed file. */
static const uint8_t *first_frame(const uint8_t *b, size_t len, size_t *n)
{
	uint64_t l = 0;
	for (int i = 0; i < 8 && (size_t)i < len; i++)
		l = l << 8 | b[i];
	if (len < 8 || l > len - 8) {
		fprintf(stderr, "bench_decode: not a framed span file\n");
		exit(2);
	}
	*n = (size_t)l;
	return b + 8;
}

static int whole_file(const char *path)
{
	size_t len, off = 0;
	uint8_t *b = bench_slurp(path, &len);
	unsigned long spans = 0;
	double t0 = bench_now();
	while (off + 8 <= len) {
		uint64_t l = 0;
		for (int i = 0; i < 8; i++)
			l = l << 8 | b[off + i];
		if (l > len - off - 8)
			break;
		if (decode_one(KT_FORMAT_AUTO, b + off + 8, (size_t)l))
			return 1;
		off += 8 + (size_t)l;
		spans++;
	}
	double t = bench_now() - t0;
	printf("inproc spans %lu bytes %zu seconds %.6f\n", spans, off, t);
	free(b);
	return 0;
}

int main(int argc, char **argv)
{
	char path[512];

	kt_log_level = KT_LOG_WARN;
	if (argc == 3 && strcmp(argv[1], "--file") == 0)
		return whole_file(argv[2]);
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: bench_decode VECTORS_DIR SPANS_FILE [ROUNDS]\n"
				"       bench_decode --file SPANS_FILE\n");
		return 2;
	}
	const char *vec = argv[1];
	int rounds = argc == 4 ? atoi(argv[3]) : 7;
	if (rounds < 1)
		rounds = 1;
	size_t nj, nb, nr, fl;
	snprintf(path, sizeof(path), "%s/otel017_json_child.json", vec);
	uint8_t *j = bench_slurp(path, &nj);
	snprintf(path, sizeof(path), "%s/otel014_bincode_child.bin", vec);
	uint8_t *b = bench_slurp(path, &nb);
	uint8_t *file = bench_slurp(argv[2], &fl);
	const uint8_t *r = first_frame(file, fl, &nr);

	printf("decoders, best of %d interleaved rounds (decode, memcpy of the same bytes):\n",
	       rounds);
	char fig[96];
	snprintf(fig, sizeof(fig), "JSON decode, `child` span (%zu B)", nj);
	bench_case(fig, KT_FORMAT_JSON, j, nj, rounds, 400);
	snprintf(fig, sizeof(fig), "JSON decode, realistic span (%zu B)", nr);
	bench_case(fig, KT_FORMAT_JSON, r, nr, rounds, 400);
	snprintf(fig, sizeof(fig), "bincode decode, `child` span (%zu B)", nb);
	bench_case(fig, KT_FORMAT_BINCODE, b, nb, rounds, 1000);
	free(j);
	free(b);
	free(file);
	return 0;
}

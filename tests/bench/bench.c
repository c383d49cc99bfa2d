/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmarks, measured side by side in one run and printed as ratios:
 *  1. What the kernel capture costs other processes: 64-byte writes to
 *     /dev/null, over an uncaptured unix socket and over a captured one
 *     (a listener named *_10240), with and without the programs attached.
 *  2. Decoder cost per span, JSON era against bincode era.
 * Needs root (BPF). Usage: bench [VECTORS_DIR]
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/decode.h"
#include "base/diag.h"
#include "capture/capture.h"

#define WRITES 200000
#define ROUNDS 5

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *drain(void *arg)
{
	int fd = (int)(long)arg;
	char buf[65536];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

/* ns per 64-byte write(2) on fd, best of ROUNDS. */
static double write_cost(int fd)
{
	char msg[64] = { 0 };
	double best = 1e9;
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_s();
		for (int i = 0; i < WRITES; i++)
			if (write(fd, msg, sizeof(msg)) != sizeof(msg))
				exit(1);
		double ns = (now_s() - t0) / WRITES * 1e9;
		if (ns < best)
			best = ns;
	}
	return best;
}

struct pair {
	int wfd;
	pthread_t reader;
};

/* A connected unix stream socket whose listener is bound at path; the
 * accepted end is drained by a thread. */
static struct pair connect_pair(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct pair p;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1)) {
		perror(path);
		exit(1);
	}
	p.wfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(p.wfd, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		exit(1);
	}
	int r = accept(l, NULL, NULL);
	close(l);
	unlink(path);
	pthread_create(&p.reader, NULL, drain, (void *)(long)r);
	return p;
}

static atomic_bool stop_consumer;

static int discard(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

static void *consume(void *arg)
{
	struct ring_buffer *rb = arg;
	while (!atomic_load(&stop_consumer))
		ring_buffer__poll(rb, 50);
	return NULL;
}

static double decode_cost(enum kt_format f, const uint8_t *p, size_t n)
{
	const int iters = 20000;
	double best = 1e9;
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_s();
		for (int i = 0; i < iters; i++) {
			struct kt_arena a;
			struct kt_span s;
			struct kt_decode_error err;
			kt_arena_init(&a, 0);
			if (kt_decode_span(f, p, n, &a, &s, NULL, &err)) {
				fprintf(stderr, "decode: %s\n", err.msg);
				exit(1);
			}
			kt_arena_free(&a);
		}
		double us = (now_s() - t0) / iters * 1e6;
		if (us < best)
			best = us;
	}
	return best;
}

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	uint8_t *b = malloc(1 << 20);
	*n = fread(b, 1, 1 << 20, f);
	fclose(f);
	return b;
}

int main(int argc, char **argv)
{
	const char *vec = argc > 1 ? argv[1] : "tests/vectors";
	char path[512];

	kt_log_level = KT_LOG_WARN;
	kt_libbpf_log_init();

	/* ---- capture cost */
	int devnull = open("/dev/null", O_WRONLY);
	struct pair plain = connect_pair("/tmp/katatrace-bench-plain");
	struct pair captured = connect_pair("/tmp/katatrace-bench_10240");
	double base_null = write_cost(devnull);
	double base_plain = write_cost(plain.wfd);
	double base_capt = write_cost(captured.wfd);

	unsigned port = 10240;
	struct kt_capture_cfg cc = { .attach = KT_ATTACH_AUTO, .ports = &port, .n_ports = 1,
				     .ringbuf_bytes = 16u << 20 };
	kt_mount_bpf_filesystems();
	struct kt_capture *l = kt_capture_start(&cc);
	if (!l) {
		fprintf(stderr, "bench: cannot attach the capture programs (root?)\n");
		return 1;
	}
	struct ring_buffer *rb = ring_buffer__new(kt_capture_ringbuf_fd(l), discard, NULL, NULL);
	pthread_t consumer;
	pthread_create(&consumer, NULL, consume, rb);
	double att_null = write_cost(devnull);
	double att_plain = write_cost(plain.wfd);
	double att_capt = write_cost(captured.wfd);
	atomic_store(&stop_consumer, true);
	pthread_join(consumer, NULL);
	uint64_t cnt[KT_CNT__MAX];
	kt_capture_counters(l, cnt);
	char strategy[96];
	kt_capture_describe(l, strategy, sizeof(strategy));
	ring_buffer__free(rb);
	kt_capture_stop(l);

	printf("capture cost (%s), 64-byte write(2), best of %d x %d (ns per write):\n",
	       strategy, ROUNDS, WRITES);
	printf("  %-34s %10s %10s %8s\n", "", "detached", "attached", "ratio");
	printf("  %-34s %10.0f %10.0f %8.2f\n", "/dev/null (not a socket)", base_null, att_null,
	       att_null / base_null);
	printf("  %-34s %10.0f %10.0f %8.2f\n", "unix socket, not captured", base_plain, att_plain,
	       att_plain / base_plain);
	printf("  %-34s %10.0f %10.0f %8.2f\n", "unix socket *_10240, captured", base_capt,
	       att_capt, att_capt / base_capt);
	printf("  captured %llu bytes, %llu records lost\n\n",
	       (unsigned long long)cnt[KT_CNT_BYTES], (unsigned long long)cnt[KT_CNT_RB_FAIL]);

	/* ---- decoders */
	size_t nj, nb;
	snprintf(path, sizeof(path), "%s/otel017_json_child.json", vec);
	uint8_t *j = slurp(path, &nj);
	snprintf(path, sizeof(path), "%s/otel014_bincode_child.bin", vec);
	uint8_t *b = slurp(path, &nb);
	double dj = decode_cost(KT_FORMAT_JSON, j, nj);
	double db = decode_cost(KT_FORMAT_BINCODE, b, nb);
	printf("decoding the `child` span (tracing-opentelemetry attribute set), best of %d:\n",
	       ROUNDS);
	printf("  %-10s %6zu bytes %8.2f us/span %8.1f MB/s\n", "JSON", nj, dj, nj / dj);
	printf("  %-10s %6zu bytes %8.2f us/span %8.1f MB/s\n", "bincode", nb, db, nb / db);
	printf("  ratio JSON/bincode per span: %.1f\n", dj / db);
	free(j);
	free(b);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Waits until the daemon's metrics say TARGET spans were exported, polling
 * every POLL_MS over one kept-alive connection, and prints when:
 *
 *   exported N at SECONDS.MICROS
 *
 * N is the last count read, SECONDS the wall-clock time (CLOCK_REALTIME, as
 * stream_writer's start) of the poll that read it. Exit 0 when N reached
 * TARGET, 1 when the count did not move for QUIET seconds, 2 on usage
 * errors. One process that polls costs the machine under measurement little;
 * a curl started per poll costs tens of milliseconds of CPU each, on a
 * machine whose two cores the writer and the daemon need.
 *
 * Usage: wait_exported METRICS_URL TARGET [QUIET]
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

#define POLL_MS 5
#define METRIC "katatrace_spans_exported_total"

struct body {
	char buf[1 << 20];
	size_t len;
};

static size_t take(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	size_t room = sizeof(b->buf) - 1 - b->len;
	memcpy(b->buf + b->len, p, len < room ? len : room);
	b->len += len < room ? len : room;
	return len;
}

/* The metric's value in the body (one line: name, a space, the value), or -1. */
static long long exported(const struct body *b)
{
	size_t k = strlen(METRIC);
	const char *line = b->buf;
	while (line && *line) {
		if (strncmp(line, METRIC, k) == 0 && line[k] == ' ')
			return strtoll(line + k + 1, NULL, 10);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: wait_exported METRICS_URL TARGET [QUIET_SECONDS]\n");
		return 2;
	}
	long long target = strtoll(argv[2], NULL, 10);
	double quiet = argc == 4 ? atof(argv[3]) : 5;
	static struct body b;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *c = curl_easy_init();
	if (!c)
		return 2;
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	long long n = 0, last = -1;
	double at = wall_now(), moved = bench_now();
	for (;;) {
		b.len = 0;
		b.buf[0] = '\0';
		CURLcode rc = curl_easy_perform(c);
		at = wall_now();
		if (rc == CURLE_OK) {
			b.buf[b.len] = '\0';
			long long v = exported(&b);
			if (v >= 0)
				n = v;
		}
		if (n >= target)
			break;
		if (n != last) {
			last = n;
			moved = bench_now();
		} else if (bench_now() - moved >= quiet) {
			break;
		}
		struct timespec ts = { 0, POLL_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	printf("exported %lld at %.6f\n", n, at);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return n >= target ? 0 : 1;
}

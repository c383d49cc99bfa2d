/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hypervisor relaying one agent's stream as fast as it can: connects to a
 * unix socket, writes FILE with write(2) calls of exactly CHUNK bytes (the
 * last one shorter), half-closes and waits for the listener to close in
 * turn (then the listener has read every byte). Prints
 *   writer bytes B seconds S write_seconds W start R
 * S from the connect to the listener's close, W to the last write, R the
 * connect's wall-clock time (seconds since the epoch, as bash's
 * EPOCHREALTIME).
 *
 * Usage: stream_writer SOCKET FILE CHUNK [BYTES_PER_SECOND]
 * With BYTES_PER_SECOND, no faster than that: a node's steady stream rather
 * than a burst (tests/faults/collector_outage.sh).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: stream_writer SOCKET FILE CHUNK [BYTES_PER_SECOND]\n");
		return 2;
	}
	size_t n, chunk = strtoull(argv[3], NULL, 0);
	double rate = argc == 5 ? strtod(argv[4], NULL) : 0;
	uint8_t *b = bench_slurp(argv[2], &n);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (chunk == 0 || strlen(argv[1]) >= sizeof(a.sun_path)) {
		fprintf(stderr, "stream_writer: bad chunk size or socket path\n");
		return 2;
	}
	memcpy(a.sun_path, argv[1], strlen(argv[1]) + 1);
	int fd = -1;
	double deadline = bench_now() + 10;
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			break;
		if (bench_now() > deadline) {
			fprintf(stderr, "stream_writer: connect %s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		if (fd >= 0)
			close(fd);
		usleep(20000);
	}
	double t0 = bench_now();
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	for (size_t off = 0; off < n;) {
		size_t c = n - off < chunk ? n - off : chunk;
		ssize_t w = write(fd, b + off, c);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "stream_writer: write: %s\n", strerror(errno));
			return 1;
		}
		off += (size_t)w;
		/* paced: ahead of rate, wait until the schedule catches up */
		double ahead = rate > 0 ? (double)off / rate - (bench_now() - t0) : 0;
		if (ahead > 0.001)
			usleep((useconds_t)(ahead * 1e6));
	}
	double tw = bench_now() - t0;
	shutdown(fd, SHUT_WR);
	char buf[4096];
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
		;
	double t = bench_now() - t0;
	close(fd);
	printf("writer bytes %zu seconds %.6f write_seconds %.6f start %lld.%06ld\n", n, t, tw,
	       (long long)rt.tv_sec, rt.tv_nsec / 1000);
	free(b);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test stand-in for a hostile guest: opens COUNT connections to a unix
 * socket, sends on each an agent frame header announcing ANNOUNCE bytes and
 * then SEND bytes of payload that never complete it (round-robin, CHUNK
 * bytes per write, so that every connection grows at once), and holds them
 * open until SIGTERM or SIGINT. Connections the listener hangs up on are
 * counted, not retried.
 *
 * Usage: partial-frames [--count N] [--announce BYTES] [--send BYTES] [--chunk BYTES]
 *                       [--ready-file F] SOCKET
 * Prints "connections N, closed by the peer N, payload bytes held N" (sent
 * on the connections still open) when everything is sent, creates the
 * ready file, then waits.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int dial(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Little in flight per connection: the sender follows the reader. */
	int sndbuf = 64 << 10;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* false when the peer hung up. */
static bool send_all(int fd, const uint8_t *p, size_t n)
{
	while (n && !stop) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

int main(int argc, char **argv)
{
	size_t count = 200, chunk = 64 << 10;
	uint64_t announce = (16u << 20) - 1, send = 15u << 20;
	const char *ready = NULL, *path = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--announce") && i + 1 < argc)
			announce = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--send") && i + 1 < argc)
			send = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
			chunk = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--ready-file") && i + 1 < argc)
			ready = argv[++i];
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else {
			fprintf(stderr, "usage: partial-frames [--count N] [--announce BYTES] "
					"[--send BYTES] [--chunk BYTES] [--ready-file F] SOCKET\n");
			return 2;
		}
	}
	if (!path || !count || !chunk || send >= announce) {
		fprintf(stderr, "partial-frames: a socket, and --send below --announce\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	int *fds = calloc(count, sizeof(*fds));
	uint64_t *sent = calloc(count, sizeof(*sent));
	uint8_t *buf = calloc(1, chunk);
	if (!fds || !sent || !buf)
		return 1;
	uint8_t hdr[8];
	for (int i = 0; i < 8; i++)
		hdr[i] = (uint8_t)(announce >> (56 - 8 * i));
	size_t closed = 0;
	for (size_t i = 0; i < count; i++) {
		fds[i] = dial(path);
		if (fds[i] < 0) {
			fprintf(stderr, "partial-frames: connect %s: %s\n", path, strerror(errno));
			return 1;
		}
		if (!send_all(fds[i], hdr, sizeof(hdr))) {
			close(fds[i]);
			fds[i] = -1;
			closed++;
		}
	}
	for (uint64_t off = 0; off < send && !stop; off += chunk) {
		size_t n = send - off < chunk ? (size_t)(send - off) : chunk;
		for (size_t i = 0; i < count && !stop; i++) {
			if (fds[i] < 0)
				continue;
			if (!send_all(fds[i], buf, n)) {
				close(fds[i]);
				fds[i] = -1;
				closed++;
				continue;
			}
			sent[i] += n;
		}
	}
	uint64_t held = 0;
	for (size_t i = 0; i < count; i++)
		if (fds[i] >= 0)
			held += sent[i];
	printf("connections %zu, closed by the peer %zu, payload bytes held %llu\n", count, closed,
	       (unsigned long long)held);
	fflush(stdout);
	if (ready) {
		FILE *f = fopen(ready, "w");
		if (f)
			fclose(f);
	}
	while (!stop)
		pause();
	for (size_t i = 0; i < count; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	free(sent);
	free(buf);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Idle sandboxes' hypervisors, in one process: for each hybrid-vsock socket
 * path it binds and listens on the path (what a VMM creates before its guest
 * boots), then connects to PATH_10240 once a listener is there (the agent's
 * trace connection, relayed) and keeps every connection open without
 * sending, until SIGTERM or SIGINT.
 *
 * Usage: idle_hv [--ready-file F] [--timeout S] UDS...
 *   F is written once every connection is made.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench_util.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static bool set_path(struct sockaddr_un *a, const char *path, const char *suffix)
{
	*a = (struct sockaddr_un){ .sun_family = AF_UNIX };
	return snprintf(a->sun_path, sizeof(a->sun_path), "%s%s", path, suffix) <
	       (int)sizeof(a->sun_path);
}

int main(int argc, char **argv)
{
	const char *ready = NULL;
	double timeout = 60;
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--ready-file") == 0)
			ready = argv[i + 1];
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout = atof(argv[i + 1]);
		else
			break;
	}
	int n = argc - i;
	if (n <= 0) {
		fprintf(stderr, "usage: idle_hv [--ready-file F] [--timeout S] UDS...\n");
		return 2;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	int *conn = malloc(sizeof(int) * (size_t)n), *hv = malloc(sizeof(int) * (size_t)n);
	for (int k = 0; k < n; k++) {
		struct sockaddr_un a;
		conn[k] = -1;
		hv[k] = socket(AF_UNIX, SOCK_STREAM, 0);
		if (!set_path(&a, argv[i + k], "") || hv[k] < 0 ||
		    bind(hv[k], (struct sockaddr *)&a, sizeof(a)) || listen(hv[k], 1)) {
			fprintf(stderr, "idle_hv: %s: %s\n", argv[i + k], strerror(errno));
			return 1;
		}
	}
	int connected = 0;
	double deadline = bench_now() + timeout;
	while (connected < n && !stop) {
		for (int k = 0; k < n; k++) {
			if (conn[k] >= 0)
				continue;
			struct sockaddr_un a;
			int fd = socket(AF_UNIX, SOCK_STREAM, 0);
			if (set_path(&a, argv[i + k], "_10240") && fd >= 0 &&
			    connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
				conn[k] = fd;
				connected++;
			} else if (fd >= 0) {
				close(fd);
			}
		}
		if (connected < n) {
			if (bench_now() > deadline) {
				fprintf(stderr, "idle_hv: %d of %d connected after %.0f s\n", connected,
					n, timeout);
				break;
			}
			usleep(50000);
		}
	}
	printf("idle_hv: %d of %d connected\n", connected, n);
	fflush(stdout);
	if (connected == n && ready) {
		FILE *f = fopen(ready, "w");
		if (f)
			fclose(f);
	}
	while (!stop)
		pause();
	for (int k = 0; k < n; k++) {
		if (conn[k] >= 0)
			close(conn[k]);
		close(hv[k]);
		unlink(argv[i + k]);
	}
	return connected == n ? 0 : 1;
}

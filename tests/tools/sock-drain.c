/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test stand-in for a foreign listener (a kata-trace-forwarder): listens on a
 * unix socket path or on an AF_VSOCK port (any CID), accepts any number of
 * connections concurrently and reads everything they send, discarding it.
 *
 * Usage: sock-drain [--echo] unix:PATH | vsock:PORT
 *   --echo   write what it reads back to its sender as far as the sender's
 *            buffer takes it without blocking (a listener that answers, so
 *            bytes flow towards the connecting end too)
 *
 * Prints on stdout (flushed line by line):
 *   listening on ADDRESS                        once the socket listens
 *   closed conn N peer P bytes B                when connection N reaches end of stream
 *   conn N peer P bytes B open|closed           for every connection, on SIGTERM/SIGINT
 *   total connections N closed N bytes B        last line, on SIGTERM/SIGINT
 *   echoed bytes E                              with --echo, before the total
 * P is "cid C port P" for vsock peers and "pid P" for unix peers.
 *
 * Exit status: 0 after a stop signal, 3 when the address is already in use,
 * 2 on any other error.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

struct conn {
	int fd; /* -1 once closed */
	char peer[48];
	uint64_t bytes;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int listen_on(const char *spec)
{
	int fd;

	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		const char *path = spec + 5;
		if (strlen(path) >= sizeof(a.sun_path)) {
			fprintf(stderr, "sock-drain: path too long: %s\n", path);
			return -2;
		}
		memcpy(a.sun_path, path, strlen(path) + 1);
		unlink(path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)))
			goto fail;
	} else if (strncmp(spec, "vsock:", 6) == 0) {
		char *end;
		unsigned long port = strtoul(spec + 6, &end, 10);
		if (*end || end == spec + 6 || port > UINT32_MAX) {
			fprintf(stderr, "sock-drain: bad port in '%s'\n", spec);
			return -2;
		}
		struct sockaddr_vm a = { .svm_family = AF_VSOCK,
					 .svm_cid = VMADDR_CID_ANY,
					 .svm_port = (unsigned)port };
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)))
			goto fail;
	} else {
		fprintf(stderr, "usage: sock-drain unix:PATH | vsock:PORT\n");
		return -2;
	}
	if (listen(fd, 64))
		goto fail;
	return fd;
fail:
	fprintf(stderr, "sock-drain: %s: %s\n", spec, strerror(errno));
	return errno == EADDRINUSE ? -3 : -2;
}

static void describe_peer(int fd, struct conn *c)
{
	union {
		struct sockaddr sa;
		struct sockaddr_vm vm;
	} a;
	socklen_t len = sizeof(a);
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	snprintf(c->peer, sizeof(c->peer), "?");
	if (getpeername(fd, &a.sa, &len) == 0 && a.sa.sa_family == AF_VSOCK)
		snprintf(c->peer, sizeof(c->peer), "cid %u port %u", a.vm.svm_cid, a.vm.svm_port);
	else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
		snprintf(c->peer, sizeof(c->peer), "pid %d", (int)cred.pid);
}

int main(int argc, char **argv)
{
	bool echo = argc == 3 && strcmp(argv[1], "--echo") == 0;
	if (echo) {
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: sock-drain [--echo] unix:PATH | vsock:PORT\n");
		return 2;
	}
	uint64_t echoed = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: poll returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int lfd = listen_on(argv[1]);
	if (lfd < 0) {
		if (lfd == -3)
			printf("address in use: %s\n", argv[1]);
		return -lfd;
	}
	printf("listening on %s\n", argv[1]);

	size_t n = 0, cap = 16;
	struct conn *conns = calloc(cap, sizeof(*conns));
	struct pollfd *pfd = calloc(cap + 1, sizeof(*pfd));
	size_t *idx = calloc(cap + 1, sizeof(*idx)); /* pfd[k] polls conns[idx[k]] */
	static uint8_t buf[1 << 16];
	if (!conns || !pfd || !idx)
		return 2;

	while (!stop) {
		size_t np = 0;
		pfd[np++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (size_t i = 0; i < n; i++)
			if (conns[i].fd >= 0) {
				idx[np] = i;
				pfd[np++] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
			}
		if (poll(pfd, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("sock-drain: poll");
			return 2;
		}
		for (size_t k = 1; k < np; k++) {
			if (!pfd[k].revents)
				continue;
			struct conn *c = &conns[idx[k]];
			ssize_t r = read(c->fd, buf, sizeof(buf));
			if (r > 0) {
				c->bytes += (uint64_t)r;
				/*
				 * Best effort and never blocking: a sender that does
				 * not read its echo while it sends must not stall the
				 * listener. What was not taken is not counted.
				 */
				for (ssize_t o = 0; echo && o < r;) {
					ssize_t w = send(c->fd, buf + o, (size_t)(r - o),
							 MSG_DONTWAIT | MSG_NOSIGNAL);
					if (w <= 0)
						break;
					o += w;
					echoed += (uint64_t)w;
				}
			} else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
				if (r < 0)
					fprintf(stderr, "sock-drain: read: %s\n", strerror(errno));
				close(c->fd);
				c->fd = -1;
				printf("closed conn %zu peer %s bytes %" PRIu64 "\n", idx[k] + 1, c->peer,
				       c->bytes);
			}
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			if (n == cap) {
				cap *= 2;
				conns = realloc(conns, cap * sizeof(*conns));
				pfd = realloc(pfd, (cap + 1) * sizeof(*pfd));
				idx = realloc(idx, (cap + 1) * sizeof(*idx));
				if (!conns || !pfd || !idx)
					return 2;
			}
			conns[n] = (struct conn){ .fd = fd };
			describe_peer(fd, &conns[n]);
			n++;
		}
	}

	uint64_t total = 0;
	size_t closed = 0;
	for (size_t i = 0; i < n; i++) {
		printf("conn %zu peer %s bytes %" PRIu64 " %s\n", i + 1, conns[i].peer, conns[i].bytes,
		       conns[i].fd < 0 ? "closed" : "open");
		total += conns[i].bytes;
		closed += conns[i].fd < 0;
	}
	if (echo)
		printf("echoed bytes %" PRIu64 "\n", echoed);
	printf("total connections %zu closed %zu bytes %" PRIu64 "\n", n, closed, total);
	if (argv[1][0] == 'u')
		unlink(argv[1] + 5);
	return 0;
}

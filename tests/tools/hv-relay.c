/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test stand-in for a hybrid-vsock hypervisor: for each CONN argument it
 * connects to a unix socket (or an AF_VSOCK address) and relays the given
 * files as one byte stream, in random chunk sizes with a random choice of
 * write(2), writev(2), sendto(2) and sendmsg(2), all connections
 * concurrently (one thread each, one process, like a VMM's vsock worker
 * threads).
 *
 * Usage: hv-relay [--seed N] [--max-chunk N] [--whole-files] [--pause-at BYTES:MS]
 *                 [--connect-timeout S] [--uds PATH] [--pid-file F] [--report]
 *                 TARGET=FILE[,FILE...] ...
 *   TARGET            a unix socket path, or vsock:CID:PORT
 *   --whole-files     send each file with a single write(2)
 *   --pause-at B:MS   each connection sleeps MS milliseconds once B bytes are sent
 *   --connect-timeout S  keep retrying to connect for S seconds (default 3), as
 *                     a guest's agent keeps exporting until a listener is there
 *   --uds PATH        first bind and listen on PATH, the hypervisor's own hybrid
 *                     vsock socket (what a VMM creates before its guest boots);
 *                     removed on exit
 *   --report          print "hv-relay: connected N of M, connect attempts A" at
 *                     the end: every connect(2) it made, failed ones too (each
 *                     one a connection request on the wire)
 */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

struct conn {
	pthread_t th;
	char *socket;
	char *files;
	uint64_t seed;
	size_t max_chunk;
	int rc;
	uint64_t sent;
	bool paused;
	bool connected;
	unsigned attempts; /* connect(2) calls */
};

static bool whole_files;
static long connect_timeout_s = 3;
static uint64_t pause_at = UINT64_MAX;
static long pause_ms;

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: reproducible per connection from the seed */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "hv-relay: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = malloc(cap);
	size_t r;
	while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			b = realloc(b, cap *= 2);
	}
	fclose(f);
	*len = n;
	return b;
}

static int send_all(struct conn *c, int fd, const uint8_t *p, size_t n)
{
	uint64_t *s = &c->seed;

	if (whole_files) {
		ssize_t w = write(fd, p, n);
		return w == (ssize_t)n ? 0 : -1;
	}
	while (n > 0) {
		size_t chunk = 1 + rnd(s) % c->max_chunk;
		if (chunk > n)
			chunk = n;
		if (!c->paused && c->sent + chunk >= pause_at) {
			chunk = pause_at - c->sent;
			if (chunk == 0) {
				usleep((useconds_t)pause_ms * 1000);
				c->paused = true;
				continue;
			}
		}
		ssize_t w;
		switch (rnd(s) % 4) {
		case 0:
			w = write(fd, p, chunk);
			break;
		case 1: {
			/* split the chunk over up to three iovecs */
			struct iovec iov[3];
			size_t a = chunk / 3, b = chunk / 3;
			iov[0] = (struct iovec){ (void *)p, a };
			iov[1] = (struct iovec){ (void *)(p + a), b };
			iov[2] = (struct iovec){ (void *)(p + a + b), chunk - a - b };
			w = writev(fd, iov, 3);
			break;
		}
		case 2:
			w = sendto(fd, p, chunk, 0, NULL, 0);
			break;
		default: {
			struct iovec iov[2] = { { (void *)p, chunk / 2 },
						{ (void *)(p + chunk / 2), chunk - chunk / 2 } };
			struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
			w = sendmsg(fd, &m, 0);
		}
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		c->sent += (uint64_t)w;
		if (rnd(s) % 16 == 0) {
			struct timespec ts = { 0, (long)(rnd(s) % 2000000) };
			nanosleep(&ts, NULL);
		}
	}
	return 0;
}

/* Fills *a from a unix path or "vsock:CID:PORT"; returns its length, 0 if malformed. */
static socklen_t target_addr(const char *target, struct sockaddr_storage *a)
{
	memset(a, 0, sizeof(*a));
	if (strncmp(target, "vsock:", 6) == 0) {
		struct sockaddr_vm *vm = (struct sockaddr_vm *)a;
		char *end;
		unsigned long cid = strtoul(target + 6, &end, 10);
		if (*end != ':' || cid > UINT32_MAX)
			return 0;
		unsigned long port = strtoul(end + 1, &end, 10);
		if (*end || port > UINT32_MAX)
			return 0;
		vm->svm_family = AF_VSOCK;
		vm->svm_cid = (unsigned)cid;
		vm->svm_port = (unsigned)port;
		return sizeof(*vm);
	}
	struct sockaddr_un *un = (struct sockaddr_un *)a;
	if (strlen(target) >= sizeof(un->sun_path))
		return 0;
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, target, strlen(target) + 1);
	return sizeof(*un);
}

/* Reads (and drops) until end of stream; false after 10 s without it. */
static bool drain_until_eof(int fd)
{
	char buf[4096];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	for (;;) {
		int r = poll(&p, 1, 10000);
		if (r <= 0)
			return false;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return true;
		if (n < 0 && errno != EINTR)
			return errno == ECONNRESET;
	}
}

static void *relay(void *arg)
{
	struct conn *c = arg;
	struct sockaddr_storage a;
	socklen_t alen = target_addr(c->socket, &a);
	int fd = -1;

	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		/* A failed vsock connect leaves the socket unusable: a new one per try. */
		fd = socket(a.ss_family, SOCK_STREAM, 0);
		if (fd >= 0) {
			c->attempts++;
			if (connect(fd, (struct sockaddr *)&a, alen) == 0)
				break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= connect_timeout_s) { /* the listener never came */
			fprintf(stderr, "hv-relay: connect %s: %s\n", c->socket, strerror(errno));
			c->rc = 1;
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		if (fd >= 0)
			close(fd);
		usleep(20000);
	}
	c->connected = true;
	char *save = NULL;
	for (char *f = strtok_r(c->files, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		size_t n;
		uint8_t *b = slurp(f, &n);
		if (!b || send_all(c, fd, b, n)) {
			fprintf(stderr, "hv-relay: sending %s to %s failed\n", f, c->socket);
			c->rc = 1;
		}
		free(b);
	}
	/*
	 * Half-close and wait for the listener to close in turn: then it has
	 * read every byte. A sender that exits (or a guest that powers off)
	 * right after its last write can lose what is still in flight.
	 */
	if (shutdown(fd, SHUT_WR) == 0 && !drain_until_eof(fd)) {
		fprintf(stderr, "hv-relay: %s did not close after our end of stream\n", c->socket);
		c->rc = 1;
	}
	close(fd);
	return NULL;
}

static const char *uds_path;
static int uds_fd = -1;

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	size_t max_chunk = 4096;
	bool report = false;
	int i = 1;

	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
		} else if (strcmp(argv[i], "--max-chunk") == 0 && i + 1 < argc) {
			max_chunk = strtoull(argv[++i], NULL, 0);
		} else if (strcmp(argv[i], "--whole-files") == 0) {
			whole_files = true;
		} else if (strcmp(argv[i], "--pause-at") == 0 && i + 1 < argc) {
			char *end;
			pause_at = strtoull(argv[++i], &end, 0);
			pause_ms = *end == ':' ? strtol(end + 1, NULL, 0) : 1000;
		} else if (strcmp(argv[i], "--connect-timeout") == 0 && i + 1 < argc) {
			connect_timeout_s = strtol(argv[++i], NULL, 0);
		} else if (strcmp(argv[i], "--uds") == 0 && i + 1 < argc) {
			struct sockaddr_un ua = { .sun_family = AF_UNIX };
			uds_path = argv[++i];
			snprintf(ua.sun_path, sizeof(ua.sun_path), "%s", uds_path);
			uds_fd = socket(AF_UNIX, SOCK_STREAM, 0);
			if (uds_fd < 0 || bind(uds_fd, (struct sockaddr *)&ua, sizeof(ua)) ||
			    listen(uds_fd, 1)) {
				fprintf(stderr, "hv-relay: --uds %s: %s\n", uds_path, strerror(errno));
				return 2;
			}
		} else if (strcmp(argv[i], "--report") == 0) {
			report = true;
		} else if (strcmp(argv[i], "--pid-file") == 0 && i + 1 < argc) {
			FILE *f = fopen(argv[++i], "w");
			if (f) {
				fprintf(f, "%d\n", (int)getpid());
				fclose(f);
			}
		} else {
			fprintf(stderr, "usage: hv-relay [--seed N] [--max-chunk N] [--whole-files] "
					"[--pause-at BYTES:MS] [--connect-timeout S] [--uds PATH] [--pid-file F] [--report] "
					"TARGET=FILE[,FILE...] ...\n");
			return 2;
		}
	}
	int n = argc - i;
	struct conn *c = calloc((size_t)n + 1, sizeof(*c));
	for (int k = 0; k < n; k++) {
		char *eq = strchr(argv[i + k], '=');
		if (!eq || max_chunk == 0) {
			fprintf(stderr, "hv-relay: bad connection spec '%s'\n", argv[i + k]);
			return 2;
		}
		*eq = '\0';
		struct sockaddr_storage a;
		if (!target_addr(argv[i + k], &a)) {
			fprintf(stderr, "hv-relay: bad target '%s'\n", argv[i + k]);
			return 2;
		}
		c[k].socket = argv[i + k];
		c[k].files = eq + 1;
		c[k].seed = seed * 1000003ull + (uint64_t)k + 1;
		c[k].max_chunk = max_chunk;
		pthread_create(&c[k].th, NULL, relay, &c[k]);
	}
	int rc = 0, connected = 0;
	unsigned attempts = 0;
	for (int k = 0; k < n; k++) {
		pthread_join(c[k].th, NULL);
		rc |= c[k].rc;
		connected += c[k].connected;
		attempts += c[k].attempts;
	}
	free(c);
	if (report)
		printf("hv-relay: connected %d of %d, connect attempts %u\n", connected, n, attempts);
	if (uds_fd >= 0) {
		close(uds_fd);
		unlink(uds_path);
	}
	return rc;
}

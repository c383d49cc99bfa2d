/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test stand-ins for both ends of runtime -> agent ttrpc over hybrid vsock
 * (WIRE-FORMATS §3.1, §5):
 *
 *   ttrpc-peer vmm PATH
 *     a hypervisor: listens on PATH (its hybrid-vsock socket), answers
 *     "CONNECT <port>\n" with "OK 1073741824\n", reads request frames until
 *     the client half-closes, then answers them in reverse order: stream ids
 *     with id % 4 == 3 get NOT_FOUND "container c2 not found", the others an
 *     empty OK status. Serves connections one after another until killed.
 *   ttrpc-peer shim PATH REQUEST N
 *     a runtime: connects, sends "CONNECT 1024\n", reads the OK line, sends
 *     N requests built from the request frame in file REQUEST (stream ids
 *     1, 3, 5, ...; every second one without its metadata, i.e. without
 *     traceparent), half-closes and reads N responses. Exit 0 if all came.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HDR 10

static int full_write(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 1: read all n bytes; 0: clean EOF before any byte; -1: error or short. */
static int full_read(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return got ? -1 : 0;
		if (r < 0)
			return -1;
		got += (size_t)r;
	}
	return 1;
}

static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		if (full_read(fd, buf + n, 1) != 1)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (int)n;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void sockaddr_for(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
}

static void serve(int fd)
{
	char line[64];
	uint32_t ids[4096];
	size_t n = 0;
	uint8_t h[HDR];

	if (read_line(fd, line, sizeof(line)) < 0 || strncmp(line, "CONNECT ", 8) != 0)
		return;
	if (full_write(fd, "OK 1073741824\n", 14))
		return;
	while (n < 4096 && full_read(fd, h, HDR) == 1) {
		uint32_t len = be32(h);
		uint8_t *payload = malloc(len ? len : 1);
		if (!payload || full_read(fd, payload, len) != 1) {
			free(payload);
			return;
		}
		free(payload);
		if (h[8] == 1)
			ids[n++] = be32(h + 4);
	}
	static const char msg[] = "container c2 not found";
	while (n--) {
		uint8_t f[HDR + 64];
		size_t plen;
		if (ids[n] % 4 == 3) {
			uint8_t *q = f + HDR;
			q[0] = 0x0a; /* status */
			q[1] = (uint8_t)(4 + sizeof(msg) - 1);
			q[2] = 0x08; /* code */
			q[3] = 5;
			q[4] = 0x12; /* message */
			q[5] = (uint8_t)(sizeof(msg) - 1);
			memcpy(q + 6, msg, sizeof(msg) - 1);
			plen = 6 + sizeof(msg) - 1;
		} else {
			f[HDR] = 0x0a;
			f[HDR + 1] = 0x00;
			plen = 2;
		}
		put32(f, (uint32_t)plen);
		put32(f + 4, ids[n]);
		f[8] = 2;
		f[9] = 0;
		if (full_write(fd, f, HDR + plen))
			return;
	}
}

static int vmm(const char *path)
{
	struct sockaddr_un a;
	sockaddr_for(path, &a);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 16)) {
		fprintf(stderr, "ttrpc-peer: %s: %s\n", path, strerror(errno));
		return 2;
	}
	for (;;) {
		int fd = accept(l, NULL, NULL);
		if (fd < 0)
			continue;
		serve(fd);
		close(fd);
	}
}

/*
 * The request frame of the vector, with stream id id; without its
 * metadata (field 5, the last one) when strip is set.
 */
static size_t request(const uint8_t *v, size_t vn, uint32_t id, int strip, uint8_t *out)
{
	uint32_t len = be32(v);
	memcpy(out, v, HDR + len);
	if (strip) {
		/* find field 5 (tag 0x2a) walking the top-level fields */
		size_t at = HDR;
		while (at < HDR + len) {
			uint8_t tag = out[at];
			if (tag == 0x2a) {
				len = (uint32_t)(at - HDR);
				break;
			}
			if ((tag & 7) == 0) { /* varint */
				at++;
				while (out[at] & 0x80)
					at++;
				at++;
			} else { /* length-delimited, lengths < 128 in the vector */
				at += 2 + out[at + 1];
			}
		}
		put32(out, len);
	}
	put32(out + 4, id);
	(void)vn;
	return HDR + len;
}

static int shim(const char *path, const char *file, int n)
{
	FILE *f = fopen(file, "rb");
	uint8_t v[4096], buf[4096];
	size_t vn = f ? fread(v, 1, sizeof(v), f) : 0;
	if (f)
		fclose(f);
	if (vn < HDR || be32(v) + HDR > vn) {
		fprintf(stderr, "ttrpc-peer: %s: not a ttrpc frame\n", file);
		return 2;
	}
	struct sockaddr_un a;
	sockaddr_for(path, &a);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	char line[64];
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    full_write(fd, "CONNECT 1024\n", 13) || read_line(fd, line, sizeof(line)) < 0 ||
	    strncmp(line, "OK ", 3) != 0) {
		fprintf(stderr, "ttrpc-peer: handshake with %s failed\n", path);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		size_t len = request(v, vn, (uint32_t)(2 * i + 1), i % 2, buf);
		if (full_write(fd, buf, len))
			return 1;
	}
	shutdown(fd, SHUT_WR);
	int got = 0;
	uint8_t h[HDR];
	while (full_read(fd, h, HDR) == 1) {
		uint32_t len = be32(h);
		if (len > sizeof(buf) || full_read(fd, buf, len) != 1)
			break;
		got += h[8] == 2;
	}
	close(fd);
	printf("%d responses\n", got);
	return got == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "vmm") == 0)
		return vmm(argv[2]);
	if (argc == 5 && strcmp(argv[1], "shim") == 0)
		return shim(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: ttrpc-peer vmm PATH | shim PATH REQUEST N\n");
	return 2;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test stand-ins for both ends of runtime -> agent ttrpc over hybrid vsock
 * and standard vsock (WIRE-FORMATS §3.1, §4, §5):
 *
 *   ttrpc-peer vmm PATH [ok-payload]
 *     a hypervisor: listens on PATH (its hybrid-vsock socket), answers
 *     "CONNECT <port>\n" with "OK 1073741824\n", reads request frames until
 *     the client half-closes, then answers them in reverse order: stream ids
 *     with id % 4 == 3 get NOT_FOUND "container c2 not found", the others an
 *     empty OK status (with ok-payload: and a 2-byte payload, "ok"). Prints
 *     each answer's stream id, code and payload size. Serves connections one
 *     after another until killed.
 *   ttrpc-peer shim PATH REQUEST N
 *     a runtime: connects, sends "CONNECT 1024\n", reads the OK line, sends
 *     N requests built from the request frame in file REQUEST (stream ids
 *     1, 3, 5, ...; every second one without its metadata, i.e. without
 *     traceparent), half-closes and reads N responses. Prints each request's
 *     stream id and whether it carries a traceparent. Exit 0 if all came.
 *   ttrpc-peer shim vsock:CID:PORT REQUEST N
 *     the same over AF_VSOCK, as the runtime dials a QEMU guest's agent:
 *     no handshake; connects again every 0.2 s while the guest refuses or
 *     does not answer (the agent is not listening yet). Prints each failed
 *     attempt ("attempt N: ERROR"; "Connection reset by peer": the guest
 *     answered), "connected after N attempts" and the bytes sent and received.
 *   ttrpc-peer agent vsock:PORT [SPANS]
 *     the agent: listens on AF_VSOCK port PORT, serves one connection as
 *     vmm does, without the handshake, its OK answers carrying a 2-byte
 *     payload ("ok"); exits 0 once it has answered. With SPANS, it also
 *     writes there, framed as the agent sends them (JSON era), its RPC span
 *     of each request that carried no traceparent, as the agent makes them
 *     without runtime tracing: a root of a new trace named after the method
 *     in snake case, from the request's arrival to its answer (this clock).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

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

/* Requests without traceparent, for the agent's spans. */
struct untraced {
	char method[64];
	struct timespec start;
};
static struct untraced untraced[64];
static size_t n_untraced;
static size_t n_requests; /* served so far */
static int print_answers; /* vmm */

static void note_request(const uint8_t *p, uint32_t len)
{
	/* Request: field 1 service, field 2 method (strings, short). */
	if (n_untraced == 64 || len < 4 || p[0] != 0x0a || 2u + p[1] + 2 > len ||
	    p[2 + p[1]] != 0x12 || memmem(p, len, "traceparent", 11))
		return;
	size_t ml = p[3 + p[1]];
	if (ml >= sizeof(untraced[0].method) || 4u + p[1] + ml > len)
		return;
	memcpy(untraced[n_untraced].method, p + 4 + p[1], ml);
	untraced[n_untraced].method[ml] = 0;
	clock_gettime(CLOCK_REALTIME, &untraced[n_untraced++].start);
}

/* CreateContainer -> create_container */
static void snake(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; in[i] && o + 2 < cap; i++) {
		if (in[i] >= 'A' && in[i] <= 'Z') {
			if (i)
				out[o++] = '_';
			out[o++] = (char)(in[i] - 'A' + 'a');
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = 0;
}

static uint64_t rnd64(void)
{
	static uint64_t x;
	if (!x) {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		x = (uint64_t)t.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	}
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x | 1;
}

static int write_spans(const char *path)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	struct timespec end;
	clock_gettime(CLOCK_REALTIME, &end);
	for (size_t i = 0; i < n_untraced; i++) {
		char name[80], json[1024];
		snake(untraced[i].method, name, sizeof(name));
		/* A u128 trace id below 2^64 keeps the decimal simple; still not the sandbox's. */
		int n = snprintf(json, sizeof(json),
			"{\"span_context\":{\"trace_id\":%llu,\"span_id\":%llu,\"trace_flags\":1,"
			"\"is_remote\":false,\"trace_state\":null},\"parent_span_id\":0,"
			"\"span_kind\":\"Server\",\"name\":\"%s\","
			"\"start_time\":{\"secs_since_epoch\":%lld,\"nanos_since_epoch\":%ld},"
			"\"end_time\":{\"secs_since_epoch\":%lld,\"nanos_since_epoch\":%ld},"
			"\"attributes\":{\"map\":{\"mod\":{\"String\":\"rpc.rs\"}},"
			"\"evict_list\":[\"mod\"],\"max_len\":128,\"dropped_count\":0},"
			"\"events\":{\"queue\":null,\"max_len\":128,\"dropped_count\":0},"
			"\"links\":{\"queue\":null,\"max_len\":128,\"dropped_count\":0},"
			"\"status_code\":\"Unset\",\"status_message\":\"\","
			"\"resource\":{\"attrs\":{\"service.name\":{\"String\":\"kata-agent\"}}}}",
			(unsigned long long)rnd64(), (unsigned long long)rnd64(), name,
			(long long)untraced[i].start.tv_sec, untraced[i].start.tv_nsec,
			(long long)end.tv_sec, end.tv_nsec);
		uint8_t len[8] = { 0, 0, 0, 0 };
		put32(len + 4, (uint32_t)n);
		if (fwrite(len, 1, 8, f) != 8 || fwrite(json, 1, (size_t)n, f) != (size_t)n) {
			fclose(f);
			return -1;
		}
	}
	return fclose(f);
}

/* Answers the requests of one connection; -1 if it broke off. */
static int serve(int fd, int handshake, int ok_payload)
{
	char line[64];
	uint32_t ids[4096];
	size_t n = 0;
	uint8_t h[HDR];

	if (handshake && (read_line(fd, line, sizeof(line)) < 0 ||
			  strncmp(line, "CONNECT ", 8) != 0 || full_write(fd, "OK 1073741824\n", 14)))
		return -1;
	while (n < 4096 && full_read(fd, h, HDR) == 1) {
		uint32_t len = be32(h);
		uint8_t *payload = malloc(len ? len : 1);
		if (!payload || full_read(fd, payload, len) != 1) {
			free(payload);
			return -1;
		}
		if (h[8] == 1) {
			note_request(payload, len);
			n_requests++;
		}
		free(payload);
		if (h[8] == 1)
			ids[n++] = be32(h + 4);
	}
	static const char msg[] = "container c2 not found";
	while (n--) {
		uint8_t f[HDR + 64];
		size_t plen, payload = 0;
		int code = 0;
		if (ids[n] % 4 == 3) {
			code = 5;
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
			if (ok_payload) { /* Response.payload */
				memcpy(f + HDR + 2, "\x12\x02ok", 4);
				plen += 4;
				payload = 2;
			}
		}
		if (print_answers)
			printf("answered stream %u: code %d, payload %zu bytes\n", ids[n], code,
			       payload);
		put32(f, (uint32_t)plen);
		put32(f + 4, ids[n]);
		f[8] = 2;
		f[9] = 0;
		if (full_write(fd, f, HDR + plen))
			return -1;
	}
	return 0;
}

static int vmm(const char *path, int ok_payload)
{
	struct sockaddr_un a;
	sockaddr_for(path, &a);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 16)) {
		fprintf(stderr, "ttrpc-peer: %s: %s\n", path, strerror(errno));
		return 2;
	}
	print_answers = 1;
	for (;;) {
		int fd = accept(l, NULL, NULL);
		if (fd < 0)
			continue;
		serve(fd, 1, ok_payload);
		close(fd);
	}
}

static int agent(unsigned port, const char *spans)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				 .svm_port = port };
	int l = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1)) {
		fprintf(stderr, "ttrpc-peer: vsock port %u: %s\n", port, strerror(errno));
		return 2;
	}
	printf("agent: listening on vsock port %u\n", port);
	fflush(stdout);
	/*
	 * A connect the runtime gave up on (it retries while the guest boots)
	 * may still be accepted here: it ends without a request, and the
	 * runtime's next attempt is the one to serve.
	 */
	int rc;
	do {
		int fd = accept(l, NULL, NULL);
		if (fd < 0) {
			fprintf(stderr, "ttrpc-peer: accept: %s\n", strerror(errno));
			return 1;
		}
		rc = serve(fd, 0, 1);
		close(fd);
	} while (rc == 0 && n_requests == 0);
	close(l);
	printf("agent: %s\n", rc ? "connection broke off" : "answered");
	if (spans && write_spans(spans)) {
		fprintf(stderr, "ttrpc-peer: %s: %s\n", spans, strerror(errno));
		return 1;
	}
	return rc ? 1 : 0;
}

/*
 * The guest's agent listens once it is up: until then (no such CID yet,
 * refused, no answer) connect again; the caller bounds the time.
 */
static int vsock_dial(unsigned cid, unsigned port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	for (unsigned tries = 1;; tries++) {
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			printf("connected after %u attempts\n", tries);
			return fd;
		}
		printf("attempt %u: %s\n", tries, strerror(errno));
		close(fd);
		nanosleep(&(struct timespec){ 0, 200000000L }, NULL);
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
	unsigned cid, port;
	int fd;
	if (sscanf(path, "vsock:%u:%u", &cid, &port) == 2) {
		fd = vsock_dial(cid, port);
		if (fd < 0) {
			fprintf(stderr, "ttrpc-peer: %s: %s\n", path, strerror(errno));
			return 1;
		}
	} else {
		struct sockaddr_un a;
		sockaddr_for(path, &a);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		char line[64];
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
		    full_write(fd, "CONNECT 1024\n", 13) || read_line(fd, line, sizeof(line)) < 0 ||
		    strncmp(line, "OK ", 3) != 0) {
			fprintf(stderr, "ttrpc-peer: handshake with %s failed\n", path);
			return 1;
		}
	}
	size_t sent = 0, received = 0;
	for (int i = 0; i < n; i++) {
		size_t len = request(v, vn, (uint32_t)(2 * i + 1), i % 2, buf);
		if (full_write(fd, buf, len))
			return 1;
		printf("stream %d: %s\n", 2 * i + 1,
		       memmem(buf, len, "traceparent", 11) ? "traceparent" : "no traceparent");
		sent += len;
	}
	shutdown(fd, SHUT_WR);
	int got = 0;
	uint8_t h[HDR];
	while (full_read(fd, h, HDR) == 1) {
		uint32_t len = be32(h);
		if (len > sizeof(buf) || full_read(fd, buf, len) != 1)
			break;
		got += h[8] == 2;
		received += HDR + len;
	}
	close(fd);
	printf("%d responses\nsent %zu bytes, received %zu bytes\n", got, sent, received);
	return got == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* lines survive a kill by the caller's timeout */
	if ((argc == 3 || (argc == 4 && strcmp(argv[3], "ok-payload") == 0)) &&
	    strcmp(argv[1], "vmm") == 0)
		return vmm(argv[2], argc == 4);
	if (argc == 5 && strcmp(argv[1], "shim") == 0)
		return shim(argv[2], argv[3], atoi(argv[4]));
	unsigned port;
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "agent") == 0 &&
	    sscanf(argv[2], "vsock:%u", &port) == 1)
		return agent(port, argc == 4 ? argv[3] : NULL);
	fprintf(stderr, "usage: ttrpc-peer vmm PATH [ok-payload] | shim PATH|vsock:CID:PORT REQUEST N | "
			"agent vsock:PORT [SPANS]\n");
	return 2;
}

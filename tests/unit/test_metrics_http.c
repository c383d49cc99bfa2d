/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metrics server (daemon/metrics_http.c) on a real socket, spoken to
 * byte by byte: /metrics, /healthz and /readyz with their status codes and
 * content type, HEAD, every refusal with its status and counter, garbage
 * and a half request, more connections than it holds, and a connection
 * that never finishes its request beside one that scrapes.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <criterion/criterion.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/stats.h"
#include "daemon/metrics_addr.h"
#include "daemon/metrics_http.h"

static struct kt_metrics_http *srv;
static unsigned port;

static void start(void)
{
	memset(&kt_stats, 0, sizeof(kt_stats));
	kt_metrics_set_state(KT_RUN_STARTING);
	kt_metrics_loop_ended();
	struct kt_metrics_addr a;
	char why[256], bound[128];
	cr_assert_eq(kt_metrics_addr_parse("127.0.0.1:0", &a, why, sizeof(why)), 0);
	int fd = kt_metrics_listen(&a, bound, sizeof(bound), why, sizeof(why));
	cr_assert_geq(fd, 0, "%s", why);
	port = (unsigned)atoi(strrchr(bound, ':') + 1);
	srv = kt_metrics_http_start(fd);
	cr_assert_not_null(srv);
}

static void stop(void)
{
	kt_metrics_http_stop(srv);
	kt_metrics_set_state(KT_RUN_STARTING);
	kt_metrics_loop_ended();
}

TestSuite(metrics_http, .init = start, .fini = stop);

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return; /* the server may close first: what it answered is read next */
		s += w;
		n -= (size_t)w;
	}
}

/* Everything the server sends until it closes (or 5 s pass); malloc'ed. */
static char *read_all(int fd)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	uint64_t until = kt_mono_ns() + 5000000000ull;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (kt_mono_ns() >= until || poll(&p, 1, 100) < 0)
			break;
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (len + 1 == cap)
			buf = realloc(buf, cap *= 2);
		ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	return buf;
}

/* The raw request, the raw answer (the connection is closed after it). */
static char *exchange(const char *req)
{
	int fd = dial();
	send_all(fd, req, strlen(req));
	char *resp = read_all(fd);
	close(fd);
	return resp;
}

static int status_of(const char *resp)
{
	int code = 0;
	return sscanf(resp, "HTTP/1.%*d %d", &code) == 1 ? code : 0;
}

static const char *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");
	return b ? b + 4 : "";
}

static char *get(const char *path)
{
	char req[512];
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	return exchange(req);
}

Test(metrics_http, metrics_in_the_text_format)
{
	kt_stats.spans_exported = 19;
	char *r = get("/metrics");
	cr_expect_eq(status_of(r), 200, "%s", r);
	cr_expect_not_null(strstr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
			   "%s", r);
	cr_expect_not_null(strstr(body_of(r), "\nkatatrace_spans_exported_total 19\n"));
	cr_expect_eq(strncmp(body_of(r), "# HELP katatrace_", 17), 0);
	free(r);
	cr_expect_eq(kt_stats.http_requests[KT_HTTP_METRICS], 1);
}

Test(metrics_http, head_has_no_body)
{
	char *r = exchange("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_expect_eq(status_of(r), 200, "%s", r);
	cr_expect_str_eq(body_of(r), "");
	free(r);
}

Test(metrics_http, readyz_before_while_and_after)
{
	char *r = get("/readyz");
	cr_expect_eq(status_of(r), 503, "starting: %s", r);
	cr_expect_str_eq(body_of(r), "starting\n");
	free(r);
	kt_metrics_set_state(KT_RUN_READY);
	r = get("/readyz");
	cr_expect_eq(status_of(r), 200, "%s", r);
	cr_expect_str_eq(body_of(r), "ready\n");
	free(r);
	kt_metrics_set_state(KT_RUN_STOPPING);
	r = get("/readyz");
	cr_expect_eq(status_of(r), 503, "stopping: %s", r);
	cr_expect_str_eq(body_of(r), "shutting down\n");
	free(r);
	cr_expect_eq(kt_stats.http_requests[KT_HTTP_READYZ], 3);
}

Test(metrics_http, healthz_while_the_loop_ticks)
{
	char *r = get("/healthz");
	cr_expect_eq(status_of(r), 503, "no loop: %s", r);
	free(r);
	kt_metrics_heartbeat(kt_mono_ns());
	r = get("/healthz");
	cr_expect_eq(status_of(r), 200, "%s", r);
	cr_expect_str_eq(body_of(r), "ok\n");
	free(r);
	kt_metrics_heartbeat(kt_mono_ns() - KT_HEALTH_STALE_NS - 1000000000ull);
	r = get("/healthz");
	cr_expect_eq(status_of(r), 503, "a loop stuck for 11 s: %s", r);
	free(r);
}

Test(metrics_http, refusals_each_with_its_status_and_counter)
{
	char *r = get("/nothing");
	cr_expect_eq(status_of(r), 404, "%s", r);
	free(r);
	r = get("/metrics/");
	cr_expect_eq(status_of(r), 404, "%s", r);
	free(r);
	r = exchange("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
	cr_expect_eq(status_of(r), 405, "%s", r);
	cr_expect_not_null(strstr(r, "\r\nAllow: GET, HEAD\r\n"), "%s", r);
	free(r);
	r = exchange("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_expect_eq(status_of(r), 405, "%s", r);
	free(r);
	r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
	cr_expect_eq(status_of(r), 400, "%s", r);
	free(r);
	r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5\r\nhello\r\n0\r\n\r\n");
	cr_expect_eq(status_of(r), 400, "%s", r);
	free(r);
	cr_expect_eq(kt_stats.http_bad_requests[KT_HTTP_BAD_NOT_FOUND], 2);
	cr_expect_eq(kt_stats.http_bad_requests[KT_HTTP_BAD_METHOD], 2);
	cr_expect_eq(kt_stats.http_bad_requests[KT_HTTP_BAD_BODY], 2);
	cr_expect_eq(kt_stats.http_requests[KT_HTTP_METRICS], 0, "none of them was served");
}

/* Waits (up to 5 s) for a counter to reach n: connections are counted as they close. */
static bool reaches(const uint64_t *c, uint64_t n)
{
	for (int i = 0; i < 500 && __atomic_load_n(c, __ATOMIC_RELAXED) < n; i++)
		usleep(10000);
	return __atomic_load_n(c, __ATOMIC_RELAXED) == n;
}

Test(metrics_http, garbage_oversize_and_empty_connections_are_counted_unanswered)
{
	const uint64_t *unanswered = &kt_stats.http_bad_requests[KT_HTTP_BAD_UNANSWERED];
	char *r = exchange("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n");
	free(r);
	r = exchange("GET /metrics HTTP/9.9 and more\r\n\r\n");
	free(r);
	/* 64 KiB of headers: over what a connection may use */
	size_t big = 64 << 10;
	char *req = malloc(big + 64);
	int n = snprintf(req, big + 64, "GET /metrics HTTP/1.1\r\nX-Big: ");
	memset(req + n, 'a', big);
	strcpy(req + n + big, "\r\n\r\n");
	r = exchange(req);
	cr_expect(status_of(r) == 0 || status_of(r) >= 400, "%s", r);
	free(r);
	free(req);
	close(dial()); /* connected, said nothing */
	cr_expect(reaches(unanswered, 4), "unanswered: %llu",
		  (unsigned long long)*unanswered);
	/* and the server still serves */
	r = get("/metrics");
	cr_expect_eq(status_of(r), 200);
	free(r);
}

Test(metrics_http, more_connections_than_it_holds_and_a_slow_one)
{
	/* 100 connections, each with half a request: the server holds what it may */
	int fds[100];
	for (int i = 0; i < 100; i++) {
		fds[i] = dial();
		send_all(fds[i], "GET /metr", 9);
	}
	for (int i = 0; i < 100; i++)
		close(fds[i]);
	/* they go as the server sees them closed: then it serves again */
	kt_metrics_set_state(KT_RUN_READY);
	int code = 0;
	for (int i = 0; i < 50 && code != 200; i++) {
		char *r = get("/readyz");
		code = status_of(r);
		free(r);
		if (code != 200)
			usleep(100000);
	}
	cr_expect_eq(code, 200, "serving again after the burst");
	/* one that never finishes, beside a scrape */
	int slow = dial();
	send_all(slow, "GET /metrics HTTP/1.1\r\nHost", 27);
	uint64_t t0 = kt_mono_ns();
	char *r = get("/readyz");
	cr_expect_eq(status_of(r), 200, "%s", r);
	cr_expect_lt(kt_mono_ns() - t0, 2000000000ull, "not held up by the slow connection");
	free(r);
	close(slow);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/HTTP exporter against a small HTTP/1.1 server thread on 127.0.0.1:
 * request line, headers and body as sent, keep-alive, result classification,
 * and endpoint resolution from the environment.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "exporters/exporter.h"
#include "exporters/otlp_build.h"
#include "span_fixture.h"

/* ------------------------------------------------------------------ server */

#define MAX_REQS 4

struct http_req {
	char method[16];
	char path[256];
	char headers[4096]; /* raw header block, lines joined with \n */
	uint8_t *body;
	size_t body_len;
};

struct server {
	int lfd;
	int port;
	int n_expected; /* requests to serve before exiting */
	int status;	/* status of every response */
	const uint8_t *resp_body;
	size_t resp_len;
	bool stall; /* read requests but never answer */
	int n_conns;
	int n_reqs;
	struct http_req reqs[MAX_REQS];
	pthread_t th;
};

static struct server srv;

static bool wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1;
}

/* Reads one request from fd; false on EOF or error. */
static bool read_request(int fd, struct http_req *r)
{
	char buf[8192];
	size_t len = 0;
	char *end = NULL;
	while (!end) {
		if (len == sizeof(buf) - 1 || !wait_readable(fd, 5000))
			return false;
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	*end = '\0';
	char *line_end = strstr(buf, "\r\n");
	if (!line_end)
		return false;
	*line_end = '\0';
	if (sscanf(buf, "%15s %255s", r->method, r->path) != 2)
		return false;
	/* Headers, one per line, CRs dropped. */
	size_t o = 0;
	for (char *p = line_end + 2; *p && o < sizeof(r->headers) - 1; p++)
		if (*p != '\r')
			r->headers[o++] = *p;
	r->headers[o] = '\0';
	size_t clen = 0;
	for (char *h = r->headers; h && *h;) {
		if (strncasecmp(h, "content-length:", 15) == 0)
			clen = strtoul(h + 15, NULL, 10);
		h = strchr(h, '\n');
		h = h ? h + 1 : NULL;
	}
	r->body = malloc(clen ? clen : 1);
	cr_assert_not_null(r->body);
	size_t have = len - (size_t)((end + 4) - buf);
	if (have > clen)
		have = clen;
	memcpy(r->body, end + 4, have);
	while (have < clen) {
		if (!wait_readable(fd, 5000))
			return false;
		ssize_t n = read(fd, r->body + have, clen - have);
		if (n <= 0)
			return false;
		have += (size_t)n;
	}
	r->body_len = clen;
	return true;
}

static void respond(int fd)
{
	char head[256];
	const char *reason = srv.status == 200 ? "OK" : "Error";
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/x-protobuf\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 srv.status, reason, srv.resp_len);
	cr_assert_eq(write(fd, head, (size_t)n), n);
	if (srv.resp_len)
		cr_assert_eq(write(fd, srv.resp_body, srv.resp_len), (ssize_t)srv.resp_len);
}

static void *serve(void *arg)
{
	(void)arg;
	int cfd = -1;
	while (srv.n_reqs < srv.n_expected) {
		if (cfd < 0) {
			if (!wait_readable(srv.lfd, 5000))
				break;
			cfd = accept(srv.lfd, NULL, NULL);
			if (cfd < 0)
				break;
			srv.n_conns++;
		}
		if (!read_request(cfd, &srv.reqs[srv.n_reqs])) {
			close(cfd);
			cfd = -1;
			continue;
		}
		srv.n_reqs++;
		if (srv.stall) {
			/* Hold the connection until the client gives up. */
			wait_readable(cfd, 5000);
			continue;
		}
		respond(cfd);
	}
	if (cfd >= 0)
		close(cfd);
	return NULL;
}

static int listen_any(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 8), 0);
	return fd;
}

static int port_of(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

static void server_start(int n_expected, int status)
{
	srv.lfd = listen_any();
	srv.port = port_of(srv.lfd);
	srv.n_expected = n_expected;
	srv.status = status;
	cr_assert_eq(pthread_create(&srv.th, NULL, serve, NULL), 0);
}

static void server_join(void)
{
	pthread_join(srv.th, NULL);
	close(srv.lfd);
	srv.lfd = -1;
}

/* ------------------------------------------------------------------ fixture */

static struct kt_span_record *head;
static struct kt_arena arena;
static struct kt_exporter *exp_;
static char url[128];

static void setup(void)
{
	memset(&srv, 0, sizeof(srv));
	srv.lfd = -1;
	head = NULL;
	exp_ = NULL;
	kt_arena_init(&arena, 0);
	unsetenv("OTEL_EXPORTER_OTLP_HEADERS");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS");
	unsetenv("OTEL_EXPORTER_OTLP_TIMEOUT");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT");
	unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
}

static void teardown(void)
{
	if (exp_)
		exp_->destroy(exp_);
	for (int i = 0; i < MAX_REQS; i++)
		free(srv.reqs[i].body);
	if (srv.lfd >= 0)
		close(srv.lfd);
	kt_span_record_free_list(head);
	kt_arena_free(&arena);
}

TestSuite(otlp_http, .init = setup, .fini = teardown, .timeout = 30);

static struct kt_exporter *exporter(const char *headers, long timeout_ms)
{
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces", srv.port);
	struct kt_otlp_http_cfg c = { .url = url, .headers = headers, .timeout_ms = timeout_ms };
	exp_ = kt_exporter_otlp_http_new(&c);
	cr_assert_not_null(exp_);
	return exp_;
}

static kt_otlp_request *request(void)
{
	struct kt_span_record *r = fx_record("CreateContainer");
	r->span.attrs = FX_LIST(&r->arena, fx_kv_str(&r->arena, "mod", "rpc.rs"));
	r->origin = fx_origin("hybrid-vsock", "sb1");
	head = r;
	static const struct kt_resource_cfg cfg = { .service_name = "kata-agent" };
	kt_otlp_request *req = kt_otlp_build(head, &cfg, &arena);
	cr_assert_not_null(req);
	return req;
}

/* The value of header name in r, or NULL; every occurrence must agree. */
static const char *header(const struct http_req *r, const char *name, char *buf, size_t n)
{
	size_t nl = strlen(name);
	const char *found = NULL;
	for (const char *h = r->headers; h && *h;) {
		const char *eol = strchr(h, '\n');
		size_t len = eol ? (size_t)(eol - h) : strlen(h);
		if (len > nl && strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
			cr_assert_null(found, "header %s sent twice", name);
			const char *v = h + nl + 1;
			while (*v == ' ')
				v++;
			size_t vl = len - (size_t)(v - h);
			cr_assert(vl < n);
			memcpy(buf, v, vl);
			buf[vl] = '\0';
			found = buf;
		}
		h = eol ? eol + 1 : NULL;
	}
	return found;
}

/* ------------------------------------------------------------------ tests */

Test(otlp_http, post_protobuf_with_headers)
{
	server_start(1, 200);
	struct kt_exporter *e = exporter(" x-api-key = s%3Dcr%2Ct ,Tenant=a%20b,bad line,=novalue", 5000);
	kt_otlp_request *req = request();
	cr_assert_eq(e->export(e, req, 1), KT_EXPORT_OK);
	server_join();

	cr_assert_eq(srv.n_reqs, 1);
	struct http_req *r = &srv.reqs[0];
	cr_assert_str_eq(r->method, "POST");
	cr_assert_str_eq(r->path, "/v1/traces");
	char v[256];
	cr_assert_str_eq(header(r, "Content-Type", v, sizeof(v)), "application/x-protobuf");
	cr_assert_str_eq(header(r, "x-api-key", v, sizeof(v)), "s=cr,t");
	cr_assert_str_eq(header(r, "Tenant", v, sizeof(v)), "a b");
	cr_assert_null(header(r, "Expect", v, sizeof(v)));
	cr_assert_null(header(r, "bad line", v, sizeof(v)));

	/* The body is the request, byte for byte. */
	size_t n = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
		req);
	uint8_t *want = malloc(n);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(req, want);
	cr_assert_eq(r->body_len, n);
	cr_assert(memcmp(r->body, want, n) == 0);
	free(want);
	kt_otlp_request *got = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, r->body_len, r->body);
	cr_assert_not_null(got);
	cr_assert_eq(got->n_resource_spans, 1);
	const Opentelemetry__Proto__Trace__V1__Span *s = got->resource_spans[0]->scope_spans[0]->spans[0];
	cr_assert_eq(s->name.len, strlen("CreateContainer"));
	cr_assert(memcmp(s->name.data, "CreateContainer", s->name.len) == 0);
	cr_assert_eq(got->resource_spans[0]->resource->n_attributes, 3);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(got, NULL);
}

Test(otlp_http, headers_from_environment_and_keep_alive)
{
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "from-generic=1", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "from-traces=2", 1);
	server_start(2, 200);
	struct kt_exporter *e = exporter(NULL, 0);
	kt_otlp_request *req = request();
	cr_assert_eq(e->export(e, req, 1), KT_EXPORT_OK);
	cr_assert_eq(e->export(e, req, 1), KT_EXPORT_OK);
	server_join();
	cr_assert_eq(srv.n_reqs, 2);
	cr_assert_eq(srv.n_conns, 1, "connection not reused");
	char v[64];
	cr_assert_str_eq(header(&srv.reqs[1], "from-traces", v, sizeof(v)), "2");
	cr_assert_null(header(&srv.reqs[1], "from-generic", v, sizeof(v)));
}

Test(otlp_http, partial_success_is_ok_and_logged, .init = cr_redirect_stderr)
{
	setup();
	/* ExportTraceServiceResponse{partial_success{rejected_spans: 2, error_message: "too old"}} */
	static const uint8_t resp[] = { 0x0a, 0x0b, 0x08, 0x02, 0x12, 0x07, 't', 'o', 'o', ' ', 'o', 'l', 'd' };
	srv.resp_body = resp;
	srv.resp_len = sizeof(resp);
	server_start(1, 200);
	struct kt_exporter *e = exporter(NULL, 5000);
	cr_assert_eq(e->export(e, request(), 1), KT_EXPORT_OK);
	server_join();
	fflush(stderr);
	char buf[4096] = "";
	FILE *f = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	cr_assert(strstr(buf, "rejected 2 span(s): too old"), "log: %s", buf);
}

Test(otlp_http, status_503_is_retry)
{
	server_start(1, 503);
	struct kt_exporter *e = exporter(NULL, 5000);
	cr_assert_eq(e->export(e, request(), 1), KT_EXPORT_RETRY);
	server_join();
}

Test(otlp_http, status_429_is_retry)
{
	server_start(1, 429);
	struct kt_exporter *e = exporter(NULL, 5000);
	cr_assert_eq(e->export(e, request(), 1), KT_EXPORT_RETRY);
	server_join();
}

Test(otlp_http, status_400_is_fail_and_logged, .init = cr_redirect_stderr)
{
	setup();
	static const uint8_t body[] = "bad payload\n\x01";
	srv.resp_body = body;
	srv.resp_len = sizeof(body) - 1;
	server_start(1, 400);
	struct kt_exporter *e = exporter(NULL, 5000);
	cr_assert_eq(e->export(e, request(), 1), KT_EXPORT_FAIL);
	server_join();
	fflush(stderr);
	char buf[4096] = "";
	size_t n = fread(buf, 1, sizeof(buf) - 1, cr_get_redirected_stderr());
	buf[n] = '\0';
	char want[256];
	snprintf(want, sizeof(want), "POST %s: HTTP 400: bad payload .", url);
	cr_assert(strstr(buf, want), "log: %s", buf);
}

Test(otlp_http, closed_port_is_retry)
{
	int fd = listen_any();
	srv.port = port_of(fd);
	close(fd);
	struct kt_exporter *e = exporter(NULL, 2000);
	cr_assert_eq(e->export(e, request(), 1), KT_EXPORT_RETRY);
}

Test(otlp_http, timeout_is_retry)
{
	srv.stall = true;
	server_start(1, 200);
	struct kt_exporter *e = exporter(NULL, 300);
	cr_assert_eq(e->export(e, request(), 1), KT_EXPORT_RETRY);
	server_join();
}

Test(otlp_http, bad_scheme_is_fail)
{
	struct kt_otlp_http_cfg c = { .url = "ftp://127.0.0.1:1/v1/traces", .timeout_ms = 1000 };
	exp_ = kt_exporter_otlp_http_new(&c);
	cr_assert_not_null(exp_);
	cr_assert_eq(exp_->export(exp_, request(), 1), KT_EXPORT_FAIL);
}

Test(otlp_http, header_injection_refused)
{
	server_start(1, 200);
	struct kt_exporter *e = exporter("a=1%0d%0aInjected: yes,b=2,c=x%00y,d%0a=1", 5000);
	cr_assert_eq(e->export(e, request(), 1), KT_EXPORT_OK);
	server_join();
	char v[64];
	cr_assert_null(header(&srv.reqs[0], "Injected", v, sizeof(v)));
	cr_assert_null(header(&srv.reqs[0], "a", v, sizeof(v)));
	cr_assert_null(header(&srv.reqs[0], "c", v, sizeof(v)));
	cr_assert_null(header(&srv.reqs[0], "d", v, sizeof(v)));
	cr_assert_str_eq(header(&srv.reqs[0], "b", v, sizeof(v)), "2");
}

/* ------------------------------------------------------------------ URLs */

static void assert_url(const char *explicit_endpoint, const char *want)
{
	char *got = kt_otlp_http_resolve_url(explicit_endpoint);
	if (!want) {
		cr_assert_null(got, "got %s", got);
		return;
	}
	cr_assert_not_null(got);
	cr_assert_str_eq(got, want);
	free(got);
}

Test(otlp_http, resolve_url_precedence)
{
	assert_url(NULL, NULL);
	assert_url("", NULL);

	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://gen:4318", 1);
	assert_url(NULL, "http://gen:4318/v1/traces");
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://gen:4318/prefix/", 1);
	assert_url(NULL, "http://gen:4318/prefix/v1/traces");

	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://tr:4318/custom", 1);
	assert_url(NULL, "http://tr:4318/custom");
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://tr:4318", 1);
	assert_url(NULL, "http://tr:4318"); /* used as is */

	assert_url("http://flag:4318", "http://flag:4318/v1/traces");
	assert_url("http://flag:4318/", "http://flag:4318/v1/traces");
	assert_url("https://flag/x/v1/traces", "https://flag/x/v1/traces");
	assert_url("flag:4318", "flag:4318/v1/traces");

	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "", 1);
	assert_url(NULL, "http://gen:4318/prefix/v1/traces");
}

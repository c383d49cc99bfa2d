/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/HTTP exporter against a small HTTP/1.1 server thread on 127.0.0.1:
 * request line, headers and body as sent (protobuf, and OTLP/JSON with
 * http/json), keep-alive, result classification, the collector's JSON
 * answers, and endpoint resolution from the environment.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <json-c/json.h>

#include "base/diag.h"
#include "exporters/exporter.h"
#include "exporters/otlp_build.h"
#include "exporters/otlp_common.h"
#include "exporters/otlp_curl.h"
#include "exporters/otlp_json.h"
#include "exporters/otlp_logs_build.h"
#include "model/log_record.h"
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
	const char *resp_type; /* Content-Type of the responses; NULL: application/x-protobuf */
	bool stall; /* read requests but never answer */
	const char *extra_header; /* one more "Name: value" line of every response, or NULL */
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
	char head[512];
	const char *reason = srv.status == 200 ? "OK" : "Error";
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s%s"
			 "Content-Length: %zu\r\n\r\n",
			 srv.status, reason, srv.resp_type ? srv.resp_type : "application/x-protobuf",
			 srv.extra_header ? srv.extra_header : "", srv.extra_header ? "\r\n" : "",
			 srv.resp_len);
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
static struct kt_log_record *logs_head;
static struct kt_arena arena;
static struct kt_exporter *exp_;
static char url[128];

static void setup(void)
{
	memset(&srv, 0, sizeof(srv));
	srv.lfd = -1;
	head = NULL;
	logs_head = NULL;
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
	kt_log_record_free_list(logs_head);
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
	cr_expect_str_eq(kt_export_status_noted(), "503", "the status the counters see");
}

/* The collector's Retry-After, in seconds or as a date, noted for the queue's next wait. */
Test(otlp_http, retry_after_noted)
{
	/* One server for the three answers: each export waits for its answer, so
	 * what the next answer is can be set in between. */
	srv.extra_header = "Retry-After: 7";
	server_start(3, 503);
	struct kt_exporter *e = exporter(NULL, 5000);
	kt_otlp_request *req = request();
	kt_export_note_retry_after(0);
	cr_assert_eq(e->export(e, req, 1), KT_EXPORT_RETRY);
	cr_expect_eq(kt_export_retry_after_noted(), 7000);

	char date[64];
	time_t later = time(NULL) + 30;
	strftime(date, sizeof(date), "Retry-After: %a, %d %b %Y %H:%M:%S GMT", gmtime(&later));
	srv.extra_header = date;
	srv.status = 429;
	kt_export_note_retry_after(0);
	cr_assert_eq(e->export(e, req, 1), KT_EXPORT_RETRY);
	uint64_t ms = kt_export_retry_after_noted();
	cr_expect(ms >= 28000 && ms <= 30000, "a date 30 s ahead: %llu ms", (unsigned long long)ms);

	/* Only on 429 and 503: a 500 with the header is retried on the backoff alone. */
	srv.extra_header = "Retry-After: 7";
	srv.status = 500;
	kt_export_note_retry_after(0);
	e->export(e, req, 1);
	cr_expect_eq(kt_export_retry_after_noted(), 0);
	server_join();
	srv.extra_header = NULL;
}

Test(otlp_http, retry_after_values)
{
	uint64_t ms = 1;
	time_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
	cr_expect(kt_curl_retry_after_ms("120", now, &ms) && ms == 120000);
	cr_expect(kt_curl_retry_after_ms(" 0 ", now, &ms) && ms == 0);
	cr_expect(kt_curl_retry_after_ms("Tue, 14 Nov 2023 22:13:25 GMT", now, &ms) && ms == 5000);
	cr_expect(kt_curl_retry_after_ms("Tue, 14 Nov 2023 22:13:00 GMT", now, &ms) && ms == 0,
		  "a date in the past: now");
	cr_expect(kt_curl_retry_after_ms("99999999999999999999999", now, &ms) && ms == 86400000,
		  "seconds beyond a day: a day");
	cr_expect(!kt_curl_retry_after_ms("", now, &ms));
	cr_expect(!kt_curl_retry_after_ms("-1", now, &ms));
	cr_expect(!kt_curl_retry_after_ms("12abc", now, &ms));
	cr_expect(!kt_curl_retry_after_ms("soon", now, &ms));
}

Test(otlp_http, status_429_is_retry)
{
	server_start(1, 429);
	struct kt_exporter *e = exporter(NULL, 5000);
	cr_assert_eq(e->export(e, request(), 1), KT_EXPORT_RETRY);
	server_join();
	cr_expect_str_eq(kt_export_status_noted(), "429", "the status the counters see");
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
	cr_expect_str_eq(kt_export_status_noted(), "400", "the status the counters see");
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
	cr_expect_str_eq(kt_export_status_noted(), "connect", "the status the counters see");
}

Test(otlp_http, timeout_is_retry)
{
	srv.stall = true;
	server_start(1, 200);
	struct kt_exporter *e = exporter(NULL, 300);
	cr_assert_eq(e->export(e, request(), 1), KT_EXPORT_RETRY);
	server_join();
	cr_expect_str_eq(kt_export_status_noted(), "timeout", "the status the counters see");
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

/* ------------------------------------------------------------------ http/json */

static char logs_url[128];

static struct kt_exporter *exporter_enc(bool json, bool logs_json)
{
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces", srv.port);
	snprintf(logs_url, sizeof(logs_url), "http://127.0.0.1:%d/v1/logs", srv.port);
	struct kt_otlp_http_cfg c = { .url = url, .logs_url = logs_url, .headers = "tenant=t1",
				      .timeout_ms = 5000, .json = json, .logs_json = logs_json };
	exp_ = kt_exporter_otlp_http_new(&c);
	cr_assert_not_null(exp_);
	cr_assert_not_null(exp_->export_logs);
	return exp_;
}

static kt_otlp_logs_request *logs_request(void)
{
	struct kt_log_record *r = kt_log_record_new(0);
	cr_assert_not_null(r);
	r->log.time_unix_nano = 1700000000123456789ull;
	r->log.observed_time_unix_nano = 1700000001000000005ull;
	r->log.severity_number = KT_SEV_ERROR2;
	r->log.severity_text = fx_str(&r->arena, "crit");
	r->log.body = fx_str(&r->arena, "crit \"message\"");
	r->log.attrs = FX_LIST(&r->arena, fx_kv_i64(&r->arena, "syslog.facility", 1));
	r->origin = fx_origin("hybrid-vsock", "sb1");
	logs_head = r;
	static const struct kt_resource_cfg cfg = { .service_name = "kata-agent" };
	kt_otlp_logs_request *req = kt_otlp_logs_build(logs_head, &cfg, &arena);
	cr_assert_not_null(req);
	return req;
}

/* The body is exactly want[0..n), what the file exporter writes for the same request. */
static void expect_body(const struct http_req *r, const char *want, size_t n)
{
	cr_assert_not_null(want);
	cr_assert_eq(r->body_len, n, "body of %zu bytes, want %zu", r->body_len, n);
	cr_assert(memcmp(r->body, want, n) == 0, "body %.*s\nwant %s", (int)r->body_len,
		  (const char *)r->body, want);
}

/* The string at a path of members and array indexes ("0") of a JSON text. */
static const char *json_at(json_object *root, const char *const *path)
{
	json_object *o = root;
	for (; *path && o; path++) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(*path));
		else if (!json_object_object_get_ex(o, *path, &o))
			o = NULL;
	}
	cr_assert(o && json_object_is_type(o, json_type_string), "no string at the path");
	return json_object_get_string(o);
}

Test(otlp_http, post_json_spans_with_headers)
{
	server_start(1, 200);
	struct kt_exporter *e = exporter_enc(true, true);
	kt_otlp_request *req = request();
	cr_assert_eq(e->export(e, req, 1), KT_EXPORT_OK);
	server_join();

	cr_assert_eq(srv.n_reqs, 1);
	struct http_req *r = &srv.reqs[0];
	cr_assert_str_eq(r->method, "POST");
	cr_assert_str_eq(r->path, "/v1/traces");
	char v[256];
	cr_assert_str_eq(header(r, "Content-Type", v, sizeof(v)), "application/json");
	cr_assert_str_eq(header(r, "tenant", v, sizeof(v)), "t1");
	cr_assert_str_eq(header(r, "User-Agent", v, sizeof(v)), "katatrace-bpf");
	cr_assert_null(header(r, "Expect", v, sizeof(v)));

	size_t n;
	char *want = kt_otlp_json_encode(req, &n);
	expect_body(r, want, n);
	free(want);
	/* OTLP/JSON as the specification has it: hex ids, 64-bit integers as strings. */
	char *text = strndup((const char *)r->body, r->body_len);
	json_object *doc = json_tokener_parse(text);
	free(text);
	cr_assert_not_null(doc, "not JSON");
	static const char *const trace_id[] = { "resourceSpans", "0", "scopeSpans", "0", "spans",
						"0", "traceId", NULL };
	static const char *const span_id[] = { "resourceSpans", "0", "scopeSpans", "0", "spans",
					       "0", "spanId", NULL };
	static const char *const start[] = { "resourceSpans", "0", "scopeSpans", "0", "spans",
					     "0", "startTimeUnixNano", NULL };
	cr_expect_str_eq(json_at(doc, trace_id), "0af7651916cd43dd8448eb211c80319c");
	cr_expect_str_eq(json_at(doc, span_id), "b7ad6b7169203331");
	cr_expect_str_eq(json_at(doc, start), "1700000000000005000");
	json_object_put(doc);
}

/* Each signal in its own encoding, on one kept-alive connection. */
static void spans_and_logs(bool json, bool logs_json)
{
	server_start(2, 200);
	struct kt_exporter *e = exporter_enc(json, logs_json);
	kt_otlp_request *req = request();
	kt_otlp_logs_request *lreq = logs_request();
	cr_assert_eq(e->export(e, req, 1), KT_EXPORT_OK);
	cr_assert_eq(e->export_logs(e, lreq, 1), KT_EXPORT_OK);
	server_join();
	cr_assert_eq(srv.n_reqs, 2);
	cr_assert_eq(srv.n_conns, 1, "connection not reused");

	char v[64];
	size_t n;
	struct http_req *r = &srv.reqs[0];
	cr_assert_str_eq(r->path, "/v1/traces");
	if (json) {
		cr_assert_str_eq(header(r, "Content-Type", v, sizeof(v)), "application/json");
		char *want = kt_otlp_json_encode(req, &n);
		expect_body(r, want, n);
		free(want);
	} else {
		cr_assert_str_eq(header(r, "Content-Type", v, sizeof(v)), "application/x-protobuf");
		n = protobuf_c_message_get_packed_size(&req->base);
		uint8_t *want = malloc(n);
		protobuf_c_message_pack(&req->base, want);
		expect_body(r, (const char *)want, n);
		free(want);
	}
	cr_assert_str_eq(header(r, "tenant", v, sizeof(v)), "t1");

	r = &srv.reqs[1];
	cr_assert_str_eq(r->path, "/v1/logs");
	if (logs_json) {
		cr_assert_str_eq(header(r, "Content-Type", v, sizeof(v)), "application/json");
		char *want = kt_otlp_logs_json_encode(lreq, &n);
		expect_body(r, want, n);
		free(want);
	} else {
		cr_assert_str_eq(header(r, "Content-Type", v, sizeof(v)), "application/x-protobuf");
		n = protobuf_c_message_get_packed_size(&lreq->base);
		uint8_t *want = malloc(n);
		protobuf_c_message_pack(&lreq->base, want);
		expect_body(r, (const char *)want, n);
		free(want);
	}
	cr_assert_str_eq(header(r, "tenant", v, sizeof(v)), "t1");
}

Test(otlp_http, json_spans_protobuf_logs)
{
	spans_and_logs(true, false);
}

Test(otlp_http, protobuf_spans_json_logs)
{
	spans_and_logs(false, true);
}

Test(otlp_http, json_logs_body)
{
	spans_and_logs(true, true);
	/* Spot checks against the record as made above. */
	static const char *const parts[] = {
		"\"timeUnixNano\":\"1700000000123456789\"",
		"\"observedTimeUnixNano\":\"1700000001000000005\"",
		"\"severityNumber\":18",
		"\"body\":{\"stringValue\":\"crit \\\"message\\\"\"}",
		"{\"key\":\"syslog.facility\",\"value\":{\"intValue\":\"1\"}}",
	};
	const struct http_req *r = &srv.reqs[1];
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		cr_expect_not_null(memmem(r->body, r->body_len, parts[i], strlen(parts[i])),
				   "no %s in %.*s", parts[i], (int)r->body_len, (const char *)r->body);
}

/* What the exporter logs for one answer to a JSON request. */
static void answer(int status, const char *type, const char *body, bool logs,
		   enum kt_export_result want, char *log, size_t cap)
{
	srv.resp_body = (const uint8_t *)body;
	srv.resp_len = strlen(body);
	srv.resp_type = type;
	server_start(1, status);
	struct kt_exporter *e = exporter_enc(true, true);
	enum kt_export_result got = logs ? e->export_logs(e, logs_request(), 1)
					 : e->export(e, request(), 1);
	cr_assert_eq(got, want, "HTTP %d %s: result %d", status, body, got);
	server_join();
	fflush(stderr);
	size_t n = fread(log, 1, cap - 1, cr_get_redirected_stderr());
	log[n] = '\0';
}

static void json_setup(void)
{
	cr_redirect_stderr();
	setup();
	kt_log_level = KT_LOG_DEBUG;
}

#define EXPECT_LOG(log, text) cr_expect(strstr(log, text), "no '%s' in: %s", text, log)

Test(otlp_http, json_partial_success_of_spans, .init = json_setup)
{
	char log[4096];
	answer(200, "application/json",
	       "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":\"too old\"}}", false,
	       KT_EXPORT_OK, log, sizeof(log));
	char want[256];
	snprintf(want, sizeof(want), "otlp-http: %s: collector rejected 2 span(s): too old", url);
	EXPECT_LOG(log, want);
}

Test(otlp_http, json_partial_success_of_logs, .init = json_setup)
{
	char log[4096];
	answer(200, "application/json; charset=utf-8",
	       "{\"partialSuccess\":{\"rejectedLogRecords\":3,\"errorMessage\":\"no \\u00e9\"}}",
	       true, KT_EXPORT_OK, log, sizeof(log));
	char want[256];
	snprintf(want, sizeof(want), "otlp-http: %s: collector rejected 3 log record(s): no ..",
		 logs_url);
	EXPECT_LOG(log, want);
}

Test(otlp_http, json_success_without_news, .init = json_setup)
{
	char log[4096];
	answer(200, "application/json", "{}", false, KT_EXPORT_OK, log, sizeof(log));
	cr_expect_null(strstr(log, "rejected"), "%s", log);
	cr_expect_null(strstr(log, "not an"), "%s", log);
}

Test(otlp_http, json_success_with_garbage, .init = json_setup)
{
	char log[4096];
	answer(200, "text/html", "<html>ok</html>", false, KT_EXPORT_OK, log, sizeof(log));
	char want[256];
	snprintf(want, sizeof(want), "otlp-http: %s: the response is not an "
				     "ExportTraceServiceResponse in JSON", url);
	EXPECT_LOG(log, want);
}

Test(otlp_http, json_error_status_is_shown, .init = json_setup)
{
	char log[4096], want[256];
	answer(400, "application/json",
	       "{\"code\":3,\"message\":\"span too large\",\"details\":[{\"@type\":\"x\"}]}", false,
	       KT_EXPORT_FAIL, log, sizeof(log));
	snprintf(want, sizeof(want), "otlp-http: POST %s: HTTP 400: span too large (INVALID_ARGUMENT)",
		 url);
	EXPECT_LOG(log, want);
}

Test(otlp_http, json_retryable_status_is_shown, .init = json_setup)
{
	char log[4096], want[256];
	answer(503, "application/json", "{\"code\":14,\"message\":\"busy\"}", true, KT_EXPORT_RETRY,
	       log, sizeof(log));
	snprintf(want, sizeof(want), "otlp-http: POST %s: HTTP 503 (will retry): busy (UNAVAILABLE)",
		 logs_url);
	EXPECT_LOG(log, want);
}

Test(otlp_http, json_error_garbage_is_excerpted, .init = json_setup)
{
	char log[4096], want[256];
	answer(400, "text/plain", "{\"code\":\"x\"} bad\n", false, KT_EXPORT_FAIL, log, sizeof(log));
	snprintf(want, sizeof(want), "otlp-http: POST %s: HTTP 400: {\"code\":\"x\"} bad ", url);
	EXPECT_LOG(log, want);
}

/* Answers larger than what is kept: cut, never overrun. */
Test(otlp_http, json_oversized_answers, .init = json_setup)
{
	size_t n = 200 * 1024;
	char *big = malloc(n + 1);
	cr_assert_not_null(big);
	memset(big, ' ', n);
	memcpy(big, "{\"message\":\"", 12);
	memset(big + 12, 'x', n - 14);
	memcpy(big + n - 2, "\"}", 2);
	big[n] = '\0';
	char log[4096], want[256];
	answer(400, "application/json", big, false, KT_EXPORT_FAIL, log, sizeof(log));
	snprintf(want, sizeof(want), "otlp-http: POST %s: HTTP 400: {\"message\":\"xxx", url);
	EXPECT_LOG(log, want);
	free(big);
}

/* ------------------------------------------------------------------ JSON answers */

struct ps_case {
	const char *body;
	bool logs;
	int rc;
	int64_t rejected;
	const char *message;
};

Test(otlp_http, json_partial_success_parse)
{
	static const struct ps_case cases[] = {
		{ "{}", false, 0, 0, NULL },
		{ " {}\n", false, 0, 0, NULL },
		{ "{\"partialSuccess\":{}}", false, 0, 0, NULL },
		{ "{\"partialSuccess\":null}", false, 0, 0, NULL },
		{ "{\"partialSuccess\":{\"rejectedSpans\":\"0\",\"errorMessage\":\"\"}}", false, 0, 0,
		  NULL },
		{ "{\"partialSuccess\":{\"rejectedSpans\":5}}", false, 1, 5, "" },
		{ "{\"partialSuccess\":{\"rejectedSpans\":\"-1\"}}", false, 1, -1, "" },
		{ "{\"partial_success\":{\"rejected_spans\":\"7\",\"error_message\":\"m\"}}", false, 1,
		  7, "m" },
		{ "{\"partialSuccess\":{\"errorMessage\":\"only a message\"}}", false, 1, 0,
		  "only a message" },
		{ "{\"partialSuccess\":{\"rejectedSpans\":\"9223372036854775807\"}}", false, 1,
		  INT64_MAX, "" },
		{ "{\"partialSuccess\":{\"rejectedSpans\":\"1\",\"future\":{\"x\":[1,2]}},\"b\":1}",
		  false, 1, 1, "" },
		{ "{\"partialSuccess\":{\"errorMessage\":\"a\\nb\\u00e9\\u0000c\"}}", false, 1, 0,
		  "a b...c" },
		/* Each signal its own count. */
		{ "{\"partialSuccess\":{\"rejectedLogRecords\":\"4\"}}", true, 1, 4, "" },
		{ "{\"partialSuccess\":{\"rejected_log_records\":4}}", true, 1, 4, "" },
		{ "{\"partialSuccess\":{\"rejectedLogRecords\":\"4\"}}", false, 0, 0, NULL },
		{ "{\"partialSuccess\":{\"rejectedSpans\":\"4\"}}", true, 0, 0, NULL },
		/* Not a response. */
		{ "", false, -1, 0, NULL },
		{ "[]", false, -1, 0, NULL },
		{ "\"x\"", false, -1, 0, NULL },
		{ "null", false, -1, 0, NULL },
		{ "{", false, -1, 0, NULL },
		{ "{} x", false, -1, 0, NULL },
		{ "{}{}", false, -1, 0, NULL },
		{ "{'a':1}", false, -1, 0, NULL },
		{ "{\"a\":NaN}", false, -1, 0, NULL },
		{ "{\"a\":\"\xff\"}", false, -1, 0, NULL },
		{ "{\"partialSuccess\":\"x\"}", false, -1, 0, NULL },
		{ "{\"partialSuccess\":[]}", false, -1, 0, NULL },
		{ "{\"partialSuccess\":{\"errorMessage\":3}}", false, -1, 0, NULL },
		{ "{\"partialSuccess\":{\"rejectedSpans\":\"9223372036854775808\"}}", false, -1, 0,
		  NULL },
		{ "{\"partialSuccess\":{\"rejectedSpans\":\"12x\"}}", false, -1, 0, NULL },
		{ "{\"partialSuccess\":{\"rejectedSpans\":\" 1\"}}", false, -1, 0, NULL },
		{ "{\"partialSuccess\":{\"rejectedSpans\":\"+1\"}}", false, -1, 0, NULL },
		{ "{\"partialSuccess\":{\"rejectedSpans\":\"\"}}", false, -1, 0, NULL },
		{ "{\"partialSuccess\":{\"rejectedSpans\":\"1\\u00002\"}}", false, -1, 0, NULL },
		{ "{\"partialSuccess\":{\"rejectedSpans\":1.5}}", false, -1, 0, NULL },
		{ "{\"partialSuccess\":{\"rejectedSpans\":true}}", false, -1, 0, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ps_case *c = &cases[i];
		struct kt_otlp_partial_success ps = { .rejected_spans = 12345, .message = "unset" };
		int rc = kt_otlp_json_partial_success_parse(c->body, strlen(c->body), c->logs, &ps);
		cr_expect_eq(rc, c->rc, "%s: %d, want %d", c->body, rc, c->rc);
		if (rc == 1 && c->rc == 1) {
			cr_expect_eq(ps.rejected_spans, c->rejected, "%s: rejected %lld", c->body,
				     (long long)ps.rejected_spans);
			cr_expect_str_eq(ps.message, c->message, "%s", c->body);
		}
	}
}

Test(otlp_http, json_partial_success_bounds)
{
	struct kt_otlp_partial_success ps;
	/* A message is cut for the log. */
	char body[512];
	snprintf(body, sizeof(body), "{\"partialSuccess\":{\"errorMessage\":\"%0300d\"}}", 0);
	cr_assert_eq(kt_otlp_json_partial_success_parse(body, strlen(body), false, &ps), 1);
	cr_assert_eq(strlen(ps.message), KT_OTLP_EXCERPT_LEN + 3);
	cr_assert_str_eq(ps.message + KT_OTLP_EXCERPT_LEN, "...");

	/* Nesting: 32 levels are read, 33 are not. */
	char deep[256];
	for (int levels = 32; levels <= 33; levels++) {
		/* An object holding levels - 1 nested arrays. */
		size_t o = (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
		for (int i = 1; i < levels; i++)
			deep[o++] = '[';
		deep[o++] = '1';
		for (int i = 1; i < levels; i++)
			deep[o++] = ']';
		o += (size_t)snprintf(deep + o, sizeof(deep) - o, ",\"partialSuccess\":{}}");
		cr_expect_eq(kt_otlp_json_partial_success_parse(deep, o, false, &ps),
			     levels == 32 ? 0 : -1, "%d levels", levels);
	}

	/* Larger than KT_OTLP_JSON_RESPONSE_MAX: not read, valid or not. */
	size_t n = KT_OTLP_JSON_RESPONSE_MAX + 1;
	char *big = malloc(n);
	cr_assert_not_null(big);
	memset(big, ' ', n);
	memcpy(big, "{}", 2);
	cr_expect_eq(kt_otlp_json_partial_success_parse(big, n, false, &ps), -1);
	cr_expect_eq(kt_otlp_json_partial_success_parse(big, n - 1, false, &ps), 0);
	free(big);
}

Test(otlp_http, json_status)
{
	static const struct {
		const char *body;
		const char *want; /* NULL: not a Status */
	} cases[] = {
		{ "{\"code\":3,\"message\":\"bad\"}", "bad (INVALID_ARGUMENT)" },
		{ "{\"message\":\"later\",\"code\":\"14\"}", "later (UNAVAILABLE)" },
		{ "{\"message\":\"no code\"}", "no code" },
		{ "{\"code\":0,\"message\":\"zero\"}", "zero" },
		{ "{\"code\":16}", "UNAUTHENTICATED" },
		{ "{\"code\":99,\"message\":\"m\"}", "m (code 99)" },
		{ "{\"code\":-1}", "code -1" },
		{ "{\"code\":8,\"message\":\"m\",\"details\":[{\"@type\":\"type.googleapis.com/x\","
		  "\"a\":1}]}",
		  "m (RESOURCE_EXHAUSTED)" },
		{ "{\"message\":\"tab\\there\\u0007\"}", "tab here." },
		{ "{}", NULL },
		{ "{\"code\":0,\"message\":\"\"}", NULL },
		{ "{\"code\":\"x\"}", NULL },
		{ "{\"code\":2147483648}", NULL },
		{ "{\"code\":1e2}", NULL },
		{ "{\"message\":5}", NULL },
		{ "{\"message\":[\"m\"]}", NULL },
		{ "not found", NULL },
		{ "[{\"code\":3}]", NULL },
		{ "", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[KT_OTLP_STATUS_SIZE];
		bool ok = kt_otlp_json_status(cases[i].body, strlen(cases[i].body), out);
		if (cases[i].want) {
			cr_expect(ok, "%s: not read", cases[i].body);
			cr_expect_str_eq(out, cases[i].want, "%s", cases[i].body);
		} else {
			cr_expect_not(ok, "%s: read as %s", cases[i].body, out);
			cr_expect_str_eq(out, "", "%s", cases[i].body);
		}
	}
	/* The longest message and name fit. */
	char body[512], out[KT_OTLP_STATUS_SIZE];
	snprintf(body, sizeof(body), "{\"code\":9,\"message\":\"%0300d\"}", 0);
	cr_assert(kt_otlp_json_status(body, strlen(body), out));
	cr_assert_eq(strlen(out), KT_OTLP_EXCERPT_LEN + 3 + strlen(" (FAILED_PRECONDITION)"));
	cr_assert_str_eq(out + KT_OTLP_EXCERPT_LEN, "... (FAILED_PRECONDITION)");
}

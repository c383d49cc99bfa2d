/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/HTTP exporter (binary protobuf). One CURL handle per exporter so the
 * connection to the collector is kept alive between batches; the export
 * thread is the only user, so no locking is needed.
 */
#include "exporter.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "log.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_RESPONSE (64 * 1024) /* response bytes kept; the rest is discarded */
#define EXCERPT_LEN 200

struct http_exporter {
	struct kt_exporter base;
	CURL *curl;
	struct curl_slist *headers;
	char *url;
	char errbuf[CURL_ERROR_SIZE];
	char *resp;
	size_t resp_len;
};

/* ------------------------------------------------------------------ init */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ------------------------------------------------------------------ headers */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decodes and trims s[0..n) into a new string; NULL on ENOMEM. */
static char *decode_part(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	/* A decoded NUL would cut the header short: make the entry invalid. */
	if (memchr(out, '\0', o))
		out[0] = '\x01';
	return out;
}

/* RFC 9110 token characters. */
static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

static bool is_field_value(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

/*
 * "k=v,k2=v2" (OTEL_EXPORTER_OTLP_HEADERS syntax, values URL-encoded) ->
 * curl header list. Malformed entries are skipped with a warning rather
 * than failing the exporter; entries that would inject header lines are
 * refused.
 */
static int add_user_headers(struct curl_slist **list, const char *spec)
{
	const char *p = spec;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		if (eq) {
			char *k = decode_part(p, (size_t)(eq - p));
			char *v = decode_part(eq + 1, n - (size_t)(eq - p) - 1);
			if (!k || !v) {
				free(k);
				free(v);
				return -1;
			}
			if (!is_token(k) || !is_field_value(v)) {
				kt_warn("otlp-http: ignoring invalid header entry %.*s", (int)n, p);
			} else if (strcasecmp(k, "content-type") == 0) {
				kt_warn("otlp-http: ignoring header %s: the body is protobuf", k);
			} else {
				size_t len = strlen(k) + strlen(v) + 3;
				char *h = malloc(len);
				struct curl_slist *nl = NULL;
				if (h) {
					/* "k;" is curl's way to send a header with an empty value. */
					if (*v)
						snprintf(h, len, "%s: %s", k, v);
					else
						snprintf(h, len, "%s;", k);
					nl = curl_slist_append(*list, h);
				}
				free(h);
				if (!nl) {
					free(k);
					free(v);
					return -1;
				}
				*list = nl;
			}
			free(k);
			free(v);
		} else if (n) {
			bool blank = true;
			for (size_t i = 0; i < n; i++)
				blank = blank && isspace((unsigned char)p[i]);
			if (!blank)
				kt_warn("otlp-http: ignoring header entry without '=': %.*s", (int)n,
					p);
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* ------------------------------------------------------------------ export */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct http_exporter *h = ud;
	size_t n = size * nmemb;
	size_t room = MAX_RESPONSE - h->resp_len;
	size_t take = n < room ? n : room;
	if (take) {
		memcpy(h->resp + h->resp_len, data, take);
		h->resp_len += take;
	}
	return n;
}

/* Printable excerpt of a response body for log lines. */
static void excerpt(const char *body, size_t len, char out[EXCERPT_LEN + 4])
{
	size_t o = 0;
	for (size_t i = 0; i < len && o < EXCERPT_LEN; i++) {
		unsigned char c = (unsigned char)body[i];
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : (c == '\n' || c == '\t') ? ' ' : '.';
	}
	if (len > EXCERPT_LEN) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Transport errors that a later attempt can get past. */
static bool curl_error_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_AGAIN:
		return true;
	default:
		return false;
	}
}

static bool status_retryable(long status)
{
	return status == 408 || status == 429 || status == 502 || status == 503 || status == 504;
}

static void check_partial_success(struct http_exporter *h)
{
	if (!h->resp_len)
		return;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r =
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
			NULL, h->resp_len, (const uint8_t *)h->resp);
	if (!r) {
		kt_debug("otlp-http: %s: 2xx response body is not an ExportTraceServiceResponse",
			 h->url);
		return;
	}
	const Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess *ps =
		r->partial_success;
	if (ps && (ps->rejected_spans || ps->error_message.len)) {
		char msg[EXCERPT_LEN + 4];
		excerpt((const char *)ps->error_message.data, ps->error_message.len, msg);
		kt_warn("otlp-http: %s: collector rejected %lld span(s): %s", h->url,
			(long long)ps->rejected_spans, msg[0] ? msg : "(no message)");
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
		r, NULL);
}

static enum kt_export_result http_export(struct kt_exporter *e, const kt_otlp_request *req,
					 size_t n_spans)
{
	struct http_exporter *h = (struct http_exporter *)e;
	size_t len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
		req);
	uint8_t *body = malloc(len ? len : 1);
	if (!body)
		return KT_EXPORT_RETRY;
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(req, body);

	h->resp_len = 0;
	h->errbuf[0] = '\0';
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl_easy_perform(h->curl);
	/* The handle must not keep a pointer to the freed body. */
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
	free(body);

	if (rc != CURLE_OK) {
		const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);
		if (curl_error_retryable(rc)) {
			kt_warn("otlp-http: POST %s: %s (will retry)", h->url, why);
			return KT_EXPORT_RETRY;
		}
		kt_err("otlp-http: POST %s: %s", h->url, why);
		return KT_EXPORT_FAIL;
	}
	long status = 0;
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		check_partial_success(h);
		kt_trace("otlp-http: POST %s: %ld, %zu span(s)", h->url, status, n_spans);
		return KT_EXPORT_OK;
	}
	char msg[EXCERPT_LEN + 4];
	excerpt(h->resp, h->resp_len, msg);
	const char *sep = msg[0] ? ": " : "";
	if (status_retryable(status)) {
		kt_warn("otlp-http: POST %s: HTTP %ld (will retry)%s%s", h->url, status, sep, msg);
		return KT_EXPORT_RETRY;
	}
	kt_err("otlp-http: POST %s: HTTP %ld%s%s", h->url, status, sep, msg);
	return KT_EXPORT_FAIL;
}

static void http_destroy(struct kt_exporter *e)
{
	struct http_exporter *h = (struct http_exporter *)e;
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->headers);
	free(h->url);
	free(h->resp);
	free(h);
}

static long env_timeout_ms(void)
{
	const char *names[] = { "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT" };
	for (size_t i = 0; i < 2; i++) {
		const char *v = getenv(names[i]);
		if (!v || !*v)
			continue;
		char *end;
		errno = 0;
		long ms = strtol(v, &end, 10);
		if (errno || *end || ms <= 0) {
			kt_warn("otlp-http: ignoring %s=%s (milliseconds expected)", names[i], v);
			continue;
		}
		return ms;
	}
	return DEFAULT_TIMEOUT_MS;
}

static const char *env_headers(void)
{
	const char *v = getenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS");
	if (!v || !*v)
		v = getenv("OTEL_EXPORTER_OTLP_HEADERS");
	return v;
}

struct kt_exporter *kt_exporter_otlp_http_new(const struct kt_otlp_http_cfg *cfg)
{
	if (!cfg || !cfg->url || !*cfg->url) {
		kt_err("otlp-http: no endpoint URL");
		return NULL;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		kt_err("otlp-http: curl_global_init: %s", curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	struct http_exporter *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->base.name = "otlp-http";
	h->base.export = http_export;
	h->base.flush = NULL;
	h->base.destroy = http_destroy;
	h->url = strdup(cfg->url);
	h->resp = malloc(MAX_RESPONSE);
	h->curl = curl_easy_init();
	if (!h->url || !h->resp || !h->curl)
		goto fail;

	struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
	if (!l)
		goto fail;
	h->headers = l;
	/* No "Expect: 100-continue" round trip before larger bodies. */
	if (!(l = curl_slist_append(h->headers, "Expect:")))
		goto fail;
	h->headers = l;
	const char *spec = cfg->headers ? cfg->headers : env_headers();
	if (spec && add_user_headers(&h->headers, spec))
		goto fail;

	long timeout = cfg->timeout_ms > 0 ? cfg->timeout_ms : env_timeout_ms();
	CURL *c = h->curl;
	int bad = 0;
	bad |= curl_easy_setopt(c, CURLOPT_URL, h->url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "katatrace-bpf") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, h) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf) != CURLE_OK;
	if (bad) {
		kt_err("otlp-http: cannot configure a request to %s", h->url);
		goto fail;
	}
	return &h->base;
fail:
	http_destroy(&h->base);
	return NULL;
}

/* ------------------------------------------------------------------ URL */

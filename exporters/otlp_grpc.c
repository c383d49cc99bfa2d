/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/gRPC exporter: each batch is one unary call to
 * opentelemetry.proto.collector.trace.v1.TraceService/Export (log records:
 * opentelemetry.proto.collector.logs.v1.LogsService/Export), made with
 * libcurl over HTTP/2 (h2c with prior knowledge for http://, TLS with ALPN h2
 * for https://). One CURL handle per exporter keeps the HTTP/2 connection
 * between batches (where libcurl can, see h2c_reuse_broken); the export
 * thread is its only user.
 *
 * The framing and the response's status are handled by grpc_frame.c.
 */
#include "exporters/exporter.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "exporters/grpc_frame.h"
#include "base/diag.h"
#include "exporters/otlp_common.h"
#include "exporters/otlp_curl.h"

#define WHO "otlp-grpc"
#define EXPORT_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
#define EXPORT_LOGS_PATH "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

struct grpc_exporter {
	struct kt_exporter base;
	CURL *curl;
	struct curl_slist *headers;
	char *endpoint; /* scheme://authority, for logs */
	char *url;      /* endpoint + EXPORT_PATH */
	char *logs_url; /* endpoint + EXPORT_LOGS_PATH */
	bool tls;
	bool fresh_connect; /* the last attempt failed in transport: do not reuse */
	char errbuf[CURL_ERROR_SIZE];
	/*
	 * Retried attempts since the last answer that was not transient: only
	 * the first is a warning.
	 */
	unsigned long failures;
	struct kt_grpc_response resp;
	struct kt_text body; /* the framed request, its memory kept between calls */
};

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct grpc_exporter *g = ud;
	size_t n = size * nmemb;
	kt_grpc_response_header(&g->resp, data, n);
	return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct grpc_exporter *g = ud;
	size_t n = size * nmemb;
	kt_grpc_response_body(&g->resp, data, n);
	return n;
}

/* A failed attempt that the queue retries: a warning the first time in a row. */
static enum kt_export_result retry(struct grpc_exporter *g, const char *why)
{
	if (g->failures++ == 0)
		kt_warn(WHO ": %s: %s (will retry)", g->endpoint, why);
	else
		kt_debug(WHO ": %s: %s (will retry; %lu failed attempts in a row)", g->endpoint, why,
			 g->failures);
	return KT_EXPORT_RETRY;
}

/* A permanent failure: the queue drops the batch. */
static enum kt_export_result fail(struct grpc_exporter *g, const char *why)
{
	g->failures = 0;
	kt_err(WHO ": %s: %s", g->endpoint, why);
	return KT_EXPORT_FAIL;
}

static void on_success(struct grpc_exporter *g, size_t n, bool logs)
{
	if (g->failures)
		kt_info(WHO ": %s: export succeeded after %lu failed attempt(s)", g->endpoint,
			g->failures);
	g->failures = 0;
	const uint8_t *msg;
	size_t len;
	enum kt_grpc_msg m = kt_grpc_response_message(&g->resp, &msg, &len);
	if (m == KT_GRPC_MSG_OK)
		kt_otlp_partial_success_log(msg, len, logs, WHO, g->endpoint);
	else if (m != KT_GRPC_MSG_NONE)
		kt_debug(WHO ": %s: OK with an unusable response body (%s, %llu bytes)", g->endpoint,
			 kt_grpc_msg_str(m), (unsigned long long)g->resp.body_total);
	kt_trace(WHO ": %s: OK, %zu %s", g->endpoint, n, logs ? "log record(s)" : "span(s)");
}

/*
 * One unary call of g->body (framed; framed false: out of memory) to url: n
 * spans, or n log records with logs.
 */
static enum kt_export_result call(struct grpc_exporter *g, const char *url, bool framed, size_t n,
				  bool logs)
{
	if (!framed) {
		kt_export_note_status("out_of_memory");
		return retry(g, "out of memory framing the request");
	}

	kt_grpc_response_reset(&g->resp);
	g->errbuf[0] = '\0';
	curl_easy_setopt(g->curl, CURLOPT_FRESH_CONNECT, g->fresh_connect ? 1L : 0L);
	CURLcode rc = curl_easy_setopt(g->curl, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = kt_curl_post(g->curl, g->body.p, g->body.len);

	/* A connection that failed once is not trusted with the next attempt. */
	g->fresh_connect = rc != CURLE_OK;
	if (rc != CURLE_OK) {
		const char *why = g->errbuf[0] ? g->errbuf : curl_easy_strerror(rc);
		if (kt_curl_error_retryable(rc))
			return retry(g, why);
		return fail(g, why);
	}
	long version = 0;
	curl_easy_getinfo(g->curl, CURLINFO_HTTP_VERSION, &version);
	if (version != CURL_HTTP_VERSION_2_0) {
		kt_export_note_status("not_http2");
		return fail(g, g->tls ? "the server did not negotiate HTTP/2 (ALPN h2)"
				      : "the server did not speak HTTP/2");
	}

	const struct kt_grpc_response *r = &g->resp;
	int code = kt_grpc_response_code(r);
	enum kt_export_result res = kt_grpc_status_result(code);
	if (res == KT_EXPORT_OK) {
		on_success(g, n, logs);
		return KT_EXPORT_OK;
	}
	/* The status the collector gave (or the one its HTTP status maps to), for the counters. */
	kt_export_note_status(kt_grpc_code_name(code));
	/* how long it asked to be left alone (the OTLP specification: honour RetryInfo) */
	if (res == KT_EXPORT_RETRY && r->have_retry_delay)
		kt_export_note_retry_delay(r->retry_delay_ms, "RetryInfo");
	if (r->details_unusable)
		kt_debug(WHO ": %s: a grpc-status-details-bin that is not a google.rpc.Status "
			     "within %d bytes: ignored",
			 g->endpoint, KT_GRPC_MAX_DETAILS);
	/* The collector's words, made printable. */
	char msg[KT_OTLP_EXCERPT_SIZE], ctype[KT_OTLP_EXCERPT_SIZE];
	kt_otlp_excerpt(r->message, r->message_len, msg);
	kt_otlp_excerpt(r->content_type, strlen(r->content_type), ctype);
	char why[2 * KT_OTLP_EXCERPT_SIZE + 100];
	if (r->have_status)
		snprintf(why, sizeof(why), "%s (%d)%s%s%s", kt_grpc_code_name(code), code,
			 r->status_invalid ? " (invalid grpc-status)" : "", msg[0] ? ": " : "",
			 msg);
	else
		snprintf(why, sizeof(why), "HTTP %ld without grpc-status (content-type '%s'): %s (%d)",
			 r->http_status, ctype, kt_grpc_code_name(code), code);
	return res == KT_EXPORT_RETRY ? retry(g, why) : fail(g, why);
}

static enum kt_export_result grpc_export(struct kt_exporter *e, const kt_otlp_request *req,
					 size_t n_spans)
{
	struct grpc_exporter *g = (struct grpc_exporter *)e;
	return call(g, g->url, kt_grpc_frame_request(req, &g->body), n_spans, false);
}

static enum kt_export_result grpc_export_logs(struct kt_exporter *e,
					      const kt_otlp_logs_request *req, size_t n_logs)
{
	struct grpc_exporter *g = (struct grpc_exporter *)e;
	return call(g, g->logs_url, kt_grpc_frame_logs_request(req, &g->body), n_logs, true);
}

static void grpc_destroy(struct kt_exporter *e)
{
	struct grpc_exporter *g = (struct grpc_exporter *)e;
	if (!g)
		return;
	if (g->curl)
		curl_easy_cleanup(g->curl);
	curl_slist_free_all(g->headers);
	free(g->endpoint);
	free(g->url);
	free(g->logs_url);
	kt_text_free(&g->body);
	free(g);
}

static int append(struct curl_slist **l, const char *h)
{
	struct curl_slist *nl = curl_slist_append(*l, h);
	if (!nl)
		return -1;
	*l = nl;
	return 0;
}

/*
 * libcurl before 8.0.0 cannot reuse an HTTP/2 connection it opened with prior
 * knowledge (curl/curl#10634: every later request on it fails with "Error in
 * the HTTP2 framing layer"), so on those versions each h2c call gets its own
 * connection.
 */
static bool h2c_reuse_broken(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	return v->version_num < 0x080000;
}

/* grpc-timeout: at most 8 digits and a unit. */
static void grpc_timeout(long ms, char *out, size_t n)
{
	if (ms <= 99999999L)
		snprintf(out, n, "grpc-timeout: %ldm", ms);
	else
		snprintf(out, n, "grpc-timeout: %ldS", ms / 1000 > 99999999L ? 99999999L : ms / 1000);
}

struct kt_exporter *kt_exporter_otlp_grpc_new(const struct kt_otlp_grpc_cfg *cfg)
{
	if (!cfg || !cfg->endpoint || !*cfg->endpoint) {
		kt_err(WHO ": no endpoint");
		return NULL;
	}
	bool tls = strncmp(cfg->endpoint, "https://", 8) == 0;
	if (!tls && strncmp(cfg->endpoint, "http://", 7) != 0) {
		kt_err(WHO ": %s is not an http:// or https:// endpoint", cfg->endpoint);
		return NULL;
	}
	if (kt_curl_init(WHO))
		return NULL;
	struct grpc_exporter *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->base.name = WHO;
	g->base.export = grpc_export;
	g->base.export_logs = grpc_export_logs;
	g->base.flush = NULL;
	g->base.destroy = grpc_destroy;
	g->tls = tls;
	size_t n = strlen(cfg->endpoint);
	while (n && cfg->endpoint[n - 1] == '/')
		n--;
	g->endpoint = strndup(cfg->endpoint, n);
	g->url = malloc(n + sizeof(EXPORT_PATH));
	g->logs_url = malloc(n + sizeof(EXPORT_LOGS_PATH));
	g->curl = curl_easy_init();
	if (!g->endpoint || !g->url || !g->logs_url || !g->curl)
		goto fail;
	memcpy(g->url, cfg->endpoint, n);
	memcpy(g->url + n, EXPORT_PATH, sizeof(EXPORT_PATH));
	memcpy(g->logs_url, cfg->endpoint, n);
	memcpy(g->logs_url + n, EXPORT_LOGS_PATH, sizeof(EXPORT_LOGS_PATH));

	long timeout = cfg->timeout_ms > 0 ? cfg->timeout_ms : kt_otlp_env_timeout_ms(WHO);
	char deadline[64];
	grpc_timeout(timeout, deadline, sizeof(deadline));
	/* Set by the exporter; grpc-* names are reserved for gRPC itself. */
	static const char *const refused[] = { "content-type", "te", "grpc-*", NULL };
	const char *spec = cfg->headers ? cfg->headers : kt_otlp_env_headers();
	if (append(&g->headers, "content-type: application/grpc") ||
	    append(&g->headers, "te: trailers") || append(&g->headers, deadline) ||
	    /* No default Accept header, no "Expect: 100-continue" round trip. */
	    append(&g->headers, "Accept:") || append(&g->headers, "Expect:") ||
	    (spec && kt_curl_add_headers(&g->headers, spec, WHO, refused, true)))
		goto fail;

	CURL *c = g->curl;
	int bad = 0;
	bad |= curl_easy_setopt(c, CURLOPT_URL, g->url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
				tls ? (long)CURL_HTTP_VERSION_2TLS
				    : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, g->headers) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "katatrace-bpf") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
	if (!tls && h2c_reuse_broken()) {
		kt_debug(WHO ": libcurl %s: one connection per call",
			 curl_version_info(CURLVERSION_NOW)->version);
		bad |= curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK;
	}
	bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, g) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, g) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, g->errbuf) != CURLE_OK;
	if (bad) {
		kt_err(WHO ": cannot configure a call to %s", g->url);
		goto fail;
	}
	if (kt_curl_tls(c, &cfg->tls, g->endpoint, WHO))
		goto fail;
	return &g->base;
fail:
	grpc_destroy(&g->base);
	return NULL;
}

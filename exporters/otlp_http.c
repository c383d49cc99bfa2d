/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/HTTP exporter: binary protobuf (http/protobuf) or OTLP/JSON
 * (http/json, the file exporter's encoding), chosen for spans and for log
 * records separately. One CURL handle per exporter so the connection to the
 * collector is kept alive between batches; the export thread is the only
 * user, so no locking is needed.
 */
#include "exporters/exporter.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/diag.h"
#include "exporters/otlp_common.h"
#include "exporters/otlp_curl.h"
#include "exporters/otlp_json.h"
#include "exporters/otlp_pack.h"

#define MAX_RESPONSE (64 * 1024) /* response bytes kept; the rest is discarded */

struct http_exporter {
	struct kt_exporter base;
	CURL *curl;
	/* The request headers of each encoding: Content-Type, then the user's. */
	struct curl_slist *pb_headers;
	struct curl_slist *json_headers;
	bool json, logs_json; /* OTLP/JSON bodies for spans, for log records */
	char *url;
	char *logs_url; /* NULL: no logs endpoint, export_logs unset */
	char errbuf[CURL_ERROR_SIZE];
	char *resp;
	size_t resp_len;
	struct kt_text body; /* the request's body, its memory kept between requests */
};

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

static bool status_retryable(long status)
{
	return status == 408 || status == 429 || status == 502 || status == 503 || status == 504;
}

/* One request, its body in the exporter's buffer, and what the answer is read as. */
struct body {
	bool json; /* OTLP/JSON; else protobuf */
	bool logs; /* an ExportLogsServiceRequest */
	size_t n;  /* spans or log records in it */
};

/* The answer to a 2xx: a partial success is logged. */
static void read_success(struct http_exporter *h, const struct body *b, const char *url)
{
	if (!h->resp_len)
		return;
	if (b->json)
		kt_otlp_json_partial_success_log(h->resp, h->resp_len, b->logs, "otlp-http", url);
	else
		kt_otlp_partial_success_log((const uint8_t *)h->resp, h->resp_len, b->logs, "otlp-http", url);
}

/* POSTs the body to url (traces or logs). */
static enum kt_export_result post(struct http_exporter *h, const char *url, struct body *b)
{
	const char *what = b->logs ? "log record(s)" : "span(s)";
	h->resp_len = 0;
	h->errbuf[0] = '\0';
	CURLcode rc = curl_easy_setopt(h->curl, CURLOPT_URL, url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER,
				      b->json ? h->json_headers : h->pb_headers);
	if (rc == CURLE_OK)
		rc = kt_curl_post(h->curl, h->body.p, h->body.len);

	if (rc != CURLE_OK) {
		const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);
		if (kt_curl_error_retryable(rc)) {
			kt_warn("otlp-http: POST %s: %s (will retry)", url, why);
			return KT_EXPORT_RETRY;
		}
		kt_err("otlp-http: POST %s: %s", url, why);
		return KT_EXPORT_FAIL;
	}
	long status = 0;
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		read_success(h, b, url);
		kt_trace("otlp-http: POST %s: %ld, %zu %s", url, status, b->n, what);
		return KT_EXPORT_OK;
	}
	/* An answer to JSON is a google.rpc.Status in JSON; anything else is shown as sent. */
	char msg[KT_OTLP_STATUS_SIZE];
	if (!b->json || !kt_otlp_json_status(h->resp, h->resp_len, msg))
		kt_otlp_excerpt(h->resp, h->resp_len, msg);
	const char *sep = msg[0] ? ": " : "";
	if (status_retryable(status)) {
		kt_warn("otlp-http: POST %s: HTTP %ld (will retry)%s%s", url, status, sep, msg);
		return KT_EXPORT_RETRY;
	}
	kt_err("otlp-http: POST %s: HTTP %ld%s%s", url, status, sep, msg);
	return KT_EXPORT_FAIL;
}

/* The body written into h->body (false: out of memory, retried) is posted. */
static enum kt_export_result send_body(struct http_exporter *h, const char *url, struct body *b,
				       bool written)
{
	return written ? post(h, url, b) : KT_EXPORT_RETRY;
}

static enum kt_export_result http_export(struct kt_exporter *e, const kt_otlp_request *req,
					 size_t n_spans)
{
	struct http_exporter *h = (struct http_exporter *)e;
	struct body b = { .json = h->json, .n = n_spans };
	return send_body(h, h->url, &b,
			 b.json ? kt_otlp_json_write(req, &h->body)
				: kt_otlp_pack(&req->base, 0, SIZE_MAX, &h->body));
}

static enum kt_export_result http_export_logs(struct kt_exporter *e,
					      const kt_otlp_logs_request *req, size_t n_logs)
{
	struct http_exporter *h = (struct http_exporter *)e;
	struct body b = { .json = h->logs_json, .logs = true, .n = n_logs };
	return send_body(h, h->logs_url, &b,
			 b.json ? kt_otlp_logs_json_write(req, &h->body)
				: kt_otlp_pack(&req->base, 0, SIZE_MAX, &h->body));
}

/* content_type, "Expect:" and a copy of user; NULL when out of memory. */
static struct curl_slist *header_list(const char *content_type, const struct curl_slist *user)
{
	struct curl_slist *l = curl_slist_append(NULL, content_type);
	/* No "Expect: 100-continue" round trip before larger bodies. */
	if (l && !curl_slist_append(l, "Expect:"))
		goto fail;
	for (; l && user; user = user->next)
		if (!curl_slist_append(l, user->data))
			goto fail;
	return l;
fail:
	curl_slist_free_all(l);
	return NULL;
}

static void http_destroy(struct kt_exporter *e)
{
	struct http_exporter *h = (struct http_exporter *)e;
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->pb_headers);
	curl_slist_free_all(h->json_headers);
	free(h->url);
	free(h->logs_url);
	free(h->resp);
	kt_text_free(&h->body);
	free(h);
}

struct kt_exporter *kt_exporter_otlp_http_new(const struct kt_otlp_http_cfg *cfg)
{
	if (!cfg || !cfg->url || !*cfg->url) {
		kt_err("otlp-http: no endpoint URL");
		return NULL;
	}
	if (kt_curl_init("otlp-http"))
		return NULL;
	struct http_exporter *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->base.name = "otlp-http";
	h->base.export = http_export;
	h->base.flush = NULL;
	h->base.destroy = http_destroy;
	h->json = cfg->json;
	h->logs_json = cfg->logs_json;
	h->url = strdup(cfg->url);
	if (cfg->logs_url && *cfg->logs_url) {
		h->logs_url = strdup(cfg->logs_url);
		if (!h->logs_url)
			goto fail;
		h->base.export_logs = http_export_logs;
	}
	h->resp = malloc(MAX_RESPONSE);
	h->curl = curl_easy_init();
	if (!h->url || !h->resp || !h->curl)
		goto fail;

	/* The user's headers are read once, and copied after each Content-Type. */
	struct curl_slist *user = NULL;
	static const char *const refused[] = { "content-type", NULL };
	const char *spec = cfg->headers ? cfg->headers : kt_otlp_env_headers();
	if (spec && kt_curl_add_headers(&user, spec, "otlp-http", refused, false)) {
		curl_slist_free_all(user);
		goto fail;
	}
	h->pb_headers = header_list("Content-Type: application/x-protobuf", user);
	h->json_headers = header_list("Content-Type: application/json", user);
	curl_slist_free_all(user);
	if (!h->pb_headers || !h->json_headers)
		goto fail;

	long timeout = cfg->timeout_ms > 0 ? cfg->timeout_ms : kt_otlp_env_timeout_ms("otlp-http");
	CURL *c = h->curl;
	int bad = 0;
	bad |= curl_easy_setopt(c, CURLOPT_URL, h->url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK;
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
	if (kt_curl_tls(c, &cfg->tls, h->url, "otlp-http"))
		goto fail;
	return &h->base;
fail:
	http_destroy(&h->base);
	return NULL;
}

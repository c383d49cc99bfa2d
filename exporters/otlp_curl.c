/* SPDX-License-Identifier: Apache-2.0 */
#include "exporters/otlp_curl.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exporters/exporter.h"
#include "base/diag.h"
#include "exporters/otlp_common.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int kt_curl_init(const char *who)
{
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		kt_err("%s: curl_global_init: %s", who, curl_easy_strerror(curl_init_rc));
		return -1;
	}
	return 0;
}

/* What went wrong below HTTP, as a word for the export counters (exporter.h). */
static const char *transport_status(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
		return "resolve";
	case CURLE_COULDNT_CONNECT:
		return "connect";
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
		return "tls";
	case CURLE_OUT_OF_MEMORY:
		return "out_of_memory";
	default:
		return "transport";
	}
}

CURLcode kt_curl_post(CURL *c, const void *body, size_t len)
{
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	/* The attempt's status, should the exporter call it a failure: HTTP's, or the transport's. */
	long status = 0;
	if (rc == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	    status >= 100 && status <= 999) {
		char s[8];
		snprintf(s, sizeof(s), "%ld", status);
		kt_export_note_status(s);
	} else {
		kt_export_note_status(rc == CURLE_OK ? "transport" : transport_status(rc));
	}
	/* A collector that is overloaded or limiting says when to come back. */
	struct curl_header *h;
	uint64_t ms;
	if ((status == 429 || status == 503) &&
	    curl_easy_header(c, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK) {
		if (kt_curl_retry_after_ms(h->value, time(NULL), &ms))
			kt_export_note_retry_after(ms);
		else
			kt_debug("HTTP %ld: a Retry-After that is neither seconds nor a date: ignored", status);
	}
	return rc;
}

#define RETRY_AFTER_MAX_S (24 * 3600)

bool kt_curl_retry_after_ms(const char *value, time_t now, uint64_t *ms)
{
	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value)) {
		uint64_t s = 0;
		const char *p = value;
		for (; isdigit((unsigned char)*p); p++)
			if (s <= RETRY_AFTER_MAX_S)
				s = s * 10 + (uint64_t)(*p - '0');
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p)
			return false;
		*ms = (s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : s) * 1000;
		return true;
	}
	time_t when = curl_getdate(value, NULL);
	if (when == (time_t)-1)
		return false;
	uint64_t s = when > now ? (uint64_t)(when - now) : 0;
	*ms = (s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : s) * 1000;
	return true;
}

bool kt_curl_error_retryable(CURLcode rc)
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

struct add_ctx {
	struct curl_slist **list;
	bool lower;
};

static int add_one(void *ud, const char *k, const char *v)
{
	struct add_ctx *c = ud;
	size_t len = strlen(k) + strlen(v) + 3;
	char *h = malloc(len);
	if (!h)
		return -1;
	/* "k;" is curl's way to send a header with an empty value. */
	if (*v)
		snprintf(h, len, "%s: %s", k, v);
	else
		snprintf(h, len, "%s;", k);
	if (c->lower)
		for (char *p = h; *p && *p != ':' && *p != ';'; p++)
			*p = (char)tolower((unsigned char)*p);
	struct curl_slist *nl = curl_slist_append(*c->list, h);
	free(h);
	if (!nl)
		return -1;
	*c->list = nl;
	return 0;
}

int kt_curl_add_headers(struct curl_slist **list, const char *spec, const char *who,
			const char *const *refused, bool lower)
{
	struct add_ctx c = { .list = list, .lower = lower };
	return kt_otlp_headers_parse(spec, who, refused, add_one, &c);
}

/* ------------------------------------------------------------------ TLS */

#define TLS_FILE_MAX (4u << 20) /* a CA bundle of a few hundred certificates fits */

struct tls_file {
	enum kt_otlp_tls_file f;
	const char *path;
	const char *source; /* the flag or variable that gave path */
};

/* The whole PEM file in a new buffer; NULL with an error logged. */
static char *read_pem(const struct tls_file *t, const char *who, size_t *len)
{
	const char *what = kt_otlp_tls_file_what(t->f);
	char *buf = malloc(TLS_FILE_MAX + 1);
	FILE *fp = buf ? fopen(t->path, "re") : NULL;
	size_t n = fp ? fread(buf, 1, TLS_FILE_MAX + 1, fp) : 0;
	if (!fp || ferror(fp)) {
		kt_err("%s: cannot read the %s file %s (%s): %s", who, what, t->path, t->source,
		       strerror(errno));
	} else if (n > TLS_FILE_MAX) {
		kt_err("%s: the %s file %s (%s) is larger than %u MiB", who, what, t->path, t->source,
		       TLS_FILE_MAX >> 20);
	} else if (!memmem(buf, n, "-----BEGIN ", 11)) {
		kt_err("%s: the %s file %s (%s) is not PEM (no '-----BEGIN' line)", who, what,
		       t->path, t->source);
	} else {
		fclose(fp);
		*len = n;
		return buf;
	}
	if (fp)
		fclose(fp);
	if (buf)
		explicit_bzero(buf, n);
	free(buf);
	return NULL;
}

static int use_file(CURL *c, const struct tls_file *t, const char *who)
{
	static const CURLoption blob_opt[KT_OTLP_TLS_FILES] = {
		[KT_OTLP_TLS_CA] = CURLOPT_CAINFO_BLOB,
		[KT_OTLP_TLS_CLIENT_CERT] = CURLOPT_SSLCERT_BLOB,
		[KT_OTLP_TLS_CLIENT_KEY] = CURLOPT_SSLKEY_BLOB,
	};
	static const CURLoption path_opt[KT_OTLP_TLS_FILES] = {
		[KT_OTLP_TLS_CA] = CURLOPT_CAINFO,
		[KT_OTLP_TLS_CLIENT_CERT] = CURLOPT_SSLCERT,
		[KT_OTLP_TLS_CLIENT_KEY] = CURLOPT_SSLKEY,
	};
	const char *what = kt_otlp_tls_file_what(t->f);
	size_t len;
	char *pem = read_pem(t, who, &len);
	if (!pem)
		return -1;
	struct curl_blob blob = { .data = pem, .len = len, .flags = CURL_BLOB_COPY };
	CURLcode rc = curl_easy_setopt(c, blob_opt[t->f], &blob);
	explicit_bzero(pem, len); /* a private key, perhaps */
	free(pem);
	if (rc == CURLE_NOT_BUILT_IN || rc == CURLE_UNKNOWN_OPTION) {
		kt_warn("%s: libcurl %s cannot take the %s from memory: it reads %s at each new "
			"connection, so the file must stay readable by the daemon's user (--user)",
			who, curl_version_info(CURLVERSION_NOW)->version, what, t->path);
		rc = curl_easy_setopt(c, path_opt[t->f], t->path);
	}
	if (rc != CURLE_OK) {
		kt_err("%s: cannot use the %s file %s (%s): %s", who, what, t->path, t->source,
		       curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

int kt_curl_tls(CURL *c, const struct kt_otlp_tls_cfg *cfg, const char *endpoint,
		const char *who)
{
	const char *given[KT_OTLP_TLS_FILES] = { cfg->ca, cfg->client_cert, cfg->client_key };
	struct tls_file t[KT_OTLP_TLS_FILES];
	char used[3 * 300] = "";
	size_t off = 0;
	for (int f = 0; f < KT_OTLP_TLS_FILES; f++) {
		t[f] = (struct tls_file){ .f = (enum kt_otlp_tls_file)f };
		t[f].path = kt_otlp_tls_file(t[f].f, given[f], &t[f].source);
		if (t[f].path && off < sizeof(used))
			off += (size_t)snprintf(used + off, sizeof(used) - off, "%s%s %s (%s)",
						off ? ", " : "", kt_otlp_tls_file_what(t[f].f),
						t[f].path, t[f].source);
	}
	const struct tls_file *key = &t[KT_OTLP_TLS_CLIENT_KEY];
	if (key->path && !t[KT_OTLP_TLS_CLIENT_CERT].path) {
		kt_err("%s: the client key %s (%s) needs a client certificate "
		       "(--otlp-client-cert or OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE)",
		       who, key->path, key->source);
		return -1;
	}
	/* libcurl's defaults, stated: the server's certificate and name are checked. */
	if (curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK) {
		kt_err("%s: cannot turn on certificate verification", who);
		return -1;
	}
	for (int f = 0; f < KT_OTLP_TLS_FILES; f++)
		if (t[f].path && use_file(c, &t[f], who))
			return -1;
	/* As in the OpenTelemetry SDKs, the bundle replaces the system's trust store. */
	if (t[KT_OTLP_TLS_CA].path && curl_easy_setopt(c, CURLOPT_CAPATH, NULL) != CURLE_OK) {
		kt_err("%s: cannot leave the system's CA directory out", who);
		return -1;
	}
	if (!off)
		return 0;
	if (strncasecmp(endpoint, "https://", 8) != 0)
		kt_warn("%s: %s does not use TLS: ignoring the %s", who, endpoint, used);
	else
		kt_info("%s: %s: TLS with the %s", who, endpoint, used);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "otlp_curl.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "otlp_common.h"

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

CURLcode kt_curl_post(CURL *c, const void *body, size_t len)
{
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	return rc;
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

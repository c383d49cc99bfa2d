/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcurl pieces shared by the OTLP/HTTP and OTLP/gRPC exporters. Not part
 * of the static build (make static), which has no libcurl.
 */
#ifndef KT_OTLP_CURL_H
#define KT_OTLP_CURL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

/* curl_global_init, once per process; 0, or -1 with an error logged. */
int kt_curl_init(const char *who);

/*
 * POSTs body[0..len) with the handle as configured, and leaves the handle
 * without a pointer to body.
 */
CURLcode kt_curl_post(CURL *c, const void *body, size_t len);

/* Transport errors that a later attempt can get past. */
bool kt_curl_error_retryable(CURLcode rc);

/*
 * A Retry-After value (RFC 9110: delay-seconds, or an HTTP-date, taken
 * against now) in ms; false when it is neither. A date in the past is 0 ms;
 * seconds beyond a day are a day (the queue caps the wait further).
 */
bool kt_curl_retry_after_ms(const char *value, time_t now, uint64_t *ms);

/*
 * Appends the user's headers (OTEL_EXPORTER_OTLP_HEADERS syntax, see
 * kt_otlp_headers_parse) to *list as "Key: value" lines; keys are lower-cased
 * when lower is set (HTTP/2 field names). Returns 0 or -1 (out of memory).
 */
int kt_curl_add_headers(struct curl_slist **list, const char *spec, const char *who,
			const char *const *refused, bool lower);

struct kt_otlp_tls_cfg;

/*
 * TLS for the handle's connections to endpoint: peer and host verification
 * on, and the files of cfg, or for those it leaves NULL the environment's
 * (kt_otlp_tls_file): a CA bundle trusted instead of the system's, a client
 * certificate and its key. The files are read now and handed to libcurl as
 * memory, so that they need not stay readable once the daemon has dropped
 * its privileges (a libcurl whose TLS backend cannot take them so gets the
 * paths). Returns 0, or -1 with an error naming the file and the flag or
 * variable that gave it.
 */
int kt_curl_tls(CURL *c, const struct kt_otlp_tls_cfg *cfg, const char *endpoint,
		const char *who);

#endif

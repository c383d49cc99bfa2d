/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP endpoints from the flag and the OpenTelemetry environment: the
 * OTLP/HTTP traces URL and the OTLP/gRPC target.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exporters/exporter.h"
#include "exporters/otlp_common.h"

static char *concat(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *s = malloc(na + nb + 1);
	if (s) {
		memcpy(s, a, na);
		memcpy(s + na, b, nb + 1);
	}
	return s;
}

/* Base URL + "/v1/traces", without doubling a trailing slash. */
static char *append_traces_path(const char *base)
{
	size_t n = strlen(base);
	return concat(base, n && base[n - 1] == '/' ? "v1/traces" : "/v1/traces");
}

bool kt_otlp_url_has_path(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	p += strcspn(p, "/?#");
	return *p == '/' && p[1] != '\0' && p[1] != '?' && p[1] != '#';
}

char *kt_otlp_http_resolve_url(const char *explicit_endpoint)
{
	if (explicit_endpoint && *explicit_endpoint)
		return kt_otlp_url_has_path(explicit_endpoint) ? strdup(explicit_endpoint)
						       : append_traces_path(explicit_endpoint);
	const char *v = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	if (v && *v)
		return strdup(v);
	v = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	if (v && *v)
		return append_traces_path(v);
	return NULL;
}

char *kt_otlp_http_resolve_logs_url(const char *traces_url)
{
	static const char traces[] = "/v1/traces";
	const char *v = getenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT");
	if (v && *v)
		return strdup(v);
	v = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	if (v && *v) {
		size_t n = strlen(v);
		return concat(v, n && v[n - 1] == '/' ? "v1/logs" : "/v1/logs");
	}
	size_t n = traces_url ? strlen(traces_url) : 0, k = sizeof(traces) - 1;
	if (n < k || strcmp(traces_url + n - k, traces) != 0)
		return NULL;
	char *s = malloc(n - k + sizeof("/v1/logs"));
	if (s) {
		memcpy(s, traces_url, n - k);
		memcpy(s + n - k, "/v1/logs", sizeof("/v1/logs"));
	}
	return s;
}

const char *kt_otlp_configured_endpoint(const char *explicit_endpoint, const char **source)
{
	return kt_otlp_setting(explicit_endpoint, "--otlp-endpoint",
			       "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT",
			       source);
}

static bool is_port(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > 5 || strspn(p, "0123456789") != n)
		return false;
	long v = strtol(p, NULL, 10);
	return v >= 1 && v <= 65535;
}

bool kt_otlp_is_host_port(const char *s)
{
	const char *colon;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close == s + 1 || close[1] != ':')
			return false;
		for (const char *p = s + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return false;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s)
			return false;
		for (const char *p = s; p < colon; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
				return false;
	}
	return is_port(colon + 1);
}

/* Length of "http://" or "https://" at the start of s (any case); 0 if neither. */
static size_t http_scheme_len(const char *s)
{
	if (strncasecmp(s, "http://", 7) == 0)
		return 7;
	if (strncasecmp(s, "https://", 8) == 0)
		return 8;
	return 0;
}

char *kt_otlp_grpc_target(const char *endpoint, bool insecure, bool *dropped_path)
{
	*dropped_path = false;
	size_t scheme = http_scheme_len(endpoint);
	if (!scheme)
		return kt_otlp_is_host_port(endpoint)
			       ? concat(insecure ? "http://" : "https://", endpoint)
			       : NULL;
	const char *auth = endpoint + scheme;
	size_t n = strcspn(auth, "/?#");
	if (n == 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)auth[i] <= 0x20 || auth[i] == 0x7f || auth[i] == '@')
			return NULL;
	*dropped_path = auth[n] != '\0' && strcmp(auth + n, "/") != 0;
	char *t = malloc(scheme + n + 1);
	if (t) {
		/* The scheme in lower case: curl and the logs see one spelling. */
		for (size_t i = 0; i < scheme; i++)
			t[i] = (char)tolower((unsigned char)endpoint[i]);
		memcpy(t + scheme, auth, n);
		t[scheme + n] = '\0';
	}
	return t;
}

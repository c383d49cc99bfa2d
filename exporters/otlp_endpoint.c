/* SPDX-License-Identifier: Apache-2.0 */
/* OTLP/HTTP traces URL from the flag and the OpenTelemetry environment. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "exporter.h"

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

/* True when the URL names a path other than "/" after its authority. */
static bool url_has_path(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	p += strcspn(p, "/?#");
	return *p == '/' && p[1] != '\0' && p[1] != '?' && p[1] != '#';
}

char *kt_otlp_http_resolve_url(const char *explicit_endpoint)
{
	if (explicit_endpoint && *explicit_endpoint)
		return url_has_path(explicit_endpoint) ? strdup(explicit_endpoint)
						       : append_traces_path(explicit_endpoint);
	const char *v = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	if (v && *v)
		return strdup(v);
	v = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	if (v && *v)
		return append_traces_path(v);
	return NULL;
}

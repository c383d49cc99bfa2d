/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exporter interface. An exporter receives complete OTLP requests from the
 * export thread (user/export_queue.c) and must not keep pointers into them
 * after export() returns.
 */
#ifndef KT_EXPORTER_H
#define KT_EXPORTER_H

#include <stddef.h>
#include <stdio.h>

#include "otlp_build.h"

enum kt_export_result {
	KT_EXPORT_OK = 0,
	KT_EXPORT_RETRY = 1, /* transient: the queue retries with backoff */
	KT_EXPORT_FAIL = 2,  /* permanent: the batch is dropped and counted */
};

struct kt_exporter {
	const char *name;
	enum kt_export_result (*export)(struct kt_exporter *e, const kt_otlp_request *req,
					size_t n_spans);
	/* Make written data durable (file: fflush). May be NULL. */
	void (*flush)(struct kt_exporter *e);
	void (*destroy)(struct kt_exporter *e);
};

/* One readable line per span. */
struct kt_exporter *kt_exporter_console_new(FILE *out);

/* OTLP/JSON lines, one ExportTraceServiceRequest per line; "-" = stdout. */
struct kt_exporter *kt_exporter_file_new(const char *path);

struct kt_otlp_http_cfg {
	/* Full URL of the traces endpoint, e.g. http://127.0.0.1:4318/v1/traces. */
	const char *url;
	/* Extra headers, OTEL_EXPORTER_OTLP_HEADERS syntax: k=v,k2=v2 (URL-encoded). */
	const char *headers;
	long timeout_ms;
};
struct kt_exporter *kt_exporter_otlp_http_new(const struct kt_otlp_http_cfg *cfg);

/*
 * Resolves the traces URL the way OpenTelemetry SDKs do:
 * explicit (flag) > OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) >
 * OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces" > NULL (none configured).
 * An explicit value is used as is when it has a path, otherwise "/v1/traces"
 * is appended. Returns a malloc'ed string or NULL.
 */
char *kt_otlp_http_resolve_url(const char *explicit_endpoint);

#endif

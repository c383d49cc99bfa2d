/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exporter interface. An exporter receives complete OTLP requests from the
 * export thread (exporters/export_queue.c) and must not keep pointers into them
 * after export() returns.
 */
#ifndef KT_EXPORTER_H
#define KT_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "exporters/otlp_build.h"
#include "exporters/otlp_logs_build.h"

enum kt_export_result {
	KT_EXPORT_OK = 0,
	KT_EXPORT_RETRY = 1, /* transient: the queue retries with backoff */
	KT_EXPORT_FAIL = 2,  /* permanent: the batch is dropped and counted */
};

struct kt_exporter {
	const char *name;
	enum kt_export_result (*export)(struct kt_exporter *e, const kt_otlp_request *req,
					size_t n_spans);
	/*
	 * Log records (Kata 1.x journal), with the same result semantics. NULL:
	 * this exporter cannot send logs; the queue drops and counts them.
	 */
	enum kt_export_result (*export_logs)(struct kt_exporter *e,
					     const kt_otlp_logs_request *req, size_t n_logs);
	/* Make written data durable (file: fflush). May be NULL. */
	void (*flush)(struct kt_exporter *e);
	void (*destroy)(struct kt_exporter *e);
};

/*
 * Why the export attempt under way failed, for the counters of failed and
 * retried attempts by status (base/stats.h, katatrace_export_failures_total):
 * an exporter, or the transport code it calls, notes a short token: a gRPC
 * status name ("UNAVAILABLE"), an HTTP status ("503"), or what failed below
 * them ("connect", "resolve", "timeout", "tls", "transport", "write",
 * "out_of_memory", "not_http2"). Bounded, low-cardinality words only: never
 * a message or an id. Kept per thread (the export queue's): the queue clears
 * it before each attempt and reads it after a failure; the last note wins,
 * and an attempt that failed without one counts as "unknown".
 */
void kt_export_note_status(const char *status);
/* What this thread's last attempt noted ("" after kt_export_note_status(NULL)). */
const char *kt_export_status_noted(void);

/*
 * How long the collector asked to be left alone before the next attempt
 * (HTTP's Retry-After on a 429 or 503, gRPC's google.rpc.RetryInfo), noted
 * by the transport code the same way, with the name of what said so; 0: it
 * did not ask. The queue clears it before each attempt and waits at least
 * that long, at most KT_EXPORT_RETRY_AFTER_MAX_MS, before retrying.
 */
void kt_export_note_retry_delay(uint64_t ms, const char *source);
/* kt_export_note_retry_delay(ms, "Retry-After") */
void kt_export_note_retry_after(uint64_t ms);
uint64_t kt_export_retry_after_noted(void);
/* The source noted with it ("Retry-After", "RetryInfo"; "" when none). */
const char *kt_export_retry_source_noted(void);

/* The longest wait a collector's Retry-After gets (a hostile one cannot stall exports for longer). */
#define KT_EXPORT_RETRY_AFTER_MAX_MS 60000u

/* One readable line per span and per log record. */
struct kt_exporter *kt_exporter_console_new(FILE *out);

/*
 * OTLP/JSON lines, one ExportTraceServiceRequest or ExportLogsServiceRequest
 * per line; "-" = stdout.
 */
struct kt_exporter *kt_exporter_file_new(const char *path);

/*
 * TLS files (PEM) given explicitly, by the flags; each NULL one comes from
 * the environment (kt_otlp_tls_file in otlp_common.h). They are read when the
 * exporter is created, while the daemon is still privileged.
 */
struct kt_otlp_tls_cfg {
	const char *ca;          /* CA bundle trusted instead of the system's */
	const char *client_cert; /* client certificate, for mutual TLS */
	const char *client_key;  /* its private key; none: in client_cert's file */
};

struct kt_otlp_http_cfg {
	/* Full URL of the traces endpoint, e.g. http://127.0.0.1:4318/v1/traces. */
	const char *url;
	/* Full URL of the logs endpoint (kt_otlp_http_resolve_logs_url); NULL: no logs. */
	const char *logs_url;
	/* Extra headers, OTEL_EXPORTER_OTLP_HEADERS syntax: k=v,k2=v2 (URL-encoded). */
	const char *headers;
	long timeout_ms;
	struct kt_otlp_tls_cfg tls;
	/*
	 * http/json: span requests as OTLP/JSON (kt_otlp_json_write, what the
	 * file exporter writes), Content-Type application/json, and the
	 * collector's answers read as JSON. false: binary protobuf.
	 */
	bool json;
	bool logs_json; /* the same for log records */
};
/*
 * OTLP/HTTP: one POST per request. The results, the same for both
 * encodings: 2xx OK (a partial success is logged); 408, 429, 502, 503, 504
 * and transient transport errors RETRY; anything else FAIL.
 */
struct kt_exporter *kt_exporter_otlp_http_new(const struct kt_otlp_http_cfg *cfg);

/*
 * Resolves the traces URL the way OpenTelemetry SDKs do:
 * explicit (flag) > OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) >
 * OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces" > NULL (none configured).
 * An explicit value is used as is when it has a path, otherwise "/v1/traces"
 * is appended. Returns a malloc'ed string or NULL.
 */
char *kt_otlp_http_resolve_url(const char *explicit_endpoint);

/*
 * The logs URL: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT (as is) >
 * OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/logs" > traces_url with its final
 * "/v1/traces" replaced by "/v1/logs" > NULL (logs cannot be sent).
 * Returns a malloc'ed string or NULL.
 */
char *kt_otlp_http_resolve_logs_url(const char *traces_url);

struct kt_otlp_grpc_cfg {
	/* scheme://host:port of the collector, e.g. http://127.0.0.1:4317. */
	const char *endpoint;
	/* Extra metadata, OTEL_EXPORTER_OTLP_HEADERS syntax: k=v,k2=v2 (URL-encoded). */
	const char *headers;
	long timeout_ms;
	struct kt_otlp_tls_cfg tls;
};
/*
 * OTLP/gRPC: unary calls to TraceService/Export over HTTP/2 (h2c with prior
 * knowledge for http://, TLS with ALPN h2 for https://).
 */
struct kt_exporter *kt_exporter_otlp_grpc_new(const struct kt_otlp_grpc_cfg *cfg);

/*
 * The endpoint configured for traces, as given: explicit (flag) >
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT > OTEL_EXPORTER_OTLP_ENDPOINT (empty
 * values skipped). NULL when none. *source (may be NULL) names where it
 * came from ("--otlp-endpoint" or the variable).
 */
const char *kt_otlp_configured_endpoint(const char *explicit_endpoint, const char **source);

/* True when the URL names a path other than "/" after its authority. */
bool kt_otlp_url_has_path(const char *url);

/* "host:port" without a scheme: a name, IPv4 address or [IPv6] and a port 1..65535. */
bool kt_otlp_is_host_port(const char *s);

/*
 * The gRPC target of an endpoint: http(s)://authority, without any path,
 * query or fragment (*dropped_path set when there was one), or for a bare
 * host:port https://host:port (TLS), http://host:port when insecure
 * (OTEL_EXPORTER_OTLP_INSECURE). NULL when the endpoint is neither (or out of
 * memory). Returns a malloc'ed string.
 */
char *kt_otlp_grpc_target(const char *endpoint, bool insecure, bool *dropped_path);

#endif

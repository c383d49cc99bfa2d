/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the OTLP/HTTP and OTLP/gRPC exporters share and that needs no HTTP
 * client: the OTEL_EXPORTER_OTLP_* header, timeout and TLS settings, log
 * excerpts of what a collector sent, the ExportTraceServiceResponse's
 * partial_success, and the JSON answers of OTLP/HTTP with http/json.
 */
#ifndef KT_OTLP_COMMON_H
#define KT_OTLP_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KT_OTLP_DEFAULT_TIMEOUT_MS 10000
#define KT_OTLP_EXCERPT_LEN 200
#define KT_OTLP_EXCERPT_SIZE (KT_OTLP_EXCERPT_LEN + 4)

/*
 * Printable excerpt of bytes a collector sent, for a log line: printable
 * ASCII as is, newline and tab as a space, anything else as '.', cut at
 * KT_OTLP_EXCERPT_LEN characters with "..." appended.
 */
void kt_otlp_excerpt(const void *data, size_t len, char out[KT_OTLP_EXCERPT_SIZE]);

/*
 * Percent-decodes in[0..n) into out[0..cap): "%XX" (either case) is a byte,
 * anything else, malformed escapes included, is copied as is. Returns the
 * decoded length; *truncated is set when out was too small.
 */
size_t kt_otlp_percent_decode(const char *in, size_t n, char *out, size_t cap, bool *truncated);

/* Called with each valid header entry; non-zero stops the parse with an error. */
typedef int (*kt_otlp_header_fn)(void *ud, const char *key, const char *value);

/*
 * Parses "k=v,k2=v2" (OTEL_EXPORTER_OTLP_HEADERS syntax: keys and values
 * URL-encoded, surrounding whitespace ignored) and calls add for each entry.
 * Entries without '=', keys that are not HTTP tokens and values with control
 * characters are skipped with a warning prefixed by who, and so are keys
 * listed in refused (NULL-terminated, case-insensitive; an entry ending in
 * '*' refuses every key with that prefix). Returns 0, or -1 when out of
 * memory or when add failed.
 */
int kt_otlp_headers_parse(const char *spec, const char *who, const char *const *refused,
			  kt_otlp_header_fn add, void *ud);

/*
 * The first non-empty of explicit_value (given by the flag named flag), the
 * variable traces_var and the variable var; NULL if none. *source (may be
 * NULL) is set to the flag's or the variable's name.
 */
const char *kt_otlp_setting(const char *explicit_value, const char *flag, const char *traces_var,
			    const char *var, const char **source);

/* OTEL_EXPORTER_OTLP_TRACES_HEADERS, else OTEL_EXPORTER_OTLP_HEADERS; NULL if neither. */
const char *kt_otlp_env_headers(void);

/* The PEM files of a TLS connection to the collector. */
enum kt_otlp_tls_file {
	KT_OTLP_TLS_CA,          /* CA bundle to trust */
	KT_OTLP_TLS_CLIENT_CERT, /* client certificate (mutual TLS) */
	KT_OTLP_TLS_CLIENT_KEY,  /* its private key */
	KT_OTLP_TLS_FILES,
};

/*
 * The path of one TLS file: explicit_path (its flag, e.g. --otlp-ca) >
 * OTEL_EXPORTER_OTLP_TRACES_<X> > OTEL_EXPORTER_OTLP_<X>, where X is
 * CERTIFICATE, CLIENT_CERTIFICATE or CLIENT_KEY; NULL if none. *source (may
 * be NULL) names the flag or variable it came from.
 */
const char *kt_otlp_tls_file(enum kt_otlp_tls_file f, const char *explicit_path,
			     const char **source);

/* "CA certificate", "client certificate", "client key": for messages. */
const char *kt_otlp_tls_file_what(enum kt_otlp_tls_file f);

/*
 * OTEL_EXPORTER_OTLP_TRACES_INSECURE, else OTEL_EXPORTER_OTLP_INSECURE:
 * "true" or "false" (any case); other values are ignored with a warning
 * prefixed by who. False when neither is set. It only decides whether an
 * OTLP/gRPC endpoint without a scheme is plain text; it never turns off
 * certificate verification.
 */
bool kt_otlp_env_insecure(const char *who);

/*
 * OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, else OTEL_EXPORTER_OTLP_TIMEOUT
 * (milliseconds), else KT_OTLP_DEFAULT_TIMEOUT_MS. Invalid values are
 * ignored with a warning prefixed by who.
 */
long kt_otlp_env_timeout_ms(const char *who);

struct kt_otlp_partial_success {
	int64_t rejected_spans; /* rejected_log_records in a logs response */
	char message[KT_OTLP_EXCERPT_SIZE]; /* excerpt of error_message; "" if none */
};

/*
 * Decodes an ExportTraceServiceResponse. Returns 1 when its partial_success
 * reports rejected spans or a message (ps filled in), 0 when it reports
 * nothing, -1 when buf is not an ExportTraceServiceResponse.
 */
int kt_otlp_partial_success_parse(const uint8_t *buf, size_t len,
				  struct kt_otlp_partial_success *ps);

/*
 * Logs a warning "<who>: <where>: collector rejected N span(s): <message>"
 * ("log record(s)" with logs) when the response reports a partial success, a
 * debug line when it is not an Export{Trace,Logs}ServiceResponse. The two
 * responses are one on the wire (partial_success is field 1, its count field
 * 1 and its message field 2), so one parser reads both. Returns what
 * kt_otlp_partial_success_parse returned.
 */
int kt_otlp_partial_success_log(const uint8_t *buf, size_t len, bool logs, const char *who,
				const char *where);

/*
 * OTLP/HTTP with JSON bodies (http/json) gets its answers in JSON, in the
 * protobuf JSON mapping. Only a body of at most KT_OTLP_JSON_RESPONSE_MAX
 * bytes that is one RFC 8259 JSON object nested at most
 * KT_OTLP_JSON_RESPONSE_DEPTH deep is read; unknown members are ignored.
 */
#define KT_OTLP_JSON_RESPONSE_MAX (64 * 1024)
#define KT_OTLP_JSON_RESPONSE_DEPTH 32

/*
 * Decodes an ExportTraceServiceResponse, or with logs an
 * ExportLogsServiceResponse: {"partialSuccess":{"rejectedSpans" (logs:
 * "rejectedLogRecords"): int64 as a decimal string or a number,
 * "errorMessage": string}} (the proto names partial_success, rejected_spans,
 * rejected_log_records, error_message are accepted too; null is absent).
 * Returns what kt_otlp_partial_success_parse returns; -1 also for members of
 * the wrong type.
 */
int kt_otlp_json_partial_success_parse(const void *buf, size_t len, bool logs,
				       struct kt_otlp_partial_success *ps);

/*
 * Logs a warning "<who>: <where>: collector rejected N span(s) (logs: log
 * record(s)): <message>" for a partial success, a debug line when buf is not
 * such a response. Returns what kt_otlp_json_partial_success_parse returned.
 */
int kt_otlp_json_partial_success_log(const void *buf, size_t len, bool logs, const char *who,
				     const char *where);

#define KT_OTLP_STATUS_SIZE (KT_OTLP_EXCERPT_SIZE + 32)

/*
 * The body of an OTLP/HTTP error answer to a JSON request: a
 * google.rpc.Status, {"code": int32, "message": string, "details": [...]}.
 * Writes "<message> (<CODE_NAME>)" to out, the message excerpted
 * (kt_otlp_excerpt), "(code N)" for a code without a name, no parenthesis
 * for code 0 or none. False (out empty) when buf is not a Status with a
 * message or a code.
 */
bool kt_otlp_json_status(const void *buf, size_t len, char out[KT_OTLP_STATUS_SIZE]);

#endif

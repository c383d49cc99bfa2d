/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/JSON encoding of an ExportTraceServiceRequest, byte-compatible with
 * what the OpenTelemetry Collector's JSON marshaler (file exporter) writes:
 * lowerCamelCase keys, hex ids, 64-bit integers as decimal strings, enums as
 * integers, zero values omitted. Format notes: docs/exporters.md.
 */
#ifndef KT_OTLP_JSON_H
#define KT_OTLP_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "base/text_buf.h"
#include "exporters/otlp_build.h"
#include "exporters/otlp_logs_build.h"

/*
 * Writes the request into out, replacing what out held: one line of JSON (no
 * newline), NUL-terminated, out->len bytes. out's memory is reused and grows
 * geometrically, and writing allocates nothing else: an exporter that keeps
 * out between requests allocates nothing once out has held the largest
 * (tests/unit/test_alloc_per_span.c). false on ENOMEM (out->oom set; out
 * stays the caller's to free, kt_text_free).
 */
bool kt_otlp_json_write(const kt_otlp_request *req, struct kt_text *out);

/* The same for an ExportLogsServiceRequest ({"resourceLogs":[...]}). */
bool kt_otlp_logs_json_write(const kt_otlp_logs_request *req, struct kt_text *out);

/*
 * The request written into a new buffer: malloc'ed, NUL-terminated; *len
 * (optional) receives its length. NULL on ENOMEM.
 */
char *kt_otlp_json_encode(const kt_otlp_request *req, size_t *len);
char *kt_otlp_logs_json_encode(const kt_otlp_logs_request *req, size_t *len);

/*
 * Shortest decimal text that reads back as exactly d, formatted like Go's
 * encoding/json (1e+21, 1e-7, 0.000001, -0); non-finite values give "NaN",
 * "Infinity", "-Infinity" (unquoted). out must hold 32 bytes; returns length.
 */
size_t kt_json_format_double(double d, char out[32]);

#endif

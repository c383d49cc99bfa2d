/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/JSON encoding of an ExportTraceServiceRequest, byte-compatible with
 * what the OpenTelemetry Collector's JSON marshaler (file exporter) writes:
 * lowerCamelCase keys, hex ids, 64-bit integers as decimal strings, enums as
 * integers, zero values omitted. Format notes: docs/exporters.md.
 */
#ifndef KT_OTLP_JSON_H
#define KT_OTLP_JSON_H

#include <stddef.h>

#include "exporters/otlp_build.h"
#include "exporters/otlp_logs_build.h"

/*
 * Returns the request as one line of JSON (no newline), NUL-terminated and
 * malloc'ed; *len (optional) receives its length. NULL on ENOMEM.
 */
char *kt_otlp_json_encode(const kt_otlp_request *req, size_t *len);

/* The same for an ExportLogsServiceRequest ({"resourceLogs":[...]}). */
char *kt_otlp_logs_json_encode(const kt_otlp_logs_request *req, size_t *len);

/*
 * Shortest decimal text that reads back as exactly d, formatted like Go's
 * encoding/json (1e+21, 1e-7, 0.000001, -0); non-finite values give "NaN",
 * "Infinity", "-Infinity" (unquoted). out must hold 32 bytes; returns length.
 */
size_t kt_json_format_double(double d, char out[32]);

#endif

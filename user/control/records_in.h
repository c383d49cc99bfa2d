/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A probe's records as the daemon takes them in: the spans and log records
 * of the OTLP requests a probe sends over the control socket
 * (control/control_wire.h) become span and log records of the daemon's own
 * pipeline, with the probe's origin (its resource, made from its Hello).
 *
 * The mapping is the inverse of exporters/otlp_build.c and
 * otlp_logs_build.c for what a probe makes: ids, name, kind, times,
 * attributes (strings, integers, floats, booleans and arrays of one of
 * them), events, status; a log record's times, severity, string body,
 * attributes and ids. Each record is checked on its own: ids of the wrong
 * length, text that is not UTF-8, a span that ends before it starts, a
 * body that is not a string, more than KT_RECORDS_IN_MAX_ATTRS attributes
 * or KT_RECORDS_IN_MAX_EVENTS events, or more than KT_RECORDS_IN_ARENA
 * bytes make it rejected (counted, the first reason kept), and the others
 * go on. Attribute values of other types (bytes, key-value lists, mixed
 * arrays) and links are dropped and counted in the span's dropped counts.
 * Resources and scopes of the request are not read: the origin stands for
 * them.
 */
#ifndef KT_RECORDS_IN_H
#define KT_RECORDS_IN_H

#include <stddef.h>
#include <stdint.h>

#include "model/record_sink.h"
#include "model/span_record.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#define KT_RECORDS_IN_MAX_ATTRS 128
#define KT_RECORDS_IN_MAX_EVENTS 128
#define KT_RECORDS_IN_ARENA (256u << 10)

struct kt_records_in {
	uint64_t spans, logs; /* handed to the sink */
	uint64_t rejected;
	char why[256];	       /* the first rejection of the last call, "" if none */
};

/* Every span of req to sink, as KT_SPAN_FROM_HOST records with a reference to origin each. */
void kt_records_in_spans(const Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req,
			 struct kt_origin *origin, const struct kt_record_sink *sink,
			 struct kt_records_in *st);
/* Every log record of req to sink (dropped and counted as rejected if it has no log sink). */
void kt_records_in_logs(const Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req,
			struct kt_origin *origin, const struct kt_record_sink *sink,
			struct kt_records_in *st);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Span records -> OTLP ExportTraceServiceRequest (protobuf-c structs).
 * Mapping rules: docs/exporters.md. The request's shape (grouping,
 * resources, scope) is the one every request has (otlp_request.h).
 */
#ifndef KT_OTLP_BUILD_H
#define KT_OTLP_BUILD_H

#include <stddef.h>

#include "base/arena.h"
#include "exporters/otlp_request.h"
#include "model/span_record.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest kt_otlp_request;

#define KT_SCOPE_NAME "kata-agent"

/*
 * Builds one request holding all n records (linked through ->next from head).
 * Spans are grouped into one ResourceSpans per (origin, resulting resource),
 * in order of first appearance, each with a single ScopeSpans "kata-agent".
 * Resource attributes: the agent's (sorted as sent, minus keys the origin
 * sets, so a guest cannot forge katatrace.*), then service.name if the agent
 * had none, then the origin's katatrace.* attributes.
 * Everything is allocated in a; the request points into the records, which
 * must outlive it. Returns NULL on allocation failure.
 */
kt_otlp_request *kt_otlp_build(const struct kt_span_record *head, const struct kt_resource_cfg *cfg,
			       struct kt_arena *a);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Span records -> OTLP ExportTraceServiceRequest (protobuf-c structs).
 * Mapping rules: docs/exporters.md.
 */
#ifndef KT_OTLP_BUILD_H
#define KT_OTLP_BUILD_H

#include <stddef.h>

#include "base/arena.h"
#include "model/span_record.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest kt_otlp_request;

#define KT_SCOPE_NAME "kata-agent"
#define KT_DEFAULT_SERVICE_NAME "kata-agent"

struct kt_resource_cfg {
	/*
	 * service.name for spans whose agent resource has none or has the SDK
	 * default "unknown_service" (JSON era); never NULL.
	 */
	const char *service_name;
};

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

/*
 * The conversions the logs builder shares (user/span.h values -> OTLP),
 * allocating in a; strings are referenced, not copied. 0, or -1 when a's
 * limit is reached.
 */
ProtobufCBinaryData kt_otlp_str(struct kt_str s);
int kt_otlp_value(Opentelemetry__Proto__Common__V1__AnyValue *v, const struct kt_value *src,
		  struct kt_arena *a);
/* KeyValues of first's attributes, then then's (either may be NULL; none: *out NULL). */
int kt_otlp_attrs(const struct kt_kvlist *first, const struct kt_kvlist *then, size_t *n_out,
		  Opentelemetry__Proto__Common__V1__KeyValue ***out, struct kt_arena *a);

#endif

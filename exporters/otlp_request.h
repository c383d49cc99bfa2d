/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an OTLP export request of spans (otlp_build.h) and one of log
 * records (otlp_logs_build.h) share, in one place: the records of a batch
 * are grouped by origin and resource into one ResourceSpans / ResourceLogs
 * each, in order of first appearance, records keeping their batch order;
 * each group has one resource (the attributes its kind gives, then the
 * origin's) and a single ScopeSpans / ScopeLogs of the kind's scope name.
 * The kind (struct kt_otlp_kind) names its protobuf-c messages and says how
 * its records are linked, what resource attributes a record gets before its
 * origin's, and how a record becomes its message (the type-specific
 * mapping, in otlp_build.c and otlp_logs_build.c).
 *
 * Also the conversions every kind uses (user/model/span.h values -> OTLP
 * AnyValue, KeyValue). Everything is allocated in the caller's arena; strings
 * are referenced where the records (and their origins) hold them, so the
 * records must outlive the request. Each function fails (-1 or NULL) only
 * when the arena's limit is reached.
 */
#ifndef KT_OTLP_REQUEST_H
#define KT_OTLP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "model/span.h"
#include "model/span_record.h"
#include "opentelemetry/proto/common/v1/common.pb-c.h"
#include "opentelemetry/proto/resource/v1/resource.pb-c.h"

#define KT_DEFAULT_SERVICE_NAME "kata-agent"

struct kt_resource_cfg {
	/*
	 * service.name for spans whose agent resource has none or has the SDK
	 * default "unknown_service" (JSON era), and for log records; never NULL.
	 */
	const char *service_name;
};

/* Bytes as protobuf-c bytes, referenced (n == 0: no data pointer). */
ProtobufCBinaryData kt_otlp_bytes(const void *p, size_t n);
ProtobufCBinaryData kt_otlp_str(struct kt_str s);
/* A trace id (16 bytes) or span id (8 bytes) copied into a; on ENOMEM *err = -1 and no data. */
ProtobufCBinaryData kt_otlp_trace_id(const struct kt_trace_id *id, struct kt_arena *a, int *err);
ProtobufCBinaryData kt_otlp_span_id(uint64_t id, struct kt_arena *a, int *err);
bool kt_otlp_str_eq(struct kt_str x, struct kt_str y);
/* Does the origin (may be NULL) set the resource attribute key? */
bool kt_otlp_origin_has_key(const struct kt_origin *o, struct kt_str key);
int kt_otlp_value(Opentelemetry__Proto__Common__V1__AnyValue *v, const struct kt_value *src,
		  struct kt_arena *a);
/* KeyValues of first's attributes, then then's (either may be NULL; none: *out NULL). */
int kt_otlp_attrs(const struct kt_kvlist *first, const struct kt_kvlist *then, size_t *n_out,
		  Opentelemetry__Proto__Common__V1__KeyValue ***out, struct kt_arena *a);

/* Resource attributes (before the origin's), by reference. */
struct kt_otlp_res {
	size_t n;
	const struct kt_kv **kv;
};

/*
 * One kind of record in a request: span records (ExportTraceServiceRequest,
 * ResourceSpans, ScopeSpans, Span) or log records (ExportLogsServiceRequest,
 * ResourceLogs, ScopeLogs, LogRecord). The two families number their fields
 * alike (trace.proto, logs.proto): the request's groups are its field 1, a
 * group's resource and scopes its fields 1 and 2, a scope's scope and
 * records its fields 1 and 2; so one builder fills either, through the
 * protobuf-c descriptors.
 */
struct kt_otlp_kind {
	const char *scope_name;
	const ProtobufCMessageDescriptor *request_msg, *group_msg, *scope_msg;
	/* The record after rec in the batch (NULL: the last), and its origin (may be NULL). */
	const void *(*next)(const void *rec);
	const struct kt_origin *(*origin)(const void *rec);
	/*
	 * The resource attributes rec gets before its origin's; service holds
	 * one attribute, the configured service.name. Records with the same
	 * origin and the same resulting attributes share a group.
	 */
	int (*resource)(const void *rec, const struct kt_otlp_res *service,
			struct kt_otlp_res *out, struct kt_arena *a);
	/* rec as its OTLP message (Span, LogRecord); NULL when a's limit is reached. */
	ProtobufCMessage *(*map)(const void *rec, struct kt_arena *a);
};

/*
 * One request (of k->request_msg) holding every record linked from head
 * (may be NULL: no groups). NULL when a's limit is reached.
 */
ProtobufCMessage *kt_otlp_build_request(const struct kt_otlp_kind *k, const void *head,
					const struct kt_resource_cfg *cfg, struct kt_arena *a);

#endif

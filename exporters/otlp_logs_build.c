/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log records -> ExportLogsServiceRequest: the log record mapping; the
 * request's shape (groups, resources, scopes) is otlp_request.c's. As for
 * spans, only pointers and small structs are allocated; strings are
 * referenced where the records (and their origins) hold them.
 */
#include "exporters/otlp_logs_build.h"

#include "exporters/otlp_types.h"

typedef Opentelemetry__Proto__Logs__V1__LogRecord pb_log_record;

static pb_log_record *build_log(const struct kt_log *l, struct kt_arena *a)
{
	pb_log_record *o = kt_arena_alloc(a, sizeof(*o));
	pb_any *body = kt_arena_alloc(a, sizeof(*body));
	if (!o || !body)
		return NULL;
	opentelemetry__proto__logs__v1__log_record__init(o);
	o->time_unix_nano = l->time_unix_nano;
	o->observed_time_unix_nano = l->observed_time_unix_nano;
	o->severity_number = (Opentelemetry__Proto__Logs__V1__SeverityNumber)l->severity_number;
	o->severity_text = kt_otlp_str(l->severity_text);
	/* An empty message is still a string body. */
	struct kt_value bv = { .type = KT_VAL_STRING, .s = l->body };
	o->body = body;
	if (kt_otlp_value(body, &bv, a) ||
	    kt_otlp_attrs(&l->attrs, NULL, &o->n_attributes, &o->attributes, a))
		return NULL;
	int err = 0;
	if (l->trace_id.hi || l->trace_id.lo)
		o->trace_id = kt_otlp_trace_id(&l->trace_id, a, &err);
	if (l->span_id)
		o->span_id = kt_otlp_span_id(l->span_id, a, &err);
	return err ? NULL : o;
}

/* ------------------------------------------------------------------ request */

static const void *rec_next(const void *rec)
{
	return ((const struct kt_log_record *)rec)->next;
}

static const struct kt_origin *rec_origin(const void *rec)
{
	return ((const struct kt_log_record *)rec)->origin;
}

/*
 * A log record's resource is service.name, then its origin's attributes;
 * an origin that names its service (a probe's) names it alone.
 */
static int rec_resource(const void *rec, const struct kt_otlp_res *service,
			struct kt_otlp_res *out, struct kt_arena *a)
{
	(void)a;
	*out = *service;
	if (kt_otlp_origin_has_key(rec_origin(rec), service->kv[0]->key))
		out->n = 0;
	return 0;
}

static ProtobufCMessage *rec_map(const void *rec, struct kt_arena *a)
{
	pb_log_record *l = build_log(&((const struct kt_log_record *)rec)->log, a);
	return l ? &l->base : NULL;
}

static const struct kt_otlp_kind logs_kind = {
	.scope_name = KT_LOGS_SCOPE_NAME,
	.request_msg = &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
	.group_msg = &opentelemetry__proto__logs__v1__resource_logs__descriptor,
	.scope_msg = &opentelemetry__proto__logs__v1__scope_logs__descriptor,
	.next = rec_next,
	.origin = rec_origin,
	.resource = rec_resource,
	.map = rec_map,
};

kt_otlp_logs_request *kt_otlp_logs_build(const struct kt_log_record *head,
					 const struct kt_resource_cfg *cfg, struct kt_arena *a)
{
	/* The request's base is its first member. */
	return (kt_otlp_logs_request *)kt_otlp_build_request(&logs_kind, head, cfg, a);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log records -> ExportLogsServiceRequest. As for spans, only pointers and
 * small structs are allocated; strings are referenced where the records
 * (and their origins) hold them.
 */
#include "exporters/otlp_logs_build.h"

#include <string.h>

#include "exporters/otlp_types.h"

typedef Opentelemetry__Proto__Logs__V1__ResourceLogs pb_resource_logs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs pb_scope_logs;
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
	return o;
}

struct group {
	const struct kt_origin *origin;
	size_t n_logs;
	pb_scope_logs *sl;
};

kt_otlp_logs_request *kt_otlp_logs_build(const struct kt_log_record *head,
					 const struct kt_resource_cfg *cfg, struct kt_arena *a)
{
	kt_otlp_logs_request *req = kt_arena_alloc(a, sizeof(*req));
	if (!req)
		return NULL;
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(req);
	size_t n = 0;
	for (const struct kt_log_record *r = head; r; r = r->next)
		n++;
	if (!n)
		return req;

	const char *svc = cfg && cfg->service_name ? cfg->service_name : KT_DEFAULT_SERVICE_NAME;
	struct kt_kv *service = kt_arena_alloc(a, sizeof(*service));
	if (!service)
		return NULL;
	service->key = (struct kt_str){ "service.name", strlen("service.name") };
	service->value.type = KT_VAL_STRING;
	service->value.s = (struct kt_str){ svc, strlen(svc) };
	const struct kt_kvlist svc_list = { 1, service };

	/* Pass 1: one group per origin (the origin decides the resource), in order. */
	struct group *groups = kt_arena_calloc(a, n, sizeof(*groups));
	size_t *gidx = kt_arena_calloc(a, n, sizeof(*gidx));
	if (!groups || !gidx)
		return NULL;
	size_t n_groups = 0, i = 0;
	for (const struct kt_log_record *r = head; r; r = r->next, i++) {
		size_t g = 0;
		while (g < n_groups && groups[g].origin != r->origin)
			g++;
		if (g == n_groups)
			groups[n_groups++].origin = r->origin;
		groups[g].n_logs++;
		gidx[i] = g;
	}

	/* Pass 2: one ResourceLogs with a single ScopeLogs per group. */
	pb_resource_logs **rl_ptrs = kt_arena_calloc(a, n_groups, sizeof(*rl_ptrs));
	if (!rl_ptrs)
		return NULL;
	for (size_t g = 0; g < n_groups; g++) {
		pb_resource_logs *rl = kt_arena_alloc(a, sizeof(*rl));
		pb_scope_logs *sl = kt_arena_alloc(a, sizeof(*sl));
		pb_scope_logs **sl_ptrs = kt_arena_alloc(a, sizeof(*sl_ptrs));
		pb_scope *scope = kt_arena_alloc(a, sizeof(*scope));
		pb_resource *res = kt_arena_alloc(a, sizeof(*res));
		pb_log_record **logs = kt_arena_calloc(a, groups[g].n_logs, sizeof(*logs));
		if (!rl || !sl || !sl_ptrs || !scope || !res || !logs)
			return NULL;
		opentelemetry__proto__logs__v1__resource_logs__init(rl);
		opentelemetry__proto__logs__v1__scope_logs__init(sl);
		opentelemetry__proto__common__v1__instrumentation_scope__init(scope);
		opentelemetry__proto__resource__v1__resource__init(res);
		scope->name =
			kt_otlp_str((struct kt_str){ KT_LOGS_SCOPE_NAME, strlen(KT_LOGS_SCOPE_NAME) });
		const struct kt_origin *o = groups[g].origin;
		if (kt_otlp_attrs(&svc_list, o ? &o->attrs : NULL, &res->n_attributes,
				  &res->attributes, a))
			return NULL;
		sl->scope = scope;
		sl->log_records = logs;
		sl_ptrs[0] = sl;
		rl->resource = res;
		rl->n_scope_logs = 1;
		rl->scope_logs = sl_ptrs;
		groups[g].sl = sl;
		rl_ptrs[g] = rl;
	}
	i = 0;
	for (const struct kt_log_record *r = head; r; r = r->next, i++) {
		pb_scope_logs *sl = groups[gidx[i]].sl;
		pb_log_record *l = build_log(&r->log, a);
		if (!l)
			return NULL;
		sl->log_records[sl->n_log_records++] = l;
	}
	req->n_resource_logs = n_groups;
	req->resource_logs = rl_ptrs;
	return req;
}

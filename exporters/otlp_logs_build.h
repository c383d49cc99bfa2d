/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log records -> OTLP ExportLogsServiceRequest (protobuf-c structs).
 * Mapping rules: docs/exporters.md, "Logs".
 */
#ifndef KT_OTLP_LOGS_BUILD_H
#define KT_OTLP_LOGS_BUILD_H

#include "base/arena.h"
#include "exporters/otlp_request.h"
#include "model/log_record.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest kt_otlp_logs_request;

/* Scope of the guest journal's records. */
#define KT_LOGS_SCOPE_NAME "kata-journal"

/*
 * One request holding every record linked from head: one ResourceLogs per
 * origin, in order of first appearance, with a single ScopeLogs
 * "kata-journal" (the shape of otlp_request.h). Resource: service.name (cfg,
 * as for spans without one), then the origin's attributes. Everything is
 * allocated in a; the request points into the records. NULL on allocation
 * failure.
 */
kt_otlp_logs_request *kt_otlp_logs_build(const struct kt_log_record *head,
					 const struct kt_resource_cfg *cfg, struct kt_arena *a);

#endif

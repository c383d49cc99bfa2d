/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A log record a decoder made must export whatever the input was: built into
 * an ExportLogsServiceRequest of one resource, packed and read back by
 * protobuf-c, and written as valid UTF-8 OTLP/JSON. A violation traps, which
 * the fuzzer reports as a crash.
 */
#ifndef KT_FUZZ_LOG_CHECK_H
#define KT_FUZZ_LOG_CHECK_H

#include <stdint.h>
#include <stdlib.h>

#include "base/arena.h"
#include "base/arena.h"
#include "base/utf8.h"
#include "exporters/otlp_json.h"
#include "exporters/otlp_logs_build.h"
#include "exporters/otlp_pack.h"
#include "fuzz_check.h"

/* As the export thread and the exporters keep them: reused from one record to the next. */
static struct kt_arena log_req_arena;
static struct kt_text log_packed, log_json;

static void check_log_exports(const struct kt_log_record *r)
{
	kt_otlp_logs_request *req = kt_otlp_logs_build(r, NULL, &log_req_arena);
	if (req) {
		if (kt_otlp_pack(&req->base, 0, SIZE_MAX, &log_packed)) {
			kt_otlp_logs_request *back =
				opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
					NULL, log_packed.len, (const uint8_t *)log_packed.p);
			CHECK(back && back->n_resource_logs == 1);
			opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(
				back, NULL);
		}
		if (kt_otlp_logs_json_write(req, &log_json))
			CHECK(kt_utf8_check((const uint8_t *)log_json.p, log_json.len) == log_json.len);
	}
	kt_arena_reset(&log_req_arena);
}

#endif

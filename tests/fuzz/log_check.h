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
#include "base/utf8.h"
#include "exporters/otlp_json.h"
#include "exporters/otlp_logs_build.h"
#include "fuzz_check.h"

static void check_log_exports(const struct kt_log_record *r)
{
	struct kt_arena a;
	kt_arena_init(&a, 0);
	kt_otlp_logs_request *req = kt_otlp_logs_build(r, NULL, &a);
	if (req) {
		size_t n = opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(req);
		uint8_t *buf = malloc(n ? n : 1);
		if (buf) {
			opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(req, buf);
			kt_otlp_logs_request *back =
				opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
					NULL, n, buf);
			CHECK(back && back->n_resource_logs == 1);
			opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(
				back, NULL);
			free(buf);
		}
		size_t len;
		char *json = kt_otlp_logs_json_encode(req, &len);
		CHECK(!json || kt_utf8_check((const uint8_t *)json, len) == len);
		free(json);
	}
	kt_arena_free(&a);
}

#endif

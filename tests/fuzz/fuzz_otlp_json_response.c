/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/HTTP JSON answer fuzzer (exporters/otlp_common.c): what a collector
 * sends back to an http/json request, read as the exporter reads it: the
 * partial success of a 2xx answer (spans and logs) and the google.rpc.Status
 * of an error answer.
 *
 * Always: the results are one of their documented values; what is kept for
 * a log line is bounded, NUL-terminated and printable ASCII; a partial
 * success is only found in an object, and a count only where the body names
 * one; nothing over KT_OTLP_JSON_RESPONSE_MAX bytes is read; reading twice
 * gives the same.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "exporters/otlp_common.h"
#include "fuzz_check.h"

static bool printable(const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);
	if (!end)
		return false;
	for (; s < end; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

static bool names(const uint8_t *data, size_t size, const char *a, const char *b)
{
	return memmem(data, size, a, strlen(a)) || memmem(data, size, b, strlen(b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t first = 0;
	while (first < size && (data[first] == ' ' || data[first] == '\t' || data[first] == '\n' ||
				data[first] == '\r'))
		first++;
	bool object = first < size && data[first] == '{';

	for (int logs = 0; logs <= 1; logs++) {
		struct kt_otlp_partial_success ps, again;
		memset(&ps, 0x5a, sizeof(ps));
		int rc = kt_otlp_json_partial_success_parse(data, size, logs, &ps);
		CHECK(rc == -1 || rc == 0 || rc == 1);
		if (rc >= 0)
			CHECK(object && size <= KT_OTLP_JSON_RESPONSE_MAX);
		if (rc == 1) {
			CHECK(names(data, size, "partialSuccess", "partial_success"));
			CHECK(printable(ps.message, sizeof(ps.message)));
			CHECK(strlen(ps.message) <= KT_OTLP_EXCERPT_LEN + 3);
			if (ps.rejected_spans)
				CHECK(logs ? names(data, size, "rejectedLogRecords",
						   "rejected_log_records")
					   : names(data, size, "rejectedSpans", "rejected_spans"));
			CHECK(ps.rejected_spans || ps.message[0]);
			CHECK(kt_otlp_json_partial_success_parse(data, size, logs, &again) == 1);
			CHECK(again.rejected_spans == ps.rejected_spans);
			CHECK(strcmp(again.message, ps.message) == 0);
		} else {
			CHECK(kt_otlp_json_partial_success_parse(data, size, logs, &again) == rc);
		}
	}

	char out[KT_OTLP_STATUS_SIZE];
	memset(out, 0x5a, sizeof(out));
	bool ok = kt_otlp_json_status(data, size, out);
	CHECK(printable(out, sizeof(out)));
	CHECK(ok == (out[0] != '\0'));
	if (ok)
		CHECK(object && size <= KT_OTLP_JSON_RESPONSE_MAX &&
		      names(data, size, "\"code\"", "\"message\""));
	return 0;
}

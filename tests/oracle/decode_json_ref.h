/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test oracles for the JSON-era span decoder: the former json-c based
 * decoder, and a field-by-field comparison of two decoded spans.
 */
#ifndef KT_TEST_DECODE_JSON_REF_H
#define KT_TEST_DECODE_JSON_REF_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "model/decode_ctx.h"
#include "model/span.h"

/*
 * The same contract as kt_decode_json() (agent/decode.h): json-c builds a
 * tree after the strict scan of base/json_scan.h, and the span is read from
 * that tree. Slow; only the tests link it.
 */
int kt_decode_json_ref(const uint8_t *p, size_t n, struct kt_arena *a, struct kt_span *out,
		       struct kt_decode_error *err);

/*
 * What kt_decode_json_ref() charges against its arena's limit for p before
 * it parses (its estimate of json-c's tree); 0 when p is not JSON.
 */
uint64_t kt_decode_json_ref_cost(const uint8_t *p, size_t n);

/*
 * 0 when a and b hold the same span: every id, time, kind, string (length
 * and bytes), count, presence flag, attribute (key, type, value; doubles by
 * their bits), event, link and resource entry, and the same NULL-ness of
 * every list pointer. Otherwise -1 and the first difference in why.
 */
int kt_span_diff(const struct kt_span *a, const struct kt_span *b, char *why, size_t len);

#endif

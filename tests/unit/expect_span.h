/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers: golden vector files, and a field-by-field comparison of a
 * decoded span with its decoder-neutral expected_<label>.json.
 */
#ifndef KT_TEST_EXPECT_SPAN_H
#define KT_TEST_EXPECT_SPAN_H

#include <stddef.h>
#include <stdint.h>

#include "model/span.h"

/* Which encoding the span was decoded from; the JSON era loses float kinds. */
enum kt_era {
	KT_ERA_BINCODE,
	KT_ERA_JSON,
};

/* The span vector labels, in tests/vectors/stream_order.txt order. */
extern const char *const kt_test_labels[];
extern const size_t kt_test_n_labels;

/* Whole file under the vectors directory, plus a NUL (malloc'd; asserts it exists). */
uint8_t *kt_test_read_vector(const char *name, size_t *n);
/* Same for a printf-style name. */
uint8_t *kt_test_read_vectorf(size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * cr_expect every field of s against expected_<label>.json: ids, kind, name,
 * times, attributes (order, type, value; f64 by bits where given), max_len
 * and dropped counts, events/links/trace_state/resource presence and
 * contents. In the JSON era an expected NaN, +Inf or -Inf must decode to NaN.
 */
void kt_expect_span(const struct kt_span *s, const char *label, enum kt_era era);
/* The same comparison, counting the differing fields instead of failing. */
size_t kt_span_mismatches(const struct kt_span *s, const char *label, enum kt_era era);

#endif

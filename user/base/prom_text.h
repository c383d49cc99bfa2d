/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Prometheus text exposition format, version 0.0.4: a family's HELP and
 * TYPE lines, its samples with escaped label values, histograms with
 * cumulative buckets up to +Inf, _sum and _count. Writes into a kt_text
 * (base/text_buf.h); the caller checks its oom once at the end. Names (of
 * metrics and labels) are the caller's constants and are written as they
 * are; label values and help texts are escaped.
 */
#ifndef KT_PROM_TEXT_H
#define KT_PROM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "base/text_buf.h"

#define KT_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum kt_prom_type { KT_PROM_COUNTER, KT_PROM_GAUGE, KT_PROM_HISTOGRAM };

/* "counter", "gauge", "histogram". */
const char *kt_prom_type_name(enum kt_prom_type type);

struct kt_prom_label {
	const char *name;
	const char *value;
};

/* "# HELP name help" (help escaped) and "# TYPE name type". */
void kt_prom_family(struct kt_text *t, const char *name, enum kt_prom_type type, const char *help);

/* "name{l1="v1",...} value"; no braces without labels. */
void kt_prom_sample(struct kt_text *t, const char *name, const struct kt_prom_label *labels,
		    size_t n_labels, uint64_t value);

/*
 * One histogram's samples for one set of labels, times in nanoseconds shown
 * in seconds: name_bucket{...,le="B"} for each of the n_bounds bounds (in
 * increasing order) and le="+Inf", each counting the observations up to it
 * (cumulative), then name_sum and name_count (the +Inf bucket's count).
 * buckets has n_bounds + 1 entries, not cumulative: [i] for the
 * observations above bound i - 1 and up to bound i, [n_bounds] above the
 * last.
 */
void kt_prom_histogram_ns(struct kt_text *t, const char *name, const struct kt_prom_label *labels,
			  size_t n_labels, const uint64_t *bounds_ns, size_t n_bounds,
			  const uint64_t *buckets, uint64_t sum_ns);

/*
 * A label value as the format wants it between its quotes: backslash,
 * double quote and newline escaped (\\, \", \n); bytes that are not valid
 * UTF-8, and control characters other than newline, become U+FFFD.
 */
void kt_prom_label_value(struct kt_text *t, const char *value);

/* ns as decimal seconds, exactly and without trailing zeros: "0.005", "1", "2.5". */
void kt_prom_seconds(char out[32], uint64_t ns);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Prometheus text format writer (base/prom_text.c) against hand-written
 * expositions: HELP and TYPE lines, samples with and without labels, label
 * values escaped (backslash, double quote, newline) and made valid UTF-8,
 * histograms with cumulative buckets up to +Inf, _sum in seconds and _count.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "base/prom_text.h"

static struct kt_text t;

static void fresh(void)
{
	memset(&t, 0, sizeof(t));
}

static void done(void)
{
	free(t.p);
}

TestSuite(prom_text, .init = fresh, .fini = done);

static const char *text(void)
{
	cr_assert(!t.oom);
	return t.p ? t.p : "";
}

Test(prom_text, a_family_and_a_sample_without_labels)
{
	kt_prom_family(&t, "katatrace_frames_total", KT_PROM_COUNTER, "Complete frames.");
	kt_prom_sample(&t, "katatrace_frames_total", NULL, 0, 18446744073709551615ull);
	cr_expect_str_eq(text(), "# HELP katatrace_frames_total Complete frames.\n"
				 "# TYPE katatrace_frames_total counter\n"
				 "katatrace_frames_total 18446744073709551615\n");
}

Test(prom_text, help_escapes_backslash_and_newline_but_not_quotes)
{
	kt_prom_family(&t, "g", KT_PROM_GAUGE, "a \\ b\nc \"d\"");
	cr_expect_str_eq(text(), "# HELP g a \\\\ b\\nc \"d\"\n"
				 "# TYPE g gauge\n");
}

Test(prom_text, labels_in_order_with_their_values_escaped)
{
	struct kt_prom_label l[3] = {
		{ "exporter", "otlp-grpc" },
		{ "status", "a\\b\"c\nd" },
		{ "empty", "" },
	};
	kt_prom_sample(&t, "m_total", l, 3, 7);
	cr_expect_str_eq(text(), "m_total{exporter=\"otlp-grpc\",status=\"a\\\\b\\\"c\\nd\",empty=\"\"} 7\n");
}

Test(prom_text, label_values_are_made_valid_utf8)
{
	/* é (2 bytes) and € (3 bytes) pass; a lone continuation byte, a
	 * truncated sequence, a tab and DEL become U+FFFD */
	struct kt_prom_label l = { "v", "\xc3\xa9\xe2\x82\xac|\x80|\xe2\x82|\t|\x7f" };
	kt_prom_sample(&t, "m", &l, 1, 0);
	cr_expect_str_eq(text(), "m{v=\"\xc3\xa9\xe2\x82\xac|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
				 "\xef\xbf\xbd|\xef\xbf\xbd\"} 0\n");
}

Test(prom_text, a_null_label_value_is_empty)
{
	struct kt_prom_label l = { "v", NULL };
	kt_prom_sample(&t, "m", &l, 1, 1);
	cr_expect_str_eq(text(), "m{v=\"\"} 1\n");
}

Test(prom_text, seconds_from_nanoseconds_exactly)
{
	static const struct {
		uint64_t ns;
		const char *s;
	} cases[] = {
		{ 0, "0" },
		{ 1, "0.000000001" },
		{ 5000000, "0.005" },
		{ 25000000, "0.025" },
		{ 1000000000, "1" },
		{ 2500000000, "2.5" },
		{ 10000000000, "10" },
		{ 18446744073709551615ull, "18446744073.709551615" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[32];
		kt_prom_seconds(out, cases[i].ns);
		cr_expect_str_eq(out, cases[i].s, "%llu ns", (unsigned long long)cases[i].ns);
	}
}

Test(prom_text, a_histogram_has_cumulative_buckets_up_to_inf_a_sum_and_a_count)
{
	const uint64_t bounds[3] = { 5000000, 1000000000, 2500000000 };
	/* per bucket: 2 up to 5 ms, 0 up to 1 s, 3 up to 2.5 s, 1 above */
	const uint64_t buckets[4] = { 2, 0, 3, 1 };
	struct kt_prom_label l[2] = { { "exporter", "file" }, { "kind", "spans" } };
	kt_prom_family(&t, "d_seconds", KT_PROM_HISTOGRAM, "How long.");
	kt_prom_histogram_ns(&t, "d_seconds", l, 2, bounds, 3, buckets, 7250000001ull);
	cr_expect_str_eq(text(), "# HELP d_seconds How long.\n"
				 "# TYPE d_seconds histogram\n"
				 "d_seconds_bucket{exporter=\"file\",kind=\"spans\",le=\"0.005\"} 2\n"
				 "d_seconds_bucket{exporter=\"file\",kind=\"spans\",le=\"1\"} 2\n"
				 "d_seconds_bucket{exporter=\"file\",kind=\"spans\",le=\"2.5\"} 5\n"
				 "d_seconds_bucket{exporter=\"file\",kind=\"spans\",le=\"+Inf\"} 6\n"
				 "d_seconds_sum{exporter=\"file\",kind=\"spans\"} 7.250000001\n"
				 "d_seconds_count{exporter=\"file\",kind=\"spans\"} 6\n");
}

Test(prom_text, a_histogram_without_labels_or_observations)
{
	const uint64_t bounds[1] = { 100000000 };
	const uint64_t buckets[2] = { 0, 0 };
	kt_prom_histogram_ns(&t, "h", NULL, 0, bounds, 1, buckets, 0);
	cr_expect_str_eq(text(), "h_bucket{le=\"0.1\"} 0\n"
				 "h_bucket{le=\"+Inf\"} 0\n"
				 "h_sum 0\n"
				 "h_count 0\n");
}

Test(prom_text, type_names)
{
	cr_expect_str_eq(kt_prom_type_name(KT_PROM_COUNTER), "counter");
	cr_expect_str_eq(kt_prom_type_name(KT_PROM_GAUGE), "gauge");
	cr_expect_str_eq(kt_prom_type_name(KT_PROM_HISTOGRAM), "histogram");
}

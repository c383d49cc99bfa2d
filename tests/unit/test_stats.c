/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The counters split by cause (base/stats.h): each total is bumped with
 * its part, so it stays their sum; the kernel's counters land per program
 * and per table; export statuses get a row each up to the limit, then
 * share "other"; the latency histogram's buckets.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "base/stats.h"

static void reset(void)
{
	memset(&kt_stats, 0, sizeof(kt_stats));
}

TestSuite(stats, .init = reset);

Test(stats, a_drop_bumps_its_kinds_total_and_its_reason)
{
	kt_stat_drop(KT_REC_SPANS, KT_DROP_QUEUE_FULL, 3);
	kt_stat_drop(KT_REC_SPANS, KT_DROP_MEMORY_BUDGET, 1);
	kt_stat_drop(KT_REC_LOGS, KT_DROP_UNSUPPORTED, 2);
	cr_expect_eq(KT_STAT_GET(spans_dropped), 4);
	cr_expect_eq(kt_stats.spans_dropped_by[KT_DROP_QUEUE_FULL], 3);
	cr_expect_eq(kt_stats.spans_dropped_by[KT_DROP_MEMORY_BUDGET], 1);
	cr_expect_eq(kt_stats.spans_dropped_by[KT_DROP_UNSUPPORTED], 0);
	cr_expect_eq(KT_STAT_GET(logs_dropped), 2);
	cr_expect_eq(kt_stats.logs_dropped_by[KT_DROP_UNSUPPORTED], 2);
	cr_expect_eq(kt_stats.logs_dropped_by[KT_DROP_QUEUE_FULL], 0);
}

Test(stats, a_decode_error_bumps_the_total_and_its_format)
{
	kt_stat_decode_error(KT_DFMT_AGENT_JSON);
	kt_stat_decode_error(KT_DFMT_TTRPC);
	kt_stat_decode_error(KT_DFMT_TTRPC);
	cr_expect_eq(KT_STAT_GET(decode_errors), 3);
	cr_expect_eq(kt_stats.decode_errors_by[KT_DFMT_AGENT_JSON], 1);
	cr_expect_eq(kt_stats.decode_errors_by[KT_DFMT_TTRPC], 2);
	cr_expect_eq(kt_stats.decode_errors_by[KT_DFMT_AGENT_BINCODE], 0);
}

Test(stats, the_label_values)
{
	cr_expect_str_eq(kt_drop_reason_names[KT_DROP_QUEUE_FULL], "queue_full");
	cr_expect_str_eq(kt_drop_reason_names[KT_DROP_SHUTDOWN], "shutdown_timeout");
	cr_expect_str_eq(kt_decode_format_names[KT_DFMT_JAEGER_THRIFT], "jaeger_thrift");
	cr_expect_str_eq(kt_bpf_program_names[KT_PROG_VSOCK_CAPTURE], "vsock_capture");
	cr_expect_str_eq(kt_bpf_table_names[KT_TABLE_VSOCK_CONNECTIONS], "vsock_connections");
	cr_expect_str_eq(kt_http_bad_names[KT_HTTP_BAD_UNANSWERED], "unanswered");
	cr_expect_str_eq(kt_record_kind_names[KT_REC_LOGS], "logs");
}

Test(stats, kernel_counters_land_per_program_and_table)
{
	uint64_t c[KT_CNT__MAX] = { 0 };
	c[KT_CNT_RB_FAIL] = 5;
	c[KT_CNT_VSOCK_RB_FAIL] = 7;
	c[KT_CNT_VM_RB_FAIL] = 11;
	c[KT_CNT_PROBE_RB_FAIL] = 1000; /* the probe command's: not the daemon's */
	c[KT_CNT_STREAM_FULL] = 2;
	c[KT_CNT_VM_PROCS_FULL] = 3;
	c[KT_CNT_VM_CONNS_FULL] = 4;
	kt_stats_kernel(c);
	cr_expect_eq(kt_stats.ringbuf_lost[KT_PROG_UNIX_CAPTURE], 5);
	cr_expect_eq(kt_stats.ringbuf_lost[KT_PROG_VSOCK_CAPTURE], 7);
	cr_expect_eq(kt_stats.ringbuf_lost[KT_PROG_VM_EVENTS], 11);
	cr_expect_eq(KT_STAT_GET(lost_records), 12, "the capture's records: both programs");
	cr_expect_eq(kt_stats.bpf_table_full[KT_TABLE_STREAMS], 2);
	cr_expect_eq(kt_stats.bpf_table_full[KT_TABLE_HYPERVISORS], 3);
	cr_expect_eq(kt_stats.bpf_table_full[KT_TABLE_VSOCK_CONNECTIONS], 4);
	/* Read again later: the values are the kernel's totals, not increments. */
	c[KT_CNT_RB_FAIL] = 6;
	kt_stats_kernel(c);
	cr_expect_eq(kt_stats.ringbuf_lost[KT_PROG_UNIX_CAPTURE], 6);
	cr_expect_eq(KT_STAT_GET(lost_records), 13);
}

static const struct kt_export_status *row(const char *name)
{
	for (uint32_t i = 0; i < kt_stats.n_export_status; i++)
		if (strcmp(kt_stats.export_status[i].name, name) == 0)
			return &kt_stats.export_status[i];
	return NULL;
}

Test(stats, export_statuses_get_a_row_each_then_share_other)
{
	kt_stat_export_failed("UNAVAILABLE");
	kt_stat_export_retried("UNAVAILABLE");
	kt_stat_export_failed("503");
	kt_stat_export_failed(NULL);
	kt_stat_export_failed("");
	cr_assert_eq(kt_stats.n_export_status, 3);
	cr_expect_eq(row("UNAVAILABLE")->failed, 1);
	cr_expect_eq(row("UNAVAILABLE")->retried, 1);
	cr_expect_eq(row("503")->failed, 1);
	cr_expect_eq(row("unknown")->failed, 2, "no status: unknown");
	/* 20 more distinct statuses: the rows run out, the rest is "other". */
	for (int i = 0; i < 20; i++) {
		char s[16];
		snprintf(s, sizeof(s), "s%d", i);
		kt_stat_export_failed(s);
	}
	cr_expect_eq(kt_stats.n_export_status, KT_EXPORT_STATUSES);
	cr_expect_str_eq(kt_stats.export_status[KT_EXPORT_STATUSES - 1].name, "other");
	cr_expect_eq(row("other")->failed, 20 - (KT_EXPORT_STATUSES - 1 - 3));
	cr_expect_eq(KT_STAT_GET(export_errors), 24);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < kt_stats.n_export_status; i++)
		sum += kt_stats.export_status[i].failed;
	cr_expect_eq(sum, KT_STAT_GET(export_errors), "the total is the sum of the rows");
	/* A status with a row keeps it once the rows are full. */
	kt_stat_export_failed("503");
	cr_expect_eq(row("503")->failed, 2);
}

Test(stats, a_long_status_is_cut_to_the_rows_width)
{
	kt_stat_export_failed("a_status_much_longer_than_twenty_four_bytes");
	cr_assert_eq(kt_stats.n_export_status, 1);
	cr_expect_eq(strlen(kt_stats.export_status[0].name), KT_EXPORT_STATUS_LEN - 1);
	cr_expect_str_eq(kt_stats.export_status[0].name, "a_status_much_longer_th");
}

Test(stats, latencies_land_in_the_bucket_of_their_bound)
{
	kt_stat_export_latency(KT_REC_SPANS, 1);            /* <= 5 ms */
	kt_stat_export_latency(KT_REC_SPANS, 5000000);      /* exactly 5 ms: le="0.005" */
	kt_stat_export_latency(KT_REC_SPANS, 5000001);      /* <= 10 ms */
	kt_stat_export_latency(KT_REC_SPANS, 10000000000);  /* exactly 10 s */
	kt_stat_export_latency(KT_REC_SPANS, 10000000001);  /* above every bound */
	kt_stat_export_latency(KT_REC_LOGS, 300000000);     /* <= 500 ms */
	const struct kt_latency *s = &kt_stats.export_latency[KT_REC_SPANS];
	cr_expect_eq(s->buckets[0], 2);
	cr_expect_eq(s->buckets[1], 1);
	cr_expect_eq(s->buckets[KT_LATENCY_BUCKETS - 1], 1);
	cr_expect_eq(s->buckets[KT_LATENCY_BUCKETS], 1);
	cr_expect_eq(s->sum_ns, 1 + 5000000 + 5000001 + 10000000000ull + 10000000001ull);
	cr_expect_eq(kt_stats.export_latency[KT_REC_LOGS].buckets[6], 1);
}

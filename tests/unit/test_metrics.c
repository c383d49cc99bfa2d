/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metrics table and its exposition (base/metrics.c): counters, split
 * counters, gauges, export statuses and the latency histogram as lines
 * written here by hand; the naming rules of every family; promtool's check
 * of a whole exposition; the table against docs/operations.md, both ways;
 * /healthz and /readyz's state.
 */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "base/metrics.h"
#include "base/stats.h"

static char *expo;
static size_t expo_len;

static void reset(void)
{
	memset(&kt_stats, 0, sizeof(kt_stats));
	memset(&kt_gauges, 0, sizeof(kt_gauges));
	kt_stats_set_exporter(NULL);
	expo = NULL;
}

static void release(void)
{
	free(expo);
}

TestSuite(metrics, .init = reset, .fini = release);

static const char *exposition(void)
{
	free(expo);
	expo = kt_metrics_exposition(&expo_len);
	cr_assert_not_null(expo);
	cr_assert_eq(strlen(expo), expo_len);
	return expo;
}

/* The exposition has this line, whole. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

#define expect_line(line) cr_expect(has_line(exposition(), line), "no line: %s", line)

Test(metrics, counters_as_their_stats_say)
{
	kt_stats.spans_exported = 64;
	kt_stats.bytes_captured = 2087354;
	kt_stats.conns_refused = 3;
	expect_line("katatrace_spans_exported_total 64");
	expect_line("katatrace_captured_bytes_total 2087354");
	expect_line("katatrace_connections_refused_total 3");
	expect_line("katatrace_stream_gaps_total 0");
	expect_line("# TYPE katatrace_spans_exported_total counter");
	expect_line("# HELP katatrace_spans_exported_total Spans the exporter accepted.");
}

Test(metrics, split_counters_by_their_label)
{
	kt_stat_drop(KT_REC_SPANS, KT_DROP_QUEUE_FULL, 5);
	kt_stat_drop(KT_REC_SPANS, KT_DROP_SHUTDOWN, 2);
	kt_stat_drop(KT_REC_LOGS, KT_DROP_UNSUPPORTED, 1);
	kt_stat_decode_error(KT_DFMT_JAEGER_THRIFT);
	kt_stats.frames_oversize = 4;
	kt_stats.frames_truncated = 9;
	uint64_t c[KT_CNT__MAX] = { 0 };
	c[KT_CNT_VSOCK_RB_FAIL] = 12;
	c[KT_CNT_VM_CONNS_FULL] = 1;
	kt_stats_kernel(c);
	const char *e = exposition();
	cr_expect(has_line(e, "katatrace_spans_dropped_total{reason=\"queue_full\"} 5"));
	cr_expect(has_line(e, "katatrace_spans_dropped_total{reason=\"shutdown_timeout\"} 2"));
	cr_expect(has_line(e, "katatrace_spans_dropped_total{reason=\"export_failed\"} 0"),
		  "every reason is shown, zeros too");
	cr_expect(has_line(e, "katatrace_log_records_dropped_total{reason=\"unsupported\"} 1"));
	cr_expect(has_line(e, "katatrace_decode_errors_total{format=\"jaeger_thrift\"} 1"));
	cr_expect(has_line(e, "katatrace_decode_errors_total{format=\"agent_json\"} 0"));
	cr_expect(has_line(e, "katatrace_frames_rejected_total{reason=\"oversize\"} 4"));
	cr_expect(has_line(e, "katatrace_frames_rejected_total{reason=\"truncated\"} 9"));
	cr_expect(has_line(e, "katatrace_ringbuf_records_lost_total{program=\"unix_capture\"} 0"));
	cr_expect(has_line(e, "katatrace_ringbuf_records_lost_total{program=\"vsock_capture\"} 12"));
	cr_expect(has_line(e, "katatrace_ringbuf_records_lost_total{program=\"vm_events\"} 0"));
	cr_expect(has_line(e, "katatrace_bpf_table_full_total{table=\"vsock_connections\"} 1"));
	cr_expect(has_line(e, "katatrace_takeovers_total{result=\"given\"} 0"));
	cr_expect(has_line(e, "katatrace_takeovers_total{result=\"failed\"} 0"));
}

Test(metrics, takeovers_by_result_and_what_the_handover_left)
{
	KT_STAT_INC(takeovers_refused);
	KT_STAT_INC(takeovers_refused);
	KT_STAT_INC(takeovers_failed);
	KT_STAT_ADD(handover_calls_dropped, 3);
	KT_STAT_INC(resume_ignored);
	const char *e = exposition();
	cr_expect(has_line(e, "katatrace_takeovers_total{result=\"given\"} 0"));
	cr_expect(has_line(e, "katatrace_takeovers_total{result=\"refused\"} 2"));
	cr_expect(has_line(e, "katatrace_takeovers_total{result=\"failed\"} 1"));
	cr_expect(has_line(e, "katatrace_handover_calls_dropped_total 3"));
	cr_expect(has_line(e, "katatrace_handover_resumes_ignored_total 1"));
}

Test(metrics, gauges_as_the_tick_published_them)
{
	KT_GAUGE_SET(sandboxes, 2);
	KT_GAUGE_SET(connections, 5);
	KT_GAUGE_SET(queue[KT_REC_SPANS], 100);
	KT_GAUGE_SET(queue[KT_REC_LOGS], 1);
	KT_GAUGE_SET(queue_capacity, 100000);
	KT_GAUGE_SET(memory_used, 4096);
	KT_GAUGE_SET(memory_budget, 268435456);
	const char *e = exposition();
	cr_expect(has_line(e, "# TYPE katatrace_sandboxes gauge"));
	cr_expect(has_line(e, "katatrace_sandboxes 2"));
	cr_expect(has_line(e, "katatrace_connections 5"));
	cr_expect(has_line(e, "katatrace_export_queue_records{kind=\"spans\"} 100"));
	cr_expect(has_line(e, "katatrace_export_queue_records{kind=\"logs\"} 1"));
	cr_expect(has_line(e, "katatrace_export_queue_capacity_records 100000"));
	cr_expect(has_line(e, "katatrace_memory_budget_used_bytes 4096"));
	cr_expect(has_line(e, "katatrace_memory_budget_bytes 268435456"));
}

Test(metrics, export_failures_and_retries_by_exporter_and_status)
{
	kt_stats_set_exporter("otlp-grpc");
	kt_stat_export_failed("UNAVAILABLE");
	kt_stat_export_failed("UNAVAILABLE");
	kt_stat_export_retried("UNAVAILABLE");
	kt_stat_export_failed("400");
	const char *e = exposition();
	cr_expect(has_line(e, "katatrace_export_failures_total{exporter=\"otlp-grpc\",status=\"UNAVAILABLE\"} 2"));
	cr_expect(has_line(e, "katatrace_export_failures_total{exporter=\"otlp-grpc\",status=\"400\"} 1"));
	cr_expect(has_line(e, "katatrace_export_retries_total{exporter=\"otlp-grpc\",status=\"UNAVAILABLE\"} 1"));
	cr_expect(has_line(e, "katatrace_export_retries_total{exporter=\"otlp-grpc\",status=\"400\"} 0"));
}

Test(metrics, no_export_status_yet_no_sample_but_the_family)
{
	const char *e = exposition();
	cr_expect(has_line(e, "# TYPE katatrace_export_failures_total counter"));
	cr_expect_null(strstr(e, "katatrace_export_failures_total{"));
}

Test(metrics, the_export_latency_histogram)
{
	kt_stats_set_exporter("file");
	kt_stat_export_latency(KT_REC_SPANS, 3000000);    /* 3 ms */
	kt_stat_export_latency(KT_REC_SPANS, 40000000);   /* 40 ms */
	kt_stat_export_latency(KT_REC_SPANS, 12000000000); /* 12 s: above every bound */
	const char *e = exposition();
	static const char *const want[] = {
		"# TYPE katatrace_export_duration_seconds histogram",
		"katatrace_export_duration_seconds_bucket{exporter=\"file\",kind=\"spans\",le=\"0.005\"} 1",
		"katatrace_export_duration_seconds_bucket{exporter=\"file\",kind=\"spans\",le=\"0.01\"} 1",
		"katatrace_export_duration_seconds_bucket{exporter=\"file\",kind=\"spans\",le=\"0.025\"} 1",
		"katatrace_export_duration_seconds_bucket{exporter=\"file\",kind=\"spans\",le=\"0.05\"} 2",
		"katatrace_export_duration_seconds_bucket{exporter=\"file\",kind=\"spans\",le=\"0.1\"} 2",
		"katatrace_export_duration_seconds_bucket{exporter=\"file\",kind=\"spans\",le=\"10\"} 2",
		"katatrace_export_duration_seconds_bucket{exporter=\"file\",kind=\"spans\",le=\"+Inf\"} 3",
		"katatrace_export_duration_seconds_sum{exporter=\"file\",kind=\"spans\"} 12.043",
		"katatrace_export_duration_seconds_count{exporter=\"file\",kind=\"spans\"} 3",
		"katatrace_export_duration_seconds_bucket{exporter=\"file\",kind=\"logs\",le=\"+Inf\"} 0",
		"katatrace_export_duration_seconds_count{exporter=\"file\",kind=\"logs\"} 0",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect(has_line(e, want[i]), "no line: %s", want[i]);
}

/* ------------------------------------------------------------ the families' rules */

static bool name_ok(const char *s)
{
	regex_t re;
	cr_assert_eq(regcomp(&re, "^katatrace_[a-z][a-z0-9_]*[a-z0-9]$", REG_EXTENDED | REG_NOSUB), 0);
	bool ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

Test(metrics, every_family_follows_the_naming_rules)
{
	for (size_t i = 0; i < kt_n_metrics; i++) {
		const struct kt_metric *m = &kt_metrics[i];
		cr_expect(name_ok(m->name), "%s: not katatrace_ in snake case", m->name);
		cr_expect_eq(ends_with(m->name, "_total"), m->type == KT_PROM_COUNTER,
			     "%s: counters end in _total, nothing else does", m->name);
		if (m->type == KT_PROM_HISTOGRAM)
			cr_expect(ends_with(m->name, "_seconds"), "%s: a unit", m->name);
		cr_expect(m->help && m->help[0] && m->from && m->from[0], "%s: help, from", m->name);
		for (size_t j = 0; j < i; j++)
			cr_expect_str_neq(kt_metrics[j].name, m->name, "%s twice", m->name);
		cr_expect_eq(kt_metric_find(m->name), m);
		/* Low cardinality: labels of fixed values, or exporter, status, kind. */
		cr_expect_null(strstr(m->labels, "id"), "%s: no ids as labels", m->name);
		if (m->source == KT_METRIC_BY) {
			cr_expect_str_eq(m->labels, m->label, "%s", m->name);
			cr_expect_gt(m->n, 0);
		}
	}
	cr_expect_null(kt_metric_find("katatrace_nothing_total"));
}

/* Each family: HELP then TYPE once, then only its own samples, in the table's order. */
Test(metrics, the_exposition_is_the_table_in_order)
{
	kt_stats_set_exporter("otlp-http");
	kt_stat_export_failed("503");
	const char *e = exposition();
	size_t fam = 0;
	const struct kt_metric *cur = NULL;
	char line[1024];
	for (const char *p = e; *p;) {
		const char *nl = strchr(p, '\n');
		cr_assert_not_null(nl, "the exposition ends with a newline");
		size_t n = (size_t)(nl - p);
		cr_assert_lt(n, sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (strncmp(line, "# HELP ", 7) == 0) {
			cr_assert_lt(fam, kt_n_metrics, "more families than the table has");
			cur = &kt_metrics[fam++];
			char want[512];
			snprintf(want, sizeof(want), "# HELP %s ", cur->name);
			cr_expect_eq(strncmp(line, want, strlen(want)), 0, "%s", line);
			continue;
		}
		cr_assert_not_null(cur, "a line before any family: %s", line);
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char want[512];
			snprintf(want, sizeof(want), "# TYPE %s %s", cur->name, kt_prom_type_name(cur->type));
			cr_expect_str_eq(line, want);
			continue;
		}
		size_t k = strlen(cur->name);
		cr_expect_eq(strncmp(line, cur->name, k), 0, "%s outside its family", line);
		const char *rest = line + k;
		if (cur->type == KT_PROM_HISTOGRAM) {
			cr_expect(strncmp(rest, "_bucket{", 8) == 0 || strncmp(rest, "_sum{", 5) == 0 ||
					  strncmp(rest, "_count{", 7) == 0,
				  "%s", line);
		} else {
			cr_expect(*rest == ' ' || *rest == '{', "%s", line);
		}
	}
	cr_expect_eq(fam, kt_n_metrics, "every family of the table");
}

/* ------------------------------------------------------------ promtool */

/* promtool check metrics on text; its exit status, its output in out. */
static int promtool(const char *text, size_t len, char *out, size_t cap)
{
	char path[] = "/tmp/kt-metrics-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f, "promtool (Debian's prometheus package)");
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	int st = pclose(f);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(metrics, promtool_passes_an_exposition_with_every_kind_of_sample)
{
	/* a sample in every family, label values that need escaping among them */
	kt_stats_set_exporter("otlp-grpc");
	kt_stat_export_failed("UNAVAILABLE");
	kt_stat_export_failed("quote\"back\\slash\nnewline");
	kt_stat_export_retried("UNAVAILABLE");
	kt_stat_export_latency(KT_REC_SPANS, 30000000);
	kt_stat_export_latency(KT_REC_LOGS, 20000000000ull);
	kt_stat_drop(KT_REC_SPANS, KT_DROP_QUEUE_FULL, 1);
	kt_stat_decode_error(KT_DFMT_AGENT_BINCODE);
	KT_GAUGE_SET(sandboxes, 1);
	const char *e = exposition();
	char out[8192];
	int rc = promtool(e, expo_len, out, sizeof(out));
	cr_expect_eq(rc, 0, "promtool check metrics: %s", out);
	cr_expect_str_eq(out, "", "promtool has nothing to say");
}

Test(metrics, promtool_fails_a_broken_exposition)
{
	/* The check itself: promtool's lint refuses a counter without _total. */
	static const char bad[] = "# HELP katatrace_frames Complete frames.\n"
				  "# TYPE katatrace_frames counter\n"
				  "katatrace_frames 1\n";
	char out[8192];
	cr_expect_neq(promtool(bad, sizeof(bad) - 1, out, sizeof(out)), 0, "%s", out);
}

/* ------------------------------------------------------------ docs/operations.md */

#define DOCS KT_TEST_VECTORS "/../../docs/operations.md"

struct doc_row {
	char name[128];
	char type[32];
	char labels[128]; /* the backticked names of the labels column, comma-joined */
	char line[4096];
};

/* The cell after the n-th '|' of a table row, trimmed. */
static void cell(const char *line, int n, char *out, size_t cap)
{
	const char *p = line;
	for (int i = 0; i < n && p; i++) {
		p = strchr(p, '|');
		if (p)
			p++;
	}
	out[0] = '\0';
	if (!p)
		return;
	while (*p == ' ')
		p++;
	const char *end = strchr(p, '|');
	size_t len = end ? (size_t)(end - p) : strlen(p);
	while (len && p[len - 1] == ' ')
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}

/* "`a`, `b`" -> "a,b"; "—" -> "". */
static void backticked(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (const char *p = s; (p = strchr(p, '`')) != NULL;) {
		const char *q = strchr(p + 1, '`');
		if (!q)
			break;
		size_t len = (size_t)(q - p - 1);
		if (o + len + 2 < cap) {
			if (o)
				out[o++] = ',';
			memcpy(out + o, p + 1, len);
			o += len;
			out[o] = '\0';
		}
		p = q + 1;
	}
}

static size_t read_doc_rows(struct doc_row *rows, size_t cap)
{
	FILE *f = fopen(DOCS, "r");
	cr_assert_not_null(f, "%s", DOCS);
	char line[4096];
	size_t n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "| `katatrace_", 13) != 0)
			continue;
		cr_assert_lt(n, cap);
		struct doc_row *r = &rows[n++];
		char c[4096];
		cell(line, 1, c, sizeof(c));
		backticked(c, r->name, sizeof(r->name));
		cell(line, 2, r->type, sizeof(r->type));
		cell(line, 3, c, sizeof(c));
		backticked(c, r->labels, sizeof(r->labels));
		snprintf(r->line, sizeof(r->line), "%s", line);
	}
	fclose(f);
	return n;
}

Test(metrics, docs_list_every_metric_with_its_type_labels_and_values)
{
	static struct doc_row rows[128];
	size_t n = read_doc_rows(rows, 128);
	for (size_t i = 0; i < kt_n_metrics; i++) {
		const struct kt_metric *m = &kt_metrics[i];
		const struct doc_row *r = NULL;
		for (size_t j = 0; j < n && !r; j++)
			if (strcmp(rows[j].name, m->name) == 0)
				r = &rows[j];
		cr_expect_not_null(r, "%s is not in docs/operations.md", m->name);
		if (!r)
			continue;
		cr_expect_str_eq(r->type, kt_prom_type_name(m->type), "%s: its type", m->name);
		cr_expect_str_eq(r->labels, m->labels, "%s: its labels", m->name);
		/* A fixed set of label values: each named in its row. */
		for (size_t v = 0; m->source == KT_METRIC_BY && v < m->n; v++) {
			char want[128];
			snprintf(want, sizeof(want), "`%s`", m->label_values[v]);
			cr_expect_not_null(strstr(r->line, want), "%s: the value %s is not in its row",
					   m->name, want);
		}
	}
	for (size_t j = 0; j < n; j++)
		cr_expect_not_null(kt_metric_find(rows[j].name),
				   "docs/operations.md lists %s, which the daemon does not have",
				   rows[j].name);
}

/* ------------------------------------------------------------ health and readiness */

Test(metrics, ready_only_between_start_up_and_shutdown)
{
	kt_metrics_set_state(KT_RUN_STARTING);
	cr_expect_not(kt_metrics_ready());
	kt_metrics_set_state(KT_RUN_READY);
	cr_expect(kt_metrics_ready());
	kt_metrics_set_state(KT_RUN_STOPPING);
	cr_expect_not(kt_metrics_ready());
	kt_metrics_set_state(KT_RUN_STARTING);
}

Test(metrics, healthy_while_the_loop_ticks)
{
	kt_metrics_loop_ended();
	cr_expect_not(kt_metrics_healthy(1000), "no loop yet");
	uint64_t t = 50ull * 1000000000ull;
	kt_metrics_heartbeat(t);
	cr_expect(kt_metrics_healthy(t));
	cr_expect(kt_metrics_healthy(t + KT_HEALTH_STALE_NS - 1));
	cr_expect_not(kt_metrics_healthy(t + KT_HEALTH_STALE_NS), "a loop stuck for 10 s");
	kt_metrics_loop_ended();
	cr_expect_not(kt_metrics_healthy(t), "the loop has ended");
}

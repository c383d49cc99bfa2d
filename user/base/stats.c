/* SPDX-License-Identifier: Apache-2.0 */
#include "base/stats.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "base/diag.h"

struct kt_stats kt_stats;

#define KT_STATS_NAME(e, name, desc) #name,
const char *const kt_drop_reason_names[KT_DROP__N] = { KT_DROP_REASONS(KT_STATS_NAME) };
const char *const kt_decode_format_names[KT_DFMT__N] = { KT_DECODE_FORMATS(KT_STATS_NAME) };
const char *const kt_bpf_program_names[KT_PROG__N] = { KT_BPF_PROGRAMS(KT_STATS_NAME) };
const char *const kt_bpf_table_names[KT_TABLE__N] = { KT_BPF_TABLES(KT_STATS_NAME) };
const char *const kt_http_handler_names[KT_HTTP__N] = { KT_HTTP_HANDLERS(KT_STATS_NAME) };
const char *const kt_http_bad_names[KT_HTTP_BAD__N] = { KT_HTTP_BAD_REASONS(KT_STATS_NAME) };
#undef KT_STATS_NAME
const char *const kt_record_kind_names[KT_REC__N] = { "spans", "logs" };

/* Prometheus's default buckets: 5 ms to 10 s. */
const uint64_t kt_latency_bounds_ns[KT_LATENCY_BUCKETS] = {
	5000000ull,   10000000ull,  25000000ull,   50000000ull,   100000000ull,  250000000ull,
	500000000ull, 1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull,
};

static void add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static void store(uint64_t *counter, uint64_t v)
{
	__atomic_store_n(counter, v, __ATOMIC_RELAXED);
}

void kt_stat_drop(enum kt_record_kind k, enum kt_drop_reason why, uint64_t n)
{
	if (why >= KT_DROP__N)
		why = KT_DROP_NO_MEMORY;
	if (k == KT_REC_LOGS) {
		add(&kt_stats.logs_dropped, n);
		add(&kt_stats.logs_dropped_by[why], n);
	} else {
		add(&kt_stats.spans_dropped, n);
		add(&kt_stats.spans_dropped_by[why], n);
	}
}

void kt_stat_decode_error(enum kt_decode_format f)
{
	if (f >= KT_DFMT__N)
		return;
	add(&kt_stats.decode_errors, 1);
	add(&kt_stats.decode_errors_by[f], 1);
}

void kt_stats_kernel(const uint64_t c[KT_CNT__MAX])
{
	store(&kt_stats.ringbuf_lost[KT_PROG_UNIX_CAPTURE], c[KT_CNT_RB_FAIL]);
	store(&kt_stats.ringbuf_lost[KT_PROG_VSOCK_CAPTURE], c[KT_CNT_VSOCK_RB_FAIL]);
	store(&kt_stats.ringbuf_lost[KT_PROG_VM_EVENTS], c[KT_CNT_VM_RB_FAIL]);
	/* The capture's records: what the summary calls lost records. */
	store(&kt_stats.lost_records, c[KT_CNT_RB_FAIL] + c[KT_CNT_VSOCK_RB_FAIL]);
	store(&kt_stats.bpf_table_full[KT_TABLE_STREAMS], c[KT_CNT_STREAM_FULL]);
	store(&kt_stats.bpf_table_full[KT_TABLE_HYPERVISORS], c[KT_CNT_VM_PROCS_FULL]);
	store(&kt_stats.bpf_table_full[KT_TABLE_VSOCK_CONNECTIONS], c[KT_CNT_VM_CONNS_FULL]);
}

/* ------------------------------------------------------------ export statuses */

/* Claims rows; readers take n_export_status with acquire and read rows below it. */
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;

static struct kt_export_status *find_status(const char *name, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(kt_stats.export_status[i].name, name) == 0)
			return &kt_stats.export_status[i];
	return NULL;
}

/* The row of status, made when it is new; the last row is "other". */
static struct kt_export_status *status_row(const char *status)
{
	char name[KT_EXPORT_STATUS_LEN];
	const char *s = status && *status ? status : "unknown";
	size_t len = strnlen(s, sizeof(name) - 1);
	memcpy(name, s, len);
	name[len] = '\0';

	struct kt_export_status *r =
		find_status(name, __atomic_load_n(&kt_stats.n_export_status, __ATOMIC_ACQUIRE));
	if (r)
		return r;
	pthread_mutex_lock(&status_lock);
	uint32_t n = __atomic_load_n(&kt_stats.n_export_status, __ATOMIC_ACQUIRE);
	r = find_status(name, n);
	if (!r && n >= KT_EXPORT_STATUSES - 1) {
		strcpy(name, "other");
		r = find_status(name, n);
	}
	if (!r && n < KT_EXPORT_STATUSES) {
		r = &kt_stats.export_status[n];
		memcpy(r->name, name, sizeof(name));
		__atomic_store_n(&kt_stats.n_export_status, n + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&status_lock);
	return r;
}

void kt_stat_export_failed(const char *status)
{
	add(&kt_stats.export_errors, 1);
	struct kt_export_status *r = status_row(status);
	if (r)
		add(&r->failed, 1);
}

void kt_stat_export_retried(const char *status)
{
	add(&kt_stats.export_retries, 1);
	struct kt_export_status *r = status_row(status);
	if (r)
		add(&r->retried, 1);
}

void kt_stat_export_latency(enum kt_record_kind k, uint64_t ns)
{
	if (k >= KT_REC__N)
		return;
	struct kt_latency *l = &kt_stats.export_latency[k];
	size_t i = 0;
	while (i < KT_LATENCY_BUCKETS && ns > kt_latency_bounds_ns[i])
		i++;
	add(&l->buckets[i], 1);
	add(&l->sum_ns, ns);
}

static const char *exporter_name;

void kt_stats_set_exporter(const char *name)
{
	__atomic_store_n(&exporter_name, name, __ATOMIC_RELEASE);
}

const char *kt_stats_exporter(void)
{
	const char *n = __atomic_load_n(&exporter_name, __ATOMIC_ACQUIRE);
	return n ? n : "";
}

void kt_stats_summary(FILE *out, enum kt_stats_when when)
{
	/* A log reader must tell "still running" from "exited". */
	bool final = when == KT_STATS_FINAL;
	const char *also = final ? "" : " (running totals)";
	/* Each counter read once: the line and its members say the same. */
	uint64_t logs_decoded = KT_STAT_GET(logs_decoded), logs_exported = KT_STAT_GET(logs_exported),
		 logs_dropped = KT_STAT_GET(logs_dropped);
	/* Only where there were any: the line stays as it was for span-only nodes. */
	if (logs_decoded || logs_dropped)
		kt_report(out,
			  kt_report_counts(3, "logs_decoded", logs_decoded, "logs_exported", logs_exported,
				   "logs_dropped", logs_dropped),
			  "katatrace-bpf logs%s: decoded %" PRIu64 ", logs exported %" PRIu64
			  ", logs dropped %" PRIu64,
			  also, logs_decoded, logs_exported, logs_dropped);
	uint64_t conns_refused = KT_STAT_GET(conns_refused), sink_refused = KT_STAT_GET(sink_refused),
		 mem_shed = KT_STAT_GET(mem_shed), mem_shed_bytes = KT_STAT_GET(mem_shed_bytes),
		 mem_refused = KT_STAT_GET(mem_refused);
	/* Only when a limit was hit: what a hostile guest cost. */
	if (conns_refused || sink_refused || mem_shed || mem_refused)
		kt_report(out,
			  kt_report_counts(5, "conns_refused", conns_refused, "sink_refused", sink_refused,
				   "mem_shed", mem_shed, "mem_shed_bytes", mem_shed_bytes,
				   "mem_refused", mem_refused),
			  "katatrace-bpf limits%s: connections refused %" PRIu64
			  ", sink connections closed %" PRIu64 ", pending data dropped %" PRIu64
			  " times (%" PRIu64 " bytes), budget refusals %" PRIu64,
			  also, conns_refused, sink_refused, mem_shed, mem_shed_bytes, mem_refused);
	uint64_t bytes_captured = KT_STAT_GET(bytes_captured), frames = KT_STAT_GET(frames),
		 spans_exported = KT_STAT_GET(spans_exported),
		 decode_errors = KT_STAT_GET(decode_errors), lost_records = KT_STAT_GET(lost_records),
		 gaps = KT_STAT_GET(gaps), spans_dropped = KT_STAT_GET(spans_dropped);
	/* Last: at the exit, the last line of the log. */
	kt_report(out,
		  kt_report_counts(7, "bytes_captured", bytes_captured, "frames", frames, "spans_exported",
			   spans_exported, "decode_errors", decode_errors, "lost_records",
			   lost_records, "gaps", gaps, "spans_dropped", spans_dropped),
		  "katatrace-bpf %s: bytes captured %" PRIu64 ", frames %" PRIu64
		  ", spans exported %" PRIu64 ", decode errors %" PRIu64 ", lost records %" PRIu64
		  ", gaps %" PRIu64 ", spans dropped %" PRIu64,
		  final ? "summary" : "running totals", bytes_captured, frames, spans_exported,
		  decode_errors, lost_records, gaps, spans_dropped);
}

void kt_stats_dump(FILE *out)
{
	if (kt_log_format == KT_LOG_FORMAT_JSON) {
		/* One line with every counter as a member. */
		struct json_object *o = json_object_new_object();
#define KT_STATS_MEMBER(name, desc) \
	if (o)                      \
		json_object_object_add(o, #name, json_object_new_uint64(KT_STAT_GET(name)));
		KT_STATS_FIELDS(KT_STATS_MEMBER)
#undef KT_STATS_MEMBER
		kt_report(out, o, "katatrace-bpf counters");
		return;
	}
#define KT_STATS_PRINT(name, desc) \
	fprintf(out, "%-18s %12" PRIu64 "  # %s\n", #name, KT_STAT_GET(name), desc);
	KT_STATS_FIELDS(KT_STATS_PRINT)
#undef KT_STATS_PRINT
}

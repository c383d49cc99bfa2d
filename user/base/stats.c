/* SPDX-License-Identifier: Apache-2.0 */
#include "base/stats.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>

#include "base/diag.h"

struct kt_stats kt_stats;

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

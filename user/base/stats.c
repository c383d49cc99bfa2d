/* SPDX-License-Identifier: Apache-2.0 */
#include "base/stats.h"

#include <inttypes.h>
#include <stdbool.h>

struct kt_stats kt_stats;

void kt_stats_summary(FILE *out, enum kt_stats_when when)
{
	/* A log reader must tell "still running" from "exited". */
	bool final = when == KT_STATS_FINAL;
	const char *also = final ? "" : " (running totals)";
	/* Only where there were any: the line stays as it was for span-only nodes. */
	if (KT_STAT_GET(logs_decoded) || KT_STAT_GET(logs_dropped))
		fprintf(out, "katatrace-bpf logs%s: decoded %" PRIu64 ", logs exported %" PRIu64
			", logs dropped %" PRIu64 "\n",
			also, KT_STAT_GET(logs_decoded), KT_STAT_GET(logs_exported),
			KT_STAT_GET(logs_dropped));
	/* Only when a limit was hit: what a hostile guest cost. */
	if (KT_STAT_GET(conns_refused) || KT_STAT_GET(sink_refused) || KT_STAT_GET(mem_shed) ||
	    KT_STAT_GET(mem_refused))
		fprintf(out, "katatrace-bpf limits%s: connections refused %" PRIu64
			", sink connections closed %" PRIu64 ", pending data dropped %" PRIu64
			" times (%" PRIu64 " bytes), budget refusals %" PRIu64 "\n",
			also, KT_STAT_GET(conns_refused), KT_STAT_GET(sink_refused),
			KT_STAT_GET(mem_shed), KT_STAT_GET(mem_shed_bytes), KT_STAT_GET(mem_refused));
	/* Last: at the exit, the last line of the log. */
	fprintf(out,
		"katatrace-bpf %s: bytes captured %" PRIu64 ", frames %" PRIu64
		", spans exported %" PRIu64 ", decode errors %" PRIu64 ", lost records %" PRIu64
		", gaps %" PRIu64 ", spans dropped %" PRIu64 "\n",
		final ? "summary" : "running totals", KT_STAT_GET(bytes_captured),
		KT_STAT_GET(frames), KT_STAT_GET(spans_exported), KT_STAT_GET(decode_errors),
		KT_STAT_GET(lost_records), KT_STAT_GET(gaps), KT_STAT_GET(spans_dropped));
}

void kt_stats_dump(FILE *out)
{
#define KT_STATS_PRINT(name, desc) \
	fprintf(out, "%-18s %12" PRIu64 "  # %s\n", #name, KT_STAT_GET(name), desc);
	KT_STATS_FIELDS(KT_STATS_PRINT)
#undef KT_STATS_PRINT
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A log record on its way to the exporters: the log counterpart of
 * struct kt_span_record. Filled by a decoder (Kata 1.x journal stream:
 * user/kata1/journal_log.c), queued by exporters/export_queue.c and mapped to OTLP
 * LogRecords by exporters/otlp_logs_build.c. Everything it points to lives
 * in its own arena; the origin (shared with the connection's spans) becomes
 * the OTLP resource.
 */
#ifndef KT_LOG_RECORD_H
#define KT_LOG_RECORD_H

#include <stdint.h>

#include "base/arena.h"
#include "model/span.h"
#include "model/span_record.h"

/* OTLP SeverityNumber values (logs data model). */
enum kt_severity {
	KT_SEV_UNSPECIFIED = 0,
	KT_SEV_DEBUG = 5,
	KT_SEV_INFO = 9,
	KT_SEV_INFO2 = 10,
	KT_SEV_WARN = 13,
	KT_SEV_ERROR = 17,
	KT_SEV_ERROR2 = 18,
	KT_SEV_ERROR3 = 19,
	KT_SEV_FATAL = 21,
};

struct kt_log {
	uint64_t time_unix_nano;	  /* when it happened, by the source; 0: unknown */
	uint64_t observed_time_unix_nano; /* when katatrace-bpf decoded it */
	enum kt_severity severity_number;
	struct kt_str severity_text;
	struct kt_str body;	/* a string body; may contain any text */
	struct kt_kvlist attrs; /* strings, ints and bools only */
	/* The span it belongs to, in its trace; zero ids: none. */
	struct kt_trace_id trace_id;
	uint64_t span_id;
};

struct kt_log_record {
	struct kt_log_record *next;
	struct kt_arena arena; /* owns everything log points to */
	struct kt_log log;
	struct kt_origin *origin; /* one reference held; may be NULL */
};

/* An empty record whose arena is limited to arena_limit bytes; NULL on ENOMEM. */
struct kt_log_record *kt_log_record_new(size_t arena_limit);
/* Frees the record, its arena and its origin reference. */
void kt_log_record_free(struct kt_log_record *r);
void kt_log_record_free_list(struct kt_log_record *head);

#endif

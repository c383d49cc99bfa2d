/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Syslog records of the Kata 1.x journal stream (journal_stream.h) as OTLP
 * log records. Mapping (docs/decoders.md, "Kata 1.x: journal stream"):
 * SeverityNumber after the OpenTelemetry logs data model's syslog mapping,
 * SeverityText the syslog keyword, Body the message, syslog.* attributes.
 */
#ifndef KT_JOURNAL_LOG_H
#define KT_JOURNAL_LOG_H

#include <stdint.h>

#include "kata1/journal_stream.h"
#include "model/log_record.h"

/* syslog severity 0..7 -> OTLP SeverityNumber; UNSPECIFIED beyond. */
enum kt_severity kt_syslog_severity_number(unsigned severity);
/* syslog severity 0..7 -> "emerg" .. "debug"; "" beyond. */
const char *kt_syslog_severity_text(unsigned severity);

/*
 * A new record holding copies of rec's strings (rec is only valid during the
 * journal callback); observed: when it was decoded. NULL on ENOMEM. Its arena
 * is bounded by the size of rec.
 */
struct kt_log_record *kt_journal_log_new(const struct kt_journal_record *rec,
					 uint64_t observed_unix_nano);

#endif

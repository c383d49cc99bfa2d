/* SPDX-License-Identifier: Apache-2.0 */
#include "kata1/journal_log.h"

#include "model/attrs.h"

#include <string.h>

#define MAX_ATTRS 10

enum kt_severity kt_syslog_severity_number(unsigned severity)
{
	/* Appendix B of the logs data model: Notice is INFO2, Critical ERROR2, Alert ERROR3. */
	static const enum kt_severity map[8] = { KT_SEV_FATAL,  KT_SEV_ERROR3, KT_SEV_ERROR2,
						 KT_SEV_ERROR,  KT_SEV_WARN,   KT_SEV_INFO2,
						 KT_SEV_INFO,   KT_SEV_DEBUG };
	return severity < 8 ? map[severity] : KT_SEV_UNSPECIFIED;
}

const char *kt_syslog_severity_text(unsigned severity)
{
	/* The keywords of syslog(3) and RFC 5424's table, as rsyslog and journalctl print them. */
	static const char *const names[8] = { "emerg",	 "alert",  "crit", "err",
					       "warning", "notice", "info", "debug" };
	return severity < 8 ? names[severity] : "";
}

struct kt_log_record *kt_journal_log_new(const struct kt_journal_record *rec,
					 uint64_t observed_unix_nano)
{
	size_t text = rec->hostname.len + rec->app_name.len + rec->proc_id.len + rec->msg_id.len +
		      rec->structured_data.len + rec->message.len;
	struct kt_log_record *r = kt_log_record_new(text + MAX_ATTRS * 64 + 4096);
	if (!r)
		return NULL;
	struct kt_log *l = &r->log;
	struct kt_arena *a = &r->arena;
	l->time_unix_nano = rec->has_time ? rec->time_unix_nano : 0;
	l->observed_time_unix_nano = observed_unix_nano;
	l->severity_number = kt_syslog_severity_number(rec->severity);
	const char *sev = kt_syslog_severity_text(rec->severity);
	l->severity_text = (struct kt_str){ sev, strlen(sev) };
	struct kt_attrs at;
	if (!kt_attrs_init(&at, a, MAX_ATTRS))
		goto fail;
	l->body = kt_attrs_dup(&at, rec->message.ptr, rec->message.len);
	kt_attrs_int(&at, "syslog.facility", rec->facility);
	kt_attrs_int(&at, "syslog.severity", rec->severity);
	if (rec->form == KT_JOURNAL_RFC5424)
		kt_attrs_int(&at, "syslog.version", 1);
	/* a string attribute where the record has the field */
	static const char *const keys[] = { "host.name", "syslog.appname", "syslog.procid",
					    "syslog.msgid", "syslog.structured_data" };
	const struct kt_str vals[] = { rec->hostname, rec->app_name, rec->proc_id, rec->msg_id,
				       rec->structured_data };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (vals[i].len)
			kt_attrs_copy(&at, keys[i], vals[i]);
	if (rec->truncated)
		kt_attrs_bool(&at, "katatrace.log.truncated", true);
	if (rec->utf8_repaired)
		kt_attrs_bool(&at, "katatrace.log.utf8_repaired", true);
	if (at.failed)
		goto fail;
	l->attrs = kt_attrs_list(&at);
	return r;
fail:
	kt_log_record_free(r);
	return NULL;
}

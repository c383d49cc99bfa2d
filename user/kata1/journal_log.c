/* SPDX-License-Identifier: Apache-2.0 */
#include "kata1/journal_log.h"

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

static int dup_str(struct kt_arena *a, struct kt_str *dst, struct kt_str src)
{
	char *p = kt_arena_memdup0(a, src.ptr ? src.ptr : "", src.len);
	if (!p)
		return -1;
	*dst = (struct kt_str){ p, src.len };
	return 0;
}

static struct kt_kv *add(struct kt_kvlist *l, const char *key)
{
	struct kt_kv *kv = &l->kv[l->n++];
	kv->key = (struct kt_str){ key, strlen(key) };
	return kv;
}

static void add_int(struct kt_kvlist *l, const char *key, int64_t v)
{
	struct kt_kv *kv = add(l, key);
	kv->value.type = KT_VAL_I64;
	kv->value.i = v;
}

static void add_true(struct kt_kvlist *l, const char *key)
{
	struct kt_kv *kv = add(l, key);
	kv->value.type = KT_VAL_BOOL;
	kv->value.b = true;
}

/* A string attribute when the record has the field. */
static int add_str(struct kt_kvlist *l, struct kt_arena *a, const char *key, struct kt_str s)
{
	if (!s.len)
		return 0;
	struct kt_kv *kv = add(l, key);
	kv->value.type = KT_VAL_STRING;
	return dup_str(a, &kv->value.s, s);
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
	l->attrs.kv = kt_arena_calloc(a, MAX_ATTRS, sizeof(struct kt_kv));
	if (!l->attrs.kv || dup_str(a, &l->body, rec->message))
		goto fail;
	struct kt_kvlist *at = &l->attrs;
	add_int(at, "syslog.facility", rec->facility);
	add_int(at, "syslog.severity", rec->severity);
	if (rec->form == KT_JOURNAL_RFC5424)
		add_int(at, "syslog.version", 1);
	if (add_str(at, a, "host.name", rec->hostname) ||
	    add_str(at, a, "syslog.appname", rec->app_name) ||
	    add_str(at, a, "syslog.procid", rec->proc_id) ||
	    add_str(at, a, "syslog.msgid", rec->msg_id) ||
	    add_str(at, a, "syslog.structured_data", rec->structured_data))
		goto fail;
	if (rec->truncated)
		add_true(at, "katatrace.log.truncated");
	if (rec->utf8_repaired)
		add_true(at, "katatrace.log.utf8_repaired");
	return r;
fail:
	kt_log_record_free(r);
	return NULL;
}

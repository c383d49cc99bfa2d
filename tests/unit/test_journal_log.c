/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata 1.x journal records as OTLP logs: the syslog severity mapping,
 * attributes and times of a record, the ExportLogsServiceRequest (packed and
 * read back), its OTLP/JSON line, the console line, hostile and huge records
 * staying bounded, and the pipeline feeding a *_5140 connection.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "exporters/exporter.h"
#include "kata1/journal_log.h"
#include "kata1/journal_stream.h"
#include "exporters/otlp_json.h"
#include "exporters/otlp_logs_build.h"
#include "stream/pipeline.h"

#define NOW (1700000000ull * 1000000000ull) /* 2023-11-14T22:13:20Z */

typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest req_t;

/* Records of a stream, parsed and mapped. */
struct logs {
	struct kt_log_record *r[32];
	size_t n;
};

static void on_record(void *ctx, const struct kt_journal_record *rec)
{
	struct logs *l = ctx;
	cr_assert_lt(l->n, 32);
	l->r[l->n] = kt_journal_log_new(rec, NOW + 5);
	cr_assert_not_null(l->r[l->n]);
	l->n++;
}

static const struct kt_journal_ops ops = { .record = on_record };

static void parse(const char *s, size_t n, struct logs *l)
{
	struct kt_journal_stream j;
	memset(l, 0, sizeof(*l));
	kt_journal_init(&j, 0, &ops, l);
	kt_journal_push(&j, (const uint8_t *)s, n, NOW);
	kt_journal_finish(&j, NOW);
	kt_journal_free(&j);
}

static void free_logs(struct logs *l)
{
	for (size_t i = 0; i < l->n; i++)
		kt_log_record_free(l->r[i]);
}

static const struct kt_kv *attr(const struct kt_log_record *r, const char *key)
{
	return kt_kvlist_find(&r->log.attrs, key);
}

static void assert_str_attr(const struct kt_log_record *r, const char *key, const char *want)
{
	const struct kt_kv *kv = attr(r, key);
	cr_assert_not_null(kv, "%s missing", key);
	cr_assert_eq(kv->value.type, KT_VAL_STRING);
	cr_assert_str_eq(kv->value.s.ptr, want);
}

static void assert_int_attr(const struct kt_log_record *r, const char *key, int64_t want)
{
	const struct kt_kv *kv = attr(r, key);
	cr_assert_not_null(kv, "%s missing", key);
	cr_assert_eq(kv->value.type, KT_VAL_I64);
	cr_assert_eq(kv->value.i, want, "%s: %lld", key, (long long)kv->value.i);
}

Test(journal_log, severity_follows_the_data_model_appendix)
{
	static const int want[8] = { 21, 19, 18, 17, 13, 10, 9, 5 };
	static const char *const text[8] = { "emerg",	"alert",  "crit", "err",
					     "warning", "notice", "info", "debug" };
	for (unsigned s = 0; s < 8; s++) {
		cr_assert_eq(kt_syslog_severity_number(s), want[s], "severity %u", s);
		cr_assert_str_eq(kt_syslog_severity_text(s), text[s]);
	}
	cr_assert_eq(kt_syslog_severity_number(8), 0);
	cr_assert_str_eq(kt_syslog_severity_text(200), "");
}

Test(journal_log, rfc3164_record)
{
	static const char s[] = "<27>Nov 14 22:13:20 kata-agent[123]: error: it failed\n";
	struct logs l;
	parse(s, sizeof(s) - 1, &l);
	cr_assert_eq(l.n, 1);
	const struct kt_log_record *r = l.r[0];
	cr_assert_eq(r->log.time_unix_nano, NOW);
	cr_assert_eq(r->log.observed_time_unix_nano, NOW + 5);
	cr_assert_eq(r->log.severity_number, KT_SEV_ERROR);
	cr_assert_str_eq(r->log.severity_text.ptr, "err");
	cr_assert_str_eq(r->log.body.ptr, "error: it failed");
	cr_assert_eq(r->log.attrs.n, 4);
	assert_int_attr(r, "syslog.facility", 3);
	assert_int_attr(r, "syslog.severity", 3);
	assert_str_attr(r, "syslog.appname", "kata-agent");
	assert_str_attr(r, "syslog.procid", "123");
	cr_assert_null(attr(r, "host.name"));
	cr_assert_null(attr(r, "syslog.version"));
	free_logs(&l);
}

Test(journal_log, rfc5424_record)
{
	static const char s[] = "<165>1 2003-10-11T22:14:15.003Z host.example app - ID47 "
				"[ex@1 a=\"b\"] hello";
	struct logs l;
	parse(s, sizeof(s) - 1, &l);
	cr_assert_eq(l.n, 1);
	const struct kt_log_record *r = l.r[0];
	cr_assert_eq(r->log.time_unix_nano, 1065910455003000000ull);
	cr_assert_eq(r->log.severity_number, KT_SEV_INFO2);
	cr_assert_str_eq(r->log.severity_text.ptr, "notice");
	cr_assert_str_eq(r->log.body.ptr, "hello");
	assert_int_attr(r, "syslog.facility", 20);
	assert_int_attr(r, "syslog.version", 1);
	assert_str_attr(r, "host.name", "host.example");
	assert_str_attr(r, "syslog.appname", "app");
	assert_str_attr(r, "syslog.msgid", "ID47");
	assert_str_attr(r, "syslog.structured_data", "[ex@1 a=\"b\"]");
	cr_assert_null(attr(r, "syslog.procid"));
	free_logs(&l);
}

Test(journal_log, no_time_truncated_and_repaired)
{
	char s[20100];
	int h = snprintf(s, sizeof(s), "<9>1 - - - - - - x");
	memset(s + h, 'A', 20000);
	int k = snprintf(s + h + 20000, 64, "<11>Nov 14 22:13:20 a: bad \xff!");
	struct logs l;
	parse(s, (size_t)(h + 20000 + k), &l);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(l.r[0]->log.time_unix_nano, 0);
	cr_assert_eq(l.r[0]->log.severity_number, KT_SEV_ERROR3);
	cr_assert_eq(l.r[0]->log.body.len, KT_JOURNAL_DEFAULT_MAX_RECORD - (size_t)h + 1);
	cr_assert_not_null(attr(l.r[0], "katatrace.log.truncated"));
	cr_assert_null(attr(l.r[0], "katatrace.log.utf8_repaired"));
	/* bounded: the record's arena holds its text and little more */
	cr_assert_leq(l.r[0]->arena.used, KT_JOURNAL_DEFAULT_MAX_RECORD + 16384);
	cr_assert_str_eq(l.r[1]->log.body.ptr, "bad \xef\xbf\xbd!");
	cr_assert_not_null(attr(l.r[1], "katatrace.log.utf8_repaired"));
	free_logs(&l);
}

/* Two records of one origin and one of another, built into a request. */
static req_t *build(struct logs *l, struct kt_origin **o1, struct kt_origin **o2,
		    struct kt_arena *a)
{
	static const char s[] = "<30>Nov 14 22:13:20 kata-agent[1]: one"
				"<31>Nov 14 22:13:21 kata-agent[1]: two\n"
				"<8>1 - - - - - - ";
	parse(s, sizeof(s) - 1, l);
	cr_assert_eq(l->n, 3);
	struct kt_kv kv = { .key = { "katatrace.sandbox.id", 20 },
			    .value = { .type = KT_VAL_STRING, .s = { "sb1", 3 } } };
	struct kt_kvlist attrs = { 1, &kv };
	*o1 = kt_origin_new(&attrs, "sb1", "one");
	*o2 = kt_origin_new(NULL, NULL, "two");
	l->r[0]->origin = kt_origin_get(*o1);
	l->r[1]->origin = kt_origin_get(*o2);
	l->r[2]->origin = kt_origin_get(*o1);
	l->r[0]->next = l->r[1];
	l->r[1]->next = l->r[2];
	struct kt_resource_cfg cfg = { .service_name = "svc" };
	kt_arena_init(a, 0);
	req_t *req = kt_otlp_logs_build(l->r[0], &cfg, a);
	cr_assert_not_null(req);
	return req;
}

Test(journal_log, request_packs_and_reads_back)
{
	struct logs l;
	struct kt_origin *o1, *o2;
	struct kt_arena a;
	req_t *req = build(&l, &o1, &o2, &a);
	size_t n = opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(req);
	uint8_t *buf = malloc(n);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(req, buf);
	req_t *back = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
		NULL, n, buf);
	cr_assert_not_null(back);
	cr_assert_eq(back->n_resource_logs, 2);
	const Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = back->resource_logs[0];
	cr_assert_eq(rl->resource->n_attributes, 2);
	cr_assert_eq(memcmp(rl->resource->attributes[0]->key.data, "service.name", 12), 0);
	cr_assert_eq(memcmp(rl->resource->attributes[0]->value->string_value.data, "svc", 3), 0);
	cr_assert_eq(memcmp(rl->resource->attributes[1]->key.data, "katatrace.sandbox.id", 20), 0);
	cr_assert_eq(rl->n_scope_logs, 1);
	cr_assert_eq(memcmp(rl->scope_logs[0]->scope->name.data, "kata-journal", 12), 0);
	cr_assert_eq(rl->scope_logs[0]->n_log_records, 2);
	const Opentelemetry__Proto__Logs__V1__LogRecord *lr = rl->scope_logs[0]->log_records[0];
	cr_assert_eq(lr->time_unix_nano, NOW);
	cr_assert_eq(lr->observed_time_unix_nano, NOW + 5);
	cr_assert_eq(lr->severity_number, 9);
	cr_assert_eq(lr->severity_text.len, 4);
	cr_assert_eq(lr->body->value_case,
		     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
	cr_assert_eq(memcmp(lr->body->string_value.data, "one", 3), 0);
	/* the empty message is still a string body */
	const Opentelemetry__Proto__Logs__V1__LogRecord *empty = rl->scope_logs[0]->log_records[1];
	cr_assert_eq(empty->severity_number, 21);
	cr_assert_eq(empty->body->value_case,
		     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
	cr_assert_eq(empty->body->string_value.len, 0);
	cr_assert_eq(back->resource_logs[1]->resource->n_attributes, 1);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(back, NULL);
	free(buf);
	kt_arena_free(&a);
	kt_log_record_free_list(l.r[0]);
	kt_origin_put(o1);
	kt_origin_put(o2);
}

Test(journal_log, otlp_json_line)
{
	struct logs l;
	struct kt_origin *o1, *o2;
	struct kt_arena a;
	req_t *req = build(&l, &o1, &o2, &a);
	size_t len;
	char *json = kt_otlp_logs_json_encode(req, &len);
	cr_assert_not_null(json);
	static const char first[] =
		"{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
		"{\"stringValue\":\"svc\"}},{\"key\":\"katatrace.sandbox.id\",\"value\":{\"stringValue\":"
		"\"sb1\"}}]},\"scopeLogs\":[{\"scope\":{\"name\":\"kata-journal\"},\"logRecords\":[{"
		"\"timeUnixNano\":\"1700000000000000000\",\"observedTimeUnixNano\":\"1700000000000000005\","
		"\"severityNumber\":9,\"severityText\":\"info\",\"body\":{\"stringValue\":\"one\"},"
		"\"attributes\":[{\"key\":\"syslog.facility\",\"value\":{\"intValue\":\"3\"}},{\"key\":"
		"\"syslog.severity\",\"value\":{\"intValue\":\"6\"}},{\"key\":\"syslog.appname\",\"value\":"
		"{\"stringValue\":\"kata-agent\"}},{\"key\":\"syslog.procid\",\"value\":{\"stringValue\":"
		"\"1\"}}]}";
	cr_assert_eq(strncmp(json, first, sizeof(first) - 1), 0, "%s", json);
	cr_assert_not_null(strstr(json, "\"body\":{\"stringValue\":\"\"}"), "%s", json);
	cr_assert_eq(strlen(json), len);
	free(json);
	kt_arena_free(&a);
	kt_log_record_free_list(l.r[0]);
	kt_origin_put(o1);
	kt_origin_put(o2);
}

Test(journal_log, console_line)
{
	struct logs l;
	struct kt_origin *o1, *o2;
	struct kt_arena a;
	req_t *req = build(&l, &o1, &o2, &a);
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	struct kt_exporter *e = kt_exporter_console_new(f);
	cr_assert_eq(e->export_logs(e, req, 3), KT_EXPORT_OK);
	e->destroy(e);
	fclose(f);
	cr_assert_str_eq(text, "2023-11-14T22:13:20.000000Z sandbox=sb1 log info kata-agent[1]: one\n"
			       "2023-11-14T22:13:20.000000Z sandbox=sb1 log emerg -:\n"
			       "2023-11-14T22:13:21.000000Z sandbox=- log debug kata-agent[1]: two\n");
	free(text);
	kt_arena_free(&a);
	kt_log_record_free_list(l.r[0]);
	kt_origin_put(o1);
	kt_origin_put(o2);
}

Test(journal_log, request_of_no_records_and_allocation_failure)
{
	static const struct kt_resource_cfg cfg = { .service_name = "svc" };
	struct logs l;
	struct kt_origin *o1, *o2;
	struct kt_arena a;
	build(&l, &o1, &o2, &a);
	kt_arena_free(&a);
	kt_arena_init(&a, 0);
	req_t *none = kt_otlp_logs_build(NULL, &cfg, &a);
	cr_assert_not_null(none);
	cr_assert_eq(none->n_resource_logs, 0);
	kt_arena_free(&a);
	/* Too small an arena: NULL, never a partial request; then it suffices. */
	bool built = false;
	for (size_t limit = 16; limit < 16384 && !built; limit += 16) {
		kt_arena_init(&a, limit);
		req_t *req = kt_otlp_logs_build(l.r[0], &cfg, &a);
		if (req) {
			built = true;
			cr_assert_eq(req->n_resource_logs, 2);
			cr_assert_eq(req->resource_logs[0]->scope_logs[0]->n_log_records, 2);
		}
		kt_arena_free(&a);
	}
	cr_assert(built, "never succeeded");
	kt_log_record_free_list(l.r[0]);
	kt_origin_put(o1);
	kt_origin_put(o2);
}

/* ------------------------------------------------------------ pipeline */

struct sink {
	struct kt_log_record *r[8];
	size_t n, spans;
};

static void on_log(void *ctx, struct kt_log_record *r)
{
	struct sink *s = ctx;
	cr_assert_lt(s->n, 8);
	s->r[s->n++] = r;
}

static void on_span(void *ctx, struct kt_span_record *r)
{
	struct sink *s = ctx;
	s->spans++;
	kt_span_record_free(r);
}

Test(journal_log, pipeline_feeds_journal_connections_and_flushes_when_idle)
{
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	struct sink s = { 0 };
	struct kt_pipeline *p =
		kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = on_span, .log = on_log, .ctx = &s });
	struct kt_conn_info info = {
		.id = { .endpoint = 7, .transport = KT_TRANSPORT_UNIX },
		.path = "/run/vc/firecracker/sb-x/root/kata.hvsock_5140",
		.transport = "hybrid-vsock",
	};
	struct kt_conn *c = kt_pipeline_open(p, &info);
	static const char a[] = "<30>Nov 14 22:13:20 a[1]: first<14>Nov 14 22:13:21 b: sec";
	kt_pipeline_feed(p, c, (const uint8_t *)a, sizeof(a) - 1);
	cr_assert_eq(s.n, 1); /* the second is not known complete yet */
	kt_pipeline_feed(p, c, (const uint8_t *)"ond", 3);
	kt_pipeline_tick(p, kt_mono_ns()); /* not silent long enough */
	cr_assert_eq(s.n, 1);
	kt_pipeline_tick(p, kt_mono_ns() + KT_JOURNAL_FLUSH_NS);
	cr_assert_eq(s.n, 2);
	cr_assert_str_eq(s.r[1]->log.body.ptr, "second");
	/* after a flush any <PRI> starts a record; the last one ends with the stream */
	kt_pipeline_feed(p, c, (const uint8_t *)"<15>last", 8);
	kt_pipeline_close(p, c);
	cr_assert_eq(s.n, 3);
	cr_assert_str_eq(s.r[2]->log.body.ptr, "last");
	cr_assert_eq(s.spans, 0);
	const struct kt_kv *sb = kt_kvlist_find(&s.r[0]->origin->attrs, "katatrace.sandbox.id");
	cr_assert_not_null(sb);
	cr_assert_str_eq(sb->value.s.ptr, "sb-x");
	for (size_t i = 0; i < s.n; i++)
		kt_log_record_free(s.r[i]);
	kt_pipeline_free(p);
}

/* A log record that belongs to a span carries its trace and span ids; one that does not, none. */
Test(journal_log, trace_context_of_a_record)
{
	struct logs l;
	struct kt_origin *o1, *o2;
	struct kt_arena a;
	req_t *req = build(&l, &o1, &o2, &a);
	kt_arena_free(&a);
	l.r[0]->log.trace_id = (struct kt_trace_id){ 0x0102030405060708ull, 0x090a0b0c0d0e0f10ull };
	l.r[0]->log.span_id = 0x1112131415161718ull;
	kt_arena_init(&a, 0);
	struct kt_resource_cfg cfg = { .service_name = "svc" };
	req = kt_otlp_logs_build(l.r[0], &cfg, &a);
	cr_assert_not_null(req);
	size_t n = opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(req);
	uint8_t *buf = malloc(n);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(req, buf);
	req_t *back = opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(
		NULL, n, buf);
	cr_assert_not_null(back);
	const Opentelemetry__Proto__Logs__V1__LogRecord *with = back->resource_logs[0]->scope_logs[0]->log_records[0];
	static const uint8_t trace[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	static const uint8_t span[8] = { 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18 };
	cr_assert_eq(with->trace_id.len, 16);
	cr_assert_eq(memcmp(with->trace_id.data, trace, 16), 0);
	cr_assert_eq(with->span_id.len, 8);
	cr_assert_eq(memcmp(with->span_id.data, span, 8), 0);
	const Opentelemetry__Proto__Logs__V1__LogRecord *without = back->resource_logs[0]->scope_logs[0]->log_records[1];
	cr_assert_eq(without->trace_id.len, 0);
	cr_assert_eq(without->span_id.len, 0);
	/* and in OTLP/JSON, as lower-case hex */
	size_t jn;
	char *json = kt_otlp_logs_json_encode(req, &jn);
	cr_assert_not_null(json);
	cr_assert_not_null(strstr(json, "\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"1112131415161718\""));
	free(json);
	opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(back, NULL);
	free(buf);
	kt_arena_free(&a);
	kt_log_record_free_list(l.r[0]);
	kt_origin_put(o1);
	kt_origin_put(o2);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OTLP/JSON encoding: exact expected lines, written by hand from the
 * Collector's marshaling rules (see docs/exporters.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "exporters/exporter.h"
#include "exporters/otlp_build.h"
#include "exporters/otlp_json.h"
#include "span_fixture.h"

static const struct kt_resource_cfg cfg = { .service_name = "kata-agent" };

static struct kt_span_record *head;
static struct kt_arena arena;
static char *out;

static void setup(void)
{
	head = NULL;
	out = NULL;
	kt_arena_init(&arena, 0);
}

static void teardown(void)
{
	free(out);
	kt_span_record_free_list(head);
	kt_arena_free(&arena);
}

TestSuite(otlp_json, .init = setup, .fini = teardown);

static const char *encode_req(const kt_otlp_request *req)
{
	size_t len = 0;
	free(out);
	out = kt_otlp_json_encode(req, &len);
	cr_assert_not_null(out);
	cr_assert_eq(strlen(out), len, "embedded NUL or wrong length");
	cr_assert_null(strchr(out, '\n'), "not a single line");
	/* Whatever we write must parse as JSON. */
	json_object *j = json_tokener_parse(out);
	cr_assert_not_null(j, "invalid JSON: %s", out);
	json_object_put(j);
	return out;
}

static const char *encode(void)
{
	kt_otlp_request *req = kt_otlp_build(head, &cfg, &arena);
	cr_assert_not_null(req);
	return encode_req(req);
}

#define ASSERT_JSON(got, want) cr_assert_str_eq((got), (want), "\n got: %s\nwant: %s", (got), (want))

/* Wraps the JSON of one span in the request envelope of a no-origin batch. */
#define ENVELOPE(span)                                                                       \
	"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","     \
	"\"value\":{\"stringValue\":\"kata-agent\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":" \
	"\"kata-agent\"},\"spans\":[" span "]}]}]}"

#define IDS                                                                                  \
	"\"traceId\":\"0af7651916cd43dd8448eb211c80319c\",\"spanId\":\"b7ad6b7169203331\"," \
	"\"parentSpanId\":\"00f067aa0ba902b7\",\"flags\":257"

#define TIMES "\"startTimeUnixNano\":\"1700000000000005000\",\"endTimeUnixNano\":\"1700000000250005000\""

Test(otlp_json, empty_request)
{
	kt_otlp_request *req = kt_otlp_build(NULL, &cfg, &arena);
	ASSERT_JSON(encode_req(req), "{}");
}

Test(otlp_json, worked_example)
{
	struct kt_span_record *r = fx_record("CreateContainer");
	struct kt_arena *a = &r->arena;
	r->span.attrs = FX_LIST(a, fx_kv_str(a, "mod", "rpc.rs"), fx_kv_i64(a, "busy_ns", 250000));
	struct kt_event *ev = kt_arena_calloc(a, 1, sizeof(*ev));
	ev->name = fx_str(a, "created");
	ev->time_unix_nano = 1700000000100000000ull;
	ev->attrs = FX_LIST(a, fx_kv_str(a, "level", "INFO"));
	r->span.events_present = true;
	r->span.n_events = 1;
	r->span.events = ev;
	r->span.resource_present = true;
	r->span.resource = FX_LIST(a, fx_kv_str(a, "service.name", "kata-agent"));
	r->origin = fx_origin("hybrid-vsock", "sb1");
	head = r;
	ASSERT_JSON(encode(),
		    "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
		    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"kata-agent\"}},"
		    "{\"key\":\"katatrace.transport\",\"value\":{\"stringValue\":\"hybrid-vsock\"}},"
		    "{\"key\":\"katatrace.sandbox.id\",\"value\":{\"stringValue\":\"sb1\"}}]},"
		    "\"scopeSpans\":[{\"scope\":{\"name\":\"kata-agent\"},\"spans\":[{" IDS
		    ",\"name\":\"CreateContainer\",\"kind\":1," TIMES ","
		    "\"attributes\":[{\"key\":\"mod\",\"value\":{\"stringValue\":\"rpc.rs\"}},"
		    "{\"key\":\"busy_ns\",\"value\":{\"intValue\":\"250000\"}}],"
		    "\"events\":[{\"timeUnixNano\":\"1700000000100000000\",\"name\":\"created\","
		    "\"attributes\":[{\"key\":\"level\",\"value\":{\"stringValue\":\"INFO\"}}]}],"
		    "\"status\":{}}]}]}]}");
}

Test(otlp_json, root_span_defaults_omitted)
{
	struct kt_span_record *r = fx_record("");
	r->span.parent_span_id = 0;
	r->span.ctx.trace_flags = 0;
	r->span.start_unix_nano = 0;
	r->span.end_unix_nano = 0;
	head = r;
	/* No parentSpanId, name, times, counts; kind and flags always set. */
	ASSERT_JSON(encode(), ENVELOPE("{\"traceId\":\"0af7651916cd43dd8448eb211c80319c\","
				       "\"spanId\":\"b7ad6b7169203331\",\"flags\":256,"
				       "\"kind\":1,\"status\":{}}"));
}

Test(otlp_json, big_ids_and_64bit_integers)
{
	struct kt_span_record *r = fx_record("bigids");
	struct kt_arena *a = &r->arena;
	r->span.ctx.trace_id.hi = UINT64_MAX;
	r->span.ctx.trace_id.lo = UINT64_MAX - 1;
	r->span.ctx.span_id = UINT64_MAX;
	r->span.parent_span_id = 0x8000000000000000ull;
	r->span.start_unix_nano = UINT64_MAX - 1;
	r->span.end_unix_nano = UINT64_MAX;
	r->span.attrs = FX_LIST(a, fx_kv_i64(a, "min", INT64_MIN), fx_kv_i64(a, "max", INT64_MAX),
				fx_kv_i64(a, "zero", 0), fx_kv_i64(a, "neg", -1));
	r->span.attrs_dropped = UINT32_MAX;
	r->span.events_dropped = 1;
	r->span.links_dropped = 2;
	head = r;
	ASSERT_JSON(encode(),
		    ENVELOPE("{\"traceId\":\"fffffffffffffffffffffffffffffffe\","
			     "\"spanId\":\"ffffffffffffffff\",\"parentSpanId\":\"8000000000000000\","
			     "\"flags\":257,\"name\":\"bigids\",\"kind\":1,"
			     "\"startTimeUnixNano\":\"18446744073709551614\","
			     "\"endTimeUnixNano\":\"18446744073709551615\",\"attributes\":["
			     "{\"key\":\"min\",\"value\":{\"intValue\":\"-9223372036854775808\"}},"
			     "{\"key\":\"max\",\"value\":{\"intValue\":\"9223372036854775807\"}},"
			     "{\"key\":\"zero\",\"value\":{\"intValue\":\"0\"}},"
			     "{\"key\":\"neg\",\"value\":{\"intValue\":\"-1\"}}],"
			     "\"droppedAttributesCount\":4294967295,\"droppedEventsCount\":1,"
			     "\"droppedLinksCount\":2,\"status\":{}}"));
}

Test(otlp_json, doubles_and_non_finite)
{
	struct kt_span_record *r = fx_record("f");
	struct kt_arena *a = &r->arena;
	static double arr[] = { NAN, 1.0, -0.0 };
	r->span.attrs = FX_LIST(a, fx_kv_f64(a, "nan", NAN), fx_kv_f64(a, "inf", INFINITY),
				fx_kv_f64(a, "ninf", -INFINITY), fx_kv_f64(a, "half", 1.5),
				fx_kv_f64(a, "int", 100.0), fx_kv_f64(a, "big", 1e21),
				fx_kv_f64(a, "tiny", 5e-324), fx_kv_f64(a, "neg", -0.1),
				fx_kv_f64(a, "zero", 0.0),
				{ .key = fx_str(a, "arr"),
				  .value = { .type = KT_VAL_ARRAY_F64, .arr = { .n = 3, .f = arr } } });
	head = r;
	ASSERT_JSON(encode(),
		    ENVELOPE("{" IDS ",\"name\":\"f\",\"kind\":1," TIMES ",\"attributes\":["
			     "{\"key\":\"nan\",\"value\":{\"doubleValue\":\"NaN\"}},"
			     "{\"key\":\"inf\",\"value\":{\"doubleValue\":\"Infinity\"}},"
			     "{\"key\":\"ninf\",\"value\":{\"doubleValue\":\"-Infinity\"}},"
			     "{\"key\":\"half\",\"value\":{\"doubleValue\":1.5}},"
			     "{\"key\":\"int\",\"value\":{\"doubleValue\":100}},"
			     "{\"key\":\"big\",\"value\":{\"doubleValue\":1e+21}},"
			     "{\"key\":\"tiny\",\"value\":{\"doubleValue\":5e-324}},"
			     "{\"key\":\"neg\",\"value\":{\"doubleValue\":-0.1}},"
			     "{\"key\":\"zero\",\"value\":{\"doubleValue\":0}},"
			     "{\"key\":\"arr\",\"value\":{\"arrayValue\":{\"values\":["
			     "{\"doubleValue\":\"NaN\"},{\"doubleValue\":1},{\"doubleValue\":-0}]}}}],"
			     "\"status\":{}}"));
}

Test(otlp_json, format_double_table)
{
	static const struct {
		double d;
		const char *s;
	} t[] = {
		{ 0.0, "0" },
		{ -0.0, "-0" },
		{ 1.0, "1" },
		{ 0.1, "0.1" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ 1e-6, "0.000001" },
		{ 1.5e-6, "0.0000015" },
		{ 9.99e-7, "9.99e-7" },
		{ 1e-7, "1e-7" },
		{ 1.25e-10, "1.25e-10" },
		{ 123456789012345680000.0, "123456789012345680000" },
		{ 1e21, "1e+21" },
		{ 1.7976931348623157e308, "1.7976931348623157e+308" },
		{ 2.2250738585072014e-308, "2.2250738585072014e-308" },
		{ 4.9406564584124654e-324, "5e-324" },
		{ 9007199254740993.0, "9007199254740992" },
		{ 5e-324 * 3, "1.5e-323" },
		{ -1234.5678, "-1234.5678" },
		{ 1.0 / 3.0, "0.3333333333333333" },
		{ 2.0 / 3.0, "0.6666666666666666" },
		{ 100.0, "100" },
		{ 1e20, "100000000000000000000" },
		{ 0x1p-1022, "2.2250738585072014e-308" },
		{ 0x1p+60, "1152921504606847000" },
		{ NAN, "NaN" },
		{ INFINITY, "Infinity" },
		{ -INFINITY, "-Infinity" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char buf[32];
		size_t n = kt_json_format_double(t[i].d, buf);
		cr_assert_str_eq(buf, t[i].s, "%.17g: got %s want %s", t[i].d, buf, t[i].s);
		cr_assert_eq(n, strlen(t[i].s));
	}
}

Test(otlp_json, string_escaping_nul_and_unicode)
{
	struct kt_span_record *r = fx_record("x");
	struct kt_arena *a = &r->arena;
	/* quote, backslash, slash, \n \r \t \b \f, 0x01, 0x1f, DEL, NUL, U+2028 */
	r->span.name = FX_LIT(a, "q\"b\\s/n\nr\rt\tb\bf\f\x01\x1f\x7f[\0]\xe2\x80\xa8");
	r->span.status_code = KT_STATUS_ERROR;
	/* CJK, emoji, Greek: verbatim UTF-8 */
	r->span.status_message = fx_str(a, "\xe4\xba\xba \xf0\x9f\x98\x80 \xce\xba");
	r->span.attrs = FX_LIST(a,
				/* invalid UTF-8: lone continuation, truncated, overlong, surrogate */
				fx_kv_str(a, "bad", "a\x80z\xe4\xbaz\xc0\xafz\xed\xa0\x80"),
				{ .key = FX_LIT(a, "k\0ey"), .value = { .type = KT_VAL_STRING, .s = FX_LIT(a, "\0") } });
	head = r;
	ASSERT_JSON(encode(),
		    ENVELOPE("{" IDS ",\"name\":\"q\\\"b\\\\s/n\\nr\\rt\\tb\\u0008f\\u000c\\u0001\\u001f"
			     "\x7f[\\u0000]\xe2\x80\xa8\",\"kind\":1," TIMES ",\"attributes\":["
			     "{\"key\":\"bad\",\"value\":{\"stringValue\":"
			     "\"a\\ufffdz\\ufffd\\ufffdz\\ufffd\\ufffdz\\ufffd\\ufffd\\ufffd\"}},"
			     "{\"key\":\"k\\u0000ey\",\"value\":{\"stringValue\":\"\\u0000\"}}],"
			     "\"status\":{\"message\":\"\xe4\xba\xba \xf0\x9f\x98\x80 \xce\xba\","
			     "\"code\":2}}"));
}

Test(otlp_json, zero_valued_attributes_are_kept)
{
	struct kt_span_record *r = fx_record("z");
	struct kt_arena *a = &r->arena;
	r->span.attrs = FX_LIST(a, fx_kv_bool(a, "f", false), fx_kv_str(a, "", ""),
				{ .key = fx_str(a, "ea"),
				  .value = { .type = KT_VAL_ARRAY_STRING, .arr = { .n = 0 } } });
	head = r;
	/* An empty key is omitted, the value never is. */
	ASSERT_JSON(encode(), ENVELOPE("{" IDS ",\"name\":\"z\",\"kind\":1," TIMES ",\"attributes\":["
				       "{\"key\":\"f\",\"value\":{\"boolValue\":false}},"
				       "{\"value\":{\"stringValue\":\"\"}},"
				       "{\"key\":\"ea\",\"value\":{\"arrayValue\":{}}}],"
				       "\"status\":{}}"));
}

Test(otlp_json, events_links_trace_state)
{
	struct kt_span_record *r = fx_record("l");
	struct kt_arena *a = &r->arena;
	r->span.kind = KT_KIND_SERVER;
	r->span.ctx.trace_state_present = true;
	r->span.ctx.trace_state_n = 1;
	r->span.ctx.trace_state = fx_tracestate(a, 1, "congo", "t61rcWkgMzE");
	struct kt_event *ev = kt_arena_calloc(a, 2, sizeof(*ev));
	ev[0].dropped_attributes_count = 3; /* no name, no time */
	ev[1].name = fx_str(a, "e");
	ev[1].time_unix_nano = 5;
	r->span.events_present = true;
	r->span.n_events = 2;
	r->span.events = ev;
	struct kt_link *l = kt_arena_calloc(a, 2, sizeof(*l));
	l[0].ctx.trace_id.hi = 0xfedcba9876543210ull;
	l[0].ctx.trace_id.lo = 0x0123456789abcdefull;
	l[0].ctx.span_id = 0xffffffffffffffffull;
	l[0].ctx.trace_flags = 1;
	l[0].ctx.is_remote = true;
	l[0].ctx.trace_state_present = true;
	l[0].ctx.trace_state_n = 2;
	l[0].ctx.trace_state = fx_tracestate(a, 2, "rojo", "00f067aa0ba902b7", "congo", "t61rcWkgMzE");
	l[0].attrs = FX_LIST(a, fx_kv_str(a, "link.kind", "follows_from"));
	l[0].dropped_attributes_count = 1;
	l[1].ctx.trace_id.lo = 1;
	l[1].ctx.span_id = 2;
	r->span.links_present = true;
	r->span.n_links = 2;
	r->span.links = l;
	head = r;
	ASSERT_JSON(encode(),
		    ENVELOPE("{\"traceId\":\"0af7651916cd43dd8448eb211c80319c\","
			     "\"spanId\":\"b7ad6b7169203331\",\"traceState\":\"congo=t61rcWkgMzE\","
			     "\"parentSpanId\":\"00f067aa0ba902b7\",\"flags\":257,\"name\":\"l\","
			     "\"kind\":2," TIMES ","
			     "\"events\":[{\"droppedAttributesCount\":3},"
			     "{\"timeUnixNano\":\"5\",\"name\":\"e\"}],"
			     "\"links\":[{\"traceId\":\"fedcba98765432100123456789abcdef\","
			     "\"spanId\":\"ffffffffffffffff\","
			     "\"traceState\":\"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\","
			     "\"attributes\":[{\"key\":\"link.kind\",\"value\":{\"stringValue\":"
			     "\"follows_from\"}}],\"droppedAttributesCount\":1,\"flags\":769},"
			     "{\"traceId\":\"00000000000000000000000000000001\","
			     "\"spanId\":\"0000000000000002\",\"flags\":256}],"
			     "\"status\":{}}"));
}

Test(otlp_json, two_resources)
{
	struct kt_span_record *r1 = fx_record("a");
	struct kt_span_record *r2 = fx_record("b");
	r2->span.resource_present = true;
	r2->span.resource = FX_LIST(&r2->arena, fx_kv_str(&r2->arena, "service.name", "unknown_service"),
				    fx_kv_bool(&r2->arena, "t", true));
	r2->span.kind = KT_KIND_CLIENT;
	fx_append(&head, r1);
	fx_append(&head, r2);
	ASSERT_JSON(encode(),
		    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
		    "\"value\":{\"stringValue\":\"kata-agent\"}}]},\"scopeSpans\":[{\"scope\":"
		    "{\"name\":\"kata-agent\"},\"spans\":[{" IDS ",\"name\":\"a\",\"kind\":1," TIMES
		    ",\"status\":{}}]}]},"
		    "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
		    "{\"stringValue\":\"kata-agent\"}},{\"key\":\"t\",\"value\":{\"boolValue\":true}}]},"
		    "\"scopeSpans\":[{\"scope\":{\"name\":\"kata-agent\"},\"spans\":[{" IDS
		    ",\"name\":\"b\",\"kind\":3," TIMES ",\"status\":{}}]}]}]}");
}

/* Hand-built message: the parts of the model otlp_build never produces. */
Test(otlp_json, zero_ids_kvlist_bytes_and_bare_messages)
{
	Opentelemetry__Proto__Common__V1__AnyValue inner, bytes, unset, kvl;
	Opentelemetry__Proto__Common__V1__KeyValue kv_inner, kv_bytes, kv_unset, kv_kvl, kv_null;
	Opentelemetry__Proto__Common__V1__KeyValueList list;
	Opentelemetry__Proto__Common__V1__KeyValue *list_items[] = { &kv_inner };
	opentelemetry__proto__common__v1__any_value__init(&inner);
	inner.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	inner.int_value = 7;
	opentelemetry__proto__common__v1__key_value__init(&kv_inner);
	kv_inner.key = (ProtobufCBinaryData){ 1, (uint8_t *)"i" };
	kv_inner.value = &inner;
	opentelemetry__proto__common__v1__key_value_list__init(&list);
	list.n_values = 1;
	list.values = list_items;
	opentelemetry__proto__common__v1__any_value__init(&kvl);
	kvl.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
	kvl.kvlist_value = &list;
	opentelemetry__proto__common__v1__key_value__init(&kv_kvl);
	kv_kvl.key = (ProtobufCBinaryData){ 2, (uint8_t *)"kv" };
	kv_kvl.value = &kvl;
	opentelemetry__proto__common__v1__any_value__init(&bytes);
	bytes.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
	bytes.bytes_value = (ProtobufCBinaryData){ 4, (uint8_t *)"\x00\xff\x10z" };
	opentelemetry__proto__common__v1__key_value__init(&kv_bytes);
	kv_bytes.key = (ProtobufCBinaryData){ 1, (uint8_t *)"b" };
	kv_bytes.value = &bytes;
	opentelemetry__proto__common__v1__any_value__init(&unset);
	opentelemetry__proto__common__v1__key_value__init(&kv_unset);
	kv_unset.key = (ProtobufCBinaryData){ 1, (uint8_t *)"u" };
	kv_unset.value = &unset;
	opentelemetry__proto__common__v1__key_value__init(&kv_null);
	kv_null.key = (ProtobufCBinaryData){ 1, (uint8_t *)"n" };
	Opentelemetry__Proto__Common__V1__KeyValue *attrs[] = { &kv_kvl, &kv_bytes, &kv_unset, &kv_null };

	static uint8_t zero16[16], zero8[8];
	Opentelemetry__Proto__Trace__V1__Span span;
	opentelemetry__proto__trace__v1__span__init(&span);
	span.trace_id = (ProtobufCBinaryData){ 16, zero16 };
	span.span_id = (ProtobufCBinaryData){ 8, zero8 };
	span.n_attributes = 4;
	span.attributes = attrs;
	Opentelemetry__Proto__Trace__V1__Span *spans[] = { &span };
	Opentelemetry__Proto__Trace__V1__ScopeSpans ss;
	opentelemetry__proto__trace__v1__scope_spans__init(&ss);
	ss.n_spans = 1;
	ss.spans = spans;
	Opentelemetry__Proto__Trace__V1__ScopeSpans *sss[] = { &ss };
	Opentelemetry__Proto__Trace__V1__ResourceSpans rs;
	opentelemetry__proto__trace__v1__resource_spans__init(&rs);
	rs.n_scope_spans = 1;
	rs.scope_spans = sss;
	Opentelemetry__Proto__Trace__V1__ResourceSpans *rss[] = { &rs };
	kt_otlp_request req;
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
	req.n_resource_spans = 1;
	req.resource_spans = rss;
	/* Resource, scope, status and a KeyValue's value are always written. */
	ASSERT_JSON(encode_req(&req),
		    "{\"resourceSpans\":[{\"resource\":{},\"scopeSpans\":[{\"scope\":{},\"spans\":[{"
		    "\"attributes\":[{\"key\":\"kv\",\"value\":{\"kvlistValue\":{\"values\":["
		    "{\"key\":\"i\",\"value\":{\"intValue\":\"7\"}}]}}},"
		    "{\"key\":\"b\",\"value\":{\"bytesValue\":\"AP8Qeg==\"}},"
		    "{\"key\":\"u\",\"value\":{}},{\"key\":\"n\",\"value\":{}}],"
		    "\"status\":{}}]}]}]}");
}

/* The file exporter writes these lines, one request per line, appending. */
Test(otlp_json, file_exporter_appends_lines)
{
	char path[] = "/tmp/kt-file-exporter-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "old\n", 4), 4);
	close(fd);
	head = fx_record("a");
	kt_otlp_request *req = kt_otlp_build(head, &cfg, &arena);
	cr_assert_not_null(req);
	const char *line = encode_req(req);

	for (int round = 0; round < 2; round++) {
		struct kt_exporter *e = kt_exporter_file_new(path);
		cr_assert_not_null(e);
		cr_assert_eq(e->export(e, req, 1), KT_EXPORT_OK);
		e->flush(e);
		e->destroy(e);
	}
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	unlink(path);
	buf[n] = '\0';
	char want[4096];
	snprintf(want, sizeof(want), "old\n%s\n%s\n", line, line);
	cr_assert_str_eq(buf, want);
}

Test(otlp_json, file_exporter_bad_path)
{
	cr_assert_null(kt_exporter_file_new("/nonexistent-dir/x.jsonl"));
}

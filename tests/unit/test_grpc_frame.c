/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC framing and response parsing (exporters/grpc_frame.c): the request
 * frame, grpc-status / grpc-message in headers and trailers, percent
 * decoding, status to export result, the response message and its
 * partial_success, the collector's RetryInfo (grpc-status-details-bin),
 * and hostile responses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <openssl/evp.h>

#include "exporters/grpc_frame.h"
#include "exporters/otlp_common.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "span_fixture.h"

static struct kt_grpc_response *resp;

static void setup(void)
{
	resp = malloc(sizeof(*resp));
	cr_assert_not_null(resp);
	kt_grpc_response_reset(resp);
}

static void teardown(void)
{
	free(resp);
}

TestSuite(grpc_frame, .init = setup, .fini = teardown);

static void hdr(const char *line)
{
	kt_grpc_response_header(resp, line, strlen(line));
}

static void body(const void *p, size_t n)
{
	kt_grpc_response_body(resp, p, n);
}

/* ------------------------------------------------------------------ framing */

Test(grpc_frame, prefix_is_flag_and_big_endian_length)
{
	uint8_t p[KT_GRPC_PREFIX_LEN];
	kt_grpc_frame_prefix(p, 0x01020304u);
	cr_assert_arr_eq(p, ((uint8_t[]){ 0, 1, 2, 3, 4 }), 5);
	kt_grpc_frame_prefix(p, 0);
	cr_assert_arr_eq(p, ((uint8_t[]){ 0, 0, 0, 0, 0 }), 5);
	kt_grpc_frame_prefix(p, UINT32_MAX);
	cr_assert_arr_eq(p, ((uint8_t[]){ 0, 0xff, 0xff, 0xff, 0xff }), 5);
}

Test(grpc_frame, request_frame_holds_the_packed_request)
{
	struct kt_arena a;
	kt_arena_init(&a, 0);
	struct kt_span_record *r = fx_record("CreateContainer");
	r->span.attrs = FX_LIST(&r->arena, fx_kv_str(&r->arena, "mod", "rpc.rs"));
	r->origin = fx_origin("hybrid-vsock", "sb1");
	static const struct kt_resource_cfg cfg = { .service_name = "kata-agent" };
	kt_otlp_request *req = kt_otlp_build(r, &cfg, &a);
	cr_assert_not_null(req);

	struct kt_text buf = { 0 };
	cr_assert(kt_grpc_frame_request(req, &buf));
	const uint8_t *f = (const uint8_t *)buf.p;
	size_t len = buf.len;
	size_t n = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
		req);
	cr_assert_eq(len, KT_GRPC_PREFIX_LEN + n);
	cr_assert_eq(f[0], 0);
	cr_assert_eq((size_t)f[1] << 24 | (size_t)f[2] << 16 | (size_t)f[3] << 8 | f[4], n);
	kt_otlp_request *back =
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
			NULL, n, f + KT_GRPC_PREFIX_LEN);
	cr_assert_not_null(back);
	cr_assert_eq(back->n_resource_spans, 1);
	const ProtobufCBinaryData *name = &back->resource_spans[0]->scope_spans[0]->spans[0]->name;
	cr_assert_eq(name->len, strlen("CreateContainer"));
	cr_assert_arr_eq(name->data, "CreateContainer", name->len);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
		back, NULL);
	kt_text_free(&buf);
	kt_span_record_free_list(r);
	kt_arena_free(&a);
}

Test(grpc_frame, empty_request_is_a_bare_prefix)
{
	kt_otlp_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	struct kt_text buf = { 0 };
	cr_assert(kt_grpc_frame_request(&req, &buf));
	cr_assert_eq(buf.len, 5);
	cr_assert_arr_eq(buf.p, ((uint8_t[]){ 0, 0, 0, 0, 0 }), 5);
	kt_text_free(&buf);
}

/* ------------------------------------------------------------------ percent */

static void assert_decoded(const char *in, const char *want, size_t want_len)
{
	char out[64];
	bool trunc;
	size_t n = kt_otlp_percent_decode(in, strlen(in), out, sizeof(out), &trunc);
	cr_assert_not(trunc, "%s", in);
	cr_assert_eq(n, want_len, "%s: %zu bytes", in, n);
	cr_assert_arr_eq(out, want, want_len, "%s", in);
}

Test(grpc_frame, percent_decoding)
{
	assert_decoded("plain text", "plain text", 10);
	assert_decoded("bad%20spans%3A%20100%25", "bad spans: 100%", 15);
	assert_decoded("%C3%BCn%c3%afcode", "\xc3\xbcn\xc3\xaf" "code", 9);
	assert_decoded("%00x", "\0x", 2);
	/* Malformed escapes stay as they are. */
	assert_decoded("%", "%", 1);
	assert_decoded("a%2", "a%2", 3);
	assert_decoded("%zz%2g%%41", "%zz%2g%A", 8);
	assert_decoded("100%", "100%", 4);
	assert_decoded("", "", 0);
}

Test(grpc_frame, percent_decoding_is_bounded)
{
	char out[4];
	bool trunc;
	cr_assert_eq(kt_otlp_percent_decode("%41%42%43%44%45", 15, out, sizeof(out), &trunc), 4);
	cr_assert(trunc);
	cr_assert_arr_eq(out, "ABCD", 4);
	cr_assert_eq(kt_otlp_percent_decode("abcd", 4, out, sizeof(out), &trunc), 4);
	cr_assert_not(trunc);
	cr_assert_eq(kt_otlp_percent_decode("abc", 3, out, 0, &trunc), 0);
	cr_assert(trunc);
}

/* ------------------------------------------------------------------ status */

Test(grpc_frame, status_in_trailers)
{
	hdr("HTTP/2 200\r\n");
	hdr("content-type: application/grpc+proto\r\n");
	hdr("grpc-encoding: identity\r\n");
	hdr("\r\n");
	body("\0\0\0\0\0", 5);
	hdr("grpc-status: 0\r\n");
	hdr("grpc-message: OK\r\n");
	cr_assert_eq(resp->http_status, 200);
	cr_assert(resp->have_status);
	cr_assert_not(resp->status_invalid);
	cr_assert_eq(kt_grpc_response_code(resp), KT_GRPC_OK);
	cr_assert_str_eq(resp->message, "OK");
	cr_assert_str_eq(resp->content_type, "application/grpc+proto");
}

/* Header and trailer lines as curl delivers them, and the status they give. */
struct head_case {
	const char *what;
	const char *lines[8];
	long http_status;
	bool have_status;
	int code;
	const char *message;
};

static const struct head_case heads[] = {
	{ "trailers-only response (status in the headers)",
	  { "HTTP/2 200\r\n", "grpc-status: 3\r\n",
	    "grpc-message: bad%20spans:%20100%25%20wrong%20%C3%BCn%C3%AF\r\n",
	    "content-type: application/grpc+proto\r\n", "\r\n" },
	  200, true, KT_GRPC_INVALID_ARGUMENT, "bad spans: 100% wrong \xc3\xbcn\xc3\xaf" },
	{ "names in any case, values trimmed",
	  { "HTTP/2 200", "Grpc-Status:\t14 \r\n", "GRPC-MESSAGE:   try later  \n" },
	  200, true, KT_GRPC_UNAVAILABLE, "try later" },
	{ "trailers override headers",
	  { "HTTP/2 200\r\n", "grpc-status: 14\r\n", "grpc-message: first\r\n", "\r\n",
	    "grpc-status: 0\r\n", "grpc-message: second\r\n" },
	  200, true, KT_GRPC_OK, "second" },
	{ "an informational head is forgotten",
	  { "HTTP/2 100\r\n", "grpc-status: 0\r\n", "grpc-message: early\r\n", "\r\n",
	    "HTTP/2 503\r\n", "\r\n" },
	  503, false, KT_GRPC_UNAVAILABLE, "" },
};

Test(grpc_frame, status_from_headers_and_trailers)
{
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		const struct head_case *c = &heads[i];
		kt_grpc_response_reset(resp);
		for (size_t k = 0; k < 8 && c->lines[k]; k++)
			hdr(c->lines[k]);
		cr_assert_eq(resp->http_status, c->http_status, "%s", c->what);
		cr_assert_eq(resp->have_status, c->have_status, "%s", c->what);
		cr_assert_eq(kt_grpc_response_code(resp), c->code, "%s", c->what);
		cr_assert_str_eq(resp->message, c->message, "%s", c->what);
		cr_assert_eq(resp->message_len, strlen(c->message), "%s", c->what);
		const uint8_t *m;
		size_t n;
		cr_assert_eq(kt_grpc_response_message(resp, &m, &n), KT_GRPC_MSG_NONE);
	}
}

Test(grpc_frame, invalid_status_values_are_unknown)
{
	static const char *bad[] = { "grpc-status:", "grpc-status: 1x", "grpc-status: -1",
				     "grpc-status: 0x0", "grpc-status: 1234567890",
				     "grpc-status: 1 4", "grpc-status: +0" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kt_grpc_response_reset(resp);
		hdr("HTTP/2 200");
		hdr(bad[i]);
		cr_assert(resp->have_status, "%s", bad[i]);
		cr_assert(resp->status_invalid, "%s", bad[i]);
		cr_assert_eq(kt_grpc_response_code(resp), KT_GRPC_UNKNOWN, "%s", bad[i]);
		cr_assert_eq(kt_grpc_status_result(kt_grpc_response_code(resp)), KT_EXPORT_FAIL);
	}
	kt_grpc_response_reset(resp);
	hdr("grpc-status: 123456789");
	cr_assert_not(resp->status_invalid);
	cr_assert_eq(kt_grpc_response_code(resp), 123456789);
	cr_assert_eq(kt_grpc_status_result(123456789), KT_EXPORT_FAIL);
}

Test(grpc_frame, missing_status_maps_from_http)
{
	static const struct {
		const char *line;
		int code;
	} cases[] = {
		{ "HTTP/2 200", KT_GRPC_UNKNOWN },	     { "HTTP/2 400", KT_GRPC_INTERNAL },
		{ "HTTP/2 401", KT_GRPC_UNAUTHENTICATED },   { "HTTP/2 403", KT_GRPC_PERMISSION_DENIED },
		{ "HTTP/2 404", KT_GRPC_UNIMPLEMENTED },     { "HTTP/2 429", KT_GRPC_UNAVAILABLE },
		{ "HTTP/2 502", KT_GRPC_UNAVAILABLE },	     { "HTTP/2 503", KT_GRPC_UNAVAILABLE },
		{ "HTTP/2 504", KT_GRPC_UNAVAILABLE },	     { "HTTP/2 500", KT_GRPC_UNKNOWN },
		{ "HTTP/1.1 503 Service Unavailable", KT_GRPC_UNAVAILABLE },
		{ "HTTP/2 20", KT_GRPC_UNKNOWN },	     { "HTTP/2", KT_GRPC_UNKNOWN },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_grpc_response_reset(resp);
		hdr(cases[i].line);
		cr_assert_not(resp->have_status);
		cr_assert_eq(kt_grpc_response_code(resp), cases[i].code, "%s", cases[i].line);
	}
	/* HTTP 200 without grpc-status is not a success. */
	kt_grpc_response_reset(resp);
	hdr("HTTP/2 200");
	body("\0\0\0\0\0", 5);
	cr_assert_eq(kt_grpc_status_result(kt_grpc_response_code(resp)), KT_EXPORT_FAIL);
}

Test(grpc_frame, status_to_result_follows_otlp)
{
	static const enum kt_export_result want[17] = {
		[KT_GRPC_OK] = KT_EXPORT_OK,
		[KT_GRPC_CANCELLED] = KT_EXPORT_RETRY,
		[KT_GRPC_UNKNOWN] = KT_EXPORT_FAIL,
		[KT_GRPC_INVALID_ARGUMENT] = KT_EXPORT_FAIL,
		[KT_GRPC_DEADLINE_EXCEEDED] = KT_EXPORT_RETRY,
		[KT_GRPC_NOT_FOUND] = KT_EXPORT_FAIL,
		[KT_GRPC_ALREADY_EXISTS] = KT_EXPORT_FAIL,
		[KT_GRPC_PERMISSION_DENIED] = KT_EXPORT_FAIL,
		[KT_GRPC_RESOURCE_EXHAUSTED] = KT_EXPORT_RETRY,
		[KT_GRPC_FAILED_PRECONDITION] = KT_EXPORT_FAIL,
		[KT_GRPC_ABORTED] = KT_EXPORT_RETRY,
		[KT_GRPC_OUT_OF_RANGE] = KT_EXPORT_RETRY,
		[KT_GRPC_UNIMPLEMENTED] = KT_EXPORT_FAIL,
		[KT_GRPC_INTERNAL] = KT_EXPORT_FAIL,
		[KT_GRPC_UNAVAILABLE] = KT_EXPORT_RETRY,
		[KT_GRPC_DATA_LOSS] = KT_EXPORT_RETRY,
		[KT_GRPC_UNAUTHENTICATED] = KT_EXPORT_FAIL,
	};
	for (int c = 0; c <= 16; c++)
		cr_assert_eq(kt_grpc_status_result(c), want[c], "code %d", c);
	cr_assert_eq(kt_grpc_status_result(-1), KT_EXPORT_FAIL);
	cr_assert_eq(kt_grpc_status_result(17), KT_EXPORT_FAIL);
	cr_assert_str_eq(kt_grpc_code_name(14), "UNAVAILABLE");
	cr_assert_str_eq(kt_grpc_code_name(16), "UNAUTHENTICATED");
	cr_assert_str_eq(kt_grpc_code_name(17), "?");
	cr_assert_str_eq(kt_grpc_code_name(-5), "?");
}

Test(grpc_frame, message_is_bounded)
{
	size_t n = 3 * (KT_GRPC_MAX_MESSAGE + 100);
	char *line = malloc(n + 32);
	cr_assert_not_null(line);
	strcpy(line, "grpc-message: ");
	size_t o = strlen(line);
	for (size_t i = 0; i < KT_GRPC_MAX_MESSAGE + 100; i++, o += 3)
		memcpy(line + o, "%41", 3);
	line[o] = '\0';
	hdr(line);
	cr_assert(resp->have_message);
	cr_assert(resp->message_truncated);
	cr_assert_eq(resp->message_len, KT_GRPC_MAX_MESSAGE);
	cr_assert_eq(resp->message[KT_GRPC_MAX_MESSAGE], '\0');
	cr_assert_eq(resp->message[0], 'A');
	cr_assert_eq(resp->message[KT_GRPC_MAX_MESSAGE - 1], 'A');
	free(line);
}

Test(grpc_frame, message_of_exactly_the_bound_is_whole)
{
	/* 1024 decoded bytes are kept whole, one more is cut; escaped or not. */
	for (int escaped = 0; escaped < 2; escaped++) {
		for (size_t len = KT_GRPC_MAX_MESSAGE; len <= KT_GRPC_MAX_MESSAGE + 1; len++) {
			char *line = malloc(3 * len + 32);
			cr_assert_not_null(line);
			strcpy(line, "grpc-message: ");
			size_t o = strlen(line);
			for (size_t i = 0; i < len; i++) {
				memcpy(line + o, escaped ? "%42" : "B", escaped ? 3 : 1);
				o += escaped ? 3 : 1;
			}
			line[o] = '\0';
			kt_grpc_response_reset(resp);
			hdr(line);
			cr_assert(resp->have_message);
			cr_assert_eq(resp->message_truncated, len > KT_GRPC_MAX_MESSAGE, "%zu bytes",
				     len);
			cr_assert_eq(resp->message_len, KT_GRPC_MAX_MESSAGE, "%zu bytes", len);
			cr_assert_eq(resp->message[KT_GRPC_MAX_MESSAGE - 1], 'B');
			cr_assert_eq(resp->message[KT_GRPC_MAX_MESSAGE], '\0');
			free(line);
		}
	}
}

Test(grpc_frame, content_type_is_bounded)
{
	char line[300];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "content-type: ", 14);
	hdr(line);
	cr_assert_eq(strlen(resp->content_type), sizeof(resp->content_type) - 1);
}

Test(grpc_frame, odd_header_lines_are_ignored)
{
	hdr("HTTP/2 200");
	static const char *lines[] = { "", "\r\n", "no colon here", ": value without name",
				       " grpc-status: 5", "grpc-status-x: 5", "x-grpc-status: 5",
				       "grpc-statu: 5" };
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		hdr(lines[i]);
	cr_assert_not(resp->have_status);
	/* A NUL inside a line is just a byte. */
	kt_grpc_response_header(resp, "grpc-status\0: 5", 15);
	cr_assert_not(resp->have_status);
	kt_grpc_response_header(resp, "grpc-message: a\0b", 17);
	cr_assert_eq(resp->message_len, 3);
	cr_assert_arr_eq(resp->message, "a\0b", 3);
}

/* ------------------------------------------------------------------ messages */

static enum kt_grpc_msg message(const uint8_t **m, size_t *n)
{
	return kt_grpc_response_message(resp, m, n);
}

Test(grpc_frame, one_message)
{
	body("\0\0\0\0\3abc", 8);
	const uint8_t *m;
	size_t n;
	cr_assert_eq(message(&m, &n), KT_GRPC_MSG_OK);
	cr_assert_eq(n, 3);
	cr_assert_arr_eq(m, "abc", 3);
}

Test(grpc_frame, message_split_across_body_chunks)
{
	body("\0\0", 2);
	body("\0\0\3a", 4);
	body("bc", 2);
	const uint8_t *m;
	size_t n;
	cr_assert_eq(message(&m, &n), KT_GRPC_MSG_OK);
	cr_assert_arr_eq(m, "abc", 3);
}

Test(grpc_frame, hostile_messages)
{
	static const struct {
		const char *b;
		size_t n;
		enum kt_grpc_msg want;
	} cases[] = {
		{ "", 0, KT_GRPC_MSG_NONE },
		{ "\0", 1, KT_GRPC_MSG_SHORT },
		{ "\0\0\0\0", 4, KT_GRPC_MSG_SHORT },
		{ "\0\0\0\0\x0a" "abc", 8, KT_GRPC_MSG_SHORT },
		{ "\1\0\0\0\3abc", 8, KT_GRPC_MSG_COMPRESSED },
		{ "\2\0\0\0\3abc", 8, KT_GRPC_MSG_BAD_FLAG },
		{ "\xff\0\0\0\0", 5, KT_GRPC_MSG_BAD_FLAG },
		{ "\0\xff\xff\xff\xff", 5, KT_GRPC_MSG_TOO_LARGE },
		{ "\0\0\1\0\0", 5, KT_GRPC_MSG_TOO_LARGE },
		{ "\0\0\0\0\3abcd", 9, KT_GRPC_MSG_TRAILING },
		{ "\0\0\0\0\0\0\0\0\0\0", 10, KT_GRPC_MSG_TRAILING },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kt_grpc_response_reset(resp);
		body(cases[i].b, cases[i].n);
		const uint8_t *m = (const uint8_t *)"x";
		size_t n = 99;
		cr_assert_eq(message(&m, &n), cases[i].want, "case %zu: %s", i,
			     kt_grpc_msg_str(message(&m, &n)));
		cr_assert_null(m);
		cr_assert_eq(n, 0);
	}
}

Test(grpc_frame, oversized_body_is_bounded)
{
	/* A prefix announcing exactly what follows, but more than is kept. */
	size_t len = KT_GRPC_MAX_BODY;
	uint8_t *b = calloc(1, KT_GRPC_PREFIX_LEN + len);
	cr_assert_not_null(b);
	kt_grpc_frame_prefix(b, (uint32_t)len);
	for (size_t off = 0; off < KT_GRPC_PREFIX_LEN + len; off += 1000) {
		size_t n = KT_GRPC_PREFIX_LEN + len - off < 1000 ? KT_GRPC_PREFIX_LEN + len - off : 1000;
		body(b + off, n);
	}
	cr_assert_eq(resp->body_len, KT_GRPC_MAX_BODY);
	cr_assert_eq(resp->body_total, KT_GRPC_PREFIX_LEN + len);
	const uint8_t *m;
	size_t n;
	cr_assert_eq(message(&m, &n), KT_GRPC_MSG_TOO_LARGE);
	/* The largest message that fits is accepted. */
	kt_grpc_response_reset(resp);
	kt_grpc_frame_prefix(b, (uint32_t)(KT_GRPC_MAX_BODY - KT_GRPC_PREFIX_LEN));
	body(b, KT_GRPC_MAX_BODY);
	cr_assert_eq(message(&m, &n), KT_GRPC_MSG_OK);
	cr_assert_eq(n, KT_GRPC_MAX_BODY - KT_GRPC_PREFIX_LEN);
	/* One byte more is trailing garbage, even though it is not kept. */
	body("x", 1);
	cr_assert_eq(message(&m, &n), KT_GRPC_MSG_TRAILING);
	free(b);
}

Test(grpc_frame, body_one_byte_over_what_is_kept)
{
	/* The largest message the kept body holds is OK; one byte more is too large. */
	for (size_t over = 0; over < 2; over++) {
		size_t len = KT_GRPC_MAX_BODY - KT_GRPC_PREFIX_LEN + over;
		uint8_t *b = calloc(1, KT_GRPC_PREFIX_LEN + len);
		cr_assert_not_null(b);
		kt_grpc_frame_prefix(b, (uint32_t)len);
		kt_grpc_response_reset(resp);
		body(b, KT_GRPC_PREFIX_LEN + len);
		cr_assert_eq(resp->body_len, KT_GRPC_MAX_BODY);
		cr_assert_eq(resp->body_total, KT_GRPC_PREFIX_LEN + len);
		const uint8_t *m;
		size_t n;
		cr_assert_eq(message(&m, &n), over ? KT_GRPC_MSG_TOO_LARGE : KT_GRPC_MSG_OK,
			     "a message of %zu bytes", len);
		if (!over)
			cr_assert_eq(n, len);
		free(b);
	}
}

/* ------------------------------------------------------------------ partial success */

/* An ExportTraceServiceResponse, framed, as the response body. */
static void response_body(int64_t rejected, const char *msg)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	ps.rejected_spans = rejected;
	ps.error_message.data = (uint8_t *)msg;
	ps.error_message.len = strlen(msg);
	if (rejected || *msg)
		r.partial_success = &ps;
	uint8_t buf[512];
	size_t n = opentelemetry__proto__collector__trace__v1__export_trace_service_response__get_packed_size(
		&r);
	cr_assert(n + KT_GRPC_PREFIX_LEN <= sizeof(buf));
	kt_grpc_frame_prefix(buf, (uint32_t)n);
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(
		&r, buf + KT_GRPC_PREFIX_LEN);
	body(buf, n + KT_GRPC_PREFIX_LEN);
}

/*
 * The response the collector would send, read back the way the exporter
 * does: framed, then the message's partial_success.
 */
static int round_trip(int64_t rejected, const char *msg, struct kt_otlp_partial_success *ps)
{
	response_body(rejected, msg);
	const uint8_t *m;
	size_t n;
	cr_assert_eq(message(&m, &n), KT_GRPC_MSG_OK);
	return kt_otlp_partial_success_parse(m, n, ps);
}

Test(grpc_frame, partial_success_parsed)
{
	struct kt_otlp_partial_success ps;
	cr_assert_eq(round_trip(5, "too old:\n5 spans\x01", &ps), 1);
	cr_assert_eq(ps.rejected_spans, 5);
	cr_assert_str_eq(ps.message, "too old: 5 spans.");
}

Test(grpc_frame, partial_success_message_only)
{
	struct kt_otlp_partial_success ps;
	cr_assert_eq(round_trip(0, "warning only", &ps), 1);
	cr_assert_eq(ps.rejected_spans, 0);
	cr_assert_str_eq(ps.message, "warning only");
}

Test(grpc_frame, empty_response_reports_nothing)
{
	struct kt_otlp_partial_success ps;
	cr_assert_eq(round_trip(0, "", &ps), 0);
	cr_assert_eq(resp->body_total, KT_GRPC_PREFIX_LEN);
}

Test(grpc_frame, partial_success_long_message_is_cut)
{
	char msg[400];
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	struct kt_otlp_partial_success ps;
	cr_assert_eq(round_trip(1, msg, &ps), 1);
	cr_assert_eq(strlen(ps.message), KT_OTLP_EXCERPT_LEN + 3);
	cr_assert_str_eq(ps.message + KT_OTLP_EXCERPT_LEN, "...");
}

Test(grpc_frame, garbage_response_is_not_a_response)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	struct kt_otlp_partial_success ps;
	cr_assert_eq(kt_otlp_partial_success_parse(junk, sizeof(junk), &ps), -1);
	/* partial_success (field 1) announced longer than the message. */
	static const uint8_t cut[] = { 0x0a, 0x10, 0x08, 0x01 };
	cr_assert_eq(kt_otlp_partial_success_parse(cut, sizeof(cut), &ps), -1);
}

Test(grpc_frame, partial_success_logged, .init = cr_redirect_stderr)
{
	setup();
	response_body(7, "quota");
	const uint8_t *m;
	size_t n;
	cr_assert_eq(message(&m, &n), KT_GRPC_MSG_OK);
	cr_assert_eq(kt_otlp_partial_success_log(m, n, false, "otlp-grpc", "http://c:4317"), 1);
	fflush(stderr);
	char buf[1024] = { 0 };
	size_t got = fread(buf, 1, sizeof(buf) - 1, cr_get_redirected_stderr());
	buf[got] = '\0';
	cr_assert(strstr(buf, "otlp-grpc: http://c:4317: collector rejected 7 span(s): quota"),
		  "%s", buf);
}

/* A logs collector's answer, as its own message type packs it, read by the same parser. */
Test(grpc_frame, logs_partial_success_logged_as_log_records, .init = cr_redirect_stderr)
{
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceResponse r =
		OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsPartialSuccess ps =
		OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_PARTIAL_SUCCESS__INIT;
	ps.rejected_log_records = 3;
	ps.error_message = (ProtobufCBinaryData){ .len = 7, .data = (uint8_t *)"too old" };
	r.partial_success = &ps;
	uint8_t buf[128];
	size_t n = opentelemetry__proto__collector__logs__v1__export_logs_service_response__pack(&r, buf);
	cr_assert_eq(kt_otlp_partial_success_log(buf, n, true, "otlp-grpc", "http://c:4317"), 1);
	fflush(stderr);
	char out[1024] = { 0 };
	size_t got = fread(out, 1, sizeof(out) - 1, cr_get_redirected_stderr());
	out[got] = '\0';
	cr_assert(strstr(out, "otlp-grpc: http://c:4317: collector rejected 3 log record(s): too old"), "%s", out);
}

/* ------------------------------------------------------------------ garbage */

Test(grpc_frame, random_input_stays_in_bounds)
{
	uint64_t s = 42;
	char line[600];
	for (int round = 0; round < 2000; round++) {
		kt_grpc_response_reset(resp);
		for (int k = 0; k < 8; k++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			size_t n = (s >> 33) % sizeof(line);
			for (size_t i = 0; i < n; i++) {
				s = s * 6364136223846793005ull + 1442695040888963407ull;
				line[i] = (char)(s >> 56);
			}
			/* Now and then a known name in front of the noise. */
			static const char *names[] = { "grpc-status: ", "grpc-message: ",
						       "content-type: ", "HTTP/2 " };
			if ((s >> 20) % 3 == 0) {
				const char *p = names[(s >> 24) % 4];
				size_t pl = strlen(p);
				if (n >= pl)
					memcpy(line, p, pl);
			}
			if ((s >> 30) & 1)
				kt_grpc_response_header(resp, line, n);
			else
				kt_grpc_response_body(resp, line, n);
			cr_assert(resp->message_len <= KT_GRPC_MAX_MESSAGE);
			cr_assert_eq(resp->message[resp->message_len], '\0');
			cr_assert(resp->body_len <= KT_GRPC_MAX_BODY);
			cr_assert(strlen(resp->content_type) < sizeof(resp->content_type));
		}
		const uint8_t *m;
		size_t n;
		if (message(&m, &n) == KT_GRPC_MSG_OK) {
			cr_assert(m >= resp->body && m + n <= resp->body + resp->body_len);
			struct kt_otlp_partial_success ps;
			(void)kt_otlp_partial_success_parse(m, n, &ps);
		}
		int code = kt_grpc_response_code(resp);
		(void)kt_grpc_status_result(code);
		(void)kt_grpc_code_name(code);
	}
}

/* ------------------------------------------- grpc-status-details-bin: RetryInfo */

/* "grpc-status-details-bin: " and base64 (padding cut when !padded) of a Status with these details. */
static void details_header(Google__Rpc__Any **details, size_t n, bool padded)
{
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
	st.code = 14;
	st.n_details = n;
	st.details = details;
	size_t len = google__rpc__status__get_packed_size(&st);
	uint8_t *bin = malloc(len + 1);
	char *line = malloc(64 + 4 * len / 3 + 8);
	cr_assert(bin && line);
	google__rpc__status__pack(&st, bin);
	int off = sprintf(line, "grpc-status-details-bin: ");
	int tn = EVP_EncodeBlock((unsigned char *)line + off, bin, (int)len);
	while (!padded && tn > 0 && line[off + tn - 1] == '=')
		tn--;
	line[off + tn] = '\0';
	hdr(line);
	free(bin);
	free(line);
}

/* An Any holding a RetryInfo of seconds and nanos (value and type_url owned by the caller's buffers). */
static void retry_any(Google__Rpc__Any *a, uint8_t *buf, int64_t seconds, int32_t nanos)
{
	Google__Rpc__Duration d = GOOGLE__RPC__DURATION__INIT;
	Google__Rpc__RetryInfo ri = GOOGLE__RPC__RETRY_INFO__INIT;
	d.seconds = seconds;
	d.nanos = nanos;
	ri.retry_delay = &d;
	google__rpc__any__init(a);
	a->type_url.data = (uint8_t *)KT_GRPC_RETRY_INFO_TYPE;
	a->type_url.len = strlen(KT_GRPC_RETRY_INFO_TYPE);
	a->value.len = google__rpc__retry_info__pack(&ri, buf);
	a->value.data = buf;
}

static uint64_t delay_of(int64_t seconds, int32_t nanos)
{
	Google__Rpc__Any a, *d[1] = { &a };
	uint8_t buf[64];
	kt_grpc_response_reset(resp);
	retry_any(&a, buf, seconds, nanos);
	details_header(d, 1, true);
	cr_assert(resp->have_retry_delay, "%lld s %d ns", (long long)seconds, nanos);
	cr_assert_not(resp->details_unusable);
	return resp->retry_delay_ms;
}

Test(grpc_frame, retry_info_gives_the_delay)
{
	cr_expect_eq(delay_of(2, 500000000), 2500);
	cr_expect_eq(delay_of(3, 0), 3000);
	cr_expect_eq(delay_of(0, 1), 1); /* never shorter than asked */
	cr_expect_eq(delay_of(0, 0), 0);
	cr_expect_eq(delay_of(-5, 0), 0);
	cr_expect_eq(delay_of(0, -1), 0);
	cr_expect_eq(delay_of(INT64_MAX, 999999999), UINT64_MAX);
}

Test(grpc_frame, retry_info_unpadded_among_other_details)
{
	static const char other[] = "type.googleapis.com/google.rpc.DebugInfo";
	Google__Rpc__Any dbg, wrong, ri1, ri2;
	uint8_t b1[64], b2[64];
	google__rpc__any__init(&dbg);
	dbg.type_url.data = (uint8_t *)other;
	dbg.type_url.len = strlen(other);
	dbg.value.data = (uint8_t *)"\x0a\x03x y";
	dbg.value.len = 5;
	/* a RetryInfo under a type_url one byte short is not one */
	retry_any(&wrong, b1, 9, 0);
	wrong.type_url.len--;
	retry_any(&ri1, b1, 4, 0);
	retry_any(&ri2, b2, 7, 0);
	Google__Rpc__Any *d[4] = { &dbg, &wrong, &ri1, &ri2 };
	details_header(d, 4, false);
	cr_assert(resp->have_retry_delay);
	cr_expect_eq(resp->retry_delay_ms, 4000); /* the first RetryInfo */
	/* a new response head forgets it */
	hdr("HTTP/2 200");
	cr_expect_not(resp->have_retry_delay);
	cr_expect_eq(resp->retry_delay_ms, 0);
}

Test(grpc_frame, status_without_retry_info)
{
	details_header(NULL, 0, true);
	cr_expect_not(resp->have_retry_delay);
	cr_expect_not(resp->details_unusable);
}

Test(grpc_frame, unusable_details_are_ignored)
{
	static const char *const bad[] = {
		"grpc-status-details-bin: not base64!",
		"grpc-status-details-bin: CA", /* a Status cut after its code's tag */
		"grpc-status-details-bin: Gg", /* a details entry without its length... */
		"grpc-status-details-bin: GgMKAQ", /* ...and one whose length runs past the end */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kt_grpc_response_reset(resp);
		hdr(bad[i]);
		cr_expect_not(resp->have_retry_delay, "%s", bad[i]);
		cr_expect(resp->details_unusable, "%s", bad[i]);
	}
	/* a RetryInfo whose value is not one */
	Google__Rpc__Any a, *d[1] = { &a };
	uint8_t buf[64];
	retry_any(&a, buf, 1, 0);
	a.value.data = (uint8_t *)"\x0a\x09";
	a.value.len = 2;
	kt_grpc_response_reset(resp);
	details_header(d, 1, true);
	cr_expect_not(resp->have_retry_delay);
	cr_expect(resp->details_unusable);
}

Test(grpc_frame, oversized_details_are_ignored)
{
	/* a Status larger than KT_GRPC_MAX_DETAILS once decoded, its RetryInfo unread */
	static uint8_t big[KT_GRPC_MAX_DETAILS];
	Google__Rpc__Any pad, ri, *d[2] = { &pad, &ri };
	uint8_t buf[64];
	google__rpc__any__init(&pad);
	pad.value.data = big;
	pad.value.len = sizeof(big);
	retry_any(&ri, buf, 5, 0);
	details_header(d, 2, true);
	cr_expect_not(resp->have_retry_delay);
	cr_expect(resp->details_unusable);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc decoding (user/rpc/ttrpc_frame.c, user/rpc/ttrpc_rpc.c, user/rpc/ttrpc_span.c):
 * the golden vectors field by field, every chunking of them, the hybrid
 * vsock handshake, request/response matching in any order, calls that end
 * without a response, W3C trace context, hostile input, and spans.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect_span.h"
#include "exporters/otlp_build.h"
#include "base/pb_budget.h"
#include "model/ids.h"
#include "model/span_record.h"
#include "ttrpc/ttrpc.pb-c.h"
#include "rpc/ttrpc_frame.h"
#include "rpc/ttrpc_rpc.h"
#include "rpc/ttrpc_span.h"

#define TP_VECTOR "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define SEC 1000000000ull
#define OFF 1700000000000000000ll /* realtime - monotonic in these tests */

/* ------------------------------------------------------------ recording calls */

struct call_copy {
	char service[300], method[300], message[5000], tracestate[600];
	size_t message_len;
	struct kt_ttrpc_call c; /* its strings point at the copies above */
};

struct rec {
	struct call_copy *calls;
	size_t n, cap;
	char errors[8][600];
	size_t n_errors;
};

static void copy_str(char *dst, size_t size, struct kt_str s)
{
	cr_assert_lt(s.len, size);
	cr_assert_eq(s.ptr[s.len], '\0', "string not NUL-terminated");
	memcpy(dst, s.ptr, s.len + 1);
}

/* Points the copy's strings at its own buffers (again, after a realloc). */
static void aim(struct call_copy *k)
{
	k->c.service = (struct kt_str){ k->service, strlen(k->service) };
	k->c.method = (struct kt_str){ k->method, strlen(k->method) };
	k->c.status_message = (struct kt_str){ k->message, k->message_len };
	k->c.tracestate = (struct kt_str){ k->tracestate, strlen(k->tracestate) };
}

static void on_call(void *ctx, const struct kt_ttrpc_call *c)
{
	struct rec *r = ctx;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->calls = realloc(r->calls, r->cap * sizeof(*r->calls));
		cr_assert_not_null(r->calls);
		for (size_t i = 0; i < r->n; i++)
			aim(&r->calls[i]);
	}
	struct call_copy *k = &r->calls[r->n++];
	k->c = *c;
	copy_str(k->service, sizeof(k->service), c->service);
	copy_str(k->method, sizeof(k->method), c->method);
	copy_str(k->message, sizeof(k->message), c->status_message);
	k->message_len = c->status_message.len;
	if (c->has_tracestate)
		copy_str(k->tracestate, sizeof(k->tracestate), c->tracestate);
	else
		k->tracestate[0] = '\0';
	aim(k);
}

static void on_error(void *ctx, const char *msg)
{
	struct rec *r = ctx;
	if (r->n_errors < 8)
		snprintf(r->errors[r->n_errors], sizeof(r->errors[0]), "%s", msg);
	r->n_errors++;
}

static const struct kt_ttrpc_conn_ops rec_ops = { .call = on_call, .error = on_error };

static struct kt_ttrpc_time at(uint64_t mono)
{
	return (struct kt_ttrpc_time){ .mono_ns = mono, .realtime_off_ns = OFF };
}

static struct kt_ttrpc_conn *conn_with(const struct kt_ttrpc_cfg *cfg, struct rec *r)
{
	memset(r, 0, sizeof(*r));
	struct kt_ttrpc_conn *c = kt_ttrpc_conn_new(cfg, "unix conn 7 (/run/vc/vm/sb/clh.sock)",
						    &rec_ops, r);
	cr_assert_not_null(c);
	return c;
}

static void rec_free(struct rec *r)
{
	free(r->calls);
	memset(r, 0, sizeof(*r));
}

/*
 * The connection a test works on and what it reported: opened with the
 * default configuration before each test, freed after it.
 */
static struct rec r;
static struct kt_ttrpc_conn *c;

static void setup(void)
{
	c = conn_with(NULL, &r);
}

static void teardown(void)
{
	kt_ttrpc_conn_free(c);
	c = NULL;
	rec_free(&r);
}

/* Starts over on a new connection (cfg NULL: the default configuration). */
static void reopen(const struct kt_ttrpc_cfg *cfg)
{
	teardown();
	c = conn_with(cfg, &r);
}

TestSuite(ttrpc_vectors, .init = setup, .fini = teardown);
TestSuite(ttrpc_match, .init = setup, .fini = teardown);
TestSuite(ttrpc_handshake, .init = setup, .fini = teardown);
TestSuite(ttrpc_hostile, .init = setup, .fini = teardown);
TestSuite(ttrpc_trace, .init = setup, .fini = teardown);
TestSuite(ttrpc_span, .init = setup, .fini = teardown);

/* Exact-size heap copy pushed, so that ASan sees any read past the end. */
static void push(struct kt_ttrpc_conn *c, enum kt_ttrpc_dir d, const void *p, size_t n,
		 uint64_t mono)
{
	uint8_t *b = malloc(n ? n : 1);
	cr_assert_not_null(b);
	if (n)
		memcpy(b, p, n);
	kt_ttrpc_conn_push(c, d, b, n, at(mono));
	free(b);
}

static bool errors_mention(const struct rec *r, const char *needle)
{
	for (size_t i = 0; i < r->n_errors && i < 8; i++)
		if (strstr(r->errors[i], needle))
			return true;
	return false;
}

/* ------------------------------------------------------------ building frames */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = 2 * (b->n + n + 1);
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p);
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_hdr(struct buf *b, uint32_t len, uint32_t id, uint8_t type, uint8_t flags)
{
	uint8_t h[10] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			  (uint8_t)len,		(uint8_t)(id >> 24),  (uint8_t)(id >> 16),
			  (uint8_t)(id >> 8),	(uint8_t)id,	      type,
			  flags };
	put(b, h, sizeof(h));
}

static void put_frame(struct buf *b, uint32_t id, uint8_t type, const void *p, size_t n)
{
	put_hdr(b, (uint32_t)n, id, type, 0);
	put(b, p, n);
}

/* A frame carrying the serialized message m. */
static void put_message(struct buf *b, uint32_t id, uint8_t type, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *p = malloc(n + 1);
	cr_assert_eq(protobuf_c_message_pack(m, p), n);
	put_frame(b, id, type, p, n);
	free(p);
}

static ProtobufCBinaryData bin(const char *s)
{
	return (ProtobufCBinaryData){ .len = strlen(s), .data = (uint8_t *)s };
}

/* A Request frame; md is NULL or "key", "value", ..., NULL. */
static void put_request(struct buf *b, uint32_t id, const char *service, const char *method,
			size_t payload_len, int64_t timeout, const char *const *md)
{
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	Ttrpc__KeyValue kv[16], *kvp[16];
	uint8_t *payload = calloc(1, payload_len + 1);
	r.service = bin(service);
	r.method = bin(method);
	r.payload = (ProtobufCBinaryData){ .len = payload_len, .data = payload };
	r.timeout_nano = timeout;
	for (size_t i = 0; md && md[2 * i]; i++) {
		cr_assert_lt(i, 16);
		ttrpc__key_value__init(&kv[i]);
		kv[i].key = bin(md[2 * i]);
		kv[i].value = bin(md[2 * i + 1]);
		kvp[i] = &kv[i];
		r.n_metadata = i + 1;
	}
	r.metadata = kvp;
	put_message(b, id, KT_TTRPC_REQUEST, &r.base);
	free(payload);
}

static void put_response(struct buf *b, uint32_t id, int32_t code, const char *msg,
			 size_t payload_len)
{
	Ttrpc__Response r = TTRPC__RESPONSE__INIT;
	Google__Rpc__Status s = GOOGLE__RPC__STATUS__INIT;
	uint8_t *payload = calloc(1, payload_len + 1);
	s.code = code;
	s.message = bin(msg);
	r.status = &s;
	r.payload = (ProtobufCBinaryData){ .len = payload_len, .data = payload };
	put_message(b, id, KT_TTRPC_RESPONSE, &r.base);
	free(payload);
}

static void push_buf(struct kt_ttrpc_conn *c, enum kt_ttrpc_dir d, struct buf *b, uint64_t mono)
{
	push(c, d, b->p, b->n, mono);
	free(b->p);
	*b = (struct buf){ 0 };
}

/* Sends the requests in b at 1 s and closes the connection at 2 s. */
static void send_and_close(struct kt_ttrpc_conn *c, struct buf *b)
{
	push_buf(c, KT_TTRPC_TO_SERVER, b, SEC);
	kt_ttrpc_conn_close(c, at(2 * SEC));
}

/* One grpc.AgentService request without payload, timeout or metadata. */
static void request(struct kt_ttrpc_conn *c, uint32_t id, const char *method, uint64_t mono)
{
	struct buf b = { 0 };
	put_request(&b, id, "grpc.AgentService", method, 0, 0, NULL);
	push_buf(c, KT_TTRPC_TO_SERVER, &b, mono);
}

static void respond(struct kt_ttrpc_conn *c, uint32_t id, int32_t code, const char *msg,
		    size_t payload_len, uint64_t mono)
{
	struct buf b = { 0 };
	put_response(&b, id, code, msg, payload_len);
	push_buf(c, KT_TTRPC_TO_CLIENT, &b, mono);
}

/* ------------------------------------------------------------ golden vectors */

static void expect_trace_vector(const struct kt_ttrpc_call *c)
{
	cr_expect(c->has_traceparent);
	cr_expect_eq(c->trace_id.hi, 0x0af7651916cd43ddull);
	cr_expect_eq(c->trace_id.lo, 0x8448eb211c80319cull);
	cr_expect_eq(c->parent_span_id, 0xb7ad6b7169203331ull);
	cr_expect_eq(c->trace_flags, 1);
	cr_expect_not(c->has_tracestate);
}

/* The CreateContainer call of the vectors, answered OK on stream 1. */
static void expect_create_ok(const struct kt_ttrpc_call *c)
{
	cr_expect_str_eq(c->service.ptr, "grpc.AgentService");
	cr_expect_str_eq(c->method.ptr, "CreateContainer");
	cr_expect_eq(c->stream_id, 1);
	cr_expect_eq(c->request_size, 8); /* CreateContainerRequest{c1, c1} */
	cr_expect_eq(c->timeout_nano, 60000000000ll);
	cr_expect_eq(c->end, KT_TTRPC_END_RESPONSE);
	cr_expect_eq(c->status_code, 0);
	cr_expect_eq(c->status_message.len, 0);
	cr_expect_eq(c->response_size, 0);
	cr_expect_eq(c->status_details, 0);
	cr_expect_not(c->long_poll);
	expect_trace_vector(c);
}

struct frames {
	struct kt_ttrpc_frame f[8];
	uint8_t payload[8][256];
	size_t n;
	uint32_t port;
	size_t handshakes, errors;
};

static void fr_frame(void *ctx, const struct kt_ttrpc_frame *f)
{
	struct frames *r = ctx;
	cr_assert_lt(r->n, 8);
	cr_assert_leq(f->length, 256);
	cr_assert_not_null(f->payload);
	r->f[r->n] = *f;
	memcpy(r->payload[r->n], f->payload, f->length);
	r->f[r->n].payload = r->payload[r->n];
	r->n++;
}

static void fr_handshake(void *ctx, enum kt_ttrpc_dir dir, uint32_t port)
{
	(void)dir;
	struct frames *r = ctx;
	r->port = port;
	r->handshakes++;
}

static void fr_error(void *ctx, const char *msg)
{
	(void)msg;
	((struct frames *)ctx)->errors++;
}

static const struct kt_ttrpc_framer_ops fr_ops = { fr_frame, fr_handshake, fr_error };

/* Frames a byte sequence pushed in pieces cut at the given offsets. */
static void frame_pieces(struct frames *r, enum kt_ttrpc_dir d, const uint8_t *p, size_t n,
			 const size_t *cuts, size_t ncuts)
{
	struct kt_ttrpc_framer f;
	memset(r, 0, sizeof(*r));
	kt_ttrpc_framer_init(&f, d, KT_TTRPC_HS_AUTO, 0, "test", &fr_ops, r);
	size_t o = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		uint8_t *piece = malloc(end - o + 1);
		memcpy(piece, p + o, end - o);
		kt_ttrpc_framer_push(&f, piece, end - o, at(100 + i));
		free(piece);
		o = end;
	}
	cr_expect_eq(kt_ttrpc_framer_pending(&f), 0);
	kt_ttrpc_framer_free(&f);
}

Test(ttrpc_vectors, request_frame_fields)
{
	size_t n;
	uint8_t *v = kt_test_read_vector("ttrpc_request_createcontainer.bin", &n);
	struct frames fr;
	cr_assert_eq(n, 135);
	frame_pieces(&fr, KT_TTRPC_TO_SERVER, v, n, NULL, 0);
	cr_assert_eq(fr.n, 1);
	cr_expect_eq(fr.f[0].length, 125);
	cr_expect_eq(fr.f[0].stream_id, 1);
	cr_expect_eq(fr.f[0].type, KT_TTRPC_REQUEST);
	cr_expect_eq(fr.f[0].flags, 0);
	cr_expect_eq(fr.handshakes, 0);

	Ttrpc__Request *q = ttrpc__request__unpack(NULL, fr.f[0].length, fr.f[0].payload);
	cr_assert_not_null(q);
	cr_expect_eq(q->service.len, 17);
	cr_expect_arr_eq(q->service.data, "grpc.AgentService", 17);
	cr_expect_arr_eq(q->method.data, "CreateContainer", 15);
	static const uint8_t payload[] = { 0x0a, 0x02, 'c', '1', 0x12, 0x02, 'c', '1' };
	cr_expect_eq(q->payload.len, sizeof(payload));
	cr_expect_arr_eq(q->payload.data, payload, sizeof(payload));
	cr_expect_eq(q->timeout_nano, 60000000000ll);
	cr_assert_eq(q->n_metadata, 1);
	cr_expect_arr_eq(q->metadata[0]->key.data, "traceparent", 11);
	cr_expect_eq(q->metadata[0]->value.len, 55);
	cr_expect_arr_eq(q->metadata[0]->value.data, TP_VECTOR, 55);
	ttrpc__request__free_unpacked(q, NULL);
	free(v);
}

Test(ttrpc_vectors, response_frame_fields)
{
	size_t n;
	uint8_t *v = kt_test_read_vector("ttrpc_response_ok.bin", &n);
	struct frames fr;
	frame_pieces(&fr, KT_TTRPC_TO_CLIENT, v, n, NULL, 0);
	cr_assert_eq(fr.n, 1);
	cr_expect_eq(fr.f[0].length, 2);
	cr_expect_eq(fr.f[0].stream_id, 1);
	cr_expect_eq(fr.f[0].type, KT_TTRPC_RESPONSE);
	free(v);

	v = kt_test_read_vector("ttrpc_response_error.bin", &n);
	frame_pieces(&fr, KT_TTRPC_TO_CLIENT, v, n, NULL, 0);
	cr_assert_eq(fr.n, 1);
	cr_expect_eq(fr.f[0].length, 28);
	cr_expect_eq(fr.f[0].stream_id, 3);
	Ttrpc__Response *s = ttrpc__response__unpack(NULL, fr.f[0].length, fr.f[0].payload);
	cr_assert_not_null(s);
	cr_assert_not_null(s->status);
	cr_expect_eq(s->status->code, 5);
	cr_expect_eq(s->status->message.len, 22);
	cr_expect_arr_eq(s->status->message.data, "container c2 not found", 22);
	cr_expect_eq(s->payload.len, 0);
	ttrpc__response__free_unpacked(s, NULL);
	free(v);
}

/*
 * A request vector pushed at 5 s, a response vector (or, with its name NULL,
 * nothing) at 7 s, on a new connection.
 */
static void vector_pair(const char *req_name, const char *resp_name)
{
	size_t n;
	reopen(NULL);
	uint8_t *v = kt_test_read_vector(req_name, &n);
	push(c, KT_TTRPC_TO_SERVER, v, n, 5 * SEC);
	free(v);
	cr_expect_eq(kt_ttrpc_conn_outstanding(c), 1);
	if (resp_name) {
		v = kt_test_read_vector(resp_name, &n);
		push(c, KT_TTRPC_TO_CLIENT, v, n, 7 * SEC);
		free(v);
	}
}

/* StartContainer on stream 3, answered by the error vector. */
static void error_call(void)
{
	size_t n;
	struct buf b = { 0 };
	put_request(&b, 3, "grpc.AgentService", "StartContainer", 4, 0, NULL);
	push_buf(c, KT_TTRPC_TO_SERVER, &b, SEC);
	uint8_t *v = kt_test_read_vector("ttrpc_response_error.bin", &n);
	push(c, KT_TTRPC_TO_CLIENT, v, n, 2 * SEC);
	free(v);
	cr_assert_eq(r.n, 1);
}

Test(ttrpc_vectors, create_container_call)
{
	vector_pair("ttrpc_request_createcontainer.bin", "ttrpc_response_ok.bin");
	cr_assert_eq(r.n, 1);
	expect_create_ok(&r.calls[0].c);
	cr_expect_eq(r.calls[0].c.start_mono_ns, 5 * SEC);
	cr_expect_eq(r.calls[0].c.end_mono_ns, 7 * SEC);
	cr_expect_eq(r.calls[0].c.start_unix_ns, 5 * SEC + (uint64_t)OFF);
	cr_expect_eq(r.calls[0].c.end_unix_ns, 7 * SEC + (uint64_t)OFF);
	const struct kt_ttrpc_stats *st = kt_ttrpc_conn_stats(c);
	cr_expect_eq(st->requests, 1);
	cr_expect_eq(st->responses, 1);
	cr_expect_eq(st->calls, 1);
	cr_expect_eq(kt_ttrpc_conn_outstanding(c), 0);
	kt_ttrpc_conn_close(c, at(8 * SEC));
	cr_expect_eq(r.n, 1);
	cr_expect_eq(r.n_errors, 0);
}

Test(ttrpc_vectors, error_response_call)
{
	error_call();
	const struct kt_ttrpc_call *k = &r.calls[0].c;
	cr_expect_str_eq(k->method.ptr, "StartContainer");
	cr_expect_eq(k->stream_id, 3);
	cr_expect_eq(k->status_code, 5);
	cr_expect_str_eq(k->status_message.ptr, "container c2 not found");
	cr_expect_eq(k->status_message.len, 22);
	cr_expect_eq(k->end, KT_TTRPC_END_RESPONSE);
	cr_expect_not(k->has_traceparent);
	cr_expect_eq(k->timeout_nano, 0);
}

Test(ttrpc_vectors, hybrid_vsock_handshake)
{
	uint32_t port = 0;
	cr_expect_not(kt_ttrpc_conn_port(c, KT_TTRPC_TO_SERVER, &port));
	vector_pair("hvsock_client_to_vmm_createcontainer.bin", "hvsock_vmm_to_client_ok.bin");
	cr_assert_eq(r.n, 1, "%s", r.n_errors ? r.errors[0] : "");
	expect_create_ok(&r.calls[0].c);
	cr_expect(kt_ttrpc_conn_port(c, KT_TTRPC_TO_SERVER, &port));
	cr_expect_eq(port, 1024);
	cr_expect(kt_ttrpc_conn_port(c, KT_TTRPC_TO_CLIENT, &port));
	cr_expect_eq(port, 1073741824u);
	cr_expect_eq(r.n_errors, 0);
}

/* Both directions, each cut once at every byte boundary (and byte by byte). */
static void every_split(const char *req_name, const char *resp_name)
{
	size_t nq, ns;
	uint8_t *q = kt_test_read_vector(req_name, &nq);
	uint8_t *s = kt_test_read_vector(resp_name, &ns);
	/* Where the request frame starts: after the handshake line, if any. */
	size_t hs = q[0] ? (size_t)((uint8_t *)memchr(q, '\n', nq) - q) + 1 : 0;

	for (size_t k = 0; k <= nq + 1; k++) {
		reopen(NULL);
		if (k <= nq) {
			push(c, KT_TTRPC_TO_SERVER, q, k, SEC);
			push(c, KT_TTRPC_TO_SERVER, q + k, nq - k, SEC + 1);
		} else {
			for (size_t i = 0; i < nq; i++)
				push(c, KT_TTRPC_TO_SERVER, q + i, 1, SEC + i);
		}
		size_t j = k % (ns + 1);
		push(c, KT_TTRPC_TO_CLIENT, s, j, 3 * SEC);
		push(c, KT_TTRPC_TO_CLIENT, s + j, ns - j, 4 * SEC);
		cr_assert_eq(r.n, 1, "%s cut at %zu / %s cut at %zu", req_name, k, resp_name, j);
		expect_create_ok(&r.calls[0].c);
		uint64_t start = k > nq ? SEC + hs : k > hs ? SEC : SEC + 1;
		cr_expect_eq(r.calls[0].c.start_mono_ns, start, "cut at %zu", k);
		cr_expect_eq(r.calls[0].c.end_mono_ns, j == ns ? 3 * SEC : 4 * SEC);
		cr_expect_eq(r.n_errors, 0);
	}
	/* The response byte by byte too. */
	reopen(NULL);
	push(c, KT_TTRPC_TO_SERVER, q, nq, SEC);
	for (size_t i = 0; i < ns; i++)
		push(c, KT_TTRPC_TO_CLIENT, s + i, 1, 2 * SEC);
	cr_assert_eq(r.n, 1);
	expect_create_ok(&r.calls[0].c);
	free(q);
	free(s);
}

Test(ttrpc_vectors, every_split_plain)
{
	every_split("ttrpc_request_createcontainer.bin", "ttrpc_response_ok.bin");
}

Test(ttrpc_vectors, every_split_hybrid_vsock)
{
	every_split("hvsock_client_to_vmm_createcontainer.bin", "hvsock_vmm_to_client_ok.bin");
}

/* Every vector, every two-cut split, framed alike. */
Test(ttrpc_vectors, every_two_cut_split_frames_alike)
{
	static const struct {
		const char *name;
		enum kt_ttrpc_dir dir;
	} vec[] = {
		{ "ttrpc_request_createcontainer.bin", KT_TTRPC_TO_SERVER },
		{ "ttrpc_response_ok.bin", KT_TTRPC_TO_CLIENT },
		{ "ttrpc_response_error.bin", KT_TTRPC_TO_CLIENT },
		{ "hvsock_client_to_vmm_createcontainer.bin", KT_TTRPC_TO_SERVER },
		{ "hvsock_vmm_to_client_ok.bin", KT_TTRPC_TO_CLIENT },
	};
	for (size_t v = 0; v < sizeof(vec) / sizeof(vec[0]); v++) {
		size_t n;
		uint8_t *p = kt_test_read_vector(vec[v].name, &n);
		struct frames whole, cut;
		frame_pieces(&whole, vec[v].dir, p, n, NULL, 0);
		cr_assert_eq(whole.n, 1);
		for (size_t i = 0; i <= n; i++)
			for (size_t j = i; j <= n; j++) {
				size_t cuts[2] = { i, j };
				frame_pieces(&cut, vec[v].dir, p, n, cuts, 2);
				cr_assert_eq(cut.n, 1, "%s cut at %zu,%zu", vec[v].name, i, j);
				cr_assert_eq(cut.errors, 0);
				cr_assert_eq(cut.handshakes, whole.handshakes);
				cr_assert_eq(cut.port, whole.port);
				cr_assert_eq(cut.f[0].length, whole.f[0].length);
				cr_assert_eq(cut.f[0].stream_id, whole.f[0].stream_id);
				cr_assert_eq(cut.f[0].type, whole.f[0].type);
				cr_assert_arr_eq(cut.payload[0], whole.payload[0], whole.f[0].length);
			}
		free(p);
	}
}

/* ------------------------------------------------------------ matching */

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

Test(ttrpc_match, out_of_order_over_many_streams)
{
	enum { N = 2000 };
	struct buf b = { 0 };
	char method[32];

	for (uint32_t i = 0; i < N; i++) {
		snprintf(method, sizeof(method), "M%u", i);
		put_request(&b, 2 * i + 1, "grpc.AgentService", method, i % 50, i, NULL);
	}
	/* All requests in one push, then in random-sized chunks. */
	push(c, KT_TTRPC_TO_SERVER, b.p, b.n / 2, SEC);
	push(c, KT_TTRPC_TO_SERVER, b.p + b.n / 2, b.n - b.n / 2, SEC);
	free(b.p);
	b = (struct buf){ 0 };
	cr_assert_eq(kt_ttrpc_conn_outstanding(c), N);

	uint32_t order[N], seed = 42;
	for (uint32_t i = 0; i < N; i++)
		order[i] = i;
	for (uint32_t i = N - 1; i > 0; i--) {
		uint32_t j = lcg(&seed) % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	char msg[32];
	for (uint32_t k = 0; k < N; k++) {
		uint32_t i = order[k];
		snprintf(msg, sizeof(msg), "error %u", i);
		put_response(&b, 2 * i + 1, (int32_t)(i % 17), i % 17 ? msg : "", i % 7);
	}
	for (size_t o = 0; o < b.n;) {
		size_t step = 1 + lcg(&seed) % 300;
		if (step > b.n - o)
			step = b.n - o;
		push(c, KT_TTRPC_TO_CLIENT, b.p + o, step, 2 * SEC);
		o += step;
	}
	free(b.p);
	cr_assert_eq(r.n, N);
	for (uint32_t k = 0; k < N; k++) {
		uint32_t i = order[k];
		const struct kt_ttrpc_call *x = &r.calls[k].c;
		snprintf(method, sizeof(method), "M%u", i);
		cr_assert_eq(x->stream_id, 2 * i + 1);
		cr_assert_str_eq(x->method.ptr, method);
		cr_assert_eq(x->request_size, i % 50);
		cr_assert_eq(x->response_size, i % 7);
		cr_assert_eq(x->timeout_nano, (int64_t)i);
		cr_assert_eq(x->status_code, (int32_t)(i % 17));
		if (i % 17) {
			snprintf(msg, sizeof(msg), "error %u", i);
			cr_assert_str_eq(x->status_message.ptr, msg);
		}
	}
	cr_expect_eq(kt_ttrpc_conn_outstanding(c), 0);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->unmatched_responses, 0);
}

Test(ttrpc_match, unmatched_responses_are_counted_and_ignored)
{
	struct buf b = { 0 };
	respond(c, 9, 0, "", 0, SEC);
	cr_expect_eq(r.n, 0);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->unmatched_responses, 1);

	request(c, 9, "Check", 2 * SEC);
	put_response(&b, 9, 0, "", 0);
	put_response(&b, 9, 0, "", 0); /* a duplicate */
	push_buf(c, KT_TTRPC_TO_CLIENT, &b, 3 * SEC);
	cr_expect_eq(r.n, 1);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->unmatched_responses, 2);
	cr_expect_eq(r.n_errors, 0);
}

Test(ttrpc_match, connection_end_finishes_outstanding_calls)
{
	struct buf b = { 0 };
	request(c, 1, "CreateSandbox", 1 * SEC);
	request(c, 3, "WaitProcess", 2 * SEC);
	request(c, 5, "ExecProcess", 3 * SEC);
	respond(c, 1, 0, "", 0, 4 * SEC);
	/* Half a frame left in the response direction. */
	put_response(&b, 5, 0, "", 10);
	push(c, KT_TTRPC_TO_CLIENT, b.p, 7, 5 * SEC);
	free(b.p);

	kt_ttrpc_conn_close(c, at(9 * SEC));
	cr_assert_eq(r.n, 3);
	cr_expect_eq(r.calls[0].c.end, KT_TTRPC_END_RESPONSE);
	const char *want[] = { "WaitProcess", "ExecProcess" };
	for (int i = 1; i < 3; i++) {
		const struct kt_ttrpc_call *x = &r.calls[i].c;
		cr_expect_str_eq(x->method.ptr, want[i - 1]);
		cr_expect_eq(x->end, KT_TTRPC_END_CLOSED);
		cr_expect_eq(x->status_code, KT_GRPC_UNKNOWN);
		cr_expect_str_eq(x->status_message.ptr, "connection closed");
		cr_expect_eq(x->end_mono_ns, 9 * SEC);
	}
	cr_expect(r.calls[1].c.long_poll);
	cr_expect_not(r.calls[2].c.long_poll);
	const struct kt_ttrpc_stats *st = kt_ttrpc_conn_stats(c);
	cr_expect_eq(st->no_response, 2);
	cr_expect_eq(st->truncated_bytes, 7);
	cr_expect_eq(kt_ttrpc_conn_outstanding(c), 0);
	/* Closed: later bytes and closes change nothing. */
	request(c, 7, "X", 10 * SEC);
	kt_ttrpc_conn_close(c, at(11 * SEC));
	cr_expect_eq(r.n, 3);
}

Test(ttrpc_match, free_without_close_drops_outstanding)
{
	struct buf b = { 0 };
	put_request(&b, 1, "grpc.AgentService", "CreateSandbox", 100, 0, NULL);
	put_request(&b, 3, "grpc.AgentService", "CreateSandbox", 100, 0, NULL);
	push(c, KT_TTRPC_TO_SERVER, b.p, b.n - 20, SEC);
	free(b.p);
	kt_ttrpc_conn_free(c);
	c = NULL;
	cr_expect_eq(r.n, 0);
}

Test(ttrpc_match, table_full_evicts_oldest_ordinary_call)
{
	struct kt_ttrpc_cfg cfg = KT_TTRPC_CFG_DEFAULT;
	cfg.max_outstanding = 3;
	reopen(&cfg);
	request(c, 1, "WaitProcess", 1 * SEC);
	request(c, 3, "A", 2 * SEC);
	request(c, 5, "B", 3 * SEC);
	request(c, 7, "C", 4 * SEC);
	cr_assert_eq(r.n, 1);
	cr_expect_str_eq(r.calls[0].c.method.ptr, "A");
	cr_expect_eq(r.calls[0].c.end, KT_TTRPC_END_EVICTED);
	cr_expect_eq(r.calls[0].c.status_code, KT_GRPC_UNKNOWN);
	cr_expect_eq(r.calls[0].c.end_mono_ns, 4 * SEC);
	cr_expect_eq(kt_ttrpc_conn_outstanding(c), 3);
	/* Only long-poll calls left: the oldest of them goes. */
	struct kt_ttrpc_cfg cfg1 = KT_TTRPC_CFG_DEFAULT;
	cfg1.max_outstanding = 1;
	struct rec r1;
	struct kt_ttrpc_conn *c1 = conn_with(&cfg1, &r1);
	request(c1, 1, "ReadStdout", SEC);
	request(c1, 3, "ReadStderr", SEC);
	cr_assert_eq(r1.n, 1);
	cr_expect_str_eq(r1.calls[0].c.method.ptr, "ReadStdout");
	cr_expect_eq(kt_ttrpc_conn_stats(c1)->evicted, 1);
	kt_ttrpc_conn_free(c1);
	rec_free(&r1);
}

Test(ttrpc_match, table_holds_exactly_max_outstanding)
{
	/* The default table: 4096 calls wait, the 4097th evicts the oldest. */
	struct buf b = { 0 };
	for (uint32_t i = 0; i < KT_TTRPC_DEFAULT_MAX_OUTSTANDING; i++)
		put_request(&b, 2 * i + 1, "s", "m", 0, 0, NULL);
	push_buf(c, KT_TTRPC_TO_SERVER, &b, SEC);
	cr_expect_eq(r.n, 0, "%zu calls evicted at the limit", r.n);
	cr_expect_eq(kt_ttrpc_conn_outstanding(c), KT_TTRPC_DEFAULT_MAX_OUTSTANDING);
	request(c, 2 * KT_TTRPC_DEFAULT_MAX_OUTSTANDING + 1, "last", 2 * SEC);
	cr_assert_eq(r.n, 1);
	cr_expect_eq(r.calls[0].c.stream_id, 1);
	cr_expect_eq(r.calls[0].c.end, KT_TTRPC_END_EVICTED);
	cr_expect_str_eq(r.calls[0].c.status_message.ptr,
			 "no response while 4096 calls were outstanding");
	cr_expect_eq(kt_ttrpc_conn_outstanding(c), KT_TTRPC_DEFAULT_MAX_OUTSTANDING);

	/* A configured limit: exactly that many wait. */
	struct kt_ttrpc_cfg cfg = KT_TTRPC_CFG_DEFAULT;
	cfg.max_outstanding = 5;
	reopen(&cfg);
	for (uint32_t i = 0; i < 5; i++)
		request(c, 2 * i + 1, "m", SEC);
	cr_expect_eq(r.n, 0);
	cr_expect_eq(kt_ttrpc_conn_outstanding(c), 5);
	request(c, 11, "m", SEC);
	cr_expect_eq(r.n, 1);
	cr_expect_eq(kt_ttrpc_conn_outstanding(c), 5);
}

/* ops->note writing `want` bytes (at most cap) and returning want. */
struct note_case {
	size_t want;
	size_t cap_seen;
	size_t calls;
	size_t note_len;
	bool note_ok;
};

static size_t note_hook(void *ctx, const struct kt_ttrpc_request *rq, uint8_t *note, size_t cap)
{
	(void)rq;
	struct note_case *k = ctx;
	k->cap_seen = cap;
	for (size_t i = 0; i < k->want && i < cap; i++)
		note[i] = (uint8_t)('a' + i % 26);
	return k->want;
}

static void note_call(void *ctx, const struct kt_ttrpc_call *call)
{
	struct note_case *k = ctx;
	k->calls++;
	k->note_len = call->note.len;
	k->note_ok = call->note.ptr[call->note.len] == '\0';
	for (size_t i = 0; i < call->note.len; i++)
		if (call->note.ptr[i] != (char)('a' + i % 26))
			k->note_ok = false;
}

Test(ttrpc_match, note_of_1024_bytes_is_kept)
{
	static const struct kt_ttrpc_conn_ops ops = { .call = note_call, .note = note_hook };
	static const size_t wants[] = { 0, 1, KT_TTRPC_MAX_NOTE - 1, KT_TTRPC_MAX_NOTE,
					KT_TTRPC_MAX_NOTE + 1 };
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		struct note_case k = { .want = wants[i] };
		struct kt_ttrpc_conn *nc = kt_ttrpc_conn_new(NULL, "note", &ops, &k);
		cr_assert_not_null(nc);
		request(nc, 1, "m", SEC);
		kt_ttrpc_conn_close(nc, at(2 * SEC));
		cr_assert_eq(k.calls, 1);
		cr_expect_eq(k.cap_seen, KT_TTRPC_MAX_NOTE);
		/* A note claiming more than the room it was given is not kept. */
		cr_expect_eq(k.note_len, wants[i] <= KT_TTRPC_MAX_NOTE ? wants[i] : 0,
			     "note of %zu bytes came back with %zu", wants[i], k.note_len);
		cr_expect(k.note_ok, "note of %zu bytes", wants[i]);
		kt_ttrpc_conn_free(nc);
	}
}

Test(ttrpc_match, age_limits)
{
	struct kt_ttrpc_cfg cfg = KT_TTRPC_CFG_DEFAULT;
	cfg.max_age_ns = 10 * SEC;
	cfg.long_poll_max_age_ns = 0; /* long-poll calls wait as long as it takes */
	reopen(&cfg);
	request(c, 1, "WaitProcess", 1 * SEC);
	request(c, 3, "StatsContainer", 1 * SEC);
	request(c, 5, "StatsContainer", 5 * SEC);
	kt_ttrpc_conn_tick(c, at(10 * SEC));
	cr_expect_eq(r.n, 0);
	kt_ttrpc_conn_tick(c, at(11 * SEC));
	cr_assert_eq(r.n, 1);
	cr_expect_eq(r.calls[0].c.stream_id, 3);
	cr_expect_eq(r.calls[0].c.end, KT_TTRPC_END_EXPIRED);
	cr_expect_str_eq(r.calls[0].c.status_message.ptr, "no response within 10 s");
	/* A push checks ages too. */
	respond(c, 1, 0, "", 0, 3600 * SEC);
	cr_assert_eq(r.n, 3);
	cr_expect_eq(r.calls[1].c.stream_id, 5);
	cr_expect_eq(r.calls[1].c.end, KT_TTRPC_END_EXPIRED);
	cr_expect_eq(r.calls[2].c.stream_id, 1);
	cr_expect_eq(r.calls[2].c.end, KT_TTRPC_END_RESPONSE);
	cr_expect(r.calls[2].c.long_poll);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->expired, 2);

	/* The long-poll limit applies to long-poll calls only. */
	cfg.max_age_ns = 0;
	cfg.long_poll_max_age_ns = 60 * SEC;
	reopen(&cfg);
	request(c, 1, "GetOOMEvent", 0);
	request(c, 3, "Check", 0);
	kt_ttrpc_conn_tick(c, at(61 * SEC));
	cr_assert_eq(r.n, 1);
	cr_expect_str_eq(r.calls[0].c.method.ptr, "GetOOMEvent");
}

Test(ttrpc_match, reused_stream_id_replaces_the_call)
{
	request(c, 1, "First", SEC);
	request(c, 1, "Second", 2 * SEC);
	cr_assert_eq(r.n, 1);
	cr_expect_str_eq(r.calls[0].c.method.ptr, "First");
	cr_expect_eq(r.calls[0].c.end, KT_TTRPC_END_REPLACED);
	respond(c, 1, 0, "", 0, 3 * SEC);
	cr_assert_eq(r.n, 2);
	cr_expect_str_eq(r.calls[1].c.method.ptr, "Second");
	cr_expect_eq(kt_ttrpc_conn_stats(c)->replaced, 1);
}

Test(ttrpc_match, configured_long_poll_list)
{
	static const char *const lp[] = { "CopyFile", NULL };
	static const char *const none[] = { NULL };
	struct kt_ttrpc_cfg cfg = KT_TTRPC_CFG_DEFAULT;
	cfg.long_poll = lp;
	reopen(&cfg);
	request(c, 1, "CopyFile", SEC);
	request(c, 3, "WaitProcess", SEC);
	kt_ttrpc_conn_close(c, at(2 * SEC));
	cr_assert_eq(r.n, 2);
	/* Closed in arrival order, whatever the list. */
	cr_expect_str_eq(r.calls[0].c.method.ptr, "CopyFile");
	cr_expect(r.calls[0].c.long_poll);
	cr_expect_not(r.calls[1].c.long_poll);

	cfg.long_poll = none;
	reopen(&cfg);
	request(c, 1, "WaitProcess", SEC);
	kt_ttrpc_conn_close(c, at(2 * SEC));
	cr_assert_eq(r.n, 1);
	cr_expect_not(r.calls[0].c.long_poll);
}

Test(ttrpc_match, other_frames_are_counted)
{
	struct buf b = { 0 };
	put_frame(&b, 1, KT_TTRPC_DATA, "xyz", 3);
	put_frame(&b, 1, 9, "", 0);
	put_frame(&b, 1, KT_TTRPC_RESPONSE, "\x0a\x00", 2); /* toward the server */
	push_buf(c, KT_TTRPC_TO_SERVER, &b, SEC);
	put_request(&b, 1, "grpc.AgentService", "Check", 0, 0, NULL); /* toward the client */
	push_buf(c, KT_TTRPC_TO_CLIENT, &b, SEC);
	const struct kt_ttrpc_stats *st = kt_ttrpc_conn_stats(c);
	cr_expect_eq(st->other_frames, 4);
	cr_expect_eq(st->frames[KT_TTRPC_TO_SERVER], 3);
	cr_expect_eq(st->frames[KT_TTRPC_TO_CLIENT], 1);
	cr_expect_eq(st->requests, 0);
	cr_expect_eq(r.n, 0);
}

Test(ttrpc_match, response_without_status_is_ok_and_times_never_run_backwards)
{
	struct buf b = { 0 };
	request(c, 1, "Check", 5 * SEC);
	put_frame(&b, 1, KT_TTRPC_RESPONSE, "\x12\x01x", 3); /* payload only */
	push_buf(c, KT_TTRPC_TO_CLIENT, &b, 4 * SEC);	     /* an earlier clock reading */
	cr_assert_eq(r.n, 1);
	cr_expect_eq(r.calls[0].c.status_code, 0);
	cr_expect_eq(r.calls[0].c.response_size, 1);
	cr_expect_eq(r.calls[0].c.end_mono_ns, r.calls[0].c.start_mono_ns);
	cr_expect_eq(r.calls[0].c.end_unix_ns, r.calls[0].c.start_unix_ns);
}

/* ------------------------------------------------------------ handshake */

struct hs_case {
	const char *line;
	enum kt_ttrpc_dir dir;
	bool ok;
	uint32_t port;
};

Test(ttrpc_handshake, lines)
{
	static const struct hs_case cases[] = {
		{ "CONNECT 1024\n", KT_TTRPC_TO_SERVER, true, 1024 },
		{ "connect 1024\n", KT_TTRPC_TO_SERVER, true, 1024 },
		{ "CoNnEcT 7\n", KT_TTRPC_TO_SERVER, true, 7 },
		{ "  CONNECT\t 1024  \n", KT_TTRPC_TO_SERVER, true, 1024 },
		{ "CONNECT +1024\n", KT_TTRPC_TO_SERVER, true, 1024 },
		{ "CONNECT 1024 extra\n", KT_TTRPC_TO_SERVER, true, 1024 },
		{ "CONNECT 4294967295\n", KT_TTRPC_TO_SERVER, true, 4294967295u },
		{ "connect\n5\n", KT_TTRPC_TO_SERVER, true, 5 }, /* read 10 bytes first */
		{ "CONNECT 4294967296\n", KT_TTRPC_TO_SERVER, false, 0 },
		{ "CONNECT -1\n", KT_TTRPC_TO_SERVER, false, 0 },
		{ "CONNECT 0x10\n", KT_TTRPC_TO_SERVER, false, 0 },
		{ "CONNECT\n\n\n\n\n\n", KT_TTRPC_TO_SERVER, false, 0 },
		{ "LISTEN 1024\n", KT_TTRPC_TO_SERVER, false, 0 },
		{ "CONNECT \xff\xfe 1024\n", KT_TTRPC_TO_SERVER, false, 0 },
		{ "OK 1073741824\n", KT_TTRPC_TO_CLIENT, true, 1073741824u },
		{ "OK 1\n", KT_TTRPC_TO_CLIENT, true, 1 },
		{ "OK\n", KT_TTRPC_TO_CLIENT, false, 0 },
		{ "ok 5\n", KT_TTRPC_TO_CLIENT, false, 0 },
		{ "ERR 5\n", KT_TTRPC_TO_CLIENT, false, 0 },
		{ "OK 5 5555555555555555555555555555\n", KT_TTRPC_TO_CLIENT, false, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hs_case *k = &cases[i];
		struct buf b = { 0 };
		put(&b, k->line, strlen(k->line));
		if (k->dir == KT_TTRPC_TO_SERVER)
			put_request(&b, 1, "grpc.AgentService", "Check", 0, 0, NULL);
		else
			put_response(&b, 1, 0, "", 0);
		struct frames fr;
		frame_pieces(&fr, k->dir, b.p, b.n, NULL, 0);
		cr_expect_eq(fr.errors, !k->ok, "line %zu", i);
		cr_expect_eq(fr.handshakes, k->ok, "line %zu", i);
		cr_expect_eq(fr.n, k->ok, "line %zu", i);
		if (k->ok)
			cr_expect_eq(fr.port, k->port, "line %zu", i);
		/* Byte by byte gives the same. */
		size_t cuts[64], nc = 0;
		for (size_t j = 1; j < b.n && nc < 64; j++)
			cuts[nc++] = j;
		struct frames r2;
		frame_pieces(&r2, k->dir, b.p, b.n, cuts, nc);
		cr_expect_eq(r2.errors, fr.errors, "line %zu bytewise", i);
		cr_expect_eq(r2.n, fr.n, "line %zu bytewise", i);
		cr_expect_eq(r2.port, fr.port, "line %zu bytewise", i);
		free(b.p);
	}
}

Test(ttrpc_handshake, thirty_two_bytes_without_newline)
{
	/* Cloud Hypervisor parses the 32 bytes it read; what follows is data. */
	const char *line = "CONNECT 1024                    "; /* 32 bytes */
	cr_assert_eq(strlen(line), 32);
	struct buf b = { 0 };
	put(&b, line, 32);
	put_request(&b, 1, "grpc.AgentService", "Check", 0, 0, NULL);
	struct frames fr;
	frame_pieces(&fr, KT_TTRPC_TO_SERVER, b.p, b.n, NULL, 0);
	cr_expect_eq(fr.errors, 0);
	cr_expect_eq(fr.port, 1024);
	cr_expect_eq(fr.n, 1);
	free(b.p);
	/* The answer must end within 32 bytes. */
	b = (struct buf){ 0 };
	char answer[33];
	memset(answer, ' ', sizeof(answer));
	memcpy(answer, "OK 1073741824", 13);
	answer[32] = '\n'; /* the 33rd byte */
	put(&b, answer, sizeof(answer));
	frame_pieces(&fr, KT_TTRPC_TO_CLIENT, b.p, b.n, NULL, 0);
	cr_expect_eq(fr.errors, 1);
	free(b.p);
}

Test(ttrpc_handshake, line_lengths_at_their_bounds)
{
	/* The answer may take exactly 32 bytes, '\n' included. */
	char answer[32];
	memset(answer, ' ', sizeof(answer));
	memcpy(answer, "OK 1073741824", 13);
	answer[31] = '\n';
	struct buf b = { 0 };
	put(&b, answer, sizeof(answer));
	put_response(&b, 1, 0, "", 0);
	struct frames fr;
	frame_pieces(&fr, KT_TTRPC_TO_CLIENT, b.p, b.n, NULL, 0);
	cr_expect_eq(fr.errors, 0);
	cr_expect_eq(fr.handshakes, 1);
	cr_expect_eq(fr.port, 1073741824u);
	cr_expect_eq(fr.n, 1);
	free(b.p);

	/*
	 * The command is read 10 bytes at least before a '\n' ends it: a line
	 * of exactly 10 bytes ends there, a '\n' as the 9th byte does not.
	 */
	static const struct {
		const char *line;
		uint32_t port;
	} cmds[] = { { "CONNECT 1\n", 1 }, { "CONNECT \n77\n", 77 }, { "connect\n5\n", 5 } };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		b = (struct buf){ 0 };
		put(&b, cmds[i].line, strlen(cmds[i].line));
		put_request(&b, 1, "grpc.AgentService", "Check", 0, 0, NULL);
		size_t cuts[64], nc = 0;
		for (size_t j = 1; j < b.n && nc < 64; j++)
			cuts[nc++] = j;
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			frame_pieces(&fr, KT_TTRPC_TO_SERVER, b.p, b.n, cuts, bytewise ? nc : 0);
			cr_expect_eq(fr.errors, 0, "line %zu", i);
			cr_expect_eq(fr.port, cmds[i].port, "line %zu", i);
			cr_expect_eq(fr.n, 1, "line %zu", i);
		}
		free(b.p);
	}
}

Test(ttrpc_handshake, huge_line_and_no_handshake_mode)
{
	char *big = malloc(1 << 20);
	memset(big, '9', 1 << 20);
	memcpy(big, "CONNECT ", 8);
	push(c, KT_TTRPC_TO_SERVER, big, 1 << 20, SEC);
	cr_expect_eq(r.n_errors, 1);
	cr_expect(errors_mention(&r, "unix conn 7 (/run/vc/vm/sb/clh.sock) client->server"),
		  "%s", r.errors[0]);
	cr_expect(errors_mention(&r, "port is not a decimal u32"), "%s", r.errors[0]);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->stream_errors, 1);
	memset(big, 'x', 1 << 20);
	push(c, KT_TTRPC_TO_CLIENT, big, 1 << 20, SEC);
	cr_expect_eq(r.n_errors, 2);
	cr_expect(errors_mention(&r, "server->client: handshake answer longer than 32 bytes"), "%s",
		  r.errors[1]);
	free(big);

	/* Plain vsock: "CONNECT" is a frame header announcing 1.1 GB. */
	struct kt_ttrpc_cfg cfg = KT_TTRPC_CFG_DEFAULT;
	cfg.handshake = KT_TTRPC_HS_NONE;
	reopen(&cfg);
	push(c, KT_TTRPC_TO_SERVER, "CONNECT 1024\n", 13, SEC);
	cr_expect_eq(r.n_errors, 1);
	cr_expect(errors_mention(&r, "exceeds the 4194304-byte ttrpc limit"), "%s", r.errors[0]);
}

/* ------------------------------------------------------------ hostile input */

Test(ttrpc_hostile, oversize_lengths_kill_the_stream)
{
	static const uint32_t lens[] = { UINT32_MAX, KT_TTRPC_MAX_PAYLOAD + 1, 0x80000000u };
	for (size_t i = 0; i < 6; i++) {
		/*
		 * Plain vsock, and hybrid vsock after a first frame (as the
		 * first bytes, a non-zero byte is taken for the handshake line).
		 */
		struct kt_ttrpc_cfg cfg = KT_TTRPC_CFG_DEFAULT;
		cfg.handshake = i < 3 ? KT_TTRPC_HS_NONE : KT_TTRPC_HS_AUTO;
		reopen(&cfg);
		struct buf b = { 0 };
		if (i >= 3)
			put_response(&b, 99, 0, "", 0);
		put_hdr(&b, lens[i % 3], 1, KT_TTRPC_RESPONSE, 0);
		put(&b, "abcdef", 6);
		push_buf(c, KT_TTRPC_TO_CLIENT, &b, SEC);
		cr_expect_eq(r.n_errors, 1);
		char want[64];
		snprintf(want, sizeof(want), "frame of %u bytes on stream 1", lens[i % 3]);
		cr_expect(errors_mention(&r, want), "%s", r.errors[0]);
		cr_expect(errors_mention(&r, "ttrpc stream dropped"));
		/* Dead: a valid request/response pair on that side is ignored. */
		request(c, 3, "Check", SEC);
		respond(c, 3, 0, "", 0, SEC);
		cr_expect_eq(r.n, 0);
		cr_expect_eq(r.n_errors, 1);
		kt_ttrpc_conn_close(c, at(2 * SEC));
		cr_expect_eq(r.n, 1);
		cr_expect_eq(r.calls[0].c.end, KT_TTRPC_END_CLOSED);
	}
}

Test(ttrpc_hostile, largest_payload_is_accepted)
{
	struct buf b = { 0 };
	put_request(&b, 1, "grpc.AgentService", "CopyFile", KT_TTRPC_MAX_PAYLOAD - 64, 0, NULL);
	uint32_t len = (uint32_t)b.n - 10;
	cr_assert_leq(len, KT_TTRPC_MAX_PAYLOAD);
	/* Pad the payload to exactly 4 MiB with an unknown field. */
	size_t pad = KT_TTRPC_MAX_PAYLOAD - len;
	cr_assert_geq(pad, 3);
	/* field 15, wire type 2, then a 1- or 2-byte length */
	size_t body = pad - 2, tn = 2;
	uint8_t tag[4] = { 0x7a, (uint8_t)body, 0, 0 };
	if (body > 127) {
		body = pad - 3;
		tn = 3;
		tag[1] = (uint8_t)(0x80 | (body & 0x7f));
		tag[2] = (uint8_t)(body >> 7);
	}
	cr_assert_eq(tn + body, pad);
	uint8_t *filler = calloc(1, body);
	put(&b, tag, tn);
	put(&b, filler, body);
	free(filler);
	b.p[0] = (uint8_t)(KT_TTRPC_MAX_PAYLOAD >> 24);
	b.p[1] = (uint8_t)(KT_TTRPC_MAX_PAYLOAD >> 16);
	b.p[2] = (uint8_t)(KT_TTRPC_MAX_PAYLOAD >> 8);
	b.p[3] = (uint8_t)KT_TTRPC_MAX_PAYLOAD;
	/* In 64 KiB chunks, so the framer buffers it. */
	for (size_t o = 0; o < b.n; o += 65536)
		push(c, KT_TTRPC_TO_SERVER, b.p + o, b.n - o < 65536 ? b.n - o : 65536, SEC);
	free(b.p);
	cr_expect_eq(r.n_errors, 0, "%s", r.errors[0]);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->requests, 1);
	kt_ttrpc_conn_close(c, at(2 * SEC));
	cr_assert_eq(r.n, 1);
	cr_expect_eq(r.calls[0].c.request_size, KT_TTRPC_MAX_PAYLOAD - 64);
}

static void push_buf_framer(struct kt_ttrpc_framer *f, struct buf *b)
{
	size_t half = b->n / 2;
	uint8_t *p = malloc(b->n);
	memcpy(p, b->p, b->n);
	kt_ttrpc_framer_push(f, p, half, at(SEC));
	kt_ttrpc_framer_push(f, p + half, b->n - half, at(SEC));
	free(p);
	free(b->p);
	*b = (struct buf){ 0 };
}

/* Frames of a framer direction, counted (payloads of any size). */
struct frame_count {
	size_t frames, errors;
	uint32_t last_len;
	char error[512];
};

static void fc_frame(void *ctx, const struct kt_ttrpc_frame *f)
{
	struct frame_count *k = ctx;
	k->frames++;
	k->last_len = f->length;
}

static void fc_error(void *ctx, const char *msg)
{
	struct frame_count *k = ctx;
	k->errors++;
	snprintf(k->error, sizeof(k->error), "%s", msg);
}

static const struct kt_ttrpc_framer_ops fc_ops = { .frame = fc_frame, .error = fc_error };

/* A frame announcing len bytes (and carrying them) after a first frame, split in two. */
static void frame_of(struct kt_ttrpc_framer *f, uint32_t len)
{
	struct buf b = { 0 };
	put_frame(&b, 1, KT_TTRPC_REQUEST, "x", 1);
	put_hdr(&b, len, 3, KT_TTRPC_REQUEST, 0);
	uint8_t *p = calloc(1, (size_t)len + 1);
	put(&b, p, len);
	free(p);
	push_buf_framer(f, &b);
}

Test(ttrpc_hostile, configured_max_payload_at_its_bound)
{
	for (uint32_t len = 999; len <= 1001; len++) {
		struct frame_count k = { 0 };
		struct kt_ttrpc_framer f;
		kt_ttrpc_framer_init(&f, KT_TTRPC_TO_SERVER, KT_TTRPC_HS_NONE, 1000, "test", &fc_ops,
				     &k);
		frame_of(&f, len);
		if (len <= 1000) {
			cr_expect_eq(k.errors, 0, "%u bytes: %s", len, k.error);
			cr_expect_eq(k.frames, 2, "%u bytes", len);
			cr_expect_eq(k.last_len, len);
			cr_expect_eq(f.state, KT_TTRPC_FS_HEADER);
		} else {
			cr_expect_eq(k.errors, 1, "%u bytes", len);
			cr_expect_eq(k.frames, 1, "%u bytes", len);
			cr_expect(strstr(k.error, "frame of 1001 bytes on stream 3 exceeds the "
						  "1000-byte ttrpc limit"),
				  "%s", k.error);
			cr_expect_eq(f.state, KT_TTRPC_FS_DEAD);
		}
		kt_ttrpc_framer_free(&f);
	}
	/* Through a connection: the configured limit applies to both directions. */
	struct kt_ttrpc_cfg cfg = KT_TTRPC_CFG_DEFAULT;
	cfg.max_payload = 1000;
	reopen(&cfg);
	struct buf b = { 0 };
	put_request(&b, 1, "grpc.AgentService", "CopyFile", 1000 - 32, 0, NULL);
	cr_assert_eq(b.n, 10 + 1000, "request frame of %zu bytes", b.n - 10);
	put_request(&b, 3, "grpc.AgentService", "CopyFile", 1000 - 31, 0, NULL);
	push_buf(c, KT_TTRPC_TO_SERVER, &b, SEC);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->requests, 1);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->stream_errors, 1);
	cr_expect(errors_mention(&r, "frame of 1001 bytes on stream 3 exceeds the 1000-byte"),
		  "%s", r.errors[0]);
	respond(c, 1, 0, "", 900, 2 * SEC);
	cr_assert_eq(r.n, 1);
	cr_expect_eq(r.calls[0].c.end, KT_TTRPC_END_RESPONSE);
	cr_expect_eq(r.calls[0].c.response_size, 900);
}

Test(ttrpc_hostile, max_payload_is_clamped_to_4_mib)
{
	static const struct {
		uint32_t asked, got;
	} cases[] = {
		{ 0, KT_TTRPC_MAX_PAYLOAD },
		{ KT_TTRPC_MAX_PAYLOAD - 1, KT_TTRPC_MAX_PAYLOAD - 1 },
		{ KT_TTRPC_MAX_PAYLOAD, KT_TTRPC_MAX_PAYLOAD },
		{ KT_TTRPC_MAX_PAYLOAD + 1, KT_TTRPC_MAX_PAYLOAD },
		{ UINT32_MAX, KT_TTRPC_MAX_PAYLOAD },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kt_ttrpc_framer f;
		kt_ttrpc_framer_init(&f, KT_TTRPC_TO_CLIENT, KT_TTRPC_HS_NONE, cases[i].asked,
				     "test", &fc_ops, NULL);
		cr_expect_eq(f.max_payload, cases[i].got, "asked %u", cases[i].asked);
		kt_ttrpc_framer_free(&f);
	}
	/* A clamped framer refuses 4 MiB + 1 and takes 4 MiB. */
	for (uint32_t len = KT_TTRPC_MAX_PAYLOAD; len <= KT_TTRPC_MAX_PAYLOAD + 1; len++) {
		struct frame_count k = { 0 };
		struct kt_ttrpc_framer f;
		kt_ttrpc_framer_init(&f, KT_TTRPC_TO_SERVER, KT_TTRPC_HS_NONE,
				     KT_TTRPC_MAX_PAYLOAD + 1, "test", &fc_ops, &k);
		frame_of(&f, len);
		cr_expect_eq(k.frames, len == KT_TTRPC_MAX_PAYLOAD ? 2 : 1, "%u bytes", len);
		cr_expect_eq(k.errors, len == KT_TTRPC_MAX_PAYLOAD ? 0 : 1, "%u bytes", len);
		kt_ttrpc_framer_free(&f);
	}
}

Test(ttrpc_hostile, buffer_of_64_kib_is_kept_between_frames)
{
	/* A partial payload never takes more memory than its frame announces. */
	struct frame_count k0 = { 0 };
	struct kt_ttrpc_framer f0;
	kt_ttrpc_framer_init(&f0, KT_TTRPC_TO_SERVER, KT_TTRPC_HS_NONE, 0, "test", &fc_ops, &k0);
	struct buf b = { 0 };
	put_hdr(&b, 200, 1, KT_TTRPC_REQUEST, 0);
	uint8_t part[100] = { 0 };
	put(&b, part, sizeof(part));
	kt_ttrpc_framer_push(&f0, b.p, b.n, at(SEC));
	free(b.p);
	cr_expect_eq(f0.state, KT_TTRPC_FS_PAYLOAD);
	cr_expect_leq(f0.cap, 200, "cap %zu for a 200-byte frame", f0.cap);
	cr_expect_eq(kt_ttrpc_framer_pending(&f0), 10 + 100);
	kt_ttrpc_framer_free(&f0);

	/* A buffer of exactly 64 KiB is kept between frames; a larger one is not. */
	for (uint32_t len = 65536; len <= 65537; len++) {
		struct frame_count k = { 0 };
		struct kt_ttrpc_framer f;
		kt_ttrpc_framer_init(&f, KT_TTRPC_TO_SERVER, KT_TTRPC_HS_NONE, 0, "test", &fc_ops,
				     &k);
		frame_of(&f, len);
		cr_assert_eq(k.frames, 2);
		cr_assert_eq(f.state, KT_TTRPC_FS_HEADER);
		if (len == 65536)
			cr_expect_not_null(f.buf, "a 64 KiB buffer was released");
		else
			cr_expect_null(f.buf, "a buffer of %zu bytes was kept", f.cap);
		kt_ttrpc_framer_free(&f);
	}
}

/* The bytes protobuf-c holds after unpacking the payload of frame b (header skipped). */
static size_t unpacked_bytes(const struct buf *b, bool request)
{
	struct kt_pb_budget big = { .limit = 1 << 20 };
	ProtobufCAllocator al = kt_pb_budget_allocator(&big);
	ProtobufCMessage *m =
		request ? (ProtobufCMessage *)ttrpc__request__unpack(&al, b->n - 10, b->p + 10)
			: (ProtobufCMessage *)ttrpc__response__unpack(&al, b->n - 10, b->p + 10);
	cr_assert_not_null(m);
	size_t held = big.used;
	protobuf_c_message_free_unpacked(m, &al);
	return held;
}

Test(ttrpc_hostile, unpack_limit_at_its_bound)
{
	static const char *const md[] = { "traceparent", TP_VECTOR, "tracestate", "a=1", NULL };
	struct buf rq = { 0 }, rs = { 0 };
	put_request(&rq, 1, "grpc.AgentService", "CreateContainer", 100, 5, md);
	put_response(&rs, 1, 5, "not found", 3000);
	size_t need_rq = unpacked_bytes(&rq, true), need_rs = unpacked_bytes(&rs, false);
	cr_assert_gt(need_rs, need_rq);
	for (int less = 0; less < 2; less++) {
		/* A request needing exactly the limit is taken, one byte more is not. */
		struct kt_ttrpc_cfg cfg = KT_TTRPC_CFG_DEFAULT;
		cfg.unpack_limit = need_rq - (size_t)less;
		reopen(&cfg);
		push(c, KT_TTRPC_TO_SERVER, rq.p, rq.n, SEC);
		cr_expect_eq(kt_ttrpc_conn_stats(c)->requests, less ? 0 : 1, "limit %zu, need %zu",
			     cfg.unpack_limit, need_rq);
		cr_expect_eq(kt_ttrpc_conn_stats(c)->bad_requests, less ? 1 : 0);
		cr_expect_eq(errors_mention(&r, "needs more memory to decode than allowed"), less);

		/* The same for its response. */
		cfg.unpack_limit = need_rs - (size_t)less;
		reopen(&cfg);
		push(c, KT_TTRPC_TO_SERVER, rq.p, rq.n, SEC);
		push(c, KT_TTRPC_TO_CLIENT, rs.p, rs.n, 2 * SEC);
		cr_assert_eq(r.n, 1);
		cr_expect_eq(r.calls[0].c.end, less ? KT_TTRPC_END_BAD_RESPONSE : KT_TTRPC_END_RESPONSE,
			     "limit %zu, need %zu", cfg.unpack_limit, need_rs);
		cr_expect_eq(r.calls[0].c.status_code, less ? KT_GRPC_UNKNOWN : 5);
		cr_expect_eq(r.calls[0].c.response_size, less ? 0 : 3000);
	}
	free(rq.p);
	free(rs.p);
}

/* A request frame with this exact payload; it must be refused. */
static void expect_bad_request(const void *payload, size_t n, const char *needle)
{
	struct buf b = { 0 };
	reopen(NULL);
	put_frame(&b, 5, KT_TTRPC_REQUEST, payload, n);
	push_buf(c, KT_TTRPC_TO_SERVER, &b, SEC);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->bad_requests, 1, "%s", needle);
	cr_expect_eq(kt_ttrpc_conn_outstanding(c), 0);
	cr_expect(errors_mention(&r, needle), "wanted \"%s\", got \"%s\"", needle,
		  r.n_errors ? r.errors[0] : "");
	cr_expect(errors_mention(&r, "ttrpc stream 5"));
	/* Its response is then unmatched, and the stream goes on. */
	respond(c, 5, 0, "", 0, SEC);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->unmatched_responses, 1);
	request(c, 7, "Check", SEC);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->requests, 1);
}

Test(ttrpc_hostile, malformed_requests)
{
	size_t n;
	uint8_t *v = kt_test_read_vector("ttrpc_request_createcontainer.bin", &n);
	const uint8_t *pl = v + 10;
	/* Truncated protobuf: every shorter prefix that cuts a field. */
	static const size_t cuts[] = { 1, 5, 18, 30, 40, 44, 70, 124 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		expect_bad_request(pl, cuts[i], "is not a ttrpc Request");

	free(v);

	/* Wrong wire types for known fields. */
	expect_bad_request("\x08\x01", 2, "is not a ttrpc Request");	 /* service as varint */
	expect_bad_request("\x22\x00", 2, "is not a ttrpc Request");	 /* timeout as bytes */
	expect_bad_request("\x2d\x00\x00\x00\x00", 5, "is not a ttrpc Request"); /* md fixed32 */
	expect_bad_request("\x2a\x02\x08\x01", 4, "is not a ttrpc Request"); /* md.key varint */
	expect_bad_request("\x0b", 1, "is not a ttrpc Request");	 /* start group */
	expect_bad_request("\x0a\xff\xff\xff\xff\x0f", 6, "is not a ttrpc Request");
	/* Empty, too long, not UTF-8. */
	expect_bad_request("", 0, "service is empty");
	expect_bad_request("\x0a\x01s", 3, "method is empty");
	expect_bad_request("\x0a\x01s\x12\x03\xc3\x28x", 8, "method is not valid UTF-8");
	expect_bad_request("\x0a\x02\xed\xa0\x12\x01m", 7, "service is not valid UTF-8");
	expect_bad_request("\x0a\x01s\x12\x02\xc0\x80", 7, "method is not valid UTF-8");
	uint8_t longname[3 + 300];
	longname[0] = 0x0a;
	longname[1] = 0x80 | (257 & 0x7f);
	longname[2] = 257 >> 7;
	memset(longname + 3, 'a', 257);
	expect_bad_request(longname, 3 + 257, "service is longer than 256 bytes");
}

Test(ttrpc_hostile, many_metadata_entries)
{
	enum { N = 100000 };
	struct buf b = { 0 };
	Ttrpc__Request q = TTRPC__REQUEST__INIT;
	q.service = bin("grpc.AgentService");
	q.method = bin("CreateContainer");
	size_t n = ttrpc__request__get_packed_size(&q);
	uint8_t *head = malloc(n);
	ttrpc__request__pack(&q, head);
	/* head, N entries {key "k", value "v"}, then the traceparent. */
	static const uint8_t entry[] = { 0x2a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v' };
	static const char tp[] = "\x2a\x46\x0a\x0btraceparent\x12\x37" TP_VECTOR;
	size_t total = n + (size_t)N * sizeof(entry) + sizeof(tp) - 1;
	put_hdr(&b, (uint32_t)total, 1, KT_TTRPC_REQUEST, 0);
	put(&b, head, n);
	for (int i = 0; i < N; i++)
		put(&b, entry, sizeof(entry));
	put(&b, tp, sizeof(tp) - 1);
	free(head);

	push(c, KT_TTRPC_TO_SERVER, b.p, b.n, SEC);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->requests, 1, "%s", r.n_errors ? r.errors[0] : "");
	kt_ttrpc_conn_close(c, at(2 * SEC));
	cr_assert_eq(r.n, 1);
	expect_trace_vector(&r.calls[0].c);

	/* With a small decode budget the same request is refused, cleanly. */
	struct kt_ttrpc_cfg cfg = KT_TTRPC_CFG_DEFAULT;
	cfg.unpack_limit = 1 << 20;
	reopen(&cfg);
	push(c, KT_TTRPC_TO_SERVER, b.p, b.n, SEC);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->bad_requests, 1);
	cr_expect(errors_mention(&r, "needs more memory to decode than allowed"), "%s",
		  r.errors[0]);
	free(b.p);
}

Test(ttrpc_hostile, malformed_responses)
{
	static const struct {
		const char *p;
		size_t n;
		enum kt_ttrpc_end end;
		int32_t code;
		const char *msg;
	} cases[] = {
		{ "\x0a", 1, KT_TTRPC_END_BAD_RESPONSE, 2, "1-byte response is not a ttrpc Response" },
		{ "\x08\x01", 2, KT_TTRPC_END_BAD_RESPONSE, 2, "is not a ttrpc Response" },
		{ "\x0a\x02\x12\x05", 4, KT_TTRPC_END_BAD_RESPONSE, 2, "is not a ttrpc Response" },
		{ "\x0a\x02\x0a\x00", 4, KT_TTRPC_END_BAD_RESPONSE, 2, "is not a ttrpc Response" },
		{ "\x0a\x04\x08\x05\x12\x00", 6, KT_TTRPC_END_RESPONSE, 5, "" },
		{ "\x0a\x05\x08\x05\x12\x01\xff", 7, KT_TTRPC_END_BAD_RESPONSE, 5,
		  "status message is not valid UTF-8" },
		{ "\x0a\x0b\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 13, KT_TTRPC_END_RESPONSE,
		  -1, "" },
		{ "\x0a\x06\x1a\x04\x0a\x00\x12\x00", 8, KT_TTRPC_END_RESPONSE, 0, "" },
		{ "", 0, KT_TTRPC_END_RESPONSE, 0, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reopen(NULL);
		struct buf b = { 0 };
		request(c, 1, "Check", SEC);
		put_frame(&b, 1, KT_TTRPC_RESPONSE, cases[i].p, cases[i].n);
		push_buf(c, KT_TTRPC_TO_CLIENT, &b, SEC);
		cr_assert_eq(r.n, 1, "case %zu", i);
		cr_expect_eq(r.calls[0].c.end, cases[i].end, "case %zu", i);
		cr_expect_eq(r.calls[0].c.status_code, cases[i].code, "case %zu", i);
		cr_expect(strstr(r.calls[0].c.status_message.ptr, cases[i].msg) != NULL,
			  "case %zu: %s", i, r.calls[0].c.status_message.ptr);
		if (i == 7)
			cr_expect_eq(r.calls[0].c.status_details, 1);
	}
}

/* The status message a response with msg comes out with. */
static size_t status_message_len(const char *msg)
{
	struct buf b = { 0 };
	reopen(NULL);
	request(c, 1, "Check", SEC);
	put_response(&b, 1, 13, msg, 0);
	push_buf(c, KT_TTRPC_TO_CLIENT, &b, SEC);
	cr_assert_eq(r.n, 1);
	cr_expect_eq(r.calls[0].c.end, KT_TTRPC_END_RESPONSE);
	size_t n = r.calls[0].message_len;
	cr_expect_eq(memcmp(r.calls[0].message, msg, n), 0);
	return n;
}

Test(ttrpc_hostile, long_status_message_is_cut_at_a_character)
{
	char *msg = malloc(6002);
	for (int i = 0; i < 3000; i++)
		memcpy(msg + 2 * i, "\xc3\xa9", 2); /* é: 4096 is a character boundary */
	msg[6000] = '\0';
	cr_expect_eq(status_message_len(msg), 4096);
	msg[0] = 'a'; /* "a" then é...: one straddles 4096 */
	for (int i = 0; i < 3000; i++)
		memcpy(msg + 1 + 2 * i, "\xc3\xa9", 2);
	msg[6001] = '\0';
	cr_expect_eq(status_message_len(msg), 4095);
	msg[101] = '\0'; /* "a" and 50 characters */
	cr_expect_eq(status_message_len(msg), 101);
	free(msg);
}

/* A string of n copies of c. */
static char *filled(size_t n, char ch)
{
	char *p = malloc(n + 1);
	cr_assert_not_null(p);
	memset(p, ch, n);
	p[n] = '\0';
	return p;
}

Test(ttrpc_hostile, names_of_256_bytes_are_accepted)
{
	char *n256 = filled(KT_TTRPC_MAX_NAME, 's'), *n257 = filled(KT_TTRPC_MAX_NAME + 1, 'm');
	struct buf b = { 0 };
	put_request(&b, 1, n256, "m", 0, 0, NULL);
	put_request(&b, 3, "s", n256, 0, 0, NULL);
	put_request(&b, 5, n257, "m", 0, 0, NULL);
	put_request(&b, 7, "s", n257, 0, 0, NULL);
	push_buf(c, KT_TTRPC_TO_SERVER, &b, SEC);
	const struct kt_ttrpc_stats *st = kt_ttrpc_conn_stats(c);
	cr_expect_eq(st->requests, 2);
	cr_expect_eq(st->bad_requests, 2);
	cr_expect(errors_mention(&r, "ttrpc stream 5: request service is longer than 256 bytes"),
		  "%s", r.errors[0]);
	cr_expect(errors_mention(&r, "ttrpc stream 7: request method is longer than 256 bytes"),
		  "%s", r.errors[1]);
	kt_ttrpc_conn_close(c, at(2 * SEC));
	cr_assert_eq(r.n, 2);
	cr_expect_str_eq(r.calls[0].c.service.ptr, n256);
	cr_expect_str_eq(r.calls[1].c.method.ptr, n256);
	free(n256);
	free(n257);
}

Test(ttrpc_hostile, status_message_of_4096_bytes_is_kept_whole)
{
	char *msg = filled(4097, 'e');
	cr_expect_eq(status_message_len(msg), 4097 - 1);
	msg[4096] = '\0';
	cr_expect_eq(status_message_len(msg), 4096);
	msg[4095] = '\0';
	cr_expect_eq(status_message_len(msg), 4095);
	free(msg);
}

Test(ttrpc_hostile, garbage_and_gaps)
{
	uint32_t seed = 7;
	for (int round = 0; round < 200; round++) {
		reopen(NULL);
		uint8_t junk[512];
		for (int k = 0; k < 6; k++) {
			size_t n = lcg(&seed) % sizeof(junk);
			for (size_t i = 0; i < n; i++)
				junk[i] = (uint8_t)lcg(&seed);
			if (round % 3 == 0 && n > 4)
				junk[0] = junk[1] = 0; /* plausible lengths */
			push(c, (enum kt_ttrpc_dir)(k & 1), junk, n, (uint64_t)k * SEC);
			if (round % 7 == 0)
				kt_ttrpc_conn_gap(c, KT_TTRPC_TO_CLIENT);
		}
		kt_ttrpc_conn_close(c, at(10 * SEC));
		cr_expect_eq(kt_ttrpc_conn_outstanding(c), 0);
		cr_expect_eq(kt_ttrpc_conn_stats(c)->calls, r.n);
	}
}

Test(ttrpc_hostile, gap_kills_one_direction)
{
	request(c, 1, "Check", SEC);
	kt_ttrpc_conn_gap(c, KT_TTRPC_TO_CLIENT);
	kt_ttrpc_conn_gap(c, KT_TTRPC_TO_CLIENT);
	cr_expect_eq(r.n_errors, 1);
	cr_expect(errors_mention(&r, "server->client: bytes lost"), "%s", r.errors[0]);
	respond(c, 1, 0, "", 0, SEC);
	cr_expect_eq(r.n, 0);
	/* The request side still works. */
	request(c, 3, "Check", SEC);
	cr_expect_eq(kt_ttrpc_conn_outstanding(c), 2);
	kt_ttrpc_conn_close(c, at(2 * SEC));
	cr_expect_eq(r.n, 2);
}

/* ------------------------------------------------------------ trace context */

static bool tp_ok(const char *s)
{
	struct kt_trace_id t;
	uint64_t p;
	uint8_t f;
	return kt_ttrpc_traceparent_parse((const uint8_t *)s, strlen(s), &t, &p, &f);
}

Test(ttrpc_trace, traceparent_is_strict)
{
	struct kt_trace_id t;
	uint64_t p;
	uint8_t f;
	cr_assert(kt_ttrpc_traceparent_parse((const uint8_t *)TP_VECTOR, 55, &t, &p, &f));
	cr_expect_eq(t.hi, 0x0af7651916cd43ddull);
	cr_expect_eq(t.lo, 0x8448eb211c80319cull);
	cr_expect_eq(p, 0xb7ad6b7169203331ull);
	cr_expect_eq(f, 1);
	cr_expect(tp_ok("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"));
	cr_expect(tp_ok("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff"));
	cr_expect(tp_ok("00-00000000000000000000000000000001-0000000000000001-01"));
	cr_expect_not(tp_ok("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
	cr_expect_not(tp_ok("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
	cr_expect_not(tp_ok("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"));
	cr_expect_not(tp_ok("00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01"));
	cr_expect_not(tp_ok("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0A"));
	cr_expect_not(tp_ok("00-00000000000000000000000000000000-b7ad6b7169203331-01"));
	cr_expect_not(tp_ok("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"));
	cr_expect_not(tp_ok("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-"));
	cr_expect_not(tp_ok("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1"));
	cr_expect_not(tp_ok("00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
	cr_expect_not(tp_ok("00-0af7651916cd43dd8448eb211c80319cb7ad6b7169203331--01"));
	cr_expect_not(tp_ok("00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01"));
	cr_expect_not(tp_ok(""));
}

static int ts(const char *s)
{
	struct kt_tracestate_entry m[KT_TTRPC_TRACESTATE_MAX_MEMBERS];
	return kt_ttrpc_tracestate_parse(s, strlen(s), m);
}

Test(ttrpc_trace, tracestate_grammar)
{
	struct kt_tracestate_entry m[KT_TTRPC_TRACESTATE_MAX_MEMBERS];
	const char *s = "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE ,,\tfw529a3039@dt=x y";
	cr_assert_eq(kt_ttrpc_tracestate_parse(s, strlen(s), m), 3);
	cr_expect_eq(m[0].key.len, 4);
	cr_expect_arr_eq(m[0].key.ptr, "rojo", 4);
	cr_expect_arr_eq(m[0].value.ptr, "00f067aa0ba902b7", 16);
	cr_expect_arr_eq(m[1].key.ptr, "congo", 5);
	cr_expect_eq(m[1].value.len, 11);
	cr_expect_arr_eq(m[2].key.ptr, "fw529a3039@dt", 13);
	cr_expect_eq(m[2].value.len, 3);
	cr_expect_eq(ts(""), 0);
	cr_expect_eq(ts(" , "), 0);
	cr_expect_eq(ts("a=1"), 1);
	cr_expect_eq(ts("a/b*c_d-e=1"), 1);
	cr_expect_eq(ts("0a=1"), -1);  /* simple keys start with a letter */
	cr_expect_eq(ts("0a@b=1"), 1); /* tenant ids may start with a digit */
	cr_expect_eq(ts("a@0b=1"), -1);
	cr_expect_eq(ts("a@bcdefghijklmno=1"), 1); /* system id of 14 */
	cr_expect_eq(ts("a@bcdefghijklmnop=1"), -1);
	cr_expect_eq(ts("A=1"), -1);
	cr_expect_eq(ts("a=1,a=2"), -1);
	cr_expect_eq(ts("a="), -1);
	cr_expect_eq(ts("=1"), -1);
	cr_expect_eq(ts("a"), -1);
	cr_expect_eq(ts("a=b=c"), -1);
	cr_expect_eq(ts("a=\x7f"), -1);
	cr_expect_eq(ts("a=\xc3\xa9"), -1);
	char many[512] = "";
	for (int i = 0; i < 33; i++) {
		char one[16];
		snprintf(one, sizeof(one), "%sk%d=v", i ? "," : "", i);
		strcat(many, one);
	}
	cr_expect_eq(ts(many), -1);
	*strrchr(many, ',') = '\0';
	cr_expect_eq(ts(many), 32);
}

/* "<key>=<value>" with a key of kn and a value of vn characters. */
static char *member(const char *key_head, size_t kn, size_t vn)
{
	char *m = malloc(kn + vn + 2);
	cr_assert_not_null(m);
	size_t h = strlen(key_head);
	cr_assert_leq(h, kn);
	memcpy(m, key_head, h);
	memset(m + h, 'k', kn - h);
	m[kn] = '=';
	memset(m + kn + 1, 'v', vn);
	m[kn + 1 + vn] = '\0';
	return m;
}

static int ts_member(const char *key_head, size_t kn, size_t vn)
{
	char *m = member(key_head, kn, vn);
	int n = ts(m);
	free(m);
	return n;
}

Test(ttrpc_trace, tracestate_lengths_at_their_bounds)
{
	/* A simple key: 256 characters at most. */
	cr_expect_eq(ts_member("a", 256, 1), 1);
	cr_expect_eq(ts_member("a", 257, 1), -1);
	/* A value: 256 characters at most. */
	cr_expect_eq(ts_member("a", 1, 256), 1);
	cr_expect_eq(ts_member("a", 1, 257), -1);
	/* A tenant id: 241 characters at most (then '@' and a system id). */
	char *k = filled(241 + 3, 't');
	memcpy(k + 241, "@sy", 3);
	char *m = malloc(300);
	snprintf(m, 300, "%s=1", k);
	cr_expect_eq(ts(m), 1, "tenant of 241");
	free(k);
	k = filled(242 + 3, 't');
	memcpy(k + 242, "@sy", 3);
	snprintf(m, 300, "%s=1", k);
	cr_expect_eq(ts(m), -1, "tenant of 242");
	free(k);
	/* A system id: 14 characters at most. */
	cr_expect_eq(ts("t@abcdefghijklmn=1"), 1);
	cr_expect_eq(ts("t@abcdefghijklmno=1"), -1);
	free(m);
}

/* A request whose tracestate metadata values are a and b (b may be NULL). */
static void request_with_tracestate(uint32_t id, const char *a, const char *b)
{
	const char *md[] = { "traceparent", TP_VECTOR, "tracestate", a, b ? "tracestate" : NULL,
			     b, NULL };
	struct buf buf = { 0 };
	put_request(&buf, id, "s", "m", 0, 0, md);
	push_buf(c, KT_TTRPC_TO_SERVER, &buf, SEC);
}

Test(ttrpc_trace, tracestate_of_512_bytes_is_kept)
{
	/* 512 bytes joined from two entries, or in one entry, are kept; 513 are not. */
	char *a = member("a", 1, 254), *b512 = member("b", 1, 253), *b513 = member("b", 1, 254);
	char *one512 = malloc(600), *one513 = malloc(600);
	snprintf(one512, 600, "%s,%s", a, b512);
	snprintf(one513, 600, "%s,%s", a, b513);
	cr_assert_eq(strlen(one512), 512);
	cr_assert_eq(strlen(one513), 513);
	request_with_tracestate(1, a, b512);
	request_with_tracestate(3, one512, NULL);
	request_with_tracestate(5, a, b513);
	request_with_tracestate(7, one513, NULL);
	kt_ttrpc_conn_close(c, at(2 * SEC));
	cr_assert_eq(r.n, 4);
	for (size_t i = 0; i < 4; i++) {
		cr_expect(r.calls[i].c.has_traceparent, "call %zu", i);
		cr_expect_eq(r.calls[i].c.has_tracestate, i < 2, "call %zu", i);
	}
	cr_expect_str_eq(r.calls[0].c.tracestate.ptr, one512);
	cr_expect_str_eq(r.calls[1].c.tracestate.ptr, one512);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->tracestate_invalid, 2);
	free(a);
	free(b512);
	free(b513);
	free(one512);
	free(one513);
}

Test(ttrpc_trace, metadata_rules)
{
	static const char *const joined[] = { "traceparent", TP_VECTOR, "tracestate", "a=1",
					      "baggage", "x=y", "tracestate", "b=2", NULL };
	static const char *const two_tp[] = { "traceparent", TP_VECTOR, "traceparent", TP_VECTOR,
					      NULL };
	static const char *const bad_tp[] = { "traceparent",
					      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
					      "tracestate", "a=1", NULL };
	static const char *const upper_key[] = { "Traceparent", TP_VECTOR, NULL };
	static const char *const bad_ts[] = { "traceparent", TP_VECTOR, "tracestate", "A=1",
					      NULL };
	static const char *const empty_ts[] = { "traceparent", TP_VECTOR, "tracestate", " , ",
						NULL };
	struct buf b = { 0 };
	put_request(&b, 1, "s", "m", 0, 0, joined);
	put_request(&b, 3, "s", "m", 0, 0, two_tp);
	put_request(&b, 5, "s", "m", 0, 0, bad_tp);
	put_request(&b, 7, "s", "m", 0, 0, upper_key);
	put_request(&b, 9, "s", "m", 0, 0, bad_ts);
	put_request(&b, 11, "s", "m", 0, 0, empty_ts);
	send_and_close(c, &b);
	cr_assert_eq(r.n, 6);
	cr_expect(r.calls[0].c.has_traceparent);
	cr_expect(r.calls[0].c.has_tracestate);
	cr_expect_str_eq(r.calls[0].c.tracestate.ptr, "a=1,b=2");
	cr_expect_not(r.calls[1].c.has_traceparent);
	cr_expect_not(r.calls[2].c.has_traceparent);
	cr_expect_not(r.calls[2].c.has_tracestate);
	cr_expect_not(r.calls[3].c.has_traceparent);
	cr_expect(r.calls[4].c.has_traceparent);
	cr_expect_not(r.calls[4].c.has_tracestate);
	cr_expect(r.calls[5].c.has_traceparent); /* an empty list is valid, and carries nothing */
	cr_expect_not(r.calls[5].c.has_tracestate);
	const struct kt_ttrpc_stats *st = kt_ttrpc_conn_stats(c);
	cr_expect_eq(st->traceparent_invalid, 2);
	cr_expect_eq(st->tracestate_invalid, 1);

	/* A tracestate over the cap is dropped and counted. */
	char *longts = malloc(700);
	memset(longts, 'v', 699);
	memcpy(longts, "a=", 2);
	longts[257] = '\0'; /* 255-char value: valid alone */
	char *two = malloc(1400);
	snprintf(two, 1400, "%s,b=%s,c=%s", longts, longts + 2, longts + 2);
	const char *const big[] = { "traceparent", TP_VECTOR, "tracestate", two, NULL };
	reopen(NULL);
	put_request(&b, 1, "s", "m", 0, 0, big);
	send_and_close(c, &b);
	cr_assert_eq(r.n, 1);
	cr_expect(r.calls[0].c.has_traceparent);
	cr_expect_not(r.calls[0].c.has_tracestate);
	cr_expect_eq(kt_ttrpc_conn_stats(c)->tracestate_invalid, 1);
	free(longts);
	free(two);
}

/* ------------------------------------------------------------ spans */

static uint64_t fixed_id(void *ctx)
{
	uint64_t *next = ctx;
	return (*next)++;
}

/* The call of the golden vectors, in r.calls[0]. */
static void vector_call(void)
{
	vector_pair("ttrpc_request_createcontainer.bin", "ttrpc_response_ok.bin");
	cr_assert_eq(r.n, 1);
}

static const struct kt_kv *attr(const struct kt_span *s, const char *key)
{
	const struct kt_kv *kv = kt_kvlist_find(&s->attrs, key);
	cr_assert_not_null(kv, "attribute %s missing", key);
	return kv;
}

static void expect_attr_str(const struct kt_span *s, const char *key, const char *v)
{
	const struct kt_kv *kv = attr(s, key);
	cr_expect_eq(kv->value.type, KT_VAL_STRING, "%s", key);
	cr_expect_str_eq(kv->value.s.ptr, v, "%s", key);
}

static void expect_attr_i64(const struct kt_span *s, const char *key, int64_t v)
{
	const struct kt_kv *kv = attr(s, key);
	cr_expect_eq(kv->value.type, KT_VAL_I64, "%s", key);
	cr_expect_eq(kv->value.i, v, "%s", key);
}

static void expect_attr_true(const struct kt_span *s, const char *key)
{
	const struct kt_kv *kv = attr(s, key);
	cr_expect_eq(kv->value.type, KT_VAL_BOOL, "%s", key);
	cr_expect(kv->value.b, "%s", key);
}

Test(ttrpc_span, with_traceparent)
{
	vector_call();
	struct kt_arena a;
	struct kt_span s;
	kt_arena_init(&a, 1 << 20);
	struct kt_ttrpc_span_opts o = { .sandbox_trace_id = { 1, 2 }, .sandbox_parent_span_id = 3 };
	cr_assert_eq(kt_ttrpc_span_build(&r.calls[0].c, &o, &a, &s), KT_TTRPC_SPAN_BUILT);
	cr_expect_str_eq(s.name.ptr, "ttrpc.CreateContainer");
	cr_expect_eq(s.kind, KT_KIND_CLIENT);
	cr_expect_eq(s.ctx.trace_id.hi, 0x0af7651916cd43ddull);
	cr_expect_eq(s.ctx.trace_id.lo, 0x8448eb211c80319cull);
	cr_expect_eq(s.ctx.span_id, 0xb7ad6b7169203331ull);
	cr_expect_eq(s.parent_span_id, 0);
	cr_expect_eq(s.ctx.trace_flags, 1);
	cr_expect_not(s.ctx.trace_state_present);
	cr_expect_eq(s.start_unix_nano, 5 * SEC + (uint64_t)OFF);
	cr_expect_eq(s.end_unix_nano, 7 * SEC + (uint64_t)OFF);
	cr_expect_eq(s.status_code, KT_STATUS_UNSET);
	cr_expect_eq(s.status_message.len, 0);
	static const char *const keys[] = {
		"rpc.system",	       "rpc.service",	"rpc.method",
		"rpc.grpc.status_code", "katatrace.rpc.stream_id", "katatrace.rpc.request.size",
		"katatrace.rpc.response.size", "katatrace.rpc.timeout_ns", "katatrace.rpc.end",
		"katatrace.synthesized",
	};
	cr_assert_eq(s.attrs.n, sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < s.attrs.n; i++)
		cr_expect_str_eq(s.attrs.kv[i].key.ptr, keys[i]);
	expect_attr_str(&s, "rpc.system", "ttrpc");
	expect_attr_str(&s, "rpc.service", "grpc.AgentService");
	expect_attr_str(&s, "rpc.method", "CreateContainer");
	expect_attr_i64(&s, "rpc.grpc.status_code", 0);
	expect_attr_i64(&s, "katatrace.rpc.stream_id", 1);
	expect_attr_i64(&s, "katatrace.rpc.request.size", 8);
	expect_attr_i64(&s, "katatrace.rpc.response.size", 0);
	expect_attr_i64(&s, "katatrace.rpc.timeout_ns", 60000000000ll);
	expect_attr_str(&s, "katatrace.rpc.end", "response");
	expect_attr_true(&s, "katatrace.synthesized");
	cr_expect_null(kt_kvlist_find(&s.attrs, "katatrace.rpc.long_poll"));

	/* The span exports: OTLP build takes it as any decoded span. */
	struct kt_span_record *rec = kt_span_record_new(1 << 20);
	cr_assert_not_null(rec);
	cr_assert_eq(kt_ttrpc_span_build(&r.calls[0].c, &o, &rec->arena, &rec->span),
		     KT_TTRPC_SPAN_BUILT);
	static const struct kt_resource_cfg cfg = { .service_name = "kata-runtime" };
	struct kt_arena oa;
	kt_arena_init(&oa, 0);
	cr_expect_not_null(kt_otlp_build(rec, &cfg, &oa));
	kt_arena_free(&oa);
	kt_span_record_free(rec);
	kt_arena_free(&a);
}

Test(ttrpc_span, tracestate_entries)
{
	static const char *const md[] = { "traceparent", TP_VECTOR, "tracestate",
					  "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", NULL };
	struct buf b = { 0 };
	put_request(&b, 1, "grpc.AgentService", "StartContainer", 0, 0, md);
	send_and_close(c, &b);
	cr_assert_eq(r.n, 1);
	struct kt_arena a;
	struct kt_span s;
	kt_arena_init(&a, 1 << 20);
	cr_assert_eq(kt_ttrpc_span_build(&r.calls[0].c, NULL, &a, &s), KT_TTRPC_SPAN_BUILT);
	cr_assert(s.ctx.trace_state_present);
	cr_assert_eq(s.ctx.trace_state_n, 2);
	cr_expect_str_eq(s.ctx.trace_state[0].key.ptr, "rojo");
	cr_expect_str_eq(s.ctx.trace_state[0].value.ptr, "00f067aa0ba902b7");
	cr_expect_str_eq(s.ctx.trace_state[1].key.ptr, "congo");
	cr_expect_str_eq(s.ctx.trace_state[1].value.ptr, "t61rcWkgMzE");
	/* A call without a response: UNKNOWN, an error, no response size. */
	cr_expect_eq(s.status_code, KT_STATUS_ERROR);
	cr_expect_str_eq(s.status_message.ptr, "connection closed");
	expect_attr_i64(&s, "rpc.grpc.status_code", 2);
	expect_attr_str(&s, "katatrace.rpc.end", "connection_closed");
	cr_expect_null(kt_kvlist_find(&s.attrs, "katatrace.rpc.response.size"));
	cr_expect_null(kt_kvlist_find(&s.attrs, "katatrace.rpc.timeout_ns"));
	kt_arena_free(&a);
}

Test(ttrpc_span, without_traceparent_and_error_status)
{
	error_call();

	struct kt_trace_id tid;
	uint64_t root;
	kt_sandbox_ids("sb1", 3, &tid, &root);
	uint64_t next = 0x1000;
	struct kt_ttrpc_span_opts o = { .sandbox_trace_id = tid,
					.sandbox_parent_span_id = root,
					.new_span_id = fixed_id,
					.new_span_id_ctx = &next };
	struct kt_arena a;
	struct kt_span s;
	kt_arena_init(&a, 1 << 20);
	cr_assert_eq(kt_ttrpc_span_build(&r.calls[0].c, &o, &a, &s), KT_TTRPC_SPAN_BUILT);
	cr_expect_str_eq(s.name.ptr, "ttrpc.StartContainer");
	cr_expect_eq(s.ctx.trace_id.hi, tid.hi);
	cr_expect_eq(s.ctx.trace_id.lo, tid.lo);
	cr_expect_eq(s.ctx.span_id, 0x1000);
	cr_expect_eq(s.parent_span_id, root);
	cr_expect_eq(s.ctx.trace_flags, 1);
	cr_expect_eq(s.status_code, KT_STATUS_ERROR);
	cr_expect_str_eq(s.status_message.ptr, "container c2 not found");
	expect_attr_i64(&s, "rpc.grpc.status_code", 5);
	expect_attr_i64(&s, "katatrace.rpc.stream_id", 3);
	expect_attr_i64(&s, "katatrace.rpc.request.size", 4);
	/* The next span gets the next id; the default source gives random non-zero ids. */
	cr_assert_eq(kt_ttrpc_span_build(&r.calls[0].c, &o, &a, &s), KT_TTRPC_SPAN_BUILT);
	cr_expect_eq(s.ctx.span_id, 0x1001);
	o.new_span_id = NULL;
	cr_assert_eq(kt_ttrpc_span_build(&r.calls[0].c, &o, &a, &s), KT_TTRPC_SPAN_BUILT);
	uint64_t id1 = s.ctx.span_id;
	cr_assert_eq(kt_ttrpc_span_build(&r.calls[0].c, &o, &a, &s), KT_TTRPC_SPAN_BUILT);
	cr_expect_neq(id1, 0);
	cr_expect_neq(id1, s.ctx.span_id);
	/* No sandbox trace id: a random one of its own, a root span. */
	struct kt_ttrpc_span_opts bare = { 0 };
	cr_assert_eq(kt_ttrpc_span_build(&r.calls[0].c, &bare, &a, &s), KT_TTRPC_SPAN_BUILT);
	cr_expect(s.ctx.trace_id.hi || s.ctx.trace_id.lo);
	cr_expect_eq(s.parent_span_id, 0);
	/* An error code with no message: its name. */
	r.calls[0].c.status_message.len = 0;
	r.calls[0].c.status_code = 4;
	cr_assert_eq(kt_ttrpc_span_build(&r.calls[0].c, &o, &a, &s), KT_TTRPC_SPAN_BUILT);
	cr_expect_str_eq(s.status_message.ptr, "DEADLINE_EXCEEDED");
	kt_arena_free(&a);
}

Test(ttrpc_span, long_poll_kept_or_dropped)
{
	request(c, 1, "WaitProcess", SEC);
	respond(c, 1, 0, "", 3, 500 * SEC);
	cr_assert_eq(r.n, 1);
	struct kt_arena a;
	struct kt_span s;
	kt_arena_init(&a, 1 << 20);
	struct kt_ttrpc_span_opts o = { 0 };
	cr_assert_eq(kt_ttrpc_span_build(&r.calls[0].c, &o, &a, &s), KT_TTRPC_SPAN_BUILT);
	cr_expect_str_eq(s.name.ptr, "ttrpc.WaitProcess");
	expect_attr_true(&s, "katatrace.rpc.long_poll");
	expect_attr_i64(&s, "katatrace.rpc.response.size", 3);
	cr_expect_eq(s.end_unix_nano - s.start_unix_nano, 499 * SEC);
	o.drop_long_poll = true;
	cr_expect_eq(kt_ttrpc_span_build(&r.calls[0].c, &o, &a, &s), KT_TTRPC_SPAN_SKIPPED);
	kt_arena_free(&a);
}

Test(ttrpc_span, arena_limit_fails_cleanly)
{
	vector_call();
	static const struct kt_span zero;
	for (size_t limit = 16; limit < 1024; limit += 16) {
		struct kt_arena a;
		struct kt_span s;
		kt_arena_init(&a, limit);
		enum kt_ttrpc_span_result rc = kt_ttrpc_span_build(&r.calls[0].c, NULL, &a, &s);
		if (rc == KT_TTRPC_SPAN_FAILED)
			cr_expect_eq(memcmp(&s, &zero, sizeof(s)), 0, "limit %zu", limit);
		else
			cr_expect_eq(rc, KT_TTRPC_SPAN_BUILT);
		kt_arena_free(&a);
	}
}

Test(ttrpc_span, sandbox_ids_are_stable)
{
	struct kt_trace_id a, b;
	uint64_t ra, rb;
	const char *id = "dc7a95dc0e8f4f9a8d3a6f6a1c5e3b2a9d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f";
	kt_sandbox_ids(id, strlen(id), &a, &ra);
	kt_sandbox_ids(id, strlen(id), &b, &rb);
	cr_expect(a.hi == b.hi && a.lo == b.lo && ra == rb);
	cr_expect(a.hi && a.lo && ra);
	kt_sandbox_ids("dc7a95dc0e8f4f9a8d3a6f6a1c5e3b2a9d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3e",
			     strlen(id), &b, &rb);
	cr_expect(a.hi != b.hi && a.lo != b.lo && ra != rb);
	kt_sandbox_ids("", 0, &b, &rb);
	cr_expect(b.hi && b.lo && rb);
}

/* ops->request: told of each request before its answer; its id names the span. */
struct req_seen {
	struct rec r;
	int requests;
	bool traced;
	char method[64];
	uint64_t start;
};

static uint64_t on_request_hook(void *ctx, const struct kt_ttrpc_call *c)
{
	struct req_seen *q = ctx;
	q->requests++;
	q->traced = c->has_traceparent;
	q->start = c->start_unix_ns;
	snprintf(q->method, sizeof(q->method), "%.*s", (int)c->method.len, c->method.ptr);
	return 0xfeed0000ull + c->stream_id;
}

static void on_call_hook(void *ctx, const struct kt_ttrpc_call *c)
{
	on_call(&((struct req_seen *)ctx)->r, c);
}

Test(ttrpc_span, request_hook_chooses_the_span_id)
{
	static const struct kt_ttrpc_conn_ops ops = { .call = on_call_hook, .request = on_request_hook };
	struct req_seen q;
	memset(&q, 0, sizeof(q));
	struct kt_ttrpc_cfg cfg = KT_TTRPC_CFG_DEFAULT;
	struct kt_ttrpc_conn *k = kt_ttrpc_conn_new(&cfg, "hook", &ops, &q);
	cr_assert_not_null(k);
	struct buf b = { 0 };
	put_request(&b, 3, "grpc.AgentService", "StartContainer", 4, 0, NULL);
	push_buf(k, KT_TTRPC_TO_SERVER, &b, SEC);
	cr_expect_eq(q.requests, 1, "before any response");
	cr_expect_eq(q.r.n, 0);
	cr_expect_str_eq(q.method, "StartContainer");
	cr_expect_eq(q.start, SEC + (uint64_t)OFF);
	cr_expect_not(q.traced);
	size_t n;
	uint8_t *v = kt_test_read_vector("ttrpc_response_error.bin", &n);
	push(k, KT_TTRPC_TO_CLIENT, v, n, 2 * SEC);
	free(v);
	cr_assert_eq(q.r.n, 1);
	cr_expect_eq(q.r.calls[0].c.span_id, 0xfeed0003ull);
	struct kt_arena a;
	struct kt_span s;
	kt_arena_init(&a, 1 << 20);
	struct kt_ttrpc_span_opts o = { .sandbox_trace_id = { 1, 2 }, .sandbox_parent_span_id = 9 };
	cr_assert_eq(kt_ttrpc_span_build(&q.r.calls[0].c, &o, &a, &s), KT_TTRPC_SPAN_BUILT);
	cr_expect_eq(s.ctx.span_id, 0xfeed0003ull);
	kt_arena_free(&a);
	kt_ttrpc_conn_free(k);
	free(q.r.calls);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc fuzzer (user/rpc/ttrpc_frame.c, user/rpc/ttrpc_rpc.c, user/rpc/ttrpc_span.c):
 * one input drives both directions of a connection. Operations, chosen by
 * the input: raw bytes to either direction, well-formed requests (methods,
 * long-poll methods, valid and broken trace context) and responses (any
 * stream id, code, message, UTF-8 or not), ticks, gaps and close/reopen.
 *
 * Always: every reported call has a non-empty UTF-8 service and method of
 * at most 256 bytes, a UTF-8 status message of at most 4096 bytes, end >=
 * start, trace state only with a traceparent and valid by the W3C grammar;
 * every registered request is reported exactly once by close; the
 * outstanding table stays within its bound; the counters add up; each call
 * becomes a span (or fails cleanly on a small arena). A second framer per
 * direction, fed the same bytes in one piece at the end, cuts the same
 * frames as the chunked framing did.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ttrpc/ttrpc.pb-c.h"
#include "rpc/ttrpc_frame.h"
#include "rpc/ttrpc_rpc.h"
#include "rpc/ttrpc_span.h"
#include "base/utf8.h"
#include "fuzz_check.h"

#define MAX_LOG (1u << 20) /* bytes kept per direction for the replay */

struct cursor {
	const uint8_t *p, *end;
};

static unsigned next_byte(struct cursor *c)
{
	return c->p < c->end ? *c->p++ : 0;
}

static size_t take(struct cursor *c, size_t want, const uint8_t **p)
{
	size_t left = (size_t)(c->end - c->p);
	size_t n = want < left ? want : left;
	*p = c->p;
	c->p += n;
	return n;
}

/* Frames of one direction, as a running hash and a count. */
struct digest {
	uint64_t h, n;
};

static void digest_frame(struct digest *d, const struct kt_ttrpc_frame *f)
{
	const uint8_t hdr[10] = { (uint8_t)(f->length >> 24), (uint8_t)(f->length >> 16),
				  (uint8_t)(f->length >> 8),  (uint8_t)f->length,
				  (uint8_t)(f->stream_id >> 24), (uint8_t)(f->stream_id >> 16),
				  (uint8_t)(f->stream_id >> 8), (uint8_t)f->stream_id,
				  f->type, f->flags };
	uint64_t h = d->h ^ 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < sizeof(hdr); i++)
		h = (h ^ hdr[i]) * 0x100000001b3ull;
	for (size_t i = 0; i < f->length; i++)
		h = (h ^ f->payload[i]) * 0x100000001b3ull;
	d->h = h;
	d->n++;
}

struct shadow {
	struct kt_ttrpc_framer fr;
	struct digest d;
	uint32_t port;
	bool have_port;
	size_t errors;
};

static void sh_frame(void *ctx, const struct kt_ttrpc_frame *f)
{
	struct shadow *s = ctx;
	CHECK(f->payload != NULL && f->length <= KT_TTRPC_MAX_PAYLOAD);
	digest_frame(&s->d, f);
}

static void sh_handshake(void *ctx, enum kt_ttrpc_dir dir, uint32_t port)
{
	struct shadow *s = ctx;
	CHECK(dir == s->fr.dir);
	CHECK(!s->have_port);
	s->have_port = true;
	s->port = port;
}

static void sh_error(void *ctx, const char *msg)
{
	struct shadow *s = ctx;
	CHECK(msg && strstr(msg, "fuzz conn") != NULL);
	s->errors++;
}

static const struct kt_ttrpc_framer_ops sh_ops = { sh_frame, sh_handshake, sh_error };

static struct {
	struct kt_ttrpc_conn *c;
	struct kt_ttrpc_cfg cfg;
	struct shadow sh[2];
	uint8_t *log[2];
	size_t log_n[2];
	bool gapped[2];
	uint64_t reported;
	uint64_t mono;
	struct kt_arena arena;
	size_t arena_limit;
	bool drop_long_poll;
} st;

static bool is_utf8(struct kt_str s)
{
	return kt_utf8_check((const uint8_t *)s.ptr, s.len) == s.len && s.ptr[s.len] == '\0';
}

static uint64_t fixed_id(void *ctx)
{
	(void)ctx;
	return 0x1234;
}

static void on_call(void *ctx, const struct kt_ttrpc_call *c)
{
	(void)ctx;
	CHECK(c->service.len > 0 && c->service.len <= KT_TTRPC_MAX_NAME && is_utf8(c->service));
	CHECK(c->method.len > 0 && c->method.len <= KT_TTRPC_MAX_NAME && is_utf8(c->method));
	CHECK(c->status_message.len <= 4096 && is_utf8(c->status_message));
	CHECK(c->end_mono_ns >= c->start_mono_ns && c->end_unix_ns >= c->start_unix_ns);
	CHECK(!c->has_tracestate || c->has_traceparent);
	if (c->has_tracestate) {
		CHECK(c->tracestate.len <= KT_TTRPC_MAX_TRACESTATE);
		CHECK(kt_ttrpc_tracestate_parse(c->tracestate.ptr, c->tracestate.len, NULL) >= 0);
	}
	if (c->has_traceparent)
		CHECK((c->trace_id.hi || c->trace_id.lo) && c->parent_span_id);
	if (c->end != KT_TTRPC_END_RESPONSE && c->end != KT_TTRPC_END_BAD_RESPONSE)
		CHECK(c->status_code == KT_GRPC_UNKNOWN && c->response_size == 0);
	st.reported++;

	struct kt_span s;
	struct kt_ttrpc_span_opts o = { .sandbox_trace_id = { 1, 2 },
					.sandbox_parent_span_id = 3,
					.drop_long_poll = st.drop_long_poll,
					.new_span_id = fixed_id };
	kt_arena_init(&st.arena, st.arena_limit);
	enum kt_ttrpc_span_result rc = kt_ttrpc_span_build(c, &o, &st.arena, &s);
	if (rc == KT_TTRPC_SPAN_BUILT) {
		CHECK(s.name.len == 6 + c->method.len && !memcmp(s.name.ptr, "ttrpc.", 6));
		CHECK(s.kind == KT_KIND_CLIENT && s.attrs.n >= 8 && s.attrs.n <= 11);
		CHECK(s.ctx.span_id != 0 && (s.ctx.trace_id.hi || s.ctx.trace_id.lo));
		CHECK((s.status_code == KT_STATUS_ERROR) == (c->status_code != 0));
		CHECK(s.ctx.trace_state_present == c->has_tracestate);
	} else if (rc == KT_TTRPC_SPAN_SKIPPED) {
		CHECK(c->long_poll && st.drop_long_poll);
	} else {
		CHECK(rc == KT_TTRPC_SPAN_FAILED && s.name.ptr == NULL && s.attrs.n == 0);
	}
	kt_arena_free(&st.arena);
}

static void on_error(void *ctx, const char *msg)
{
	(void)ctx;
	CHECK(msg && strstr(msg, "fuzz conn") != NULL);
}

static const struct kt_ttrpc_conn_ops ops = { .call = on_call, .error = on_error };

static struct kt_ttrpc_time now(void)
{
	return (struct kt_ttrpc_time){ .mono_ns = st.mono, .realtime_off_ns = 1000 };
}

static void check_stats(void)
{
	const struct kt_ttrpc_stats *s = kt_ttrpc_conn_stats(st.c);
	CHECK(kt_ttrpc_conn_outstanding(st.c) <= st.cfg.max_outstanding);
	CHECK(s->calls == st.reported);
	CHECK(s->responses + s->no_response == s->calls);
	CHECK(s->requests == s->calls + kt_ttrpc_conn_outstanding(st.c));
	CHECK(s->evicted + s->expired + s->replaced <= s->no_response);
	CHECK(s->bad_responses <= s->responses);
}

static void open_conn(void)
{
	st.c = kt_ttrpc_conn_new(&st.cfg, "fuzz conn", &ops, NULL);
	CHECK(st.c != NULL);
	st.reported = 0;
	for (int d = 0; d < 2; d++) {
		memset(&st.sh[d], 0, sizeof(st.sh[d]));
		kt_ttrpc_framer_init(&st.sh[d].fr, (enum kt_ttrpc_dir)d, st.cfg.handshake,
				     st.cfg.max_payload, "fuzz conn", &sh_ops, &st.sh[d]);
		st.log_n[d] = 0;
		st.gapped[d] = false;
	}
}

/* The same bytes in one push must give the same frames and handshake. */
static void replay(int d)
{
	struct shadow one;
	memset(&one, 0, sizeof(one));
	kt_ttrpc_framer_init(&one.fr, (enum kt_ttrpc_dir)d, st.cfg.handshake, st.cfg.max_payload,
			     "fuzz conn", &sh_ops, &one);
	if (st.log_n[d])
		kt_ttrpc_framer_push(&one.fr, st.log[d], st.log_n[d], now());
	CHECK(one.d.n == st.sh[d].d.n && one.d.h == st.sh[d].d.h);
	CHECK(one.errors == st.sh[d].errors && one.have_port == st.sh[d].have_port);
	CHECK(one.port == st.sh[d].port);
	CHECK(kt_ttrpc_framer_pending(&one.fr) == kt_ttrpc_framer_pending(&st.sh[d].fr));
	kt_ttrpc_framer_free(&one.fr);
}

static void close_conn(void)
{
	kt_ttrpc_conn_close(st.c, now());
	CHECK(kt_ttrpc_conn_outstanding(st.c) == 0);
	check_stats();
	for (int d = 0; d < 2; d++) {
		if (!st.gapped[d] && st.log_n[d] < MAX_LOG)
			replay(d);
		kt_ttrpc_framer_free(&st.sh[d].fr);
	}
	kt_ttrpc_conn_free(st.c);
	st.c = NULL;
}

static void push(int d, const uint8_t *p, size_t n)
{
	if (!st.gapped[d] && st.log_n[d] + n <= MAX_LOG) {
		memcpy(st.log[d] + st.log_n[d], p, n);
		st.log_n[d] += n;
	} else {
		st.log_n[d] = MAX_LOG; /* too much to replay */
	}
	if (!st.gapped[d])
		kt_ttrpc_framer_push(&st.sh[d].fr, p, n, now());
	kt_ttrpc_conn_push(st.c, (enum kt_ttrpc_dir)d, p, n, now());
	check_stats();
}

static void push_frame(int d, uint32_t id, uint8_t type, const uint8_t *p, size_t n)
{
	uint8_t *f = malloc(10 + n);
	const uint8_t hdr[10] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
				  (uint8_t)n,	      (uint8_t)(id >> 24), (uint8_t)(id >> 16),
				  (uint8_t)(id >> 8),  (uint8_t)id,	  type,
				  0 };
	memcpy(f, hdr, 10);
	if (n)
		memcpy(f + 10, p, n);
	push(d, f, 10 + n);
	free(f);
}

static ProtobufCBinaryData bin(const char *s)
{
	return (ProtobufCBinaryData){ .len = strlen(s), .data = (uint8_t *)s };
}

static ProtobufCBinaryData fuzz_bin(struct cursor *in)
{
	const uint8_t *p;
	size_t n = take(in, next_byte(in) % 64, &p);
	return (ProtobufCBinaryData){ .len = n, .data = (uint8_t *)p };
}

static void request_op(struct cursor *in, unsigned op)
{
	static const char *const methods[] = { "CreateContainer", "WaitProcess", "ReadStdout",
					       "GetOOMEvent", "Check", "ExecProcess" };
	static const char *const tps[] = {
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-00000000000000000000000000000000-b7ad6b7169203331-01",
		"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
	};
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	Ttrpc__KeyValue kv[4], *kvp[4];
	uint32_t id = next_byte(in) % 16 * 2 + 1;
	unsigned sel = next_byte(in);

	r.service = bin("grpc.AgentService");
	r.method = (op & 0x80) ? fuzz_bin(in) : bin(methods[sel % 6]);
	r.timeout_nano = (int64_t)next_byte(in) << 24;
	for (size_t i = 0; i < (sel >> 3) % 5; i++) {
		ttrpc__key_value__init(&kv[i]);
		unsigned k = next_byte(in);
		kv[i].key = bin(k & 1 ? "tracestate" : "traceparent");
		kv[i].value = (k & 2) ? fuzz_bin(in) : bin(k & 1 ? "a=1,b@c=x y" : tps[(k >> 2) % 4]);
		kvp[i] = &kv[i];
		r.n_metadata = i + 1;
	}
	r.metadata = kvp;
	size_t n = ttrpc__request__get_packed_size(&r);
	uint8_t *p = malloc(n ? n : 1);
	ttrpc__request__pack(&r, p);
	push_frame(KT_TTRPC_TO_SERVER, id, KT_TTRPC_REQUEST, p, n);
	free(p);
}

static void response_op(struct cursor *in, unsigned op)
{
	Ttrpc__Response r = TTRPC__RESPONSE__INIT;
	Google__Rpc__Status s = GOOGLE__RPC__STATUS__INIT;
	uint32_t id = next_byte(in) % 16 * 2 + 1;

	s.code = (int32_t)(next_byte(in) % 20) - 1;
	s.message = fuzz_bin(in);
	if (!(op & 0x80))
		r.status = &s;
	r.payload = fuzz_bin(in);
	size_t n = ttrpc__response__get_packed_size(&r);
	uint8_t *p = malloc(n ? n : 1);
	ttrpc__response__pack(&r, p);
	push_frame(KT_TTRPC_TO_CLIENT, id, KT_TTRPC_RESPONSE, p, n);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor in = { data, data + size };
	unsigned cfg = next_byte(&in);

	if (!st.log[0]) {
		st.log[0] = malloc(MAX_LOG);
		st.log[1] = malloc(MAX_LOG);
	}
	st.cfg = KT_TTRPC_CFG_DEFAULT;
	st.cfg.handshake = (cfg & 1) ? KT_TTRPC_HS_NONE : KT_TTRPC_HS_AUTO;
	st.cfg.max_outstanding = (cfg & 2) ? 4 : 0;
	st.cfg.max_age_ns = (cfg & 4) ? 50000000ull : 0;
	st.cfg.long_poll_max_age_ns = (cfg & 8) ? 200000000ull : 0;
	st.cfg.max_payload = (cfg & 16) ? 300 : 0;
	st.cfg.unpack_limit = (cfg & 32) ? 2048 : 0;
	st.drop_long_poll = cfg & 64;
	st.arena_limit = (cfg & 128) ? 256 : 1 << 20;
	if (st.cfg.max_outstanding == 0)
		st.cfg.max_outstanding = KT_TTRPC_DEFAULT_MAX_OUTSTANDING;
	st.mono = 1000000000ull;
	open_conn();

	while (in.p < in.end) {
		unsigned op = next_byte(&in);
		st.mono += (op >> 4) * 10000000ull; /* 0 to 150 ms per step */
		switch (op & 7) {
		case 0:
		case 1:
		case 2: { /* raw bytes */
			const uint8_t *p;
			size_t len = next_byte(&in);
			if (op & 8)
				len = len << 8 | next_byte(&in);
			size_t n = take(&in, len, &p);
			push((op & 7) == 1, p, n);
			break;
		}
		case 3:
			request_op(&in, op);
			break;
		case 4:
			response_op(&in, op);
			break;
		case 5:
			kt_ttrpc_conn_tick(st.c, now());
			check_stats();
			break;
		case 6: { /* a gap: that direction stops */
			int d = (op >> 3) & 1;
			st.gapped[d] = true;
			kt_ttrpc_conn_gap(st.c, (enum kt_ttrpc_dir)d);
			check_stats();
			break;
		}
		case 7:
			close_conn();
			open_conn();
			break;
		}
	}
	close_conn();
	return 0;
}

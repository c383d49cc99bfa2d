/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata 1.x Jaeger stream decoder fuzzer. The input is the bytes of one VSOCK
 * connection. It is decoded pushed whole and pushed in chunks cut by a
 * generator seeded from the input, under the default limits and under a
 * small message cap; the two must agree exactly (chunking is invisible).
 * Then with gaps at generated places. Always: every span satisfies the span
 * invariants (span_check.h), every resource has unique keys, every pushed
 * byte is in a message, skipped or dropped, and the buffer stays within the
 * cap. The input is also decoded as one message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kata1/decode_jaeger.h"

/* span_check.h's decode_and_check() is for the span decoders; not used here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "span_check.h"
#pragma GCC diagnostic pop

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	uint64_t batches, spans, errors;
	uint64_t digest; /* of everything decoded, in order */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x100000001b3ull;
	return h ^ (h >> 29);
}

static uint64_t mix_str(uint64_t h, struct kt_str s)
{
	h = mix(h, s.len);
	for (size_t i = 0; i < s.len; i++)
		h = mix(h, (uint8_t)s.ptr[i]);
	return h;
}

static void check_batch(const struct kt_jaeger_batch *b, struct run *r)
{
	static const struct kt_decode_error no_error;
	CHECK(b->n_spans == 0 || b->spans != NULL);
	check_str(b->method);
	check_str(b->service_name);
	check_kvs(&b->resource, true);
	r->digest = mix(r->digest, (uint64_t)b->seqid);
	r->digest = mix(r->digest, b->resource.n);
	for (size_t i = 0; i < b->n_spans; i++) {
		const struct kt_span *s = &b->spans[i];
		check_result(0, s, &no_error);
		CHECK(s->resource_present && s->resource.kv == b->resource.kv);
		CHECK(s->end_unix_nano >= s->start_unix_nano);
		CHECK(s->ctx.trace_flags <= 1);
		r->digest = mix(r->digest, s->ctx.span_id);
		r->digest = mix(r->digest, s->parent_span_id);
		r->digest = mix(r->digest, s->start_unix_nano);
		r->digest = mix(r->digest, s->end_unix_nano);
		r->digest = mix_str(r->digest, s->name);
		r->digest = mix(r->digest, s->attrs.n << 32 | s->n_events << 16 | s->n_links);
		r->digest = mix(r->digest, (uint64_t)s->kind << 8 | s->status_code);
	}
	r->batches++;
	r->spans += b->n_spans;
}

static void on_batch(void *ctx, const struct kt_jaeger_batch *b, struct kt_arena *a)
{
	(void)a;
	check_batch(b, ctx);
}

static void on_error(void *ctx, const char *msg)
{
	struct run *r = ctx;
	CHECK(msg && msg[0]);
	r->errors++;
}

static const struct kt_jaeger_stream_ops ops = {.batch = on_batch, .error = on_error};

static uint32_t next(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

static void check_stream(const struct kt_jaeger_stream *s)
{
	CHECK(s->off <= s->have && s->have <= s->cap && s->cap <= s->lim.max_message);
	CHECK(s->pushed == s->message_bytes + s->skipped_bytes + s->dropped_bytes +
				   (s->have - s->off));
}

/* mode 0: whole; 1: chunks; 2: chunks and gaps. */
static void run(const uint8_t *p, size_t n, const struct kt_jaeger_limits *lim, int mode,
		uint32_t seed, struct run *r, struct kt_jaeger_stream *s)
{
	memset(r, 0, sizeof(*r));
	kt_jaeger_stream_init(s, lim, &ops, r);
	for (size_t o = 0; o < n;) {
		size_t k = n - o;
		if (mode) {
			uint32_t v = next(&seed);
			k = v % 8 == 0 ? 1 + v % 4096 : 1 + v % 64;
			if (k > n - o)
				k = n - o;
			if (mode == 2 && v % 16 == 1) {
				kt_jaeger_stream_gap(s);
				check_stream(s);
			}
		}
		kt_jaeger_stream_push(s, p + o, k);
		check_stream(s);
		o += k;
	}
	uint64_t rest = kt_jaeger_stream_finish(s);
	CHECK(rest <= s->dropped_bytes);
	CHECK(s->off == s->have);
	check_stream(s);
	CHECK(s->messages == r->batches && s->spans == r->spans && s->errors == r->errors);
	CHECK(s->bad_messages <= s->errors);
}

static void same(const struct run *a, const struct kt_jaeger_stream *sa, const struct run *b,
		 const struct kt_jaeger_stream *sb)
{
	CHECK(a->batches == b->batches && a->spans == b->spans && a->errors == b->errors);
	CHECK(a->digest == b->digest);
	CHECK(sa->message_bytes == sb->message_bytes && sa->skipped_bytes == sb->skipped_bytes &&
	      sa->dropped_bytes == sb->dropped_bytes && sa->bad_messages == sb->bad_messages);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = 2166136261u;
	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;

	struct kt_jaeger_limits lims[2];
	kt_jaeger_limits_default(&lims[0]);
	kt_jaeger_limits_default(&lims[1]);
	lims[1].max_message = KT_JAEGER_MIN_MESSAGE_CAP + seed % 1024;
	lims[1].max_tags = 1 + seed % 8;

	for (int l = 0; l < 2; l++) {
		struct run whole, parts, gaps;
		struct kt_jaeger_stream sw, sp, sg;
		run(data, size, &lims[l], 0, seed, &whole, &sw);
		run(data, size, &lims[l], 1, seed, &parts, &sp);
		same(&whole, &sw, &parts, &sp);
		run(data, size, &lims[l], 2, seed, &gaps, &sg);
		kt_jaeger_stream_free(&sw);
		kt_jaeger_stream_free(&sp);
		kt_jaeger_stream_free(&sg);
	}

	/* The whole input as one message. */
	struct kt_arena a;
	struct kt_jaeger_batch b;
	struct kt_decode_error err;
	struct run r = {0};
	static const struct kt_jaeger_batch zero;
	kt_arena_init(&a, size * 64 + (64u << 10));
	if (kt_jaeger_decode(data, size, NULL, &a, &b, &err) == 0) {
		check_batch(&b, &r);
	} else {
		CHECK(err.msg[0] != '\0');
		CHECK(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
		CHECK(memcmp(&b, &zero, sizeof(b)) == 0);
	}
	kt_arena_free(&a);
	return 0;
}

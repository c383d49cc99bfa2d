/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation-free per span: the OTLP/JSON writer, building and packing an
 * OTLP protobuf request, and the span decoders. Each is run on a cold batch
 * of SMALL and of LARGE spans (made from the golden vectors), whose
 * allocation counts may differ only by geometric growth, then on the same
 * batch again with its buffers and arenas kept, which must allocate nothing.
 * Counted with ASan's malloc hooks (alloc_count.h), library allocations
 * included.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/decode.h"
#include "alloc_count.h"
#include "base/text_buf.h"
#include "expect_span.h"
#include "exporters/exporter.h"
#include "exporters/grpc_frame.h"
#include "exporters/otlp_json.h"
#include "exporters/otlp_pack.h"
#include "model/log_record.h"
#include "span_fixture.h"

enum { SMALL = 16, LARGE = 1024 };

/*
 * What a cold batch of LARGE may cost beyond one of SMALL, per buffer or
 * arena it grows: each doubles when full, and LARGE spans take about
 * LARGE / SMALL = 64 times the memory of SMALL, i.e. log2(64) = 6 more
 * doublings; 2 more for the vectors' uneven sizes (SMALL spans do not cycle
 * through all of them) and for the arena's reset, which replaces a grown
 * arena's chunks by one. Anything allocated per span would cost at least
 * LARGE - SMALL = 1008 more.
 */
#define GROWTH_PER_BUFFER (6 + 2)

/* ------------------------------------------------------------ the batch */

/* The golden vectors of one era, read once; decoded spans may point into them. */
struct vectors {
	uint8_t *p[64];
	size_t n[64];
};

static struct vectors *load(enum kt_era era)
{
	struct vectors *v = calloc(1, sizeof(*v));
	cr_assert_not_null(v);
	cr_assert_leq(kt_test_n_labels, 64);
	for (size_t i = 0; i < kt_test_n_labels; i++)
		v->p[i] = kt_test_read_vectorf(&v->n[i],
					       era == KT_ERA_JSON ? "otel017_json_%s.json"
								  : "otel014_bincode_%s.bin",
					       kt_test_labels[i]);
	return v;
}

static void unload(struct vectors *v)
{
	for (size_t i = 0; i < kt_test_n_labels; i++)
		free(v->p[i]);
	free(v);
}

/* Spans and log records as the export queue gets them, from two sandboxes. */
struct batch {
	struct vectors *vec;
	struct kt_span_record *spans;
	struct kt_log_record *logs;
	size_t n;
};

static struct kt_log_record *log_for(const struct kt_span *s, struct kt_origin *o, size_t i)
{
	struct kt_log_record *r = kt_log_record_new(0);
	cr_assert_not_null(r);
	struct kt_arena *a = &r->arena;
	char body[64];
	snprintf(body, sizeof(body), "cgroup: container %zu started \"ok\"\n", i);
	r->log.time_unix_nano = s->start_unix_nano;
	r->log.observed_time_unix_nano = s->end_unix_nano;
	r->log.severity_number = KT_SEV_INFO;
	r->log.severity_text = fx_str(a, "INFO");
	r->log.body = fx_str(a, body);
	r->log.attrs = FX_LIST(a, fx_kv_str(a, "syslog.identifier", "kata-agent"),
			       fx_kv_i64(a, "process.pid", 1000 + (int64_t)i),
			       fx_kv_bool(a, "truncated", false));
	r->log.trace_id = s->ctx.trace_id;
	r->log.span_id = s->ctx.span_id;
	r->origin = kt_origin_get(o);
	return r;
}

/* n spans decoded from the bincode vectors in turn, each with a log record. */
static struct batch make_batch(size_t n)
{
	struct batch b = { .vec = load(KT_ERA_BINCODE), .n = n };
	struct kt_origin *o[2] = { fx_origin("hybrid-vsock", "sb1"), fx_origin("vsock", "sb2") };
	struct kt_span_record **st = &b.spans;
	struct kt_log_record **lt = &b.logs;
	for (size_t i = 0; i < n; i++) {
		size_t v = i % kt_test_n_labels;
		struct kt_span_record *r = kt_span_record_new(0);
		struct kt_decode_error err;
		cr_assert_not_null(r);
		cr_assert_eq(kt_decode_span(KT_FORMAT_BINCODE, b.vec->p[v], b.vec->n[v], &r->arena,
					    &r->span, NULL, &err),
			     0, "[%s] %s", kt_test_labels[v], err.msg);
		r->origin = kt_origin_get(o[i % 2]);
		*lt = log_for(&r->span, o[i % 2], i);
		*st = r;
		st = &r->next;
		lt = &(*lt)->next;
	}
	kt_origin_put(o[0]);
	kt_origin_put(o[1]);
	return b;
}

static void free_batch(struct batch *b)
{
	kt_span_record_free_list(b->spans);
	kt_log_record_free_list(b->logs);
	unload(b->vec);
}

/* ------------------------------------------------------------ the counter */

/* Kept from being optimised away with the allocations that make it. */
static void *volatile sink;

/* Allocates once each time it is told to, on its pipe; answers on the other. */
static int to_thread[2], from_thread[2];

static void *other_thread(void *arg)
{
	(void)arg;
	char c;
	while (read(to_thread[0], &c, 1) == 1) {
		sink = malloc(32);
		free(sink);
		if (write(from_thread[1], &c, 1) != 1)
			break;
	}
	return NULL;
}

Test(alloc_per_span, the_counter_counts_this_threads_allocations)
{
	kt_alloc_count_begin();
	sink = malloc(16);
	free(sink);
	size_t n = kt_alloc_count_end();
	cr_assert_eq(n, 1, "a malloc counted %zu times", n);

	kt_alloc_count_begin();
	sink = calloc(2, 16);
	sink = realloc(sink, 4096);
	free(sink);
	n = kt_alloc_count_end();
	cr_assert_eq(n, 2, "a calloc and a growing realloc counted %zu times", n);

	/* Library allocations are seen too: protobuf-c's unpack. */
	kt_alloc_count_begin();
	Opentelemetry__Proto__Common__V1__KeyValue *kv =
		opentelemetry__proto__common__v1__key_value__unpack(
			NULL, 5, (const uint8_t[]){ 0x0a, 0x03, 'k', 'e', 'y' });
	n = kt_alloc_count_end();
	cr_assert_not_null(kv);
	opentelemetry__proto__common__v1__key_value__free_unpacked(kv, NULL);
	cr_assert_geq(n, 1, "protobuf-c's unpack counted %zu times", n);

	/* Not another thread's, made while this thread's window is open. */
	pthread_t t;
	char c = 'x';
	cr_assert_eq(pipe(to_thread), 0);
	cr_assert_eq(pipe(from_thread), 0);
	cr_assert_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
	kt_alloc_count_begin();
	cr_assert_eq(write(to_thread[1], &c, 1), 1);
	cr_assert_eq(read(from_thread[0], &c, 1), 1);
	n = kt_alloc_count_end();
	close(to_thread[1]);
	pthread_join(t, NULL);
	close(to_thread[0]);
	close(from_thread[0]);
	close(from_thread[1]);
	cr_assert_eq(n, 0, "another thread's malloc counted %zu times", n);

	kt_alloc_count_begin();
	n = kt_alloc_count_end();
	cr_assert_eq(n, 0, "an empty window counted %zu", n);
}

/* ------------------------------------------------------------ cold and warm */

/*
 * One writer or decoder: what it keeps between batches, and one batch
 * through it. Everything it keeps starts zeroed (cold).
 */
struct subject {
	const char *name;
	void (*prepare)(struct batch *b, struct kt_arena *req); /* outside the counts; may be NULL */
	void (*run)(struct batch *b, struct kt_arena *req, struct kt_arena *a, struct kt_text *t);
	size_t buffers; /* how many of a and t it grows */
};

struct counts {
	size_t cold, warm;
};

static struct counts count(const struct subject *s, size_t n)
{
	struct batch b = make_batch(n);
	struct kt_arena req, a;
	struct kt_text t = { 0 };
	kt_arena_init(&req, 0);
	kt_arena_init(&a, 0);
	if (s->prepare)
		s->prepare(&b, &req);
	struct counts c;
	kt_alloc_count_begin();
	s->run(&b, &req, &a, &t);
	c.cold = kt_alloc_count_end();
	kt_alloc_count_begin();
	s->run(&b, &req, &a, &t);
	c.warm = kt_alloc_count_end();
	kt_text_free(&t);
	kt_arena_free(&a);
	kt_arena_free(&req);
	free_batch(&b);
	return c;
}

static void cold_batch_grows_logarithmically(const struct subject *s)
{
	struct counts small = count(s, SMALL), large = count(s, LARGE);
	size_t bound = small.cold + s->buffers * GROWTH_PER_BUFFER;
	cr_expect_leq(large.cold, bound,
		      "%s: a cold batch of %d spans made %zu allocations, of %d spans %zu "
		      "(at most %zu allowed)",
		      s->name, SMALL, small.cold, LARGE, large.cold, bound);
}

static void warm_batch_allocates_nothing(const struct subject *s)
{
	struct counts c = count(s, LARGE);
	cr_expect_eq(c.warm, 0, "%s: %d spans again, buffers kept: %zu allocations", s->name,
		     LARGE, c.warm);
}

/* ------------------------------------------------------------ OTLP/JSON */

/* The requests to write, built beforehand: spans in req, log records in a second arena. */
static kt_otlp_request *spans_req;
static kt_otlp_logs_request *logs_req;
static struct kt_arena logs_arena;
static const struct kt_resource_cfg cfg = { .service_name = "kata-agent" };

static void build_both(struct batch *b, struct kt_arena *req)
{
	spans_req = kt_otlp_build(b->spans, &cfg, req);
	cr_assert_not_null(spans_req);
	kt_arena_free(&logs_arena);
	kt_arena_init(&logs_arena, 0);
	logs_req = kt_otlp_logs_build(b->logs, &cfg, &logs_arena);
	cr_assert_not_null(logs_req);
}

static void json_write(struct batch *b, struct kt_arena *req, struct kt_arena *a, struct kt_text *t)
{
	(void)b, (void)req, (void)a;
	cr_assert(kt_otlp_json_write(spans_req, t));
	cr_assert_gt(t->len, b->n * 100, "the document holds every span");
	cr_assert(kt_otlp_logs_json_write(logs_req, t));
}

static const struct subject json = {
	.name = "OTLP/JSON writer",
	.prepare = build_both,
	.run = json_write,
	.buffers = 1,
};

Test(alloc_per_span, json_writer_cold_batch_grows_logarithmically)
{
	cold_batch_grows_logarithmically(&json);
	kt_arena_free(&logs_arena);
}

Test(alloc_per_span, json_writer_warm_batch_allocates_nothing)
{
	warm_batch_allocates_nothing(&json);
	kt_arena_free(&logs_arena);
}

/*
 * An exporter that writes text given the same requests twice: the second
 * time allocates nothing (it keeps its buffer, stdio its own).
 */
static void text_exporter_warm(struct kt_exporter *e)
{
	cr_assert_not_null(e);
	struct batch b = make_batch(LARGE);
	struct kt_arena req;
	kt_arena_init(&req, 0);
	build_both(&b, &req);
	for (int round = 0; round < 2; round++) {
		if (round)
			kt_alloc_count_begin();
		cr_assert_eq(e->export(e, spans_req, b.n), KT_EXPORT_OK);
		cr_assert_eq(e->export_logs(e, logs_req, b.n), KT_EXPORT_OK);
	}
	size_t n = kt_alloc_count_end();
	cr_expect_eq(n, 0, "%s exporter: %d spans and log records again: %zu allocations",
		     e->name, LARGE, n);
	e->destroy(e);
	kt_arena_free(&req);
	kt_arena_free(&logs_arena);
	free_batch(&b);
}

Test(alloc_per_span, file_exporter_warm_batch_allocates_nothing)
{
	text_exporter_warm(kt_exporter_file_new("/dev/null"));
}

Test(alloc_per_span, console_exporter_warm_batch_allocates_nothing)
{
	FILE *f = fopen("/dev/null", "w");
	cr_assert_not_null(f);
	text_exporter_warm(kt_exporter_console_new(f));
	fclose(f);
}

/* ------------------------------------------------------------ OTLP protobuf */

/*
 * What the export thread and an OTLP exporter do with a batch: build the
 * request in the kept arena, pack it into the kept buffer (as OTLP/HTTP
 * does, then framed as OTLP/gRPC does), empty the arena; the same for the
 * log records.
 */
static void protobuf_export(struct batch *b, struct kt_arena *req, struct kt_arena *a,
			    struct kt_text *t)
{
	(void)req;
	kt_otlp_request *r = kt_otlp_build(b->spans, &cfg, a);
	cr_assert_not_null(r);
	cr_assert(kt_otlp_pack(&r->base, 0, SIZE_MAX, t));
	cr_assert_gt(t->len, b->n * 50, "the request holds every span");
	cr_assert(kt_grpc_frame_request(r, t));
	kt_arena_reset(a);
	kt_otlp_logs_request *l = kt_otlp_logs_build(b->logs, &cfg, a);
	cr_assert_not_null(l);
	cr_assert(kt_otlp_pack(&l->base, 0, SIZE_MAX, t));
	cr_assert(kt_grpc_frame_logs_request(l, t));
	kt_arena_reset(a);
}

static const struct subject protobuf = {
	.name = "OTLP protobuf build and pack",
	.run = protobuf_export,
	.buffers = 2,
};

Test(alloc_per_span, protobuf_cold_batch_grows_logarithmically)
{
	cold_batch_grows_logarithmically(&protobuf);
}

Test(alloc_per_span, protobuf_warm_batch_allocates_nothing)
{
	warm_batch_allocates_nothing(&protobuf);
}

/* ------------------------------------------------------------ decoders */

/* The payloads of one era, read beforehand. */
static struct vectors *payloads;
static enum kt_format payload_format;

static void unload_payloads(void)
{
	if (payloads)
		unload(payloads);
	payloads = NULL;
}

static void load_bincode(struct batch *b, struct kt_arena *req)
{
	(void)b, (void)req;
	unload_payloads();
	payloads = load(KT_ERA_BINCODE);
	payload_format = KT_FORMAT_BINCODE;
}

static void load_json(struct batch *b, struct kt_arena *req)
{
	(void)b, (void)req;
	unload_payloads();
	payloads = load(KT_ERA_JSON);
	payload_format = KT_FORMAT_JSON;
}

/*
 * kt_decode_span of the batch's n payloads, all into one arena, emptied
 * (kt_arena_reset) for the next batch: warm, the arena has room for them.
 */
static void decode(struct batch *b, struct kt_arena *req, struct kt_arena *a, struct kt_text *t)
{
	(void)req, (void)t;
	for (size_t i = 0; i < b->n; i++) {
		size_t k = i % kt_test_n_labels;
		struct kt_span s;
		struct kt_decode_error err;
		cr_assert_eq(kt_decode_span(payload_format, payloads->p[k], payloads->n[k], a, &s, NULL,
					    &err),
			     0, "[%s] %s", kt_test_labels[k], err.msg);
	}
	kt_arena_reset(a);
}

static const struct subject bincode = {
	.name = "bincode decoder",
	.prepare = load_bincode,
	.run = decode,
	.buffers = 1,
};

static const struct subject json_decoder = {
	.name = "JSON decoder",
	.prepare = load_json,
	.run = decode,
	.buffers = 1,
};

Test(alloc_per_span, bincode_decoder_cold_batch_grows_logarithmically)
{
	cold_batch_grows_logarithmically(&bincode);
	unload_payloads();
}

Test(alloc_per_span, bincode_decoder_warm_arena_allocates_nothing)
{
	warm_batch_allocates_nothing(&bincode);
	unload_payloads();
}

/*
 * The JSON decoder gathers array elements and object keys on a scratch stack
 * in its own stack frame (the heap only for spans past that size).
 */
Test(alloc_per_span, json_decoder_cold_batch_grows_logarithmically)
{
	cold_batch_grows_logarithmically(&json_decoder);
	unload_payloads();
}

Test(alloc_per_span, json_decoder_warm_arena_allocates_nothing)
{
	warm_batch_allocates_nothing(&json_decoder);
	unload_payloads();
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The export queue through the disk spool, against a scripted exporter that
 * notes the name of every span and the body of every log record it is
 * given: compared with the model of what the test pushed (s<n>, l<n>).
 * With the collector up every record goes out once, in order, from memory;
 * down, the backlog moves to the spool and nothing is dropped for a full
 * queue; a stop while it is down leaves the requests in the spool (not
 * counted dropped) and the next queue sends them first; a permanent failure
 * drops only its batch; the spool's bound drops the oldest requests and
 * exactly the newest are delivered; an append that fails (RLIMIT_FSIZE)
 * sends its batch from memory and is counted; log records go the same way;
 * with a tiny cache the backlog is read back from the disk, in order.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "base/clock.h"
#include "base/stats.h"
#include "exporters/export_queue.h"
#include "exporters/spool.h"
#include "fs_fixture.h"
#include "model/log_record.h"
#include "span_fixture.h"

#define MAX_RECS 4096
#define NAME_LEN 16

/* What the exporter was given, in call order: accepted, and refused for good. */
struct seen {
	char names[MAX_RECS][NAME_LEN];
	size_t n;
};

static struct fake {
	struct kt_exporter base;
	pthread_mutex_t lock;
	unsigned retry_calls; /* the first N calls RETRY */
	bool retry_forever;
	const char *fail_name; /* FAIL a request holding this span */
	unsigned calls;
	bool count_wrong; /* a call's n differed from what its request held */
	struct seen spans, logs, failed;
} fake;

static void note(struct seen *s, const void *p, size_t n)
{
	cr_assert_lt(s->n, MAX_RECS);
	cr_assert_lt(n, NAME_LEN);
	memcpy(s->names[s->n], p, n);
	s->names[s->n][n] = '\0';
	s->n++;
}

static enum kt_export_result verdict(struct fake *f, bool fail)
{
	f->calls++;
	if (f->retry_forever || f->calls <= f->retry_calls)
		return KT_EXPORT_RETRY;
	return fail ? KT_EXPORT_FAIL : KT_EXPORT_OK;
}

static enum kt_export_result fake_export(struct kt_exporter *e, const kt_otlp_request *req,
					 size_t n)
{
	struct fake *f = (struct fake *)e;
	pthread_mutex_lock(&f->lock);
	/* The request's spans, in order. */
	const ProtobufCBinaryData *names[MAX_RECS];
	size_t k = 0;
	bool fail = false;
	for (size_t i = 0; i < req->n_resource_spans; i++)
		for (size_t j = 0; j < req->resource_spans[i]->n_scope_spans; j++) {
			const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
				req->resource_spans[i]->scope_spans[j];
			for (size_t m = 0; m < ss->n_spans && k < MAX_RECS; m++) {
				names[k] = &ss->spans[m]->name;
				fail |= f->fail_name && names[k]->len == strlen(f->fail_name) &&
					memcmp(names[k]->data, f->fail_name, names[k]->len) == 0;
				k++;
			}
		}
	f->count_wrong |= k != n;
	enum kt_export_result r = verdict(f, fail);
	for (size_t i = 0; r != KT_EXPORT_RETRY && i < k; i++)
		note(r == KT_EXPORT_OK ? &f->spans : &f->failed, names[i]->data, names[i]->len);
	pthread_mutex_unlock(&f->lock);
	return r;
}

static enum kt_export_result fake_export_logs(struct kt_exporter *e,
					      const kt_otlp_logs_request *req, size_t n)
{
	struct fake *f = (struct fake *)e;
	pthread_mutex_lock(&f->lock);
	size_t k = 0;
	enum kt_export_result r = verdict(f, false);
	for (size_t i = 0; i < req->n_resource_logs; i++)
		for (size_t j = 0; j < req->resource_logs[i]->n_scope_logs; j++) {
			const Opentelemetry__Proto__Logs__V1__ScopeLogs *sl =
				req->resource_logs[i]->scope_logs[j];
			for (size_t m = 0; m < sl->n_log_records; m++, k++)
				if (r == KT_EXPORT_OK)
					note(&f->logs, sl->log_records[m]->body->string_value.data,
					     sl->log_records[m]->body->string_value.len);
		}
	f->count_wrong |= k != n;
	pthread_mutex_unlock(&f->lock);
	return r;
}

static void fake_destroy(struct kt_exporter *e)
{
	(void)e;
}

/* A fresh exporter script; what it was given so far is kept (a restart). */
static void fake_reset_script(void)
{
	pthread_mutex_lock(&fake.lock);
	fake.retry_calls = 0;
	fake.retry_forever = false;
	fake.fail_name = NULL;
	pthread_mutex_unlock(&fake.lock);
}

static void setup(void)
{
	memset(&kt_stats, 0, sizeof(kt_stats));
	memset(&fake, 0, sizeof(fake));
	pthread_mutex_init(&fake.lock, NULL);
	fake.base.name = "fake";
	fake.base.export = fake_export;
	fake.base.export_logs = fake_export_logs;
	fake.base.destroy = fake_destroy;
	fx_root_make("eqspool");
}

static void teardown(void)
{
	fx_root_remove();
}

TestSuite(export_queue_spool, .init = setup, .fini = teardown);

static struct kt_spool *spool_open(uint64_t max_bytes, uint64_t segment_bytes)
{
	char err[256] = "";
	struct kt_spool_cfg c = { .dir = fx_at("spool"), .max_bytes = max_bytes,
				  .segment_bytes = segment_bytes };
	struct kt_spool *s = kt_spool_open(&c, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	return s;
}

static struct kt_spool_stats spool_stats(struct kt_spool *s)
{
	struct kt_spool_stats st;
	kt_spool_stats(s, &st);
	return st;
}

static struct kt_export_queue *start(struct kt_spool *s, size_t batch_max, size_t queue_max,
				     uint64_t shutdown_ms, size_t cache_bytes)
{
	struct kt_export_queue_cfg c = KT_EXPORT_QUEUE_DEFAULTS;
	c.batch_max = batch_max;
	c.batch_timeout_ms = 10;
	c.queue_max = queue_max;
	c.retry_max_ms = 50;
	c.shutdown_timeout_ms = shutdown_ms;
	c.spool = s;
	c.spool_sync_ms = 20;
	if (cache_bytes)
		c.spool_cache_bytes = cache_bytes;
	struct kt_export_queue *q = kt_export_queue_start(&fake.base, &c);
	cr_assert_not_null(q);
	return q;
}

static void name_of(char out[NAME_LEN], char kind, unsigned i)
{
	snprintf(out, NAME_LEN, "%c%05u", kind, i);
}

/* Spans s<from>..s<to - 1>. */
static void push_spans(struct kt_export_queue *q, unsigned from, unsigned to)
{
	char name[NAME_LEN];
	for (unsigned i = from; i < to; i++) {
		name_of(name, 's', i);
		struct kt_span_record *r = fx_record(name);
		r->span.ctx.span_id = i + 1;
		kt_export_queue_push(q, r);
	}
}

/* Log records l<from>..l<to - 1>. */
static void push_logs(struct kt_export_queue *q, unsigned from, unsigned to)
{
	char name[NAME_LEN];
	for (unsigned i = from; i < to; i++) {
		name_of(name, 'l', i);
		struct kt_log_record *r = kt_log_record_new(0);
		cr_assert_not_null(r);
		r->log.body.ptr = kt_arena_memdup0(&r->arena, name, strlen(name));
		r->log.body.len = strlen(name);
		kt_export_queue_push_log(q, r);
	}
}

static size_t seen_n(const struct seen *s)
{
	pthread_mutex_lock(&fake.lock);
	size_t n = s->n;
	pthread_mutex_unlock(&fake.lock);
	return n;
}

static bool wait_seen(const struct seen *s, size_t n, unsigned ms)
{
	for (unsigned i = 0; i < ms / 5 && seen_n(s) < n; i++)
		usleep(5000);
	return seen_n(s) >= n;
}

/* The queue holds nothing in memory: everything is spooled (or sent). */
static bool wait_drained(struct kt_export_queue *q, unsigned ms)
{
	size_t d[2] = { 1, 1 };
	for (unsigned i = 0; i < ms / 5; i++) {
		kt_export_queue_depth(q, d);
		if (!d[0] && !d[1])
			return true;
		usleep(5000);
	}
	return false;
}

/* s sees exactly kind<from>..kind<to - 1>, in order, from position at. */
static void expect_seq(const struct seen *s, size_t at, char kind, unsigned from, unsigned to)
{
	char want[NAME_LEN];
	cr_assert_geq(s->n, at + (to - from), "%zu seen, %u expected from %zu", s->n, to - from,
		      at);
	for (unsigned i = from; i < to; i++) {
		name_of(want, kind, i);
		cr_assert_str_eq(s->names[at + i - from], want, "position %zu",
				 at + (size_t)(i - from));
	}
}

static void expect_exactly(const struct seen *s, char kind, unsigned from, unsigned to)
{
	cr_assert_eq(s->n, to - from, "%zu seen, %u expected", s->n, to - from);
	expect_seq(s, 0, kind, from, to);
}

Test(export_queue_spool, collector_up_every_span_once_in_order_from_memory)
{
	struct kt_spool *s = spool_open(64 << 20, 1 << 20);
	struct kt_export_queue *q = start(s, 16, 10000, 5000, 0);
	for (unsigned i = 0; i < 10; i++) {
		push_spans(q, i * 100, (i + 1) * 100);
		usleep(2000);
	}
	cr_assert(wait_seen(&fake.spans, 1000, 10000), "%zu delivered", seen_n(&fake.spans));
	kt_export_queue_stop(q);
	expect_exactly(&fake.spans, 's', 0, 1000);
	cr_expect_not(fake.count_wrong);
	cr_expect_eq(KT_STAT_GET(spans_exported), 1000);
	cr_expect_eq(KT_STAT_GET(spans_dropped), 0);
	cr_expect_eq(KT_STAT_GET(spool_left), 0);
	cr_expect_eq(KT_STAT_GET(spool_append_failed), 0);
	cr_assert_eq(kt_spool_sync(s), 0);
	struct kt_spool_stats st = spool_stats(s);
	cr_expect_eq(st.records, 0);
	cr_expect_geq(st.appended, 1000 / 16, "every batch went through the spool");
	cr_expect_eq(st.replayed, 0, "nothing was read back");
	kt_spool_close(s);
}

Test(export_queue_spool, collector_down_backlog_moves_to_disk_and_nothing_is_dropped)
{
	struct kt_spool *s = spool_open(64 << 20, 1 << 20);
	fake.retry_forever = true;
	struct kt_export_queue *q = start(s, 10, 100, 5000, 0);
	/* Five times queue_max while down, each round leaving memory before the next. */
	for (unsigned i = 0; i < 5; i++) {
		push_spans(q, i * 100, (i + 1) * 100);
		cr_assert(wait_drained(q, 5000));
	}
	cr_expect_eq(seen_n(&fake.spans), 0, "delivered while down");
	cr_expect_geq(spool_stats(s).records, 50 - 1, "the backlog is on disk");
	fake_reset_script(); /* the collector is back */
	cr_assert(wait_seen(&fake.spans, 500, 10000), "%zu delivered", seen_n(&fake.spans));
	kt_export_queue_stop(q);
	expect_exactly(&fake.spans, 's', 0, 500);
	cr_expect_eq(KT_STAT_GET(spans_dropped), 0);
	cr_expect_eq(kt_stats.spans_dropped_by[KT_DROP_QUEUE_FULL], 0);
	cr_expect_eq(KT_STAT_GET(spans_exported), 500);
	cr_expect_gt(KT_STAT_GET(export_retries), 0);
	cr_expect_eq(spool_stats(s).records, 0);
	kt_spool_close(s);
}

Test(export_queue_spool, a_stop_while_down_leaves_requests_for_the_next_start)
{
	struct kt_spool *s = spool_open(64 << 20, 1 << 20);
	fake.retry_forever = true;
	struct kt_export_queue *q = start(s, 10, 1000, 100, 0);
	push_spans(q, 0, 150);
	cr_assert(wait_drained(q, 5000));
	push_spans(q, 150, 200); /* still in memory at the stop: spooled by it */
	kt_export_queue_stop(q);
	cr_expect_eq(seen_n(&fake.spans), 0);
	cr_expect_eq(KT_STAT_GET(spans_dropped), 0, "what stays in the spool is not dropped");
	struct kt_spool_stats st = spool_stats(s);
	cr_expect_geq(st.records, 20);
	cr_expect_eq(KT_STAT_GET(spool_left), st.records);
	kt_spool_close(s);

	s = spool_open(64 << 20, 1 << 20);
	fake_reset_script();
	q = start(s, 10, 1000, 5000, 0);
	push_spans(q, 200, 250); /* after the start: after the spool's */
	cr_assert(wait_seen(&fake.spans, 250, 10000), "%zu delivered", seen_n(&fake.spans));
	kt_export_queue_stop(q);
	expect_exactly(&fake.spans, 's', 0, 250);
	cr_expect_eq(KT_STAT_GET(spans_exported), 250);
	cr_expect_eq(KT_STAT_GET(spans_dropped), 0);
	cr_expect_gt(spool_stats(s).replayed, 0, "the earlier run's requests were read back");
	cr_expect_eq(spool_stats(s).records, 0);
	kt_spool_close(s);
}

Test(export_queue_spool, a_permanent_failure_drops_only_its_batch)
{
	struct kt_spool *s = spool_open(64 << 20, 1 << 20);
	fake.fail_name = "s00017";
	fake.retry_calls = 3; /* then the same request again */
	struct kt_export_queue *q = start(s, 8, 1000, 5000, 0);
	push_spans(q, 0, 100);
	cr_assert(wait_drained(q, 5000));
	for (unsigned i = 0; i < 2000 && seen_n(&fake.spans) + seen_n(&fake.failed) < 100; i++)
		usleep(5000);
	kt_export_queue_stop(q);
	/* Each span once, delivered or failed; the failed ones a batch holding s00017. */
	size_t nf = fake.failed.n;
	cr_assert_eq(fake.spans.n + nf, 100);
	cr_assert_gt(nf, 0);
	cr_assert_leq(nf, 8);
	bool has = false;
	size_t d = 0, f = 0;
	char want[NAME_LEN];
	for (unsigned i = 0; i < 100; i++) {
		name_of(want, 's', i);
		if (f < nf && strcmp(fake.failed.names[f], want) == 0) {
			has |= strcmp(want, "s00017") == 0;
			f++;
		} else {
			cr_assert_str_eq(fake.spans.names[d], want);
			d++;
		}
	}
	cr_expect(has);
	cr_expect_eq(KT_STAT_GET(spans_dropped), nf);
	cr_expect_eq(kt_stats.spans_dropped_by[KT_DROP_EXPORT_FAILED], nf);
	cr_expect_eq(KT_STAT_GET(spans_exported), 100 - nf);
	cr_expect_eq(KT_STAT_GET(export_retries), 3);
	struct kt_spool_stats st = spool_stats(s);
	cr_expect_eq(st.records, 0);
	cr_expect_eq(st.acked, st.next_seq - 1, "acknowledged past the failed request");
	kt_spool_close(s);
}

Test(export_queue_spool, the_spool_bound_drops_the_oldest_requests)
{
	struct kt_spool *s = spool_open(2 * KT_SPOOL_SEGMENT_MIN, KT_SPOOL_SEGMENT_MIN);
	fake.retry_forever = true;
	struct kt_export_queue *q = start(s, 1, 1000, 5000, 0);
	push_spans(q, 0, 300);
	cr_assert(wait_drained(q, 5000));
	struct kt_spool_stats st = spool_stats(s);
	cr_assert_eq(st.appended, 300, "one request per span");
	cr_assert_gt(st.dropped_records, 0);
	fake_reset_script();
	unsigned kept = 300 - (unsigned)st.dropped_records;
	cr_assert(wait_seen(&fake.spans, kept, 10000), "%zu delivered", seen_n(&fake.spans));
	kt_export_queue_stop(q);
	expect_exactly(&fake.spans, 's', 300 - kept, 300);
	st = spool_stats(s);
	cr_expect_eq(st.dropped_records + fake.spans.n, 300);
	cr_expect_eq(st.records, 0);
	cr_expect_eq(KT_STAT_GET(spans_exported), kept);
	kt_spool_close(s);
}

Test(export_queue_spool, an_append_that_fails_sends_its_batch_from_memory)
{
	struct kt_spool *s = spool_open(1 << 20, 64 << 10);
	struct kt_export_queue *q = start(s, 8, 1000, 5000, 0);
	push_spans(q, 0, 16);
	cr_assert(wait_seen(&fake.spans, 16, 5000));
	struct kt_spool_stats st = spool_stats(s);
	cr_assert_eq(st.appended, 2);

	struct rlimit old;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	/* Room for a segment header, not for a request. */
	uint64_t room = (st.bytes > KT_SPOOL_SEG_HDR ? st.bytes : KT_SPOOL_SEG_HDR) + 50;
	struct rlimit lim = { .rlim_cur = (rlim_t)room, .rlim_max = old.rlim_max };
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	push_spans(q, 16, 32);
	bool got = wait_seen(&fake.spans, 32, 5000);
	uint64_t failed = KT_STAT_GET(spool_append_failed);
	uint64_t appended = spool_stats(s).appended;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	cr_assert(got, "%zu delivered", seen_n(&fake.spans));
	cr_expect_geq(failed, 2);
	cr_expect_eq(appended, 2, "nothing stored meanwhile");
	cr_expect_eq(spool_stats(s).write_errors, failed);

	push_spans(q, 32, 48);
	cr_assert(wait_seen(&fake.spans, 48, 5000));
	kt_export_queue_stop(q);
	expect_exactly(&fake.spans, 's', 0, 48);
	cr_expect_eq(KT_STAT_GET(spool_append_failed), failed, "spooled again");
	cr_expect_eq(spool_stats(s).appended, 4);
	cr_expect_eq(KT_STAT_GET(spans_dropped), 0);
	cr_expect_eq(KT_STAT_GET(spans_exported), 48);
	kt_spool_close(s);
}

Test(export_queue_spool, log_records_go_through_the_spool_too)
{
	struct kt_spool *s = spool_open(64 << 20, 1 << 20);
	fake.retry_forever = true;
	struct kt_export_queue *q = start(s, 7, 1000, 5000, 0);
	for (unsigned i = 0; i < 6; i++) {
		push_spans(q, i * 30, (i + 1) * 30);
		push_logs(q, i * 20, (i + 1) * 20);
		cr_assert(wait_drained(q, 5000));
	}
	cr_expect_eq(seen_n(&fake.spans) + seen_n(&fake.logs), 0, "delivered while down");
	struct kt_spool_stats st = spool_stats(s);
	cr_expect_geq(st.records, 180 / 7 + 120 / 7);
	fake_reset_script();
	cr_assert(wait_seen(&fake.spans, 180, 10000));
	cr_assert(wait_seen(&fake.logs, 120, 10000));
	kt_export_queue_stop(q);
	expect_exactly(&fake.spans, 's', 0, 180);
	expect_exactly(&fake.logs, 'l', 0, 120);
	cr_expect_not(fake.count_wrong);
	cr_expect_eq(KT_STAT_GET(spans_exported), 180);
	cr_expect_eq(KT_STAT_GET(logs_exported), 120);
	cr_expect_eq(KT_STAT_GET(spans_dropped) + KT_STAT_GET(logs_dropped), 0);
	cr_expect_eq(spool_stats(s).records, 0);
	kt_spool_close(s);
}

Test(export_queue_spool, with_a_tiny_cache_the_backlog_is_read_back_in_order)
{
	struct kt_spool *s = spool_open(1 << 20, KT_SPOOL_SEGMENT_MIN);
	fake.retry_forever = true;
	struct kt_export_queue *q = start(s, 5, 1000, 5000, 1);
	for (unsigned i = 0; i < 3; i++) {
		push_spans(q, i * 100, (i + 1) * 100);
		cr_assert(wait_drained(q, 5000));
	}
	cr_expect_eq(seen_n(&fake.spans), 0, "delivered while down");
	fake_reset_script();
	cr_assert(wait_seen(&fake.spans, 300, 10000), "%zu delivered", seen_n(&fake.spans));
	push_spans(q, 300, 320); /* and after the recovery */
	cr_assert(wait_seen(&fake.spans, 320, 5000));
	kt_export_queue_stop(q);
	expect_exactly(&fake.spans, 's', 0, 320);
	cr_expect_not(fake.count_wrong);
	struct kt_spool_stats st = spool_stats(s);
	cr_expect_geq(st.replayed, 320 / 5, "every request was read back from the disk");
	cr_expect_eq(st.records, 0);
	cr_expect_eq(KT_STAT_GET(spans_exported), 320);
	cr_expect_eq(KT_STAT_GET(spans_dropped), 0);
	kt_spool_close(s);
}

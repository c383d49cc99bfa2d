/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The export queue against a scripted exporter: transient failures are
 * retried for as long as the daemon runs (longer than the shutdown timeout),
 * permanent ones drop only their batch, the queue bound holds while the
 * collector is down (exactly queue_max spans and log records wait), batches
 * of exactly batch_max, stop() stays bounded even when every call hangs, and
 * the export thread leaves process signals to the caller's threads; drops
 * are counted by reason, failed and retried attempts by the status the
 * exporter noted, and every attempt's duration in the latency histogram.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "base/clock.h"
#include "exporters/export_queue.h"
#include "model/log_record.h"
#include "span_fixture.h"
#include "base/stats.h"

struct fake {
	struct kt_exporter base;
	pthread_mutex_t lock;
	unsigned calls;
	size_t spans_ok;
	uint64_t retry_until_ns; /* RETRY until then */
	unsigned fail_calls;     /* the first N calls FAIL */
	unsigned hang_ms;        /* each call takes this long */
	bool retry_forever;
	/* Noted (kt_export_note_status) by a call that fails: RETRY, FAIL; NULL: nothing. */
	const char *retry_status, *fail_status;
	/* While gated, a call waits (inside the export) until the gate opens. */
	bool gated;
	pthread_cond_t gate;
	size_t batches[16], log_batches[16]; /* sizes, in call order */
	size_t n_batches, n_log_batches;
};

static struct fake fake;

static enum kt_export_result fake_export(struct kt_exporter *e, const kt_otlp_request *req,
					 size_t n)
{
	struct fake *f = (struct fake *)e;
	(void)req;
	if (f->hang_ms)
		usleep(f->hang_ms * 1000);
	pthread_mutex_lock(&f->lock);
	if (f->n_batches < 16)
		f->batches[f->n_batches++] = n;
	while (f->gated)
		pthread_cond_wait(&f->gate, &f->lock);
	unsigned call = ++f->calls;
	enum kt_export_result r = KT_EXPORT_OK;
	if (call <= f->fail_calls)
		r = KT_EXPORT_FAIL;
	else if (f->retry_forever || kt_mono_ns() < f->retry_until_ns)
		r = KT_EXPORT_RETRY;
	else
		f->spans_ok += n;
	const char *note = r == KT_EXPORT_RETRY ? f->retry_status
			   : r == KT_EXPORT_FAIL ? f->fail_status : NULL;
	pthread_mutex_unlock(&f->lock);
	if (note)
		kt_export_note_status(note);
	return r;
}

static enum kt_export_result fake_export_logs(struct kt_exporter *e,
					      const kt_otlp_logs_request *req, size_t n)
{
	struct fake *f = (struct fake *)e;
	(void)req;
	pthread_mutex_lock(&f->lock);
	if (f->n_log_batches < 16)
		f->log_batches[f->n_log_batches++] = n;
	pthread_mutex_unlock(&f->lock);
	return KT_EXPORT_OK;
}

static void fake_destroy(struct kt_exporter *e)
{
	(void)e;
}

static void setup(void)
{
	memset(&kt_stats, 0, sizeof(kt_stats));
	memset(&fake, 0, sizeof(fake));
	pthread_mutex_init(&fake.lock, NULL);
	pthread_cond_init(&fake.gate, NULL);
	fake.base.name = "fake";
	fake.base.export = fake_export;
	fake.base.destroy = fake_destroy;
}

TestSuite(export_queue, .init = setup);

static struct kt_export_queue *start(size_t batch_max, size_t queue_max, uint64_t shutdown_ms)
{
	struct kt_export_queue_cfg c = KT_EXPORT_QUEUE_DEFAULTS;
	c.batch_max = batch_max;
	c.batch_timeout_ms = 10;
	c.queue_max = queue_max;
	c.retry_max_ms = 50;
	c.shutdown_timeout_ms = shutdown_ms;
	struct kt_export_queue *q = kt_export_queue_start(&fake.base, &c);
	cr_assert_not_null(q);
	return q;
}

static void push(struct kt_export_queue *q, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		kt_export_queue_push(q, fx_record("span"));
}

static unsigned calls(void)
{
	pthread_mutex_lock(&fake.lock);
	unsigned c = fake.calls;
	pthread_mutex_unlock(&fake.lock);
	return c;
}

static size_t spans_ok(void)
{
	pthread_mutex_lock(&fake.lock);
	size_t n = fake.spans_ok;
	pthread_mutex_unlock(&fake.lock);
	return n;
}

static bool wait_until(bool (*cond)(size_t), size_t arg, unsigned ms)
{
	for (unsigned i = 0; i < ms / 10; i++) {
		if (cond(arg))
			return true;
		usleep(10000);
	}
	return cond(arg);
}

static bool ok_reached(size_t n)
{
	return spans_ok() >= n;
}

static bool calls_reached(size_t n)
{
	return calls() >= n;
}

/*
 * A command that starts the queue before it blocks SIGTERM to read it from
 * a signalfd (katatrace-bpf probe does): the signal must wait for it, not
 * reach the export thread and kill the process.
 */
Test(export_queue, the_export_thread_takes_no_process_signal)
{
	struct kt_export_queue *q = start(8, 100, 1000);
	sigset_t term, pending;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	cr_assert_eq(sigprocmask(SIG_BLOCK, &term, NULL), 0);
	cr_assert_eq(kill(getpid(), SIGTERM), 0);
	usleep(100000);
	cr_assert_eq(sigpending(&pending), 0);
	cr_expect(sigismember(&pending, SIGTERM), "SIGTERM waits for the thread that blocks it");
	struct timespec now = { 0, 0 };
	cr_expect_eq(sigtimedwait(&term, NULL, &now), SIGTERM);
	push(q, 3);
	kt_export_queue_stop(q);
	cr_expect_eq(spans_ok(), 3, "the queue still exports");
}

Test(export_queue, retries_while_running_past_the_shutdown_timeout)
{
	/* The collector is down for 1.5 s, far longer than the shutdown timeout. */
	fake.retry_until_ns = kt_mono_ns() + 1500000000ull;
	struct kt_export_queue *q = start(512, 1000, 100);
	push(q, 5);
	cr_assert(wait_until(ok_reached, 5, 10000), "spans never exported");
	cr_assert_eq(KT_STAT_GET(spans_exported), 5);
	cr_assert_eq(KT_STAT_GET(spans_dropped), 0);
	cr_assert_gt(KT_STAT_GET(export_retries), 5);
	cr_assert_eq(KT_STAT_GET(export_retries), KT_STAT_GET(export_errors));
	kt_export_queue_stop(q);
	cr_assert_eq(KT_STAT_GET(spans_dropped), 0);
}

Test(export_queue, permanent_failure_drops_only_its_batch)
{
	fake.fail_calls = 1;
	struct kt_export_queue *q = start(2, 1000, 1000);
	push(q, 2);
	cr_assert(wait_until(calls_reached, 1, 5000));
	push(q, 2);
	cr_assert(wait_until(ok_reached, 2, 5000));
	kt_export_queue_stop(q);
	cr_assert_eq(KT_STAT_GET(spans_dropped), 2);
	cr_assert_eq(KT_STAT_GET(spans_exported), 2);
	cr_assert_eq(KT_STAT_GET(export_retries), 0);
}

Test(export_queue, queue_bound_holds_while_down)
{
	fake.retry_forever = true;
	struct kt_export_queue *q = start(1, 5, 100);
	push(q, 1);
	cr_assert(wait_until(calls_reached, 1, 5000)); /* that span is in flight */
	push(q, 10);
	cr_assert_eq(KT_STAT_GET(spans_dropped), 5);
	kt_export_queue_stop(q);
	/* Down until the end: the in-flight and the five queued spans too. */
	cr_assert_eq(KT_STAT_GET(spans_dropped), 11);
	cr_assert_eq(KT_STAT_GET(spans_exported), 0);
}

Test(export_queue, stop_exports_what_is_queued)
{
	struct kt_export_queue *q = start(2, 1000, 1000);
	push(q, 5);
	kt_export_queue_stop(q);
	cr_assert_eq(spans_ok(), 5);
	cr_assert_eq(KT_STAT_GET(spans_exported), 5);
	cr_assert_eq(KT_STAT_GET(spans_dropped), 0);
}

Test(export_queue, stop_is_bounded_when_every_call_hangs)
{
	fake.retry_forever = true;
	fake.hang_ms = 200;
	struct kt_export_queue *q = start(1, 1000, 300);
	push(q, 20);
	uint64_t t0 = kt_mono_ns();
	kt_export_queue_stop(q);
	uint64_t took_ms = (kt_mono_ns() - t0) / 1000000;
	/* The deadline plus at most one call in progress, not one call per batch. */
	cr_assert_lt(took_ms, 1000, "stop took %llu ms", (unsigned long long)took_ms);
	cr_assert_eq(KT_STAT_GET(spans_dropped), 20);
	cr_assert_lt(calls(), 6);
}

static bool batches_reached(size_t n)
{
	pthread_mutex_lock(&fake.lock);
	size_t k = fake.n_batches;
	pthread_mutex_unlock(&fake.lock);
	return k >= n;
}

static void open_gate(void)
{
	pthread_mutex_lock(&fake.lock);
	fake.gated = false;
	pthread_cond_broadcast(&fake.gate);
	pthread_mutex_unlock(&fake.lock);
}

Test(export_queue, exactly_queue_max_wait_and_batches_of_exactly_batch_max)
{
	fake.base.export_logs = fake_export_logs;
	fake.gated = true;
	struct kt_export_queue *q = start(3, 5, 5000);
	/* One span in flight, held inside the exporter: the queue is empty again. */
	push(q, 1);
	cr_assert(wait_until(batches_reached, 1, 5000), "the first span never went out");
	/* Exactly queue_max spans wait; the next one is dropped. */
	push(q, 5);
	cr_expect_eq(KT_STAT_GET(spans_dropped), 0, "a span dropped with queue_max queued");
	push(q, 1);
	cr_expect_eq(KT_STAT_GET(spans_dropped), 1);
	/* Log records have their own queue_max. */
	for (int i = 0; i < 5; i++)
		kt_export_queue_push_log(q, kt_log_record_new(0));
	cr_expect_eq(KT_STAT_GET(logs_dropped), 0, "a log record dropped with queue_max queued");
	kt_export_queue_push_log(q, kt_log_record_new(0));
	cr_expect_eq(KT_STAT_GET(logs_dropped), 1);
	open_gate();
	kt_export_queue_stop(q);
	/* Then batches of at most batch_max: 1 (in flight), 3, 2; logs 3, 2. */
	cr_expect_eq(KT_STAT_GET(spans_exported), 6);
	cr_assert_eq(fake.n_batches, 3);
	cr_expect_eq(fake.batches[0], 1);
	cr_expect_eq(fake.batches[1], 3);
	cr_expect_eq(fake.batches[2], 2);
	cr_assert_eq(fake.n_log_batches, 2);
	cr_expect_eq(fake.log_batches[0], 3);
	cr_expect_eq(fake.log_batches[1], 2);
}

/*
 * The log records' list beside the spans': the same script for both kinds
 * (log records are counted where the fake counts spans), each kind with its
 * own bound, counters and batches.
 */
static enum kt_export_result fake_export_logs_scripted(struct kt_exporter *e,
						       const kt_otlp_logs_request *req, size_t n)
{
	(void)req;
	return fake_export(e, NULL, n);
}

static struct kt_export_queue *start_both(size_t batch_max, size_t queue_max,
					  uint64_t shutdown_ms)
{
	fake.base.export_logs = fake_export_logs_scripted;
	return start(batch_max, queue_max, shutdown_ms);
}

static void push_both(struct kt_export_queue *q, unsigned spans, unsigned logs)
{
	push(q, spans);
	for (unsigned i = 0; i < logs; i++)
		kt_export_queue_push_log(q, kt_log_record_new(0));
}

static void expect_counts(uint64_t spans_exp, uint64_t spans_drop, uint64_t logs_exp,
			  uint64_t logs_drop)
{
	cr_expect_eq(KT_STAT_GET(spans_exported), spans_exp);
	cr_expect_eq(KT_STAT_GET(spans_dropped), spans_drop);
	cr_expect_eq(KT_STAT_GET(logs_exported), logs_exp);
	cr_expect_eq(KT_STAT_GET(logs_dropped), logs_drop);
}

Test(export_queue, both_kinds_retried_while_running_past_the_shutdown_timeout)
{
	fake.retry_until_ns = kt_mono_ns() + 1500000000ull;
	struct kt_export_queue *q = start_both(512, 1000, 100);
	push_both(q, 3, 5);
	cr_assert(wait_until(ok_reached, 8, 10000), "records never exported");
	expect_counts(3, 0, 5, 0);
	cr_assert_gt(KT_STAT_GET(export_retries), 5);
	cr_assert_eq(KT_STAT_GET(export_retries), KT_STAT_GET(export_errors));
	kt_export_queue_stop(q);
	expect_counts(3, 0, 5, 0);
}

Test(export_queue, a_permanent_failure_of_log_records_drops_only_their_batch)
{
	fake.fail_calls = 1;
	struct kt_export_queue *q = start_both(2, 1000, 1000);
	push_both(q, 0, 2);
	cr_assert(wait_until(calls_reached, 1, 5000));
	push_both(q, 2, 2);
	cr_assert(wait_until(ok_reached, 4, 5000));
	kt_export_queue_stop(q);
	expect_counts(2, 0, 2, 2);
	cr_assert_eq(KT_STAT_GET(export_retries), 0);
}

Test(export_queue, log_records_have_their_own_bound_while_down)
{
	fake.retry_forever = true;
	struct kt_export_queue *q = start_both(1, 5, 100);
	push_both(q, 0, 1);
	cr_assert(wait_until(calls_reached, 1, 5000)); /* that record is in flight */
	push_both(q, 1, 10);
	expect_counts(0, 0, 0, 5);
	kt_export_queue_stop(q);
	/* Down until the end: the in-flight record, the five queued, the span. */
	expect_counts(0, 1, 0, 11);
}

Test(export_queue, log_records_dropped_when_the_exporter_cannot_send_them)
{
	struct kt_export_queue *q = start(512, 1000, 1000); /* no export_logs */
	push_both(q, 0, 3);
	expect_counts(0, 0, 0, 3);
	push_both(q, 2, 1);
	kt_export_queue_stop(q);
	cr_assert_eq(spans_ok(), 2);
	expect_counts(2, 0, 0, 4);
	cr_assert_eq(fake.n_log_batches, 0);
}

Test(export_queue, stop_exports_both_kinds_in_batches_of_at_most_batch_max)
{
	struct kt_export_queue *q = start_both(2, 1000, 1000);
	push_both(q, 3, 5);
	kt_export_queue_stop(q);
	cr_assert_eq(spans_ok(), 8);
	expect_counts(3, 0, 5, 0);
	size_t sum = 0;
	for (size_t i = 0; i < fake.n_batches; i++) {
		cr_expect_leq(fake.batches[i], 2);
		sum += fake.batches[i];
	}
	cr_assert_eq(sum, 8);
}

Test(export_queue, stop_is_bounded_when_every_call_of_either_kind_hangs)
{
	fake.retry_forever = true;
	fake.hang_ms = 200;
	struct kt_export_queue *q = start_both(1, 1000, 300);
	push_both(q, 10, 10);
	uint64_t t0 = kt_mono_ns();
	kt_export_queue_stop(q);
	uint64_t took_ms = (kt_mono_ns() - t0) / 1000000;
	cr_assert_lt(took_ms, 1000, "stop took %llu ms", (unsigned long long)took_ms);
	expect_counts(0, 10, 0, 10);
	cr_assert_lt(calls(), 6);
}

/* ------------------------------------------------------------ counters by cause */

static uint64_t dropped(enum kt_record_kind k, enum kt_drop_reason why)
{
	return __atomic_load_n(k == KT_REC_LOGS ? &kt_stats.logs_dropped_by[why]
						: &kt_stats.spans_dropped_by[why],
			       __ATOMIC_RELAXED);
}

/* The row of a status, NULL when there is none. */
static const struct kt_export_status *status_row(const char *name)
{
	for (uint32_t i = 0; i < kt_stats.n_export_status; i++)
		if (strcmp(kt_stats.export_status[i].name, name) == 0)
			return &kt_stats.export_status[i];
	return NULL;
}

Test(export_queue, drops_are_counted_by_reason)
{
	fake.base.export_logs = fake_export_logs;
	fake.gated = true;
	fake.fail_calls = 1;
	struct kt_export_queue *q = start(1, 3, 5000);
	push(q, 1); /* in flight, held: it fails permanently */
	cr_assert(wait_until(batches_reached, 1, 5000));
	push(q, 5); /* 3 wait, 2 find the queue full */
	open_gate();
	kt_export_queue_stop(q);
	cr_expect_eq(dropped(KT_REC_SPANS, KT_DROP_EXPORT_FAILED), 1);
	cr_expect_eq(dropped(KT_REC_SPANS, KT_DROP_QUEUE_FULL), 2);
	cr_expect_eq(dropped(KT_REC_SPANS, KT_DROP_SHUTDOWN), 0);
	cr_expect_eq(KT_STAT_GET(spans_exported), 3);
	cr_expect_eq(KT_STAT_GET(spans_dropped), 3, "the total is the sum of the reasons");
	cr_expect_eq(KT_STAT_GET(logs_dropped), 0);
}

Test(export_queue, drops_at_the_shutdown_timeout_and_unsendable_logs_by_reason)
{
	fake.retry_forever = true;
	struct kt_export_queue *q = start(512, 1000, 100); /* no export_logs */
	push_both(q, 4, 3);
	kt_export_queue_stop(q);
	cr_expect_eq(dropped(KT_REC_SPANS, KT_DROP_SHUTDOWN), 4);
	cr_expect_eq(dropped(KT_REC_LOGS, KT_DROP_UNSUPPORTED), 3);
	cr_expect_eq(dropped(KT_REC_LOGS, KT_DROP_SHUTDOWN), 0);
	expect_counts(0, 4, 0, 3);
}

Test(export_queue, failed_and_retried_attempts_are_counted_by_status)
{
	/* Two permanent failures, then transient ones for 300 ms, then success. */
	fake.fail_calls = 2;
	fake.fail_status = "INVALID_ARGUMENT";
	fake.retry_status = "UNAVAILABLE";
	fake.retry_until_ns = kt_mono_ns() + 300000000ull;
	struct kt_export_queue *q = start(1, 1000, 5000);
	push(q, 3);
	cr_assert(wait_until(ok_reached, 1, 10000), "the last span never went out");
	kt_export_queue_stop(q);
	cr_expect_str_eq(kt_stats_exporter(), "fake");
	const struct kt_export_status *inv = status_row("INVALID_ARGUMENT");
	const struct kt_export_status *una = status_row("UNAVAILABLE");
	cr_assert_not_null(inv);
	cr_assert_not_null(una);
	cr_expect_eq(kt_stats.n_export_status, 2, "no row but the two statuses noted");
	cr_expect_eq(inv->failed, 2);
	cr_expect_eq(inv->retried, 0, "a permanent failure is not retried");
	cr_expect_gt(una->failed, 0);
	cr_expect_eq(una->retried, una->failed, "each transient failure is retried once");
	cr_expect_eq(KT_STAT_GET(export_errors), inv->failed + una->failed);
	cr_expect_eq(KT_STAT_GET(export_retries), una->retried);
	cr_expect_eq(calls(), 2 + una->failed + 1);
}

Test(export_queue, a_failure_without_a_status_counts_as_unknown)
{
	fake.fail_calls = 1;
	struct kt_export_queue *q = start(1, 1000, 5000);
	push(q, 2);
	kt_export_queue_stop(q);
	const struct kt_export_status *r = status_row("unknown");
	cr_assert_not_null(r);
	cr_expect_eq(r->failed, 1);
	cr_expect_eq(KT_STAT_GET(export_errors), 1);
}

Test(export_queue, every_attempt_lands_in_the_latency_histogram)
{
	fake.hang_ms = 30; /* above the 25 ms bound */
	fake.fail_calls = 1;
	fake.base.export_logs = fake_export_logs;
	struct kt_export_queue *q = start(1, 1000, 5000);
	push(q, 3);
	kt_export_queue_stop(q);
	const struct kt_latency *l = &kt_stats.export_latency[KT_REC_SPANS];
	uint64_t n = 0;
	for (size_t i = 0; i <= KT_LATENCY_BUCKETS; i++)
		n += l->buckets[i];
	cr_expect_eq(n, 3, "three attempts, the failed one too");
	cr_expect_eq(l->buckets[0] + l->buckets[1] + l->buckets[2], 0, "none under 25 ms");
	cr_expect_geq(l->sum_ns, 3 * 30000000ull);
	const struct kt_latency *logs = &kt_stats.export_latency[KT_REC_LOGS];
	uint64_t m = 0;
	for (size_t i = 0; i <= KT_LATENCY_BUCKETS; i++)
		m += logs->buckets[i];
	cr_expect_eq(m, 0, "no log record was exported");
}

/* The wait after a transient failure: the backoff, or the collector's longer Retry-After, capped. */
Test(export_queue, retry_wait_takes_the_longer_of_backoff_and_retry_after)
{
	cr_expect_eq(kt_export_retry_wait_ms(100, 0), 100);
	cr_expect_eq(kt_export_retry_wait_ms(100, 2000), 2000);
	cr_expect_eq(kt_export_retry_wait_ms(3200, 2000), 3200);
	cr_expect_eq(kt_export_retry_wait_ms(100, 3600000), KT_EXPORT_RETRY_AFTER_MAX_MS);
}

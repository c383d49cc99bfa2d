/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The export queue against a scripted exporter: transient failures are
 * retried for as long as the daemon runs (longer than the shutdown timeout),
 * permanent ones drop only their batch, the queue bound holds while the
 * collector is down, and stop() stays bounded even when every call hangs.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "clock.h"
#include "export_queue.h"
#include "span_fixture.h"
#include "stats.h"

struct fake {
	struct kt_exporter base;
	pthread_mutex_t lock;
	unsigned calls;
	size_t spans_ok;
	uint64_t retry_until_ns; /* RETRY until then */
	unsigned fail_calls;     /* the first N calls FAIL */
	unsigned hang_ms;        /* each call takes this long */
	bool retry_forever;
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
	unsigned call = ++f->calls;
	enum kt_export_result r = KT_EXPORT_OK;
	if (call <= f->fail_calls)
		r = KT_EXPORT_FAIL;
	else if (f->retry_forever || kt_mono_ns() < f->retry_until_ns)
		r = KT_EXPORT_RETRY;
	else
		f->spans_ok += n;
	pthread_mutex_unlock(&f->lock);
	return r;
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

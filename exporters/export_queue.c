/* SPDX-License-Identifier: Apache-2.0 */
#include "exporters/export_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/stats.h"

struct kt_export_queue {
	struct kt_export_queue_cfg cfg;
	struct kt_exporter *exporter;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct kt_span_record *head, *tail;
	size_t n;
	uint64_t first_ns; /* arrival of the oldest queued span */
	/*
	 * Log records wait beside the spans with a bound of their own (a chatty
	 * guest journal cannot crowd spans out) and go through the same thread,
	 * batching and retries: one user of the exporter, no locking there.
	 */
	struct kt_log_record *lhead, *ltail;
	size_t n_logs;
	uint64_t first_logs_ns;
	bool logs_refused_logged;
	bool stopping;
	uint64_t stop_deadline_ns;
	uint64_t dropped_logged;
	uint64_t dropped_unsent; /* spans dropped at shutdown without an attempt */
	uint64_t dropped_unsent_logs;
};

static void deadline_ts(uint64_t mono_ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(mono_ns / 1000000000ull);
	ts->tv_nsec = (long)(mono_ns % 1000000000ull);
}

/* Takes up to batch_max records off the queue. Caller holds the lock. */
static struct kt_span_record *take_batch(struct kt_export_queue *q, size_t *count)
{
	struct kt_span_record *head = q->head, *last = NULL, *r = head;
	size_t n = 0;

	while (r && n < q->cfg.batch_max) {
		last = r;
		r = r->next;
		n++;
	}
	if (last)
		last->next = NULL;
	q->head = r;
	if (!r)
		q->tail = NULL;
	q->n -= n;
	q->first_ns = kt_mono_ns();
	*count = n;
	return head;
}

/* Takes up to batch_max log records off the queue. Caller holds the lock. */
static struct kt_log_record *take_log_batch(struct kt_export_queue *q, size_t *count)
{
	struct kt_log_record *head = q->lhead, *last = NULL, *r = head;
	size_t n = 0;

	while (r && n < q->cfg.batch_max) {
		last = r;
		r = r->next;
		n++;
	}
	if (last)
		last->next = NULL;
	q->lhead = r;
	if (!r)
		q->ltail = NULL;
	q->n_logs -= n;
	q->first_logs_ns = kt_mono_ns();
	*count = n;
	return head;
}

/*
 * Sleeps up to ms; once the queue is stopping (also when stop() comes
 * during the sleep), no later than the shutdown deadline.
 */
static void backoff_sleep(struct kt_export_queue *q, uint64_t ms)
{
	uint64_t until = kt_mono_ns() + ms * 1000000ull;
	struct timespec ts;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		uint64_t end = q->stopping && until > q->stop_deadline_ns ? q->stop_deadline_ns
									  : until;
		if (kt_mono_ns() >= end)
			break;
		deadline_ts(end, &ts);
		pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
}

static bool give_up(struct kt_export_queue *q)
{
	pthread_mutex_lock(&q->lock);
	bool over = q->stopping && kt_mono_ns() >= q->stop_deadline_ns;
	pthread_mutex_unlock(&q->lock);
	return over;
}

static void count_result(bool logs, bool exported, size_t n)
{
	if (logs && exported)
		KT_STAT_ADD(logs_exported, n);
	else if (logs)
		KT_STAT_ADD(logs_dropped, n);
	else if (exported)
		KT_STAT_ADD(spans_exported, n);
	else
		KT_STAT_ADD(spans_dropped, n);
}

/* One request of n spans, or of n log records (logs), to the exporter. */
static void send_with_retry(struct kt_export_queue *q, const void *req, size_t n, bool logs)
{
	const char *what = logs ? "log records" : "spans";
	uint64_t delay = 100;

	/*
	 * Transient failures are retried for as long as the daemon runs (the
	 * queue bounds what waits meanwhile); once it is stopping, until the
	 * shutdown deadline, after which no attempt is made at all, so that a
	 * collector that hangs cannot hold the exit up batch after batch.
	 */
	for (bool tried = false;; tried = true) {
		if (give_up(q)) {
			if (tried)
				kt_warn("export: %s: shutdown timeout reached: dropping %zu %s",
					q->exporter->name, n, what);
			else if (logs)
				q->dropped_unsent_logs += n; /* logged once, by stop() */
			else
				q->dropped_unsent += n;
			count_result(logs, false, n);
			break;
		}
		if (tried) {
			KT_STAT_INC(export_retries);
			kt_debug("export: %s: retrying %zu %s", q->exporter->name, n, what);
		}
		enum kt_export_result res =
			logs ? q->exporter->export_logs(q->exporter, req, n)
			     : q->exporter->export(q->exporter, req, n);
		if (res == KT_EXPORT_OK) {
			count_result(logs, true, n);
			break;
		}
		KT_STAT_INC(export_errors);
		if (res == KT_EXPORT_FAIL) {
			kt_warn("export: %s: permanent failure: dropping %zu %s", q->exporter->name,
				n, what);
			count_result(logs, false, n);
			break;
		}
		kt_debug("export: %s: next attempt for %zu %s in %llu ms", q->exporter->name, n,
			 what, (unsigned long long)delay);
		backoff_sleep(q, delay);
		delay = delay * 2 > q->cfg.retry_max_ms ? q->cfg.retry_max_ms : delay * 2;
	}
}

static void export_batch(struct kt_export_queue *q, struct kt_span_record *batch, size_t n)
{
	struct kt_arena a;

	kt_arena_init(&a, 0);
	kt_otlp_request *req = kt_otlp_build(batch, &q->cfg.resource, &a);
	if (!req) {
		kt_err("export: out of memory building a request of %zu spans", n);
		KT_STAT_ADD(spans_dropped, n);
	} else {
		send_with_retry(q, req, n, false);
	}
	kt_arena_free(&a);
	kt_span_record_free_list(batch);
}

static void export_log_batch(struct kt_export_queue *q, struct kt_log_record *batch, size_t n)
{
	struct kt_arena a;

	kt_arena_init(&a, 0);
	kt_otlp_logs_request *req = kt_otlp_logs_build(batch, &q->cfg.resource, &a);
	if (!req) {
		kt_err("export: out of memory building a request of %zu log records", n);
		KT_STAT_ADD(logs_dropped, n);
	} else {
		send_with_retry(q, req, n, true);
	}
	kt_arena_free(&a);
	kt_log_record_free_list(batch);
}

static void *export_thread(void *arg)
{
	struct kt_export_queue *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->stopping && q->n < q->cfg.batch_max && q->n_logs < q->cfg.batch_max) {
			if (q->n == 0 && q->n_logs == 0) {
				pthread_cond_wait(&q->cond, &q->lock);
				continue;
			}
			/* the older of the two kinds decides */
			uint64_t first = !q->n_logs ? q->first_ns
					 : !q->n || q->first_logs_ns < q->first_ns ? q->first_logs_ns
										      : q->first_ns;
			uint64_t due = first + q->cfg.batch_timeout_ms * 1000000ull;
			if (kt_mono_ns() >= due)
				break;
			struct timespec ts;
			deadline_ts(due, &ts);
			pthread_cond_timedwait(&q->cond, &q->lock, &ts);
		}
		if (q->n == 0 && q->n_logs == 0 && q->stopping)
			break;
		if (q->n == 0 && q->n_logs == 0)
			continue;
		size_t n = 0, n_logs = 0;
		struct kt_span_record *batch = q->n ? take_batch(q, &n) : NULL;
		struct kt_log_record *logs = q->n_logs ? take_log_batch(q, &n_logs) : NULL;
		pthread_mutex_unlock(&q->lock);
		if (n)
			export_batch(q, batch, n);
		if (n_logs)
			export_log_batch(q, logs, n_logs);
		if (q->exporter->flush)
			q->exporter->flush(q->exporter);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct kt_export_queue *kt_export_queue_start(struct kt_exporter *e,
					      const struct kt_export_queue_cfg *cfg)
{
	struct kt_export_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->cfg = *cfg;
	if (q->cfg.batch_max == 0)
		q->cfg.batch_max = 1;
	q->exporter = e;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	int err = pthread_create(&q->thread, NULL, export_thread, q);
	if (err) {
		kt_err("export: cannot start thread: %s", strerror(err));
		pthread_cond_destroy(&q->cond);
		pthread_mutex_destroy(&q->lock);
		free(q);
		return NULL;
	}
	return q;
}

void kt_export_queue_push(struct kt_export_queue *q, struct kt_span_record *r)
{
	r->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->n >= q->cfg.queue_max) {
		pthread_mutex_unlock(&q->lock);
		KT_STAT_INC(spans_dropped);
		uint64_t dropped = KT_STAT_GET(spans_dropped);
		/* Log the first drop and then every 10000th. */
		if (dropped == 1 || dropped % 10000 == 0)
			kt_warn("export: queue full (%zu spans): dropping spans (%llu so far)",
				q->cfg.queue_max, (unsigned long long)dropped);
		kt_span_record_free(r);
		return;
	}
	if (q->n == 0)
		q->first_ns = kt_mono_ns();
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->n++;
	if (q->n == 1 || q->n >= q->cfg.batch_max)
		pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

void kt_export_queue_push_log(struct kt_export_queue *q, struct kt_log_record *r)
{
	r->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (!q->exporter->export_logs || q->n_logs >= q->cfg.queue_max) {
		bool refused = !q->exporter->export_logs, say = refused && !q->logs_refused_logged;
		q->logs_refused_logged |= refused;
		pthread_mutex_unlock(&q->lock);
		KT_STAT_INC(logs_dropped);
		uint64_t dropped = KT_STAT_GET(logs_dropped);
		if (say)
			kt_warn("export: %s: cannot send log records: dropping them",
				q->exporter->name);
		else if (!refused && (dropped == 1 || dropped % 10000 == 0))
			kt_warn("export: queue full (%zu log records): dropping log records "
				"(%llu so far)",
				q->cfg.queue_max, (unsigned long long)dropped);
		kt_log_record_free(r);
		return;
	}
	if (q->n_logs == 0)
		q->first_logs_ns = kt_mono_ns();
	if (q->ltail)
		q->ltail->next = r;
	else
		q->lhead = r;
	q->ltail = r;
	q->n_logs++;
	if (q->n_logs == 1 || q->n_logs >= q->cfg.batch_max)
		pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

void kt_export_queue_stop(struct kt_export_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	q->stop_deadline_ns = kt_mono_ns() + q->cfg.shutdown_timeout_ms * 1000000ull;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	if (q->dropped_unsent)
		kt_warn("export: %s: shutdown timeout reached: dropped %llu queued spans unsent",
			q->exporter->name, (unsigned long long)q->dropped_unsent);
	if (q->dropped_unsent_logs)
		kt_warn("export: %s: shutdown timeout reached: dropped %llu queued log records "
			"unsent",
			q->exporter->name, (unsigned long long)q->dropped_unsent_logs);
	if (q->exporter->flush)
		q->exporter->flush(q->exporter);
	q->exporter->destroy(q->exporter);
	kt_span_record_free_list(q->head);
	kt_log_record_free_list(q->lhead);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

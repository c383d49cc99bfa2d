/* SPDX-License-Identifier: Apache-2.0 */
#include "exporters/export_queue.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/diag.h"
#include "base/quiet_thread.h"
#include "base/stats.h"
#include "exporters/export_queue_impl.h"
#include "exporters/spool_send.h"

/* ------------------------------------------------------------------ the two kinds */

static void *span_next(const void *rec)
{
	return ((const struct kt_span_record *)rec)->next;
}

static void span_set_next(void *rec, void *next)
{
	((struct kt_span_record *)rec)->next = next;
}

static void span_free(void *rec)
{
	kt_span_record_free(rec);
}

static const void *span_build(const void *head, const struct kt_resource_cfg *cfg,
			      struct kt_arena *a)
{
	return kt_otlp_build(head, cfg, a);
}

static enum kt_export_result span_export(struct kt_exporter *e, const void *req, size_t n)
{
	return e->export(e, req, n);
}

static const struct kind span_kind = {
	.what = "spans",
	.next = span_next,
	.set_next = span_set_next,
	.free = span_free,
	.build = span_build,
	.export = span_export,
	.desc = &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
	.spool_type = KT_SPOOL_REQ_TRACES,
	.rec = KT_REC_SPANS,
	.exported = &kt_stats.spans_exported,
	.dropped = &kt_stats.spans_dropped,
};

static void *log_next(const void *rec)
{
	return ((const struct kt_log_record *)rec)->next;
}

static void log_set_next(void *rec, void *next)
{
	((struct kt_log_record *)rec)->next = next;
}

static void log_free(void *rec)
{
	kt_log_record_free(rec);
}

static const void *log_build(const void *head, const struct kt_resource_cfg *cfg,
			     struct kt_arena *a)
{
	return kt_otlp_logs_build(head, cfg, a);
}

static enum kt_export_result log_export(struct kt_exporter *e, const void *req, size_t n)
{
	return e->export_logs(e, req, n);
}

static const struct kind log_kind = {
	.what = "log records",
	.next = log_next,
	.set_next = log_set_next,
	.free = log_free,
	.build = log_build,
	.export = log_export,
	.desc = &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
	.spool_type = KT_SPOOL_REQ_LOGS,
	.rec = KT_REC_LOGS,
	.exported = &kt_stats.logs_exported,
	.dropped = &kt_stats.logs_dropped,
};

/* ------------------------------------------------------------------ lists */

void kt_eq_stat_add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* What the attempt under way in this thread noted about its failure (kt_export_note_status). */
static _Thread_local char attempt_status[KT_EXPORT_STATUS_LEN];

void kt_export_note_status(const char *status)
{
	size_t n = status ? strnlen(status, sizeof(attempt_status) - 1) : 0;
	memcpy(attempt_status, status ? status : "", n);
	attempt_status[n] = '\0';
}

const char *kt_export_status_noted(void)
{
	return attempt_status;
}

/* And how long it asked to wait (kt_export_note_retry_after). */
static _Thread_local uint64_t attempt_retry_after_ms;
static _Thread_local const char *attempt_retry_source;

void kt_export_note_retry_delay(uint64_t ms, const char *source)
{
	attempt_retry_after_ms = ms;
	attempt_retry_source = ms ? source : NULL;
}

void kt_export_note_retry_after(uint64_t ms)
{
	kt_export_note_retry_delay(ms, "Retry-After");
}

uint64_t kt_export_retry_after_noted(void)
{
	return attempt_retry_after_ms;
}

const char *kt_export_retry_source_noted(void)
{
	return attempt_retry_source ? attempt_retry_source : "";
}

uint64_t kt_export_retry_wait_ms(uint64_t backoff_ms, uint64_t retry_after_ms)
{
	if (retry_after_ms > KT_EXPORT_RETRY_AFTER_MAX_MS)
		retry_after_ms = KT_EXPORT_RETRY_AFTER_MAX_MS;
	return retry_after_ms > backoff_ms ? retry_after_ms : backoff_ms;
}

void kt_eq_free_chain(const struct kind *k, void *head)
{
	while (head) {
		void *next = k->next(head);
		k->free(head);
		head = next;
	}
}

/* Takes up to batch_max records off the list. Caller holds the lock. */
void *kt_eq_take_batch(struct list *l, size_t batch_max, size_t *count)
{
	void *head = l->head, *last = NULL, *r = head;
	size_t n = 0;

	while (r && n < batch_max) {
		last = r;
		r = l->k->next(r);
		n++;
	}
	if (last)
		l->k->set_next(last, NULL);
	l->head = r;
	if (!r)
		l->tail = NULL;
	l->n -= n;
	l->first_ns = kt_mono_ns();
	*count = n;
	return head;
}

void kt_eq_deadline_ts(uint64_t mono_ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(mono_ns / 1000000000ull);
	ts->tv_nsec = (long)(mono_ns % 1000000000ull);
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
		kt_eq_deadline_ts(end, &ts);
		pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
}

bool kt_eq_give_up(struct kt_export_queue *q)
{
	pthread_mutex_lock(&q->lock);
	bool over = q->stopping && kt_mono_ns() >= q->stop_deadline_ns;
	pthread_mutex_unlock(&q->lock);
	return over;
}

enum kt_export_result kt_eq_attempt(struct kt_export_queue *q, struct list *l, const void *req,
				    size_t n, struct kt_eq_retry *rt)
{
	const struct kind *k = l->k;
	if (rt->tried) {
		kt_stat_export_retried(rt->status);
		kt_debug("export: %s: retrying %zu %s", q->exporter->name, n, k->what);
	}
	kt_export_note_status(NULL);
	kt_export_note_retry_after(0);
	uint64_t start = kt_mono_ns();
	enum kt_export_result res = k->export(q->exporter, req, n);
	kt_stat_export_latency(k->rec, kt_mono_ns() - start);
	if (res == KT_EXPORT_OK) {
		kt_eq_stat_add(k->exported, n);
		return res;
	}
	memcpy(rt->status, kt_export_status_noted(), sizeof(rt->status));
	kt_stat_export_failed(rt->status);
	if (res == KT_EXPORT_FAIL) {
		kt_warn("export: %s: permanent failure: dropping %zu %s", q->exporter->name, n,
			k->what);
		kt_stat_drop(k->rec, KT_DROP_EXPORT_FAILED, n);
		return res;
	}
	rt->wait_ms = kt_export_retry_wait_ms(rt->delay_ms, kt_export_retry_after_noted());
	bool asked = rt->wait_ms > rt->delay_ms;
	kt_debug("export: %s: next attempt for %zu %s in %llu ms%s%s%s", q->exporter->name, n,
		 k->what, (unsigned long long)rt->wait_ms, asked ? " (the collector's " : "",
		 asked ? kt_export_retry_source_noted() : "", asked ? ")" : "");
	rt->tried = true;
	rt->delay_ms = rt->delay_ms * 2 > q->cfg.retry_max_ms ? q->cfg.retry_max_ms : rt->delay_ms * 2;
	return res;
}

/* One request of n records of l's kind to the exporter. */
void kt_eq_send_with_retry(struct kt_export_queue *q, struct list *l, const void *req, size_t n)
{
	const struct kind *k = l->k;
	struct kt_eq_retry rt = KT_EQ_RETRY_INIT;

	/*
	 * Transient failures are retried for as long as the daemon runs (the
	 * queue bounds what waits meanwhile); once it is stopping, until the
	 * shutdown deadline, after which no attempt is made at all, so that a
	 * collector that hangs cannot hold the exit up batch after batch.
	 */
	for (;;) {
		if (kt_eq_give_up(q)) {
			if (rt.tried)
				kt_warn("export: %s: shutdown timeout reached: dropping %zu %s",
					q->exporter->name, n, k->what);
			else
				l->dropped_unsent += n; /* logged once, by stop() */
			kt_stat_drop(k->rec, KT_DROP_SHUTDOWN, n);
			break;
		}
		if (kt_eq_attempt(q, l, req, n, &rt) != KT_EXPORT_RETRY)
			break;
		backoff_sleep(q, rt.wait_ms);
	}
}

static void export_batch(struct kt_export_queue *q, struct list *l, void *batch, size_t n)
{
	struct kt_arena *a = &q->req_arena;
	const void *req = l->k->build(batch, &q->cfg.resource, a);
	if (!req) {
		kt_err("export: out of memory building a request of %zu %s", n, l->k->what);
		kt_stat_drop(l->k->rec, KT_DROP_NO_MEMORY, n);
	} else {
		kt_eq_send_with_retry(q, l, req, n);
	}
	kt_arena_reset(a);
	kt_eq_free_chain(l->k, batch);
}

/* ------------------------------------------------------------------ thread */

bool kt_eq_all_empty(const struct kt_export_queue *q)
{
	for (size_t i = 0; i < N_LISTS; i++)
		if (q->lists[i].n)
			return false;
	return true;
}

bool kt_eq_any_full(const struct kt_export_queue *q)
{
	for (size_t i = 0; i < N_LISTS; i++)
		if (q->lists[i].n >= q->cfg.batch_max)
			return true;
	return false;
}

/* When the oldest queued record, of either kind, is due. Some list is not empty. */
uint64_t kt_eq_due_ns(const struct kt_export_queue *q)
{
	uint64_t first = UINT64_MAX;
	for (size_t i = 0; i < N_LISTS; i++)
		if (q->lists[i].n && q->lists[i].first_ns < first)
			first = q->lists[i].first_ns;
	return first + q->cfg.batch_timeout_ms * 1000000ull;
}

static void *export_thread(void *arg)
{
	struct kt_export_queue *q = arg;

	if (q->spool) {
		kt_eq_spool_loop(q);
		return NULL;
	}
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->stopping && !kt_eq_any_full(q)) {
			if (kt_eq_all_empty(q)) {
				pthread_cond_wait(&q->cond, &q->lock);
				continue;
			}
			uint64_t due = kt_eq_due_ns(q);
			if (kt_mono_ns() >= due)
				break;
			struct timespec ts;
			kt_eq_deadline_ts(due, &ts);
			pthread_cond_timedwait(&q->cond, &q->lock, &ts);
		}
		if (kt_eq_all_empty(q) && q->stopping)
			break;
		if (kt_eq_all_empty(q))
			continue;
		void *batch[N_LISTS] = { NULL };
		size_t n[N_LISTS] = { 0 };
		for (size_t i = 0; i < N_LISTS; i++)
			if (q->lists[i].n)
				batch[i] = kt_eq_take_batch(&q->lists[i], q->cfg.batch_max, &n[i]);
		pthread_mutex_unlock(&q->lock);
		for (size_t i = 0; i < N_LISTS; i++)
			if (n[i])
				export_batch(q, &q->lists[i], batch[i], n[i]);
		if (q->exporter->flush)
			q->exporter->flush(q->exporter);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* ------------------------------------------------------------------ API */

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
	kt_stats_set_exporter(e->name);
	q->lists[SPANS].k = &span_kind;
	q->lists[LOGS].k = &log_kind;
	q->lists[LOGS].refused = !e->export_logs;
	kt_arena_init(&q->req_arena, 0);
	if (cfg->spool) {
		if (!q->cfg.spool_sync_ms)
			q->cfg.spool_sync_ms = KT_EXPORT_SPOOL_SYNC_MS;
		if (!q->cfg.spool_cache_bytes)
			q->cfg.spool_cache_bytes = KT_EXPORT_SPOOL_CACHE_BYTES;
		q->spool = kt_spool_send_new(cfg->spool, q->cfg.spool_cache_bytes);
		if (!q->spool) {
			free(q);
			return NULL;
		}
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	/*
	 * The thread takes no process-directed signal: a command that blocks
	 * SIGINT/SIGTERM to read them from a signalfd may start the queue first
	 * (base/quiet_thread.h).
	 */
	sigset_t old;
	kt_quiet_signals(&old);
	int err = pthread_create(&q->thread, NULL, export_thread, q);
	kt_restore_signals(&old);
	if (err) {
		kt_err("export: cannot start thread: %s", strerror(err));
		pthread_cond_destroy(&q->cond);
		pthread_mutex_destroy(&q->lock);
		kt_spool_send_free(q->spool);
		free(q);
		return NULL;
	}
	return q;
}

/* Queues r at the end of l, or drops it (counted) when l is full or refused. */
static void push(struct kt_export_queue *q, struct list *l, void *r)
{
	const struct kind *k = l->k;
	k->set_next(r, NULL);
	pthread_mutex_lock(&q->lock);
	if (l->refused || l->n >= q->cfg.queue_max) {
		bool refused = l->refused, say = refused && !l->refused_logged;
		l->refused_logged |= refused;
		pthread_mutex_unlock(&q->lock);
		kt_stat_drop(k->rec, refused ? KT_DROP_UNSUPPORTED : KT_DROP_QUEUE_FULL, 1);
		uint64_t dropped = __atomic_load_n(k->dropped, __ATOMIC_RELAXED);
		/* Log the first drop and then every 10000th. */
		if (say)
			kt_warn("export: %s: cannot send %s: dropping them", q->exporter->name,
				k->what);
		else if (!refused && (dropped == 1 || dropped % 10000 == 0))
			kt_warn("export: queue full (%zu %s): dropping %s (%llu so far)",
				q->cfg.queue_max, k->what, k->what, (unsigned long long)dropped);
		k->free(r);
		return;
	}
	if (l->n == 0)
		l->first_ns = kt_mono_ns();
	if (l->tail)
		k->set_next(l->tail, r);
	else
		l->head = r;
	l->tail = r;
	l->n++;
	if (l->n == 1 || l->n >= q->cfg.batch_max)
		pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

void kt_export_queue_push(struct kt_export_queue *q, struct kt_span_record *r)
{
	push(q, &q->lists[SPANS], r);
}

void kt_export_queue_push_log(struct kt_export_queue *q, struct kt_log_record *r)
{
	push(q, &q->lists[LOGS], r);
}

void kt_export_queue_depth(struct kt_export_queue *q, size_t out[2])
{
	out[KT_REC_SPANS] = out[KT_REC_LOGS] = 0;
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	out[KT_REC_SPANS] = q->lists[SPANS].n;
	out[KT_REC_LOGS] = q->lists[LOGS].n;
	pthread_mutex_unlock(&q->lock);
}

static void stop(struct kt_export_queue *q, uint64_t timeout_ms);

void kt_export_queue_stop(struct kt_export_queue *q)
{
	if (q)
		stop(q, q->cfg.shutdown_timeout_ms);
}

void kt_export_queue_stop_handover(struct kt_export_queue *q)
{
	if (q)
		stop(q, q->spool ? 0 : q->cfg.shutdown_timeout_ms);
}

static void stop(struct kt_export_queue *q, uint64_t timeout_ms)
{
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	q->stop_deadline_ns = kt_mono_ns() + timeout_ms * 1000000ull;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	for (size_t i = 0; i < N_LISTS; i++)
		if (q->lists[i].dropped_unsent)
			kt_warn("export: %s: shutdown timeout reached: dropped %llu queued %s unsent",
				q->exporter->name, (unsigned long long)q->lists[i].dropped_unsent,
				q->lists[i].k->what);
	if (q->exporter->flush)
		q->exporter->flush(q->exporter);
	q->exporter->destroy(q->exporter);
	for (size_t i = 0; i < N_LISTS; i++)
		kt_eq_free_chain(q->lists[i].k, q->lists[i].head);
	kt_arena_free(&q->req_arena);
	kt_spool_send_free(q->spool);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

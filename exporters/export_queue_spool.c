/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The export thread with a disk spool (export_queue.h): batches become
 * requests in the spool, and requests leave it in sequence order.
 */
#include <errno.h>
#include <string.h>

#include "base/clock.h"
#include "base/diag.h"
#include "exporters/export_queue_impl.h"
#include "exporters/spool_send.h"

/* At most one log line per this long about appends that fail. */
#define SPOOL_APPEND_LOG_NS (10 * 1000000000ull)
/* The wait before reading the spool again after it could not be read. */
#define SPOOL_READ_RETRY_MS 1000u

/*
 * A batch into the spool, and out of memory. When the spool cannot store
 * it, it is sent from memory as without a spool.
 */
static void spool_batch(struct kt_export_queue *q, struct list *l, void *batch, size_t n)
{
	const struct kind *k = l->k;
	struct kt_arena *a = &q->req_arena;
	const void *req = k->build(batch, &q->cfg.resource, a);
	if (!req) {
		kt_err("export: out of memory building a request of %zu %s", n, k->what);
		kt_stat_drop(k->rec, KT_DROP_NO_MEMORY, n);
	} else {
		int err = kt_spool_send_append(q->spool, k->spool_type, (uint32_t)n, req);
		if (err) {
			KT_STAT_INC(spool_append_failed);
			uint64_t now = kt_mono_ns();
			if (!q->append_logged_ns || now - q->append_logged_ns >= SPOOL_APPEND_LOG_NS) {
				q->append_logged_ns = now;
				kt_warn("export: spool: cannot store a request of %zu %s (%s): sending it "
					"from memory (%llu so far)",
					n, k->what, strerror(-err),
					(unsigned long long)KT_STAT_GET(spool_append_failed));
			}
			kt_eq_send_with_retry(q, l, req, n);
		}
	}
	kt_arena_reset(a);
	kt_eq_free_chain(k, batch);
}

/* The attempts at the oldest spooled request: its backoff. */
struct attempt {
	struct kt_eq_retry rt;
	uint64_t next_ns; /* no attempt before */
};

static void attempt_reset(struct attempt *at)
{
	*at = (struct attempt){ .rt = KT_EQ_RETRY_INIT };
}

/* One attempt at sending r; done with it unless the exporter asks to retry. */
static void spool_attempt(struct kt_export_queue *q, struct attempt *at,
			  const struct kt_spool_req *r)
{
	struct list *l = r->type == KT_SPOOL_REQ_TRACES ? &q->lists[SPANS]
			 : r->type == KT_SPOOL_REQ_LOGS	  ? &q->lists[LOGS]
							  : NULL;
	uint64_t seq = r->seq;
	if (!l || !r->body) {
		kt_err("export: spool: record %llu is no request (type %u): skipping it",
		       (unsigned long long)seq, (unsigned)r->type);
		goto done;
	}
	const struct kind *k = l->k;
	size_t n = r->count;
	if (l->refused) { /* spooled by a run whose exporter could send them */
		if (!q->spool_refused_logged)
			kt_warn("export: %s: cannot send %s: dropping those in the spool",
				q->exporter->name, k->what);
		q->spool_refused_logged = true;
		kt_stat_drop(k->rec, KT_DROP_UNSUPPORTED, n);
		goto done;
	}
	ProtobufCMessage *req = protobuf_c_message_unpack(k->desc, NULL, r->body_len, r->body);
	if (!req) {
		kt_err("export: spool: record %llu does not unpack: dropping %zu %s",
		       (unsigned long long)seq, n, k->what);
		kt_stat_drop(k->rec, KT_DROP_NO_MEMORY, n);
		goto done;
	}
	enum kt_export_result res = kt_eq_attempt(q, l, req, n, &at->rt);
	protobuf_c_message_free_unpacked(req, NULL);
	if (res != KT_EXPORT_RETRY)
		goto done;
	at->next_ns = kt_mono_ns() + at->rt.wait_ms * 1000000ull;
	return;
done:
	kt_spool_send_done(q->spool, seq);
	attempt_reset(at);
}

/* The oldest spooled request not yet done; NULL: none, or the spool cannot be read now. */
static const struct kt_spool_req *next_request(struct kt_export_queue *q, struct attempt *at,
					       bool *work)
{
	int err;
	const struct kt_spool_req *r = kt_spool_send_next(q->spool, &err);
	if (err) {
		kt_warn("export: spool: cannot read it back: %s", strerror(-err));
		uint64_t later = kt_mono_ns() + SPOOL_READ_RETRY_MS * 1000000ull;
		if (!r && at->next_ns < later)
			at->next_ns = later;
	}
	*work = r || err;
	return r;
}

static uint64_t min_ns(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/*
 * The export thread with a spool: batches form as without one and go to
 * the spool; between them, one attempt at a time at the oldest spooled
 * request, so that batches keep being spooled during a backoff.
 */
void kt_eq_spool_loop(struct kt_export_queue *q)
{
	const uint64_t sync_ns = q->cfg.spool_sync_ms * 1000000ull;
	uint64_t sync_at = 0; /* 0: nothing to sync */
	struct attempt at;
	attempt_reset(&at);

	for (;;) {
		bool work;
		const struct kt_spool_req *r = next_request(q, &at, &work);

		pthread_mutex_lock(&q->lock);
		bool batches, exiting;
		for (;;) {
			uint64_t now = kt_mono_ns();
			bool over = q->stopping && now >= q->stop_deadline_ns;
			batches = kt_eq_any_full(q) ||
				  (!kt_eq_all_empty(q) && (q->stopping || now >= kt_eq_due_ns(q)));
			exiting = q->stopping && (!work || over);
			if (batches || exiting || (sync_at && now >= sync_at) ||
			    (work && now >= at.next_ns && !over))
				break;
			uint64_t wake = UINT64_MAX;
			if (!kt_eq_all_empty(q))
				wake = kt_eq_due_ns(q);
			if (sync_at)
				wake = min_ns(wake, sync_at);
			if (work)
				wake = min_ns(wake, at.next_ns);
			if (q->stopping)
				wake = min_ns(wake, q->stop_deadline_ns);
			if (wake == UINT64_MAX) {
				pthread_cond_wait(&q->cond, &q->lock);
			} else {
				struct timespec ts;
				kt_eq_deadline_ts(wake, &ts);
				pthread_cond_timedwait(&q->cond, &q->lock, &ts);
			}
		}
		void *batch[N_LISTS] = { NULL };
		size_t n[N_LISTS] = { 0 };
		for (size_t i = 0; batches && i < N_LISTS; i++)
			if (q->lists[i].n)
				batch[i] = kt_eq_take_batch(&q->lists[i], q->cfg.batch_max, &n[i]);
		pthread_mutex_unlock(&q->lock);

		for (size_t i = 0; i < N_LISTS; i++)
			if (n[i])
				spool_batch(q, &q->lists[i], batch[i], n[i]);
		if (batches) {
			if (!sync_at)
				sync_at = kt_mono_ns() + sync_ns;
			/*
			 * Appends may have moved r out of memory: look again, and
			 * still make the attempt due, so that a steady stream of
			 * batches cannot keep every request on disk.
			 */
			r = next_request(q, &at, &work);
		} else if (exiting) {
			break;
		}
		uint64_t now = kt_mono_ns();
		if (sync_at && now >= sync_at) {
			kt_spool_sync(q->cfg.spool);
			sync_at = 0;
		}
		if (r && now >= at.next_ns && !kt_eq_give_up(q)) {
			spool_attempt(q, &at, r);
			if (q->exporter->flush)
				q->exporter->flush(q->exporter);
			if (!sync_at)
				sync_at = kt_mono_ns() + sync_ns;
		}
	}
	kt_spool_sync(q->cfg.spool);
	struct kt_spool_stats st;
	kt_spool_stats(q->cfg.spool, &st);
	if (st.records) {
		KT_STAT_ADD(spool_left, st.records);
		kt_warn("export: %s: shutdown timeout reached: %llu requests left in the spool for "
			"the next start",
			q->exporter->name, (unsigned long long)st.records);
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded queue of span records and of log records, and the export thread:
 * batches by size and time, builds OTLP requests and hands them to the
 * exporter, retrying transient failures with capped exponential backoff for
 * as long as the daemon runs, so that a collector that is down loses nothing
 * (up to queue_max spans, and as many log records, wait meanwhile) and the
 * capture path never blocks on it. Spans and log records are two lists with
 * bounds of their own run by one piece of code (export_queue.c).
 *
 * With a disk spool (exporters/spool.h), each batch becomes a request that
 * goes to the spool at once and leaves memory; requests are sent from the
 * spool strictly in order, those an earlier run left there first, so that a
 * collector down for long loses nothing up to the spool's bound and a
 * restart sends what was not delivered (exporters/spool_send.h).
 */
#ifndef KT_EXPORT_QUEUE_H
#define KT_EXPORT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "exporters/exporter.h"
#include "exporters/otlp_build.h"
#include "exporters/spool.h"
#include "model/log_record.h"
#include "model/span_record.h"

struct kt_export_queue_cfg {
	size_t batch_max;          /* spans per request */
	uint64_t batch_timeout_ms; /* oldest queued span waits at most this long */
	size_t queue_max;          /* spans held; beyond it new spans are dropped */
	uint64_t retry_max_ms;     /* backoff ceiling (from 100 ms, doubling) */
	uint64_t shutdown_timeout_ms; /* how long stop() keeps exporting and retrying */
	struct kt_resource_cfg resource;
	/*
	 * NULL: none (batches are sent from memory). Not owned: the caller
	 * closes it after kt_export_queue_stop().
	 */
	struct kt_spool *spool;
	uint64_t spool_sync_ms;   /* kt_spool_sync() this often; 0: KT_EXPORT_SPOOL_SYNC_MS */
	/*
	 * Spooled requests kept in memory to send (the newest, or read back
	 * from the spool), at most this plus one request; 0:
	 * KT_EXPORT_SPOOL_CACHE_BYTES.
	 */
	size_t spool_cache_bytes;
};

#define KT_EXPORT_SPOOL_SYNC_MS 100u
#define KT_EXPORT_SPOOL_CACHE_BYTES ((size_t)8 << 20)

#define KT_EXPORT_QUEUE_DEFAULTS                                                              \
	{                                                                                      \
		.batch_max = 512, .batch_timeout_ms = 1000, .queue_max = 100000,               \
		.retry_max_ms = 5000, .shutdown_timeout_ms = 10000,                            \
		.resource = { .service_name = KT_DEFAULT_SERVICE_NAME },                       \
		.spool_sync_ms = KT_EXPORT_SPOOL_SYNC_MS,                                      \
		.spool_cache_bytes = KT_EXPORT_SPOOL_CACHE_BYTES,                              \
	}

struct kt_export_queue;

/*
 * The wait before the next attempt after a transient failure: the backoff,
 * or the collector's Retry-After when that is longer (capped at
 * KT_EXPORT_RETRY_AFTER_MAX_MS).
 */
uint64_t kt_export_retry_wait_ms(uint64_t backoff_ms, uint64_t retry_after_ms);

/*
 * Starts the export thread; the queue owns e and destroys it on stop. The
 * thread blocks every signal but the synchronous ones (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS), so process signals go to the
 * caller's threads whatever their mask was when it started.
 */
struct kt_export_queue *kt_export_queue_start(struct kt_exporter *e,
					      const struct kt_export_queue_cfg *cfg);
/* Takes ownership of r (freed on drop or after export). */
void kt_export_queue_push(struct kt_export_queue *q, struct kt_span_record *r);
/*
 * Takes ownership of a log record: queued beside the spans, with its own
 * queue_max bound, the same batching and retries; dropped (counted) when the
 * exporter cannot send logs.
 */
void kt_export_queue_push_log(struct kt_export_queue *q, struct kt_log_record *r);
/* Records waiting now: out[KT_REC_SPANS], out[KT_REC_LOGS] (base/stats.h). */
void kt_export_queue_depth(struct kt_export_queue *q, size_t out[2]);
/*
 * Exports everything queued, retrying until shutdown_timeout_ms after the
 * call; what is still queued then is dropped (counted) without a further
 * attempt. Then stops. With a spool, what is queued in memory is spooled,
 * and what is still unsent at the deadline stays in the spool for the next
 * start, counted in kt_stats.spool_left (not dropped); the spool is synced.
 */
void kt_export_queue_stop(struct kt_export_queue *q);
/*
 * Stop for a takeover: with a spool, everything queued is spooled and
 * nothing more is attempted (the new daemon sends it from the spool);
 * without, as kt_export_queue_stop().
 */
void kt_export_queue_stop_handover(struct kt_export_queue *q);

#endif

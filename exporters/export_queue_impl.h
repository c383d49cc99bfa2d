/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The export queue's insides, shared by its two export threads' code:
 * export_queue.c (the lists, pushing, batches sent from memory) and
 * export_queue_spool.c (batches through the disk spool). Not for other
 * files: the interface is export_queue.h.
 */
#ifndef KT_EXPORT_QUEUE_IMPL_H
#define KT_EXPORT_QUEUE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <protobuf-c/protobuf-c.h>

#include "base/arena.h"
#include "base/stats.h"
#include "exporters/export_queue.h"

struct kt_spool_send;

/*
 * What differs between the spans' list and the log records' list: how a
 * record is linked, freed, built into a request and exported, and the
 * counters. Everything else (the bound, batching, retries, shutdown) is one
 * piece of code for both.
 */
struct kind {
	const char *what; /* "spans", "log records": in log lines */
	void *(*next)(const void *rec);
	void (*set_next)(void *rec, void *next);
	void (*free)(void *rec);
	/* The request for the records linked from head, in a; NULL on ENOMEM. */
	const void *(*build)(const void *head, const struct kt_resource_cfg *cfg,
			     struct kt_arena *a);
	enum kt_export_result (*export)(struct kt_exporter *e, const void *req, size_t n);
	const ProtobufCMessageDescriptor *desc; /* of the request, to unpack a spooled one */
	uint32_t spool_type;
	enum kt_record_kind rec;        /* for the counters (base/stats.h) */
	uint64_t *exported, *dropped;   /* in kt_stats; dropped is bumped by kt_stat_drop */
};

/* One kind's bounded list; guarded by the queue's lock. */
struct list {
	const struct kind *k;
	void *head, *tail;
	size_t n;
	uint64_t first_ns;	 /* arrival of the oldest queued record */
	bool refused;		 /* the exporter cannot send this kind: push drops */
	bool refused_logged;
	uint64_t dropped_unsent; /* dropped at shutdown without an attempt */
};

/*
 * Log records wait beside the spans with a bound of their own (a chatty
 * guest journal cannot crowd spans out) and go through the same thread,
 * batching and retries: one user of the exporter, no locking there.
 */
enum { SPANS, LOGS, N_LISTS };

struct kt_export_queue {
	struct kt_export_queue_cfg cfg;
	struct kt_exporter *exporter;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct list lists[N_LISTS]; /* exported in this order */
	bool stopping;
	uint64_t stop_deadline_ns;
	/*
	 * The request being exported, emptied after each batch and kept: once
	 * it has grown to the largest batch, building one allocates nothing.
	 * The export thread's alone.
	 */
	struct kt_arena req_arena;
	struct kt_spool_send *spool; /* NULL: no spool; the export thread's alone */
	uint64_t append_logged_ns;   /* the last append failure logged */
	bool spool_refused_logged;   /* spooled records of a kind the exporter cannot send */
};


/* Helpers of export_queue.c. */
void kt_eq_stat_add(uint64_t *counter, uint64_t n);
void kt_eq_free_chain(const struct kind *k, void *head);
/* Takes up to batch_max records off the list. Caller holds the lock. */
void *kt_eq_take_batch(struct list *l, size_t batch_max, size_t *count);
void kt_eq_deadline_ts(uint64_t mono_ns, struct timespec *ts);
/* Stopping, and past the shutdown deadline. */
bool kt_eq_give_up(struct kt_export_queue *q);
/* One request of n records of l's kind, from memory, retried as the queue does. */
void kt_eq_send_with_retry(struct kt_export_queue *q, struct list *l, const void *req, size_t n);

/* The attempts at one request: its backoff and the last failure's status. */
struct kt_eq_retry {
	bool tried;        /* an attempt was made (the next one is a retry) */
	uint64_t delay_ms; /* the backoff of the next wait */
	uint64_t wait_ms;  /* after a RETRY: how long to wait (the backoff, or Retry-After) */
	char status[KT_EXPORT_STATUS_LEN]; /* of the last failed attempt */
};
#define KT_EQ_RETRY_INIT { .delay_ms = 100 }

/*
 * One attempt at req (n records of l's kind) and its accounting: OK counted
 * exported, FAIL dropped and counted (logged), RETRY counted failed with
 * rt->wait_ms set and the backoff doubled (up to retry_max_ms).
 */
enum kt_export_result kt_eq_attempt(struct kt_export_queue *q, struct list *l, const void *req,
				    size_t n, struct kt_eq_retry *rt);
/* Caller holds the lock. due_ns: some list is not empty. */
bool kt_eq_all_empty(const struct kt_export_queue *q);
bool kt_eq_any_full(const struct kt_export_queue *q);
uint64_t kt_eq_due_ns(const struct kt_export_queue *q);

/* The export thread's work with a spool (export_queue_spool.c), until it stops. */
void kt_eq_spool_loop(struct kt_export_queue *q);

#endif

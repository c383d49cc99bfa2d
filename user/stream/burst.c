/* SPDX-License-Identifier: Apache-2.0 */
#include "stream/burst.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/stream_record.h"

/* Each record: its size and kind, then its bytes, then padding to the next multiple of 8. */
#define SLOT_HDR 8u
#define ALIGN8(n) (((n) + 7u) & ~(size_t)7u)
/* The largest record a capture program writes. */
#define MAX_RECORD (sizeof(struct kt_rec_data))
#define MAX_SLOT ALIGN8(SLOT_HDR + MAX_RECORD)
#define MAX_CHUNK ((size_t)1 << 20)
/*
 * Emptied chunks kept for the next records (still charged): a chunk freed
 * and allocated again costs a page fault per page, at the rate of a burst.
 */
#define KEEP_CHUNKS 4
/* Streams whose next record must say a record of theirs was lost. */
#define LOSS_MARKS 256

struct chunk {
	struct chunk *next;
	size_t head, tail; /* bytes read, bytes written */
	size_t cap;
	uint64_t charged; /* to the budget (else within the floor); keeps data 8-aligned */
	uint8_t data[];
};

/* records are read in place: their headers must be 8-aligned */
_Static_assert(offsetof(struct chunk, data) % 8 == 0, "chunk data misaligned");

struct loss_mark {
	struct kt_conn_id conn;
	uint8_t dir;
	bool used;
};

struct kt_burst {
	pthread_mutex_t mu; /* one writer thread, one reader thread */
	size_t limit;     /* bytes of records (slots) held at most */
	size_t reserve;   /* of which DATA records may not take the last */
	size_t chunk_cap; /* data bytes of a chunk */
	struct kt_mem_acct *acct;
	size_t floor;     /* chunk bytes held even when the budget has no room */
	size_t uncharged; /* atomic: chunk bytes held within the floor */
	struct chunk *head, *tail;
	struct chunk *spare; /* emptied chunks kept for the next (still charged), a list */
	unsigned n_spare;
	/* the writer's next chunk, allocated outside the lock (charged) */
	struct chunk *fresh;
	struct kt_burst_stats st;
	struct loss_mark marks[LOSS_MARKS];
};

static size_t chunk_bytes(size_t cap)
{
	return sizeof(struct chunk) + cap;
}

struct kt_burst *kt_burst_new(size_t limit, struct kt_mem_acct *acct)
{
	struct kt_burst *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	if (limit < KT_MIN_BURST_BUFFER)
		limit = KT_MIN_BURST_BUFFER;
	b->limit = limit;
	/* Header-only records are under 300 bytes: a sixteenth keeps room for many. */
	b->reserve = limit / 16;
	b->chunk_cap = limit / 8;
	if (b->chunk_cap > MAX_CHUNK)
		b->chunk_cap = MAX_CHUNK;
	if (b->chunk_cap < MAX_SLOT)
		b->chunk_cap = MAX_SLOT;
	b->acct = acct;
	/*
	 * Held for a copy at most: spin a little before sleeping, so that the
	 * writer is not put to sleep (and left waiting for a CPU on a loaded
	 * node, the ring buffer filling) each time it meets the reader.
	 */
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&b->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	return b;
}

static void chunk_release(struct kt_burst *b, struct chunk *c)
{
	if (c->charged) {
		kt_mem_free(b->acct, c, chunk_bytes(c->cap));
		return;
	}
	__atomic_fetch_sub(&b->uncharged, chunk_bytes(c->cap), __ATOMIC_RELAXED);
	free(c);
}

void kt_burst_set_floor(struct kt_burst *b, size_t bytes)
{
	b->floor = bytes;
}

void kt_burst_free(struct kt_burst *b)
{
	if (!b)
		return;
	for (struct chunk *c = b->head, *n; c; c = n) {
		n = c->next;
		chunk_release(b, c);
	}
	for (struct chunk *c = b->spare, *n; c; c = n) {
		n = c->next;
		chunk_release(b, c);
	}
	if (b->fresh)
		chunk_release(b, b->fresh);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

/* A new chunk, charged (NULL: no room in the budget, or no memory). Outside the lock. */
static struct chunk *chunk_alloc(struct kt_burst *b)
{
	size_t n = chunk_bytes(b->chunk_cap);
	bool charged = kt_mem_try_charge(b->acct, n);
	if (!charged) {
		/* the budget is full: within the floor all the same */
		size_t held = __atomic_load_n(&b->uncharged, __ATOMIC_RELAXED);
		if (held + n > b->floor)
			return NULL;
		__atomic_fetch_add(&b->uncharged, n, __ATOMIC_RELAXED);
	}
	struct chunk *c = malloc(n);
	if (!c) {
		if (charged)
			kt_mem_credit(b->acct, n);
		else
			__atomic_fetch_sub(&b->uncharged, n, __ATOMIC_RELAXED);
		return NULL;
	}
	c->cap = b->chunk_cap;
	c->charged = charged;
	return c;
}

/* Under the lock: the emptied chunk kept, else the writer's fresh one. */
static struct chunk *chunk_get(struct kt_burst *b)
{
	struct chunk *c = b->spare;
	if (c) {
		b->spare = c->next;
		b->n_spare--;
	} else {
		c = b->fresh;
		b->fresh = NULL;
		if (!c)
			return NULL;
	}
	c->next = NULL;
	c->head = c->tail = 0;
	return c;
}

/* ------------------------------------------------------------ loss marks */

static size_t mark_slot(const struct kt_conn_id *conn, uint8_t dir)
{
	uint64_t h = conn->endpoint * 0x9E3779B97F4A7C15ull;
	h ^= conn->port + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
	h ^= (uint64_t)conn->transport << 8 | dir;
	h *= 0xff51afd7ed558ccdull;
	return (size_t)(h >> 32) % LOSS_MARKS;
}

static bool same_stream(const struct loss_mark *m, const struct kt_conn_id *conn, uint8_t dir)
{
	return m->used && m->dir == dir && m->conn.endpoint == conn->endpoint &&
	       m->conn.port == conn->port && m->conn.transport == conn->transport;
}

/*
 * Linear probing over a few slots. A stream left unmarked (table crowded)
 * still has its hole declared, by the reassembler's timeout.
 */
#define PROBES 8

static void mark_loss(struct kt_burst *b, const struct kt_rec_hdr *h)
{
	size_t s = mark_slot(&h->conn, h->dir);
	struct loss_mark *free_slot = NULL;
	for (size_t i = 0; i < PROBES; i++) {
		struct loss_mark *m = &b->marks[(s + i) % LOSS_MARKS];
		if (same_stream(m, &h->conn, h->dir))
			return;
		if (!m->used && !free_slot)
			free_slot = m;
	}
	if (free_slot)
		*free_slot = (struct loss_mark){ .conn = h->conn, .dir = h->dir, .used = true };
}

/* True (and the mark is gone) when a record of h's stream was lost before it. */
static bool take_mark(struct kt_burst *b, const struct kt_rec_hdr *h)
{
	size_t s = mark_slot(&h->conn, h->dir);
	for (size_t i = 0; i < PROBES; i++) {
		struct loss_mark *m = &b->marks[(s + i) % LOSS_MARKS];
		if (same_stream(m, &h->conn, h->dir)) {
			m->used = false;
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------ FIFO */

static void drop(struct kt_burst *b, const struct kt_rec_hdr *h, size_t size)
{
	b->st.records_dropped++;
	b->st.bytes_dropped += size;
	if (h && (h->type == KT_REC_DATA || h->type == KT_REC_GAP))
		mark_loss(b, h);
}

static bool push(struct kt_burst *b, uint32_t kind, const void *rec, size_t size,
		 bool *was_empty)
{
	/* Only capture records have streams and payload; other kinds are small. */
	const struct kt_rec_hdr *h = kind == KT_BURST_CAPTURE && size >= sizeof(*h) ? rec : NULL;
	size_t slot = ALIGN8(SLOT_HDR + size);

	*was_empty = b->st.bytes == 0;
	if (size > MAX_RECORD || size > UINT32_MAX) {
		drop(b, h, size);
		return false;
	}
	size_t room = b->limit;
	if (h && h->type == KT_REC_DATA)
		room -= b->reserve;
	if (b->st.bytes + slot > room) {
		drop(b, h, size);
		return false;
	}
	struct chunk *c = b->tail;
	if (!c || c->cap - c->tail < slot) {
		struct chunk *n = chunk_get(b);
		if (!n) {
			drop(b, h, size);
			return false;
		}
		if (c)
			c->next = n;
		else
			b->head = n;
		b->tail = c = n;
	}
	uint8_t *p = c->data + c->tail;
	uint32_t sz = (uint32_t)size;
	memcpy(p, &sz, sizeof(sz));
	memcpy(p + sizeof(sz), &kind, sizeof(kind));
	memcpy(p + SLOT_HDR, rec, size);
	if (h && (h->type == KT_REC_DATA || h->type == KT_REC_GAP || h->type == KT_REC_CLOSE) &&
	    take_mark(b, h)) {
		struct kt_rec_hdr *copy = (struct kt_rec_hdr *)(p + SLOT_HDR);
		if (copy->type != KT_REC_CLOSE) {
			copy->flags |= KT_F_PRIOR_LOSS;
			b->st.marked_losses++;
		}
	}
	c->tail += slot;
	b->st.bytes += slot;
	b->st.records_in++;
	if (b->st.bytes > b->st.peak)
		b->st.peak = b->st.bytes;
	return true;
}

bool kt_burst_push_ex(struct kt_burst *b, uint32_t kind, const void *rec, size_t size,
		      bool *was_empty)
{
	/* allocation (and its page faults) outside the lock: the reader is not held up */
	if (!b->fresh)
		b->fresh = chunk_alloc(b);
	pthread_mutex_lock(&b->mu);
	bool ok = push(b, kind, rec, size, was_empty);
	pthread_mutex_unlock(&b->mu);
	return ok;
}

bool kt_burst_push(struct kt_burst *b, const void *rec, size_t size)
{
	bool was_empty;
	return kt_burst_push_ex(b, KT_BURST_CAPTURE, rec, size, &was_empty);
}

/* The first record, its size and kind; NULL when there is none. Under b->mu. */
static const void *head_slot(struct kt_burst *b, size_t *size, uint32_t *kind)
{
	struct chunk *c = b->head;
	if (!c || c->head == c->tail)
		return NULL;
	uint32_t sz;
	memcpy(&sz, c->data + c->head, sizeof(sz));
	memcpy(kind, c->data + c->head + sizeof(sz), sizeof(*kind));
	*size = sz;
	return c->data + c->head + SLOT_HDR;
}

const void *kt_burst_peek_kind(struct kt_burst *b, size_t *size, uint32_t *kind)
{
	pthread_mutex_lock(&b->mu);
	const void *p = head_slot(b, size, kind);
	pthread_mutex_unlock(&b->mu);
	return p;
}

const void *kt_burst_peek(struct kt_burst *b, size_t *size)
{
	uint32_t kind;
	return kt_burst_peek_kind(b, size, &kind);
}

/* Under the lock; an emptied chunk to free after it is returned. */
static struct chunk *pop(struct kt_burst *b)
{
	struct chunk *c = b->head;
	if (!c || c->head == c->tail)
		return NULL;
	uint32_t sz;
	memcpy(&sz, c->data + c->head, sizeof(sz));
	size_t slot = ALIGN8(SLOT_HDR + (size_t)sz);
	c->head += slot;
	b->st.bytes -= slot;
	if (c->head < c->tail)
		return NULL;
	/* Emptied: the next chunk is the head (the last one is reset and kept). */
	if (c->next) {
		b->head = c->next;
	} else {
		b->head = b->tail = NULL;
	}
	if (b->n_spare < KEEP_CHUNKS) {
		c->next = b->spare;
		b->spare = c;
		b->n_spare++;
		return NULL;
	}
	return c;
}

void kt_burst_pop(struct kt_burst *b)
{
	pthread_mutex_lock(&b->mu);
	struct chunk *gone = pop(b);
	pthread_mutex_unlock(&b->mu);
	if (gone)
		chunk_release(b, gone);
}

const void *kt_burst_pop_peek(struct kt_burst *b, size_t *size, uint32_t *kind)
{
	pthread_mutex_lock(&b->mu);
	struct chunk *gone = pop(b);
	const void *p = head_slot(b, size, kind);
	pthread_mutex_unlock(&b->mu);
	if (gone)
		chunk_release(b, gone);
	return p;
}

bool kt_burst_empty(struct kt_burst *b)
{
	pthread_mutex_lock(&b->mu);
	bool empty = b->st.bytes == 0;
	pthread_mutex_unlock(&b->mu);
	return empty;
}

size_t kt_burst_bytes(struct kt_burst *b)
{
	pthread_mutex_lock(&b->mu);
	size_t n = b->st.bytes;
	pthread_mutex_unlock(&b->mu);
	return n;
}

void kt_burst_stats(struct kt_burst *b, struct kt_burst_stats *out)
{
	pthread_mutex_lock(&b->mu);
	*out = b->st;
	pthread_mutex_unlock(&b->mu);
}

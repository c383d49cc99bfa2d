/* SPDX-License-Identifier: Apache-2.0 */
#include "stream/pipeline.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/stats.h"
#include "stream/conn.h"

#define ERRORS_LOGGED_PER_CONN 5

/* ------------------------------------------------------------ messages */

static size_t conn_hash(const struct kt_conn_id *id)
{
	uint64_t h = id->endpoint * 0x9e3779b97f4a7c15ull ^ id->port * 0xc2b2ae3d27d4eb4full ^ id->transport;
	return (size_t)(h ^ (h >> 29)) & (KT_CONN_HASH_BUCKETS - 1);
}

static bool conn_id_eq(const struct kt_conn_id *x, const struct kt_conn_id *y)
{
	return x->endpoint == y->endpoint && x->port == y->port && x->transport == y->transport;
}

/* Rate-limited: a hostile guest cannot flood the log; errors are always said. */
void kt_conn_say(void *conn, enum kt_log_level lvl, const char *fmt, ...)
{
	struct kt_conn *c = conn;
	char msg[512];
	va_list ap;

	if (lvl == KT_LOG_WARN && c->errors_logged >= ERRORS_LOGGED_PER_CONN) {
		if (c->errors_logged++ == ERRORS_LOGGED_PER_CONN)
			kt_warn("%s: further errors on this connection are only counted",
				c->label);
		return;
	}
	if (lvl == KT_LOG_WARN)
		c->errors_logged++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kt_diag(lvl, "%s%s%s: %s", c->label, c->have_sandbox ? " sandbox " : "",
	       c->have_sandbox ? c->sandbox.id : "", msg);
}

/* ------------------------------------------------------------ protocol routing */

static struct kt_conn_facts conn_facts(const struct kt_conn *c)
{
	return (struct kt_conn_facts){
		.transport = c->id.transport,
		.path = c->path,
		.vsock_port = c->vsock_port,
		.guest_listens = kt_conn_guest_listens(c),
	};
}

static void on_back_data(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	struct kt_conn *c = ctx;
	(void)off;
	if (c->pstate)
		c->proto->proto->push(c->pstate, KT_DIR_TO_CLIENT, p, n, c->cur_ts);
}

static void on_back_gap(void *ctx, uint64_t off, uint64_t len)
{
	struct kt_conn *c = ctx;
	(void)off;
	KT_STAT_INC(gaps);
	KT_STAT_ADD(gap_bytes, len);
	c->gaps++;
	c->gap_bytes += len;
	if (c->pstate)
		c->proto->proto->gap(c->pstate, KT_DIR_TO_CLIENT);
}

static const struct kt_reasm_ops back_ops = { .data = on_back_data, .gap = on_back_gap };

/*
 * The first protocol that takes the connection serves it, chosen when its
 * first bytes arrive and the path (unix) or port (vsock) is known.
 */
static void choose_protocol(struct kt_conn *c)
{
	struct kt_pipeline *p = c->p;
	struct kt_conn_facts f = conn_facts(c);

	c->decided = true;
	for (size_t i = 0; i < p->n_protocols && !c->proto; i++)
		if (p->protocols[i].proto->accepts(p->protocols[i].cfg, &f))
			c->proto = &p->protocols[i];
	if (!c->proto)
		return;
	const struct kt_protocol *proto = c->proto->proto;
	if (proto->transport)
		c->transport = proto->transport;
	c->env = (struct kt_conn_env){
		.conn = c,
		.sink = &p->sink,
		.buffers = &c->pending,
		.state = &p->state,
		.records = p->cfg.records_acct,
		.label = c->label,
		.realtime_off_ns = p->realtime_off,
		.origin = kt_conn_resource,
		.sandbox_id = kt_conn_sandbox_id,
		.say = kt_conn_say,
	};
	c->pstate = proto->open(c->proto->cfg, &f, &c->env);
	if (!c->pstate) {
		kt_conn_say(c, KT_LOG_WARN, "no memory (or no room in --memory-budget) for its %s "
			    "decoder: its bytes are ignored", proto->name);
		return;
	}
	if (proto->both_ways) {
		kt_reasm_init(&c->back, &p->cfg.reasm, &back_ops, c);
		c->back.acct = &c->pending;
		c->have_back = true;
	}
}

static void on_data(void *ctx, uint64_t off, const uint8_t *p, size_t n)
{
	struct kt_conn *c = ctx;
	(void)off;
	if (!c->decided)
		choose_protocol(c);
	if (c->pstate)
		c->proto->proto->push(c->pstate, KT_DIR_TO_SERVER, p, n, c->cur_ts);
}

static void on_gap(void *ctx, uint64_t off, uint64_t len)
{
	struct kt_conn *c = ctx;

	KT_STAT_INC(gaps);
	KT_STAT_ADD(gap_bytes, len);
	c->gaps++;
	c->gap_bytes += len;
	kt_conn_say(c, KT_LOG_WARN, "%" PRIu64 " bytes at stream offset %" PRIu64
		    " were not captured: dropping the frame they belong to", len, off);
	if (!c->decided)
		choose_protocol(c);
	if (c->pstate)
		c->proto->proto->gap(c->pstate, KT_DIR_TO_SERVER);
}

static const struct kt_reasm_ops reasm_ops = { .data = on_data, .gap = on_gap };

/* ------------------------------------------------------------ connection table */

static void lru_unlink(struct kt_pipeline *p, struct kt_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		p->lru_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		p->lru_tail = c->prev;
	c->prev = c->next = NULL;
}

static void lru_touch(struct kt_pipeline *p, struct kt_conn *c)
{
	if (p->lru_head == c)
		return;
	/* A new connection is not in the list yet: unlinking it would cut the list. */
	if (c->prev)
		lru_unlink(p, c);
	c->next = p->lru_head;
	if (p->lru_head)
		p->lru_head->prev = c;
	p->lru_head = c;
	if (!p->lru_tail)
		p->lru_tail = c;
}

static struct kt_conn *conn_find(struct kt_pipeline *p, const struct kt_conn_id *id)
{
	for (struct kt_conn *c = p->buckets[conn_hash(id)]; c; c = c->hnext)
		if (conn_id_eq(&c->id, id))
			return c;
	return NULL;
}

static void conn_release(struct kt_pipeline *p, struct kt_conn *c);

/* Ends a connection: what can still be decoded is, then it is freed. */
static void conn_finish(struct kt_pipeline *p, struct kt_conn *c)
{
	struct kt_conn *prev_active = p->active;
	p->active = c;
	kt_reasm_finish(&c->reasm);
	if (c->have_back)
		kt_reasm_finish(&c->back);
	uint64_t partial = c->pstate ? c->proto->proto->end(c->pstate, kt_mono_ns()) : 0;
	c->pstate = NULL;
	if (partial) {
		KT_STAT_INC(frames_truncated);
		kt_conn_say(c, KT_LOG_INFO, "stream ended inside a frame (%" PRIu64
			    " bytes discarded)", partial);
	}
	kt_conn_report_refused(c);
	/* Said past the rate limit of its warnings: the connection's own count of what was lost. */
	if (c->gaps)
		kt_conn_say(c, KT_LOG_INFO,
			    "ended with %" PRIu64 " gaps, %" PRIu64 " bytes not captured", c->gaps,
			    c->gap_bytes);
	p->active = prev_active == c ? NULL : prev_active;
	conn_release(p, c);
}

/* Takes c out of the table and gives back all it holds; its protocol has ended. */
static void conn_release(struct kt_pipeline *p, struct kt_conn *c)
{
	struct kt_conn **pp = &p->buckets[conn_hash(&c->id)];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	lru_unlink(p, c);
	p->n_conns--;
	kt_conn_limits_put(&p->limits, c->group);
	kt_reasm_free(&c->reasm);
	if (c->have_back)
		kt_reasm_free(&c->back);
	kt_origin_put(c->origin);
	kt_mem_free(&p->state, c, sizeof(*c));
}

/* The group a connection counts in (conn_limits.h): its sandbox, or what stands for it. */
static uint64_t conn_group(const struct kt_conn *c)
{
	char key[32];
	if (c->have_sandbox)
		return kt_conn_group(c->sandbox.id);
	if (c->id.transport == KT_TRANSPORT_VSOCK) {
		snprintf(key, sizeof(key), "cid:%u", c->vsock_cid);
		return kt_conn_group(key);
	}
	return c->path[0] ? kt_conn_group(c->path) : 0;
}

/* A connection not followed: remembered, counted, logged (rate-limited). */
static void refuse(struct kt_pipeline *p, const struct kt_conn *t, const char *why)
{
	uint64_t held_back;
	kt_refused_remember(&p->refused, &t->id);
	KT_STAT_INC(conns_refused);
	if (!kt_diag_limit_pass(&p->refusal_log, kt_mono_ns(), &held_back))
		return;
	char more[64] = "";
	if (held_back)
		snprintf(more, sizeof(more), " (%" PRIu64 " more refused since the last message)",
			 held_back);
	kt_warn("%s%s%s: not followed: %s%s", t->label, t->have_sandbox ? " sandbox " : "",
		t->have_sandbox ? t->sandbox.id : "", why, more);
}

/* A new connection, unless the limits or the memory budget refuse it (NULL). */
static struct kt_conn *conn_new(struct kt_pipeline *p, const struct kt_conn_id *id,
				const char *transport, const char *path_key, const char *path,
				size_t path_len)
{
	/* Built on the stack first: a refusal names the connection too. */
	struct kt_conn t;
	memset(&t, 0, sizeof(t));
	t.p = p;
	t.id = *id;
	t.transport = transport;
	t.path_key = path_key;
	if (id->transport == KT_TRANSPORT_VSOCK) {
		t.vsock_cid = (uint32_t)(id->endpoint >> 32);
		t.vsock_port = (uint32_t)(id->port & KT_VSOCK_GUEST_LISTENS ? id->endpoint : id->port);
	}
	if (path && path_len)
		kt_conn_set_path(&t, path, path_len);
	else
		kt_conn_set_label(&t);
	t.group = conn_group(&t);

	char why[128];
	enum kt_conn_admit a = kt_conn_limits_take(&p->limits, t.group);
	if (a != KT_CONN_ADMITTED) {
		snprintf(why, sizeof(why), "%s (%zu) reached", kt_conn_admit_reason(a),
			 a == KT_CONN_OVER_TOTAL ? p->limits.max_total : p->limits.max_per_group);
		refuse(p, &t, why);
		return NULL;
	}
	struct kt_conn *c = kt_mem_malloc(&p->state, sizeof(*c));
	if (!c) {
		kt_conn_limits_put(&p->limits, t.group);
		KT_STAT_INC(mem_refused);
		refuse(p, &t, "no room left in --memory-budget for its state");
		return NULL;
	}
	kt_refused_forget(&p->refused, id);
	*c = t;
	kt_mem_acct_init(&c->pending, p->cfg.mem_pool);
	kt_reasm_init(&c->reasm, &p->cfg.reasm, &reasm_ops, c);
	c->reasm.acct = &c->pending;
	size_t h = conn_hash(id);
	c->hnext = p->buckets[h];
	p->buckets[h] = c;
	p->n_conns++;
	lru_touch(p, c);
	KT_STAT_INC(connections);
	return c;
}

static const char *transport_name(uint32_t t)
{
	return t == KT_TRANSPORT_VSOCK ? "vsock" : "hybrid-vsock";
}

/* ------------------------------------------------------------ public */

struct kt_pipeline *kt_pipeline_new(const struct kt_pipeline_cfg *cfg,
				    const struct kt_record_sink *sink)
{
	struct kt_pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->cfg = *cfg;
	if (!p->cfg.run_root)
		p->cfg.run_root = "";
	if (!p->cfg.proc_root)
		p->cfg.proc_root = "/proc";
	/* the routing table points into p's own copy of the configurations */
	p->n_protocols = kt_protocols_standard(&p->cfg.protocols, p->protocols);
	p->sink = *sink;
	if (kt_conn_limits_init(&p->limits, p->cfg.max_conns, p->cfg.max_sandbox_conns)) {
		free(p);
		return NULL;
	}
	kt_mem_acct_init(&p->state, p->cfg.mem_pool);
	p->refusal_log.interval_ns = KT_REFUSAL_LOG_NS;
	if (p->cfg.mem_pool) {
		p->cfg.mem_pool->reclaim = kt_conn_reclaim;
		p->cfg.mem_pool->reclaim_ctx = p;
	}
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	p->realtime_off = (int64_t)((uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec) -
			  (int64_t)kt_mono_ns();
	return p;
}

/* A DATA or GAP record of the answering end's direction (both-ways protocols). */
static void record_back(struct kt_pipeline *p, struct kt_conn *c, const struct kt_rec_hdr *h,
			uint64_t now_ns)
{
	/* The answering end (a hypervisor), not the client, names the connection. */
	kt_conn_answerer_from_record(c, h);
	lru_touch(p, c);
	c->last_ns = now_ns;
	c->cur_ts = h->ts_ns;
	if (h->type == KT_REC_DATA) {
		KT_STAT_ADD(bytes_captured, h->len);
		kt_reasm_data(&c->back, h->offset, (const uint8_t *)(h + 1), h->len,
			      h->flags & KT_F_PRIOR_LOSS, now_ns);
	} else {
		kt_reasm_gap(&c->back, h->offset, h->len, now_ns);
	}
}

/*
 * The reassembler of direction dir of a connection fed by records, if that
 * direction has delivered nothing and holds nothing: only then can it start
 * at another offset. The answers of a both-ways protocol get theirs when
 * the protocol is chosen, as their first bytes would.
 */
static struct kt_reasm *fresh_direction(struct kt_conn *c, uint8_t dir)
{
	if (!c || c->direct || (dir != KT_DIR_TO_SERVER && dir != KT_DIR_TO_CLIENT))
		return NULL;
	if (dir == KT_DIR_TO_CLIENT && !c->decided && (c->path[0] || kt_conn_guest_listens(c)))
		choose_protocol(c);
	struct kt_reasm *r = dir == KT_DIR_TO_SERVER ? &c->reasm : c->have_back ? &c->back : NULL;
	if (!r || r->next || r->pending_segs)
		return NULL;
	return r;
}

/*
 * A RESUME record (a handed-over connection, docs/stream.md "Handing
 * connections over"): the direction continues at h->offset. With
 * KT_F_PRIOR_LOSS the protocol is told of a gap before any bytes, so it
 * resynchronises instead of taking them for a message's start. False: not
 * applicable, ignored.
 */
static bool resume(struct kt_conn *c, const struct kt_rec_hdr *h)
{
	struct kt_reasm *r = fresh_direction(c, h->dir);
	if (!r)
		return false;
	r->next = h->offset;
	if (h->flags & KT_F_PRIOR_LOSS) {
		if (!c->decided)
			choose_protocol(c);
		if (c->pstate)
			c->proto->proto->gap(c->pstate, (enum kt_dir)h->dir);
	}
	return true;
}

static void record(struct kt_pipeline *p, const struct kt_rec_hdr *h, size_t size,
		   uint64_t now_ns)
{
	struct kt_conn *c = conn_find(p, &h->conn);

	/* A refused connection stays refused until it closes; a new instance may try again. */
	if (!c && h->type != KT_REC_CONN && kt_refused_has(&p->refused, &h->conn)) {
		if (h->type == KT_REC_DATA)
			KT_STAT_ADD(refused_bytes, h->len);
		if (h->type == KT_REC_RESUME)
			KT_STAT_INC(resume_ignored);
		if (h->type == KT_REC_CLOSE)
			kt_refused_forget(&p->refused, &h->conn);
		return;
	}

	switch (h->type) {
	case KT_REC_CONN: {
		const struct kt_rec_conn *cr = (const struct kt_rec_conn *)h;
		if (size < sizeof(*cr))
			return;
		/*
		 * The server end's first write (ttrpc answers) announces the same
		 * connection again from the other side: nothing new.
		 */
		if (c && h->dir != KT_DIR_TO_SERVER)
			return;
		/* The kernel forgot this connection and saw it again: a new instance. */
		if (c)
			conn_finish(p, c);
		c = conn_new(p, &h->conn, transport_name(h->conn.transport),
			     "katatrace.socket.path", cr->path,
			     cr->path_len < sizeof(cr->path) ? cr->path_len : sizeof(cr->path));
		if (!c)
			return;
		c->last_ns = now_ns;
		if (h->dir == KT_DIR_TO_SERVER)
			kt_conn_writer_from_record(c, h);
		kt_conn_say(c, KT_LOG_DEBUG, "new connection from pid %u (%s)", h->tgid,
			    h->pcomm[0] ? c->comm : "?");
		return;
	}
	case KT_REC_DATA:
		if (size < sizeof(*h) + h->len) {
			kt_warn("capture: truncated data record ignored");
			return;
		}
		/* fallthrough */
	case KT_REC_GAP:
		p->active = c;
		if (h->dir != KT_DIR_TO_SERVER) {
			/* the answers of a both-ways protocol: it is chosen at their first bytes too */
			if (c && !c->decided && (c->path[0] || kt_conn_guest_listens(c)))
				choose_protocol(c);
			if (c && c->have_back) {
				record_back(p, c, h, now_ns);
				return;
			}
			/* Agent spans flow towards the listener; the other way is not ours. */
			if (h->type == KT_REC_DATA) {
				KT_STAT_ADD(bytes_captured, h->len);
				KT_STAT_ADD(bytes_to_client, h->len);
			}
			return;
		}
		if (!c) {
			c = conn_new(p, &h->conn, transport_name(h->conn.transport),
				     "katatrace.socket.path", NULL, 0);
			if (!c)
				return;
			p->active = c;
			/*
			 * No CONN record: capture began mid-connection (or the
			 * connection was idle-collected). Earlier bytes will never
			 * come, so the stream starts here, not at a hole.
			 */
			c->reasm.next = h->offset;
		}
		if (!c->have_back) /* both ways, the client writes: the answerer names it */
			kt_conn_writer_from_record(c, h);
		lru_touch(p, c);
		c->last_ns = now_ns;
		c->cur_ts = h->ts_ns;
		if (h->type == KT_REC_DATA) {
			KT_STAT_ADD(bytes_captured, h->len);
			kt_reasm_data(&c->reasm, h->offset, (const uint8_t *)(h + 1), h->len,
				      h->flags & KT_F_PRIOR_LOSS, now_ns);
		} else {
			const char *why = h->flags & KT_F_OVER_CAP ? "over the per-write cap"
					  : h->flags & KT_F_UNSUPPORTED
						  ? "sent by a call the probe cannot read"
						  : "unreadable";
			kt_conn_say(c, KT_LOG_WARN, "%u bytes %s", h->len, why);
			kt_reasm_gap(&c->reasm, h->offset, h->len, now_ns);
		}
		return;
	case KT_REC_CLOSE:
		/* both ways: a client may half-close and still read its answers */
		if (c && c->have_back) {
			if (h->dir == KT_DIR_TO_SERVER)
				c->closed_fwd = true;
			else
				c->closed_back = true;
			if (c->closed_fwd && c->closed_back)
				conn_finish(p, c);
			return;
		}
		if (c && h->dir == KT_DIR_TO_SERVER)
			conn_finish(p, c);
		return;
	case KT_REC_RESUME:
		p->active = c;
		if (!resume(c, h))
			KT_STAT_INC(resume_ignored);
		return;
	default:
		kt_warn("capture: unknown record type %u ignored", h->type);
	}
}

void kt_pipeline_record(struct kt_pipeline *p, const void *rec, size_t size, uint64_t now_ns)
{
	const struct kt_rec_hdr *h = rec;

	if (size < sizeof(*h)) {
		kt_warn("capture: short record (%zu bytes) ignored", size);
		return;
	}
	KT_STAT_INC(records);
	record(p, h, size, now_ns);
	if (p->active)
		kt_conn_report_refused(p->active);
	p->active = NULL;
}

struct kt_conn *kt_pipeline_open(struct kt_pipeline *p, const struct kt_conn_info *info)
{
	struct kt_conn *old = conn_find(p, &info->id);
	if (old)
		conn_finish(p, old);
	bool file = info->transport && strcmp(info->transport, "file") == 0;
	struct kt_conn *c = conn_new(p, &info->id, info->transport ? info->transport : "unknown",
				     file ? "katatrace.file.path" : "katatrace.socket.path",
				     info->path, info->path ? strlen(info->path) : 0);
	if (!c)
		return NULL;
	if (info->pid || info->comm)
		kt_conn_set_writer(c, info->pid, info->comm ? info->comm : "",
				   info->comm ? strlen(info->comm) : 0);
	c->direct = true;
	return c;
}

void kt_pipeline_feed(struct kt_pipeline *p, struct kt_conn *c, const uint8_t *data, size_t n)
{
	lru_touch(p, c);
	KT_STAT_ADD(bytes_captured, n);
	c->fed += n;
	p->active = c;
	on_data(c, c->fed - n, data, n);
	kt_conn_report_refused(c);
	p->active = NULL;
}

void kt_pipeline_close(struct kt_pipeline *p, struct kt_conn *c)
{
	conn_finish(p, c);
}

void kt_pipeline_tick(struct kt_pipeline *p, uint64_t now_ns)
{
	for (struct kt_conn *c = p->lru_head; c; c = c->next) {
		p->active = c;
		kt_reasm_tick(&c->reasm, now_ns);
		if (c->pstate && c->proto->proto->tick)
			c->proto->proto->tick(c->pstate, now_ns);
		kt_conn_report_refused(c);
	}
	p->active = NULL;
	/*
	 * Connections whose end was never seen (a guest that vanished without
	 * RST, a missed CLOSE) are finished after idle_timeout_ns of silence,
	 * unless discovery says their sandbox still exists: an idle agent, or
	 * a runtime connection with a long poll outstanding, speaks again on
	 * it, and only this entry knows its path, its offsets and its calls.
	 * (The connection caps still apply.) An unknown connection that speaks
	 * again simply starts a new entry.
	 */
	struct kt_conn *c = p->lru_tail;
	while (c && p->cfg.idle_timeout_ns && now_ns - c->last_ns > p->cfg.idle_timeout_ns) {
		struct kt_conn *prev = c->prev;
		if (!c->direct && !kt_conn_sandbox_live(c)) {
			kt_conn_say(c, KT_LOG_DEBUG, "idle for %llu s: finished",
				    (unsigned long long)((now_ns - c->last_ns) / 1000000000ull));
			conn_finish(p, c);
		}
		c = prev;
	}
}

void kt_pipeline_finish_all(struct kt_pipeline *p)
{
	while (p->lru_head)
		conn_finish(p, p->lru_head);
}

/*
 * A handed-over connection leaves without ending: nothing is said or
 * counted as lost, its protocol makes what it still can (complete messages
 * were made already) and drops the rest, its limits and memory go back.
 */
static void conn_hand_off(struct kt_pipeline *p, struct kt_conn *c)
{
	if (c->pstate) {
		const struct kt_protocol *proto = c->proto->proto;
		p->active = c;
		if (proto->handed_over)
			KT_STAT_ADD(handover_calls_dropped, proto->handed_over(c->pstate));
		else
			(void)proto->end(c->pstate, kt_mono_ns());
		p->active = NULL;
		c->pstate = NULL;
	}
	conn_release(p, c);
}

size_t kt_pipeline_handover(struct kt_pipeline *p,
			    void (*emit)(void *ctx, const void *rec, size_t size), void *ctx)
{
	size_t n = 0;
	struct kt_conn *c = p->lru_tail;
	while (c) {
		struct kt_conn *prev = c->prev;
		if (!c->direct) {
			kt_conn_handover_records(c, emit, ctx);
			conn_hand_off(p, c);
			n++;
		}
		c = prev;
	}
	return n;
}

size_t kt_pipeline_conn_count(const struct kt_pipeline *p)
{
	return p->n_conns;
}

size_t kt_pipeline_held(const struct kt_pipeline *p)
{
	size_t n = kt_mem_held(&p->state);
	for (const struct kt_conn *c = p->lru_head; c; c = c->next)
		n += kt_mem_held(&c->pending);
	return n;
}

void kt_pipeline_free(struct kt_pipeline *p)
{
	if (!p)
		return;
	kt_pipeline_finish_all(p);
	kt_conn_limits_free(&p->limits);
	if (p->cfg.mem_pool && p->cfg.mem_pool->reclaim_ctx == p) {
		p->cfg.mem_pool->reclaim = NULL;
		p->cfg.mem_pool->reclaim_ctx = NULL;
	}
	free(p);
}

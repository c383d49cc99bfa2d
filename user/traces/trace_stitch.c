// SPDX-License-Identifier: Apache-2.0
#include "traces/trace_stitch.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "model/attrs.h"
#include "model/ids.h"
#include "traces/id_map.h"
#include "sandbox/sandbox_path.h"
#include "base/stats.h"


#define RPC_RING 128	/* recent host-side calls a root span may have served */
#define TRACE_RING 64	/* runtime traces named by recent requests' traceparent */
#define RPC_KEY_MAX 40
#define SERVICE_MAX 64
#define TOMBSTONE_NS (600ull * 1000000000ull) /* an ended sandbox is remembered this long */

struct rpc_call {
	char key[RPC_KEY_MAX]; /* method, lower case, no '_' */
	uint64_t span_id, start, end;
	uint64_t opened; /* the daemon's monotonic clock when the request was seen */
	bool matched;
};

struct parent {
	uint64_t id; /* 0: arrived after all */
	struct kt_trace_id trace;
	uint64_t start, end;
	uint32_t children;
};

struct held {
	struct held *next;
	struct kt_span_record *r;
	uint64_t deadline;
};

struct sandbox {
	char id[KT_SANDBOX_ID_MAX + 1];
	struct kt_trace_id trace; /* the sandbox's trace */
	uint64_t root;		  /* its root span (the VM's span) */
	struct kt_origin *origin; /* latest, for synthesised spans' resource */
	char service[SERVICE_MAX];
	/* span ids that arrived: two generations, the older dropped when full */
	struct kt_id_map seen, seen_old;
	struct kt_id_map missing; /* parent id -> index into parents */
	struct parent *parents;
	size_t n_parents, cap_parents;
	struct rpc_call rpc[RPC_RING];
	size_t rpc_next;
	struct kt_trace_id runtime[TRACE_RING];
	size_t runtime_next;
	struct held *held; /* agent roots waiting for their call */
	uint64_t ended_at; /* 0: alive */
	bool completed;	   /* a tombstone: late spans pass through */
	uint64_t last_used;
};

struct kt_stitch {
	struct kt_stitch_cfg cfg;
	struct kt_record_sink out;
	struct sandbox **sb;
	size_t n_sb;
	struct sandbox *last; /* spans come in bursts per connection */
};

/* ------------------------------------------------------------ sandboxes */

static void sandbox_release_maps(struct sandbox *b)
{
	kt_id_map_free(&b->seen);
	kt_id_map_free(&b->seen_old);
	kt_id_map_free(&b->missing);
	free(b->parents);
	b->parents = NULL;
	b->n_parents = b->cap_parents = 0;
}

static void sandbox_free(struct sandbox *b)
{
	sandbox_release_maps(b);
	while (b->held) {
		struct held *h = b->held;
		b->held = h->next;
		kt_span_record_free(h->r);
		free(h);
	}
	kt_origin_put(b->origin);
	free(b);
}

static struct sandbox *sandbox_find(struct kt_stitch *s, const char *id)
{
	if (s->last && !strcmp(s->last->id, id))
		return s->last;
	for (size_t i = 0; i < s->n_sb; i++)
		if (!strcmp(s->sb[i]->id, id))
			return s->last = s->sb[i];
	return NULL;
}

static void sandbox_remove(struct kt_stitch *s, size_t i)
{
	if (s->last == s->sb[i])
		s->last = NULL;
	sandbox_free(s->sb[i]);
	s->sb[i] = s->sb[--s->n_sb];
}

static void release_held(struct kt_stitch *s, struct sandbox *b, uint64_t now, bool all);

static struct sandbox *sandbox_get(struct kt_stitch *s, const char *id, uint64_t now)
{
	struct sandbox *b = sandbox_find(s, id);
	if (b || strlen(id) > KT_SANDBOX_ID_MAX)
		return b;
	if (s->n_sb >= s->cfg.max_sandboxes) {
		/*
		 * Make room: the least recently used, an ended one first. A live
		 * one (its end never seen, e.g. without discovery) loses only its
		 * completion; its waiting spans go now.
		 */
		size_t victim = 0;
		for (size_t i = 1; i < s->n_sb; i++) {
			struct sandbox *c = s->sb[i], *v = s->sb[victim];
			if (c->completed != v->completed ? c->completed : c->last_used < v->last_used)
				victim = i;
		}
		if (!s->sb[victim]->completed) {
			release_held(s, s->sb[victim], 0, true);
			KT_STAT_INC(stitch_untracked);
		}
		sandbox_remove(s, victim);
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	strcpy(b->id, id);
	b->last_used = now;
	kt_sandbox_ids(id, strlen(id), &b->trace, &b->root);
	kt_id_map_init(&b->seen, s->cfg.max_spans);
	kt_id_map_init(&b->seen_old, s->cfg.max_spans);
	kt_id_map_init(&b->missing, s->cfg.max_spans);
	s->sb[s->n_sb++] = b;
	return s->last = b;
}

/* ------------------------------------------------------------ attributes */

static bool trace_eq(const struct kt_trace_id *a, const struct kt_trace_id *b)
{
	return a->hi == b->hi && a->lo == b->lo;
}

/* Appends one attribute; the span's own list stays where it was. */
static bool add_attr(struct kt_span_record *r, const char *key, struct kt_value v)
{
	return kt_attrs_append(&r->arena, &r->span.attrs, key, v);
}

static struct kt_value str_val(const char *s)
{
	return (struct kt_value){ .type = KT_VAL_STRING, .s = { s, strlen(s) } };
}

/* ------------------------------------------------------------ completion */

static bool seen(const struct sandbox *b, uint64_t id)
{
	return kt_id_map_get(&b->seen, id, NULL) || kt_id_map_get(&b->seen_old, id, NULL);
}

static void mark_seen(struct sandbox *b, uint64_t id)
{
	if (kt_id_map_put(&b->seen, id, 0)) {
		/* Full: the older generation goes; parents rarely arrive long before children. */
		kt_id_map_free(&b->seen_old);
		b->seen_old = b->seen;
		kt_id_map_init(&b->seen, b->seen_old.max);
		if (kt_id_map_put(&b->seen, id, 0))
			KT_STAT_INC(stitch_untracked);
	}
	uint32_t i;
	if (kt_id_map_get(&b->missing, id, &i)) {
		b->parents[i].id = 0;
		kt_id_map_del(&b->missing, id);
	}
}

static void note_parent(struct sandbox *b, uint64_t id, const struct kt_trace_id *trace,
			uint64_t start, uint64_t end)
{
	uint32_t i;
	if (kt_id_map_get(&b->missing, id, &i)) {
		struct parent *p = &b->parents[i];
		p->start = start < p->start ? start : p->start;
		p->end = end > p->end ? end : p->end;
		p->children++;
		return;
	}
	if (b->n_parents == b->cap_parents) {
		size_t cap = b->cap_parents ? b->cap_parents * 2 : 16;
		struct parent *np =
			b->n_parents < b->missing.max ? realloc(b->parents, cap * sizeof(*np)) : NULL;
		if (!np) {
			KT_STAT_INC(stitch_untracked);
			return;
		}
		b->parents = np;
		b->cap_parents = cap;
	}
	if (kt_id_map_put(&b->missing, id, (uint32_t)b->n_parents)) {
		KT_STAT_INC(stitch_untracked);
		return;
	}
	b->parents[b->n_parents++] =
		(struct parent){ .id = id, .trace = *trace, .start = start, .end = end, .children = 1 };
}

static void track(struct sandbox *b, const struct kt_span_record *r)
{
	const struct kt_span *sp = &r->span;
	mark_seen(b, sp->ctx.span_id);
	if (sp->parent_span_id && !seen(b, sp->parent_span_id))
		note_parent(b, sp->parent_span_id, &sp->ctx.trace_id, sp->start_unix_nano,
			    sp->end_unix_nano);
}

static void emit(struct kt_stitch *s, struct sandbox *b, struct kt_span_record *r)
{
	if (b && !b->completed)
		track(b, r);
	s->out.span(s->out.ctx, r);
}

/* A span for parent p that never arrived. */
static void synthesise(struct kt_stitch *s, struct sandbox *b, const struct parent *p)
{
	bool is_root = p->id == b->root;
	struct kt_span_record *r = kt_span_record_new(64u << 10);
	if (!r || !kt_span_record_set_service(r, b->service[0] ? b->service : "kata")) {
		kt_span_record_free(r);
		kt_stat_drop(KT_REC_SPANS, KT_DROP_NO_MEMORY, 1);
		return;
	}
	struct kt_span *sp = &r->span;
	r->source = KT_SPAN_FROM_STITCH;
	sp->ctx.trace_id = p->trace;
	sp->ctx.span_id = p->id;
	sp->ctx.trace_flags = 1;
	sp->parent_span_id = is_root || !trace_eq(&p->trace, &b->trace) ? 0 : b->root;
	sp->kind = KT_KIND_INTERNAL;
	sp->name = is_root ? (struct kt_str){ "kata.sandbox", 12 }
			   : (struct kt_str){ "missing-parent", 14 };
	sp->start_unix_nano = p->start;
	sp->end_unix_nano = p->end;
	bool ok = add_attr(r, "katatrace.synthesized", (struct kt_value){ .type = KT_VAL_BOOL, .b = true }) &&
		  add_attr(r, "katatrace.synthesized.reason",
			   str_val(is_root ? "the sandbox ended before its VM's span was seen"
					   : "the sandbox ended and this parent never arrived")) &&
		  add_attr(r, "katatrace.synthesized.children",
			   (struct kt_value){ .type = KT_VAL_I64, .i = p->children });
	if (is_root) {
		/* The sandbox's memory may go before the record is exported: a copy. */
		char *id = kt_arena_memdup0(&r->arena, b->id, strlen(b->id));
		ok = ok && id && add_attr(r, "katatrace.sandbox.id", str_val(id));
	}
	if (!ok) {
		kt_span_record_free(r);
		kt_stat_drop(KT_REC_SPANS, KT_DROP_NO_MEMORY, 1);
		return;
	}
	r->origin = kt_origin_get(b->origin);
	KT_STAT_INC(parents_synthesized);
	emit(s, b, r);
}

static void complete(struct kt_stitch *s, struct sandbox *b)
{
	release_held(s, b, 0, true);
	if (s->cfg.complete) {
		/* The sandbox's root last: the others may add children to it. */
		for (size_t i = 0; i < b->n_parents; i++) {
			struct parent p = b->parents[i];
			if (p.id && p.id != b->root)
				synthesise(s, b, &p);
		}
		uint32_t i;
		if (kt_id_map_get(&b->missing, b->root, &i)) {
			struct parent p = b->parents[i];
			synthesise(s, b, &p);
		}
	}
	b->completed = true;
	sandbox_release_maps(b);
}

/* ------------------------------------------------------------ collation */

/* "CreateContainer" and "create_container" both become "createcontainer". */
static void method_key(const char *p, size_t n, char out[RPC_KEY_MAX])
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < RPC_KEY_MAX; i++)
		if (p[i] != '_')
			out[o++] = (char)tolower((unsigned char)p[i]);
	out[o] = 0;
	/* The one RPC whose agent span is not named after its method. */
	if (!strcmp(out, "updatemounts"))
		strcpy(out, "updateephemeralmounts");
}

static bool runtime_trace(const struct sandbox *b, const struct kt_trace_id *id)
{
	for (size_t i = 0; i < TRACE_RING; i++)
		if (trace_eq(&b->runtime[i], id))
			return true;
	return false;
}

/* The host-side call a root span of the agent served, or NULL (now: monotonic). */
static struct rpc_call *match_rpc(struct kt_stitch *s, struct sandbox *b, const struct kt_span *sp,
				  uint64_t now)
{
	char key[RPC_KEY_MAX];
	method_key(sp->name.ptr, sp->name.len, key);
	struct rpc_call *best = NULL;
	uint64_t best_d = UINT64_MAX, k = s->cfg.skew_ns;
	for (size_t i = 0; i < RPC_RING; i++) {
		struct rpc_call *c = &b->rpc[i];
		if (!c->span_id || c->matched || strcmp(c->key, key))
			continue;
		/*
		 * Within the call, give or take the guest's clock. A call still
		 * open (end UINT64_MAX) has lasted until now: a root cannot have
		 * started later than that, which keeps a guest clock far in the
		 * future from taking it. No sum may wrap: a guest clock can sit
		 * at either end of the range.
		 */
		uint64_t lo = c->start > k ? c->start - k : 0;
		uint64_t hi = c->end != UINT64_MAX ? c->end : c->start + (now > c->opened ? now - c->opened : 0);
		hi = hi > UINT64_MAX - k ? UINT64_MAX : hi + k;
		if (sp->start_unix_nano < lo || sp->start_unix_nano > hi ||
		    (c->end != UINT64_MAX && sp->end_unix_nano > hi))
			continue;
		uint64_t d = sp->start_unix_nano > c->start ? sp->start_unix_nano - c->start
							    : c->start - sp->start_unix_nano;
		if (d < best_d) {
			best = c;
			best_d = d;
		}
	}
	return best;
}

/*
 * Moves a span of the agent's own trace into the sandbox's. Returns false
 * for a root whose call is not known yet (unless last_chance): it waits.
 */
static bool move(struct kt_stitch *s, struct sandbox *b, struct kt_span_record *r, bool last_chance,
		 uint64_t now)
{
	struct kt_span *sp = &r->span;
	const char *how = NULL;
	if (!sp->parent_span_id) {
		bool agent_root = kt_str_eq(sp->name, "root-span");
		struct rpc_call *c = agent_root ? NULL : match_rpc(s, b, sp, now);
		if (c) {
			c->matched = true;
			sp->parent_span_id = c->span_id;
			how = "rpc";
		} else if (!last_chance && !agent_root) {
			return false;
		} else {
			sp->parent_span_id = b->root;
			how = "sandbox";
		}
	}
	char hex[33];
	kt_trace_id_hex(&sp->ctx.trace_id, hex);
	char *orig = kt_arena_memdup0(&r->arena, hex, 32);
	sp->ctx.trace_id = b->trace;
	if (!orig || !add_attr(r, "katatrace.agent.trace_id", str_val(orig)) ||
	    (how && !add_attr(r, "katatrace.collated", str_val(how))))
		KT_STAT_INC(stitch_untracked); /* still a valid span, only less explained */
	KT_STAT_INC(spans_collated);
	return true;
}

static void hold(struct kt_stitch *s, struct sandbox *b, struct kt_span_record *r, uint64_t now,
		 uint64_t deadline)
{
	struct held *h = malloc(sizeof(*h));
	if (!h) {
		move(s, b, r, true, now);
		emit(s, b, r);
		return;
	}
	*h = (struct held){ .next = b->held, .r = r, .deadline = deadline };
	b->held = h;
}

/* Waiting roots: those past their time (or all) go under the sandbox's root. */
static void release_held(struct kt_stitch *s, struct sandbox *b, uint64_t now, bool all)
{
	for (struct held **pp = &b->held; *pp;) {
		struct held *h = *pp;
		if (!all && now < h->deadline) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		move(s, b, h->r, true, now);
		emit(s, b, h->r);
		free(h);
	}
}

/* A new call: waiting roots of the agent may have served it. */
static void retry_roots(struct kt_stitch *s, struct sandbox *b, uint64_t now)
{
	for (struct held **pp = &b->held; *pp;) {
		struct held *h = *pp;
		if (!move(s, b, h->r, false, now)) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		emit(s, b, h->r);
		free(h);
	}
}

static void agent_span(struct kt_stitch *s, struct sandbox *b, struct kt_span_record *r,
		       uint64_t now)
{
	const struct kt_trace_id *id = &r->span.ctx.trace_id;
	if (!s->cfg.collate || trace_eq(id, &b->trace) || runtime_trace(b, id) ||
	    move(s, b, r, false, now))
		emit(s, b, r);
	else
		hold(s, b, r, now, now + s->cfg.hold_ns);
}

static void rpc_span(struct kt_stitch *s, struct sandbox *b, struct kt_span_record *r)
{
	/* The call is over: its end bounds which agent spans it may own. */
	for (size_t i = 0; i < RPC_RING; i++)
		if (b->rpc[i].span_id == r->span.ctx.span_id)
			b->rpc[i].end = r->span.end_unix_nano;
	emit(s, b, r);
}

/* ------------------------------------------------------------ API */

struct kt_stitch *kt_stitch_new(const struct kt_stitch_cfg *cfg,
				const struct kt_record_sink *out)
{
	struct kt_stitch *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	if (!s->cfg.max_sandboxes)
		s->cfg.max_sandboxes = 1;
	s->sb = calloc(s->cfg.max_sandboxes, sizeof(*s->sb));
	if (!s->sb) {
		free(s);
		return NULL;
	}
	s->out = *out;
	return s;
}

void kt_stitch_span(struct kt_stitch *s, struct kt_span_record *r, uint64_t now)
{
	const char *id = r->origin ? r->origin->sandbox_id : NULL;
	struct sandbox *b = id && (s->cfg.collate || s->cfg.complete) ? sandbox_get(s, id, now) : NULL;
	if (!b || b->completed) {
		if (id && !b)
			KT_STAT_INC(stitch_untracked);
		s->out.span(s->out.ctx, r);
		return;
	}
	b->last_used = now;
	if (b->origin != r->origin) {
		kt_origin_put(b->origin);
		b->origin = kt_origin_get(r->origin);
	}
	if (r->source == KT_SPAN_FROM_AGENT && r->span.resource_present) {
		const struct kt_kv *kv = kt_kvlist_find(&r->span.resource, "service.name");
		if (kv && kv->value.type == KT_VAL_STRING && kv->value.s.len < SERVICE_MAX) {
			memcpy(b->service, kv->value.s.ptr, kv->value.s.len);
			b->service[kv->value.s.len] = 0;
		}
	}
	switch (r->source) {
	case KT_SPAN_FROM_AGENT:
		agent_span(s, b, r, now);
		break;
	case KT_SPAN_FROM_RPC:
		rpc_span(s, b, r);
		break;
	default:
		/* The VM's own span: its hypervisor exited, so did the sandbox. */
		if (r->source == KT_SPAN_FROM_HOST && r->span.ctx.span_id == b->root && !b->ended_at)
			b->ended_at = now ? now : 1;
		emit(s, b, r);
		break;
	}
}

uint64_t kt_stitch_rpc_request(struct kt_stitch *s, const char *sandbox_id,
			       const struct kt_rpc_request *c, uint64_t now)
{
	struct sandbox *b = sandbox_id && s->cfg.collate ? sandbox_get(s, sandbox_id, now) : NULL;
	if (!b || b->completed)
		return 0;
	b->last_used = now;
	if (c->has_traceparent) {
		/* The runtime traces this call: the agent's spans will name it themselves. */
		b->runtime[b->runtime_next++ % TRACE_RING] = c->trace_id;
		return 0;
	}
	/* Only the agent's services have agent spans named after their methods. */
	if (c->service.len < 5 || memcmp(c->service.ptr, "grpc.", 5))
		return 0;
	uint64_t id = kt_random_span_id();
	struct rpc_call *rc = &b->rpc[b->rpc_next++ % RPC_RING];
	method_key(c->method.ptr, c->method.len, rc->key);
	rc->span_id = id;
	rc->start = c->start_unix_ns;
	rc->end = UINT64_MAX;
	rc->opened = now;
	rc->matched = false;
	if (b->held)
		retry_roots(s, b, now);
	return id;
}

void kt_stitch_sandbox_end(struct kt_stitch *s, const char *sandbox_id, uint64_t now)
{
	struct sandbox *b = sandbox_find(s, sandbox_id);
	if (b && !b->ended_at)
		b->ended_at = now ? now : 1;
}

void kt_stitch_tick(struct kt_stitch *s, uint64_t now)
{
	for (size_t i = 0; i < s->n_sb; i++) {
		struct sandbox *b = s->sb[i];
		if (b->completed) {
			/* Late spans had their time: forget it. */
			if (now > b->last_used + TOMBSTONE_NS)
				sandbox_remove(s, i--);
			continue;
		}
		if (b->held)
			release_held(s, b, now, false);
		if (b->ended_at && now >= b->ended_at + s->cfg.grace_ns)
			complete(s, b);
	}
}

void kt_stitch_flush(struct kt_stitch *s, bool end_all)
{
	for (size_t i = 0; i < s->n_sb; i++) {
		struct sandbox *b = s->sb[i];
		if (b->completed)
			continue;
		if (end_all)
			complete(s, b);
		else
			release_held(s, b, 0, true);
	}
}

size_t kt_stitch_sandboxes(const struct kt_stitch *s)
{
	return s->n_sb;
}

void kt_stitch_free(struct kt_stitch *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_sb; i++)
		sandbox_free(s->sb[i]);
	free(s->sb);
	free(s);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "rpc/ttrpc_rpc.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/pb_budget.h"
#include "ttrpc/ttrpc.pb-c.h"
#include "base/utf8.h"

#define KT_TTRPC_MAX_OUTSTANDING_CAP (1u << 20)
/* Longest status message passed on; longer ones are cut at a UTF-8 boundary. */
#define KT_TTRPC_MAX_STATUS_MESSAGE 4096

const char *const kt_ttrpc_default_long_poll[] = {
	"WaitProcess", "ReadStdout", "ReadStderr", "GetOOMEvent", NULL,
};

enum { LIST_ORDINARY, LIST_LONG_POLL, N_LISTS };

/* One outstanding request. text holds service, method, tracestate, note, each NUL-terminated. */
struct call_node {
	struct call_node *hnext;       /* hash chain */
	struct call_node *prev, *next; /* its age list, oldest first */
	uint32_t stream_id;
	uint64_t seq; /* arrival order */
	int64_t timeout_nano;
	uint64_t request_size;
	struct kt_ttrpc_time start;
	bool long_poll;
	bool has_traceparent, has_tracestate;
	struct kt_trace_id trace_id;
	uint64_t parent_span_id;
	uint64_t span_id; /* chosen at the request by ops->request (0: none) */
	uint8_t trace_flags;
	size_t service_len, method_len, tracestate_len, note_len;
	char text[];
};

static size_t node_size(const struct call_node *n)
{
	return sizeof(*n) + n->service_len + n->method_len + n->tracestate_len + n->note_len + 4;
}

struct age_list {
	struct call_node *head, *tail;
};

struct kt_ttrpc_conn {
	struct kt_ttrpc_cfg cfg;
	const struct kt_ttrpc_conn_ops *ops;
	void *ctx;
	char *label;
	size_t label_size;
	struct kt_ttrpc_framer fr[2];
	struct call_node **buckets; /* allocated at the first request */
	size_t nbuckets;	    /* power of two */
	struct age_list lists[N_LISTS];
	size_t outstanding;
	uint64_t seq; /* requests registered so far */
	bool closed;
	struct kt_ttrpc_stats st;
	char msg[KT_TTRPC_MAX_STATUS_MESSAGE + 1];
};

const char *kt_ttrpc_end_name(enum kt_ttrpc_end e)
{
	switch (e) {
	case KT_TTRPC_END_RESPONSE:
		return "response";
	case KT_TTRPC_END_BAD_RESPONSE:
		return "bad_response";
	case KT_TTRPC_END_CLOSED:
		return "connection_closed";
	case KT_TTRPC_END_EXPIRED:
		return "expired";
	case KT_TTRPC_END_EVICTED:
		return "evicted";
	case KT_TTRPC_END_REPLACED:
		return "replaced";
	}
	return "?";
}

/* ------------------------------------------------------------ W3C trace context */

static int hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case is invalid in traceparent */
}

/* n lower-case hex digits (n <= 16) into *v. */
static bool hex_u64(const uint8_t *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hex_digit(s[i]);
		if (d < 0)
			return false;
		x = x << 4 | (uint64_t)d;
	}
	*v = x;
	return true;
}

bool kt_ttrpc_traceparent_parse(const uint8_t *s, size_t n, struct kt_trace_id *trace_id,
				uint64_t *parent_id, uint8_t *flags)
{
	uint64_t hi, lo, span, fl;

	if (n != KT_TTRPC_TRACEPARENT_LEN || s[0] != '0' || s[1] != '0' || s[2] != '-' ||
	    s[35] != '-' || s[52] != '-')
		return false;
	if (!hex_u64(s + 3, 16, &hi) || !hex_u64(s + 19, 16, &lo) ||
	    !hex_u64(s + 36, 16, &span) || !hex_u64(s + 53, 2, &fl))
		return false;
	if ((hi == 0 && lo == 0) || span == 0)
		return false;
	trace_id->hi = hi;
	trace_id->lo = lo;
	*parent_id = span;
	*flags = (uint8_t)fl;
	return true;
}

static bool ts_lcalpha(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool ts_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool ts_key_char(char c)
{
	return ts_lcalpha(c) || ts_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

/* first: the allowed first characters; then up to max - 1 key characters. */
static bool ts_key_part(const char *k, size_t n, size_t max, bool digit_first)
{
	if (n == 0 || n > max || !(ts_lcalpha(k[0]) || (digit_first && ts_digit(k[0]))))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!ts_key_char(k[i]))
			return false;
	return true;
}

static bool ts_key(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);
	if (!at)
		return ts_key_part(k, n, 256, false);
	size_t tn = (size_t)(at - k);
	return ts_key_part(k, tn, 241, true) && ts_key_part(at + 1, n - tn - 1, 14, false);
}

static bool ts_value(const char *v, size_t n)
{
	if (n == 0 || n > 256 || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
			return false;
	return true;
}

int kt_ttrpc_tracestate_parse(const char *s, size_t n, struct kt_tracestate_entry *out)
{
	struct kt_tracestate_entry m[KT_TTRPC_TRACESTATE_MAX_MEMBERS];
	int count = 0;
	size_t i = 0;

	while (i <= n) {
		const char *end = memchr(s + i, ',', n - i);
		size_t j = end ? (size_t)(end - s) : n;
		size_t a = i, b = j;
		while (a < b && (s[a] == ' ' || s[a] == '\t'))
			a++;
		while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
			b--;
		if (a < b) {
			const char *eq = memchr(s + a, '=', b - a);
			if (!eq || count == KT_TTRPC_TRACESTATE_MAX_MEMBERS)
				return -1;
			size_t kn = (size_t)(eq - (s + a));
			struct kt_tracestate_entry e = {
				.key = { s + a, kn },
				.value = { eq + 1, b - a - kn - 1 },
			};
			if (!ts_key(e.key.ptr, e.key.len) || !ts_value(e.value.ptr, e.value.len))
				return -1;
			for (int k = 0; k < count; k++)
				if (m[k].key.len == e.key.len &&
				    !memcmp(m[k].key.ptr, e.key.ptr, e.key.len))
					return -1;
			m[count++] = e;
		}
		i = j + 1;
	}
	if (out)
		memcpy(out, m, (size_t)count * sizeof(m[0]));
	return count;
}

/* ------------------------------------------------------------ the outstanding table */

static uint64_t mono_to_unix(struct kt_ttrpc_time t)
{
	if (t.realtime_off_ns < 0 && (uint64_t)-(t.realtime_off_ns + 1) + 1 > t.mono_ns)
		return 0;
	return t.mono_ns + (uint64_t)t.realtime_off_ns;
}

static size_t bucket_of(const struct kt_ttrpc_conn *c, uint32_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & (c->nbuckets - 1);
}

static struct call_node **find_slot(struct kt_ttrpc_conn *c, uint32_t id)
{
	if (!c->buckets)
		return NULL;
	struct call_node **pp = &c->buckets[bucket_of(c, id)];
	while (*pp && (*pp)->stream_id != id)
		pp = &(*pp)->hnext;
	return *pp ? pp : NULL;
}

static struct age_list *list_of(struct kt_ttrpc_conn *c, const struct call_node *n)
{
	return &c->lists[n->long_poll ? LIST_LONG_POLL : LIST_ORDINARY];
}

static void unlink_node(struct kt_ttrpc_conn *c, struct call_node *n)
{
	struct call_node **pp = find_slot(c, n->stream_id);
	if (pp)
		*pp = n->hnext;
	struct age_list *l = list_of(c, n);
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	c->outstanding--;
}

/* What the request said, as a call that ends where it started. */
static struct kt_ttrpc_call request_call(const struct call_node *n)
{
	const char *tracestate = n->text + n->service_len + n->method_len + 2;
	return (struct kt_ttrpc_call){
		.service = { n->text, n->service_len },
		.method = { n->text + n->service_len + 1, n->method_len },
		.stream_id = n->stream_id,
		.timeout_nano = n->timeout_nano,
		.request_size = n->request_size,
		.start_mono_ns = n->start.mono_ns,
		.end_mono_ns = n->start.mono_ns,
		.start_unix_ns = mono_to_unix(n->start),
		.end_unix_ns = mono_to_unix(n->start),
		.long_poll = n->long_poll,
		.has_traceparent = n->has_traceparent,
		.trace_id = n->trace_id,
		.parent_span_id = n->parent_span_id,
		.trace_flags = n->trace_flags,
		.has_tracestate = n->has_tracestate,
		.tracestate = { tracestate, n->tracestate_len },
		.span_id = n->span_id,
		.note = { tracestate + n->tracestate_len + 1, n->note_len },
	};
}

/* Reports the call and frees it. message: UTF-8, NUL-terminated, len bytes. */
static void finish(struct kt_ttrpc_conn *c, struct call_node *n, enum kt_ttrpc_end end,
		   int32_t code, const char *message, size_t len, uint64_t response_size,
		   size_t details, struct kt_ttrpc_time t)
{
	unlink_node(c, n);
	struct kt_ttrpc_call call = request_call(n);
	call.response_size = response_size;
	call.end_mono_ns = t.mono_ns;
	call.end_unix_ns = mono_to_unix(t);
	call.end = end;
	call.status_code = code;
	call.status_message = (struct kt_str){ message, len };
	call.status_details = details;
	if (call.end_mono_ns < call.start_mono_ns)
		call.end_mono_ns = call.start_mono_ns;
	if (call.end_unix_ns < call.start_unix_ns)
		call.end_unix_ns = call.start_unix_ns;
	if (end == KT_TTRPC_END_RESPONSE || end == KT_TTRPC_END_BAD_RESPONSE)
		c->st.responses++;
	else
		c->st.no_response++;
	if (end == KT_TTRPC_END_EVICTED)
		c->st.evicted++;
	else if (end == KT_TTRPC_END_EXPIRED)
		c->st.expired++;
	else if (end == KT_TTRPC_END_REPLACED)
		c->st.replaced++;
	c->st.calls++;
	if (c->ops && c->ops->call)
		c->ops->call(c->ctx, &call);
	kt_mem_free(c->cfg.state_acct, n, node_size(n));
}

/* Reports a call that got no response; why is printf-formatted into c->msg. */
__attribute__((format(printf, 5, 6))) static void give_up(struct kt_ttrpc_conn *c,
							  struct call_node *n,
							  enum kt_ttrpc_end end,
							  struct kt_ttrpc_time t,
							  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	size_t n_msg = len < 0 ? 0 : (size_t)len < sizeof(c->msg) ? (size_t)len : sizeof(c->msg) - 1;
	finish(c, n, end, KT_GRPC_UNKNOWN, c->msg, n_msg, 0, 0, t);
}

static uint64_t age_limit(const struct kt_ttrpc_conn *c, int list)
{
	return list == LIST_LONG_POLL ? c->cfg.long_poll_max_age_ns : c->cfg.max_age_ns;
}

static void expire(struct kt_ttrpc_conn *c, struct kt_ttrpc_time t)
{
	for (int l = 0; l < N_LISTS; l++) {
		uint64_t max = age_limit(c, l);
		struct call_node *n;
		while (max && (n = c->lists[l].head) && t.mono_ns >= n->start.mono_ns &&
		       t.mono_ns - n->start.mono_ns >= max)
			give_up(c, n, KT_TTRPC_END_EXPIRED, t, "no response within %llu s",
				(unsigned long long)(max / 1000000000ull));
	}
}

static bool ensure_buckets(struct kt_ttrpc_conn *c)
{
	if (c->buckets)
		return true;
	/* A full table averages chains of four; most connections hold a few calls. */
	size_t nb = 16;
	while (nb < c->cfg.max_outstanding / 4)
		nb *= 2;
	c->buckets = kt_mem_calloc(c->cfg.state_acct, nb, sizeof(*c->buckets));
	if (!c->buckets)
		return false;
	c->nbuckets = nb;
	return true;
}

static void insert(struct kt_ttrpc_conn *c, struct call_node *n)
{
	struct call_node **b = &c->buckets[bucket_of(c, n->stream_id)];
	n->hnext = *b;
	*b = n;
	struct age_list *l = list_of(c, n);
	n->prev = l->tail;
	n->next = NULL;
	if (l->tail)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
	n->seq = ++c->seq;
	c->outstanding++;
	c->st.requests++;
}

/* ------------------------------------------------------------ requests */

__attribute__((format(printf, 3, 4))) static void report(struct kt_ttrpc_conn *c, uint32_t id,
							 const char *fmt, ...)
{
	char why[256], msg[512];
	va_list ap;

	if (!c->ops || !c->ops->error)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s: ttrpc stream %u: %s", c->label, id, why);
	c->ops->error(c->ctx, msg);
}

static bool bytes_eq(ProtobufCBinaryData b, const char *lit)
{
	size_t n = strlen(lit);
	return b.len == n && (n == 0 || !memcmp(b.data, lit, n));
}

/* A request name: present, bounded, UTF-8. NULL when fine, else the problem. */
static const char *check_name(ProtobufCBinaryData b)
{
	if (b.len == 0)
		return "empty";
	if (b.len > KT_TTRPC_MAX_NAME)
		return "longer than 256 bytes";
	if (kt_utf8_check(b.data, b.len) != b.len)
		return "not valid UTF-8";
	return NULL;
}

static bool is_long_poll(const struct kt_ttrpc_conn *c, ProtobufCBinaryData method)
{
	const char *const *list = c->cfg.long_poll ? c->cfg.long_poll : kt_ttrpc_default_long_poll;
	for (size_t i = 0; list[i]; i++)
		if (bytes_eq(method, list[i]))
			return true;
	return false;
}

struct trace_ctx {
	bool has_traceparent, has_tracestate;
	struct kt_trace_id trace_id;
	uint64_t parent_span_id;
	uint8_t flags;
	size_t ts_len;
	char ts[KT_TTRPC_MAX_TRACESTATE];
};

/*
 * traceparent must occur once (the agent joins repeated values with ',',
 * which no valid traceparent contains); tracestate values are joined.
 */
static void trace_context(struct kt_ttrpc_conn *c, const Ttrpc__Request *r, struct trace_ctx *tc)
{
	const Ttrpc__KeyValue *tp = NULL;
	size_t ntp = 0, nts = 0, ts_total = 0;

	for (size_t i = 0; i < r->n_metadata; i++) {
		const Ttrpc__KeyValue *kv = r->metadata[i];
		if (bytes_eq(kv->key, "traceparent")) {
			tp = kv;
			ntp++;
		} else if (bytes_eq(kv->key, "tracestate")) {
			nts++;
			ts_total += kv->value.len + 1;
		}
	}
	if (!ntp)
		return;
	if (ntp > 1 || !kt_ttrpc_traceparent_parse(tp->value.data, tp->value.len, &tc->trace_id,
						   &tc->parent_span_id, &tc->flags)) {
		c->st.traceparent_invalid++;
		return;
	}
	tc->has_traceparent = true;
	if (!nts)
		return;
	if (ts_total - 1 > KT_TTRPC_MAX_TRACESTATE) {
		c->st.tracestate_invalid++;
		return;
	}
	for (size_t i = 0; i < r->n_metadata; i++) {
		const Ttrpc__KeyValue *kv = r->metadata[i];
		if (!bytes_eq(kv->key, "tracestate"))
			continue;
		if (tc->ts_len)
			tc->ts[tc->ts_len++] = ',';
		if (kv->value.len)
			memcpy(tc->ts + tc->ts_len, kv->value.data, kv->value.len);
		tc->ts_len += kv->value.len;
	}
	int members = kt_ttrpc_tracestate_parse(tc->ts, tc->ts_len, NULL);
	if (members <= 0) {
		if (members < 0)
			c->st.tracestate_invalid++;
		tc->ts_len = 0; /* an empty list carries nothing */
		return;
	}
	tc->has_tracestate = true;
}

static struct call_node *new_node(struct kt_ttrpc_conn *c, const Ttrpc__Request *r,
				  const struct trace_ctx *tc, const uint8_t *note, size_t note_len)
{
	size_t text = r->service.len + r->method.len + tc->ts_len + note_len + 4;
	struct call_node *n = kt_mem_calloc(c->cfg.state_acct, 1, sizeof(*n) + text);
	if (!n)
		return NULL;
	n->service_len = r->service.len;
	n->method_len = r->method.len;
	n->tracestate_len = tc->ts_len;
	n->note_len = note_len;
	memcpy(n->text, r->service.data, r->service.len);
	memcpy(n->text + r->service.len + 1, r->method.data, r->method.len);
	if (tc->ts_len)
		memcpy(n->text + r->service.len + r->method.len + 2, tc->ts, tc->ts_len);
	if (note_len)
		memcpy(n->text + r->service.len + r->method.len + tc->ts_len + 3, note, note_len);
	n->timeout_nano = r->timeout_nano;
	n->request_size = r->payload.len;
	n->has_traceparent = tc->has_traceparent;
	n->has_tracestate = tc->has_tracestate;
	n->trace_id = tc->trace_id;
	n->parent_span_id = tc->parent_span_id;
	n->trace_flags = tc->flags;
	return n;
}

/* Room for one more: the oldest ordinary call goes first, long-poll calls last. */
static void make_room(struct kt_ttrpc_conn *c, struct kt_ttrpc_time t)
{
	while (c->outstanding >= c->cfg.max_outstanding) {
		struct call_node *n = c->lists[LIST_ORDINARY].head;
		if (!n)
			n = c->lists[LIST_LONG_POLL].head;
		give_up(c, n, KT_TTRPC_END_EVICTED, t, "no response while %zu calls were outstanding",
			c->cfg.max_outstanding);
	}
}

static void on_request(struct kt_ttrpc_conn *c, const struct kt_ttrpc_frame *f)
{
	struct kt_pb_budget b = { .limit = c->cfg.unpack_limit, .acct = c->cfg.state_acct };
	ProtobufCAllocator al = kt_pb_budget_allocator(&b);
	Ttrpc__Request *r = ttrpc__request__unpack(&al, f->length, f->payload);
	const char *bad;

	if (!r) {
		c->st.bad_requests++;
		report(c, f->stream_id, "%u-byte request %s", f->length,
		       b.hit ? "needs more memory to decode than allowed" : "is not a ttrpc Request");
		return;
	}
	if ((bad = check_name(r->service)) || (bad = check_name(r->method))) {
		c->st.bad_requests++;
		report(c, f->stream_id, "request %s is %s", check_name(r->service) ? "service" : "method",
		       bad);
		ttrpc__request__free_unpacked(r, &al);
		return;
	}
	struct trace_ctx tc = { 0 };
	trace_context(c, r, &tc);
	uint8_t note[KT_TTRPC_MAX_NOTE];
	size_t note_len = 0;
	if (c->ops && c->ops->note) {
		struct kt_ttrpc_request rq = {
			.service = { (const char *)r->service.data, r->service.len },
			.method = { (const char *)r->method.data, r->method.len },
			.stream_id = f->stream_id,
			.payload = r->payload.data,
			.payload_len = r->payload.len,
		};
		note_len = c->ops->note(c->ctx, &rq, note, sizeof(note));
		if (note_len > sizeof(note))
			note_len = 0;
	}
	struct call_node *n = new_node(c, r, &tc, note, note_len);
	bool lp = is_long_poll(c, r->method);
	ttrpc__request__free_unpacked(r, &al);
	if (!n || !ensure_buckets(c)) {
		if (n)
			kt_mem_free(c->cfg.state_acct, n, node_size(n));
		c->st.bad_requests++;
		report(c, f->stream_id, "out of memory for a request");
		return;
	}
	n->stream_id = f->stream_id;
	n->start = f->first;
	n->long_poll = lp;
	struct call_node **old = find_slot(c, f->stream_id);
	if (old)
		give_up(c, *old, KT_TTRPC_END_REPLACED, f->first,
			"no response before a new request on the same stream id");
	make_room(c, f->first);
	insert(c, n);
	if (c->ops && c->ops->request) {
		struct kt_ttrpc_call call = request_call(n);
		n->span_id = c->ops->request(c->ctx, &call);
	}
}

/* ------------------------------------------------------------ responses */

/* len bytes of valid UTF-8 cut to at most max, not inside a sequence. */
static size_t utf8_cut(const uint8_t *p, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && (p[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static void on_response(struct kt_ttrpc_conn *c, const struct kt_ttrpc_frame *f)
{
	struct call_node **slot = find_slot(c, f->stream_id);
	if (!slot) {
		c->st.unmatched_responses++;
		return;
	}
	struct call_node *n = *slot;
	struct kt_pb_budget b = { .limit = c->cfg.unpack_limit, .acct = c->cfg.state_acct };
	ProtobufCAllocator al = kt_pb_budget_allocator(&b);
	Ttrpc__Response *r = ttrpc__response__unpack(&al, f->length, f->payload);

	if (!r) {
		c->st.bad_responses++;
		give_up(c, n, KT_TTRPC_END_BAD_RESPONSE, f->last, "%u-byte response %s", f->length,
			b.hit ? "needs more memory to decode than allowed" : "is not a ttrpc Response");
		return;
	}
	const Google__Rpc__Status *s = r->status;
	int32_t code = s ? s->code : KT_GRPC_OK;
	const uint8_t *m = s ? s->message.data : NULL;
	size_t mlen = s ? s->message.len : 0;
	enum kt_ttrpc_end end = KT_TTRPC_END_RESPONSE;

	if (mlen && kt_utf8_check(m, mlen) != mlen) {
		c->st.bad_responses++;
		end = KT_TTRPC_END_BAD_RESPONSE;
		m = (const uint8_t *)"status message is not valid UTF-8";
		mlen = strlen((const char *)m);
	}
	mlen = utf8_cut(m, mlen, KT_TTRPC_MAX_STATUS_MESSAGE);
	if (mlen)
		memcpy(c->msg, m, mlen);
	c->msg[mlen] = '\0';
	finish(c, n, end, code, c->msg, mlen, r->payload.len, s ? s->n_details : 0, f->last);
	ttrpc__response__free_unpacked(r, &al);
}

/* ------------------------------------------------------------ framing callbacks */

static void on_frame(struct kt_ttrpc_conn *c, enum kt_ttrpc_dir dir, const struct kt_ttrpc_frame *f)
{
	c->st.frames[dir]++;
	if (dir == KT_TTRPC_TO_SERVER && f->type == KT_TTRPC_REQUEST)
		on_request(c, f);
	else if (dir == KT_TTRPC_TO_CLIENT && f->type == KT_TTRPC_RESPONSE)
		on_response(c, f);
	else
		c->st.other_frames++;
}

static void on_frame_to_server(void *ctx, const struct kt_ttrpc_frame *f)
{
	on_frame(ctx, KT_TTRPC_TO_SERVER, f);
}

static void on_frame_to_client(void *ctx, const struct kt_ttrpc_frame *f)
{
	on_frame(ctx, KT_TTRPC_TO_CLIENT, f);
}

static void on_stream_error(void *ctx, const char *msg)
{
	struct kt_ttrpc_conn *c = ctx;
	c->st.stream_errors++;
	if (c->ops && c->ops->error)
		c->ops->error(c->ctx, msg);
}

static const struct kt_ttrpc_framer_ops framer_ops[2] = {
	[KT_TTRPC_TO_SERVER] = { .frame = on_frame_to_server, .error = on_stream_error },
	[KT_TTRPC_TO_CLIENT] = { .frame = on_frame_to_client, .error = on_stream_error },
};

/* ------------------------------------------------------------ public */

struct kt_ttrpc_conn *kt_ttrpc_conn_new(const struct kt_ttrpc_cfg *cfg, const char *label,
					const struct kt_ttrpc_conn_ops *ops, void *ctx)
{
	struct kt_mem_acct *state = cfg ? cfg->state_acct : NULL;
	struct kt_ttrpc_conn *c = kt_mem_calloc(state, 1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = cfg ? *cfg : KT_TTRPC_CFG_DEFAULT;
	if (c->cfg.max_outstanding == 0)
		c->cfg.max_outstanding = KT_TTRPC_DEFAULT_MAX_OUTSTANDING;
	if (c->cfg.max_outstanding > KT_TTRPC_MAX_OUTSTANDING_CAP)
		c->cfg.max_outstanding = KT_TTRPC_MAX_OUTSTANDING_CAP;
	if (c->cfg.unpack_limit == 0)
		c->cfg.unpack_limit = KT_TTRPC_DEFAULT_UNPACK_LIMIT;
	if (!label)
		label = "ttrpc connection";
	c->label_size = strlen(label) + 1;
	c->label = kt_mem_malloc(state, c->label_size);
	if (!c->label) {
		kt_mem_free(state, c, sizeof(*c));
		return NULL;
	}
	memcpy(c->label, label, c->label_size);
	c->ops = ops;
	c->ctx = ctx;
	for (int d = 0; d < 2; d++) {
		kt_ttrpc_framer_init(&c->fr[d], (enum kt_ttrpc_dir)d, c->cfg.handshake,
				     c->cfg.max_payload, c->label, &framer_ops[d], c);
		c->fr[d].acct = c->cfg.buf_acct;
	}
	return c;
}

void kt_ttrpc_conn_push(struct kt_ttrpc_conn *c, enum kt_ttrpc_dir dir, const uint8_t *p,
			size_t n, struct kt_ttrpc_time t)
{
	if (c->closed || (dir != KT_TTRPC_TO_SERVER && dir != KT_TTRPC_TO_CLIENT))
		return;
	expire(c, t);
	if (n)
		kt_ttrpc_framer_push(&c->fr[dir], p, n, t);
}

void kt_ttrpc_conn_gap(struct kt_ttrpc_conn *c, enum kt_ttrpc_dir dir)
{
	if (!c->closed && (dir == KT_TTRPC_TO_SERVER || dir == KT_TTRPC_TO_CLIENT))
		kt_ttrpc_framer_gap(&c->fr[dir]);
}

void kt_ttrpc_conn_tick(struct kt_ttrpc_conn *c, struct kt_ttrpc_time t)
{
	if (!c->closed)
		expire(c, t);
}

void kt_ttrpc_conn_close(struct kt_ttrpc_conn *c, struct kt_ttrpc_time t)
{
	if (c->closed)
		return;
	c->closed = true;
	for (int d = 0; d < 2; d++) {
		c->st.truncated_bytes += kt_ttrpc_framer_pending(&c->fr[d]);
		kt_ttrpc_framer_free(&c->fr[d]);
	}
	/* In arrival order, whatever the list. */
	for (;;) {
		struct call_node *a = c->lists[LIST_ORDINARY].head;
		struct call_node *b = c->lists[LIST_LONG_POLL].head;
		struct call_node *n = !a ? b : !b ? a : b->seq < a->seq ? b : a;
		if (!n)
			break;
		give_up(c, n, KT_TTRPC_END_CLOSED, t, "connection closed");
	}
}

bool kt_ttrpc_conn_unfinished(const struct kt_ttrpc_conn *c, enum kt_ttrpc_dir dir,
			      void (*put)(void *ctx, const uint8_t *p, size_t n), void *ctx)
{
	if (c->closed || (dir != KT_TTRPC_TO_SERVER && dir != KT_TTRPC_TO_CLIENT))
		return false;
	return kt_ttrpc_framer_unfinished(&c->fr[dir], put, ctx);
}

void kt_ttrpc_conn_free(struct kt_ttrpc_conn *c)
{
	if (!c)
		return;
	for (int l = 0; l < N_LISTS; l++) {
		struct call_node *n = c->lists[l].head;
		while (n) {
			struct call_node *next = n->next;
			kt_mem_free(c->cfg.state_acct, n, node_size(n));
			n = next;
		}
	}
	for (int d = 0; d < 2; d++)
		kt_ttrpc_framer_free(&c->fr[d]);
	struct kt_mem_acct *state = c->cfg.state_acct;
	kt_mem_free(state, c->buckets, c->nbuckets * sizeof(*c->buckets));
	kt_mem_free(state, c->label, c->label_size);
	kt_mem_free(state, c, sizeof(*c));
}

uint64_t kt_ttrpc_conn_shed(struct kt_ttrpc_conn *c)
{
	uint64_t dropped = 0;
	for (int d = 0; d < 2; d++)
		dropped += kt_ttrpc_framer_shed(&c->fr[d]);
	return dropped;
}

const struct kt_ttrpc_stats *kt_ttrpc_conn_stats(const struct kt_ttrpc_conn *c)
{
	return &c->st;
}

size_t kt_ttrpc_conn_outstanding(const struct kt_ttrpc_conn *c)
{
	return c->outstanding;
}

bool kt_ttrpc_conn_port(const struct kt_ttrpc_conn *c, enum kt_ttrpc_dir dir, uint32_t *port)
{
	if ((dir != KT_TTRPC_TO_SERVER && dir != KT_TTRPC_TO_CLIENT) || !c->fr[dir].have_port)
		return false;
	*port = c->fr[dir].port;
	return true;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Deep comparison of two decoded spans (tests/oracle/decode_json_ref.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tests/oracle/decode_json_ref.h"

struct cmp {
	char *why;
	size_t len;
	char path[160];
};

static int differ(struct cmp *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int differ(struct cmp *c, const char *fmt, ...)
{
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (c->why && c->len)
		snprintf(c->why, c->len, "%s: %s", c->path, what);
	return -1;
}

/* Appends a path segment; returns the previous length to restore. */
static size_t enter(struct cmp *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static size_t enter(struct cmp *c, const char *fmt, ...)
{
	size_t k = strlen(c->path);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->path + k, sizeof(c->path) - k, fmt, ap);
	va_end(ap);
	return k;
}

static void leave(struct cmp *c, size_t k)
{
	c->path[k] = '\0';
}

static int ptr_kind(struct cmp *c, const void *a, const void *b, const char *what)
{
	if ((a == NULL) != (b == NULL))
		return differ(c, "%s pointer %s vs %s", what, a ? "set" : "NULL", b ? "set" : "NULL");
	return 0;
}

static int str(struct cmp *c, struct kt_str a, struct kt_str b, const char *what)
{
	if (ptr_kind(c, a.ptr, b.ptr, what))
		return -1;
	if (a.len != b.len)
		return differ(c, "%s length %zu vs %zu", what, a.len, b.len);
	if (a.len && memcmp(a.ptr, b.ptr, a.len) != 0)
		return differ(c, "%s bytes differ", what);
	if (a.ptr && (a.ptr[a.len] != '\0' || b.ptr[b.len] != '\0'))
		return differ(c, "%s not NUL-terminated", what);
	return 0;
}

static int u64(struct cmp *c, uint64_t a, uint64_t b, const char *what)
{
	if (a != b)
		return differ(c, "%s %llu vs %llu", what, (unsigned long long)a,
			      (unsigned long long)b);
	return 0;
}

static int dbl(struct cmp *c, double a, double b, const char *what)
{
	uint64_t x, y;
	memcpy(&x, &a, 8);
	memcpy(&y, &b, 8);
	if (x != y)
		return differ(c, "%s bits %016llx vs %016llx", what, (unsigned long long)x,
			      (unsigned long long)y);
	return 0;
}

static int value(struct cmp *c, const struct kt_value *a, const struct kt_value *b)
{
	if (a->type != b->type)
		return differ(c, "value type %d vs %d", (int)a->type, (int)b->type);
	switch (a->type) {
	case KT_VAL_BOOL:
		return u64(c, a->b, b->b, "bool");
	case KT_VAL_I64:
		return u64(c, (uint64_t)a->i, (uint64_t)b->i, "i64");
	case KT_VAL_F64:
		return dbl(c, a->f, b->f, "f64");
	case KT_VAL_STRING:
		return str(c, a->s, b->s, "string");
	default:
		break;
	}
	if (a->arr.n != b->arr.n)
		return differ(c, "array length %zu vs %zu", a->arr.n, b->arr.n);
	if (ptr_kind(c, a->arr.b, b->arr.b, "array"))
		return -1;
	for (size_t i = 0; i < a->arr.n; i++) {
		size_t k = enter(c, "[%zu]", i);
		int r = 0;
		switch (a->type) {
		case KT_VAL_ARRAY_BOOL:
			r = u64(c, a->arr.b[i], b->arr.b[i], "bool");
			break;
		case KT_VAL_ARRAY_I64:
			r = u64(c, (uint64_t)a->arr.i[i], (uint64_t)b->arr.i[i], "i64");
			break;
		case KT_VAL_ARRAY_F64:
			r = dbl(c, a->arr.f[i], b->arr.f[i], "f64");
			break;
		default:
			r = str(c, a->arr.s[i], b->arr.s[i], "string");
			break;
		}
		if (r)
			return -1;
		leave(c, k);
	}
	return 0;
}

static int kvlist(struct cmp *c, const struct kt_kvlist *a, const struct kt_kvlist *b,
		  const char *name)
{
	size_t k0 = enter(c, "%s%s", c->path[0] ? "." : "", name);
	if (a->n != b->n)
		return differ(c, "%zu vs %zu entries", a->n, b->n);
	if (ptr_kind(c, a->kv, b->kv, "list"))
		return -1;
	for (size_t i = 0; i < a->n; i++) {
		size_t k = enter(c, "[%zu]", i);
		if (str(c, a->kv[i].key, b->kv[i].key, "key") ||
		    value(c, &a->kv[i].value, &b->kv[i].value))
			return -1;
		leave(c, k);
	}
	leave(c, k0);
	return 0;
}

static int ctx(struct cmp *c, const struct kt_span_context *a, const struct kt_span_context *b)
{
	if (u64(c, a->trace_id.hi, b->trace_id.hi, "trace_id.hi") ||
	    u64(c, a->trace_id.lo, b->trace_id.lo, "trace_id.lo") ||
	    u64(c, a->span_id, b->span_id, "span_id") ||
	    u64(c, a->trace_flags, b->trace_flags, "trace_flags") ||
	    u64(c, a->is_remote, b->is_remote, "is_remote") ||
	    u64(c, a->trace_state_present, b->trace_state_present, "trace_state_present") ||
	    u64(c, a->trace_state_n, b->trace_state_n, "trace_state_n") ||
	    ptr_kind(c, a->trace_state, b->trace_state, "trace_state"))
		return -1;
	for (size_t i = 0; i < a->trace_state_n; i++) {
		size_t k = enter(c, ".trace_state[%zu]", i);
		if (str(c, a->trace_state[i].key, b->trace_state[i].key, "key") ||
		    str(c, a->trace_state[i].value, b->trace_state[i].value, "value"))
			return -1;
		leave(c, k);
	}
	return 0;
}

int kt_span_diff(const struct kt_span *a, const struct kt_span *b, char *why, size_t len)
{
	struct cmp cc = {.why = why, .len = len}, *c = &cc;
	if (why && len)
		why[0] = '\0';
	if (ctx(c, &a->ctx, &b->ctx) || u64(c, a->parent_span_id, b->parent_span_id, "parent") ||
	    u64(c, a->kind, b->kind, "kind") || str(c, a->name, b->name, "name") ||
	    u64(c, a->start_unix_nano, b->start_unix_nano, "start") ||
	    u64(c, a->end_unix_nano, b->end_unix_nano, "end") ||
	    kvlist(c, &a->attrs, &b->attrs, "attrs") ||
	    u64(c, a->attrs_max_len, b->attrs_max_len, "attrs_max_len") ||
	    u64(c, a->attrs_dropped, b->attrs_dropped, "attrs_dropped") ||
	    u64(c, a->events_present, b->events_present, "events_present") ||
	    u64(c, a->n_events, b->n_events, "n_events") ||
	    ptr_kind(c, a->events, b->events, "events") ||
	    u64(c, a->events_max_len, b->events_max_len, "events_max_len") ||
	    u64(c, a->events_dropped, b->events_dropped, "events_dropped") ||
	    u64(c, a->links_present, b->links_present, "links_present") ||
	    u64(c, a->n_links, b->n_links, "n_links") ||
	    ptr_kind(c, a->links, b->links, "links") ||
	    u64(c, a->links_max_len, b->links_max_len, "links_max_len") ||
	    u64(c, a->links_dropped, b->links_dropped, "links_dropped") ||
	    u64(c, a->status_code, b->status_code, "status_code") ||
	    str(c, a->status_message, b->status_message, "status_message") ||
	    u64(c, a->resource_present, b->resource_present, "resource_present") ||
	    kvlist(c, &a->resource, &b->resource, "resource"))
		return -1;
	for (size_t i = 0; i < a->n_events; i++) {
		const struct kt_event *x = &a->events[i], *y = &b->events[i];
		size_t k = enter(c, "events[%zu]", i);
		if (str(c, x->name, y->name, "name") ||
		    u64(c, x->time_unix_nano, y->time_unix_nano, "time") ||
		    kvlist(c, &x->attrs, &y->attrs, "attrs") ||
		    u64(c, x->dropped_attributes_count, y->dropped_attributes_count, "dropped"))
			return -1;
		leave(c, k);
	}
	for (size_t i = 0; i < a->n_links; i++) {
		const struct kt_link *x = &a->links[i], *y = &b->links[i];
		size_t k = enter(c, "links[%zu]", i);
		if (ctx(c, &x->ctx, &y->ctx) || kvlist(c, &x->attrs, &y->attrs, "attrs") ||
		    u64(c, x->dropped_attributes_count, y->dropped_attributes_count, "dropped"))
			return -1;
		leave(c, k);
	}
	return 0;
}

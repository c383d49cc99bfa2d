/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hand-built span records for exporter tests. Everything is allocated in the
 * record's own arena, as the decoders do.
 */
#ifndef KT_TEST_SPAN_FIXTURE_H
#define KT_TEST_SPAN_FIXTURE_H

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "exporters/otlp_build.h"
#include "model/span_record.h"

#define FX_UNUSED __attribute__((unused))

static FX_UNUSED struct kt_str fx_strn(struct kt_arena *a, const char *s, size_t n)
{
	char *p = kt_arena_memdup0(a, s, n);
	cr_assert_not_null(p);
	return (struct kt_str){ .ptr = p, .len = n };
}

static FX_UNUSED struct kt_str fx_str(struct kt_arena *a, const char *s)
{
	return fx_strn(a, s, strlen(s));
}

/* Literal with possible embedded NULs. */
#define FX_LIT(a, lit) fx_strn((a), (lit), sizeof(lit) - 1)

static FX_UNUSED struct kt_kv fx_kv_str(struct kt_arena *a, const char *k, const char *v)
{
	return (struct kt_kv){ .key = fx_str(a, k),
			       .value = { .type = KT_VAL_STRING, .s = fx_str(a, v) } };
}

static FX_UNUSED struct kt_kv fx_kv_i64(struct kt_arena *a, const char *k, int64_t v)
{
	return (struct kt_kv){ .key = fx_str(a, k), .value = { .type = KT_VAL_I64, .i = v } };
}

static FX_UNUSED struct kt_kv fx_kv_f64(struct kt_arena *a, const char *k, double v)
{
	return (struct kt_kv){ .key = fx_str(a, k), .value = { .type = KT_VAL_F64, .f = v } };
}

static FX_UNUSED struct kt_kv fx_kv_bool(struct kt_arena *a, const char *k, bool v)
{
	return (struct kt_kv){ .key = fx_str(a, k), .value = { .type = KT_VAL_BOOL, .b = v } };
}

static FX_UNUSED struct kt_kvlist fx_list(struct kt_arena *a, size_t n, const struct kt_kv *kvs)
{
	struct kt_kvlist l = { .n = n };
	if (n) {
		l.kv = kt_arena_calloc(a, n, sizeof(*l.kv));
		cr_assert_not_null(l.kv);
		memcpy(l.kv, kvs, n * sizeof(*kvs));
	}
	return l;
}

#define FX_LIST(a, ...)                                                                   \
	fx_list((a), sizeof((struct kt_kv[]){ __VA_ARGS__ }) / sizeof(struct kt_kv),       \
		(struct kt_kv[]){ __VA_ARGS__ })

static FX_UNUSED struct kt_tracestate_entry *fx_tracestate(struct kt_arena *a, size_t n, ...)
{
	struct kt_tracestate_entry *e = kt_arena_calloc(a, n ? n : 1, sizeof(*e));
	cr_assert_not_null(e);
	va_list ap;
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		e[i].key = fx_str(a, va_arg(ap, const char *));
		e[i].value = fx_str(a, va_arg(ap, const char *));
	}
	va_end(ap);
	return e;
}

/*
 * The "worked" span of WIRE-FORMATS §2.6 without events or resource:
 * trace 0af7651916cd43dd8448eb211c80319c, span b7ad6b7169203331,
 * parent 00f067aa0ba902b7, Internal, sampled.
 */
static FX_UNUSED struct kt_span_record *fx_record(const char *name)
{
	struct kt_span_record *r = kt_span_record_new(0);
	cr_assert_not_null(r);
	struct kt_span *s = &r->span;
	s->ctx.trace_id.hi = 0x0af7651916cd43ddull;
	s->ctx.trace_id.lo = 0x8448eb211c80319cull;
	s->ctx.span_id = 0xb7ad6b7169203331ull;
	s->ctx.trace_flags = 1;
	s->parent_span_id = 0x00f067aa0ba902b7ull;
	s->kind = KT_KIND_INTERNAL;
	s->name = fx_str(&r->arena, name);
	s->start_unix_nano = 1700000000000005000ull;
	s->end_unix_nano = 1700000000250005000ull;
	s->attrs_max_len = 128;
	s->events_max_len = 128;
	s->links_max_len = 128;
	return r;
}

/* Appends r to the list whose last element is *tail (or starts it). */
static FX_UNUSED void fx_append(struct kt_span_record **head, struct kt_span_record *r)
{
	struct kt_span_record **p = head;
	while (*p)
		p = &(*p)->next;
	*p = r;
}

static FX_UNUSED struct kt_origin *fx_origin(const char *transport, const char *sandbox)
{
	struct kt_arena a;
	kt_arena_init(&a, 0);
	struct kt_kvlist l = sandbox ? FX_LIST(&a, fx_kv_str(&a, "katatrace.transport", transport),
					       fx_kv_str(&a, "katatrace.sandbox.id", sandbox))
				     : FX_LIST(&a, fx_kv_str(&a, "katatrace.transport", transport));
	struct kt_origin *o = kt_origin_new(&l, sandbox, transport);
	kt_arena_free(&a);
	cr_assert_not_null(o);
	return o;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Invariants every decode result must satisfy, whatever the input: a failure
 * leaves a message and a zeroed span; a success holds only NUL-terminated,
 * valid UTF-8 strings, in-range enums and attribute lists without duplicates.
 * A violation traps, which the fuzzer reports as a crash.
 */
#ifndef KT_FUZZ_SPAN_CHECK_H
#define KT_FUZZ_SPAN_CHECK_H

#include <string.h>

#include "agent/decode.h"
#include "base/utf8.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

static void check_str(struct kt_str s)
{
	CHECK(s.ptr != NULL);
	CHECK(s.ptr[s.len] == '\0');
	CHECK(kt_utf8_check((const uint8_t *)s.ptr, s.len) == s.len);
}

static void check_value(const struct kt_value *v)
{
	CHECK((unsigned)v->type <= KT_VAL_ARRAY_STRING);
	if (v->type == KT_VAL_STRING)
		check_str(v->s);
	if (v->type >= KT_VAL_ARRAY_BOOL)
		CHECK(v->arr.n == 0 || v->arr.b != NULL);
	if (v->type == KT_VAL_ARRAY_STRING)
		for (size_t i = 0; i < v->arr.n; i++)
			check_str(v->arr.s[i]);
}

static void check_kvs(const struct kt_kvlist *l, bool unique)
{
	CHECK(l->n == 0 || l->kv != NULL);
	for (size_t i = 0; i < l->n; i++) {
		check_str(l->kv[i].key);
		check_value(&l->kv[i].value);
		/* Quadratic, but fuzz inputs are small. */
		for (size_t j = 0; unique && j < i; j++)
			CHECK(l->kv[i].key.len != l->kv[j].key.len ||
			      memcmp(l->kv[i].key.ptr, l->kv[j].key.ptr, l->kv[i].key.len) != 0);
	}
}

static void check_ctx(const struct kt_span_context *c)
{
	CHECK(c->trace_state_present || c->trace_state_n == 0);
	for (size_t i = 0; i < c->trace_state_n; i++) {
		check_str(c->trace_state[i].key);
		check_str(c->trace_state[i].value);
	}
}

static void check_result(int rc, const struct kt_span *s, const struct kt_decode_error *err)
{
	static const struct kt_span zero;
	if (rc != 0) {
		CHECK(rc == -1);
		CHECK(err->msg[0] != '\0');
		CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
		CHECK(memcmp(s, &zero, sizeof(zero)) == 0);
		return;
	}
	check_ctx(&s->ctx);
	CHECK((unsigned)s->kind <= KT_KIND_INTERNAL);
	CHECK((unsigned)s->status_code <= KT_STATUS_ERROR);
	check_str(s->name);
	check_str(s->status_message);
	check_kvs(&s->attrs, true);
	CHECK(s->events_present || s->n_events == 0);
	for (size_t i = 0; i < s->n_events; i++) {
		check_str(s->events[i].name);
		check_kvs(&s->events[i].attrs, false);
	}
	CHECK(s->links_present || s->n_links == 0);
	for (size_t i = 0; i < s->n_links; i++) {
		check_ctx(&s->links[i].ctx);
		check_kvs(&s->links[i].attrs, false);
	}
	CHECK(s->resource_present || s->resource.n == 0);
	check_kvs(&s->resource, true);
}

/* Decode through fmt under a bounded arena and check the result. */
static void decode_and_check(enum kt_format fmt, const uint8_t *p, size_t n)
{
	struct kt_arena a;
	struct kt_span s;
	struct kt_decode_error err;
	enum kt_format used;
	kt_arena_init(&a, 8u << 20);
	int rc = kt_decode_span(fmt, p, n, &a, &s, &used, &err);
	CHECK(fmt == KT_FORMAT_AUTO ? used == kt_sniff_format(p, n) : used == fmt);
	check_result(rc, &s, &err);
	kt_arena_free(&a);
}

#endif

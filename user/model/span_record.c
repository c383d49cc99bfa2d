/* SPDX-License-Identifier: Apache-2.0 */
#include "model/span_record.h"

#include <stdlib.h>
#include <string.h>

static uint64_t next_origin_id = 1; /* atomic */

static int copy_str(struct kt_arena *a, struct kt_str *dst, struct kt_str src)
{
	char *p = kt_arena_memdup0(a, src.ptr, src.len);
	if (!p)
		return -1;
	dst->ptr = p;
	dst->len = src.len;
	return 0;
}

struct kt_origin *kt_origin_new(const struct kt_kvlist *attrs, const char *sandbox_id,
				const char *label)
{
	struct kt_origin *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->refs = 1;
	o->id = __atomic_fetch_add(&next_origin_id, 1, __ATOMIC_RELAXED);
	kt_arena_init(&o->arena, 0);
	if (attrs && attrs->n) {
		o->attrs.kv = kt_arena_calloc(&o->arena, attrs->n, sizeof(struct kt_kv));
		if (!o->attrs.kv)
			goto fail;
		for (size_t i = 0; i < attrs->n; i++) {
			const struct kt_kv *s = &attrs->kv[i];
			struct kt_kv *d = &o->attrs.kv[i];
			/* Transport attributes are scalars: strings, ints, bools. */
			*d = *s;
			if (copy_str(&o->arena, &d->key, s->key))
				goto fail;
			if (s->value.type == KT_VAL_STRING &&
			    copy_str(&o->arena, &d->value.s, s->value.s))
				goto fail;
		}
		o->attrs.n = attrs->n;
	}
	if (sandbox_id && !(o->sandbox_id = kt_arena_memdup0(&o->arena, sandbox_id,
							     strlen(sandbox_id))))
		goto fail;
	if (!label)
		label = "";
	if (!(o->label = kt_arena_memdup0(&o->arena, label, strlen(label))))
		goto fail;
	return o;
fail:
	kt_arena_free(&o->arena);
	free(o);
	return NULL;
}

bool kt_origin_set_scope(struct kt_origin *o, const char *scope_name)
{
	char *s = kt_arena_memdup0(&o->arena, scope_name, strlen(scope_name));
	if (s)
		o->scope_name = s;
	return s != NULL;
}

struct kt_origin *kt_origin_get(struct kt_origin *o)
{
	if (o)
		__atomic_fetch_add(&o->refs, 1, __ATOMIC_RELAXED);
	return o;
}

void kt_origin_put(struct kt_origin *o)
{
	if (o && __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		kt_arena_free(&o->arena);
		free(o);
	}
}

struct kt_span_record *kt_span_record_new(size_t arena_limit)
{
	struct kt_span_record *r = calloc(1, sizeof(*r));
	if (r)
		kt_arena_init(&r->arena, arena_limit);
	return r;
}

struct kt_shared_arena *kt_shared_arena_adopt(struct kt_arena *a)
{
	struct kt_shared_arena *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->refs = 1;
	s->arena = *a;
	kt_arena_init(a, a->limit);
	return s;
}

void kt_shared_arena_put(struct kt_shared_arena *s)
{
	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		kt_arena_free(&s->arena);
		free(s);
	}
}

struct kt_span_record *kt_span_record_new_shared(struct kt_shared_arena *s,
						 const struct kt_span *span)
{
	struct kt_span_record *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	kt_arena_init(&r->arena, 0);
	__atomic_fetch_add(&s->refs, 1, __ATOMIC_RELAXED);
	r->shared = s;
	r->span = *span;
	return r;
}

bool kt_span_record_set_service(struct kt_span_record *r, const char *name)
{
	struct kt_kv *kv = kt_arena_calloc(&r->arena, 1, sizeof(*kv));
	char *copy = kv ? kt_arena_memdup0(&r->arena, name, strlen(name)) : NULL;
	if (!copy)
		return false;
	kv->key = (struct kt_str){ "service.name", 12 };
	kv->value.type = KT_VAL_STRING;
	kv->value.s = (struct kt_str){ copy, strlen(copy) };
	r->span.resource_present = true;
	r->span.resource = (struct kt_kvlist){ 1, kv };
	return true;
}

void kt_span_record_free(struct kt_span_record *r)
{
	if (!r)
		return;
	kt_arena_free(&r->arena);
	kt_shared_arena_put(r->shared);
	kt_origin_put(r->origin);
	free(r);
}

void kt_span_record_free_list(struct kt_span_record *head)
{
	while (head) {
		struct kt_span_record *next = head->next;
		kt_span_record_free(head);
		head = next;
	}
}

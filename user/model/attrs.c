/* SPDX-License-Identifier: Apache-2.0 */
#include "model/attrs.h"

#include <string.h>

bool kt_attrs_init(struct kt_attrs *b, struct kt_arena *a, size_t cap)
{
	kt_attrs_init_on(b, kt_arena_calloc(a, cap, sizeof(struct kt_kv)), cap, a);
	if (!b->kv) {
		b->cap = 0;
		b->failed = true;
	}
	return !b->failed;
}

void kt_attrs_init_on(struct kt_attrs *b, struct kt_kv *kv, size_t cap, struct kt_arena *a)
{
	b->a = a;
	b->kv = kv;
	b->n = 0;
	b->cap = cap;
	b->failed = false;
}

static struct kt_kv *add_key(struct kt_attrs *b, struct kt_str key)
{
	if (b->n >= b->cap) {
		b->failed = true;
		return NULL;
	}
	struct kt_kv *kv = &b->kv[b->n++];
	kv->key = key;
	return kv;
}

static struct kt_kv *add(struct kt_attrs *b, const char *key)
{
	return add_key(b, (struct kt_str){ key, strlen(key) }); /* static: outlives any arena */
}

void kt_attrs_data_str(struct kt_attrs *b, struct kt_str key, struct kt_str v)
{
	struct kt_kv *kv = add_key(b, key);
	if (kv) {
		kv->value.type = KT_VAL_STRING;
		kv->value.s = v;
	}
}

void kt_attrs_data_int(struct kt_attrs *b, struct kt_str key, int64_t v)
{
	struct kt_kv *kv = add_key(b, key);
	if (kv) {
		kv->value.type = KT_VAL_I64;
		kv->value.i = v;
	}
}

void kt_attrs_str(struct kt_attrs *b, const char *key, struct kt_str v)
{
	struct kt_kv *kv = add(b, key);
	if (kv) {
		kv->value.type = KT_VAL_STRING;
		kv->value.s = v;
	}
}

void kt_attrs_cstr(struct kt_attrs *b, const char *key, const char *v)
{
	kt_attrs_str(b, key, (struct kt_str){ v, strlen(v) });
}

struct kt_str kt_attrs_dup(struct kt_attrs *b, const char *p, size_t n)
{
	char *s = b->a ? kt_arena_memdup0(b->a, p ? p : "", n) : NULL;
	if (!s) {
		b->failed = true;
		return (struct kt_str){ "", 0 };
	}
	return (struct kt_str){ s, n };
}

void kt_attrs_copy(struct kt_attrs *b, const char *key, struct kt_str v)
{
	if (b->n >= b->cap) {
		b->failed = true;
		return;
	}
	struct kt_str s = kt_attrs_dup(b, v.ptr, v.len);
	if (!b->failed)
		kt_attrs_str(b, key, s);
}

void kt_attrs_int(struct kt_attrs *b, const char *key, int64_t v)
{
	struct kt_kv *kv = add(b, key);
	if (kv) {
		kv->value.type = KT_VAL_I64;
		kv->value.i = v;
	}
}

void kt_attrs_bool(struct kt_attrs *b, const char *key, bool v)
{
	struct kt_kv *kv = add(b, key);
	if (kv) {
		kv->value.type = KT_VAL_BOOL;
		kv->value.b = v;
	}
}

bool kt_attrs_append(struct kt_arena *a, struct kt_kvlist *l, const char *key, struct kt_value v)
{
	struct kt_kv *kv = kt_arena_calloc(a, l->n + 1, sizeof(*kv));
	if (!kv)
		return false;
	if (l->n)
		memcpy(kv, l->kv, l->n * sizeof(*kv));
	kv[l->n].key = (struct kt_str){ key, strlen(key) };
	kv[l->n].value = v;
	*l = (struct kt_kvlist){ l->n + 1, kv };
	return true;
}

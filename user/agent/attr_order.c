/* SPDX-License-Identifier: Apache-2.0 */
#include "agent/attr_order.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Keys are looked up through a sorted index rather than pairwise, so that a
 * hostile frame with many keys costs n log n, not n * m.
 */
struct key_ref {
	struct kt_str key;
	size_t idx;
};

static int key_cmp(struct kt_str a, struct kt_str b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int r = n ? memcmp(a.ptr, b.ptr, n) : 0;
	if (r)
		return r;
	return (a.len > b.len) - (a.len < b.len);
}

static int ref_cmp(const void *x, const void *y)
{
	const struct key_ref *a = x, *b = y;
	int r = key_cmp(a->key, b->key);
	if (r)
		return r;
	return (a->idx > b->idx) - (a->idx < b->idx);
}

/* Sorted index of the keys; fails on the first duplicate. */
static struct key_ref *sorted_unique(struct kt_dctx *d, const struct kt_kv *kv, size_t n)
{
	struct key_ref *refs = kt_dctx_alloc(d, n, sizeof(*refs));
	if (!refs)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		refs[i].key = kv[i].key;
		refs[i].idx = i;
	}
	qsort(refs, n, sizeof(*refs), ref_cmp);
	for (size_t i = 1; i < n; i++) {
		if (key_cmp(refs[i - 1].key, refs[i].key) == 0) {
			char buf[48];
			kt_dctx_set_error(d, "duplicate key \"%s\"",
					  kt_dctx_preview(refs[i].key, buf, sizeof(buf)));
			return NULL;
		}
	}
	return refs;
}

int kt_kv_unique(struct kt_dctx *d, const struct kt_kv *kv, size_t n)
{
	return n < 2 || sorted_unique(d, kv, n) ? 0 : -1;
}

static const struct key_ref *find(const struct key_ref *refs, size_t n, struct kt_str key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = key_cmp(refs[mid].key, key);
		if (r == 0)
			return &refs[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int kt_attr_order(struct kt_dctx *d, const struct kt_kv *map, size_t n, const struct kt_str *evict,
		  size_t m, struct kt_kvlist *out)
{
	out->n = 0;
	out->kv = kt_dctx_alloc(d, n, sizeof(*out->kv));
	if (!out->kv)
		return -1;
	if (n == 0)
		return 0;
	struct key_ref *refs = sorted_unique(d, map, n);
	bool *done = refs ? kt_dctx_alloc(d, n, sizeof(*done)) : NULL;
	if (!done)
		return -1;

	size_t k = 0;
	for (size_t j = m; j-- > 0;) {
		const struct key_ref *r = find(refs, n, evict[j]);
		if (r && !done[r->idx]) {
			done[r->idx] = true;
			out->kv[k++] = map[r->idx];
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!done[i])
			out->kv[k++] = map[i];
	out->n = k;
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "agent/attr_order.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/byte_order.h"

/*
 * Keys are looked up through a sorted index rather than pairwise, so that a
 * hostile frame with many keys costs n log n, not n * m. The sort is ours,
 * in place: glibc's qsort mallocs a scratch copy of larger arrays, and a
 * decoder allocates from its arena only. Each entry carries the key's first
 * 8 bytes as a big-endian number, so most comparisons are one integer
 * compare, not a memcmp call. An entry is 16 bytes: the head and the entry
 * itself (its key, and its wire position by its address).
 */
struct key_ref {
	uint64_t head;
	const struct kt_kv *kv;
};

static int key_cmp(struct kt_str a, struct kt_str b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int r = n ? memcmp(a.ptr, b.ptr, n) : 0;
	if (r)
		return r;
	return (a.len > b.len) - (a.len < b.len);
}

/*
 * Up to 8 bytes, zero-padded: heads that differ order their keys the way
 * key_cmp does (a shorter key's padding is below the longer key's byte
 * there, or equal to it and then the heads do not differ at that byte).
 */
static uint64_t key_head(struct kt_str k)
{
	uint8_t b[8] = {0};
	if (k.len) /* an empty key's pointer may be NULL */
		memcpy(b, k.ptr, k.len < 8 ? k.len : 8);
	return kt_be64(b);
}

static int head_key_cmp(uint64_t ha, struct kt_str a, uint64_t hb, struct kt_str b)
{
	if (ha != hb)
		return ha < hb ? -1 : 1;
	return key_cmp(a, b);
}

/* Key, then wire position: a total order, so the unstable sort is deterministic. */
static bool ref_less(const struct key_ref *a, const struct key_ref *b)
{
	int r = head_key_cmp(a->head, a->kv->key, b->head, b->kv->key);
	return r ? r < 0 : a->kv < b->kv;
}

/* Heapsort for its n log n worst case without scratch memory; insertion sort up to 16. */
static void sift_down(struct key_ref *v, size_t i, size_t n)
{
	struct key_ref x = v[i];
	for (size_t c; (c = 2 * i + 1) < n; i = c) {
		if (c + 1 < n && ref_less(&v[c], &v[c + 1]))
			c++;
		if (!ref_less(&x, &v[c]))
			break;
		v[i] = v[c];
	}
	v[i] = x;
}

static void sort_refs(struct key_ref *v, size_t n)
{
	if (n <= 16) {
		for (size_t i = 1; i < n; i++) {
			struct key_ref x = v[i];
			size_t j = i;
			for (; j > 0 && ref_less(&x, &v[j - 1]); j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
		return;
	}
	for (size_t i = n / 2; i-- > 0;)
		sift_down(v, i, n);
	for (size_t k = n; k-- > 1;) {
		struct key_ref t = v[0];
		v[0] = v[k];
		v[k] = t;
		sift_down(v, 0, k);
	}
}

/* Sorted index of the keys; fails on the first duplicate. */
static struct key_ref *sorted_unique(struct kt_dctx *d, const struct kt_kv *kv, size_t n)
{
	struct key_ref *refs = kt_dctx_alloc(d, n, sizeof(*refs));
	if (!refs)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		refs[i].head = key_head(kv[i].key);
		refs[i].kv = &kv[i];
	}
	sort_refs(refs, n);
	for (size_t i = 1; i < n; i++) {
		if (refs[i - 1].head == refs[i].head &&
		    key_cmp(refs[i - 1].kv->key, refs[i].kv->key) == 0) {
			char buf[48];
			kt_dctx_set_error(d, "duplicate key \"%s\"",
					  kt_dctx_preview(refs[i].kv->key, buf, sizeof(buf)));
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
	uint64_t head = key_head(key);
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = head_key_cmp(refs[mid].head, refs[mid].kv->key, head, key);
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
		size_t i = r ? (size_t)(r->kv - map) : 0;
		if (r && !done[i]) {
			done[i] = true;
			out->kv[k++] = map[i];
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!done[i])
			out->kv[k++] = map[i];
	out->n = k;
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attribute order and duplicate keys (agent/attr_order.h) against a
 * pairwise reference, on random key sets built to stress the sorted
 * index: keys sharing 8-byte heads, prefixes of each other, NUL and
 * high bytes, sizes on both sides of the small-array sort.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "agent/attr_order.h"
#include "test_rnd.h"

#define MAX_KEYS 300

struct keyset {
	char text[MAX_KEYS][16];
	struct kt_str key[MAX_KEYS];
	size_t n;
};

static int ref_cmp(struct kt_str a, struct kt_str b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int r = n ? memcmp(a.ptr, b.ptr, n) : 0;
	return r ? r : (a.len > b.len) - (a.len < b.len);
}

static bool str_eq(struct kt_str a, struct kt_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* A random key from a small alphabet, so that keys collide in head and prefix. */
static struct kt_str random_key(char *buf, const char *alphabet, size_t k)
{
	size_t len = rnd() % 13; /* 0..12: shorter and longer than a head */
	for (size_t i = 0; i < len; i++)
		buf[i] = alphabet[rnd() % k];
	buf[len] = '\0';
	return (struct kt_str){buf, len};
}

/* n distinct keys (fewer when the alphabet runs out of them). */
static void distinct_keys(struct keyset *s, size_t n, const char *alphabet, size_t k)
{
	s->n = 0;
	for (size_t tries = 0; s->n < n && tries < 50 * n; tries++) {
		struct kt_str key = random_key(s->text[s->n], alphabet, k);
		bool seen = false;
		for (size_t i = 0; i < s->n && !seen; i++)
			seen = str_eq(s->key[i], key);
		if (!seen)
			s->key[s->n++] = key;
	}
}

/* The rule of attr_order.h, pairwise. */
static size_t reference_order(const struct kt_kv *map, size_t n, const struct kt_str *evict,
			      size_t m, struct kt_kv *out)
{
	bool done[MAX_KEYS] = {0};
	size_t k = 0;
	for (size_t j = m; j-- > 0;)
		for (size_t i = 0; i < n; i++)
			if (str_eq(map[i].key, evict[j]) && !done[i]) {
				done[i] = true;
				out[k++] = map[i];
			}
	for (size_t i = 0; i < n; i++)
		if (!done[i])
			out[k++] = map[i];
	return k;
}

static const char alpha_bin[] = {'\0', 'a', 'b', '\x7f', '\x80', '\xc3', '\xff'};
static const char alpha_txt[] = {'a', 'b', 'c'};

Test(attr_order, matches_the_pairwise_rule)
{
	static struct keyset s;
	static struct kt_kv map[MAX_KEYS], want[MAX_KEYS];
	static struct kt_str evict[2 * MAX_KEYS];
	static const size_t sizes[] = {0, 1, 2, 3, 9, 15, 16, 17, 18, 31, 64, 129, 300};
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		for (int round = 0; round < 20; round++) {
			distinct_keys(&s, sizes[si], alpha_bin, sizeof(alpha_bin));
			size_t n = s.n;
			for (size_t i = 0; i < n; i++) {
				map[i].key = s.key[i];
				map[i].value.type = KT_VAL_I64;
				map[i].value.i = (int64_t)i;
			}
			/* evict: map keys (some repeated, some left out) and unknown ones */
			static char other[2 * MAX_KEYS][16];
			size_t m = n ? rnd() % (2 * n) : rnd() % 4;
			for (size_t j = 0; j < m; j++)
				evict[j] = n && rnd() % 4 ? map[rnd() % n].key
							  : random_key(other[j], alpha_bin,
								       sizeof(alpha_bin));

			size_t k = reference_order(map, n, evict, m, want);
			struct kt_arena a;
			kt_arena_init(&a, 0);
			struct kt_dctx d;
			struct kt_decode_error err;
			kt_dctx_init(&d, &a, &err);
			struct kt_kvlist out;
			cr_assert_eq(kt_attr_order(&d, map, n, evict, m, &out), 0, "n %zu: %s", n,
				     err.msg);
			cr_assert_eq(out.n, k, "n %zu", n);
			for (size_t i = 0; i < k; i++)
				cr_assert_eq(out.kv[i].value.i, want[i].value.i,
					     "n %zu m %zu: [%zu] is map[%lld], want map[%lld]", n, m,
					     i, (long long)out.kv[i].value.i,
					     (long long)want[i].value.i);
			cr_assert_eq(kt_kv_unique(&d, map, n), 0);
			kt_arena_free(&a);
		}
	}
}

Test(attr_order, a_duplicate_is_refused_naming_the_least_duplicated_key)
{
	static struct keyset s;
	static struct kt_kv map[MAX_KEYS];
	static const size_t sizes[] = {2, 3, 10, 16, 17, 40, 200};
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		for (int round = 0; round < 30; round++) {
			distinct_keys(&s, sizes[si] - 1, alpha_txt, sizeof(alpha_txt));
			size_t n = s.n;
			for (size_t i = 0; i < n; i++)
				map[i].key = s.key[i];
			/* one to three keys repeated at random places */
			size_t dups = 1 + rnd() % 3;
			struct kt_str least = {0};
			for (size_t r = 0; r < dups; r++) {
				struct kt_str k = map[rnd() % n].key;
				size_t at = rnd() % (n + 1);
				memmove(&map[at + 1], &map[at], (n - at) * sizeof(map[0]));
				map[at].key = k;
				n++;
				if (r == 0 || ref_cmp(k, least) < 0)
					least = k;
			}
			char want[64];
			snprintf(want, sizeof(want), "duplicate key \"%s\"", least.ptr);

			struct kt_arena a;
			kt_arena_init(&a, 0);
			struct kt_dctx d;
			struct kt_decode_error err;
			kt_dctx_init(&d, &a, &err);
			struct kt_kvlist out;
			cr_assert_eq(kt_attr_order(&d, map, n, NULL, 0, &out), -1, "n %zu", n);
			cr_assert_str_eq(err.msg, want);
			kt_dctx_init(&d, &a, &err);
			cr_assert_eq(kt_kv_unique(&d, map, n), -1, "n %zu", n);
			cr_assert_str_eq(err.msg, want);
			kt_arena_free(&a);
		}
	}
}

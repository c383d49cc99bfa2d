/* SPDX-License-Identifier: Apache-2.0 */
#include "model/span.h"

#include <string.h>

static void be64(uint64_t v, uint8_t out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

void kt_trace_id_bytes(const struct kt_trace_id *id, uint8_t out[16])
{
	be64(id->hi, out);
	be64(id->lo, out + 8);
}

void kt_span_id_bytes(uint64_t id, uint8_t out[8])
{
	be64(id, out);
}

static void hex64(uint64_t v, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--) {
		out[i] = digits[v & 0xf];
		v >>= 4;
	}
}

void kt_trace_id_hex(const struct kt_trace_id *id, char out[33])
{
	hex64(id->hi, out);
	hex64(id->lo, out + 16);
	out[32] = '\0';
}

void kt_span_id_hex(uint64_t id, char out[17])
{
	hex64(id, out);
	out[16] = '\0';
}

bool kt_str_eq(struct kt_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

const struct kt_kv *kt_kvlist_find(const struct kt_kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (kt_str_eq(l->kv[i].key, key))
			return &l->kv[i];
	return NULL;
}

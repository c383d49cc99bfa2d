/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attribute order of an opentelemetry EvictedHashMap. The map is a HashMap
 * (random order per process), so the only deterministic insertion order is
 * the reverse of evict_list (most recently inserted first).
 */
#ifndef KT_ATTR_ORDER_H
#define KT_ATTR_ORDER_H

#include <stddef.h>

#include "model/decode_ctx.h"
#include "model/span.h"

/*
 * out = the map entries in reverse(evict) order (evict keys absent from the
 * map are ignored, a repeated evict key counts at its first place in reverse
 * order), then the entries evict does not name, in wire order.
 * A duplicate map key fails.
 */
int kt_attr_order(struct kt_dctx *d, const struct kt_kv *map, size_t n, const struct kt_str *evict,
		  size_t m, struct kt_kvlist *out);

/* Fails on a duplicate key; kv keeps its order. */
int kt_kv_unique(struct kt_dctx *d, const struct kt_kv *kv, size_t n);

#endif

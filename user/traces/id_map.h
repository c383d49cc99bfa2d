/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bounded hash map from non-zero 64-bit ids (span ids) to 32-bit values:
 * open addressing with linear probing and backward-shift deletion, grown
 * by doubling up to a fixed number of entries. Beyond that, inserts fail
 * and the caller counts what it could not track.
 */
#ifndef KT_ID_MAP_H
#define KT_ID_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kt_id_map {
	uint64_t *keys; /* 0: empty slot */
	uint32_t *vals;
	size_t cap; /* power of two, or 0 before the first insert */
	size_t n;
	size_t max; /* most entries held */
};

void kt_id_map_init(struct kt_id_map *m, size_t max_entries);
void kt_id_map_free(struct kt_id_map *m);
/* Inserts or overwrites; -1 for id 0, when full, or on ENOMEM. */
int kt_id_map_put(struct kt_id_map *m, uint64_t id, uint32_t val);
/* The value of id, or false when absent. */
bool kt_id_map_get(const struct kt_id_map *m, uint64_t id, uint32_t *val);
bool kt_id_map_del(struct kt_id_map *m, uint64_t id);

#endif

// SPDX-License-Identifier: Apache-2.0
#include "traces/id_map.h"

#include <stdlib.h>

/* Span ids are random, but synthesised ones may not be: mix anyway. */
static size_t slot_of(uint64_t id, size_t cap)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdull;
	id ^= id >> 33;
	return (size_t)id & (cap - 1);
}

void kt_id_map_init(struct kt_id_map *m, size_t max_entries)
{
	*m = (struct kt_id_map){ .max = max_entries };
}

void kt_id_map_free(struct kt_id_map *m)
{
	free(m->keys);
	free(m->vals);
	kt_id_map_init(m, m->max);
}

static size_t find(const struct kt_id_map *m, uint64_t id)
{
	size_t i = slot_of(id, m->cap);
	while (m->keys[i] && m->keys[i] != id)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int grow(struct kt_id_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	uint64_t *keys = calloc(cap, sizeof(*keys));
	uint32_t *vals = calloc(cap, sizeof(*vals));
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -1;
	}
	struct kt_id_map old = *m;
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	for (size_t i = 0; i < old.cap; i++) {
		if (old.keys[i]) {
			size_t j = find(m, old.keys[i]);
			m->keys[j] = old.keys[i];
			m->vals[j] = old.vals[i];
		}
	}
	free(old.keys);
	free(old.vals);
	return 0;
}

int kt_id_map_put(struct kt_id_map *m, uint64_t id, uint32_t val)
{
	if (!id)
		return -1;
	if (m->cap) {
		size_t i = find(m, id);
		if (m->keys[i]) {
			m->vals[i] = val;
			return 0;
		}
	}
	if (m->n >= m->max)
		return -1;
	/* Load factor at most 1/2 keeps probes short. */
	if ((m->n + 1) * 2 > m->cap && grow(m))
		return -1;
	size_t i = find(m, id);
	m->keys[i] = id;
	m->vals[i] = val;
	m->n++;
	return 0;
}

bool kt_id_map_get(const struct kt_id_map *m, uint64_t id, uint32_t *val)
{
	if (!id || !m->cap)
		return false;
	size_t i = find(m, id);
	if (!m->keys[i])
		return false;
	if (val)
		*val = m->vals[i];
	return true;
}

bool kt_id_map_del(struct kt_id_map *m, uint64_t id)
{
	if (!id || !m->cap)
		return false;
	size_t i = find(m, id);
	if (!m->keys[i])
		return false;
	/* Backward shift: move later entries of the run into the hole. */
	size_t j = i;
	for (;;) {
		j = (j + 1) & (m->cap - 1);
		if (!m->keys[j])
			break;
		size_t home = slot_of(m->keys[j], m->cap);
		/* Entry j may fill hole i only if its home is not in (i, j]. */
		bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (between)
			continue;
		m->keys[i] = m->keys[j];
		m->vals[i] = m->vals[j];
		i = j;
	}
	m->keys[i] = 0;
	m->n--;
	return true;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "base/arena_reset.h"

#include <stdbool.h>

/*
 * The head of arena.c's chunks, which arena.c keeps private: its first three
 * members, in its order. Until the reset lives in arena.c this is a second
 * statement of that layout, so it is checked against what arena.c keeps
 * itself (a->used is the sum of its chunks' pos, each within its cap); when
 * they disagree the arena is freed instead (correct, merely not reused).
 */
struct chunk_head {
	struct chunk_head *next;
	size_t cap;
	size_t pos;
};

void kt_arena_reset(struct kt_arena *a)
{
	size_t used = 0, n = 0;
	bool consistent = true;
	for (struct chunk_head *c = (struct chunk_head *)a->head; c && consistent; c = c->next) {
		consistent = c->pos <= c->cap && c->pos <= a->used - used;
		used += c->pos;
		n++;
	}
	if (!consistent || used != a->used) {
		kt_arena_free(a);
		return;
	}
	a->budget_hit = false;
	if (n > 1) {
		/* One chunk of the whole fill: kt_arena_alloc sizes a first chunk to fit. */
		kt_arena_free(a);
		if (!kt_arena_alloc(a, used)) {
			kt_arena_free(a);
			a->budget_hit = false;
			return;
		}
	}
	if (a->head)
		((struct chunk_head *)a->head)->pos = 0;
	a->used = 0;
}

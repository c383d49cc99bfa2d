/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bump allocator: everything decoded from one frame lives in one arena and is
 * released at once when the span has been exported. A byte limit bounds what a
 * hostile frame can make us allocate.
 */
#ifndef KT_ARENA_H
#define KT_ARENA_H

#include <stddef.h>

struct kt_arena_chunk;

struct kt_arena {
	struct kt_arena_chunk *head;
	size_t used;  /* bytes handed out, including alignment */
	size_t limit; /* 0 = no limit */
};

void kt_arena_init(struct kt_arena *a, size_t limit);
/* Zeroed, 16-byte aligned memory; NULL on overflow, limit or ENOMEM. */
void *kt_arena_alloc(struct kt_arena *a, size_t size);
/* nmemb * size with overflow check. */
void *kt_arena_calloc(struct kt_arena *a, size_t nmemb, size_t size);
/* Copy of n bytes plus a terminating NUL (the bytes may contain NULs). */
char *kt_arena_memdup0(struct kt_arena *a, const void *src, size_t n);
void kt_arena_free(struct kt_arena *a);

#endif

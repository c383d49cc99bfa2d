/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Counts the heap allocations the calling thread makes in a window: every
 * malloc, calloc and realloc, the project's and those of the libraries it
 * calls (protobuf-c, json-c, libc), as ASan's allocator sees them (its
 * malloc hooks). Other threads (criterion's) are not counted. Opening a
 * window fails the test when the hooks are not installed (a build without
 * ASan), so that a count of zero always means that nothing was allocated.
 */
#ifndef KT_TEST_ALLOC_COUNT_H
#define KT_TEST_ALLOC_COUNT_H

#include <stddef.h>

/* Opens the window (cr_assert: the hooks are installed). No nesting. */
void kt_alloc_count_begin(void);
/* Closes it: the allocations made since kt_alloc_count_begin. */
size_t kt_alloc_count_end(void);

#endif

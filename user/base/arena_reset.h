/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emptying an arena for reuse, its memory kept: for an arena that is filled
 * and emptied over and over (the export thread's request arena), so that
 * once it has grown to the largest fill, filling it again allocates nothing
 * (tests/unit/test_alloc_per_span.c).
 */
#ifndef KT_ARENA_RESET_H
#define KT_ARENA_RESET_H

#include "base/arena.h"

/*
 * a emptied (nothing allocated from it is valid any more), its limit and
 * accounting unchanged. A single chunk is kept as it is; several (a grew
 * during the last fill) are replaced by one as large as that fill took, so
 * the same fill again fits in it. Falls back to kt_arena_free when memory
 * or the budget refuses that chunk.
 */
void kt_arena_reset(struct kt_arena *a);

#endif

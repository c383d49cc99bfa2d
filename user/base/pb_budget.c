/* SPDX-License-Identifier: Apache-2.0 */
#include "base/pb_budget.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* Each block remembers its size in front of it, so that frees give budget back. */
#define PB_HDR (alignof(max_align_t) > sizeof(size_t) ? alignof(max_align_t) : sizeof(size_t))

static void *pb_alloc(void *data, size_t size)
{
	struct kt_pb_budget *b = data;
	if (size > b->limit - b->used) {
		b->hit = true;
		return NULL;
	}
	unsigned char *p = kt_mem_malloc(b->acct, PB_HDR + size);
	if (!p) {
		b->hit = true;
		return NULL;
	}
	memcpy(p, &size, sizeof(size));
	b->used += size;
	return p + PB_HDR;
}

static void pb_free(void *data, void *ptr)
{
	struct kt_pb_budget *b = data;
	if (!ptr)
		return;
	unsigned char *p = (unsigned char *)ptr - PB_HDR;
	size_t size;
	memcpy(&size, p, sizeof(size));
	b->used -= size;
	kt_mem_free(b->acct, p, PB_HDR + size);
}

ProtobufCAllocator kt_pb_budget_allocator(struct kt_pb_budget *b)
{
	return (ProtobufCAllocator){ .alloc = pb_alloc, .free = pb_free, .allocator_data = b };
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A protobuf-c allocator with a byte budget, for messages from untrusted
 * peers: an allocation that would exceed the budget fails (and sets hit),
 * so unpacking fails cleanly instead of growing with what the peer claims.
 */
#ifndef KT_PB_BUDGET_H
#define KT_PB_BUDGET_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/mem_budget.h"

struct kt_pb_budget {
	size_t used, limit;
	bool hit; /* an allocation was refused */
	struct kt_mem_acct *acct; /* also charged (NULL: not) */
};

/* An allocator drawing on b (which must outlive every use of it). */
ProtobufCAllocator kt_pb_budget_allocator(struct kt_pb_budget *b);

#endif

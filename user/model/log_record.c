/* SPDX-License-Identifier: Apache-2.0 */
#include "model/log_record.h"

#include <stdlib.h>

struct kt_log_record *kt_log_record_new(size_t arena_limit)
{
	struct kt_log_record *r = calloc(1, sizeof(*r));
	if (r)
		kt_arena_init(&r->arena, arena_limit);
	return r;
}

void kt_log_record_free(struct kt_log_record *r)
{
	if (!r)
		return;
	kt_arena_free(&r->arena);
	kt_origin_put(r->origin);
	free(r);
}

void kt_log_record_free_list(struct kt_log_record *head)
{
	while (head) {
		struct kt_log_record *next = head->next;
		kt_log_record_free(head);
		head = next;
	}
}

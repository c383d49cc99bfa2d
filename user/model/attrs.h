/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Building an attribute list (struct kt_kvlist): of a span, a log record
 * or a resource. Keys are static strings, which outlive every arena; a
 * value is kept as given, or copied into the builder's arena. A list has a
 * fixed capacity, taken from the arena or given by the caller. An attribute
 * beyond it, or a copy the arena has no room for, adds nothing and marks the
 * builder failed: the caller drops what it was building.
 */
#ifndef KT_ATTRS_H
#define KT_ATTRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "model/span.h"

struct kt_attrs {
	struct kt_arena *a; /* where copies go; NULL: none can be made */
	struct kt_kv *kv;
	size_t n, cap;
	bool failed;
};

/* Room for cap attributes in a's memory; false (failed) without it. */
bool kt_attrs_init(struct kt_attrs *b, struct kt_arena *a, size_t cap);
/* Room for cap attributes in the caller's kv (copies, if any, from a). */
void kt_attrs_init_on(struct kt_attrs *b, struct kt_kv *kv, size_t cap, struct kt_arena *a);

/* v kept as given: it must live as long as the list. */
void kt_attrs_str(struct kt_attrs *b, const char *key, struct kt_str v);
void kt_attrs_cstr(struct kt_attrs *b, const char *key, const char *v);
/* v copied into the arena (NUL-terminated). */
void kt_attrs_copy(struct kt_attrs *b, const char *key, struct kt_str v);
void kt_attrs_int(struct kt_attrs *b, const char *key, int64_t v);
void kt_attrs_bool(struct kt_attrs *b, const char *key, bool v);
/*
 * Keys that are data, not names (a bpftrace map's entries: "@[bash]"):
 * key kept as given, like v; both must live as long as the list.
 */
void kt_attrs_data_str(struct kt_attrs *b, struct kt_str key, struct kt_str v);
void kt_attrs_data_int(struct kt_attrs *b, struct kt_str key, int64_t v);
/* A copy of p[0..n) in the arena, for other fields than attributes; "" and failed without room. */
struct kt_str kt_attrs_dup(struct kt_attrs *b, const char *p, size_t n);

/*
 * One attribute more on a finished list: the list is copied into a with
 * room for it (the old one stays where it was). false without room.
 */
bool kt_attrs_append(struct kt_arena *a, struct kt_kvlist *l, const char *key, struct kt_value v);

static inline struct kt_kvlist kt_attrs_list(const struct kt_attrs *b)
{
	return (struct kt_kvlist){ b->n, b->kv };
}

#endif

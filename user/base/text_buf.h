/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A growing text buffer, for writers that build a document or a batch of
 * lines in memory and hand it out whole (the exporters' OTLP/JSON and
 * console text, and the packed protobuf of a request). Appending cannot fail
 * visibly: when memory runs out, oom is set and later appends do nothing, so
 * a writer checks once, at the end. The text is kept NUL-terminated once
 * anything has been appended. Growth is geometric, and a buffer that is
 * cleared and written again keeps its memory: a writer that keeps one
 * between documents allocates nothing once it has held the largest.
 */
#ifndef KT_TEXT_BUF_H
#define KT_TEXT_BUF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct kt_text {
	char *p; /* malloc'ed; the writer frees it */
	size_t len, cap;
	bool oom;
};

/* Room for n more bytes and a NUL; false (oom set) when memory runs out. */
static inline bool kt_text_reserve(struct kt_text *t, size_t n)
{
	if (t->oom)
		return false;
	if (n < SIZE_MAX - t->len) {
		size_t need = t->len + n + 1;
		if (need <= t->cap)
			return true;
		size_t cap = t->cap ? t->cap : 256;
		while (cap < need && cap <= SIZE_MAX / 2)
			cap *= 2;
		char *np = cap >= need ? realloc(t->p, cap) : NULL;
		if (np) {
			t->p = np;
			t->cap = cap;
			return true;
		}
	}
	t->oom = true;
	return false;
}

/* Empty again (oom cleared), its memory kept for the next document. */
static inline void kt_text_clear(struct kt_text *t)
{
	t->len = 0;
	t->oom = false;
	if (t->p)
		t->p[0] = '\0';
}

static inline void kt_text_free(struct kt_text *t)
{
	free(t->p);
	*t = (struct kt_text){ 0 };
}

static inline void kt_text_put(struct kt_text *t, const void *s, size_t n)
{
	if (t->oom || !n || !kt_text_reserve(t, n))
		return;
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static inline void kt_text_puts(struct kt_text *t, const char *s)
{
	kt_text_put(t, s, strlen(s));
}

#endif

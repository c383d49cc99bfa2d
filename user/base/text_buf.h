/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A growing text buffer, for writers that build a document or a batch of
 * lines in memory and hand it out whole (the exporters' OTLP/JSON and
 * console text). Appending cannot fail visibly: when memory runs out, oom
 * is set and later appends do nothing, so a writer checks once, at the end.
 * The text is kept NUL-terminated once anything has been appended.
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

static inline void kt_text_put(struct kt_text *t, const void *s, size_t n)
{
	if (t->oom || !n)
		return;
	if (t->cap - t->len < n + 1) {
		size_t cap = t->cap ? t->cap : 256;
		while (cap - t->len < n + 1) {
			if (cap > SIZE_MAX / 2) {
				t->oom = true;
				return;
			}
			cap *= 2;
		}
		char *np = realloc(t->p, cap);
		if (!np) {
			t->oom = true;
			return;
		}
		t->p = np;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static inline void kt_text_puts(struct kt_text *t, const char *s)
{
	kt_text_put(t, s, strlen(s));
}

#endif

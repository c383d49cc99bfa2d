/* SPDX-License-Identifier: Apache-2.0 */
#include "model/decode_ctx.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void kt_dctx_init(struct kt_dctx *d, struct kt_arena *a, struct kt_decode_error *err)
{
	d->a = a;
	d->err = err ? err : &d->spare;
	d->err->msg[0] = '\0';
	d->depth = 0;
}

/* Append to msg[*k..size); output is cut at the end of the buffer. */
static void append(char *msg, size_t size, size_t *k, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *msg, size_t size, size_t *k, const char *fmt, ...)
{
	if (*k >= size - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(msg + *k, size - *k, fmt, ap);
	va_end(ap);
	if (r > 0)
		*k = (size_t)r < size - *k ? *k + (size_t)r : size - 1;
}

void kt_dctx_set_error(struct kt_dctx *d, const char *fmt, ...)
{
	char *msg = d->err->msg;
	size_t size = sizeof(d->err->msg), k = 0;
	msg[0] = '\0';
	for (size_t i = 0; i < d->depth && i < KT_DPATH_MAX; i++) {
		const struct kt_dseg *s = &d->seg[i];
		char buf[40];
		if (s->kind == KT_SEG_FIELD)
			append(msg, size, &k, "%s%s", i ? "." : "", s->field);
		else if (s->kind == KT_SEG_INDEX)
			append(msg, size, &k, "[%zu]", s->index);
		else
			append(msg, size, &k, "[\"%s\"]",
			       kt_dctx_preview(s->key, buf, sizeof(buf)));
	}
	if (d->depth > KT_DPATH_MAX)
		append(msg, size, &k, "...");
	if (k)
		append(msg, size, &k, ": ");
	if (k < size - 1) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg + k, size - k, fmt, ap);
		va_end(ap);
	}
}

void *kt_dctx_alloc(struct kt_dctx *d, size_t nmemb, size_t size)
{
	void *p = kt_arena_calloc(d->a, nmemb, size);
	if (!p)
		kt_dctx_set_error(
			d, "arena limit reached (%zu of %zu bytes used, %zu x %zu more wanted)",
			d->a->used, d->a->limit, nmemb, size);
	return p;
}

int kt_dctx_str_fail(struct kt_dctx *d, size_t n)
{
	return kt_dctx_fail(d, "arena limit reached (%zu of %zu bytes used, string of %zu bytes)",
			    d->a->used, d->a->limit, n);
}

const char *kt_dctx_preview(struct kt_str s, char *buf, size_t size)
{
	size_t max = size - 1, k = 0;
	bool cut = s.len > max;
	if (cut)
		max = size > 4 ? size - 4 : 0;
	for (; k < s.len && k < max; k++) {
		unsigned char c = (unsigned char)s.ptr[k];
		buf[k] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (cut && size > 4) {
		/* Do not leave half a UTF-8 sequence before the ellipsis. */
		while (k > 0 && ((unsigned char)s.ptr[k] & 0xc0) == 0x80)
			k--;
		memcpy(buf + k, "...", 3);
		k += 3;
	}
	buf[k] = '\0';
	return buf;
}

int kt_dctx_time(struct kt_dctx *d, uint64_t secs, uint32_t nanos, uint64_t *ns)
{
	const uint64_t ns_per_sec = 1000000000u;

	if (nanos >= ns_per_sec)
		return kt_dctx_fail(d, "nanoseconds %u out of range", nanos);
	if (secs > (UINT64_MAX - nanos) / ns_per_sec)
		return kt_dctx_fail(d, "time %llu s does not fit in u64 nanoseconds",
				    (unsigned long long)secs);
	*ns = secs * ns_per_sec + nanos;
	return 0;
}

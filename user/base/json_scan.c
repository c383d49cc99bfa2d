/* SPDX-License-Identifier: Apache-2.0 */
#include "base/json_scan.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

#define SCAN_MAX_DEPTH 64

struct scanner {
	const uint8_t *p;
	size_t n;
	size_t pos;
	struct kt_json_scan *s;
	char *err;
	size_t errlen;
};

static int fail(struct scanner *sc, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct scanner *sc, size_t at, const char *fmt, ...)
{
	char what[120];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(sc->err, sc->errlen, "invalid JSON at offset %zu: %s", at, what);
	return -1;
}

/* Grow *arr (elements of size sz) to hold one more; entries never outnumber bytes. */
static int grow(struct scanner *sc, void **arr, size_t n, size_t *cap, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 16;
	if (ncap > sc->n + 1)
		ncap = sc->n + 1;
	if (ncap <= n || ncap > SIZE_MAX / sz)
		return fail(sc, sc->pos, "too many tokens");
	void *p = realloc(*arr, ncap * sz);
	if (!p)
		return fail(sc, sc->pos, "out of memory");
	*arr = p;
	*cap = ncap;
	return 0;
}

static int add_span(struct scanner *sc, struct kt_json_span **arr, size_t *n, size_t *cap,
		    size_t off, size_t len)
{
	if (grow(sc, (void **)arr, *n, cap, sizeof(**arr)))
		return -1;
	(*arr)[*n].off = off;
	(*arr)[*n].len = len;
	(*n)++;
	return 0;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The 4 hex digits at p (4 bytes readable); -1 if one is not hex. */
static long hex4(const uint8_t *p)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

long kt_json_u_escape(const uint8_t *p, size_t n, size_t *used)
{
	if (n < 6)
		return -1;
	long cp = hex4(p + 2);
	if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
		return -1;
	*used = 6;
	if (cp < 0xd800 || cp > 0xdbff)
		return cp;
	if (n < 12 || p[6] != '\\' || p[7] != 'u')
		return -1;
	long lo = hex4(p + 8);
	if (lo < 0xdc00 || lo > 0xdfff)
		return -1;
	*used = 12;
	return 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
}

/* String starting at the opening quote; *raw = the text between the quotes. */
static int scan_string(struct scanner *sc, struct kt_json_span *raw)
{
	const uint8_t *p = sc->p;
	size_t start = sc->pos + 1, i = start;
	for (;;) {
		if (i >= sc->n)
			return fail(sc, sc->pos, "unterminated string");
		uint8_t c = p[i];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(sc, i, "control character 0x%02x in string", c);
		if (c != '\\') {
			i++;
			continue;
		}
		if (sc->n - i < 2)
			return fail(sc, i, "unterminated escape");
		if (kt_json_escape_byte(p[i + 1]) >= 0) {
			i += 2;
			continue;
		}
		if (p[i + 1] != 'u')
			return fail(sc, i, "invalid escape");
		size_t used;
		if (kt_json_u_escape(p + i, sc->n - i, &used) < 0)
			return fail(sc, i, "invalid \\u escape or unpaired surrogate");
		i += used;
	}
	/* Escapes are ASCII, so the raw text must be valid UTF-8 as a whole. */
	size_t bad = kt_utf8_check(p + start, i - start);
	if (bad != i - start)
		return fail(sc, start + bad, "invalid UTF-8");
	raw->off = start;
	raw->len = i - start;
	sc->pos = i + 1;
	return 0;
}

static bool digit(const struct scanner *sc, size_t i)
{
	return i < sc->n && sc->p[i] >= '0' && sc->p[i] <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct scanner *sc)
{
	size_t i = sc->pos;
	if (sc->p[i] == '-')
		i++;
	if (!digit(sc, i))
		return fail(sc, i, "invalid number");
	if (sc->p[i] == '0') {
		i++;
		if (digit(sc, i))
			return fail(sc, i, "leading zero in number");
	} else {
		while (digit(sc, i))
			i++;
	}
	if (i < sc->n && sc->p[i] == '.') {
		i++;
		if (!digit(sc, i))
			return fail(sc, i, "digit expected after '.'");
		while (digit(sc, i))
			i++;
	}
	if (i < sc->n && (sc->p[i] == 'e' || sc->p[i] == 'E')) {
		i++;
		if (i < sc->n && (sc->p[i] == '+' || sc->p[i] == '-'))
			i++;
		if (!digit(sc, i))
			return fail(sc, i, "digit expected in exponent");
		while (digit(sc, i))
			i++;
	}
	struct kt_json_scan *s = sc->s;
	if (add_span(sc, &s->nums, &s->n_nums, &s->cap_nums, sc->pos, i - sc->pos))
		return -1;
	sc->pos = i;
	return 0;
}

static int scan_literal(struct scanner *sc)
{
	static const char *const lits[] = {"true", "false", "null"};
	for (size_t k = 0; k < 3; k++) {
		size_t len = strlen(lits[k]);
		if (sc->n - sc->pos >= len && memcmp(sc->p + sc->pos, lits[k], len) == 0) {
			sc->pos += len;
			return 0;
		}
	}
	return fail(sc, sc->pos, "unexpected character 0x%02x", sc->p[sc->pos]);
}

enum want {
	W_VALUE,       /* a value */
	W_FIRST_VALUE, /* a value or ']' */
	W_KEY,	       /* a key */
	W_FIRST_KEY,   /* a key or '}' */
	W_COLON,       /* ':' */
	W_NEXT,	       /* ',' or the closing bracket */
	W_DONE,	       /* only whitespace */
};

struct level {
	bool obj;
	size_t idx; /* index into s->members */
};

int kt_json_scan(const uint8_t *p, size_t n, size_t max_depth, struct kt_json_scan *s, char *err,
		 size_t errlen)
{
	struct scanner sc = {.p = p, .n = n, .pos = 0, .s = s, .err = err, .errlen = errlen};
	struct level stack[SCAN_MAX_DEPTH];
	size_t depth = 0;
	enum want want = W_VALUE;

	memset(s, 0, sizeof(*s));
	if (max_depth > SCAN_MAX_DEPTH)
		max_depth = SCAN_MAX_DEPTH;
	for (;;) {
		while (sc.pos < n && (p[sc.pos] == ' ' || p[sc.pos] == '\t' || p[sc.pos] == '\n' ||
				      p[sc.pos] == '\r'))
			sc.pos++;
		if (sc.pos == n)
			break;
		uint8_t c = p[sc.pos];

		if (want == W_DONE)
			return fail(&sc, sc.pos, "trailing data");
		if (want == W_COLON) {
			if (c != ':')
				return fail(&sc, sc.pos, "':' expected");
			sc.pos++;
			want = W_VALUE;
			continue;
		}
		if (want == W_NEXT || (want == W_FIRST_KEY && c == '}') ||
		    (want == W_FIRST_VALUE && c == ']')) {
			bool obj = stack[depth - 1].obj;
			if (c == ',' && want == W_NEXT) {
				sc.pos++;
				want = obj ? W_KEY : W_VALUE;
				continue;
			}
			if (c != (obj ? '}' : ']'))
				return fail(&sc, sc.pos, "',' or '%c' expected", obj ? '}' : ']');
			sc.pos++;
			depth--;
			want = depth ? W_NEXT : W_DONE;
			continue;
		}
		if (want == W_KEY || want == W_FIRST_KEY) {
			struct kt_json_span raw;
			size_t obj = stack[depth - 1].idx;
			if (c != '"')
				return fail(&sc, sc.pos, "object key expected");
			if (scan_string(&sc, &raw) ||
			    grow(&sc, (void **)&s->keys, s->n_keys, &s->cap_keys, sizeof(*s->keys)))
				return -1;
			s->keys[s->n_keys++] = (struct kt_json_key){raw.off, raw.len, obj};
			s->members[obj]++;
			want = W_COLON;
			continue;
		}

		/* A value. */
		s->n_values++;
		if (c == '{' || c == '[') {
			if (depth >= max_depth)
				return fail(&sc, sc.pos, "nested deeper than %zu", max_depth);
			stack[depth].obj = c == '{';
			if (c == '{') {
				if (grow(&sc, (void **)&s->members, s->n_objs, &s->cap_objs,
					 sizeof(*s->members)))
					return -1;
				stack[depth].idx = s->n_objs;
				s->members[s->n_objs++] = 0;
			} else {
				s->n_arrays++;
			}
			depth++;
			sc.pos++;
			want = c == '{' ? W_FIRST_KEY : W_FIRST_VALUE;
			continue;
		}
		int r;
		if (c == '"') {
			struct kt_json_span raw;
			r = scan_string(&sc, &raw);
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			r = scan_number(&sc);
		} else {
			r = scan_literal(&sc);
		}
		if (r)
			return -1;
		want = depth ? W_NEXT : W_DONE;
	}
	if (want != W_DONE)
		return fail(&sc, n, "unexpected end of input");
	return 0;
}

void kt_json_scan_free(struct kt_json_scan *s)
{
	free(s->nums);
	free(s->keys);
	free(s->members);
	memset(s, 0, sizeof(*s));
}

size_t kt_json_unescape(const uint8_t *raw, size_t len, char *out)
{
	size_t i = 0, k = 0;
	while (i < len) {
		uint8_t c = raw[i];
		if (c != '\\') {
			out[k++] = (char)c;
			i++;
			continue;
		}
		uint8_t e = raw[i + 1];
		if (e != 'u') {
			int b = kt_json_escape_byte(e);
			out[k++] = b >= 0 ? (char)b : (char)e;
			i += 2;
			continue;
		}
		size_t used;
		long cp = kt_json_u_escape(raw + i, len - i, &used);
		if (cp < 0)
			break; /* not text the scan accepted */
		i += used;
		k += kt_utf8_encode((uint32_t)cp, out + k);
	}
	return k;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict lexical pass over a JSON text, run beside json-c. json-c 0.16 builds
 * the tree, but loses what the span decoder needs and lets through what JSON
 * forbids, even with JSON_TOKENER_STRICT:
 *  - integers beyond 64 bits are clamped (the trace id is a u128);
 *  - a repeated object key silently replaces the earlier value;
 *  - object keys are cut at an escaped U+0000;
 *  - NaN, Infinity, raw control characters in strings, lone surrogate
 *    escapes (turned into U+FFFD), overlong or surrogate UTF-8 and numbers
 *    such as "-01" or "1." are accepted.
 * The scan rejects all of these (RFC 8259 grammar, strict UTF-8) and
 * records, in document order, the source text of every number, the raw text
 * of every object key and the member count of every object, so that a
 * json-c tree can be matched against the source (the reference decoder of
 * the tests does). The JSON-era span decoder runs it on a payload it
 * refused, for the message and the value counts.
 */
#ifndef KT_JSON_SCAN_H
#define KT_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* A range of the source text. */
struct kt_json_span {
	size_t off;
	size_t len;
};

/* An object key: raw text between the quotes (escapes not decoded). */
struct kt_json_key {
	size_t off;
	size_t len;
	size_t obj; /* index of its object in members[] */
};

struct kt_json_scan {
	struct kt_json_span *nums; /* number tokens */
	size_t n_nums, cap_nums;
	struct kt_json_key *keys;
	size_t n_keys, cap_keys;
	size_t *members; /* member count per object, objects in order of '{' */
	size_t n_objs, cap_objs;
	size_t n_arrays; /* arrays */
	size_t n_values; /* values of any type, containers included */
};

/*
 * Scan n bytes (one JSON value, optional surrounding whitespace). Containers
 * nest at most max_depth deep. Returns 0, or -1 with a message in err.
 * kt_json_scan_free must be called in both cases.
 */
int kt_json_scan(const uint8_t *p, size_t n, size_t max_depth, struct kt_json_scan *s, char *err,
		 size_t errlen);
void kt_json_scan_free(struct kt_json_scan *s);

/*
 * The byte a one-character escape stands for (\" \\ \/ \b \f \n \r \t),
 * given the character after the backslash; -1 for any other (\u, or not
 * an escape).
 */
static inline int kt_json_escape_byte(uint8_t c)
{
	switch (c) {
	case '"':
	case '\\':
	case '/':
		return c;
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return -1;
	}
}

/*
 * The code point of the \u escape at p (its backslash; n bytes readable),
 * a surrogate pair joined into one, and in *used the bytes of text it
 * takes (6, or 12 for a pair); -1 when it is malformed or a surrogate is
 * unpaired.
 */
long kt_json_u_escape(const uint8_t *p, size_t n, size_t *used);

/*
 * Decode the escapes of a string the scan accepted (raw text between the
 * quotes) into out, which must hold len bytes; returns the decoded length.
 */
size_t kt_json_unescape(const uint8_t *raw, size_t len, char *out);

#endif

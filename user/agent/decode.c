/* SPDX-License-Identifier: Apache-2.0 */
#include "agent/decode.h"

#include <stdio.h>
#include <string.h>

enum kt_format kt_sniff_format(const uint8_t *p, size_t n)
{
	/*
	 * A bincode payload starts with the trace id, whose bytes may well be
	 * '{': only the whole prefix is conclusive. No bincode payload carries
	 * it (its 26th byte would be is_remote, which must be 0 or 1).
	 */
	if (n >= KT_JSON_PREFIX_LEN && memcmp(p, KT_JSON_PREFIX, KT_JSON_PREFIX_LEN) == 0)
		return KT_FORMAT_JSON;
	return KT_FORMAT_BINCODE;
}

int kt_decode_span(enum kt_format fmt, const uint8_t *p, size_t n, struct kt_arena *a,
		   struct kt_span *out, enum kt_format *used, struct kt_decode_error *err)
{
	if (fmt == KT_FORMAT_AUTO)
		fmt = kt_sniff_format(p, n);
	if (used)
		*used = fmt;
	if (fmt == KT_FORMAT_JSON)
		return kt_decode_json(p, n, a, out, err);
	if (fmt == KT_FORMAT_BINCODE)
		return kt_decode_bincode(p, n, a, out, err);
	memset(out, 0, sizeof(*out));
	if (err)
		snprintf(err->msg, sizeof(err->msg), "unknown payload format %d", (int)fmt);
	return -1;
}

const char *kt_format_name(enum kt_format f)
{
	switch (f) {
	case KT_FORMAT_AUTO:
		return "auto";
	case KT_FORMAT_JSON:
		return "json";
	case KT_FORMAT_BINCODE:
		return "bincode";
	}
	return "unknown";
}

int kt_format_parse(const char *s, enum kt_format *out)
{
	static const enum kt_format all[] = {KT_FORMAT_AUTO, KT_FORMAT_JSON, KT_FORMAT_BINCODE};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (s && strcmp(s, kt_format_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -1;
}

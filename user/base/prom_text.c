/* SPDX-License-Identifier: Apache-2.0 */
#include "base/prom_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/utf8.h"

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

const char *kt_prom_type_name(enum kt_prom_type type)
{
	switch (type) {
	case KT_PROM_COUNTER:
		return "counter";
	case KT_PROM_GAUGE:
		return "gauge";
	case KT_PROM_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

/*
 * Text made safe for the format: valid UTF-8 without control characters
 * but newline, which is written \n like backslash as \\ (and, in label
 * values, the double quote as \").
 */
static void put_escaped(struct kt_text *t, const char *s, bool quote)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s);
	while (n) {
		size_t run = 0; /* plain bytes written as they are */
		while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '\\' &&
		       !(quote && p[run] == '"'))
			run++;
		kt_text_put(t, p, run);
		p += run;
		n -= run;
		if (!n)
			break;
		size_t len = 1;
		if (*p == '\\')
			kt_text_put(t, "\\\\", 2);
		else if (*p == '"')
			kt_text_put(t, "\\\"", 2);
		else if (*p == '\n')
			kt_text_put(t, "\\n", 2);
		else if (*p < 0x80) /* other control characters, DEL */
			kt_text_puts(t, replacement);
		else if ((len = kt_utf8_decode(p, n, NULL)) != 0)
			kt_text_put(t, p, len);
		else {
			len = 1;
			kt_text_puts(t, replacement);
		}
		p += len;
		n -= len;
	}
}

void kt_prom_label_value(struct kt_text *t, const char *value)
{
	put_escaped(t, value ? value : "", true);
}

void kt_prom_family(struct kt_text *t, const char *name, enum kt_prom_type type, const char *help)
{
	kt_text_puts(t, "# HELP ");
	kt_text_puts(t, name);
	kt_text_puts(t, " ");
	put_escaped(t, help ? help : "", false);
	kt_text_puts(t, "\n# TYPE ");
	kt_text_puts(t, name);
	kt_text_puts(t, " ");
	kt_text_puts(t, kt_prom_type_name(type));
	kt_text_puts(t, "\n");
}

/* name{labels[,extra="value"]} */
static void put_series(struct kt_text *t, const char *name, const char *suffix,
		       const struct kt_prom_label *labels, size_t n_labels, const char *extra,
		       const char *extra_value)
{
	kt_text_puts(t, name);
	if (suffix)
		kt_text_puts(t, suffix);
	if (!n_labels && !extra)
		return;
	kt_text_puts(t, "{");
	for (size_t i = 0; i < n_labels; i++) {
		if (i)
			kt_text_puts(t, ",");
		kt_text_puts(t, labels[i].name);
		kt_text_puts(t, "=\"");
		kt_prom_label_value(t, labels[i].value);
		kt_text_puts(t, "\"");
	}
	if (extra) {
		if (n_labels)
			kt_text_puts(t, ",");
		kt_text_puts(t, extra);
		kt_text_puts(t, "=\"");
		kt_prom_label_value(t, extra_value);
		kt_text_puts(t, "\"");
	}
	kt_text_puts(t, "}");
}

static void put_u64(struct kt_text *t, uint64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), " %" PRIu64 "\n", v);
	kt_text_put(t, buf, (size_t)n);
}

void kt_prom_sample(struct kt_text *t, const char *name, const struct kt_prom_label *labels,
		    size_t n_labels, uint64_t value)
{
	put_series(t, name, NULL, labels, n_labels, NULL, NULL);
	put_u64(t, value);
}

void kt_prom_seconds(char out[32], uint64_t ns)
{
	int n = snprintf(out, 32, "%" PRIu64 ".%09" PRIu64, ns / UINT64_C(1000000000),
			 ns % UINT64_C(1000000000));
	while (n > 0 && out[n - 1] == '0')
		out[--n] = '\0';
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
}

void kt_prom_histogram_ns(struct kt_text *t, const char *name, const struct kt_prom_label *labels,
			  size_t n_labels, const uint64_t *bounds_ns, size_t n_bounds,
			  const uint64_t *buckets, uint64_t sum_ns)
{
	char le[32];
	uint64_t cum = 0;
	for (size_t i = 0; i <= n_bounds; i++) {
		/* Each bucket read once: the +Inf bucket and _count agree. */
		cum += __atomic_load_n(&buckets[i], __ATOMIC_RELAXED);
		if (i < n_bounds)
			kt_prom_seconds(le, bounds_ns[i]);
		else
			strcpy(le, "+Inf");
		put_series(t, name, "_bucket", labels, n_labels, "le", le);
		put_u64(t, cum);
	}
	char sum[32];
	kt_prom_seconds(sum, sum_ns);
	put_series(t, name, "_sum", labels, n_labels, NULL, NULL);
	kt_text_puts(t, " ");
	kt_text_puts(t, sum);
	kt_text_puts(t, "\n");
	put_series(t, name, "_count", labels, n_labels, NULL, NULL);
	put_u64(t, cum);
}

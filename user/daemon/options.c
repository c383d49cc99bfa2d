/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/options.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long's value of the long option at index i of the table. */
#define LONG_VAL(i) (0x100 + (int)(i))

bool kt_opt_accepts(const struct kt_opt *o, enum kt_cmd cmd)
{
	return (o->cmds & KT_CMD_BIT(cmd)) != 0;
}

const struct kt_opt *kt_opt_find(const struct kt_optset *set, const char *name)
{
	for (size_t i = 0; i < set->n_opts; i++)
		if (strcmp(set->opts[i].name, name) == 0)
			return &set->opts[i];
	return NULL;
}

const struct kt_opt *kt_opt_target(const struct kt_optset *set, const struct kt_opt *o)
{
	const struct kt_opt *t = o->alias ? kt_opt_find(set, o->alias) : o;
	return t ? t : o;
}

void kt_opt_usage_error(const char *cmd_name, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "katatrace-bpf %s: ", cmd_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'katatrace-bpf %s --help'.\n", cmd_name);
	exit(2);
}

/*
 * Unsigned number with an optional K/M/G (binary) suffix, optionally
 * followed by "i" and "B" (16M, 16Mi, 16MiB); 0, or -1 if not one or above max.
 */
static int parse_size(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s == '-' || *s == '\0')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	unsigned shift = 0;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift) {
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B')
			end++;
	}
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	v <<= shift;
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

uint64_t kt_opt_number(const struct kt_opt_use *u, const char *arg, uint64_t min, uint64_t max)
{
	uint64_t v;
	if (parse_size(arg, max, &v) || v < min)
		kt_opt_usage_error(u->cmd_name, "%s: '%s' is not a number in %llu..%llu", u->opt, arg,
				   (unsigned long long)min, (unsigned long long)max);
	return v;
}

/* ------------------------------------------------------------ applying one option */

static void *field(void *cfg, size_t off)
{
	return (char *)cfg + off;
}

static void store_uint(void *cfg, const struct kt_opt *o, uint64_t v)
{
	void *p = field(cfg, o->off);
	switch (o->size) {
	case 1: {
		uint8_t x = (uint8_t)v;
		memcpy(p, &x, 1);
		break;
	}
	case 2: {
		uint16_t x = (uint16_t)v;
		memcpy(p, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)v;
		memcpy(p, &x, 4);
		break;
	}
	default:
		memcpy(p, &v, 8);
		break;
	}
}

static uint64_t load_uint(const void *cfg, const struct kt_opt *o)
{
	const void *p = (const char *)cfg + o->off;
	switch (o->size) {
	case 1: {
		uint8_t x;
		memcpy(&x, p, 1);
		return x;
	}
	case 2: {
		uint16_t x;
		memcpy(&x, p, 2);
		return x;
	}
	case 4: {
		uint32_t x;
		memcpy(&x, p, 4);
		return x;
	}
	default: {
		uint64_t x;
		memcpy(&x, p, 8);
		return x;
	}
	}
}

static void store_bool(void *cfg, const struct kt_opt *o, bool v)
{
	memcpy(field(cfg, o->off), &v, sizeof(v));
}

static void store_str(void *cfg, size_t off, const char *s)
{
	memcpy(field(cfg, off), &s, sizeof(s));
}

/* The names of a choice list: "a|b|c". */
static const char *join_choices(const struct kt_opt *o, char *out, size_t size)
{
	size_t n = 0;
	out[0] = '\0';
	for (const struct kt_opt_choice *c = o->choices; c && c->name && n < size; c++)
		n += (size_t)snprintf(out + n, size - n, "%s%s", c == o->choices ? "" : "|", c->name);
	return out;
}

/* "a|b|c" as a usage error says it: "a, b or c". */
static void say_values(const char *values, char *out, size_t size)
{
	const char *last = strrchr(values, '|');
	size_t n = 0;
	out[0] = '\0';
	for (const char *p = values; *p && n + 5 < size; p++) {
		if (*p != '|') {
			out[n++] = *p;
		} else if (p == last) {
			memcpy(out + n, " or ", 4);
			n += 4;
		} else {
			memcpy(out + n, ", ", 2);
			n += 2;
		}
	}
	out[n] = '\0';
}

static void choose(void *cfg, const struct kt_opt *o, const struct kt_opt_use *u, const char *arg)
{
	if (o->choices) {
		for (const struct kt_opt_choice *c = o->choices; c->name; c++) {
			if (strcmp(arg, c->name) == 0) {
				store_uint(cfg, o, (uint64_t)(unsigned)c->value);
				return;
			}
		}
	} else if (o->parse(cfg, arg) == 0) {
		return;
	}
	char joined[512], names[512];
	const char *values = o->values ? o->values
			     : o->arg  ? o->arg
				       : join_choices(o, joined, sizeof(joined));
	say_values(values, names, sizeof(names));
	kt_opt_usage_error(u->cmd_name, "%s: '%s' is not %s", u->opt, arg, names);
}

static void apply(void *cfg, const struct kt_opt *o, const struct kt_opt_use *u, const char *arg)
{
	char why[200];

	switch (o->kind) {
	case KT_OPT_FLAG:
		store_bool(cfg, o, o->flag);
		break;
	case KT_OPT_NUMBER: {
		uint64_t v = kt_opt_number(u, arg, o->min, o->max);
		if (o->pow2 && (v & (v - 1)))
			kt_opt_usage_error(u->cmd_name, "%s: %s is not a power of two", u->opt, arg);
		store_uint(cfg, o, v);
		break;
	}
	case KT_OPT_FILE:
		if (!*arg)
			kt_opt_usage_error(u->cmd_name, "%s: empty file name", u->opt);
		store_str(cfg, o->off, arg);
		break;
	case KT_OPT_STRING:
		if (o->empty && !*arg)
			kt_opt_usage_error(u->cmd_name, "%s: empty %s", u->opt, o->empty);
		if (o->check && o->check(arg, why, sizeof(why)))
			kt_opt_usage_error(u->cmd_name, "%s: %s", u->opt, why);
		store_str(cfg, o->off, arg);
		break;
	case KT_OPT_CHOICE:
		choose(cfg, o, u, arg);
		break;
	case KT_OPT_LIST: {
		size_t n;
		memcpy(&n, field(cfg, o->count_off), sizeof(n));
		if (n >= o->max)
			kt_opt_usage_error(u->cmd_name, "%s: at most %d", u->opt, (int)o->max);
		if (o->empty && !*arg)
			kt_opt_usage_error(u->cmd_name, "%s: empty %s", u->opt, o->empty);
		if (o->check && o->check(arg, why, sizeof(why)))
			kt_opt_usage_error(u->cmd_name, "%s: %s", u->opt, why);
		store_str(cfg, o->off + n * sizeof(const char *), arg);
		n++;
		memcpy(field(cfg, o->count_off), &n, sizeof(n));
		break;
	}
	case KT_OPT_CUSTOM:
		o->custom(cfg, u, arg);
		break;
	}
}

/* ------------------------------------------------------------ parsing */

int kt_opts_parse(const struct kt_optset *set, enum kt_cmd cmd, void *cfg, int argc, char **argv)
{
	struct option longs[KT_OPTS_MAX + 1];
	char shorts[1 + 2 * KT_OPTS_MAX + 1];
	const struct kt_opt *by_short[128] = { 0 };
	size_t nl = 0, ns = 0;
	const char *cmd_name = set->help[cmd].name;
	char opt_name[128];
	int opt;

	shorts[ns++] = ':'; /* a missing value is told apart from an unknown option */
	for (size_t i = 0; i < set->n_opts && i < KT_OPTS_MAX; i++) {
		const struct kt_opt *o = &set->opts[i];
		const struct kt_opt *t = kt_opt_target(set, o);
		if (!kt_opt_accepts(o, cmd))
			continue;
		int has_arg = t->kind == KT_OPT_FLAG || (t->kind == KT_OPT_CUSTOM && !t->arg)
				      ? no_argument
				      : required_argument;
		longs[nl++] = (struct option){ o->name, has_arg, NULL, LONG_VAL(i) };
		if (o->short_name) {
			shorts[ns++] = o->short_name;
			if (has_arg == required_argument)
				shorts[ns++] = ':';
			by_short[(unsigned char)o->short_name & 127] = o;
		}
	}
	longs[nl] = (struct option){ NULL, 0, NULL, 0 };
	shorts[ns] = '\0';

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct kt_opt *o = NULL;
		if (opt == ':')
			kt_opt_usage_error(cmd_name, "%s needs a value", argv[optind - 1]);
		if (opt >= LONG_VAL(0) && opt < LONG_VAL(set->n_opts))
			o = &set->opts[opt - LONG_VAL(0)];
		else if (opt > 0 && opt < 128 && opt != '?')
			o = by_short[opt];
		if (!o)
			kt_opt_usage_error(cmd_name, "unknown option '%s'", argv[optind - 1]);
		o = kt_opt_target(set, o);
		snprintf(opt_name, sizeof(opt_name), "--%s", o->name);
		struct kt_opt_use u = { cmd, cmd_name, opt_name };
		apply(cfg, o, &u, optarg);
	}
	return optind;
}

/* ------------------------------------------------------------ --help */

void kt_opt_label(const struct kt_opt *o, enum kt_cmd cmd, char *out, size_t size)
{
	char names[512];
	const char *arg = o->arg;
	if (!arg && o->kind == KT_OPT_CHOICE)
		arg = join_choices(o, names, sizeof(names));
	char sh[8] = "";
	if (o->short_name && !(o->doc[cmd].flags & KT_DOC_LONG))
		snprintf(sh, sizeof(sh), "-%c, ", o->short_name);
	snprintf(out, size, "%s--%s%s%s", sh, o->name, arg ? " " : "", arg ? arg : "");
}

static void indent(FILE *f, int n)
{
	fprintf(f, "%*s", n, "");
}

static void print_entry(const struct kt_cmd_help *h, const char *label, const char *text, FILE *f)
{
	const char *nl = strchr(text, '\n');
	int first = nl ? (int)(nl - text) : (int)strlen(text);
	int len = (int)strlen(label);

	fprintf(f, "  %s", label);
	if (len < h->column)
		indent(f, h->column - len);
	else if (2 + len + 2 + first <= 80)
		indent(f, 2);
	else {
		fputc('\n', f);
		indent(f, 2 + h->column);
	}
	fprintf(f, "%.*s\n", first, text);
	while (nl) {
		text = nl + 1;
		nl = strchr(text, '\n');
		int n = nl ? (int)(nl - text) : (int)strlen(text);
		indent(f, 2 + h->column);
		fprintf(f, "%.*s\n", n, text);
	}
}

/* A number as an option takes it: 16M for 16 MiB. */
static void format_number(uint64_t v, char *out, size_t size)
{
	if (v && v % (1ull << 30) == 0)
		snprintf(out, size, "%" PRIu64 "G", v >> 30);
	else if (v && v % (1ull << 20) == 0)
		snprintf(out, size, "%" PRIu64 "M", v >> 20);
	else
		snprintf(out, size, "%" PRIu64, v);
}

#define DEFAULT_MARK "{default}"

int kt_opt_doc_text(const struct kt_opt *o, enum kt_cmd cmd, const void *defaults, char *out,
		    size_t size)
{
	const char *text = o->doc[cmd].text ? o->doc[cmd].text : "";
	const char *mark = strstr(text, DEFAULT_MARK);
	if (!mark || o->kind != KT_OPT_NUMBER || !defaults) {
		int n = snprintf(out, size, "%s", text);
		return n >= 0 && (size_t)n < size ? 0 : -1;
	}
	char v[24];
	format_number(load_uint(defaults, o), v, sizeof(v));
	int n = snprintf(out, size, "%.*s%s%s", (int)(mark - text), text, v,
			 mark + sizeof(DEFAULT_MARK) - 1);
	return n >= 0 && (size_t)n < size ? 0 : -1;
}

void kt_opts_help(const struct kt_optset *set, enum kt_cmd cmd, FILE *f)
{
	const struct kt_cmd_help *h = &set->help[cmd];
	void *defaults = set->defaults ? calloc(1, set->cfg_size) : NULL;
	if (defaults)
		set->defaults(defaults);

	fputs(h->head, f);
	for (size_t s = 0; s < h->n_sections; s++) {
		const struct kt_opt *list[KT_OPTS_MAX];
		size_t n = 0;
		if (s)
			fputc('\n', f);
		if (h->sections[s].title)
			fprintf(f, "%s:\n", h->sections[s].title);
		/* this section's options by rank, ties in table order (insertion sort: stable) */
		for (size_t i = 0; i < set->n_opts && n < KT_OPTS_MAX; i++) {
			const struct kt_opt *o = &set->opts[i];
			if (o->doc[cmd].section != h->sections[s].id)
				continue;
			size_t j = n++;
			for (; j > 0 && list[j - 1]->doc[cmd].rank > o->doc[cmd].rank; j--)
				list[j] = list[j - 1];
			list[j] = o;
		}
		for (size_t i = 0; i < n; i++) {
			const struct kt_opt *o = list[i];
			char label[256];
			kt_opt_label(o, cmd, label, sizeof(label));
			while (i + 1 < n && (list[i + 1]->doc[cmd].flags & KT_DOC_JOIN)) {
				size_t len = strlen(label);
				snprintf(label + len, sizeof(label) - len, ", ");
				len = strlen(label);
				kt_opt_label(list[++i], cmd, label + len, sizeof(label) - len);
			}
			char text[1024];
			kt_opt_doc_text(o, cmd, defaults, text, sizeof(text));
			print_entry(h, label, text, f);
		}
	}
	fputs(h->tail, f);
	free(defaults);
}

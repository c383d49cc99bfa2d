/* SPDX-License-Identifier: Apache-2.0 */
#include "bpftrace/bpftrace_json.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/diag.h"
#include "base/stats.h"
#include "base/utf8.h"
#include "model/attrs.h"

/* A line buffer grown beyond this is released once its line is read. */
#define KEEP_BUF (64u << 10)
/* Bytes of a bad line shown in its warning. */
#define EXCERPT 48
/* Attributes of a record besides its entries (output, map, dropped, utf8, helper's four). */
#define FIXED_ATTRS 8
/* Arena room of an entry besides the texts of its key and value: kv, alignment. */
#define ENTRY_COST (sizeof(struct kt_kv) + 32)
/* Arena room of a record besides its attributes and texts. */
#define RECORD_SLACK 4096
/* Repair may triple a line (a byte -> U+FFFD); json-c takes an int length. */
#define MAX_LINE_LIMIT ((size_t)(INT_MAX / 4))

struct kt_bpftrace_reader {
	struct kt_origin *origin;
	char *label;
	size_t max_line;
	char *buf; /* the line being gathered */
	size_t have, cap;
	bool skipping; /* inside a line over max_line: dropped up to its newline */
	struct kt_bpftrace_totals totals;
	struct kt_diag_limit warn_limit;
};

/* What one line is read with. */
struct line {
	struct kt_bpftrace_reader *r;
	const struct kt_record_sink *sink;
	uint64_t now;
	const char *raw; /* as read, for the warning's excerpt */
	size_t raw_len;
	size_t len;	/* after repair: bounds the arenas of its records */
	bool repaired;	/* some bytes were not UTF-8 */
	char why[192];	/* what was wrong with it */
};

/* ------------------------------------------------------------ warnings */

static void excerpt(const char *p, size_t n, char out[EXCERPT + 8])
{
	size_t k = 0;
	for (size_t i = 0; i < n && i < EXCERPT; i++) {
		unsigned char c = (unsigned char)p[i];
		out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?'; /* one line of plain text */
	}
	if (n > EXCERPT) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

/* Rate-limited: a program printing garbage in a loop must not flood the log. */
static void __attribute__((format(printf, 4, 5)))
warn(struct kt_bpftrace_reader *r, const char *line, size_t n, const char *fmt, ...)
{
	uint64_t held;
	if (!kt_diag_limit_pass(&r->warn_limit, kt_mono_ns(), &held))
		return;
	char what[256], ex[EXCERPT + 8] = "", more[80] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (line)
		excerpt(line, n, ex);
	if (held)
		snprintf(more, sizeof(more), " (%" PRIu64 " more since the last message)", held);
	kt_warn("%s: output line %" PRIu64 ": %s%s%s%s%s", r->label, r->totals.lines, what,
		line ? ": \"" : "", ex, line ? "\"" : "", more);
}

/* A text of the output shown in a message: plain, one line, short. */
struct shown {
	char s[EXCERPT + 8];
};

static struct shown show(const char *p)
{
	struct shown x;
	excerpt(p, strlen(p), x.s);
	return x;
}

static int bad(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct line *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->why, sizeof(l->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* ------------------------------------------------------------ records */

struct rec {
	struct kt_log_record *r;
	struct kt_attrs at;
};

/*
 * A record of output type (static) with room for n_entries entries whose
 * keys take key_bytes; its other texts are parts of the line.
 */
static bool rec_new(struct line *l, struct rec *x, const char *type, size_t n_entries,
		    size_t key_bytes)
{
	size_t limit = RECORD_SLACK + 2 * l->len + key_bytes + (n_entries + FIXED_ATTRS) * ENTRY_COST;
	x->r = kt_log_record_new(limit);
	if (!x->r || !kt_attrs_init(&x->at, &x->r->arena, n_entries + FIXED_ATTRS)) {
		kt_log_record_free(x->r);
		x->r = NULL;
		return false;
	}
	struct kt_log *g = &x->r->log;
	g->time_unix_nano = l->now;
	g->observed_time_unix_nano = l->now;
	g->severity_number = KT_SEV_INFO;
	g->severity_text = (struct kt_str){ "", 0 };
	g->body = (struct kt_str){ "", 0 };
	kt_attrs_cstr(&x->at, "bpftrace.output", type);
	return true;
}

static void no_memory(struct line *l)
{
	l->r->totals.no_memory++;
	warn(l->r, NULL, 0, "no memory for a log record; dropped");
}

/* Hands x over to the sink (or drops it, counted, when it could not be built). */
static void rec_emit(struct line *l, struct rec *x)
{
	if (!x->r)
		return;
	if (l->repaired)
		kt_attrs_bool(&x->at, "katatrace.log.utf8_repaired", true);
	if (x->at.failed) {
		kt_log_record_free(x->r);
		x->r = NULL;
		no_memory(l);
		return;
	}
	x->r->log.attrs = kt_attrs_list(&x->at);
	x->r->origin = kt_origin_get(l->r->origin);
	if (kt_sink_log(l->sink, x->r)) {
		l->r->totals.records++;
		KT_STAT_INC(bpftrace_records);
	}
	x->r = NULL;
}

/* ------------------------------------------------------------ text */

static const char *type_name(json_object *v)
{
	return v ? json_type_to_name(json_object_get_type(v)) : "null or absent";
}

/* printf, time, join, syscall, cat: a record per line of the text. */
static int text_records(struct line *l, const char *type, json_object *data)
{
	if (!json_object_is_type(data, json_type_string))
		return bad(l, "\"data\" of %s is %s, not a string", type, type_name(data));
	const char *s = json_object_get_string(data);
	size_t n = (size_t)json_object_get_string_len(data);
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - s) : n;
		struct rec x;
		if (!rec_new(l, &x, type, 0, 0)) {
			no_memory(l);
		} else {
			x.r->log.body = kt_attrs_dup(&x.at, s + i, end - i);
			rec_emit(l, &x);
		}
		i = nl ? end + 1 : n;
	}
	return 0;
}

/* The JSON text of v, for values that are neither integers nor strings. */
static struct kt_str json_text(json_object *v)
{
	size_t n;
	const char *t = json_object_to_json_string_length(
		v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	return t ? (struct kt_str){ t, n } : (struct kt_str){ "null", 4 };
}

/* print() of a non-map value. */
static int value_record(struct line *l, json_object *data)
{
	if (!data)
		return bad(l, "value without \"data\"");
	struct kt_str s = json_object_is_type(data, json_type_string)
				  ? (struct kt_str){ json_object_get_string(data),
						     (size_t)json_object_get_string_len(data) }
				  : json_text(data);
	struct rec x;
	if (!rec_new(l, &x, "value", 0, 0)) {
		no_memory(l);
		return 0;
	}
	x.r->log.body = kt_attrs_dup(&x.at, s.ptr, s.len);
	rec_emit(l, &x);
	return 0;
}

/* ------------------------------------------------------------ maps */

/*
 * The entries of one map, walked twice: to count them and check the shape
 * (at NULL), then to add them to the record.
 */
struct ents {
	struct line *l;
	struct kt_attrs *at; /* NULL: count and check only */
	struct kt_str name;  /* "@h" */
	size_t n;	     /* entries met */
	size_t dropped;	     /* beyond KT_BPFTRACE_MAX_ENTRIES */
	size_t key_bytes;    /* of the attribute keys kept: a map key repeats for each bucket */
};

/* "<name>[<key>]: <part>": the key and part only where given. */
static size_t entry_key_len(const struct ents *e, const char *key, const char *part)
{
	return e->name.len + (key ? strlen(key) + 2 : 0) + (part ? strlen(part) + 2 : 0);
}

static struct kt_str entry_key(struct ents *e, const char *key, const char *part)
{
	size_t kn = key ? strlen(key) : 0, pn = part ? strlen(part) : 0;
	size_t len = entry_key_len(e, key, part);
	char *s = kt_arena_alloc(e->at->a, len + 1);
	if (!s) {
		e->at->failed = true;
		return (struct kt_str){ "", 0 };
	}
	size_t k = 0;
	memcpy(s, e->name.ptr, e->name.len);
	k += e->name.len;
	if (key) {
		s[k++] = '[';
		memcpy(s + k, key, kn);
		k += kn;
		s[k++] = ']';
	}
	if (part) {
		memcpy(s + k, ": ", 2);
		memcpy(s + k + 2, part, pn);
		k += pn + 2;
	}
	s[k] = '\0';
	return (struct kt_str){ s, len };
}

/* One entry: integers (in int64) as integers, strings as strings, the rest as JSON text. */
static void entry(struct ents *e, const char *key, const char *part, json_object *v)
{
	if (++e->n > KT_BPFTRACE_MAX_ENTRIES) {
		e->dropped++;
		return;
	}
	e->key_bytes += entry_key_len(e, key, part) + 1;
	if (!e->at)
		return;
	struct kt_str k = entry_key(e, key, part);
	if (json_object_is_type(v, json_type_int)) {
		int64_t i = json_object_get_int64(v);
		/* json-c keeps integers above INT64_MAX as uint64: written out, not clamped */
		if (i != INT64_MAX || json_object_get_uint64(v) == (uint64_t)INT64_MAX) {
			kt_attrs_data_int(e->at, k, i);
			return;
		}
	}
	struct kt_str s = json_object_is_type(v, json_type_string)
				  ? (struct kt_str){ json_object_get_string(v),
						     (size_t)json_object_get_string_len(v) }
				  : json_text(v);
	kt_attrs_data_str(e->at, k, kt_attrs_dup(e->at, s.ptr, s.len));
}

/* map: {"@x": 5} or {"@c": {"bash": 3}}. */
static int walk_map(struct ents *e, json_object *v)
{
	if (!json_object_is_type(v, json_type_object)) {
		entry(e, NULL, NULL, v);
		return 0;
	}
	json_object_object_foreach(v, key, val)
		entry(e, key, NULL, val);
	return 0;
}

static bool get_int(json_object *o, const char *key, int64_t *out)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* A bucket as bpftrace's text output writes it, with exact numbers. */
static int bucket_label(struct ents *e, json_object *b, char out[64], json_object **count)
{
	int64_t lo, hi;
	if (!json_object_is_type(b, json_type_object))
		return bad(e->l, "hist %s: a bucket is %s, not an object", show(e->name.ptr).s, type_name(b));
	if (!json_object_object_get_ex(b, "count", count) ||
	    !json_object_is_type(*count, json_type_int))
		return bad(e->l, "hist %s: a bucket without an integer \"count\"", show(e->name.ptr).s);
	bool has_lo = get_int(b, "min", &lo), has_hi = get_int(b, "max", &hi);
	/* hi + 1 only below INT64_MAX; at it the bound is written inclusive */
	bool top = has_hi && hi == INT64_MAX;
	if (has_lo && has_hi && lo == hi)
		snprintf(out, 64, "[%" PRId64 "]", lo);
	else if (has_lo && has_hi)
		snprintf(out, 64, top ? "[%" PRId64 ", %" PRId64 "]" : "[%" PRId64 ", %" PRId64 ")",
			 lo, top ? hi : hi + 1);
	else if (has_lo)
		snprintf(out, 64, "[%" PRId64 ", ...)", lo);
	else if (has_hi)
		snprintf(out, 64, top ? "(..., %" PRId64 "]" : "(..., %" PRId64 ")", top ? hi : hi + 1);
	else
		return bad(e->l, "hist %s: a bucket without \"min\" or \"max\"", show(e->name.ptr).s);
	return 0;
}

static int buckets(struct ents *e, const char *key, json_object *arr)
{
	if (!json_object_is_type(arr, json_type_array))
		return bad(e->l, "hist %s: %s, not an array of buckets", show(e->name.ptr).s, type_name(arr));
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		char label[64];
		json_object *count;
		if (bucket_label(e, json_object_array_get_idx(arr, i), label, &count))
			return -1;
		entry(e, key, label, count);
	}
	return 0;
}

/* hist, lhist: {"@h": [buckets]} or {"@h": {"bash": [buckets]}}. */
static int walk_hist(struct ents *e, json_object *v)
{
	if (!json_object_is_type(v, json_type_object))
		return buckets(e, NULL, v);
	json_object_object_foreach(v, key, val)
		if (buckets(e, key, val))
			return -1;
	return 0;
}

/* stats(): exactly count, average and total, integers. */
static bool stats_triple(json_object *v)
{
	int64_t i;
	return json_object_is_type(v, json_type_object) && json_object_object_length(v) == 3 &&
	       get_int(v, "count", &i) && get_int(v, "average", &i) && get_int(v, "total", &i);
}

static void stats_fields(struct ents *e, const char *key, json_object *v)
{
	static const char *const fields[] = { "count", "average", "total" };
	for (size_t i = 0; i < 3; i++) {
		json_object *f;
		json_object_object_get_ex(v, fields[i], &f);
		entry(e, key, fields[i], f);
	}
}

/* stats() and avg(): a triple or a value, each keyed or not. */
static int walk_stats(struct ents *e, json_object *v)
{
	if (stats_triple(v)) {
		stats_fields(e, NULL, v);
		return 0;
	}
	if (!json_object_is_type(v, json_type_object)) {
		entry(e, NULL, NULL, v);
		return 0;
	}
	json_object_object_foreach(v, key, val) {
		if (stats_triple(val))
			stats_fields(e, key, val);
		else
			entry(e, key, NULL, val);
	}
	return 0;
}

typedef int (*walk_fn)(struct ents *e, json_object *v);

/* map, hist, stats: a record per map of data, once every map has the expected shape. */
static int map_records(struct line *l, const char *type, json_object *data, walk_fn walk)
{
	if (!json_object_is_type(data, json_type_object))
		return bad(l, "\"data\" of %s is %s, not an object", type, type_name(data));
	json_object_object_foreach(data, name0, v0) {
		struct ents e = { .l = l, .name = { name0, strlen(name0) } };
		if (walk(&e, v0))
			return -1;
	}
	json_object_object_foreach(data, name, v) {
		struct ents e = { .l = l, .name = { name, strlen(name) } };
		walk(&e, v); /* count */
		size_t n = e.n < KT_BPFTRACE_MAX_ENTRIES ? e.n : KT_BPFTRACE_MAX_ENTRIES;
		struct rec x;
		if (!rec_new(l, &x, type, n, e.key_bytes)) {
			no_memory(l);
			continue;
		}
		struct kt_str nm = kt_attrs_dup(&x.at, e.name.ptr, e.name.len);
		x.r->log.body = nm;
		kt_attrs_str(&x.at, "bpftrace.map", nm);
		e.n = e.dropped = e.key_bytes = 0;
		e.at = &x.at;
		e.name = nm;
		walk(&e, v);
		if (e.dropped) {
			kt_attrs_int(&x.at, "bpftrace.entries_dropped", (int64_t)e.dropped);
			l->r->totals.entries_dropped += e.dropped;
			warn(l->r, NULL, 0, "map %s has %zu entries: the %zu beyond %d dropped",
			     show(nm.ptr).s, e.n, e.dropped, KT_BPFTRACE_MAX_ENTRIES);
		}
		rec_emit(l, &x);
	}
	return 0;
}

/* ------------------------------------------------------------ other types */

static int counter(struct line *l, const char *type, json_object *data, const char *field,
		   uint64_t *out)
{
	json_object *v;
	if (!json_object_is_type(data, json_type_object) ||
	    !json_object_object_get_ex(data, field, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return bad(l, "%s without a count of \"%s\"", type, field);
	*out = (uint64_t)json_object_get_int64(v);
	return 0;
}

static int helper_error(struct line *l, json_object *top)
{
	json_object *helper;
	int64_t ret, line = 0, col = 0;
	if (!json_object_object_get_ex(top, "helper", &helper) ||
	    !json_object_is_type(helper, json_type_string) || !get_int(top, "retcode", &ret))
		return bad(l, "helper_error without \"helper\" and \"retcode\"");
	bool has_line = get_int(top, "line", &line), has_col = get_int(top, "col", &col);
	struct kt_str name = { json_object_get_string(helper),
			       (size_t)json_object_get_string_len(helper) };
	/* bpf helpers return -errno */
	const char *desc = ret < 0 && ret > -4096 ? strerrordesc_np((int)-ret) : NULL;
	char tail[160];
	snprintf(tail, sizeof(tail), ": %s (%" PRId64 ")", desc ? desc : "error", ret);
	struct rec x;
	if (!rec_new(l, &x, "helper_error", 0, 0)) {
		no_memory(l);
		return 0;
	}
	x.r->log.severity_number = KT_SEV_WARN;
	size_t tn = strlen(tail), len = 10 + name.len + tn;
	char *body = kt_arena_alloc(&x.r->arena, len + 1);
	if (body) {
		memcpy(body, "Failed to ", 10);
		memcpy(body + 10, name.ptr, name.len);
		memcpy(body + 10 + name.len, tail, tn + 1);
		x.r->log.body = (struct kt_str){ body, len };
	} else {
		x.at.failed = true;
	}
	kt_attrs_copy(&x.at, "bpftrace.helper", name);
	kt_attrs_int(&x.at, "bpftrace.retcode", ret);
	if (has_line)
		kt_attrs_int(&x.at, "bpftrace.line", line);
	if (has_col)
		kt_attrs_int(&x.at, "bpftrace.column", col);
	rec_emit(l, &x);
	return 0;
}

static int dispatch(struct line *l, json_object *top)
{
	json_object *t, *data = NULL;
	if (!json_object_is_type(top, json_type_object))
		return bad(l, "%s, not a JSON object", type_name(top));
	if (!json_object_object_get_ex(top, "type", &t) || !json_object_is_type(t, json_type_string))
		return bad(l, "no \"type\" string");
	json_object_object_get_ex(top, "data", &data);
	const char *type = json_object_get_string(t);
	struct kt_bpftrace_totals *tot = &l->r->totals;

	static const char *const text_types[] = { "printf", "time", "join", "syscall", "cat" };
	for (size_t i = 0; i < sizeof(text_types) / sizeof(text_types[0]); i++)
		if (strcmp(type, text_types[i]) == 0)
			return text_records(l, text_types[i], data);
	if (strcmp(type, "map") == 0)
		return map_records(l, "map", data, walk_map);
	if (strcmp(type, "hist") == 0)
		return map_records(l, "hist", data, walk_hist);
	if (strcmp(type, "stats") == 0)
		return map_records(l, "stats", data, walk_stats);
	if (strcmp(type, "value") == 0)
		return value_record(l, data);
	if (strcmp(type, "helper_error") == 0)
		return helper_error(l, top);
	if (strcmp(type, "attached_probes") == 0) {
		if (counter(l, type, data, "probes", &tot->probes))
			return -1;
		kt_debug("%s: %" PRIu64 " probes attached", l->r->label, tot->probes);
		return 0;
	}
	if (strcmp(type, "lost_events") == 0) {
		uint64_t n;
		if (counter(l, type, data, "events", &n))
			return -1;
		tot->lost_events += n;
		KT_STAT_ADD(bpftrace_lost_events, n);
		warn(l->r, NULL, 0,
		     "bpftrace lost %" PRIu64 " events (%" PRIu64 " in all): its perf buffer was "
		     "full (BPFTRACE_PERF_RB_PAGES makes it larger)",
		     n, tot->lost_events);
		return 0;
	}
	return bad(l, "unknown type \"%s\"", show(type).s);
}

/* ------------------------------------------------------------ lines */

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/*
 * bpftrace 0.17 escapes a byte above 0x7f as "\uffffffXX": back to the byte.
 * An escaped backslash is skipped whole, so "\\uffffff41" stays text.
 * Returns the new length (never longer).
 */
static size_t unmangle(const char *p, size_t n, char *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		if (p[i] != '\\' || i + 1 >= n) {
			out[k++] = p[i++];
		} else if (p[i + 1] == 'u' && n - i >= 10 && memcmp(p + i + 2, "ffffff", 6) == 0 &&
			   is_hex(p[i + 8]) && is_hex(p[i + 9]) && hex(p[i + 8]) >= 8) {
			out[k++] = (char)(hex(p[i + 8]) << 4 | hex(p[i + 9]));
			i += 10;
		} else {
			out[k++] = p[i++];
			out[k++] = p[i++];
		}
	}
	return k;
}

static int parse(struct line *l, const char *p, size_t n)
{
	/* json-c refuses a container at max_depth - 1 levels below the top one */
	struct json_tokener *tok = json_tokener_new_ex(KT_BPFTRACE_JSON_DEPTH + 1);
	if (!tok)
		return bad(l, "no memory for the JSON parser");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *top = json_tokener_parse_ex(tok, p, (int)n);
	enum json_tokener_error err = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	int rc;
	if (err != json_tokener_success || end != n)
		rc = bad(l, "not JSON (%s at byte %zu)",
			 err == json_tokener_success    ? "trailing data"
			 : err == json_tokener_continue ? "unexpected end of line"
							: json_tokener_error_desc(err),
			 end);
	else
		rc = dispatch(l, top);
	json_object_put(top);
	return rc;
}

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static void read_line(struct kt_bpftrace_reader *r, const char *p, size_t n, uint64_t now,
		      const struct kt_record_sink *sink)
{
	r->totals.lines++;
	KT_STAT_INC(bpftrace_lines);
	while (n && space(p[n - 1]))
		n--;
	while (n && space(*p)) {
		p++;
		n--;
	}
	if (!n)
		return; /* bpftrace's blank lines before the maps at exit */
	struct line l = { .r = r, .sink = sink, .now = now, .raw = p, .raw_len = n, .len = n };
	char *fixed = NULL;
	int rc;
	const char *nul = memchr(p, '\0', n);
	if (nul) {
		rc = bad(&l, "a NUL byte at byte %zu", (size_t)(nul - p));
		goto out;
	}
	const char *s = p;
	bool mangled = memmem(p, n, "\\uffffff", 8) != NULL;
	if (mangled || kt_utf8_check((const uint8_t *)p, n) != n) {
		fixed = malloc(4 * n); /* unmangled (at most n) then repaired (at most 3n) */
		if (!fixed) {
			rc = bad(&l, "no memory to read it");
			goto out;
		}
		size_t k = mangled ? unmangle(p, n, fixed) : (memcpy(fixed, p, n), n);
		if (kt_utf8_check((const uint8_t *)fixed, k) != k) {
			k = kt_utf8_repair((const uint8_t *)fixed, k, fixed + n, NULL);
			s = fixed + n;
			l.repaired = true;
		} else {
			s = fixed;
		}
		l.len = k;
	}
	rc = parse(&l, s, l.len);
out:
	free(fixed);
	if (rc) {
		r->totals.malformed++;
		KT_STAT_INC(bpftrace_bad_lines);
		warn(r, l.raw, l.raw_len, "%s; line ignored", l.why);
	}
}

static void too_long(struct kt_bpftrace_reader *r, const char *start, size_t n)
{
	r->totals.malformed++;
	r->totals.too_long++;
	KT_STAT_INC(bpftrace_bad_lines);
	warn(r, start, n, "longer than %zu bytes; line ignored", r->max_line);
}

/* The gathered line is done with: a large buffer is not kept. */
static void reset_buf(struct kt_bpftrace_reader *r)
{
	r->have = 0;
	if (r->cap > KEEP_BUF) {
		free(r->buf);
		r->buf = NULL;
		r->cap = 0;
	}
}

static bool append(struct kt_bpftrace_reader *r, const char *p, size_t n)
{
	if (r->cap - r->have < n) {
		size_t cap = r->cap ? r->cap : 256;
		while (cap - r->have < n)
			cap *= 2;
		if (cap > r->max_line)
			cap = r->max_line; /* have + n <= max_line here */
		char *b = realloc(r->buf, cap);
		if (!b)
			return false;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->have, p, n);
	r->have += n;
	return true;
}

void kt_bpftrace_feed(struct kt_bpftrace_reader *r, const void *data, size_t n,
		      uint64_t now_unix_ns, const struct kt_record_sink *sink)
{
	const char *p = data;
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n, used = nl ? take + 1 : n;
		if (r->skipping) {
			r->skipping = !nl;
		} else if (take > r->max_line - r->have) {
			/* counted and warned with its start when found; its rest is skipped */
			r->totals.lines++;
			KT_STAT_INC(bpftrace_lines);
			too_long(r, r->have ? r->buf : p, r->have ? r->have : take);
			reset_buf(r);
			r->skipping = !nl;
		} else if (nl && !r->have) {
			read_line(r, p, take, now_unix_ns, sink); /* whole in this chunk: no copy */
		} else if (!append(r, p, take)) {
			r->totals.lines++;
			KT_STAT_INC(bpftrace_lines);
			r->totals.malformed++;
			KT_STAT_INC(bpftrace_bad_lines);
			warn(r, NULL, 0, "no memory to hold a line; line ignored");
			reset_buf(r);
			r->skipping = !nl;
		} else if (nl) {
			read_line(r, r->buf, r->have, now_unix_ns, sink);
			reset_buf(r);
		}
		p += used;
		n -= used;
	}
}

void kt_bpftrace_finish(struct kt_bpftrace_reader *r, uint64_t now_unix_ns,
			const struct kt_record_sink *sink)
{
	if (!r->skipping && r->have)
		read_line(r, r->buf, r->have, now_unix_ns, sink);
	r->skipping = false;
	reset_buf(r);
}

struct kt_bpftrace_reader *kt_bpftrace_reader_new(struct kt_origin *origin, size_t max_line,
						  const char *label)
{
	struct kt_bpftrace_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->label = strdup(label ? label : "bpftrace");
	if (!r->label) {
		free(r);
		return NULL;
	}
	if (!max_line)
		max_line = KT_BPFTRACE_MAX_LINE;
	if (max_line < KT_BPFTRACE_MIN_MAX_LINE)
		max_line = KT_BPFTRACE_MIN_MAX_LINE;
	if (max_line > MAX_LINE_LIMIT)
		max_line = MAX_LINE_LIMIT;
	r->max_line = max_line;
	r->origin = kt_origin_get(origin);
	r->warn_limit.interval_ns = KT_BPFTRACE_WARN_NS;
	return r;
}

const struct kt_bpftrace_totals *kt_bpftrace_reader_totals(const struct kt_bpftrace_reader *r)
{
	return &r->totals;
}

size_t kt_bpftrace_reader_held(const struct kt_bpftrace_reader *r)
{
	return r->have;
}

size_t kt_bpftrace_reader_max_line(const struct kt_bpftrace_reader *r)
{
	return r->max_line;
}

void kt_bpftrace_reader_free(struct kt_bpftrace_reader *r)
{
	if (!r)
		return;
	kt_origin_put(r->origin);
	free(r->buf);
	free(r->label);
	free(r);
}

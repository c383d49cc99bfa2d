/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's own log lines (base/diag.h): --log-format json lines parsed
 * back with json-c (strict, UTF-8 validated), whatever bytes a message
 * holds; every level; the members and their order; fields; the stdio
 * stream that turns printed lines into JSON lines; the summaries
 * (base/stats.h) in both formats; and the text format as it always was.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/stats.h"

/* 2026-01-02T03:04:05Z (date -u -d 2026-01-02T03:04:05Z +%s) and some nanoseconds. */
static const struct timespec when = { 1767323045, 678901234 };

/* ------------------------------------------------------------ helpers */

/*
 * line must be one JSON object and a '\n', nothing else: parsed strictly,
 * with json-c checking that it is UTF-8. The caller puts the object.
 */
static struct json_object *parse_line(const char *line, size_t n)
{
	cr_assert(n > 0 && line[n - 1] == '\n', "no newline at the end: %.*s", (int)n, line);
	cr_assert(memchr(line, '\n', n - 1) == NULL, "a newline inside the line");
	for (size_t i = 0; i + 1 < n; i++)
		cr_assert((unsigned char)line[i] >= 0x20, "raw control byte 0x%02x at %zu",
			  (unsigned char)line[i], i);
	struct json_tokener *tok = json_tokener_new();
	cr_assert(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	struct json_object *o = json_tokener_parse_ex(tok, line, (int)(n - 1));
	enum json_tokener_error e = json_tokener_get_error(tok);
	cr_assert(o && e == json_tokener_success, "not one JSON value (%s): %.*s",
		  json_tokener_error_desc(e), (int)n, line);
	cr_assert_eq(json_tokener_get_parse_end(tok), n - 1, "bytes after the object");
	json_tokener_free(tok);
	cr_assert(json_object_is_type(o, json_type_object));
	return o;
}

static struct json_object *line_of(enum kt_log_level lvl, const char *msg, size_t len, long pid,
				   const char *component, struct json_object *fields)
{
	char *line = kt_diag_json_line(&when, lvl, msg, len, pid, component, fields);
	cr_assert(line);
	struct json_object *o = parse_line(line, strlen(line));
	free(line);
	return o;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;
	cr_assert(json_object_object_get_ex(o, key, &v), "no \"%s\"", key);
	cr_assert(json_object_is_type(v, json_type_string), "\"%s\" is not a string", key);
	return json_object_get_string(v);
}

static int64_t num(struct json_object *o, const char *key)
{
	struct json_object *v;
	cr_assert(json_object_object_get_ex(o, key, &v), "no \"%s\"", key);
	cr_assert(json_object_is_type(v, json_type_int), "\"%s\" is not an integer", key);
	return json_object_get_int64(v);
}

/* The msg member's bytes, which may hold NULs. */
static void expect_msg(struct json_object *o, const char *want, size_t want_len)
{
	struct json_object *v;
	cr_assert(json_object_object_get_ex(o, "msg", &v));
	cr_assert(json_object_is_type(v, json_type_string));
	size_t n = (size_t)json_object_get_string_len(v);
	cr_expect_eq(n, want_len, "msg: %zu bytes, want %zu", n, want_len);
	cr_expect(n == want_len && memcmp(json_object_get_string(v), want, n) == 0,
		  "msg differs: %s", json_object_get_string(v));
}

/* What fn writes on descriptor 2 (kt_diag, kt_report, the JSON stream), into out. */
static size_t capture_stderr(void (*fn)(void *), void *arg, char *out, size_t size)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	fflush(stderr);
	int saved = dup(2);
	cr_assert(saved >= 0);
	cr_assert(dup2(p[1], 2) >= 0);
	close(p[1]);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < size && (r = read(p[0], out + n, size - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(p[0]);
	return n;
}

/* Splits text into its lines (each with its '\n'), at most max. */
static size_t lines_of(char *text, char **line, size_t *len, size_t max)
{
	size_t k = 0;
	for (char *p = text; *p && k < max; k++) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		line[k] = p;
		len[k] = n;
		p += n;
	}
	return k;
}

static void json_format(void)
{
	kt_log_format = KT_LOG_FORMAT_JSON;
	kt_log_level = KT_LOG_INFO;
}

/* ------------------------------------------------------------ the line */

Test(diag_json, every_level_by_its_name)
{
	static const struct {
		enum kt_log_level lvl;
		const char *name;
	} levels[] = {
		{ KT_LOG_ERROR, "error" }, { KT_LOG_WARN, "warn" },   { KT_LOG_INFO, "info" },
		{ KT_LOG_DEBUG, "debug" }, { KT_LOG_TRACE, "trace" },
	};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		struct json_object *o = line_of(levels[i].lvl, "m", 1, 1, NULL, NULL);
		cr_expect_str_eq(str(o, "level"), levels[i].name);
		json_object_put(o);
	}
}

Test(diag_json, time_is_rfc3339_utc_with_milliseconds)
{
	struct json_object *o = line_of(KT_LOG_INFO, "m", 1, 1, NULL, NULL);
	cr_expect_str_eq(str(o, "time"), "2026-01-02T03:04:05.678Z");
	json_object_put(o);
	/* milliseconds are cut, not rounded; the epoch */
	static const struct {
		struct timespec ts;
		const char *want;
	} cases[] = {
		{ { 1767323045, 999999999 }, "2026-01-02T03:04:05.999Z" },
		{ { 0, 0 }, "1970-01-01T00:00:00.000Z" },
		{ { 951782400, 1000000 }, "2000-02-29T00:00:00.001Z" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *line = kt_diag_json_line(&cases[i].ts, KT_LOG_INFO, "m", 1, 1, NULL, NULL);
		cr_assert(line);
		o = parse_line(line, strlen(line));
		cr_expect_str_eq(str(o, "time"), cases[i].want);
		json_object_put(o);
		free(line);
	}
}

Test(diag_json, members_in_order_pid_and_component)
{
	struct json_object *o = line_of(KT_LOG_WARN, "hello", 5, 4242, "broker", NULL);
	static const char *const order[] = { "time", "level", "msg", "pid", "component" };
	size_t i = 0;
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		cr_assert_lt(i, 5, "an extra member %s", key);
		cr_expect_str_eq(key, order[i]);
		i++;
	}
	cr_expect_eq(i, 5);
	cr_expect_eq(num(o, "pid"), 4242);
	cr_expect_str_eq(str(o, "component"), "broker");
	expect_msg(o, "hello", 5);
	json_object_put(o);

	/* no pid (< 0), no component (NULL): not there at all */
	o = line_of(KT_LOG_INFO, "x", 1, -1, NULL, NULL);
	cr_expect_eq(json_object_object_length(o), 3);
	cr_expect(!json_object_object_get_ex(o, "pid", NULL));
	cr_expect(!json_object_object_get_ex(o, "component", NULL));
	json_object_put(o);
}

Test(diag_json, every_byte_below_0x80_comes_back_as_it_was)
{
	/* NUL included: the message is taken by its length */
	char msg[128];
	for (int i = 0; i < 128; i++)
		msg[i] = (char)i;
	struct json_object *o = line_of(KT_LOG_INFO, msg, sizeof(msg), 1, NULL, NULL);
	expect_msg(o, msg, sizeof(msg));
	json_object_put(o);

	/* what JSON must escape, and a line that looks like the end of the object */
	static const char tricky[] = "\"}\n{\"level\":\"error\",\"msg\":\"forged\\\" \\ / \t\r\b\f\x1b[31m";
	o = line_of(KT_LOG_INFO, tricky, sizeof(tricky) - 1, 1, NULL, NULL);
	expect_msg(o, tricky, sizeof(tricky) - 1);
	cr_expect_str_eq(str(o, "level"), "info");
	json_object_put(o);
}

Test(diag_json, bytes_that_are_not_utf8_become_u_fffd)
{
#define FFFD "\xef\xbf\xbd"
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "\xff", FFFD },
		{ "a\xfe" "b", "a" FFFD "b" },
		{ "ab\xc3", "ab" FFFD },                                /* cut short */
		{ "\xe2\x82", FFFD FFFD },                              /* cut short, 3-byte form */
		{ "\xc0\xaf", FFFD FFFD },                              /* overlong '/' */
		{ "\xed\xa0\x80", FFFD FFFD FFFD },                     /* UTF-16 surrogate */
		{ "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD },             /* above U+10FFFF */
		{ "\x80\x80", FFFD FFFD },                              /* lone continuations */
		{ "caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80" }, /* valid: kept */
		{ "\xe2\x80\xa8", "\xe2\x80\xa8" },                     /* U+2028: valid JSON */
		{ "\x01\xff\x1f", "\x01" FFFD "\x1f" },                 /* both at once */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o =
			line_of(KT_LOG_ERROR, cases[i].in, strlen(cases[i].in), 1, NULL, NULL);
		expect_msg(o, cases[i].want, strlen(cases[i].want));
		json_object_put(o);
	}
	/* the component too */
	struct json_object *o = line_of(KT_LOG_ERROR, "m", 1, 1, "a\xff", NULL);
	cr_expect_str_eq(str(o, "component"), "a" FFFD);
	json_object_put(o);
#undef FFFD
}

Test(diag_json, fields_follow_and_cannot_replace_the_standard_members)
{
	struct json_object *f = json_object_new_object();
	json_object_object_add(f, "spans_exported", json_object_new_uint64(64));
	json_object_object_add(f, "msg", json_object_new_string("forged"));
	json_object_object_add(f, "level", json_object_new_string("error"));
	json_object_object_add(f, "time", json_object_new_string("never"));
	json_object_object_add(f, "pid", json_object_new_int(1));
	json_object_object_add(f, "component", json_object_new_string("other"));
	json_object_object_add(f, "note", json_object_new_string("x\xffy\n"));
	json_object_object_add(f, "bad\xfekey", json_object_new_int(1));
	json_object_object_add(f, "big", json_object_new_uint64(UINT64_MAX));
	struct json_object *o = line_of(KT_LOG_INFO, "real", 4, 7, "daemon", f);
	expect_msg(o, "real", 4);
	cr_expect_str_eq(str(o, "level"), "info");
	cr_expect_str_eq(str(o, "time"), "2026-01-02T03:04:05.678Z");
	cr_expect_eq(num(o, "pid"), 7);
	cr_expect_str_eq(str(o, "component"), "daemon");
	cr_expect_eq(num(o, "spans_exported"), 64);
	cr_expect_str_eq(str(o, "note"), "x\xef\xbf\xbdy\n");
	struct json_object *big;
	cr_assert(json_object_object_get_ex(o, "big", &big));
	cr_expect_eq(json_object_get_uint64(big), UINT64_MAX);
	/* time level msg pid component, spans_exported note big */
	cr_expect_eq(json_object_object_length(o), 8);
	static const char *const order[] = { "time", "level", "msg", "pid", "component",
					     "spans_exported", "note", "big" };
	size_t i = 0;
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		if (i < 8)
			cr_expect_str_eq(key, order[i]);
		i++;
	}
	json_object_put(o);
	/* the caller's fields are not consumed by kt_diag_json_line */
	cr_expect_eq(json_object_object_length(f), 9);
	json_object_put(f);
}

/* ------------------------------------------------------------ kt_diag, kt_report */

static void log_some(void *arg)
{
	(void)arg;
	kt_warn("w %d \"%s\"", 1, "q\xff");
	kt_debug("not at info");
	kt_trace("not at info");
	kt_info("i");
	kt_err("e");
}

Test(diag_json, kt_diag_writes_json_lines_up_to_the_level)
{
	char out[8192], *line[8];
	size_t len[8];
	json_format();
	kt_diag_set_component("test");
	capture_stderr(log_some, NULL, out, sizeof(out));
	size_t n = lines_of(out, line, len, 8);
	cr_assert_eq(n, 3, "%s", out);
	static const char *const level[] = { "warn", "info", "error" };
	static const char *const msg[] = { "w 1 \"q\xef\xbf\xbd\"", "i", "e" };
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = parse_line(line[i], len[i]);
		cr_expect_str_eq(str(o, "level"), level[i]);
		expect_msg(o, msg[i], strlen(msg[i]));
		cr_expect_eq(num(o, "pid"), getpid());
		cr_expect_str_eq(str(o, "component"), "test");
		regex_t re;
		cr_assert_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
				     REG_EXTENDED | REG_NOSUB), 0);
		cr_expect_eq(regexec(&re, str(o, "time"), 0, NULL, 0), 0, "time %s", str(o, "time"));
		regfree(&re);
		json_object_put(o);
	}
}

static void log_long(void *arg)
{
	const char *s = arg;
	kt_err("%s", s);
}

Test(diag_json, a_long_message_is_cut_but_stays_one_line)
{
	char out[65536], *line[4];
	size_t len[4];
	static char big[6000];
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = i % 3 == 0 ? '\xff' : i % 3 == 1 ? '\n' : '"';
	json_format();
	capture_stderr(log_long, big, out, sizeof(out));
	cr_assert_eq(lines_of(out, line, len, 4), 1);
	struct json_object *o = parse_line(line[0], len[0]);
	const char *m = str(o, "msg");
	cr_expect_gt(strlen(m), 1000);
	cr_expect_eq(strncmp(m, "\xef\xbf\xbd\n\"\xef\xbf\xbd", 8), 0);
	json_object_put(o);
}

static void log_text(void *arg)
{
	(void)arg;
	kt_warn("hello \"x\" %d", 5);
	kt_debug("not at info");
}

Test(diag_text, the_text_format_is_as_it_was)
{
	char out[4096];
	kt_log_format = KT_LOG_FORMAT_TEXT;
	kt_log_level = KT_LOG_INFO;
	kt_diag_set_component("daemon"); /* not shown in text */
	capture_stderr(log_text, NULL, out, sizeof(out));
	regex_t re;
	cr_assert_eq(regcomp(&re,
			     "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
			     "warn: hello \"x\" 5\n$",
			     REG_EXTENDED | REG_NOSUB),
		     0);
	cr_expect_eq(regexec(&re, out, 0, NULL, 0), 0, "got: %s", out);
	regfree(&re);
}

static FILE *report_out;

static void report_some(void *arg)
{
	(void)arg;
	kt_report(report_out, kt_report_counts(2, "a", (uint64_t)1, "b", (uint64_t)UINT64_MAX),
		  "katatrace-bpf thing: a %d", 1);
	kt_report(report_out, NULL, "no fields");
}

Test(diag_report, text_on_its_stream_json_on_stderr_whatever_the_level)
{
	char out[4096], *line[4];
	size_t len[4];
	char *text = NULL;
	size_t text_len = 0;

	/* text: the message alone on the stream given, nothing on stderr */
	kt_log_format = KT_LOG_FORMAT_TEXT;
	kt_log_level = KT_LOG_ERROR;
	report_out = open_memstream(&text, &text_len);
	cr_assert(capture_stderr(report_some, NULL, out, sizeof(out)) == 0, "stderr: %s", out);
	fclose(report_out);
	cr_expect_str_eq(text, "katatrace-bpf thing: a 1\nno fields\n");
	free(text);

	/* json: lines of level info on stderr, the stream untouched */
	kt_log_format = KT_LOG_FORMAT_JSON;
	kt_diag_set_component("daemon");
	text = NULL;
	report_out = open_memstream(&text, &text_len);
	capture_stderr(report_some, NULL, out, sizeof(out));
	fclose(report_out);
	cr_expect_str_eq(text, "");
	free(text);
	cr_assert_eq(lines_of(out, line, len, 4), 2, "%s", out);
	struct json_object *o = parse_line(line[0], len[0]);
	cr_expect_str_eq(str(o, "level"), "info");
	expect_msg(o, "katatrace-bpf thing: a 1", 24);
	cr_expect_eq(num(o, "a"), 1);
	struct json_object *b;
	cr_assert(json_object_object_get_ex(o, "b", &b));
	cr_expect_eq(json_object_get_uint64(b), UINT64_MAX);
	json_object_put(o);
	o = parse_line(line[1], len[1]);
	expect_msg(o, "no fields", 9);
	cr_expect_eq(json_object_object_length(o), 5);
	json_object_put(o);
}

Test(diag_report, no_fields_are_made_for_the_text_format)
{
	kt_log_format = KT_LOG_FORMAT_TEXT;
	cr_expect_null(kt_report_counts(1, "a", (uint64_t)1));
	kt_log_format = KT_LOG_FORMAT_JSON;
	struct json_object *f = kt_report_counts(1, "a", (uint64_t)1);
	cr_assert(f);
	json_object_put(f);
}

Test(diag_format, names)
{
	enum kt_log_format f = KT_LOG_FORMAT_JSON;
	cr_expect_eq(kt_log_parse_format("text", &f), 0);
	cr_expect_eq(f, KT_LOG_FORMAT_TEXT);
	cr_expect_eq(kt_log_parse_format("json", &f), 0);
	cr_expect_eq(f, KT_LOG_FORMAT_JSON);
	cr_expect_eq(kt_log_parse_format("JSON", &f), 0); /* as --log-level INFO is taken */
	cr_expect_eq(kt_log_parse_format("logfmt", &f), -1);
	cr_expect_eq(kt_log_parse_format("", &f), -1);
}

/* ------------------------------------------------------------ stdio lines */

static void print_to_stream(void *arg)
{
	FILE *f = kt_diag_json_stream();
	cr_assert(f);
	(void)arg;
	fprintf(f, "one\ntwo ");
	fprintf(f, "in parts\n");
	fputs("bad \xff byte\n", f);
	for (int i = 0; i < 5000; i++)
		fputc('x', f);
	fputc('\n', f);
	for (int i = 0; i < 4096; i++) /* exactly one piece: no empty line after it */
		fputc('x', f);
	fputs("\n\n", f); /* an empty line printed is one */
	fputs("unfinished", f);
	fclose(f); /* the unfinished line too */
}

Test(diag_stream, printed_lines_become_json_lines)
{
	static char out[65536];
	char *line[8];
	size_t len[8];
	json_format();
	kt_diag_set_component("probe");
	capture_stderr(print_to_stream, NULL, out, sizeof(out));
	size_t n = lines_of(out, line, len, 8);
	cr_assert_eq(n, 8, "%s", out);
	static char xs[5001];
	memset(xs, 'x', 5000);
	const struct {
		const char *msg;
		size_t len;
	} want[] = {
		{ "one", 3 },
		{ "two in parts", 12 },
		{ "bad \xef\xbf\xbd byte", 12 },
		{ xs, 4096 },       /* a long line in pieces of 4096 bytes */
		{ xs, 5000 - 4096 },
		{ xs, 4096 },
		{ "", 0 },
		{ "unfinished", 10 },
	};
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = parse_line(line[i], len[i]);
		expect_msg(o, want[i].msg, want[i].len);
		cr_expect_str_eq(str(o, "level"), "info");
		cr_expect_str_eq(str(o, "component"), "probe");
		cr_expect_eq(num(o, "pid"), getpid());
		json_object_put(o);
	}
}

/* ------------------------------------------------------------ summaries */

static void set_counters(void)
{
	memset(&kt_stats, 0, sizeof(kt_stats));
	kt_stats.bytes_captured = 2087354;
	kt_stats.frames = 65;
	kt_stats.spans_exported = 64;
	kt_stats.decode_errors = 1;
	kt_stats.gaps = 2;
	kt_stats.logs_decoded = 13;
	kt_stats.logs_exported = 12;
	kt_stats.logs_dropped = 1;
	kt_stats.conns_refused = 3;
	kt_stats.mem_shed = 4;
	kt_stats.mem_shed_bytes = 4096;
}

struct counter {
	const char *name;
	uint64_t value;
};

static const char summary_text[] =
	"katatrace-bpf logs: decoded 13, logs exported 12, logs dropped 1\n"
	"katatrace-bpf limits: connections refused 3, sink connections closed 0, pending data "
	"dropped 4 times (4096 bytes), budget refusals 0\n"
	"katatrace-bpf summary: bytes captured 2087354, frames 65, spans exported 64, decode "
	"errors 1, lost records 0, gaps 2, spans dropped 0\n";

static void summarize(void *arg)
{
	kt_stats_summary(stderr, *(const enum kt_stats_when *)arg);
}

Test(diag_summary, text_lines_as_they_were)
{
	char out[4096];
	enum kt_stats_when final = KT_STATS_FINAL, running = KT_STATS_RUNNING;
	kt_log_format = KT_LOG_FORMAT_TEXT;
	set_counters();
	capture_stderr(summarize, &final, out, sizeof(out));
	cr_expect_str_eq(out, summary_text);
	capture_stderr(summarize, &running, out, sizeof(out));
	cr_expect_str_eq(out,
			 "katatrace-bpf logs (running totals): decoded 13, logs exported 12, logs "
			 "dropped 1\n"
			 "katatrace-bpf limits (running totals): connections refused 3, sink "
			 "connections closed 0, pending data dropped 4 times (4096 bytes), budget "
			 "refusals 0\n"
			 "katatrace-bpf running totals: bytes captured 2087354, frames 65, spans "
			 "exported 64, decode errors 1, lost records 0, gaps 2, spans dropped 0\n");
}

Test(diag_summary, json_lines_with_the_counters_as_members)
{
	char out[8192], *line[4];
	size_t len[4];
	enum kt_stats_when final = KT_STATS_FINAL;
	json_format();
	kt_log_level = KT_LOG_ERROR; /* printed whatever the level */
	kt_diag_set_component("daemon");
	set_counters();
	capture_stderr(summarize, &final, out, sizeof(out));
	cr_assert_eq(lines_of(out, line, len, 4), 3, "%s", out);

	/* the messages are the text lines */
	char text[sizeof(summary_text)], *tl[3];
	size_t tlen[3];
	memcpy(text, summary_text, sizeof(text));
	cr_assert_eq(lines_of(text, tl, tlen, 3), 3);
	static const struct counter logs[] = { { "logs_decoded", 13 }, { "logs_exported", 12 }, { "logs_dropped", 1 } },
	  limits[] = { { "conns_refused", 3 }, { "sink_refused", 0 }, { "mem_shed", 4 },
		       { "mem_shed_bytes", 4096 }, { "mem_refused", 0 } },
	  summary[] = { { "bytes_captured", 2087354 }, { "frames", 65 }, { "spans_exported", 64 },
			{ "decode_errors", 1 },	      { "lost_records", 0 }, { "gaps", 2 },
			{ "spans_dropped", 0 } };
	const struct {
		const struct counter *members;
		size_t n;
	} want[3] = { { logs, 3 }, { limits, 5 }, { summary, 7 } };
	for (size_t i = 0; i < 3; i++) {
		struct json_object *o = parse_line(line[i], len[i]);
		cr_expect_str_eq(str(o, "level"), "info");
		expect_msg(o, tl[i], tlen[i] - 1);
		const struct counter *m = want[i].members;
		for (size_t j = 0; j < want[i].n; j++)
			cr_expect_eq((uint64_t)num(o, m[j].name), m[j].value, "%s", m[j].name);
		cr_expect_eq(json_object_object_length(o), 5 + want[i].n);
		json_object_put(o);
	}
}

static void dump(void *arg)
{
	(void)arg;
	kt_stats_dump(stderr);
}

Test(diag_summary, counter_dump_text_and_json)
{
	static char out[16384];
	char *line[64];
	size_t len[64];
	set_counters();
	kt_log_format = KT_LOG_FORMAT_TEXT;
	capture_stderr(dump, NULL, out, sizeof(out));
	size_t n = lines_of(out, line, len, 64);
	size_t fields = 0;
#define COUNT(name, desc) fields++;
	KT_STATS_FIELDS(COUNT)
#undef COUNT
	cr_expect_eq(n, fields);
	cr_expect_eq(strncmp(line[0],
			     "bytes_captured          2087354  # payload bytes received from capture\n",
			     len[0]),
		     0, "%.*s", (int)len[0], line[0]);

	json_format();
	kt_diag_set_component("daemon");
	capture_stderr(dump, NULL, out, sizeof(out));
	cr_assert_eq(lines_of(out, line, len, 64), 1, "%s", out);
	struct json_object *o = parse_line(line[0], len[0]);
	expect_msg(o, "katatrace-bpf counters", 22);
	cr_expect_eq(json_object_object_length(o), 5 + fields, "%d members, %zu counters: %.*s", json_object_object_length(o), fields, (int)len[0], line[0]);
#define CHECK(name, desc) cr_expect_eq((uint64_t)num(o, #name), kt_stats.name, #name);
	KT_STATS_FIELDS(CHECK)
#undef CHECK
	cr_expect_eq(num(o, "spans_exported"), 64);
	json_object_put(o);
}

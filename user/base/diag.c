/* SPDX-License-Identifier: Apache-2.0 */
#include "base/diag.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/utf8.h"

enum kt_log_level kt_log_level = KT_LOG_INFO;
enum kt_log_format kt_log_format = KT_LOG_FORMAT_TEXT;

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };
static const char *const format_names[] = { "text", "json" };
static const char *component;

/* Longest message; the text format's line holds the time and level too. */
#define MSG_MAX 2048
/* A line printed to the JSON stream with stdio: longer ones go in pieces. */
#define STREAM_LINE_MAX 4096

int kt_log_parse_level(const char *s, enum kt_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum kt_log_level)i;
			return 0;
		}
	}
	/* Spellings accepted by kata-trace-forwarder's --log-level. */
	if (strcasecmp(s, "warning") == 0) {
		*out = KT_LOG_WARN;
		return 0;
	}
	if (strcasecmp(s, "critical") == 0) {
		*out = KT_LOG_ERROR;
		return 0;
	}
	return -1;
}

int kt_log_parse_format(const char *s, enum kt_log_format *out)
{
	for (unsigned i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcasecmp(s, format_names[i]) == 0) {
			*out = (enum kt_log_format)i;
			return 0;
		}
	}
	return -1;
}

void kt_diag_set_component(const char *name)
{
	component = name;
}

bool kt_diag_limit_pass(struct kt_diag_limit *l, uint64_t now_ns, uint64_t *held_back)
{
	if (l->last_ns && now_ns - l->last_ns < l->interval_ns) {
		l->held_back++;
		return false;
	}
	*held_back = l->held_back;
	l->held_back = 0;
	l->last_ns = now_ns ? now_ns : 1;
	return true;
}

/* "2026-01-02T03:04:05.678Z": RFC 3339, UTC, milliseconds. */
static void format_time(const struct timespec *ts, char out[64])
{
	struct tm tm;
	gmtime_r(&ts->tv_sec, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000);
}

static bool standard_member(const char *key)
{
	static const char *const names[] = { "time", "level", "msg", "pid", "component" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(key, names[i]) == 0)
			return true;
	return false;
}

/* A json-c string of bytes that may not be UTF-8: repaired first. */
static struct json_object *utf8_string(const char *p, size_t n)
{
	if (kt_utf8_check((const uint8_t *)p, n) == n)
		return json_object_new_string_len(p, (int)n);
	char *fixed = malloc(3 * n + 1);
	if (!fixed)
		return NULL;
	size_t k = kt_utf8_repair((const uint8_t *)p, n, fixed, NULL);
	struct json_object *s = json_object_new_string_len(fixed, (int)k);
	free(fixed);
	return s;
}

static bool add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return false;
	if (json_object_object_add(o, key, v)) {
		json_object_put(v);
		return false;
	}
	return true;
}

char *kt_diag_json_line(const struct timespec *when, enum kt_log_level lvl, const char *msg,
			size_t len, long pid, const char *comp, struct json_object *fields)
{
	char stamp[64];
	char *line = NULL;
	if (len > INT32_MAX / 3)
		len = INT32_MAX / 3;
	format_time(when, stamp);
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	bool ok = add(o, "time", json_object_new_string(stamp)) &&
		  add(o, "level", json_object_new_string(level_names[lvl])) &&
		  add(o, "msg", utf8_string(msg, len)) &&
		  (pid < 0 || add(o, "pid", json_object_new_int64(pid))) &&
		  (!comp || add(o, "component", utf8_string(comp, strlen(comp))));
	if (ok && fields && json_object_is_type(fields, json_type_object)) {
		json_object_object_foreach(fields, key, val)
		{
			if (standard_member(key) || kt_utf8_check((const uint8_t *)key, strlen(key)) !=
							    strlen(key))
				continue;
			/* strings may hold anything too: repaired as the message is */
			struct json_object *v =
				json_object_is_type(val, json_type_string)
					? utf8_string(json_object_get_string(val),
						      (size_t)json_object_get_string_len(val))
					: json_object_get(val);
			if (!add(o, key, v)) {
				ok = false;
				break;
			}
		}
	}
	if (ok) {
		size_t n;
		const char *s = json_object_to_json_string_length(
			o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
		if (s && (line = malloc(n + 2))) {
			memcpy(line, s, n);
			line[n] = '\n';
			line[n + 1] = '\0';
		}
	}
	json_object_put(o);
	return line;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* One JSON line on stderr's descriptor, in one write so that threads do not interleave. */
static void emit_json(enum kt_log_level lvl, const char *msg, size_t len,
		      struct json_object *fields)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char *line = kt_diag_json_line(&ts, lvl, msg, len, (long)getpid(), component, fields);
	if (line) {
		write_all(STDERR_FILENO, line, strlen(line));
		free(line);
		return;
	}
	/* Out of memory: still a line, and still JSON (nothing in it needs escaping). */
	char stamp[64], fallback[128];
	format_time(&ts, stamp);
	int n = snprintf(fallback, sizeof(fallback),
			 "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"(a message lost: out of "
			 "memory)\",\"pid\":%ld}\n",
			 stamp, level_names[lvl], (long)getpid());
	if (n > 0 && (size_t)n < sizeof(fallback))
		write_all(STDERR_FILENO, fallback, (size_t)n);
}

void kt_diag(enum kt_log_level lvl, const char *fmt, ...)
{
	if (lvl > kt_log_level)
		return;
	char buf[MSG_MAX];
	va_list ap;
	if (kt_log_format == KT_LOG_FORMAT_JSON) {
		va_start(ap, fmt);
		int n = vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		emit_json(lvl, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, NULL);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl]);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(buf))
		vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so concurrent threads do not interleave. */
	fprintf(stderr, "%s\n", buf);
}

void kt_report(FILE *out, struct json_object *fields, const char *fmt, ...)
{
	char buf[MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= 0) {
		if (kt_log_format == KT_LOG_FORMAT_JSON)
			emit_json(KT_LOG_INFO, buf,
				  (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, fields);
		else
			fprintf(out, "%s\n", buf);
	}
	json_object_put(fields);
}

struct json_object *kt_report_counts(size_t n, ...)
{
	if (kt_log_format != KT_LOG_FORMAT_JSON)
		return NULL;
	struct json_object *o = json_object_new_object();
	va_list ap;
	va_start(ap, n);
	for (size_t i = 0; o && i < n; i++) {
		const char *name = va_arg(ap, const char *);
		uint64_t v = va_arg(ap, uint64_t);
		add(o, name, json_object_new_uint64(v));
	}
	va_end(ap);
	return o;
}

/* ------------------------------------------------------------ stdio lines as JSON */

struct line_stream {
	char buf[STREAM_LINE_MAX];
	size_t n;
	bool cut; /* the line so far went out in pieces: its '\n' adds no empty one */
};

static ssize_t stream_write(void *cookie, const char *p, size_t n)
{
	struct line_stream *s = cookie;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (s->n || !s->cut)
				emit_json(KT_LOG_INFO, s->buf, s->n, NULL);
			s->n = 0;
			s->cut = false;
			continue;
		}
		s->buf[s->n++] = p[i];
		if (s->n == sizeof(s->buf)) {
			emit_json(KT_LOG_INFO, s->buf, s->n, NULL);
			s->n = 0;
			s->cut = true;
		}
	}
	return (ssize_t)n;
}

static int stream_close(void *cookie)
{
	struct line_stream *s = cookie;
	if (s->n)
		emit_json(KT_LOG_INFO, s->buf, s->n, NULL);
	free(s);
	return 0;
}

FILE *kt_diag_json_stream(void)
{
	struct line_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	FILE *f = fopencookie(s, "w", (cookie_io_functions_t){ .write = stream_write,
							       .close = stream_close });
	if (!f) {
		free(s);
		return NULL;
	}
	/* Each line reaches the descriptor when it is complete, as unbuffered stderr's did. */
	setvbuf(f, NULL, _IOLBF, 0);
	return f;
}

int kt_errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (!errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

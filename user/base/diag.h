/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's own diagnostics: leveled lines on stderr, up to --log-level.
 * Not the log records it exports (model/log_record.h).
 *
 * --log-format text (the default): "2026-01-02T03:04:05.678Z level: message".
 * --log-format json: one JSON object per line, for node log pipelines:
 *
 *   {"time":"2026-01-02T03:04:05.678Z","level":"warn","msg":"...","pid":42,
 *    "component":"daemon"}
 *
 * time, level and msg always, in that order; then pid, then component where
 * the process named one (kt_diag_set_component), then the fields of
 * kt_report(). The line is encoded by json-c: whatever bytes a message
 * holds (guest data ends up in some), the line is valid JSON, control
 * characters escaped, and valid UTF-8, bytes that are not replaced by U+FFFD.
 */
#ifndef KT_DIAG_H
#define KT_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

enum kt_log_level {
	KT_LOG_ERROR = 0,
	KT_LOG_WARN,
	KT_LOG_INFO,
	KT_LOG_DEBUG,
	KT_LOG_TRACE,
};

extern enum kt_log_level kt_log_level;

enum kt_log_format {
	KT_LOG_FORMAT_TEXT = 0,
	KT_LOG_FORMAT_JSON,
};

extern enum kt_log_format kt_log_format;

/* "error", "warn", "info", "debug", "trace" (also "warning", "critical"). */
int kt_log_parse_level(const char *s, enum kt_log_level *out);
void kt_diag(enum kt_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "text" or "json"; -1 for anything else. */
int kt_log_parse_format(const char *s, enum kt_log_format *out);

/*
 * What the JSON lines of this process say in "component" ("daemon",
 * "broker", "probe", "decode"); a string that outlives the process's
 * logging. NULL (the start): no component member.
 */
void kt_diag_set_component(const char *component);

struct json_object;

/*
 * A line whatever --log-level says, for what a process prints as it ends
 * or when asked (summaries, counters). Text: the message alone on out, as
 * the daemon always printed these (no time, no level). JSON: a line of
 * level "info" on stderr, with fields. fields: a json-c object whose
 * members follow the standard ones (those named like one, or not named in
 * UTF-8, are left out; string values are repaired as messages are), or
 * NULL; its reference passes to the call either way.
 */
void kt_report(FILE *out, struct json_object *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Fields for kt_report: n pairs of a member name and its value, a uint64_t
 * (cast it). NULL in the text format, which shows only the message.
 */
struct json_object *kt_report_counts(size_t n, ...);

/*
 * The JSON line of one message (with its '\n'), malloc'ed; NULL when out
 * of memory. msg: len bytes, any values; pid < 0: no pid member;
 * component NULL: none; fields as for kt_report (not consumed here).
 */
char *kt_diag_json_line(const struct timespec *when, enum kt_log_level lvl, const char *msg,
			size_t len, long pid, const char *component,
			struct json_object *fields);

/*
 * A stream whose lines become JSON lines of level "info" on stderr (a
 * line longer than 4096 bytes in pieces of that size), for
 * --log-format json: installed as stderr, what the code prints there with
 * stdio (the probe's summary, say) stays one JSON object per line. NULL
 * when it cannot be made.
 */
FILE *kt_diag_json_stream(void);

/*
 * At most one message per interval for events a peer can repeat at will
 * (refused connections): kt_diag_limit_pass says whether to log now, and
 * how many were held back since the last message.
 */
struct kt_diag_limit {
	uint64_t interval_ns;
	uint64_t last_ns;    /* 0: never logged */
	uint64_t held_back;
};
bool kt_diag_limit_pass(struct kt_diag_limit *l, uint64_t now_ns, uint64_t *held_back);

/*
 * A one-line error into a caller's buffer (nothing when errlen is 0), for
 * functions that say why they failed: returns -1, so "return kt_errf(...)".
 */
int kt_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define kt_err(...) kt_diag(KT_LOG_ERROR, __VA_ARGS__)
#define kt_warn(...) kt_diag(KT_LOG_WARN, __VA_ARGS__)
#define kt_info(...) kt_diag(KT_LOG_INFO, __VA_ARGS__)
#define kt_debug(...)                                       \
	do {                                                \
		if (kt_log_level >= KT_LOG_DEBUG)           \
			kt_diag(KT_LOG_DEBUG, __VA_ARGS__);  \
	} while (0)
#define kt_trace(...)                                       \
	do {                                                \
		if (kt_log_level >= KT_LOG_TRACE)           \
			kt_diag(KT_LOG_TRACE, __VA_ARGS__);  \
	} while (0)

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Leveled logging to stderr: "2026-01-02T03:04:05.678Z level: message". */
#ifndef KT_LOG_H
#define KT_LOG_H

enum kt_log_level {
	KT_LOG_ERROR = 0,
	KT_LOG_WARN,
	KT_LOG_INFO,
	KT_LOG_DEBUG,
	KT_LOG_TRACE,
};

extern enum kt_log_level kt_log_level;

/* "error", "warn", "info", "debug", "trace" (also "warning", "critical"). */
int kt_log_parse_level(const char *s, enum kt_log_level *out);
void kt_log(enum kt_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define kt_err(...) kt_log(KT_LOG_ERROR, __VA_ARGS__)
#define kt_warn(...) kt_log(KT_LOG_WARN, __VA_ARGS__)
#define kt_info(...) kt_log(KT_LOG_INFO, __VA_ARGS__)
#define kt_debug(...)                                       \
	do {                                                \
		if (kt_log_level >= KT_LOG_DEBUG)           \
			kt_log(KT_LOG_DEBUG, __VA_ARGS__);  \
	} while (0)
#define kt_trace(...)                                       \
	do {                                                \
		if (kt_log_level >= KT_LOG_TRACE)           \
			kt_log(KT_LOG_TRACE, __VA_ARGS__);  \
	} while (0)

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's own diagnostics: leveled lines on stderr,
 * "2026-01-02T03:04:05.678Z level: message", up to --log-level. Not the log
 * records it exports (model/log_record.h).
 */
#ifndef KT_DIAG_H
#define KT_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
void kt_diag(enum kt_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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

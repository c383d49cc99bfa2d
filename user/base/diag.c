/* SPDX-License-Identifier: Apache-2.0 */
#include "base/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum kt_log_level kt_log_level = KT_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

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

void kt_diag(enum kt_log_level lvl, const char *fmt, ...)
{
	if (lvl > kt_log_level)
		return;
	struct timespec ts;
	struct tm tm;
	char buf[2048];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(buf))
		vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so concurrent threads do not interleave. */
	fprintf(stderr, "%s\n", buf);
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

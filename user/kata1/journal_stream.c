/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Syslog record splitter for the Kata 1.x journal stream (journal_stream.h).
 * Heuristics: docs/decoders.md "Kata 1.x: journal stream".
 */
#include "kata1/journal_stream.h"

#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

#define START_MAX 24 /* bytes that decide whether a '<' starts a record */
#define MAX_TAG	  64 /* longest RFC 3164 tag taken as one */

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* n digits at p as a number; -1 if not all digits. */
static int number(const uint8_t *p, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!digit(p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/*
 * "<PRI>" at p: its length (3..5) and value, 0 if not one, -1 if p is too
 * short to tell.
 */
static int pri(const uint8_t *p, size_t n, int *value)
{
	size_t i = 1;
	int v = 0;
	if (n < 1)
		return -1;
	if (p[0] != '<')
		return 0;
	for (; i < 5; i++) {
		if (i >= n)
			return -1;
		if (p[i] == '>')
			break;
		if (!digit(p[i]) || (i == 2 && p[1] == '0'))
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	if (i == 1 || i == 5 || v > 191)
		return 0;
	*value = v;
	return (int)i + 1;
}

/*
 * Does p[0..n) match tpl: 'M' a month name (3 bytes), 'd' a digit, 'D' a
 * digit or a space, any other byte itself? 1, 0, or -1 when p is too short.
 */
static int shape(const uint8_t *p, size_t n, const char *tpl)
{
	size_t i = 0;
	for (; *tpl; tpl++) {
		if (*tpl == 'M') {
			size_t k = n - i < 3 ? n - i : 3;
			int m = 0;
			while (m < 12 && memcmp(p + i, months[m], k) != 0)
				m++;
			if (m == 12)
				return 0;
			if (k < 3)
				return -1;
			i += 3;
			continue;
		}
		if (i >= n)
			return -1;
		uint8_t c = p[i++];
		bool ok = *tpl == 'd'	? digit(c)
			  : *tpl == 'D' ? digit(c) || c == ' '
					: c == (uint8_t)*tpl;
		if (!ok)
			return 0;
	}
	return 1;
}

/* "Mmm dd hh:mm:ss " with fields in range: 1, 0, or -1 (too short). */
static int rfc3164_ts(const uint8_t *p, size_t n)
{
	int r = shape(p, n, "M Dd dd:dd:dd ");
	if (r != 1)
		return r;
	int day = number(p + 5, 1) + (p[4] == ' ' ? 0 : 10 * number(p + 4, 1));
	if (day < 1 || day > 31 || number(p + 7, 2) > 23 || number(p + 10, 2) > 59 ||
	    number(p + 13, 2) > 60)
		return 0;
	return 1;
}

int kt_journal_record_start(const uint8_t *p, size_t n, bool any_pri)
{
	int v, k = pri(p, n, &v);
	if (k <= 0 || any_pri)
		return k > 0 ? 1 : k;
	p += k;
	n -= k;
	int r5424 = shape(p, n, "1 ");
	if (r5424 == 1) {
		int dash = shape(p + 2, n - 2, "- ");
		return dash != 0 ? dash : shape(p + 2, n - 2, "dddd-dd-ddT");
	}
	int r3164 = rfc3164_ts(p, n);
	if (r5424 < 0 && r3164 != 1)
		return -1;
	return r3164;
}

/* ------------------------------------------------------------ times */

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Seconds since the epoch, or -1 for a date that does not exist or precedes 1970. */
static int64_t civil_seconds(int64_t y, int mo, int d, int h, int mi, int s)
{
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || s > 60)
		return -1;
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	return t < 0 ? -1 : t;
}

static uint64_t absdiff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* "Mmm dd hh:mm:ss": no year and no zone; UTC, the year nearest to now. */
static bool time_3164(const char *p, uint64_t now, uint64_t *ns)
{
	int mo = 0;
	while (mo < 12 && memcmp(p, months[mo], 3) != 0)
		mo++;
	int d = (p[4] == ' ' ? 0 : (p[4] - '0') * 10) + (p[5] - '0');
	int h = number((const uint8_t *)p + 7, 2), mi = number((const uint8_t *)p + 10, 2);
	int s = number((const uint8_t *)p + 13, 2);
	int64_t year = 1970 + (int64_t)(now / 1000000000u / 86400 * 400 / 146097);
	bool found = false;
	for (int64_t y = year - 1; y <= year + 2; y++) {
		int64_t t = civil_seconds(y, mo + 1, d, h, mi, s);
		if (t < 0)
			continue;
		uint64_t cand = (uint64_t)t * 1000000000u;
		if (!found || absdiff(cand, now) < absdiff(*ns, now))
			*ns = cand;
		found = true;
	}
	return found;
}

/* RFC 3339 as RFC 5424 restricts it: "YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm)". */
static bool time_5424(const char *p, size_t n, uint64_t *ns)
{
	const uint8_t *u = (const uint8_t *)p;
	if (shape(u, n, "dddd-dd-ddTdd:dd:dd") != 1)
		return false;
	int64_t t = civil_seconds(number(u, 4), number(u + 5, 2), number(u + 8, 2),
				  number(u + 11, 2), number(u + 14, 2), number(u + 17, 2));
	size_t i = 19;
	uint64_t frac = 0, scale = 1000000000u;
	if (i < n && p[i] == '.') {
		size_t digits = 0;
		for (i++; i < n && digit(u[i]); i++, digits++) {
			if (digits < 9) {
				scale /= 10;
				frac += (uint64_t)(u[i] - '0') * scale;
			}
		}
		if (!digits)
			return false;
	}
	int64_t off = 0;
	if (i + 1 == n && p[i] == 'Z') {
		off = 0;
	} else if (i + 6 == n && (p[i] == '+' || p[i] == '-') &&
		   shape(u + i + 1, 5, "dd:dd") == 1) {
		int oh = number(u + i + 1, 2), om = number(u + i + 4, 2);
		if (oh > 23 || om > 59)
			return false;
		off = (oh * 3600 + om * 60) * (p[i] == '+' ? 1 : -1);
	} else {
		return false;
	}
	if (t < 0 || t - off < 0)
		return false;
	*ns = (uint64_t)(t - off) * 1000000000u + frac;
	return true;
}

/* ------------------------------------------------------------ parsing */

static struct kt_str str_at(char *p, size_t n)
{
	p[n] = '\0'; /* the byte after a token is a space we no longer need */
	return (struct kt_str){p, n};
}

/* Next space-delimited token of t[*i..n): length 1..max of bytes > ' '. */
static size_t token(const char *t, size_t n, size_t i, size_t max)
{
	size_t k = 0;
	while (i + k < n && (unsigned char)t[i + k] > ' ' && k <= max)
		k++;
	return k <= max ? k : 0;
}

/*
 * "tag: " or "tag[pid]: " at t[i..n): sets app and proc (NUL-terminating
 * them in place) and returns the length including ": ", 0 if not a tag.
 */
static size_t tag(char *t, size_t n, size_t i, struct kt_journal_record *r)
{
	size_t k = 0;
	while (i + k < n && k < MAX_TAG && (unsigned char)t[i + k] > ' ' && t[i + k] != '[' &&
	       t[i + k] != ':')
		k++;
	if (k == 0 || i + k >= n)
		return 0;
	size_t end = i + k, pid = end, pid_len = 0;
	if (t[end] == '[') {
		pid = end + 1;
		while (pid + pid_len < n && pid_len < 20 && (unsigned char)t[pid + pid_len] > ' ' &&
		       t[pid + pid_len] != ']')
			pid_len++;
		if (!pid_len || pid + pid_len >= n || t[pid + pid_len] != ']')
			return 0;
		end = pid + pid_len + 1;
	}
	if (end >= n || t[end] != ':')
		return 0;
	end++;
	if (end < n && t[end] == ' ')
		end++;
	r->app_name = str_at(t + i, k);
	if (pid_len)
		r->proc_id = str_at(t + pid, pid_len);
	return end - i;
}

/* After "<PRI>": RFC 3164 header; false leaves r untouched but for scratch bytes. */
static bool parse_3164(char *t, size_t n, uint64_t now, struct kt_journal_record *r, size_t *msg)
{
	if (rfc3164_ts((const uint8_t *)t, n) != 1)
		return false;
	r->form = KT_JOURNAL_RFC3164;
	r->has_time = time_3164(t, now, &r->time_unix_nano);
	size_t i = 16, k;
	if ((k = tag(t, n, i, r))) {
		*msg = i + k;
		return true;
	}
	/* "host tag: " (classic syslog; journald sends no host) */
	size_t host = token(t, n, i, 255);
	if (host && i + host < n && t[i + host] == ' ' && (k = tag(t, n, i + host + 1, r))) {
		r->hostname = str_at(t + i, host);
		*msg = i + host + 1 + k;
		return true;
	}
	*msg = i;
	return true;
}

/* One RFC 5424 header field: "-" (nil) or 1..max printable bytes, then a space. */
static bool field_5424(const char *t, size_t n, size_t *i, size_t max, struct kt_str *out)
{
	size_t k = token(t, n, *i, max);
	if (!k || *i + k >= n || t[*i + k] != ' ')
		return false;
	*out = (struct kt_str){t + *i, k};
	*i += k + 1;
	return true;
}

/* Structured data: "-" or one or more "[id param=\"value\"...]" (escapes \" \\ \]). */
static size_t sd_len(const char *t, size_t n, size_t i)
{
	size_t start = i;
	if (i < n && t[i] == '-')
		return 1;
	while (i < n && t[i] == '[') {
		bool quoted = false;
		for (i++; i < n; i++) {
			if (quoted && t[i] == '\\' && i + 1 < n)
				i++;
			else if (t[i] == '"')
				quoted = !quoted;
			else if (!quoted && t[i] == ']')
				break;
		}
		if (i >= n)
			return 0;
		i++;
	}
	return i - start;
}

/* A parsed field of t: NUL-terminated in place (the space after it), "-" as empty. */
static struct kt_str keep(char *t, struct kt_str f)
{
	if (f.len == 1 && f.ptr[0] == '-')
		return (struct kt_str){"", 0};
	return str_at(t + (f.ptr - t), f.len);
}

/* "1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD[ MSG]"; t is modified only on success. */
static bool parse_5424(char *t, size_t n, struct kt_journal_record *r, size_t *msg)
{
	struct kt_str f[5]; /* timestamp, hostname, app-name, procid, msgid */
	static const size_t max[5] = {64, 255, 48, 128, 32};
	uint64_t ns = 0;
	size_t i = 2;
	if (n < 2 || t[0] != '1' || t[1] != ' ')
		return false;
	for (int k = 0; k < 5; k++)
		if (!field_5424(t, n, &i, max[k], &f[k]))
			return false;
	bool nil_time = f[0].len == 1 && f[0].ptr[0] == '-';
	if (!nil_time && !time_5424(f[0].ptr, f[0].len, &ns))
		return false;
	size_t sd = sd_len(t, n, i);
	if (!sd || (i + sd < n && t[i + sd] != ' '))
		return false;

	r->form = KT_JOURNAL_RFC5424;
	r->has_time = !nil_time;
	r->time_unix_nano = ns;
	r->hostname = keep(t, f[1]);
	r->app_name = keep(t, f[2]);
	r->proc_id = keep(t, f[3]);
	r->msg_id = keep(t, f[4]);
	*msg = i + sd < n ? i + sd + 1 : n;
	r->structured_data = keep(t, (struct kt_str){t + i, sd});
	/* A UTF-8 BOM marks an RFC 5424 message as UTF-8. */
	if (n - *msg >= 3 && memcmp(t + *msg, "\xef\xbb\xbf", 3) == 0)
		*msg += 3;
	return true;
}

int kt_journal_parse(const uint8_t *p, size_t n, uint64_t now_unix_nano, char *scratch,
		     size_t scratch_size, struct kt_journal_record *out)
{
	int v, k = p ? pri(p, n, &v) : 0;
	memset(out, 0, sizeof(*out));
	if (k <= 0 || scratch_size < 3 * n + 8)
		return -1;
	static const char empty[] = "";
	out->hostname = out->app_name = out->proc_id = out->msg_id = out->structured_data =
		(struct kt_str){empty, 0};
	out->facility = (uint8_t)(v >> 3);
	out->severity = (uint8_t)(v & 7);

	char *t = scratch;
	size_t len = kt_utf8_repair(p + k, n - (size_t)k, t, &out->utf8_repaired), msg = 0;
	t[len] = '\0';
	if (!parse_5424(t, len, out, &msg) && !parse_3164(t, len, now_unix_nano, out, &msg)) {
		out->form = KT_JOURNAL_PLAIN;
		msg = 0;
	}
	size_t end = len;
	if (end > msg && t[end - 1] == '\n')
		end--;
	if (end > msg && t[end - 1] == '\r')
		end--;
	out->message = (struct kt_str){t + msg, end - msg};
	t[end] = '\0';
	return 0;
}

/* ------------------------------------------------------------ stream */

void kt_journal_init(struct kt_journal_stream *j, size_t max_record,
		     const struct kt_journal_ops *ops, void *ctx)
{
	memset(j, 0, sizeof(*j));
	if (!max_record)
		max_record = KT_JOURNAL_DEFAULT_MAX_RECORD;
	j->max_record = max_record < KT_JOURNAL_MIN_MAX_RECORD ? KT_JOURNAL_MIN_MAX_RECORD
							       : max_record;
	j->ops = ops;
	j->ctx = ctx;
	j->any_pri = true;
}

/* Room for a parsed record (kt_journal_parse) of up to max_record bytes. */
static size_t scratch_size(const struct kt_journal_stream *j)
{
	return 3 * j->max_record + 8;
}

static void emit(struct kt_journal_stream *j, size_t n, bool truncated, uint64_t now)
{
	const size_t size = scratch_size(j); /* n <= max_record */
	struct kt_journal_record r;
	if (!j->scratch && !(j->scratch = kt_mem_malloc(j->acct, size)))
		return;
	if (kt_journal_parse(j->buf, n, now, j->scratch, size, &r))
		return;
	r.truncated = truncated;
	r.offset = j->offset;
	j->records++;
	j->truncated += truncated;
	if (j->ops && j->ops->record)
		j->ops->record(j->ctx, &r);
}

/* Drop buf[0..n): emitted, skipped or dropped by the caller. */
static void consume(struct kt_journal_stream *j, size_t n)
{
	memmove(j->buf, j->buf + n, j->have - n);
	j->have -= n;
	j->offset += n;
	j->scanned = j->scanned > n ? j->scanned - n : 0;
}

/* buf[0..n) is not part of a kept record: bytes before a start, or a cut record's rest. */
static void discard(struct kt_journal_stream *j, size_t n)
{
	if (j->in_record)
		j->dropped_bytes += n;
	else
		j->skipped_bytes += n;
	j->any_pri = false;
	consume(j, n);
}

/*
 * The record in buf is longer than max_record: emit its first max_record
 * bytes (less a UTF-8 sequence they would split) and drop the rest up to the
 * next start. Returns the bytes emitted.
 */
static size_t cut(struct kt_journal_stream *j, uint64_t now)
{
	size_t n = j->max_record;
	while (n > 1 && j->max_record - n < 3 && (j->buf[n] & 0xc0) == 0x80)
		n--;
	emit(j, n, true, now);
	consume(j, n);
	j->truncating = true;
	return n;
}

/* Cut records at every start the buffer shows. */
static void process(struct kt_journal_stream *j, uint64_t now)
{
	for (;;) {
		/* A kept record's own '<' is not the start of the next one. */
		bool own = j->in_record && !j->truncating;
		size_t i = own && j->scanned < 1 ? 1 : j->scanned;
		int st = 0;
		for (; i < j->have; i++) {
			if (j->buf[i] != '<')
				continue;
			bool any = j->any_pri && !j->in_record && i == 0;
			if ((st = kt_journal_record_start(j->buf + i, j->have - i, any)))
				break;
		}
		j->scanned = i;
		if (st == 1) {
			/* buf[0..i) ends: a record, or bytes not kept */
			if (own && i <= j->max_record) {
				emit(j, i, false, now);
				consume(j, i);
			} else {
				if (own)
					i -= cut(j, now);
				if (i)
					discard(j, i);
			}
			j->in_record = true;
			j->truncating = false;
			j->any_pri = false;
			j->scanned = 1;
			continue;
		}
		/* No start before scanned: a record already too long is cut now. */
		if (own && j->scanned > j->max_record)
			cut(j, now);
		if ((j->truncating || !j->in_record) && j->scanned)
			discard(j, j->scanned);
		return;
	}
}

void kt_journal_push(struct kt_journal_stream *j, const uint8_t *p, size_t n,
		     uint64_t now_unix_nano)
{
	const size_t limit = j->max_record + START_MAX;
	if (!p)
		return;
	while (n) {
		if (!j->buf && !(j->buf = kt_mem_malloc(j->acct, limit))) {
			j->dropped_bytes += n;
			j->offset += n;
			return;
		}
		size_t k = limit - j->have < n ? limit - j->have : n;
		memcpy(j->buf + j->have, p, k);
		j->have += k;
		p += k;
		n -= k;
		process(j, now_unix_nano);
	}
}

static void end_record(struct kt_journal_stream *j, uint64_t now, bool any_pri)
{
	if (j->have && j->in_record && !j->truncating) {
		if (j->have > j->max_record) {
			cut(j, now);
		} else {
			emit(j, j->have, false, now);
			consume(j, j->have);
		}
	}
	if (j->have)
		discard(j, j->have);
	j->in_record = false;
	j->truncating = false;
	j->scanned = 0;
	j->any_pri = any_pri;
}

void kt_journal_flush(struct kt_journal_stream *j, uint64_t now_unix_nano)
{
	end_record(j, now_unix_nano, true);
}

void kt_journal_gap(struct kt_journal_stream *j, uint64_t now_unix_nano)
{
	end_record(j, now_unix_nano, false);
}

void kt_journal_finish(struct kt_journal_stream *j, uint64_t now_unix_nano)
{
	end_record(j, now_unix_nano, true);
	j->offset = 0;
}

uint64_t kt_journal_shed(struct kt_journal_stream *j)
{
	uint64_t dropped = j->have;
	j->dropped_bytes += dropped;
	j->offset += dropped;
	j->have = 0;
	j->in_record = false;
	j->truncating = false;
	j->scanned = 0;
	j->any_pri = false;
	kt_mem_free(j->acct, j->buf, j->max_record + START_MAX);
	kt_mem_free(j->acct, j->scratch, scratch_size(j));
	j->buf = NULL;
	j->scratch = NULL;
	return dropped;
}

void kt_journal_free(struct kt_journal_stream *j)
{
	kt_mem_free(j->acct, j->buf, j->max_record + START_MAX);
	kt_mem_free(j->acct, j->scratch, scratch_size(j));
	j->buf = NULL;
	j->scratch = NULL;
	j->have = 0;
}

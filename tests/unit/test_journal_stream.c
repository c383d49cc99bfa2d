/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata 1.x journal stream: syslog records cut out of a stream without
 * separators; headers (RFC 3164 as journald forwards, RFC 5424), times,
 * UTF-8 repair, limits, and chunking that changes nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kata1/journal_stream.h"

/* 2023-11-14T22:13:20Z */
#define NOW (1700000000ull * 1000000000ull)

struct rec {
	struct kt_journal_record r;
	char host[64], app[64], pid[32], msgid[40], sd[256], msg[512];
};

struct recs {
	struct rec r[16];
	size_t n;
};

static void copy(char *dst, size_t size, struct kt_str s)
{
	cr_assert_not_null(s.ptr);
	cr_assert_eq(s.ptr[s.len], '\0');
	snprintf(dst, size, "%.*s", (int)s.len, s.ptr);
}

static void on_record(void *ctx, const struct kt_journal_record *r)
{
	struct recs *rs = ctx;
	cr_assert_lt(rs->n, 16);
	struct rec *o = &rs->r[rs->n++];
	o->r = *r;
	copy(o->host, sizeof(o->host), r->hostname);
	copy(o->app, sizeof(o->app), r->app_name);
	copy(o->pid, sizeof(o->pid), r->proc_id);
	copy(o->msgid, sizeof(o->msgid), r->msg_id);
	copy(o->sd, sizeof(o->sd), r->structured_data);
	copy(o->msg, sizeof(o->msg), r->message);
}

static const struct kt_journal_ops ops = {.record = on_record};

/* Push s in chunks of `chunk` (0: whole), then finish. */
static void split(const char *s, size_t len, size_t chunk, size_t max_record, struct recs *out,
		  struct kt_journal_stream *j)
{
	memset(out, 0, sizeof(*out));
	kt_journal_init(j, max_record, &ops, out);
	if (!chunk)
		chunk = len ? len : 1;
	for (size_t o = 0; o < len; o += chunk)
		kt_journal_push(j, (const uint8_t *)s + o, len - o < chunk ? len - o : chunk, NOW);
	kt_journal_finish(j, NOW);
}

static struct kt_journal_record parse(const char *s, char *scratch, size_t size)
{
	struct kt_journal_record r;
	cr_assert_eq(kt_journal_parse((const uint8_t *)s, strlen(s), NOW, scratch, size, &r), 0,
		     "%s", s);
	return r;
}

static bool eq(struct kt_str s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

Test(journal, rfc3164_as_journald_writes_it)
{
	char scratch[1024];
	struct kt_journal_record r =
		parse("<30>Nov 14 22:13:20 kata-agent[123]: hello <world>", scratch,
		      sizeof(scratch));
	cr_expect_eq(r.facility, 3);
	cr_expect_eq(r.severity, 6);
	cr_expect_eq(r.form, KT_JOURNAL_RFC3164);
	cr_expect(r.has_time);
	cr_expect_eq(r.time_unix_nano, NOW);
	cr_expect(eq(r.app_name, "kata-agent"));
	cr_expect(eq(r.proc_id, "123"));
	cr_expect(eq(r.hostname, ""));
	cr_expect(eq(r.message, "hello <world>"));

	r = parse("<13>Nov  4 01:02:03 systemd: Started x.\n", scratch, sizeof(scratch));
	cr_expect(eq(r.app_name, "systemd") && eq(r.proc_id, ""));
	cr_expect(eq(r.message, "Started x."), "one trailing newline removed");
	cr_expect_eq(r.time_unix_nano, 1699059723ull * 1000000000ull);

	r = parse("<14>Nov 04 01:02:03 myhost sshd[9]: multi\nline\r\n", scratch, sizeof(scratch));
	cr_expect(eq(r.hostname, "myhost") && eq(r.app_name, "sshd") && eq(r.proc_id, "9"));
	cr_expect(eq(r.message, "multi\nline"));

	/* No tag: the text after the timestamp. */
	r = parse("<14>Nov 14 22:13:20 just some words", scratch, sizeof(scratch));
	cr_expect(eq(r.app_name, "") && eq(r.hostname, ""));
	cr_expect(eq(r.message, "just some words"));
}

Test(journal, rfc3164_years_and_dates)
{
	char scratch[256];
	/* The year that puts the time nearest to now. */
	uint64_t jan1 = 1704067200ull * 1000000000ull; /* 2024-01-01T00:00:00Z */
	struct kt_journal_record r;
	cr_assert_eq(kt_journal_parse((const uint8_t *)"<1>Dec 31 23:59:59 x", 20, jan1, scratch,
				      sizeof(scratch), &r), 0);
	cr_expect_eq(r.time_unix_nano, jan1 - 1000000000ull, "last second of 2023");
	/* Feb 29 exists only in leap years: 2024 from late 2023. */
	r = parse("<1>Feb 29 01:02:03 x", scratch, sizeof(scratch));
	cr_expect(r.has_time);
	cr_expect_eq(r.time_unix_nano, 1709168523ull * 1000000000ull);
	/* A day no month has: the header is still recognised, the time is not. */
	r = parse("<1>Feb 31 01:02:03 x: y", scratch, sizeof(scratch));
	cr_expect_eq(r.form, KT_JOURNAL_RFC3164);
	cr_expect_not(r.has_time);
	cr_expect(eq(r.message, "y"));
	/* Out-of-range fields: not a header. */
	r = parse("<1>Feb 12 24:00:00 x", scratch, sizeof(scratch));
	cr_expect_eq(r.form, KT_JOURNAL_PLAIN);
	cr_expect(eq(r.message, "Feb 12 24:00:00 x"));
}

Test(journal, rfc5424)
{
	char scratch[1024];
	struct kt_journal_record r = parse(
		"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
		"[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" x=\"a\\\"]b\"] "
		"\xef\xbb\xbf"
		"An application event",
		scratch, sizeof(scratch));
	cr_expect_eq(r.form, KT_JOURNAL_RFC5424);
	cr_expect_eq(r.facility, 20);
	cr_expect_eq(r.severity, 5);
	cr_expect(r.has_time);
	cr_expect_eq(r.time_unix_nano, 1065910455003000000ull);
	cr_expect(eq(r.hostname, "mymachine.example.com"));
	cr_expect(eq(r.app_name, "evntslog"));
	cr_expect(eq(r.proc_id, ""));
	cr_expect(eq(r.msg_id, "ID47"));
	cr_expect(eq(r.structured_data, "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
					"x=\"a\\\"]b\"]"));
	cr_expect(eq(r.message, "An application event"), "BOM removed");

	r = parse("<14>1 - - - - - -", scratch, sizeof(scratch));
	cr_expect_eq(r.form, KT_JOURNAL_RFC5424);
	cr_expect_not(r.has_time);
	cr_expect(eq(r.message, "") && eq(r.structured_data, ""));

	r = parse("<14>1 2003-08-24T05:14:15.000003-07:00 h a 8710 - - %% It's time",
		  scratch, sizeof(scratch));
	cr_expect_eq(r.time_unix_nano, 1061727255000003000ull);
	cr_expect(eq(r.proc_id, "8710") && eq(r.message, "%% It's time"));

	r = parse("<14>1 2003-08-24T05:14:15.1234567891+01:30 h a p m [a][b c=\"d\"]", scratch,
		  sizeof(scratch));
	cr_expect_eq(r.time_unix_nano, (1061702055ull - 5400) * 1000000000ull + 123456789);
	cr_expect(eq(r.structured_data, "[a][b c=\"d\"]") && eq(r.message, ""));

	/* A broken header falls back to plain text, untouched. */
	r = parse("<14>1 2003-08-24T05:14:15 h a p m [x", scratch, sizeof(scratch));
	cr_expect_eq(r.form, KT_JOURNAL_PLAIN);
	cr_expect(eq(r.message, "1 2003-08-24T05:14:15 h a p m [x"));
	r = parse("<14>1 2003-13-24T05:14:15Z h a p m -", scratch, sizeof(scratch));
	cr_expect_eq(r.form, KT_JOURNAL_PLAIN);
}

Test(journal, priority_and_utf8)
{
	char scratch[256];
	struct kt_journal_record r;
	cr_expect_eq(kt_journal_parse((const uint8_t *)"<191>x", 6, NOW, scratch, 256, &r), 0);
	cr_expect(r.facility == 23 && r.severity == 7);
	cr_expect_eq(kt_journal_parse((const uint8_t *)"<0>x", 4, NOW, scratch, 256, &r), 0);
	static const char *const bad[] = {"<192>x", "<01>x", "<>x", "<1234>x", "x<1>", "<1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(kt_journal_parse((const uint8_t *)bad[i], strlen(bad[i]), NOW, scratch,
					      256, &r),
			     -1, "%s", bad[i]);
	/* scratch too small */
	cr_expect_eq(kt_journal_parse((const uint8_t *)"<1>abc", 6, NOW, scratch, 10, &r), -1);

	r = parse("<1>Nov 14 22:13:20 t\xff[1]: a\xc0\x80z\xed\xa0\x80", scratch, sizeof(scratch));
	cr_expect(r.utf8_repaired);
	cr_expect(eq(r.app_name, "t\xef\xbf\xbd"));
	cr_expect(eq(r.message, "a\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"));
}

Test(journal, record_start)
{
	static const char ok3164[] = "<30>Nov 14 22:13:20 ";
	static const char ok5424[] = "<30>1 2023-11-14T";
	for (size_t k = 0; k + 1 < sizeof(ok3164); k++)
		cr_expect_eq(kt_journal_record_start((const uint8_t *)ok3164, k, false), -1, "%zu", k);
	cr_expect_eq(kt_journal_record_start((const uint8_t *)ok3164, 20, false), 1);
	for (size_t k = 0; k + 1 < sizeof(ok5424); k++)
		cr_expect_eq(kt_journal_record_start((const uint8_t *)ok5424, k, false), -1, "%zu", k);
	cr_expect_eq(kt_journal_record_start((const uint8_t *)ok5424, 17, false), 1);
	cr_expect_eq(kt_journal_record_start((const uint8_t *)"<30>1 - ", 8, false), 1);
	cr_expect_eq(kt_journal_record_start((const uint8_t *)"<30>hello", 9, false), 0);
	cr_expect_eq(kt_journal_record_start((const uint8_t *)"<30>hello", 9, true), 1);
	cr_expect_eq(kt_journal_record_start((const uint8_t *)"<30>Nov 34 22:13:20 ", 20, false), 0);
	cr_expect_eq(kt_journal_record_start((const uint8_t *)"<30>Nox", 7, false), 0);
	cr_expect_eq(kt_journal_record_start((const uint8_t *)"<300>", 5, true), 0);
}

static const char stream[] =
	"<30>Nov 14 22:13:20 kata-agent[123]: time=\"...\" msg=\"<13>x\" level=info"
	"<13>Nov 14 22:13:21 systemd: Started kata-agent.service."
	"<165>1 2003-10-11T22:14:15.003Z host app - ID47 - text"
	"<14>Nov 14 22:13:22 chronyd[77]: last\n";

Test(journal, stream_every_chunk_size)
{
	size_t len = sizeof(stream) - 1;
	for (size_t chunk = 0; chunk <= len; chunk++) {
		struct recs rs;
		struct kt_journal_stream j;
		split(stream, len, chunk, 0, &rs, &j);
		cr_assert_eq(rs.n, 4, "chunk %zu", chunk);
		cr_expect_str_eq(rs.r[0].app, "kata-agent");
		cr_expect_str_eq(rs.r[0].msg, "time=\"...\" msg=\"<13>x\" level=info");
		cr_expect_eq(rs.r[0].r.offset, 0);
		cr_expect_str_eq(rs.r[1].msg, "Started kata-agent.service.");
		cr_expect_eq(rs.r[2].r.form, KT_JOURNAL_RFC5424);
		cr_expect_str_eq(rs.r[2].msg, "text");
		cr_expect_str_eq(rs.r[3].pid, "77");
		cr_expect_str_eq(rs.r[3].msg, "last");
		cr_expect_eq(j.records, 4);
		cr_expect_eq(j.skipped_bytes, 0);
		cr_expect_eq(j.dropped_bytes, 0);
		kt_journal_free(&j);
	}
}

Test(journal, junk_before_the_first_record)
{
	/* Joined mid-record: the tail of a message, then records. */
	static const char s[] = "ing of a line<13>not a start<13>Nov 14 22:13:21 a: b";
	struct recs rs;
	struct kt_journal_stream j;
	split(s, sizeof(s) - 1, 3, 0, &rs, &j);
	cr_assert_eq(rs.n, 1);
	cr_expect_str_eq(rs.r[0].msg, "b");
	size_t start = (size_t)(strstr(s, "<13>Nov") - s);
	cr_expect_eq(j.skipped_bytes, start);
	cr_expect_eq(rs.r[0].r.offset, start);
	kt_journal_free(&j);

	/* At the very start any <PRI> begins a record. */
	static const char s2[] = "<13>plain<13>Nov 14 22:13:21 a: b";
	split(s2, sizeof(s2) - 1, 1, 0, &rs, &j);
	cr_assert_eq(rs.n, 2);
	cr_expect_eq(rs.r[0].r.form, KT_JOURNAL_PLAIN);
	cr_expect_str_eq(rs.r[0].msg, "plain");
	kt_journal_free(&j);
}

Test(journal, flush_and_gap)
{
	struct recs rs = {0};
	struct kt_journal_stream j;
	kt_journal_init(&j, 0, &ops, &rs);
	static const char a[] = "<13>Nov 14 22:13:21 a: first";
	kt_journal_push(&j, (const uint8_t *)a, sizeof(a) - 1, NOW);
	cr_expect_eq(rs.n, 0, "the end of a record is not known yet");
	kt_journal_flush(&j, NOW);
	cr_assert_eq(rs.n, 1);
	cr_expect_str_eq(rs.r[0].msg, "first");
	/* After a flush a plain <PRI> may start the next record. */
	kt_journal_push(&j, (const uint8_t *)"<14>second", 10, NOW);
	kt_journal_flush(&j, NOW);
	cr_assert_eq(rs.n, 2);
	cr_expect_str_eq(rs.r[1].msg, "second");
	/* After a gap it may not: the bytes are the rest of something. */
	kt_journal_push(&j, (const uint8_t *)"<14>cut", 7, NOW);
	kt_journal_gap(&j, NOW);
	cr_assert_eq(rs.n, 3);
	kt_journal_push(&j, (const uint8_t *)"<14>rest", 8, NOW);
	kt_journal_push(&j, (const uint8_t *)a, sizeof(a) - 1, NOW);
	kt_journal_finish(&j, NOW);
	cr_assert_eq(rs.n, 4);
	cr_expect_str_eq(rs.r[3].msg, "first");
	cr_expect_eq(j.skipped_bytes, 8);
	kt_journal_free(&j);
	kt_journal_free(&j);
}

/* "<13>Nov 14 22:13:21 a: " and x up to len bytes; returns the header length. */
static size_t record_of(char *s, size_t len, char fill)
{
	size_t h = (size_t)snprintf(s, len + 1, "<13>Nov 14 22:13:21 a: ");
	cr_assert_lt(h, len);
	memset(s + h, fill, len - h);
	s[len] = '\0';
	return h;
}

Test(journal, records_of_exactly_max_record)
{
	/*
	 * A record of exactly max_record bytes is kept whole, one of a byte
	 * more is cut there; whether its end is known from the next record's
	 * start or from the end of the stream, in any chunking.
	 */
	const size_t max = 100;
	char s[400];
	for (size_t len = max; len <= max + 1; len++) {
		for (int last = 0; last < 2; last++) {
			size_t h = record_of(s, len, 'x');
			size_t total = len;
			if (!last)
				total += (size_t)snprintf(s + len, sizeof(s) - len,
							  "<13>Nov 14 22:13:22 b: next");
			for (size_t chunk = 1; chunk <= total; chunk++) {
				struct recs rs;
				struct kt_journal_stream j;
				split(s, total, chunk, max, &rs, &j);
				cr_assert_eq(rs.n, last ? 1 : 2, "len %zu, chunk %zu", len, chunk);
				cr_expect_eq(rs.r[0].r.truncated, len > max, "len %zu, chunk %zu", len,
					     chunk);
				cr_expect_eq(strlen(rs.r[0].msg), max - h, "len %zu, chunk %zu", len,
					     chunk);
				cr_expect_eq(j.truncated, len > max);
				cr_expect_eq(j.dropped_bytes, len - max);
				if (!last)
					cr_expect_str_eq(rs.r[1].msg, "next");
				kt_journal_free(&j);
			}
		}
	}
	/* A record one byte over the limit is cut as soon as that byte arrives. */
	for (size_t len = max; len <= max + 1; len++) {
		record_of(s, len, 'x');
		struct recs rs = {0};
		struct kt_journal_stream j;
		kt_journal_init(&j, max, &ops, &rs);
		kt_journal_push(&j, (const uint8_t *)s, len, NOW);
		cr_expect_eq(rs.n, len > max, "%zu bytes", len);
		cr_expect_eq(j.truncated, len > max, "%zu bytes", len);
		kt_journal_finish(&j, NOW);
		cr_assert_eq(rs.n, 1);
		cr_expect_eq(rs.r[0].r.truncated, len > max);
		kt_journal_free(&j);
	}
	/*
	 * The stream ends in a '<' that might have started a record: it is
	 * the record's last byte, within max_record or one over it.
	 */
	for (size_t len = max; len <= max + 1; len++) {
		size_t h = record_of(s, len, 'x');
		s[len - 1] = '<';
		for (size_t chunk = 1; chunk <= len; chunk++) {
			struct recs rs;
			struct kt_journal_stream j;
			split(s, len, chunk, max, &rs, &j);
			cr_assert_eq(rs.n, 1, "len %zu, chunk %zu", len, chunk);
			cr_expect_eq(rs.r[0].r.truncated, len > max, "len %zu, chunk %zu", len, chunk);
			cr_expect_eq(strlen(rs.r[0].msg), max - h, "len %zu, chunk %zu", len, chunk);
			cr_expect_eq(rs.r[0].msg[max - h - 1], len > max ? 'x' : '<');
			cr_expect_eq(j.dropped_bytes, len - max);
			kt_journal_free(&j);
		}
	}
	/* A limit below 64 is raised to it; 64 and above are kept. */
	static const size_t asked[] = {1, 63, 64, 65};
	static const size_t got[] = {64, 64, 64, 65};
	for (size_t i = 0; i < 4; i++) {
		struct kt_journal_stream j;
		kt_journal_init(&j, asked[i], &ops, NULL);
		cr_expect_eq(j.max_record, got[i], "asked %zu", asked[i]);
		kt_journal_free(&j);
	}
}

Test(journal, cut_backs_off_at_most_three_bytes)
{
	const size_t max = 100;
	char s[200];
	/* A 4-byte character ending exactly at the cut, or straddling it. */
	for (size_t at = max - 4; at <= max; at++) {
		size_t h = record_of(s, 150, 'x');
		memcpy(s + at, "\xf0\x9f\x98\x80", 4);
		struct recs rs;
		struct kt_journal_stream j;
		split(s, 150, 0, max, &rs, &j);
		cr_assert_eq(rs.n, 1);
		cr_expect(rs.r[0].r.truncated);
		cr_expect_not(rs.r[0].r.utf8_repaired, "character at %zu cut", at);
		size_t kept = at + 4 <= max ? max : at;
		cr_expect_eq(strlen(rs.r[0].msg), kept - h, "character at %zu", at);
		kt_journal_free(&j);
	}
	/* Not UTF-8: a run of continuation bytes; no more than 3 are given back. */
	size_t h = record_of(s, 150, 'x');
	memset(s + 90, 0x80, 20);
	struct recs rs;
	struct kt_journal_stream j;
	split(s, 150, 0, max, &rs, &j);
	cr_assert_eq(rs.n, 1);
	cr_expect(rs.r[0].r.utf8_repaired);
	/* 90 - h bytes of x, then 7 continuation bytes, each U+FFFD */
	cr_expect_eq(strlen(rs.r[0].msg), 90 - h + 7 * 3);
	cr_expect_eq(j.dropped_bytes, 150 - 97);
	kt_journal_free(&j);
}

/* parse() of "<14>" + s: the form it comes out as. */
static enum kt_journal_form form_of(const char *s, struct kt_journal_record *r)
{
	static char scratch[4096];
	char line[1100];
	snprintf(line, sizeof(line), "<14>%s", s);
	*r = parse(line, scratch, sizeof(scratch));
	return r->form;
}

Test(journal, header_fields_at_their_length_limits)
{
	/* RFC 5424: timestamp 64, hostname 255, app-name 48, procid 128, msgid 32. */
	static const size_t max[5] = {64, 255, 48, 128, 32};
	for (int f = 0; f < 5; f++) {
		for (size_t len = max[f]; len <= max[f] + 1; len++) {
			char field[300], line[1100];
			if (f == 0) {
				/* "2003-10-11T22:14:15." digits "Z" */
				memcpy(field, "2003-10-11T22:14:15.", 20);
				memset(field + 20, '1', len - 21);
				field[len - 1] = 'Z';
			} else {
				memset(field, 'f', len);
			}
			field[len] = '\0';
			const char *v[5] = {"2003-10-11T22:14:15Z", "h", "a", "p", "m"};
			v[f] = field;
			snprintf(line, sizeof(line), "1 %s %s %s %s %s - text", v[0], v[1], v[2], v[3],
				 v[4]);
			struct kt_journal_record r;
			enum kt_journal_form form = form_of(line, &r);
			cr_expect_eq(form, len == max[f] ? KT_JOURNAL_RFC5424 : KT_JOURNAL_PLAIN,
				     "field %d of %zu bytes", f, len);
			if (form != KT_JOURNAL_RFC5424)
				continue;
			cr_expect(eq(r.message, "text"));
			const struct kt_str got[5] = {{field, len}, r.hostname, r.app_name, r.proc_id,
						       r.msg_id};
			if (f > 0)
				cr_expect(eq(got[f], field), "field %d", f);
			else
				cr_expect_eq(r.time_unix_nano, 1065910455111111111ull);
		}
	}

	/* RFC 3164: a tag of 64 bytes, a pid of 20, a hostname of 255. */
	char tag[80], line[600];
	struct kt_journal_record r;
	for (size_t len = 64; len <= 65; len++) {
		memset(tag, 't', len);
		tag[len] = '\0';
		snprintf(line, sizeof(line), "Nov 14 22:13:20 %s: text", tag);
		cr_expect_eq(form_of(line, &r), KT_JOURNAL_RFC3164);
		if (len == 64) {
			cr_expect(eq(r.app_name, tag), "tag of 64");
			cr_expect(eq(r.message, "text"));
		} else {
			cr_expect(eq(r.app_name, ""), "tag of 65");
		}
	}
	for (size_t len = 20; len <= 21; len++) {
		char pid[32];
		memset(pid, '7', len);
		pid[len] = '\0';
		snprintf(line, sizeof(line), "Nov 14 22:13:20 a[%s]: text", pid);
		cr_expect_eq(form_of(line, &r), KT_JOURNAL_RFC3164);
		if (len == 20) {
			cr_expect(eq(r.proc_id, pid) && eq(r.app_name, "a"), "pid of 20");
		} else {
			cr_expect(eq(r.proc_id, "") && eq(r.app_name, ""), "pid of 21");
		}
	}
	for (size_t len = 255; len <= 256; len++) {
		char host[300];
		memset(host, 'h', len);
		host[len] = '\0';
		snprintf(line, sizeof(line), "Nov 14 22:13:20 %s a: text", host);
		cr_expect_eq(form_of(line, &r), KT_JOURNAL_RFC3164);
		if (len == 255) {
			cr_expect(eq(r.hostname, host) && eq(r.app_name, "a"), "hostname of 255");
		} else {
			cr_expect(eq(r.hostname, "") && eq(r.app_name, ""), "hostname of 256");
		}
	}
}

Test(journal, scratch_of_exactly_three_bytes_a_byte)
{
	static const char rec[] = "<1>Nov 14 22:13:20 t: \xff\xff";
	size_t n = sizeof(rec) - 1;
	char scratch[3 * sizeof(rec) + 8];
	struct kt_journal_record r;
	cr_expect_eq(kt_journal_parse((const uint8_t *)rec, n, NOW, scratch, 3 * n + 8, &r), 0);
	cr_expect(r.utf8_repaired);
	cr_expect(eq(r.message, "\xef\xbf\xbd\xef\xbf\xbd"));
	cr_expect_eq(kt_journal_parse((const uint8_t *)rec, n, NOW, scratch, 3 * n + 7, &r), -1);
}

Test(journal, long_records_are_cut)
{
	char s[600];
	size_t k = (size_t)snprintf(s, sizeof(s), "<13>Nov 14 22:13:21 a: ");
	while (k < 300)
		s[k++] = 'x';
	/* a 2-byte character straddling the cut at 64 */
	memcpy(s + 63, "\xc3\xa9", 2);
	k += (size_t)snprintf(s + k, sizeof(s) - k, "<13>Nov 14 22:13:22 b: short");
	const size_t chunks[] = {1, 2, 13, 64, 65, 87, 300, k};
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		size_t chunk = chunks[c];
		struct recs rs;
		struct kt_journal_stream j;
		split(s, k, chunk, 64, &rs, &j);
		cr_assert_eq(rs.n, 2, "chunk %zu", chunk);
		cr_expect(rs.r[0].r.truncated);
		cr_expect_not(rs.r[0].r.utf8_repaired, "cut inside a character");
		cr_expect_eq(strlen(rs.r[0].msg) + 23, 63);
		cr_expect_eq(j.dropped_bytes, 300 - 63);
		cr_expect_eq(j.truncated, 1);
		cr_expect_str_eq(rs.r[1].msg, "short");
		cr_expect_not(rs.r[1].r.truncated);
		kt_journal_free(&j);
	}
	/* A too-small limit is raised; buffers stay bounded by it. */
	struct kt_journal_stream j;
	kt_journal_init(&j, 1, NULL, NULL);
	cr_expect_eq(j.max_record, KT_JOURNAL_MIN_MAX_RECORD);
	for (int i = 0; i < 1000; i++)
		kt_journal_push(&j, (const uint8_t *)"<1>yyyyyyyy", 11, NOW);
	cr_expect_leq(j.have, KT_JOURNAL_MIN_MAX_RECORD + 24);
	kt_journal_finish(&j, NOW);
	kt_journal_free(&j);
}

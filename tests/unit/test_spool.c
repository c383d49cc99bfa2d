/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The disk spool against a model of what was appended: records of random
 * sizes across segments come back in order, with their sequence numbers,
 * after close and reopen and after a crash (a forked child that never
 * closes, a copy of the files taken without a close); acknowledged records
 * are never replayed after a clean close; a torn tail cut at every byte of
 * the last record, or with a byte changed, is cut back and the records
 * before it survive; damage in the middle of a segment or in its header
 * sets the file aside as .corrupt and the rest replays; the bound on disk
 * bytes drops the oldest segments with exact counts; a record larger than
 * a segment is refused; a write error (RLIMIT_FSIZE) is reported and
 * counted and the next append succeeds; a symbolic link or a file in the
 * directory's place is refused; files of other names are left alone.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "exporters/spool.h"
#include "fs_fixture.h"
#include "test_rnd.h"

#define SEG 4096u
#define REC_MAX_PAYLOAD (SEG - KT_SPOOL_SEG_HDR - KT_SPOOL_REC_HDR)
#define MAX_MODEL 4096

static void setup(void)
{
	fx_root_make("spool");
}

static void teardown(void)
{
	fx_root_remove();
}

TestSuite(spool, .init = setup, .fini = teardown);

/* The payload of the record with sequence number seq: its bytes derive from seq. */
static uint8_t pat(uint64_t seq, size_t i)
{
	return (uint8_t)(seq * 131 + i * 7 + (i >> 8));
}

static void payload(uint8_t *p, uint64_t seq, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(seq, i);
}

/* The model: what each sequence number was appended with. */
struct model {
	uint32_t type[MAX_MODEL];
	size_t len[MAX_MODEL];
};
static struct model m;

static uint64_t put(struct kt_spool *s, uint32_t type, size_t n)
{
	static uint8_t buf[SEG * 4];
	cr_assert_leq(n, sizeof(buf));
	struct kt_spool_stats st;
	kt_spool_stats(s, &st);
	payload(buf, st.next_seq, n);
	uint64_t seq = 0;
	cr_assert_eq(kt_spool_append(s, type, buf, n, &seq), 0, "append of %zu bytes", n);
	cr_assert_eq(seq, st.next_seq);
	cr_assert_lt(seq, MAX_MODEL);
	m.type[seq] = type;
	m.len[seq] = n;
	return seq;
}

struct got {
	uint64_t seq[MAX_MODEL];
	size_t n;
};

static int collect(void *ctx, uint32_t type, uint64_t seq, const void *p, size_t n)
{
	struct got *g = ctx;
	cr_assert_lt(g->n, MAX_MODEL);
	cr_assert_lt(seq, MAX_MODEL);
	cr_assert_eq(type, m.type[seq], "type of record %lu", (unsigned long)seq);
	cr_assert_eq(n, m.len[seq], "length of record %lu", (unsigned long)seq);
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(seq, i))
			cr_assert_fail("record %lu: byte %zu differs", (unsigned long)seq, i);
	g->seq[g->n++] = seq;
	return 0;
}

/* Replays everything after `after` and checks it is exactly seqs lo..hi (none when lo > hi). */
static void expect_range(struct kt_spool *s, uint64_t after, uint64_t lo, uint64_t hi)
{
	static struct got g;
	g.n = 0;
	cr_assert_eq(kt_spool_replay(s, after, collect, &g), 0);
	size_t want = lo > hi ? 0 : (size_t)(hi - lo + 1);
	cr_assert_eq(g.n, want, "replayed %zu records, expected %zu (%lu..%lu)", g.n, want,
		     (unsigned long)lo, (unsigned long)hi);
	for (size_t i = 0; i < g.n; i++)
		cr_assert_eq(g.seq[i], lo + i);
}

static struct kt_spool *open_at(const char *rel, uint64_t max, uint64_t seg)
{
	struct kt_spool_cfg cfg = {.dir = fx_at(rel), .max_bytes = max, .segment_bytes = seg};
	char err[256] = "";
	struct kt_spool *s = kt_spool_open(&cfg, err, sizeof(err));
	cr_assert_not_null(s, "open: %s", err);
	return s;
}

static struct kt_spool_stats stats(struct kt_spool *s)
{
	struct kt_spool_stats st;
	kt_spool_stats(s, &st);
	return st;
}

/* Segment files in rel, sorted; returns how many (names into out[i], 64 bytes each). */
static size_t list(const char *rel, const char *suffix, char out[][64], size_t max)
{
	DIR *d = opendir(fx_at(rel));
	cr_assert_not_null(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), sl = strlen(suffix);
		if (l == 16 + sl && strcmp(e->d_name + 16, suffix) == 0 && n < max)
			memcpy(out[n++], e->d_name, l + 1);
	}
	closedir(d);
	qsort(out, n, 64, (int (*)(const void *, const void *))strcmp);
	return n;
}

static off_t file_size(const char *path)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "%s", path);
	return st.st_size;
}

static uint64_t dir_bytes(const char *rel)
{
	static char names[512][64];
	size_t n = list(rel, ".spool", names, 512);
	uint64_t sum = 0;
	char path[256];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", fx_at(rel), names[i]);
		sum += (uint64_t)file_size(path);
	}
	return sum;
}

/* cp -a of a flat directory: the disk as a crash would leave it (page cache included). */
static void copy_dir(const char *from, const char *to)
{
	fx_mkdirs(to);
	DIR *d = opendir(fx_at(from));
	cr_assert_not_null(d);
	struct dirent *e;
	static uint8_t buf[1 << 20];
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char a[512], b[512];
		snprintf(a, sizeof(a), "%s/%s", fx_at(from), e->d_name);
		snprintf(b, sizeof(b), "%s/%s", fx_at(to), e->d_name);
		int fa = open(a, O_RDONLY), fb = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		cr_assert(fa >= 0 && fb >= 0);
		ssize_t r;
		while ((r = read(fa, buf, sizeof(buf))) > 0)
			cr_assert_eq(write(fb, buf, (size_t)r), r);
		close(fa);
		close(fb);
	}
	closedir(d);
}

static void flip_byte(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	cr_assert(fd >= 0);
	uint8_t c;
	cr_assert_eq(pread(fd, &c, 1, at), 1);
	c ^= 0x5a;
	cr_assert_eq(pwrite(fd, &c, 1, at), 1);
	close(fd);
}

/* Records of size n that fit in one segment (the format's constants, not the code's). */
static size_t per_segment(size_t n)
{
	return (SEG - KT_SPOOL_SEG_HDR) / (KT_SPOOL_REC_HDR + n);
}

Test(spool, round_trip_across_segments)
{
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	uint64_t bytes = 0;
	for (int i = 0; i < 400; i++) {
		size_t n = rnd() % 1500;
		put(s, (uint32_t)rnd(), n);
		bytes += n;
	}
	struct kt_spool_stats st = stats(s);
	cr_assert_eq(st.appended, 400);
	cr_assert_eq(st.appended_bytes, bytes);
	cr_assert_eq(st.records, 400);
	cr_assert_gt(st.segments, 10);
	cr_assert_eq(st.bytes, dir_bytes("q"));
	expect_range(s, 0, 1, 400);
	expect_range(s, 250, 251, 400);
	cr_assert_eq(stats(s).replayed, 400 + 150);
	kt_spool_close(s);
	s = open_at("q", 1 << 20, SEG);
	expect_range(s, 0, 1, 400);
	cr_assert_eq(stats(s).records, 400);
	kt_spool_close(s);
}

Test(spool, sequence_continues_after_reopen)
{
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	for (int i = 0; i < 50; i++)
		put(s, 1, 100 + (size_t)i);
	kt_spool_close(s);
	s = open_at("q", 1 << 20, SEG);
	cr_assert_eq(stats(s).next_seq, 51);
	for (int i = 0; i < 50; i++)
		cr_assert_eq(put(s, 2, 10), 51 + (uint64_t)i);
	expect_range(s, 0, 1, 100);
	kt_spool_close(s);
	s = open_at("q", 1 << 20, SEG);
	expect_range(s, 0, 1, 100);
	kt_spool_close(s);
}

struct appender {
	struct kt_spool *s;
	struct got g;
};

static int append_in_cb(void *ctx, uint32_t type, uint64_t seq, const void *p, size_t n)
{
	struct appender *a = ctx;
	collect(&a->g, type, seq, p, n);
	put(a->s, 9, 20);
	return 0;
}

Test(spool, replay_delivers_what_was_held_when_it_started)
{
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	for (int i = 0; i < 300; i++)
		put(s, 1, 50);
	static struct appender a;
	a.s = s;
	cr_assert_eq(kt_spool_replay(s, 0, append_in_cb, &a), 0);
	cr_assert_eq(a.g.n, 300);
	for (size_t i = 0; i < a.g.n; i++)
		cr_assert_eq(a.g.seq[i], i + 1);
	expect_range(s, 300, 301, 600);
	kt_spool_close(s);
}

Test(spool, acknowledged_records_not_replayed_after_reopen)
{
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	size_t n = 200;
	for (int i = 0; i < 100; i++)
		put(s, 3, n);
	kt_spool_ack(s, 60);
	cr_assert_eq(kt_spool_sync(s), 0);
	struct kt_spool_stats st = stats(s);
	cr_assert_eq(st.records, 40);
	cr_assert_eq(st.acked, 60);
	/* the segments wholly at or below 60 are gone: the first left holds record 61 */
	size_t per = per_segment(n);
	uint64_t first_left = (60 / per) * per + 1;
	static char names[64][64];
	cr_assert_gt(list("q", ".spool", names, 64), 0);
	char want[64];
	snprintf(want, sizeof(want), "%016lx.spool", (unsigned long)first_left);
	cr_assert_str_eq(names[0], want);
	expect_range(s, 0, 61, 100);
	kt_spool_close(s);

	s = open_at("q", 1 << 20, SEG);
	expect_range(s, 0, 61, 100);
	cr_assert_eq(stats(s).records, 40);
	/* acknowledged and closed without an explicit sync: close syncs */
	kt_spool_ack(s, 90);
	kt_spool_close(s);
	s = open_at("q", 1 << 20, SEG);
	expect_range(s, 0, 91, 100);
	/* everything acknowledged: the files go, the numbering goes on */
	kt_spool_ack(s, 100);
	kt_spool_close(s);
	s = open_at("q", 1 << 20, SEG);
	expect_range(s, 0, 1, 0);
	cr_assert_eq(stats(s).bytes, 0);
	cr_assert_eq(put(s, 1, 1), 101);
	kt_spool_close(s);
}

Test(spool, crash_of_a_child_replays_what_was_synced)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct kt_spool *s = open_at("q", 1 << 20, SEG);
		for (int i = 0; i < 150; i++)
			put(s, 4, (size_t)(i * 13 % 700));
		kt_spool_ack(s, 20);
		if (kt_spool_sync(s) != 0)
			_exit(2);
		kt_spool_ack(s, 40); /* not synced: comes back */
		kill(getpid(), SIGKILL);
		_exit(3);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %d", status);
	for (int i = 0; i < 150; i++) {
		m.type[i + 1] = 4;
		m.len[i + 1] = (size_t)(i * 13 % 700);
	}
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	expect_range(s, 0, 21, 150);
	cr_assert_eq(stats(s).next_seq, 151);
	kt_spool_close(s);
}

Test(spool, copy_taken_without_close_replays_everything_appended)
{
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	for (int i = 0; i < 120; i++)
		put(s, 5, rnd() % 900);
	kt_spool_ack(s, 30);
	cr_assert_eq(kt_spool_sync(s), 0);
	kt_spool_ack(s, 50);
	for (int i = 0; i < 10; i++)
		put(s, 5, rnd() % 900);
	copy_dir("q", "crash");
	kt_spool_close(s);
	s = open_at("crash", 1 << 20, SEG);
	expect_range(s, 0, 31, 130);
	cr_assert_eq(stats(s).truncated_tails, 0);
	cr_assert_eq(stats(s).corrupt_files, 0);
	kt_spool_close(s);
}

/* Five records of 150 bytes in one segment; returns the path of its file. */
static const char *five_records(void)
{
	struct kt_spool *s = open_at("orig", 1 << 20, SEG);
	for (int i = 0; i < 5; i++)
		put(s, 6, 150);
	kt_spool_close(s);
	static char path[256];
	snprintf(path, sizeof(path), "%s/0000000000000001.spool", fx_at("orig"));
	cr_assert_eq(file_size(path), KT_SPOOL_SEG_HDR + 5 * (KT_SPOOL_REC_HDR + 150));
	return path;
}

Test(spool, torn_tail_cut_at_every_byte_of_the_last_record)
{
	five_records();
	off_t start = KT_SPOOL_SEG_HDR + 4 * (KT_SPOOL_REC_HDR + 150);
	off_t end = start + KT_SPOOL_REC_HDR + 150;
	for (off_t k = start; k < end; k++) {
		fx_rmrf("t");
		copy_dir("orig", "t");
		char path[256];
		snprintf(path, sizeof(path), "%s/0000000000000001.spool", fx_at("t"));
		cr_assert_eq(truncate(path, k), 0);
		struct kt_spool *s = open_at("t", 1 << 20, SEG);
		struct kt_spool_stats st = stats(s);
		cr_assert_eq(st.truncated_tails, k > start ? 1u : 0u, "cut at %ld", (long)k);
		cr_assert_eq(st.truncated_bytes, (uint64_t)(k - start));
		cr_assert_eq(st.corrupt_files, 0);
		cr_assert_eq(file_size(path), start);
		expect_range(s, 0, 1, 4);
		/* numbering resumes after the last good record */
		cr_assert_eq(put(s, 6, 150), 5);
		kt_spool_close(s);
	}
}

Test(spool, torn_tail_with_a_changed_byte)
{
	five_records();
	off_t start = KT_SPOOL_SEG_HDR + 4 * (KT_SPOOL_REC_HDR + 150);
	/* in the payload: the last record fails its checksum, cut back */
	copy_dir("orig", "a");
	char path[256];
	snprintf(path, sizeof(path), "%s/0000000000000001.spool", fx_at("a"));
	flip_byte(path, start + KT_SPOOL_REC_HDR + 77);
	struct kt_spool *s = open_at("a", 1 << 20, SEG);
	cr_assert_eq(stats(s).truncated_tails, 1);
	cr_assert_eq(stats(s).truncated_bytes, KT_SPOOL_REC_HDR + 150);
	expect_range(s, 0, 1, 4);
	kt_spool_close(s);
	/* in the header, its payload after it: damage, set aside; the four before kept */
	copy_dir("orig", "b");
	snprintf(path, sizeof(path), "%s/0000000000000001.spool", fx_at("b"));
	flip_byte(path, start + 5);
	s = open_at("b", 1 << 20, SEG);
	cr_assert_eq(stats(s).corrupt_files, 1);
	expect_range(s, 0, 1, 4);
	kt_spool_close(s);
	cr_assert_eq(access(fx_at("b/0000000000000001.spool.corrupt"), F_OK), 0);
}

Test(spool, damage_in_the_middle_sets_the_file_aside)
{
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	size_t n = 300, per = per_segment(n);
	for (int i = 0; i < 60; i++)
		put(s, 7, n);
	kt_spool_close(s);
	static char names[64][64];
	size_t nseg = list("q", ".spool", names, 64);
	cr_assert_eq(nseg, (60 + per - 1) / per);
	/* the second segment, its third record's payload */
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", fx_at("q"), names[1]);
	flip_byte(path, KT_SPOOL_SEG_HDR + 2 * (KT_SPOOL_REC_HDR + n) + KT_SPOOL_REC_HDR + 9);
	s = open_at("q", 1 << 20, SEG);
	cr_assert_eq(stats(s).corrupt_files, 1);
	cr_assert_eq(stats(s).truncated_tails, 0);
	/* lost: the second segment from its third record on */
	uint64_t lost_lo = per + 3, lost_hi = 2 * per;
	static struct got g;
	g.n = 0;
	cr_assert_eq(kt_spool_replay(s, 0, collect, &g), 0);
	size_t j = 0;
	for (uint64_t q = 1; q <= 60; q++) {
		if (q >= lost_lo && q <= lost_hi)
			continue;
		cr_assert_lt(j, g.n);
		cr_assert_eq(g.seq[j], q);
		j++;
	}
	cr_assert_eq(j, g.n);
	kt_spool_close(s);
	char bad[300];
	snprintf(bad, sizeof(bad), "%s.corrupt", path);
	cr_assert_eq(access(bad, F_OK), 0);
	cr_assert_eq(file_size(path), KT_SPOOL_SEG_HDR + 2 * (KT_SPOOL_REC_HDR + n));
	/* the .corrupt file is not read again */
	s = open_at("q", 1 << 20, SEG);
	cr_assert_eq(stats(s).corrupt_files, 0);
	cr_assert_eq(stats(s).records, 60 - (lost_hi - lost_lo + 1));
	kt_spool_close(s);
}

Test(spool, bad_header)
{
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	size_t n = 500, per = per_segment(n);
	for (int i = 0; i < 30; i++)
		put(s, 8, n);
	kt_spool_close(s);
	char path[256];
	snprintf(path, sizeof(path), "%s/0000000000000001.spool", fx_at("q"));
	flip_byte(path, 2);
	s = open_at("q", 1 << 20, SEG);
	cr_assert_eq(stats(s).corrupt_files, 1);
	expect_range(s, 0, per + 1, 30);
	kt_spool_close(s);
	cr_assert_eq(access(path, F_OK), -1);
	char bad[300];
	snprintf(bad, sizeof(bad), "%s.corrupt", path);
	cr_assert_eq(access(bad, F_OK), 0);
}

Test(spool, sequence_going_backwards_across_files)
{
	fx_mkdirs("q");
	/* 0000000000000005.spool: 5, 6, 7; 0000000000000007.spool: 7, 8 (7 again) */
	uint8_t f[KT_SPOOL_SEG_HDR + 3 * (KT_SPOOL_REC_HDR + 4)];
	uint8_t body[4] = {1, 2, 3, 4};
	for (int which = 0; which < 2; which++) {
		uint64_t first = which ? 7 : 5;
		int count = which ? 2 : 3;
		kt_spool_encode_segment(f, first);
		size_t at = KT_SPOOL_SEG_HDR;
		for (int i = 0; i < count; i++) {
			for (int b = 0; b < 4; b++)
				body[b] = pat(first + (uint64_t)i, (size_t)b);
			kt_spool_encode_record(f + at, 1, first + (uint64_t)i, body, 4);
			memcpy(f + at + KT_SPOOL_REC_HDR, body, 4);
			at += KT_SPOOL_REC_HDR + 4;
			m.type[first + (uint64_t)i] = 1;
			m.len[first + (uint64_t)i] = 4;
		}
		char rel[64];
		snprintf(rel, sizeof(rel), "q/%016lx.spool", (unsigned long)first);
		fx_put(rel, f, at);
	}
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	cr_assert_eq(stats(s).corrupt_files, 1);
	expect_range(s, 0, 5, 7);
	cr_assert_eq(put(s, 1, 3), 8);
	kt_spool_close(s);
	cr_assert_eq(access(fx_at("q/0000000000000007.spool.corrupt"), F_OK), 0);
}

Test(spool, bound_drops_the_oldest_with_exact_counts)
{
	const uint64_t max = 4 * SEG;
	struct kt_spool *s = open_at("q", max, SEG);
	const size_t n = 468, rec = KT_SPOOL_REC_HDR + n, per = per_segment(n);
	/* model: segments of `per` records each, the oldest deleted while the bytes would exceed max */
	uint64_t seg_first[256], seg_count[256];
	size_t lo = 0, hi = 0; /* live segments [lo, hi) */
	uint64_t bytes = 0, dropped = 0, dropped_bytes = 0;
	for (uint64_t q = 1; q <= 100; q++) {
		bool roll = hi == lo || seg_count[hi - 1] == per;
		uint64_t need = rec + (roll ? KT_SPOOL_SEG_HDR : 0);
		while (bytes + need > max && hi - lo > (roll ? 0u : 1u)) {
			uint64_t b = KT_SPOOL_SEG_HDR + seg_count[lo] * rec;
			bytes -= b;
			dropped += seg_count[lo];
			dropped_bytes += b;
			lo++;
		}
		if (roll) {
			seg_first[hi] = q;
			seg_count[hi++] = 0;
			bytes += KT_SPOOL_SEG_HDR;
		}
		seg_count[hi - 1]++;
		bytes += rec;
		cr_assert_eq(put(s, 10, n), q);
		struct kt_spool_stats st = stats(s);
		cr_assert_leq(st.bytes, max);
		cr_assert_eq(st.bytes, bytes);
		cr_assert_eq(dir_bytes("q"), bytes);
		cr_assert_eq(st.dropped_records, dropped);
		cr_assert_eq(st.dropped_bytes, dropped_bytes);
	}
	cr_assert_gt(dropped, 0);
	struct kt_spool_stats st = stats(s);
	cr_assert_eq(st.dropped_first_seq, 1);
	cr_assert_eq(st.dropped_last_seq, seg_first[lo] - 1);
	cr_assert_eq(st.records, 100 - dropped);
	expect_range(s, 0, seg_first[lo], 100);
	kt_spool_close(s);
}

Test(spool, acknowledged_segments_dropped_are_not_counted)
{
	const uint64_t max = 4 * SEG;
	struct kt_spool *s = open_at("q", max, SEG);
	const size_t n = 468, per = per_segment(n);
	for (size_t i = 0; i < 3 * per; i++)
		put(s, 10, n);
	kt_spool_ack(s, per); /* the first segment, not yet synced away */
	for (size_t i = 0; i < per + 1; i++)
		put(s, 10, n);
	struct kt_spool_stats st = stats(s);
	/* one segment had to go: the acknowledged one, nothing lost */
	cr_assert_eq(st.dropped_records, 0);
	cr_assert_eq(st.segments, 4);
	expect_range(s, 0, per + 1, 4 * per + 1);
	kt_spool_close(s);
}

Test(spool, record_larger_than_a_segment_refused)
{
	static uint8_t big[SEG];
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	cr_assert_eq(kt_spool_append(s, 1, big, REC_MAX_PAYLOAD + 1, NULL), -EMSGSIZE);
	cr_assert_eq(stats(s).write_errors, 0);
	cr_assert_eq(stats(s).appended, 0);
	cr_assert_eq(put(s, 1, REC_MAX_PAYLOAD), 1);
	kt_spool_close(s);
	/* a segment size above max_bytes / 2 is lowered to it */
	s = open_at("r", 4 * SEG, 0);
	static uint8_t bigger[2 * SEG];
	cr_assert_eq(kt_spool_append(s, 1, bigger, 2 * SEG - KT_SPOOL_SEG_HDR - KT_SPOOL_REC_HDR + 1,
				     NULL), -EMSGSIZE);
	cr_assert_eq(kt_spool_append(s, 1, bigger, 2 * SEG - KT_SPOOL_SEG_HDR - KT_SPOOL_REC_HDR,
				     NULL), 0);
	kt_spool_close(s);
}

Test(spool, write_error_counted_and_recovered)
{
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	for (int i = 0; i < 3; i++)
		put(s, 11, 100);
	struct rlimit old;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	/* the current segment may grow by 50 bytes: the next record does not fit */
	off_t now = KT_SPOOL_SEG_HDR + 3 * (KT_SPOOL_REC_HDR + 100);
	struct rlimit lim = {.rlim_cur = (rlim_t)now + 50, .rlim_max = old.rlim_max};
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	static uint8_t buf[100];
	cr_assert_eq(kt_spool_append(s, 11, buf, sizeof(buf), NULL), -EFBIG);
	cr_assert_eq(kt_spool_append(s, 11, buf, sizeof(buf), NULL), -EFBIG);
	struct kt_spool_stats st = stats(s);
	cr_assert_eq(st.write_errors, 2);
	cr_assert_eq(st.last_errno, EFBIG);
	cr_assert_eq(st.appended, 3);
	cr_assert_eq(st.next_seq, 4);
	/* the partial record was taken back */
	char path[256];
	snprintf(path, sizeof(path), "%s/0000000000000001.spool", fx_at("q"));
	cr_assert_eq(file_size(path), now);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	cr_assert_eq(put(s, 11, 100), 4);
	cr_assert_eq(stats(s).write_errors, 2);
	kt_spool_close(s);
	s = open_at("q", 1 << 20, SEG);
	expect_range(s, 0, 1, 4);
	cr_assert_eq(stats(s).truncated_tails, 0);
	kt_spool_close(s);
}

/*
 * No room for the acknowledged position (a full disk; here a file size
 * limit of 0, EFBIG): the segments it empties are deleted all the same,
 * since that is what frees room, and what follows them stays.
 */
Test(spool, a_full_disk_still_frees_the_acknowledged_segments)
{
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	const size_t n = 468, per = per_segment(n);
	for (size_t i = 0; i < 2 * per + 1; i++)
		put(s, 12, n);
	cr_assert_eq(kt_spool_sync(s), 0);
	char names[8][64];
	cr_assert_eq(list("q", ".spool", names, 8), 3);
	kt_spool_ack(s, 2 * per); /* the first two segments delivered */
	struct rlimit old;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit none = {.rlim_cur = 0, .rlim_max = old.rlim_max};
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &none), 0);
	int rc = kt_spool_sync(s);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	cr_assert_eq(rc, -EFBIG, "the position could not be written: %d", rc);
	cr_assert_eq(list("q", ".spool", names, 8), 1, "the two acknowledged segments are gone");
	cr_assert_eq(stats(s).sync_errors, 1);
	expect_range(s, 0, 2 * per + 1, 2 * per + 1);
	kt_spool_close(s);
}

Test(spool, symlink_or_file_in_place_of_the_directory_refused)
{
	fx_mkdirs("real");
	cr_assert_eq(symlink(fx_at("real"), fx_at("link")), 0);
	char err[256] = "";
	struct kt_spool_cfg cfg = {.dir = fx_at("link"), .max_bytes = 1 << 20};
	cr_assert_null(kt_spool_open(&cfg, err, sizeof(err)));
	cr_assert_not_null(strstr(err, fx_at("link")), "%s", err);
	cr_assert_not_null(strstr(err, "symbolic link"), "%s", err);
	fx_put("file", "x", 1);
	cfg.dir = fx_at("file");
	err[0] = '\0';
	cr_assert_null(kt_spool_open(&cfg, err, sizeof(err)));
	cr_assert_not_null(strstr(err, fx_at("file")), "%s", err);
	/* too small a bound */
	cfg.dir = fx_at("q");
	cfg.max_bytes = 2 * KT_SPOOL_SEGMENT_MIN - 1;
	cr_assert_null(kt_spool_open(&cfg, err, sizeof(err)));
}

Test(spool, directory_created_private)
{
	struct kt_spool *s = open_at("new", 1 << 20, SEG);
	struct stat st;
	cr_assert_eq(stat(fx_at("new"), &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0700);
	kt_spool_close(s);
}

Test(spool, files_of_other_names_ignored)
{
	fx_mkdirs("q");
	const char *other[] = {"q/README", "q/0000000000000001.spool.bak", "q/00000000000000zz.spool",
			       "q/1.spool", "q/0000000000000001.SPOOL"};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		FX_PUT_STR(other[i], "not a segment");
	struct kt_spool *s = open_at("q", 1 << 20, SEG);
	cr_assert_eq(stats(s).corrupt_files, 0);
	cr_assert_eq(stats(s).segments, 0);
	for (int i = 0; i < 10; i++)
		put(s, 12, 64);
	kt_spool_close(s);
	s = open_at("q", 1 << 20, SEG);
	expect_range(s, 0, 1, 10);
	kt_spool_close(s);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		cr_assert_eq(file_size(fx_at(other[i])), 13, "%s", other[i]);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "exporters/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "base/byte_order.h"
#include "base/clock.h"
#include "base/diag.h"
#include "base/safe_open.h"

/* ---- format (docs/spool.md) */

#define SEG_MAGIC 0x5053544bu /* "KTSP" */
#define REC_MAGIC 0x4352544bu /* "KTRC" */
#define ACK_MAGIC 0x4b41544bu /* "KTAK" */
#define FORMAT_VERSION 1u
#define ACK_SIZE 24u
#define ACK_NAME "ack"
#define ACK_TMP "ack.tmp"
#define SEG_SUFFIX ".spool"
#define SEG_HEX 16
#define SEG_NAME_LEN (SEG_HEX + sizeof(SEG_SUFFIX) - 1)
#define CORRUPT_SUFFIX ".corrupt"
#define NAME_BUF 64
/* At most one log line per this long about failing syncs (a full disk fails every one). */
#define SYNC_WARN_NS (10 * 1000000000ull)

static uint32_t crc(uint32_t c, const uint8_t *p, size_t n)
{
	/* zlib's crc32 takes a uInt length; segments are far below 4 GiB */
	return (uint32_t)crc32(c, p, (uInt)n);
}

void kt_spool_encode_segment(uint8_t h[KT_SPOOL_SEG_HDR], uint64_t first_seq)
{
	kt_put_le32(h, SEG_MAGIC);
	kt_put_le32(h + 4, FORMAT_VERSION);
	kt_put_le64(h + 8, first_seq);
	kt_put_le32(h + 16, 0);
	kt_put_le32(h + 20, crc(0, h, 20));
}

void kt_spool_encode_record(uint8_t h[KT_SPOOL_REC_HDR], uint32_t type, uint64_t seq,
			    const void *p, uint32_t n)
{
	kt_put_le32(h, REC_MAGIC);
	kt_put_le32(h + 4, n);
	kt_put_le32(h + 8, type);
	kt_put_le32(h + 12, 0);
	kt_put_le64(h + 16, seq);
	kt_put_le32(h + 24, crc(crc(0, h, 24), p, n));
	kt_put_le32(h + 28, crc(0, h, 28));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Damage at off: a torn tail when nothing but zeros follows (a file
 * extended by a crash before its data reached the disk), else `stop`.
 */
static void damage(struct kt_spool_parse *out, const uint8_t *p, size_t n, size_t off,
		   enum kt_spool_stop stop, const char *why)
{
	if (all_zero(p + off, n - off)) {
		out->stop = KT_SPOOL_TORN;
		out->why = "zeros at the end";
	} else {
		out->stop = stop;
		out->why = why;
	}
}

void kt_spool_parse_segment(const uint8_t *p, size_t n, uint64_t after_seq,
			    kt_spool_record_fn fn, void *ctx, struct kt_spool_parse *out)
{
	memset(out, 0, sizeof(*out));
	if (n < KT_SPOOL_SEG_HDR) {
		out->stop = KT_SPOOL_TORN;
		out->why = "incomplete segment header";
		return;
	}
	if (kt_le32(p) != SEG_MAGIC || kt_le32(p + 20) != crc(0, p, 20) || kt_le32(p + 16)) {
		damage(out, p, n, 0, KT_SPOOL_BAD_HEADER, "bad segment header");
		return;
	}
	if (kt_le32(p + 4) != FORMAT_VERSION) {
		out->stop = KT_SPOOL_BAD_HEADER;
		out->why = "unknown format version";
		return;
	}
	out->first_seq = kt_le64(p + 8);
	size_t off = KT_SPOOL_SEG_HDR;
	out->valid = off;
	uint64_t prev = after_seq;
	while (off < n) {
		const uint8_t *h = p + off;
		size_t rem = n - off;
		if (rem < KT_SPOOL_REC_HDR) {
			out->stop = KT_SPOOL_TORN;
			out->why = "incomplete record header";
			return;
		}
		/* The header has a checksum of its own: a damaged length is never trusted. */
		if (kt_le32(h) != REC_MAGIC || kt_le32(h + 28) != crc(0, h, 28) || kt_le32(h + 12)) {
			damage(out, p, n, off, KT_SPOOL_BAD_RECORD, "bad record header");
			return;
		}
		uint32_t len = kt_le32(h + 4);
		if (len > rem - KT_SPOOL_REC_HDR) {
			out->stop = KT_SPOOL_TORN;
			out->why = "incomplete record";
			return;
		}
		const uint8_t *body = h + KT_SPOOL_REC_HDR;
		if (kt_le32(h + 24) != crc(crc(0, h, 24), body, len)) {
			/* the last record's payload half written: torn; data after it: damage */
			if (len == rem - KT_SPOOL_REC_HDR) {
				out->stop = KT_SPOOL_TORN;
				out->why = "last record fails its checksum";
			} else {
				damage(out, p, n, off, KT_SPOOL_BAD_RECORD, "record fails its checksum");
			}
			return;
		}
		uint64_t seq = kt_le64(h + 16);
		if (seq <= prev || (out->records == 0 && seq != out->first_seq)) {
			out->stop = KT_SPOOL_SEQ_ORDER;
			out->why = out->records == 0 && seq > prev
				? "first record's sequence number differs from the header's"
				: "sequence number not above the one before";
			return;
		}
		prev = seq;
		out->records++;
		out->last_seq = seq;
		off += KT_SPOOL_REC_HDR + len;
		out->valid = off;
		if (fn) {
			int r = fn(ctx, kt_le32(h + 8), seq, body, len);
			if (r) {
				out->stop = KT_SPOOL_STOPPED;
				out->why = "stopped by the callback";
				out->cb_ret = r;
				return;
			}
		}
	}
	out->stop = KT_SPOOL_END;
}

/* ---- the spool */

struct seg {
	uint64_t first_seq, last_seq; /* last_seq 0: no record yet */
	uint64_t records;
	uint64_t bytes; /* the file's size */
	int fd;         /* the segment being written, or one written since the last sync; else -1 */
	bool dirty;     /* written since the last sync */
};

struct kt_spool {
	pthread_mutex_t lock;      /* everything below */
	pthread_mutex_t sync_lock; /* one sync at a time (the ack file) */
	char *dir;
	int dirfd;
	uint64_t max_bytes, seg_bytes;
	struct seg *segs; /* oldest first */
	size_t nsegs, cap;
	bool writing;     /* segs[nsegs - 1] is the segment appends go to */
	uint64_t next_seq;
	uint64_t acked, acked_synced;
	uint64_t bytes;
	bool dir_dirty;   /* files made or deleted since the last sync */
	uint64_t sync_warned_ns; /* the last failed sync logged (at most one per SYNC_WARN_NS) */
	struct kt_spool_stats st;
};

static void seg_name(char *buf, uint64_t seq)
{
	snprintf(buf, NAME_BUF, "%016" PRIx64 SEG_SUFFIX, seq);
}

static uint64_t seg_unacked(const struct seg *g, uint64_t acked)
{
	if (!g->records || acked >= g->last_seq)
		return 0;
	if (acked < g->first_seq)
		return g->records;
	/* sequence numbers in a segment are consecutive: this module writes them so */
	uint64_t left = g->last_seq - acked;
	return left < g->records ? left : g->records;
}

static void note_error(struct kt_spool *s, int e, bool sync)
{
	if (sync)
		s->st.sync_errors++;
	else
		s->st.write_errors++;
	s->st.last_errno = e;
}

static int push_seg(struct kt_spool *s, const struct seg *g)
{
	if (s->nsegs == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct seg *n = realloc(s->segs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->segs = n;
		s->cap = cap;
	}
	s->segs[s->nsegs++] = *g;
	s->bytes += g->bytes;
	return 0;
}

/* Deletes segs[i] (caller holds the lock). */
static void remove_seg(struct kt_spool *s, size_t i)
{
	struct seg *g = &s->segs[i];
	char name[NAME_BUF];
	seg_name(name, g->first_seq);
	if (g->fd >= 0)
		close(g->fd);
	if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT)
		kt_warn("spool: %s/%s: cannot delete: %s", s->dir, name, strerror(errno));
	s->bytes -= g->bytes;
	if (i == s->nsegs - 1)
		s->writing = false;
	memmove(g, g + 1, (s->nsegs - i - 1) * sizeof(*g));
	s->nsegs--;
	s->dir_dirty = true;
}

/* The oldest segment goes to make room, with what it holds (caller holds the lock). */
static void drop_oldest(struct kt_spool *s)
{
	struct seg *g = &s->segs[0];
	uint64_t lost = seg_unacked(g, s->acked);
	if (lost) {
		uint64_t first = g->last_seq - lost + 1;
		s->st.dropped_records += lost;
		s->st.dropped_bytes += g->bytes;
		if (!s->st.dropped_first_seq)
			s->st.dropped_first_seq = first;
		s->st.dropped_last_seq = g->last_seq;
		kt_warn("spool: %s: %" PRIu64 " unacknowledged records (sequence numbers %" PRIu64
			"..%" PRIu64 ") dropped to stay within %" PRIu64 " bytes",
			s->dir, lost, first, g->last_seq, s->max_bytes);
	}
	remove_seg(s, 0);
}

static int pwrite_all(int fd, const struct iovec *iov, int cnt, uint64_t off)
{
	struct iovec v[2];
	memcpy(v, iov, (size_t)cnt * sizeof(*v));
	struct iovec *p = v;
	while (cnt > 0) {
		ssize_t w = pwritev(fd, p, cnt, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		off += (uint64_t)w;
		while (cnt > 0 && (size_t)w >= p->iov_len) {
			w -= (ssize_t)p->iov_len;
			p++;
			cnt--;
		}
		if (cnt > 0) {
			p->iov_base = (uint8_t *)p->iov_base + w;
			p->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* The segment appends go to stops being written to; sync still has its fd if dirty. */
static void finish_writing(struct kt_spool *s)
{
	if (!s->writing)
		return;
	struct seg *g = &s->segs[s->nsegs - 1];
	if (!g->dirty && g->fd >= 0) {
		close(g->fd);
		g->fd = -1;
	}
	s->writing = false;
}

static int new_segment(struct kt_spool *s)
{
	char name[NAME_BUF];
	seg_name(name, s->next_seq);
	int fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	uint8_t h[KT_SPOOL_SEG_HDR];
	kt_spool_encode_segment(h, s->next_seq);
	struct iovec v = {.iov_base = h, .iov_len = sizeof(h)};
	int rc = pwrite_all(fd, &v, 1, 0);
	if (rc == 0) {
		struct seg g = {.first_seq = s->next_seq, .bytes = sizeof(h), .fd = fd, .dirty = true};
		rc = push_seg(s, &g);
	}
	if (rc) {
		close(fd);
		unlinkat(s->dirfd, name, 0);
		return rc;
	}
	s->writing = true;
	s->dir_dirty = true;
	return 0;
}

int kt_spool_append(struct kt_spool *s, uint32_t type, const void *p, size_t n, uint64_t *seq)
{
	pthread_mutex_lock(&s->lock);
	if (n > s->seg_bytes - KT_SPOOL_SEG_HDR - KT_SPOOL_REC_HDR) {
		pthread_mutex_unlock(&s->lock);
		return -EMSGSIZE;
	}
	uint64_t rec = KT_SPOOL_REC_HDR + n;
	bool roll = !s->writing || s->segs[s->nsegs - 1].bytes + rec > s->seg_bytes;
	if (roll)
		finish_writing(s);
	uint64_t need = rec + (roll ? KT_SPOOL_SEG_HDR : 0);
	/* never the segment being written: seg_bytes <= max_bytes / 2 leaves room beside it */
	while (s->bytes + need > s->max_bytes && s->nsegs > (roll ? 0u : 1u))
		drop_oldest(s);
	int rc = roll ? new_segment(s) : 0;
	if (rc == 0) {
		struct seg *g = &s->segs[s->nsegs - 1];
		uint8_t h[KT_SPOOL_REC_HDR];
		kt_spool_encode_record(h, type, s->next_seq, p, (uint32_t)n);
		struct iovec v[2] = {{.iov_base = h, .iov_len = sizeof(h)},
				     {.iov_base = (void *)p, .iov_len = n}};
		rc = pwrite_all(g->fd, v, n ? 2 : 1, g->bytes);
		if (rc == 0) {
			g->bytes += rec;
			g->records++;
			g->last_seq = s->next_seq;
			g->dirty = true;
			s->bytes += rec;
			s->st.appended++;
			s->st.appended_bytes += n;
			if (seq)
				*seq = s->next_seq;
			s->next_seq++;
		} else if (ftruncate(g->fd, (off_t)g->bytes) != 0) {
			/* part of the record may stay: the next open cuts it as a torn tail */
			finish_writing(s);
		}
	}
	if (rc)
		note_error(s, -rc, false);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void kt_spool_ack(struct kt_spool *s, uint64_t seq)
{
	pthread_mutex_lock(&s->lock);
	if (seq >= s->next_seq)
		seq = s->next_seq - 1;
	if (seq > s->acked)
		s->acked = seq;
	pthread_mutex_unlock(&s->lock);
}

static int write_ack(struct kt_spool *s, uint64_t ack)
{
	uint8_t b[ACK_SIZE];
	kt_put_le32(b, ACK_MAGIC);
	kt_put_le32(b + 4, FORMAT_VERSION);
	kt_put_le64(b + 8, ack);
	kt_put_le32(b + 16, 0);
	kt_put_le32(b + 20, crc(0, b, 20));
	int fd = openat(s->dirfd, ACK_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			0600);
	if (fd < 0)
		return -errno;
	struct iovec v = {.iov_base = b, .iov_len = sizeof(b)};
	int rc = pwrite_all(fd, &v, 1, 0);
	if (rc == 0 && fdatasync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && renameat(s->dirfd, ACK_TMP, s->dirfd, ACK_NAME) != 0)
		rc = -errno;
	if (rc == 0 && fsync(s->dirfd) != 0)
		rc = -errno;
	return rc;
}

int kt_spool_sync(struct kt_spool *s)
{
	pthread_mutex_lock(&s->sync_lock);
	pthread_mutex_lock(&s->lock);
	/* The fdatasyncs run on duplicates, outside the lock: appends go on meanwhile. */
	size_t nfds = 0;
	int *fds = calloc(s->nsegs ? s->nsegs : 1, sizeof(*fds));
	int rc = 0;
	for (size_t i = 0; i < s->nsegs; i++) {
		struct seg *g = &s->segs[i];
		if (!g->dirty)
			continue;
		int d = fds ? fcntl(g->fd, F_DUPFD_CLOEXEC, 0) : -1;
		if (d >= 0)
			fds[nfds++] = d;
		else if (fdatasync(g->fd) != 0 && !rc)
			rc = -errno;
		g->dirty = false;
		if (!(s->writing && i == s->nsegs - 1)) {
			close(g->fd);
			g->fd = -1;
		}
	}
	bool dir_dirty = s->dir_dirty;
	s->dir_dirty = false;
	uint64_t ack = s->acked;
	bool ack_changed = ack != s->acked_synced;
	pthread_mutex_unlock(&s->lock);

	for (size_t i = 0; i < nfds; i++) {
		if (fdatasync(fds[i]) != 0 && !rc)
			rc = -errno;
		close(fds[i]);
	}
	free(fds);
	if (dir_dirty && fsync(s->dirfd) != 0 && !rc)
		rc = -errno;
	if (ack_changed) {
		/* the position is durable before the segments it empties go */
		int r = write_ack(s, ack);
		if (r && !rc)
			rc = r;
		/*
		 * A full disk (or a file size limit) cannot take the new position,
		 * but deleting the segments it empties is what frees room: after a
		 * crash the position on disk is older, and what was deleted cannot
		 * come back, so at worst records of the segments left come again.
		 */
		if (!r || r == -ENOSPC || r == -EDQUOT || r == -EFBIG) {
			pthread_mutex_lock(&s->lock);
			s->acked_synced = ack;
			bool deleted = false;
			while (s->nsegs && s->segs[0].records && s->segs[0].last_seq <= ack) {
				remove_seg(s, 0);
				deleted = true;
			}
			if (deleted)
				s->dir_dirty = false; /* the fsync below covers every change so far */
			pthread_mutex_unlock(&s->lock);
			if (deleted && fsync(s->dirfd) != 0 && !rc)
				rc = -errno;
		}
	}
	if (rc) {
		pthread_mutex_lock(&s->lock);
		note_error(s, -rc, true);
		uint64_t now = kt_mono_ns();
		bool say = !s->sync_warned_ns || now - s->sync_warned_ns >= SYNC_WARN_NS;
		if (say)
			s->sync_warned_ns = now;
		uint64_t errors = s->st.sync_errors;
		pthread_mutex_unlock(&s->lock);
		if (say)
			kt_warn("spool: %s: sync: %s (%llu failed syncs so far)", s->dir, strerror(-rc),
				(unsigned long long)errors);
	}
	pthread_mutex_unlock(&s->sync_lock);
	return rc;
}

static int pread_all(int fd, uint8_t *buf, size_t n, size_t *got)
{
	size_t off = 0;
	while (off < n) {
		ssize_t r = pread(fd, buf + off, n - off, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		off += (size_t)r;
	}
	*got = off;
	return 0;
}

struct replay_ctx {
	kt_spool_record_fn fn;
	void *ctx;
	uint64_t after, end; /* deliver after < seq < end */
	uint64_t delivered;
};

static int replay_one(void *ctx, uint32_t type, uint64_t seq, const void *p, size_t n)
{
	struct replay_ctx *r = ctx;
	if (seq <= r->after)
		return 0;
	if (seq >= r->end)
		return 0;
	r->delivered++;
	return r->fn(r->ctx, type, seq, p, n);
}

int kt_spool_replay(struct kt_spool *s, uint64_t after_seq, kt_spool_record_fn fn, void *ctx)
{
	pthread_mutex_lock(&s->lock);
	struct replay_ctx rc = {.fn = fn, .ctx = ctx, .after = after_seq, .end = s->next_seq};
	pthread_mutex_unlock(&s->lock);
	uint64_t gone = 0; /* a segment found deleted once: it must not be found again */
	for (;;) {
		if (rc.after + 1 >= rc.end)
			return 0;
		pthread_mutex_lock(&s->lock);
		if (s->acked > rc.after)
			rc.after = s->acked;
		const struct seg *g = NULL;
		for (size_t i = 0; i < s->nsegs && !g; i++)
			if (s->segs[i].records && s->segs[i].last_seq > rc.after &&
			    s->segs[i].first_seq < rc.end)
				g = &s->segs[i];
		if (!g) {
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
		char name[NAME_BUF];
		seg_name(name, g->first_seq);
		uint64_t size = g->bytes, last = g->last_seq, first = g->first_seq;
		/* opened under the lock: a segment deleted from now on stays readable */
		int fd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		pthread_mutex_unlock(&s->lock);
		if (fd < 0) {
			if (e == ENOENT && gone != first) {
				gone = first;
				continue;
			}
			kt_err("spool: %s/%s: cannot open for replay: %s", s->dir, name, strerror(e));
			return -e;
		}
		uint8_t *buf = malloc(size ? size : 1);
		size_t got = 0;
		int r = buf ? pread_all(fd, buf, size, &got) : -ENOMEM;
		close(fd);
		if (r) {
			free(buf);
			kt_err("spool: %s/%s: cannot read for replay: %s", s->dir, name, strerror(-r));
			return r;
		}
		struct kt_spool_parse pr;
		uint64_t before = rc.delivered;
		kt_spool_parse_segment(buf, got, 0, replay_one, &rc, &pr);
		free(buf);
		pthread_mutex_lock(&s->lock);
		s->st.replayed += rc.delivered - before;
		pthread_mutex_unlock(&s->lock);
		if (pr.stop == KT_SPOOL_STOPPED)
			return pr.cb_ret;
		if (pr.stop != KT_SPOOL_END)
			kt_err("spool: %s/%s: %s at byte %zu during replay; the rest of the file skipped",
			       s->dir, name, pr.why, pr.valid);
		if (last > rc.after)
			rc.after = last;
	}
}

void kt_spool_stats(const struct kt_spool *cs, struct kt_spool_stats *out)
{
	struct kt_spool *s = (struct kt_spool *)cs; /* the lock is not the state */
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	out->bytes = s->bytes;
	out->segments = s->nsegs;
	out->next_seq = s->next_seq;
	out->acked = s->acked;
	out->records = 0;
	for (size_t i = 0; i < s->nsegs; i++)
		out->records += seg_unacked(&s->segs[i], s->acked);
	pthread_mutex_unlock(&s->lock);
}

void kt_spool_close(struct kt_spool *s)
{
	if (!s)
		return;
	kt_spool_sync(s);
	for (size_t i = 0; i < s->nsegs; i++)
		if (s->segs[i].fd >= 0)
			close(s->segs[i].fd);
	close(s->dirfd);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->sync_lock);
	free(s->segs);
	free(s->dir);
	free(s);
}

/* ---- open */

static bool seg_file_name(const char *name, uint64_t *seq)
{
	if (strlen(name) != SEG_NAME_LEN || strcmp(name + SEG_HEX, SEG_SUFFIX) != 0)
		return false;
	uint64_t v = 0;
	for (int i = 0; i < SEG_HEX; i++) {
		char c = name[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*seq = v;
	return true;
}

static uint64_t read_ack(struct kt_spool *s)
{
	size_t len;
	const char *why = NULL;
	char *b = kt_read_beneath(s->dirfd, ACK_NAME, ACK_SIZE, &len, &why);
	if (!b) {
		if (why)
			kt_warn("spool: %s/" ACK_NAME ": %s; every record held will be replayed",
				s->dir, why);
		return 0;
	}
	const uint8_t *p = (const uint8_t *)b;
	uint64_t ack = 0;
	if (len == ACK_SIZE && kt_le32(p) == ACK_MAGIC && kt_le32(p + 4) == FORMAT_VERSION &&
	    kt_le32(p + 20) == crc(0, p, 20))
		ack = kt_le64(p + 8);
	else
		kt_warn("spool: %s/" ACK_NAME ": damaged; every record held will be replayed", s->dir);
	free(b);
	return ack;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Segment file names in dir, by sequence number; leftover temporary files deleted. */
static uint64_t *list_segments(struct kt_spool *s, size_t *count)
{
	int fd = fcntl(s->dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	uint64_t *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		uint64_t seq;
		if (strcmp(e->d_name, ACK_TMP) == 0) {
			unlinkat(s->dirfd, ACK_TMP, 0);
			continue;
		}
		if (!seg_file_name(e->d_name, &seq))
			continue; /* not ours: ignored */
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			uint64_t *nv = realloc(v, cap * sizeof(*nv));
			if (!nv) {
				free(v);
				closedir(d);
				return NULL;
			}
			v = nv;
		}
		v[n++] = seq;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_u64);
	*count = n;
	return v ? v : calloc(1, sizeof(*v));
}

/*
 * A damaged file: renamed <name>.corrupt, the valid records before the
 * damage (buf[0..valid)) written back under the old name.
 */
static bool set_aside(struct kt_spool *s, const char *name, const uint8_t *buf, size_t valid,
		      uint64_t records)
{
	char bad[NAME_BUF + sizeof(CORRUPT_SUFFIX)];
	snprintf(bad, sizeof(bad), "%s" CORRUPT_SUFFIX, name);
	s->st.corrupt_files++;
	s->dir_dirty = true;
	if (renameat(s->dirfd, name, s->dirfd, bad) != 0) {
		kt_err("spool: %s/%s: cannot rename to %s: %s", s->dir, name, bad, strerror(errno));
		return false;
	}
	if (!records)
		return false;
	int fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct iovec v = {.iov_base = (void *)buf, .iov_len = valid};
	int rc = fd < 0 ? -errno : pwrite_all(fd, &v, 1, 0);
	if (rc == 0 && fdatasync(fd) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc) {
		/* a partial copy is a torn tail: the next open cuts it */
		kt_err("spool: %s/%s: cannot keep the records before the damage: %s", s->dir, name,
		       strerror(-rc));
		return false;
	}
	return true;
}

/* Validates one segment file; keeps it (as cut back or set aside) if it holds records. */
static void load_segment(struct kt_spool *s, uint64_t name_seq, uint64_t *prev)
{
	char name[NAME_BUF];
	seg_name(name, name_seq);
	int fd = openat(s->dirfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		kt_err("spool: %s/%s: cannot open: %s; ignored", s->dir, name, strerror(errno));
		return;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		kt_err("spool: %s/%s: not a regular file; ignored", s->dir, name);
		close(fd);
		return;
	}
	if ((uint64_t)st.st_size > KT_SPOOL_SEGMENT_MAX) {
		close(fd);
		kt_err("spool: %s/%s: larger than %" PRIu64 " bytes: renamed %s" CORRUPT_SUFFIX,
		       s->dir, name, KT_SPOOL_SEGMENT_MAX, name);
		set_aside(s, name, NULL, 0, 0);
		return;
	}
	size_t size = (size_t)st.st_size, got = 0;
	uint8_t *buf = malloc(size ? size : 1);
	int rc = buf ? pread_all(fd, buf, size, &got) : -ENOMEM;
	if (rc) {
		kt_err("spool: %s/%s: cannot read: %s; ignored", s->dir, name, strerror(-rc));
		free(buf);
		close(fd);
		return;
	}
	struct kt_spool_parse pr;
	kt_spool_parse_segment(buf, got, *prev, NULL, NULL, &pr);
	if (pr.valid && pr.first_seq != name_seq && pr.stop != KT_SPOOL_BAD_HEADER) {
		pr.stop = KT_SPOOL_BAD_HEADER;
		pr.why = "the header's sequence number is not the file name's";
		pr.valid = 0;
		pr.records = 0;
	}
	struct seg g = {.first_seq = name_seq, .last_seq = pr.last_seq, .records = pr.records,
			.bytes = pr.valid, .fd = -1};
	bool keep = pr.records > 0;
	switch (pr.stop) {
	case KT_SPOOL_END:
		break;
	case KT_SPOOL_TORN:
		s->st.truncated_tails++;
		s->st.truncated_bytes += got - pr.valid;
		kt_warn("spool: %s/%s: torn tail (%s): %zu bytes cut after %" PRIu64 " records",
			s->dir, name, pr.why, got - pr.valid, pr.records);
		if (keep && (ftruncate(fd, (off_t)pr.valid) != 0 || fdatasync(fd) != 0)) {
			kt_err("spool: %s/%s: cannot cut the torn tail: %s; ignored", s->dir, name,
			       strerror(errno));
			keep = false;
		}
		break;
	default:
		kt_err("spool: %s/%s: %s at byte %zu: renamed %s" CORRUPT_SUFFIX
		       "; %" PRIu64 " records before it kept",
		       s->dir, name, pr.why, pr.valid, name, pr.records);
		keep = set_aside(s, name, buf, pr.valid, pr.records);
		break;
	}
	free(buf);
	close(fd);
	if (!keep) {
		if (!pr.records && (pr.stop == KT_SPOOL_END || pr.stop == KT_SPOOL_TORN)) {
			unlinkat(s->dirfd, name, 0); /* no record: nothing to keep */
			s->dir_dirty = true;
		}
		return;
	}
	if (push_seg(s, &g) != 0) {
		kt_err("spool: %s/%s: out of memory; not replayed", s->dir, name);
		return;
	}
	*prev = pr.last_seq;
}

struct kt_spool *kt_spool_open(const struct kt_spool_cfg *cfg, char *err, size_t errlen)
{
	if (!cfg->dir || !cfg->dir[0]) {
		kt_errf(err, errlen, "spool: no directory");
		return NULL;
	}
	if (cfg->max_bytes < 2 * KT_SPOOL_SEGMENT_MIN) {
		kt_errf(err, errlen, "spool: %s: max_bytes %" PRIu64 " below the minimum %" PRIu64,
			cfg->dir, cfg->max_bytes, 2 * KT_SPOOL_SEGMENT_MIN);
		return NULL;
	}
	uint64_t seg = cfg->segment_bytes ? cfg->segment_bytes : KT_SPOOL_SEGMENT_DEFAULT;
	if (seg < KT_SPOOL_SEGMENT_MIN)
		seg = KT_SPOOL_SEGMENT_MIN;
	if (seg > KT_SPOOL_SEGMENT_MAX)
		seg = KT_SPOOL_SEGMENT_MAX;
	if (seg > cfg->max_bytes / 2)
		seg = cfg->max_bytes / 2;

	if (mkdir(cfg->dir, 0700) != 0 && errno != EEXIST) {
		kt_errf(err, errlen, "spool: %s: cannot create: %s", cfg->dir, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (lstat(cfg->dir, &st) != 0) {
		kt_errf(err, errlen, "spool: %s: %s", cfg->dir, strerror(errno));
		return NULL;
	}
	if (S_ISLNK(st.st_mode)) {
		kt_errf(err, errlen, "spool: %s: a symbolic link, not a directory", cfg->dir);
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		kt_errf(err, errlen, "spool: %s: not a directory", cfg->dir);
		return NULL;
	}
	/* O_NOFOLLOW: a link swapped in since the lstat is refused too */
	int dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0) {
		kt_errf(err, errlen, "spool: %s: cannot open: %s", cfg->dir,
			errno == ELOOP ? "a symbolic link" : strerror(errno));
		return NULL;
	}
	struct kt_spool *s = calloc(1, sizeof(*s));
	char *dir = strdup(cfg->dir);
	if (!s || !dir) {
		free(s);
		free(dir);
		close(dirfd);
		kt_errf(err, errlen, "spool: %s: out of memory", cfg->dir);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->sync_lock, NULL);
	s->dir = dir;
	s->dirfd = dirfd;
	s->max_bytes = cfg->max_bytes;
	s->seg_bytes = seg;
	s->acked = s->acked_synced = read_ack(s);

	size_t n = 0;
	uint64_t *names = list_segments(s, &n);
	if (!names) {
		kt_errf(err, errlen, "spool: %s: cannot list: %s", cfg->dir, strerror(errno));
		kt_spool_close(s);
		return NULL;
	}
	uint64_t prev = 0;
	for (size_t i = 0; i < n; i++)
		load_segment(s, names[i], &prev);
	free(names);
	/* after the highest ever seen: a fully acknowledged spool keeps it in the ack file */
	s->next_seq = (prev > s->acked ? prev : s->acked) + 1;
	/* held beyond the bound (max_bytes lowered since): the oldest go now */
	while (s->nsegs && s->bytes > s->max_bytes)
		drop_oldest(s);
	if (s->nsegs || s->st.corrupt_files || s->st.truncated_tails)
		kt_info("spool: %s: %zu segments, %" PRIu64 " bytes, records %" PRIu64 "..%" PRIu64
			" (acknowledged up to %" PRIu64 ")",
			s->dir, s->nsegs, s->bytes, s->nsegs ? s->segs[0].first_seq : 0,
			prev, s->acked);
	return s;
}

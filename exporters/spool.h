/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Disk spool: a bounded, crash-safe FIFO of opaque records in one directory
 * (the format: docs/spool.md).
 *
 * Records go to segment files named by the sequence number of their first
 * record. kt_spool_append() writes (no fsync); kt_spool_sync() makes what
 * was appended and acknowledged durable; the caller calls it in batches.
 * The bytes of all segments never exceed max_bytes: an append that would
 * deletes the oldest segments first, acknowledged or not, and counts what
 * it dropped. A record that cannot be written (a full or read-only disk, an
 * I/O error) is not stored and counted; the next append tries again. The
 * spool never blocks on the disk for longer than the system call at hand
 * and never ends the process.
 *
 * After a clean kt_spool_close() and a reopen, acknowledged records are
 * never replayed; after a crash, the records acknowledged since the last
 * sync may come back (duplicates only after a crash), and those appended
 * since the last sync may be lost. Damage found at open: a torn tail is cut
 * back to the last good record (warning); any other damage makes the rest
 * of the file unusable: the file is renamed <name>.corrupt, the records
 * before the damage are kept in a new file of the old name (error).
 *
 * Threads: every function may be called from any thread; one mutex guards
 * the state. Appends never wait for a sync's fdatasync (it runs on
 * duplicated descriptors outside the mutex), nor for a replay's callback.
 */
#ifndef KT_SPOOL_H
#define KT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define KT_SPOOL_SEGMENT_DEFAULT ((uint64_t)8 << 20)
/* The daemon's --spool-size when not given: about an hour of a busy node's spans. */
#define KT_DEFAULT_SPOOL_SIZE ((uint64_t)1 << 30)
#define KT_SPOOL_SEGMENT_MIN ((uint64_t)4096)
/* Also the largest file open or replay reads into memory at once. */
#define KT_SPOOL_SEGMENT_MAX ((uint64_t)256 << 20)

/* On-disk sizes (docs/spool.md). */
#define KT_SPOOL_SEG_HDR 24u
#define KT_SPOOL_REC_HDR 32u

struct kt_spool_cfg {
	const char *dir;        /* created 0700 if absent; not a symbolic link */
	uint64_t max_bytes;     /* all segment files together; at least 2 * KT_SPOOL_SEGMENT_MIN */
	/*
	 * A segment file's size, header included; 0: KT_SPOOL_SEGMENT_DEFAULT.
	 * Lowered to max_bytes / 2 when larger (so that deleting old
	 * segments always makes room beside the one being written), and
	 * raised to KT_SPOOL_SEGMENT_MIN / lowered to KT_SPOOL_SEGMENT_MAX.
	 */
	uint64_t segment_bytes;
};

struct kt_spool_stats {
	uint64_t bytes;           /* all segment files, headers included */
	uint64_t segments;
	uint64_t records;         /* held and not acknowledged */
	uint64_t next_seq;        /* of the next record appended */
	uint64_t acked;           /* highest sequence number acknowledged */
	uint64_t appended;        /* records stored since open */
	uint64_t appended_bytes;  /* their payload bytes */
	uint64_t write_errors;    /* appends that stored nothing (disk errors) */
	uint64_t sync_errors;     /* syncs that failed */
	int last_errno;           /* of the last write or sync error; 0 none */
	uint64_t dropped_records; /* unacknowledged records deleted to stay within max_bytes */
	uint64_t dropped_bytes;   /* bytes of the segments deleted so */
	/* Every dropped record's sequence number lies in [first, last]; 0 none. */
	uint64_t dropped_first_seq, dropped_last_seq;
	uint64_t corrupt_files;   /* renamed .corrupt */
	uint64_t truncated_tails; /* torn tails cut back */
	uint64_t truncated_bytes;
	uint64_t replayed;        /* records given to replay callbacks */
};

/* A record: return non-zero to stop (kt_spool_replay returns that value). */
typedef int (*kt_spool_record_fn)(void *ctx, uint32_t type, uint64_t seq, const void *p,
				  size_t n);

struct kt_spool;

/*
 * Opens (creating it if absent) the spool in cfg->dir, validating every
 * segment. NULL with a message naming the path in err when the directory
 * cannot be created or opened, is not a directory or is a symbolic link,
 * or the configuration is invalid. Damaged segments do not make it fail.
 */
struct kt_spool *kt_spool_open(const struct kt_spool_cfg *cfg, char *err, size_t errlen);

/*
 * Stores a record of n bytes and the caller's type; *seq (may be NULL) its
 * sequence number. 0, -EMSGSIZE for a record larger than a segment can
 * hold (n > segment_bytes - KT_SPOOL_SEG_HDR - KT_SPOOL_REC_HDR), or -errno
 * when it could not be written (nothing stored, counted in write_errors).
 */
int kt_spool_append(struct kt_spool *s, uint32_t type, const void *p, size_t n, uint64_t *seq);

/*
 * Every record with a sequence number <= seq has been delivered. The
 * segments it empties are deleted by the next kt_spool_sync(), which also
 * persists the acknowledgement.
 */
void kt_spool_ack(struct kt_spool *s, uint64_t seq);

/*
 * Makes durable what changed since the last sync: fdatasync of the
 * segments written, the acknowledged position (written to a temporary
 * file, synced and renamed into place), deletion of the segments it
 * empties, fsync of the directory after files were made or deleted.
 * Nothing when nothing changed. 0 or the first -errno.
 */
int kt_spool_sync(struct kt_spool *s);

/*
 * Calls fn, in order, for every record held whose sequence number is
 * greater than after_seq and than the acknowledged position, reading one
 * segment at a time (memory: one segment). Only the records appended
 * before the call are delivered: those appended later are the caller's,
 * still in memory. fn runs without the spool's mutex held (it may append
 * or ack). Returns 0, fn's non-zero value, or -errno when a segment could
 * not be read. A damaged segment found here (changed since open) is
 * logged and skipped.
 */
int kt_spool_replay(struct kt_spool *s, uint64_t after_seq, kt_spool_record_fn fn, void *ctx);

void kt_spool_stats(const struct kt_spool *s, struct kt_spool_stats *out);

/* Syncs (kt_spool_sync), closes and frees; NULL is allowed. */
void kt_spool_close(struct kt_spool *s);

/* ---- the segment format, over memory (open, replay, the fuzz target) */

enum kt_spool_stop {
	KT_SPOOL_END = 0,    /* every byte belongs to a valid record */
	KT_SPOOL_TORN,       /* the tail is incomplete or torn, nothing valid after it */
	KT_SPOOL_BAD_HEADER, /* the segment header is damaged or of another format */
	KT_SPOOL_BAD_RECORD, /* a damaged record with more data after it */
	KT_SPOOL_SEQ_ORDER,  /* a sequence number not above the one before */
	KT_SPOOL_STOPPED,    /* the callback returned non-zero */
};

struct kt_spool_parse {
	enum kt_spool_stop stop;
	const char *why;    /* what is wrong (static text); NULL at END */
	size_t valid;       /* the valid prefix: header and whole records (0: no valid header) */
	uint64_t records;   /* in the valid prefix */
	uint64_t first_seq; /* the header's (the file name's) */
	uint64_t last_seq;  /* the last valid record's; 0 none */
	int cb_ret;         /* the callback's non-zero value at STOPPED */
};

/*
 * Parses the n bytes of a segment file: records must carry sequence
 * numbers above after_seq, strictly increasing, the first equal to the
 * header's. fn (may be NULL) gets each valid record in order. Pure: no
 * allocation, no I/O.
 */
void kt_spool_parse_segment(const uint8_t *p, size_t n, uint64_t after_seq,
			    kt_spool_record_fn fn, void *ctx, struct kt_spool_parse *out);

/* Encodes a record header for seq, type and payload p[0..n) into hdr. */
void kt_spool_encode_record(uint8_t hdr[KT_SPOOL_REC_HDR], uint32_t type, uint64_t seq,
			    const void *p, uint32_t n);
/* Encodes a segment header for a segment whose first record is first_seq. */
void kt_spool_encode_segment(uint8_t hdr[KT_SPOOL_SEG_HDR], uint64_t first_seq);

#endif

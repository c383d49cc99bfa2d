/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kata 1.x guest journal redirect (VSOCK port 5140): journald's
 * forward-to-syslog datagrams, relayed by socat into one stream with nothing
 * between them. This splitter cuts that stream back into syslog records.
 *
 * A record starts at "<PRI>" (PRI 0..191, no leading zero) followed by an
 * RFC 3164 timestamp ("Mmm dd hh:mm:ss ", what journald writes) or an
 * RFC 5424 header start ("1 " and a timestamp or "-"); the very first bytes
 * of a stream, or the first after kt_journal_flush(), may start with any
 * "<PRI>". A record ends where the next one starts, so the last one is only
 * known complete at kt_journal_flush() (the caller's idle timeout) or at the
 * end of the stream. Heuristics and limits: docs/decoders.md.
 */
#ifndef KT_JOURNAL_STREAM_H
#define KT_JOURNAL_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/mem_budget.h"

#include "model/span.h"

#define KT_JOURNAL_PORT 5140
#define KT_JOURNAL_DEFAULT_MAX_RECORD (16u << 10)
#define KT_JOURNAL_MIN_MAX_RECORD 64

enum kt_journal_form {
	KT_JOURNAL_PLAIN = 0, /* "<PRI>" and text: no header recognised */
	KT_JOURNAL_RFC3164,   /* "<PRI>Mmm dd hh:mm:ss [host ]tag[pid]: text" */
	KT_JOURNAL_RFC5424,   /* "<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [text]" */
};

/*
 * One record. Strings are valid UTF-8 (invalid bytes are replaced by
 * U+FFFD), NUL-terminated, empty when absent, and valid only during the
 * callback (kt_journal_parse: as long as the scratch buffer).
 */
struct kt_journal_record {
	uint8_t facility; /* PRI / 8 */
	uint8_t severity; /* PRI % 8: 0 emerg .. 7 debug */
	enum kt_journal_form form;
	bool has_time;
	uint64_t time_unix_nano; /* RFC 5424: as written, offset applied; RFC 3164: UTC,
				    in the year that puts it closest to now */
	struct kt_str hostname;
	struct kt_str app_name; /* RFC 3164 tag (journald: SYSLOG_IDENTIFIER) */
	struct kt_str proc_id;
	struct kt_str msg_id;	       /* RFC 5424 only */
	struct kt_str structured_data; /* RFC 5424 only, as written ("-": empty) */
	struct kt_str message;	       /* the text after the header, less one trailing newline */
	bool truncated;		       /* longer than max_record: the rest was dropped */
	bool utf8_repaired;	       /* some bytes were not valid UTF-8 */
	uint64_t offset;	       /* stream offset of its '<' */
};

/*
 * Parse one record p[0..n) starting at '<'. scratch must hold 3 * n + 8
 * bytes; the record's strings point into it. Returns 0, or -1 when p does
 * not start with "<PRI>".
 */
int kt_journal_parse(const uint8_t *p, size_t n, uint64_t now_unix_nano, char *scratch,
		     size_t scratch_size, struct kt_journal_record *out);

/* Does p[0..n) start a record? 1 yes, 0 no, -1 cannot tell yet. any_pri: accept any "<PRI>". */
int kt_journal_record_start(const uint8_t *p, size_t n, bool any_pri);

struct kt_journal_ops {
	void (*record)(void *ctx, const struct kt_journal_record *rec);
};

struct kt_journal_stream {
	const struct kt_journal_ops *ops;
	void *ctx;
	size_t max_record;
	uint8_t *buf; /* max_record + 24 bytes: the current record (in_record) or bytes not yet placed */
	size_t have;
	size_t scanned;	 /* no record starts in buf[1..scanned) */
	bool in_record;	 /* buf starts with a record start */
	bool truncating; /* the current record was emitted cut; its rest is dropped */
	bool any_pri;	 /* the next start may be any "<PRI>" (stream start, after a flush) */
	uint64_t offset; /* stream offset of buf[0] */
	char *scratch;
	/* counters */
	uint64_t records;
	uint64_t truncated;	/* records cut at max_record */
	uint64_t skipped_bytes; /* bytes outside any record (before a record start) */
	uint64_t dropped_bytes; /* bytes of cut records beyond max_record */
	/*
	 * Charged for buf and scratch (mem_budget.h); set after init (NULL:
	 * unaccounted). A refused charge drops the bytes being pushed.
	 */
	struct kt_mem_acct *acct;
};

/*
 * max_record: the longest record kept (bytes from '<'); 0: the default; below
 * the minimum it is raised.
 */
void kt_journal_init(struct kt_journal_stream *j, size_t max_record,
		     const struct kt_journal_ops *ops, void *ctx);
/* Stream bytes, in order. now: for RFC 3164 years. */
void kt_journal_push(struct kt_journal_stream *j, const uint8_t *p, size_t n,
		     uint64_t now_unix_nano);
/* No more bytes for a while: the pending record is complete. */
void kt_journal_flush(struct kt_journal_stream *j, uint64_t now_unix_nano);
/* Bytes were lost before the next push: the pending record ends here. */
void kt_journal_gap(struct kt_journal_stream *j, uint64_t now_unix_nano);
/* End of stream: flush; the stream can be reused. */
void kt_journal_finish(struct kt_journal_stream *j, uint64_t now_unix_nano);
/*
 * Memory pressure: the bytes of the pending record are dropped as a gap
 * would end it, but without emitting it, and both buffers are released.
 * Returns the bytes dropped.
 */
uint64_t kt_journal_shed(struct kt_journal_stream *j);
void kt_journal_free(struct kt_journal_stream *j);

#endif

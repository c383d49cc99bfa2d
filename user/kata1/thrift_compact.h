/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Apache Thrift compact protocol: a bounded reader for untrusted bytes, and a
 * resumable scanner that finds where a message ends while its bytes arrive.
 *
 * The reader never reads outside [p, p + n). Every length and count is
 * checked against what is left before anything is read or allocated; nesting
 * is limited to KT_TC_MAX_DEPTH containers. A read past the available bytes
 * is KT_TC_MORE ("need more bytes") as long as the message could still be
 * complete within `cap` bytes, and KT_TC_BAD (malformed) once it could not:
 * a reader over a complete message (cap 0) never says MORE.
 *
 * Failures are sticky: after the first one every read fails at once, and
 * status, msg (and need, for MORE) describe the first.
 *
 * Wire format: docs/decoders.md "Kata 1.x: Jaeger thrift compact".
 */
#ifndef KT_THRIFT_COMPACT_H
#define KT_THRIFT_COMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KT_TC_PROTOCOL_ID 0x82
#define KT_TC_VERSION	  1
#define KT_TC_MAX_DEPTH	  64

/* Compact type ids (field headers; list, set and map element types). */
enum kt_tc_type {
	KT_TC_STOP = 0,
	KT_TC_BOOL_TRUE = 1, /* in a field header: a bool field, true */
	KT_TC_BOOL_FALSE = 2, /* ... false; as an element type either means bool */
	KT_TC_BYTE = 3,
	KT_TC_I16 = 4,
	KT_TC_I32 = 5,
	KT_TC_I64 = 6,
	KT_TC_DOUBLE = 7,
	KT_TC_BINARY = 8, /* binary and string */
	KT_TC_LIST = 9,
	KT_TC_SET = 10,
	KT_TC_MAP = 11,
	KT_TC_STRUCT = 12,
	KT_TC_UUID = 13,
};

enum kt_tc_msg_type {
	KT_TC_CALL = 1,
	KT_TC_REPLY = 2,
	KT_TC_EXCEPTION = 3,
	KT_TC_ONEWAY = 4,
};

enum kt_tc_status {
	KT_TC_OK = 0,
	KT_TC_MORE, /* the input ended early; `need` bytes at least are needed */
	KT_TC_BAD,  /* malformed, or cannot fit in `cap` bytes */
};

struct kt_tc_reader {
	const uint8_t *p;
	size_t n;   /* bytes available */
	size_t cap; /* the most bytes the message may have (>= n) */
	bool growing; /* more bytes may come (cap given), or p[0..n) is all */
	size_t pos;
	unsigned depth; /* containers entered and not left (struct_begin, read_list, read_map) */
	enum kt_tc_status status;
	size_t need; /* KT_TC_MORE: total bytes needed, at least */
	char msg[160];
};

struct kt_tc_msg_header {
	enum kt_tc_msg_type type;
	uint8_t version;
	int32_t seqid;
	const uint8_t *name; /* in the input; not NUL-terminated, not validated */
	size_t name_len;
};

/* A struct being read: the previous field id, base of delta-encoded ids. */
struct kt_tc_struct {
	int16_t last_id;
};

struct kt_tc_field {
	enum kt_tc_type type; /* KT_TC_STOP at the end of the struct */
	int16_t id;
	bool bool_value; /* bool fields: the value (it lives in the header) */
};

struct kt_tc_list {
	enum kt_tc_type elem; /* bool elements are reported as KT_TC_BOOL_TRUE */
	uint32_t size;
};

struct kt_tc_map {
	enum kt_tc_type key, value; /* both KT_TC_STOP when size is 0 */
	uint32_t size;
};

/*
 * cap: the most bytes the message may have, when p[0..n) is what arrived so
 * far (a cap below n is taken as n); 0 when p[0..n) is the whole message.
 */
void kt_tc_reader_init(struct kt_tc_reader *r, const uint8_t *p, size_t n, size_t cap);

/*
 * Every read below returns 0, or -1 with r->status and r->msg set (and
 * returns -1 at once when the reader has already failed).
 */

/* Protocol id 0x82, version 1, a message type 1..4, seqid, name (< 256 bytes). */
int kt_tc_read_message_begin(struct kt_tc_reader *r, struct kt_tc_msg_header *h);

/* Enter a struct: counts towards the depth limit; kt_tc_leave when done. */
int kt_tc_struct_begin(struct kt_tc_reader *r, struct kt_tc_struct *st);
/* Next field header of st; type KT_TC_STOP at its end. */
int kt_tc_read_field(struct kt_tc_reader *r, struct kt_tc_struct *st, struct kt_tc_field *f);
/*
 * List or set header, and entering it (kt_tc_leave when done). The size is
 * checked against the bytes the message may still hold, at min_elem bytes an
 * element (at least 1, the smallest encoding of any element type).
 */
int kt_tc_read_list(struct kt_tc_reader *r, struct kt_tc_list *l, size_t min_elem);
/* Map header, and entering it; the size is checked at 2 bytes an entry. */
int kt_tc_read_map(struct kt_tc_reader *r, struct kt_tc_map *m);
/* Leave the innermost struct, list, set or map. */
void kt_tc_leave(struct kt_tc_reader *r);

int kt_tc_read_bool_elem(struct kt_tc_reader *r, bool *v); /* 1 true; 0 or 2 false */
int kt_tc_read_byte(struct kt_tc_reader *r, int8_t *v);
int kt_tc_read_i16(struct kt_tc_reader *r, int16_t *v);
int kt_tc_read_i32(struct kt_tc_reader *r, int32_t *v);
int kt_tc_read_i64(struct kt_tc_reader *r, int64_t *v);
int kt_tc_read_double(struct kt_tc_reader *r, double *v);
/* Binary or string: points into the input. */
int kt_tc_read_binary(struct kt_tc_reader *r, const uint8_t **p, size_t *len);

/* Skip the value of a field of any type (nested containers included). */
int kt_tc_skip_field(struct kt_tc_reader *r, const struct kt_tc_field *f);

/* Fail with KT_TC_BAD and a message (for schema checks by the caller). */
int kt_tc_fail(struct kt_tc_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "bool", "i64", "list", ...; "type 14" for others (buf holds at least 12 bytes). */
const char *kt_tc_type_name(enum kt_tc_type t, char *buf, size_t size);

/*
 * Resumable scanner: finds the end of one message (header and its argument
 * struct) while the message's bytes arrive. Each call is given the message's
 * bytes so far (the same prefix, grown); scanning resumes where the previous
 * call stopped, so the total cost is linear in the message size however the
 * bytes are cut. Nothing is validated beyond the wire grammar.
 */
struct kt_tc_frame {
	uint8_t kind; /* private */
	uint8_t t1, t2;
	int16_t last_id;
	uint32_t left;
};

struct kt_tc_scan {
	size_t max_len; /* a message longer than this is malformed */
	size_t pos;	/* bytes scanned: always a token boundary */
	size_t need;	/* after KT_TC_MORE: no progress before this many bytes */
	bool header_done;
	unsigned depth;
	struct kt_tc_frame stack[KT_TC_MAX_DEPTH];
	char msg[160]; /* after KT_TC_BAD */
};

void kt_tc_scan_init(struct kt_tc_scan *s, size_t max_len);
/*
 * p[0..n): the message's bytes so far. KT_TC_OK with *end = its length (it
 * may be followed by other bytes in p), KT_TC_MORE, or KT_TC_BAD with s->msg.
 * After OK or BAD, kt_tc_scan_init before the next message.
 */
enum kt_tc_status kt_tc_scan_message(struct kt_tc_scan *s, const uint8_t *p, size_t n,
				     size_t *end);

#endif

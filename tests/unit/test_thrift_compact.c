/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Thrift compact protocol reader and message scanner: value encodings at
 * their limits, "need more bytes" versus "malformed", skipping, the depth
 * limit, and the scanner fed in every way against the whole message.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expect_span.h"
#include "tc_writer.h"
#include "kata1/thrift_compact.h"

enum { T_BOOL = 1, T_BYTE = 3, T_I16 = 4, T_I32 = 5, T_I64 = 6, T_DOUBLE = 7, T_BIN = 8,
       T_LIST = 9, T_SET = 10, T_MAP = 11, T_STRUCT = 12, T_UUID = 13 };

static void reader(struct kt_tc_reader *r, const struct tcw *w)
{
	kt_tc_reader_init(r, w->p, w->n, 0);
}

Test(thrift_compact, integers_at_their_limits)
{
	static const int64_t i64s[] = {0, 1, -1, 63, -64, 64, INT32_MAX, INT32_MIN, INT64_MAX,
				       INT64_MIN};
	static const int32_t i32s[] = {0, -1, 1, INT32_MAX, INT32_MIN, 300, -300};
	static const int16_t i16s[] = {0, -1, INT16_MAX, INT16_MIN};
	struct tcw w;
	struct kt_tc_reader r;
	tcw_init(&w);
	for (size_t i = 0; i < sizeof(i64s) / sizeof(i64s[0]); i++)
		tcw_i64(&w, i64s[i]);
	for (size_t i = 0; i < sizeof(i32s) / sizeof(i32s[0]); i++)
		tcw_i32(&w, i32s[i]);
	for (size_t i = 0; i < sizeof(i16s) / sizeof(i16s[0]); i++)
		tcw_i32(&w, i16s[i]);
	tcw_byte(&w, 0x80);
	reader(&r, &w);
	for (size_t i = 0; i < sizeof(i64s) / sizeof(i64s[0]); i++) {
		int64_t v;
		cr_assert_eq(kt_tc_read_i64(&r, &v), 0, "%s", r.msg);
		cr_expect_eq(v, i64s[i]);
	}
	for (size_t i = 0; i < sizeof(i32s) / sizeof(i32s[0]); i++) {
		int32_t v;
		cr_assert_eq(kt_tc_read_i32(&r, &v), 0, "%s", r.msg);
		cr_expect_eq(v, i32s[i]);
	}
	for (size_t i = 0; i < sizeof(i16s) / sizeof(i16s[0]); i++) {
		int16_t v;
		cr_assert_eq(kt_tc_read_i16(&r, &v), 0, "%s", r.msg);
		cr_expect_eq(v, i16s[i]);
	}
	int8_t b;
	cr_assert_eq(kt_tc_read_byte(&r, &b), 0);
	cr_expect_eq(b, -128);
	cr_expect_eq(r.pos, w.n);
	tcw_free(&w);

	/* i16 out of range; i32 beyond 32 bits; varints too long. */
	static const struct {
		const char *bytes;
		size_t n;
		int width;
		const char *needle;
	} bad[] = {
		{"\x80\x80\x04", 3, 16, "out of range: 32768"},
		{"\xff\xff\xff\xff\x1f", 5, 32, "overflows 32 bits"},
		{"\x80\x80\x80\x80\x80\x01", 6, 32, "longer than 5 bytes"},
		{"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x03", 10, 64, "overflows 64 bits"},
		{"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11, 64, "longer than 10 bytes"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int16_t v16;
		int32_t v32;
		int64_t v64;
		kt_tc_reader_init(&r, (const uint8_t *)bad[i].bytes, bad[i].n, 0);
		int rc = bad[i].width == 16   ? kt_tc_read_i16(&r, &v16)
			 : bad[i].width == 32 ? kt_tc_read_i32(&r, &v32)
					      : kt_tc_read_i64(&r, &v64);
		cr_expect_eq(rc, -1, "case %zu", i);
		cr_expect_eq(r.status, KT_TC_BAD);
		cr_expect(strstr(r.msg, bad[i].needle), "case %zu: %s", i, r.msg);
	}
	/* The largest 10-byte varint is accepted. */
	int64_t v;
	kt_tc_reader_init(&r, (const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, 0);
	cr_expect_eq(kt_tc_read_i64(&r, &v), 0);
	cr_expect_eq(v, INT64_MIN);
}

Test(thrift_compact, doubles_little_endian)
{
	static const double ds[] = {0.5, -0.0, INFINITY, -INFINITY, 1e308, 5e-324};
	struct tcw w;
	struct kt_tc_reader r;
	tcw_init(&w);
	for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++)
		tcw_double(&w, ds[i]);
	tcw_bytes(&w, "\x01\x00\x00\x00\x00\x00\xf8\x7f", 8); /* NaN with a payload */
	cr_expect(memcmp(w.p, "\x00\x00\x00\x00\x00\x00\xe0\x3f", 8) == 0);
	reader(&r, &w);
	for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
		double d;
		cr_assert_eq(kt_tc_read_double(&r, &d), 0);
		cr_expect(memcmp(&d, &ds[i], 8) == 0, "double %zu", i);
	}
	double nan;
	uint64_t bits;
	cr_assert_eq(kt_tc_read_double(&r, &nan), 0);
	memcpy(&bits, &nan, 8);
	cr_expect_eq(bits, 0x7ff8000000000001ull);
	tcw_free(&w);
}

Test(thrift_compact, containers_and_fields)
{
	struct tcw w;
	struct kt_tc_reader r;
	struct kt_tc_list l;
	struct kt_tc_map m;
	struct kt_tc_struct st;
	struct kt_tc_field f;
	tcw_init(&w);
	tcw_list(&w, T_I32, 14);
	for (int i = 0; i < 14; i++)
		tcw_i32(&w, i);
	tcw_list(&w, T_BIN, 15);
	for (int i = 0; i < 15; i++)
		tcw_str(&w, "s");
	tcw_list(&w, 2, 2); /* bools, element type written as 2 */
	tcw_byte(&w, 1);
	tcw_byte(&w, 0);
	tcw_map(&w, 0, 0, 0);
	tcw_map(&w, T_BIN, T_DOUBLE, 1);
	tcw_str(&w, "k");
	tcw_double(&w, 2.0);
	tcw_struct(&w);
	tcw_field(&w, 1, T_I32);
	tcw_i32(&w, 5);
	tcw_bool_field(&w, 16, true); /* delta 15 */
	tcw_bool_field(&w, 40, false); /* long form */
	tcw_field_long(&w, -7, T_BIN);
	tcw_str(&w, "neg");
	tcw_field(&w, 1, T_I64); /* delta 8 from -7 */
	tcw_i64(&w, 9);
	tcw_stop(&w);
	reader(&r, &w);

	cr_assert_eq(kt_tc_read_list(&r, &l, 1), 0, "%s", r.msg);
	cr_expect(l.elem == KT_TC_I32 && l.size == 14);
	for (int i = 0; i < 14; i++) {
		int32_t v;
		cr_assert_eq(kt_tc_read_i32(&r, &v), 0);
		cr_expect_eq(v, i);
	}
	kt_tc_leave(&r);
	cr_assert_eq(kt_tc_read_list(&r, &l, 1), 0);
	cr_expect(l.elem == KT_TC_BINARY && l.size == 15);
	for (int i = 0; i < 15; i++) {
		const uint8_t *p;
		size_t n;
		cr_assert_eq(kt_tc_read_binary(&r, &p, &n), 0);
		cr_expect(n == 1 && p[0] == 's');
	}
	kt_tc_leave(&r);
	cr_assert_eq(kt_tc_read_list(&r, &l, 1), 0);
	cr_expect(l.elem == KT_TC_BOOL_TRUE && l.size == 2);
	bool b1, b2;
	cr_assert_eq(kt_tc_read_bool_elem(&r, &b1), 0);
	cr_assert_eq(kt_tc_read_bool_elem(&r, &b2), 0);
	cr_expect(b1 && !b2);
	kt_tc_leave(&r);
	cr_assert_eq(kt_tc_read_map(&r, &m), 0);
	cr_expect(m.size == 0 && m.key == KT_TC_STOP);
	kt_tc_leave(&r);
	cr_assert_eq(kt_tc_read_map(&r, &m), 0);
	cr_expect(m.size == 1 && m.key == KT_TC_BINARY && m.value == KT_TC_DOUBLE);
	const uint8_t *p;
	size_t n;
	double d;
	cr_assert_eq(kt_tc_read_binary(&r, &p, &n), 0);
	cr_assert_eq(kt_tc_read_double(&r, &d), 0);
	cr_expect_eq(d, 2.0);
	kt_tc_leave(&r);
	cr_expect_eq(r.depth, 0);

	cr_assert_eq(kt_tc_struct_begin(&r, &st), 0);
	static const struct {
		int16_t id;
		enum kt_tc_type type;
		bool b;
	} want[] = {{1, KT_TC_I32, false},
		    {16, KT_TC_BOOL_TRUE, true},
		    {40, KT_TC_BOOL_FALSE, false},
		    {-7, KT_TC_BINARY, false},
		    {1, KT_TC_I64, false}};
	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(kt_tc_read_field(&r, &st, &f), 0, "%s", r.msg);
		cr_expect(f.id == want[i].id && f.type == want[i].type && f.bool_value == want[i].b,
			  "field %zu: id %d type %d", i, f.id, f.type);
		cr_assert_eq(kt_tc_skip_field(&r, &f), 0);
	}
	cr_assert_eq(kt_tc_read_field(&r, &st, &f), 0);
	cr_expect_eq(f.type, KT_TC_STOP);
	kt_tc_leave(&r);
	cr_expect_eq(r.pos, w.n);
	tcw_free(&w);
}

Test(thrift_compact, more_versus_bad)
{
	struct kt_tc_reader r;
	int64_t v;
	const uint8_t *p;
	size_t n;
	/* A varint cut short: MORE while a cap leaves room, BAD over a whole message. */
	kt_tc_reader_init(&r, (const uint8_t *)"\x80\x80", 2, 100);
	cr_expect_eq(kt_tc_read_i64(&r, &v), -1);
	cr_expect_eq(r.status, KT_TC_MORE);
	cr_expect_eq(r.need, 3);
	cr_expect_eq(kt_tc_read_i64(&r, &v), -1, "failures are sticky");
	kt_tc_reader_init(&r, (const uint8_t *)"\x80\x80", 2, 0);
	cr_expect_eq(kt_tc_read_i64(&r, &v), -1);
	cr_expect_eq(r.status, KT_TC_BAD);
	cr_expect(strstr(r.msg, "truncated"), "%s", r.msg);
	kt_tc_reader_init(&r, (const uint8_t *)"\x80\x80", 2, 2);
	cr_expect_eq(kt_tc_read_i64(&r, &v), -1);
	cr_expect_eq(r.status, KT_TC_BAD);
	cr_expect(strstr(r.msg, "past the message size limit of 2 bytes"), "%s", r.msg);

	/* A string: MORE with the exact need; BAD when its length passes the cap. */
	kt_tc_reader_init(&r, (const uint8_t *)"\x0a" "abc", 4, 100);
	cr_expect_eq(kt_tc_read_binary(&r, &p, &n), -1);
	cr_expect_eq(r.status, KT_TC_MORE);
	cr_expect_eq(r.need, 11);
	kt_tc_reader_init(&r, (const uint8_t *)"\x0a" "abc", 4, 10);
	cr_expect_eq(kt_tc_read_binary(&r, &p, &n), -1);
	cr_expect_eq(r.status, KT_TC_BAD);
	cr_expect(strstr(r.msg, "binary length 10 at offset 0: past the message size limit"),
		  "%s", r.msg);
	kt_tc_reader_init(&r, (const uint8_t *)"\x80\x80\x80\x80\x08", 5, 100);
	cr_expect_eq(kt_tc_read_binary(&r, &p, &n), -1);
	cr_expect(strstr(r.msg, "negative as an i32"), "%s", r.msg);

	/* A list whose elements cannot fit in the cap is BAD at once. */
	struct kt_tc_list l;
	kt_tc_reader_init(&r, (const uint8_t *)"\xf7\x0a", 2, 79);
	cr_expect_eq(kt_tc_read_list(&r, &l, 1), -1);
	cr_expect_eq(r.status, KT_TC_BAD, "10 doubles need 80 bytes");
	kt_tc_reader_init(&r, (const uint8_t *)"\xf7\x0a", 2, 82);
	cr_expect_eq(kt_tc_read_list(&r, &l, 1), 0);
	kt_tc_reader_init(&r, (const uint8_t *)"\x3c", 1, 10);
	cr_expect_eq(kt_tc_read_list(&r, &l, 4), -1, "3 structs of 4 bytes");

	/* Element and field types out of range; bool elements; NULL input. */
	kt_tc_reader_init(&r, (const uint8_t *)"\x1e", 1, 0);
	cr_expect_eq(kt_tc_read_list(&r, &l, 1), -1);
	cr_expect(strstr(r.msg, "invalid element type 14"), "%s", r.msg);
	kt_tc_reader_init(&r, (const uint8_t *)"\x02\x00", 2, 0);
	struct kt_tc_map m;
	cr_expect_eq(kt_tc_read_map(&r, &m), -1);
	bool bv;
	kt_tc_reader_init(&r, (const uint8_t *)"\x03", 1, 0);
	cr_expect_eq(kt_tc_read_bool_elem(&r, &bv), -1);
	kt_tc_reader_init(&r, NULL, 5, 0);
	cr_expect_eq(kt_tc_read_i64(&r, &v), -1);
	cr_expect_eq(r.status, KT_TC_BAD);
}

Test(thrift_compact, message_header)
{
	struct tcw w;
	struct kt_tc_reader r;
	struct kt_tc_msg_header h;
	tcw_init(&w);
	tcw_header(&w, 4, 0xffffffffu, "emitBatch");
	reader(&r, &w);
	cr_assert_eq(kt_tc_read_message_begin(&r, &h), 0, "%s", r.msg);
	cr_expect_eq(h.type, KT_TC_ONEWAY);
	cr_expect_eq(h.version, 1);
	cr_expect_eq(h.seqid, -1);
	cr_expect(h.name_len == 9 && memcmp(h.name, "emitBatch", 9) == 0);
	for (size_t k = 0; k < w.n; k++) {
		kt_tc_reader_init(&r, w.p, k, 1000);
		cr_expect_eq(kt_tc_read_message_begin(&r, &h), -1);
		cr_expect_eq(r.status, KT_TC_MORE, "prefix %zu: %s", k, r.msg);
	}
	tcw_free(&w);
}

Test(thrift_compact, method_name_of_255_bytes)
{
	/* A method name may have 255 bytes; 256 make the header malformed. */
	char name[257];
	for (size_t len = 255; len <= 256; len++) {
		memset(name, 'm', len);
		name[len] = '\0';
		struct tcw w;
		struct kt_tc_reader r;
		struct kt_tc_msg_header h;
		tcw_init(&w);
		tcw_header(&w, 1, 1, name);
		reader(&r, &w);
		if (len == 255) {
			cr_assert_eq(kt_tc_read_message_begin(&r, &h), 0, "%s", r.msg);
			cr_expect_eq(h.name_len, 255);
			cr_expect_eq(r.pos, w.n);
		} else {
			cr_expect_eq(kt_tc_read_message_begin(&r, &h), -1);
			cr_expect_eq(r.status, KT_TC_BAD);
			cr_expect(strstr(r.msg, "method name of 256 bytes"), "%s", r.msg);
		}
		tcw_free(&w);
	}
}

/* A list nested `depth` deep (innermost empty), as the value of field 1. */
static void nested(struct tcw *w, int depth, uint8_t kind)
{
	tcw_struct(w);
	tcw_field(w, 1, kind == T_STRUCT ? T_STRUCT : T_LIST);
	for (int i = 1; i < depth; i++) {
		if (kind == T_STRUCT) {
			tcw_struct(w);
			tcw_field(w, 1, T_STRUCT);
		} else {
			tcw_list(w, T_LIST, 1);
		}
	}
	if (kind == T_STRUCT) {
		for (int i = 0; i < depth; i++)
			tcw_stop(w);
	} else {
		tcw_list(w, T_I32, 0);
	}
	tcw_stop(w);
}

Test(thrift_compact, depth_limit)
{
	static const uint8_t kinds[] = {T_LIST, T_STRUCT};
	for (size_t k = 0; k < 2; k++) {
		for (int depth = 60; depth <= 70; depth++) {
			struct tcw w;
			struct kt_tc_reader r;
			struct kt_tc_struct st;
			struct kt_tc_field f;
			tcw_init(&w);
			nested(&w, depth, kinds[k]);
			reader(&r, &w);
			/*
			 * Open containers count: the outer struct, every struct,
			 * every non-empty list (the innermost list is empty).
			 */
			cr_assert_eq(kt_tc_struct_begin(&r, &st), 0);
			cr_assert_eq(kt_tc_read_field(&r, &st, &f), 0);
			int rc = kt_tc_skip_field(&r, &f);
			int open = 1 + (kinds[k] == T_STRUCT ? depth : depth - 1);
			bool fits = open <= KT_TC_MAX_DEPTH;
			cr_expect_eq(rc, fits ? 0 : -1, "kind %u depth %d: %s", kinds[k], depth, r.msg);
			if (!fits)
				cr_expect(strstr(r.msg, "nesting deeper than 64"), "%s", r.msg);
			tcw_free(&w);
		}
	}
	/* kt_tc_struct_begin counts too. */
	struct kt_tc_reader r;
	struct kt_tc_struct st;
	kt_tc_reader_init(&r, (const uint8_t *)"", 0, 0);
	for (int i = 0; i < KT_TC_MAX_DEPTH; i++)
		cr_assert_eq(kt_tc_struct_begin(&r, &st), 0);
	cr_expect_eq(kt_tc_struct_begin(&r, &st), -1);
}

Test(thrift_compact, type_names)
{
	char buf[16];
	cr_expect_str_eq(kt_tc_type_name(KT_TC_BOOL_FALSE, buf, sizeof(buf)), "bool");
	cr_expect_str_eq(kt_tc_type_name(KT_TC_UUID, buf, sizeof(buf)), "uuid");
	cr_expect_str_eq(kt_tc_type_name((enum kt_tc_type)15, buf, sizeof(buf)), "type 15");
}

/* ------------------------------------------------------------ scanner */

static enum kt_tc_status scan_chunks(const uint8_t *p, size_t n, size_t chunk, size_t max,
				     size_t *end, struct kt_tc_scan *s)
{
	enum kt_tc_status st = KT_TC_MORE;
	kt_tc_scan_init(s, max);
	for (size_t have = chunk < n ? chunk : n;; have = have + chunk < n ? have + chunk : n) {
		st = kt_tc_scan_message(s, p, have, end);
		if (st != KT_TC_MORE || have == n)
			return st;
	}
}

Test(thrift_compact, scanner_on_the_vectors)
{
	size_t n;
	uint8_t *p = kt_test_read_vector("jaeger_vsock_stream.bin", &n);
	size_t n1 = 355;
	for (size_t chunk = 1; chunk <= n; chunk++) {
		struct kt_tc_scan s;
		size_t end = 0;
		cr_expect_eq(scan_chunks(p, n, chunk, 65536, &end, &s), KT_TC_OK, "chunk %zu: %s",
			     chunk, s.msg);
		cr_expect_eq(end, n1, "chunk %zu", chunk);
		cr_expect_eq(scan_chunks(p + n1, n - n1, chunk, 65536, &end, &s), KT_TC_OK);
		cr_expect_eq(end, n - n1);
	}
	/* Every prefix needs more; with a cap at the prefix, it is malformed. */
	for (size_t k = 1; k < n1; k++) {
		struct kt_tc_scan s;
		size_t end;
		kt_tc_scan_init(&s, 65536);
		cr_expect_eq(kt_tc_scan_message(&s, p, k, &end), KT_TC_MORE, "prefix %zu", k);
		cr_expect_gt(s.need, k);
		kt_tc_scan_init(&s, k);
		cr_expect_eq(kt_tc_scan_message(&s, p, k, &end), KT_TC_BAD, "cap %zu", k);
		cr_expect(strstr(s.msg, "past the message size limit"), "cap %zu: %s", k, s.msg);
	}
	free(p);
}

/* The scanner's end is where reading the header and skipping the args struct ends. */
Test(thrift_compact, scanner_agrees_with_skip)
{
	struct tcw w;
	tcw_init(&w);
	tcw_header(&w, 1, 3, "m");
	tcw_struct(&w);
	tcw_field(&w, 1, T_MAP);
	tcw_map(&w, T_STRUCT, T_SET, 2);
	for (int i = 0; i < 2; i++) {
		tcw_struct(&w);
		tcw_field(&w, 2, T_UUID);
		tcw_bytes(&w, "0123456789abcdef", 16);
		tcw_bool_field(&w, 3, i);
		tcw_stop(&w);
		tcw_list(&w, T_BOOL, 2);
		tcw_byte(&w, 2);
		tcw_byte(&w, 1);
	}
	tcw_field(&w, 5, T_LIST);
	tcw_list_long(&w, T_I16, 3);
	tcw_i32(&w, 1);
	tcw_i32(&w, -1);
	tcw_i32(&w, 7);
	tcw_field(&w, 6, T_BYTE);
	tcw_byte(&w, 9);
	tcw_stop(&w);
	size_t msg_len = w.n;
	tcw_bytes(&w, "trailing", 8);

	struct kt_tc_reader r;
	struct kt_tc_msg_header h;
	struct kt_tc_field f = {.type = KT_TC_STRUCT};
	reader(&r, &w);
	cr_assert_eq(kt_tc_read_message_begin(&r, &h), 0);
	cr_assert_eq(kt_tc_skip_field(&r, &f), 0, "%s", r.msg);
	cr_expect_eq(r.pos, msg_len);

	for (size_t chunk = 1; chunk <= w.n; chunk++) {
		struct kt_tc_scan s;
		size_t end;
		cr_expect_eq(scan_chunks(w.p, w.n, chunk, 4096, &end, &s), KT_TC_OK, "%s", s.msg);
		cr_expect_eq(end, msg_len);
	}
	tcw_free(&w);
}

/* Random bytes: scanning in chunks gives the whole-buffer answer, never a crash. */
Test(thrift_compact, scanner_random_input)
{
	uint32_t seed = 12345;
	for (int iter = 0; iter < 3000; iter++) {
		uint8_t buf[96];
		size_t n = 4 + (size_t)(iter % 90);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (uint8_t)(seed >> 16);
		}
		static const uint8_t hdr[] = {0x82, 0x81, 0x01, 0x01, 'm'};
		memcpy(buf, hdr, sizeof(hdr) < n ? sizeof(hdr) : n);
		struct kt_tc_scan whole, parts;
		size_t end_w = 0, end_p = 0;
		kt_tc_scan_init(&whole, 64);
		enum kt_tc_status sw = kt_tc_scan_message(&whole, buf, n, &end_w);
		enum kt_tc_status sp = scan_chunks(buf, n, 1 + (size_t)(iter % 7), 64, &end_p, &parts);
		cr_expect_eq(sw, sp, "iter %d", iter);
		if (sw == KT_TC_OK)
			cr_expect_eq(end_w, end_p);
		if (sw == KT_TC_MORE)
			cr_expect_gt(whole.need, n);
	}
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Thrift compact protocol fuzzer: the message scanner fed the input whole
 * and in generated chunks must agree; where it finds a message, reading the
 * header and skipping the argument struct must end at the same byte; a
 * "need more" answer must name a need beyond the bytes given, and reading
 * more of the same message must never turn an answer around. The reader's
 * primitives run over the input too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "kata1/thrift_compact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum kt_tc_status scan(const uint8_t *p, size_t n, size_t max, uint32_t seed, size_t *end)
{
	struct kt_tc_scan s;
	enum kt_tc_status st = KT_TC_MORE;
	size_t have = 0;
	kt_tc_scan_init(&s, max);
	do {
		seed = seed * 1103515245u + 12345u;
		size_t k = 1 + (seed >> 8) % 32;
		have = n - have < k ? n : have + k;
		st = kt_tc_scan_message(&s, p, have, end);
		CHECK(s.pos <= have);
		if (st != KT_TC_MORE)
			return st;
		CHECK(s.need > have && s.need <= max);
	} while (have < n);
	return st;
}

/* Reads values of input-chosen types until the input ends or fails. */
static void primitives(const uint8_t *p, size_t n)
{
	struct kt_tc_reader r;
	kt_tc_reader_init(&r, p, n, n + (n & 0xff));
	while (r.status == KT_TC_OK && r.pos < n) {
		uint8_t op = p[r.pos++];
		struct kt_tc_field f = {.type = (enum kt_tc_type)(op & 0x0f)};
		struct kt_tc_struct st;
		struct kt_tc_list l;
		struct kt_tc_map m;
		const uint8_t *b;
		size_t len;
		double d;
		int64_t v64;
		int32_t v32;
		int16_t v16;
		int8_t v8;
		bool v;
		size_t before = r.pos;
		int rc;
		switch (op >> 4) {
		case 0:
			rc = kt_tc_read_i64(&r, &v64);
			break;
		case 1:
			rc = kt_tc_read_i32(&r, &v32);
			break;
		case 2:
			rc = kt_tc_read_i16(&r, &v16);
			break;
		case 3:
			rc = kt_tc_read_byte(&r, &v8);
			break;
		case 4:
			rc = kt_tc_read_double(&r, &d);
			break;
		case 5:
			rc = kt_tc_read_binary(&r, &b, &len);
			if (!rc)
				CHECK(b >= p && b + len <= p + n);
			break;
		case 6:
			rc = kt_tc_read_bool_elem(&r, &v);
			break;
		case 7:
			rc = kt_tc_read_list(&r, &l, 1 + (op & 7));
			if (!rc)
				kt_tc_leave(&r);
			break;
		case 8:
			rc = kt_tc_read_map(&r, &m);
			if (!rc)
				kt_tc_leave(&r);
			break;
		case 9:
			rc = kt_tc_struct_begin(&r, &st);
			if (!rc) {
				struct kt_tc_field g;
				rc = kt_tc_read_field(&r, &st, &g);
				if (!rc && g.type != KT_TC_STOP)
					rc = kt_tc_skip_field(&r, &g);
				kt_tc_leave(&r);
			}
			break;
		default:
			if (f.type == KT_TC_STOP)
				f.type = KT_TC_STRUCT;
			rc = kt_tc_skip_field(&r, &f);
			break;
		}
		CHECK(r.pos <= n);
		CHECK(r.depth == 0);
		if (rc) {
			CHECK(r.status != KT_TC_OK && r.msg[0]);
			if (r.status == KT_TC_MORE)
				CHECK(r.need > n && r.need <= r.cap);
		} else {
			CHECK(r.pos >= before);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = 2166136261u;
	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;

	static const size_t maxes[] = {1, 16, 300, 65536};
	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		struct kt_tc_scan whole;
		size_t end_w = 0, end_p = 0;
		kt_tc_scan_init(&whole, maxes[m]);
		enum kt_tc_status sw = kt_tc_scan_message(&whole, data, size, &end_w);
		enum kt_tc_status sp = scan(data, size, maxes[m], seed, &end_p);
		CHECK(sw == sp);
		if (sw == KT_TC_OK) {
			CHECK(end_w == end_p && end_w <= size && end_w <= maxes[m]);
			/* The reader over exactly the message agrees. */
			struct kt_tc_reader r;
			struct kt_tc_msg_header h;
			struct kt_tc_field f = {.type = KT_TC_STRUCT};
			kt_tc_reader_init(&r, data, end_w, 0);
			CHECK(kt_tc_read_message_begin(&r, &h) == 0);
			CHECK(kt_tc_skip_field(&r, &f) == 0);
			CHECK(r.pos == end_w);
		}
		if (sw == KT_TC_MORE)
			CHECK(whole.need > size);
		if (sw == KT_TC_BAD)
			CHECK(whole.msg[0] != '\0');
	}
	primitives(data, size);
	return 0;
}

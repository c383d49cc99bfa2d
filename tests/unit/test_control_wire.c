/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket's wire (user/control/control_wire.c): frames written
 * by hand from the protobuf encoding rules (a 4-byte big-endian length,
 * then the packed Message) read whole, split at every byte boundary and
 * back to back; the limit KT_CONTROL_MSG_MAX at its exact boundary on both
 * sides; lengths beyond it, bytes that do not unpack and messages without a
 * body as errors; kt_ctl_send / kt_ctl_send_now / kt_ctl_recv over real
 * unix socketpairs: the bytes written, a timeout, the peer closing, a full
 * non-blocking socket.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "control/control_wire.h"

#define BODY(x) KATATRACE__CONTROL__V1__MESSAGE__BODY_##x

/*
 * Hello { target: "pid/123", probes: ["bpftrace"], service_name: "svc",
 * resource: [{ key: "k", value: { string_value: "v" } }] } as a frame,
 * encoded by hand:
 *   Hello    0a 07 "pid/123"   target, field 1
 *            12 08 "bpftrace"  probes, field 2
 *            22 03 "svc"       service_name, field 4
 *            2a 08 (0a 01 "k" 12 03 (0a 01 "v"))  resource, field 5
 *   Message  0a 22 Hello       hello, field 1, 34 bytes
 */
#define HELLO_FRAME                                                                       \
	"\x00\x00\x00\x24" /* 36 bytes follow */                                               \
	"\x0a\x22"	   /* Message.hello */                                                     \
	"\x0a\x07" "pid/123" "\x12\x08" "bpftrace" "\x22\x03" "svc"                                \
	"\x2a\x08" "\x0a\x01" "k" "\x12\x03" "\x0a\x01" "v"
static const uint8_t *const hello_frame = (const uint8_t *)HELLO_FRAME;
#define HELLO_LEN (sizeof(HELLO_FRAME) - 1)
_Static_assert(HELLO_LEN == 4 + 36, "the frame is as long as it says");

/* Message { stop_probe: { probe_id: 7 } }: 32 02 (08 07). */
static const uint8_t stop_probe_7_frame[] = { 0x00, 0x00, 0x00, 0x04, 0x32, 0x02, 0x08, 0x07 };

static void expect_bin(ProtobufCBinaryData b, const char *s)
{
	cr_expect_eq(b.len, strlen(s), "length %zu, expected %zu", b.len, strlen(s));
	if (b.len == strlen(s))
		cr_expect(memcmp(b.data, s, b.len) == 0, "bytes differ from \"%s\"", s);
}

/* The fields of hello_frame, checked one by one. */
static void expect_the_hello(const kt_ctl_msg *m)
{
	cr_assert_eq(m->body_case, BODY(HELLO));
	const Katatrace__Control__V1__Hello *h = m->hello;
	cr_expect_str_eq(h->target, "pid/123");
	cr_assert_eq(h->n_probes, 1);
	cr_expect_str_eq(h->probes[0], "bpftrace");
	cr_expect_str_eq(h->sandbox_id, "");
	cr_expect_str_eq(h->service_name, "svc");
	cr_assert_eq(h->n_resource, 1);
	expect_bin(h->resource[0]->key, "k");
	cr_assert_not_null(h->resource[0]->value);
	cr_assert_eq(h->resource[0]->value->value_case,
		     OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
	expect_bin(h->resource[0]->value->string_value, "v");
}

/* The same Hello as protobuf-c structs, for the sending side. */
struct hello_msg {
	Katatrace__Control__V1__Hello h;
	Opentelemetry__Proto__Common__V1__KeyValue kv, *kvp;
	Opentelemetry__Proto__Common__V1__AnyValue v;
	char *probes[1];
	kt_ctl_msg m;
};

static void hello_msg_init(struct hello_msg *x)
{
	katatrace__control__v1__hello__init(&x->h);
	opentelemetry__proto__common__v1__key_value__init(&x->kv);
	opentelemetry__proto__common__v1__any_value__init(&x->v);
	x->v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	x->v.string_value = (ProtobufCBinaryData){ 1, (uint8_t *)"v" };
	x->kv.key = (ProtobufCBinaryData){ 1, (uint8_t *)"k" };
	x->kv.value = &x->v;
	x->kvp = &x->kv;
	x->probes[0] = "bpftrace";
	x->h.target = "pid/123";
	x->h.n_probes = 1;
	x->h.probes = x->probes;
	x->h.service_name = "svc";
	x->h.n_resource = 1;
	x->h.resource = &x->kvp;
	katatrace__control__v1__message__init(&x->m);
	x->m.body_case = BODY(HELLO);
	x->m.hello = &x->h;
}

/* Message { error: { message: n bytes of 'e' } }: the frame's size is chosen through n. */
struct error_msg {
	Katatrace__Control__V1__Error e;
	kt_ctl_msg m;
	char *text;
};

static void error_msg_init(struct error_msg *x, size_t n)
{
	x->text = malloc(n + 1);
	cr_assert_not_null(x->text);
	memset(x->text, 'e', n);
	x->text[n] = '\0';
	katatrace__control__v1__error__init(&x->e);
	x->e.message = x->text;
	katatrace__control__v1__message__init(&x->m);
	x->m.body_case = BODY(ERROR);
	x->m.error = &x->e;
}

/*
 * An Error message of n >= 2^21 bytes of text packs to n + 10 bytes:
 * Message 4a, a 4-byte varint of the Error's length, Error 0a, a 4-byte
 * varint of n, the n bytes.
 */
#define ERROR_TEXT_FOR(packed) ((packed)-10)

/* ------------------------------------------------------------ the reader */

Test(control_wire, a_whole_frame_is_one_message)
{
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	cr_assert_eq(kt_ctl_reader_feed(&r, hello_frame, HELLO_LEN), 0);
	cr_assert_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), 1, "%s", err);
	expect_the_hello(m);
	cr_expect_eq(kt_ctl_reader_pending(&r), 0);
	cr_expect_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), 0);
	kt_ctl_reader_free(&r);
}

Test(control_wire, a_frame_split_at_every_byte_boundary_comes_out_whole_and_equal)
{
	for (size_t cut = 0; cut <= HELLO_LEN; cut++) {
		struct kt_ctl_reader r;
		kt_ctl_reader_init(&r);
		char err[160] = "";
		kt_ctl_msg *m = NULL;
		cr_assert_eq(kt_ctl_reader_feed(&r, hello_frame, cut), 0);
		if (cut < HELLO_LEN) {
			cr_assert_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), 0,
				     "a message out of %zu of %zu bytes", cut, HELLO_LEN);
			cr_expect_eq(kt_ctl_reader_pending(&r), cut);
		}
		cr_assert_eq(kt_ctl_reader_feed(&r, hello_frame + cut, HELLO_LEN - cut), 0);
		cr_assert_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), 1, "cut at %zu: %s", cut,
			     err);
		expect_the_hello(m);
		cr_expect_eq(kt_ctl_reader_pending(&r), 0);
		kt_ctl_reader_free(&r);
	}
}

Test(control_wire, a_frame_fed_byte_by_byte_is_one_message_at_its_last_byte)
{
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	for (size_t i = 0; i < HELLO_LEN; i++) {
		cr_assert_eq(kt_ctl_reader_feed(&r, hello_frame + i, 1), 0);
		int want = i + 1 == HELLO_LEN;
		cr_assert_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), want, "at byte %zu", i);
	}
	expect_the_hello(m);
	kt_ctl_reader_free(&r);
}

Test(control_wire, two_frames_back_to_back_are_two_messages_in_order)
{
	uint8_t both[HELLO_LEN + sizeof(stop_probe_7_frame)];
	memcpy(both, hello_frame, HELLO_LEN);
	memcpy(both + HELLO_LEN, stop_probe_7_frame, sizeof(stop_probe_7_frame));
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	cr_assert_eq(kt_ctl_reader_feed(&r, both, sizeof(both)), 0);
	cr_assert_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), 1, "%s", err);
	expect_the_hello(m);
	cr_expect_eq(kt_ctl_reader_pending(&r), sizeof(stop_probe_7_frame));
	cr_assert_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(m->body_case, BODY(STOP_PROBE));
	cr_expect_eq(m->stop_probe->probe_id, 7);
	cr_expect_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), 0);
	cr_expect_eq(kt_ctl_reader_pending(&r), 0);
	kt_ctl_reader_free(&r);
}

Test(control_wire, a_length_above_the_limit_is_an_error_naming_it)
{
	/* 0x00800001 = 8388609, one more than KT_CONTROL_MSG_MAX (8 MiB) */
	static const uint8_t len[] = { 0x00, 0x80, 0x00, 0x01 };
	cr_assert_eq(KT_CONTROL_MSG_MAX, 8388608);
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	cr_assert_eq(kt_ctl_reader_feed(&r, len, sizeof(len)), 0);
	cr_expect_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), -1);
	cr_expect(strstr(err, "8388609") != NULL, "%s", err);
	cr_expect(strstr(err, "8388608") != NULL, "%s", err);
	kt_ctl_reader_free(&r);
}

Test(control_wire, a_length_of_the_limit_is_waited_for)
{
	static const uint8_t len[] = { 0x00, 0x80, 0x00, 0x00 }; /* exactly 8 MiB */
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	cr_assert_eq(kt_ctl_reader_feed(&r, len, sizeof(len)), 0);
	cr_expect_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), 0, "%s", err);
	kt_ctl_reader_free(&r);
}

Test(control_wire, a_message_of_exactly_the_limit_is_read)
{
	struct error_msg x;
	error_msg_init(&x, ERROR_TEXT_FOR(KT_CONTROL_MSG_MAX));
	size_t n = katatrace__control__v1__message__get_packed_size(&x.m);
	cr_assert_eq(n, KT_CONTROL_MSG_MAX);
	uint8_t *frame = malloc(4 + n);
	cr_assert_not_null(frame);
	memcpy(frame, "\x00\x80\x00\x00", 4);
	katatrace__control__v1__message__pack(&x.m, frame + 4);
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	cr_assert_eq(kt_ctl_reader_feed(&r, frame, 4 + n), 0);
	cr_assert_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(m->body_case, BODY(ERROR));
	cr_expect_eq(strlen(m->error->message), ERROR_TEXT_FOR(KT_CONTROL_MSG_MAX));
	kt_ctl_reader_free(&r);
	free(frame);
	free(x.text);
}

Test(control_wire, the_reader_does_not_take_more_than_one_whole_frame)
{
	/* a frame of the limit, then one byte more than it can be */
	static const uint8_t len[] = { 0x00, 0x80, 0x00, 0x00 };
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	uint8_t *body = calloc(1, KT_CONTROL_MSG_MAX + 1);
	cr_assert_not_null(body);
	cr_assert_eq(kt_ctl_reader_feed(&r, len, sizeof(len)), 0);
	errno = 0;
	cr_expect_eq(kt_ctl_reader_feed(&r, body, KT_CONTROL_MSG_MAX + 1), -1);
	cr_expect_eq(errno, EMSGSIZE);
	cr_expect_eq(kt_ctl_reader_pending(&r), sizeof(len));
	free(body);
	kt_ctl_reader_free(&r);
}

Test(control_wire, bytes_that_do_not_unpack_are_an_error)
{
	/* a length of 3, then a field 0 (never valid) */
	static const uint8_t frame[] = { 0x00, 0x00, 0x00, 0x03, 0x00, 0xff, 0xff };
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	cr_assert_eq(kt_ctl_reader_feed(&r, frame, sizeof(frame)), 0);
	cr_expect_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), -1);
	cr_expect(strstr(err, "does not unpack") != NULL, "%s", err);
	kt_ctl_reader_free(&r);
}

Test(control_wire, a_hello_cut_inside_its_fields_does_not_unpack)
{
	/* the Message says 34 bytes of Hello follow, the frame holds 10 */
	uint8_t frame[4 + 12];
	memcpy(frame, hello_frame, sizeof(frame));
	frame[3] = 12;
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	cr_assert_eq(kt_ctl_reader_feed(&r, frame, sizeof(frame)), 0);
	cr_expect_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), -1);
	cr_expect(strstr(err, "does not unpack") != NULL, "%s", err);
	kt_ctl_reader_free(&r);
}

Test(control_wire, a_message_with_no_body_is_an_error)
{
	static const uint8_t empty[] = { 0x00, 0x00, 0x00, 0x00 };
	/* only a field this version does not know: f8 01 01 (field 31, varint 1) */
	static const uint8_t unknown[] = { 0x00, 0x00, 0x00, 0x03, 0xf8, 0x01, 0x01 };
	const uint8_t *frames[] = { empty, unknown };
	size_t sizes[] = { sizeof(empty), sizeof(unknown) };
	for (size_t i = 0; i < 2; i++) {
		struct kt_ctl_reader r;
		kt_ctl_reader_init(&r);
		char err[160] = "";
		kt_ctl_msg *m = NULL;
		cr_assert_eq(kt_ctl_reader_feed(&r, frames[i], sizes[i]), 0);
		cr_expect_eq(kt_ctl_reader_next(&r, &m, err, sizeof(err)), -1, "frame %zu", i);
		cr_expect(strstr(err, "without a body") != NULL, "%s", err);
		kt_ctl_reader_free(&r);
	}
}

Test(control_wire, body_names)
{
	cr_expect_str_eq(kt_ctl_body_name(BODY(HELLO)), "hello");
	cr_expect_str_eq(kt_ctl_body_name(BODY(RECORDS)), "records");
	cr_expect_str_eq(kt_ctl_body_name(BODY(ERROR)), "error");
	cr_expect_str_eq(kt_ctl_body_name(BODY(TAKEOVER)), "takeover");
	cr_expect_str_eq(kt_ctl_body_name(BODY(FD_BATCH)), "fd batch");
	cr_expect_str_eq(kt_ctl_body_name(BODY(TAKEOVER_DONE)), "takeover done");
	cr_expect_str_eq(kt_ctl_body_name(0), "no body");
	cr_expect_str_eq(kt_ctl_body_name(16), "no body");
	cr_expect_str_eq(kt_ctl_body_name(-1), "no body");
}

/* ------------------------------------------------------------ over sockets */

static int sv[2] = { -1, -1 };

static void pair(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void unpair(void)
{
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
}

TestSuite(control_wire_socket, .init = pair, .fini = unpair);

static uint64_t ms_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

Test(control_wire_socket, send_writes_the_frame_byte_for_byte)
{
	struct hello_msg x;
	hello_msg_init(&x);
	char err[160] = "";
	cr_assert_eq(kt_ctl_send(sv[0], &x.m, err, sizeof(err)), 0, "%s", err);
	uint8_t got[HELLO_LEN + 1];
	ssize_t n = recv(sv[1], got, sizeof(got), MSG_DONTWAIT);
	cr_assert_eq(n, (ssize_t)HELLO_LEN);
	cr_expect(memcmp(got, hello_frame, HELLO_LEN) == 0);
}

Test(control_wire_socket, send_then_recv_gives_the_message)
{
	struct hello_msg x;
	hello_msg_init(&x);
	char err[160] = "";
	cr_assert_eq(kt_ctl_send(sv[0], &x.m, err, sizeof(err)), 0, "%s", err);
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	kt_ctl_msg *m = NULL;
	cr_assert_eq(kt_ctl_recv(&r, sv[1], 1000, &m, err, sizeof(err)), 1, "%s", err);
	expect_the_hello(m);
	kt_ctl_reader_free(&r);
}

Test(control_wire_socket, recv_takes_two_messages_one_at_a_time)
{
	cr_assert_eq(write(sv[0], hello_frame, HELLO_LEN), (ssize_t)HELLO_LEN);
	cr_assert_eq(write(sv[0], stop_probe_7_frame, sizeof(stop_probe_7_frame)),
		     (ssize_t)sizeof(stop_probe_7_frame));
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	/* filling stops at the end of the first frame: the second waits in the socket */
	cr_assert_eq(kt_ctl_reader_fill(&r, sv[1]), 1);
	cr_expect_eq(kt_ctl_reader_pending(&r), HELLO_LEN);
	cr_assert_eq(kt_ctl_recv(&r, sv[1], 1000, &m, err, sizeof(err)), 1, "%s", err);
	expect_the_hello(m);
	cr_assert_eq(kt_ctl_recv(&r, sv[1], 1000, &m, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(m->body_case, BODY(STOP_PROBE));
	cr_expect_eq(m->stop_probe->probe_id, 7);
	kt_ctl_reader_free(&r);
}

Test(control_wire_socket, recv_with_nothing_sent_times_out_with_0)
{
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	uint64_t t0 = ms_now();
	cr_expect_eq(kt_ctl_recv(&r, sv[1], 150, &m, err, sizeof(err)), 0);
	uint64_t took = ms_now() - t0;
	cr_expect_geq(took, 150);
	cr_expect_lt(took, 2000);
	kt_ctl_reader_free(&r);
}

Test(control_wire_socket, recv_of_half_a_message_times_out_with_0)
{
	cr_assert_eq(write(sv[0], hello_frame, 10), 10);
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	cr_expect_eq(kt_ctl_recv(&r, sv[1], 100, &m, err, sizeof(err)), 0);
	cr_expect_eq(kt_ctl_reader_pending(&r), 10);
	kt_ctl_reader_free(&r);
}

Test(control_wire_socket, recv_after_the_peer_closed_is_minus_1)
{
	close(sv[0]);
	sv[0] = -1;
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	cr_expect_eq(kt_ctl_recv(&r, sv[1], 1000, &m, err, sizeof(err)), -1);
	cr_expect(strstr(err, "closed") != NULL, "%s", err);
	kt_ctl_reader_free(&r);
}

Test(control_wire_socket, recv_after_the_peer_closed_inside_a_message_is_minus_1)
{
	cr_assert_eq(write(sv[0], hello_frame, 10), 10);
	close(sv[0]);
	sv[0] = -1;
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	cr_expect_eq(kt_ctl_recv(&r, sv[1], 1000, &m, err, sizeof(err)), -1);
	cr_expect_neq(err[0], '\0');
	kt_ctl_reader_free(&r);
}

Test(control_wire_socket, recv_of_a_message_after_which_the_peer_closed_gives_it_first)
{
	cr_assert_eq(write(sv[0], stop_probe_7_frame, sizeof(stop_probe_7_frame)),
		     (ssize_t)sizeof(stop_probe_7_frame));
	close(sv[0]);
	sv[0] = -1;
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	cr_assert_eq(kt_ctl_recv(&r, sv[1], 1000, &m, err, sizeof(err)), 1, "%s", err);
	cr_expect_eq(m->body_case, BODY(STOP_PROBE));
	cr_expect_eq(kt_ctl_recv(&r, sv[1], 1000, &m, err, sizeof(err)), -1);
	kt_ctl_reader_free(&r);
}

Test(control_wire_socket, recv_of_a_length_above_the_limit_is_an_error_naming_it)
{
	static const uint8_t len[] = { 0xff, 0xff, 0xff, 0xff };
	cr_assert_eq(write(sv[0], len, sizeof(len)), 4);
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	cr_expect_eq(kt_ctl_recv(&r, sv[1], 1000, &m, err, sizeof(err)), -1);
	cr_expect(strstr(err, "4294967295") != NULL, "%s", err);
	kt_ctl_reader_free(&r);
}

/* Writes non-blocking until the socket takes no more; the bytes it took. */
static size_t fill_socket(int fd)
{
	static const uint8_t junk[4096];
	size_t total = 0;
	for (;;) {
		ssize_t n = send(fd, junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			cr_assert_eq(errno, EAGAIN, "%s", strerror(errno));
			return total;
		}
		total += (size_t)n;
	}
}

Test(control_wire_socket, send_now_on_a_full_socket_fails_with_eagain)
{
	cr_assert_gt(fill_socket(sv[0]), 0);
	struct hello_msg x;
	hello_msg_init(&x);
	char err[160] = "";
	errno = 0;
	cr_expect_eq(kt_ctl_send_now(sv[0], &x.m, err, sizeof(err)), -1);
	cr_expect_eq(errno, EAGAIN);
	cr_expect_str_eq(err, strerror(EAGAIN));
}

Test(control_wire_socket, send_now_of_more_than_the_socket_takes_fails_with_eagain)
{
	/* 1 MiB: more than a unix socket buffers; part of it is taken, then EAGAIN */
	struct error_msg x;
	error_msg_init(&x, 1u << 20);
	char err[160] = "";
	errno = 0;
	cr_expect_eq(kt_ctl_send_now(sv[0], &x.m, err, sizeof(err)), -1);
	cr_expect_eq(errno, EAGAIN);
	free(x.text);
}

Test(control_wire_socket, send_now_with_room_writes_the_frame)
{
	int fl = fcntl(sv[0], F_GETFL);
	cr_assert_eq(fcntl(sv[0], F_SETFL, fl | O_NONBLOCK), 0);
	struct hello_msg x;
	hello_msg_init(&x);
	char err[160] = "";
	cr_assert_eq(kt_ctl_send_now(sv[0], &x.m, err, sizeof(err)), 0, "%s", err);
	uint8_t got[HELLO_LEN + 1];
	cr_assert_eq(recv(sv[1], got, sizeof(got), MSG_DONTWAIT), (ssize_t)HELLO_LEN);
	cr_expect(memcmp(got, hello_frame, HELLO_LEN) == 0);
}

Test(control_wire_socket, send_refuses_a_message_over_the_limit_with_emsgsize)
{
	struct error_msg x;
	error_msg_init(&x, ERROR_TEXT_FOR(KT_CONTROL_MSG_MAX + 1));
	char err[160] = "";
	errno = 0;
	cr_expect_eq(kt_ctl_send(sv[0], &x.m, err, sizeof(err)), -1);
	cr_expect_eq(errno, EMSGSIZE);
	cr_expect(strstr(err, "8388609") != NULL, "%s", err);
	cr_expect(strstr(err, "error") != NULL, "%s", err);
	errno = 0;
	cr_expect_eq(kt_ctl_send_now(sv[0], &x.m, err, sizeof(err)), -1);
	cr_expect_eq(errno, EMSGSIZE);
	/* nothing was written */
	uint8_t b;
	cr_expect_eq(recv(sv[1], &b, 1, MSG_DONTWAIT), -1);
	cr_expect_eq(errno, EAGAIN);
	free(x.text);
}

Test(control_wire_socket, send_to_a_closed_peer_fails_with_epipe)
{
	close(sv[1]);
	sv[1] = -1;
	struct hello_msg x;
	hello_msg_init(&x);
	char err[160] = "";
	errno = 0;
	cr_expect_eq(kt_ctl_send(sv[0], &x.m, err, sizeof(err)), -1);
	cr_expect_eq(errno, EPIPE);
}

struct sender {
	int fd;
	const kt_ctl_msg *m;
	int rc, err_no;
};

static void *send_thread(void *arg)
{
	struct sender *s = arg;
	char err[160];
	s->rc = kt_ctl_send(s->fd, s->m, err, sizeof(err));
	s->err_no = errno;
	return NULL;
}

Test(control_wire_socket, a_message_of_exactly_the_limit_goes_through_blocking_send_and_recv)
{
	struct error_msg x;
	error_msg_init(&x, ERROR_TEXT_FOR(KT_CONTROL_MSG_MAX));
	/* the blocking send waits for the reader: it runs beside it */
	struct sender s = { .fd = sv[0], .m = &x.m, .rc = -2 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, send_thread, &s), 0);
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	char err[160] = "";
	kt_ctl_msg *m = NULL;
	int rc = kt_ctl_recv(&r, sv[1], 10000, &m, err, sizeof(err));
	pthread_join(t, NULL);
	cr_assert_eq(s.rc, 0, "send: %s", strerror(s.err_no));
	cr_assert_eq(rc, 1, "%s", err);
	cr_assert_eq(m->body_case, BODY(ERROR));
	cr_expect_eq(strlen(m->error->message), ERROR_TEXT_FOR(KT_CONTROL_MSG_MAX));
	kt_ctl_reader_free(&r);
	free(x.text);
}

Test(control_wire_socket, recv_with_no_time_to_wait_takes_a_message_already_there)
{
	struct hello_msg x;
	hello_msg_init(&x);
	char err[160] = "";
	cr_assert_eq(kt_ctl_send(sv[0], &x.m, err, sizeof(err)), 0, "%s", err);
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	kt_ctl_msg *m = NULL;
	cr_assert_eq(kt_ctl_recv(&r, sv[1], 0, &m, err, sizeof(err)), 1, "%s", err);
	expect_the_hello(m);
	cr_expect_eq(kt_ctl_recv(&r, sv[1], 0, &m, err, sizeof(err)), 0, "nothing more: at once");
	kt_ctl_reader_free(&r);
}

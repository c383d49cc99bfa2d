/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Takeover (user/daemon/takeover.c) and the descriptors the control wire
 * carries for it (user/control/control_wire.c), over real unix sockets:
 *
 * - kt_ctl_send_fds: 1, 3 and KT_CTL_FDS_MAX descriptors arrive with their
 *   message, in order, each the same file as the one sent; those not taken
 *   are closed by the reader's next message or its end; more than
 *   KT_CTL_FDS_MAX is refused; a peer attaching descriptors to a Hello
 *   leaks nothing; two messages' descriptors stay apart.
 * - kt_takeover_check: the version, layout, mode and capture each named
 *   when they differ.
 * - the state's records: a round trip, a truncated length and a length
 *   beyond the end found at their offset, random bytes.
 * - the whole exchange between kt_takeover_request and an old daemon made
 *   of kt_takeover_offer / _await_commit / _done on a thread, listening at
 *   a path in a temporary folder: every descriptor, what it is and the
 *   state's exact bytes arrive, the commit gets the done's count; a
 *   refusal, nobody listening, the new side going away before the commit,
 *   a state beyond one chunk; and, from a raw old side, an offer whose
 *   batches carry fewer descriptors than announced or more state.
 *
 * Every test counts the descriptors open in /proc/self/fd before and after.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fd_count.h"
#include "base/byte_order.h"
#include "control/control_wire.h"
#include "daemon/takeover.h"

#define BODY(x) KATATRACE__CONTROL__V1__MESSAGE__BODY_##x

/* ------------------------------------------------------------ descriptors */

static int count_fds(void)
{
	int n = fd_count();
	cr_assert_geq(n, 0, "/proc/self/fd: %s", strerror(errno));
	return n;
}

static void expect_no_leak(int before)
{
	int after = count_fds();
	cr_expect_eq(after, before, "%d descriptors open after the test, %d before", after, before);
}

static bool is_closed(int fd)
{
	errno = 0;
	return fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;
	if (fstat(a, &sa) || fstat(b, &sb))
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* n distinct files (memfds), one per descriptor. */
static void make_files(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[48];
		snprintf(name, sizeof(name), "kt-takeover-%zu", i);
		fds[i] = memfd_create(name, MFD_CLOEXEC);
		cr_assert_geq(fds[i], 0, "memfd_create: %s", strerror(errno));
	}
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void pair(int sv[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, "socketpair: %s",
		     strerror(errno));
}

/* ------------------------------------------------------------ messages */

static int send_batch(int sock, uint32_t count, const int *fds, size_t n)
{
	Katatrace__Control__V1__FdBatch b = KATATRACE__CONTROL__V1__FD_BATCH__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	char err[160];
	b.count = count;
	m.body_case = BODY(FD_BATCH);
	m.fd_batch = &b;
	return n ? kt_ctl_send_fds(sock, &m, fds, n, err, sizeof(err))
		 : kt_ctl_send(sock, &m, err, sizeof(err));
}

static int send_hello(int sock, const int *fds, size_t n)
{
	Katatrace__Control__V1__Hello h = KATATRACE__CONTROL__V1__HELLO__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	char err[160];
	h.target = "pid/1";
	m.body_case = BODY(HELLO);
	m.hello = &h;
	return n ? kt_ctl_send_fds(sock, &m, fds, n, err, sizeof(err))
		 : kt_ctl_send(sock, &m, err, sizeof(err));
}

static int send_offer(int sock, size_t n_fds, uint64_t state_bytes)
{
	Katatrace__Control__V1__HandedFd *items = calloc(n_fds ? n_fds : 1, sizeof(*items));
	Katatrace__Control__V1__HandedFd **ptrs = calloc(n_fds ? n_fds : 1, sizeof(*ptrs));
	cr_assert(items && ptrs);
	for (size_t i = 0; i < n_fds; i++) {
		katatrace__control__v1__handed_fd__init(&items[i]);
		items[i].kind = KATATRACE__CONTROL__V1__HANDED_FD__KIND__CONNECTION;
		items[i].label = "/run/kata/agent.sock";
		ptrs[i] = &items[i];
	}
	Katatrace__Control__V1__TakeoverOffer o = KATATRACE__CONTROL__V1__TAKEOVER_OFFER__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	char err[160];
	o.pid = 1;
	o.fds = ptrs;
	o.n_fds = n_fds;
	o.state_bytes = state_bytes;
	m.body_case = BODY(TAKEOVER_OFFER);
	m.takeover_offer = &o;
	int rc = kt_ctl_send(sock, &m, err, sizeof(err));
	free(items);
	free(ptrs);
	return rc;
}

static int send_chunk(int sock, const void *p, size_t n)
{
	Katatrace__Control__V1__StateChunk c = KATATRACE__CONTROL__V1__STATE_CHUNK__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	char err[160];
	c.records.data = (uint8_t *)p;
	c.records.len = n;
	m.body_case = BODY(STATE_CHUNK);
	m.state_chunk = &c;
	return kt_ctl_send(sock, &m, err, sizeof(err));
}

static void recv_one(struct kt_ctl_reader *r, int sock, int body, kt_ctl_msg **m)
{
	char err[160] = "";
	int rc = kt_ctl_recv(r, sock, 5000, m, err, sizeof(err));
	cr_assert_eq(rc, 1, "kt_ctl_recv: %d (%s)", rc, err);
	cr_assert_eq((int)(*m)->body_case, body, "a %s message, expected a %s",
		     kt_ctl_body_name((*m)->body_case), kt_ctl_body_name(body));
}

/* A socket pair and n files to send over it; how many descriptors were open before. */
static int fds_setup(int sv[2], int *files, size_t n)
{
	int before = count_fds();
	pair(sv);
	make_files(files, n);
	return before;
}

/* Closes the files and the pair: as many descriptors open as before. */
static void fds_teardown(int before, int sv[2], int *files, size_t n)
{
	close_all(files, n);
	close_all(sv, 2);
	expect_no_leak(before);
}

/* r started on sock, and its first message, of kind body. */
static kt_ctl_msg *reader_first(struct kt_ctl_reader *r, int sock, int body)
{
	kt_ctl_msg *m;
	kt_ctl_reader_init(r);
	recv_one(r, sock, body, &m);
	return m;
}

/*
 * The largest allocation this thread makes in a window, as ASan's allocator
 * sees it (its malloc hooks; weak: none in a build without ASan).
 */
extern int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *,
									 size_t),
						     void (*free_hook)(const volatile void *))
	__attribute__((weak));
static _Thread_local bool watching;
static _Thread_local size_t largest;
static int watch_hooks;

static void watch_malloc(const volatile void *p, size_t size)
{
	(void)p;
	if (watching && size > largest)
		largest = size;
}

static void watch_free(const volatile void *p)
{
	(void)p;
}

__attribute__((constructor)) static void watch_install(void)
{
	if (__sanitizer_install_malloc_and_free_hooks)
		watch_hooks = __sanitizer_install_malloc_and_free_hooks(watch_malloc, watch_free);
}

static void watch_begin(void)
{
	cr_assert(watch_hooks > 0, "ASan's malloc hooks are not installed");
	largest = 0;
	watching = true;
}

static size_t watch_end(void)
{
	watching = false;
	return largest;
}

/* ------------------------------------------------------------ fd passing */

static void n_descriptors_arrive_in_order(size_t n)
{
	int sv[2], sent[KT_CTL_FDS_MAX], got[KT_CTL_FDS_MAX];
	int before = fds_setup(sv, sent, n);
	cr_assert_eq(send_batch(sv[0], (uint32_t)n, sent, n), 0);

	struct kt_ctl_reader r;
	kt_ctl_msg *m = reader_first(&r, sv[1], BODY(FD_BATCH));
	cr_expect_eq(m->fd_batch->count, n);
	size_t k = kt_ctl_reader_take_fds(&r, got, KT_CTL_FDS_MAX);
	cr_assert_eq(k, n, "%zu descriptors taken, %zu sent", k, n);
	for (size_t i = 0; i < n; i++) {
		cr_expect_neq(got[i], sent[i]);
		cr_expect(same_file(got[i], sent[i]), "descriptor %zu is not the file sent", i);
		cr_expect(fcntl(got[i], F_GETFD) & FD_CLOEXEC, "descriptor %zu without FD_CLOEXEC",
			  i);
	}
	/* taken: the reader's end leaves them open */
	kt_ctl_reader_free(&r);
	for (size_t i = 0; i < n; i++)
		cr_expect(!is_closed(got[i]), "taken descriptor %zu closed by the reader", i);
	close_all(got, n);
	fds_teardown(before, sv, sent, n);
}

Test(takeover_fds, one_descriptor_arrives_as_the_same_file)
{
	n_descriptors_arrive_in_order(1);
}

Test(takeover_fds, three_descriptors_arrive_in_order)
{
	n_descriptors_arrive_in_order(3);
}

Test(takeover_fds, kt_ctl_fds_max_descriptors_arrive_in_order)
{
	n_descriptors_arrive_in_order(KT_CTL_FDS_MAX);
}

Test(takeover_fds, descriptors_not_taken_are_closed_by_the_next_message)
{
	int sv[2], sent[3], numbers[3], kept;
	int before = fds_setup(sv, sent, 3);
	cr_assert_eq(send_batch(sv[0], 3, sent, 3), 0);
	cr_assert_eq(send_batch(sv[0], 0, NULL, 0), 0);

	struct kt_ctl_reader r;
	kt_ctl_msg *m = reader_first(&r, sv[1], BODY(FD_BATCH));
	cr_assert_eq(r.fds_handed, 3);
	memcpy(numbers, r.fds, sizeof(numbers));
	/* one taken, two left to the reader */
	cr_assert_eq(kt_ctl_reader_take_fds(&r, &kept, 1), 1);
	cr_expect_eq(kept, numbers[0]);
	cr_expect(same_file(kept, sent[0]));
	for (int i = 1; i < 3; i++)
		cr_expect(!is_closed(numbers[i]));

	recv_one(&r, sv[1], BODY(FD_BATCH), &m);
	cr_expect_eq(r.fds_handed, 0, "the second message carried nothing");
	for (int i = 1; i < 3; i++)
		cr_expect(is_closed(numbers[i]), "descriptor %d (fd %d) not taken and still open", i,
			  numbers[i]);
	cr_expect(!is_closed(kept), "the taken descriptor was closed");
	int none;
	cr_expect_eq(kt_ctl_reader_take_fds(&r, &none, 1), 0);
	kt_ctl_reader_free(&r);
	close(kept);
	fds_teardown(before, sv, sent, 3);
}

Test(takeover_fds, descriptors_not_taken_are_closed_by_the_readers_end)
{
	int sv[2], sent[3], numbers[3];
	int before = fds_setup(sv, sent, 3);
	cr_assert_eq(send_batch(sv[0], 3, sent, 3), 0);

	struct kt_ctl_reader r;
	reader_first(&r, sv[1], BODY(FD_BATCH));
	memcpy(numbers, r.fds, sizeof(numbers));
	for (int i = 0; i < 3; i++)
		cr_expect(same_file(numbers[i], sent[i]));
	kt_ctl_reader_free(&r);
	for (int i = 0; i < 3; i++)
		cr_expect(is_closed(numbers[i]), "fd %d still open after kt_ctl_reader_free",
			  numbers[i]);
	fds_teardown(before, sv, sent, 3);
}

Test(takeover_fds, more_than_kt_ctl_fds_max_is_refused_at_send)
{
	int sv[2], one[1], many[KT_CTL_FDS_MAX + 1];
	int before = fds_setup(sv, one, 1);
	for (size_t i = 0; i < KT_CTL_FDS_MAX + 1; i++)
		many[i] = one[0];
	Katatrace__Control__V1__FdBatch b = KATATRACE__CONTROL__V1__FD_BATCH__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT, *in;
	char err[160] = "";
	b.count = KT_CTL_FDS_MAX + 1;
	m.body_case = BODY(FD_BATCH);
	m.fd_batch = &b;
	errno = 0;
	cr_expect_eq(kt_ctl_send_fds(sv[0], &m, many, KT_CTL_FDS_MAX + 1, err, sizeof(err)), -1);
	cr_expect_eq(errno, EINVAL, "errno %d (%s)", errno, strerror(errno));
	cr_expect(strstr(err, "241") != NULL, "err: %s", err);
	/* nothing was written */
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	cr_expect_eq(kt_ctl_recv(&r, sv[1], 0, &in, err, sizeof(err)), 0);
	cr_expect_eq(kt_ctl_reader_pending(&r), 0);
	cr_expect_eq(r.n_fds, 0);
	kt_ctl_reader_free(&r);
	fds_teardown(before, sv, one, 1);
}

Test(takeover_fds, descriptors_sent_with_a_hello_do_not_leak)
{
	int sv[2], sent[5], numbers[5];
	int before = fds_setup(sv, sent, 5);
	/* a hostile peer: descriptors with messages that carry none */
	cr_assert_eq(send_hello(sv[0], sent, 5), 0);
	cr_assert_eq(send_hello(sv[0], sent, 2), 0);
	close_all(sent, 5);
	cr_assert_eq(send_hello(sv[0], NULL, 0), 0);
	close(sv[0]);

	struct kt_ctl_reader r;
	kt_ctl_msg *m;
	char err[160] = "";
	kt_ctl_reader_init(&r);
	recv_one(&r, sv[1], BODY(HELLO), &m);
	cr_assert_eq(r.fds_handed, 5);
	memcpy(numbers, r.fds, sizeof(numbers));
	recv_one(&r, sv[1], BODY(HELLO), &m);
	for (int i = 0; i < 5; i++)
		cr_expect(is_closed(numbers[i]) || numbers[i] == r.fds[0] || numbers[i] == r.fds[1],
			  "fd %d of the first hello still open", numbers[i]);
	cr_assert_eq(r.fds_handed, 2);
	recv_one(&r, sv[1], BODY(HELLO), &m);
	cr_expect_eq(r.n_fds, 0);
	cr_expect_eq(kt_ctl_recv(&r, sv[1], 1000, &m, err, sizeof(err)), -1);
	kt_ctl_reader_free(&r);
	close(sv[1]);
	expect_no_leak(before);
}

Test(takeover_fds, a_hello_with_descriptors_then_the_end_leaks_nothing)
{
	int sv[2], sent[3];
	int before = fds_setup(sv, sent, 3);
	cr_assert_eq(send_hello(sv[0], sent, 3), 0);
	close_all(sent, 3);
	close(sv[0]);
	struct kt_ctl_reader r;
	kt_ctl_msg *m;
	char err[160] = "";
	kt_ctl_reader_init(&r);
	recv_one(&r, sv[1], BODY(HELLO), &m);
	cr_expect_eq(kt_ctl_recv(&r, sv[1], 1000, &m, err, sizeof(err)), -1);
	kt_ctl_reader_free(&r);
	close(sv[1]);
	expect_no_leak(before);
}

Test(takeover_fds, two_messages_keep_their_descriptors_apart)
{
	int sv[2], a[2], b[3], got[KT_CTL_FDS_MAX];
	int before = fds_setup(sv, a, 2);
	make_files(b, 3);
	/* both written before the reader reads anything */
	cr_assert_eq(send_batch(sv[0], 2, a, 2), 0);
	cr_assert_eq(send_batch(sv[0], 3, b, 3), 0);

	struct kt_ctl_reader r;
	kt_ctl_msg *m = reader_first(&r, sv[1], BODY(FD_BATCH));
	cr_expect_eq(m->fd_batch->count, 2);
	cr_assert_eq(kt_ctl_reader_take_fds(&r, got, KT_CTL_FDS_MAX), 2);
	for (int i = 0; i < 2; i++)
		cr_expect(same_file(got[i], a[i]), "first message, descriptor %d", i);
	close_all(got, 2);
	recv_one(&r, sv[1], BODY(FD_BATCH), &m);
	cr_expect_eq(m->fd_batch->count, 3);
	cr_assert_eq(kt_ctl_reader_take_fds(&r, got, KT_CTL_FDS_MAX), 3);
	for (int i = 0; i < 3; i++)
		cr_expect(same_file(got[i], b[i]), "second message, descriptor %d", i);
	close_all(got, 3);
	kt_ctl_reader_free(&r);
	close_all(a, 2);
	fds_teardown(before, sv, b, 3);
}

Test(takeover_fds, descriptors_left_with_one_message_do_not_reach_the_next)
{
	int sv[2], a[2], b[1], got[KT_CTL_FDS_MAX];
	int before = fds_setup(sv, a, 2);
	make_files(b, 1);
	cr_assert_eq(send_batch(sv[0], 2, a, 2), 0);
	cr_assert_eq(send_batch(sv[0], 1, b, 1), 0);

	struct kt_ctl_reader r;
	kt_ctl_msg *m = reader_first(&r, sv[1], BODY(FD_BATCH)); /* its two left untaken */
	recv_one(&r, sv[1], BODY(FD_BATCH), &m);
	cr_assert_eq(kt_ctl_reader_take_fds(&r, got, KT_CTL_FDS_MAX), 1);
	cr_expect(same_file(got[0], b[0]));
	close(got[0]);
	kt_ctl_reader_free(&r);
	close_all(a, 2);
	fds_teardown(before, sv, b, 1);
}

/* ------------------------------------------------------------ kt_takeover_check */

struct ask_msg {
	Katatrace__Control__V1__Takeover t;
	char layout[128];
};

static void ask_init(struct ask_msg *a, const char *mode, const char *capture)
{
	katatrace__control__v1__takeover__init(&a->t);
	kt_takeover_layout(a->layout, sizeof(a->layout));
	a->t.version = KT_TAKEOVER_VERSION;
	a->t.layout = a->layout;
	a->t.mode = (char *)mode;
	a->t.capture = (char *)capture;
	a->t.pid = 42;
}

static void expect_reason(const char *why, const char *word)
{
	cr_assert_not_null(why, "accepted, expected a reason naming %s", word);
	cr_expect(strstr(why, word) != NULL, "\"%s\" does not name %s", why, word);
}

Test(takeover_check, the_same_build_mode_and_capture_is_accepted)
{
	struct ask_msg a;
	ask_init(&a, "sink", "bpf");
	cr_expect_null(kt_takeover_check(&a.t, "sink", "bpf"));
	ask_init(&a, "tap", "bpf");
	cr_expect_null(kt_takeover_check(&a.t, "tap", "bpf"));
}

Test(takeover_check, another_version_is_named)
{
	struct ask_msg a;
	ask_init(&a, "sink", "bpf");
	a.t.version = KT_TAKEOVER_VERSION + 1;
	expect_reason(kt_takeover_check(&a.t, "sink", "bpf"), "version");
	a.t.version = 0;
	expect_reason(kt_takeover_check(&a.t, "sink", "bpf"), "version");
}

Test(takeover_check, another_layout_is_named)
{
	struct ask_msg a;
	ask_init(&a, "sink", "bpf");
	a.t.layout = "records:1/2/3 chunk:4 streams:5 counters:6 path:7";
	const char *why = kt_takeover_check(&a.t, "sink", "bpf");
	expect_reason(why, "layout");
	expect_reason(why, "records:1/2/3");
	a.t.layout = "";
	expect_reason(kt_takeover_check(&a.t, "sink", "bpf"), "layout");
}

Test(takeover_check, another_mode_is_named)
{
	struct ask_msg a;
	ask_init(&a, "tap", "bpf");
	const char *why = kt_takeover_check(&a.t, "sink", "bpf");
	expect_reason(why, "--mode");
	expect_reason(why, "tap");
	expect_reason(why, "sink");
}

Test(takeover_check, another_capture_is_named)
{
	struct ask_msg a;
	ask_init(&a, "sink", "socket");
	const char *why = kt_takeover_check(&a.t, "sink", "bpf");
	expect_reason(why, "--capture");
	expect_reason(why, "socket");
	ask_init(&a, "sink", "bpf");
	expect_reason(kt_takeover_check(&a.t, "sink", "socket"), "--capture");
}

Test(takeover_check, socket_capture_on_both_sides_is_refused)
{
	struct ask_msg a;
	ask_init(&a, "sink", "socket");
	const char *why = kt_takeover_check(&a.t, "sink", "socket");
	expect_reason(why, "--capture");
	expect_reason(why, "only BPF capture");
}

/* ------------------------------------------------------------ the state's records */

struct collected {
	size_t n;
	size_t sizes[64];
	uint8_t *bytes[64];
};

static void collect(void *ctx, const void *rec, size_t size)
{
	struct collected *c = ctx;
	cr_assert_lt(c->n, 64);
	c->sizes[c->n] = size;
	c->bytes[c->n] = malloc(size ? size : 1);
	cr_assert_not_null(c->bytes[c->n]);
	memcpy(c->bytes[c->n], rec, size);
	c->n++;
}

static void collected_free(struct collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->bytes[i]);
	c->n = 0;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n ? n : 1);
	cr_assert_not_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131u + seed * 7u + (i >> 8));
	return p;
}

Test(takeover_records, several_records_come_back_in_order)
{
	static const size_t sizes[] = { 0, 1, 4, 100, 70000, 3, 1u << 17 };
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	struct kt_handover h;
	kt_handover_init(&h);
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = pattern(sizes[i], (unsigned)i);
		cr_assert_eq(kt_handover_add_record(&h, p, sizes[i]), 0);
		free(p);
		total += 4 + sizes[i];
	}
	cr_expect_eq(h.state_len, total);
	/* each after its big-endian length */
	cr_expect_eq(kt_be32(h.state), 0);
	cr_expect_eq(kt_be32(h.state + 4), 1);

	struct collected c = { 0 };
	size_t bad = 12345;
	cr_expect_eq(kt_handover_each_record(&h, collect, &c, &bad), 0);
	cr_expect_eq(bad, 12345, "bad set on success");
	cr_assert_eq(c.n, n);
	for (size_t i = 0; i < n; i++) {
		cr_expect_eq(c.sizes[i], sizes[i], "record %zu", i);
		uint8_t *p = pattern(sizes[i], (unsigned)i);
		cr_expect(memcmp(c.bytes[i], p, sizes[i]) == 0, "record %zu differs", i);
		free(p);
	}
	collected_free(&c);
	kt_handover_free(&h, false);
	cr_expect_null(h.state);
	cr_expect_eq(h.sock, -1);
}

Test(takeover_records, no_state_is_no_record)
{
	struct kt_handover h;
	kt_handover_init(&h);
	struct collected c = { 0 };
	cr_expect_eq(kt_handover_each_record(&h, collect, &c, NULL), 0);
	cr_expect_eq(c.n, 0);
	kt_handover_free(&h, false);
}

Test(takeover_records, records_beyond_the_limits_are_refused)
{
	struct kt_handover h;
	kt_handover_init(&h);
	uint8_t b = 0;
	/* refused before a byte is read */
	cr_expect_eq(kt_handover_add_record(&h, &b, (size_t)UINT32_MAX + 1), -1);
	cr_expect_eq(kt_handover_add_record(&h, &b, (size_t)KT_TAKEOVER_STATE_MAX), -1);
	cr_expect_eq(h.state_len, 0);
	cr_expect_eq(kt_handover_add_record(&h, &b, 1), 0);
	cr_expect_eq(h.state_len, 5);
	kt_handover_free(&h, false);
}

static void two_records(struct kt_handover *h)
{
	kt_handover_init(h);
	cr_assert_eq(kt_handover_add_record(h, "abc", 3), 0);
	cr_assert_eq(kt_handover_add_record(h, "defgh", 5), 0);
}

static void expect_the_two(struct collected *c)
{
	cr_assert_eq(c->n, 2, "%zu records delivered before the bad one", c->n);
	cr_expect_eq(c->sizes[0], 3);
	cr_expect(memcmp(c->bytes[0], "abc", 3) == 0);
	cr_expect_eq(c->sizes[1], 5);
	cr_expect(memcmp(c->bytes[1], "defgh", 5) == 0);
}

Test(takeover_records, a_truncated_length_is_found_at_its_offset)
{
	for (size_t cut = 1; cut < 4; cut++) {
		struct kt_handover h;
		two_records(&h);
		size_t good = h.state_len; /* 4 + 3 + 4 + 5 = 16 */
		cr_assert_eq(good, 16);
		/* a third record's length, only cut of its 4 bytes */
		cr_assert_eq(kt_handover_add_record(&h, "x", 1), 0);
		h.state_len = good + cut;
		struct collected c = { 0 };
		size_t bad = 0;
		cr_expect_eq(kt_handover_each_record(&h, collect, &c, &bad), -1);
		cr_expect_eq(bad, good, "bad %zu, expected %zu (cut %zu)", bad, good, cut);
		expect_the_two(&c);
		collected_free(&c);
		kt_handover_free(&h, false);
	}
}

Test(takeover_records, a_length_beyond_the_end_is_found_at_its_offset)
{
	struct kt_handover h;
	two_records(&h);
	size_t good = h.state_len;
	uint8_t *p = pattern(100, 1);
	cr_assert_eq(kt_handover_add_record(&h, p, 100), 0);
	free(p);
	/* the third record says 100 bytes and has 99 */
	h.state_len -= 1;
	struct collected c = { 0 };
	size_t bad = 0;
	cr_expect_eq(kt_handover_each_record(&h, collect, &c, &bad), -1);
	cr_expect_eq(bad, good);
	expect_the_two(&c);
	collected_free(&c);

	/* a length near 2^32 with a few bytes after it */
	h.state_len = good;
	cr_assert_eq(kt_handover_add_record(&h, "zz", 2), 0);
	kt_put_be32(h.state + good, 0xffffffffu);
	cr_expect_eq(kt_handover_each_record(&h, collect, &c, NULL), -1);
	expect_the_two(&c);
	collected_free(&c);
	kt_handover_free(&h, false);
}

struct walk {
	const uint8_t *start, *end;
	size_t n, covered;
};

static void walk_rec(void *ctx, const void *rec, size_t size)
{
	struct walk *w = ctx;
	const uint8_t *p = rec;
	cr_assert(p >= w->start + 4 && p <= w->end && size <= (size_t)(w->end - p),
		  "a record outside the state");
	cr_assert_eq(kt_be32(p - 4), size);
	w->n++;
	w->covered = (size_t)(p + size - w->start);
}

Test(takeover_records, random_bytes_are_walked_within_bounds)
{
	unsigned seed = 12345;
	for (int round = 0; round < 4000; round++) {
		struct kt_handover h;
		kt_handover_init(&h);
		size_t len = (size_t)(rand_r(&seed) % 200);
		h.state = malloc(len ? len : 1);
		cr_assert_not_null(h.state);
		h.state_len = h.state_cap = len;
		for (size_t i = 0; i < len; i++) {
			/* small lengths often enough that some records are well formed */
			int r = rand_r(&seed);
			h.state[i] = (uint8_t)(r % 3 == 0 ? 0 : r % 3 == 1 ? r % 8 : r >> 8);
		}
		struct walk w = { h.state, h.state + len, 0, 0 };
		size_t bad = SIZE_MAX;
		int rc = kt_handover_each_record(&h, walk_rec, &w, &bad);
		if (rc == 0) {
			cr_expect_eq(w.covered, len);
		} else {
			cr_expect_eq(rc, -1);
			cr_expect_eq(bad, w.covered, "round %d: bad %zu, the records end at %zu", round,
				     bad, w.covered);
			cr_expect_lt(bad, len);
		}
		kt_handover_free(&h, false);
	}
}

/* ------------------------------------------------------------ the whole exchange */

struct tmp_listener {
	char dir[40];
	char path[64];
	int fd;
};

static void listener_open(struct tmp_listener *l)
{
	snprintf(l->dir, sizeof(l->dir), "/tmp/kt-takeover-XXXXXX");
	cr_assert_not_null(mkdtemp(l->dir), "mkdtemp: %s", strerror(errno));
	snprintf(l->path, sizeof(l->path), "%s/control.sock", l->dir);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", l->path);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(l->fd, 0);
	cr_assert_eq(bind(l->fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
	cr_assert_eq(listen(l->fd, 4), 0);
}

static void listener_close(struct tmp_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	unlink(l->path);
	rmdir(l->dir);
}

#define N_HANDED 8

/* What the old daemon hands: one of each kind and a few more. */
static const struct {
	enum kt_handed_kind kind;
	const char *label;
	bool vsock;
	unsigned port;
	const char *object, *name, *strategy;
} handed[N_HANDED] = {
	{ KT_HANDED_LISTENER, "/run/katatrace-bpf/sink.sock", false, 0, "", "", "" },
	{ KT_HANDED_LISTENER, "vsock:1024", true, 1024, "", "", "" },
	{ KT_HANDED_CONNECTION, "/run/katatrace-bpf/sink.sock", false, 0, "", "", "" },
	{ KT_HANDED_CONTROL, "/run/katatrace-bpf/control.sock", false, 0, "", "", "" },
	{ KT_HANDED_METRICS, "127.0.0.1:9464", false, 0, "", "", "" },
	{ KT_HANDED_BPF, "", false, 0, "unix capture", "events", "kprobe" },
	{ KT_HANDED_BPF, "", false, 0, "vsock capture", "link:vsock_sendmsg", "fentry" },
	{ KT_HANDED_PROBE, "probe", false, 0, "", "", "" },
};

/* The state of the probe handed (KT_HANDED_PROBE), packed: probe 7 of pid/42. */
static uint8_t *probe_state_bytes(size_t *len)
{
	static char *probes[] = { "uprobe:/bin/true:main" };
	Katatrace__Control__V1__Hello hello = KATATRACE__CONTROL__V1__HELLO__INIT;
	hello.target = "pid/42";
	hello.probes = probes;
	hello.n_probes = 1;
	Katatrace__Control__V1__ProbeState st = KATATRACE__CONTROL__V1__PROBE_STATE__INIT;
	st.hello = &hello;
	st.id = 7;
	st.pid = 42;
	st.spans = 11;
	*len = katatrace__control__v1__probe_state__get_packed_size(&st);
	uint8_t *b = malloc(*len);
	cr_assert_not_null(b);
	katatrace__control__v1__probe_state__pack(&st, b);
	return b;
}

enum old_kind {
	OLD_HANDS_OVER,	  /* offer, commit, done */
	OLD_REFUSES,	  /* kt_takeover_refuse */
	OLD_SEES_NO_COMMIT, /* the new side goes away after the offer */
	OLD_FEWER_FDS,	  /* raw: a batch carries fewer descriptors than it announces */
	OLD_FDS_THEN_END, /* raw: fewer batches than the offer announces, then the end */
	OLD_MORE_STATE,	  /* raw: a chunk beyond the state announced */
	OLD_CHUNK_AFTER_FDS_MISSING, /* raw: a state chunk where a batch is due */
};

struct old_daemon {
	enum old_kind kind;
	int listen_fd;
	int files[N_HANDED];
	size_t n_records, record_size; /* records of record_size bytes each */
	/* results */
	bool asked;
	char asked_mode[16], asked_capture[16];
	const char *check;
	int offer_rc, commit_rc;
	char err[256];
};

static uint8_t *record_bytes(size_t i, size_t size)
{
	return pattern(size, (unsigned)(i + 1));
}

/* Waits for the peer's end (or 10 s) so that what it reads is only what was sent. */
static void wait_for_end(int sock)
{
	char b[256];
	struct pollfd pf = { .fd = sock, .events = POLLIN };
	while (poll(&pf, 1, 10000) > 0 && read(sock, b, sizeof(b)) > 0)
		;
}

static void *old_daemon_run(void *arg)
{
	struct old_daemon *o = arg;
	int sock = accept4(o->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (sock < 0)
		return NULL;
	struct kt_ctl_reader r;
	kt_ctl_msg *m;
	kt_ctl_reader_init(&r);
	int rc = kt_ctl_recv(&r, sock, 10000, &m, o->err, sizeof(o->err));
	if (rc != 1 || m->body_case != BODY(TAKEOVER)) {
		kt_ctl_reader_free(&r);
		close(sock);
		return NULL;
	}
	o->asked = true;
	snprintf(o->asked_mode, sizeof(o->asked_mode), "%s", m->takeover->mode);
	snprintf(o->asked_capture, sizeof(o->asked_capture), "%s", m->takeover->capture);
	o->check = kt_takeover_check(m->takeover, "sink", "bpf");
	kt_ctl_reader_free(&r);

	switch (o->kind) {
	case OLD_REFUSES:
		kt_takeover_refuse(sock, "a probe is attaching");
		wait_for_end(sock);
		close(sock);
		return NULL;
	case OLD_FEWER_FDS:
		send_offer(sock, 3, 0);
		send_batch(sock, 3, o->files, 2);
		wait_for_end(sock);
		close(sock);
		return NULL;
	case OLD_FDS_THEN_END:
		send_offer(sock, 3, 0);
		send_batch(sock, 2, o->files, 2);
		close(sock);
		return NULL;
	case OLD_MORE_STATE:
		send_offer(sock, 1, 10);
		send_batch(sock, 1, o->files, 1);
		send_chunk(sock, "0123456789abcdefghij", 20);
		wait_for_end(sock);
		close(sock);
		return NULL;
	case OLD_CHUNK_AFTER_FDS_MISSING:
		send_offer(sock, 2, 5);
		send_batch(sock, 1, o->files, 1);
		send_chunk(sock, "01234", 5);
		wait_for_end(sock);
		close(sock);
		return NULL;
	default:
		break;
	}

	struct kt_handover h;
	kt_handover_init(&h);
	h.sock = sock;
	h.connections = 3;
	for (size_t i = 0; i < N_HANDED; i++) {
		struct kt_handed *e = kt_handover_add(&h, handed[i].kind, o->files[i], handed[i].label);
		if (!e)
			break;
		e->vsock = handed[i].vsock;
		e->port = handed[i].port;
		snprintf(e->bpf.object, sizeof(e->bpf.object), "%s", handed[i].object);
		snprintf(e->bpf.name, sizeof(e->bpf.name), "%s", handed[i].name);
		snprintf(e->bpf.strategy, sizeof(e->bpf.strategy), "%s", handed[i].strategy);
		if (handed[i].kind == KT_HANDED_PROBE) {
			size_t len;
			uint8_t *st = probe_state_bytes(&len);
			kt_handover_set_probe(&h, e, st, len);
			free(st);
		}
	}
	for (size_t i = 0; i < o->n_records; i++) {
		uint8_t *p = record_bytes(i, o->record_size);
		kt_handover_add_record(&h, p, o->record_size);
		free(p);
	}
	o->offer_rc = kt_takeover_offer(&h, o->err, sizeof(o->err));
	if (o->offer_rc == 0) {
		o->commit_rc = kt_takeover_await_commit(&h, KT_TAKEOVER_COMMIT_MS, o->err, sizeof(o->err));
		if (o->commit_rc == 1)
			kt_takeover_done(&h, 7);
	}
	kt_handover_free(&h, false); /* the files are the test's; closes sock */
	return NULL;
}

struct exchange {
	int before;
	struct tmp_listener l;
	struct old_daemon old;
	pthread_t thread;
	struct kt_takeover_ask ask;
};

static void exchange_start(struct exchange *x, enum old_kind kind, size_t n_records,
			   size_t record_size)
{
	x->before = count_fds();
	listener_open(&x->l);
	memset(&x->old, 0, sizeof(x->old));
	x->old.kind = kind;
	x->old.listen_fd = x->l.fd;
	x->old.n_records = n_records;
	x->old.record_size = record_size;
	x->old.offer_rc = x->old.commit_rc = 99;
	make_files(x->old.files, N_HANDED);
	cr_assert_eq(pthread_create(&x->thread, NULL, old_daemon_run, &x->old), 0);
	x->ask = (struct kt_takeover_ask){ .control_path = x->l.path, .mode = "sink",
					   .capture = "bpf" };
}

static void exchange_end(struct exchange *x)
{
	pthread_join(x->thread, NULL);
	close_all(x->old.files, N_HANDED);
	listener_close(&x->l);
	expect_no_leak(x->before);
}

/* Everything the old daemon handed, as it handed it. */
static void expect_all_handed(const struct exchange *x, const struct kt_handover *out)
{
	cr_assert_eq(out->n_fds, N_HANDED);
	cr_expect_eq(out->peer_pid, (uint32_t)getpid());
	cr_expect_eq(out->connections, 3);
	cr_expect_geq(out->sock, 0);
	for (size_t i = 0; i < N_HANDED; i++) {
		const struct kt_handed *e = &out->fds[i];
		cr_expect_eq(e->kind, handed[i].kind, "descriptor %zu", i);
		cr_assert_geq(e->fd, 0, "descriptor %zu not received", i);
		cr_expect_neq(e->fd, x->old.files[i]);
		cr_expect(same_file(e->fd, x->old.files[i]), "descriptor %zu is not the file handed",
			  i);
		cr_expect_eq(e->bpf.fd, e->fd, "descriptor %zu: bpf.fd %d, fd %d", i, e->bpf.fd,
			     e->fd);
		cr_expect_str_eq(e->label, handed[i].label);
		cr_expect_eq(e->vsock, handed[i].vsock);
		cr_expect_eq(e->port, handed[i].port);
		cr_expect_str_eq(e->bpf.object, handed[i].object);
		cr_expect_str_eq(e->bpf.name, handed[i].name);
		cr_expect_str_eq(e->bpf.strategy, handed[i].strategy);
		if (e->kind != KT_HANDED_PROBE) {
			cr_expect_null(e->probe, "descriptor %zu carries a probe's state", i);
			continue;
		}
		/* the probe's state, byte for byte */
		size_t len;
		uint8_t *st = probe_state_bytes(&len);
		cr_assert_eq(e->probe_len, len);
		cr_expect(memcmp(e->probe, st, len) == 0, "the probe's state differs");
		free(st);
	}
}

/* The state: n records of size bytes, exactly. */
static void expect_state(const struct kt_handover *out, size_t n, size_t size)
{
	struct kt_handover ref;
	kt_handover_init(&ref);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = record_bytes(i, size);
		cr_assert_eq(kt_handover_add_record(&ref, p, size), 0);
		free(p);
	}
	cr_assert_eq(out->state_len, ref.state_len, "%zu bytes of state, %zu handed",
		     out->state_len, ref.state_len);
	if (ref.state_len)
		cr_expect(memcmp(out->state, ref.state, ref.state_len) == 0, "the state differs");
	size_t bad = 0;
	struct walk w = { out->state, out->state + out->state_len, 0, 0 };
	cr_expect_eq(kt_handover_each_record(out, walk_rec, &w, &bad), 0);
	cr_expect_eq(w.n, n);
	kt_handover_free(&ref, false);
}

Test(takeover_exchange, everything_handed_arrives_and_the_commit_gets_the_done)
{
	struct exchange x;
	exchange_start(&x, OLD_HANDS_OVER, 5, 300);
	struct kt_handover out;
	char err[256] = "";
	int rc = kt_takeover_request(&x.ask, &out, err, sizeof(err));
	cr_assert_eq(rc, 1, "kt_takeover_request: %d (%s)", rc, err);
	cr_expect(x.old.asked);
	cr_expect_null(x.old.check, "the old side refused the ask: %s", x.old.check);
	cr_expect_str_eq(x.old.asked_mode, "sink");
	cr_expect_str_eq(x.old.asked_capture, "bpf");
	expect_all_handed(&x, &out);
	expect_state(&out, 5, 300);

	uint64_t spooled = 0;
	rc = kt_takeover_commit(&out, &spooled, err, sizeof(err));
	cr_expect_eq(rc, 0, "kt_takeover_commit: %d (%s)", rc, err);
	cr_expect_eq(spooled, 7);
	pthread_join(x.thread, NULL);
	cr_expect_eq(x.old.offer_rc, 0, "offer: %s", x.old.err);
	cr_expect_eq(x.old.commit_rc, 1, "await_commit: %s", x.old.err);
	kt_handover_free(&out, true);
	close_all(x.old.files, N_HANDED);
	listener_close(&x.l);
	expect_no_leak(x.before);
}

Test(takeover_exchange, no_state_and_descriptors_only)
{
	struct exchange x;
	exchange_start(&x, OLD_HANDS_OVER, 0, 0);
	struct kt_handover out;
	char err[256] = "";
	int rc = kt_takeover_request(&x.ask, &out, err, sizeof(err));
	cr_assert_eq(rc, 1, "kt_takeover_request: %d (%s)", rc, err);
	expect_all_handed(&x, &out);
	cr_expect_eq(out.state_len, 0);
	uint64_t spooled = 0;
	cr_expect_eq(kt_takeover_commit(&out, &spooled, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(spooled, 7);
	kt_handover_free(&out, true);
	exchange_end(&x);
}

Test(takeover_exchange, a_state_beyond_one_chunk_arrives_whole)
{
	struct exchange x;
	/* 9 MiB and a bit: three chunks of at most 4 MiB */
	exchange_start(&x, OLD_HANDS_OVER, 9, (1u << 20) + 17);
	struct kt_handover out;
	char err[256] = "";
	int rc = kt_takeover_request(&x.ask, &out, err, sizeof(err));
	cr_assert_eq(rc, 1, "kt_takeover_request: %d (%s)", rc, err);
	expect_all_handed(&x, &out);
	expect_state(&out, 9, (1u << 20) + 17);
	uint64_t spooled = 0;
	cr_expect_eq(kt_takeover_commit(&out, &spooled, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(spooled, 7);
	kt_handover_free(&out, true);
	exchange_end(&x);
	cr_expect_eq(x.old.commit_rc, 1, "await_commit: %s", x.old.err);
}

Test(takeover_exchange, a_refusal_is_an_error_with_its_reason)
{
	struct exchange x;
	exchange_start(&x, OLD_REFUSES, 0, 0);
	struct kt_handover out;
	char err[256] = "";
	int rc = kt_takeover_request(&x.ask, &out, err, sizeof(err));
	cr_expect_eq(rc, -1);
	cr_expect(strstr(err, "refused: a probe is attaching") != NULL, "err: %s", err);
	cr_expect_eq(out.sock, -1);
	cr_expect_eq(out.n_fds, 0);
	cr_expect_null(out.state);
	exchange_end(&x);
}

Test(takeover_exchange, a_refusal_of_another_mode_carries_the_checks_reason)
{
	struct exchange x;
	exchange_start(&x, OLD_HANDS_OVER, 0, 0);
	/* the test's old daemon only says what its check says; it still hands over */
	x.ask.mode = "tap";
	struct kt_handover out;
	char err[256] = "";
	int rc = kt_takeover_request(&x.ask, &out, err, sizeof(err));
	cr_expect_eq(rc, 1, "%s", err);
	cr_expect_str_eq(x.old.asked_mode, "tap");
	kt_handover_free(&out, true);
	exchange_end(&x);
	cr_assert_not_null(x.old.check);
	cr_expect(strstr(x.old.check, "--mode tap") != NULL, "%s", x.old.check);
}

Test(takeover_exchange, nobody_at_the_path_is_nothing_to_take_over)
{
	int before = count_fds();
	struct tmp_listener l;
	listener_open(&l);
	close(l.fd);
	l.fd = -1;
	struct kt_handover out;
	char err[256] = "";
	/* no file at all */
	char missing[64];
	snprintf(missing, sizeof(missing), "%s/none.sock", l.dir);
	struct kt_takeover_ask ask = { .control_path = missing, .mode = "sink", .capture = "bpf" };
	cr_expect_eq(kt_takeover_request(&ask, &out, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(out.sock, -1);
	cr_expect_eq(out.n_fds, 0);
	/* a socket file nobody listens on */
	ask.control_path = l.path;
	cr_expect_eq(kt_takeover_request(&ask, &out, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(out.sock, -1);
	listener_close(&l);
	expect_no_leak(before);
}

Test(takeover_exchange, a_path_too_long_is_an_error)
{
	int before = count_fds();
	char path[200];
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	struct kt_takeover_ask ask = { .control_path = path, .mode = "sink", .capture = "bpf" };
	struct kt_handover out;
	char err[256] = "";
	cr_expect_eq(kt_takeover_request(&ask, &out, err, sizeof(err)), -1);
	cr_expect(strstr(err, "too long") != NULL, "err: %s", err);
	expect_no_leak(before);
}

Test(takeover_exchange, the_new_side_going_away_before_the_commit_is_an_error_to_the_old)
{
	struct exchange x;
	exchange_start(&x, OLD_HANDS_OVER, 2, 64);
	struct kt_handover out;
	char err[256] = "";
	int rc = kt_takeover_request(&x.ask, &out, err, sizeof(err));
	cr_assert_eq(rc, 1, "kt_takeover_request: %d (%s)", rc, err);
	expect_all_handed(&x, &out);
	kt_handover_free(&out, true); /* closes the connection: no commit */
	exchange_end(&x);
	cr_expect_eq(x.old.offer_rc, 0, "offer: %s", x.old.err);
	cr_expect_eq(x.old.commit_rc, -1);
	cr_expect(x.old.err[0] != '\0', "await_commit said nothing");
}

Test(takeover_exchange, await_commit_gives_up_on_silence_and_refuses_another_message)
{
	int before = count_fds();
	int sv[2];
	pair(sv);
	struct kt_handover h;
	kt_handover_init(&h);
	h.sock = sv[0];
	char err[256] = "";
	/* a new side that says nothing: given up after the timeout */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(kt_takeover_await_commit(&h, 300, err, sizeof(err)), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_expect_geq(took, 0.3, "gave up after %.3f s", took);
	cr_expect_str_eq(err, "no commit within 0.3 s");
	cr_assert_eq(send_hello(sv[1], NULL, 0), 0);
	cr_expect_eq(kt_takeover_await_commit(&h, KT_TAKEOVER_COMMIT_MS, err, sizeof(err)), -1);
	cr_expect(strstr(err, "hello") != NULL, "err: %s", err);
	kt_takeover_refuse(sv[1], "gave up");
	cr_expect_eq(kt_takeover_await_commit(&h, KT_TAKEOVER_COMMIT_MS, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "gave up");
	kt_handover_free(&h, false);
	close(sv[1]);
	expect_no_leak(before);
}

static void expect_broken_offer(enum old_kind kind, const char *why)
{
	struct exchange x;
	exchange_start(&x, kind, 0, 0);
	struct kt_handover out;
	char err[256] = "";
	int rc = kt_takeover_request(&x.ask, &out, err, sizeof(err));
	cr_expect_eq(rc, -1, "kt_takeover_request: %d (%s)", rc, err);
	if (why)
		cr_expect(strstr(err, why) != NULL, "err \"%s\" does not say \"%s\"", err, why);
	cr_expect_eq(out.sock, -1);
	cr_expect_eq(out.n_fds, 0);
	cr_expect_null(out.fds);
	cr_expect_null(out.state);
	exchange_end(&x); /* every descriptor received closed again */
}

Test(takeover_exchange, a_batch_carrying_fewer_descriptors_than_it_announces_is_an_error)
{
	expect_broken_offer(OLD_FEWER_FDS, "announced 3 descriptors and carried 2");
}

Test(takeover_exchange, fewer_descriptors_than_the_offer_then_the_end_is_an_error)
{
	expect_broken_offer(OLD_FDS_THEN_END, NULL);
}

Test(takeover_exchange, more_state_than_announced_is_an_error)
{
	expect_broken_offer(OLD_MORE_STATE, "more state than the 10 bytes announced");
}

Test(takeover_exchange, a_state_chunk_where_a_batch_is_due_is_an_error)
{
	expect_broken_offer(OLD_CHUNK_AFTER_FDS_MISSING, "state chunk message instead of a fd batch");
}

/* ------------------------------------------------------------ kt_takeover_receive */

Test(takeover_receive, an_offer_of_nothing_is_received_as_nothing)
{
	int before = count_fds();
	int sv[2];
	pair(sv);
	cr_assert_eq(send_offer(sv[1], 0, 0), 0);
	struct kt_handover out;
	char err[256] = "";
	cr_expect_eq(kt_takeover_receive(sv[0], &out, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(out.sock, sv[0]);
	cr_expect_eq(out.n_fds, 0);
	cr_expect_eq(out.state_len, 0);
	kt_handover_free(&out, true);
	cr_expect(is_closed(sv[0]), "the socket is out's");
	close(sv[1]);
	expect_no_leak(before);
}

Test(takeover_receive, an_end_before_the_offer_is_an_error_and_closes_the_socket)
{
	int before = count_fds();
	int sv[2];
	pair(sv);
	shutdown(sv[1], SHUT_WR);
	struct kt_handover out;
	char err[256] = "";
	cr_expect_eq(kt_takeover_receive(sv[0], &out, err, sizeof(err)), -1);
	cr_expect(err[0] != '\0');
	cr_expect(is_closed(sv[0]));
	cr_expect_eq(out.sock, -1);
	close(sv[1]);
	expect_no_leak(before);
}

struct offer_sender {
	int fd;
	const kt_ctl_msg *m;
	int rc;
	char err[128];
};

/* Sends while the test receives: an offer may be larger than the socket's buffer. */
static void *send_offer_thread(void *arg)
{
	struct offer_sender *o = arg;
	o->rc = kt_ctl_send(o->fd, o->m, o->err, sizeof(o->err));
	return NULL;
}

/* An offer of one descriptor, item, received: kt_takeover_receive's result, err. */
static int receive_one(Katatrace__Control__V1__HandedFd *item, char *err, size_t errlen)
{
	int sv[2];
	pair(sv);
	Katatrace__Control__V1__TakeoverOffer o = KATATRACE__CONTROL__V1__TAKEOVER_OFFER__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	o.fds = &item;
	o.n_fds = 1;
	m.body_case = BODY(TAKEOVER_OFFER);
	m.takeover_offer = &o;
	struct offer_sender snd = { .fd = sv[1], .m = &m };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, send_offer_thread, &snd), 0);
	struct kt_handover out;
	int rc = kt_takeover_receive(sv[0], &out, err, errlen);
	pthread_join(t, NULL);
	cr_assert_eq(snd.rc, 0, "%s", snd.err);
	close(sv[1]);
	return rc;
}

/* item alone in an offer is refused, err naming what; nothing leaks. */
static void expect_item_refused(Katatrace__Control__V1__HandedFd *item, const char *what)
{
	int before = count_fds();
	char err[256] = "";
	cr_expect_eq(receive_one(item, err, sizeof(err)), -1);
	cr_expect(strstr(err, what) != NULL, "err: %s, expected %s in it", err, what);
	expect_no_leak(before);
}

Test(takeover_receive, a_probe_without_its_state_is_an_error)
{
	Katatrace__Control__V1__HandedFd item = KATATRACE__CONTROL__V1__HANDED_FD__INIT;
	item.kind = KATATRACE__CONTROL__V1__HANDED_FD__KIND__PROBE;
	expect_item_refused(&item, "probe descriptor 0: without its state");
}

Test(takeover_receive, a_probe_state_beyond_its_limit_is_an_error)
{
	static char target[KT_TAKEOVER_PROBE_STATE_MAX + 1];
	memset(target, 'x', sizeof(target) - 1);
	Katatrace__Control__V1__Hello hello = KATATRACE__CONTROL__V1__HELLO__INIT;
	hello.target = target;
	Katatrace__Control__V1__ProbeState st = KATATRACE__CONTROL__V1__PROBE_STATE__INIT;
	st.hello = &hello;
	Katatrace__Control__V1__HandedFd item = KATATRACE__CONTROL__V1__HANDED_FD__INIT;
	item.kind = KATATRACE__CONTROL__V1__HANDED_FD__KIND__PROBE;
	item.probe = &st;
	expect_item_refused(&item, "its state is too large");
}

Test(takeover_receive, an_unknown_kind_is_an_error)
{
	Katatrace__Control__V1__HandedFd item = KATATRACE__CONTROL__V1__HANDED_FD__INIT;
	item.kind = (Katatrace__Control__V1__HandedFd__Kind)9;
	expect_item_refused(&item, "unknown kind 9");
}

Test(takeover_receive, an_offer_beyond_the_limits_is_an_error)
{
	int before = count_fds();
	int sv[2];
	pair(sv);
	cr_assert_eq(send_offer(sv[1], 0, KT_TAKEOVER_STATE_MAX + 1), 0);
	struct kt_handover out;
	char err[256] = "";
	cr_expect_eq(kt_takeover_receive(sv[0], &out, err, sizeof(err)), -1);
	cr_expect(strstr(err, "beyond the limits") != NULL, "err: %s", err);
	close(sv[1]);
	expect_no_leak(before);
}

Test(takeover_receive, an_announced_state_that_never_comes_allocates_nothing_first)
{
	int before = count_fds();
	int sv[2];
	pair(sv);
	/* the most state an offer may announce, and a few bytes of it before the end */
	cr_assert_eq(send_offer(sv[1], 0, KT_TAKEOVER_STATE_MAX), 0);
	cr_assert_eq(send_chunk(sv[1], "abc", 3), 0);
	shutdown(sv[1], SHUT_WR);
	struct kt_handover out;
	char err[256] = "";
	watch_begin();
	cr_expect_eq(kt_takeover_receive(sv[0], &out, err, sizeof(err)), -1);
	size_t most = watch_end();
	/* what arrived and the messages' own buffers, not the 2 GiB announced */
	cr_expect_lt(most, 64u << 20, "an allocation of %zu bytes for 3 bytes of state", most);
	close(sv[1]);
	expect_no_leak(before);
}

Test(takeover_receive, empty_state_chunks_are_taken_as_nothing)
{
	int before = count_fds();
	int sv[2];
	pair(sv);
	cr_assert_eq(send_offer(sv[1], 0, 3), 0);
	cr_assert_eq(send_chunk(sv[1], NULL, 0), 0);
	cr_assert_eq(send_chunk(sv[1], "abc", 3), 0);
	struct kt_handover out;
	char err[256] = "";
	cr_expect_eq(kt_takeover_receive(sv[0], &out, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(out.state_len, 3);
	cr_expect(memcmp(out.state, "abc", 3) == 0);
	kt_handover_free(&out, true);
	close(sv[1]);
	expect_no_leak(before);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * systemd's side of a restart, as sd_notify(3) and sd_listen_fds(3) say it
 * (user/daemon/sd_notify.c, user/daemon/takeover_store.c): notification
 * datagrams received on a socket of the test's own, with the descriptor
 * they carry; descriptors passed from 3 on with LISTEN_PID, LISTEN_FDS and
 * LISTEN_FDNAMES, in a child process (descriptors 3 and up are the test
 * runner's in the parent); a handover stored and taken back whole, and
 * refused when its state or one of its descriptors is missing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/sd_notify.h"
#include "daemon/takeover_store.h"

#define MAX_GOT 64

/* What the test's notification socket received: texts and descriptors. */
struct got {
	char text[MAX_GOT][300];
	int fd[MAX_GOT];
	size_t n;
};

static char dir[32];
static int notify = -1;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kt-sd.XXXXXX");
	cr_assert(mkdtemp(dir));
	char path[80];
	snprintf(path, sizeof(path), "%s/notify", dir);
	notify = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	cr_assert_eq(bind(notify, (struct sockaddr *)&a, sizeof(a)), 0);
	setenv("NOTIFY_SOCKET", path, 1);
}

static void teardown(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/notify", dir);
	unlink(path);
	rmdir(dir);
	close(notify);
	unsetenv("NOTIFY_SOCKET");
}

TestSuite(sd_notify, .init = setup, .fini = teardown);

/* Every datagram waiting, in order. */
static void receive(struct got *g)
{
	memset(g, 0, sizeof(*g));
	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} ctl;
		char buf[300];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(notify, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0)
			return;
		cr_assert_lt(g->n, MAX_GOT);
		buf[n] = '\0';
		snprintf(g->text[g->n], sizeof(g->text[0]), "%s", buf);
		g->fd[g->n] = -1;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&g->fd[g->n], CMSG_DATA(cm), sizeof(int));
		g->n++;
	}
}

static bool same_file(int a, int b)
{
	struct stat x, y;
	return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

Test(sd_notify, a_state_arrives_as_sent)
{
	struct got g;
	cr_assert(kt_sd_notify_available());
	cr_assert_eq(kt_sd_notify("READY=1", -1), 0);
	receive(&g);
	cr_assert_eq(g.n, 1);
	cr_expect_str_eq(g.text[0], "READY=1");
	cr_expect_eq(g.fd[0], -1);
}

Test(sd_notify, a_stored_descriptor_arrives_with_its_name)
{
	int p[2];
	struct got g;
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(kt_sd_store_fd(p[0], "katatrace-fd-7"), 0);
	receive(&g);
	cr_assert_eq(g.n, 1);
	cr_expect_str_eq(g.text[0], "FDSTORE=1\nFDNAME=katatrace-fd-7\nFDPOLL=0");
	cr_expect(same_file(g.fd[0], p[0]));
	close(g.fd[0]);
	close(p[0]);
	close(p[1]);
}

Test(sd_notify, without_a_notification_socket_nothing_is_sent)
{
	unsetenv("NOTIFY_SOCKET");
	cr_expect_not(kt_sd_notify_available());
	errno = 0;
	cr_expect_eq(kt_sd_notify("READY=1", -1), -1);
	cr_expect_eq(errno, ENOENT);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	cr_expect_not(kt_sd_notify_available());
	cr_expect_eq(kt_sd_notify("READY=1", -1), -1);
}

/* ------------------------------------------------------------ passed at start */

/*
 * Runs fn in a child given fds from 3 on under names ("a:b"), as systemd
 * starts a service; its exit status is what fn returns.
 */
static int as_started(const int *fds, size_t n, const char *names, const char *pid_text,
		      int (*fn)(void *), void *ctx)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int high[16];
		for (size_t i = 0; i < n; i++)
			high[i] = fcntl(fds[i], F_DUPFD, 100);
		for (size_t i = 0; i < n; i++)
			dup2(high[i], 3 + (int)i);
		char text[32], count[32];
		snprintf(text, sizeof(text), "%d", (int)getpid());
		snprintf(count, sizeof(count), "%zu", n);
		setenv("LISTEN_PID", pid_text ? pid_text : text, 1);
		setenv("LISTEN_FDS", count, 1);
		if (names)
			setenv("LISTEN_FDNAMES", names, 1);
		_exit(fn(ctx));
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

struct listen_want {
	const int *fds;
	size_t n;
	const char *const *names;
};

static int check_listen(void *ctx)
{
	const struct listen_want *w = ctx;
	size_t n;
	struct kt_sd_fd *got = kt_sd_listen_fds(&n);
	if (n != w->n)
		return 1;
	for (size_t i = 0; i < n; i++) {
		if (got[i].fd != 3 + (int)i || strcmp(got[i].name, w->names[i]) != 0)
			return 2;
		if (!(fcntl(got[i].fd, F_GETFD) & FD_CLOEXEC))
			return 3;
		if (!same_file(got[i].fd, w->fds[i]))
			return 4;
	}
	/* the variables are gone: a child of this process would not take them */
	if (getenv("LISTEN_PID") || getenv("LISTEN_FDS") || getenv("LISTEN_FDNAMES"))
		return 5;
	free(got);
	return 0;
}

static int check_none(void *ctx)
{
	(void)ctx;
	size_t n = 99;
	struct kt_sd_fd *got = kt_sd_listen_fds(&n);
	return got == NULL && n == 0 && !getenv("LISTEN_FDS") ? 0 : 1;
}

Test(sd_notify, descriptors_passed_at_start_come_with_their_names)
{
	int a[2], b[2];
	cr_assert_eq(pipe(a), 0);
	cr_assert_eq(pipe(b), 0);
	int fds[3] = { a[0], b[1], a[1] };
	const char *const names[] = { "one", "two", "" };
	struct listen_want w = { fds, 3, names };
	cr_expect_eq(as_started(fds, 3, "one:two:", NULL, check_listen, &w), 0);
	const char *const unnamed[] = { "", "", "" };
	struct listen_want u = { fds, 3, unnamed };
	cr_expect_eq(as_started(fds, 3, NULL, NULL, check_listen, &u), 0);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

Test(sd_notify, descriptors_for_another_process_are_not_taken)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_expect_eq(as_started(p, 1, "x", "1", check_none, NULL), 0);
	cr_expect_eq(as_started(p, 1, "x", "not-a-pid", check_none, NULL), 0);
	close(p[0]);
	close(p[1]);
}

/* ------------------------------------------------------------ a handover stored */

static const uint8_t STATE[] = "records of the connections";

/* Stores a handover of three pipes' ends; the stored descriptors in order, and their names. */
static void store_three(int p[2], int q[2], struct got *g)
{
	struct kt_handover h;
	char err[256] = "";
	kt_handover_init(&h);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(pipe(q), 0);
	struct kt_handed *e = kt_handover_add(&h, KT_HANDED_LISTENER, p[0], "/run/vc/vm/x/clh.sock_10240");
	e->port = 10240;
	kt_handover_add(&h, KT_HANDED_CONNECTION, q[0], "/run/vc/vm/x/clh.sock_10240");
	e = kt_handover_add(&h, KT_HANDED_BPF, p[1], "link:kt_tp_send");
	snprintf(e->bpf.object, sizeof(e->bpf.object), "unix capture");
	snprintf(e->bpf.name, sizeof(e->bpf.name), "link:kt_tp_send");
	snprintf(e->bpf.strategy, sizeof(e->bpf.strategy), "tracepoint");
	cr_assert_eq(kt_handover_add_record(&h, STATE, sizeof(STATE)), 0);
	h.connections = 1;
	cr_assert_eq(kt_handover_to_store(&h, err, sizeof(err)), 0, "%s", err);
	for (size_t i = 0; i < h.n_fds; i++)
		h.fds[i].fd = -1; /* the test's own */
	kt_handover_free(&h, false);
	receive(g);
	cr_assert_eq(g->n, 4, "three descriptors and the state");
	cr_expect_str_eq(g->text[0], "FDSTORE=1\nFDNAME=" KT_STORE_FD_PREFIX "0\nFDPOLL=0");
	cr_expect_str_eq(g->text[2], "FDSTORE=1\nFDNAME=" KT_STORE_FD_PREFIX "2\nFDPOLL=0");
	cr_expect_str_eq(g->text[3], "FDSTORE=1\nFDNAME=" KT_STORE_STATE "\nFDPOLL=0");
}

struct store_want {
	const int *orig; /* the files each handed descriptor must be */
	size_t n;
};

static int check_taken(void *ctx)
{
	const struct store_want *w = ctx;
	struct kt_handover h;
	char err[256];
	if (kt_handover_from_store(&h, err, sizeof(err)) != 1)
		return 1;
	if (h.n_fds != w->n || h.connections != 1)
		return 2;
	if (h.fds[0].kind != KT_HANDED_LISTENER || h.fds[0].port != 10240 ||
	    strcmp(h.fds[0].label, "/run/vc/vm/x/clh.sock_10240") != 0 ||
	    h.fds[1].kind != KT_HANDED_CONNECTION || h.fds[2].kind != KT_HANDED_BPF ||
	    strcmp(h.fds[2].bpf.object, "unix capture") != 0 ||
	    strcmp(h.fds[2].bpf.strategy, "tracepoint") != 0 || h.fds[2].bpf.fd != h.fds[2].fd)
		return 3;
	for (size_t i = 0; i < h.n_fds; i++)
		if (!same_file(h.fds[i].fd, w->orig[i]))
			return 4;
	size_t want = 4 + sizeof(STATE);
	if (h.state_len != want || memcmp(h.state + 4, STATE, sizeof(STATE)) != 0)
		return 5;
	kt_handover_free(&h, true);
	return 0;
}

/* Taken without the connection (descriptor 1), which ended while stored. */
static int check_taken_without_the_connection(void *ctx)
{
	const struct store_want *w = ctx;
	struct kt_handover h;
	char err[256];
	if (kt_handover_from_store(&h, err, sizeof(err)) != 1)
		return 1;
	if (h.n_fds != 3 || h.fds[1].kind != KT_HANDED_CONNECTION || h.fds[1].fd != -1)
		return 2;
	if (!same_file(h.fds[0].fd, w->orig[0]) || !same_file(h.fds[2].fd, w->orig[2]))
		return 3;
	kt_handover_free(&h, true);
	return 0;
}

/* ctx: how many were passed; each must be closed after a refusal */
static int check_refused(void *ctx)
{
	int passed = *(const int *)ctx;
	struct kt_handover h;
	char err[256] = "";
	int rc = kt_handover_from_store(&h, err, sizeof(err));
	for (int fd = 3; fd < 3 + passed; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			return 10 + fd;
	return rc == -1 && err[0] ? 0 : 1;
}

static int check_nothing(void *ctx)
{
	int passed = *(const int *)ctx;
	struct kt_handover h;
	char err[256];
	int rc = kt_handover_from_store(&h, err, sizeof(err));
	for (int fd = 3; fd < 3 + passed; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			return 10 + fd;
	return rc == 0 ? 0 : 1;
}

/* What store_three opened, closed. */
static void close_three(int p[2], int q[2], struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		close(g->fd[i]);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

Test(sd_notify, a_stored_handover_is_taken_back_whole_or_without_a_connection_that_ended)
{
	int p[2], q[2];
	struct got g;
	store_three(p, q, &g);
	int orig[3] = { p[0], q[0], p[1] };
	struct store_want w = { orig, 3 };
	/* passed back in the order stored, as systemd does */
	char names[256];
	snprintf(names, sizeof(names), KT_STORE_FD_PREFIX "0:" KT_STORE_FD_PREFIX
		 "1:" KT_STORE_FD_PREFIX "2:" KT_STORE_STATE);
	cr_expect_eq(as_started(g.fd, 4, names, NULL, check_taken, &w), 0);
	/* in another order too: the names say which is which */
	int shuffled[4] = { g.fd[3], g.fd[2], g.fd[0], g.fd[1] };
	snprintf(names, sizeof(names), KT_STORE_STATE ":" KT_STORE_FD_PREFIX "2:" KT_STORE_FD_PREFIX
		 "0:" KT_STORE_FD_PREFIX "1");
	cr_expect_eq(as_started(shuffled, 4, names, NULL, check_taken, &w), 0);
	/* without the connection (descriptor 1): it ended while stored, and systemd dropped it */
	int without[3] = { g.fd[0], g.fd[2], g.fd[3] };
	snprintf(names, sizeof(names), KT_STORE_FD_PREFIX "0:" KT_STORE_FD_PREFIX "2:" KT_STORE_STATE);
	cr_expect_eq(as_started(without, 3, names, NULL, check_taken_without_the_connection, &w), 0);
	close_three(p, q, &g);
}

Test(sd_notify, a_store_missing_another_descriptor_or_its_state_is_not_used)
{
	int p[2], q[2];
	struct got g;
	store_three(p, q, &g);
	char names[256];
	/* descriptor 2 (a BPF link) missing */
	int without[3] = { g.fd[0], g.fd[1], g.fd[3] };
	snprintf(names, sizeof(names), KT_STORE_FD_PREFIX "0:" KT_STORE_FD_PREFIX "1:" KT_STORE_STATE);
	int three = 3, two = 2;
	cr_expect_eq(as_started(without, 3, names, NULL, check_refused, &three), 0);
	/* no state: nothing of this daemon there, every descriptor closed */
	snprintf(names, sizeof(names), KT_STORE_FD_PREFIX "0:" KT_STORE_FD_PREFIX
		 "1:" KT_STORE_FD_PREFIX "2");
	cr_expect_eq(as_started(g.fd, 3, names, NULL, check_nothing, &three), 0);
	/* a state that is not one (a pipe end under its name) */
	int bogus[2] = { g.fd[0], p[0] };
	snprintf(names, sizeof(names), KT_STORE_FD_PREFIX "0:" KT_STORE_STATE);
	cr_expect_eq(as_started(bogus, 2, names, NULL, check_refused, &two), 0);
	close_three(p, q, &g);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker's parts that run without a broker process: its wire protocol
 * (user/daemon/broker_wire.c) over a real SOCK_SEQPACKET socketpair, and
 * its set of listeners (user/daemon/broker_listen.c) on unix sockets in a
 * temporary directory.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/broker.h"
#include "daemon/broker_listen.h"
#include "daemon/broker_wire.h"

static int sv[2];

static void pair(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static void unpair(void)
{
	close(sv[0]);
	close(sv[1]);
}

TestSuite(broker_wire, .init = pair, .fini = unpair);

static struct kt_bmsg m, in; /* big: not on the stack */

Test(broker_wire, listen_carries_its_fd)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	kt_bmsg_listen(&m, 7, "/run/vc/vm/x/clh.sock_10240", false, 10240);
	cr_assert_eq(kt_bmsg_send(sv[0], &m, p[1]), 0);
	int fd;
	cr_assert_eq(kt_bmsg_recv(sv[1], &in, &fd, MSG_DONTWAIT), 1);
	cr_expect_eq(in.type, KT_BMSG_LISTEN);
	cr_expect_eq(in.key, 7);
	cr_expect_str_eq(in.text, "/run/vc/vm/x/clh.sock_10240");
	cr_expect_eq(in.vsock, 0);
	cr_expect_eq(in.port, 10240);
	cr_assert_geq(fd, 0);
	cr_expect_neq(fd, p[1]);
	cr_expect(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* the same pipe */
	cr_assert_eq(write(fd, "x", 1), 1);
	char c;
	cr_expect_eq(read(p[0], &c, 1), 1);
	cr_expect_eq(c, 'x');
	close(fd);
	close(p[0]);
	close(p[1]);
}

Test(broker_wire, nothing_waiting_and_peer_gone)
{
	int fd;
	cr_expect_eq(kt_bmsg_recv(sv[1], &in, &fd, MSG_DONTWAIT), 0);
	cr_expect_eq(fd, -1);
	close(sv[0]);
	sv[0] = -1;
	cr_expect_eq(kt_bmsg_recv(sv[1], &in, &fd, MSG_DONTWAIT), -1);
	struct kt_bchan ch = { .sock = sv[1] };
	kt_bmsg_text(&ch.m, KT_BMSG_READY, 0, NULL);
	kt_bchan_send(&ch, -1);
	cr_expect(ch.broken);
}

Test(broker_wire, a_datagram_of_another_size_is_ignored_and_its_fd_closed)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	/* half a message, with an fd */
	kt_bmsg_text(&m, KT_BMSG_LISTEN, 1, "half");
	struct iovec iov = { &m, sizeof(m) / 2 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[1], sizeof(int));
	cr_assert_eq(sendmsg(sv[0], &mh, 0), (ssize_t)(sizeof(m) / 2));
	close(p[1]);
	int fd;
	cr_assert_eq(kt_bmsg_recv(sv[1], &in, &fd, MSG_DONTWAIT), 1);
	cr_expect_eq(in.type, 0);
	cr_expect_eq(fd, -1);
	/* every write end is closed: the reader sees the end */
	char b;
	cr_expect_eq(read(p[0], &b, 1), 0);
	close(p[0]);
}

Test(broker_wire, text_arrives_terminated)
{
	kt_bmsg_text(&m, KT_BMSG_GONE, 0, NULL);
	memset(m.text, 'a', sizeof(m.text)); /* no NUL at all */
	cr_assert_eq(kt_bmsg_send(sv[0], &m, -1), 0);
	int fd;
	cr_assert_eq(kt_bmsg_recv(sv[1], &in, &fd, 0), 1);
	cr_expect_eq(in.type, KT_BMSG_GONE);
	cr_expect_eq(strlen(in.text), sizeof(in.text) - 1);
}

Test(broker_wire, text_is_cut_to_fit)
{
	char longer[sizeof(m.text) + 10];
	memset(longer, 'b', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	kt_bmsg_text(&m, KT_BMSG_FATAL, 0, longer);
	cr_expect_eq(strlen(m.text), sizeof(m.text) - 1);
}

Test(broker_wire, owner_question_and_answer)
{
	kt_bmsg_want_owner(&m, 5, 42, "vhost-1234");
	cr_assert_eq(kt_bmsg_send(sv[1], &m, -1), 0);
	int fd;
	cr_assert_eq(kt_bmsg_recv(sv[0], &in, &fd, 0), 1);
	cr_expect_eq(in.type, KT_BMSG_WANT_OWNER);
	cr_expect_eq(in.key, 5);
	cr_expect_eq(in.cid, 42);
	cr_expect_str_eq(kt_bmsg_writer_comm(&in), "vhost-1234");
	kt_bmsg_want_owner(&m, 6, 43, NULL);
	cr_expect_null(kt_bmsg_writer_comm(&m));

	struct kt_vsock_owner o = { .pid = 1234, .comm = "qemu-system-x86", .hypervisor = "qemu",
				    .sandbox = "0123456789abcdef" };
	kt_bmsg_owner(&m, 5, true, &o);
	cr_assert_eq(kt_bmsg_send(sv[0], &m, -1), 0);
	cr_assert_eq(kt_bmsg_recv(sv[1], &in, &fd, 0), 1);
	cr_expect_eq(in.type, KT_BMSG_OWNER);
	cr_expect_eq(in.key, 5);
	struct kt_vsock_owner out;
	cr_expect(kt_bmsg_owner_decode(&in, &out));
	cr_expect_eq(out.pid, 1234);
	cr_expect_str_eq(out.comm, "qemu-system-x86");
	cr_expect_str_eq(out.hypervisor, "qemu");
	cr_expect_neq(out.hypervisor, in.meta.hypervisor, "a static string, not the message's");
	cr_expect_str_eq(out.sandbox, "0123456789abcdef");
}

Test(broker_wire, owner_answer_is_checked)
{
	struct kt_vsock_owner out;
	kt_bmsg_text(&m, KT_BMSG_OWNER, 1, NULL);
	m.vsock = 0;
	memset(m.text, 'c', sizeof(m.text));            /* comm without a NUL */
	memset(m.meta.id, 'z', sizeof(m.meta.id));      /* id without a NUL */
	snprintf(m.meta.hypervisor, sizeof(m.meta.hypervisor), "not-a-hypervisor");
	cr_expect_not(kt_bmsg_owner_decode(&m, &out));
	cr_expect_eq(strlen(out.comm), sizeof(out.comm) - 1);
	cr_expect_eq(strlen(out.sandbox), sizeof(m.meta.id) - 1, "cut at its array's end");
	cr_expect_null(out.hypervisor);
	kt_bmsg_text(&m, KT_BMSG_OWNER, 1, NULL);
	snprintf(m.meta.id, sizeof(m.meta.id), "../etc");
	kt_bmsg_owner_decode(&m, &out);
	cr_expect_str_eq(out.sandbox, "", "an implausible id is not taken");
	snprintf(m.meta.id, sizeof(m.meta.id), "..");
	kt_bmsg_owner_decode(&m, &out);
	cr_expect_str_eq(out.sandbox, "");
}

/* ------------------------------------------------------------ listeners */

struct heard {
	uint64_t key[8];
	int fd[8];
	char label[8][KT_PATH_MAX];
	size_t n;
	uint64_t withdrawn[8];
	size_t n_withdrawn;
	const char *path_at_withdraw; /* its socket file still exists when withdrawn */
	bool file_at_withdraw;
};

static void announce(void *ctx, uint64_t key, int fd, const char *label, bool vsock, unsigned port)
{
	struct heard *h = ctx;
	(void)vsock;
	(void)port;
	cr_assert_lt(h->n, 8);
	h->key[h->n] = key;
	h->fd[h->n] = fd;
	snprintf(h->label[h->n], sizeof(h->label[h->n]), "%s", label);
	h->n++;
}

static void withdraw(void *ctx, uint64_t key)
{
	struct heard *h = ctx;
	struct stat st;
	cr_assert_lt(h->n_withdrawn, 8);
	h->withdrawn[h->n_withdrawn++] = key;
	h->file_at_withdraw = h->path_at_withdraw && lstat(h->path_at_withdraw, &st) == 0;
}

static void announce_control(void *ctx, int fd, const char *path)
{
	struct heard *h = ctx;
	cr_assert_lt(h->n, 8);
	h->key[h->n] = 0;
	h->fd[h->n] = fd;
	snprintf(h->label[h->n], sizeof(h->label[h->n]), "control %s", path);
	h->n++;
}

static const struct kt_listener_ops ops = { announce, withdraw, announce_control };

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kt-broker-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(broker_listen, .init = make_dir, .fini = remove_dir);

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

Test(broker_listen, bound_once_announced_withdrawn_removed)
{
	struct heard h = { 0 };
	struct kt_listeners l;
	char a[96], b[96], err[256];
	snprintf(a, sizeof(a), "%s/a.sock_10240", dir);
	snprintf(b, sizeof(b), "%s/b.sock_10240", dir);
	kt_listeners_init(&l, 0xffffffffu, &ops, &h);
	cr_assert_eq(kt_listeners_bind(&l, a, false, 10240, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(kt_listeners_bind(&l, b, false, 10240, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(kt_listeners_bind(&l, a, false, 10240, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(h.n, 2, "a path is bound once");
	cr_expect_eq(h.key[0], 1);
	cr_expect_eq(h.key[1], 2);
	cr_expect_str_eq(h.label[0], a);
	cr_expect(exists(a) && exists(b));

	h.path_at_withdraw = a;
	kt_listeners_unbind(&l, a);
	cr_assert_eq(h.n_withdrawn, 1);
	cr_expect_eq(h.withdrawn[0], 1);
	cr_expect(h.file_at_withdraw, "withdrawn before its file goes");
	cr_expect_not(exists(a));
	kt_listeners_unbind(&l, a); /* not bound any more: nothing */
	cr_expect_eq(h.n_withdrawn, 1);

	/* bound again: a new key */
	cr_assert_eq(kt_listeners_bind(&l, a, false, 10240, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(h.key[2], 3);

	kt_listeners_free(&l);
	cr_expect_eq(h.n_withdrawn, 1, "freeing withdraws nothing");
	cr_expect_not(exists(a));
	cr_expect_not(exists(b));
}

Test(broker_listen, a_replaced_socket_file_is_left_alone)
{
	struct heard h = { 0 };
	struct kt_listeners l;
	char a[96], err[256];
	snprintf(a, sizeof(a), "%s/a.sock_10240", dir);
	kt_listeners_init(&l, 0xffffffffu, &ops, &h);
	cr_assert_eq(kt_listeners_bind(&l, a, false, 10240, err, sizeof(err)), 0, "%s", err);
	/* someone else's listener at the same path now */
	cr_assert_eq(unlink(a), 0);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	kt_listeners_unbind(&l, a);
	cr_expect_eq(h.n_withdrawn, 1);
	cr_expect(exists(a), "not ours: kept");
	close(s);
	kt_listeners_free(&l);
}

Test(broker_listen, start_up_socket_paths_and_their_length)
{
	struct heard h = { 0 };
	struct kt_listeners l;
	char base[128], err[256];
	snprintf(base, sizeof(base), "%s/clh.sock", dir);
	const char *paths[] = { base };
	struct kt_broker_cfg cfg = { .socket_paths = paths, .n_paths = 1, .port = 10240,
				     .sink = true, .vsock_cid = 0xffffffffu };
	kt_listeners_init(&l, cfg.vsock_cid, &ops, &h);
	cr_assert_eq(kt_listeners_start(&l, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(h.n, 1);
	char want[160];
	snprintf(want, sizeof(want), "%s_10240", base);
	cr_expect_str_eq(h.label[0], want);
	kt_listeners_free(&l);

	char longer[KT_PATH_MAX + 8];
	memset(longer, 'p', sizeof(longer) - 1);
	longer[0] = '/';
	longer[sizeof(longer) - 1] = '\0';
	paths[0] = longer;
	kt_listeners_init(&l, cfg.vsock_cid, &ops, &h);
	cr_expect_eq(kt_listeners_start(&l, &cfg, err, sizeof(err)), -1);
	cr_expect(strstr(err, "is longer than 107 bytes"), "%s", err);
	kt_listeners_free(&l);
}

Test(broker_listen, the_control_socket_is_roots_alone_and_removed)
{
	struct heard h = { 0 };
	struct kt_listeners l;
	char sub_dir[96], path[128], err[256];
	snprintf(sub_dir, sizeof(sub_dir), "%s/katatrace-bpf", dir);
	snprintf(path, sizeof(path), "%s/control.sock", sub_dir);
	kt_listeners_init(&l, 0xffffffffu, &ops, &h);
	cr_assert_eq(kt_listeners_bind_control(&l, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(h.n, 1);
	char want[160];
	snprintf(want, sizeof(want), "control %s", path);
	cr_expect_str_eq(h.label[0], want);
	struct stat st;
	cr_assert_eq(stat(sub_dir, &st), 0, "its directory is made");
	cr_expect_eq(st.st_mode & 0777, 0700);
	cr_assert_eq(lstat(path, &st), 0);
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	cr_expect_eq(st.st_uid, geteuid());

	/* a second daemon's broker finds it in use */
	struct heard h2 = { 0 };
	struct kt_listeners l2;
	kt_listeners_init(&l2, 0xffffffffu, &ops, &h2);
	cr_expect_eq(kt_listeners_bind_control(&l2, path, err, sizeof(err)), -1);
	cr_expect(strstr(err, "in use"), "%s", err);
	cr_expect_eq(h2.n, 0);
	kt_listeners_free(&l2);
	cr_expect(exists(path), "the other's is left alone");

	close(h.fd[0]);
	kt_listeners_free(&l);
	cr_expect_not(exists(path), "removed with the rest");
}

/* ------------------------------------------------------------ takeover */

Test(broker_listen, an_adopted_listener_is_kept_announced_and_never_bound_again)
{
	struct heard h = { 0 };
	struct kt_listeners old, l;
	char a[96], ctl[96], err[256];
	snprintf(a, sizeof(a), "%s/a.sock_10240", dir);
	snprintf(ctl, sizeof(ctl), "%s/control.sock", dir);
	/* the old daemon's broker bound them */
	kt_listeners_init(&old, 0xffffffffu, &ops, &h);
	cr_assert_eq(kt_listeners_bind(&old, a, false, 10240, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(kt_listeners_bind_control(&old, ctl, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(h.n, 2);
	struct stat before;
	cr_assert_eq(lstat(a, &before), 0);

	/* the new one's adopts copies of them */
	struct heard h2 = { 0 };
	kt_listeners_init(&l, 0xffffffffu, &ops, &h2);
	cr_assert_eq(kt_listeners_adopt(&l, dup(h.fd[0]), a, false, 10240, false, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(kt_listeners_adopt(&l, dup(h.fd[1]), ctl, false, 0, true, err, sizeof(err)), 0,
		     "%s", err);
	cr_expect_eq(h2.n, 2, "both announced");
	char want[160];
	snprintf(want, sizeof(want), "control %s", ctl);
	cr_expect_str_eq(h2.label[1], want);
	cr_expect(kt_listeners_have_control(&l));
	cr_expect_eq(kt_listeners_adopt(&l, dup(h.fd[0]), a, false, 10240, false, err, sizeof(err)), -1);
	cr_expect(strstr(err, "handed over twice"), "%s", err);
	/* binding the same path again does nothing: no rebind, no second announcement */
	cr_assert_eq(kt_listeners_bind(&l, a, false, 10240, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(h2.n, 2);

	/* the old broker lets go without removing the files */
	kt_listeners_forget(&old);
	struct stat after;
	cr_assert_eq(lstat(a, &after), 0, "the socket file stays");
	cr_expect_eq(after.st_ino, before.st_ino);
	cr_expect(exists(ctl));
	/* the listener still accepts: the new broker's copy holds it */
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a);
	cr_expect_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(c);
	/* the new broker's files, as bound: removed at its end (each set closes its own fds) */
	kt_listeners_free(&l);
	cr_expect_not(exists(a));
	cr_expect_not(exists(ctl));
}

Test(broker_listen, a_vsock_port_is_bound_once)
{
	struct heard h = { 0 };
	struct kt_listeners l;
	char err[256];
	int p[2];
	cr_assert_eq(pipe(p), 0);
	kt_listeners_init(&l, 0xffffffffu, &ops, &h);
	/* a listener taken over on vsock port 10240: binding that port is not tried again */
	cr_assert_eq(kt_listeners_adopt(&l, p[0], "vsock port 10240", true, 10240, false, err,
					sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(kt_listeners_bind(&l, "vsock port 10240", true, 10240, err, sizeof(err)), 0);
	cr_expect_eq(h.n, 1, "announced once, when adopted");
	close(p[1]);
	kt_listeners_free(&l);
}

/* ------------------------------------------------------------ a broker process */

static void no_listen(void *ctx, uint64_t key, int fd, const char *label, bool vsock, unsigned port)
{
	(void)ctx, (void)key, (void)label, (void)vsock, (void)port;
	close(fd);
}
static void no_unlisten(void *ctx, uint64_t key) { (void)ctx, (void)key; }
static void no_sandbox(void *ctx, const struct kt_sandbox_meta *m) { (void)ctx, (void)m; }
static void no_gone(void *ctx, const char *id) { (void)ctx, (void)id; }
static void no_control(void *ctx, int fd, const char *path)
{
	(void)ctx, (void)path;
	close(fd);
}

/* counted: a pause must deliver what came before its PAUSED, and not lose the PAUSED */
static void count_counters(void *ctx, const uint64_t c[KT_CNT__MAX])
{
	(void)c;
	(*(int *)ctx)++;
}

Test(broker, pauses_and_resumes_answer_every_time)
{
	static const struct kt_broker_ops bops = { no_listen, no_unlisten, no_sandbox, no_gone,
						   count_counters, no_control };
	struct kt_broker_cfg cfg = { .run_root = "" };
	int counted = 0;
	struct kt_broker *b = kt_broker_start(&cfg, &bops, &counted);
	cr_assert_not_null(b);
	/* the broker answers at once: its PAUSED often waits before the daemon reads */
	for (int i = 0; i < 300; i++) {
		cr_assert_eq(kt_broker_pause(b, true), 0, "pause %d", i);
		cr_assert_eq(kt_broker_pause(b, false), 0, "resume %d", i);
	}
	kt_broker_stop(b);
}

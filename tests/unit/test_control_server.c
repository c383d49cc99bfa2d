/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's side of the control socket (user/daemon/control_server.c) on
 * a real listening unix socket in a temporary directory, registered in an
 * epoll fd of the test's: the test runs the daemon's loop itself (pump:
 * epoll_wait, then each struct kt_poll_handler), and its probes and
 * questions are real client sockets speaking kt_ctl_send / kt_ctl_recv.
 *
 * Hello and Welcome, Records into the sink with the probe's origin, probe
 * list and probe stop, every way a peer breaks the protocol (counted in
 * control_errors, answered with Error where it can be, closed), the limit
 * of connections, a peer that does not read its answers, shutdown (probes
 * told to stop, their last records taken, one that never closes closed
 * after the timeout) and a peer that is not root (refused without an
 * answer: a child process of uid 65534).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/poller.h"
#include "base/stats.h"
#include "capture/listen_sock.h"
#include "control/control_wire.h"
#include "daemon/control_client.h"
#include "daemon/control_server.h"
#include "exporters/otlp_build.h"
#include "exporters/otlp_logs_build.h"
#include "span_fixture.h"

#define BODY(x) KATATRACE__CONTROL__V1__MESSAGE__BODY_##x

typedef Katatrace__Control__V1__Hello pb_hello;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;

/* How long the test waits for anything the daemon should do at once. */
#define PATIENCE_MS 3000

/* ------------------------------------------------------------ the daemon's loop */

struct peer {
	int fd;
	struct kt_ctl_reader r;
};

#define MAX_PEERS 40

struct fixture {
	char dir[64];
	char path[96];
	int epfd;
	struct kt_control *c;
	struct peer peers[MAX_PEERS];
	size_t n_peers;
	/* what the sink received */
	struct kt_span_record *spans[64];
	size_t n_spans;
	struct kt_log_record *logs[64];
	size_t n_logs;
};

static struct fixture fx;

static void on_span(void *ctx, struct kt_span_record *r)
{
	(void)ctx;
	cr_assert_lt(fx.n_spans, 64);
	fx.spans[fx.n_spans++] = r;
}

static void on_log(void *ctx, struct kt_log_record *r)
{
	(void)ctx;
	cr_assert_lt(fx.n_logs, 64);
	fx.logs[fx.n_logs++] = r;
}

static uint64_t ms_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static uint64_t unix_ns_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The daemon's loop for up to ms: every event to its handler, as cmd_run.c does. */
static void pump(int ms)
{
	uint64_t end = ms_now() + (uint64_t)ms;
	for (;;) {
		uint64_t now = ms_now();
		if (now >= end)
			return;
		struct epoll_event ev[16];
		int n = epoll_wait(fx.epfd, ev, 16, (int)(end - now));
		cr_assert(n >= 0 || errno == EINTR, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct kt_poll_handler *h = ev[i].data.ptr;
			h->fn(h, ev[i].events);
		}
	}
}

/* Pumps until cond holds; false when it did not within PATIENCE_MS. */
#define PUMP_UNTIL(cond)                                                      \
	({                                                                    \
		uint64_t end_ = ms_now() + PATIENCE_MS;                       \
		while (!(cond) && ms_now() < end_)                            \
			pump(5);                                              \
		(bool)(cond);                                                 \
	})

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	cr_assert_eq(geteuid(), 0, "the daemon serves root alone (the suite runs as root)");
	kt_log_level = KT_LOG_ERROR; /* the refusals this test provokes are warnings */
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/kt-control-XXXXXX");
	cr_assert_not_null(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof(fx.path), "%s/control.sock", fx.dir);
	char err[256];
	int fd = kt_listen_unix_private(fx.path, err, sizeof(err));
	cr_assert_geq(fd, 0, "%s", err);
	fx.epfd = epoll_create1(EPOLL_CLOEXEC);
	cr_assert_geq(fx.epfd, 0);
	struct kt_control_cfg cfg = { .epfd = fx.epfd,
				      .sink = { .span = on_span, .log = on_log } };
	fx.c = kt_control_new(&cfg);
	cr_assert_not_null(fx.c);
	kt_control_listen(fx.c, fd, fx.path);
}

static void teardown(void)
{
	kt_control_free(fx.c);
	for (size_t i = 0; i < fx.n_peers; i++) {
		if (fx.peers[i].fd >= 0)
			close(fx.peers[i].fd);
		kt_ctl_reader_free(&fx.peers[i].r);
	}
	for (size_t i = 0; i < fx.n_spans; i++)
		kt_span_record_free(fx.spans[i]);
	for (size_t i = 0; i < fx.n_logs; i++)
		kt_log_record_free(fx.logs[i]);
	close(fx.epfd);
	unlink(fx.path);
	rmdir(fx.dir);
}

TestSuite(control_server, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------ peers */

/* A new connection to the daemon (not yet accepted: the next pump does). */
static struct peer *connect_peer(void)
{
	cr_assert_lt(fx.n_peers, MAX_PEERS);
	struct peer *p = &fx.peers[fx.n_peers++];
	char err[256];
	p->fd = kt_control_connect(fx.path, err, sizeof(err));
	cr_assert_geq(p->fd, 0, "%s", err);
	kt_ctl_reader_init(&p->r);
	return p;
}

static void peer_close(struct peer *p)
{
	close(p->fd);
	p->fd = -1;
}

static void say(struct peer *p, const kt_ctl_msg *m)
{
	char err[256];
	cr_assert_eq(kt_ctl_send(p->fd, m, err, sizeof(err)), 0, "%s", err);
}

/* Bytes as they are, not a message. */
static void say_raw(struct peer *p, const void *b, size_t n)
{
	cr_assert_eq(send(p->fd, b, n, MSG_NOSIGNAL), (ssize_t)n);
}

static bool readable(const struct peer *p)
{
	struct pollfd pf = { .fd = p->fd, .events = POLLIN };
	return poll(&pf, 1, 0) == 1;
}

/* The daemon's next message to p (pumping until it comes). */
static kt_ctl_msg *answer(struct peer *p)
{
	cr_assert(kt_ctl_reader_pending(&p->r) > 0 || PUMP_UNTIL(readable(p)), "no answer");
	kt_ctl_msg *m = NULL;
	char err[256] = "";
	int rc = kt_ctl_recv(&p->r, p->fd, PATIENCE_MS, &m, err, sizeof(err));
	cr_assert_eq(rc, 1, "no answer: %s", rc ? err : "timed out");
	return m;
}

static kt_ctl_msg *answer_of(struct peer *p, int body)
{
	kt_ctl_msg *m = answer(p);
	cr_assert_eq(m->body_case, body, "a %s message, expected %s", kt_ctl_body_name(m->body_case),
		     kt_ctl_body_name(body));
	return m;
}

/* The daemon closes p's connection, after no message at all. */
static void expect_closed(struct peer *p)
{
	cr_assert(PUMP_UNTIL(readable(p)), "the connection stays open");
	kt_ctl_msg *m = NULL;
	char err[256] = "";
	int rc = kt_ctl_recv(&p->r, p->fd, PATIENCE_MS, &m, err, sizeof(err));
	cr_assert_eq(rc, -1, "%s", rc == 1 ? kt_ctl_body_name(m->body_case) : "timed out");
}

/* An Error naming what (a part of its text), then the connection closed. */
static void expect_error_then_closed(struct peer *p, const char *what)
{
	kt_ctl_msg *m = answer_of(p, BODY(ERROR));
	cr_expect(strstr(m->error->message, what) != NULL, "error \"%s\", expected \"%s\" in it",
		  m->error->message, what);
	expect_closed(p);
}

/* Nothing for p after the daemon had time to say something. */
static void expect_silence(struct peer *p)
{
	pump(50);
	cr_expect_not(readable(p), "a message nobody asked for");
}

/* ------------------------------------------------------------ messages */

#define HELLO_MAX_PROBES 72
#define HELLO_MAX_ATTRS 40

struct hello_msg {
	pb_hello h;
	char *probes[HELLO_MAX_PROBES];
	pb_kv kv[HELLO_MAX_ATTRS], *kvp[HELLO_MAX_ATTRS];
	pb_any v[HELLO_MAX_ATTRS];
	kt_ctl_msg m;
};

static void hello_init(struct hello_msg *x, const char *target)
{
	memset(x, 0, sizeof(*x));
	katatrace__control__v1__hello__init(&x->h);
	x->h.target = (char *)target;
	x->h.probes = x->probes;
	x->h.resource = x->kvp;
	katatrace__control__v1__message__init(&x->m);
	x->m.body_case = BODY(HELLO);
	x->m.hello = &x->h;
}

static void hello_probe(struct hello_msg *x, const char *spec)
{
	cr_assert_lt(x->h.n_probes, HELLO_MAX_PROBES);
	x->probes[x->h.n_probes++] = (char *)spec;
}

static pb_any *hello_attr(struct hello_msg *x, const char *key)
{
	size_t i = x->h.n_resource++;
	cr_assert_lt(i, HELLO_MAX_ATTRS);
	opentelemetry__proto__common__v1__key_value__init(&x->kv[i]);
	opentelemetry__proto__common__v1__any_value__init(&x->v[i]);
	x->kv[i].key = (ProtobufCBinaryData){ strlen(key), (uint8_t *)key };
	x->kv[i].value = &x->v[i];
	x->kvp[i] = &x->kv[i];
	return &x->v[i];
}

static void hello_attr_str(struct hello_msg *x, const char *key, const char *v)
{
	pb_any *a = hello_attr(x, key);
	a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	a->string_value = (ProtobufCBinaryData){ strlen(v), (uint8_t *)v };
}

static void hello_attr_int(struct hello_msg *x, const char *key, int64_t v)
{
	pb_any *a = hello_attr(x, key);
	a->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	a->int_value = v;
}

/* Says hello x and returns the id the Welcome gives. */
static uint64_t introduce(struct peer *p, struct hello_msg *x)
{
	say(p, &x->m);
	kt_ctl_msg *m = answer_of(p, BODY(WELCOME));
	cr_expect_eq(m->welcome->daemon_pid, (uint32_t)getpid());
	return m->welcome->probe_id;
}

/* A probe of target "pid/<n>" with one --span, introduced. */
static uint64_t plain_probe(struct peer *p)
{
	struct hello_msg x;
	hello_init(&x, "pid/4242");
	hello_probe(&x, "uprobe:/bin/true:main");
	return introduce(p, &x);
}

static void say_body(struct peer *p, int body)
{
	Katatrace__Control__V1__Welcome w = KATATRACE__CONTROL__V1__WELCOME__INIT;
	Katatrace__Control__V1__ProbeList pl = KATATRACE__CONTROL__V1__PROBE_LIST__INIT;
	Katatrace__Control__V1__Stopped sd = KATATRACE__CONTROL__V1__STOPPED__INIT;
	Katatrace__Control__V1__Stop s = KATATRACE__CONTROL__V1__STOP__INIT;
	Katatrace__Control__V1__Error e = KATATRACE__CONTROL__V1__ERROR__INIT;
	Katatrace__Control__V1__ListProbes l = KATATRACE__CONTROL__V1__LIST_PROBES__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	m.body_case = body;
	switch (body) {
	case BODY(WELCOME):
		w.probe_id = 9;
		m.welcome = &w;
		break;
	case BODY(PROBE_LIST):
		m.probe_list = &pl;
		break;
	case BODY(STOPPED):
		m.stopped = &sd;
		break;
	case BODY(STOP):
		s.reason = "you stop";
		m.stop = &s;
		break;
	case BODY(ERROR):
		e.message = "you err";
		m.error = &e;
		break;
	case BODY(LIST):
		m.list = &l;
		break;
	default:
		cr_assert_fail("no such body %d", body);
	}
	say(p, &m);
}

static void stop_probe(struct peer *p, uint64_t id)
{
	Katatrace__Control__V1__StopProbe sp = KATATRACE__CONTROL__V1__STOP_PROBE__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	sp.probe_id = id;
	m.body_case = BODY(STOP_PROBE);
	m.stop_probe = &sp;
	say(p, &m);
}

/*
 * Records as a probe sends them: spans named by names (fx_record's ids,
 * span ids 1, 2, ...), log records of bodies logs, built by the exporters.
 */
static void say_records(struct peer *p, size_t n_spans, const char *const *names, size_t n_logs,
			const char *const *bodies)
{
	struct kt_span_record *spans = NULL;
	struct kt_log_record *logs = NULL, **tail = &logs;
	for (size_t i = 0; i < n_spans; i++) {
		struct kt_span_record *r = fx_record(names[i]);
		r->span.ctx.span_id = i + 1;
		fx_append(&spans, r);
	}
	for (size_t i = 0; i < n_logs; i++) {
		struct kt_log_record *r = kt_log_record_new(0);
		cr_assert_not_null(r);
		r->log.severity_number = KT_SEV_INFO;
		r->log.body = fx_str(&r->arena, bodies[i]);
		r->log.severity_text = fx_str(&r->arena, "");
		*tail = r;
		tail = &r->next;
	}
	struct kt_arena a;
	kt_arena_init(&a, 0);
	Katatrace__Control__V1__Records rec = KATATRACE__CONTROL__V1__RECORDS__INIT;
	rec.traces = n_spans ? kt_otlp_build(spans, NULL, &a) : NULL;
	rec.logs = n_logs ? kt_otlp_logs_build(logs, NULL, &a) : NULL;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	m.body_case = BODY(RECORDS);
	m.records = &rec;
	say(p, &m);
	kt_arena_free(&a);
	kt_span_record_free_list(spans);
	kt_log_record_free_list(logs);
}

/*
 * The Records message m of the spans r (packed into a, initialized here,
 * which the caller frees); false when they cannot be built. No criterion
 * assertion: threads other than the test's use it too.
 */
static bool records_of(struct kt_span_record *r, struct kt_arena *a,
		       Katatrace__Control__V1__Records *rec, kt_ctl_msg *m)
{
	kt_arena_init(a, 0);
	katatrace__control__v1__records__init(rec);
	rec->traces = kt_otlp_build(r, NULL, a);
	katatrace__control__v1__message__init(m);
	m->body_case = BODY(RECORDS);
	m->records = rec;
	return rec->traces != NULL;
}

static void say_one_span(struct peer *p, const char *name)
{
	say_records(p, 1, &name, 0, NULL);
}

static const struct kt_kv *origin_attr(const struct kt_origin *o, const char *key)
{
	return kt_kvlist_find(&o->attrs, key);
}

static void expect_str_attr(const struct kt_origin *o, size_t i, const char *key, const char *v)
{
	cr_assert_lt(i, o->attrs.n);
	const struct kt_kv *kv = &o->attrs.kv[i];
	cr_expect(kt_str_eq(kv->key, key), "attribute %zu: \"%s\", expected \"%s\"", i, kv->key.ptr,
		  key);
	cr_assert_eq(kv->value.type, KT_VAL_STRING, "%s", key);
	cr_expect(kt_str_eq(kv->value.s, v), "%s: \"%s\", expected \"%s\"", key, kv->value.s.ptr, v);
}

static void expect_int_attr(const struct kt_origin *o, size_t i, const char *key, int64_t v)
{
	cr_assert_lt(i, o->attrs.n);
	const struct kt_kv *kv = &o->attrs.kv[i];
	cr_expect(kt_str_eq(kv->key, key), "attribute %zu: \"%s\", expected \"%s\"", i, kv->key.ptr,
		  key);
	cr_assert_eq(kv->value.type, KT_VAL_I64, "%s", key);
	cr_expect_eq(kv->value.i, v, "%s: %lld, expected %lld", key, (long long)kv->value.i,
		     (long long)v);
}

/* ------------------------------------------------------------ hello, records */

Test(control_server, hello_is_welcomed_with_ids_1_then_2)
{
	struct peer *a = connect_peer(), *b = connect_peer();
	cr_expect_eq(plain_probe(a), 1);
	cr_expect_eq(plain_probe(b), 2);
	cr_expect_eq(kt_control_probes(fx.c), 2);
}

Test(control_server, records_reach_the_sink_with_the_origin_the_hello_made)
{
	uint64_t spans0 = KT_STAT_GET(probe_spans), logs0 = KT_STAT_GET(probe_logs);
	struct peer *p = connect_peer();
	struct hello_msg x;
	hello_init(&x, "sandbox/sb-1234");
	hello_probe(&x, "uprobe:/usr/bin/qemu:main");
	x.h.sandbox_id = "sb-1234";
	x.h.service_name = "my-svc";
	hello_attr_str(&x, "k8s.pod.name", "pod-a");
	hello_attr_str(&x, "service.name", "forged"); /* the daemon's to set */
	hello_attr_int(&x, "katatrace.target.pid", 42);
	hello_attr_int(&x, "katatrace.probe.id", 99); /* the daemon's to set */
	cr_assert_eq(introduce(p, &x), 1);
	static const char *const names[] = { "work", "more work" };
	static const char *const bodies[] = { "a line" };
	say_records(p, 2, names, 1, bodies);
	cr_assert(PUMP_UNTIL(fx.n_spans == 2 && fx.n_logs == 1), "%zu spans, %zu logs", fx.n_spans,
		  fx.n_logs);

	const struct kt_span_record *s = fx.spans[0];
	cr_expect(kt_str_eq(s->span.name, "work"));
	cr_expect(kt_str_eq(fx.spans[1]->span.name, "more work"));
	cr_expect_eq(s->span.ctx.trace_id.hi, 0x0af7651916cd43ddull);
	cr_expect_eq(s->span.ctx.trace_id.lo, 0x8448eb211c80319cull);
	cr_expect_eq(s->span.ctx.span_id, 1);
	cr_expect_eq(s->source, KT_SPAN_FROM_HOST);
	cr_expect(kt_str_eq(fx.logs[0]->log.body, "a line"));

	/* one origin for all of the probe's records */
	const struct kt_origin *o = s->origin;
	cr_assert_not_null(o);
	cr_expect_eq(fx.spans[1]->origin, o);
	cr_expect_eq(fx.logs[0]->origin, o);
	cr_assert_not_null(o->sandbox_id);
	cr_expect_str_eq(o->sandbox_id, "sb-1234");
	cr_assert_not_null(o->scope_name);
	cr_expect_str_eq(o->scope_name, "katatrace-bpf/probe");
	/* its service first, what it said in its order without the daemon's keys, its id */
	cr_expect_eq(o->attrs.n, 4);
	expect_str_attr(o, 0, "service.name", "my-svc");
	expect_str_attr(o, 1, "k8s.pod.name", "pod-a");
	expect_int_attr(o, 2, "katatrace.target.pid", 42);
	expect_int_attr(o, 3, "katatrace.probe.id", 1);

	cr_expect_eq(KT_STAT_GET(probe_spans) - spans0, 2);
	cr_expect_eq(KT_STAT_GET(probe_logs) - logs0, 1);
}

Test(control_server, without_a_service_name_records_are_of_katatrace_probe)
{
	struct peer *a = connect_peer(), *b = connect_peer();
	plain_probe(a);
	cr_assert_eq(plain_probe(b), 2);
	say_one_span(b, "s");
	cr_assert(PUMP_UNTIL(fx.n_spans == 1));
	const struct kt_origin *o = fx.spans[0]->origin;
	cr_assert_not_null(o);
	cr_expect_null(o->sandbox_id);
	cr_expect_str_eq(o->scope_name, "katatrace-bpf/probe");
	cr_expect_eq(o->attrs.n, 2);
	expect_str_attr(o, 0, "service.name", "katatrace-probe");
	expect_int_attr(o, 1, "katatrace.probe.id", 2);
	cr_expect_null(origin_attr(o, "k8s.pod.name"));
}

Test(control_server, records_that_cannot_be_used_are_counted_and_the_others_taken)
{
	uint64_t rejected0 = KT_STAT_GET(probe_rejected);
	struct peer *p = connect_peer();
	plain_probe(p);
	static const char *const names[] = { "good", "\xff not UTF-8", "also good" };
	say_records(p, 3, names, 0, NULL);
	cr_assert(PUMP_UNTIL(fx.n_spans == 2));
	expect_silence(p); /* not an error of the connection */
	cr_expect(kt_str_eq(fx.spans[0]->span.name, "good"));
	cr_expect(kt_str_eq(fx.spans[1]->span.name, "also good"));
	cr_expect_eq(KT_STAT_GET(probe_rejected) - rejected0, 1);
	cr_expect_eq(kt_control_probes(fx.c), 1);
}

/* ------------------------------------------------------------ list, stop */

Test(control_server, list_shows_every_probe_oldest_first)
{
	uint64_t before = unix_ns_now();
	struct peer *a = connect_peer(), *b = connect_peer();
	struct hello_msg x;
	hello_init(&x, "pid/100");
	hello_probe(&x, "uprobe:/bin/a:f");
	hello_probe(&x, "bpftrace");
	cr_assert_eq(introduce(a, &x), 1);
	hello_init(&x, "sandbox/sb-2");
	hello_probe(&x, "kprobe:vfs_read");
	x.h.sandbox_id = "sb-2";
	cr_assert_eq(introduce(b, &x), 2);
	uint64_t after = unix_ns_now();
	static const char *const names[] = { "one", "\xc0 refused", "two" };
	static const char *const bodies[] = { "a log record" };
	say_records(b, 3, names, 1, bodies);
	cr_assert(PUMP_UNTIL(fx.n_spans == 2 && fx.n_logs == 1));

	struct peer *q = connect_peer();
	say_body(q, BODY(LIST));
	kt_ctl_msg *m = answer_of(q, BODY(PROBE_LIST));
	const Katatrace__Control__V1__ProbeList *pl = m->probe_list;
	cr_assert_eq(pl->n_probes, 2); /* the asker is not a probe */

	const Katatrace__Control__V1__ProbeInfo *p1 = pl->probes[0], *p2 = pl->probes[1];
	cr_expect_eq(p1->id, 1);
	cr_expect_eq(p1->pid, (uint32_t)getpid());
	cr_expect_str_eq(p1->target, "pid/100");
	cr_assert_eq(p1->n_probes, 2);
	cr_expect_str_eq(p1->probes[0], "uprobe:/bin/a:f");
	cr_expect_str_eq(p1->probes[1], "bpftrace");
	cr_expect_str_eq(p1->sandbox_id, "");
	cr_expect_eq(p1->spans, 0);
	cr_expect_eq(p1->log_records, 0);
	cr_expect_eq(p1->rejected, 0);
	cr_expect_geq(p1->started_unix_nano, before);
	cr_expect_leq(p1->started_unix_nano, after);

	cr_expect_eq(p2->id, 2);
	cr_expect_eq(p2->pid, (uint32_t)getpid());
	cr_expect_str_eq(p2->target, "sandbox/sb-2");
	cr_assert_eq(p2->n_probes, 1);
	cr_expect_str_eq(p2->probes[0], "kprobe:vfs_read");
	cr_expect_str_eq(p2->sandbox_id, "sb-2");
	cr_expect_eq(p2->spans, 2);
	cr_expect_eq(p2->log_records, 1);
	cr_expect_eq(p2->rejected, 1);
	cr_expect_geq(p2->started_unix_nano, p1->started_unix_nano);
	cr_expect_leq(p2->started_unix_nano, after);

	/* the asker may ask again */
	say_body(q, BODY(LIST));
	cr_expect_eq(answer_of(q, BODY(PROBE_LIST))->probe_list->n_probes, 2);
}

Test(control_server, list_without_probes_is_empty)
{
	struct peer *q = connect_peer();
	say_body(q, BODY(LIST));
	cr_expect_eq(answer_of(q, BODY(PROBE_LIST))->probe_list->n_probes, 0);
}

Test(control_server, a_probe_that_closes_leaves_the_list)
{
	struct peer *a = connect_peer(), *b = connect_peer();
	plain_probe(a);
	plain_probe(b);
	peer_close(a);
	cr_assert(PUMP_UNTIL(kt_control_probes(fx.c) == 1));
	struct peer *q = connect_peer();
	say_body(q, BODY(LIST));
	kt_ctl_msg *m = answer_of(q, BODY(PROBE_LIST));
	cr_assert_eq(m->probe_list->n_probes, 1);
	cr_expect_eq(m->probe_list->probes[0]->id, 2);
}

Test(control_server, stop_probe_tells_that_probe_to_stop_and_the_asker_it_was_found)
{
	struct peer *a = connect_peer(), *b = connect_peer();
	cr_assert_eq(plain_probe(a), 1);
	cr_assert_eq(plain_probe(b), 2);
	struct peer *q = connect_peer();
	stop_probe(q, 1);
	kt_ctl_msg *m = answer_of(q, BODY(STOPPED));
	cr_expect_eq(m->stopped->probe_id, 1);
	cr_expect(m->stopped->found);
	m = answer_of(a, BODY(STOP));
	cr_expect(strstr(m->stop->reason, "probe stop 1") != NULL, "reason \"%s\"", m->stop->reason);
	expect_silence(b);
	/* the probe ends itself; its last records still count */
	say_one_span(a, "after stop");
	peer_close(a);
	cr_assert(PUMP_UNTIL(kt_control_probes(fx.c) == 1));
	cr_expect_eq(fx.n_spans, 1);
}

Test(control_server, stop_of_an_unknown_id_answers_not_found)
{
	struct peer *a = connect_peer();
	plain_probe(a);
	struct peer *q = connect_peer();
	stop_probe(q, 42);
	kt_ctl_msg *m = answer_of(q, BODY(STOPPED));
	cr_expect_eq(m->stopped->probe_id, 42);
	cr_expect_not(m->stopped->found);
	expect_silence(a);
	cr_expect_eq(kt_control_probes(fx.c), 1);
}

Test(control_server, a_probe_may_stop_itself)
{
	struct peer *a = connect_peer();
	cr_assert_eq(plain_probe(a), 1);
	stop_probe(a, 1);
	cr_expect(strstr(answer_of(a, BODY(STOP))->stop->reason, "probe stop 1") != NULL);
	kt_ctl_msg *m = answer_of(a, BODY(STOPPED));
	cr_expect(m->stopped->found);
}

/* ------------------------------------------------------------ broken protocol */

Test(control_server, records_before_hello_are_an_error_then_closed)
{
	uint64_t errors0 = KT_STAT_GET(control_errors);
	struct peer *p = connect_peer();
	say_one_span(p, "too early");
	expect_error_then_closed(p, "records before hello");
	cr_expect_eq(KT_STAT_GET(control_errors) - errors0, 1);
	cr_expect_eq(fx.n_spans, 0);
}

Test(control_server, a_message_only_the_daemon_sends_is_an_error_then_closed)
{
	static const struct {
		int body;
		const char *name;
	} daemons[] = {
		{ BODY(WELCOME), "a welcome message" },	  { BODY(PROBE_LIST), "a probe list message" },
		{ BODY(STOPPED), "a stopped message" },	  { BODY(STOP), "a stop message" },
		{ BODY(ERROR), "an error message" },
	};
	uint64_t errors0 = KT_STAT_GET(control_errors);
	for (size_t i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++) {
		struct peer *p = connect_peer();
		say_body(p, daemons[i].body);
		kt_ctl_msg *m = answer_of(p, BODY(ERROR));
		cr_expect(strstr(m->error->message, kt_ctl_body_name(daemons[i].body)) != NULL &&
				  strstr(m->error->message, "only the daemon sends") != NULL,
			  "%s: error \"%s\"", daemons[i].name, m->error->message);
		expect_closed(p);
	}
	cr_expect_eq(KT_STAT_GET(control_errors) - errors0, 5);
	/* from a probe too */
	struct peer *a = connect_peer();
	plain_probe(a);
	say_body(a, BODY(WELCOME));
	expect_error_then_closed(a, "only the daemon sends");
	cr_expect_eq(kt_control_probes(fx.c), 0);
}

Test(control_server, a_hello_with_a_sandbox_id_that_is_not_one_is_refused)
{
	static const char *const bad[] = {
		"..", ".", "a/b", "has space", "new\nline",
		/* 129 characters: one more than an id may have */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	uint64_t errors0 = KT_STAT_GET(control_errors);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct peer *p = connect_peer();
		struct hello_msg x;
		hello_init(&x, "sandbox/x");
		x.h.sandbox_id = (char *)bad[i];
		say(p, &x.m);
		expect_error_then_closed(p, "sandbox id");
	}
	cr_expect_eq(KT_STAT_GET(control_errors) - errors0, sizeof(bad) / sizeof(bad[0]));
	cr_expect_eq(kt_control_probes(fx.c), 0);
	/* 128 characters are an id */
	struct peer *p = connect_peer();
	struct hello_msg x;
	hello_init(&x, "sandbox/x");
	x.h.sandbox_id = (char *)bad[5] + 1;
	cr_expect_eq(introduce(p, &x), 1);
}

Test(control_server, a_hello_with_text_that_is_not_utf8_is_refused)
{
	uint64_t errors0 = KT_STAT_GET(control_errors);
	for (int which = 0; which < 4; which++) {
		struct peer *p = connect_peer();
		struct hello_msg x;
		hello_init(&x, which == 0 ? "pid/\xff" : "pid/1");
		hello_probe(&x, which == 1 ? "uprobe:/bin/\xc3\x28:f" : "uprobe:/bin/a:f");
		if (which == 2)
			x.h.service_name = "svc\xed\xa0\x80";
		if (which == 3)
			hello_attr_str(&x, "k8s.pod.name", "\xc0\xaf");
		say(p, &x.m);
		expect_error_then_closed(p, "UTF-8");
	}
	cr_expect_eq(KT_STAT_GET(control_errors) - errors0, 4);
	cr_expect_eq(kt_control_probes(fx.c), 0);
}

Test(control_server, a_hello_beyond_the_limits_of_a_probe_is_refused)
{
	/* 1024 bytes of target, 256 of service name, 64 probes, 32 resource attributes */
	static char target[1026], service[258], keys[33][16];
	for (int i = 0; i < 33; i++)
		snprintf(keys[i], sizeof(keys[i]), "k%u", (unsigned)i); /* each named once */
	for (int which = 0; which < 4; which++) {
		for (int over = 0; over < 2; over++) {
			struct peer *p = connect_peer();
			struct hello_msg x;
			size_t tn = over && which == 0 ? 1025 : 1024, sn = over && which == 1 ? 257 : 256;
			memset(target, 't', tn);
			target[tn] = '\0';
			memset(service, 's', sn);
			service[sn] = '\0';
			hello_init(&x, target);
			x.h.service_name = service;
			for (int i = 0; i < (which == 2 ? 64 + over : 1); i++)
				hello_probe(&x, "uprobe:/bin/true:main");
			for (int i = 0; i < (which == 3 ? 32 + over : 0); i++)
				hello_attr_int(&x, keys[i], i);
			say(p, &x.m);
			if (over) {
				kt_ctl_msg *m = answer_of(p, BODY(ERROR));
				cr_expect(strstr(m->error->message,
						 which < 2 ? "sensible length" : "more probes or resource") != NULL,
					  "case %d: %s", which, m->error->message);
				expect_closed(p);
			} else {
				cr_expect_eq(answer(p)->body_case, BODY(WELCOME), "case %d at its limit", which);
			}
		}
	}
	cr_expect_eq(kt_control_probes(fx.c), 4);
}

Test(control_server, a_hello_whose_resource_cannot_be_one_is_refused)
{
	for (int which = 0; which < 4; which++) {
		struct peer *p = connect_peer();
		struct hello_msg x;
		hello_init(&x, "pid/1");
		pb_any *v = hello_attr(&x, which == 0 ? "" : "k");
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
		if (which == 1)
			x.kv[0].value = NULL;
		if (which == 2)
			x.kv[0].key = (ProtobufCBinaryData){ 2, (uint8_t *)"\xc3\x28" };
		if (which == 3) {
			v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
			v->bool_value = 1;
		}
		say(p, &x.m);
		expect_error_then_closed(p, "resource attribute");
	}
	cr_expect_eq(kt_control_probes(fx.c), 0);
}

Test(control_server, a_refused_hello_takes_no_id)
{
	struct peer *bad = connect_peer();
	struct hello_msg x;
	hello_init(&x, "pid/1");
	hello_attr(&x, "k")->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
	say(bad, &x.m);
	expect_error_then_closed(bad, "resource attribute");
	struct peer *bad_too = connect_peer();
	hello_init(&x, "pid/1");
	x.h.sandbox_id = "..";
	say(bad_too, &x.m);
	expect_error_then_closed(bad_too, "sandbox id");
	/* the first probe there is is probe 1 */
	struct peer *p = connect_peer();
	cr_expect_eq(plain_probe(p), 1);
}

Test(control_server, a_second_hello_is_an_error_then_closed)
{
	struct peer *p = connect_peer();
	plain_probe(p);
	struct hello_msg x;
	hello_init(&x, "pid/1");
	say(p, &x.m);
	expect_error_then_closed(p, "second hello");
	cr_expect_eq(kt_control_probes(fx.c), 0);
}

Test(control_server, a_malformed_frame_closes_the_connection)
{
	static const struct {
		const char *bytes;
		size_t n;
		const char *why;
	} frames[] = {
		/* a field 0 */
		{ "\x00\x00\x00\x03\x00\xff\xff", 7, "does not unpack" },
		/* a length beyond the limit */
		{ "\xff\xff\xff\xff", 4, "4294967295" },
		/* an empty message: no body */
		{ "\x00\x00\x00\x00", 4, "without a body" },
	};
	uint64_t errors0 = KT_STAT_GET(control_errors);
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		struct peer *p = connect_peer();
		if (i == 0)
			plain_probe(p); /* a probe too */
		say_raw(p, frames[i].bytes, frames[i].n);
		expect_error_then_closed(p, frames[i].why);
	}
	cr_expect_eq(KT_STAT_GET(control_errors) - errors0, 3);
	cr_expect_eq(kt_control_probes(fx.c), 0);
}

Test(control_server, a_peer_closing_inside_a_message_is_an_error)
{
	uint64_t errors0 = KT_STAT_GET(control_errors);
	struct peer *p = connect_peer();
	plain_probe(p);
	say_raw(p, "\x00\x00\x00\x10\x1a", 5);
	peer_close(p);
	cr_assert(PUMP_UNTIL(kt_control_probes(fx.c) == 0));
	cr_expect_eq(KT_STAT_GET(control_errors) - errors0, 1);
}

Test(control_server, a_peer_closing_between_messages_is_no_error)
{
	uint64_t errors0 = KT_STAT_GET(control_errors);
	struct peer *p = connect_peer();
	plain_probe(p);
	say_one_span(p, "last");
	peer_close(p);
	cr_assert(PUMP_UNTIL(kt_control_probes(fx.c) == 0));
	cr_expect_eq(fx.n_spans, 1);
	cr_expect_eq(KT_STAT_GET(control_errors) - errors0, 0);
}

Test(control_server, a_peer_that_does_not_read_its_answers_is_dropped)
{
	uint64_t errors0 = KT_STAT_GET(control_errors);
	struct peer *p = connect_peer();
	plain_probe(p);
	/* many questions, never reading: the answers fill the daemon's socket */
	static const uint8_t list[] = { 0x00, 0x00, 0x00, 0x02, 0x22, 0x00 };
	uint8_t many[sizeof(list) * 4000];
	for (size_t i = 0; i < 4000; i++)
		memcpy(many + i * sizeof(list), list, sizeof(list));
	say_raw(p, many, sizeof(many));
	cr_assert(PUMP_UNTIL(kt_control_probes(fx.c) == 0), "still served");
	cr_expect_eq(KT_STAT_GET(control_errors) - errors0, 1);
	/*
	 * What it is sent ends: the answers that fitted, then the end of the
	 * stream (a reset: the daemon closed with questions unread).
	 */
	uint8_t buf[4096];
	ssize_t n;
	while ((n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	cr_expect(n == 0 || errno == ECONNRESET, "%s", strerror(errno));
}

/* ------------------------------------------------------------ limits */

Test(control_server, connections_beyond_the_limit_are_refused)
{
	cr_assert_eq(KT_CONTROL_MAX_CONNS, 32);
	uint64_t refused0 = KT_STAT_GET(control_refused);
	struct peer *p[KT_CONTROL_MAX_CONNS];
	for (size_t i = 0; i < KT_CONTROL_MAX_CONNS; i++) {
		p[i] = connect_peer();
		cr_assert_eq(plain_probe(p[i]), i + 1);
	}
	struct peer *one_more = connect_peer();
	expect_closed(one_more);
	cr_expect_eq(KT_STAT_GET(control_refused) - refused0, 1);
	cr_expect_eq(kt_control_probes(fx.c), KT_CONTROL_MAX_CONNS);
	/* one leaves: room for another */
	peer_close(p[0]);
	cr_assert(PUMP_UNTIL(kt_control_probes(fx.c) == KT_CONTROL_MAX_CONNS - 1));
	struct peer *next = connect_peer();
	cr_expect_eq(plain_probe(next), KT_CONTROL_MAX_CONNS + 1);
}

Test(control_server, a_peer_that_is_not_root_is_refused_without_an_answer)
{
	uint64_t refused0 = KT_STAT_GET(control_refused);
	/* this test alone: others may reach the socket, and must be turned away */
	cr_assert_eq(chmod(fx.dir, 0711), 0);
	cr_assert_eq(chmod(fx.path, 0666), 0);
	pid_t child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		/* 1: could not become nobody; 2: could not connect; 3: an answer; 4: no end */
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534) || getuid() != 65534)
			_exit(1);
		char err[256];
		int fd = kt_control_connect(fx.path, err, sizeof(err));
		if (fd < 0)
			_exit(2);
		struct hello_msg x;
		hello_init(&x, "pid/1");
		kt_ctl_send(fd, &x.m, err, sizeof(err)); /* may fail: the daemon closed it */
		struct kt_ctl_reader r;
		kt_ctl_reader_init(&r);
		kt_ctl_msg *m;
		int rc = kt_ctl_recv(&r, fd, PATIENCE_MS, &m, err, sizeof(err));
		_exit(rc == 1 ? 3 : rc == 0 ? 4 : 0);
	}
	int status = -1;
	pid_t got = 0;
	uint64_t end = ms_now() + 2 * PATIENCE_MS;
	while ((got = waitpid(child, &status, WNOHANG)) == 0 && ms_now() < end)
		pump(10);
	if (got == 0) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		cr_assert_fail("the child did not finish");
	}
	cr_assert(WIFEXITED(status), "the child ended by signal %d", WTERMSIG(status));
	cr_expect_eq(WEXITSTATUS(status), 0,
		     "the child: %d (1: no uid 65534, 2: no connection, 3: an answer, 4: no end)",
		     WEXITSTATUS(status));
	cr_expect_eq(KT_STAT_GET(control_refused) - refused0, 1);
	cr_expect_eq(kt_control_probes(fx.c), 0);
	/* root still may */
	struct peer *p = connect_peer();
	cr_expect_eq(plain_probe(p), 1);
}

Test(control_server, a_second_listening_socket_is_closed_and_the_first_kept)
{
	char path2[128], err[256];
	snprintf(path2, sizeof(path2), "%s/second.sock", fx.dir);
	int fd = kt_listen_unix_private(path2, err, sizeof(err));
	cr_assert_geq(fd, 0, "%s", err);
	kt_control_listen(fx.c, fd, path2);
	errno = 0;
	cr_expect_eq(kt_control_connect(path2, err, sizeof(err)), -1);
	cr_expect_eq(errno, ECONNREFUSED, "%s", err);
	unlink(path2);
	struct peer *p = connect_peer();
	cr_expect_eq(plain_probe(p), 1);
}

/* ------------------------------------------------------------ shutdown */

/* A probe in a thread of its own: on Stop, one more Records, then it closes. */
struct cooperative {
	struct peer *p;
	char reason[128];
	int rc;
};

static void *cooperate(void *arg)
{
	struct cooperative *co = arg;
	kt_ctl_msg *m;
	char err[256];
	co->rc = kt_ctl_recv(&co->p->r, co->p->fd, 2 * PATIENCE_MS, &m, err, sizeof(err));
	if (co->rc == 1 && m->body_case == BODY(STOP)) {
		snprintf(co->reason, sizeof(co->reason), "%s", m->stop->reason);
		/* the records a probe still had (no criterion assertions off the test's thread) */
		struct kt_span_record *r = kt_span_record_new(0);
		static const char name[] = "said after stop";
		r->span.ctx.trace_id.lo = 1;
		r->span.ctx.span_id = 1;
		r->span.name = (struct kt_str){ kt_arena_memdup0(&r->arena, name, sizeof(name) - 1),
						sizeof(name) - 1 };
		struct kt_arena a;
		Katatrace__Control__V1__Records rec;
		kt_ctl_msg out;
		if (!records_of(r, &a, &rec, &out) || kt_ctl_send(co->p->fd, &out, err, sizeof(err)))
			co->rc = -2;
		kt_arena_free(&a);
		kt_span_record_free(r);
	}
	close(co->p->fd);
	co->p->fd = -1;
	return NULL;
}

Test(control_server, shutdown_tells_probes_to_stop_and_takes_their_last_records)
{
	struct peer *a = connect_peer();
	plain_probe(a);
	struct peer *asker = connect_peer(); /* connected, said nothing */
	pump(50);
	struct cooperative co = { .p = a };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, cooperate, &co), 0);
	uint64_t t0 = ms_now();
	kt_control_shutdown(fx.c, 2 * PATIENCE_MS);
	uint64_t took = ms_now() - t0;
	pthread_join(t, NULL);
	cr_assert_eq(co.rc, 1, "the probe's thread: %d", co.rc);
	cr_expect_str_eq(co.reason, "the daemon is stopping");
	cr_assert_eq(fx.n_spans, 1);
	cr_expect(kt_str_eq(fx.spans[0]->span.name, "said after stop"));
	cr_expect_lt(took, PATIENCE_MS, "shutdown waited %llu ms for a probe that had closed",
		     (unsigned long long)took);
	cr_expect_eq(kt_control_probes(fx.c), 0);
	/* the connection that was no probe was closed without a word */
	expect_closed(asker);
	/* and nobody is accepted any more */
	char err[256];
	errno = 0;
	cr_expect_eq(kt_control_connect(fx.path, err, sizeof(err)), -1);
	cr_expect(kt_control_absent(errno), "%s", err);
}

Test(control_server, a_probe_that_never_closes_is_closed_after_the_timeout)
{
	struct peer *a = connect_peer();
	plain_probe(a);
	uint64_t t0 = ms_now();
	kt_control_shutdown(fx.c, 300);
	uint64_t took = ms_now() - t0;
	cr_expect_geq(took, 300);
	cr_expect_lt(took, PATIENCE_MS);
	cr_expect_eq(kt_control_probes(fx.c), 0);
	kt_ctl_msg *m = answer_of(a, BODY(STOP));
	cr_expect_str_eq(m->stop->reason, "the daemon is stopping");
	expect_closed(a);
}

Test(control_server, a_hello_naming_a_resource_attribute_twice_or_with_a_nul_is_refused)
{
	for (int which = 0; which < 2; which++) {
		struct peer *p = connect_peer();
		struct hello_msg x;
		hello_init(&x, "pid/1");
		hello_attr_str(&x, "k8s.pod.name", "web");
		if (which == 0) {
			hello_attr_str(&x, "k8s.pod.name", "db");
		} else {
			pb_any *v = hello_attr(&x, "k");
			v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
			x.kv[1].key = (ProtobufCBinaryData){ 3, (uint8_t *)"a\0b" };
		}
		say(p, &x.m);
		expect_error_then_closed(p, which == 0 ? "named twice" : "without a key");
	}
	cr_expect_eq(kt_control_probes(fx.c), 0);
}

/* ------------------------------------------------------------ takeover */

/* What kt_control_pause handed over: connections and their packed states. */
struct handed {
	int fd[8];
	uint8_t *state[8];
	size_t len[8];
	size_t n;
	bool refuse; /* say it could not be taken */
};

static bool take_probe(void *ctx, int fd, const void *state, size_t len)
{
	struct handed *h = ctx;
	if (h->refuse)
		return false;
	cr_assert_lt(h->n, 8);
	/* a copy, as the new daemon receives one (SCM_RIGHTS) */
	h->fd[h->n] = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	cr_assert_geq(h->fd[h->n], 0);
	h->state[h->n] = malloc(len);
	cr_assert_not_null(h->state[h->n]);
	memcpy(h->state[h->n], state, len);
	h->len[h->n++] = len;
	return true;
}

/* The states, and the copies of the connections nobody adopted. */
static void handed_free(struct handed *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->state[i]);
		if (h->fd[i] >= 0)
			close(h->fd[i]);
	}
}

/* The new daemon: a second control server with its own loop and sink. */
static struct {
	int epfd;
	struct kt_control *c;
	struct kt_span_record *spans[16];
	size_t n_spans;
} nd;

static void nd_span(void *ctx, struct kt_span_record *r)
{
	(void)ctx;
	cr_assert_lt(nd.n_spans, 16);
	nd.spans[nd.n_spans++] = r;
}

static void nd_start(void)
{
	nd.epfd = epoll_create1(EPOLL_CLOEXEC);
	cr_assert_geq(nd.epfd, 0);
	nd.n_spans = 0;
	nd.c = kt_control_new(&(struct kt_control_cfg){ .epfd = nd.epfd, .sink = { .span = nd_span } });
	cr_assert_not_null(nd.c);
}

static void nd_stop(void)
{
	kt_control_free(nd.c);
	for (size_t i = 0; i < nd.n_spans; i++)
		kt_span_record_free(nd.spans[i]);
	close(nd.epfd);
}

/* The new daemon's loop until cond holds (false after PATIENCE_MS). */
#define ND_PUMP_UNTIL(cond)                                                               \
	({                                                                                \
		uint64_t end_ = ms_now() + PATIENCE_MS;                                   \
		while (!(cond) && ms_now() < end_) {                                      \
			struct epoll_event ev_[8];                                        \
			int n_ = epoll_wait(nd.epfd, ev_, 8, 5);                          \
			for (int i_ = 0; i_ < n_; i_++) {                                 \
				struct kt_poll_handler *h_ = ev_[i_].data.ptr;            \
				h_->fn(h_, ev_[i_].events);                               \
			}                                                                 \
		}                                                                         \
		(bool)(cond);                                                             \
	})

/* A message's bytes as they go on the wire (length, then the packed message). */
static uint8_t *wire_bytes(const kt_ctl_msg *m, size_t *n)
{
	size_t len = katatrace__control__v1__message__get_packed_size(m);
	uint8_t *b = malloc(4 + len);
	cr_assert_not_null(b);
	b[0] = (uint8_t)(len >> 24);
	b[1] = (uint8_t)(len >> 16);
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	katatrace__control__v1__message__pack(m, b + 4);
	*n = 4 + len;
	return b;
}

/* One span's Records message on the wire. */
static uint8_t *span_wire(const char *name, size_t *n)
{
	struct kt_span_record *r = fx_record(name);
	struct kt_arena a;
	Katatrace__Control__V1__Records rec;
	kt_ctl_msg m;
	cr_assert(records_of(r, &a, &rec, &m));
	uint8_t *b = wire_bytes(&m, n);
	kt_arena_free(&a);
	kt_span_record_free_list(r);
	return b;
}

struct late_half {
	int fd;
	const uint8_t *rest;
	size_t n;
};

/* The second half of a message, 100 ms late: the pausing daemon waits for it. */
static void *send_late_half(void *arg)
{
	struct late_half *l = arg;
	usleep(100 * 1000);
	cr_assert_eq(send(l->fd, l->rest, l->n, MSG_NOSIGNAL), (ssize_t)l->n);
	return NULL;
}

Test(control_server, a_takeover_hands_probes_over_between_messages_and_they_never_notice)
{
	struct peer *p = connect_peer(), *q = connect_peer();
	struct hello_msg x;
	hello_init(&x, "sandbox/sb-1234");
	hello_probe(&x, "uprobe:/usr/bin/qemu:main");
	x.h.sandbox_id = "sb-1234";
	hello_attr_str(&x, "k8s.pod.name", "pod-a");
	cr_assert_eq(introduce(p, &x), 1);
	cr_assert_eq(plain_probe(q), 2);
	say_one_span(p, "before");
	cr_assert(PUMP_UNTIL(fx.n_spans == 1));
	/* a probe starting: connected, its hello not said yet */
	struct peer *s = connect_peer();
	pump(20);

	/* p is caught inside a message: the old daemon reads it to its end */
	size_t n;
	uint8_t *half = span_wire("across the pause", &n);
	say_raw(p, half, n / 2);
	pump(20);
	struct late_half l = { .fd = p->fd, .rest = half + n / 2, .n = n - n / 2 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, send_late_half, &l), 0);
	struct handed h = { 0 };
	kt_control_pause(fx.c, PATIENCE_MS, take_probe, &h);
	pthread_join(t, NULL);
	free(half);
	cr_assert_eq(h.n, 3, "both probes and the starting one handed over");
	cr_assert_eq(fx.n_spans, 2, "the message caught in the middle is the old daemon's");
	cr_expect(kt_str_eq(fx.spans[1]->span.name, "across the pause"));

	/* paused: what p says now waits for the new daemon */
	say_one_span(p, "after");
	pump(50);
	cr_expect_eq(fx.n_spans, 2);
	cr_expect_eq(kt_control_handed(fx.c), 3);
	cr_expect_eq(kt_control_probes(fx.c), 0);

	nd_start();
	char err[256];
	for (size_t i = 0; i < h.n; i++) {
		cr_assert_eq(kt_control_adopt_probe(nd.c, h.fd[i], h.state[i], h.len[i], err,
						    sizeof(err)),
			     0, "%s", err);
		h.fd[i] = -1;
	}
	cr_expect_eq(kt_control_probes(nd.c), 2);
	cr_assert(ND_PUMP_UNTIL(nd.n_spans == 1), "the new daemon reads what p said after the pause");
	const struct kt_origin *o = nd.spans[0]->origin;
	cr_expect(kt_str_eq(nd.spans[0]->span.name, "after"));
	cr_assert_not_null(o);
	cr_expect_str_eq(o->sandbox_id, "sb-1234");
	expect_str_attr(o, 0, "service.name", "katatrace-probe");
	expect_str_attr(o, 1, "k8s.pod.name", "pod-a");
	expect_int_attr(o, 2, "katatrace.probe.id", 1);
	say_one_span(q, "from q");
	cr_assert(ND_PUMP_UNTIL(nd.n_spans == 2));
	expect_int_attr(nd.spans[1]->origin, 1, "katatrace.probe.id", 2);
	/* neither probe was told anything, by either daemon */
	cr_expect_not(readable(p));
	cr_expect_not(readable(q));
	/* the starting one says hello to the new daemon, and is given the next id */
	char err2[256];
	struct hello_msg z;
	hello_init(&z, "pid/8");
	say(s, &z.m);
	cr_assert(ND_PUMP_UNTIL(readable(s)));
	kt_ctl_msg *w = NULL;
	cr_assert_eq(kt_ctl_recv(&s->r, s->fd, PATIENCE_MS, &w, err2, sizeof(err2)), 1, "%s", err2);
	cr_assert_eq(w->body_case, BODY(WELCOME));
	cr_expect_eq(w->welcome->probe_id, 3);

	/* ids given later follow the ones taken over; their counts came along */
	char npath[128];
	snprintf(npath, sizeof(npath), "%s/new.sock", fx.dir);
	int lfd = kt_listen_unix_private(npath, err, sizeof(err));
	cr_assert_geq(lfd, 0, "%s", err);
	kt_control_listen(nd.c, lfd, npath);
	struct peer *r = &fx.peers[fx.n_peers++];
	r->fd = kt_control_connect(npath, err, sizeof(err));
	cr_assert_geq(r->fd, 0, "%s", err);
	kt_ctl_reader_init(&r->r);
	struct hello_msg y;
	hello_init(&y, "pid/7");
	say(r, &y.m);
	kt_ctl_msg *m = NULL;
	cr_assert(ND_PUMP_UNTIL(readable(r)));
	cr_assert_eq(kt_ctl_recv(&r->r, r->fd, PATIENCE_MS, &m, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(m->body_case, BODY(WELCOME));
	cr_expect_eq(m->welcome->probe_id, 4);
	say_body(r, BODY(LIST));
	cr_assert(ND_PUMP_UNTIL(readable(r)));
	cr_assert_eq(kt_ctl_recv(&r->r, r->fd, PATIENCE_MS, &m, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(m->body_case, BODY(PROBE_LIST));
	cr_assert_eq(m->probe_list->n_probes, 4);
	const Katatrace__Control__V1__ProbeInfo *pi = m->probe_list->probes[0];
	cr_expect_eq(pi->id, 1);
	cr_expect_eq(pi->pid, (uint32_t)getpid());
	cr_expect_str_eq(pi->target, "sandbox/sb-1234");
	cr_expect_eq(pi->spans, 3, "2 through the old daemon, 1 through the new");
	cr_expect_eq(m->probe_list->probes[1]->id, 2);
	cr_expect_eq(m->probe_list->probes[1]->spans, 1);
	unlink(npath);
	handed_free(&h);
	nd_stop();
}

Test(control_server, a_failed_takeover_reads_the_probes_again)
{
	struct peer *p = connect_peer();
	plain_probe(p);
	struct handed h = { 0 };
	kt_control_pause(fx.c, PATIENCE_MS, take_probe, &h);
	cr_assert_eq(h.n, 1);
	say_one_span(p, "during the pause");
	pump(50);
	cr_expect_eq(fx.n_spans, 0);
	kt_control_resume(fx.c);
	cr_assert(PUMP_UNTIL(fx.n_spans == 1), "read again after the resume");
	cr_expect(kt_str_eq(fx.spans[0]->span.name, "during the pause"));
	cr_expect_eq(kt_control_handed(fx.c), 0, "nothing was handed over in the end");
	expect_silence(p);
	handed_free(&h);
}

Test(control_server, a_probe_inside_a_message_at_the_deadline_stays_and_ends_with_the_daemon)
{
	struct peer *p = connect_peer(), *q = connect_peer();
	plain_probe(p);
	plain_probe(q);
	size_t n;
	uint8_t *half = span_wire("never finished", &n);
	say_raw(p, half, n / 2);
	pump(20);
	struct handed h = { 0 };
	uint64_t t0 = ms_now();
	kt_control_pause(fx.c, 200, take_probe, &h);
	cr_expect_geq(ms_now() - t0, 200);
	cr_assert_eq(h.n, 1, "only the probe between messages");
	cr_expect_eq(kt_control_handed(fx.c), 1);
	cr_expect_eq(kt_control_probes(fx.c), 1, "the other one stays");
	/* it finishes its message; this daemon reads it, then tells it to stop */
	say_raw(p, half + n / 2, n - n / 2);
	cr_assert(PUMP_UNTIL(fx.n_spans == 1));
	kt_control_shutdown(fx.c, 300);
	kt_ctl_msg *m = answer_of(p, BODY(STOP));
	cr_expect_str_eq(m->stop->reason, "the daemon is stopping");
	cr_expect_not(readable(q), "the probe handed over hears nothing");
	free(half);
	handed_free(&h);
}

Test(control_server, a_probe_the_takeover_cannot_take_stays_with_this_daemon)
{
	struct peer *p = connect_peer();
	plain_probe(p);
	struct handed h = { .refuse = true };
	kt_control_pause(fx.c, PATIENCE_MS, take_probe, &h);
	cr_expect_eq(kt_control_handed(fx.c), 0);
	say_one_span(p, "still here");
	cr_assert(PUMP_UNTIL(fx.n_spans == 1));
	cr_expect_eq(kt_control_probes(fx.c), 1);
}

Test(control_server, adopting_refuses_a_state_that_is_not_one_or_an_id_in_use)
{
	struct peer *p = connect_peer(), *q = connect_peer();
	plain_probe(p);
	plain_probe(q);
	struct handed h = { 0 };
	kt_control_pause(fx.c, PATIENCE_MS, take_probe, &h);
	cr_assert_eq(h.n, 2);
	nd_start();
	char err[256];
	uint64_t errors0 = KT_STAT_GET(control_errors);
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	cr_expect_eq(kt_control_adopt_probe(nd.c, h.fd[0], junk, sizeof(junk), err, sizeof(err)), -1);
	cr_expect(strstr(err, "does not unpack") != NULL, "%s", err);
	/* a hello a probe could not say: checked as one */
	Katatrace__Control__V1__ProbeState st = KATATRACE__CONTROL__V1__PROBE_STATE__INIT;
	Katatrace__Control__V1__Hello bad = KATATRACE__CONTROL__V1__HELLO__INIT;
	bad.target = "pid/1";
	bad.sandbox_id = "not a sandbox id";
	st.hello = &bad;
	st.id = 5;
	uint8_t buf[256];
	size_t len = katatrace__control__v1__probe_state__pack(&st, buf);
	cr_expect_eq(kt_control_adopt_probe(nd.c, h.fd[0], buf, len, err, sizeof(err)), -1);
	cr_expect(strstr(err, "sandbox id") != NULL, "%s", err);
	cr_assert_eq(kt_control_adopt_probe(nd.c, h.fd[0], h.state[0], h.len[0], err, sizeof(err)), 0,
		     "%s", err);
	h.fd[0] = -1; /* the new daemon's */
	/* the same id again */
	cr_expect_eq(kt_control_adopt_probe(nd.c, h.fd[1], h.state[0], h.len[0], err, sizeof(err)), -1);
	cr_expect(strstr(err, "id is taken") != NULL, "%s", err);
	cr_expect_eq(KT_STAT_GET(control_errors) - errors0, 3);
	cr_expect_eq(kt_control_probes(nd.c), 1);
	/* a refused descriptor is still the caller's */
	cr_expect_eq(fcntl(h.fd[1], F_GETFD), FD_CLOEXEC);
	kt_control_resume(fx.c);
	handed_free(&h);
	/* the new daemon gives up: it lets go without a word, the old one serves on */
	kt_control_let_go(nd.c);
	kt_control_shutdown(nd.c, 300);
	cr_expect_not(readable(p));
	say_one_span(p, "to the old daemon");
	cr_assert(PUMP_UNTIL(fx.n_spans == 1));
	nd_stop();
}

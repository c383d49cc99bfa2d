/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Span probes on this kernel (user/capture/probe_capture.h): real BPF,
 * uprobes on tests/targets/c/probe_target.c and the clock_nanosleep syscall
 * tracepoints, filtered to one process while a second copy runs the same
 * code. Every expectation is computed here from the target's own formula.
 * Needs root; each test attaches to a private copy of the target so that
 * tests running at the same time do not see each other's calls.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/probe_capture.h"
#include "capture/probe_spec.h"
#include "model/log_record.h"
#include "model/span_record.h"

#ifndef KT_TEST_TARGETS
#error "KT_TEST_TARGETS: the test targets' build directory (Makefile)"
#endif
#define PROBE_TARGET KT_TEST_TARGETS "/c/probe_target"
#define GO_TARGET KT_TEST_TARGETS "/go/stackgrow"

/* The target's formula (tests/targets/c/probe_target.c). */
#define CALLS 20
#define SLEEP_US 2000
#define B_OF(i) (100 + (i) % 2)
#define RET_OF(i) ((i) * 31 + B_OF(i))
/* A call lasts its sleep at least, and far less than this. */
#define MAX_SPAN_NS 1000000000ull
#define MAX_RECORDS 256

/* ------------------------------------------------------------ the target */

struct target {
	pid_t pid;
	int in;    /* its stdin: a byte releases it, closing ends it */
	FILE *out; /* its stdout: the pid, then "done" */
};

static char target_dir[64];
static char target_path[128];
/* Copies made in target_dir, removed after the test. */
static char copies[2][128];
static size_t n_copies;

/* A private copy of src in target_dir: uprobes are per file, so only this test's processes run it. */
static const char *copy_file(const char *src, const char *name)
{
	char buf[65536];
	cr_assert_lt(n_copies, sizeof(copies) / sizeof(copies[0]));
	char *dst = copies[n_copies++];
	snprintf(dst, sizeof(copies[0]), "%s/%s", target_dir, name);
	int in = open(src, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(in, 0, "%s: %s (make test-targets)", src, strerror(errno));
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	cr_assert_geq(out, 0);
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	return dst;
}

static void setup(void)
{
	if (geteuid() != 0)
		cr_skip_test("span probes need root");
	strcpy(target_dir, "/tmp/kt-probe-XXXXXX");
	cr_assert_not_null(mkdtemp(target_dir));
	snprintf(target_path, sizeof(target_path), "%s", copy_file(PROBE_TARGET, "probe_target"));
}

static void teardown(void)
{
	for (size_t i = 0; i < n_copies; i++)
		unlink(copies[i]);
	if (target_dir[0])
		rmdir(target_dir);
}

static struct target start(const char *path, int calls, int sleep_us, int nest)
{
	int in[2], out[2];
	char a[16], b[16], c[16];
	struct target t;

	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	snprintf(a, sizeof(a), "%d", calls);
	snprintf(b, sizeof(b), "%d", sleep_us);
	snprintf(c, sizeof(c), "%d", nest);
	t.pid = fork();
	cr_assert_geq(t.pid, 0);
	if (t.pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(path, path, a, b, c, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t.in = in[1];
	t.out = fdopen(out[0], "r");
	cr_assert_not_null(t.out);
	int pid = 0;
	cr_assert_eq(fscanf(t.out, "%d", &pid), 1, "the target prints its pid");
	cr_assert_eq(pid, t.pid);
	return t;
}

static void release(const struct target *t)
{
	cr_assert_eq(write(t->in, "g", 1), 1);
}

static void wait_done(const struct target *t)
{
	char line[64];
	while (fgets(line, sizeof(line), t->out))
		if (!strcmp(line, "done\n"))
			return;
	cr_assert_fail("target %d ended before it was done", (int)t->pid);
}

static void finish(struct target *t)
{
	int status;
	close(t->in);
	fclose(t->out);
	cr_assert_eq(waitpid(t->pid, &status, 0), t->pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "target exit status %d", status);
}

/* The worker threads: every task of the process but its main thread. */
static size_t worker_tids(pid_t pid, uint32_t *tids, size_t max)
{
	char path[64];
	size_t n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	cr_assert_not_null(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != pid && n < max)
			tids[n++] = (uint32_t)atoi(e->d_name);
	closedir(d);
	return n;
}

/* ------------------------------------------------------------ a collecting sink */

struct collected {
	struct kt_span_record *spans[MAX_RECORDS];
	size_t n_spans;
	struct kt_log_record *logs[MAX_RECORDS];
	size_t n_logs;
	size_t overflow;
};

static void on_span(void *ctx, struct kt_span_record *r)
{
	struct collected *c = ctx;
	if (c->n_spans < MAX_RECORDS)
		c->spans[c->n_spans++] = r;
	else {
		c->overflow++;
		kt_span_record_free(r);
	}
}

static void on_log(void *ctx, struct kt_log_record *r)
{
	struct collected *c = ctx;
	if (c->n_logs < MAX_RECORDS)
		c->logs[c->n_logs++] = r;
	else {
		c->overflow++;
		kt_log_record_free(r);
	}
}

static void collected_free(struct collected *c)
{
	for (size_t i = 0; i < c->n_spans; i++)
		kt_span_record_free(c->spans[i]);
	for (size_t i = 0; i < c->n_logs; i++)
		kt_log_record_free(c->logs[i]);
	free(c);
}

/* Reads the ring buffer until it stays empty for 200 ms. */
static void drain(struct kt_probe_capture *pc)
{
	int quiet = 0;
	while (quiet < 2) {
		int n = kt_probe_capture_poll(pc, 100);
		cr_assert_geq(n, 0);
		quiet = n ? 0 : quiet + 1;
	}
}

static struct kt_probe_spec spec(const char *text, enum kt_probe_role role)
{
	struct kt_probe_spec s;
	char err[256];
	cr_assert_eq(kt_probe_spec_parse(text, role, &s, err, sizeof(err)), 0, "%s", err);
	return s;
}

static int64_t int_attr(const struct kt_kvlist *l, const char *k)
{
	const struct kt_kv *kv = kt_kvlist_find(l, k);
	cr_assert_not_null(kv, "attribute %s", k);
	cr_assert_eq(kv->value.type, KT_VAL_I64, "%s is an int", k);
	return kv->value.i;
}

static const char *str_attr(const struct kt_kvlist *l, const char *k)
{
	const struct kt_kv *kv = kt_kvlist_find(l, k);
	cr_assert_not_null(kv, "attribute %s", k);
	cr_assert_eq(kv->value.type, KT_VAL_STRING, "%s is a string", k);
	return kv->value.s.ptr;
}

static bool named(const struct kt_span_record *r, const char *name)
{
	return kt_str_eq(r->span.name, name);
}

/* ------------------------------------------------------------ tests */

TestSuite(probe_capture, .init = setup, .fini = teardown, .timeout = 15);

/*
 * One run with three probes on the target A while its copy B, outside the
 * filter, makes the same calls: a span per call of work() with its
 * arguments, return value, thread and process; a span per clock_nanosleep
 * of A with its return value 0; a log record per call of work().
 */
Test(probe_capture, spans_events_and_the_filter)
{
	char spans_work[256], event_work[256];
	snprintf(spans_work, sizeof(spans_work), "uprobe:%s:work", target_path);
	snprintf(event_work, sizeof(event_work), "uprobe:%s:work", target_path);
	struct kt_probe_spec specs[] = {
		spec(spans_work, KT_PROBE_SPAN),
		spec("tracepoint:syscalls:sys_enter_clock_nanosleep/sys_exit_clock_nanosleep",
		     KT_PROBE_SPAN),
		spec(event_work, KT_PROBE_EVENT),
	};
	struct target a = start(target_path, CALLS, SLEEP_US, 0);
	struct target b = start(target_path, CALLS, SLEEP_US, 0);
	uint32_t tids[4];
	cr_assert_eq(worker_tids(a.pid, tids, 4), 2, "the target runs two threads");

	struct collected *got = calloc(1, sizeof(*got));
	struct kt_kv okv = { .key = { "katatrace.test", 14 },
			     .value = { .type = KT_VAL_STRING, .s = { "probe", 5 } } };
	struct kt_kvlist oattrs = { 1, &okv };
	struct kt_origin *origin = kt_origin_new(&oattrs, NULL, "test");
	uint32_t pid = (uint32_t)a.pid;
	struct kt_probe_capture_cfg cfg = {
		.specs = specs,
		.n_specs = 3,
		.nargs = 2,
		.pids = &pid,
		.n_pids = 1,
		.sink = { .span = on_span, .log = on_log, .ctx = got },
		.origin = origin,
		.trace_id = { 0x1122334455667788ull, 0x99aabbccddeeff00ull },
		.parent_span_id = 0x0102030405060708ull,
	};
	char err[512] = "";
	struct kt_probe_capture *pc = kt_probe_capture_open(&cfg, err, sizeof(err));
	cr_assert_not_null(pc, "%s", err);
	kt_origin_put(origin); /* the capture and its records hold theirs */

	release(&a);
	release(&b);
	wait_done(&a);
	wait_done(&b);
	drain(pc);

	struct kt_probe_totals t;
	kt_probe_capture_totals(pc, &t);
	cr_expect_eq(t.spans, 2 * CALLS);
	cr_expect_eq(t.events, CALLS);
	cr_expect_eq(t.hits, 3 * CALLS, "entries of work and clock_nanosleep, events of work");
	cr_expect_eq(t.lost, 0);
	cr_expect_eq(t.unmatched, 0);
	cr_expect_eq(t.abandoned, 0);
	cr_expect_eq(t.too_deep, 0);
	cr_expect_eq(t.dropped, 0);
	cr_assert_eq(got->overflow, 0);

	/* work(): one span per call, each call once. */
	int seen[CALLS] = { 0 };
	uint32_t tid_of_parity[2] = { 0, 0 };
	size_t n_work = 0, n_sleep = 0;
	for (size_t i = 0; i < got->n_spans; i++) {
		const struct kt_span_record *r = got->spans[i];
		const struct kt_span *s = &r->span;
		const struct kt_kvlist *l = &s->attrs;
		cr_assert_eq(int_attr(l, "process.pid"), a.pid, "only the filtered process");
		uint32_t tid = (uint32_t)int_attr(l, "thread.id");
		cr_assert(tid == tids[0] || tid == tids[1], "thread %u is a worker of the target", tid);
		cr_expect_str_eq(str_attr(l, "thread.name"), "probe_target");
		cr_expect_str_eq(str_attr(l, "process.executable.path"), target_path);
		cr_expect_geq(s->end_unix_nano - s->start_unix_nano, SLEEP_US * 1000ull);
		cr_expect_lt(s->end_unix_nano - s->start_unix_nano, MAX_SPAN_NS);
		cr_expect_eq(s->ctx.trace_id.hi, cfg.trace_id.hi);
		cr_expect_eq(s->ctx.trace_id.lo, cfg.trace_id.lo);
		cr_expect_eq(s->parent_span_id, cfg.parent_span_id);
		cr_expect_neq(s->ctx.span_id, 0);
		cr_expect_eq(s->kind, KT_KIND_INTERNAL);
		cr_expect_eq(r->origin, origin);
		cr_expect_eq(r->source, KT_SPAN_FROM_HOST);
		cr_expect_null(kt_kvlist_find(l, "katatrace.probe.arg2"), "--args 2");
		cr_expect_null(kt_kvlist_find(l, "katatrace.probe.depth"));
		if (named(r, "work")) {
			n_work++;
			int64_t ai = int_attr(l, "katatrace.probe.arg0");
			cr_assert(ai >= 0 && ai < CALLS, "arg0 %lld", (long long)ai);
			int i0 = (int)ai;
			cr_expect_eq(seen[i0]++, 0, "call %d once", i0);
			cr_expect_eq(int_attr(l, "katatrace.probe.arg1"), B_OF(i0));
			cr_expect_eq(int_attr(l, "katatrace.probe.return_value"), RET_OF(i0));
			cr_expect_str_eq(str_attr(l, "code.function.name"), "work");
			cr_expect_str_eq(str_attr(l, "katatrace.probe.spec"), spans_work);
			/* each thread makes the calls of one parity */
			if (!tid_of_parity[i0 % 2])
				tid_of_parity[i0 % 2] = tid;
			cr_expect_eq(tid_of_parity[i0 % 2], tid, "call %d on its thread", i0);
		} else {
			cr_assert(named(r, "clock_nanosleep"), "span %.*s", (int)s->name.len,
				  s->name.ptr);
			n_sleep++;
			cr_expect_eq(int_attr(l, "katatrace.probe.return_value"), 0);
			cr_expect_eq(int_attr(l, "katatrace.probe.arg0"), CLOCK_REALTIME);
			cr_expect_eq(int_attr(l, "katatrace.probe.arg1"), 0, "flags: a relative sleep");
			cr_expect_null(kt_kvlist_find(l, "code.function.name"));
			cr_expect_str_eq(str_attr(l, "katatrace.probe.spec"), specs[1].text);
		}
	}
	cr_expect_eq(n_work, CALLS);
	cr_expect_eq(n_sleep, CALLS);
	cr_expect_neq(tid_of_parity[0], tid_of_parity[1]);

	/* Every sleep lies within a call of work() on the same thread. */
	for (size_t i = 0; i < got->n_spans; i++) {
		const struct kt_span *z = &got->spans[i]->span;
		if (!named(got->spans[i], "clock_nanosleep"))
			continue;
		int within = 0;
		for (size_t j = 0; j < got->n_spans; j++) {
			const struct kt_span *w = &got->spans[j]->span;
			within += named(got->spans[j], "work") &&
				  int_attr(&w->attrs, "thread.id") == int_attr(&z->attrs, "thread.id") &&
				  w->start_unix_nano <= z->start_unix_nano &&
				  z->end_unix_nano <= w->end_unix_nano;
		}
		cr_expect_eq(within, 1);
	}

	/* The event: a log record per call, with its arguments and no return value. */
	cr_assert_eq(got->n_logs, CALLS);
	int seen_ev[CALLS] = { 0 };
	for (size_t i = 0; i < got->n_logs; i++) {
		const struct kt_log *lg = &got->logs[i]->log;
		cr_expect(kt_str_eq(lg->body, "work"));
		cr_expect_eq(lg->severity_number, KT_SEV_INFO);
		cr_expect_neq(lg->time_unix_nano, 0);
		cr_expect_eq(got->logs[i]->origin, origin);
		cr_expect_eq(int_attr(&lg->attrs, "process.pid"), a.pid);
		int64_t ai = int_attr(&lg->attrs, "katatrace.probe.arg0");
		cr_assert(ai >= 0 && ai < CALLS);
		seen_ev[ai]++;
		cr_expect_eq(int_attr(&lg->attrs, "katatrace.probe.arg1"), B_OF((int)ai));
		cr_expect_null(kt_kvlist_find(&lg->attrs, "katatrace.probe.return_value"));
		cr_expect_str_eq(str_attr(&lg->attrs, "katatrace.probe.spec"), event_work);
	}
	for (int i = 0; i < CALLS; i++)
		cr_expect_eq(seen_ev[i], 1, "event of call %d", i);

	kt_probe_capture_close(pc);
	collected_free(got);
	finish(&a);
	finish(&b);
}

/* Without process ids nothing is filtered: both copies' calls are reported. */
Test(probe_capture, no_pids_no_filter)
{
	char s[256];
	snprintf(s, sizeof(s), "uprobe:%s:work", target_path);
	struct kt_probe_spec specs[] = { spec(s, KT_PROBE_EVENT) };
	struct target a = start(target_path, CALLS, 0, 0);
	struct target b = start(target_path, CALLS, 0, 0);
	struct collected *got = calloc(1, sizeof(*got));
	struct kt_probe_capture_cfg cfg = {
		.specs = specs, .n_specs = 1, .nargs = 6,
		.sink = { .span = on_span, .log = on_log, .ctx = got },
	};
	char err[512] = "";
	struct kt_probe_capture *pc = kt_probe_capture_open(&cfg, err, sizeof(err));
	cr_assert_not_null(pc, "%s", err);
	release(&a);
	release(&b);
	wait_done(&a);
	wait_done(&b);
	drain(pc);

	size_t of_a = 0, of_b = 0;
	for (size_t i = 0; i < got->n_logs; i++) {
		int64_t p = int_attr(&got->logs[i]->log.attrs, "process.pid");
		of_a += p == a.pid;
		of_b += p == b.pid;
		/* six arguments asked for: all six registers are reported */
		cr_expect_not_null(kt_kvlist_find(&got->logs[i]->log.attrs, "katatrace.probe.arg5"));
	}
	cr_expect_eq(of_a, CALLS);
	cr_expect_eq(of_b, CALLS);
	cr_expect_eq(got->n_logs, 2 * CALLS);
	kt_probe_capture_close(pc);
	collected_free(got);
	finish(&a);
	finish(&b);
}

/*
 * Recursion: nest(6) is six nested calls on one thread. The outer
 * KT_PROBE_DEPTH get spans, each within the one around it; the inner two
 * are counted as too deep.
 */
Test(probe_capture, nested_calls_up_to_the_depth)
{
	enum { NEST = KT_PROBE_DEPTH + 2 };
	char s[256];
	snprintf(s, sizeof(s), "uprobe:%s:nest", target_path);
	struct kt_probe_spec specs[] = { spec(s, KT_PROBE_SPAN) };
	struct target a = start(target_path, 0, 0, NEST);
	uint32_t pid = (uint32_t)a.pid;
	struct collected *got = calloc(1, sizeof(*got));
	struct kt_probe_capture_cfg cfg = {
		.specs = specs, .n_specs = 1, .nargs = 1, .pids = &pid, .n_pids = 1,
		.sink = { .span = on_span, .log = on_log, .ctx = got },
	};
	char err[512] = "";
	struct kt_probe_capture *pc = kt_probe_capture_open(&cfg, err, sizeof(err));
	cr_assert_not_null(pc, "%s", err);
	release(&a);
	wait_done(&a);
	drain(pc);

	struct kt_probe_totals t;
	kt_probe_capture_totals(pc, &t);
	cr_expect_eq(t.hits, NEST);
	cr_expect_eq(t.too_deep, NEST - KT_PROBE_DEPTH);
	cr_expect_eq(t.unmatched, 0);
	cr_assert_eq(got->n_spans, KT_PROBE_DEPTH);
	const struct kt_span *by_depth[KT_PROBE_DEPTH] = { 0 };
	for (size_t i = 0; i < got->n_spans; i++) {
		const struct kt_span *sp = &got->spans[i]->span;
		const struct kt_kv *d = kt_kvlist_find(&sp->attrs, "katatrace.probe.depth");
		int64_t depth = d ? d->value.i : 0;
		cr_assert(depth >= 0 && depth < KT_PROBE_DEPTH);
		cr_assert_null(by_depth[depth], "one span at depth %lld", (long long)depth);
		by_depth[depth] = sp;
		/* nest(d) at depth k is called with d = NEST - k and returns it */
		cr_expect_eq(int_attr(&sp->attrs, "katatrace.probe.arg0"), NEST - depth);
		cr_expect_eq(int_attr(&sp->attrs, "katatrace.probe.return_value"), NEST - depth);
		cr_expect_eq(int_attr(&sp->attrs, "thread.id"), a.pid, "the main thread");
	}
	for (int k = 1; k < KT_PROBE_DEPTH; k++) {
		cr_expect_leq(by_depth[k - 1]->start_unix_nano, by_depth[k]->start_unix_nano);
		cr_expect_geq(by_depth[k - 1]->end_unix_nano, by_depth[k]->end_unix_nano);
	}
	kt_probe_capture_close(pc);
	collected_free(got);
	finish(&a);
}

/*
 * Calls that began before the probes were attached: a syscall's exit without
 * its entry is counted, and gives no span. A uretprobe needs its entry (the
 * kernel sets it up there), so work()'s returns give nothing at all.
 */
Test(probe_capture, returns_without_an_entry_are_counted)
{
	char s[256];
	snprintf(s, sizeof(s), "uprobe:%s:work", target_path);
	struct kt_probe_spec specs[] = {
		spec(s, KT_PROBE_SPAN),
		spec("tracepoint:syscalls:sys_enter_clock_nanosleep/sys_exit_clock_nanosleep",
		     KT_PROBE_SPAN),
	};
	struct target a = start(target_path, 2, 1000000, 0);
	uint32_t pid = (uint32_t)a.pid;
	release(&a);
	usleep(100000); /* both threads sleep in work() now, for about 900 ms more */
	struct collected *got = calloc(1, sizeof(*got));
	struct kt_probe_capture_cfg cfg = {
		.specs = specs, .n_specs = 2, .pids = &pid, .n_pids = 1,
		.sink = { .span = on_span, .ctx = got },
	};
	char err[512] = "";
	struct kt_probe_capture *pc = kt_probe_capture_open(&cfg, err, sizeof(err));
	cr_assert_not_null(pc, "%s", err);
	wait_done(&a);
	drain(pc);
	struct kt_probe_totals t;
	kt_probe_capture_totals(pc, &t);
	cr_expect_eq(t.unmatched, 2, "the two sleeps' exits");
	cr_expect_eq(t.hits, 0);
	cr_expect_eq(t.spans, 0);
	cr_expect_eq(got->n_spans, 0);
	kt_probe_capture_close(pc);
	collected_free(got);
	finish(&a);
}

/* A process that execs path only once released, so that its pid can be filtered on first. */
struct held {
	pid_t pid;
	int gate;  /* a byte: exec */
	FILE *out; /* its stdout */
};

static struct held spawn_held(const char *path, char *const argv[])
{
	int gate[2], out[2];
	struct held h;
	cr_assert_eq(pipe2(gate, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	h.pid = fork();
	cr_assert_geq(h.pid, 0);
	if (h.pid == 0) {
		char c;
		dup2(out[1], 1);
		if (read(gate[0], &c, 1) != 1)
			_exit(126);
		execv(path, argv);
		_exit(127);
	}
	close(gate[0]);
	close(out[1]);
	h.gate = gate[1];
	h.out = fdopen(out[0], "r");
	cr_assert_not_null(h.out);
	return h;
}

/*
 * main.grow of tests/targets/go/stackgrow recurses 33 levels with 4 KiB
 * frames on fresh goroutines, so their stacks move while it runs. Its
 * return side is a uprobe on each RET: the program survives and counts its
 * calls right. The outermost KT_PROBE_DEPTH levels of each recursion give a
 * span with their depth (RAX at the entry, Go's register ABI), which is also
 * their nesting, and their result; the levels below are too deep; a call
 * restarted by the runtime after its stack grew stays one call.
 */
static void go_spans(const char *built, const char *name)
{
	enum { OUTER = 20, WORKERS = 2, LEVELS = 33 };
	enum { RUNS = OUTER * (WORKERS + 1) };
	char s[256], a1[16], a2[16];
	const char *bin = copy_file(built, name);
	snprintf(s, sizeof(s), "uprobe:%s:main.grow", bin);
	snprintf(a1, sizeof(a1), "%d", OUTER);
	snprintf(a2, sizeof(a2), "%d", WORKERS);
	struct kt_probe_spec specs[] = { spec(s, KT_PROBE_SPAN) };
	char *const argv[] = { (char *)bin, a1, a2, NULL };
	struct held h = spawn_held(bin, argv);
	uint32_t pid = (uint32_t)h.pid;
	struct collected *got = calloc(1, sizeof(*got));
	struct kt_probe_capture_cfg cfg = {
		.specs = specs, .n_specs = 1, .nargs = 1, .pids = &pid, .n_pids = 1,
		.sink = { .span = on_span, .ctx = got },
	};
	char err[512] = "";
	struct kt_probe_capture *pc = kt_probe_capture_open(&cfg, err, sizeof(err));
	cr_assert_not_null(pc, "%s", err);
	cr_assert_eq(write(h.gate, "g", 1), 1);
	close(h.gate);

	int calls = -1, grow = -1, moved = -1, status;
	cr_expect_eq(fscanf(h.out, "calls=%d grow=%d moved=%d", &calls, &grow, &moved), 3);
	fclose(h.out);
	cr_assert_eq(waitpid(h.pid, &status, 0), h.pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: exit status %#x", name, status);
	cr_expect_eq(calls, RUNS);
	cr_expect_eq(grow, RUNS * LEVELS);
	cr_expect_gt(moved, 0, "stacks moved during the calls");
	drain(pc);

	struct kt_probe_totals t;
	kt_probe_capture_totals(pc, &t);
	cr_expect_eq(t.spans, RUNS * KT_PROBE_DEPTH);
	cr_expect_eq(t.too_deep, RUNS * (LEVELS - KT_PROBE_DEPTH));
	cr_expect_geq(t.hits, RUNS * LEVELS, "restarts after a stack growth hit again");
	cr_expect_eq(t.unmatched, 0);
	cr_expect_eq(t.abandoned, 0);
	cr_expect_eq(t.table_full, 0);
	cr_expect_eq(t.lost, 0);
	cr_assert_eq(got->n_spans, RUNS * KT_PROBE_DEPTH);
	int per_depth[KT_PROBE_DEPTH] = { 0 };
	for (size_t i = 0; i < got->n_spans; i++) {
		const struct kt_kvlist *l = &got->spans[i]->span.attrs;
		const struct kt_kv *d = kt_kvlist_find(l, "katatrace.probe.depth");
		int64_t depth = d ? d->value.i : 0;
		cr_assert(depth >= 0 && depth < KT_PROBE_DEPTH);
		per_depth[depth]++;
		cr_expect_eq(int_attr(l, "katatrace.probe.arg0"), depth, "main.grow(depth)");
		cr_expect_eq(int_attr(l, "katatrace.probe.return_value"), LEVELS - depth);
		cr_expect_eq(int_attr(l, "process.pid"), h.pid);
		cr_expect_str_eq(str_attr(l, "code.function.name"), "main.grow");
		/* read from /proc while the process lives: it may have ended before its records were read */
		const struct kt_kv *exe = kt_kvlist_find(l, "process.executable.path");
		if (exe)
			cr_expect_str_eq(exe->value.s.ptr, bin);
	}
	for (int k = 0; k < KT_PROBE_DEPTH; k++)
		cr_expect_eq(per_depth[k], RUNS, "spans at depth %d", k);
	kt_probe_capture_close(pc);
	collected_free(got);
}

Test(probe_capture, go_function_whose_stack_moves)
{
	go_spans(GO_TARGET, "stackgrow");
}

Test(probe_capture, go_function_in_a_pie)
{
	go_spans(GO_TARGET ".pie", "stackgrow.pie");
}

/* A ring buffer of one page, read only at the end: what does not fit is counted as lost. */
Test(probe_capture, lost_records_are_counted)
{
	enum { MANY = 200 };
	char s[256];
	snprintf(s, sizeof(s), "uprobe:%s:work", target_path);
	struct kt_probe_spec specs[] = { spec(s, KT_PROBE_EVENT) };
	struct target a = start(target_path, MANY, 0, 0);
	uint32_t pid = (uint32_t)a.pid;
	struct collected *got = calloc(1, sizeof(*got));
	struct kt_probe_capture_cfg cfg = {
		.specs = specs, .n_specs = 1, .pids = &pid, .n_pids = 1,
		.sink = { .span = on_span, .log = on_log, .ctx = got },
		.ringbuf_bytes = (uint32_t)sysconf(_SC_PAGESIZE),
	};
	char err[512] = "";
	struct kt_probe_capture *pc = kt_probe_capture_open(&cfg, err, sizeof(err));
	cr_assert_not_null(pc, "%s", err);
	release(&a);
	wait_done(&a);
	drain(pc);
	struct kt_probe_totals t;
	kt_probe_capture_totals(pc, &t);
	cr_expect_eq(t.hits, MANY);
	cr_expect_gt(t.lost, 0);
	cr_expect_gt(t.events, 0);
	cr_expect_eq(t.events + t.lost, MANY, "%llu events, %llu lost",
		     (unsigned long long)t.events, (unsigned long long)t.lost);
	cr_expect_eq(got->n_logs, t.events);
	kt_probe_capture_close(pc);
	collected_free(got);
	finish(&a);
}

static bool kprobes_here(void)
{
	struct stat st;
	return stat("/sys/bus/event_source/devices/kprobe", &st) == 0 ||
	       stat("/sys/kernel/tracing/kprobe_events", &st) == 0 ||
	       stat("/sys/kernel/debug/tracing/kprobe_events", &st) == 0;
}

static void open_fails(const char *text, enum kt_probe_role role, const char *want_prefix,
		       const char *want_rest)
{
	struct kt_probe_spec specs[2];
	char ok[256];
	/* a good probe first: it is detached again when the second fails */
	snprintf(ok, sizeof(ok), "uprobe:%s:work", target_path);
	specs[0] = spec(ok, KT_PROBE_SPAN);
	specs[1] = spec(text, role);
	struct collected *got = calloc(1, sizeof(*got));
	struct kt_probe_capture_cfg cfg = {
		.specs = specs, .n_specs = 2,
		.sink = { .span = on_span, .log = on_log, .ctx = got },
	};
	char err[1024] = "";
	cr_assert_null(kt_probe_capture_open(&cfg, err, sizeof(err)), "%s attached", text);
	cr_expect_eq(strncmp(err, want_prefix, strlen(want_prefix)), 0, "message: %s", err);
	if (want_rest)
		cr_expect_not_null(strstr(err, want_rest), "message: %s", err);
	cr_expect_null(strchr(err, '\n'), "one line: %s", err);
	collected_free(got);
}

/* This kernel has no kprobes (docs/capture.md): a kprobe spec fails with that reason. */
Test(probe_capture, kprobe_without_kprobes)
{
	if (kprobes_here())
		cr_skip_test("this kernel has kprobes (the kernel lane attaches them)");
	open_fails("kprobe:vhost_vsock_handle_tx_kick", KT_PROBE_SPAN,
		   "kprobe:vhost_vsock_handle_tx_kick: this kernel has no kprobes (CONFIG_KPROBES)",
		   NULL);
	open_fails("kprobe:do_sys_openat2", KT_PROBE_EVENT,
		   "kprobe:do_sys_openat2: this kernel has no kprobes (CONFIG_KPROBES)", NULL);
}

Test(probe_capture, attach_errors_name_the_spec_and_the_cause)
{
	char s[256], want[512];

	open_fails("uprobe:/nonexistent/probe_target:work", KT_PROBE_SPAN,
		   "uprobe:/nonexistent/probe_target:work: /nonexistent/probe_target: No such file "
		   "or directory",
		   NULL);
	open_fails("uprobe:/tmp:work", KT_PROBE_EVENT, "uprobe:/tmp:work: /tmp: not a regular file",
		   NULL);
	snprintf(s, sizeof(s), "uprobe:%s:no_such_function", target_path);
	snprintf(want, sizeof(want), "%s: ", s);
	open_fails(s, KT_PROBE_SPAN, want, "no_such_function");
	open_fails(s, KT_PROBE_EVENT, want, "no_such_function");
	open_fails("tracepoint:syscalls:sys_enter_nosuch/sys_exit_nosuch", KT_PROBE_SPAN,
		   "tracepoint:syscalls:sys_enter_nosuch/sys_exit_nosuch: no tracepoint "
		   "syscalls:sys_enter_nosuch in this kernel (tracefs events)",
		   NULL);
	open_fails("tracepoint:nosuch:thing", KT_PROBE_EVENT,
		   "tracepoint:nosuch:thing: no tracepoint nosuch:thing in this kernel (tracefs "
		   "events)",
		   NULL);
}

Test(probe_capture, configuration_limits)
{
	struct kt_probe_spec specs[KT_PROBE_MAX_PROBES + 1];
	char s[256], err[256];
	uint32_t pids[KT_PROBE_MAX_PIDS + 1] = { 0 };
	struct collected *got = calloc(1, sizeof(*got));
	struct kt_probe_capture_cfg cfg = { .specs = specs, .n_specs = 1,
					    .sink = { .span = on_span, .ctx = got } };
	snprintf(s, sizeof(s), "uprobe:%s:work", target_path);
	specs[0] = spec(s, KT_PROBE_SPAN);

	cfg.nargs = KT_PROBE_MAX_ARGS + 1;
	cr_expect_null(kt_probe_capture_open(&cfg, err, sizeof(err)));
	cr_expect_str_eq(err, "--args 7: at most 6");
	cfg.nargs = 0;
	cfg.n_specs = 0;
	cr_expect_null(kt_probe_capture_open(&cfg, err, sizeof(err)));
	cr_expect_str_eq(err, "no probe spec");
	cfg.n_specs = KT_PROBE_MAX_PROBES + 1;
	cr_expect_null(kt_probe_capture_open(&cfg, err, sizeof(err)));
	cr_expect_str_eq(err, "65 probe specs: at most 64");
	cfg.n_specs = 1;
	cfg.pids = pids;
	cfg.n_pids = KT_PROBE_MAX_PIDS + 1;
	cr_expect_null(kt_probe_capture_open(&cfg, err, sizeof(err)));
	cr_expect_str_eq(err, "257 processes to filter on: at most 256");
	cfg.n_pids = 1;
	cr_expect_null(kt_probe_capture_open(&cfg, err, sizeof(err)));
	cr_expect_str_eq(err, "process id 0 in the filter");
	cfg.n_pids = 0;
	cfg.ringbuf_bytes = 3 << 12;
	cr_expect_null(kt_probe_capture_open(&cfg, err, sizeof(err)));
	cr_expect_str_eq(err, "ring buffer of 12288 bytes: a power of two of pages");
	cfg.ringbuf_bytes = 0;
	cfg.sink.span = NULL;
	cr_expect_null(kt_probe_capture_open(&cfg, err, sizeof(err)));
	cr_expect_str_eq(err, "no span sink");
	collected_free(got);
}

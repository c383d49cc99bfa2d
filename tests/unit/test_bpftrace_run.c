/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running bpftrace (capture/bpftrace_run.h). Without bpftrace: the errors
 * that say how to install it, stand-ins named by KT_BPFTRACE (shell
 * scripts) for the argument list, the descriptors and signal mask bpftrace
 * gets, a bpftrace that ignores SIGINT, stderr kept bounded. With Debian's
 * bpftrace (root and BPF needed, as the suite runs): a program that exits
 * by itself, one bpftrace refuses, a program file with parameters, and a
 * long-running program stopped by SIGINT, its maps printed at exit. Each
 * real run is bounded by RUN_MS.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "capture/bpftrace_run.h"

/* The most a run of real bpftrace may take here (they take well under 2 s). */
#define RUN_MS 8000

struct got {
	struct kt_log_record *r[64];
	size_t n;
};

static void on_log(void *ctx, struct kt_log_record *r)
{
	struct got *g = ctx;
	cr_assert_lt(g->n, 64);
	g->r[g->n++] = r;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		kt_log_record_free(g->r[i]);
	g->n = 0;
}

static const char *body(const struct got *g, size_t i)
{
	cr_assert_lt(i, g->n, "record %zu of %zu", i, g->n);
	return g->r[i]->log.body.ptr;
}

static const struct kt_kv *attr(const struct kt_log_record *r, const char *key)
{
	return kt_kvlist_find(&r->log.attrs, key);
}

/* Reads until done(g, run) or the output ends (1 or 0); -1 after ms. */
static int read_until(struct kt_bpftrace_run *run, struct got *g, unsigned ms,
		      bool (*done)(const struct got *g, const struct kt_bpftrace_run *run))
{
	struct kt_record_sink sink = { .log = on_log, .ctx = g };
	uint64_t deadline = kt_mono_ns() + (uint64_t)ms * 1000000;
	for (;;) {
		int rc = kt_bpftrace_read(run, &sink);
		cr_assert_geq(rc, 0, "read: %s", strerror(errno));
		if (rc == 0)
			return 0;
		if (done && done(g, run))
			return 1;
		if (kt_mono_ns() > deadline)
			return -1;
		struct pollfd p = { .fd = kt_bpftrace_fd(run), .events = POLLIN };
		poll(&p, 1, 50);
	}
}

static int stop(struct kt_bpftrace_run *run, struct got *g, char *err, size_t errlen)
{
	struct kt_record_sink sink = { .log = on_log, .ctx = g };
	return kt_bpftrace_stop(run, &sink, err, errlen);
}

static char dir[] = "/tmp/kt-bpftrace-run-XXXXXX";

static void make_dir(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

/* A stand-in for bpftrace: an executable file of text in dir. */
static const char *script(const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(chmod(path, 0755), 0);
	return path;
}

static void remove_dir(void)
{
	char cmd[320];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* ------------------------------------------------------------ not found */

static const struct kt_bpftrace_spec hello = {
	.program = "BEGIN { printf(\"hello %d\\n\", 42); @n = count(); exit(); }",
};

Test(bpftrace_run, empty_path_says_how_to_install_bpftrace)
{
	unsetenv(KT_BPFTRACE_ENV);
	setenv("PATH", "", 1);
	struct kt_bpftrace_run *run = (void *)1;
	char err[512];
	cr_assert_eq(kt_bpftrace_start(&hello, &run, err, sizeof(err)), -1);
	cr_assert_null(run);
	cr_assert_str_eq(err, "bpftrace not found in PATH: install Debian's bpftrace package "
			      "(apt-get install bpftrace, or make deps)");
	/* directories without it, and an empty entry (the current one, never searched) */
	cr_assert_eq(chdir("/usr/bin"), 0);
	setenv("PATH", "/nonexistent::/etc", 1);
	cr_assert_eq(kt_bpftrace_start(&hello, &run, err, sizeof(err)), -1);
	cr_assert(strstr(err, "bpftrace not found in PATH") && strstr(err, "apt-get install bpftrace"),
		  "%s", err);
}

Test(bpftrace_run, kt_bpftrace_naming_nothing_says_how_to_install_bpftrace, .init = make_dir,
     .fini = remove_dir)
{
	setenv(KT_BPFTRACE_ENV, "/nonexistent", 1);
	struct kt_bpftrace_run *run;
	char err[512];
	cr_assert_eq(kt_bpftrace_start(&hello, &run, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "bpftrace not found at /nonexistent (KT_BPFTRACE): install Debian's "
			      "bpftrace package (apt-get install bpftrace, or make deps), or set "
			      "KT_BPFTRACE to bpftrace");
	/* a directory, a file that is not executable */
	setenv(KT_BPFTRACE_ENV, "/usr/bin", 1);
	cr_assert_eq(kt_bpftrace_start(&hello, &run, err, sizeof(err)), -1);
	cr_assert(strstr(err, "bpftrace not found at /usr/bin"), "%s", err);
	const char *plain = script("plain", "#!/bin/sh\n");
	cr_assert_eq(chmod(plain, 0644), 0);
	setenv(KT_BPFTRACE_ENV, plain, 1);
	cr_assert_eq(kt_bpftrace_start(&hello, &run, err, sizeof(err)), -1);
	cr_assert(strstr(err, "bpftrace not found at /tmp/kt-bpftrace-run-") && strstr(err, "/plain"),
		  "%s", err);
}

Test(bpftrace_run, exec_failure_is_an_error_of_start, .init = make_dir, .fini = remove_dir)
{
	/* executable, but no format the kernel runs */
	setenv(KT_BPFTRACE_ENV, script("bpftrace", "\x7f" "garbage\n"), 1);
	struct kt_bpftrace_run *run;
	char err[512];
	cr_assert_eq(kt_bpftrace_start(&hello, &run, err, sizeof(err)), -1);
	cr_assert(strstr(err, "cannot run bpftrace") && strstr(err, "Exec format error"), "%s", err);
}

Test(bpftrace_run, program_or_file_not_both)
{
	struct kt_bpftrace_spec both = { .program = "BEGIN {}", .file = "/x.bt" }, none = { 0 };
	struct kt_bpftrace_run *run;
	char err[256];
	cr_assert_eq(kt_bpftrace_start(&both, &run, err, sizeof(err)), -1);
	cr_assert_eq(kt_bpftrace_start(&none, &run, err, sizeof(err)), -1);
	cr_assert(strstr(err, "program"), "%s", err);
}

/* ------------------------------------------------------------ stand-ins */

/* attached_probes has come: bpftrace 0.17 writes it before it attaches them */
static bool attached(const struct got *g, const struct kt_bpftrace_run *run)
{
	(void)g;
	return kt_bpftrace_run_totals(run)->probes > 0;
}

/* Prints its arguments as one printf line, and what stdin is. */
static const char echo_args[] = "#!/bin/sh\n"
				"printf '{\"type\": \"printf\", \"data\": \"%s\\\\n\"}\\n' \"$*\"\n"
				"read x && echo '{\"type\": \"printf\", \"data\": \"stdin had data\"}'\n"
				"exit 0\n";

Test(bpftrace_run, arguments_program_and_parameters, .init = make_dir, .fini = remove_dir)
{
	setenv(KT_BPFTRACE_ENV, script("bpftrace", echo_args), 1);
	const char *args[] = { "-k", "--unsafe", NULL }, *params[] = { "-x", "7", NULL };
	struct kt_bpftrace_spec spec = { .program = "BEGIN{}", .args = args, .params = params };
	struct kt_bpftrace_run *run;
	char err[512];
	cr_assert_eq(kt_bpftrace_start(&spec, &run, err, sizeof(err)), 0, "%s", err);
	cr_assert_gt(kt_bpftrace_pid(run), 0);
	struct got g = { 0 };
	cr_assert_eq(read_until(run, &g, RUN_MS, NULL), 0);
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(err, "");
	cr_assert_eq(g.n, 1, "stdin is /dev/null");
	cr_assert_str_eq(body(&g, 0), "-k --unsafe -f json -e BEGIN{} -- -x 7");
	got_free(&g);
	kt_bpftrace_free(run);

	struct kt_bpftrace_spec file = { .file = "/p.bt", .params = params };
	cr_assert_eq(kt_bpftrace_start(&file, &run, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(read_until(run, &g, RUN_MS, NULL), 0);
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(body(&g, 0), "-f json -- /p.bt -x 7");
	got_free(&g);
	kt_bpftrace_free(run);
}

static bool one_record(const struct got *g, const struct kt_bpftrace_run *run)
{
	(void)run;
	return g->n >= 1;
}

Test(bpftrace_run, no_descriptor_and_no_signal_handling_of_the_caller, .init = make_dir,
     .fini = remove_dir)
{
	/* says whether the descriptor its last argument names is open; ends on SIGINT with a line */
	setenv(KT_BPFTRACE_ENV,
	       script("bpftrace", "#!/bin/sh\n"
				  "trap 'echo {\\\"type\\\": \\\"printf\\\", \\\"data\\\": \\\"int\\\"}; exit 0' INT\n"
				  "for a; do last=$a; done\n"
				  "[ -e /proc/$$/fd/$last ] && o=open\n"
				  "printf '{\"type\": \"printf\", \"data\": \"fd %s\"}\\n' \"${o:-closed}\"\n"
				  "while :; do sleep 0.05; done\n"),
	       1);
	/* the caller ignores and blocks SIGINT (a daemon reading signals from a signalfd) */
	signal(SIGINT, SIG_IGN);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */
	cr_assert_geq(fd, 3);
	char fdtext[16];
	snprintf(fdtext, sizeof(fdtext), "%d", fd);
	const char *params[] = { fdtext, NULL };
	struct kt_bpftrace_spec spec = { .program = "x", .params = params, .stop_ms = 3000 };
	struct kt_bpftrace_run *run;
	char err[512];
	cr_assert_eq(kt_bpftrace_start(&spec, &run, err, sizeof(err)), 0, "%s", err);
	struct got g = { 0 };
	cr_assert_eq(read_until(run, &g, RUN_MS, one_record), 1, "still running");
	cr_assert_str_eq(body(&g, 0), "fd closed");
	uint64_t t0 = kt_mono_ns();
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_lt(kt_mono_ns() - t0, 2000000000ull, "SIGINT reached it");
	cr_assert_eq(g.n, 2);
	cr_assert_str_eq(body(&g, 1), "int");
	got_free(&g);
	kt_bpftrace_free(run);
	close(fd);
}

Test(bpftrace_run, no_blocked_or_ignored_signals, .init = make_dir, .fini = remove_dir)
{
	/* coreutils' env lists, on stderr, the signals not at their defaults (a shell would unblock) */
	setenv(KT_BPFTRACE_ENV,
	       script("bpftrace", "#!/usr/bin/env -S --list-signal-handling /bin/sh\nexit 4\n"), 1);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	struct kt_bpftrace_spec spec = { .program = "x" };
	struct kt_bpftrace_run *run;
	char err[512];
	cr_assert_eq(kt_bpftrace_start(&spec, &run, err, sizeof(err)), 0, "%s", err);
	struct got g = { 0 };
	cr_assert_eq(read_until(run, &g, RUN_MS, NULL), 0);
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 4);
	cr_assert_str_eq(err, "bpftrace exited with status 4 and said nothing on stderr");
	kt_bpftrace_free(run);
}

Test(bpftrace_run, ignoring_sigint_is_killed_after_stop_ms, .init = make_dir, .fini = remove_dir)
{
	setenv(KT_BPFTRACE_ENV,
	       script("bpftrace", "#!/bin/sh\n"
				  "trap '' INT\n"
				  "echo 'ERROR: Unknown error -1: couldn'\"'\"'t set RLIMIT_MEMLOCK for bpftrace.' >&2\n"
				  "echo 'WARNING: ignoring SIGINT' >&2\n"
				  "echo '{\"type\": \"attached_probes\", \"data\": {\"probes\": 1}}'\n"
				  "printf '{\"type\": \"printf\", \"data\": \"cut'\n"
				  "exec sleep 60\n"),
	       1);
	struct kt_bpftrace_spec spec = { .program = "x", .stop_ms = 300 };
	struct kt_bpftrace_run *run;
	char err[512];
	cr_assert_eq(kt_bpftrace_start(&spec, &run, err, sizeof(err)), 0, "%s", err);
	struct got g = { 0 };
	cr_assert_eq(read_until(run, &g, 1000, NULL), -1);
	cr_assert_eq(kt_bpftrace_run_totals(run)->probes, 1);
	uint64_t t0 = kt_mono_ns();
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 128 + SIGKILL);
	uint64_t took = kt_mono_ns() - t0;
	cr_assert_geq(took, 300000000ull, "stop_ms waited for");
	cr_assert_lt(took, 300000000ull + KT_BPFTRACE_KILL_MS * 1000000ull);
	cr_assert_str_eq(err, "bpftrace did not exit within 300 ms of SIGINT: killed:\n"
			      "WARNING: ignoring SIGINT");
	cr_assert_eq(g.n, 0, "a cut line is not a record");
	cr_assert_eq(kt_bpftrace_run_totals(run)->malformed, 1);
	got_free(&g);
	kt_bpftrace_free(run);
}

Test(bpftrace_run, a_sigint_not_noticed_is_sent_again, .init = make_dir, .fini = remove_dir)
{
	/* as bpftrace 0.17 between two epoll_waits: the first SIGINT changes nothing */
	setenv(KT_BPFTRACE_ENV,
	       script("bpftrace", "#!/bin/sh\n"
				  "n=0\n"
				  "trap 'n=$((n + 1))' INT\n"
				  "echo '{\"type\": \"attached_probes\", \"data\": {\"probes\": 1}}'\n"
				  "while [ $n -lt 2 ]; do sleep 0.02; done\n"
				  "echo '{\"type\": \"printf\", \"data\": \"second\"}'\n"),
	       1);
	struct kt_bpftrace_spec spec = { .program = "x" };
	struct kt_bpftrace_run *run;
	char err[512];
	cr_assert_eq(kt_bpftrace_start(&spec, &run, err, sizeof(err)), 0, "%s", err);
	struct got g = { 0 };
	cr_assert_eq(read_until(run, &g, RUN_MS, attached), 1);
	uint64_t t0 = kt_mono_ns();
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 0, "%s", err);
	uint64_t took = kt_mono_ns() - t0;
	cr_assert_geq(took, KT_BPFTRACE_RESIGNAL_MS * 1000000ull);
	cr_assert_lt(took, KT_BPFTRACE_RESIGNAL_MS * 1000000ull + 1000000000ull);
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(body(&g, 0), "second");
	got_free(&g);
	kt_bpftrace_free(run);
}

Test(bpftrace_run, no_sigint_again_once_it_writes, .init = make_dir, .fini = remove_dir)
{
	/* as bpftrace 0.17 printing its maps, which a second SIGINT would kill */
	setenv(KT_BPFTRACE_ENV,
	       script("bpftrace", "#!/bin/sh\n"
				  "n=0\n"
				  "trap 'n=$((n + 1))' INT\n"
				  "echo '{\"type\": \"attached_probes\", \"data\": {\"probes\": 1}}'\n"
				  "while [ $n -lt 1 ]; do sleep 0.02; done\n"
				  "echo; echo\n"
				  "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do sleep 0.1; done\n"
				  "echo '{\"type\": \"map\", \"data\": {\"@n\": 1}}'\n"
				  "[ $n -eq 1 ] || exit 9\n"),
	       1);
	struct kt_bpftrace_spec spec = { .program = "x" };
	struct kt_bpftrace_run *run;
	char err[512];
	cr_assert_eq(kt_bpftrace_start(&spec, &run, err, sizeof(err)), 0, "%s", err);
	struct got g = { 0 };
	cr_assert_eq(read_until(run, &g, RUN_MS, attached), 1);
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 0, "one SIGINT only: %s", err);
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(body(&g, 0), "@n");
	got_free(&g);
	kt_bpftrace_free(run);
}

Test(bpftrace_run, stderr_kept_bounded_and_its_first_lines_said, .init = make_dir,
     .fini = remove_dir)
{
	/* 10 lines, then 200 KB more, on stderr; status 3 */
	setenv(KT_BPFTRACE_ENV,
	       script("bpftrace", "#!/bin/sh\n"
				  "echo 'ERROR: Unknown error -1: couldn'\"'\"'t set RLIMIT_MEMLOCK for bpftrace.' >&2\n"
				  "for i in 1 2 3 4 5 6 7 8 9 10; do printf 'line %s\\033\\n\\n' $i >&2; done\n"
				  "head -c 200000 /dev/zero | tr '\\0' 'e' >&2\n"
				  "echo '{\"type\": \"printf\", \"data\": \"out\"}'\n"
				  "exit 3\n"),
	       1);
	struct kt_bpftrace_spec spec = { .program = "x" };
	struct kt_bpftrace_run *run;
	char err[2048];
	cr_assert_eq(kt_bpftrace_start(&spec, &run, err, sizeof(err)), 0, "%s", err);
	struct got g = { 0 };
	cr_assert_eq(read_until(run, &g, RUN_MS, NULL), 0);
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 3);
	cr_assert_str_eq(err, "bpftrace exited with status 3:\nline 1?\nline 2?\nline 3?\nline 4?\n"
			      "line 5?\nline 6?\nline 7?\nline 8?");
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(body(&g, 0), "out");
	got_free(&g);
	kt_bpftrace_free(run);
}

Test(bpftrace_run, silent_failure_and_second_stop, .init = make_dir, .fini = remove_dir)
{
	setenv(KT_BPFTRACE_ENV, script("bpftrace", "#!/bin/sh\nexit 2\n"), 1);
	struct kt_bpftrace_spec spec = { .program = "x" };
	struct kt_bpftrace_run *run;
	char err[512];
	cr_assert_eq(kt_bpftrace_start(&spec, &run, err, sizeof(err)), 0, "%s", err);
	struct got g = { 0 };
	cr_assert_eq(read_until(run, &g, RUN_MS, NULL), 0);
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 2);
	cr_assert_str_eq(err, "bpftrace exited with status 2 and said nothing on stderr");
	cr_assert_eq(stop(run, &g, err, sizeof(err)), -1);
	kt_bpftrace_free(run);
}

Test(bpftrace_run, free_kills_a_run_never_stopped, .init = make_dir, .fini = remove_dir)
{
	setenv(KT_BPFTRACE_ENV, script("bpftrace", "#!/bin/sh\ntrap '' INT TERM\nexec sleep 60\n"), 1);
	struct kt_bpftrace_spec spec = { .program = "x" };
	struct kt_bpftrace_run *run;
	char err[512];
	cr_assert_eq(kt_bpftrace_start(&spec, &run, err, sizeof(err)), 0, "%s", err);
	pid_t pid = kt_bpftrace_pid(run);
	uint64_t t0 = kt_mono_ns();
	kt_bpftrace_free(run);
	cr_assert_lt(kt_mono_ns() - t0, 1000000000ull);
	cr_assert_eq(kill(pid, 0), -1, "reaped: no such process");
}

/* ------------------------------------------------------------ real bpftrace */

static void real_bpftrace(void)
{
	unsetenv(KT_BPFTRACE_ENV);
	setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	cr_assert_eq(geteuid(), 0, "bpftrace needs root (the suite runs as root)");
}

Test(bpftrace_real, printf_and_map_of_a_program_that_exits, .init = real_bpftrace,
     .timeout = 30)
{
	struct kt_bpftrace_run *run;
	char err[1024];
	cr_assert_eq(kt_bpftrace_start(&hello, &run, err, sizeof(err)), 0, "%s", err);
	struct got g = { 0 };
	cr_assert_eq(read_until(run, &g, RUN_MS, NULL), 0, "exit() ends it");
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(err, "");
	cr_assert_eq(g.n, 2);
	cr_assert_str_eq(body(&g, 0), "hello 42");
	cr_assert_str_eq(attr(g.r[0], "bpftrace.output")->value.s.ptr, "printf");
	cr_assert_str_eq(body(&g, 1), "@n");
	const struct kt_kv *n = attr(g.r[1], "@n");
	cr_assert(n && n->value.type == KT_VAL_I64 && n->value.i == 1);
	const struct kt_bpftrace_totals *t = kt_bpftrace_run_totals(run);
	cr_assert_eq(t->probes, 1);
	cr_assert_eq(t->records, 2);
	cr_assert_eq(t->malformed, 0);
	got_free(&g);
	kt_bpftrace_free(run);
}

Test(bpftrace_real, syntax_error_is_said_with_bpftraces_message, .init = real_bpftrace,
     .timeout = 30)
{
	struct kt_bpftrace_spec spec = { .program = "BEGIN { printf(\"x\" }" };
	struct kt_bpftrace_run *run;
	char err[1024];
	cr_assert_eq(kt_bpftrace_start(&spec, &run, err, sizeof(err)), 0, "%s", err);
	struct got g = { 0 };
	cr_assert_eq(read_until(run, &g, RUN_MS, NULL), 0);
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 1);
	cr_assert_str_eq(err, "bpftrace exited with status 1:\n"
			      "stdin:1:20-21: ERROR: syntax error, unexpected }, expecting ) or \",\"\n"
			      "BEGIN { printf(\"x\" }\n"
			      "                   ~");
	cr_assert_eq(g.n, 0);
	kt_bpftrace_free(run);
}

Test(bpftrace_real, program_file_and_parameters, .init = real_bpftrace, .timeout = 30)
{
	make_dir();
	const char *file = script("p.bt", "BEGIN { printf(\"%s %d\\n\", str($1), $2); exit(); }\n");
	const char *params[] = { "-x", "7", NULL };
	struct kt_bpftrace_spec spec = { .file = file, .params = params };
	struct kt_bpftrace_run *run;
	char err[1024];
	cr_assert_eq(kt_bpftrace_start(&spec, &run, err, sizeof(err)), 0, "%s", err);
	struct got g = { 0 };
	cr_assert_eq(read_until(run, &g, RUN_MS, NULL), 0);
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(body(&g, 0), "-x 7");
	got_free(&g);
	kt_bpftrace_free(run);
	remove_dir();
}

Test(bpftrace_real, stop_of_a_long_running_program_gives_its_exit_maps, .init = real_bpftrace,
     .timeout = 30)
{
	struct kt_bpftrace_spec spec = {
		.program = "BEGIN { @n = count(); @h = hist(5); } interval:s:10 { exit(); } "
			   "END { printf(\"end\\n\"); }",
	};
	struct kt_bpftrace_run *run;
	char err[1024];
	cr_assert_eq(kt_bpftrace_start(&spec, &run, err, sizeof(err)), 0, "%s", err);
	struct got g = { 0 };
	cr_assert_eq(read_until(run, &g, RUN_MS, attached), 1, "attached, and still running");
	cr_assert_eq(kt_bpftrace_run_totals(run)->probes, 3, "BEGIN, interval, END");
	uint64_t t0 = kt_mono_ns();
	cr_assert_eq(stop(run, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_lt(kt_mono_ns() - t0, 3000000000ull, "promptly, not at interval:s:10");
	cr_assert_eq(g.n, 3);
	cr_assert_str_eq(body(&g, 0), "end");
	/* the maps at exit, in bpftrace's order of names */
	cr_assert_str_eq(body(&g, 1), "@h");
	const struct kt_kv *b = attr(g.r[1], "@h: [4, 8)");
	cr_assert(b && b->value.i == 1);
	cr_assert_str_eq(body(&g, 2), "@n");
	const struct kt_kv *n = attr(g.r[2], "@n");
	cr_assert(n && n->value.i == 1);
	got_free(&g);
	kt_bpftrace_free(run);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "capture/bpftrace_run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/diag.h"

#define INSTALL_HINT "install Debian's bpftrace package (apt-get install bpftrace, or make deps)"
/* PATH when it is not set: where Debian puts bpftrace and its kin. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* bpftrace 0.17's notice where it cannot raise RLIMIT_MEMLOCK; harmless since 5.11. */
#define MEMLOCK_NOTICE "couldn't set RLIMIT_MEMLOCK"
/* One read from a pipe. */
#define READ_CHUNK (64u << 10)
/* Polling slice while stopping: waitpid has no descriptor to wait on. */
#define STOP_SLICE_MS 20

enum { OUT, ERR };

struct kt_bpftrace_run {
	pid_t pid;
	bool reaped;
	int status; /* waitpid's, once reaped */
	int epfd;
	int fd[2]; /* stdout, stderr read ends; -1 once closed */
	struct kt_bpftrace_reader *reader;
	unsigned stop_ms;
	bool stopped;
	uint64_t out_bytes; /* read from stdout */
	char *stderr_buf;   /* the first KT_BPFTRACE_STDERR_MAX bytes */
	size_t stderr_len;
	uint64_t stderr_dropped;
	char *chunk; /* READ_CHUNK bytes */
};

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ finding it */

static bool executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The bpftrace to run, into path; -1 with err saying how to get one. */
static int find_bpftrace(char *path, size_t size, char *err, size_t errlen)
{
	const char *env = getenv(KT_BPFTRACE_ENV);
	if (env && *env) {
		if (!executable(env)) {
			kt_errf(err, errlen, "bpftrace not found at %s (%s): %s, or set %s to bpftrace",
			    env, KT_BPFTRACE_ENV, INSTALL_HINT, KT_BPFTRACE_ENV);
			return -1;
		}
		if ((size_t)snprintf(path, size, "%s", env) >= size) {
			kt_errf(err, errlen, "%s: path too long", KT_BPFTRACE_ENV);
			return -1;
		}
		return 0;
	}
	const char *p = getenv("PATH");
	if (!p)
		p = DEFAULT_PATH;
	while (*p) {
		const char *end = strchrnul(p, ':');
		size_t n = (size_t)(end - p);
		/* an empty entry is the current directory: not for a program run as root */
		if (n && n + sizeof("/bpftrace") <= size) {
			memcpy(path, p, n);
			memcpy(path + n, "/bpftrace", sizeof("/bpftrace"));
			if (executable(path))
				return 0;
		}
		p = *end ? end + 1 : end;
	}
	kt_errf(err, errlen, "bpftrace not found in PATH: %s", INSTALL_HINT);
	return -1;
}

/* ------------------------------------------------------------ starting */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* [path, args..., -f, json, -e, PROGRAM, --, params...] or [..., --, FILE, params...] */
static char **make_argv(const char *path, const struct kt_bpftrace_spec *spec)
{
	size_t na = 0, np = 0;
	while (spec->args && spec->args[na])
		na++;
	while (spec->params && spec->params[np])
		np++;
	char **argv = calloc(na + np + 8, sizeof(*argv));
	if (!argv)
		return NULL;
	size_t k = 0;
	argv[k++] = (char *)path;
	for (size_t i = 0; i < na; i++)
		argv[k++] = (char *)spec->args[i];
	argv[k++] = "-f";
	argv[k++] = "json";
	if (spec->program) {
		argv[k++] = "-e";
		argv[k++] = (char *)spec->program;
		argv[k++] = "--";
	} else {
		argv[k++] = "--";
		argv[k++] = (char *)spec->file;
	}
	for (size_t i = 0; i < np; i++)
		argv[k++] = (char *)spec->params[i];
	argv[k] = NULL;
	return argv;
}

/*
 * The child, between fork and exec: async-signal-safe calls only (the
 * caller may have threads). Reports a failed exec's errno on report.
 */
static void __attribute__((noreturn))
child(char *const argv[], int out, int err, int report, pid_t parent)
{
	int e = 0;
	sigset_t none;
	sigemptyset(&none);
	/* the caller's signal handling is not bpftrace's: it must see SIGINT (ignored stays so at exec) */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &dfl, NULL); /* glibc's own signals refuse: harmless */
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* its own group: the terminal's ^C is the caller's to pass on, SIGKILL takes -c's child too */
	setpgid(0, 0);
	/* the caller gone, bpftrace ends (and detaches) rather than tracing on unread */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	/* above 2 first: a caller without stdio may have been given the pipes as 0..2 */
	out = fcntl(out, F_DUPFD, 3);
	err = fcntl(err, F_DUPFD, 3);
	int in = open("/dev/null", O_RDONLY);
	if (out < 0 || err < 0 || in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
		e = errno;
		goto fail;
	}
	/* none of the caller's descriptors (BPF maps, sockets) for bpftrace; report is CLOEXEC too */
	if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC))
		for (int fd = 3; fd < 4096; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	execv(argv[0], argv);
	e = errno;
fail:
	while (write(report, &e, sizeof(e)) < 0 && errno == EINTR)
		;
	_exit(127);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int kt_bpftrace_start(const struct kt_bpftrace_spec *spec, struct kt_bpftrace_run **out,
		      char *err, size_t errlen)
{
	*out = NULL;
	if (!spec->program == !spec->file) {
		kt_errf(err, errlen, "bpftrace: give a program or a program file (one of the two)");
		return -1;
	}
	char path[PATH_MAX];
	if (find_bpftrace(path, sizeof(path), err, errlen))
		return -1;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, rep[2] = { -1, -1 };
	char **argv = make_argv(path, spec);
	struct kt_bpftrace_run *run = calloc(1, sizeof(*run));
	if (run)
		run->fd[OUT] = run->fd[ERR] = run->epfd = -1;
	if (!run || !argv)
		goto no_memory;
	run->stop_ms = spec->stop_ms ? spec->stop_ms : KT_BPFTRACE_STOP_MS;
	run->stderr_buf = malloc(KT_BPFTRACE_STDERR_MAX);
	run->chunk = malloc(READ_CHUNK);
	if (!run->stderr_buf || !run->chunk)
		goto no_memory;
	if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) || pipe2(rep, O_CLOEXEC)) {
		kt_errf(err, errlen, "bpftrace: cannot make pipes: %s", strerror(errno));
		goto fail;
	}
	/* bursts of output wait in the pipe instead of stalling bpftrace; best effort */
	fcntl(outp[1], F_SETPIPE_SZ, (int)KT_BPFTRACE_PIPE_SIZE);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		kt_errf(err, errlen, "bpftrace: cannot fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		child(argv, outp[1], errp[1], rep[1], parent);
	run->pid = pid;
	setpgid(pid, pid); /* as the child does: kill(-pid) must find the group from now on */
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	close_fd(&rep[1]);
	/* the report pipe closes at exec (CLOEXEC), or carries exec's errno */
	int e = 0;
	ssize_t got;
	while ((got = read(rep[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close_fd(&rep[0]);
	if (got == (ssize_t)sizeof(e)) {
		kt_errf(err, errlen, "cannot run bpftrace (%s): %s", path, strerror(e));
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		run->pid = 0;
		goto fail;
	}
	run->fd[OUT] = outp[0];
	run->fd[ERR] = errp[0];
	outp[0] = errp[0] = -1;
	char label[32];
	snprintf(label, sizeof(label), "bpftrace[%d]", (int)pid);
	run->reader = kt_bpftrace_reader_new(spec->origin, spec->max_line, label);
	run->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!run->reader || run->epfd < 0) {
		kt_errf(err, errlen, "bpftrace: no memory or descriptors to read it");
		goto fail;
	}
	for (int i = OUT; i <= ERR; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		if (set_nonblock(run->fd[i]) || epoll_ctl(run->epfd, EPOLL_CTL_ADD, run->fd[i], &ev)) {
			kt_errf(err, errlen, "bpftrace: cannot poll its output: %s", strerror(errno));
			goto fail;
		}
	}
	free(argv);
	kt_debug("bpftrace: started %s as pid %d", path, (int)pid);
	*out = run;
	return 0;
no_memory:
	kt_errf(err, errlen, "bpftrace: out of memory");
fail:
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&rep[0]);
	close_fd(&rep[1]);
	free(argv);
	kt_bpftrace_free(run);
	return -1;
}

int kt_bpftrace_fd(const struct kt_bpftrace_run *run)
{
	return run->epfd;
}

pid_t kt_bpftrace_pid(const struct kt_bpftrace_run *run)
{
	return run->pid;
}

const struct kt_bpftrace_totals *kt_bpftrace_run_totals(const struct kt_bpftrace_run *run)
{
	return kt_bpftrace_reader_totals(run->reader);
}

/* ------------------------------------------------------------ reading */

static void end_pipe(struct kt_bpftrace_run *run, int i)
{
	epoll_ctl(run->epfd, EPOLL_CTL_DEL, run->fd[i], NULL);
	close_fd(&run->fd[i]);
}

static void keep_stderr(struct kt_bpftrace_run *run, const char *p, size_t n)
{
	size_t room = KT_BPFTRACE_STDERR_MAX - run->stderr_len, k = n < room ? n : room;
	memcpy(run->stderr_buf + run->stderr_len, p, k);
	run->stderr_len += k;
	run->stderr_dropped += n - k;
}

/* Reads pipe i until it is empty, closed or budget bytes are read. -1 on a read error. */
static int drain(struct kt_bpftrace_run *run, int i, size_t budget,
		 const struct kt_record_sink *sink)
{
	size_t done = 0;
	while (run->fd[i] >= 0 && done < budget) {
		ssize_t n = read(run->fd[i], run->chunk, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		if (n == 0) {
			end_pipe(run, i);
			break;
		}
		if (i == OUT)
			run->out_bytes += (uint64_t)n;
		if (i == OUT)
			kt_bpftrace_feed(run->reader, run->chunk, (size_t)n, realtime_ns(), sink);
		else
			keep_stderr(run, run->chunk, (size_t)n);
		done += (size_t)n;
	}
	return 0;
}

int kt_bpftrace_read(struct kt_bpftrace_run *run, const struct kt_record_sink *sink)
{
	/* stderr first: bpftrace must never block on it while stdout is read */
	if (drain(run, ERR, KT_BPFTRACE_READ_BUDGET, sink) ||
	    drain(run, OUT, KT_BPFTRACE_READ_BUDGET, sink))
		return -1;
	return run->fd[OUT] >= 0 || run->fd[ERR] >= 0;
}

/* ------------------------------------------------------------ stopping */

static bool reap(struct kt_bpftrace_run *run, bool block)
{
	if (run->reaped || run->pid <= 0)
		return true;
	pid_t r;
	while ((r = waitpid(run->pid, &run->status, block ? 0 : WNOHANG)) < 0 && errno == EINTR)
		;
	if (r == run->pid || (r < 0 && errno == ECHILD)) {
		run->reaped = true;
		if (r < 0)
			run->status = 0;
	}
	return run->reaped;
}

/*
 * Reads until the output is closed and the process is gone, or deadline
 * (CLOCK_MONOTONIC): true when it is gone. A process that has exited is
 * not waited for further: something it started may hold the pipes open.
 * sig: signal again while bpftrace stays silent (see kt_bpftrace_stop).
 */
static bool wait_exit(struct kt_bpftrace_run *run, uint64_t deadline, int sig,
		      const struct kt_record_sink *sink)
{
	uint64_t sent = kt_mono_ns(), out = run->out_bytes;
	for (;;) {
		kt_bpftrace_read(run, sink);
		if (reap(run, false)) {
			/* what it wrote last: at most a pipe's worth, unless what it started writes on */
			drain(run, ERR, 2 * KT_BPFTRACE_PIPE_SIZE, sink);
			drain(run, OUT, 2 * KT_BPFTRACE_PIPE_SIZE, sink);
			return true;
		}
		uint64_t now = kt_mono_ns();
		if (now >= deadline)
			return false;
		/* once it has written anything since, it is on its way out */
		if (sig && run->out_bytes == out && now - sent >= KT_BPFTRACE_RESIGNAL_MS * 1000000ull) {
			kill(run->pid, sig);
			sent = now;
		}
		uint64_t left_ms = (deadline - now + 999999) / 1000000;
		int ms = left_ms < STOP_SLICE_MS ? (int)left_ms : STOP_SLICE_MS;
		if (run->fd[OUT] >= 0 || run->fd[ERR] >= 0) {
			struct pollfd p = { .fd = run->epfd, .events = POLLIN };
			poll(&p, 1, ms);
		} else {
			struct timespec ts = { 0, (long)ms * 1000000 };
			nanosleep(&ts, NULL);
		}
	}
}

/* The first lines of stderr, control characters as '?', without the memlock notice. */
static void stderr_lines(const struct kt_bpftrace_run *run, char *out, size_t outlen)
{
	size_t k = 0, lines = 0;
	const char *p = run->stderr_buf, *end = p + run->stderr_len;
	if (!outlen)
		return;
	while (p < end && lines < KT_BPFTRACE_ERR_LINES) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t n = (size_t)(le - p);
		bool blank = true;
		for (size_t i = 0; i < n; i++)
			blank = blank && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r');
		if (!blank && !memmem(p, n, MEMLOCK_NOTICE, sizeof(MEMLOCK_NOTICE) - 1)) {
			for (size_t i = 0; i < 1 + n && k + 1 < outlen; i++) {
				unsigned char c = i ? (unsigned char)p[i - 1] : '\n';
				out[k++] = c == '\n' || c == '\t' || c >= 0x20 ? (char)c : '?';
			}
			lines++;
		}
		p = le + (nl ? 1 : 0);
	}
	out[k < outlen ? k : outlen - 1] = '\0';
}

int kt_bpftrace_stop(struct kt_bpftrace_run *run, const struct kt_record_sink *sink, char *err,
		     size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (run->stopped) {
		kt_errf(err, errlen, "bpftrace: already stopped");
		return -1;
	}
	run->stopped = true;
	/* once it has closed its output it is on its way out: no signal to race with its exit */
	int sig = !reap(run, false) && run->fd[OUT] >= 0 ? SIGINT : 0;
	if (sig)
		kill(run->pid, sig);
	uint64_t start = kt_mono_ns();
	bool gone = wait_exit(run, start + (uint64_t)run->stop_ms * 1000000, sig, sink);
	bool killed = false;
	if (!gone) {
		killed = true;
		kill(-run->pid, SIGKILL);
		gone = wait_exit(run, kt_mono_ns() + (uint64_t)KT_BPFTRACE_KILL_MS * 1000000, 0, sink);
	}
	/* a child of -c may live on: it loses bpftrace's pipes, not the caller's time */
	kt_bpftrace_finish(run->reader, realtime_ns(), sink);
	end_pipe(run, OUT);
	end_pipe(run, ERR);
	if (!gone) {
		kt_errf(err, errlen, "bpftrace (pid %d) did not exit, not even on SIGKILL", (int)run->pid);
		return -1;
	}
	int st = run->status, code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (code == 0)
		return 0;
	char lines[1024];
	stderr_lines(run, lines, sizeof(lines));
	const char *colon = *lines ? ":" : "";
	if (killed)
		kt_errf(err, errlen, "bpftrace did not exit within %u ms of SIGINT: killed%s%s", run->stop_ms,
		    colon, lines);
	else if (WIFSIGNALED(st))
		kt_errf(err, errlen, "bpftrace was killed by signal %d (%s)%s%s", WTERMSIG(st),
		    strsignal(WTERMSIG(st)), colon, lines);
	else
		kt_errf(err, errlen, "bpftrace exited with status %d%s%s", code,
		    *lines ? colon : " and said nothing on stderr", lines);
	return code;
}

void kt_bpftrace_free(struct kt_bpftrace_run *run)
{
	if (!run)
		return;
	if (run->pid > 0 && !reap(run, false)) {
		kill(-run->pid, SIGKILL);
		reap(run, true);
	}
	close_fd(&run->fd[OUT]);
	close_fd(&run->fd[ERR]);
	close_fd(&run->epfd);
	kt_bpftrace_reader_free(run->reader);
	free(run->stderr_buf);
	free(run->chunk);
	free(run);
}
